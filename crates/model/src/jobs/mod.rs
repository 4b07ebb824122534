//! Durable jobs: the pure rules of the one work table (function invocations, HTTP calls,
//! timers, deliveries). The store keeps the rows and the engine's scheduler leases and runs
//! them; this module decides, from values they pass in:
//! - [`JobStatus`]: a job's status and its one persisted spelling;
//! - [`RetryPolicy`]: the user-facing retry settings, their validation, the backoff delay, and
//!   [`RetryPolicy::after_failure`], which turns a failed attempt into a [`RetryDecision`]
//!   (retry at a time, or dead with a [`DeadReason`]);
//! - [`select_fair`]: which due jobs to start, round-robin across spaces and concurrency keys;
//! - the records: [`JobSpec`] (a job to enqueue), [`JobRecord`] (a job as stored, with its
//!   newest [`JobAttempt`]s) and the kinds of the log records jobs append ([`job_kinds`]).
//!
//! Invariants this module keeps:
//! - No clock, no randomness, no I/O: `now` and random numbers are arguments, so a decision is
//!   a function of its inputs (tests move time and fix the dice).
//! - Times are `i64` milliseconds since the Unix epoch (like `applied_at_ms`), durations `u64`
//!   milliseconds; every sum saturates and every policy value is clamped into its bounds before
//!   use, so no input — validated or not — panics, overflows or yields NaN.
//! - A backoff delay lies in `[0, cap]`, the cap is `min(max, initial × multiplier^(attempt−1))`
//!   and never decreases with the attempt; a retry is never scheduled past the policy's deadline
//!   nor before a target's `Retry-After`.
//! - Fair selection never starts more than a space's limit (counting what runs) nor more than
//!   the free slots, and serves every space with a candidate and room once before any space
//!   twice.

mod fair;
pub(crate) mod millis;
mod records;
mod retry;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use fair::{Candidate, FairCursor, Selection, SpaceLimits, select_fair};
pub use records::{JobAttempt, JobError, JobRecord, JobSpec, MAX_ATTEMPT_HISTORY, job_kinds};

/// The lane (`concurrency_key`) of jobs that read the log for as long as they are wanted — an
/// endpoint's consumer, an event-pattern trigger's — and so are always running: they count
/// against neither a node's slots nor a space's limit on running jobs, which would otherwise
/// fill with them and starve the work they feed.
pub const LOG_CONSUMER_LANE: &str = "log-consumer";
pub use retry::{
    DEFAULT_INITIAL_MS, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_MS, DEFAULT_MULTIPLIER, DeadReason, FailedAttempt, Jitter,
    MAX_ATTEMPTS_LIMIT, MAX_DURATION_MS, MAX_ERROR_CODE_LEN, MAX_MULTIPLIER, MAX_NON_RETRYABLE, RetryDecision,
    RetryPolicy,
};

/// Where a job is in its life. The string forms ([`JobStatus::as_str`]) are persisted: they are
/// spelled here only, and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobStatus {
    /// Waiting for its `run_at` and a worker (also between attempts).
    Pending,
    /// Leased by a worker, which is running an attempt.
    Running,
    /// An attempt succeeded. Terminal.
    Succeeded,
    /// Its last attempt failed (or a non-retryable error, or its deadline, ended it): a dead
    /// letter, kept for a person to inspect and re-drive. Terminal until re-driven.
    Dead,
    /// Cancelled before it succeeded. Terminal.
    Cancelled,
}

impl JobStatus {
    /// Every status, in the order of their life.
    pub const ALL: [JobStatus; 5] =
        [JobStatus::Pending, JobStatus::Running, JobStatus::Succeeded, JobStatus::Dead, JobStatus::Cancelled];

    /// The persisted, lowercase name: `pending`, `running`, `succeeded`, `dead`, `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Dead => "dead",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a name written by [`JobStatus::as_str`] (exactly; no other spelling).
    pub fn parse(text: &str) -> Result<JobStatus, UnknownJobStatus> {
        JobStatus::ALL.into_iter().find(|s| s.as_str() == text).ok_or_else(|| UnknownJobStatus(text.to_owned()))
    }

    /// Whether no worker will run the job again (`succeeded`, `dead`, `cancelled`); only a
    /// person re-driving a dead job makes it pending again.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Dead | JobStatus::Cancelled)
    }
}

/// A job status name that is not one of [`JobStatus::as_str`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job status {0:?}; expected pending, running, succeeded, dead or cancelled")]
pub struct UnknownJobStatus(pub String);

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = UnknownJobStatus;

    fn from_str(text: &str) -> Result<JobStatus, UnknownJobStatus> {
        JobStatus::parse(text)
    }
}

impl Serialize for JobStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JobStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<JobStatus, D::Error> {
        let text = String::deserialize(deserializer)?;
        JobStatus::parse(&text).map_err(serde::de::Error::custom)
    }
}
