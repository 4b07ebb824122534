//! KV buckets: validation of bucket names, keys and settings, and the reads and writes of keys.
//!
//! The store applies every write (and checks its precondition) under the same serialisation
//! as the log append that records it, so a compare-and-set has exactly one winner per
//! revision on every backend. Liveness (deleted, expired) is decided here for reads, against
//! this node's clock; the store's expiry sweep only turns expired keys into tombstones and
//! log records, it is not what hides them.

use std::time::Duration;

use switchyard_model::{BucketRecord, KvCondition, KvEntry, KvKeyInfo, MAX_KV_HISTORY, Seq};
use switchyard_store::*;

use crate::{Engine, EngineError, parse_segment, parse_space};

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 256;

/// The content type of a value put without one.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The longest TTL a value may have.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Keys whose TTL ended are turned into tombstones at most this many per store write.
const EXPIRE_CHUNK: u32 = 500;

/// Checks a key: 1..=256 bytes of `A-Z a-z 0-9 _ - . / =` (no `:`, so a key's address
/// `space:bucket:key` parses back unambiguously, and no `*`, which ends a watch pattern).
pub fn check_kv_key(key: &str) -> Result<(), EngineError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(EngineError::validation(format!("key must be 1-{MAX_KEY_LEN} bytes")));
    }
    if let Some(c) = key.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '='))) {
        return Err(EngineError::validation(format!(
            "key \"{key}\": character {c:?} is not allowed (use letters, digits and _ - . / =)"
        )));
    }
    Ok(())
}

/// Checks a key prefix for listing: the key alphabet, possibly empty.
fn check_prefix(prefix: &str) -> Result<(), EngineError> {
    if prefix.is_empty() { Ok(()) } else { check_kv_key(prefix) }
}

/// A page of keys.
#[derive(Debug, Clone)]
pub struct KeyPage {
    /// The keys, in byte order.
    pub keys: Vec<KvKeyInfo>,
    /// Pass as `after` for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// A KV write, as the API received it.
#[derive(Debug, Clone)]
pub struct KvPutRequest {
    /// The value.
    pub value: Vec<u8>,
    /// Its content type (`application/octet-stream` when absent).
    pub content_type: Option<String>,
    /// How long the value lives.
    pub ttl: Option<Duration>,
    /// The precondition.
    pub condition: KvCondition,
}

impl Engine {
    /// Creates a bucket or changes the history it keeps per key.
    pub async fn put_bucket(
        &self,
        space: &str,
        bucket: &str,
        history: u32,
    ) -> Result<(BucketRecord, bool), EngineError> {
        let space = parse_space(space)?;
        let bucket = parse_segment("bucket", bucket)?;
        if !(1..=MAX_KV_HISTORY).contains(&history) {
            return Err(EngineError::validation(format!("history must be 1-{MAX_KV_HISTORY}, not {history}")));
        }
        let put = self.execute(PutBucket { space, bucket, history }).await?;
        Ok((put.bucket, put.created))
    }

    /// A bucket.
    pub async fn get_bucket(&self, space: &str, bucket: &str) -> Result<BucketRecord, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("bucket", bucket)?;
        self.store
            .get_bucket(&space, &name)
            .await?
            .ok_or_else(|| EngineError::BucketNotFound(format!("{space}:{name}")))
    }

    /// Every bucket of a space.
    pub async fn list_buckets(&self, space: &str) -> Result<Vec<BucketRecord>, EngineError> {
        Ok(self.store.list_buckets(&parse_space(space)?).await?)
    }

    /// Writes a key; returns its new revision and the seq of its `kv.put` record.
    pub async fn kv_put(
        &self,
        space: &str,
        bucket: &str,
        key: &str,
        put: KvPutRequest,
    ) -> Result<(u64, Seq), EngineError> {
        let space = parse_space(space)?;
        let bucket = parse_segment("bucket", bucket)?;
        check_kv_key(key)?;
        self.admit_storage(space.as_str())?;
        let ttl_ms = match put.ttl {
            Some(ttl) if ttl.is_zero() => return Err(EngineError::validation("ttl must be positive")),
            Some(ttl) if ttl > MAX_TTL => return Err(EngineError::validation("ttl must be at most 100 years")),
            Some(ttl) => Some(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)),
            None => None,
        };
        let content_type = match put.content_type {
            Some(ct) if ct.len() > 255 || ct.chars().any(char::is_control) => {
                return Err(EngineError::validation("content type must be at most 255 printable characters"));
            }
            Some(ct) if !ct.is_empty() => ct,
            _ => DEFAULT_CONTENT_TYPE.to_string(),
        };
        let op = KvPut {
            space,
            bucket,
            key: key.to_string(),
            value: put.value,
            content_type,
            ttl_ms,
            condition: put.condition,
        };
        let written = self.execute(op).await?;
        Ok((written.revision, written.seq))
    }

    /// A key's live value (deleted and expired keys are not found).
    pub async fn kv_get(&self, space: &str, bucket: &str, key: &str) -> Result<KvEntry, EngineError> {
        let space = parse_space(space)?;
        let bucket = parse_segment("bucket", bucket)?;
        check_kv_key(key)?;
        let now = self.now();
        match self.store.kv_get(&space, &bucket, key).await? {
            Some(entry) if entry.is_live(now) => Ok(entry),
            _ => Err(StoreError::KvNotFound { address: format!("{space}:{bucket}:{key}") }.into()),
        }
    }

    /// Deletes a live key; returns the tombstone's revision and the seq of its `kv.deleted`
    /// record.
    pub async fn kv_delete(
        &self,
        space: &str,
        bucket: &str,
        key: &str,
        condition: KvCondition,
    ) -> Result<(u64, Seq), EngineError> {
        let space = parse_space(space)?;
        let bucket = parse_segment("bucket", bucket)?;
        check_kv_key(key)?;
        if condition == KvCondition::Absent {
            return Err(EngineError::validation("If-None-Match does not apply to a delete"));
        }
        let written = self.execute(KvDelete { space, bucket, key: key.to_string(), condition }).await?;
        Ok((written.revision, written.seq))
    }

    /// A key's kept revisions, newest first, tombstones included; a key never written is not
    /// found.
    pub async fn kv_history(
        &self,
        space: &str,
        bucket: &str,
        key: &str,
        limit: u32,
    ) -> Result<Vec<KvEntry>, EngineError> {
        let space = parse_space(space)?;
        let bucket = parse_segment("bucket", bucket)?;
        check_kv_key(key)?;
        let entries = self.store.kv_history(&space, &bucket, key, limit.clamp(1, MAX_KV_HISTORY)).await?;
        if entries.is_empty() {
            return Err(StoreError::KvNotFound { address: format!("{space}:{bucket}:{key}") }.into());
        }
        Ok(entries)
    }

    /// A page of a bucket's live keys starting with `prefix`, after `after`.
    pub async fn list_keys(
        &self,
        space: &str,
        bucket: &str,
        prefix: &str,
        after: Option<String>,
        limit: u32,
    ) -> Result<KeyPage, EngineError> {
        let space = parse_space(space)?;
        let bucket = parse_segment("bucket", bucket)?;
        check_prefix(prefix)?;
        let limit = limit.clamp(1, 1000);
        let query = ListKeys { space, bucket, prefix: prefix.to_string(), after, limit, now: self.now() };
        let keys = self.store.list_keys(&query).await?;
        let next_cursor = if keys.len() == limit as usize { keys.last().map(|k| k.key.clone()) } else { None };
        Ok(KeyPage { keys, next_cursor })
    }

    /// Turns keys whose TTL ended into tombstones (with their `kv.deleted` records), in
    /// chunks; returns how many.
    pub async fn expire_kv(&self) -> Result<u64, EngineError> {
        // One `now` for the whole sweep: a key that expires while it runs waits for the next one.
        let now = self.now();
        self.sweep(EXPIRE_CHUNK, |limit| ExpireKv { now, limit }).await
    }
}
