//! The store's own metrics: group-commit batch sizes, the time a write spends in each stage of
//! the write path (queued for the writer, executed, committed, fsynced), events applied, and log
//! records that cannot be read.
//!
//! Updated by the writer once per commit (the queue wait once per request), not per read
//! (unreadable records, which are rare, are counted by whichever read meets them first);
//! registered by the API layer.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Metrics a store backend updates.
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    /// Operations per committed transaction.
    pub commit_batch_size: Histogram,
    /// Seconds a request waited for the writer: from being queued to its group starting.
    pub queue_seconds: Histogram,
    /// Seconds a group's commands took to run, before its commit.
    pub execute_seconds: Histogram,
    /// Seconds a commit took (on SQLite: writing the WAL).
    pub commit_seconds: Histogram,
    /// Seconds an explicit WAL fsync took (SQLite).
    pub fsync_seconds: Histogram,
    /// Seconds one slice of indexing the log by address took (SQLite; see `sqlite::address_index`).
    pub address_index_seconds: Histogram,
    /// Events applied to instances.
    pub events_applied: Counter,
    /// Committed transactions.
    pub commits: Counter,
    /// Log records that cannot be read, each counted and logged once.
    pub unreadable_records: UnreadableRecords,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            commit_batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            queue_seconds: Histogram::new(exponential_buckets(0.000_025, 2.0, 16)),
            execute_seconds: Histogram::new(exponential_buckets(0.000_025, 2.0, 16)),
            commit_seconds: Histogram::new(exponential_buckets(0.000_025, 2.0, 16)),
            fsync_seconds: Histogram::new(exponential_buckets(0.000_025, 2.0, 16)),
            address_index_seconds: Histogram::new(exponential_buckets(0.000_025, 2.0, 16)),
            events_applied: Counter::default(),
            commits: Counter::default(),
            unreadable_records: UnreadableRecords::default(),
        }
    }
}

impl StoreMetrics {
    /// Registers every metric under `switchyard_store_*`.
    pub fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("switchyard_store");
        sub.register(
            "commit_batch_size",
            "Operations per committed transaction (group commit)",
            self.commit_batch_size.clone(),
        );
        sub.register(
            "queue_seconds",
            "Time a write waited for the writer, from being queued to its group starting (write path stage 1)",
            self.queue_seconds.clone(),
        );
        sub.register(
            "execute_seconds",
            "Time a group's commands took to run, before its commit (write path stage 2)",
            self.execute_seconds.clone(),
        );
        sub.register(
            "commit_seconds",
            "Time to commit a group's transaction (write path stage 3; on SQLite, writing the WAL)",
            self.commit_seconds.clone(),
        );
        sub.register(
            "fsync_seconds",
            "Time of the writer's own WAL fsync (write path stage 4, SQLite)",
            self.fsync_seconds.clone(),
        );
        sub.register(
            "address_index_seconds",
            "Time of one slice of indexing the log by address, between groups on the writer (SQLite)",
            self.address_index_seconds.clone(),
        );
        sub.register("events_applied", "Events applied to instances", self.events_applied.clone());
        sub.register("commits", "Committed transactions", self.commits.clone());
        registry.sub_registry_with_prefix("switchyard_log").register(
            "unreadable_records",
            "Log records that cannot be read back (each counted once per process); readers are given their position with the record marked unreadable",
            self.unreadable_records.count.clone(),
        );
    }
}

/// Seqs of unreadable records remembered as reported. Past this many, the oldest are forgotten
/// (and could be reported again): a bound on memory, far above what a store should ever hold.
const REMEMBERED: usize = 10_000;

/// Reports log records that cannot be read back: an ERROR log line and one count per record,
/// however often readers (the log tail, replays, pulls, history) meet it.
#[derive(Debug, Clone, Default)]
pub struct UnreadableRecords {
    count: Counter,
    reported: Arc<Mutex<BTreeSet<i64>>>,
}

impl UnreadableRecords {
    /// Unreadable records reported so far.
    pub fn count(&self) -> u64 {
        self.count.get()
    }

    /// Reports `record` if it is marked unreadable and was not reported before.
    pub fn report(&self, record: &crate::LogRecord) {
        if let Some(reason) = &record.unreadable
            && self.first_time(record.seq.0 as i64)
        {
            tracing::error!(
                seq = record.seq.0,
                space = %record.space,
                kind = %record.kind,
                address = %record.address,
                reason = %reason,
                "a log record cannot be read back; readers are given it marked unreadable and go on past it"
            );
        }
    }

    /// Reports a row that cannot be placed in any space (its seq or space does not decode).
    pub(crate) fn report_unplaced(&self, seq: i64, reason: &str) {
        if self.first_time(seq) {
            tracing::error!(
                seq,
                reason = %reason,
                "a log record cannot be read back and names no space; no reader is given it"
            );
        }
    }

    /// Reports every row of a page and keeps the records that have a space.
    pub(crate) fn place(&self, rows: Vec<crate::decode::LogRow>) -> Vec<crate::LogRecord> {
        rows.into_iter()
            .filter_map(|row| match row {
                crate::decode::LogRow::Record(record) => {
                    self.report(&record);
                    Some(record)
                }
                crate::decode::LogRow::Unplaced { seq, reason } => {
                    self.report_unplaced(seq, &reason);
                    None
                }
            })
            .collect()
    }

    /// Reports the records that pulls in `outcomes` delivered.
    pub(crate) fn report_outcomes<'a>(&self, outcomes: impl Iterator<Item = &'a crate::WriteOutcome>) {
        for outcome in outcomes {
            if let crate::WriteOutcome::Pulled(deliveries) = outcome {
                deliveries.iter().for_each(|d| self.report(&d.record));
            }
        }
    }

    /// Counts `seq` unless it was counted before; whether it was new.
    fn first_time(&self, seq: i64) -> bool {
        let mut reported = self.reported.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !reported.insert(seq) {
            return false;
        }
        if reported.len() > REMEMBERED {
            reported.pop_first();
        }
        drop(reported);
        self.count.inc();
        true
    }
}
