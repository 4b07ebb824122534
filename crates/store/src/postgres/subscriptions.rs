//! Durable subscriptions and the log on PostgreSQL: the tables the subscription and retention
//! commands write through (`crate::commands::subscriptions`, `crate::commands::retention`;
//! inside a group's transaction, with the subscription's or `log-trim` advisory lock already
//! held) and the reads. SQL only; the rules and invariants are the commands'.
//!
//! Lists of seqs go to one statement each as an array, so a pull's writes take a fixed number
//! of round trips however many records it leases.

use switchyard_model::{DeadLetter, Segment, Seq, SpaceName, SubscriptionRecord, SubscriptionSpec, Timestamp};
use tokio_postgres::Row;

use crate::error::StoreError;
use crate::postgres::tables::PgTx;
use crate::postgres::{LOG_COLUMNS, PgStore, log_record, raw_log_row};
use crate::streams::*;
use crate::subscription_rules::*;
use crate::tables::{DueRecord, LogTable, ScannedRecord, SubscriptionRow, SubscriptionTable, TxResult};
use crate::{Clock, SystemClock};

/// Columns of a subscription with its counts, decoded by [`subscription`]; `$2` is the time
/// that decides which pending records are leased.
const SUBSCRIPTION_COLUMNS: &str = "s.space, s.name, s.filter, s.start_after, s.cursor, s.max_deliveries,
    s.ack_wait_ms, s.allow_loss, s.created_at,
    (SELECT count(*) FROM subscription_records r WHERE r.space = s.space AND r.name = s.name AND r.dead_at IS NULL),
    (SELECT count(*) FROM subscription_records r
      WHERE r.space = s.space AND r.name = s.name AND r.dead_at IS NULL AND r.lease_until > $2),
    (SELECT count(*) FROM subscription_records r WHERE r.space = s.space AND r.name = s.name AND r.dead_at IS NOT NULL)";

// ---------------------------------------------------------------------------------------------
// Writes

impl SubscriptionTable for PgTx<'_, '_> {
    async fn subscription(&mut self, space: &str, name: &str) -> TxResult<Option<SubscriptionRow>> {
        let stmt = self
            .tx
            .prepare_cached("SELECT filter, cursor, max_deliveries FROM subscriptions WHERE space = $1 AND name = $2")
            .await?;
        let Some(row) = self.tx.query_opt(&stmt, &[&space, &name]).await? else { return Ok(None) };
        Ok(Some(SubscriptionRow {
            filter: serde_json::from_str(row.get::<_, &str>(0))?,
            cursor: row.get(1),
            max_deliveries: i64::from(row.get::<_, i32>(2)),
        }))
    }

    async fn subscription_exists(&mut self, space: &str, name: &str) -> TxResult<bool> {
        let stmt = self.tx.prepare_cached("SELECT 1 FROM subscriptions WHERE space = $1 AND name = $2").await?;
        Ok(self.tx.query_opt(&stmt, &[&space, &name]).await?.is_some())
    }

    async fn insert_subscription(
        &mut self,
        spec: &SubscriptionSpec,
        filter: &str,
        start_after: i64,
        now: Timestamp,
    ) -> TxResult<()> {
        let (max_deliveries, ack_wait_ms) = settings(spec);
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO subscriptions
                   (space, name, filter, start_after, cursor, max_deliveries, ack_wait_ms, allow_loss, created_at)
                 VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)",
            )
            .await?;
        let (space, name) = (spec.filter.space.as_str(), spec.name.as_str());
        self.tx
            .execute(
                &stmt,
                &[&space, &name, &filter, &start_after, &max_deliveries, &ack_wait_ms, &spec.allow_loss, &now.0],
            )
            .await?;
        Ok(())
    }

    async fn update_subscription(&mut self, spec: &SubscriptionSpec) -> TxResult<()> {
        let (max_deliveries, ack_wait_ms) = settings(spec);
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE subscriptions SET max_deliveries = $3, ack_wait_ms = $4, allow_loss = $5
                 WHERE space = $1 AND name = $2",
            )
            .await?;
        let (space, name) = (spec.filter.space.as_str(), spec.name.as_str());
        self.tx.execute(&stmt, &[&space, &name, &max_deliveries, &ack_wait_ms, &spec.allow_loss]).await?;
        Ok(())
    }

    async fn delete_subscription(&mut self, space: &str, name: &str) -> TxResult<bool> {
        let stmt = self.tx.prepare_cached("DELETE FROM subscriptions WHERE space = $1 AND name = $2").await?;
        Ok(self.tx.execute(&stmt, &[&space, &name]).await? > 0)
    }

    async fn delete_subscription_records(&mut self, space: &str, name: &str) -> TxResult<()> {
        let stmt = self.tx.prepare_cached("DELETE FROM subscription_records WHERE space = $1 AND name = $2").await?;
        self.tx.execute(&stmt, &[&space, &name]).await?;
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
             WHERE r.space = $1 AND r.name = $2 AND r.dead_at IS NULL AND r.lease_until <= $3 AND r.seq > $4
             ORDER BY r.seq LIMIT $5"
        );
        let stmt = self.tx.prepare_cached(&sql).await?;
        let rows = self.tx.query(&stmt, &[&space, &name, &now.0, &after, &(limit as i64)]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let record = match row.get::<_, Option<i64>>(0) {
                Some(_) => Some(raw_log_row(row)?),
                None => None,
            };
            out.push(DueRecord { seq: row.get(7), deliveries: i64::from(row.get::<_, i32>(8)), record });
        }
        Ok(out)
    }

    async fn kill_records(&mut self, space: &str, name: &str, seqs: &[i64], now: Timestamp) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE subscription_records SET dead_at = $3 WHERE space = $1 AND name = $2 AND seq = ANY($4)",
            )
            .await?;
        self.tx.execute(&stmt, &[&space, &name, &now.0, &seqs]).await?;
        Ok(())
    }

    async fn forget_records(&mut self, space: &str, name: &str, seqs: &[i64]) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached("DELETE FROM subscription_records WHERE space = $1 AND name = $2 AND seq = ANY($3)")
            .await?;
        self.tx.execute(&stmt, &[&space, &name, &seqs]).await?;
        Ok(())
    }

    async fn lease_again(&mut self, space: &str, name: &str, seqs: &[i64], lease_until: i64) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE subscription_records SET deliveries = deliveries + 1, lease_until = $3
                 WHERE space = $1 AND name = $2 AND seq = ANY($4)",
            )
            .await?;
        self.tx.execute(&stmt, &[&space, &name, &lease_until, &seqs]).await?;
        Ok(())
    }

    async fn lease_new(&mut self, space: &str, name: &str, seqs: &[i64], lease_until: i64) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO subscription_records (space, name, seq, deliveries, lease_until)
                 SELECT $1, $2, seq, 1, $3 FROM unnest($4::bigint[]) AS seq",
            )
            .await?;
        self.tx.execute(&stmt, &[&space, &name, &lease_until, &seqs]).await?;
        Ok(())
    }

    async fn set_cursor(&mut self, space: &str, name: &str, cursor: i64) -> TxResult<()> {
        let stmt =
            self.tx.prepare_cached("UPDATE subscriptions SET cursor = $3 WHERE space = $1 AND name = $2").await?;
        self.tx.execute(&stmt, &[&space, &name, &cursor]).await?;
        Ok(())
    }

    async fn ack_records(&mut self, space: &str, name: &str, seqs: &[i64]) -> TxResult<Vec<i64>> {
        let stmt = self
            .tx
            .prepare_cached(
                "DELETE FROM subscription_records
                 WHERE space = $1 AND name = $2 AND dead_at IS NULL AND seq = ANY($3) RETURNING seq",
            )
            .await?;
        Ok(self.tx.query(&stmt, &[&space, &name, &seqs]).await?.iter().map(|row| row.get(0)).collect())
    }

    async fn end_leases(&mut self, space: &str, name: &str, leases: &[(i64, u32)]) -> TxResult<Vec<i64>> {
        // Leases no row can have (a count beyond the column's range) are left out.
        let (seqs, deliveries): (Vec<i64>, Vec<i32>) =
            leases.iter().filter_map(|(s, d)| Some((*s, i32::try_from(*d).ok()?))).unzip();
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE subscription_records SET lease_until = 0
                 WHERE space = $1 AND name = $2 AND dead_at IS NULL
                 AND (seq, deliveries) IN (SELECT * FROM unnest($3::bigint[], $4::int[]))
                 RETURNING seq",
            )
            .await?;
        Ok(self.tx.query(&stmt, &[&space, &name, &seqs, &deliveries]).await?.iter().map(|row| row.get(0)).collect())
    }

    async fn redrive_dead_letters(&mut self, space: &str, name: &str, seqs: Option<&[i64]>) -> TxResult<u64> {
        Ok(match seqs {
            Some(seqs) => {
                let stmt = self
                    .tx
                    .prepare_cached(
                        "UPDATE subscription_records SET dead_at = NULL, deliveries = 0, lease_until = 0
                         WHERE space = $1 AND name = $2 AND dead_at IS NOT NULL AND seq = ANY($3)",
                    )
                    .await?;
                self.tx.execute(&stmt, &[&space, &name, &seqs]).await?
            }
            None => {
                let stmt = self
                    .tx
                    .prepare_cached(
                        "UPDATE subscription_records SET dead_at = NULL, deliveries = 0, lease_until = 0
                         WHERE space = $1 AND name = $2 AND dead_at IS NOT NULL",
                    )
                    .await?;
                self.tx.execute(&stmt, &[&space, &name]).await?
            }
        })
    }

    async fn discard_dead_letters(&mut self, space: &str, name: &str, seqs: Option<&[i64]>) -> TxResult<u64> {
        Ok(match seqs {
            Some(seqs) => {
                let stmt = self
                    .tx
                    .prepare_cached(
                        "DELETE FROM subscription_records
                         WHERE space = $1 AND name = $2 AND dead_at IS NOT NULL AND seq = ANY($3)",
                    )
                    .await?;
                self.tx.execute(&stmt, &[&space, &name, &seqs]).await?
            }
            None => {
                let stmt = self
                    .tx
                    .prepare_cached(
                        "DELETE FROM subscription_records WHERE space = $1 AND name = $2 AND dead_at IS NOT NULL",
                    )
                    .await?;
                self.tx.execute(&stmt, &[&space, &name]).await?
            }
        })
    }

    async fn retention_floor(&mut self, oldest: i64) -> TxResult<Option<i64>> {
        // LEAST ignores a NULL (no rows).
        let stmt = self
            .tx
            .prepare_cached(
                "SELECT min(LEAST(s.cursor + 1,
                   (SELECT min(r.seq) FROM subscription_records r
                     WHERE r.space = s.space AND r.name = s.name AND r.seq >= $1)))
                 FROM subscriptions s WHERE NOT s.allow_loss",
            )
            .await?;
        Ok(self.tx.query_one(&stmt, &[&oldest]).await?.get(0))
    }

    async fn forget_lost_records(&mut self, seq: i64) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "DELETE FROM subscription_records r USING subscriptions s
                 WHERE s.space = r.space AND s.name = r.name AND s.allow_loss AND r.dead_at IS NULL AND r.seq <= $1",
            )
            .await?;
        self.tx.execute(&stmt, &[&seq]).await?;
        Ok(())
    }
}

/// A subscription's `max_deliveries` and `ack_wait_ms` as stored.
fn settings(spec: &SubscriptionSpec) -> (i32, i64) {
    (i32::try_from(spec.max_deliveries).unwrap_or(i32::MAX), i64::try_from(spec.ack_wait_ms).unwrap_or(i64::MAX))
}

impl LogTable for PgTx<'_, '_> {
    async fn oldest_seq(&mut self) -> TxResult<Option<i64>> {
        let stmt = self.tx.prepare_cached("SELECT seq FROM events ORDER BY seq LIMIT 1").await?;
        Ok(self.tx.query_opt(&stmt, &[]).await?.map(|row| row.get(0)))
    }

    async fn newest_seq(&mut self) -> TxResult<i64> {
        let stmt = self.tx.prepare_cached("SELECT coalesce(max(seq), 0) FROM events").await?;
        Ok(self.tx.query_one(&stmt, &[]).await?.get(0))
    }

    async fn newest_end(&mut self) -> TxResult<Option<(i64, i64)>> {
        let stmt = self.tx.prepare_cached("SELECT seq, end_offset FROM events ORDER BY seq DESC LIMIT 1").await?;
        Ok(self.tx.query_opt(&stmt, &[]).await?.map(|row| (row.get(0), row.get(1))))
    }

    async fn oldest_records(&mut self, limit: u32) -> TxResult<Vec<(i64, Timestamp, i64)>> {
        let stmt =
            self.tx.prepare_cached("SELECT seq, created_at, end_offset FROM events ORDER BY seq LIMIT $1").await?;
        let rows = self.tx.query(&stmt, &[&i64::from(limit)]).await?;
        Ok(rows.iter().map(|row| (row.get(0), Timestamp(row.get(1)), row.get(2))).collect())
    }

    async fn delete_records_through(&mut self, seq: i64) -> TxResult<u64> {
        let stmt = self.tx.prepare_cached("DELETE FROM events WHERE seq <= $1").await?;
        Ok(self.tx.execute(&stmt, &[&seq]).await?)
    }

    async fn space_records_after(
        &mut self,
        space: &str,
        after: i64,
        limit: usize,
        keep: &(dyn Fn(&str, &str, &str) -> bool + Sync),
    ) -> TxResult<Vec<ScannedRecord>> {
        let sql = format!("SELECT {LOG_COLUMNS} FROM events WHERE space = $1 AND seq > $2 ORDER BY seq LIMIT $3");
        let stmt = self.tx.prepare_cached(&sql).await?;
        let rows = self.tx.query(&stmt, &[&space, &after, &(limit as i64)]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            // A column that cannot be read as text is left to the decoded record to decide.
            let column = |index: usize| row.try_get::<_, &str>(index).ok();
            let kept = match (column(1), column(2), column(3)) {
                (Some(space), Some(kind), Some(address)) => keep(space, kind, address),
                _ => true,
            };
            let record = if kept { Some(raw_log_row(row)?) } else { None };
            out.push(ScannedRecord { seq: row.get(0), record });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Reads

/// A subscription with its counts (`leased` as of now).
pub(super) async fn get(
    store: &PgStore,
    space: &SpaceName,
    name: &Segment,
) -> Result<Option<SubscriptionRecord>, StoreError> {
    let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s WHERE s.space = $1 AND s.name = $3");
    let rows = store.query(&sql, &[&space.as_str(), &SystemClock.now().0, &name.as_str()]).await?;
    rows.first().map(subscription).transpose()
}

/// A space's subscriptions with their counts, by name.
pub(super) async fn list(store: &PgStore, space: &SpaceName) -> Result<Vec<SubscriptionRecord>, StoreError> {
    let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s WHERE s.space = $1 ORDER BY s.name");
    let rows = store.query(&sql, &[&space.as_str(), &SystemClock.now().0]).await?;
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
    let filter = serde_json::from_str::<StoredFilter>(row.get::<_, &str>(2))?.into_filter(space);
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

#[cfg(test)]
mod tests {
    /// The joined log columns stay those `log_record` decodes, in its order.
    #[test]
    fn joined_log_columns_match_the_decoder() {
        assert_eq!(super::E_LOG_COLUMNS.replace("e.", ""), super::LOG_COLUMNS);
    }
}
