//! The work table's commands: enqueue, lease (fairly, taking back ended leases), extend, finish
//! an attempt (succeeded, retried or dead by the job's policy), re-drive, cancel, delete.
//!
//! Invariants:
//! - A job is held by at most one worker: leasing takes only pending jobs (or running ones whose
//!   lease ended) and, on PostgreSQL, skips rows another node's transaction holds.
//! - An attempt's end changes the job only while the worker still holds it (same owner, same
//!   attempt, still running): a worker whose lease was taken over, or a job cancelled meanwhile,
//!   finishes nothing.
//! - A lease that ended counts as a failed attempt (`lease_expired`) and goes through the retry
//!   policy like any failure.
//! - A change of a job that runs an asynchronous invocation updates the invocation's record in
//!   the same transaction (see `commands::functions`).
//! - Every attempt's start and end appends a log record (`job.started`, `job.succeeded`,
//!   `job.failed`, `job.dead`), as do enqueues, re-drives, cancellations and deletions.

use serde_json::{Value, json};
use switchyard_model::jobs::{Candidate, DeadReason, FailedAttempt, JobStatus, RetryDecision, select_fair};
use switchyard_model::{
    InvocationRecord, JobAttempt, JobError, JobRecord, JobSpec, MAX_ATTEMPT_HISTORY, SpaceName, Timestamp, job_kinds,
};

use super::functions::invocation_job_changed;
use super::{Command, Cx, Locking};
use crate::error::StoreError;
use crate::jobs::*;
use crate::tables::{Locks, Tables, TxResult};
use crate::types::*;

/// Leases that ended are taken back at most this many per round.
const EXPIRED_PER_ROUND: u32 = 256;

/// The address of a job's log records: `space:jobs:id`.
fn address(space: &str, id: &str) -> String {
    format!("{space}:jobs:{id}")
}

async fn append<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    job: &JobRecord,
    kind: &'static str,
    payload: &Value,
) -> TxResult<()> {
    cx.append(tx, job.space.as_ref(), kind, address(job.space.as_ref(), &job.id), payload, None, false).await
}

/// [`WriteOp::EnqueueJob`].
pub(crate) struct EnqueueJob<'a> {
    pub spec: &'a JobSpec,
}

impl<'a> Locking<'a> for EnqueueJob<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        if let Some(key) = &self.spec.idempotency_key {
            locks.exclusive(format!("job-key:{}:{key}", self.spec.space));
        }
        locks.writes_into(self.spec.space.as_ref());
    }
}

impl Command for EnqueueJob<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let spec = self.spec;
        let space = spec.space.as_ref();
        if let Some(key) = &spec.idempotency_key
            && let Some(job) = tx.job_by_key(space, key).await?
        {
            return Ok(WriteOutcome::JobEnqueued { job: Box::new(job), replayed: true, space_created: false });
        }
        let job = insert_job(tx, cx, spec).await?;
        Ok(WriteOutcome::JobEnqueued { job: Box::new(job), replayed: false, space_created: false })
    }
}

/// Inserts a new job (its id and key free) as `spec` describes and logs `job.enqueued`; the
/// outbox every command that causes work writes through, in its own transaction.
pub(super) async fn insert_job<T: Tables>(tx: &mut T, cx: &mut Cx<'_>, spec: &JobSpec) -> TxResult<JobRecord> {
    let job = JobRecord {
        id: spec.id.clone(),
        space: spec.space.clone(),
        kind: spec.kind.clone(),
        target: spec.target.clone(),
        payload: spec.payload.clone(),
        status: JobStatus::Pending,
        priority: spec.priority,
        concurrency_key: spec.concurrency_key.clone(),
        idempotency_key: spec.idempotency_key.clone(),
        run_at: spec.run_at,
        attempt: 0,
        lease_until: None,
        lease_owner: None,
        retry: spec.retry.clone(),
        created_at: cx.now,
        updated_at: cx.now,
        finished_at: None,
        last_error: None,
        result: None,
        attempts: Vec::new(),
    };
    tx.insert_job(&job).await?;
    cx.touch_space(spec.space.as_ref());
    let record = json!({ "id": job.id, "kind": job.kind, "target": job.target, "run_at": job.run_at });
    append(tx, cx, &job, job_kinds::ENQUEUED, &record).await?;
    Ok(job)
}

/// [`WriteOp::LeaseJobs`].
pub(crate) struct LeaseJobsCommand<'a> {
    pub lease: &'a LeaseJobs,
}

impl<'a> Locking<'a> for LeaseJobsCommand<'a> {
    // Rows are locked as they are read, skipping those other nodes hold.
    fn locks(&self, _: &mut Locks<'a>) {}
}

impl Command for LeaseJobsCommand<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let lease = self.lease;
        let now = cx.now;
        // 1. Leases that ended: their attempt failed.
        let mut expired = 0;
        for mut job in tx.expired_jobs_for_update(now, EXPIRED_PER_ROUND).await? {
            let error = JobError {
                code: "lease_expired".into(),
                message: format!(
                    "the worker on {} stopped renewing its lease (it crashed, hung or lost the store)",
                    job.lease_owner.as_deref().unwrap_or("an unknown node")
                ),
            };
            let failure = Failure { error, retry_after_ms: None, permanent: false, random: lease.random };
            fail_attempt(tx, cx, &mut job, failure, None).await?;
            expired += 1;
        }
        // 2. Due jobs, fairly: spaces in turn from where the last round ended.
        let running = tx.running_jobs(now).await?;
        let mut spaces = tx.spaces_with_pending_jobs().await?;
        if let Some(last) = lease.cursor.last_space() {
            let start = spaces.partition_point(|s| s.as_str() <= last);
            spaces.rotate_left(start);
        }
        let mut due: Vec<JobRecord> = Vec::new();
        let mut spaces_with_due = 0;
        for space in &spaces {
            if spaces_with_due >= lease.max as usize {
                break;
            }
            let room = lease.limits.limit(space).saturating_sub(running.get(space).copied().unwrap_or(0));
            if room == 0 {
                continue;
            }
            let jobs = tx.due_jobs_for_update(space, now, room.min(lease.max)).await?;
            if !jobs.is_empty() {
                spaces_with_due += 1;
                due.extend(jobs);
            }
        }
        let candidates: Vec<Candidate<'_, usize>> = due
            .iter()
            .enumerate()
            .map(|(i, job)| Candidate {
                id: i,
                space: job.space.as_ref(),
                concurrency_key: job.concurrency_key.as_deref(),
                priority: job.priority,
                run_at_ms: job.run_at.0,
            })
            .collect();
        let selection = select_fair(&candidates, &running, &lease.limits, lease.max as usize, &lease.cursor);
        let mut picked: Vec<Option<JobRecord>> = due.into_iter().map(Some).collect();
        let mut jobs = Vec::with_capacity(selection.start.len());
        for i in selection.start {
            let Some(mut job) = picked.get_mut(i).and_then(Option::take) else { continue };
            job.status = JobStatus::Running;
            job.attempt = job.attempt.saturating_add(1);
            job.lease_until = Some(Timestamp(now.0.saturating_add(i64::try_from(lease.lease_ms).unwrap_or(i64::MAX))));
            job.lease_owner = Some(lease.owner.clone());
            job.updated_at = now;
            job.attempts.push(JobAttempt {
                attempt: job.attempt,
                owner: lease.owner.clone(),
                started_at: now,
                ended_at: None,
                error: None,
            });
            trim_history(&mut job);
            let record = json!({
                "id": job.id,
                "kind": job.kind,
                "attempt": job.attempt,
                "owner": lease.owner,
                "lag_ms": now.0.saturating_sub(job.run_at.0).max(0),
            });
            append(tx, cx, &job, job_kinds::STARTED, &record).await?;
            jobs.push(job);
        }
        tx.update_jobs(&jobs).await?;
        Ok(WriteOutcome::JobsLeased(JobsLeased { jobs, cursor: selection.cursor, expired }))
    }
}

/// Keeps the newest [`MAX_ATTEMPT_HISTORY`] attempts.
fn trim_history(job: &mut JobRecord) {
    if job.attempts.len() > MAX_ATTEMPT_HISTORY {
        let excess = job.attempts.len() - MAX_ATTEMPT_HISTORY;
        job.attempts.drain(..excess);
    }
}

/// How an attempt failed, as [`fail_attempt`] takes it.
struct Failure {
    error: JobError,
    retry_after_ms: Option<u64>,
    permanent: bool,
    random: f64,
}

/// Ends the job's current attempt with `error`: pending again at the policy's retry time, or
/// dead. Appends `job.failed` or `job.dead`.
async fn fail_attempt<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    job: &mut JobRecord,
    failure: Failure,
    report: Option<&InvocationRecord>,
) -> TxResult<JobFinished> {
    let Failure { error, retry_after_ms, permanent, random } = failure;
    let now = cx.now;
    let decision = if permanent {
        RetryDecision::Dead { reason: DeadReason::NonRetryable { code: error.code.clone() } }
    } else {
        job.retry.after_failure(&FailedAttempt {
            attempt: job.attempt,
            error_code: Some(&error.code),
            retry_after_ms,
            failed_at_ms: now.0,
            created_at_ms: job.created_at.0,
            random,
        })
    };
    if let Some(last) = job.attempts.last_mut()
        && last.attempt == job.attempt
    {
        last.ended_at = Some(now);
        last.error = Some(error.clone());
    }
    job.lease_until = None;
    job.lease_owner = None;
    job.updated_at = now;
    job.last_error = Some(error.clone());
    let finished = match decision {
        RetryDecision::Retry { at_ms } => {
            job.status = JobStatus::Pending;
            job.run_at = Timestamp(at_ms);
            tx.update_job(job).await?;
            let record = json!({ "id": job.id, "attempt": job.attempt, "error": error, "retry_at": at_ms });
            append(tx, cx, job, job_kinds::FAILED, &record).await?;
            JobFinished::Retrying(Timestamp(at_ms))
        }
        RetryDecision::Dead { reason } => {
            job.status = JobStatus::Dead;
            job.finished_at = Some(now);
            tx.update_job(job).await?;
            let record = json!({
                "id": job.id,
                "attempt": job.attempt,
                "error": error,
                "reason": reason.code(),
                "message": reason.to_string(),
            });
            append(tx, cx, job, job_kinds::DEAD, &record).await?;
            JobFinished::Dead
        }
    };
    invocation_job_changed(tx, cx, job, report, false).await?;
    Ok(finished)
}

/// [`WriteOp::ExtendJobLeases`].
pub(crate) struct ExtendJobLeases<'a> {
    pub owner: &'a str,
    pub ids: &'a [String],
    pub lease_ms: u64,
}

impl<'a> Locking<'a> for ExtendJobLeases<'a> {
    // Updates only rows this node's worker holds; a row a lease round has locked is waited for.
    fn locks(&self, _: &mut Locks<'a>) {}
}

impl Command for ExtendJobLeases<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let until = Timestamp(cx.now.0.saturating_add(i64::try_from(self.lease_ms).unwrap_or(i64::MAX)));
        Ok(WriteOutcome::JobLeasesExtended(tx.extend_job_leases(self.owner, self.ids, until).await?))
    }
}

/// [`WriteOp::ReleaseJobs`].
pub(crate) struct ReleaseJobs<'a> {
    pub owner: &'a str,
    pub ids: &'a [String],
    pub random: f64,
}

impl<'a> Locking<'a> for ReleaseJobs<'a> {
    // Only rows this node's worker holds are read, locked as they are.
    fn locks(&self, _: &mut Locks<'a>) {}
}

impl Command for ReleaseJobs<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let mut released = 0;
        for mut job in tx.held_jobs_for_update(self.owner, self.ids).await? {
            let error = JobError {
                code: "node_shutdown".into(),
                message: format!("{} shut down before the attempt finished", self.owner),
            };
            let failure = Failure { error, retry_after_ms: None, permanent: false, random: self.random };
            fail_attempt(tx, cx, &mut job, failure, None).await?;
            released += 1;
        }
        Ok(WriteOutcome::JobsReleased(released))
    }
}

/// [`WriteOp::FinishJob`].
pub(crate) struct FinishJobCommand<'a> {
    pub finish: &'a FinishJob,
}

impl<'a> Locking<'a> for FinishJobCommand<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        locks.writes_into(self.finish.space.as_ref());
    }
}

impl Command for FinishJobCommand<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let f = self.finish;
        let Some(mut job) = tx.job_for_update(f.space.as_ref(), &f.id).await? else {
            return Ok(WriteOutcome::JobFinished(JobFinished::NotHeld));
        };
        let held = job.status == JobStatus::Running
            && job.lease_owner.as_deref() == Some(f.owner.as_str())
            && job.attempt == f.attempt;
        if !held {
            return Ok(WriteOutcome::JobFinished(JobFinished::NotHeld));
        }
        let report = match &f.report {
            Some(JobReport::Invocation(record)) => {
                // Converted once before anything is written, so a record that cannot be stored
                // refuses the finish cleanly.
                crate::function_rules::StoredInvocation::new(record)?;
                Some(&**record)
            }
            None => None,
        };
        let finished = match &f.outcome {
            AttemptOutcome::Succeeded(result) => {
                let now = cx.now;
                if let Some(last) = job.attempts.last_mut()
                    && last.attempt == job.attempt
                {
                    last.ended_at = Some(now);
                }
                job.status = JobStatus::Succeeded;
                job.lease_until = None;
                job.lease_owner = None;
                job.updated_at = now;
                job.finished_at = Some(now);
                job.result = result.clone();
                tx.update_job(&job).await?;
                let record = json!({ "id": job.id, "attempt": job.attempt });
                append(tx, cx, &job, job_kinds::SUCCEEDED, &record).await?;
                invocation_job_changed(tx, cx, &job, report, false).await?;
                JobFinished::Succeeded
            }
            AttemptOutcome::Failed { error, retry_after_ms, permanent, random } => {
                let failure = Failure {
                    error: error.clone(),
                    retry_after_ms: *retry_after_ms,
                    permanent: *permanent,
                    random: *random,
                };
                fail_attempt(tx, cx, &mut job, failure, report).await?
            }
        };
        Ok(WriteOutcome::JobFinished(finished))
    }
}

/// Makes a dead or cancelled job pending now, its attempts counted from zero again.
async fn redrive<T: Tables>(tx: &mut T, cx: &mut Cx<'_>, job: &mut JobRecord, payload: Option<&Value>) -> TxResult<()> {
    if !matches!(job.status, JobStatus::Dead | JobStatus::Cancelled) {
        return Err(StoreError::JobConflict {
            id: job.id.clone(),
            status: job.status.as_str().to_string(),
            reason: "only dead or cancelled jobs can be re-driven".into(),
        }
        .into());
    }
    if let Some(payload) = payload {
        job.payload = payload.clone();
    }
    job.status = JobStatus::Pending;
    job.run_at = cx.now;
    job.attempt = 0;
    job.attempts.clear();
    job.finished_at = None;
    job.result = None;
    job.updated_at = cx.now;
    tx.update_job(job).await?;
    let record = json!({ "id": job.id, "new_payload": payload.is_some() });
    append(tx, cx, job, job_kinds::RETRIED, &record).await?;
    invocation_job_changed(tx, cx, job, None, false).await
}

/// [`WriteOp::RetryJob`].
pub(crate) struct RetryJob<'a> {
    pub space: &'a SpaceName,
    pub id: &'a str,
    pub payload: Option<&'a Value>,
}

impl<'a> Locking<'a> for RetryJob<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
    }
}

impl Command for RetryJob<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let Some(mut job) = tx.job_for_update(self.space.as_ref(), self.id).await? else {
            return Err(StoreError::JobNotFound { space: self.space.to_string(), id: self.id.to_string() }.into());
        };
        redrive(tx, cx, &mut job, self.payload).await?;
        Ok(WriteOutcome::JobChanged(Some(Box::new(job))))
    }
}

/// [`WriteOp::RedriveJobs`].
pub(crate) struct RedriveJobsCommand<'a> {
    pub redrive: &'a RedriveJobs,
}

impl<'a> Locking<'a> for RedriveJobsCommand<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        locks.writes_into(self.redrive.space.as_ref());
    }
}

impl Command for RedriveJobsCommand<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let r = self.redrive;
        let jobs = tx.dead_jobs_for_update(r.space.as_ref(), r.kind.as_deref(), r.limit).await?;
        let mut count = 0;
        for mut job in jobs {
            redrive(tx, cx, &mut job, None).await?;
            count += 1;
        }
        Ok(WriteOutcome::JobsRedriven(count))
    }
}

/// [`WriteOp::CancelJob`].
pub(crate) struct CancelJob<'a> {
    pub space: &'a SpaceName,
    pub id: &'a str,
}

impl<'a> Locking<'a> for CancelJob<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
    }
}

impl Command for CancelJob<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let Some(mut job) = tx.job_for_update(self.space.as_ref(), self.id).await? else {
            return Err(StoreError::JobNotFound { space: self.space.to_string(), id: self.id.to_string() }.into());
        };
        if job.status.is_terminal() {
            return Err(StoreError::JobConflict {
                id: job.id.clone(),
                status: job.status.as_str().to_string(),
                reason: "it has already finished".into(),
            }
            .into());
        }
        job.status = JobStatus::Cancelled;
        job.lease_until = None;
        job.lease_owner = None;
        job.finished_at = Some(cx.now);
        job.updated_at = cx.now;
        tx.update_job(&job).await?;
        let record = json!({ "id": job.id, "attempt": job.attempt });
        append(tx, cx, &job, job_kinds::CANCELLED, &record).await?;
        invocation_job_changed(tx, cx, &job, None, false).await?;
        Ok(WriteOutcome::JobChanged(Some(Box::new(job))))
    }
}

/// [`WriteOp::DeleteJob`].
pub(crate) struct DeleteJob<'a> {
    pub space: &'a SpaceName,
    pub id: &'a str,
}

impl<'a> Locking<'a> for DeleteJob<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
    }
}

impl Command for DeleteJob<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let Some(job) = tx.job_for_update(self.space.as_ref(), self.id).await? else {
            return Err(StoreError::JobNotFound { space: self.space.to_string(), id: self.id.to_string() }.into());
        };
        if job.status == JobStatus::Running {
            return Err(StoreError::JobConflict {
                id: job.id.clone(),
                status: job.status.as_str().to_string(),
                reason: "cancel it first, or wait for its attempt to end".into(),
            }
            .into());
        }
        tx.delete_job(self.space.as_ref(), self.id).await?;
        let record = json!({ "id": job.id, "status": job.status.as_str() });
        append(tx, cx, &job, job_kinds::DELETED, &record).await?;
        invocation_job_changed(tx, cx, &job, None, true).await?;
        Ok(WriteOutcome::JobChanged(None))
    }
}

/// [`WriteOp::PurgeJobs`].
pub(crate) struct PurgeJobs {
    pub before: Timestamp,
    pub limit: u32,
}

impl<'a> Locking<'a> for PurgeJobs {
    /// None: it skips the rows others hold.
    fn locks(&self, _: &mut Locks<'a>) {}
}

impl Command for PurgeJobs {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        // Bounded by `limit`: this runs inside a group, so one huge DELETE would stall writes.
        Ok(WriteOutcome::JobsPurged(tx.purge_jobs(self.before, self.limit).await?))
    }
}
