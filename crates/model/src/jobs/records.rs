//! The records of the work table: a job to enqueue, a job as stored with its attempts, and the
//! kinds of the log records jobs append.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{JobStatus, RetryPolicy};
use crate::time::Timestamp;
use crate::{Segment, SpaceName};

/// Log record kinds of jobs: one per attempt's start and end, and per re-drive.
pub mod job_kinds {
    /// A job was enqueued.
    pub const ENQUEUED: &str = "job.enqueued";
    /// An attempt started (a worker leased the job).
    pub const STARTED: &str = "job.started";
    /// An attempt succeeded; the job is done.
    pub const SUCCEEDED: &str = "job.succeeded";
    /// An attempt failed and the job will be tried again.
    pub const FAILED: &str = "job.failed";
    /// The last attempt failed (or the deadline passed, or the error is never retried).
    pub const DEAD: &str = "job.dead";
    /// A person re-drove the job.
    pub const RETRIED: &str = "job.retried";
    /// The job was cancelled before it finished.
    pub const CANCELLED: &str = "job.cancelled";
    /// The job was deleted.
    pub const DELETED: &str = "job.deleted";
}

/// The most attempts a job keeps the history of (the newest; `attempt` counts them all).
pub const MAX_ATTEMPT_HISTORY: usize = 50;

/// An error an attempt ended with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// A stable code (`http_503`, `function_timeout`, `lease_expired`, …).
    pub code: String,
    /// What happened, for a person.
    pub message: String,
}

/// One attempt at a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAttempt {
    /// Its number (1 for the first).
    pub attempt: u32,
    /// The node that ran it.
    pub owner: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended (`None` while it runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// Its error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<JobError>,
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// Its id (a UUIDv7).
    pub id: String,
    /// The space it runs for.
    pub space: SpaceName,
    /// What runs it (`http`, `function`, `event`, `publish`, `noop`).
    pub kind: Segment,
    /// What it acts on, for people and filters: a URL, a function's or instance's address.
    pub target: String,
    /// What the kind needs to run it.
    pub payload: Value,
    /// Higher runs first among a space's due jobs.
    pub priority: i32,
    /// The fairness lane inside the space.
    pub concurrency_key: Option<String>,
    /// Stable across attempts; a second enqueue with the same key in the space returns the first.
    pub idempotency_key: Option<String>,
    /// When it is due.
    pub run_at: Timestamp,
    /// How failed attempts are retried.
    pub retry: RetryPolicy,
}

/// A job as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// Its id.
    pub id: String,
    /// The space.
    pub space: SpaceName,
    /// Its kind.
    pub kind: Segment,
    /// What it acts on.
    pub target: String,
    /// What the kind needs to run it.
    pub payload: Value,
    /// Where it is in its life.
    pub status: JobStatus,
    /// Its priority.
    pub priority: i32,
    /// Its fairness lane.
    pub concurrency_key: Option<String>,
    /// Its idempotency key (the job's id when it was given none: see [`JobRecord::effect_key`]).
    pub idempotency_key: Option<String>,
    /// When it is (or was) due.
    pub run_at: Timestamp,
    /// Attempts started so far.
    pub attempt: u32,
    /// While running: until when its worker holds it.
    pub lease_until: Option<Timestamp>,
    /// While running: the worker's node.
    pub lease_owner: Option<String>,
    /// Its retry policy.
    pub retry: RetryPolicy,
    /// When it was enqueued.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it succeeded, died or was cancelled.
    pub finished_at: Option<Timestamp>,
    /// The last attempt's error.
    pub last_error: Option<JobError>,
    /// What its successful attempt returned.
    pub result: Option<Value>,
    /// Its newest attempts (at most [`MAX_ATTEMPT_HISTORY`]), oldest first.
    pub attempts: Vec<JobAttempt>,
}

impl JobRecord {
    /// The key every effect of this job carries (an outbound `Idempotency-Key`, a function's
    /// context): the job's idempotency key, or its id — the same for every attempt.
    pub fn effect_key(&self) -> &str {
        self.idempotency_key.as_deref().unwrap_or(&self.id)
    }

    /// The instance a job of a state reports its outcome to (its payload's `reply.instance`,
    /// in the job's own space); `None` for other jobs.
    pub fn reply_instance(&self) -> Option<crate::InstanceKey> {
        let address = self.payload.get("reply")?.get("instance")?.as_str()?;
        let mut parts = address.splitn(3, ':');
        let (space, machine, id) = (parts.next()?, parts.next()?, parts.next()?);
        if space != self.space.as_str() {
            return None;
        }
        Some(crate::InstanceKey {
            space: self.space.clone(),
            machine: Segment::new(machine).ok()?,
            id: Segment::new(id).ok()?,
        })
    }
}
