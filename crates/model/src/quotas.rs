//! Quotas of a space, what it has used, and the token bucket that paces its rates.
//!
//! A [`Quota`] caps what one space (one tenant) may hold and do. Each limit is optional: a
//! space without a quota, or a limit left out, is bounded only by the server's own settings.
//! Limits are of three sorts, enforced differently (the engine does it; this module is pure):
//! - **rates** (`requests_per_second`, `events_per_second`): a [`TokenBucket`] holding one
//!   second's worth, refused at once with the time until a token is back;
//! - **holdings** (`stored_bytes`, `instances`): compared with the space's measured [`Usage`],
//!   refusing writes that add to a space already at or over its limit;
//! - **shares** (`concurrent_jobs`, `function_timeout_ms`, `function_memory_bytes`): they
//!   lower the scheduler's per-space limit and each invocation's own limits.

use serde::{Deserialize, Serialize};

/// The most a rate may be set to, a second.
pub const MAX_RATE: u32 = 10_000_000;

/// The smallest memory limit an invocation may be held to (one WebAssembly page is 64 KiB;
/// below a MiB nothing useful instantiates).
pub const MIN_FUNCTION_MEMORY_BYTES: u64 = 1 << 20;

/// The limits of one space; `None` is no limit of that sort.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Bytes the space may hold: its log records, instances' contexts, KV values (with their
    /// kept history), function components and invocation records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_bytes: Option<u64>,
    /// Instances (not deleted) the space may hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u64>,
    /// API requests a second naming the space (HTTP and gRPC alike).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<u32>,
    /// Instances created, events applied and messages published a second by callers (the
    /// API, batches, functions' host calls); the server's own follow-up work is not paced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_per_second: Option<u32>,
    /// Jobs of the space (invocations, timers, trigger runs, deliveries…) running at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent_jobs: Option<u32>,
    /// The longest an invocation may run, in milliseconds; a function's own timeout above it
    /// is lowered to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_timeout_ms: Option<u64>,
    /// The most memory an invocation may use, in bytes; a function's own limit above it is
    /// lowered to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_memory_bytes: Option<u64>,
}

/// Why a quota was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct QuotaError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl Quota {
    /// Checks every limit is one the server can keep.
    pub fn validate(&self) -> Result<(), QuotaError> {
        for (field, rate) in
            [("requests_per_second", self.requests_per_second), ("events_per_second", self.events_per_second)]
        {
            if let Some(rate) = rate
                && !(1..=MAX_RATE).contains(&rate)
            {
                return Err(QuotaError { field, problem: format!("must be between 1 and {MAX_RATE}") });
            }
        }
        if self.concurrent_jobs == Some(0) {
            return Err(QuotaError { field: "concurrent_jobs", problem: "must be at least 1".into() });
        }
        if self.function_timeout_ms == Some(0) {
            return Err(QuotaError { field: "function_timeout_ms", problem: "must be at least 1".into() });
        }
        if let Some(memory) = self.function_memory_bytes
            && memory < MIN_FUNCTION_MEMORY_BYTES
        {
            return Err(QuotaError {
                field: "function_memory_bytes",
                problem: format!("must be at least {MIN_FUNCTION_MEMORY_BYTES} (1 MiB)"),
            });
        }
        Ok(())
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Quota::default()
    }
}

/// Bytes a space holds, by where they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBytes {
    /// Log records: addresses and payloads.
    pub log: u64,
    /// Instances' contexts (deleted instances' too, until they are purged).
    pub instances: u64,
    /// KV values, current and kept history.
    pub kv: u64,
    /// Deployed function components, every version kept.
    pub functions: u64,
    /// Invocation records: inputs, outputs and logs.
    pub invocations: u64,
}

impl StoredBytes {
    /// All of them.
    pub fn total(&self) -> u64 {
        [self.instances, self.kv, self.functions, self.invocations]
            .iter()
            .fold(self.log, |sum, n| sum.saturating_add(*n))
    }
}

/// What a space holds, measured from the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holdings {
    /// Its bytes.
    pub stored_bytes: StoredBytes,
    /// Its instances that are not deleted.
    pub instances: u64,
}

/// What a space has done, counted by every node and added up in the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meters {
    /// API requests naming the space.
    pub requests: u64,
    /// Instances created, events applied and messages published by callers.
    pub events: u64,
    /// Requests and writes refused by the space's quota.
    pub refused: u64,
    /// Function invocations that ran.
    pub invocations: u64,
    /// Milliseconds those invocations ran (wall time in the guest and its host calls).
    pub function_ms: u64,
}

impl Meters {
    /// Whether nothing was counted.
    pub fn is_zero(&self) -> bool {
        *self == Meters::default()
    }

    /// Adds `other` to these.
    pub fn add(&mut self, other: &Meters) {
        self.requests = self.requests.saturating_add(other.requests);
        self.events = self.events.saturating_add(other.events);
        self.refused = self.refused.saturating_add(other.refused);
        self.invocations = self.invocations.saturating_add(other.invocations);
        self.function_ms = self.function_ms.saturating_add(other.function_ms);
    }
}

/// A token bucket holding at most one second's worth of `rate`, refilled continuously.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    at_ms: i64,
}

impl TokenBucket {
    /// A full bucket for `rate` at `now_ms`.
    pub fn full(rate: u32, now_ms: i64) -> TokenBucket {
        TokenBucket { tokens: f64::from(rate.max(1)), at_ms: now_ms }
    }

    /// Takes `n` tokens at `now_ms` at `rate` a second; when there are too few, takes none and
    /// answers the milliseconds until there will be `n` (at least 1). A request for more than a
    /// full bucket is admitted whenever the bucket is full, so no size is refused for ever.
    pub fn take(&mut self, rate: u32, n: u32, now_ms: i64) -> Result<(), u64> {
        let rate = f64::from(rate.max(1));
        let elapsed = (now_ms - self.at_ms).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.at_ms = self.at_ms.max(now_ms);
        let wanted = f64::from(n).min(rate);
        if self.tokens >= wanted {
            self.tokens -= f64::from(n);
            return Ok(());
        }
        let wait_ms = ((wanted - self.tokens) / rate * 1000.0).ceil();
        Err((wait_ms as u64).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_admits_a_seconds_worth_then_refuses_with_the_wait() {
        let mut bucket = TokenBucket::full(10, 0);
        for _ in 0..10 {
            assert_eq!(bucket.take(10, 1, 0), Ok(()));
        }
        assert_eq!(bucket.take(10, 1, 0), Err(100));
        assert_eq!(bucket.take(10, 1, 50), Err(50));
        assert_eq!(bucket.take(10, 1, 100), Ok(()));
        // It never holds more than a second's worth, however long it rested.
        let mut bucket = TokenBucket::full(10, 0);
        assert_eq!(bucket.take(10, 10, 60_000), Ok(()));
        assert!(bucket.take(10, 1, 60_000).is_err());
    }

    #[test]
    fn a_take_larger_than_the_bucket_waits_for_a_full_one_and_goes_into_debt() {
        let mut bucket = TokenBucket::full(10, 0);
        assert_eq!(bucket.take(10, 25, 0), Ok(()));
        // 15 in debt: 2.5 s until one token is back.
        assert_eq!(bucket.take(10, 1, 0), Err(1600));
        assert_eq!(bucket.take(10, 1, 1600), Ok(()));
    }

    #[test]
    fn a_clock_going_back_neither_refills_nor_panics() {
        let mut bucket = TokenBucket::full(5, 1000);
        for _ in 0..5 {
            assert_eq!(bucket.take(5, 1, 1000), Ok(()));
        }
        assert!(bucket.take(5, 1, 0).is_err());
    }

    #[test]
    fn validation_names_the_field() {
        assert!(Quota::default().validate().is_ok());
        let zero = Quota { requests_per_second: Some(0), ..Quota::default() };
        assert_eq!(zero.validate().map_err(|e| e.field), Err("requests_per_second"));
        let small = Quota { function_memory_bytes: Some(4096), ..Quota::default() };
        assert_eq!(small.validate().map_err(|e| e.field), Err("function_memory_bytes"));
        let jobs = Quota { concurrent_jobs: Some(0), ..Quota::default() };
        assert_eq!(jobs.validate().map_err(|e| e.field), Err("concurrent_jobs"));
        let unknown = serde_json::from_str::<Quota>(r#"{"stored_byte": 1}"#);
        assert!(unknown.is_err());
    }
}
