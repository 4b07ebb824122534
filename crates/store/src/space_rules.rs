//! What deleting a space means, shared by every backend: which tables hold a space's data, in
//! which order they are emptied, and when a space counts as existing.
//!
//! Every table with a `space` column that holds a space's data is listed here; a table added
//! later that holds a space's data must be added too, or a deleted space would leave it behind
//! (the conformance case `delete_space_removes_everything_and_nothing_else` reads every kind
//! back). `quotas` and `space_meters` are left out on purpose: a quota and the meters belong
//! to the space's name, set and read by the operator, so deleting the space keeps them.

use switchyard_model::{SpaceDeletion, kinds};

/// Which count of a [`SpaceDeletion`] something goes to.
pub(crate) type Count = fn(&mut SpaceDeletion) -> &mut u64;

/// A table emptied of a space's rows, and the count its deleted rows go to.
pub(crate) struct SpaceTable {
    /// The table.
    pub table: &'static str,
    /// Where its deleted rows are counted, if they are counted as rows (machines and functions
    /// are counted by name instead, see [`NAMED`]).
    pub counts: Option<Count>,
}

/// The tables, in the order they are emptied. On PostgreSQL some writes into the space hold no
/// space lock, only row locks: events and instance deletions (their instance's row, to keep
/// the hot path free of another lock) and the sweeps across spaces (KV expiry, invocation
/// claims). A table they write rows into is therefore emptied after the table whose rows they
/// lock — idempotency records and the log after `instances`, `kv_history` and the log after
/// `kv_keys` — so the deletion, which waits on those locks, empties it once they committed.
/// `instances` is emptied twice: a transition may start a child instance (a new row, not in the
/// first deletion's snapshot) while the deletion waits on its parent's row; the second pass,
/// after `jobs`, removes such a child once its transaction has committed. The log goes last.
pub(crate) const TABLES: &[SpaceTable] = &[
    SpaceTable { table: "instances", counts: Some(|d| &mut d.instances) },
    SpaceTable { table: "machines", counts: None },
    SpaceTable { table: "kv_keys", counts: Some(|d| &mut d.kv_keys) },
    SpaceTable { table: "kv_history", counts: None },
    SpaceTable { table: "kv_buckets", counts: Some(|d| &mut d.kv_buckets) },
    SpaceTable { table: "subscription_records", counts: None },
    SpaceTable { table: "subscriptions", counts: Some(|d| &mut d.subscriptions) },
    SpaceTable { table: "invocations", counts: Some(|d| &mut d.invocations) },
    SpaceTable { table: "functions", counts: None },
    SpaceTable { table: "triggers", counts: None },
    SpaceTable { table: "endpoints", counts: None },
    SpaceTable { table: "jobs", counts: None },
    SpaceTable { table: "space_values", counts: None },
    SpaceTable { table: "instances", counts: Some(|d| &mut d.instances) },
    SpaceTable { table: "idempotency", counts: Some(|d| &mut d.idempotency_keys) },
    SpaceTable { table: "events", counts: Some(|d| &mut d.log_records) },
];

/// Tables whose rows are versions of named things, counted by distinct name before they go.
pub(crate) const NAMED: &[(&str, Count)] = &[("machines", |d| &mut d.machines), ("functions", |d| &mut d.functions)];

/// `DELETE FROM table WHERE space = <param>`.
pub(crate) fn delete_sql(table: &str, param: &str) -> String {
    format!("DELETE FROM {table} WHERE space = {param}")
}

/// `SELECT count(DISTINCT name) FROM table WHERE space = <param>`.
pub(crate) fn count_names_sql(table: &str, param: &str) -> String {
    format!("SELECT count(DISTINCT name) FROM {table} WHERE space = {param}")
}

/// One row, one boolean-ish column: whether the space exists — it has its `spaces` row, or any
/// data at all (data written before every write made that row: published messages and
/// subscriptions did not), or any log record but the markers of earlier deletions. A space
/// whose only trace is its `space.deleted` markers was deleted and does not exist.
pub(crate) fn exists_sql(param: &str) -> String {
    let mut parts = vec![format!("EXISTS (SELECT 1 FROM spaces WHERE name = {param})")];
    for t in TABLES.iter().filter(|t| t.table != "events") {
        parts.push(format!("EXISTS (SELECT 1 FROM {} WHERE space = {param})", t.table));
    }
    parts.push(format!("EXISTS (SELECT 1 FROM events WHERE space = {param} AND kind <> '{}')", kinds::SPACE_DELETED));
    format!("SELECT {}", parts.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_counted_once() {
        let mut d = SpaceDeletion::default();
        let mut seen = std::collections::BTreeSet::new();
        // A table swept twice (`instances`) counts into one kind.
        for t in TABLES.iter().filter(|t| seen.insert(t.table)) {
            if let Some(count) = t.counts {
                *count(&mut d) += 1;
            }
        }
        for (_, count) in NAMED {
            *count(&mut d) += 1;
        }
        let v = serde_json::to_value(d).expect("serialises");
        for (kind, n) in v.as_object().expect("an object") {
            assert_eq!(n, 1, "{kind} is counted {n} times");
        }
    }

    #[test]
    fn tables_written_under_row_locks_only_go_after_the_locked_ones() {
        let position = |table: &str| TABLES.iter().position(|t| t.table == table).expect("listed");
        assert_eq!(position("events"), TABLES.len() - 1, "the log goes last");
        assert!(position("idempotency") > position("instances"));
        assert!(position("kv_history") > position("kv_keys"));
    }
}
