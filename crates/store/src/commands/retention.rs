//! Log retention: trimming the oldest records as [`TrimLog`] allows.
//!
//! Invariants (the conformance suite checks them):
//! - A trim removes one range of the oldest records, never the newest record (the SQLite writer
//!   resumes the log's byte total from it).
//! - It never removes a record at or above the floor of a subscription that does not allow
//!   loss (see [`crate::tables::SubscriptionTable::retention_floor`]). Rows below the oldest
//!   record kept do not count towards a floor: their records are gone.
//! - A trim and a new subscription hold the `log-trim` lock on PostgreSQL, so a trim never
//!   removes the start of a subscription created meanwhile, nor the records between the start
//!   it was checked against (`SeqExpired`) and the oldest record kept. Every other change only
//!   raises a subscription's floor, so a trim that read an older floor is still safe.
//! - Pending records of subscriptions that allow loss whose records are trimmed are forgotten
//!   with them; their dead letters stay (listed without a record) until discarded or redriven.

use switchyard_model::Timestamp;

use super::{Command, Cx, Locking};
use crate::tables::{Locks, Tables, TxResult};

/// Removes the oldest log records as far as retention allows: older than `older_than`, or
/// beyond `max_bytes`, never past what a subscription without `allow_loss` still needs nor the
/// newest record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrimLog {
    /// Records written before this are removed.
    pub older_than: Timestamp,
    /// Oldest records are removed while the log's bytes exceed this.
    pub max_bytes: Option<u64>,
    /// At most this many records per call (the caller repeats while a full chunk went).
    pub limit: u32,
}

request!(TrimLog => LogTrimmed(u64));

impl Locking for TrimLog {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.exclusive("log-trim".to_string());
    }
}

impl Command for TrimLog {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        let Some(oldest) = tx.oldest_seq().await? else { return Ok(0) };
        let floor = tx.retention_floor(oldest).await?;
        let Some((newest, total)) = tx.newest_end().await? else { return Ok(0) };
        let mut last = None;
        for (seq, created_at, end_offset) in tx.oldest_records(self.limit).await? {
            if !removable(self, floor, newest, total, seq, created_at, end_offset) {
                break;
            }
            last = Some(seq);
        }
        let Some(last) = last else { return Ok(0) };
        let trimmed = tx.delete_records_through(last).await?;
        // Nothing is left to deliver of these.
        tx.forget_lost_records(last).await?;
        Ok(trimmed)
    }
}

/// Whether retention may remove the record `seq`: below every floor and the newest record, and
/// either too old or not needed to keep the log at `max_bytes`.
fn removable(
    trim: &TrimLog,
    floor: Option<i64>,
    newest: i64,
    total: i64,
    seq: i64,
    created_at: Timestamp,
    end_offset: i64,
) -> bool {
    let held = floor.is_some_and(|f| seq >= f) || seq >= newest;
    // `total - end_offset` is what the log keeps after this record goes.
    let too_big =
        trim.max_bytes.is_some_and(|m| total.saturating_sub(end_offset) >= i64::try_from(m).unwrap_or(i64::MAX));
    !held && (created_at < trim.older_than || too_big)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table: (floor, seq, created at, end offset) and whether the record may go, with the
    /// newest record 10 ending at byte 1000, records older than 100 expired and at most 500
    /// bytes kept.
    #[test]
    fn removable_holds_floors_the_newest_record_and_what_fits() {
        let trim = TrimLog { older_than: Timestamp(100), max_bytes: Some(500), limit: 10 };
        let cases: &[(Option<i64>, i64, i64, i64, bool)] = &[
            (None, 1, 50, 100, true),
            (Some(1), 1, 50, 100, false),
            (Some(2), 1, 50, 100, true),
            (None, 10, 50, 1000, false),
            (None, 5, 200, 400, true),
            (None, 5, 200, 600, false),
        ];
        for &(floor, seq, created_at, end_offset, want) in cases {
            let got = removable(&trim, floor, 10, 1000, seq, Timestamp(created_at), end_offset);
            assert_eq!(got, want, "floor {floor:?} seq {seq} created {created_at} end {end_offset}");
        }
    }
}
