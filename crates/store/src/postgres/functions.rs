//! WebAssembly functions on PostgreSQL: the writes (inside a group's transaction, with the
//! function's or the idempotency key's advisory lock already held) and the reads.
//!
//! Same invariants as `sqlite::functions`, with the same rules (`crate::function_rules`).
//! Serialisation across nodes:
//! - `PutFunction` runs under the advisory lock `function:{space}:{name}` (taken by the writer
//!   before any op), so two deploys of one function never both create the same version.
//! - `EnqueueInvocation` with an idempotency key runs under
//!   `invocation-key:{space}:{function}:{key}`, so of two enqueues with one key on any nodes
//!   the second finds the first; the unique index `invocations_by_key` backs it.
//! - `ClaimInvocations` locks the rows it leases with `FOR UPDATE SKIP LOCKED`: claimers on
//!   several nodes never wait on each other and never take the same record.
//! - `FinishInvocation` updates the row only while it is pending at the attempt the record
//!   names; the writer locks the rows a group finishes (by id, in its sorted lock step), and a
//!   finish that waited for a claim sees the claim's new attempt and changes nothing.
//! - `PurgeInvocations` skips rows another transaction holds (`SKIP LOCKED`): never waits.
//!
//! An op refuses only before its first write (a single-op request has no savepoint), so every
//! check, decode and conversion runs before it writes.

use deadpool_postgres::Transaction;
use switchyard_model::{Segment, SpaceName};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::error::StoreError;
use crate::function_rules::*;

/// [`INVOCATION_COLUMNS_NO_INPUT`] with the missing input typed, as PostgreSQL needs.
const PG_INVOCATION_COLUMNS_NO_INPUT: &str = "seq, id, space, function, version, status, is_async, attempt,
    idempotency_key, context, input_content_type, input_size, output_content_type, output_size, error, logs,
    created_at, finished_at, duration_us, lease_until, NULL::bytea, output";
use crate::functions::*;
use crate::postgres::PgStore;
use crate::postgres::ops::{OpContext, OpFailure};
use crate::types::*;

/// What a write op returns.
type OpResult = Result<WriteOutcome, OpFailure>;

// ---------------------------------------------------------------------------------------------
// Writes

/// Executes `PutFunction`, `RecordInvocations`, `EnqueueInvocation`, `ClaimInvocations`,
/// `FinishInvocation` and `PurgeInvocations`.
pub(crate) async fn execute(tx: &Transaction<'_>, cx: &mut OpContext<'_>, now: Timestamp, op: &WriteOp) -> OpResult {
    match op {
        WriteOp::PutFunction(spec) => put_function(tx, cx, now, spec).await,
        WriteOp::RecordInvocations(records) => record(tx, records).await,
        WriteOp::EnqueueInvocation(record) => enqueue(tx, record).await,
        WriteOp::ClaimInvocations(claim) => claim_invocations(tx, claim).await,
        WriteOp::FinishInvocation(record) => finish(tx, cx, now, record).await,
        WriteOp::PurgeInvocations { before, limit } => {
            // Bounded: this runs inside a group, so one huge DELETE would stall writes.
            let stmt = tx
                .prepare_cached(
                    "DELETE FROM invocations WHERE seq IN
                       (SELECT seq FROM invocations WHERE finished_at < $1 AND status <> 'pending'
                        ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
                )
                .await?;
            let n = tx.execute(&stmt, &[&before.0, &i64::from(*limit)]).await?;
            Ok(WriteOutcome::InvocationsPurged(n))
        }
        _ => Err(StoreError::Internal("a non-function operation was routed to the function executor".into()).into()),
    }
}

/// Stores the next version of a function unless it equals the latest one.
async fn put_function(tx: &Transaction<'_>, cx: &mut OpContext<'_>, now: Timestamp, spec: &FunctionSpec) -> OpResult {
    let (space, name) = (spec.space.as_str(), spec.name.as_str());
    let sql = format!(
        "SELECT {FUNCTION_COLUMNS} FROM functions WHERE space = $1 AND name = $2 ORDER BY version DESC LIMIT 1"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let latest = match tx.query_opt(&stmt, &[&space, &name]).await? {
        Some(row) => Some(raw_function(&row)?.decode()?),
        None => None,
    };
    if let Some(latest) = latest.as_ref().filter(|latest| unchanged(latest, spec)) {
        return Ok(WriteOutcome::FunctionPut { summary: latest.clone(), created: false, space_created: false });
    }
    let stored = StoredFunction::new(spec, next_version(latest.as_ref())?, now)?;
    let payload = serde_json::to_string(&stored.record())?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO functions (space, name, version, digest, size, config, created_at, component)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[&space, &name, &stored.version, &spec.digest, &stored.size, &stored.config, &now.0, &spec.component],
    )
    .await?;
    cx.touch_space(now, space);
    cx.append(now, space, FUNCTION_DEPLOYED, address(space, name), payload, None, false);
    Ok(WriteOutcome::FunctionPut { summary: stored.summary, created: true, space_created: false })
}

/// Refuses records whose ids are stored already, or that are asynchronous with an idempotency
/// key another asynchronous invocation of their function has: either would make the insert
/// fail, and with it the whole group.
async fn check_new(tx: &Transaction<'_>, records: &[StoredInvocation<'_>]) -> Result<(), OpFailure> {
    let ids: Vec<&str> = records.iter().map(|r| r.record.id.as_str()).collect();
    let stmt = tx.prepare_cached("SELECT id FROM invocations WHERE id = ANY($1) LIMIT 1").await?;
    if let Some(row) = tx.query_opt(&stmt, &[&ids]).await? {
        return Err(duplicate_id(&col::<String>(&row, 0)?).into());
    }
    for stored in records {
        let record = stored.record;
        let Some(key) = record.idempotency_key.as_deref().filter(|_| record.is_async) else { continue };
        let stmt = tx
            .prepare_cached(
                "SELECT 1 FROM invocations
                 WHERE space = $1 AND function = $2 AND idempotency_key = $3 AND is_async",
            )
            .await?;
        if tx.query_opt(&stmt, &[&record.space.as_str(), &record.function.as_str(), &key]).await?.is_some() {
            return Err(duplicate_key(record).into());
        }
    }
    Ok(())
}

/// Inserts finished invocation records, in one statement however many there are.
async fn record(tx: &Transaction<'_>, records: &[InvocationRecord]) -> OpResult {
    check_distinct(records)?;
    let stored = records.iter().map(StoredInvocation::new).collect::<Result<Vec<_>, _>>()?;
    if stored.is_empty() {
        return Ok(WriteOutcome::InvocationsRecorded(0));
    }
    check_new(tx, &stored).await?;
    let ids: Vec<&str> = stored.iter().map(|s| s.record.id.as_str()).collect();
    let spaces: Vec<&str> = stored.iter().map(|s| s.record.space.as_str()).collect();
    let functions: Vec<&str> = stored.iter().map(|s| s.record.function.as_str()).collect();
    let versions: Vec<i64> = stored.iter().map(|s| s.version).collect();
    let statuses: Vec<&str> = stored.iter().map(|s| s.status()).collect();
    let is_async: Vec<bool> = stored.iter().map(|s| s.record.is_async).collect();
    let attempts: Vec<i64> = stored.iter().map(|s| s.attempt).collect();
    let keys: Vec<Option<&str>> = stored.iter().map(|s| s.record.idempotency_key.as_deref()).collect();
    let contexts: Vec<&str> = stored.iter().map(|s| s.context.as_str()).collect();
    let input_types: Vec<&str> = stored.iter().map(|s| s.record.input_content_type.as_str()).collect();
    let input_sizes: Vec<i64> = stored.iter().map(|s| s.input_size).collect();
    let output_types: Vec<&str> = stored.iter().map(|s| s.record.output_content_type.as_str()).collect();
    let output_sizes: Vec<i64> = stored.iter().map(|s| s.output_size).collect();
    let errors: Vec<Option<&str>> = stored.iter().map(|s| s.error.as_deref()).collect();
    let logs: Vec<&str> = stored.iter().map(|s| s.logs.as_str()).collect();
    let created: Vec<i64> = stored.iter().map(|s| s.record.created_at.0).collect();
    let finished: Vec<Option<i64>> = stored.iter().map(|s| s.finished_at).collect();
    let durations: Vec<Option<i64>> = stored.iter().map(|s| s.duration_us).collect();
    let leases: Vec<Option<i64>> = stored.iter().map(|s| s.lease_until).collect();
    let inputs: Vec<Option<&[u8]>> = stored.iter().map(|s| s.record.input.as_deref()).collect();
    let outputs: Vec<Option<&[u8]>> = stored.iter().map(|s| s.record.output.as_deref()).collect();
    // WITH ORDINALITY keeps the records' order, so their seqs follow it.
    let stmt = tx
        .prepare_cached(
            "INSERT INTO invocations (id, space, function, version, status, is_async, attempt, idempotency_key,
               context, input_content_type, input_size, output_content_type, output_size, error, logs, created_at,
               finished_at, duration_us, lease_until, input, output)
             SELECT id, space, function, version, status, is_async, attempt, idempotency_key, context,
               input_content_type, input_size, output_content_type, output_size, error, logs, created_at,
               finished_at, duration_us, lease_until, input, output
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::boolean[], $7::bigint[],
               $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[], $13::bigint[], $14::text[],
               $15::text[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], $20::bytea[], $21::bytea[])
               WITH ORDINALITY AS r(id, space, function, version, status, is_async, attempt, idempotency_key,
                 context, input_content_type, input_size, output_content_type, output_size, error, logs,
                 created_at, finished_at, duration_us, lease_until, input, output, n)
             ORDER BY n",
        )
        .await?;
    let inserted = tx
        .execute(
            &stmt,
            &[
                &ids,
                &spaces,
                &functions,
                &versions,
                &statuses,
                &is_async,
                &attempts,
                &keys,
                &contexts,
                &input_types,
                &input_sizes,
                &output_types,
                &output_sizes,
                &errors,
                &logs,
                &created,
                &finished,
                &durations,
                &leases,
                &inputs,
                &outputs,
            ],
        )
        .await?;
    Ok(WriteOutcome::InvocationsRecorded(inserted))
}

/// Inserts a pending asynchronous invocation, or returns the one already enqueued with its
/// idempotency key.
async fn enqueue(tx: &Transaction<'_>, record: &InvocationRecord) -> OpResult {
    check_enqueue(record)?;
    let (space, function) = (record.space.as_str(), record.function.as_str());
    if let Some(key) = &record.idempotency_key {
        let sql = format!(
            "SELECT {INVOCATION_COLUMNS} FROM invocations
             WHERE space = $1 AND function = $2 AND idempotency_key = $3 AND is_async"
        );
        let stmt = tx.prepare_cached(&sql).await?;
        if let Some(row) = tx.query_opt(&stmt, &[&space, &function, key]).await? {
            return Ok(WriteOutcome::InvocationEnqueued { record: invocation(&row)?, replayed: true });
        }
    }
    let stored = StoredInvocation::new(record)?;
    check_new(tx, std::slice::from_ref(&stored)).await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO invocations (id, space, function, version, status, is_async, attempt, idempotency_key,
               context, input_content_type, input_size, output_content_type, output_size, error, logs, created_at,
               finished_at, duration_us, lease_until, input, output)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
             RETURNING seq",
        )
        .await?;
    let row = tx
        .query_one(
            &stmt,
            &[
                &record.id,
                &space,
                &function,
                &stored.version,
                &stored.status(),
                &record.is_async,
                &stored.attempt,
                &record.idempotency_key,
                &stored.context,
                &record.input_content_type,
                &stored.input_size,
                &record.output_content_type,
                &stored.output_size,
                &stored.error,
                &stored.logs,
                &record.created_at.0,
                &stored.finished_at,
                &stored.duration_us,
                &stored.lease_until,
                &record.input,
                &record.output,
            ],
        )
        .await?;
    // The row is written: from here on nothing may refuse (there is no savepoint to undo it),
    // so a seq that cannot be read fails the whole group instead. A bigserial is never negative.
    let seq = row.try_get::<_, i64>(0)?.max(0) as u64;
    Ok(WriteOutcome::InvocationEnqueued { record: InvocationRecord { seq, ..record.clone() }, replayed: false })
}

/// Leases up to `limit` pending invocations whose lease ended, oldest first. Rows another
/// transaction holds (a claim on another node, a finish) are skipped, never waited on.
async fn claim_invocations(tx: &Transaction<'_>, claim: &ClaimInvocations) -> OpResult {
    let sql = format!(
        "SELECT {INVOCATION_COLUMNS} FROM invocations
         WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= $1)
         ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let rows = tx.query(&stmt, &[&claim.now.0, &i64::from(claim.limit)]).await?;
    // Decoded before the first write, so a corrupt row refuses cleanly.
    let mut due = Vec::with_capacity(rows.len());
    let mut seqs = Vec::with_capacity(rows.len());
    for row in &rows {
        seqs.push(col::<i64>(row, 0)?);
        due.push(claimed(invocation(row)?, claim.lease_until)?);
    }
    if !due.is_empty() {
        let stmt = tx
            .prepare_cached("UPDATE invocations SET lease_until = $1, attempt = attempt + 1 WHERE seq = ANY($2)")
            .await?;
        tx.execute(&stmt, &[&claim.lease_until.0, &seqs]).await?;
    }
    Ok(WriteOutcome::InvocationsClaimed(due))
}

/// Finishes a pending invocation at the attempt the record names and logs its completion.
async fn finish(tx: &Transaction<'_>, cx: &mut OpContext<'_>, now: Timestamp, record: &InvocationRecord) -> OpResult {
    check_finish(record)?;
    let stored = StoredInvocation::new(record)?;
    let payload = serde_json::to_string(&completed_payload(record))?;
    let stmt = tx
        .prepare_cached(
            "UPDATE invocations SET status = $1, output = $2, output_content_type = $3, output_size = $4, error = $5,
               logs = $6, finished_at = $7, duration_us = $8, lease_until = NULL
             WHERE id = $9 AND space = $10 AND function = $11 AND status = 'pending' AND attempt = $12",
        )
        .await?;
    let (space, function) = (record.space.as_str(), record.function.as_str());
    let changed = tx
        .execute(
            &stmt,
            &[
                &stored.status(),
                &record.output,
                &record.output_content_type,
                &stored.output_size,
                &stored.error,
                &stored.logs,
                &stored.finished_at,
                &stored.duration_us,
                &record.id,
                &space,
                &function,
                &stored.attempt,
            ],
        )
        .await?;
    if changed == 0 {
        return Ok(WriteOutcome::InvocationFinished(None));
    }
    // The seq is patched in when the group's seqs are assigned.
    cx.append(now, space, FUNCTION_COMPLETED, address(space, function), payload, None, true);
    Ok(WriteOutcome::InvocationFinished(Some(Seq(0))))
}

// ---------------------------------------------------------------------------------------------
// Reads

/// A column of a row; a value of another type than expected is corrupt data, not a panic.
fn col<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, StoreError> {
    row.try_get(index).map_err(|e| StoreError::Corrupt(format!("column {index}: {e}")))
}

/// Decodes the columns of [`FUNCTION_COLUMNS`].
fn raw_function(row: &Row) -> Result<RawFunction, StoreError> {
    Ok(RawFunction {
        space: col(row, 0)?,
        name: col(row, 1)?,
        version: col(row, 2)?,
        digest: col(row, 3)?,
        size: col(row, 4)?,
        config: col(row, 5)?,
        created_at: col(row, 6)?,
    })
}

/// Decodes a row of [`INVOCATION_COLUMNS`].
fn invocation(row: &Row) -> Result<InvocationRecord, StoreError> {
    RawInvocation {
        seq: col(row, 0)?,
        id: col(row, 1)?,
        space: col(row, 2)?,
        function: col(row, 3)?,
        version: col(row, 4)?,
        status: col(row, 5)?,
        is_async: col(row, 6)?,
        attempt: col(row, 7)?,
        idempotency_key: col(row, 8)?,
        context: col(row, 9)?,
        input_content_type: col(row, 10)?,
        input_size: col(row, 11)?,
        output_content_type: col(row, 12)?,
        output_size: col(row, 13)?,
        error: col(row, 14)?,
        logs: col(row, 15)?,
        created_at: col(row, 16)?,
        finished_at: col(row, 17)?,
        duration_us: col(row, 18)?,
        lease_until: col(row, 19)?,
        input: col(row, 20)?,
        output: col(row, 21)?,
    }
    .decode()
}

/// One version of a function with its component (the latest when `version` is `None`).
pub(super) async fn get(
    store: &PgStore,
    space: &SpaceName,
    name: &Segment,
    version: Option<u64>,
) -> Result<Option<FunctionRecord>, StoreError> {
    let (s, n) = (space.as_str(), name.as_str());
    let rows = match version.map(i64::try_from) {
        None => {
            let sql = format!(
                "SELECT {FUNCTION_COLUMNS}, component FROM functions WHERE space = $1 AND name = $2
                 ORDER BY version DESC LIMIT 1"
            );
            store.query(&sql, &[&s, &n]).await?
        }
        Some(Ok(v)) => {
            let sql = format!(
                "SELECT {FUNCTION_COLUMNS}, component FROM functions WHERE space = $1 AND name = $2 AND version = $3"
            );
            store.query(&sql, &[&s, &n, &v]).await?
        }
        // No version that large was ever stored.
        Some(Err(_)) => return Ok(None),
    };
    let Some(row) = rows.first() else { return Ok(None) };
    Ok(Some(FunctionRecord { summary: raw_function(row)?.decode()?, component: col(row, 7)? }))
}

/// The latest version of every function of a space, by name, without their components.
pub(super) async fn list(store: &PgStore, space: &SpaceName) -> Result<Vec<FunctionSummary>, StoreError> {
    let sql = format!(
        "SELECT DISTINCT ON (name) {FUNCTION_COLUMNS} FROM functions WHERE space = $1 ORDER BY name, version DESC"
    );
    let rows = store.query(&sql, &[&space.as_str()]).await?;
    rows.iter().map(|row| raw_function(row)?.decode()).collect()
}

/// Every version of a function, oldest first, without their components.
pub(super) async fn versions(
    store: &PgStore,
    space: &SpaceName,
    name: &Segment,
) -> Result<Vec<FunctionSummary>, StoreError> {
    let sql = format!("SELECT {FUNCTION_COLUMNS} FROM functions WHERE space = $1 AND name = $2 ORDER BY version");
    let rows = store.query(&sql, &[&space.as_str(), &name.as_str()]).await?;
    rows.iter().map(|row| raw_function(row)?.decode()).collect()
}

/// An invocation record of a space.
pub(super) async fn get_invocation(
    store: &PgStore,
    space: &SpaceName,
    id: &str,
) -> Result<Option<InvocationRecord>, StoreError> {
    let sql = format!("SELECT {INVOCATION_COLUMNS} FROM invocations WHERE id = $1 AND space = $2");
    let rows = store.query(&sql, &[&id, &space.as_str()]).await?;
    rows.first().map(invocation).transpose()
}

/// A page of invocation records, oldest first: after a seq, or the newest `limit`.
pub(super) async fn list_invocations(
    store: &PgStore,
    query: &ListInvocations,
) -> Result<Vec<InvocationRecord>, StoreError> {
    let after = match query.after.map(i64::try_from) {
        None => None,
        Some(Ok(after)) => Some(after),
        // No record has a seq that large.
        Some(Err(_)) => return Ok(Vec::new()),
    };
    let space = query.space.as_str();
    let limit = i64::from(query.limit);
    let function = query.function.as_ref().map(|f| f.as_str());
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&space, &limit];
    // One statement per combination of filters, so the planner can use the indexes.
    let function_filter = match &function {
        Some(function) => {
            params.push(function);
            format!("AND function = ${}", params.len())
        }
        None => String::new(),
    };
    let (cursor, order) = match &after {
        Some(after) => {
            params.push(after);
            (format!("AND seq > ${}", params.len()), "ASC")
        }
        None => (String::new(), "DESC"),
    };
    let sql = format!(
        "SELECT {PG_INVOCATION_COLUMNS_NO_INPUT} FROM invocations WHERE space = $1 {function_filter} {cursor}
         ORDER BY seq {order} LIMIT $2"
    );
    let rows = store.query(&sql, &params).await?;
    let mut out = rows.iter().map(invocation).collect::<Result<Vec<_>, _>>()?;
    if after.is_none() {
        out.reverse();
    }
    Ok(out)
}
