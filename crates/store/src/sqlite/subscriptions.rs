//! Durable subscriptions and log retention on SQLite: the writes (run on the writer thread,
//! inside the group's transaction) and the reads (on the reader pool).
//!
//! A subscription is a row of `subscriptions` (its filter, settings and `cursor`) plus one row
//! of `subscription_records` per record it delivered and no consumer acked yet: leased until
//! `lease_until`, due again after it, or a dead letter (`dead_at` set). An ack deletes the row.
//!
//! Invariants kept here (besides those of [`crate::streams`]):
//! - Every write runs on the single writer thread, so a pull, an ack and a trim never
//!   interleave: a record is leased to one consumer at a time without any row locking.
//! - A pull does bounded work (at most [`DUE_BUDGET`] due rows and [`SCAN_BUDGET`] log records
//!   examined), so one pull never stalls the writer, and with it every other write.
//! - A pull scans only its subscription's space (`events_by_space`). `cursor` only moves
//!   forward, over records of that space the pull examined — or, once the scan reached the end
//!   of the space's records, to the log's newest seq read before the scan, which skips only
//!   other spaces' records. The rows it inserts all have a seq above the old cursor, so they
//!   never collide with existing rows.
//! - A lease is named by (seq, deliveries): a nack ends it only while the row still counts
//!   that many deliveries, so a consumer whose lease ended cannot end the next consumer's.
//! - A new subscription never starts inside the trimmed part of the log (`SeqExpired`).
//! - Trimming never removes the newest record (the writer resumes the log's byte total from
//!   it) nor a record at or above the floor of a subscription that does not allow loss. Rows
//!   below the oldest record kept do not count towards a floor: their records are gone.

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, Row, params};
use switchyard_model::{Segment, SpaceName};

use crate::error::StoreError;
use crate::sqlite::SqliteStore;
use crate::sqlite::ops::OpContext;
use crate::sqlite::rows;
use crate::streams::*;
use crate::subscription_rules::*;
use crate::types::*;

/// Columns of a subscription with its counts, decoded by [`subscription`]; `?2` is the time
/// that decides which pending records are leased.
const SUBSCRIPTION_COLUMNS: &str = "s.space, s.name, s.filter, s.start_after, s.cursor, s.max_deliveries,
    s.ack_wait_ms, s.allow_loss, s.created_at,
    (SELECT count(*) FROM subscription_records r WHERE r.space = s.space AND r.name = s.name AND r.dead_at IS NULL),
    (SELECT count(*) FROM subscription_records r
      WHERE r.space = s.space AND r.name = s.name AND r.dead_at IS NULL AND r.lease_until > ?2),
    (SELECT count(*) FROM subscription_records r WHERE r.space = s.space AND r.name = s.name AND r.dead_at IS NOT NULL)";

/// Executes `PutSubscription`, `DeleteSubscription`, `Pull`, `Ack`, `Nack`,
/// `RedriveDeadLetters`, `DiscardDeadLetters` and `TrimLog`.
pub(crate) fn execute(
    conn: &Connection,
    _cx: &mut OpContext<'_>,
    now: Timestamp,
    op: &WriteOp,
) -> Result<WriteOutcome, StoreError> {
    match op {
        WriteOp::PutSubscription(spec) => put(conn, now, spec),
        WriteOp::DeleteSubscription { space, name } => {
            let removed = conn
                .prepare_cached("DELETE FROM subscriptions WHERE space = ?1 AND name = ?2")?
                .execute(params![space.as_str(), name.as_str()])?;
            if removed == 0 {
                return Err(not_found(space, name));
            }
            conn.prepare_cached("DELETE FROM subscription_records WHERE space = ?1 AND name = ?2")?
                .execute(params![space.as_str(), name.as_str()])?;
            Ok(WriteOutcome::SubscriptionDeleted)
        }
        WriteOp::Pull(request) => pull(conn, now, request),
        WriteOp::Ack { space, name, seqs } => ack(conn, space, name, seqs),
        WriteOp::Nack { space, name, leases } => nack(conn, space, name, leases),
        WriteOp::RedriveDeadLetters { space, name, seqs } => {
            let listed = "UPDATE subscription_records SET dead_at = NULL, deliveries = 0, lease_until = 0
                          WHERE space = ?1 AND name = ?2 AND dead_at IS NOT NULL
                          AND seq IN (SELECT value FROM json_each(?3))";
            let all = "UPDATE subscription_records SET dead_at = NULL, deliveries = 0, lease_until = 0
                       WHERE space = ?1 AND name = ?2 AND dead_at IS NOT NULL";
            update_listed(conn, space, name, seqs.as_ref(), listed, all)
        }
        WriteOp::DiscardDeadLetters { space, name, seqs } => {
            let listed = "DELETE FROM subscription_records WHERE space = ?1 AND name = ?2 AND dead_at IS NOT NULL
                          AND seq IN (SELECT value FROM json_each(?3))";
            let all = "DELETE FROM subscription_records WHERE space = ?1 AND name = ?2 AND dead_at IS NOT NULL";
            update_listed(conn, space, name, seqs.as_ref(), listed, all)
        }
        WriteOp::TrimLog(trim) => trim_log(conn, trim),
        other => Err(StoreError::Internal(format!("not a subscription operation: {other:?}"))),
    }
}

/// Creates a subscription, or updates the settings of one with the same filter.
fn put(conn: &Connection, now: Timestamp, spec: &SubscriptionSpec) -> Result<WriteOutcome, StoreError> {
    let (space, name) = (spec.filter.space.as_str(), spec.name.as_str());
    let stored: Option<String> = conn
        .prepare_cached("SELECT filter FROM subscriptions WHERE space = ?1 AND name = ?2")?
        .query_row(params![space, name], |r| r.get(0))
        .optional()?;
    let max_deliveries = i64::from(spec.max_deliveries);
    let ack_wait_ms = i64::try_from(spec.ack_wait_ms).unwrap_or(i64::MAX);
    if let Some(stored) = stored {
        // Compared as values, not text: a filter stored by another build may be spelled differently.
        let stored: StoredFilter = serde_json::from_str(&stored)?;
        if stored != spec.filter.to_stored() {
            return Err(StoreError::SubscriptionFilterChanged { space: space.to_string(), name: name.to_string() });
        }
        conn.prepare_cached(
            "UPDATE subscriptions SET max_deliveries = ?3, ack_wait_ms = ?4, allow_loss = ?5 WHERE space = ?1 AND name = ?2",
        )?
        .execute(params![space, name, max_deliveries, ack_wait_ms, spec.allow_loss])?;
        return Ok(WriteOutcome::SubscriptionPut { created: false, space_created: false });
    }
    let filter = serde_json::to_string(&spec.filter.to_stored())?;
    let start_after = start_param(spec.start_after);
    // It never starts inside the trimmed part of the log: 0 means "from the oldest record kept"
    // (a cursor below the oldest record examines from there), any other start must leave no
    // trimmed record between it and the oldest kept. Trimming runs on this thread too, so
    // nothing is trimmed between this check and the insert.
    if start_after > 0
        && let Some(oldest) = oldest_kept(conn)?
        && start_after + 1 < oldest
    {
        return Err(StoreError::SeqExpired { oldest: seq(oldest)? });
    }
    conn.prepare_cached(
        "INSERT INTO subscriptions (space, name, filter, start_after, cursor, max_deliveries, ack_wait_ms, allow_loss, created_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![space, name, filter, start_after, max_deliveries, ack_wait_ms, spec.allow_loss, now.0])?;
    let space_created = crate::sqlite::ops::ensure_space(conn, now, space)?;
    Ok(WriteOutcome::SubscriptionPut { created: true, space_created })
}

/// Runs `listed` (with the seqs as a JSON array in `?3`) or, when `seqs` is `None`, `all` on a
/// subscription's rows; the number of rows changed is the outcome.
fn update_listed(
    conn: &Connection,
    space: &SpaceName,
    name: &Segment,
    seqs: Option<&Vec<Seq>>,
    listed: &str,
    all: &str,
) -> Result<WriteOutcome, StoreError> {
    require(conn, space, name)?;
    let changed = match seqs {
        Some(seqs) if seqs.is_empty() => 0,
        // One JSON array, whatever its length: no statement per seq and no limit on parameters.
        Some(seqs) => conn.prepare_cached(listed)?.execute(params![space.as_str(), name.as_str(), seq_list(seqs)?])?,
        None => conn.prepare_cached(all)?.execute(params![space.as_str(), name.as_str()])?,
    };
    Ok(WriteOutcome::SubscriptionUpdated(changed as u64))
}

/// Acknowledges pending records (an ack after the lease ended still counts); the outcome names
/// the seqs that were pending.
fn ack(conn: &Connection, space: &SpaceName, name: &Segment, seqs: &[Seq]) -> Result<WriteOutcome, StoreError> {
    require(conn, space, name)?;
    if seqs.is_empty() {
        return Ok(WriteOutcome::Settled(Vec::new()));
    }
    let mut stmt = conn.prepare_cached(
        "DELETE FROM subscription_records WHERE space = ?1 AND name = ?2 AND dead_at IS NULL
         AND seq IN (SELECT value FROM json_each(?3)) RETURNING seq",
    )?;
    let rows = stmt.query_map(params![space.as_str(), name.as_str(), seq_list(seqs)?], |r| r.get::<_, i64>(0))?;
    settled(rows)
}

/// Ends the leases named by (seq, deliveries). A row whose `deliveries` differs was leased
/// again since (the named lease already ended), so it is left alone and not named.
fn nack(
    conn: &Connection,
    space: &SpaceName,
    name: &Segment,
    leases: &[(Seq, u32)],
) -> Result<WriteOutcome, StoreError> {
    require(conn, space, name)?;
    if leases.is_empty() {
        return Ok(WriteOutcome::Settled(Vec::new()));
    }
    // One JSON array of [seq, deliveries] pairs; seqs no record can have are left out.
    let leases: Vec<(i64, u32)> = leases.iter().filter_map(|(s, d)| i64::try_from(s.0).ok().map(|s| (s, *d))).collect();
    // Lease end 0 is before any `now`: the next pull delivers them first.
    let mut stmt = conn.prepare_cached(
        "UPDATE subscription_records SET lease_until = 0 WHERE space = ?1 AND name = ?2 AND dead_at IS NULL
         AND (seq, deliveries) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?3))
         RETURNING seq",
    )?;
    let rows = stmt
        .query_map(params![space.as_str(), name.as_str(), serde_json::to_string(&leases)?], |r| r.get::<_, i64>(0))?;
    settled(rows)
}

/// The seqs a `RETURNING seq` statement gave back, in ascending order.
fn settled(rows: impl Iterator<Item = rusqlite::Result<i64>>) -> Result<WriteOutcome, StoreError> {
    let mut seqs = rows.map(|r| r.map_err(StoreError::from).and_then(seq)).collect::<Result<Vec<Seq>, _>>()?;
    seqs.sort_unstable();
    Ok(WriteOutcome::Settled(seqs))
}

/// What a pull does with a due row.
enum Due {
    /// It reached `max_deliveries`: it becomes a dead letter.
    Dead(i64),
    /// Its record was trimmed (the subscription allows loss): it is forgotten.
    Gone(i64),
    /// It is leased again; `deliveries` counts this lease.
    Again { record: LogRecord, deliveries: u32 },
}

/// Leases up to `request.max` records: due ones first, then new ones past the cursor.
fn pull(conn: &Connection, now: Timestamp, request: &PullRequest) -> Result<WriteOutcome, StoreError> {
    let (space, name) = (request.space.as_str(), request.name.as_str());
    let row: Option<(String, i64, i64)> = conn
        .prepare_cached("SELECT filter, cursor, max_deliveries FROM subscriptions WHERE space = ?1 AND name = ?2")?
        .query_row(params![space, name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((filter, cursor, max_deliveries)) = row else {
        return Err(not_found(&request.space, &request.name));
    };
    let filter = LogFilter::from_stored(request.space.clone(), serde_json::from_str(&filter)?);
    let max = request.max as usize;
    let lease_until = now.0.saturating_add(i64::try_from(request.lease_ms).unwrap_or(i64::MAX));
    let lease_expires_at = Timestamp(lease_until);
    let mut delivered: Vec<Delivery> = Vec::new();

    // 1. Due rows, by seq. `seq > after` keeps the walk moving even when a zero-length lease
    //    leaves a redelivered row due again at once.
    let mut after = 0_i64;
    let mut examined = 0;
    let due_sql = format!(
        "SELECT {E_LOG_COLUMNS}, r.seq, r.deliveries FROM subscription_records r LEFT JOIN events e ON e.seq = r.seq
         WHERE r.space = ?1 AND r.name = ?2 AND r.dead_at IS NULL AND r.lease_until <= ?3 AND r.seq > ?4
         ORDER BY r.seq LIMIT ?5"
    );
    while delivered.len() < max && examined < DUE_BUDGET {
        let chunk = (max - delivered.len()).clamp(*DUE_CHUNK.start(), *DUE_CHUNK.end()).min(DUE_BUDGET - examined);
        // Read the chunk before writing: SQLite does not promise how a statement stepping over a
        // table sees that table's own changes.
        let mut due = Vec::with_capacity(chunk);
        let mut again = 0;
        let mut stmt = conn.prepare_cached(&due_sql)?;
        let mut rows = stmt.query(params![space, name, now.0, after, chunk as i64])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(7)?;
            let deliveries = u32::try_from(row.get::<_, i64>(8)?)
                .map_err(|_| StoreError::Corrupt(format!("deliveries of {space}:{name} seq {seq}")))?;
            after = seq;
            if i64::from(deliveries) >= max_deliveries {
                due.push(Due::Dead(seq));
            } else if row.get::<_, Option<i64>>(0)?.is_none() {
                due.push(Due::Gone(seq));
            } else if let rows::LogRow::Record(record) = rows::log_record(row)? {
                due.push(Due::Again { record, deliveries: deliveries.saturating_add(1) });
                again += 1;
                // Stop at the row that fills `max`: later ones stay due for the next pull.
                if delivered.len() + again == max {
                    break;
                }
            } else {
                // A record that lost its space since it was leased can go to no one: forgotten.
                due.push(Due::Gone(seq));
            }
        }
        drop(rows);
        let read = due.len();
        examined += read;
        for d in due {
            match d {
                Due::Dead(seq) => {
                    conn.prepare_cached(
                        "UPDATE subscription_records SET dead_at = ?4 WHERE space = ?1 AND name = ?2 AND seq = ?3",
                    )?
                    .execute(params![space, name, seq, now.0])?;
                }
                Due::Gone(seq) => {
                    conn.prepare_cached(
                        "DELETE FROM subscription_records WHERE space = ?1 AND name = ?2 AND seq = ?3",
                    )?
                    .execute(params![space, name, seq])?;
                }
                Due::Again { record, deliveries } => {
                    conn.prepare_cached(
                        "UPDATE subscription_records SET deliveries = ?4, lease_until = ?5
                         WHERE space = ?1 AND name = ?2 AND seq = ?3",
                    )?
                    .execute(params![
                        space,
                        name,
                        record.seq.0 as i64,
                        deliveries,
                        lease_until
                    ])?;
                    delivered.push(Delivery { record, deliveries, lease_expires_at });
                }
            }
        }
        if read < chunk {
            break;
        }
    }

    // 2. New records of the subscription's space past the cursor, in pages, within the budget.
    //    The log's newest seq is read first: should the scan reach the end of the space's
    //    records, every record of the space up to it was examined, so the cursor may move there
    //    (other spaces' records are not the subscription's; its lag stays meaningful).
    let newest: i64 = conn.prepare_cached("SELECT coalesce(max(seq), 0) FROM events")?.query_row([], |r| r.get(0))?;
    let mut new_cursor = cursor;
    let mut scanned = 0;
    let mut exhausted = false;
    let scan_sql =
        format!("SELECT {} FROM events WHERE space = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3", rows::LOG_COLUMNS);
    while delivered.len() < max && scanned < SCAN_BUDGET {
        let page = SCAN_PAGE.min(SCAN_BUDGET - scanned);
        let mut matched = Vec::new();
        let mut read = 0;
        let mut filled = false;
        let mut stmt = conn.prepare_cached(&scan_sql)?;
        let mut rows = stmt.query(params![space, new_cursor, page as i64])?;
        while let Some(row) = rows.next()? {
            read += 1;
            new_cursor = row.get(0)?;
            // A column that is not text is decided on the decoded record below.
            let passes = match (text(row, 1), text(row, 2), text(row, 3)) {
                (Some(space), Some(kind), Some(address)) => filter.matches_columns(space, kind, address),
                _ => true,
            };
            if passes {
                // A record marked unreadable is delivered like any other (its marker tells the
                // consumer), so the cursor, acks and retention go on past it.
                let rows::LogRow::Record(record) = rows::log_record(row)? else { continue };
                if filter.matches(&record) {
                    matched.push(record);
                    // The cursor stops at the record that fills `max`: later ones are examined
                    // by the next pull.
                    if delivered.len() + matched.len() == max {
                        filled = true;
                        break;
                    }
                }
            }
        }
        drop(rows);
        scanned += read;
        exhausted = !filled && read < page;
        for record in matched {
            conn.prepare_cached(
                "INSERT INTO subscription_records (space, name, seq, deliveries, lease_until) VALUES (?1, ?2, ?3, 1, ?4)",
            )?
            .execute(params![space, name, record.seq.0 as i64, lease_until])?;
            delivered.push(Delivery { record, deliveries: 1, lease_expires_at });
        }
        if read < page {
            break;
        }
    }
    if exhausted {
        new_cursor = new_cursor.max(newest);
    }
    if new_cursor != cursor {
        conn.prepare_cached("UPDATE subscriptions SET cursor = ?3 WHERE space = ?1 AND name = ?2")?
            .execute(params![space, name, new_cursor])?;
    }
    delivered.sort_by_key(|d| d.record.seq);
    Ok(WriteOutcome::Pulled(delivered))
}

/// The oldest seq the log keeps (`None` when it is empty).
fn oldest_kept(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn.prepare_cached("SELECT seq FROM events ORDER BY seq LIMIT 1")?.query_row([], |r| r.get(0)).optional()?)
}

/// Removes the oldest records that retention allows, as one range (see [`TrimLog`]).
fn trim_log(conn: &Connection, trim: &TrimLog) -> Result<WriteOutcome, StoreError> {
    let Some(oldest) = oldest_kept(conn)? else { return Ok(WriteOutcome::LogTrimmed(0)) };
    // The oldest seq some subscription that does not allow loss still needs: its oldest row
    // (pending or dead) or the record after its cursor. Rows below the oldest record kept are
    // no need (say dead letters of a subscription that allowed loss when their records were
    // trimmed): what they name is gone, and counting them would hold the log forever. A cursor
    // below it is a need: the subscription has yet to examine everything from there on.
    let floor: Option<i64> = conn
        .prepare_cached(
            "SELECT min(need) FROM (
               SELECT min(s.cursor + 1, coalesce(
                 (SELECT min(r.seq) FROM subscription_records r
                   WHERE r.space = s.space AND r.name = s.name AND r.seq >= ?1),
                 s.cursor + 1)) AS need
               FROM subscriptions s WHERE s.allow_loss = 0)",
        )?
        .query_row(params![oldest], |r| r.get(0))?;
    let newest: Option<(i64, i64)> = conn
        .prepare_cached("SELECT seq, end_offset FROM events ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((newest, total)) = newest else { return Ok(WriteOutcome::LogTrimmed(0)) };
    let mut last = None;
    {
        let mut stmt = conn.prepare_cached("SELECT seq, created_at, end_offset FROM events ORDER BY seq LIMIT ?1")?;
        let mut rows = stmt.query(params![trim.limit])?;
        while let Some(row) = rows.next()? {
            let (seq, created_at, end_offset): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
            if !removable(trim, floor, newest, total, seq, created_at, end_offset) {
                break;
            }
            last = Some(seq);
        }
    }
    let Some(last) = last else { return Ok(WriteOutcome::LogTrimmed(0)) };
    let trimmed = conn.prepare_cached("DELETE FROM events WHERE seq <= ?1")?.execute(params![last])?;
    // Rows of subscriptions that allow loss whose records are gone: nothing is left to deliver.
    // Their dead letters stay (listed without a record) until discarded or redriven.
    conn.prepare_cached(
        "DELETE FROM subscription_records WHERE dead_at IS NULL AND seq <= ?1
         AND (space, name) IN (SELECT space, name FROM subscriptions WHERE allow_loss <> 0)",
    )?
    .execute(params![last])?;
    Ok(WriteOutcome::LogTrimmed(trimmed as u64))
}

/// A subscription with its counts (`leased` as of now).
pub(super) async fn get(
    store: &SqliteStore,
    space: &SpaceName,
    name: &Segment,
) -> Result<Option<SubscriptionRecord>, StoreError> {
    let (space, name) = (space.clone(), name.clone());
    store
        .read(move |conn| {
            let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s WHERE s.space = ?1 AND s.name = ?3");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![space.as_str(), Timestamp::now().0, name.as_str()])?;
            rows.next()?.map(subscription).transpose()
        })
        .await
}

/// A space's subscriptions with their counts, by name.
pub(super) async fn list(store: &SqliteStore, space: &SpaceName) -> Result<Vec<SubscriptionRecord>, StoreError> {
    let space = space.clone();
    store
        .read(move |conn| {
            let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s WHERE s.space = ?1 ORDER BY s.name");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![space.as_str(), Timestamp::now().0])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(subscription(row)?);
            }
            Ok(out)
        })
        .await
}

/// A subscription's dead letters after `after`, by seq, with their records where still kept.
pub(super) async fn dead_letters(
    store: &SqliteStore,
    space: &SpaceName,
    name: &Segment,
    after: Seq,
    limit: u32,
) -> Result<Vec<DeadLetter>, StoreError> {
    let Ok(after) = i64::try_from(after.0) else { return Ok(Vec::new()) };
    let (space, name) = (space.clone(), name.clone());
    let unreadable = store.metrics.unreadable_records.clone();
    store
        .read(move |conn| {
            let sql = format!(
                "SELECT {E_LOG_COLUMNS}, r.seq, r.deliveries, r.dead_at
                 FROM subscription_records r LEFT JOIN events e ON e.seq = r.seq
                 WHERE r.space = ?1 AND r.name = ?2 AND r.dead_at IS NOT NULL AND r.seq > ?3
                 ORDER BY r.seq LIMIT ?4"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![space.as_str(), name.as_str(), after, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let record = match row.get::<_, Option<i64>>(0)? {
                    Some(_) => unreadable.place(vec![rows::log_record(row)?]).pop(),
                    None => None,
                };
                let deliveries = row.get::<_, i64>(8)?;
                out.push(DeadLetter {
                    seq: seq(row.get(7)?)?,
                    record,
                    deliveries: u32::try_from(deliveries)
                        .map_err(|_| StoreError::Corrupt(format!("dead letter deliveries {deliveries}")))?,
                    dead_at: Timestamp(row.get(9)?),
                });
            }
            Ok(out)
        })
        .await
}

/// The log's extent and size, and the database's size on disk (its file and WAL).
pub(super) async fn log_stats(store: &SqliteStore) -> Result<LogStats, StoreError> {
    let wal = {
        let mut path = store.readers.path.clone().into_os_string();
        path.push("-wal");
        PathBuf::from(path)
    };
    store
        .read(move |conn| {
            // One statement, so one snapshot: the counts agree with each other.
            let mut stmt = conn.prepare_cached(
                "SELECT (SELECT value FROM meta WHERE key = 'last_seq'),
                   (SELECT seq FROM events ORDER BY seq LIMIT 1),
                   (SELECT end_offset - length(CAST(address AS BLOB)) - length(CAST(payload AS BLOB))
                      FROM events ORDER BY seq LIMIT 1),
                   (SELECT seq FROM events ORDER BY seq DESC LIMIT 1),
                   (SELECT end_offset FROM events ORDER BY seq DESC LIMIT 1)",
            )?;
            let mut rows = stmt.query([])?;
            let row = rows.next()?.ok_or_else(|| StoreError::Corrupt("no log statistics row".into()))?;
            let last_seq: Option<String> = row.get(0)?;
            let (oldest, oldest_start): (Option<i64>, Option<i64>) = (row.get(1)?, row.get(2)?);
            let (newest_kept, newest_end): (Option<i64>, Option<i64>) = (row.get(3)?, row.get(4)?);
            drop(rows);
            let last_seq: u64 = match last_seq {
                Some(v) => v.parse().map_err(|_| StoreError::Corrupt(format!("meta last_seq \"{v}\"")))?,
                None => 0,
            };
            let mut stats = LogStats { newest: Seq(last_seq), ..LogStats::default() };
            if let (Some(oldest), Some(newest_kept)) = (oldest, newest_kept) {
                stats.oldest = Some(seq(oldest)?);
                stats.newest = stats.newest.max(seq(newest_kept)?);
                // Seqs are contiguous: refused writes take none, and trimming removes a prefix.
                stats.records = (newest_kept - oldest + 1).max(0) as u64;
                let bytes = newest_end.unwrap_or(0) - oldest_start.unwrap_or(0);
                stats.bytes = bytes.max(0) as u64;
            }
            let page_count: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let wal_bytes = match std::fs::metadata(&wal) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(StoreError::Backend(format!("cannot read the size of {}: {e}", wal.display()))),
            };
            stats.file_bytes = Some((page_count.max(0) as u64) * (page_size.max(0) as u64) + wal_bytes);
            Ok(stats)
        })
        .await
}

/// Decodes a row of [`SUBSCRIPTION_COLUMNS`].
fn subscription(row: &Row<'_>) -> Result<SubscriptionRecord, StoreError> {
    let space = rows::space(row.get(0)?)?;
    let name = rows::segment(row.get(1)?)?;
    let filter: String = row.get(2)?;
    let filter = LogFilter::from_stored(space, serde_json::from_str(&filter)?);
    let max_deliveries: i64 = row.get(5)?;
    let ack_wait_ms: i64 = row.get(6)?;
    let corrupt = |what: &str, v: i64| StoreError::Corrupt(format!("subscription {what} {v}"));
    Ok(SubscriptionRecord {
        spec: SubscriptionSpec {
            filter,
            name,
            start_after: seq(row.get(3)?)?,
            max_deliveries: u32::try_from(max_deliveries).map_err(|_| corrupt("max_deliveries", max_deliveries))?,
            ack_wait_ms: u64::try_from(ack_wait_ms).map_err(|_| corrupt("ack_wait_ms", ack_wait_ms))?,
            allow_loss: row.get::<_, i64>(7)? != 0,
        },
        cursor: seq(row.get(4)?)?,
        pending: count(row.get(9)?),
        leased: count(row.get(10)?),
        dead_letters: count(row.get(11)?),
        created_at: Timestamp(row.get(8)?),
    })
}

/// A text column borrowed from the row; `None` unless it is UTF-8 text.
fn text<'r>(row: &'r Row<'_>, index: usize) -> Option<&'r str> {
    row.get_ref(index).ok()?.as_str().ok()
}

/// Refuses unless the subscription exists.
fn require(conn: &Connection, space: &SpaceName, name: &Segment) -> Result<(), StoreError> {
    let found: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM subscriptions WHERE space = ?1 AND name = ?2")?
        .query_row(params![space.as_str(), name.as_str()], |r| r.get(0))
        .optional()?;
    found.map(|_| ()).ok_or_else(|| not_found(space, name))
}

/// The seqs as a JSON array for `json_each`; seqs no record can have are left out.
fn seq_list(seqs: &[Seq]) -> Result<String, StoreError> {
    let seqs: Vec<i64> = seqs.iter().filter_map(|s| i64::try_from(s.0).ok()).collect();
    Ok(serde_json::to_string(&seqs)?)
}

#[cfg(test)]
mod tests {
    /// The joined log columns stay those `rows::log_record` decodes, in its order.
    #[test]
    fn joined_log_columns_match_the_decoder() {
        assert_eq!(super::E_LOG_COLUMNS.replace("e.", ""), super::rows::LOG_COLUMNS);
    }
}
