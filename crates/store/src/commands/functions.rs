//! WebAssembly functions: deploys (versions) and invocation records (recorded, enqueued,
//! followed through their job's attempts, purged).
//!
//! Invariants (the conformance suite checks each):
//! - A function's versions count 1, 2, 3… per name; a deploy equal to the latest version (same
//!   digest, same configuration as a JSON value) stores nothing. Each new version appends one
//!   `function.deployed` record at `space:name`. On PostgreSQL a deploy holds
//!   `function:{space}:{name}`, so two deploys never both create one version.
//! - At most one asynchronous invocation per (space, function, idempotency key); an enqueue
//!   that finds one returns it. On PostgreSQL an enqueue with a key holds
//!   `invocation-key:{space}:{function}:{key}`, so of two enqueues with one key the second
//!   finds the first; the unique index `invocations_by_key` backs it on both backends.
//! - An id or key already stored refuses before anything is written: the insert would fail,
//!   and with it the whole group.
//! - An asynchronous invocation is enqueued with its job (kind `invocation`, the same id) in
//!   one transaction: the work table leases, retries and dead-letters it like any job. The
//!   record follows the job in the transaction that changes the job ([`invocation_job_changed`]):
//!   pending while the job is pending or running (showing the last failed attempt's error),
//!   succeeded when it succeeds, failed when it is dead, cancelled or deleted unfinished, and
//!   pending again when it is re-driven. Only the worker holding the job reports an attempt,
//!   so a runner whose lease was taken over changes nothing.
//! - Each end of an invocation (succeeded or failed) appends one `function.completed` record
//!   at `space:function`.
//! - Every check, decode and conversion of a command runs before its first write.

use std::collections::HashSet;

use serde::Serialize;
use switchyard_model::jobs::{JobStatus, RetryPolicy};
use switchyard_model::{
    Actor, FUNCTION_COMPLETED, FUNCTION_DEPLOYED, FunctionSpec, FunctionSummary, INVOCATION_ABANDONED, INVOCATION_JOB,
    InvocationRecord, InvocationStatus, JobRecord, JobSpec, Segment, Timestamp,
};

use super::{Command, Cx, Locking};
use crate::error::StoreError;
use crate::function_rules::{StoredFunction, StoredInvocation};
use crate::functions::*;
use crate::tables::{Locks, Tables, TxResult};

/// Stores a function version unless its digest and configuration equal the latest
/// version's; a new version appends a `function.deployed` record naming who deployed it.
#[derive(Debug, Clone, PartialEq)]
pub struct PutFunction {
    /// The version to store.
    pub spec: FunctionSpec,
    /// Who deploys it.
    pub by: Actor,
}

/// A function version was stored (`created`), or the latest equalled the deploy.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionPut {
    /// The version now latest.
    pub summary: FunctionSummary,
    /// Whether a new version was stored.
    pub created: bool,
    /// Whether this write created the space.
    pub space_created: bool,
}

request!(PutFunction => FunctionPut(FunctionPut));

impl Locking for PutFunction {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.exclusive(format!("function:{}:{}", self.spec.space, self.spec.name));
        locks.writes_into(self.spec.space.as_ref());
    }
}

impl Command for PutFunction {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let spec = &self.spec;
        let (space, name) = (spec.space.as_str(), spec.name.as_str());
        let latest = tx.latest_function(space, name).await?;
        if let Some(latest) = latest.as_ref().filter(|latest| unchanged(latest, spec)) {
            return Ok(FunctionPut { summary: latest.clone(), created: false, space_created: false });
        }
        let stored = StoredFunction::new(spec, next_version(latest.as_ref())?, cx.now)?;
        tx.insert_function(spec, &stored).await?;
        cx.touch_space(space);
        let summary = stored.summary;
        let record = DeployedRecord {
            version: summary.version,
            digest: &summary.digest,
            size: summary.size,
            principal: &self.by,
        };
        cx.append(tx, space, FUNCTION_DEPLOYED, address(space, name), &record, None, false).await?;
        // `space_created` is set when the group's `spaces` rows are written.
        Ok(FunctionPut { summary, created: true, space_created: false })
    }
}

/// Inserts finished invocation records (of synchronous invocations); appends no log record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordInvocations {
    /// The finished records.
    pub records: Vec<InvocationRecord>,
}

request!(RecordInvocations => InvocationsRecorded(u64));

impl Locking for RecordInvocations {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        for record in &self.records {
            locks.writes_into(record.space.as_ref());
        }
    }
}

impl Command for RecordInvocations {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        check_distinct(&self.records)?;
        let stored = self.records.iter().map(StoredInvocation::new).collect::<Result<Vec<_>, _>>()?;
        if stored.is_empty() {
            return Ok(0);
        }
        check_new(tx, &stored).await?;
        tx.insert_invocations(&stored).await
    }
}

/// Inserts a pending asynchronous invocation and its job (kind
/// [`switchyard_model::INVOCATION_JOB`], the same id), unless one with the same function and
/// idempotency key exists, which is then returned instead. The job's changes carry the record
/// along (see [`crate::JobReport`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EnqueueInvocation {
    /// The pending record (its input included).
    pub record: InvocationRecord,
    /// How failed attempts are retried.
    pub retry: RetryPolicy,
}

/// An asynchronous invocation is pending (or, `replayed`, an earlier one with the same
/// idempotency key was found and is returned as stored).
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationEnqueued {
    /// The record as stored (with its `seq`).
    pub record: InvocationRecord,
    /// Whether this is the earlier invocation with the same key.
    pub replayed: bool,
}

request!(EnqueueInvocation => InvocationEnqueued(InvocationEnqueued));

impl Locking for EnqueueInvocation {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        let record = &self.record;
        if let Some(key) = &record.idempotency_key {
            locks.exclusive(format!("invocation-key:{}:{}:{key}", record.space, record.function));
        }
        locks.writes_into(record.space.as_ref());
    }
}

impl Command for EnqueueInvocation {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let record = &self.record;
        check_enqueue(record)?;
        if let Some(key) = &record.idempotency_key
            && let Some(earlier) =
                tx.async_invocation_by_key(record.space.as_str(), record.function.as_str(), key).await?
        {
            return Ok(InvocationEnqueued { record: earlier, replayed: true });
        }
        let stored = StoredInvocation::new(record)?;
        let job = JobSpec {
            id: record.id.clone(),
            space: record.space.clone(),
            kind: Segment::new(INVOCATION_JOB).map_err(|e| StoreError::Internal(e.to_string()))?,
            target: address(record.space.as_str(), record.function.as_str()),
            payload: serde_json::json!({ "function": record.function, "version": record.version }),
            priority: 0,
            concurrency_key: None,
            // The invocation's own key is checked above, per function.
            idempotency_key: None,
            run_at: cx.now,
            retry: self.retry.clone(),
        };
        check_new(tx, std::slice::from_ref(&stored)).await?;
        if tx.job_for_update(record.space.as_str(), &record.id).await?.is_some() {
            return Err(StoreError::Internal(format!("a job with id \"{}\" is already stored", record.id)).into());
        }
        let seq = tx.insert_invocation(&stored).await?;
        super::jobs::insert_job(tx, cx, &job).await?;
        Ok(InvocationEnqueued { record: InvocationRecord { seq, ..record.clone() }, replayed: false })
    }
}

/// Brings an asynchronous invocation's record in line with its job, which `job` shows as just
/// changed (or `deleted`), in the same transaction; `report` is the record as the attempt that
/// just ended left it (its output, error, logs and duration), when one did. Appends
/// `function.completed` when the invocation ends. Does nothing for other jobs.
pub(super) async fn invocation_job_changed<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    job: &JobRecord,
    report: Option<&InvocationRecord>,
    deleted: bool,
) -> TxResult<()> {
    if job.kind.as_str() != INVOCATION_JOB {
        return Ok(());
    }
    let mut record = match report {
        Some(report) => report.clone(),
        None => match tx.invocation_for_update(job.space.as_ref(), &job.id).await? {
            Some(stored) => stored,
            // Purged, or its space deleted: nothing to follow.
            None => return Ok(()),
        },
    };
    let job_error = || {
        job.last_error.as_ref().map(|e| serde_json::json!({ "code": e.code, "message": e.message, "retryable": true }))
    };
    if deleted {
        if record.status != InvocationStatus::Pending {
            return Ok(());
        }
        record.status = InvocationStatus::Failed;
        record.error = Some(serde_json::json!({
            "code": "job_deleted",
            "message": "the invocation's job was deleted before it finished",
        }));
        record.finished_at = Some(cx.now);
    } else {
        match job.status {
            JobStatus::Running => return Ok(()),
            JobStatus::Pending => {
                record.status = InvocationStatus::Pending;
                if report.is_none() {
                    // A lease that ended shows as the attempt's error; a re-drive starts afresh.
                    record.error = if job.attempt == 0 { None } else { job_error() };
                }
                record.finished_at = None;
                record.output = None;
                record.output_size = 0;
                record.output_content_type = String::new();
            }
            JobStatus::Succeeded => {
                record.status = InvocationStatus::Succeeded;
                record.finished_at = Some(cx.now);
            }
            JobStatus::Dead => {
                record.status = InvocationStatus::Failed;
                if report.is_none() {
                    // Only a lease that ended kills a job without a report: every attempt ended
                    // with its node (or hung past the lease).
                    record.error = Some(serde_json::json!({
                        "code": INVOCATION_ABANDONED,
                        "message": format!(
                            "{} attempts ended without finishing (the last: {}); the invocation is abandoned",
                            job.attempt,
                            job.last_error.as_ref().map_or("no error recorded", |e| e.message.as_str()),
                        ),
                        "retryable": false,
                    }));
                }
                record.finished_at = Some(cx.now);
            }
            JobStatus::Cancelled => {
                record.status = InvocationStatus::Failed;
                record.error = Some(serde_json::json!({
                    "code": "cancelled",
                    "message": "the invocation's job was cancelled before it finished",
                }));
                record.finished_at = Some(cx.now);
            }
        }
        record.attempt = job.attempt;
    }
    // The input is stored already and never rewritten.
    record.input = None;
    let stored = StoredInvocation::new(&record)?;
    if !tx.update_invocation(&stored).await? {
        return Ok(());
    }
    if record.status != InvocationStatus::Pending {
        let (space, function) = (record.space.as_str(), record.function.as_str());
        let payload = completed_payload(&record);
        cx.append(tx, space, FUNCTION_COMPLETED, address(space, function), &payload, None, false).await?;
    }
    Ok(())
}

/// Forgets up to `limit` finished invocation records that finished before `before`.
#[derive(Debug, Clone, PartialEq)]
pub struct PurgeInvocations {
    /// The cut-off.
    pub before: Timestamp,
    /// At most this many (the caller repeats while a full chunk was removed).
    pub limit: u32,
}

request!(PurgeInvocations => InvocationsPurged(u64));

impl Locking for PurgeInvocations {
    /// None: it skips the rows others hold.
    fn locks<'a>(&'a self, _: &mut Locks<'a>) {}
}

impl Command for PurgeInvocations {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        // Bounded by `limit`: this runs inside a group, so one huge DELETE would stall writes.
        tx.purge_invocations(self.before, self.limit).await
    }
}

/// Refuses records whose ids are stored already, or that are asynchronous with an idempotency
/// key another asynchronous invocation of their function has: either would make the insert
/// fail, and with it the whole group.
async fn check_new<T: Tables>(tx: &mut T, records: &[StoredInvocation<'_>]) -> TxResult<()> {
    let ids: Vec<&str> = records.iter().map(|r| r.record.id.as_str()).collect();
    if let Some(id) = tx.stored_invocation_id(&ids).await? {
        return Err(duplicate_id(&id).into());
    }
    for stored in records {
        let record = stored.record;
        let Some(key) = record.idempotency_key.as_deref().filter(|_| record.is_async) else { continue };
        if tx.async_invocation_key_taken(record.space.as_str(), record.function.as_str(), key).await? {
            return Err(duplicate_key(record).into());
        }
    }
    Ok(())
}

/// The address of a function's log records: `space:name`.
fn address(space: &str, name: &str) -> String {
    format!("{space}:{name}")
}

/// Whether a deploy of `spec` changes nothing against the latest version: the same component
/// (by digest) and the same configuration (compared as JSON values, not as text).
fn unchanged(latest: &FunctionSummary, spec: &FunctionSpec) -> bool {
    latest.digest == spec.digest && latest.config == spec.config
}

/// The version a deploy creates after `latest` (1 for the first).
fn next_version(latest: Option<&FunctionSummary>) -> Result<u64, StoreError> {
    match latest {
        None => Ok(1),
        Some(latest) => latest
            .version
            .checked_add(1)
            .filter(|v| i64::try_from(*v).is_ok())
            .ok_or_else(|| StoreError::Corrupt(format!("function version {}", latest.version))),
    }
}

/// The payload of a `function.deployed` record.
#[derive(Serialize)]
struct DeployedRecord<'a> {
    version: u64,
    digest: &'a str,
    size: u64,
    principal: &'a Actor,
}

/// Refuses an enqueue of anything but a pending asynchronous invocation (a caller's bug: the
/// idempotency lookup only finds asynchronous records, and only pending ones are claimed).
fn check_enqueue(record: &InvocationRecord) -> Result<(), StoreError> {
    if record.status != InvocationStatus::Pending || !record.is_async {
        return Err(StoreError::Internal(format!(
            "only a pending asynchronous invocation can be enqueued; \"{}\" is {} and {}",
            record.id,
            record.status.as_str(),
            if record.is_async { "asynchronous" } else { "synchronous" }
        )));
    }
    Ok(())
}

/// The refusal for an invocation id that is already stored (ids are generated, so a repeat is
/// a caller's bug, not a condition to report to a client).
fn duplicate_id(id: &str) -> StoreError {
    StoreError::Internal(format!("an invocation with id \"{id}\" is already stored"))
}

/// The refusal for an asynchronous invocation recorded with an idempotency key another
/// asynchronous invocation of its function already has (only an enqueue looks keys up).
fn duplicate_key(record: &InvocationRecord) -> StoreError {
    StoreError::Internal(format!(
        "an asynchronous invocation of \"{}:{}\" with idempotency key {:?} is already stored; enqueue it instead",
        record.space,
        record.function,
        record.idempotency_key.as_deref().unwrap_or_default()
    ))
}

/// Refuses a list of records that names one id twice, or one asynchronous idempotency key of
/// a function twice (the second insert would fail, and with it the whole group).
fn check_distinct(records: &[InvocationRecord]) -> Result<(), StoreError> {
    let mut ids = HashSet::with_capacity(records.len());
    let mut keys = HashSet::new();
    for record in records {
        if !ids.insert(record.id.as_str()) {
            return Err(duplicate_id(&record.id));
        }
        if let Some(key) = record.idempotency_key.as_deref().filter(|_| record.is_async)
            && !keys.insert((record.space.as_str(), record.function.as_str(), key))
        {
            return Err(duplicate_key(record));
        }
    }
    Ok(())
}
