//! Decoding of stored rows into records; a value that does not decode is `StoreError::Corrupt`.

use rusqlite::Row;

use crate::error::StoreError;
use crate::types::*;

pub(crate) use crate::decode::{machine_version, revision, segment, space};

/// Columns: space, machine, id, machine_version, state, ctx, revision, created_at, updated_at, deleted_at.
pub(crate) const INSTANCE_COLUMNS: &str =
    "space, machine, id, machine_version, state, ctx, revision, created_at, updated_at, deleted_at";

pub(crate) fn instance(row: &Row<'_>) -> Result<InstanceRecord, StoreError> {
    let ctx: String = row.get(5)?;
    Ok(InstanceRecord {
        space: space(row.get(0)?)?,
        machine: segment(row.get(1)?)?,
        id: segment(row.get(2)?)?,
        machine_version: machine_version(row.get::<_, u32>(3)?)?,
        state: row.get(4)?,
        ctx: serde_json::from_str(&ctx)?,
        revision: revision(row.get::<_, u64>(6)?)?,
        created_at: Timestamp(row.get(7)?),
        updated_at: Timestamp(row.get(8)?),
        deleted_at: row.get::<_, Option<i64>>(9)?.map(Timestamp),
    })
}

/// Columns: seq, space, kind, address, payload, idempotency_key, created_at.
pub(crate) const LOG_COLUMNS: &str = "seq, space, kind, address, payload, idempotency_key, created_at";

pub(crate) fn log_record(row: &Row<'_>) -> Result<LogRecord, StoreError> {
    let payload: String = row.get(4)?;
    Ok(LogRecord {
        seq: Seq(row.get::<_, i64>(0)? as u64),
        space: space(row.get(1)?)?,
        kind: row.get(2)?,
        address: row.get(3)?,
        payload: serde_json::from_str(&payload)?,
        idempotency_key: row.get(5)?,
        created_at: Timestamp(row.get(6)?),
    })
}

/// Columns: id, name, secret_hash, role, spaces, created_at, revoked_at.
pub(crate) const TOKEN_COLUMNS: &str = "id, name, secret_hash, role, spaces, created_at, revoked_at";

pub(crate) fn token(row: &Row<'_>) -> Result<TokenRecord, StoreError> {
    let role: String = row.get(3)?;
    let spaces: String = row.get(4)?;
    let spaces = crate::decode::space_grant(&spaces)?;
    Ok(TokenRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        secret_hash: row.get(2)?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("token role \"{role}\"")))?,
        spaces,
        created_at: Timestamp(row.get(5)?),
        revoked_at: row.get::<_, Option<i64>>(6)?.map(Timestamp),
    })
}
