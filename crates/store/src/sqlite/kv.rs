//! KV buckets on SQLite: the writes (run on the writer thread, inside the group's transaction)
//! and the reads (on the reader pool).
//!
//! Invariants (the conformance suite checks each; `postgres::kv` keeps the same ones):
//! - `kv_keys` holds every key ever written at its current revision; a deletion or an expiry
//!   leaves a tombstone there (`deleted`, empty value), never removes the row. So a key's
//!   revision only grows, by exactly one per put, delete or expiry, and is never reused.
//! - `kv_history` holds only past revisions: a key keeps at most `history` revisions in total,
//!   the current one in `kv_keys` plus the `history - 1` newest past ones here.
//! - Every put, delete and expiry appends exactly one log record at the key's address
//!   (`space:bucket:key`), in the same transaction.
//!
//! Writes run on the single writer thread, so every read-check-write here is serialised with
//! every other write; a refusal rolls back the request's savepoint. The rules both backends
//! share (conditions, history windows, log payloads, prefix ranges) are in `crate::kv_rules`.

use rusqlite::{Connection, OptionalExtension, Row, params};
use switchyard_model::{Segment, SpaceName};

use crate::error::StoreError;
use crate::sqlite::SqliteStore;
use crate::sqlite::ops::{OpContext, append_log, ensure_space};
use crate::streams::*;
use crate::types::*;

use crate::kv_rules::*;

// ---------------------------------------------------------------------------------------------
// Writes

/// Executes `PutBucket`, `KvPut`, `KvDelete` and `ExpireKv`.
pub(crate) fn execute(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    op: &WriteOp,
) -> Result<WriteOutcome, StoreError> {
    match op {
        WriteOp::PutBucket { space, bucket, history } => put_bucket(conn, now, space, bucket, *history),
        WriteOp::KvPut { space, bucket, key, value, content_type, ttl_ms, condition } => {
            let put = Put { key, value, content_type, ttl_ms: *ttl_ms, condition: *condition };
            kv_put(conn, cx, now, space.as_ref(), bucket.as_ref(), put)
        }
        WriteOp::KvDelete { space, bucket, key, condition } => {
            kv_delete(conn, cx, now, space.as_ref(), bucket.as_ref(), key, *condition)
        }
        WriteOp::ExpireKv { now: due, limit } => expire(conn, cx, now, *due, *limit),
        _ => Err(StoreError::Internal("a non-KV operation was routed to the KV executor".into())),
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
fn put_bucket(
    conn: &Connection,
    now: Timestamp,
    space: &SpaceName,
    bucket: &Segment,
    history: u32,
) -> Result<WriteOutcome, StoreError> {
    let (space_name, bucket_name): (&str, &str) = (space.as_ref(), bucket.as_ref());
    let history = clamp_history(history);
    let existing: Option<(i64, i64)> = conn
        .prepare_cached("SELECT history, created_at FROM kv_buckets WHERE space = ?1 AND name = ?2")?
        .query_row(params![space_name, bucket_name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (created_at, created, space_created) = match existing {
        None => {
            let space_created = insert_bucket(conn, now, space_name, bucket_name, history)?;
            (Timestamp(now.0), true, space_created)
        }
        Some((old, created_at)) => {
            let old = stored_history(old)?;
            if old != history {
                conn.prepare_cached("UPDATE kv_buckets SET history = ?3 WHERE space = ?1 AND name = ?2")?
                    .execute(params![space_name, bucket_name, history])?;
            }
            if history < old {
                // Keys keep `history` revisions in total, the current one included, so past
                // revisions at or below `current - history` fall outside the new window.
                conn.prepare_cached(
                    "DELETE FROM kv_history WHERE space = ?1 AND bucket = ?2 AND revision <=
                       (SELECT k.revision FROM kv_keys k
                        WHERE k.space = kv_history.space AND k.bucket = kv_history.bucket
                          AND k.key = kv_history.key) - ?3",
                )?
                .execute(params![space_name, bucket_name, history])?;
            }
            (Timestamp(created_at), false, false)
        }
    };
    let bucket = BucketRecord { space: space.clone(), name: bucket.clone(), history, created_at };
    Ok(WriteOutcome::BucketPut { bucket, created, space_created })
}

/// Inserts a new bucket and its space's row; whether the space was created.
fn insert_bucket(
    conn: &Connection,
    now: Timestamp,
    space: &str,
    bucket: &str,
    history: u32,
) -> Result<bool, StoreError> {
    conn.prepare_cached("INSERT INTO kv_buckets (space, name, history, created_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![space, bucket, history, now.0])?;
    ensure_space(conn, now, space)
}

/// The bucket's history, creating the bucket with the default history when there is none;
/// with whether that created the space.
fn ensure_bucket(conn: &Connection, now: Timestamp, space: &str, bucket: &str) -> Result<(u32, bool), StoreError> {
    match bucket_history(conn, space, bucket)? {
        Some(history) => Ok((history, false)),
        None => {
            let space_created = insert_bucket(conn, now, space, bucket, DEFAULT_KV_HISTORY)?;
            Ok((DEFAULT_KV_HISTORY, space_created))
        }
    }
}

/// The bucket's history, if the bucket exists.
fn bucket_history(conn: &Connection, space: &str, bucket: &str) -> Result<Option<u32>, StoreError> {
    let history: Option<i64> = conn
        .prepare_cached("SELECT history FROM kv_buckets WHERE space = ?1 AND name = ?2")?
        .query_row(params![space, bucket], |r| r.get(0))
        .optional()?;
    history.map(stored_history).transpose()
}

/// The key's current row, if it was ever written.
fn key_state(
    conn: &Connection,
    now: Timestamp,
    space: &str,
    bucket: &str,
    key: &str,
) -> Result<Option<KeyState>, StoreError> {
    let row: Option<(i64, bool, Option<i64>)> = conn
        .prepare_cached(
            "SELECT revision, deleted, expires_at FROM kv_keys WHERE space = ?1 AND bucket = ?2 AND key = ?3",
        )?
        .query_row(params![space, bucket, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(revision, deleted, expires_at)| KeyState::new(revision, deleted, expires_at, now)).transpose()
}

/// Moves the key's current row into `kv_history` (when the bucket keeps past revisions) and
/// forgets past revisions that fall outside the window once `next` is current.
fn archive(conn: &Connection, space: &str, bucket: &str, key: &str, next: u64, history: u32) -> Result<(), StoreError> {
    if history <= 1 {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO kv_history (space, bucket, key, revision, value, content_type, updated_at, expires_at, deleted)
         SELECT space, bucket, key, revision, value, content_type, updated_at, expires_at, deleted
         FROM kv_keys WHERE space = ?1 AND bucket = ?2 AND key = ?3",
    )?
    .execute(params![space, bucket, key])?;
    if let Some(cutoff) = history_cutoff(next, history) {
        conn.prepare_cached("DELETE FROM kv_history WHERE space = ?1 AND bucket = ?2 AND key = ?3 AND revision <= ?4")?
            .execute(params![space, bucket, key, cutoff])?;
    }
    Ok(())
}

/// Replaces the key's current row with a tombstone at `revision`.
fn write_tombstone(
    conn: &Connection,
    now: Timestamp,
    space: &str,
    bucket: &str,
    key: &str,
    revision: u64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE kv_keys SET revision = ?4, value = x'', content_type = '', updated_at = ?5, expires_at = NULL,
           deleted = 1
         WHERE space = ?1 AND bucket = ?2 AND key = ?3",
    )?
    .execute(params![space, bucket, key, revision, now.0])?;
    Ok(())
}

/// Writes a key's next revision if its condition holds, archiving the one it replaces.
fn kv_put(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    space: &str,
    bucket: &str,
    put: Put<'_>,
) -> Result<WriteOutcome, StoreError> {
    let address = address(space, bucket, put.key);
    let current = key_state(conn, now, space, bucket, put.key)?;
    check_put(put.condition, current, &address)?;
    let (history, space_created) = ensure_bucket(conn, now, space, bucket)?;
    let revision = match current {
        // A tombstone's or an expired value's revision counts too: revisions never repeat.
        Some(current) => {
            let next = current.next_revision()?;
            archive(conn, space, bucket, put.key, next, history)?;
            next
        }
        None => 1,
    };
    let expires_at = expiry(now, put.ttl_ms);
    conn.prepare_cached(
        "INSERT INTO kv_keys (space, bucket, key, revision, value, content_type, updated_at, expires_at, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)
         ON CONFLICT (space, bucket, key) DO UPDATE SET revision = excluded.revision, value = excluded.value,
           content_type = excluded.content_type, updated_at = excluded.updated_at, expires_at = excluded.expires_at,
           deleted = 0",
    )?
    .execute(params![
        space,
        bucket,
        put.key,
        revision,
        put.value,
        put.content_type,
        now.0,
        expires_at.map(|t| t.0)
    ])?;
    let record = KvPutRecord::new(bucket, put.key, revision, put.value, put.content_type, expires_at);
    let seq = append_log(conn, cx, now, space, kinds::KV_PUT, &address, &record, None)?;
    Ok(WriteOutcome::KvWritten { revision, seq, space_created })
}

/// Replaces a live key with a tombstone if its condition holds.
fn kv_delete(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    space: &str,
    bucket: &str,
    key: &str,
    condition: KvCondition,
) -> Result<WriteOutcome, StoreError> {
    let address = address(space, bucket, key);
    let current = check_delete(condition, key_state(conn, now, space, bucket, key)?, &address)?;
    // A key whose bucket row is missing (it cannot be, short of corruption) keeps the default.
    let history = bucket_history(conn, space, bucket)?.unwrap_or(DEFAULT_KV_HISTORY);
    let revision = current.next_revision()?;
    archive(conn, space, bucket, key, revision, history)?;
    write_tombstone(conn, now, space, bucket, key, revision)?;
    let record = KvDeletedRecord { bucket, key, revision, reason: DeleteReason::Deleted };
    let seq = append_log(conn, cx, now, space, kinds::KV_DELETED, &address, &record, None)?;
    Ok(WriteOutcome::KvWritten { revision, seq, space_created: false })
}

/// Turns up to `limit` keys whose TTL ended at or before `due` into tombstones.
fn expire(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    due: Timestamp,
    limit: u32,
) -> Result<WriteOutcome, StoreError> {
    // The predicate repeats the partial index's (`expires_at IS NOT NULL AND deleted = 0`) so
    // SQLite can use `kv_keys_by_expiry`. Collected first: the loop below updates these rows.
    let due_keys: Vec<(String, String, String, i64, Option<i64>)> = {
        let mut stmt = conn.prepare_cached(
            "SELECT k.space, k.bucket, k.key, k.revision, b.history
             FROM kv_keys k LEFT JOIN kv_buckets b ON b.space = k.space AND b.name = k.bucket
             WHERE k.expires_at IS NOT NULL AND k.deleted = 0 AND k.expires_at <= ?1
             ORDER BY k.expires_at LIMIT ?2",
        )?;
        let rows =
            stmt.query_map(params![due.0, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let expired = due_keys.len() as u64;
    for (space, bucket, key, revision, history) in due_keys {
        let revision = KeyState::new(revision, false, None, now)?.next_revision()?;
        let history = history.map(stored_history).transpose()?.unwrap_or(DEFAULT_KV_HISTORY);
        archive(conn, &space, &bucket, &key, revision, history)?;
        write_tombstone(conn, now, &space, &bucket, &key, revision)?;
        let record = KvDeletedRecord { bucket: &bucket, key: &key, revision, reason: DeleteReason::Expired };
        append_log(conn, cx, now, &space, kinds::KV_DELETED, &address(&space, &bucket, &key), &record, None)?;
    }
    Ok(WriteOutcome::KvExpired(expired))
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
                 ORDER BY revision DESC LIMIT ?4"
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
