//! The store's own metrics: group-commit batch sizes, commit (fsync) latency, events applied.
//!
//! Updated by the writer once per commit, not per read; registered by the API layer.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Metrics a store backend updates.
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    /// Operations per committed transaction.
    pub commit_batch_size: Histogram,
    /// Seconds a commit (including its fsync) took.
    pub commit_seconds: Histogram,
    /// Seconds an explicit WAL fsync took (`batch:<ms>` durability).
    pub fsync_seconds: Histogram,
    /// Events applied to instances.
    pub events_applied: Counter,
    /// Committed transactions.
    pub commits: Counter,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            commit_batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            commit_seconds: Histogram::new(exponential_buckets(0.000_025, 2.0, 16)),
            fsync_seconds: Histogram::new(exponential_buckets(0.000_025, 2.0, 16)),
            events_applied: Counter::default(),
            commits: Counter::default(),
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
            "commit_seconds",
            "Time to commit a transaction, including its fsync",
            self.commit_seconds.clone(),
        );
        sub.register("fsync_seconds", "Time of an explicit WAL fsync (batch durability)", self.fsync_seconds.clone());
        sub.register("events_applied", "Events applied to instances", self.events_applied.clone());
        sub.register("commits", "Committed transactions", self.commits.clone());
    }
}
