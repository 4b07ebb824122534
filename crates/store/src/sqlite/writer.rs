//! The single writer thread and its group commit.
//!
//! Every write to the SQLite store goes through one thread that owns the only read-write
//! connection. It takes the first waiting request, then every request that queued up behind it
//! (up to `MAX_OPS_PER_COMMIT`), runs them in one transaction — each request in its own
//! savepoint, so one refusal does not undo its neighbours — and commits once: one fsync for the
//! whole group. Requests queue up precisely while the previous commit is fsyncing, so the group
//! grows with load and the fsync cost is shared.
//!
//! Invariants: `next_seq` is one more than the highest seq committed or pending in this
//! transaction; it is rewound whenever a savepoint or the transaction rolls back, so seqs are
//! assigned in commit order without holes from refused requests. A reply is sent only after the
//! commit returned (and, for `Durability::Fsync`, after the fsync).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::Durability;
use crate::error::StoreError;
use crate::machines::MachineCache;
use crate::metrics::StoreMetrics;
use crate::sqlite::ops::{self, OpContext};
use crate::types::{WriteOp, WriteOutcome};

/// A group never holds more operations than this, bounding a commit's latency.
const MAX_OPS_PER_COMMIT: usize = 1024;

/// What the writer thread receives.
pub(crate) enum WriterMsg {
    /// Apply these writes.
    Write(WriteRequest),
    /// Serve nothing more; flush and stop.
    Shutdown,
}

/// One caller's request: a single op, or an atomic batch.
pub(crate) struct WriteRequest {
    pub ops: Vec<WriteOp>,
    pub atomic: bool,
    pub reply: oneshot::Sender<Result<Vec<WriteOutcome>, StoreError>>,
}

pub(crate) struct Writer {
    pub conn: Connection,
    pub next_seq: u64,
    pub machines: Arc<MachineCache>,
    pub metrics: StoreMetrics,
    pub durability: Durability,
    /// The WAL file, fsynced explicitly under `Durability::Batch`.
    pub wal_path: PathBuf,
}

impl Writer {
    /// Serves requests until every sender is gone, then flushes.
    pub fn run(mut self, rx: flume::Receiver<WriterMsg>) {
        let flush_every = match self.durability {
            Durability::Batch { interval_ms } => Some(Duration::from_millis(interval_ms)),
            _ => None,
        };
        let mut last_flush = Instant::now();
        let mut unflushed = false;
        loop {
            let first = match (flush_every, unflushed) {
                (Some(every), true) => match rx.recv_deadline(last_flush + every) {
                    Ok(WriterMsg::Write(req)) => req,
                    Ok(WriterMsg::Shutdown) => break,
                    Err(flume::RecvTimeoutError::Timeout) => {
                        self.flush_wal();
                        last_flush = Instant::now();
                        unflushed = false;
                        continue;
                    }
                    Err(flume::RecvTimeoutError::Disconnected) => break,
                },
                _ => match rx.recv() {
                    Ok(WriterMsg::Write(req)) => req,
                    Ok(WriterMsg::Shutdown) | Err(_) => break,
                },
            };
            let mut group = Vec::with_capacity(16);
            let mut ops = first.ops.len();
            group.push(first);
            let mut shutdown = false;
            while ops < MAX_OPS_PER_COMMIT {
                match rx.try_recv() {
                    Ok(WriterMsg::Write(req)) => {
                        ops += req.ops.len();
                        group.push(req);
                    }
                    Ok(WriterMsg::Shutdown) => {
                        shutdown = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(group, ops);
            unflushed = true;
            if shutdown {
                break;
            }
            if let Some(every) = flush_every
                && last_flush.elapsed() >= every
            {
                self.flush_wal();
                last_flush = Instant::now();
                unflushed = false;
            }
        }
        if unflushed && flush_every.is_some() {
            self.flush_wal();
        }
        if let Err(e) = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
            tracing::warn!(error = %e, "checkpoint at shutdown failed");
        }
    }

    fn commit_group(&mut self, group: Vec<WriteRequest>, ops: usize) {
        let Writer { conn, next_seq, machines, metrics, .. } = self;
        let start_seq = *next_seq;
        let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                let msg = e.to_string();
                for req in group {
                    let _ = req.reply.send(Err(StoreError::Backend(msg.clone())));
                }
                return;
            }
        };
        let mut results = Vec::with_capacity(group.len());
        for req in &group {
            let seq_before = *next_seq;
            let mut cx = OpContext { next_seq: &mut *next_seq, machines: machines.as_ref(), metrics: &*metrics };
            let result = run_request(&mut tx, &mut cx, req);
            if result.is_err() {
                *next_seq = seq_before;
            }
            results.push(result);
        }
        if *next_seq != start_seq
            && let Err(e) =
                tx.execute("UPDATE meta SET value = ?1 WHERE key = 'last_seq'", params![(*next_seq - 1).to_string()])
        {
            *next_seq = start_seq;
            return fail_group(group, StoreError::from(e));
        }
        let started = Instant::now();
        if let Err(e) = tx.commit() {
            *next_seq = start_seq;
            tracing::error!(error = %e, "commit failed; the group's writes were not applied");
            return fail_group(group, StoreError::from(e));
        }
        metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
        metrics.commit_batch_size.observe(ops as f64);
        metrics.commits.inc();
        for (req, result) in group.into_iter().zip(results) {
            let _ = req.reply.send(result);
        }
    }

    fn flush_wal(&self) {
        let started = Instant::now();
        match std::fs::File::open(&self.wal_path).and_then(|f| f.sync_data()) {
            Ok(()) => self.metrics.fsync_seconds.observe(started.elapsed().as_secs_f64()),
            // No WAL file yet means nothing was written since the last checkpoint.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::error!(error = %e, path = %self.wal_path.display(), "WAL fsync failed"),
        }
    }
}

/// Runs one request in its own savepoint; a refusal rolls back only this request.
fn run_request(
    tx: &mut rusqlite::Transaction<'_>,
    cx: &mut OpContext<'_>,
    req: &WriteRequest,
) -> Result<Vec<WriteOutcome>, StoreError> {
    let sp = tx.savepoint()?;
    let mut outcomes = Vec::with_capacity(req.ops.len());
    for (index, op) in req.ops.iter().enumerate() {
        match ops::execute(&sp, cx, op) {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) if req.atomic => return Err(StoreError::BatchFailed { index, source: Box::new(e) }),
            Err(e) => return Err(e),
        }
    }
    sp.commit()?;
    Ok(outcomes)
}

fn fail_group(group: Vec<WriteRequest>, error: StoreError) {
    let msg = error.to_string();
    for req in group {
        let _ = req.reply.send(Err(StoreError::Backend(msg.clone())));
    }
}
