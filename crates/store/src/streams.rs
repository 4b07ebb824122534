//! The streaming features' requests and stored forms: a subscription's stored filter, a page
//! of KV keys, a pull, and the log's retention settings and statistics. The records themselves
//! (buckets, entries, subscriptions, deliveries, log filters) are `switchyard_model::streams`
//! and `switchyard_model::log`.
//!
//! Subscription invariants every backend keeps (the conformance suite checks each):
//! - A subscription's `cursor` only moves forward; every record at or below it that its filter
//!   passes was either acked, is pending (leased or waiting for redelivery) or is a dead letter.
//! - A pending record is leased to at most one consumer at a time; its `deliveries` counts the
//!   leases handed out.
//! - The log is never trimmed past the oldest record a subscription still needs (its oldest
//!   pending or dead-lettered record, or the record after its cursor) unless it allows loss.
//!   A pending or dead-lettered record already trimmed is no longer needed (it is gone), so it
//!   does not hold the log.
//! - A subscription never starts inside the trimmed part of the log: it is created only if no
//!   record between its start and the oldest record kept was trimmed (start 0 means "from the
//!   oldest record kept").
//! - A nack names a lease by its record's seq and delivery count, and ends it only while that
//!   lease is the current one.

use serde::{Deserialize, Serialize};
use switchyard_model::log::{AddressFilter, LogFilter, LogRecord, Seq};
use switchyard_model::time::Timestamp;
use switchyard_model::{Segment, SpaceName};

/// The stored form of a [`LogFilter`] without its space (a subscription's row names it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFilter {
    /// Which addresses.
    pub address: AddressFilter,
    /// Only these kinds (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Only records about an instance entering this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Only transitions caused by this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

impl StoredFilter {
    /// The stored form of `filter`, without its space.
    pub fn of(filter: &LogFilter) -> StoredFilter {
        StoredFilter {
            address: filter.address.clone(),
            kinds: filter.kinds.clone(),
            state: filter.state.clone(),
            event: filter.event.clone(),
        }
    }

    /// The filter it stores, for `space`.
    pub fn into_filter(self, space: SpaceName) -> LogFilter {
        LogFilter { space, address: self.address, kinds: self.kinds, state: self.state, event: self.event }
    }
}

/// A page of a bucket's live keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListKeys {
    /// The space.
    pub space: SpaceName,
    /// The bucket.
    pub bucket: Segment,
    /// Only keys starting with this.
    pub prefix: String,
    /// Only keys after this one.
    pub after: Option<String>,
    /// At most this many.
    pub limit: u32,
    /// Keys that expired at or before this time are left out.
    pub now: Timestamp,
}

// ---------------------------------------------------------------------------------------------
// Retention

/// The log's extent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    /// The oldest seq kept (`None` when the log is empty).
    pub oldest: Option<Seq>,
    /// The newest seq written (0 before the first).
    pub newest: Seq,
    /// Records kept.
    pub records: u64,
    /// Bytes of the records kept (their addresses and payloads).
    pub bytes: u64,
    /// Bytes the store's files take on disk, where the backend knows (SQLite).
    pub file_bytes: Option<u64>,
}

/// An answer of [`crate::Store::read_log_kinds`].
#[derive(Debug, Clone, PartialEq)]
pub struct LogKindsPage {
    /// The records of the asked kinds, oldest first.
    pub records: Vec<LogRecord>,
    /// Every record of those kinds up to this seq is in `records` (the read's `after` when it
    /// found the log no longer): the next read starts here.
    pub through: Seq,
}
