//! KV buckets: bucket puts, conditional key puts and deletes, and the TTL expiry sweep.
//!
//! Invariants (the conformance suite checks each):
//! - `kv_keys` holds every key ever written at its current revision; a deletion or an expiry
//!   leaves a tombstone there, never removes the row. So a key's revision only grows, by
//!   exactly one per put, delete or expiry, and is never reused.
//! - `kv_history` holds only past revisions: a key keeps at most `history` revisions in total,
//!   the current one plus the `history - 1` newest past ones.
//! - Every put, delete and expiry appends exactly one log record at the key's address
//!   (`space:bucket:key`), in the same transaction.
//! - Everything that can refuse (conditions, decoding, a revision that cannot grow) runs before
//!   a command's first write.
//!
//! Serialisation on PostgreSQL: a put or delete holds the key's advisory lock
//! `kv:{space}:{bucket}:{key}` and locks the key's row as it reads it. The expiry sweep takes
//! no advisory lock: it locks the rows it expires and skips those others hold, so it never
//! waits on a key a put holds, and a put that reaches the row after an expiry sees the
//! tombstone. One race is left on purpose: a `PutBucket` that shrinks a bucket's history
//! concurrently with a put into it (the put read the old history) may leave that key with past
//! revisions beyond the new window until its next write prunes them. Locking the bucket's row
//! from every put would make it a hot spot for the whole bucket, so `history` reads clamp to
//! the bucket's window instead (`postgres::kv`).

use serde::Serialize;
use switchyard_model::{
    BucketRecord, DEFAULT_KV_HISTORY, KvCondition, MAX_KV_HISTORY, Segment, Seq, SpaceName, Timestamp, kinds,
};

use super::{Command, Cx, Locking};
use crate::error::StoreError;
use crate::tables::{KvKey, KvKeyRow, KvValue, Locks, Tables, TxResult};

/// Creates a KV bucket, or changes the history it keeps, forgetting past revisions outside a
/// smaller window.
#[derive(Debug, Clone, PartialEq)]
pub struct PutBucket {
    /// The space.
    pub space: SpaceName,
    /// The bucket.
    pub bucket: Segment,
    /// Revisions kept per key (1..=`MAX_KV_HISTORY`).
    pub history: u32,
}

/// A bucket was created (`created`) or its history changed.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketPut {
    /// The bucket as it now is.
    pub bucket: BucketRecord,
    /// Whether it was created.
    pub created: bool,
    /// Whether this write created the space.
    pub space_created: bool,
}

request!(PutBucket => BucketPut(BucketPut));

impl Locking for PutBucket {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
    }
}

impl Command for PutBucket {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let (space, bucket) = (self.space.as_ref(), self.bucket.as_ref());
        let history = clamp_history(self.history);
        let mut existing = tx.kv_bucket_for_update(space, bucket).await?;
        if existing.is_none() {
            if tx.insert_kv_bucket(space, bucket, history, cx.now).await? {
                cx.touch_space(space);
                let bucket =
                    BucketRecord { space: self.space.clone(), name: self.bucket.clone(), history, created_at: cx.now };
                // `space_created` is set when the group's `spaces` rows are written.
                return Ok(BucketPut { bucket, created: true, space_created: false });
            }
            // Another node created it meanwhile (the insert waited for its commit): update that.
            existing = tx.kv_bucket_for_update(space, bucket).await?;
        }
        let Some((old, created_at)) = existing else { return Err(vanished(space, bucket)) };
        if old != history {
            tx.set_kv_bucket_history(space, bucket, history).await?;
        }
        if history < old {
            // Keys keep `history` revisions in total, the current one included, so past
            // revisions at or below `current - history` fall outside the new window.
            tx.prune_kv_history(space, bucket, history).await?;
        }
        let bucket = BucketRecord { space: self.space.clone(), name: self.bucket.clone(), history, created_at };
        Ok(BucketPut { bucket, created: false, space_created: false })
    }
}

/// Writes a KV key's next revision if its condition holds, archiving the one it replaces
/// (creating its bucket with the default history when there is none); appends a `kv.put`
/// record.
#[derive(Debug, Clone, PartialEq)]
pub struct KvPut {
    /// The space.
    pub space: SpaceName,
    /// The bucket.
    pub bucket: Segment,
    /// The key (validated by the caller).
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
    /// The value's content type.
    pub content_type: String,
    /// The value expires this long after the write, in milliseconds.
    pub ttl_ms: Option<u64>,
    /// Refuse with `KvConflict` unless this holds.
    pub condition: KvCondition,
}

/// A KV key was written or deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct KvWritten {
    /// The key's new revision.
    pub revision: u64,
    /// The log record of the write.
    pub seq: Seq,
    /// Whether this write created the space (a put that created the bucket).
    pub space_created: bool,
}

request!(KvPut => KvWritten(KvWritten));

impl Locking for KvPut {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.exclusive(format!("kv:{}:{}:{}", self.space, self.bucket, self.key));
        locks.writes_into(self.space.as_ref());
    }
}

impl Command for KvPut {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let (space, bucket) = (self.space.as_ref(), self.bucket.as_ref());
        let key = KvKey { space, bucket, key: &self.key };
        let address = address(key);
        let current = tx.kv_key_for_update(key).await?;
        check_put(self.condition, current.map(|row| KeyState::of(&row, cx.now)), &address)?;
        // A tombstone's or an expired value's revision counts too: revisions never repeat.
        let revision = match current {
            Some(row) => KeyState::of(&row, cx.now).next_revision()?,
            None => 1,
        };
        let history = match current.and_then(|row| row.history) {
            Some(history) => history,
            None => ensure_bucket(tx, cx, space, bucket).await?,
        };
        if current.is_some() {
            archive(tx, key, revision, history).await?;
        }
        let expires_at = expiry(cx.now, self.ttl_ms);
        let value = KvValue { revision, value: &self.value, content_type: &self.content_type, expires_at };
        tx.put_kv_key(key, &value, cx.now).await?;
        let record = KvPutRecord::new(bucket, &self.key, revision, &self.value, &self.content_type, expires_at);
        cx.append(tx, space, kinds::KV_PUT, address, &record, None, true).await?;
        // The seq and `space_created` are patched in when the group's rows are written.
        Ok(KvWritten { revision, seq: Seq(0), space_created: false })
    }
}

/// Deletes a live KV key if its condition holds, leaving a tombstone revision; appends a
/// `kv.deleted` record.
#[derive(Debug, Clone, PartialEq)]
pub struct KvDelete {
    /// The space.
    pub space: SpaceName,
    /// The bucket.
    pub bucket: Segment,
    /// The key.
    pub key: String,
    /// Refuse with `KvConflict` unless this holds (`Absent` is not meaningful here).
    pub condition: KvCondition,
}

request!(KvDelete => KvWritten(KvWritten));

impl Locking for KvDelete {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.exclusive(format!("kv:{}:{}:{}", self.space, self.bucket, self.key));
        locks.writes_into(self.space.as_ref());
    }
}

impl Command for KvDelete {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let (space, bucket) = (self.space.as_ref(), self.bucket.as_ref());
        let key = KvKey { space, bucket, key: &self.key };
        let address = address(key);
        let current = tx.kv_key_for_update(key).await?;
        let state = check_delete(self.condition, current.map(|row| KeyState::of(&row, cx.now)), &address)?;
        // A key whose bucket row is missing (it cannot be, short of corruption) keeps the default.
        let history = current.and_then(|row| row.history).unwrap_or(DEFAULT_KV_HISTORY);
        let revision = state.next_revision()?;
        archive(tx, key, revision, history).await?;
        tx.tombstone_kv_key(key, revision, cx.now).await?;
        let record = KvDeletedRecord { bucket, key: &self.key, revision, reason: DeleteReason::Deleted };
        cx.append(tx, space, kinds::KV_DELETED, address, &record, None, true).await?;
        Ok(KvWritten { revision, seq: Seq(0), space_created: false })
    }
}

/// Deletes up to `limit` keys whose TTL ended at or before `now`, each with a `kv.deleted`
/// record: turns them into tombstones in a fixed number of statements however many expire.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpireKv {
    /// The time the TTLs are compared with.
    pub now: Timestamp,
    /// At most this many keys.
    pub limit: u32,
}

request!(ExpireKv => KvExpired(u64));

impl Locking for ExpireKv {
    /// None: a sweep across spaces locks the rows it changes instead, skipping those others hold.
    fn locks<'a>(&'a self, _: &mut Locks<'a>) {}
}

impl Command for ExpireKv {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let due = tx.expired_keys_for_update(self.now, self.limit).await?;
        if due.is_empty() {
            return Ok(0);
        }
        // Every revision is computed before the first write, so a corrupt row refuses cleanly.
        let mut tombstones = Vec::with_capacity(due.len());
        let mut archived = Vec::new();
        for d in &due {
            let key = KvKey { space: &d.space, bucket: &d.bucket, key: &d.key };
            let revision = KeyState { revision: d.revision, live: true }.next_revision()?;
            let history = d.history.unwrap_or(DEFAULT_KV_HISTORY);
            if history > 1 {
                archived.push((key, history_cutoff(revision, history)));
            }
            tombstones.push((key, revision));
        }
        if !archived.is_empty() {
            tx.archive_kv_keys(&archived).await?;
        }
        tx.tombstone_kv_keys(&tombstones, cx.now).await?;
        for (key, revision) in tombstones {
            let record = KvDeletedRecord { bucket: key.bucket, key: key.key, revision, reason: DeleteReason::Expired };
            cx.append(tx, key.space, kinds::KV_DELETED, address(key), &record, None, false).await?;
        }
        Ok(due.len() as u64)
    }
}

/// The refusal for a bucket row that disappeared while a command wrote it.
fn vanished(space: &str, bucket: &str) -> crate::tables::TxError {
    StoreError::Backend(format!("KV bucket \"{space}:{bucket}\" vanished while being written")).into()
}

/// The bucket's history, creating the bucket with the default history when there is none.
async fn ensure_bucket<T: Tables>(tx: &mut T, cx: &mut Cx<'_>, space: &str, bucket: &str) -> TxResult<u32> {
    if let Some(history) = tx.kv_bucket_history(space, bucket).await? {
        return Ok(history);
    }
    if tx.insert_kv_bucket(space, bucket, DEFAULT_KV_HISTORY, cx.now).await? {
        cx.touch_space(space);
        return Ok(DEFAULT_KV_HISTORY);
    }
    // Another node created it meanwhile (the insert waited for its commit, then did nothing).
    tx.kv_bucket_history(space, bucket).await?.ok_or_else(|| vanished(space, bucket))
}

/// Moves the key's current row into its past revisions (when the bucket keeps any) and forgets
/// the past revisions that fall outside the window once `next` is current.
async fn archive<T: Tables>(tx: &mut T, key: KvKey<'_>, next: u64, history: u32) -> TxResult<()> {
    if history <= 1 {
        return Ok(());
    }
    tx.archive_kv_key(key, history_cutoff(next, history)).await
}

/// A key's current row, as far as a condition is concerned.
#[derive(Debug, Clone, Copy)]
struct KeyState {
    /// Its revision (a tombstone's too).
    revision: u64,
    /// Whether it is a value that has not expired.
    live: bool,
}

impl KeyState {
    /// The state of a stored row at `now`.
    fn of(row: &KvKeyRow, now: Timestamp) -> KeyState {
        KeyState { revision: row.revision, live: !row.deleted && row.expires_at.is_none_or(|at| at > now) }
    }

    /// The revision the next write of this key gets: one more than any it ever had (and no
    /// more than a revision column holds).
    fn next_revision(self) -> Result<u64, StoreError> {
        self.revision
            .checked_add(1)
            .filter(|r| i64::try_from(*r).is_ok())
            .ok_or_else(|| StoreError::Corrupt(format!("KV revision {}", self.revision)))
    }
}

/// The address of a key: `space:bucket:key`.
fn address(key: KvKey<'_>) -> String {
    format!("{}:{}:{}", key.space, key.bucket, key.key)
}

/// Checks a put's condition against the key's current row (`None`: never written).
fn check_put(condition: KvCondition, current: Option<KeyState>, address: &str) -> Result<(), StoreError> {
    let live = current.filter(|c| c.live).map(|c| c.revision);
    let holds = match condition {
        KvCondition::Always => true,
        KvCondition::Revision(r) => live == Some(r),
        KvCondition::Absent => live.is_none(),
    };
    if holds { Ok(()) } else { Err(StoreError::KvConflict { address: address.to_string(), current: live }) }
}

/// Checks a delete's condition: the key must be live (else `KvNotFound`) and, under
/// `Revision`, at that revision. Returns the live state. `Absent` cannot hold for a live key.
fn check_delete(condition: KvCondition, current: Option<KeyState>, address: &str) -> Result<KeyState, StoreError> {
    let Some(current) = current.filter(|c| c.live) else {
        return Err(StoreError::KvNotFound { address: address.to_string() });
    };
    match condition {
        KvCondition::Always => Ok(current),
        KvCondition::Revision(r) if r == current.revision => Ok(current),
        KvCondition::Revision(_) | KvCondition::Absent => {
            Err(StoreError::KvConflict { address: address.to_string(), current: Some(current.revision) })
        }
    }
}

/// A bucket's history as asked for, clamped to 1..=[`MAX_KV_HISTORY`].
fn clamp_history(history: u32) -> u32 {
    history.clamp(1, MAX_KV_HISTORY)
}

/// When a value written at `now` with this TTL expires.
fn expiry(now: Timestamp, ttl_ms: Option<u64>) -> Option<Timestamp> {
    ttl_ms.map(|ttl| Timestamp(now.0.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX))))
}

/// Past revisions at or below this one fall outside the window of a key at `revision` in a
/// bucket keeping `history` revisions (`None`: nothing does).
fn history_cutoff(revision: u64, history: u32) -> Option<u64> {
    revision.checked_sub(u64::from(history)).filter(|c| *c > 0)
}

/// The payload of a `kv.put` record, serialised from borrowed parts (this is a hot path: the
/// value is not copied unless it needs base64).
#[derive(Serialize)]
struct KvPutRecord<'a> {
    /// The bucket.
    bucket: &'a str,
    /// The key.
    key: &'a str,
    /// The new revision.
    revision: u64,
    /// The value's content type.
    content_type: &'a str,
    /// The value, when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    /// The value in standard base64, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    value_base64: Option<String>,
    /// RFC 3339 with milliseconds, when the value has a TTL.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

impl<'a> KvPutRecord<'a> {
    /// The record of a put of `value` at `revision`.
    fn new(
        bucket: &'a str,
        key: &'a str,
        revision: u64,
        value: &'a [u8],
        content_type: &'a str,
        expires_at: Option<Timestamp>,
    ) -> Self {
        use base64::Engine as _;
        let (value, value_base64) = match std::str::from_utf8(value) {
            Ok(text) => (Some(text), None),
            Err(_) => (None, Some(base64::engine::general_purpose::STANDARD.encode(value))),
        };
        KvPutRecord {
            bucket,
            key,
            revision,
            content_type,
            value,
            value_base64,
            expires_at: expires_at.map(Timestamp::to_rfc3339),
        }
    }
}

/// Why a key was deleted, as its `kv.deleted` record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum DeleteReason {
    /// A `KvDelete`.
    Deleted,
    /// Its TTL ended (`ExpireKv`).
    Expired,
}

/// The payload of a `kv.deleted` record.
#[derive(Serialize)]
struct KvDeletedRecord<'a> {
    /// The bucket.
    bucket: &'a str,
    /// The key.
    key: &'a str,
    /// The tombstone's revision.
    revision: u64,
    /// Deleted or expired.
    reason: DeleteReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_decide_as_documented() {
        let live = Some(KeyState { revision: 3, live: true });
        let dead = Some(KeyState { revision: 3, live: false });
        let conflict = |r: Result<(), StoreError>| match r {
            Err(StoreError::KvConflict { current, .. }) => Some(current),
            Ok(()) => None,
            Err(other) => panic!("unexpected {other}"),
        };
        assert_eq!(conflict(check_put(KvCondition::Revision(3), live, "a")), None);
        assert_eq!(conflict(check_put(KvCondition::Revision(2), live, "a")), Some(Some(3)));
        assert_eq!(conflict(check_put(KvCondition::Revision(3), dead, "a")), Some(None));
        assert_eq!(conflict(check_put(KvCondition::Absent, dead, "a")), None);
        assert_eq!(conflict(check_put(KvCondition::Absent, None, "a")), None);
        assert_eq!(conflict(check_put(KvCondition::Absent, live, "a")), Some(Some(3)));
        assert!(matches!(check_delete(KvCondition::Always, dead, "a"), Err(StoreError::KvNotFound { .. })));
        assert!(matches!(check_delete(KvCondition::Revision(3), live, "a"), Ok(KeyState { revision: 3, .. })));
        assert!(matches!(check_delete(KvCondition::Absent, live, "a"), Err(StoreError::KvConflict { .. })));
    }

    #[test]
    fn history_window_keeps_history_revisions_in_total() {
        assert_eq!(history_cutoff(3, 3), None);
        assert_eq!(history_cutoff(4, 3), Some(1));
        assert_eq!(history_cutoff(10, 1), Some(9));
    }

    #[test]
    fn a_revision_never_grows_past_what_a_column_holds() {
        let at = |revision| KeyState { revision, live: true }.next_revision().ok();
        assert_eq!(at(1), Some(2));
        assert_eq!(at(i64::MAX as u64 - 1), Some(i64::MAX as u64));
        assert_eq!(at(i64::MAX as u64), None);
    }

    #[test]
    fn liveness_follows_the_tombstone_and_the_ttl() {
        let row = |deleted, expires_at| KvKeyRow { revision: 1, deleted, expires_at, history: None };
        let now = Timestamp(1_000);
        assert!(KeyState::of(&row(false, None), now).live);
        assert!(KeyState::of(&row(false, Some(Timestamp(1_001))), now).live);
        assert!(!KeyState::of(&row(false, Some(Timestamp(1_000))), now).live);
        assert!(!KeyState::of(&row(true, None), now).live);
    }
}
