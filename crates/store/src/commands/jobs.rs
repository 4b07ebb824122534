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
use switchyard_model::jobs::{
    Candidate, DeadReason, FailedAttempt, FairCursor, JobStatus, RetryDecision, SpaceLimits, select_fair,
};
use switchyard_model::{
    Input, InstanceKey, InstanceStatus, InvocationRecord, JobAttempt, JobError, JobRecord, JobSpec, JsonObject,
    MAX_ATTEMPT_HISTORY, SpaceName, TIMER_JOB, Timestamp, job_kinds, kinds,
};

use super::functions::invocation_job_changed;
use super::instances::{fail_instance, transition};
use super::{Command, Cx, Locking, compiled_machine};
use crate::error::StoreError;
use crate::tables::{InstanceRow, Locks, Tables, TxResult};

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

/// Enqueues a job (appends `job.enqueued`), unless the space has one with the same
/// idempotency key, which is returned instead.
#[derive(Debug, Clone, PartialEq)]
pub struct EnqueueJob {
    /// The job.
    pub spec: JobSpec,
}

/// A job is enqueued (or, `replayed`, an earlier one with the same key was found).
#[derive(Debug, Clone, PartialEq)]
pub struct JobEnqueued {
    /// The job as stored.
    pub job: Box<JobRecord>,
    /// Whether this is the earlier job with the same key.
    pub replayed: bool,
    /// Whether this write created the space.
    pub space_created: bool,
}

request!(EnqueueJob => JobEnqueued(JobEnqueued));

impl Locking for EnqueueJob {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        if let Some(key) = &self.spec.idempotency_key {
            locks.exclusive(format!("job-key:{}:{key}", self.spec.space));
        }
        locks.writes_into(self.spec.space.as_ref());
    }
}

impl Command for EnqueueJob {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let spec = &self.spec;
        let space = spec.space.as_ref();
        if let Some(key) = &spec.idempotency_key
            && let Some(job) = tx.job_by_key(space, key).await?
        {
            return Ok(JobEnqueued { job: Box::new(job), replayed: true, space_created: false });
        }
        let job = insert_job(tx, cx, spec).await?;
        Ok(JobEnqueued { job: Box::new(job), replayed: false, space_created: false })
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

/// Leases due jobs to a worker, fairly across spaces; first takes back jobs whose lease ended,
/// counting their attempt as failed. Appends `job.started` per job.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseJobs {
    /// The worker's node.
    pub owner: String,
    /// At most this many (the worker's free slots).
    pub max: u32,
    /// How long the lease lasts unless extended, in milliseconds.
    pub lease_ms: u64,
    /// Per-space limits on running jobs.
    pub limits: SpaceLimits,
    /// Where the last round ended (kept by the worker between rounds).
    pub cursor: FairCursor,
    /// A number in `[0, 1)` for the jitter of retries scheduled for expired leases.
    pub random: f64,
}

/// What a lease round did.
#[derive(Debug, Clone, PartialEq)]
pub struct JobsLeased {
    /// The jobs now held by the worker, each at its new attempt.
    pub jobs: Vec<JobRecord>,
    /// Where this round ended.
    pub cursor: FairCursor,
    /// Leases of other workers that had ended and were taken back (counted as failed attempts).
    pub expired: u32,
}

request!(LeaseJobs => JobsLeased(JobsLeased));

impl Locking for LeaseJobs {
    // Rows are locked as they are read, skipping those other nodes hold.
    fn locks<'a>(&'a self, _: &mut Locks<'a>) {}
}

impl Command for LeaseJobs {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let lease = self;
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
            fail_and_report(tx, cx, &mut job, error, lease.random).await?;
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
        Ok(JobsLeased { jobs, cursor: selection.cursor, expired })
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

/// Fails the current attempt of a job its worker lost (an ended lease, a shutdown) and, for a
/// job of a state, tells its instance: a retry is in its history, a dead job is its action's
/// error; a job whose state is gone is not retried.
async fn fail_and_report<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    job: &mut JobRecord,
    error: JobError,
    random: f64,
) -> TxResult<()> {
    let reply = read_reply(tx, job).await?;
    let permanent = reply.as_ref().is_some_and(|(_, _, current)| !current);
    let failure = Failure { error, retry_after_ms: None, permanent, random };
    let finished = fail_attempt(tx, cx, job, failure, None).await?;
    if let Some((key, Some(row), current)) = reply {
        report_to_instance(tx, cx, job, &key, &row, current, finished).await?;
    }
    Ok(())
}

/// Extends the leases a worker still holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtendJobLeases {
    /// The worker's node.
    pub owner: String,
    /// The jobs.
    pub ids: Vec<String>,
    /// The new lease lasts this long from now, in milliseconds.
    pub lease_ms: u64,
}

request!(ExtendJobLeases => JobLeasesExtended(u64));

impl Locking for ExtendJobLeases {
    // Updates only rows this node's worker holds; a row a lease round has locked is waited for.
    fn locks<'a>(&'a self, _: &mut Locks<'a>) {}
}

impl Command for ExtendJobLeases {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let until = Timestamp(cx.now.0.saturating_add(i64::try_from(self.lease_ms).unwrap_or(i64::MAX)));
        tx.extend_job_leases(&self.owner, &self.ids, until).await
    }
}

/// Gives up the leases a worker still holds on these jobs (its node is shutting down and
/// cut their attempts): each attempt counts as failed (`node_shutdown`) and the job is
/// retried or dead by its policy at once, instead of when the lease would have ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseJobs {
    /// The worker's node.
    pub owner: String,
    /// The jobs.
    pub ids: Vec<String>,
    /// A number in `[0, 1)` for the retries' jitter.
    pub random: f64,
}

request!(ReleaseJobs => JobsReleased(u64));

impl Locking for ReleaseJobs {
    // Only rows this node's worker holds are read, locked as they are.
    fn locks<'a>(&'a self, _: &mut Locks<'a>) {}
}

impl Command for ReleaseJobs {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let mut released = 0;
        for mut job in tx.held_jobs_for_update(&self.owner, &self.ids).await? {
            let error = JobError {
                code: "node_shutdown".into(),
                message: format!("{} shut down before the attempt finished", self.owner),
            };
            fail_and_report(tx, cx, &mut job, error, self.random).await?;
            released += 1;
        }
        Ok(released)
    }
}

/// Ends an attempt: succeeded, retried later or dead, as its retry policy says; appends
/// `job.succeeded`, `job.failed` or `job.dead`. Changes the job only while the worker still
/// holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishJob {
    /// The space.
    pub space: SpaceName,
    /// The job.
    pub id: String,
    /// The worker's node: a worker whose lease was taken over finishes nothing.
    pub owner: String,
    /// The attempt the worker ran.
    pub attempt: u32,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// What the attempt leaves besides its outcome, written in the same transaction as the
    /// job's change (only while the worker still holds the job).
    pub report: Option<JobReport>,
    /// The instance the job reports to (its payload's `reply.instance`), locked first: the
    /// job's result moves it in the same transaction (see `commands::instances`).
    pub instance: Option<InstanceKey>,
}

/// How an attempt ended, as its worker reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// It succeeded, with an optional result.
    Succeeded(Option<Value>),
    /// It failed; the target may have said when to retry (`Retry-After`, in milliseconds).
    Failed {
        /// The error.
        error: JobError,
        /// The target's `Retry-After`.
        retry_after_ms: Option<u64>,
        /// No later attempt can succeed (the job's payload is invalid, its target refused by
        /// policy): the job is dead at once, whatever its policy allows.
        permanent: bool,
        /// A number in `[0, 1)` for the retry's jitter.
        random: f64,
    },
    /// It did not run: something outside the job (its endpoint's open circuit breaker, a
    /// target that asked to slow down) says to wait. The job is pending again at `until` and
    /// the attempt is not counted; the finish logs nothing (the lease logged `job.started`).
    Deferred {
        /// When it is due again.
        until: Timestamp,
    },
}

/// What an attempt of a job that runs another resource's work leaves for that resource.
#[derive(Debug, Clone, PartialEq)]
pub enum JobReport {
    /// An asynchronous invocation's record as the attempt left it (output or error, logs,
    /// duration); its status and attempt follow the job's.
    Invocation(Box<switchyard_model::functions::InvocationRecord>),
}

/// What finishing an attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFinished {
    /// The job is done.
    Succeeded,
    /// It will be tried again at this time.
    Retrying(Timestamp),
    /// It is dead.
    Dead,
    /// The worker no longer held it (its lease ended and was taken over, or it was cancelled
    /// or deleted meanwhile): nothing changed.
    NotHeld,
}

request!(FinishJob => JobFinished(JobFinished));

impl Locking for FinishJob {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
        if let Some(key) = &self.instance {
            locks.instance(key);
        }
    }
}

impl Command for FinishJob {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let f = self;
        let Some(mut job) = tx.job_for_update(f.space.as_ref(), &f.id).await? else {
            return Ok(JobFinished::NotHeld);
        };
        let held = job.status == JobStatus::Running
            && job.lease_owner.as_deref() == Some(f.owner.as_str())
            && job.attempt == f.attempt;
        if !held {
            return Ok(JobFinished::NotHeld);
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
        // A job of a state reports to its instance: read (and locked) before anything is written.
        let reply = read_reply(tx, &job).await?;
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
                    // The state it worked for is gone: no later attempt is wanted.
                    permanent: *permanent || reply.as_ref().is_some_and(|(_, _, current)| !current),
                    random: *random,
                };
                fail_attempt(tx, cx, &mut job, failure, report).await?
            }
            AttemptOutcome::Deferred { until } => {
                if job.attempts.last().is_some_and(|last| last.attempt == job.attempt) {
                    job.attempts.pop();
                }
                job.attempt = job.attempt.saturating_sub(1);
                job.status = JobStatus::Pending;
                job.run_at = *until;
                job.lease_until = None;
                job.lease_owner = None;
                job.updated_at = cx.now;
                tx.update_job(&job).await?;
                JobFinished::Retrying(*until)
            }
        };
        if let Some((key, Some(row), current)) = reply {
            report_to_instance(tx, cx, &job, &key, &row, current, finished).await?;
        }
        Ok(finished)
    }
}

/// The instance a job of a state reports to, read and locked: its key, its row (if it still
/// exists), and whether the job is still the work of its current state.
type Reply = (InstanceKey, Option<InstanceRow>, bool);

async fn read_reply<T: Tables>(tx: &mut T, job: &JobRecord) -> TxResult<Option<Reply>> {
    let Some(key) = job.reply_instance() else { return Ok(None) };
    let row = tx.instance_for_update(&key).await?;
    let current = row.as_ref().is_some_and(|row| {
        row.deleted_at.is_none()
            && !InstanceStatus::parse(&row.status).unwrap_or_default().is_terminal()
            && crate::decode::instance_work(row.work.as_deref()).contains(&job.id)
    });
    Ok(Some((key, row, current)))
}

/// Reports to its instance a job of a state that ended outside its worker's finish: cancelled
/// or deleted by a person, which the state sees as its action's error (`code`).
async fn report_removal<T: Tables>(tx: &mut T, cx: &mut Cx<'_>, job: &JobRecord, code: &str) -> TxResult<()> {
    let Some((key, Some(row), true)) = read_reply(tx, job).await? else { return Ok(()) };
    if job.kind.as_str() == TIMER_JOB {
        // A removed timer just never fires: the state's action, if any, goes on.
        let work: Vec<String> =
            crate::decode::instance_work(row.work.as_deref()).into_iter().filter(|id| *id != job.id).collect();
        let work = if work.is_empty() { None } else { Some(serde_json::to_string(&work)?) };
        return tx.set_instance_status(&key, &row.status, work.as_deref(), None, cx.now).await;
    }
    let mut ended = job.clone();
    ended.last_error = Some(JobError {
        code: code.into(),
        message: format!(
            "job {} was {} through the jobs API",
            job.id,
            if code == "job_cancelled" { "cancelled" } else { "deleted" }
        ),
    });
    report_to_instance(tx, cx, &ended, &key, &row, true, JobFinished::Dead).await
}

/// Applies a finished job of a state to its instance: a result as `done.invoke` (a timer as
/// its name), a job dead for good as `error.invoke`; a retry changes nothing. A job no longer
/// in the instance's work is recorded and ignored. An outcome the machine cannot apply (no
/// `on_error`, no branch taken, an assignment that fails) stops the instance as `failed`.
async fn report_to_instance<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    job: &JobRecord,
    key: &InstanceKey,
    row: &InstanceRow,
    current: bool,
    finished: JobFinished,
) -> TxResult<()> {
    let error_value;
    let result_value;
    let (input, payload) = match finished {
        JobFinished::NotHeld => return Ok(()),
        // The instance's history shows every failed attempt, not only the last.
        JobFinished::Retrying(at) if current => {
            let record = json!({
                "job": job.id,
                "attempt": job.attempt,
                "error": job.last_error,
                "retry_at": at.to_rfc3339(),
            });
            return cx
                .append(tx, key.space.as_ref(), kinds::INSTANCE_ATTEMPT_FAILED, key.address(), &record, None, false)
                .await;
        }
        JobFinished::Retrying(_) => return Ok(()),
        _ if !current => {
            let record = json!({ "job": job.id, "kind": job.kind, "status": job.status.as_str(), "state": row.state });
            return cx
                .append(tx, key.space.as_ref(), kinds::INSTANCE_RESULT_IGNORED, key.address(), &record, None, false)
                .await;
        }
        // A timer's only effect is being due: one that died (its leases kept ending) is due too.
        JobFinished::Succeeded | JobFinished::Dead if job.kind.as_str() == TIMER_JOB => {
            let name = job.payload.get("timer").and_then(Value::as_str).unwrap_or("");
            let mut payload = JsonObject::new();
            payload.insert("timer".into(), Value::String(name.to_owned()));
            (Input::Timer(name), payload)
        }
        JobFinished::Succeeded => {
            result_value = job.result.clone().unwrap_or(Value::Null);
            let mut payload = JsonObject::new();
            payload.insert("result".into(), result_value.clone());
            payload.insert("job".into(), Value::String(job.id.clone()));
            (Input::Done(&result_value), payload)
        }
        JobFinished::Dead => {
            let last = job.last_error.clone();
            error_value = json!({
                "code": last.as_ref().map(|e| e.code.as_str()).unwrap_or("failed"),
                "message": last.as_ref().map(|e| e.message.as_str()).unwrap_or("the job failed"),
                "attempts": job.attempt,
            });
            let mut payload = JsonObject::new();
            payload.insert("error".into(), error_value.clone());
            payload.insert("job".into(), Value::String(job.id.clone()));
            (Input::Failed(&error_value), payload)
        }
    };
    let compiled =
        compiled_machine(tx, cx.machines, key.space.as_ref(), key.machine.as_ref(), row.machine_version).await?;
    let idem_key = format!("job:{}", job.id);
    let max = super::instances::INTERNAL_MAX_CONTEXT_BYTES;
    match transition(tx, cx, key, row, &compiled, input, &payload, Some(&idem_key), max, Some((&job.id, job.attempt)))
        .await?
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let error = super::instances::unhandled(&e, input);
            fail_instance(tx, cx, key, row, &error).await
        }
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

/// Re-drives a dead or cancelled job: pending now, its attempts counted from zero again,
/// optionally with a new payload; appends `job.retried`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryJob {
    /// The space.
    pub space: SpaceName,
    /// The job.
    pub id: String,
    /// A new payload, if given.
    pub payload: Option<Value>,
}

request!(RetryJob => JobChanged(Box<JobRecord>));

impl Locking for RetryJob {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
    }
}

impl Command for RetryJob {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let Some(mut job) = tx.job_for_update(self.space.as_ref(), &self.id).await? else {
            return Err(StoreError::JobNotFound { space: self.space.to_string(), id: self.id.to_string() }.into());
        };
        redrive(tx, cx, &mut job, self.payload.as_ref()).await?;
        Ok(Box::new(job))
    }
}

/// Re-drives up to `limit` dead jobs of a space (of one kind, if given), oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveJobs {
    /// The space.
    pub space: SpaceName,
    /// Only jobs of this kind.
    pub kind: Option<String>,
    /// At most this many.
    pub limit: u32,
}

request!(RedriveJobs => JobsRedriven(u64));

impl Locking for RedriveJobs {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
    }
}

impl Command for RedriveJobs {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let r = self;
        let jobs = tx.dead_jobs_for_update(r.space.as_ref(), r.kind.as_deref(), r.limit).await?;
        let mut count = 0;
        for mut job in jobs {
            redrive(tx, cx, &mut job, None).await?;
            count += 1;
        }
        Ok(count)
    }
}

/// Cancels a job that has not finished; appends `job.cancelled`. A running attempt's end is
/// then ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelJob {
    /// The space.
    pub space: SpaceName,
    /// The job.
    pub id: String,
    /// The instance the job reports to, if it is a state's (`JobRecord::reply_instance`), locked
    /// first so that PostgreSQL takes the locks in the order a transition does.
    pub instance: Option<InstanceKey>,
}

request!(CancelJob => JobChanged(Box<JobRecord>));

impl Locking for CancelJob {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
        if let Some(key) = &self.instance {
            locks.instance(key);
        }
    }
}

impl Command for CancelJob {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let Some(mut job) = tx.job_for_update(self.space.as_ref(), &self.id).await? else {
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
        cancel_job_row(tx, cx, &mut job).await?;
        report_removal(tx, cx, &job, "job_cancelled").await?;
        Ok(Box::new(job))
    }
}

/// Cancels a job that has not finished (appends `job.cancelled`); a running attempt's end is
/// then ignored.
pub(super) async fn cancel_job_row<T: Tables>(tx: &mut T, cx: &mut Cx<'_>, job: &mut JobRecord) -> TxResult<()> {
    job.status = JobStatus::Cancelled;
    job.lease_until = None;
    job.lease_owner = None;
    job.finished_at = Some(cx.now);
    job.updated_at = cx.now;
    tx.update_job(job).await?;
    let record = json!({ "id": job.id, "attempt": job.attempt });
    append(tx, cx, job, job_kinds::CANCELLED, &record).await?;
    invocation_job_changed(tx, cx, job, None, false).await
}

/// Deletes a job that is not running; appends `job.deleted`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteJob {
    /// The space.
    pub space: SpaceName,
    /// The job.
    pub id: String,
    /// The instance the job reports to, if it is a state's (`JobRecord::reply_instance`), locked
    /// first so that PostgreSQL takes the locks in the order a transition does.
    pub instance: Option<InstanceKey>,
}

request!(DeleteJob => JobDeleted);

impl Locking for DeleteJob {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
        if let Some(key) = &self.instance {
            locks.instance(key);
        }
    }
}

impl Command for DeleteJob {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let Some(job) = tx.job_for_update(self.space.as_ref(), &self.id).await? else {
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
        tx.delete_job(self.space.as_ref(), &self.id).await?;
        let record = json!({ "id": job.id, "status": job.status.as_str() });
        append(tx, cx, &job, job_kinds::DELETED, &record).await?;
        invocation_job_changed(tx, cx, &job, None, true).await?;
        if !job.status.is_terminal() {
            report_removal(tx, cx, &job, "job_deleted").await?;
        }
        Ok(())
    }
}

/// Forgets up to `limit` succeeded or cancelled jobs that finished before `before`, soonest
/// finished first (dead ones stay until a person re-drives or deletes them); appends nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct PurgeJobs {
    /// The cut-off.
    pub before: Timestamp,
    /// At most this many (the caller repeats while a full chunk was removed).
    pub limit: u32,
}

request!(PurgeJobs => JobsPurged(u64));

impl Locking for PurgeJobs {
    /// None: it skips the rows others hold.
    fn locks<'a>(&'a self, _: &mut Locks<'a>) {}
}

impl Command for PurgeJobs {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        // Bounded by `limit`: this runs inside a group, so one huge DELETE would stall writes.
        tx.purge_jobs(self.before, self.limit).await
    }
}
