//! Executes each [`WriteOp`] inside a group's transaction on PostgreSQL.
//!
//! The rows an op touches are already locked when it runs (the group takes advisory locks on
//! idempotency keys and machine names, and row locks on the instances, in one sorted order
//! before the first op), so every read-check-write here is serialised against every other
//! node. Log records, idempotency records and the `spaces` rows of spaces an op writes into are
//! not inserted here: they are buffered in [`GroupLog`] and written when the group's seqs are
//! assigned, just before commit (see `writer`). An op's outcome that carries a seq, or says
//! whether it created its space, is patched then.

use deadpool_postgres::Transaction;

pub(crate) use crate::decode::{machine_version, revision};
use crate::error::StoreError;
use crate::tables::{GroupLog, PendingRecord, PendingSpace, TxError};
use crate::types::*;

/// Why an op did not happen: a refusal leaves the transaction usable (its savepoint is rolled
/// back); a database error aborts the whole group.
pub(crate) enum OpFailure {
    Refused(StoreError),
    Sql(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for OpFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        OpFailure::Sql(e)
    }
}

impl From<StoreError> for OpFailure {
    fn from(e: StoreError) -> Self {
        OpFailure::Refused(e)
    }
}

impl From<serde_json::Error> for OpFailure {
    fn from(e: serde_json::Error) -> Self {
        OpFailure::Refused(StoreError::from(e))
    }
}

pub(crate) type OpResult = Result<WriteOutcome, OpFailure>;

impl From<OpFailure> for TxError {
    fn from(e: OpFailure) -> Self {
        match e {
            OpFailure::Refused(e) => TxError::Refused(e),
            OpFailure::Sql(e) => TxError::from(e),
        }
    }
}

/// What an op needs besides its transaction.
pub(crate) struct OpContext<'a> {
    pub log: &'a mut GroupLog,
    /// The (request, op) being executed.
    pub position: (usize, usize),
}

impl OpContext<'_> {
    /// Buffers a log record; `reports_seq` patches its seq into this op's outcome
    /// (`EventApplied`, `Published`, `KvWritten` or `InvocationFinished`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append(
        &mut self,
        now: Timestamp,
        space: &str,
        kind: &'static str,
        address: String,
        payload: String,
        idempotency_key: Option<&str>,
        reports_seq: bool,
    ) {
        self.log.records.push(PendingRecord {
            space: space.to_string(),
            kind,
            address,
            payload,
            idempotency_key: idempotency_key.map(str::to_string),
            created_at: now,
            reports_seq: reports_seq.then_some(self.position),
            seq: None,
        });
    }

    /// Makes sure `space` has its `spaces` row at commit; this op's outcome then says whether
    /// it created the space.
    pub(crate) fn touch_space(&mut self, now: Timestamp, space: &str) {
        self.log.spaces.push(PendingSpace { space: space.to_string(), created_at: now, reports_to: self.position });
    }
}

/// Runs an op of a family that has not moved onto the command layer yet.
pub(crate) async fn execute_legacy(
    tx: &Transaction<'_>,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    op: &WriteOp,
) -> OpResult {
    match op {
        WriteOp::PutFunction(_)
        | WriteOp::RecordInvocations(_)
        | WriteOp::EnqueueInvocation(_)
        | WriteOp::ClaimInvocations(_)
        | WriteOp::FinishInvocation(_)
        | WriteOp::PurgeInvocations { .. } => crate::postgres::functions::execute(tx, cx, now, op).await,
        other => Err(OpFailure::Refused(StoreError::Internal(format!("{other:?} is run by the command layer")))),
    }
}
