//! Time as Switchyard records it: milliseconds since the Unix epoch.
//!
//! Only the value lives here; reading a clock is the store's (`switchyard_store::Clock`), so
//! this crate stays free of clocks.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Wall-clock time in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// The latest time RFC 3339 can write (9999-12-31T23:59:59.999Z).
    pub const MAX_RFC3339: Timestamp = Timestamp(253_402_300_799_999);

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-20T22:48:04.123Z` (times past year 9999
    /// are written as the last millisecond of 9999).
    pub fn to_rfc3339(self) -> String {
        humantime::format_rfc3339_millis(self.min(Timestamp::MAX_RFC3339).to_system_time()).to_string()
    }

    /// This time as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_millis(self.0.max(0) as u64)
    }
}
