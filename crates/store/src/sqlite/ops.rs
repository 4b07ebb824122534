//! Executes each [`WriteOp`] on the writer's connection, inside the group's transaction.
//!
//! Runs on the single writer thread, so every read-check-write here is serialised with every
//! other write: that is what makes idempotency checks, `expected_*` checks and revision
//! increments race-free. Nothing here commits; the caller owns the transaction.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::error::StoreError;
use crate::types::*;

/// What an op needs besides its connection.
pub(crate) struct OpContext<'a> {
    /// The next seq to assign; advanced as records are appended.
    pub next_seq: &'a mut u64,
    /// The log's running byte total; advanced as records are appended.
    pub next_offset: &'a mut u64,
}

/// Runs an op of a family that has not moved onto the command layer yet.
pub(crate) fn execute_legacy(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    op: &WriteOp,
) -> Result<WriteOutcome, StoreError> {
    match op {
        WriteOp::PutFunction(_)
        | WriteOp::RecordInvocations(_)
        | WriteOp::EnqueueInvocation(_)
        | WriteOp::ClaimInvocations(_)
        | WriteOp::FinishInvocation(_)
        | WriteOp::PurgeInvocations { .. } => crate::sqlite::functions::execute(conn, cx, now, op),
        other => Err(StoreError::Internal(format!("{other:?} is run by the command layer"))),
    }
}

/// Gives `space` its row in `spaces` unless it has one; whether this created it.
pub(crate) fn ensure_space(conn: &Connection, now: Timestamp, space: &str) -> Result<bool, StoreError> {
    let inserted = conn
        .prepare_cached("INSERT OR IGNORE INTO spaces (name, created_at) VALUES (?1, ?2)")?
        .execute(params![space, now.0])?;
    Ok(inserted == 1)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn append_log(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    space: &str,
    kind: &str,
    address: &str,
    payload: &impl Serialize,
    idempotency_key: Option<&str>,
) -> Result<Seq, StoreError> {
    let seq = *cx.next_seq;
    let payload = serde_json::to_string(payload)?;
    let end_offset = *cx.next_offset + (address.len() + payload.len()) as u64;
    conn.prepare_cached(
        "INSERT INTO events (seq, space, kind, address, payload, idempotency_key, created_at, end_offset)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![seq as i64, space, kind, address, payload, idempotency_key, now.0, end_offset as i64])?;
    *cx.next_seq += 1;
    *cx.next_offset = end_offset;
    Ok(Seq(seq))
}
