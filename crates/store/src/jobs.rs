//! The work table's requests and stored forms: what the job ops ([`crate::WriteOp`]) carry and
//! report, and a `jobs` row as the backends read and write it. The records are
//! `switchyard_model::jobs`, as are the rules (retry, fairness); the commands applying them are
//! `commands::jobs`.

use switchyard_model::SpaceName;
use switchyard_model::jobs::{JobRecord, JobStatus};
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
