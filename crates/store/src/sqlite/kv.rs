//! KV buckets on SQLite: the table the KV commands write through (`crate::commands::kv`, on
//! the writer thread inside the group's transaction) and the reads (on the reader pool). SQL
//! only; the rules and invariants are the commands'.
//!
//! The writer is alone, so a row it reads cannot change before it writes: the `…_for_update`
//! reads lock nothing.

use rusqlite::{OptionalExtension, Row, params};
use switchyard_model::{BucketRecord, KvEntry, KvKeyInfo, Segment, SpaceName, Timestamp};

use crate::error::StoreError;
use crate::kv_rules::*;
use crate::sqlite::SqliteStore;
use crate::sqlite::tables::SqliteTx;
use crate::streams::*;
use crate::tables::{ExpiredKey, KvKey, KvKeyRow, KvTable, KvValue, TxResult};

// ---------------------------------------------------------------------------------------------
// Writes

impl KvTable for SqliteTx<'_> {
    async fn kv_bucket_for_update(&mut self, space: &str, bucket: &str) -> TxResult<Option<(u32, Timestamp)>> {
        let row: Option<(i64, i64)> = self
            .conn
            .prepare_cached("SELECT history, created_at FROM kv_buckets WHERE space = ?1 AND name = ?2")?
            .query_row(params![space, bucket], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((history, created_at)) = row else { return Ok(None) };
        Ok(Some((stored_history(history)?, Timestamp(created_at))))
    }

    async fn kv_bucket_history(&mut self, space: &str, bucket: &str) -> TxResult<Option<u32>> {
        let history: Option<i64> = self
            .conn
            .prepare_cached("SELECT history FROM kv_buckets WHERE space = ?1 AND name = ?2")?
            .query_row(params![space, bucket], |r| r.get(0))
            .optional()?;
        Ok(history.map(stored_history).transpose()?)
    }

    async fn insert_kv_bucket(&mut self, space: &str, bucket: &str, history: u32, now: Timestamp) -> TxResult<bool> {
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO kv_buckets (space, name, history, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (space, name) DO NOTHING",
            )?
            .execute(params![space, bucket, history, now.0])?;
        Ok(inserted == 1)
    }

    async fn set_kv_bucket_history(&mut self, space: &str, bucket: &str, history: u32) -> TxResult<()> {
        self.conn
            .prepare_cached("UPDATE kv_buckets SET history = ?3 WHERE space = ?1 AND name = ?2")?
            .execute(params![space, bucket, history])?;
        Ok(())
    }

    async fn prune_kv_history(&mut self, space: &str, bucket: &str, history: u32) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "DELETE FROM kv_history WHERE space = ?1 AND bucket = ?2 AND revision <=
                   (SELECT k.revision FROM kv_keys k
                    WHERE k.space = kv_history.space AND k.bucket = kv_history.bucket
                      AND k.key = kv_history.key) - ?3",
            )?
            .execute(params![space, bucket, history])?;
        Ok(())
    }

    async fn kv_key_for_update(&mut self, key: KvKey<'_>) -> TxResult<Option<KvKeyRow>> {
        let row: Option<(i64, bool, Option<i64>, Option<i64>)> = self
            .conn
            .prepare_cached(
                "SELECT revision, deleted, expires_at, (SELECT history FROM kv_buckets WHERE space = ?1 AND name = ?2)
                 FROM kv_keys WHERE space = ?1 AND bucket = ?2 AND key = ?3",
            )?
            .query_row(params![key.space, key.bucket, key.key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        let Some((revision, deleted, expires_at, history)) = row else { return Ok(None) };
        Ok(Some(KvKeyRow {
            revision: crate::decode::revision(revision)?.get(),
            deleted,
            expires_at: expires_at.map(Timestamp),
            history: history.map(stored_history).transpose()?,
        }))
    }

    async fn archive_kv_key(&mut self, key: KvKey<'_>, cutoff: Option<u64>) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO kv_history
                   (space, bucket, key, revision, value, content_type, updated_at, expires_at, deleted)
                 SELECT space, bucket, key, revision, value, content_type, updated_at, expires_at, deleted
                 FROM kv_keys WHERE space = ?1 AND bucket = ?2 AND key = ?3",
            )?
            .execute(params![key.space, key.bucket, key.key])?;
        if let Some(cutoff) = cutoff {
            self.conn
                .prepare_cached(
                    "DELETE FROM kv_history WHERE space = ?1 AND bucket = ?2 AND key = ?3 AND revision <= ?4",
                )?
                .execute(params![key.space, key.bucket, key.key, cutoff])?;
        }
        Ok(())
    }

    async fn archive_kv_keys(&mut self, keys: &[(KvKey<'_>, Option<u64>)]) -> TxResult<()> {
        // A statement costs no round trip here.
        for (key, cutoff) in keys {
            self.archive_kv_key(*key, *cutoff).await?;
        }
        Ok(())
    }

    async fn put_kv_key(&mut self, key: KvKey<'_>, value: &KvValue<'_>, now: Timestamp) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO kv_keys (space, bucket, key, revision, value, content_type, updated_at, expires_at, deleted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)
                 ON CONFLICT (space, bucket, key) DO UPDATE SET revision = excluded.revision, value = excluded.value,
                   content_type = excluded.content_type, updated_at = excluded.updated_at,
                   expires_at = excluded.expires_at, deleted = 0",
            )?
            .execute(params![
                key.space,
                key.bucket,
                key.key,
                value.revision,
                value.value,
                value.content_type,
                now.0,
                value.expires_at.map(|t| t.0)
            ])?;
        Ok(())
    }

    async fn tombstone_kv_key(&mut self, key: KvKey<'_>, revision: u64, now: Timestamp) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE kv_keys SET revision = ?4, value = x'', content_type = '', updated_at = ?5, expires_at = NULL,
                   deleted = 1
                 WHERE space = ?1 AND bucket = ?2 AND key = ?3",
            )?
            .execute(params![key.space, key.bucket, key.key, revision, now.0])?;
        Ok(())
    }

    async fn tombstone_kv_keys(&mut self, keys: &[(KvKey<'_>, u64)], now: Timestamp) -> TxResult<()> {
        for (key, revision) in keys {
            self.tombstone_kv_key(*key, *revision, now).await?;
        }
        Ok(())
    }

    async fn expired_keys_for_update(&mut self, due: Timestamp, limit: u32) -> TxResult<Vec<ExpiredKey>> {
        // The predicate repeats the partial index's (`expires_at IS NOT NULL AND deleted = 0`)
        // so SQLite can use `kv_keys_by_expiry`.
        let mut stmt = self.conn.prepare_cached(
            "SELECT k.space, k.bucket, k.key, k.revision, b.history
             FROM kv_keys k LEFT JOIN kv_buckets b ON b.space = k.space AND b.name = k.bucket
             WHERE k.expires_at IS NOT NULL AND k.deleted = 0 AND k.expires_at <= ?1
             ORDER BY k.expires_at LIMIT +?2",
        )?;
        let mut rows = stmt.query(params![due.0, limit])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(ExpiredKey {
                space: row.get(0)?,
                bucket: row.get(1)?,
                key: row.get(2)?,
                revision: crate::decode::revision(row.get::<_, i64>(3)?)?.get(),
                history: row.get::<_, Option<i64>>(4)?.map(stored_history).transpose()?,
            });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Columns of a [`KvEntry`]: key, revision, value, content_type, updated_at, expires_at, deleted.
const ENTRY_COLUMNS: &str = "key, revision, value, content_type, updated_at, expires_at, deleted";

/// Decodes a row of [`ENTRY_COLUMNS`].
fn entry(row: &Row<'_>) -> Result<KvEntry, StoreError> {
    Ok(KvEntry {
        key: row.get(0)?,
        revision: crate::decode::revision(row.get::<_, i64>(1)?)?.get(),
        value: row.get(2)?,
        content_type: row.get(3)?,
        updated_at: Timestamp(row.get(4)?),
        expires_at: row.get::<_, Option<i64>>(5)?.map(Timestamp),
        deleted: row.get(6)?,
    })
}

/// A bucket from its stored parts.
fn bucket_record(space: SpaceName, name: Segment, history: i64, created_at: i64) -> Result<BucketRecord, StoreError> {
    Ok(BucketRecord { space, name, history: stored_history(history)?, created_at: Timestamp(created_at) })
}

/// A bucket.
pub(super) async fn get_bucket(
    store: &SqliteStore,
    space: &SpaceName,
    bucket: &Segment,
) -> Result<Option<BucketRecord>, StoreError> {
    let (space, bucket) = (space.clone(), bucket.clone());
    store
        .read(move |conn| {
            let row: Option<(i64, i64)> = conn
                .prepare_cached("SELECT history, created_at FROM kv_buckets WHERE space = ?1 AND name = ?2")?
                .query_row(params![space.as_ref(), bucket.as_ref()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            row.map(|(history, created_at)| bucket_record(space, bucket, history, created_at)).transpose()
        })
        .await
}

/// A space's buckets, by name.
pub(super) async fn list_buckets(store: &SqliteStore, space: &SpaceName) -> Result<Vec<BucketRecord>, StoreError> {
    let space = space.clone();
    store
        .read(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT name, history, created_at FROM kv_buckets WHERE space = ?1 ORDER BY name")?;
            let mut rows = stmt.query(params![space.as_ref()])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let name = crate::decode::segment(row.get(0)?)?;
                out.push(bucket_record(space.clone(), name, row.get(1)?, row.get(2)?)?);
            }
            Ok(out)
        })
        .await
}

/// A key's current row, live or not.
pub(super) async fn get(
    store: &SqliteStore,
    space: &SpaceName,
    bucket: &Segment,
    key: &str,
) -> Result<Option<KvEntry>, StoreError> {
    let (space, bucket, key) = (space.clone(), bucket.clone(), key.to_string());
    store
        .read(move |conn| {
            let sql = format!("SELECT {ENTRY_COLUMNS} FROM kv_keys WHERE space = ?1 AND bucket = ?2 AND key = ?3");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![space.as_ref(), bucket.as_ref(), key])?;
            rows.next()?.map(entry).transpose()
        })
        .await
}

/// A key's kept revisions, newest first: the current row, then the past ones.
pub(super) async fn history(
    store: &SqliteStore,
    space: &SpaceName,
    bucket: &Segment,
    key: &str,
    limit: u32,
) -> Result<Vec<KvEntry>, StoreError> {
    let (space, bucket, key) = (space.clone(), bucket.clone(), key.to_string());
    store
        .read(move |conn| {
            // Writes are serialised on one thread, so `kv_history` never holds more than the
            // bucket's window: no need to clamp to the bucket's history here.
            let sql = format!(
                "SELECT {ENTRY_COLUMNS} FROM kv_keys WHERE space = ?1 AND bucket = ?2 AND key = ?3
                 UNION ALL
                 SELECT {ENTRY_COLUMNS} FROM kv_history WHERE space = ?1 AND bucket = ?2 AND key = ?3
                 ORDER BY revision DESC LIMIT +?4"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![space.as_ref(), bucket.as_ref(), key, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(entry(row)?);
            }
            Ok(out)
        })
        .await
}

/// A page of a bucket's live keys, by key, without reading their values.
pub(super) async fn list_keys(store: &SqliteStore, query: &ListKeys) -> Result<Vec<KvKeyInfo>, StoreError> {
    let query = query.clone();
    store
        .read(move |conn| {
            let range = KeyRange::new(&query.prefix, query.after.as_deref());
            // One statement per shape of the range: SQLite plans a statement once, so optional
            // bounds written as `(? IS NULL OR ...)` would keep it from using the key index.
            // No LIKE: `%` and `_` in a prefix are plain characters. `length` of a blob is
            // read from the record header, so values are not loaded.
            let lower = match range.lower {
                Some((true, _)) => "AND key >= :lower",
                Some((false, _)) => "AND key > :lower",
                None => "",
            };
            let upper = if range.upper.is_some() { "AND key < :upper" } else { "" };
            let prefix = if query.prefix.is_empty() { "" } else { "AND substr(key, 1, length(:prefix)) = :prefix" };
            let sql = format!(
                "SELECT key, revision, length(value), content_type, updated_at, expires_at FROM kv_keys
                 WHERE space = :space AND bucket = :bucket {lower} {upper} {prefix}
                   AND deleted = 0 AND (expires_at IS NULL OR expires_at > :now)
                 ORDER BY key LIMIT :limit"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let (space, bucket): (&str, &str) = (query.space.as_ref(), query.bucket.as_ref());
            let mut params: Vec<(&str, &dyn rusqlite::ToSql)> =
                vec![(":space", &space), (":bucket", &bucket), (":now", &query.now.0), (":limit", &query.limit)];
            if let Some((_, lower)) = &range.lower {
                params.push((":lower", lower));
            }
            if let Some(upper) = &range.upper {
                params.push((":upper", upper));
            }
            if !query.prefix.is_empty() {
                params.push((":prefix", &query.prefix));
            }
            let mut rows = stmt.query(params.as_slice())?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let size: i64 = row.get(2)?;
                out.push(KvKeyInfo {
                    key: row.get(0)?,
                    revision: crate::decode::revision(row.get::<_, i64>(1)?)?.get(),
                    size: u64::try_from(size).map_err(|_| StoreError::Corrupt(format!("KV value size {size}")))?,
                    content_type: row.get(3)?,
                    updated_at: Timestamp(row.get(4)?),
                    expires_at: row.get::<_, Option<i64>>(5)?.map(Timestamp),
                });
            }
            Ok(out)
        })
        .await
}
