//! Retry policies: when a failed attempt is tried again, and when a job is dead.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::millis;
use crate::definition::FieldError;

/// The most attempts a policy may allow (the first attempt included).
pub const MAX_ATTEMPTS_LIMIT: u32 = 1000;
/// The longest duration a policy may name (`initial`, `max`, `deadline`): 30 days, in ms. Also
/// the longest wait a target's `Retry-After` can impose.
pub const MAX_DURATION_MS: u64 = 30 * 24 * 60 * 60 * 1000;
/// The largest backoff multiplier a policy may use.
pub const MAX_MULTIPLIER: f64 = 100.0;
/// The most error codes `non_retryable` may list.
pub const MAX_NON_RETRYABLE: usize = 64;
/// The longest error code `non_retryable` may list, in characters.
pub const MAX_ERROR_CODE_LEN: usize = 128;

/// Default attempts (the first one included), as the engine's asynchronous invocations use.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Default delay before the first retry: 1 s (Temporal's default).
pub const DEFAULT_INITIAL_MS: u64 = 1_000;
/// Default growth of the delay per attempt: ×2 (Temporal's default).
pub const DEFAULT_MULTIPLIER: f64 = 2.0;
/// Default longest delay: 100 s, i.e. 100 × the default `initial` (Temporal's default). In the
/// serialised form, an absent `max` means 100 × `initial` (at most [`MAX_DURATION_MS`]).
pub const DEFAULT_MAX_MS: u64 = 100_000;

/// How a backoff delay is randomised below its cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// A delay drawn uniformly from `[0, cap]` ("full jitter"): retries of many jobs that
    /// failed together spread out instead of arriving together.
    #[default]
    Full,
    /// The delay is the cap itself: a deterministic schedule.
    None,
}

/// When and how often a failed job is tried again; see [`RetryPolicy::after_failure`].
///
/// The serialised form is the user-facing one, durations as humantime strings or integer
/// milliseconds:
/// `{ max_attempts: 5, initial: "200ms", multiplier: 2, max: "30s", deadline: "1h",
/// non_retryable: ["card_declined"], jitter: "full" }`. Every field may be left out (defaults
/// below; an absent `max` is 100 × `initial`); unknown fields are refused. Deserialising checks
/// the shape only; [`RetryPolicy::validate`] checks the values. The computations never panic,
/// overflow or produce NaN, whatever the values: out-of-range values are clamped into range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "PolicySource", into = "PolicySource")]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (1..=1000; default 5).
    pub max_attempts: u32,
    /// Delay before the first retry's cap, in ms (1 ms..=30 d; default 1 s).
    pub initial_ms: u64,
    /// Factor the cap grows by per attempt (finite, 1..=100; default 2).
    pub multiplier: f64,
    /// Largest cap, in ms (`initial`..=30 d; default 100 s).
    pub max_ms: u64,
    /// How the delay is drawn below the cap (default full jitter).
    pub jitter: Jitter,
    /// Time from the job's creation after which no retry is scheduled, in ms (1 ms..=30 d;
    /// default none).
    pub deadline_ms: Option<u64>,
    /// Error codes that end the job at once (compared exactly; at most 64 codes of 1–128
    /// characters without whitespace).
    pub non_retryable: Vec<String>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            initial_ms: DEFAULT_INITIAL_MS,
            multiplier: DEFAULT_MULTIPLIER,
            max_ms: DEFAULT_MAX_MS,
            jitter: Jitter::Full,
            deadline_ms: None,
            non_retryable: Vec::new(),
        }
    }
}

/// The serialised form of a [`RetryPolicy`] (kept apart so the Rust field names can change).
#[derive(Serialize, Deserialize)]
#[serde(rename = "RetryPolicy", deny_unknown_fields, expecting = "a retry policy (a map of its settings)")]
struct PolicySource {
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default = "default_initial", with = "millis")]
    initial: u64,
    #[serde(default = "default_multiplier")]
    multiplier: f64,
    #[serde(default, with = "millis::option", skip_serializing_if = "Option::is_none")]
    max: Option<u64>,
    #[serde(default, with = "millis::option", skip_serializing_if = "Option::is_none")]
    deadline: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    non_retryable: Vec<String>,
    #[serde(default)]
    jitter: Jitter,
}

fn default_max_attempts() -> u32 {
    DEFAULT_MAX_ATTEMPTS
}

fn default_initial() -> u64 {
    DEFAULT_INITIAL_MS
}

fn default_multiplier() -> f64 {
    DEFAULT_MULTIPLIER
}

impl From<PolicySource> for RetryPolicy {
    fn from(source: PolicySource) -> Self {
        RetryPolicy {
            max_attempts: source.max_attempts,
            initial_ms: source.initial,
            multiplier: source.multiplier,
            // 100 × initial, kept within bounds so that a bad `initial` is the only error reported.
            max_ms: source.max.unwrap_or_else(|| source.initial.saturating_mul(100).clamp(1, MAX_DURATION_MS)),
            jitter: source.jitter,
            deadline_ms: source.deadline,
            non_retryable: source.non_retryable,
        }
    }
}

impl From<RetryPolicy> for PolicySource {
    fn from(policy: RetryPolicy) -> Self {
        PolicySource {
            max_attempts: policy.max_attempts,
            initial: policy.initial_ms,
            multiplier: policy.multiplier,
            max: Some(policy.max_ms),
            deadline: policy.deadline_ms,
            non_retryable: policy.non_retryable,
            jitter: policy.jitter,
        }
    }
}

/// One failed attempt, as [`RetryPolicy::after_failure`] judges it. Times are milliseconds
/// since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailedAttempt<'a> {
    /// The attempt that failed, 1-based (0 is read as 1).
    pub attempt: u32,
    /// The failure's error code, when it has one.
    pub error_code: Option<&'a str>,
    /// How long the target asked to wait before the next attempt (`Retry-After`), in ms.
    pub retry_after_ms: Option<u64>,
    /// When the attempt failed (the scheduler's clock, read once).
    pub failed_at_ms: i64,
    /// When the job was created; the deadline counts from here.
    pub created_at_ms: i64,
    /// A random number in `[0, 1)`, drawn by the caller; only full jitter reads it.
    pub random: f64,
}

/// What happens to a job after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum RetryDecision {
    /// Try again, not before `at_ms` (ms since the Unix epoch).
    Retry {
        /// When the next attempt becomes due.
        at_ms: i64,
    },
    /// Do not try again: the job is dead (a dead letter).
    Dead {
        /// Why.
        reason: DeadReason,
    },
}

/// Why a job is dead. [`DeadReason::code`] is its stable name (also its serialised `kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeadReason {
    /// The attempt failed with an error code the policy lists as non-retryable.
    NonRetryable {
        /// The error code.
        code: String,
    },
    /// The attempt was the policy's last one.
    AttemptsExhausted {
        /// Attempts made.
        attempts: u32,
    },
    /// The next attempt would fall after the policy's deadline.
    DeadlineExceeded,
}

impl DeadReason {
    /// The reason's stable name: `non_retryable`, `attempts_exhausted` or `deadline_exceeded`.
    pub fn code(&self) -> &'static str {
        match self {
            DeadReason::NonRetryable { .. } => "non_retryable",
            DeadReason::AttemptsExhausted { .. } => "attempts_exhausted",
            DeadReason::DeadlineExceeded => "deadline_exceeded",
        }
    }
}

impl fmt::Display for DeadReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadReason::NonRetryable { code } => write!(f, "error code \"{code}\" is not retryable"),
            DeadReason::AttemptsExhausted { attempts: 1 } => f.write_str("its only attempt failed"),
            DeadReason::AttemptsExhausted { attempts } => write!(f, "all {attempts} attempts failed"),
            DeadReason::DeadlineExceeded => f.write_str("the next attempt would fall after the retry deadline"),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries: one attempt, dead on its failure.
    pub fn no_retries() -> Self {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// Checks every value against its bounds; field paths are relative to the policy
    /// (`initial`, `non_retryable[2]`). See [`RetryPolicy::validate_at`].
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        self.validate_at("")
    }

    /// Checks every value against its bounds, naming fields under `at` (such as
    /// `states.charging.invoke.retry`; empty for the top level). Lists every problem found.
    pub fn validate_at(&self, at: &str) -> Result<(), Vec<FieldError>> {
        let path = |field: &str| if at.is_empty() { field.to_owned() } else { format!("{at}.{field}") };
        let mut errors = Vec::new();
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts) {
            errors.push(FieldError::new(
                path("max_attempts"),
                format!("must be between 1 and {MAX_ATTEMPTS_LIMIT} (got {})", self.max_attempts),
            ));
        }
        let duration_bounds = |ms: u64| (1..=MAX_DURATION_MS).contains(&ms);
        let initial_ok = duration_bounds(self.initial_ms);
        if !initial_ok {
            errors.push(FieldError::new(
                path("initial"),
                format!(
                    "must be between 1ms and {} (got {})",
                    millis::format(MAX_DURATION_MS),
                    millis::format(self.initial_ms)
                ),
            ));
        }
        if !(self.multiplier.is_finite() && (1.0..=MAX_MULTIPLIER).contains(&self.multiplier)) {
            errors.push(FieldError::new(
                path("multiplier"),
                format!("must be a number between 1 and {MAX_MULTIPLIER} (got {})", self.multiplier),
            ));
        }
        if !duration_bounds(self.max_ms) {
            errors.push(FieldError::new(
                path("max"),
                format!(
                    "must be between 1ms and {} (got {})",
                    millis::format(MAX_DURATION_MS),
                    millis::format(self.max_ms)
                ),
            ));
        } else if initial_ok && self.max_ms < self.initial_ms {
            errors.push(FieldError::new(
                path("max"),
                format!(
                    "must be at least as long as initial, {} (got {})",
                    millis::format(self.initial_ms),
                    millis::format(self.max_ms)
                ),
            ));
        }
        if let Some(deadline) = self.deadline_ms
            && !duration_bounds(deadline)
        {
            errors.push(FieldError::new(
                path("deadline"),
                format!(
                    "must be between 1ms and {} (got {})",
                    millis::format(MAX_DURATION_MS),
                    millis::format(deadline)
                ),
            ));
        }
        if self.non_retryable.len() > MAX_NON_RETRYABLE {
            errors.push(FieldError::new(
                path("non_retryable"),
                format!("lists {} codes; at most {MAX_NON_RETRYABLE} are allowed", self.non_retryable.len()),
            ));
        }
        // Past the limit only the count is reported, so a huge list costs no quadratic check.
        for (i, code) in self.non_retryable.iter().enumerate().take(MAX_NON_RETRYABLE) {
            let field = || path(&format!("non_retryable[{i}]"));
            let len = code.chars().count();
            if len == 0 || len > MAX_ERROR_CODE_LEN {
                errors.push(FieldError::new(
                    field(),
                    format!("an error code must be 1 to {MAX_ERROR_CODE_LEN} characters (got {len})"),
                ));
            } else if code.chars().any(|c| c.is_whitespace() || c.is_control()) {
                errors.push(FieldError::new(
                    field(),
                    format!("invalid error code {code:?}: whitespace and control characters are not allowed"),
                ));
            } else if self.non_retryable[..i].contains(code) {
                errors.push(FieldError::new(field(), format!("error code {code:?} is listed twice")));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// The cap of the delay after `attempt` (1-based; 0 is read as 1) failed:
    /// `min(max, initial × multiplier^(attempt − 1))`, in ms, rounded down. Attempts past
    /// [`MAX_ATTEMPTS_LIMIT`] (more than any valid policy makes) count as that limit, and
    /// out-of-range policy values are clamped into their bounds first.
    ///
    /// The power is taken by multiplying once per attempt (at most 999 times), not by
    /// `powf`/`powi`: IEEE multiplication rounds the same on every platform, and rounding is
    /// monotone, so the cap never decreases as the attempt grows.
    pub fn backoff_cap(&self, attempt: u32) -> u64 {
        let initial = self.initial_ms.min(MAX_DURATION_MS);
        let max = self.max_ms.min(MAX_DURATION_MS);
        if initial == 0 || max == 0 {
            return 0;
        }
        // NaN and values below 1 read as 1, values above the bound (infinity too) as the bound.
        let multiplier = if self.multiplier >= 1.0 { self.multiplier.min(MAX_MULTIPLIER) } else { 1.0 };
        let limit = max as f64;
        let mut grown = initial as f64;
        for _ in 1..attempt.clamp(1, MAX_ATTEMPTS_LIMIT) {
            if grown >= limit {
                break;
            }
            grown *= multiplier;
        }
        // `grown` is finite: it stops growing at ≤ 30 d × 100.
        if grown < limit { grown as u64 } else { max }
    }

    /// The delay before retrying after `attempt` (1-based) failed, in ms: `random × cap` under
    /// full jitter (rounded down, so within `[0, cap]`), the cap itself under no jitter.
    /// `random` should be in `[0, 1)`; NaN and values below 0 read as 0, values above 1 as 1.
    pub fn backoff(&self, attempt: u32, random: f64) -> u64 {
        let cap = self.backoff_cap(attempt);
        match self.jitter {
            Jitter::None => cap,
            Jitter::Full => {
                let random = if random > 0.0 { random.min(1.0) } else { 0.0 };
                ((random * cap as f64) as u64).min(cap)
            }
        }
    }

    /// Decides what follows a failed attempt. In order:
    /// 1. an error code listed in `non_retryable` is dead at once;
    /// 2. an attempt at or past `max_attempts` is dead (attempts exhausted);
    /// 3. otherwise the delay is [`RetryPolicy::backoff`], raised to the target's
    ///    `Retry-After` when that is longer — a `Retry-After` is honoured past `max` (it is the
    ///    target's word, and retrying sooner only spends an attempt), up to [`MAX_DURATION_MS`];
    /// 4. a retry that would fall after `created_at + deadline` is dead (deadline exceeded); a
    ///    retry exactly at the deadline is allowed.
    pub fn after_failure(&self, failed: &FailedAttempt<'_>) -> RetryDecision {
        if let Some(code) = failed.error_code
            && self.non_retryable.iter().any(|c| c == code)
        {
            return RetryDecision::Dead { reason: DeadReason::NonRetryable { code: code.to_owned() } };
        }
        let attempt = failed.attempt.max(1);
        if attempt >= self.max_attempts {
            return RetryDecision::Dead { reason: DeadReason::AttemptsExhausted { attempts: attempt } };
        }
        let mut delay = self.backoff(attempt, failed.random);
        if let Some(retry_after) = failed.retry_after_ms {
            delay = delay.max(retry_after.min(MAX_DURATION_MS));
        }
        // delay ≤ MAX_DURATION_MS, far below i64::MAX.
        let at_ms = failed.failed_at_ms.saturating_add(delay as i64);
        if let Some(deadline) = self.deadline_ms {
            let deadline_at = failed.created_at_ms.saturating_add(deadline.min(i64::MAX as u64) as i64);
            if at_ms > deadline_at {
                return RetryDecision::Dead { reason: DeadReason::DeadlineExceeded };
            }
        }
        RetryDecision::Retry { at_ms }
    }
}
