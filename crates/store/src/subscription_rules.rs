//! What both backends' subscription tables and reads share besides SQL: the joined log
//! columns and conversions of stored numbers. The rules of subscriptions and retention are the
//! commands' (`crate::commands::subscriptions`, `crate::commands::retention`).

use switchyard_model::Seq;

use crate::error::StoreError;

/// The columns of a log record (in the order of both backends' `LOG_COLUMNS`) of the events
/// table aliased `e`, so a join can decode them with the backend's `log_record`.
pub(crate) const E_LOG_COLUMNS: &str = "e.seq, e.space, e.kind, e.address, e.payload, e.idempotency_key, e.created_at";

/// A stored seq.
pub(crate) fn seq(v: i64) -> Result<Seq, StoreError> {
    u64::try_from(v).map(Seq).map_err(|_| StoreError::Corrupt(format!("seq {v}")))
}

/// A stored count (never negative).
pub(crate) fn count(v: i64) -> u64 {
    v.max(0) as u64
}
