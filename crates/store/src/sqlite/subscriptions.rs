//! Durable subscriptions and the log on SQLite: the tables the subscription and retention
//! commands write through (`crate::commands::subscriptions`, `crate::commands::retention`; on
//! the writer thread inside the group's transaction) and the reads (on the reader pool). SQL
//! only; the rules and invariants are the commands'.
//!
//! The writer is alone, so no row changes between a command's read and its write, and a
//! statement costs no round trip: lists of seqs go to one statement as a JSON array
//! (`json_each`), or one statement per seq where that reads more plainly.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, Row, params};
use switchyard_model::{DeadLetter, Segment, Seq, SpaceName, SubscriptionRecord, SubscriptionSpec, Timestamp};

use crate::error::StoreError;
use crate::sqlite::SqliteStore;
use crate::sqlite::rows;
use crate::sqlite::tables::SqliteTx;
use crate::streams::*;
use crate::subscription_rules::*;
use crate::tables::{DueRecord, LogTable, ScannedRecord, SubscriptionRow, SubscriptionTable, TxResult};
use crate::{Clock, SystemClock};

/// Columns of a subscription with its counts, decoded by [`subscription`]; `?2` is the time
/// that decides which pending records are leased.
const SUBSCRIPTION_COLUMNS: &str = "s.space, s.name, s.filter, s.start_after, s.cursor, s.max_deliveries,
    s.ack_wait_ms, s.allow_loss, s.created_at,
    (SELECT count(*) FROM subscription_records r WHERE r.space = s.space AND r.name = s.name AND r.dead_at IS NULL),
    (SELECT count(*) FROM subscription_records r
      WHERE r.space = s.space AND r.name = s.name AND r.dead_at IS NULL AND r.lease_until > ?2),
    (SELECT count(*) FROM subscription_records r WHERE r.space = s.space AND r.name = s.name AND r.dead_at IS NOT NULL)";

// ---------------------------------------------------------------------------------------------
// Writes

impl SubscriptionTable for SqliteTx<'_> {
    async fn subscription(&mut self, space: &str, name: &str) -> TxResult<Option<SubscriptionRow>> {
        let row: Option<(String, i64, i64)> = self
            .conn
            .prepare_cached("SELECT filter, cursor, max_deliveries FROM subscriptions WHERE space = ?1 AND name = ?2")?
            .query_row(params![space, name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((filter, cursor, max_deliveries)) = row else { return Ok(None) };
        Ok(Some(SubscriptionRow { filter: serde_json::from_str(&filter)?, cursor, max_deliveries }))
    }

    async fn subscription_exists(&mut self, space: &str, name: &str) -> TxResult<bool> {
        let found: Option<i64> = self
            .conn
            .prepare_cached("SELECT 1 FROM subscriptions WHERE space = ?1 AND name = ?2")?
            .query_row(params![space, name], |r| r.get(0))
            .optional()?;
        Ok(found.is_some())
    }

    async fn insert_subscription(
        &mut self,
        spec: &SubscriptionSpec,
        filter: &str,
        start_after: i64,
        now: Timestamp,
    ) -> TxResult<()> {
        let (max_deliveries, ack_wait_ms) = settings(spec);
        self.conn
            .prepare_cached(
                "INSERT INTO subscriptions
                   (space, name, filter, start_after, cursor, max_deliveries, ack_wait_ms, allow_loss, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                spec.filter.space.as_str(),
                spec.name.as_str(),
                filter,
                start_after,
                max_deliveries,
                ack_wait_ms,
                spec.allow_loss,
                now.0
            ])?;
        Ok(())
    }

    async fn update_subscription(&mut self, spec: &SubscriptionSpec) -> TxResult<()> {
        let (max_deliveries, ack_wait_ms) = settings(spec);
        self.conn
            .prepare_cached(
                "UPDATE subscriptions SET max_deliveries = ?3, ack_wait_ms = ?4, allow_loss = ?5
                 WHERE space = ?1 AND name = ?2",
            )?
            .execute(params![
                spec.filter.space.as_str(),
                spec.name.as_str(),
                max_deliveries,
                ack_wait_ms,
                spec.allow_loss
            ])?;
        Ok(())
    }

    async fn delete_subscription(&mut self, space: &str, name: &str) -> TxResult<bool> {
        let removed = self
            .conn
            .prepare_cached("DELETE FROM subscriptions WHERE space = ?1 AND name = ?2")?
            .execute(params![space, name])?;
        Ok(removed > 0)
    }

    async fn delete_subscription_records(&mut self, space: &str, name: &str) -> TxResult<()> {
        self.conn
            .prepare_cached("DELETE FROM subscription_records WHERE space = ?1 AND name = ?2")?
            .execute(params![space, name])?;
        Ok(())
    }

    async fn due_records(
        &mut self,
        space: &str,
        name: &str,
        now: Timestamp,
        after: i64,
        limit: usize,
    ) -> TxResult<Vec<DueRecord>> {
        let sql = format!(
            "SELECT {E_LOG_COLUMNS}, r.seq, r.deliveries
             FROM subscription_records r LEFT JOIN events e ON e.seq = r.seq
             WHERE r.space = ?1 AND r.name = ?2 AND r.dead_at IS NULL AND r.lease_until <= ?3 AND r.seq > ?4
             ORDER BY r.seq LIMIT +?5"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![space, name, now.0, after, limit as i64])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let record = match row.get::<_, Option<i64>>(0)? {
                Some(seq) => Some(rows::raw_log_row(row, seq)?),
                None => None,
            };
            out.push(DueRecord { seq: row.get(7)?, deliveries: row.get(8)?, record });
        }
        Ok(out)
    }

    async fn kill_records(&mut self, space: &str, name: &str, seqs: &[i64], now: Timestamp) -> TxResult<()> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE subscription_records SET dead_at = ?4 WHERE space = ?1 AND name = ?2 AND seq = ?3",
        )?;
        for seq in seqs {
            stmt.execute(params![space, name, seq, now.0])?;
        }
        Ok(())
    }

    async fn forget_records(&mut self, space: &str, name: &str, seqs: &[i64]) -> TxResult<()> {
        let mut stmt =
            self.conn.prepare_cached("DELETE FROM subscription_records WHERE space = ?1 AND name = ?2 AND seq = ?3")?;
        for seq in seqs {
            stmt.execute(params![space, name, seq])?;
        }
        Ok(())
    }

    async fn lease_again(&mut self, space: &str, name: &str, seqs: &[i64], lease_until: i64) -> TxResult<()> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE subscription_records SET deliveries = deliveries + 1, lease_until = ?4
             WHERE space = ?1 AND name = ?2 AND seq = ?3",
        )?;
        for seq in seqs {
            stmt.execute(params![space, name, seq, lease_until])?;
        }
        Ok(())
    }

    async fn lease_new(&mut self, space: &str, name: &str, seqs: &[i64], lease_until: i64) -> TxResult<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO subscription_records (space, name, seq, deliveries, lease_until) VALUES (?1, ?2, ?3, 1, ?4)",
        )?;
        for seq in seqs {
            stmt.execute(params![space, name, seq, lease_until])?;
        }
        Ok(())
    }

    async fn set_cursor(&mut self, space: &str, name: &str, cursor: i64) -> TxResult<()> {
        self.conn
            .prepare_cached("UPDATE subscriptions SET cursor = ?3 WHERE space = ?1 AND name = ?2")?
            .execute(params![space, name, cursor])?;
        Ok(())
    }

    async fn ack_records(&mut self, space: &str, name: &str, seqs: &[i64]) -> TxResult<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "DELETE FROM subscription_records WHERE space = ?1 AND name = ?2 AND dead_at IS NULL
             AND seq IN (SELECT value FROM json_each(?3)) RETURNING seq",
        )?;
        let rows = stmt.query_map(params![space, name, serde_json::to_string(seqs)?], |r| r.get::<_, i64>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn end_leases(&mut self, space: &str, name: &str, leases: &[(i64, u32)]) -> TxResult<Vec<i64>> {
        // One JSON array of [seq, deliveries] pairs.
        let mut stmt = self.conn.prepare_cached(
            "UPDATE subscription_records SET lease_until = 0 WHERE space = ?1 AND name = ?2 AND dead_at IS NULL
             AND (seq, deliveries) IN
               (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?3))
             RETURNING seq",
        )?;
        let rows = stmt.query_map(params![space, name, serde_json::to_string(leases)?], |r| r.get::<_, i64>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn redrive_dead_letters(&mut self, space: &str, name: &str, seqs: Option<&[i64]>) -> TxResult<u64> {
        let changed = match seqs {
            Some(seqs) => self
                .conn
                .prepare_cached(
                    "UPDATE subscription_records SET dead_at = NULL, deliveries = 0, lease_until = 0
                     WHERE space = ?1 AND name = ?2 AND dead_at IS NOT NULL
                     AND seq IN (SELECT value FROM json_each(?3))",
                )?
                .execute(params![space, name, serde_json::to_string(seqs)?])?,
            None => self
                .conn
                .prepare_cached(
                    "UPDATE subscription_records SET dead_at = NULL, deliveries = 0, lease_until = 0
                     WHERE space = ?1 AND name = ?2 AND dead_at IS NOT NULL",
                )?
                .execute(params![space, name])?,
        };
        Ok(changed as u64)
    }

    async fn discard_dead_letters(&mut self, space: &str, name: &str, seqs: Option<&[i64]>) -> TxResult<u64> {
        let changed = match seqs {
            Some(seqs) => self
                .conn
                .prepare_cached(
                    "DELETE FROM subscription_records WHERE space = ?1 AND name = ?2 AND dead_at IS NOT NULL
                     AND seq IN (SELECT value FROM json_each(?3))",
                )?
                .execute(params![space, name, serde_json::to_string(seqs)?])?,
            None => self
                .conn
                .prepare_cached(
                    "DELETE FROM subscription_records WHERE space = ?1 AND name = ?2 AND dead_at IS NOT NULL",
                )?
                .execute(params![space, name])?,
        };
        Ok(changed as u64)
    }

    async fn retention_floor(&mut self, oldest: i64) -> TxResult<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT min(need) FROM (
                   SELECT min(s.cursor + 1, coalesce(
                     (SELECT min(r.seq) FROM subscription_records r
                       WHERE r.space = s.space AND r.name = s.name AND r.seq >= ?1),
                     s.cursor + 1)) AS need
                   FROM subscriptions s WHERE s.allow_loss = 0)",
            )?
            .query_row(params![oldest], |r| r.get(0))?)
    }

    async fn forget_lost_records(&mut self, seq: i64) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "DELETE FROM subscription_records WHERE dead_at IS NULL AND seq <= ?1
                 AND (space, name) IN (SELECT space, name FROM subscriptions WHERE allow_loss <> 0)",
            )?
            .execute(params![seq])?;
        Ok(())
    }
}

/// A subscription's `max_deliveries` and `ack_wait_ms` as stored.
fn settings(spec: &SubscriptionSpec) -> (i64, i64) {
    (i64::from(spec.max_deliveries), i64::try_from(spec.ack_wait_ms).unwrap_or(i64::MAX))
}

impl LogTable for SqliteTx<'_> {
    async fn oldest_seq(&mut self) -> TxResult<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT seq FROM events ORDER BY seq LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?)
    }

    async fn newest_seq(&mut self) -> TxResult<i64> {
        Ok(self.conn.prepare_cached("SELECT coalesce(max(seq), 0) FROM events")?.query_row([], |r| r.get(0))?)
    }

    async fn newest_end(&mut self) -> TxResult<Option<(i64, i64)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT seq, end_offset FROM events ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    async fn oldest_records(&mut self, limit: u32) -> TxResult<Vec<(i64, Timestamp, i64)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT seq, created_at, end_offset FROM events ORDER BY seq LIMIT +?1")?;
        let rows = stmt.query_map(params![limit], |r| Ok((r.get(0)?, Timestamp(r.get(1)?), r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn delete_records_through(&mut self, seq: i64) -> TxResult<u64> {
        // The address index's rows of those records first, found through the records.
        self.conn
            .prepare_cached(
                "DELETE FROM event_addresses WHERE (address, seq) IN (SELECT address, seq FROM events WHERE seq <= ?1)",
            )?
            .execute(params![seq])?;
        Ok(self.conn.prepare_cached("DELETE FROM events WHERE seq <= ?1")?.execute(params![seq])? as u64)
    }

    async fn space_records_after(
        &mut self,
        space: &str,
        after: i64,
        limit: usize,
        keep: &(dyn Fn(&str, &str, &str) -> bool + Sync),
    ) -> TxResult<Vec<ScannedRecord>> {
        let sql =
            format!("SELECT {} FROM events WHERE space = ?1 AND seq > ?2 ORDER BY seq LIMIT +?3", rows::LOG_COLUMNS);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![space, after, limit as i64])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            // A column that is not text is left to the decoded record to decide.
            let kept = match (text(row, 1), text(row, 2), text(row, 3)) {
                (Some(space), Some(kind), Some(address)) => keep(space, kind, address),
                _ => true,
            };
            let record = if kept { Some(rows::raw_log_row(row, seq)?) } else { None };
            out.push(ScannedRecord { seq, record });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Reads

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
            let mut rows = stmt.query(params![space.as_str(), SystemClock.now().0, name.as_str()])?;
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
            let mut rows = stmt.query(params![space.as_str(), SystemClock.now().0])?;
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
                 ORDER BY r.seq LIMIT +?4"
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
    let filter = serde_json::from_str::<StoredFilter>(&filter)?.into_filter(space);
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

#[cfg(test)]
mod tests {
    /// The joined log columns stay those `rows::log_record` decodes, in its order.
    #[test]
    fn joined_log_columns_match_the_decoder() {
        assert_eq!(super::E_LOG_COLUMNS.replace("e.", ""), super::rows::LOG_COLUMNS);
    }
}
