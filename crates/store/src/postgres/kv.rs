//! KV buckets on PostgreSQL: the table the KV commands write through (`crate::commands::kv`,
//! inside a group's transaction, with the key's advisory lock already held) and the reads. SQL
//! only; the rules and invariants are the commands'.
//!
//! The many-key writes of the expiry sweep take a fixed number of statements however many keys
//! expire. `history` reads clamp to the bucket's window: a history shrunk concurrently with a
//! put may leave a key with one past revision too many until its next write (see
//! `commands::kv`).

use switchyard_model::{BucketRecord, KvEntry, KvKeyInfo, Segment, SpaceName, Timestamp};
use tokio_postgres::Row;

use crate::error::StoreError;
use crate::kv_rules::*;
use crate::postgres::PgStore;
use crate::postgres::tables::{PgTx, bigint};
use crate::streams::*;
use crate::tables::{ExpiredKey, KvKey, KvKeyRow, KvTable, KvValue, TxResult};

// ---------------------------------------------------------------------------------------------
// Writes

impl KvTable for PgTx<'_, '_> {
    async fn kv_bucket_for_update(&mut self, space: &str, bucket: &str) -> TxResult<Option<(u32, Timestamp)>> {
        let stmt = self
            .tx
            .prepare_cached("SELECT history, created_at FROM kv_buckets WHERE space = $1 AND name = $2 FOR UPDATE")
            .await?;
        let Some(row) = self.tx.query_opt(&stmt, &[&space, &bucket]).await? else { return Ok(None) };
        Ok(Some((stored_history(row.get::<_, i32>(0))?, Timestamp(row.get(1)))))
    }

    async fn kv_bucket_history(&mut self, space: &str, bucket: &str) -> TxResult<Option<u32>> {
        let stmt = self.tx.prepare_cached("SELECT history FROM kv_buckets WHERE space = $1 AND name = $2").await?;
        let row = self.tx.query_opt(&stmt, &[&space, &bucket]).await?;
        Ok(row.map(|row| stored_history(row.get::<_, i32>(0))).transpose()?)
    }

    async fn insert_kv_bucket(&mut self, space: &str, bucket: &str, history: u32, now: Timestamp) -> TxResult<bool> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO kv_buckets (space, name, history, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (space, name) DO NOTHING",
            )
            .await?;
        Ok(self.tx.execute(&stmt, &[&space, &bucket, &(history as i32), &now.0]).await? == 1)
    }

    async fn set_kv_bucket_history(&mut self, space: &str, bucket: &str, history: u32) -> TxResult<()> {
        let stmt = self.tx.prepare_cached("UPDATE kv_buckets SET history = $3 WHERE space = $1 AND name = $2").await?;
        self.tx.execute(&stmt, &[&space, &bucket, &(history as i32)]).await?;
        Ok(())
    }

    async fn prune_kv_history(&mut self, space: &str, bucket: &str, history: u32) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "DELETE FROM kv_history h USING kv_keys k
                 WHERE h.space = $1 AND h.bucket = $2 AND k.space = h.space AND k.bucket = h.bucket AND k.key = h.key
                   AND h.revision <= k.revision - $3",
            )
            .await?;
        self.tx.execute(&stmt, &[&space, &bucket, &i64::from(history)]).await?;
        Ok(())
    }

    async fn kv_key_for_update(&mut self, key: KvKey<'_>) -> TxResult<Option<KvKeyRow>> {
        let stmt = self
            .tx
            .prepare_cached(
                "SELECT revision, deleted, expires_at, (SELECT history FROM kv_buckets WHERE space = $1 AND name = $2)
                 FROM kv_keys WHERE space = $1 AND bucket = $2 AND key = $3 FOR UPDATE",
            )
            .await?;
        let Some(row) = self.tx.query_opt(&stmt, &[&key.space, &key.bucket, &key.key]).await? else {
            return Ok(None);
        };
        Ok(Some(KvKeyRow {
            revision: crate::decode::revision(row.get::<_, i64>(0))?.get(),
            deleted: row.get(1),
            expires_at: row.get::<_, Option<i64>>(2).map(Timestamp),
            history: row.get::<_, Option<i32>>(3).map(stored_history).transpose()?,
        }))
    }

    async fn archive_kv_key(&mut self, key: KvKey<'_>, cutoff: Option<u64>) -> TxResult<()> {
        // One round trip: the CTE copies the row as it was before this statement (all parts of
        // a statement see one snapshot), and the value never leaves the server.
        let stmt = self
            .tx
            .prepare_cached(
                "WITH moved AS (
                   INSERT INTO kv_history
                     (space, bucket, key, revision, value, content_type, updated_at, expires_at, deleted)
                   SELECT space, bucket, key, revision, value, content_type, updated_at, expires_at, deleted
                   FROM kv_keys WHERE space = $1 AND bucket = $2 AND key = $3
                 )
                 DELETE FROM kv_history WHERE space = $1 AND bucket = $2 AND key = $3 AND revision <= $4",
            )
            .await?;
        // No cutoff: 0 matches no revision.
        let cutoff = bigint(cutoff.unwrap_or(0))?;
        self.tx.execute(&stmt, &[&key.space, &key.bucket, &key.key, &cutoff]).await?;
        Ok(())
    }

    async fn archive_kv_keys(&mut self, keys: &[(KvKey<'_>, Option<u64>)]) -> TxResult<()> {
        let (spaces, buckets, names) = columns(keys.iter().map(|(key, _)| key));
        let cutoffs = keys.iter().map(|(_, cutoff)| bigint(cutoff.unwrap_or(0))).collect::<TxResult<Vec<i64>>>()?;
        let stmt = self
            .tx
            .prepare_cached(
                "WITH d AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
                            AS d(space, bucket, key, cutoff)),
                 moved AS (
                   INSERT INTO kv_history
                     (space, bucket, key, revision, value, content_type, updated_at, expires_at, deleted)
                   SELECT k.space, k.bucket, k.key, k.revision, k.value, k.content_type, k.updated_at, k.expires_at,
                     k.deleted
                   FROM kv_keys k JOIN d ON k.space = d.space AND k.bucket = d.bucket AND k.key = d.key
                 )
                 DELETE FROM kv_history h USING d
                 WHERE h.space = d.space AND h.bucket = d.bucket AND h.key = d.key AND h.revision <= d.cutoff",
            )
            .await?;
        self.tx.execute(&stmt, &[&spaces, &buckets, &names, &cutoffs]).await?;
        Ok(())
    }

    async fn put_kv_key(&mut self, key: KvKey<'_>, value: &KvValue<'_>, now: Timestamp) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO kv_keys (space, bucket, key, revision, value, content_type, updated_at, expires_at, deleted)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false)
                 ON CONFLICT (space, bucket, key) DO UPDATE SET revision = excluded.revision, value = excluded.value,
                   content_type = excluded.content_type, updated_at = excluded.updated_at,
                   expires_at = excluded.expires_at, deleted = false",
            )
            .await?;
        let revision = bigint(value.revision)?;
        let expires_ms = value.expires_at.map(|t| t.0);
        self.tx
            .execute(
                &stmt,
                &[&key.space, &key.bucket, &key.key, &revision, &value.value, &value.content_type, &now.0, &expires_ms],
            )
            .await?;
        Ok(())
    }

    async fn tombstone_kv_key(&mut self, key: KvKey<'_>, revision: u64, now: Timestamp) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE kv_keys SET revision = $4, value = '\\x'::bytea, content_type = '', updated_at = $5,
                   expires_at = NULL, deleted = true
                 WHERE space = $1 AND bucket = $2 AND key = $3",
            )
            .await?;
        self.tx.execute(&stmt, &[&key.space, &key.bucket, &key.key, &bigint(revision)?, &now.0]).await?;
        Ok(())
    }

    async fn tombstone_kv_keys(&mut self, keys: &[(KvKey<'_>, u64)], now: Timestamp) -> TxResult<()> {
        let (spaces, buckets, names) = columns(keys.iter().map(|(key, _)| key));
        let revisions = keys.iter().map(|(_, revision)| bigint(*revision)).collect::<TxResult<Vec<i64>>>()?;
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE kv_keys k SET revision = d.revision, value = '\\x'::bytea, content_type = '', updated_at = $5,
                   expires_at = NULL, deleted = true
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS d(space, bucket, key, revision)
                 WHERE k.space = d.space AND k.bucket = d.bucket AND k.key = d.key",
            )
            .await?;
        self.tx.execute(&stmt, &[&spaces, &buckets, &names, &revisions, &now.0]).await?;
        Ok(())
    }

    async fn expired_keys_for_update(&mut self, due: Timestamp, limit: u32) -> TxResult<Vec<ExpiredKey>> {
        // The predicate repeats the partial index's (`expires_at IS NOT NULL AND NOT deleted`)
        // so the planner can use `kv_keys_by_expiry`. SKIP LOCKED: a key a put holds is left
        // for the next sweep, never waited on.
        let stmt = self
            .tx
            .prepare_cached(
                "SELECT k.space, k.bucket, k.key, k.revision, b.history
                 FROM kv_keys k LEFT JOIN kv_buckets b ON b.space = k.space AND b.name = k.bucket
                 WHERE k.expires_at IS NOT NULL AND NOT k.deleted AND k.expires_at <= $1
                 ORDER BY k.expires_at LIMIT $2
                 FOR UPDATE OF k SKIP LOCKED",
            )
            .await?;
        let rows = self.tx.query(&stmt, &[&due.0, &i64::from(limit)]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(ExpiredKey {
                space: row.get(0),
                bucket: row.get(1),
                key: row.get(2),
                revision: crate::decode::revision(row.get::<_, i64>(3))?.get(),
                history: row.get::<_, Option<i32>>(4).map(stored_history).transpose()?,
            });
        }
        Ok(out)
    }
}

/// The space, bucket and key columns of `keys`, as statement arrays.
fn columns<'a>(keys: impl Iterator<Item = &'a KvKey<'a>> + Clone) -> (Vec<&'a str>, Vec<&'a str>, Vec<&'a str>) {
    let spaces = keys.clone().map(|k| k.space).collect();
    let buckets = keys.clone().map(|k| k.bucket).collect();
    let names = keys.map(|k| k.key).collect();
    (spaces, buckets, names)
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Columns of a [`KvEntry`]: key, revision, value, content_type, updated_at, expires_at, deleted.
const ENTRY_COLUMNS: &str = "key, revision, value, content_type, updated_at, expires_at, deleted";

/// Decodes a row of [`ENTRY_COLUMNS`].
fn entry(row: &Row) -> Result<KvEntry, StoreError> {
    Ok(KvEntry {
        key: row.get(0),
        revision: crate::decode::revision(row.get::<_, i64>(1))?.get(),
        value: row.get(2),
        content_type: row.get(3),
        updated_at: Timestamp(row.get(4)),
        expires_at: row.get::<_, Option<i64>>(5).map(Timestamp),
        deleted: row.get(6),
    })
}

/// A bucket from its stored parts.
fn bucket_record(space: SpaceName, name: Segment, row: &Row, first: usize) -> Result<BucketRecord, StoreError> {
    Ok(BucketRecord {
        space,
        name,
        history: stored_history(row.get::<_, i32>(first))?,
        created_at: Timestamp(row.get(first + 1)),
    })
}

/// A bucket.
pub(super) async fn get_bucket(
    store: &PgStore,
    space: &SpaceName,
    bucket: &Segment,
) -> Result<Option<BucketRecord>, StoreError> {
    let (s, b): (&str, &str) = (space.as_ref(), bucket.as_ref());
    let rows =
        store.query("SELECT history, created_at FROM kv_buckets WHERE space = $1 AND name = $2", &[&s, &b]).await?;
    rows.first().map(|row| bucket_record(space.clone(), bucket.clone(), row, 0)).transpose()
}

/// A space's buckets, by name.
pub(super) async fn list_buckets(store: &PgStore, space: &SpaceName) -> Result<Vec<BucketRecord>, StoreError> {
    let s: &str = space.as_ref();
    let rows =
        store.query("SELECT name, history, created_at FROM kv_buckets WHERE space = $1 ORDER BY name", &[&s]).await?;
    rows.iter().map(|row| bucket_record(space.clone(), crate::decode::segment(row.get(0))?, row, 1)).collect()
}

/// A key's current row, live or not.
pub(super) async fn get(
    store: &PgStore,
    space: &SpaceName,
    bucket: &Segment,
    key: &str,
) -> Result<Option<KvEntry>, StoreError> {
    let (s, b): (&str, &str) = (space.as_ref(), bucket.as_ref());
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM kv_keys WHERE space = $1 AND bucket = $2 AND key = $3");
    let rows = store.query(&sql, &[&s, &b, &key]).await?;
    rows.first().map(entry).transpose()
}

/// A key's kept revisions, newest first: the current row, then the past ones, never more than
/// the bucket keeps (see the module docs for why `kv_history` may briefly hold one more).
pub(super) async fn history(
    store: &PgStore,
    space: &SpaceName,
    bucket: &Segment,
    key: &str,
    limit: u32,
) -> Result<Vec<KvEntry>, StoreError> {
    let (s, b): (&str, &str) = (space.as_ref(), bucket.as_ref());
    // `least` ignores NULL, so a missing bucket row means no clamp.
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM kv_keys WHERE space = $1 AND bucket = $2 AND key = $3
         UNION ALL
         SELECT {ENTRY_COLUMNS} FROM kv_history WHERE space = $1 AND bucket = $2 AND key = $3
         ORDER BY revision DESC
         LIMIT least($4::bigint, (SELECT history FROM kv_buckets WHERE space = $1 AND name = $2))"
    );
    let rows = store.query(&sql, &[&s, &b, &key, &i64::from(limit)]).await?;
    rows.iter().map(entry).collect()
}

/// A page of a bucket's live keys, by key, without reading their values.
pub(super) async fn list_keys(store: &PgStore, query: &ListKeys) -> Result<Vec<KvKeyInfo>, StoreError> {
    let range = KeyRange::new(&query.prefix, query.after.as_deref());
    let (s, b): (&str, &str) = (query.space.as_ref(), query.bucket.as_ref());
    let limit = i64::from(query.limit);
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&s, &b, &query.now.0, &limit];
    // One statement per shape of the range, each with explicit bounds: a generic plan cannot
    // derive a range from `starts_with` on a parameter, and without an upper bound the scan
    // would run past the prefix to the end of the bucket. No LIKE: `%` and `_` are plain
    // characters. `octet_length` of a stored value reads its size, not the value.
    let lower_value: &str = range.lower.map_or("", |(_, value)| value);
    let lower = match range.lower {
        Some((inclusive, _)) => {
            params.push(&lower_value);
            format!("AND key {} ${}", if inclusive { ">=" } else { ">" }, params.len())
        }
        None => String::new(),
    };
    let upper = match &range.upper {
        Some(upper) => {
            params.push(upper);
            format!("AND key < ${}", params.len())
        }
        None => String::new(),
    };
    let prefix = if query.prefix.is_empty() {
        String::new()
    } else {
        params.push(&query.prefix);
        format!("AND starts_with(key, ${})", params.len())
    };
    let sql = format!(
        "SELECT key, revision, octet_length(value)::bigint, content_type, updated_at, expires_at FROM kv_keys
         WHERE space = $1 AND bucket = $2 {lower} {upper} {prefix}
           AND NOT deleted AND (expires_at IS NULL OR expires_at > $3)
         ORDER BY key LIMIT $4"
    );
    let rows = store.query(&sql, &params).await?;
    rows.iter()
        .map(|row| {
            let size: i64 = row.get(2);
            Ok(KvKeyInfo {
                key: row.get(0),
                revision: crate::decode::revision(row.get::<_, i64>(1))?.get(),
                size: u64::try_from(size).map_err(|_| StoreError::Corrupt(format!("KV value size {size}")))?,
                content_type: row.get(3),
                updated_at: Timestamp(row.get(4)),
                expires_at: row.get::<_, Option<i64>>(5).map(Timestamp),
            })
        })
        .collect()
}
