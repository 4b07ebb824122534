//! Streams as the product knows them: KV buckets and their entries, durable subscriptions with
//! their deliveries and dead letters.

use crate::log::{LogFilter, LogRecord, Seq};
use crate::time::Timestamp;
use crate::{Segment, SpaceName};

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
