//! Decoding of stored rows into records; a value that does not decode is `StoreError::Corrupt`,
//! except in log rows, which decode as far as they go (see `crate::decode::log_row`).

use rusqlite::Row;
use rusqlite::types::ValueRef;
use switchyard_model::{GrantRecord, InstanceRecord, PrincipalRecord, Role, RoleRecord, Timestamp, TokenRecord};

use crate::error::StoreError;

pub(crate) use crate::decode::RawLogRow;
use crate::decode::Text;
pub(crate) use crate::decode::{LogRow, machine_version, revision, segment, space};

/// Columns: space, machine, id, machine_version, state, ctx, revision, created_at, updated_at, deleted_at,
/// status, work, error, parent.
pub(crate) const INSTANCE_COLUMNS: &str = "space, machine, id, machine_version, state, ctx, revision, created_at, updated_at, deleted_at, status, work, error, parent";

/// An instance; a context that cannot be read back marks it (see [`InstanceRecord::unreadable`]).
pub(crate) fn instance(row: &Row<'_>) -> Result<InstanceRecord, StoreError> {
    let (ctx, unreadable) = crate::decode::ctx(match row.get_ref(5)? {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 ({e})")),
        other => Err(format!("{} where text belongs", other.data_type())),
    });
    Ok(InstanceRecord {
        space: space(row.get(0)?)?,
        machine: segment(row.get(1)?)?,
        id: segment(row.get(2)?)?,
        machine_version: machine_version(row.get::<_, u32>(3)?)?,
        state: row.get(4)?,
        ctx,
        revision: revision(row.get::<_, u64>(6)?)?,
        created_at: Timestamp(row.get(7)?),
        updated_at: Timestamp(row.get(8)?),
        deleted_at: row.get::<_, Option<i64>>(9)?.map(Timestamp),
        status: crate::decode::instance_status(&row.get::<_, String>(10)?),
        work: crate::decode::instance_work(row.get::<_, Option<String>>(11)?.as_deref()),
        error: crate::decode::instance_error(row.get::<_, Option<String>>(12)?.as_deref()),
        parent: crate::decode::instance_parent(row.get::<_, Option<String>>(13)?.as_deref()),
        unreadable,
    })
}

/// Columns: seq, space, kind, address, payload, idempotency_key, created_at.
pub(crate) const LOG_COLUMNS: &str = "seq, space, kind, address, payload, idempotency_key, created_at";

/// Reads a row of [`LOG_COLUMNS`] (at the same positions) and decodes it as far as it goes;
/// fails only when the row itself cannot be read. SQLite's columns take any type, so every
/// column is checked rather than trusted (a row written with raw SQL can hold anything).
pub(crate) fn log_record(row: &Row<'_>) -> Result<LogRow, StoreError> {
    let seq = row.get_ref(0)?;
    let Ok(seq) = seq.as_i64() else {
        return Ok(LogRow::Unplaced { seq: -1, reason: format!("seq is {}, not an integer", seq.data_type()) });
    };
    Ok(crate::decode::log_row(raw_log_row(row, seq)?))
}

/// Reads the columns of a row of [`LOG_COLUMNS`] (at the same positions) whose seq is `seq`,
/// without decoding them (see `crate::decode::log_row`).
pub(crate) fn raw_log_row(row: &Row<'_>, seq: i64) -> Result<RawLogRow, StoreError> {
    let idempotency_key = match row.get_ref(5)? {
        ValueRef::Null => None,
        _ => Some(text(row, 5)?),
    };
    let created_at = match row.get_ref(6)? {
        ValueRef::Integer(at) => Ok(at),
        other => Err(format!("{} where a time in milliseconds belongs", other.data_type())),
    };
    Ok(RawLogRow {
        seq,
        space: text(row, 1)?,
        kind: text(row, 2)?,
        address: text(row, 3)?,
        payload: text(row, 4)?,
        idempotency_key,
        created_at,
    })
}

/// A text column as far as it reads: text that is not UTF-8 is kept with replacement
/// characters, and a value of another type is named.
pub(crate) fn text(row: &Row<'_>, index: usize) -> Result<Text, StoreError> {
    Ok(match row.get_ref(index)? {
        ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Text::ok(text),
            Err(e) => {
                Text { value: String::from_utf8_lossy(bytes).into_owned(), problem: Some(format!("not UTF-8 ({e})")) }
            }
        },
        other => Text::failed(format!("{} where text belongs", other.data_type())),
    })
}

/// Columns: id, name, secret_hash, role, spaces, created_at, revoked_at, principal, expires_at,
/// session.
pub(crate) const TOKEN_COLUMNS: &str =
    "id, name, secret_hash, role, spaces, created_at, revoked_at, principal, expires_at, session";

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
        principal: row.get(7)?,
        expires_at: row.get::<_, Option<i64>>(8)?.map(Timestamp),
        session: row.get(9)?,
    })
}

/// Columns: id, kind, name, password_hash, failed_sign_ins, locked_until, created_at, org.
pub(crate) const PRINCIPAL_COLUMNS: &str =
    "id, kind, name, password_hash, failed_sign_ins, locked_until, created_at, org";

pub(crate) fn principal(row: &Row<'_>) -> Result<PrincipalRecord, StoreError> {
    let kind: String = row.get(1)?;
    Ok(PrincipalRecord {
        id: row.get(0)?,
        kind: crate::decode::principal_kind(&kind)?,
        name: row.get(2)?,
        password_hash: row.get(3)?,
        failed_sign_ins: row.get(4)?,
        locked_until: row.get::<_, Option<i64>>(5)?.map(Timestamp),
        created_at: Timestamp(row.get(6)?),
        org: row.get(7)?,
    })
}

/// Columns: id, principal, role, pattern, created_at.
pub(crate) const GRANT_COLUMNS: &str = "id, principal, role, pattern, created_at";

pub(crate) fn grant(row: &Row<'_>) -> Result<GrantRecord, StoreError> {
    Ok(GrantRecord {
        id: row.get(0)?,
        principal: row.get(1)?,
        role: row.get(2)?,
        pattern: row.get(3)?,
        created_at: Timestamp(row.get(4)?),
    })
}

pub(crate) fn role(row: &Row<'_>) -> Result<RoleRecord, StoreError> {
    let permissions: String = row.get(1)?;
    Ok(RoleRecord {
        name: row.get(0)?,
        permissions: serde_json::from_str(&permissions)
            .map_err(|e| StoreError::Corrupt(format!("role permissions: {e}")))?,
        updated_at: Timestamp(row.get(2)?),
    })
}
