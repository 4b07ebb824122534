//! The work table's requests and stored forms: what the job ops ([`crate::WriteOp`]) carry and
//! report, and a `jobs` row as the backends read and write it. The records are
//! `switchyard_model::jobs`, as are the rules (retry, fairness); the commands applying them are
//! `commands::jobs`.

use serde_json::Value;
use switchyard_model::SpaceName;
use switchyard_model::jobs::{FairCursor, JobError, JobRecord, JobStatus, SpaceLimits};
use switchyard_model::time::Timestamp;

/// A page of a space's jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListJobs {
    /// The space.
    pub space: SpaceName,
    /// Only jobs with this status.
    pub status: Option<JobStatus>,
    /// Only jobs of this kind.
    pub kind: Option<String>,
    /// Only jobs with an id after this one.
    pub after_id: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// How many jobs a space has in each status, and its oldest due pending job.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobQueueStats {
    /// The space.
    pub space: String,
    /// Pending jobs (due or not).
    pub pending: u64,
    /// Pending jobs that are due.
    pub due: u64,
    /// Running jobs.
    pub running: u64,
    /// Dead jobs.
    pub dead: u64,
    /// The `run_at` of its oldest due pending job.
    pub oldest_due: Option<Timestamp>,
}

/// A worker's request for due jobs.
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
}

/// The end of an attempt.
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

/// What a bulk re-drive takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveJobs {
    /// The space.
    pub space: SpaceName,
    /// Only jobs of this kind.
    pub kind: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// The columns of `jobs`, in the order [`RawJob`] reads them.
pub(crate) const JOB_COLUMNS: &str = "id, space, kind, target, payload, status, priority, concurrency_key, \
     idempotency_key, run_at, attempt, lease_until, lease_owner, retry, created_at, updated_at, finished_at, \
     last_error, result, attempts";

/// A `jobs` row as a backend reads it, before decoding.
pub(crate) struct RawJob {
    pub id: String,
    pub space: String,
    pub kind: String,
    pub target: String,
    pub payload: String,
    pub status: String,
    pub priority: i64,
    pub concurrency_key: Option<String>,
    pub idempotency_key: Option<String>,
    pub run_at: i64,
    pub attempt: i64,
    pub lease_until: Option<i64>,
    pub lease_owner: Option<String>,
    pub retry: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    pub last_error: Option<String>,
    pub result: Option<String>,
    pub attempts: String,
}

impl RawJob {
    /// Decodes the row; a value that cannot be read back is `Corrupt`, naming the job.
    pub(crate) fn decode(self) -> Result<JobRecord, crate::StoreError> {
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            crate::StoreError::Corrupt(format!("job {} in space {}: {what}: {e}", self.id, self.space))
        };
        let status = JobStatus::parse(&self.status).map_err(|e| corrupt("status", &e))?;
        Ok(JobRecord {
            space: crate::decode::space(self.space.clone())?,
            kind: crate::decode::segment(self.kind.clone())?,
            target: self.target.clone(),
            payload: serde_json::from_str(&self.payload).map_err(|e| corrupt("payload", &e))?,
            status,
            priority: i32::try_from(self.priority).map_err(|e| corrupt("priority", &e))?,
            concurrency_key: self.concurrency_key.clone(),
            idempotency_key: self.idempotency_key.clone(),
            run_at: Timestamp(self.run_at),
            attempt: u32::try_from(self.attempt).map_err(|e| corrupt("attempt", &e))?,
            lease_until: self.lease_until.map(Timestamp),
            lease_owner: self.lease_owner.clone(),
            retry: serde_json::from_str(&self.retry).map_err(|e| corrupt("retry", &e))?,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            finished_at: self.finished_at.map(Timestamp),
            last_error: self
                .last_error
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt("last_error", &e))?,
            result: self.result.as_deref().map(serde_json::from_str).transpose().map_err(|e| corrupt("result", &e))?,
            attempts: serde_json::from_str(&self.attempts).map_err(|e| corrupt("attempts", &e))?,
            id: self.id,
        })
    }
}

/// A job's columns as a backend writes them.
pub(crate) struct JobColumns {
    pub payload: String,
    pub retry: String,
    pub last_error: Option<String>,
    pub result: Option<String>,
    pub attempts: String,
}

impl JobColumns {
    /// Encodes what a job stores as JSON text.
    pub(crate) fn of(job: &JobRecord) -> Result<JobColumns, serde_json::Error> {
        Ok(JobColumns {
            payload: serde_json::to_string(&job.payload)?,
            retry: serde_json::to_string(&job.retry)?,
            last_error: job.last_error.as_ref().map(serde_json::to_string).transpose()?,
            result: job.result.as_ref().map(serde_json::to_string).transpose()?,
            attempts: serde_json::to_string(&job.attempts)?,
        })
    }
}
