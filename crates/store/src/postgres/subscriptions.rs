//! Durable subscriptions and log retention on PostgreSQL: the writes (inside a group's
//! transaction, with the subscription's advisory lock already held) and the reads.
//!
//! A subscription is a row of `subscriptions` (its filter, settings and `cursor`) plus one row
//! of `subscription_records` per record it delivered and no consumer acked yet: leased until
//! `lease_until`, due again after it, or a dead letter (`dead_at` set). An ack deletes the row.
//!
//! Invariants kept here (besides those of [`crate::streams`]):
//! - Every op on one subscription runs under its advisory lock `subscription:{space}:{name}`
//!   (taken by the writer before any op), so pulls, acks and redrives of one subscription are
//!   serialised across nodes: a record is leased to one consumer at a time.
//! - An op refuses only before its first write (a single-op request has no savepoint). A pull
//!   therefore reads and decodes everything first and writes at the end, in a few statements.
//! - A pull scans `events WHERE space = $space AND seq > cursor`: records become visible
//!   strictly in seq order (see `writer`), so the cursor never passes a record that commits
//!   later. Once the scan reaches the end of the space's records, the cursor moves to the log's
//!   newest seq as read *before* the scan (every record up to it was visible to the scan), so
//!   it skips only other spaces' records.
//! - A lease is named by (seq, deliveries): a nack ends it only while the row still counts
//!   that many deliveries, so a consumer whose lease ended cannot end the next consumer's.
//! - A pull does bounded work (at most [`DUE_BUDGET`] due rows and [`SCAN_BUDGET`] log records
//!   examined), so it never holds a writer for long.
//! - `PutSubscription` and `TrimLog` share the `log-trim` lock, so a trim never removes the
//!   start of a subscription created meanwhile, nor the records between the start it was
//!   checked against (`SeqExpired`) and the oldest record kept. Every other change only
//!   raises a subscription's floor, so a trim that read an older floor is still safe. Rows
//!   below the oldest record kept do not count towards a floor: their records are gone.
//! - Trimming never removes the newest record.

use deadpool_postgres::Transaction;
use switchyard_model::{Segment, SpaceName};
use tokio_postgres::Row;

use crate::decode::LogRow;
use crate::error::StoreError;
use crate::postgres::ops::{OpContext, OpFailure};
use crate::postgres::{LOG_COLUMNS, PgStore, log_record};
use crate::streams::*;
use crate::subscription_rules::*;
use crate::types::*;

/// Columns of a subscription with its counts, decoded by [`subscription`]; `$2` is the time
/// that decides which pending records are leased.
const SUBSCRIPTION_COLUMNS: &str = "s.space, s.name, s.filter, s.start_after, s.cursor, s.max_deliveries,
    s.ack_wait_ms, s.allow_loss, s.created_at,
    (SELECT count(*) FROM subscription_records r WHERE r.space = s.space AND r.name = s.name AND r.dead_at IS NULL),
    (SELECT count(*) FROM subscription_records r
      WHERE r.space = s.space AND r.name = s.name AND r.dead_at IS NULL AND r.lease_until > $2),
    (SELECT count(*) FROM subscription_records r WHERE r.space = s.space AND r.name = s.name AND r.dead_at IS NOT NULL)";

/// What an op returns; a refusal is only ever returned before the op's first write.
type OpResult = Result<WriteOutcome, OpFailure>;

/// Executes `PutSubscription`, `DeleteSubscription`, `Pull`, `Ack`, `Nack`,
/// `RedriveDeadLetters`, `DiscardDeadLetters` and `TrimLog`.
pub(crate) async fn execute(tx: &Transaction<'_>, cx: &mut OpContext<'_>, now: Timestamp, op: &WriteOp) -> OpResult {
    match op {
        WriteOp::PutSubscription(spec) => put(tx, cx, now, spec).await,
        WriteOp::DeleteSubscription { space, name } => {
            let (s, n) = (space.as_str(), name.as_str());
            let stmt = tx.prepare_cached("DELETE FROM subscriptions WHERE space = $1 AND name = $2").await?;
            // Nothing was written when nothing was deleted, so refusing here is still safe.
            if tx.execute(&stmt, &[&s, &n]).await? == 0 {
                return Err(not_found(space, name).into());
            }
            let stmt = tx.prepare_cached("DELETE FROM subscription_records WHERE space = $1 AND name = $2").await?;
            tx.execute(&stmt, &[&s, &n]).await?;
            Ok(WriteOutcome::SubscriptionDeleted)
        }
        WriteOp::Pull(request) => pull(tx, now, request).await,
        WriteOp::Ack { space, name, seqs } => ack(tx, space, name, seqs).await,
        WriteOp::Nack { space, name, leases } => nack(tx, space, name, leases).await,
        WriteOp::RedriveDeadLetters { space, name, seqs } => {
            let listed = "UPDATE subscription_records SET dead_at = NULL, deliveries = 0, lease_until = 0
                          WHERE space = $1 AND name = $2 AND dead_at IS NOT NULL AND seq = ANY($3)";
            let all = "UPDATE subscription_records SET dead_at = NULL, deliveries = 0, lease_until = 0
                       WHERE space = $1 AND name = $2 AND dead_at IS NOT NULL";
            update_listed(tx, space, name, seqs.as_ref(), listed, all).await
        }
        WriteOp::DiscardDeadLetters { space, name, seqs } => {
            let listed = "DELETE FROM subscription_records
                          WHERE space = $1 AND name = $2 AND dead_at IS NOT NULL AND seq = ANY($3)";
            let all = "DELETE FROM subscription_records WHERE space = $1 AND name = $2 AND dead_at IS NOT NULL";
            update_listed(tx, space, name, seqs.as_ref(), listed, all).await
        }
        WriteOp::TrimLog(trim) => trim_log(tx, trim).await,
        other => Err(StoreError::Internal(format!("not a subscription operation: {other:?}")).into()),
    }
}

/// Creates a subscription, or updates the settings of one with the same filter.
async fn put(tx: &Transaction<'_>, cx: &mut OpContext<'_>, now: Timestamp, spec: &SubscriptionSpec) -> OpResult {
    let (space, name) = (spec.filter.space.as_str(), spec.name.as_str());
    let stmt = tx.prepare_cached("SELECT filter FROM subscriptions WHERE space = $1 AND name = $2").await?;
    let stored = tx.query_opt(&stmt, &[&space, &name]).await?;
    let max_deliveries = i32::try_from(spec.max_deliveries).unwrap_or(i32::MAX);
    let ack_wait_ms = i64::try_from(spec.ack_wait_ms).unwrap_or(i64::MAX);
    if let Some(row) = stored {
        // Compared as values, not text: a filter stored by another build may be spelled differently.
        let stored: StoredFilter = serde_json::from_str(row.get::<_, &str>(0))?;
        if stored != spec.filter.to_stored() {
            let e = StoreError::SubscriptionFilterChanged { space: space.to_string(), name: name.to_string() };
            return Err(e.into());
        }
        let stmt = tx
            .prepare_cached(
                "UPDATE subscriptions SET max_deliveries = $3, ack_wait_ms = $4, allow_loss = $5
                 WHERE space = $1 AND name = $2",
            )
            .await?;
        tx.execute(&stmt, &[&space, &name, &max_deliveries, &ack_wait_ms, &spec.allow_loss]).await?;
        return Ok(WriteOutcome::SubscriptionPut { created: false, space_created: false });
    }
    let filter = serde_json::to_string(&spec.filter.to_stored())?;
    let start_after = start_param(spec.start_after);
    // It never starts inside the trimmed part of the log: 0 means "from the oldest record kept"
    // (a cursor below the oldest record examines from there), any other start must leave no
    // trimmed record between it and the oldest kept. This op holds the `log-trim` lock, so
    // nothing is trimmed between this check and the insert.
    if start_after > 0
        && let Some(oldest) = oldest_kept(tx).await?
        && start_after + 1 < oldest
    {
        return Err(StoreError::SeqExpired { oldest: seq(oldest)? }.into());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO subscriptions
               (space, name, filter, start_after, cursor, max_deliveries, ack_wait_ms, allow_loss, created_at)
             VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)",
        )
        .await?;
    tx.execute(&stmt, &[&space, &name, &filter, &start_after, &max_deliveries, &ack_wait_ms, &spec.allow_loss, &now.0])
        .await?;
    cx.touch_space(now, space);
    // `space_created` is patched in at commit.
    Ok(WriteOutcome::SubscriptionPut { created: true, space_created: false })
}

/// Runs `listed` (with the seqs as an array in `$3`) or, when `seqs` is `None`, `all` on a
/// subscription's rows; the number of rows changed is the outcome.
async fn update_listed(
    tx: &Transaction<'_>,
    space: &SpaceName,
    name: &Segment,
    seqs: Option<&Vec<Seq>>,
    listed: &str,
    all: &str,
) -> OpResult {
    let (s, n) = (space.as_str(), name.as_str());
    require(tx, space, name).await?;
    let changed = match seqs {
        Some(seqs) if seqs.is_empty() => 0,
        Some(seqs) => {
            let seqs: Vec<i64> = seqs.iter().filter_map(|s| i64::try_from(s.0).ok()).collect();
            let stmt = tx.prepare_cached(listed).await?;
            tx.execute(&stmt, &[&s, &n, &seqs]).await?
        }
        None => {
            let stmt = tx.prepare_cached(all).await?;
            tx.execute(&stmt, &[&s, &n]).await?
        }
    };
    Ok(WriteOutcome::SubscriptionUpdated(changed))
}

/// Acknowledges pending records (an ack after the lease ended still counts); the outcome names
/// the seqs that were pending.
async fn ack(tx: &Transaction<'_>, space: &SpaceName, name: &Segment, seqs: &[Seq]) -> OpResult {
    require(tx, space, name).await?;
    if seqs.is_empty() {
        return Ok(WriteOutcome::Settled(Vec::new()));
    }
    let seqs: Vec<i64> = seqs.iter().filter_map(|s| i64::try_from(s.0).ok()).collect();
    let stmt = tx
        .prepare_cached(
            "DELETE FROM subscription_records
             WHERE space = $1 AND name = $2 AND dead_at IS NULL AND seq = ANY($3) RETURNING seq",
        )
        .await?;
    settled(tx.query(&stmt, &[&space.as_str(), &name.as_str(), &seqs]).await?)
}

/// The seqs of `RETURNING seq` rows, in ascending order.
fn settled(rows: Vec<Row>) -> OpResult {
    let mut seqs = rows.iter().map(|row| seq(row.get(0))).collect::<Result<Vec<Seq>, _>>()?;
    seqs.sort_unstable();
    Ok(WriteOutcome::Settled(seqs))
}

/// Ends the leases named by (seq, deliveries). A row whose `deliveries` differs was leased
/// again since (the named lease already ended), so it is left alone and not named.
async fn nack(tx: &Transaction<'_>, space: &SpaceName, name: &Segment, leases: &[(Seq, u32)]) -> OpResult {
    require(tx, space, name).await?;
    if leases.is_empty() {
        return Ok(WriteOutcome::Settled(Vec::new()));
    }
    // Leases no row can have (a seq or count beyond the columns' range) are left out.
    let (seqs, deliveries): (Vec<i64>, Vec<i32>) =
        leases.iter().filter_map(|(s, d)| Some((i64::try_from(s.0).ok()?, i32::try_from(*d).ok()?))).unzip();
    // Lease end 0 is before any `now`: the next pull delivers them first.
    let stmt = tx
        .prepare_cached(
            "UPDATE subscription_records SET lease_until = 0
             WHERE space = $1 AND name = $2 AND dead_at IS NULL
             AND (seq, deliveries) IN (SELECT * FROM unnest($3::bigint[], $4::int[]))
             RETURNING seq",
        )
        .await?;
    settled(tx.query(&stmt, &[&space.as_str(), &name.as_str(), &seqs, &deliveries]).await?)
}

/// What a pull writes once it has read everything.
#[derive(Default)]
struct PullWrites {
    /// Due rows that reached `max_deliveries`: they become dead letters.
    dead: Vec<i64>,
    /// Due rows whose record was trimmed (the subscription allows loss): they are forgotten.
    gone: Vec<i64>,
    /// Due rows leased again.
    again: Vec<i64>,
    /// New rows past the cursor.
    new: Vec<i64>,
}

/// Leases up to `request.max` records: due ones first, then new ones past the cursor.
async fn pull(tx: &Transaction<'_>, now: Timestamp, request: &PullRequest) -> OpResult {
    let (space, name) = (request.space.as_str(), request.name.as_str());
    let stmt = tx
        .prepare_cached("SELECT filter, cursor, max_deliveries FROM subscriptions WHERE space = $1 AND name = $2")
        .await?;
    let Some(row) = tx.query_opt(&stmt, &[&space, &name]).await? else {
        return Err(not_found(&request.space, &request.name).into());
    };
    let filter = LogFilter::from_stored(request.space.clone(), serde_json::from_str(row.get::<_, &str>(0))?);
    let cursor: i64 = row.get(1);
    let max_deliveries: i32 = row.get(2);
    let max = request.max as usize;
    let lease_until = now.0.saturating_add(i64::try_from(request.lease_ms).unwrap_or(i64::MAX));
    let lease_expires_at = Timestamp(lease_until);
    let mut delivered: Vec<Delivery> = Vec::new();
    let mut writes = PullWrites::default();

    // 1. Due rows, by seq. Nothing is written until the end, so `seq > after` walks on.
    let mut after = 0_i64;
    let mut examined = 0;
    let due_sql = format!(
        "SELECT {E_LOG_COLUMNS}, r.seq, r.deliveries FROM subscription_records r LEFT JOIN events e ON e.seq = r.seq
         WHERE r.space = $1 AND r.name = $2 AND r.dead_at IS NULL AND r.lease_until <= $3 AND r.seq > $4
         ORDER BY r.seq LIMIT $5"
    );
    let stmt = tx.prepare_cached(&due_sql).await?;
    'due: while delivered.len() < max && examined < DUE_BUDGET {
        let chunk = (max - delivered.len()).clamp(*DUE_CHUNK.start(), *DUE_CHUNK.end()).min(DUE_BUDGET - examined);
        let rows = tx.query(&stmt, &[&space, &name, &now.0, &after, &(chunk as i64)]).await?;
        for row in &rows {
            examined += 1;
            let seq: i64 = row.get(7);
            let deliveries: i32 = row.get(8);
            after = seq;
            if deliveries >= max_deliveries {
                writes.dead.push(seq);
            } else if row.get::<_, Option<i64>>(0).is_none() {
                writes.gone.push(seq);
            } else {
                let deliveries = u32::try_from(deliveries)
                    .map_err(|_| StoreError::Corrupt(format!("deliveries of {space}:{name} seq {seq}")))?;
                // A record that lost its space since it was leased can go to no one: forgotten.
                let LogRow::Record(record) = log_record(row)? else {
                    writes.gone.push(seq);
                    continue;
                };
                delivered.push(Delivery { record, deliveries: deliveries.saturating_add(1), lease_expires_at });
                writes.again.push(seq);
                // Stop at the row that fills `max`: later ones stay due for the next pull.
                if delivered.len() == max {
                    break 'due;
                }
            }
        }
        if rows.len() < chunk {
            break;
        }
    }

    // 2. New records of the subscription's space past the cursor, in pages, within the budget.
    //    The log's newest seq is read first, in an earlier statement than the scan: records
    //    become visible in seq order, so every record up to it is visible to the scan, and
    //    should the scan reach the end of the space's records, every record of the space up to
    //    it was examined: the cursor may move there (other spaces' records are not the
    //    subscription's; its lag stays meaningful).
    let stmt = tx.prepare_cached("SELECT coalesce(max(seq), 0) FROM events").await?;
    let newest: i64 = tx.query_one(&stmt, &[]).await?.get(0);
    let mut new_cursor = cursor;
    let mut scanned = 0;
    let mut exhausted = false;
    let scan_sql = format!("SELECT {LOG_COLUMNS} FROM events WHERE space = $1 AND seq > $2 ORDER BY seq LIMIT $3");
    let stmt = tx.prepare_cached(&scan_sql).await?;
    'scan: while delivered.len() < max && scanned < SCAN_BUDGET {
        let page = SCAN_PAGE.min(SCAN_BUDGET - scanned);
        let rows = tx.query(&stmt, &[&space, &new_cursor, &(page as i64)]).await?;
        // Set again below unless a record fills `max` on this page.
        exhausted = rows.len() < page;
        for row in &rows {
            scanned += 1;
            new_cursor = row.get(0);
            // A column that cannot be read as text is decided on the decoded record below.
            let column = |index: usize| row.try_get::<_, &str>(index).ok();
            let passes = match (column(1), column(2), column(3)) {
                (Some(space), Some(kind), Some(address)) => filter.matches_columns(space, kind, address),
                _ => true,
            };
            if passes {
                // A record marked unreadable is delivered like any other (its marker tells the
                // consumer), so the cursor, acks and retention go on past it.
                let LogRow::Record(record) = log_record(row)? else { continue };
                if filter.matches(&record) {
                    writes.new.push(new_cursor);
                    delivered.push(Delivery { record, deliveries: 1, lease_expires_at });
                    // The cursor stops at the record that fills `max`: later ones are examined
                    // by the next pull.
                    if delivered.len() == max {
                        exhausted = false;
                        break 'scan;
                    }
                }
            }
        }
        if rows.len() < page {
            break;
        }
    }
    if exhausted {
        new_cursor = new_cursor.max(newest);
    }

    // 3. The writes: everything above has been read and decoded, so nothing refuses below.
    if !writes.dead.is_empty() {
        let stmt = tx
            .prepare_cached(
                "UPDATE subscription_records SET dead_at = $3 WHERE space = $1 AND name = $2 AND seq = ANY($4)",
            )
            .await?;
        tx.execute(&stmt, &[&space, &name, &now.0, &writes.dead]).await?;
    }
    if !writes.gone.is_empty() {
        let stmt = tx
            .prepare_cached("DELETE FROM subscription_records WHERE space = $1 AND name = $2 AND seq = ANY($3)")
            .await?;
        tx.execute(&stmt, &[&space, &name, &writes.gone]).await?;
    }
    if !writes.again.is_empty() {
        let stmt = tx
            .prepare_cached(
                "UPDATE subscription_records SET deliveries = deliveries + 1, lease_until = $3
                 WHERE space = $1 AND name = $2 AND seq = ANY($4)",
            )
            .await?;
        tx.execute(&stmt, &[&space, &name, &lease_until, &writes.again]).await?;
    }
    if !writes.new.is_empty() {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO subscription_records (space, name, seq, deliveries, lease_until)
                 SELECT $1, $2, seq, 1, $3 FROM unnest($4::bigint[]) AS seq",
            )
            .await?;
        tx.execute(&stmt, &[&space, &name, &lease_until, &writes.new]).await?;
    }
    if new_cursor != cursor {
        let stmt = tx.prepare_cached("UPDATE subscriptions SET cursor = $3 WHERE space = $1 AND name = $2").await?;
        tx.execute(&stmt, &[&space, &name, &new_cursor]).await?;
    }
    delivered.sort_by_key(|d| d.record.seq);
    Ok(WriteOutcome::Pulled(delivered))
}

/// The oldest seq the log keeps (`None` when it is empty).
async fn oldest_kept(tx: &Transaction<'_>) -> Result<Option<i64>, OpFailure> {
    let stmt = tx.prepare_cached("SELECT seq FROM events ORDER BY seq LIMIT 1").await?;
    Ok(tx.query_opt(&stmt, &[]).await?.map(|row| row.get(0)))
}

/// Removes the oldest records that retention allows, as one range (see [`TrimLog`]).
async fn trim_log(tx: &Transaction<'_>, trim: &TrimLog) -> OpResult {
    let Some(oldest) = oldest_kept(tx).await? else { return Ok(WriteOutcome::LogTrimmed(0)) };
    // The oldest seq some subscription that does not allow loss still needs: its oldest row
    // (pending or dead) or the record after its cursor. LEAST ignores a NULL (no rows). Rows
    // below the oldest record kept are no need (say dead letters of a subscription that allowed
    // loss when their records were trimmed): what they name is gone, and counting them would
    // hold the log forever. A cursor below it is a need: the subscription has yet to examine
    // everything from there on.
    let stmt = tx
        .prepare_cached(
            "SELECT min(LEAST(s.cursor + 1,
               (SELECT min(r.seq) FROM subscription_records r
                 WHERE r.space = s.space AND r.name = s.name AND r.seq >= $1)))
             FROM subscriptions s WHERE NOT s.allow_loss",
        )
        .await?;
    let floor: Option<i64> = tx.query_one(&stmt, &[&oldest]).await?.get(0);
    let stmt = tx.prepare_cached("SELECT seq, end_offset FROM events ORDER BY seq DESC LIMIT 1").await?;
    let Some(newest) = tx.query_opt(&stmt, &[]).await? else { return Ok(WriteOutcome::LogTrimmed(0)) };
    let (newest, total): (i64, i64) = (newest.get(0), newest.get(1));
    let stmt = tx.prepare_cached("SELECT seq, created_at, end_offset FROM events ORDER BY seq LIMIT $1").await?;
    let mut last = None;
    for row in tx.query(&stmt, &[&i64::from(trim.limit)]).await? {
        let (seq, created_at, end_offset): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        if !removable(trim, floor, newest, total, seq, created_at, end_offset) {
            break;
        }
        last = Some(seq);
    }
    let Some(last) = last else { return Ok(WriteOutcome::LogTrimmed(0)) };
    let stmt = tx.prepare_cached("DELETE FROM events WHERE seq <= $1").await?;
    let trimmed = tx.execute(&stmt, &[&last]).await?;
    // Rows of subscriptions that allow loss whose records are gone: nothing is left to deliver.
    // Their dead letters stay (listed without a record) until discarded or redriven.
    let stmt = tx
        .prepare_cached(
            "DELETE FROM subscription_records r USING subscriptions s
             WHERE s.space = r.space AND s.name = r.name AND s.allow_loss AND r.dead_at IS NULL AND r.seq <= $1",
        )
        .await?;
    tx.execute(&stmt, &[&last]).await?;
    Ok(WriteOutcome::LogTrimmed(trimmed))
}

/// A subscription with its counts (`leased` as of now).
pub(super) async fn get(
    store: &PgStore,
    space: &SpaceName,
    name: &Segment,
) -> Result<Option<SubscriptionRecord>, StoreError> {
    let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s WHERE s.space = $1 AND s.name = $3");
    let rows = store.query(&sql, &[&space.as_str(), &Timestamp::now().0, &name.as_str()]).await?;
    rows.first().map(subscription).transpose()
}

/// A space's subscriptions with their counts, by name.
pub(super) async fn list(store: &PgStore, space: &SpaceName) -> Result<Vec<SubscriptionRecord>, StoreError> {
    let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s WHERE s.space = $1 ORDER BY s.name");
    let rows = store.query(&sql, &[&space.as_str(), &Timestamp::now().0]).await?;
    rows.iter().map(subscription).collect()
}

/// A subscription's dead letters after `after`, by seq, with their records where still kept.
pub(super) async fn dead_letters(
    store: &PgStore,
    space: &SpaceName,
    name: &Segment,
    after: Seq,
    limit: u32,
) -> Result<Vec<DeadLetter>, StoreError> {
    let Ok(after) = i64::try_from(after.0) else { return Ok(Vec::new()) };
    let sql = format!(
        "SELECT {E_LOG_COLUMNS}, r.seq, r.deliveries, r.dead_at
         FROM subscription_records r LEFT JOIN events e ON e.seq = r.seq
         WHERE r.space = $1 AND r.name = $2 AND r.dead_at IS NOT NULL AND r.seq > $3
         ORDER BY r.seq LIMIT $4"
    );
    let rows = store.query(&sql, &[&space.as_str(), &name.as_str(), &after, &i64::from(limit)]).await?;
    rows.iter()
        .map(|row| {
            let record = match row.get::<_, Option<i64>>(0) {
                Some(_) => store.metrics.unreadable_records.place(vec![log_record(row)?]).pop(),
                None => None,
            };
            let deliveries: i32 = row.get(8);
            Ok(DeadLetter {
                seq: seq(row.get(7))?,
                record,
                deliveries: u32::try_from(deliveries)
                    .map_err(|_| StoreError::Corrupt(format!("dead letter deliveries {deliveries}")))?,
                dead_at: Timestamp(row.get(9)),
            })
        })
        .collect()
}

/// The log's extent and size (PostgreSQL's files are not this store's to measure).
pub(super) async fn log_stats(store: &PgStore) -> Result<LogStats, StoreError> {
    // One statement, so one snapshot: the counts agree with each other.
    let rows = store
        .query(
            "SELECT (SELECT last_seq FROM log_head WHERE id = 1),
               (SELECT seq FROM events ORDER BY seq LIMIT 1),
               (SELECT end_offset - octet_length(address) - octet_length(payload) FROM events ORDER BY seq LIMIT 1),
               (SELECT seq FROM events ORDER BY seq DESC LIMIT 1),
               (SELECT end_offset FROM events ORDER BY seq DESC LIMIT 1)",
            &[],
        )
        .await?;
    let Some(row) = rows.first() else { return Err(StoreError::Corrupt("no log statistics row".into())) };
    let last_seq: Option<i64> = row.get(0);
    let (oldest, oldest_start): (Option<i64>, Option<i64>) = (row.get(1), row.get(2));
    let (newest_kept, newest_end): (Option<i64>, Option<i64>) = (row.get(3), row.get(4));
    let mut stats = LogStats { newest: seq(last_seq.unwrap_or(0))?, ..LogStats::default() };
    if let (Some(oldest), Some(newest_kept)) = (oldest, newest_kept) {
        stats.oldest = Some(seq(oldest)?);
        stats.newest = stats.newest.max(seq(newest_kept)?);
        // Seqs are contiguous: a rolled-back group gives its seqs back, trimming removes a prefix.
        stats.records = (newest_kept - oldest + 1).max(0) as u64;
        stats.bytes = (newest_end.unwrap_or(0) - oldest_start.unwrap_or(0)).max(0) as u64;
    }
    Ok(stats)
}

/// Decodes a row of [`SUBSCRIPTION_COLUMNS`].
fn subscription(row: &Row) -> Result<SubscriptionRecord, StoreError> {
    let space = crate::decode::space(row.get(0))?;
    let name = crate::decode::segment(row.get(1))?;
    let filter = LogFilter::from_stored(space, serde_json::from_str(row.get::<_, &str>(2))?);
    let max_deliveries: i32 = row.get(5);
    let ack_wait_ms: i64 = row.get(6);
    let corrupt = |what: &str, v: i64| StoreError::Corrupt(format!("subscription {what} {v}"));
    Ok(SubscriptionRecord {
        spec: SubscriptionSpec {
            filter,
            name,
            start_after: seq(row.get(3))?,
            max_deliveries: u32::try_from(max_deliveries)
                .map_err(|_| corrupt("max_deliveries", i64::from(max_deliveries)))?,
            ack_wait_ms: u64::try_from(ack_wait_ms).map_err(|_| corrupt("ack_wait_ms", ack_wait_ms))?,
            allow_loss: row.get(7),
        },
        cursor: seq(row.get(4))?,
        pending: count(row.get(9)),
        leased: count(row.get(10)),
        dead_letters: count(row.get(11)),
        created_at: Timestamp(row.get(8)),
    })
}

/// Refuses unless the subscription exists.
async fn require(tx: &Transaction<'_>, space: &SpaceName, name: &Segment) -> Result<(), OpFailure> {
    let stmt = tx.prepare_cached("SELECT 1 FROM subscriptions WHERE space = $1 AND name = $2").await?;
    match tx.query_opt(&stmt, &[&space.as_str(), &name.as_str()]).await? {
        Some(_) => Ok(()),
        None => Err(not_found(space, name).into()),
    }
}

#[cfg(test)]
mod tests {
    /// The joined log columns stay those `log_record` decodes, in its order.
    #[test]
    fn joined_log_columns_match_the_decoder() {
        assert_eq!(super::E_LOG_COLUMNS.replace("e.", ""), super::LOG_COLUMNS);
    }
}
