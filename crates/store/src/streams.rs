//! Records and filters of the streaming features: log filters (shared by watches and durable
//! subscriptions), KV buckets and entries, durable subscriptions and their deliveries, and the
//! log's retention statistics.
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
use switchyard_model::{Segment, SpaceName};

use crate::types::{LogRecord, Seq, Timestamp};

/// Which addresses a log filter passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum AddressFilter {
    /// Everything in the space.
    Any,
    /// Exactly this address.
    Exact(String),
    /// Addresses starting with this prefix (from a pattern ending in `*`).
    Prefix(String),
}

impl AddressFilter {
    /// The filter written as a pattern (`*`, an address, or a prefix followed by `*`).
    pub fn to_pattern(&self) -> String {
        match self {
            AddressFilter::Any => "*".to_string(),
            AddressFilter::Exact(a) => a.clone(),
            AddressFilter::Prefix(p) => format!("{p}*"),
        }
    }
}

/// Which log records a watch or a subscription passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter {
    /// The space followed.
    pub space: SpaceName,
    /// Which addresses.
    pub address: AddressFilter,
    /// Only these kinds (all when empty).
    pub kinds: Vec<String>,
    /// Only records about an instance entering (or created in) this state.
    pub state: Option<String>,
    /// Only transitions caused by this event.
    pub event: Option<String>,
}

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

impl LogFilter {
    /// Whether a record of this space, kind and address can pass: the test on a record's
    /// columns, without its payload (which `state` and `event` need).
    pub fn matches_columns(&self, space: &str, kind: &str, address: &str) -> bool {
        let address_ok = match &self.address {
            AddressFilter::Any => true,
            AddressFilter::Exact(a) => address == a,
            AddressFilter::Prefix(p) => address.starts_with(p.as_str()),
        };
        space == self.space.as_str() && address_ok && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind))
    }

    /// Whether `record` passes. A record marked unreadable passes on its columns alone: its
    /// payload, which `state` and `event` test, is unknown, and a reader of its space is better
    /// told of it than left to miss it unawares.
    pub fn matches(&self, record: &LogRecord) -> bool {
        if !self.matches_columns(record.space.as_str(), &record.kind, &record.address) {
            return false;
        }
        if !record.is_readable() {
            return true;
        }
        // A created record names its state as `state`, a transition as `to`.
        let state_ok = self.state.as_deref().is_none_or(|s| {
            record.payload.get("to").or_else(|| record.payload.get("state")).and_then(|v| v.as_str()) == Some(s)
        });
        let event_ok =
            self.event.as_deref().is_none_or(|e| record.payload.get("event").and_then(|v| v.as_str()) == Some(e));
        state_ok && event_ok
    }

    /// The filter without its space, as a subscription stores it.
    pub fn to_stored(&self) -> StoredFilter {
        StoredFilter {
            address: self.address.clone(),
            kinds: self.kinds.clone(),
            state: self.state.clone(),
            event: self.event.clone(),
        }
    }

    /// A stored filter for `space`.
    pub fn from_stored(space: SpaceName, stored: StoredFilter) -> LogFilter {
        LogFilter { space, address: stored.address, kinds: stored.kinds, state: stored.state, event: stored.event }
    }
}

// ---------------------------------------------------------------------------------------------
// KV buckets

/// The history a bucket keeps per key when none is configured: the current value only.
pub const DEFAULT_KV_HISTORY: u32 = 1;

/// The most revisions a bucket may keep per key.
pub const MAX_KV_HISTORY: u32 = 64;

/// A KV bucket as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRecord {
    /// The space it lives in.
    pub space: SpaceName,
    /// Its name.
    pub name: Segment,
    /// Revisions kept per key, the current one included (1..=[`MAX_KV_HISTORY`]).
    pub history: u32,
    /// When it was created (explicitly, or by the first put into it).
    pub created_at: Timestamp,
}

/// One revision of a KV key: its current value, a past value, or a deletion (tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The key.
    pub key: String,
    /// Its revision: 1 for the first put, one more for every put or delete since.
    pub revision: u64,
    /// The value (empty for a deletion).
    pub value: Vec<u8>,
    /// The value's content type.
    pub content_type: String,
    /// When this revision was written.
    pub updated_at: Timestamp,
    /// When this revision stops being visible, if it has a TTL.
    pub expires_at: Option<Timestamp>,
    /// Whether this revision deleted the key (or its TTL expired).
    pub deleted: bool,
}

impl KvEntry {
    /// Whether this revision is a live value at `now`: not a deletion and not expired.
    pub fn is_live(&self, now: Timestamp) -> bool {
        !self.deleted && self.expires_at.is_none_or(|at| at > now)
    }
}

/// A KV key's metadata, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvKeyInfo {
    /// The key.
    pub key: String,
    /// Its current revision.
    pub revision: u64,
    /// The current value's size in bytes.
    pub size: u64,
    /// The current value's content type.
    pub content_type: String,
    /// When it was last written.
    pub updated_at: Timestamp,
    /// When it expires, if it has a TTL.
    pub expires_at: Option<Timestamp>,
}

/// A precondition on a KV write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvCondition {
    /// None: the write always applies.
    Always,
    /// The key is live at exactly this revision (`If-Match`).
    Revision(u64),
    /// The key is not live: never written, deleted or expired (`If-None-Match: *`).
    Absent,
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
// Durable subscriptions

/// A durable subscription's settings, as created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    /// Which records it follows (its space is the subscription's space).
    pub filter: LogFilter,
    /// Its name, unique within the space.
    pub name: Segment,
    /// It delivers records with a seq above this (fixed when it is first created). 0 is "from
    /// the oldest record kept"; another start before the oldest record kept is refused with
    /// `SeqExpired`.
    pub start_after: Seq,
    /// A record leased this many times without an ack becomes a dead letter.
    pub max_deliveries: u32,
    /// The lease a pull gives when it names none, in milliseconds.
    pub ack_wait_ms: u64,
    /// Whether retention may trim records it has not acked (it then skips them).
    pub allow_loss: bool,
}

/// A durable subscription, as stored, with its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// Its settings.
    pub spec: SubscriptionSpec,
    /// Every record at or below this seq has been examined (delivered, or not passed by the
    /// filter).
    pub cursor: Seq,
    /// Records delivered and not yet acked, leased or waiting for redelivery.
    pub pending: u64,
    /// Of those, how many are leased right now.
    pub leased: u64,
    /// Records that reached `max_deliveries` without an ack.
    pub dead_letters: u64,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A record leased to a consumer by a pull.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The log record.
    pub record: LogRecord,
    /// How many times it has been leased, this time included.
    pub deliveries: u32,
    /// When the lease ends; unacked by then, it is delivered again.
    pub lease_expires_at: Timestamp,
}

/// A record that reached its subscription's `max_deliveries` without an ack.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Its seq.
    pub seq: Seq,
    /// The log record (`None` when retention trimmed it, which only a subscription that
    /// allows loss permits).
    pub record: Option<LogRecord>,
    /// How many times it was leased.
    pub deliveries: u32,
    /// When it became a dead letter.
    pub dead_at: Timestamp,
}

/// What a pull asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// The subscription's space.
    pub space: SpaceName,
    /// The subscription.
    pub name: Segment,
    /// At most this many records.
    pub max: u32,
    /// How long the lease lasts, in milliseconds.
    pub lease_ms: u64,
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

/// How far retention may trim the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrimLog {
    /// Records written before this are removed.
    pub older_than: Timestamp,
    /// Oldest records are removed while the log's bytes exceed this.
    pub max_bytes: Option<u64>,
    /// At most this many records per call (the caller repeats while a full chunk went).
    pub limit: u32,
}
