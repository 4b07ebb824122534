//! What both backends' durable subscriptions and retention share: the bounds of one pull's
//! work, which log records a trim may remove, and conversions of stored numbers. Each
//! backend's `subscriptions` module applies them with its own SQL, so both behave alike (the
//! conformance suite checks it).

use switchyard_model::{Segment, SpaceName};

use crate::error::StoreError;
use crate::streams::*;
use crate::types::*;

/// Log records read per query while a pull scans past its cursor.
pub(crate) const SCAN_PAGE: usize = 500;

/// Log records one pull examines at most past its cursor; the next pull goes on from there.
pub(crate) const SCAN_BUDGET: usize = 10_000;

/// Due rows (leases that ended) one pull examines at most.
pub(crate) const DUE_BUDGET: usize = 10_000;

/// Due rows read per query: at least a few, so a run of dead letters takes few queries, at
/// most a page, so a pull for one record does not load hundreds of payloads.
pub(crate) const DUE_CHUNK: std::ops::RangeInclusive<usize> = 32..=500;

/// The columns of a log record (in the order of both backends' `LOG_COLUMNS`) of the events
/// table aliased `e`, so a join can decode them with the backend's `log_record`.
pub(crate) const E_LOG_COLUMNS: &str = "e.seq, e.space, e.kind, e.address, e.payload, e.idempotency_key, e.created_at";

/// Whether retention may remove the record `seq`: below every floor and the newest record, and
/// either too old or not needed to keep the log at `max_bytes`.
pub(crate) fn removable(
    trim: &TrimLog,
    floor: Option<i64>,
    newest: i64,
    total: i64,
    seq: i64,
    created_at: i64,
    end_offset: i64,
) -> bool {
    let held = floor.is_some_and(|f| seq >= f) || seq >= newest;
    // `total - end_offset` is what the log keeps after this record goes.
    let too_big =
        trim.max_bytes.is_some_and(|m| total.saturating_sub(end_offset) >= i64::try_from(m).unwrap_or(i64::MAX));
    !held && (created_at < trim.older_than.0 || too_big)
}

/// The refusal for a subscription that does not exist.
pub(crate) fn not_found(space: &SpaceName, name: &Segment) -> StoreError {
    StoreError::SubscriptionNotFound { space: space.to_string(), name: name.to_string() }
}

/// A `start_after` as stored: below `i64::MAX`, so `cursor + 1` cannot overflow.
pub(crate) fn start_param(seq: Seq) -> i64 {
    i64::try_from(seq.0).unwrap_or(i64::MAX).min(i64::MAX - 1)
}

/// A stored seq.
pub(crate) fn seq(v: i64) -> Result<Seq, StoreError> {
    u64::try_from(v).map(Seq).map_err(|_| StoreError::Corrupt(format!("seq {v}")))
}

/// A stored count (never negative).
pub(crate) fn count(v: i64) -> u64 {
    v.max(0) as u64
}
