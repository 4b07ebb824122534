//! WebAssembly functions on SQLite: the writes (run on the writer thread, inside the group's
//! transaction) and the reads (on the reader pool).
//!
//! A function version is a row of `functions`; an invocation a row of `invocations`, whose
//! `seq` (AUTOINCREMENT) orders and pages the list and is never reused.
//!
//! Invariants (the conformance suite checks each; `postgres::functions` keeps the same ones):
//! - A function's versions count 1, 2, 3… per name; a deploy equal to the latest version (same
//!   digest, same configuration as a JSON value) stores nothing. Each new version appends one
//!   `function.deployed` record at `space:name`, in the same transaction.
//! - At most one asynchronous invocation per (space, function, idempotency key); an enqueue
//!   that finds one returns it. Enforced twice: the check here runs on the single writer
//!   thread, and the unique index `invocations_by_key` backs it.
//! - A claim takes pending invocations whose lease ended, oldest first, and counts an attempt
//!   on each; a finish applies only to a pending invocation at the attempt it names, so a
//!   runner whose lease ended (and whose invocation was claimed again) cannot finish it.
//! - A finish appends one `function.completed` record at `space:function`.
//!
//! Writes run on the single writer thread, so every read-check-write here is serialised with
//! every other write; a refusal rolls back the request's savepoint. The rules both backends
//! share are in `crate::function_rules`.

use rusqlite::{Connection, OptionalExtension, Row, params};
use switchyard_model::{Segment, SpaceName};

use crate::error::StoreError;
use crate::function_rules::*;
use crate::functions::*;
use crate::sqlite::SqliteStore;
use crate::sqlite::ops::{OpContext, append_log};
use crate::types::*;

// ---------------------------------------------------------------------------------------------
// Writes

/// Executes `PutFunction`, `RecordInvocations`, `EnqueueInvocation`, `ClaimInvocations`,
/// `FinishInvocation` and `PurgeInvocations`.
pub(crate) fn execute(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    op: &WriteOp,
) -> Result<WriteOutcome, StoreError> {
    match op {
        WriteOp::PutFunction(spec) => put_function(conn, cx, now, spec),
        WriteOp::RecordInvocations(records) => {
            check_distinct(records)?;
            let stored = records.iter().map(StoredInvocation::new).collect::<Result<Vec<_>, _>>()?;
            for invocation in &stored {
                insert(conn, invocation)?;
            }
            Ok(WriteOutcome::InvocationsRecorded(stored.len() as u64))
        }
        WriteOp::EnqueueInvocation(record) => enqueue(conn, record),
        WriteOp::ClaimInvocations(claim) => claim_invocations(conn, claim),
        WriteOp::FinishInvocation(record) => finish(conn, cx, now, record),
        WriteOp::PurgeInvocations { before, limit } => {
            // Bounded: this runs inside a group commit, so one huge DELETE would stall writes.
            // The predicate `finished_at < ?1` lets SQLite use `invocations_by_finish`.
            let n = conn
                .prepare_cached(
                    "DELETE FROM invocations WHERE seq IN
                       (SELECT seq FROM invocations WHERE finished_at < ?1 AND status <> 'pending'
                        ORDER BY finished_at LIMIT ?2)",
                )?
                .execute(params![before.0, limit])?;
            Ok(WriteOutcome::InvocationsPurged(n as u64))
        }
        _ => Err(StoreError::Internal("a non-function operation was routed to the function executor".into())),
    }
}

/// Stores the next version of a function unless it equals the latest one.
fn put_function(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    spec: &FunctionSpec,
) -> Result<WriteOutcome, StoreError> {
    let (space, name) = (spec.space.as_str(), spec.name.as_str());
    let sql = format!(
        "SELECT {FUNCTION_COLUMNS} FROM functions WHERE space = ?1 AND name = ?2 ORDER BY version DESC LIMIT 1"
    );
    let latest = {
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![space, name])?;
        rows.next()?.map(raw_function).transpose()?.map(RawFunction::decode).transpose()?
    };
    if let Some(latest) = latest.as_ref().filter(|latest| unchanged(latest, spec)) {
        return Ok(WriteOutcome::FunctionPut { summary: latest.clone(), created: false, space_created: false });
    }
    let stored = StoredFunction::new(spec, next_version(latest.as_ref())?, now)?;
    conn.prepare_cached(
        "INSERT INTO functions (space, name, version, digest, size, config, created_at, component)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        space,
        name,
        stored.version,
        spec.digest,
        stored.size,
        stored.config,
        now.0,
        spec.component
    ])?;
    let space_created = crate::sqlite::ops::ensure_space(conn, now, space)?;
    append_log(conn, cx, now, space, FUNCTION_DEPLOYED, &address(space, name), &stored.record(), None)?;
    Ok(WriteOutcome::FunctionPut { summary: stored.summary, created: true, space_created })
}

/// Inserts an invocation record, refusing an id already stored; returns its seq.
fn insert(conn: &Connection, invocation: &StoredInvocation<'_>) -> Result<i64, StoreError> {
    let record = invocation.record;
    // Checked first: a constraint failure would be a backend error, which fails the whole group.
    let exists: Option<i64> = conn
        .prepare_cached("SELECT seq FROM invocations WHERE id = ?1")?
        .query_row(params![record.id], |r| r.get(0))
        .optional()?;
    if exists.is_some() {
        return Err(duplicate_id(&record.id));
    }
    if let Some(key) = record.idempotency_key.as_deref().filter(|_| record.is_async) {
        let (space, function) = (record.space.as_str(), record.function.as_str());
        let taken: Option<i64> = conn
            .prepare_cached(
                "SELECT seq FROM invocations
                 WHERE space = ?1 AND function = ?2 AND idempotency_key = ?3 AND idempotency_key IS NOT NULL AND is_async",
            )?
            .query_row(params![space, function, key], |r| r.get(0))
            .optional()?;
        if taken.is_some() {
            return Err(duplicate_key(record));
        }
    }
    let seq = conn
        .prepare_cached(
            "INSERT INTO invocations (id, space, function, version, status, is_async, attempt, idempotency_key,
               context, input_content_type, input_size, output_content_type, output_size, error, logs, created_at,
               finished_at, duration_us, lease_until, input, output)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
             RETURNING seq",
        )?
        .query_row(
            params![
                record.id,
                record.space.as_str(),
                record.function.as_str(),
                invocation.version,
                invocation.status(),
                record.is_async,
                invocation.attempt,
                record.idempotency_key,
                invocation.context,
                record.input_content_type,
                invocation.input_size,
                record.output_content_type,
                invocation.output_size,
                invocation.error,
                invocation.logs,
                record.created_at.0,
                invocation.finished_at,
                invocation.duration_us,
                invocation.lease_until,
                record.input,
                record.output,
            ],
            |r| r.get(0),
        )?;
    Ok(seq)
}

/// Inserts a pending asynchronous invocation, or returns the one already enqueued with its
/// idempotency key.
fn enqueue(conn: &Connection, record: &InvocationRecord) -> Result<WriteOutcome, StoreError> {
    check_enqueue(record)?;
    if let Some(key) = &record.idempotency_key {
        // The terms repeat `invocations_by_key`'s predicate so SQLite can use it.
        let sql = format!(
            "SELECT {INVOCATION_COLUMNS} FROM invocations
             WHERE space = ?1 AND function = ?2 AND idempotency_key = ?3 AND idempotency_key IS NOT NULL AND is_async"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![record.space.as_str(), record.function.as_str(), key])?;
        if let Some(row) = rows.next()? {
            return Ok(WriteOutcome::InvocationEnqueued { record: invocation(row)?, replayed: true });
        }
    }
    let seq = insert(conn, &StoredInvocation::new(record)?)?;
    let record = InvocationRecord { seq: to_u64("invocation seq", seq)?, ..record.clone() };
    Ok(WriteOutcome::InvocationEnqueued { record, replayed: false })
}

/// Leases up to `limit` pending invocations whose lease ended, oldest first.
fn claim_invocations(conn: &Connection, claim: &ClaimInvocations) -> Result<WriteOutcome, StoreError> {
    // Read (and decoded) before writing: SQLite does not promise how a statement stepping over
    // a table sees that table's own changes. The walk follows `invocations_pending`.
    let due = {
        let sql = format!(
            "SELECT {INVOCATION_COLUMNS} FROM invocations
             WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= ?1)
             ORDER BY seq LIMIT ?2"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![claim.now.0, claim.limit])?;
        let mut due = Vec::new();
        while let Some(row) = rows.next()? {
            due.push(claimed(invocation(row)?, claim.lease_until)?);
        }
        due
    };
    if due.is_empty() {
        return Ok(WriteOutcome::InvocationsClaimed(due));
    }
    let seqs = serde_json::to_string(&due.iter().map(|r| r.seq).collect::<Vec<_>>())?;
    conn.prepare_cached(
        "UPDATE invocations SET lease_until = ?1, attempt = attempt + 1 WHERE seq IN (SELECT value FROM json_each(?2))",
    )?
    .execute(params![claim.lease_until.0, seqs])?;
    Ok(WriteOutcome::InvocationsClaimed(due))
}

/// Finishes a pending invocation at the attempt the record names and logs its completion.
fn finish(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    record: &InvocationRecord,
) -> Result<WriteOutcome, StoreError> {
    check_finish(record)?;
    let stored = StoredInvocation::new(record)?;
    let changed = conn
        .prepare_cached(
            "UPDATE invocations SET status = ?1, output = ?2, output_content_type = ?3, output_size = ?4, error = ?5,
               logs = ?6, finished_at = ?7, duration_us = ?8, lease_until = NULL
             WHERE id = ?9 AND space = ?10 AND function = ?11 AND status = 'pending' AND attempt = ?12",
        )?
        .execute(params![
            stored.status(),
            record.output,
            record.output_content_type,
            stored.output_size,
            stored.error,
            stored.logs,
            stored.finished_at,
            stored.duration_us,
            record.id,
            record.space.as_str(),
            record.function.as_str(),
            stored.attempt,
        ])?;
    if changed == 0 {
        return Ok(WriteOutcome::InvocationFinished(None));
    }
    let (space, function) = (record.space.as_str(), record.function.as_str());
    let payload = completed_payload(record);
    let seq = append_log(conn, cx, now, space, FUNCTION_COMPLETED, &address(space, function), &payload, None)?;
    Ok(WriteOutcome::InvocationFinished(Some(seq)))
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Decodes the columns of [`FUNCTION_COLUMNS`].
fn raw_function(row: &Row<'_>) -> Result<RawFunction, StoreError> {
    Ok(RawFunction {
        space: row.get(0)?,
        name: row.get(1)?,
        version: row.get(2)?,
        digest: row.get(3)?,
        size: row.get(4)?,
        config: row.get(5)?,
        created_at: row.get(6)?,
    })
}

/// Decodes a row of [`INVOCATION_COLUMNS`].
fn invocation(row: &Row<'_>) -> Result<InvocationRecord, StoreError> {
    RawInvocation {
        seq: row.get(0)?,
        id: row.get(1)?,
        space: row.get(2)?,
        function: row.get(3)?,
        version: row.get(4)?,
        status: row.get(5)?,
        is_async: row.get(6)?,
        attempt: row.get(7)?,
        idempotency_key: row.get(8)?,
        context: row.get(9)?,
        input_content_type: row.get(10)?,
        input_size: row.get(11)?,
        output_content_type: row.get(12)?,
        output_size: row.get(13)?,
        error: row.get(14)?,
        logs: row.get(15)?,
        created_at: row.get(16)?,
        finished_at: row.get(17)?,
        duration_us: row.get(18)?,
        lease_until: row.get(19)?,
        input: row.get(20)?,
        output: row.get(21)?,
    }
    .decode()
}

/// One version of a function with its component (the latest when `version` is `None`).
pub(super) async fn get(
    store: &SqliteStore,
    space: &SpaceName,
    name: &Segment,
    version: Option<u64>,
) -> Result<Option<FunctionRecord>, StoreError> {
    let version = match version.map(i64::try_from) {
        None => None,
        Some(Ok(v)) => Some(v),
        // No version that large was ever stored.
        Some(Err(_)) => return Ok(None),
    };
    let (space, name) = (space.clone(), name.clone());
    store
        .read(move |conn| {
            let (space, name) = (space.as_str(), name.as_str());
            let mut stmt;
            let mut rows = match version {
                Some(v) => {
                    let sql = format!(
                        "SELECT {FUNCTION_COLUMNS}, component FROM functions
                         WHERE space = ?1 AND name = ?2 AND version = ?3"
                    );
                    stmt = conn.prepare_cached(&sql)?;
                    stmt.query(params![space, name, v])?
                }
                None => {
                    let sql = format!(
                        "SELECT {FUNCTION_COLUMNS}, component FROM functions
                         WHERE space = ?1 AND name = ?2 ORDER BY version DESC LIMIT 1"
                    );
                    stmt = conn.prepare_cached(&sql)?;
                    stmt.query(params![space, name])?
                }
            };
            let Some(row) = rows.next()? else { return Ok(None) };
            let summary = raw_function(row)?.decode()?;
            Ok(Some(FunctionRecord { summary, component: row.get(7)? }))
        })
        .await
}

/// The latest version of every function of a space, by name, without their components.
pub(super) async fn list(store: &SqliteStore, space: &SpaceName) -> Result<Vec<FunctionSummary>, StoreError> {
    let space = space.clone();
    store
        .read(move |conn| {
            let sql = format!(
                "SELECT {FUNCTION_COLUMNS} FROM functions f
                 WHERE f.space = ?1 AND f.version = (SELECT max(version) FROM functions WHERE space = f.space AND name = f.name)
                 ORDER BY f.name"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![space.as_str()])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(raw_function(row)?.decode()?);
            }
            Ok(out)
        })
        .await
}

/// Every version of a function, oldest first, without their components.
pub(super) async fn versions(
    store: &SqliteStore,
    space: &SpaceName,
    name: &Segment,
) -> Result<Vec<FunctionSummary>, StoreError> {
    let (space, name) = (space.clone(), name.clone());
    store
        .read(move |conn| {
            let sql =
                format!("SELECT {FUNCTION_COLUMNS} FROM functions WHERE space = ?1 AND name = ?2 ORDER BY version");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![space.as_str(), name.as_str()])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(raw_function(row)?.decode()?);
            }
            Ok(out)
        })
        .await
}

/// An invocation record of a space.
pub(super) async fn get_invocation(
    store: &SqliteStore,
    space: &SpaceName,
    id: &str,
) -> Result<Option<InvocationRecord>, StoreError> {
    let (space, id) = (space.clone(), id.to_string());
    store
        .read(move |conn| {
            let sql = format!("SELECT {INVOCATION_COLUMNS} FROM invocations WHERE id = ?1 AND space = ?2");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![id, space.as_str()])?;
            rows.next()?.map(invocation).transpose()
        })
        .await
}

/// A page of invocation records, oldest first: after a seq, or the newest `limit`.
pub(super) async fn list_invocations(
    store: &SqliteStore,
    query: &ListInvocations,
) -> Result<Vec<InvocationRecord>, StoreError> {
    let after = match query.after.map(i64::try_from) {
        None => None,
        Some(Ok(after)) => Some(after),
        // No record has a seq that large.
        Some(Err(_)) => return Ok(Vec::new()),
    };
    let query = query.clone();
    store
        .read(move |conn| {
            // One statement per combination of filters: SQLite plans a statement once, so an
            // optional filter written as `(? IS NULL OR ...)` would keep it from using an index.
            let function = if query.function.is_some() { "AND function = :function" } else { "" };
            let (cursor, order) = if after.is_some() { ("AND seq > :after", "ASC") } else { ("", "DESC") };
            let sql = format!(
                "SELECT {INVOCATION_COLUMNS_NO_INPUT} FROM invocations WHERE space = :space {function} {cursor}
                 ORDER BY seq {order} LIMIT :limit"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let space: &str = query.space.as_str();
            let mut params: Vec<(&str, &dyn rusqlite::ToSql)> = vec![(":space", &space), (":limit", &query.limit)];
            let function_name = query.function.as_ref().map(|f| f.as_str());
            if let Some(function) = &function_name {
                params.push((":function", function));
            }
            if let Some(after) = &after {
                params.push((":after", after));
            }
            let mut rows = stmt.query(params.as_slice())?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(invocation(row)?);
            }
            if after.is_none() {
                out.reverse();
            }
            Ok(out)
        })
        .await
}
