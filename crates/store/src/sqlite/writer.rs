//! The single writer thread and its group commit.
//!
//! Every write to the SQLite store goes through one thread that owns the only read-write
//! connection. It takes the first waiting request, then every request that queued up behind it
//! (up to `MAX_OPS_PER_COMMIT`), runs them in one transaction and commits once. A request of
//! several ops runs in a savepoint; one of a single op needs none, since commands refuse before
//! their first write (and a savepoint here copies every page the request touches again into
//! the sub-journal: a tenth of the writer's time on the job path). A request that fails after
//! writing anyway (a panic, or a refusal after rows changed) makes the writer run the group
//! again with a savepoint per request, so the failure stays its own. Requests queue up
//! precisely while the previous group is being made durable, so groups grow with load and the
//! cost of an fsync is shared.
//!
//! Durability: commits run with `synchronous=NORMAL` (no fsync of their own); the writer then
//! fsyncs the WAL file itself — after every commit and before any reply under
//! `Durability::Fsync`, at least every interval under `Durability::Batch`. Checkpoints still
//! sync the database file (SQLite does that under NORMAL). Doing the fsync ourselves is what
//! lets the `fsync_seconds` histogram measure it.
//!
//! Invariants:
//! - `next_seq` is one more than the highest seq committed or pending in this transaction. It
//!   is rewound when a request's savepoint rolls back, and reloaded from the database whenever
//!   a whole transaction fails, so seqs are assigned in commit order and never reused.
//! - A reply is sent only after the group committed and, under `Fsync`, after the WAL fsync.
//! - If SQLite itself fails (an I/O error, or a transaction rolled back under us), the whole
//!   group is failed — never half-committed — and the compiled-machine cache is cleared, since
//!   it may hold versions that never committed. An I/O error at commit or fsync leaves the
//!   durability of recent writes unknown, and a full disk at commit leaves nothing to write
//!   with: either way the store then refuses further writes ("fail-stop") and reports unhealthy
//!   until restarted.
//! - A panic while applying one request fails that request only (the group runs again, each
//!   request in its own savepoint, and the panicking one rolls back).

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, TransactionBehavior, params};

use super::address_index::AddressIndex;
use super::checkpoint::{self, Checkpointer};
use crate::clock::SharedClock;
use crate::commands::{Group, run_group};
use crate::error::StoreError;
use crate::group::{
    Admission, FailState, GroupBuilder, MAX_OPS_PER_COMMIT, WriteRequest, WriterMsg, fail_all, record_committed,
    record_queued, reply_all,
};
use crate::machines::MachineCache;
use crate::metrics::StoreMetrics;
use crate::sqlite::tables::SqliteTx;
use crate::tables::{TxError, TxResult};
use crate::{Durability, WriteOp};

/// Pages one step of a compaction returns to the file system (16 MiB of 4 KiB pages).
const VACUUM_STEP_PAGES: u32 = 4096;

/// Steps one compaction takes at most, so it never holds up the writes queued behind it for
/// long; the next compaction goes on.
const VACUUM_STEPS: usize = 16;

/// No step of a compaction starts after it has run this long.
const VACUUM_TIME: Duration = Duration::from_millis(250);

pub(crate) struct Writer {
    pub conn: Connection,
    pub next_seq: u64,
    /// The log's running byte total after the last record (see `events.end_offset`).
    pub next_offset: u64,
    pub machines: MachineCache,
    pub metrics: StoreMetrics,
    pub durability: Durability,
    pub wal: WalFile,
    pub failed: FailState,
    pub clock: SharedClock,
    /// Copies the WAL into the database file beside the writer.
    pub checkpointer: Checkpointer,
    /// Fills the log's per-address index between groups.
    pub addresses: AddressIndex,
}

/// The WAL file, kept open so an fsync costs one system call.
pub(crate) struct WalFile {
    path: PathBuf,
    file: Option<File>,
}

impl WalFile {
    pub fn new(path: PathBuf) -> WalFile {
        WalFile { path, file: None }
    }

    fn sync(&mut self) -> std::io::Result<()> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.file = Some(f),
                // No WAL yet: nothing has been written that needs flushing.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        match &self.file {
            Some(f) => f.sync_data(),
            None => Ok(()),
        }
    }
}

impl Writer {
    /// Serves requests until shut down (or every sender is gone), then flushes.
    pub fn run(mut self, rx: flume::Receiver<WriterMsg>) {
        let flush_every = match self.durability {
            Durability::Batch { interval_ms } => Some(Duration::from_millis(interval_ms)),
            _ => None,
        };
        let mut last_flush = Instant::now();
        let mut unflushed = false;
        // Requests held back from a group (see `GroupBuilder`); they go before anything newer.
        let mut carried: VecDeque<WriteRequest> = VecDeque::new();
        let mut shutdown = false;
        while !shutdown || !carried.is_empty() {
            let first = match carried.pop_front() {
                Some(req) => req,
                None if shutdown => break,
                None => match (flush_every, unflushed) {
                    (Some(every), true) => match rx.recv_deadline(last_flush + every) {
                        Ok(WriterMsg::Write(req)) => req,
                        Ok(WriterMsg::Compact(reply)) => {
                            let _ = reply.send(self.compact());
                            continue;
                        }
                        Ok(WriterMsg::Shutdown) => break,
                        Err(flume::RecvTimeoutError::Timeout) => {
                            // A failure stops the store (see `flush_wal`); nothing to answer here.
                            let _ = self.flush_wal();
                            last_flush = Instant::now();
                            unflushed = false;
                            continue;
                        }
                        Err(flume::RecvTimeoutError::Disconnected) => break,
                    },
                    _ => match rx.recv() {
                        Ok(WriterMsg::Write(req)) => req,
                        Ok(WriterMsg::Compact(reply)) => {
                            let _ = reply.send(self.compact());
                            continue;
                        }
                        Ok(WriterMsg::Shutdown) | Err(_) => break,
                    },
                },
            };
            let mut builder = GroupBuilder::start(&first);
            let mut group = Vec::with_capacity(16);
            group.push(first);
            let mut held_back = VecDeque::new();
            let mut compact_after = Vec::new();
            while !builder.is_full() {
                let next = match carried.pop_front() {
                    Some(req) => req,
                    None if shutdown => break,
                    None => match rx.try_recv() {
                        Ok(WriterMsg::Write(req)) => req,
                        Ok(WriterMsg::Compact(reply)) => {
                            compact_after.push(reply);
                            continue;
                        }
                        Ok(WriterMsg::Shutdown) => {
                            shutdown = true;
                            break;
                        }
                        Err(_) => break,
                    },
                };
                match builder.offer(&next) {
                    Admission::Join => group.push(next),
                    Admission::HoldBack => {
                        held_back.push_back(next);
                        // Bounded: a burst on one key must not pull the whole queue in.
                        if held_back.len() >= MAX_OPS_PER_COMMIT {
                            break;
                        }
                    }
                    Admission::HoldBackAndStop => {
                        held_back.push_back(next);
                        break;
                    }
                }
            }
            held_back.append(&mut carried);
            carried = held_back;
            unflushed |= self.commit_group(group);
            for reply in compact_after {
                let _ = reply.send(self.compact());
            }
            if let Some(every) = flush_every
                && last_flush.elapsed() >= every
            {
                let _ = self.flush_wal();
                last_flush = Instant::now();
                unflushed = false;
            }
        }
        if unflushed {
            let _ = self.flush_wal();
        }
        self.checkpointer.stop();
        if let Err(e) = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
            tracing::warn!(error = %e, "checkpoint at shutdown failed");
        }
    }

    /// Runs and commits one group; returns whether anything was committed.
    fn commit_group(&mut self, group: Vec<WriteRequest>) -> bool {
        self.commit_group_as(group, false)
    }

    /// [`Writer::commit_group`], each request in a savepoint of its own when `isolated`.
    fn commit_group_as(&mut self, group: Vec<WriteRequest>, isolated: bool) -> bool {
        if let Some(reason) = self.failed.reason() {
            fail_all(group, &StoreError::Failed(reason));
            return false;
        }
        if !isolated {
            record_queued(&self.metrics, &group);
        }
        let trimmed = group.iter().any(|r| r.ops.iter().any(|op| matches!(op, WriteOp::TrimLog(_))));
        let executing = Instant::now();
        let start_seq = self.next_seq;
        let start_offset = self.next_offset;
        let now = self.clock.now();
        let Writer { conn, next_seq, next_offset, machines, .. } = self;
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                fail_all(group, &StoreError::from(e));
                return false;
            }
        };
        let mut tables = SqliteTx { conn: &tx, next_seq, next_offset, saved: (start_seq, start_offset) };
        let mut abort = None;
        let results = match poll_once(run_group(&mut tables, Group { requests: &group, now, isolated }, machines)) {
            Ok(results) => results,
            Err(TxError::Isolate(error)) if !isolated => {
                tracing::debug!(error = %error, "a request failed after writing; running its group again, isolated");
                drop(tx);
                self.after_failed_transaction(start_seq, start_offset);
                return self.commit_group_as(group, true);
            }
            Err(TxError::Storage { error, .. } | TxError::Refused(error) | TxError::Isolate(error)) => {
                // A backend error, or a transaction SQLite rolled back by itself, poisons the
                // whole group: continuing would commit some requests outside any transaction.
                abort = Some(StoreError::Backend(format!("the group's transaction failed: {error}")));
                Vec::new()
            }
        };
        if abort.is_none()
            && *next_seq != start_seq
            && let Err(e) = tx
                .prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'last_seq'")
                .and_then(|mut stmt| stmt.execute(params![(*next_seq - 1).to_string()]))
        {
            abort = Some(StoreError::from(e));
        }
        if let Some(error) = abort {
            drop(tx);
            self.after_failed_transaction(start_seq, start_offset);
            fail_all(group, &error);
            return false;
        }
        let started = Instant::now();
        self.metrics.execute_seconds.observe(started.saturating_duration_since(executing).as_secs_f64());
        if let Err(e) = tx.commit() {
            tracing::error!(error = %e, "commit failed; the group's writes were not applied");
            // A disk that fails a commit stops the store: its callers get the same refusal as
            // every write after it (503 `unavailable`), told that theirs was not applied.
            let error = if is_io_error(&e) {
                self.failed.fail(format!("commit failed: {e}"));
                StoreError::Failed(format!("commit failed: {e}; this write was not applied"))
            } else {
                StoreError::from(e)
            };
            self.after_failed_transaction(start_seq, start_offset);
            fail_all(group, &error);
            return false;
        }
        self.metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
        if self.durability == Durability::Fsync
            && let Err(reason) = self.flush_wal()
        {
            // Committed, so readers see it, but not known to be on disk: it may not survive a
            // crash. The store has stopped taking writes, so a retry must wait for a restart.
            let unknown = StoreError::OutcomeUnknown(format!(
                "it was committed but not made durable ({reason}); the store stopped accepting writes, so \
                 restart the server first"
            ));
            fail_all(group, &unknown);
            return true;
        }
        record_committed(&self.metrics, &results);
        reply_all(group, results);
        if self.checkpointer.after_commit(checkpoint::wal_pages()) {
            checkpoint::finish_on_writer(&self.conn);
        }
        let last = self.next_seq.saturating_sub(1);
        self.addresses.after_group(&mut self.conn, last, trimmed, &self.metrics);
        true
    }

    /// Restores the writer's invariants after a transaction rolled back.
    fn after_failed_transaction(&mut self, start_seq: u64, start_offset: u64) {
        self.machines.clear();
        self.next_offset = start_offset;
        self.next_seq = match super::next_seq(&self.conn) {
            Ok(seq) => seq.max(start_seq),
            Err(e) => {
                self.failed.fail(format!("cannot read the log's last seq after a failed transaction: {e}"));
                start_seq
            }
        };
    }

    /// Returns pages freed by retention to the file system and truncates the WAL. Runs between
    /// groups (a checkpoint cannot run inside the writer's transaction), so its work is bounded:
    /// at most [`VACUUM_STEPS`] steps of [`VACUUM_STEP_PAGES`] pages, none started after
    /// [`VACUUM_TIME`], and a checkpoint that never waits. What is left is done by the next
    /// compaction.
    fn compact(&mut self) -> Result<(), StoreError> {
        let started = Instant::now();
        let mut last_free = i64::MAX;
        for _ in 0..VACUUM_STEPS {
            let free: i64 = self.conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            // Stop when nothing is left, when a step freed nothing (a file without incremental
            // auto-vacuum) or when time is up.
            if free <= 0 || free >= last_free || started.elapsed() >= VACUUM_TIME {
                break;
            }
            last_free = free;
            // `incremental_vacuum(N)` frees one page per step of the statement: step it to
            // the end (`execute_batch` would step it once, freeing a single page).
            let mut stmt = self.conn.prepare_cached(&format!("PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})"))?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
        }
        // TRUNCATE waits for readers of old snapshots; with no busy timeout it gives up at once
        // instead of stalling every write behind it, and is retried at the next compaction.
        // (`journal_size_limit` still truncates the WAL file when a later reset happens.)
        self.conn.busy_timeout(Duration::ZERO)?;
        let checkpoint = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0));
        let restored = self.conn.busy_timeout(Duration::from_millis(super::BUSY_TIMEOUT_MS));
        let busy = match checkpoint {
            Ok(busy) => busy != 0,
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => true,
            Err(e) => return Err(e.into()),
        };
        restored?;
        if busy {
            tracing::debug!("WAL checkpoint was blocked by a reader; retried next time");
        }
        Ok(())
    }

    /// fsyncs the WAL; a failure stops the store.
    fn flush_wal(&mut self) -> Result<(), String> {
        let started = Instant::now();
        match self.wal.sync() {
            Ok(()) => {
                self.metrics.fsync_seconds.observe(started.elapsed().as_secs_f64());
                Ok(())
            }
            Err(e) => {
                let reason = format!("fsync of {} failed: {e}", self.wal.path.display());
                self.failed.fail(reason.clone());
                Err(reason)
            }
        }
    }
}

/// Drives a future that never waits (every table method of this backend completes at once) to
/// its end; one that would wait is a bug, and fails the group.
fn poll_once<T>(future: impl std::future::Future<Output = TxResult<T>>) -> TxResult<T> {
    let future = std::pin::pin!(future);
    match future.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => Err(TxError::Storage {
            error: StoreError::Internal("a write on the SQLite writer waited on something".into()),
            retry: false,
        }),
    }
}

/// Whether a failed commit means the disk failed: an I/O error, a full disk (`ENOSPC` makes
/// SQLite answer `SQLITE_FULL`, not an I/O error) or a corrupt file. The store then stops taking
/// writes, so `/readyz` says so rather than every later write failing on its own.
fn is_io_error(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::SystemIoFailure | ErrorCode::DiskFull | ErrorCode::DatabaseCorrupt))
}
