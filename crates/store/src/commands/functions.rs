//! WebAssembly functions: deploys (versions) and invocation records (recorded, enqueued,
//! claimed, finished, purged).
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
//! - A claim takes pending invocations whose lease ended, oldest first, and counts an attempt
//!   on each; claimers on several nodes skip each other's rows. A finish applies only to a
//!   pending invocation at the attempt it names, so a runner whose lease ended (and whose
//!   invocation was claimed again) cannot finish it. On PostgreSQL the writer locks the row a
//!   finish names before it runs; a finish that waited for a claim sees the claim's new
//!   attempt and changes nothing.
//! - A finish appends one `function.completed` record at `space:function`.
//! - Every check, decode and conversion of a command runs before its first write.

use std::collections::HashSet;

use serde::Serialize;

use super::{Command, Cx, Locking};
use crate::error::StoreError;
use crate::function_rules::{StoredFunction, StoredInvocation};
use crate::functions::*;
use crate::tables::{Locks, Tables, TxResult};
use crate::types::*;

/// [`WriteOp::PutFunction`]: stores the next version of a function unless it equals the latest.
pub(crate) struct PutFunction<'a> {
    pub spec: &'a FunctionSpec,
}

impl<'a> Locking<'a> for PutFunction<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        locks.exclusive(format!("function:{}:{}", self.spec.space, self.spec.name));
        locks.writes_into(self.spec.space.as_ref());
    }
}

impl Command for PutFunction<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let spec = self.spec;
        let (space, name) = (spec.space.as_str(), spec.name.as_str());
        let latest = tx.latest_function(space, name).await?;
        if let Some(latest) = latest.as_ref().filter(|latest| unchanged(latest, spec)) {
            return Ok(WriteOutcome::FunctionPut { summary: latest.clone(), created: false, space_created: false });
        }
        let stored = StoredFunction::new(spec, next_version(latest.as_ref())?, cx.now)?;
        tx.insert_function(spec, &stored).await?;
        cx.touch_space(space);
        let summary = stored.summary;
        let record = DeployedRecord { version: summary.version, digest: &summary.digest, size: summary.size };
        cx.append(tx, space, FUNCTION_DEPLOYED, address(space, name), &record, None, false).await?;
        // `space_created` is set when the group's `spaces` rows are written.
        Ok(WriteOutcome::FunctionPut { summary, created: true, space_created: false })
    }
}

/// [`WriteOp::RecordInvocations`]: inserts finished invocation records.
pub(crate) struct RecordInvocations<'a> {
    pub records: &'a [InvocationRecord],
}

impl<'a> Locking<'a> for RecordInvocations<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        for record in self.records {
            locks.writes_into(record.space.as_ref());
        }
    }
}

impl Command for RecordInvocations<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        check_distinct(self.records)?;
        let stored = self.records.iter().map(StoredInvocation::new).collect::<Result<Vec<_>, _>>()?;
        if stored.is_empty() {
            return Ok(WriteOutcome::InvocationsRecorded(0));
        }
        check_new(tx, &stored).await?;
        Ok(WriteOutcome::InvocationsRecorded(tx.insert_invocations(&stored).await?))
    }
}

/// [`WriteOp::EnqueueInvocation`]: inserts a pending asynchronous invocation, or returns the one
/// already enqueued with its idempotency key.
pub(crate) struct EnqueueInvocation<'a> {
    pub record: &'a InvocationRecord,
}

impl<'a> Locking<'a> for EnqueueInvocation<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        let record = self.record;
        if let Some(key) = &record.idempotency_key {
            locks.exclusive(format!("invocation-key:{}:{}:{key}", record.space, record.function));
        }
        locks.writes_into(record.space.as_ref());
    }
}

impl Command for EnqueueInvocation<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let record = self.record;
        check_enqueue(record)?;
        if let Some(key) = &record.idempotency_key
            && let Some(earlier) =
                tx.async_invocation_by_key(record.space.as_str(), record.function.as_str(), key).await?
        {
            return Ok(WriteOutcome::InvocationEnqueued { record: earlier, replayed: true });
        }
        let stored = StoredInvocation::new(record)?;
        check_new(tx, std::slice::from_ref(&stored)).await?;
        let seq = tx.insert_invocation(&stored).await?;
        Ok(WriteOutcome::InvocationEnqueued { record: InvocationRecord { seq, ..record.clone() }, replayed: false })
    }
}

/// [`WriteOp::ClaimInvocations`]: leases up to `limit` pending invocations whose lease ended,
/// oldest first.
pub(crate) struct Claim<'a> {
    pub claim: &'a ClaimInvocations,
}

impl<'a> Locking<'a> for Claim<'a> {
    /// None: a sweep across spaces locks the rows it claims instead, skipping those others hold.
    fn locks(&self, _: &mut Locks<'a>) {}
}

impl Command for Claim<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let claim = self.claim;
        let due = tx.claimable_invocations_for_update(claim.now, claim.limit).await?;
        // Every record is claimed before the first write, so a corrupt one refuses cleanly.
        let claimed = due.into_iter().map(|r| claimed(r, claim.lease_until)).collect::<Result<Vec<_>, _>>()?;
        if !claimed.is_empty() {
            let seqs: Vec<u64> = claimed.iter().map(|r| r.seq).collect();
            tx.lease_invocations(&seqs, claim.lease_until).await?;
        }
        Ok(WriteOutcome::InvocationsClaimed(claimed))
    }
}

/// [`WriteOp::FinishInvocation`]: finishes a pending invocation at the attempt the record names
/// and logs its completion.
pub(crate) struct FinishInvocation<'a> {
    pub record: &'a InvocationRecord,
}

impl<'a> Locking<'a> for FinishInvocation<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        locks.invocations.push(self.record.id.as_str());
        locks.writes_into(self.record.space.as_ref());
    }
}

impl Command for FinishInvocation<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let record = self.record;
        check_finish(record)?;
        let stored = StoredInvocation::new(record)?;
        if !tx.finish_invocation(&stored).await? {
            return Ok(WriteOutcome::InvocationFinished(None));
        }
        let (space, function) = (record.space.as_str(), record.function.as_str());
        let payload = completed_payload(record);
        cx.append(tx, space, FUNCTION_COMPLETED, address(space, function), &payload, None, true).await?;
        // The seq is patched in when the group's records are numbered.
        Ok(WriteOutcome::InvocationFinished(Some(Seq(0))))
    }
}

/// [`WriteOp::PurgeInvocations`].
pub(crate) struct PurgeInvocations {
    pub before: Timestamp,
    pub limit: u32,
}

impl<'a> Locking<'a> for PurgeInvocations {
    /// None: it skips the rows others hold.
    fn locks(&self, _: &mut Locks<'a>) {}
}

impl Command for PurgeInvocations {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        // Bounded by `limit`: this runs inside a group, so one huge DELETE would stall writes.
        Ok(WriteOutcome::InvocationsPurged(tx.purge_invocations(self.before, self.limit).await?))
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

/// Refuses a finish that leaves the invocation pending (a caller's bug: a finish ends the
/// invocation and reports it as completed).
fn check_finish(record: &InvocationRecord) -> Result<(), StoreError> {
    if record.status == InvocationStatus::Pending {
        return Err(StoreError::Internal(format!(
            "invocation \"{}\" cannot be finished as pending; finish it as succeeded or failed",
            record.id
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

/// A claimed record as the claim leaves it: one more attempt, leased until `lease_until`.
fn claimed(mut record: InvocationRecord, lease_until: Timestamp) -> Result<InvocationRecord, StoreError> {
    record.attempt = record
        .attempt
        .checked_add(1)
        .ok_or_else(|| StoreError::Corrupt(format!("invocation \"{}\" attempt {}", record.id, record.attempt)))?;
    record.lease_until = Some(lease_until);
    Ok(record)
}
