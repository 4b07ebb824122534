//! The log's per-address index (`event_addresses`, for history reads), which the writer fills
//! in passes over thousands of records, a slice after each group, instead of an index SQLite
//! keeps row by row.
//!
//! Why: the records of one group go to as many addresses as it has requests, and each address's
//! rows sit on a page of their own, so an index kept row by row dirtied a page per record, and
//! every dirty page is written to the WAL and copied again by the checkpoint: on a thousand busy
//! instances that was half of what a commit wrote. A pass sorts [`PASS_RECORDS`] records by
//! address and inserts them in that order, so each page takes all of its address's new rows at
//! once; slicing the sorted pass keeps that, while no slice holds up the writes behind it long.
//!
//! Invariants (the one row of `address_index` is the mark, written with the rows it covers):
//! - `event_addresses` holds every record with seq at most `indexed_through`, and, of the
//!   records after it up to `pass_through`, those before `(done_address, done_seq)` in the
//!   pass's order, (address, seq), inclusive (a pass under way; NULL when none is), and no other
//!   record: retention deletes a record's row with it, and drops trimmed records from the pass
//!   under way before its next slice.
//! - A history read takes the address's rows from the index and scans the log after the mark
//!   that applies to its address (`pass_through` for an address the pass is done with,
//!   `done_seq` for the one it is in, `indexed_through` for the others), in one statement, so
//!   both come from one snapshot; that tail is at most a pass and the records written while it
//!   ran, which stays bounded because a slice takes at least twice what the group before it
//!   wrote.
//! - A slice commits in a transaction of its own after a group's replies, with no fsync: the
//!   next group's makes it durable, and a slice lost in a crash costs nothing but a longer tail
//!   (the index is derived from the log). The mark in the database is the truth; the writer's
//!   copy of a pass is rebuilt from it after any failure.

use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::StoreError;
use crate::metrics::StoreMetrics;

/// Records a pass takes: one starts once this many piled up after the mark.
const PASS_RECORDS: u64 = 4096;

/// Records one pass takes at most (after a large batch the next pass goes on).
const MAX_PASS_RECORDS: u64 = 4 * PASS_RECORDS;

/// Rows a slice inserts, at least (and at least twice the records written since the last one,
/// so a pass outruns the log however large the groups).
const SLICE_ROWS: usize = 512;

/// The writer's side of the index: the mark and the pass under way.
pub(crate) struct AddressIndex {
    /// No pass starts before the log reaches this seq.
    next_pass_at: u64,
    /// The log's last seq when the writer last called (what was written since sizes a slice).
    last_seen: u64,
    /// The pass under way, as far as committed slices took it.
    pass: Option<Pass>,
}

/// A pass: the records `(from, through]` sorted by address, and how far the slices got.
struct Pass {
    from: u64,
    through: u64,
    rows: Vec<(String, i64)>,
    next: usize,
}

/// The mark as stored.
struct Mark {
    indexed_through: u64,
    pass_through: u64,
    /// The last row the pass under way inserted.
    done: Option<(String, i64)>,
}

impl AddressIndex {
    /// Starts from the mark a previous run left (a pass it left under way goes on at once);
    /// `last` is the log's last seq.
    pub fn load(conn: &Connection, last: u64) -> Result<AddressIndex, StoreError> {
        let mark = read_mark(conn)?;
        let next_pass_at =
            if mark.pass_through > mark.indexed_through { 0 } else { mark.indexed_through + PASS_RECORDS };
        Ok(AddressIndex { next_pass_at, last_seen: last, pass: None })
    }

    /// Indexes a slice of the pass under way, starting one if enough records piled up; `last`
    /// is the log's last seq, `trimmed` whether the group that just committed trimmed the log.
    pub fn after_group(&mut self, conn: &mut Connection, last: u64, trimmed: bool, metrics: &StoreMetrics) {
        let written = last.saturating_sub(self.last_seen);
        self.last_seen = last;
        if self.pass.is_none() && last < self.next_pass_at {
            return;
        }
        let started = Instant::now();
        if let Err(e) = self.step(conn, last, trimmed, written) {
            // Reads stay right (they scan a longer tail); the next pass starts over from the
            // stored mark. A failing disk stops the store at the next group's commit.
            tracing::warn!(error = %e, "indexing the log by address failed; retried after more records");
            self.pass = None;
            self.next_pass_at = last + PASS_RECORDS;
            return;
        }
        metrics.address_index_seconds.observe(started.elapsed().as_secs_f64());
    }

    fn step(&mut self, conn: &mut Connection, last: u64, trimmed: bool, written: u64) -> Result<(), StoreError> {
        // A trim may have removed records the loaded pass still holds: drop them.
        if trimmed && let Some(pass) = &mut self.pass {
            let oldest: Option<i64> =
                conn.query_row("SELECT seq FROM events ORDER BY seq LIMIT 1", [], |r| r.get(0)).optional()?;
            let oldest = oldest.unwrap_or(i64::MAX);
            let mut rest = pass.rows.split_off(pass.next);
            rest.retain(|(_, seq)| *seq >= oldest);
            pass.rows = rest;
            pass.next = 0;
        }
        if self.pass.is_none() {
            let pass = load_pass(conn, last)?;
            if pass.rows.is_empty() {
                write_mark(conn, pass.through, pass.through, None)?;
                self.next_pass_at = pass.through + PASS_RECORDS;
                return Ok(());
            }
            self.pass = Some(pass);
        }
        let Some(pass) = &mut self.pass else { return Ok(()) };
        let size = SLICE_ROWS.max(usize::try_from(written.saturating_mul(2)).unwrap_or(usize::MAX));
        let end = pass.next.saturating_add(size).min(pass.rows.len());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert =
                tx.prepare_cached("INSERT OR IGNORE INTO event_addresses (address, seq) VALUES (?1, ?2)")?;
            for (address, seq) in &pass.rows[pass.next..end] {
                insert.execute(params![address, seq])?;
            }
        }
        let finished = end == pass.rows.len();
        if finished {
            write_mark(&tx, pass.through, pass.through, None)?;
        } else {
            let (address, seq) = &pass.rows[end - 1];
            write_mark(&tx, pass.from, pass.through, Some((address, *seq)))?;
        }
        tx.commit()?;
        pass.next = end;
        if finished {
            self.next_pass_at = pass.through + PASS_RECORDS;
            self.pass = None;
        }
        Ok(())
    }
}

/// The pass the stored mark calls for: the one under way, or a new one up to `last`.
fn load_pass(conn: &Connection, last: u64) -> Result<Pass, StoreError> {
    let mark = read_mark(conn)?;
    let from = mark.indexed_through;
    let through =
        if mark.pass_through > from { mark.pass_through } else { last.min(from + MAX_PASS_RECORDS).max(from) };
    // Read in log order and sorted here: SQLite's sorter cost more than the sort.
    let mut stmt = conn.prepare_cached("SELECT address, seq FROM events WHERE seq > ?1 AND seq <= ?2")?;
    let done = mark.done.as_ref().map(|(address, seq)| (address.as_str(), *seq));
    // A mark made by hand may span anything: the capacity is only a hint.
    let mut rows = Vec::with_capacity(usize::try_from(through - from).unwrap_or(0).min(MAX_PASS_RECORDS as usize));
    let mut found = stmt.query(params![from as i64, through as i64])?;
    while let Some(row) = found.next()? {
        let (address, seq): (String, i64) = (row.get(0)?, row.get(1)?);
        if done.is_none_or(|done| (address.as_str(), seq) > done) {
            rows.push((address, seq));
        }
    }
    rows.sort_unstable();
    Ok(Pass { from, through, rows, next: 0 })
}

fn read_mark(conn: &Connection) -> Result<Mark, StoreError> {
    let mark = conn
        .query_row("SELECT indexed_through, pass_through, done_address, done_seq FROM address_index", [], |r| {
            let done: (Option<String>, Option<i64>) = (r.get(2)?, r.get(3)?);
            Ok(Mark {
                indexed_through: r.get::<_, i64>(0)?.max(0) as u64,
                pass_through: r.get::<_, i64>(1)?.max(0) as u64,
                done: done.0.zip(done.1),
            })
        })
        .optional()?;
    mark.ok_or_else(|| StoreError::Corrupt("the address_index table has no row".into()))
}

fn write_mark(conn: &Connection, indexed: u64, pass: u64, done: Option<(&str, i64)>) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE address_index SET indexed_through = ?1, pass_through = ?2, done_address = ?3, done_seq = ?4",
    )?
    .execute(params![indexed as i64, pass as i64, done.map(|d| d.0), done.map(|d| d.1)])?;
    Ok(())
}
