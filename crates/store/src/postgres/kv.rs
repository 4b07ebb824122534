//! KV buckets on PostgreSQL: the writes (inside a group's transaction, with the key's advisory
//! lock already held) and the reads.
//!
//! Same invariants as `sqlite::kv`, with the same rules (`crate::kv_rules`): `kv_keys` holds every key
//! ever written at its current revision (a tombstone once deleted or expired), `kv_history`
//! only past revisions within the bucket's window, revisions grow by exactly one per write and
//! never repeat, and every put, delete and expiry appends exactly one log record.
//!
//! Serialisation across nodes: the writer holds the advisory lock `kv:{space}:{bucket}:{key}`
//! for every `KvPut` and `KvDelete` before any op runs, and the op also locks the key's row
//! (`FOR UPDATE`). `ExpireKv` takes no advisory lock: it locks the rows it expires with
//! `FOR UPDATE SKIP LOCKED`, so it never waits on a key a put holds, and a put that reaches the
//! row after an expiry sees the tombstone. An op refuses only before its first write (a
//! single-op request has no savepoint), so every check and every decode runs before it writes.
//!
//! One race is left on purpose: a `PutBucket` that shrinks a bucket's history concurrently with
//! a put into it (the put read the old history) may leave that key with past revisions beyond
//! the new window until its next write, which prunes them. Locking the bucket's row from every
//! put would make that row a hot spot for the whole bucket, so `history` reads clamp to the
//! bucket's window instead and never show them.

use deadpool_postgres::Transaction;
use switchyard_model::{Segment, SpaceName};
use tokio_postgres::Row;

use crate::error::StoreError;
use crate::postgres::PgStore;
use crate::postgres::ops::{OpContext, OpFailure};
use crate::streams::*;
use crate::types::*;

use crate::kv_rules::*;

/// What a write op returns.
type OpResult = Result<WriteOutcome, OpFailure>;

// ---------------------------------------------------------------------------------------------
// Writes

/// Executes `PutBucket`, `KvPut`, `KvDelete` and `ExpireKv`.
pub(crate) async fn execute(tx: &Transaction<'_>, cx: &mut OpContext<'_>, now: Timestamp, op: &WriteOp) -> OpResult {
    match op {
        WriteOp::PutBucket { space, bucket, history } => put_bucket(tx, cx, now, space, bucket, *history).await,
        WriteOp::KvPut { space, bucket, key, value, content_type, ttl_ms, condition } => {
            let put = Put { key, value, content_type, ttl_ms: *ttl_ms, condition: *condition };
            kv_put(tx, cx, now, space.as_ref(), bucket.as_ref(), put).await
        }
        WriteOp::KvDelete { space, bucket, key, condition } => {
            kv_delete(tx, cx, now, space.as_ref(), bucket.as_ref(), key, *condition).await
        }
        WriteOp::ExpireKv { now: due, limit } => expire(tx, cx, now, *due, *limit).await,
        _ => Err(StoreError::Internal("a non-KV operation was routed to the KV executor".into()).into()),
    }
}

/// The parts of a `KvPut`, borrowed from the op.
struct Put<'a> {
    /// The key.
    key: &'a str,
    /// The value.
    value: &'a [u8],
    /// The value's content type.
    content_type: &'a str,
    /// The TTL in milliseconds, if any.
    ttl_ms: Option<u64>,
    /// The precondition.
    condition: KvCondition,
}

/// Creates a bucket or changes its history, forgetting past revisions outside a smaller window.
async fn put_bucket(
    tx: &Transaction<'_>,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    space: &SpaceName,
    bucket: &Segment,
    history: u32,
) -> OpResult {
    let (space_name, bucket_name): (&str, &str) = (space.as_ref(), bucket.as_ref());
    let history = clamp_history(history);
    let select = tx
        .prepare_cached("SELECT history, created_at FROM kv_buckets WHERE space = $1 AND name = $2 FOR UPDATE")
        .await?;
    let mut existing = tx.query_opt(&select, &[&space_name, &bucket_name]).await?;
    if existing.is_none() {
        if insert_bucket(tx, cx, now, space_name, bucket_name, history).await? {
            let bucket = BucketRecord { space: space.clone(), name: bucket.clone(), history, created_at: now };
            // `space_created` is patched in at commit (see `OpContext::touch_space`).
            return Ok(WriteOutcome::BucketPut { bucket, created: true, space_created: false });
        }
        // Another node created it meanwhile (the insert waited for its commit): update that one.
        existing = tx.query_opt(&select, &[&space_name, &bucket_name]).await?;
    }
    let Some(row) = existing else {
        return Err(StoreError::Backend(format!("KV bucket \"{space}:{bucket}\" vanished while being written")).into());
    };
    let (old, created_at) = (stored_history(row.get::<_, i32>(0))?, Timestamp(row.get(1)));
    if old != history {
        let stmt = tx.prepare_cached("UPDATE kv_buckets SET history = $3 WHERE space = $1 AND name = $2").await?;
        tx.execute(&stmt, &[&space_name, &bucket_name, &(history as i32)]).await?;
    }
    if history < old {
        // Keys keep `history` revisions in total, the current one included, so past revisions
        // at or below `current - history` fall outside the new window.
        let stmt = tx
            .prepare_cached(
                "DELETE FROM kv_history h USING kv_keys k
                 WHERE h.space = $1 AND h.bucket = $2 AND k.space = h.space AND k.bucket = h.bucket AND k.key = h.key
                   AND h.revision <= k.revision - $3",
            )
            .await?;
        tx.execute(&stmt, &[&space_name, &bucket_name, &i64::from(history)]).await?;
    }
    let bucket = BucketRecord { space: space.clone(), name: bucket.clone(), history, created_at };
    Ok(WriteOutcome::BucketPut { bucket, created: false, space_created: false })
}

/// Inserts a bucket unless it exists (its space's row follows at commit); whether it inserted.
async fn insert_bucket(
    tx: &Transaction<'_>,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    space: &str,
    bucket: &str,
    history: u32,
) -> Result<bool, OpFailure> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO kv_buckets (space, name, history, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (space, name) DO NOTHING",
        )
        .await?;
    if tx.execute(&stmt, &[&space, &bucket, &(history as i32), &now.0]).await? == 0 {
        return Ok(false);
    }
    cx.touch_space(now, space);
    Ok(true)
}

/// The bucket's history, creating the bucket with the default history when there is none. The
/// first write of a put: whatever it returns, nothing was written before it.
async fn ensure_bucket(
    tx: &Transaction<'_>,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    space: &str,
    bucket: &str,
) -> Result<u32, OpFailure> {
    let stmt = tx.prepare_cached("SELECT history FROM kv_buckets WHERE space = $1 AND name = $2").await?;
    if let Some(row) = tx.query_opt(&stmt, &[&space, &bucket]).await? {
        return Ok(stored_history(row.get::<_, i32>(0))?);
    }
    if insert_bucket(tx, cx, now, space, bucket, DEFAULT_KV_HISTORY).await? {
        return Ok(DEFAULT_KV_HISTORY);
    }
    // Another node created it meanwhile (the insert waited for its commit, then did nothing).
    match tx.query_opt(&stmt, &[&space, &bucket]).await? {
        Some(row) => Ok(stored_history(row.get::<_, i32>(0))?),
        None => Err(StoreError::Backend(format!("KV bucket \"{space}:{bucket}\" vanished while being written")).into()),
    }
}

/// The key's current row, locked, with its bucket's history (`None` inside when the bucket row
/// is missing).
async fn lock_key(
    tx: &Transaction<'_>,
    now: Timestamp,
    space: &str,
    bucket: &str,
    key: &str,
) -> Result<Option<(KeyState, Option<u32>)>, OpFailure> {
    let stmt = tx
        .prepare_cached(
            "SELECT revision, deleted, expires_at, (SELECT history FROM kv_buckets WHERE space = $1 AND name = $2)
             FROM kv_keys WHERE space = $1 AND bucket = $2 AND key = $3 FOR UPDATE",
        )
        .await?;
    let Some(row) = tx.query_opt(&stmt, &[&space, &bucket, &key]).await? else { return Ok(None) };
    let state = KeyState::new(row.get(0), row.get(1), row.get(2), now)?;
    let history = row.get::<_, Option<i32>>(3).map(stored_history).transpose()?;
    Ok(Some((state, history)))
}

/// Moves the key's current row into `kv_history` (when the bucket keeps past revisions) and
/// forgets past revisions that fall outside the window once `next` is current.
async fn archive(
    tx: &Transaction<'_>,
    space: &str,
    bucket: &str,
    key: &str,
    next: u64,
    history: u32,
) -> Result<(), OpFailure> {
    if history <= 1 {
        return Ok(());
    }
    // One round trip: the CTE copies the row as it was before this statement (all parts of a
    // statement see one snapshot), and the value never leaves the server.
    let stmt = tx
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
    // No cutoff: nothing is outside the window; 0 matches no revision.
    let cutoff = history_cutoff(next, history).unwrap_or(0);
    tx.execute(&stmt, &[&space, &bucket, &key, &cutoff]).await?;
    Ok(())
}

/// A revision as PostgreSQL stores it.
fn stored_revision(revision: u64) -> Result<i64, StoreError> {
    i64::try_from(revision).map_err(|_| StoreError::Corrupt(format!("KV revision {revision}")))
}

/// Writes a key's next revision if its condition holds, archiving the one it replaces.
async fn kv_put(
    tx: &Transaction<'_>,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    space: &str,
    bucket: &str,
    put: Put<'_>,
) -> OpResult {
    let address = address(space, bucket, put.key);
    let current = lock_key(tx, now, space, bucket, put.key).await?;
    check_put(put.condition, current.map(|(state, _)| state), &address)?;
    // Everything that can refuse runs before the first write.
    let revision = match current {
        // A tombstone's or an expired value's revision counts too: revisions never repeat.
        Some((state, _)) => state.next_revision()?,
        None => 1,
    };
    let stored = stored_revision(revision)?;
    let expires_at = expiry(now, put.ttl_ms);
    let record = KvPutRecord::new(bucket, put.key, revision, put.value, put.content_type, expires_at);
    let payload = serde_json::to_string(&record)?;
    match current {
        Some((_, Some(history))) => archive(tx, space, bucket, put.key, revision, history).await?,
        Some((_, None)) => {
            let history = ensure_bucket(tx, cx, now, space, bucket).await?;
            archive(tx, space, bucket, put.key, revision, history).await?;
        }
        None => {
            ensure_bucket(tx, cx, now, space, bucket).await?;
        }
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO kv_keys (space, bucket, key, revision, value, content_type, updated_at, expires_at, deleted)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false)
             ON CONFLICT (space, bucket, key) DO UPDATE SET revision = excluded.revision, value = excluded.value,
               content_type = excluded.content_type, updated_at = excluded.updated_at,
               expires_at = excluded.expires_at, deleted = false",
        )
        .await?;
    let expires_ms = expires_at.map(|t| t.0);
    tx.execute(&stmt, &[&space, &bucket, &put.key, &stored, &put.value, &put.content_type, &now.0, &expires_ms])
        .await?;
    // The seq and `space_created` are patched in when the group's seqs are assigned.
    cx.append(now, space, kinds::KV_PUT, address, payload, None, true);
    Ok(WriteOutcome::KvWritten { revision, seq: Seq(0), space_created: false })
}

/// Replaces a live key with a tombstone if its condition holds.
async fn kv_delete(
    tx: &Transaction<'_>,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    space: &str,
    bucket: &str,
    key: &str,
    condition: KvCondition,
) -> OpResult {
    let address = address(space, bucket, key);
    let current = lock_key(tx, now, space, bucket, key).await?;
    let state = check_delete(condition, current.map(|(state, _)| state), &address)?;
    // A key whose bucket row is missing (it cannot be, short of corruption) keeps the default.
    let history = current.and_then(|(_, history)| history).unwrap_or(DEFAULT_KV_HISTORY);
    let revision = state.next_revision()?;
    let stored = stored_revision(revision)?;
    let payload = serde_json::to_string(&KvDeletedRecord { bucket, key, revision, reason: DeleteReason::Deleted })?;
    archive(tx, space, bucket, key, revision, history).await?;
    let stmt = tx
        .prepare_cached(
            "UPDATE kv_keys SET revision = $4, value = '\\x'::bytea, content_type = '', updated_at = $5,
               expires_at = NULL, deleted = true
             WHERE space = $1 AND bucket = $2 AND key = $3",
        )
        .await?;
    tx.execute(&stmt, &[&space, &bucket, &key, &stored, &now.0]).await?;
    cx.append(now, space, kinds::KV_DELETED, address, payload, None, true);
    Ok(WriteOutcome::KvWritten { revision, seq: Seq(0), space_created: false })
}

/// A key `ExpireKv` turns into a tombstone.
struct Due {
    /// Its space.
    space: String,
    /// Its bucket.
    bucket: String,
    /// The key.
    key: String,
    /// The tombstone's revision.
    revision: u64,
    /// The tombstone's revision as stored.
    stored: i64,
    /// Revisions its bucket keeps.
    history: u32,
}

/// Turns up to `limit` keys whose TTL ended at or before `due` into tombstones, in a fixed
/// number of statements however many keys expire.
async fn expire(tx: &Transaction<'_>, cx: &mut OpContext<'_>, now: Timestamp, due: Timestamp, limit: u32) -> OpResult {
    // The predicate repeats the partial index's (`expires_at IS NOT NULL AND NOT deleted`) so
    // the planner can use `kv_keys_by_expiry`. SKIP LOCKED: a key a put holds is left for the
    // next run, never waited on.
    let stmt = tx
        .prepare_cached(
            "SELECT k.space, k.bucket, k.key, k.revision, b.history
             FROM kv_keys k LEFT JOIN kv_buckets b ON b.space = k.space AND b.name = k.bucket
             WHERE k.expires_at IS NOT NULL AND NOT k.deleted AND k.expires_at <= $1
             ORDER BY k.expires_at LIMIT $2
             FOR UPDATE OF k SKIP LOCKED",
        )
        .await?;
    let rows = tx.query(&stmt, &[&due.0, &i64::from(limit)]).await?;
    if rows.is_empty() {
        return Ok(WriteOutcome::KvExpired(0));
    }
    // Decoded and serialised before the first write, so a corrupt row refuses cleanly.
    let mut keys = Vec::with_capacity(rows.len());
    let mut payloads = Vec::with_capacity(rows.len());
    for row in &rows {
        let revision = KeyState::new(row.get(3), false, None, now)?.next_revision()?;
        let history = row.get::<_, Option<i32>>(4).map(stored_history).transpose()?.unwrap_or(DEFAULT_KV_HISTORY);
        let stored = stored_revision(revision)?;
        let d = Due { space: row.get(0), bucket: row.get(1), key: row.get(2), revision, stored, history };
        let record = KvDeletedRecord { bucket: &d.bucket, key: &d.key, revision, reason: DeleteReason::Expired };
        payloads.push(serde_json::to_string(&record)?);
        keys.push(d);
    }

    let archived: Vec<&Due> = keys.iter().filter(|d| d.history > 1).collect();
    if !archived.is_empty() {
        let cutoffs: Vec<i64> = archived.iter().map(|d| history_cutoff(d.revision, d.history).unwrap_or(0)).collect();
        let (spaces, buckets, names) = columns(&archived);
        let stmt = tx
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
        tx.execute(&stmt, &[&spaces, &buckets, &names, &cutoffs]).await?;
    }

    let all: Vec<&Due> = keys.iter().collect();
    let (spaces, buckets, names) = columns(&all);
    let revisions: Vec<i64> = keys.iter().map(|d| d.stored).collect();
    let stmt = tx
        .prepare_cached(
            "UPDATE kv_keys k SET revision = d.revision, value = '\\x'::bytea, content_type = '', updated_at = $5,
               expires_at = NULL, deleted = true
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS d(space, bucket, key, revision)
             WHERE k.space = d.space AND k.bucket = d.bucket AND k.key = d.key",
        )
        .await?;
    tx.execute(&stmt, &[&spaces, &buckets, &names, &revisions, &now.0]).await?;

    for (d, payload) in keys.iter().zip(payloads) {
        cx.append(now, &d.space, kinds::KV_DELETED, address(&d.space, &d.bucket, &d.key), payload, None, false);
    }
    Ok(WriteOutcome::KvExpired(keys.len() as u64))
}

/// The space, bucket and key columns of `keys`, as statement arrays.
fn columns<'a>(keys: &[&'a Due]) -> (Vec<&'a str>, Vec<&'a str>, Vec<&'a str>) {
    let spaces = keys.iter().map(|d| d.space.as_str()).collect();
    let buckets = keys.iter().map(|d| d.bucket.as_str()).collect();
    let names = keys.iter().map(|d| d.key.as_str()).collect();
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
