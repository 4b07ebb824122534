//! Group-commit writers of the PostgreSQL store.
//!
//! Each node runs a few writers (tokio tasks), each with its own connection, draining one shared
//! queue: a writer takes the first waiting request and every request queued behind it, runs
//! them in one transaction (a savepoint per request, so a refusal undoes only its own request)
//! and commits once — one WAL flush on the server for the whole group.
//!
//! A group's transaction runs in four steps:
//! 1. **Locks, in one global order.** (Sent with the read of the group's idempotency records as
//!    one pipelined round trip; the server runs them in order, so the records are read under
//!    their keys' locks.) Advisory transaction locks on every idempotency key and
//!    every machine name the group writes (sorted by hash), then row locks on every existing
//!    instance it writes (`ORDER BY space, machine, id FOR UPDATE`), then row locks on every
//!    invocation it finishes (`ORDER BY id FOR UPDATE`). Every group on every node takes its
//!    locks in that order, so groups do not deadlock on them (a few ops lock more rows as they
//!    go — a lease round's jobs' instances, a child's parent — and can; step 4 retries those),
//!    and two requests with one idempotency
//!    key — or two events to one instance — are serialised across nodes: the idempotency check
//!    and the revision check run under those locks. (Two requests with the same key are never
//!    put in one group: the later waits for the next group.) Ops that lock rows themselves
//!    (claims of invocations, KV expiry, invocation purges) use `SKIP LOCKED`, so they never
//!    wait on a row another group holds. Among the advisory locks is one per space: every op
//!    that writes into a space holds it shared (but events and instance deletions, which the
//!    instance's row lock covers), a space's deletion holds it exclusively (in a group of its
//!    own), so a deletion never runs beside a write into its space on any node.
//! 2. **The ops.** Instance rows are read, checked, transitioned by the model and updated; log
//!    records and idempotency records are buffered in memory. A request of several ops (an
//!    atomic batch) runs in a savepoint; a single op needs none, because an op refuses only
//!    before its first write.
//! 3. **Seqs, in commit order.** `UPDATE log_head SET last_seq = last_seq + n RETURNING
//!    last_seq` reserves the group's seqs. That row lock is held until COMMIT, so the next
//!    group anywhere in the cluster reserves its seqs only after this one has committed and is
//!    visible. Hence seq order is commit order: a reader that has seen `seq = n` can never
//!    later find a newly committed record with `seq < n` — without any reader-side filtering.
//!    The records and idempotency rows (whose stored responses now carry their seqs) are
//!    inserted with one statement each, then the `spaces` rows of the spaces the group made
//!    exist (`ON CONFLICT DO NOTHING`; what was inserted tells each op whether it created its
//!    space: inserted here, under the `log_head` lock, no two groups insert one row at once),
//!    and the transaction commits. Only this step is serialised across the cluster; it holds
//!    no lock a reader needs.
//! 4. **Retry.** A deadlock or serialization failure (which PostgreSQL rolls back entirely)
//!    retries the group a few times; any other database error fails the whole group. A
//!    connection lost during COMMIT leaves the outcome unknown: the requests get an error
//!    (their idempotency keys make a retry safe) and the writer reconnects.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool};
use tokio_postgres::error::SqlState;

use crate::clock::SharedClock;
use crate::commands::{self, Group, run_group};
use crate::error::StoreError;
use crate::group::{
    Admission, FailState, GroupBuilder, MAX_OPS_PER_COMMIT, RequestResult, WriteRequest, WriterMsg, fail_all,
    record_committed, record_queued, reply_all,
};
use crate::machines::MachineCache;
use crate::metrics::StoreMetrics;
use crate::postgres::tables::PgTx;
use crate::tables::{Locks, TxError};

/// Attempts at a group that keeps hitting deadlocks or serialization failures.
const MAX_ATTEMPTS: u32 = 5;

pub(crate) struct Writer {
    pub pool: Pool,
    pub connection: Option<Object>,
    pub machines: MachineCache,
    /// The store's machine-cache epoch ([`crate::Store::forget_compiled_machines`]), and the
    /// value this writer last saw.
    pub machines_epoch: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub machines_seen: u64,
    pub metrics: StoreMetrics,
    pub failed: FailState,
    /// Requests held back because their idempotency key is already in the current group.
    pub carried: VecDeque<WriteRequest>,
    pub clock: SharedClock,
}

/// How a group's attempt ended when it did not commit.
enum AttemptError {
    /// Rolled back by the database because of a deadlock or serialization failure: retry.
    Retry(StoreError),
    /// Rolled back (or never started): fail the group.
    Failed(StoreError),
    /// The connection died during COMMIT: the outcome is unknown.
    Unknown(StoreError),
    /// A request failed after writing, without a savepoint of its own: run the group again
    /// with one per request (see [`TxError::Isolate`]).
    Isolate(StoreError),
}

fn classify(e: tokio_postgres::Error) -> AttemptError {
    match e.code() {
        Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE => {
            AttemptError::Retry(StoreError::from(e))
        }
        _ => AttemptError::Failed(StoreError::from(e)),
    }
}

impl Writer {
    /// Serves requests until shut down.
    pub async fn run(mut self, rx: flume::Receiver<WriterMsg>) {
        let mut shutdown = false;
        while !shutdown || !self.carried.is_empty() {
            let first = match self.carried.pop_front() {
                Some(req) => req,
                None => match rx.recv_async().await {
                    Ok(WriterMsg::Write(req)) => req,
                    // PostgreSQL reclaims space itself (autovacuum).
                    Ok(WriterMsg::Compact(reply)) => {
                        let _ = reply.send(Ok(()));
                        continue;
                    }
                    Ok(WriterMsg::Shutdown) | Err(_) => break,
                },
            };
            let mut builder = GroupBuilder::start(&first);
            let mut group = vec![first];
            let mut held_back = VecDeque::new();
            // Requests held back earlier go first, then whatever queued up meanwhile.
            while !builder.is_full() {
                let next = match self.carried.pop_front() {
                    Some(req) => req,
                    None if shutdown => break,
                    None => match rx.try_recv() {
                        Ok(WriterMsg::Write(req)) => req,
                        Ok(WriterMsg::Compact(reply)) => {
                            let _ = reply.send(Ok(()));
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
                        // Bounded: a burst on one key must not pull the whole queue into one writer.
                        if held_back.len() >= MAX_OPS_PER_COMMIT {
                            break;
                        }
                    }
                    Admission::HoldBackAndStop => {
                        // It runs in a group of its own, after this one.
                        held_back.push_back(next);
                        break;
                    }
                }
            }
            held_back.append(&mut self.carried);
            self.carried = held_back;
            self.commit_group(group).await;
        }
    }

    async fn commit_group(&mut self, group: Vec<WriteRequest>) {
        if let Some(reason) = self.failed.reason() {
            return fail_all(group, &StoreError::Failed(reason));
        }
        record_queued(&self.metrics, &group);
        let mut attempt = 1;
        let mut isolated = false;
        loop {
            match self.attempt(&group, isolated).await {
                Ok(results) => {
                    record_committed(&self.metrics, &results);
                    return reply_all(group, results);
                }
                Err(AttemptError::Retry(e)) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "group rolled back by the database; retrying");
                    self.machines.clear();
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 2)).await;
                    attempt += 1;
                }
                Err(AttemptError::Isolate(e)) if !isolated => {
                    tracing::debug!(error = %e, "a request failed after writing; running its group again, isolated");
                    self.machines.clear();
                    isolated = true;
                }
                Err(AttemptError::Retry(e) | AttemptError::Failed(e) | AttemptError::Isolate(e)) => {
                    self.machines.clear();
                    if self.connection.as_ref().is_some_and(|c| c.is_closed()) {
                        self.connection = None;
                    }
                    return fail_all(group, &e);
                }
                Err(AttemptError::Unknown(e)) => {
                    tracing::warn!(error = %e, "connection lost during commit; the group's outcome is unknown");
                    self.machines.clear();
                    self.connection = None;
                    return fail_all(
                        group,
                        &StoreError::OutcomeUnknown(format!("the database connection was lost while committing ({e})")),
                    );
                }
            }
        }
    }

    async fn attempt(&mut self, group: &[WriteRequest], isolated: bool) -> Result<Vec<RequestResult>, AttemptError> {
        let executing = Instant::now();
        let Writer { pool, connection, machines, machines_epoch, machines_seen, metrics, clock, .. } = self;
        let conn = connect(pool, connection).await?;
        let tx = conn.transaction().await.map_err(classify)?;

        // 1. Locks, in one global order.
        let mut locks = Locks::default();
        for op in group.iter().flat_map(|r| &r.ops) {
            commands::locks(op, &mut locks);
        }
        let Locks { advisory: keys, mut instances, mut invocations } = locks;
        instances.sort_unstable();
        instances.dedup();
        invocations.sort_unstable();
        invocations.dedup();
        let idempotency_keys: Vec<(String, String)> =
            group.iter().flat_map(|r| &r.ops).filter_map(commands::idempotency_key).collect();
        // The lock statements and the read of the group's idempotency records are sent
        // together (tokio-postgres pipelines statements polled at once), one round trip for
        // all: the server runs them in the order sent, so the records are read with every
        // key's lock held. The statements are prepared first (once per connection), so that
        // no statement's preparation can reorder the executions.
        let advisory_stmt = tx
            .prepare_cached(
                "SELECT CASE WHEN x THEN pg_advisory_xact_lock(h) ELSE pg_advisory_xact_lock_shared(h) END FROM
                   (SELECT hashtextextended(k, 0) AS h, bool_or(x) AS x
                    FROM unnest($1::text[], $2::bool[]) AS t(k, x) GROUP BY 1 ORDER BY 1) AS sorted",
            )
            .await
            .map_err(classify)?;
        let instances_stmt = tx
            .prepare_cached(
                "SELECT 1 FROM instances
                 WHERE (space, machine, id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
                 ORDER BY space, machine, id FOR UPDATE",
            )
            .await
            .map_err(classify)?;
        let invocations_stmt = tx
            .prepare_cached("SELECT 1 FROM invocations WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .await
            .map_err(classify)?;
        let idempotency_stmt = tx
            .prepare_cached(
                "SELECT i.space, i.key, i.fingerprint, i.response FROM idempotency i
                 JOIN unnest($1::text[], $2::text[]) AS t(space, key) ON i.space = t.space AND i.key = t.key",
            )
            .await
            .map_err(classify)?;
        // One lock per hash, exclusive if any key with that hash asks for it.
        let (advisory_keys, exclusive): (Vec<&str>, Vec<bool>) = keys.iter().map(|(k, x)| (k.as_str(), *x)).unzip();
        let (spaces, machines_col, ids): (Vec<&str>, Vec<&str>, Vec<&str>) =
            instances.iter().fold((Vec::new(), Vec::new(), Vec::new()), |(mut a, mut b, mut c), (s, m, i)| {
                a.push(*s);
                b.push(*m);
                c.push(*i);
                (a, b, c)
            });
        let (idem_spaces, idem_keys): (Vec<&str>, Vec<&str>) =
            idempotency_keys.iter().map(|(s, k)| (s.as_str(), k.as_str())).unzip();
        let advisory = async {
            if advisory_keys.is_empty() {
                Ok(())
            } else {
                tx.execute(&advisory_stmt, &[&advisory_keys, &exclusive]).await.map(drop)
            }
        };
        let instance_locks = async {
            if ids.is_empty() {
                Ok(())
            } else {
                tx.query(&instances_stmt, &[&spaces, &machines_col, &ids]).await.map(drop)
            }
        };
        let invocation_locks = async {
            if invocations.is_empty() { Ok(()) } else { tx.query(&invocations_stmt, &[&invocations]).await.map(drop) }
        };
        let idempotency_records = async {
            if idem_keys.is_empty() {
                Ok(Vec::new())
            } else {
                tx.query(&idempotency_stmt, &[&idem_spaces, &idem_keys]).await
            }
        };
        // `biased`: first polled, and so sent, in this order.
        let (advisory, instance_locks, invocation_locks, idempotency_records) =
            tokio::join!(biased; advisory, instance_locks, invocation_locks, idempotency_records);
        // The first failure is the cause (a deadlock, say); those after it failed because of
        // it ("current transaction is aborted").
        advisory.map_err(classify)?;
        instance_locks.map_err(classify)?;
        invocation_locks.map_err(classify)?;
        let idempotency_records = idempotency_records.map_err(classify)?;
        let mut idempotency: std::collections::HashMap<(String, String), Option<(String, String)>> =
            idempotency_keys.into_iter().map(|k| (k, None)).collect();
        for row in idempotency_records {
            idempotency.insert((row.get(0), row.get(1)), Some((row.get(2), row.get(3))));
        }

        // Checked with every lock held: a deletion bumps the epoch before it commits, and a
        // group writing into the space (re-created, perhaps) gets its space lock or an
        // instance's row lock only after that commit, so it has dropped what it cached.
        let epoch = machines_epoch.load(std::sync::atomic::Ordering::SeqCst);
        if epoch != *machines_seen {
            machines.clear();
            *machines_seen = epoch;
        }

        // 2. The ops, each request in its own savepoint when it has several; 3. seqs in commit
        // order, then the buffered rows (`commands::run_group`, `PgTx::flush_log`).
        let now = clock.now();
        let mut tables = PgTx { tx: &tx, jobs_due: false, idempotency };
        let results =
            run_group(&mut tables, Group { requests: group, now, isolated }, machines).await.map_err(|e| match e {
                TxError::Storage { error, retry: true } => AttemptError::Retry(error),
                TxError::Storage { error, retry: false } | TxError::Refused(error) => AttemptError::Failed(error),
                TxError::Isolate(error) => AttemptError::Isolate(error),
            })?;
        if tables.jobs_due {
            // Delivered on commit, and only then.
            tx.batch_execute(&format!("NOTIFY {}", super::tables::JOBS_CHANNEL)).await.map_err(classify)?;
        }
        if group.iter().flat_map(|r| &r.ops).any(commands::runs_alone) {
            machines_epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let started = Instant::now();
        metrics.execute_seconds.observe(started.saturating_duration_since(executing).as_secs_f64());
        // An error without a database answer (I/O, a closed connection) leaves the commit's
        // outcome unknown; an answer from the database means it rolled back.
        tx.commit().await.map_err(|e| {
            if e.as_db_error().is_none() { AttemptError::Unknown(StoreError::from(e)) } else { classify(e) }
        })?;
        metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
        Ok(results)
    }
}

/// The writer's connection, (re)connecting when there is none or it died.
async fn connect<'a>(pool: &Pool, slot: &'a mut Option<Object>) -> Result<&'a mut Object, AttemptError> {
    if slot.as_ref().is_none_or(|c| c.is_closed()) {
        let conn = pool
            .get()
            .await
            .map_err(|e| AttemptError::Failed(StoreError::Unreachable(format!("no database connection: {e}"))))?;
        *slot = Some(conn);
    }
    slot.as_mut().ok_or_else(|| AttemptError::Failed(StoreError::Backend("no database connection".into())))
}
