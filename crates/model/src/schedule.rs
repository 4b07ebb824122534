//! When a schedule fires: a cron pattern in an IANA time zone, a fixed interval, or one time.
//!
//! Cron patterns are parsed by `croner` (OCPS: five or six fields with optional seconds, `L`,
//! `W`, `#`, names and nicknames such as `@daily`) and evaluated in the schedule's zone.
//! Daylight saving, as `croner` defines it and as our docs promise:
//! - a local time that does not exist (the clock springs forward over it) fires at the first
//!   valid instant after the gap, the same day, for a pattern with fixed seconds, minutes and
//!   hours (`30 2 * * *`); a wildcard or step pattern (`*/15 * * * *`) just has no fire times
//!   inside the gap;
//! - a local time that happens twice (the clock falls back over it) fires once, at its first
//!   occurrence, for a fixed-time pattern. A wildcard-hour pattern (`30 * * * *`) should fire
//!   in both passes; croner 3.0.1, the latest release, fires only the first (its main branch
//!   fixes it; `tests/schedule.rs` holds the ignored test to turn on with the next release).
//!
//! Invariants: every fire time is an instant (Unix milliseconds) strictly after the one asked
//! from, so fire times only grow; a schedule's fire times are the same on every node (pure
//! functions of the definition), which is what makes a fire time usable as the key that claims
//! it once; nothing panics on input, and a search stops at a bound rather than spinning.

use std::str::FromStr;

use chrono::{DateTime, TimeZone as _, Utc};
use chrono_tz::Tz;

/// Most fire times one call lists (a backfill or a catch-up is paged by its caller).
pub const MAX_FIRE_TIMES: usize = 10_000;

/// Shortest interval.
pub const MIN_INTERVAL_MS: u64 = 1_000;

/// When something fires.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// A cron pattern in a time zone.
    Cron {
        /// The parsed pattern.
        pattern: Box<croner::Cron>,
        /// The pattern as written.
        source: String,
        /// The zone its fields are read in.
        zone: Tz,
    },
    /// Every `every_ms`, at `anchor_ms + k * every_ms`.
    Interval {
        /// The period.
        every_ms: u64,
        /// An instant the interval's fire times are aligned to.
        anchor_ms: i64,
    },
    /// Once, at this instant.
    Once {
        /// The instant.
        at_ms: i64,
    },
}

/// Why a schedule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron pattern does not parse.
    #[error("cron pattern {pattern:?}: {problem}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        problem: String,
    },
    /// Not an IANA time zone name.
    #[error("time zone {0:?} is not an IANA zone name (such as Europe/Paris or UTC)")]
    Zone(String),
    /// An interval below the minimum.
    #[error("an interval is at least {MIN_INTERVAL_MS} ms, not {0} ms")]
    Interval(u64),
}

impl Schedule {
    /// A cron schedule: `pattern` read in `zone` (an IANA name; `UTC` when `None`).
    pub fn cron(pattern: &str, zone: Option<&str>) -> Result<Schedule, ScheduleError> {
        let zone = match zone {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name).map_err(|_| ScheduleError::Zone(name.to_owned()))?,
        };
        let parsed = croner::Cron::from_str(pattern.trim())
            .map_err(|e| ScheduleError::Pattern { pattern: pattern.to_owned(), problem: e.to_string() })?;
        Ok(Schedule::Cron { pattern: Box::new(parsed), source: pattern.trim().to_owned(), zone })
    }

    /// An interval of `every_ms`, aligned to `anchor_ms`.
    pub fn interval(every_ms: u64, anchor_ms: i64) -> Result<Schedule, ScheduleError> {
        if every_ms < MIN_INTERVAL_MS || i64::try_from(every_ms).is_err() {
            return Err(ScheduleError::Interval(every_ms));
        }
        Ok(Schedule::Interval { every_ms, anchor_ms })
    }

    /// The first fire time strictly after `after_ms`; `None` when there is none (a past
    /// one-off time, a pattern that never matches again before year 5000).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match self {
            Schedule::Cron { pattern, zone, .. } => {
                // Fire times are whole seconds: searching after the second `after_ms` falls in
                // finds the first one after `after_ms` itself.
                let second = after_ms.div_euclid(1_000);
                let after = zone.from_utc_datetime(&DateTime::<Utc>::from_timestamp(second, 0)?.naive_utc());
                let next = pattern.find_next_occurrence(&after, false).ok()?;
                Some(next.timestamp_millis())
            }
            Schedule::Interval { every_ms, anchor_ms } => {
                let every = i64::try_from(*every_ms).ok()?;
                let steps = (after_ms - anchor_ms).div_euclid(every) + 1;
                anchor_ms.checked_add(steps.checked_mul(every)?)
            }
            Schedule::Once { at_ms } => (*at_ms > after_ms).then_some(*at_ms),
        }
    }

    /// The fire times in `(after_ms, until_ms]`, oldest first, at most `limit` (capped at
    /// [`MAX_FIRE_TIMES`]).
    pub fn fire_times(&self, after_ms: i64, until_ms: i64, limit: usize) -> Vec<i64> {
        let mut out = Vec::new();
        let mut at = after_ms;
        while out.len() < limit.min(MAX_FIRE_TIMES) {
            match self.next_after(at) {
                Some(next) if next <= until_ms => {
                    out.push(next);
                    at = next;
                }
                _ => break,
            }
        }
        out
    }

    /// What to fire at `now_ms` when the last fire time handled was `last_ms`: every fire time
    /// in `(last_ms, now_ms]` no older than `catch_up_ms` before now (oldest first, at most
    /// [`MAX_FIRE_TIMES`]), or with `catch_up_ms == 0` only the latest of them. Fire times
    /// missed beyond the window are skipped: the caller records `now_ms`'s latest as handled.
    pub fn due(&self, last_ms: i64, now_ms: i64, catch_up_ms: u64) -> Vec<i64> {
        if catch_up_ms == 0 {
            // Walking every missed time of a long outage is needless: a per-second pattern
            // down for a month has millions. Only the latest counts, found from a bounded
            // window first, then from the start when that window holds none.
            for window in [3_600_000_i64, 86_400_000 * 366] {
                let from = last_ms.max(now_ms.saturating_sub(window));
                if let Some(latest) = self.fire_times(from, now_ms, MAX_FIRE_TIMES).last() {
                    return vec![*latest];
                }
            }
            return self.fire_times(last_ms, now_ms, MAX_FIRE_TIMES).last().map(|t| vec![*t]).unwrap_or_default();
        }
        let window_start = now_ms.saturating_sub(i64::try_from(catch_up_ms).unwrap_or(i64::MAX));
        self.fire_times(last_ms.max(window_start.saturating_sub(1)), now_ms, MAX_FIRE_TIMES)
    }

    /// The pattern as written (cron), for display.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Cron { source, zone, .. } => format!("cron {source:?} in {}", zone.name()),
            Schedule::Interval { every_ms, .. } => format!("every {}", crate::jobs::millis::format(*every_ms)),
            Schedule::Once { at_ms } => format!("once at {}", crate::time::Timestamp(*at_ms).to_rfc3339()),
        }
    }
}
