//! Group-commit writers of the PostgreSQL store.
//!
//! Each node runs a few writers (tokio tasks), each with its own connection, draining one shared
//! queue: a writer takes the first waiting request and every request queued behind it, runs
//! them in one transaction (a savepoint per request, so a refusal undoes only its own request)
//! and commits once — one WAL flush on the server for the whole group.
//!
//! A group's transaction runs in four steps:
//! 1. **Locks, in one global order.** Advisory transaction locks on every idempotency key and
//!    every machine name the group writes (sorted by hash), then row locks on every existing
//!    instance it writes (`ORDER BY space, machine, id FOR UPDATE`), then row locks on every
//!    invocation it finishes (`ORDER BY id FOR UPDATE`). Every group on every node takes its
//!    locks in that order, so groups do not deadlock, and two requests with one idempotency
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

use std::collections::{HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool};
use futures_util::FutureExt;
use tokio_postgres::error::SqlState;

use crate::error::StoreError;
use crate::group::{
    FailState, MAX_OPS_PER_COMMIT, RequestResult, WriteRequest, WriterMsg, fail_all, record_committed, reply_all,
};
use crate::machines::MachineCache;
use crate::metrics::StoreMetrics;
use crate::postgres::ops::{self, GroupLog, OpContext, OpFailure};
use crate::types::{WriteOp, WriteOutcome};

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
}

/// How a group's attempt ended when it did not commit.
enum AttemptError {
    /// Rolled back by the database because of a deadlock or serialization failure: retry.
    Retry(StoreError),
    /// Rolled back (or never started): fail the group.
    Failed(StoreError),
    /// The connection died during COMMIT: the outcome is unknown.
    Unknown(StoreError),
}

fn classify(e: tokio_postgres::Error) -> AttemptError {
    match e.code() {
        Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE => {
            AttemptError::Retry(StoreError::from(e))
        }
        _ => AttemptError::Failed(StoreError::from(e)),
    }
}

/// Advisory lock keys for everything an op may wait on besides existing instance and
/// invocation rows: its idempotency key, the machine or function it puts, the instance it
/// creates (a concurrent insert of the same row would make it wait), the invocation
/// idempotency key it enqueues with, the token it revokes, the admin bootstrap — each held
/// exclusively (`true`) — and the space it writes into, held shared (`false`) but exclusively by
/// the space's deletion.
fn lock_keys(op: &WriteOp, out: &mut Vec<(String, bool)>) {
    let mut exclusive = |key: String| out.push((key, true));
    match op {
        WriteOp::PutMachine { space, name, .. } => exclusive(format!("machine:{space}:{name}")),
        WriteOp::CreateInstance { key, idempotency, .. } => {
            exclusive(format!("instance:{}", key.address()));
            if let Some(idem) = idempotency {
                exclusive(format!("idempotency:{}:{}", key.space, idem.key));
            }
        }
        WriteOp::ApplyEvent { key, idempotency: Some(idem), .. } => {
            exclusive(format!("idempotency:{}:{}", key.space, idem.key))
        }
        WriteOp::Publish { space, idempotency: Some(idem), .. } => {
            exclusive(format!("idempotency:{space}:{}", idem.key))
        }
        WriteOp::KvPut { space, bucket, key, .. } | WriteOp::KvDelete { space, bucket, key, .. } => {
            exclusive(format!("kv:{space}:{bucket}:{key}"))
        }
        WriteOp::PutSubscription(spec) => {
            exclusive(format!("subscription:{}:{}", spec.filter.space, spec.name));
            // Serialised with trimming, so a new subscription's start is not trimmed under it.
            exclusive("log-trim".to_string());
        }
        WriteOp::DeleteSubscription { space, name }
        | WriteOp::Ack { space, name, .. }
        | WriteOp::Nack { space, name, .. }
        | WriteOp::RedriveDeadLetters { space, name, .. }
        | WriteOp::DiscardDeadLetters { space, name, .. } => exclusive(format!("subscription:{space}:{name}")),
        WriteOp::Pull(pull) => exclusive(format!("subscription:{}:{}", pull.space, pull.name)),
        WriteOp::TrimLog(_) => exclusive("log-trim".to_string()),
        WriteOp::PutFunction(spec) => exclusive(format!("function:{}:{}", spec.space, spec.name)),
        WriteOp::EnqueueInvocation(record) => {
            if let Some(key) = &record.idempotency_key {
                exclusive(format!("invocation-key:{}:{}:{key}", record.space, record.function));
            }
        }
        WriteOp::RevokeToken { id } => exclusive(format!("token:{id}")),
        WriteOp::BootstrapAdminToken(_) => exclusive("bootstrap".to_string()),
        _ => {}
    }
    match op {
        WriteOp::DeleteSpace { space } => out.push((format!("space:{space}"), true)),
        WriteOp::RecordInvocations(records) => {
            out.extend(records.iter().map(|r| (format!("space:{}", r.space), false)));
        }
        // The hot path takes no more locks than it did: the instance's row lock is enough, as
        // a deletion waits on it before it empties what these write (see `space_rules`).
        WriteOp::ApplyEvent { .. } | WriteOp::DeleteInstance { .. } => {}
        _ => {
            if let Some(space) = op_space(op) {
                out.push((format!("space:{space}"), false));
            }
        }
    }
}

/// The one space an op writes into, if it writes into one (ops that sweep every space, such as
/// KV expiry or retention, write into none: they lock the rows they change instead).
fn op_space(op: &WriteOp) -> Option<&str> {
    let space = match op {
        WriteOp::PutMachine { space, .. }
        | WriteOp::Publish { space, .. }
        | WriteOp::PutBucket { space, .. }
        | WriteOp::KvPut { space, .. }
        | WriteOp::KvDelete { space, .. }
        | WriteOp::DeleteSubscription { space, .. }
        | WriteOp::Ack { space, .. }
        | WriteOp::Nack { space, .. }
        | WriteOp::RedriveDeadLetters { space, .. }
        | WriteOp::DiscardDeadLetters { space, .. }
        | WriteOp::DeleteSpace { space } => space,
        WriteOp::CreateInstance { key, .. } | WriteOp::ApplyEvent { key, .. } | WriteOp::DeleteInstance { key } => {
            &key.space
        }
        WriteOp::PutSubscription(spec) => &spec.filter.space,
        WriteOp::Pull(pull) => &pull.space,
        WriteOp::PutFunction(spec) => &spec.space,
        WriteOp::EnqueueInvocation(record) | WriteOp::FinishInvocation(record) => &record.space,
        _ => return None,
    };
    Some(space.as_ref())
}

/// Whether a request must run in a group of its own (a space's deletion: nothing else the
/// group buffers for the space may outlive it).
fn runs_alone(req: &WriteRequest) -> bool {
    req.ops.iter().any(|op| matches!(op, WriteOp::DeleteSpace { .. }))
}

fn idempotency_keys(req: &WriteRequest) -> impl Iterator<Item = (String, String)> + '_ {
    req.ops.iter().filter_map(|op| match op {
        WriteOp::CreateInstance { key, idempotency: Some(idem), .. }
        | WriteOp::ApplyEvent { key, idempotency: Some(idem), .. } => Some((key.space.to_string(), idem.key.clone())),
        WriteOp::Publish { space, idempotency: Some(idem), .. } => Some((space.to_string(), idem.key.clone())),
        _ => None,
    })
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
            let mut keys: HashSet<(String, String)> = idempotency_keys(&first).collect();
            let mut ops = first.ops.len();
            let alone = runs_alone(&first);
            let mut group = vec![first];
            let mut held_back = VecDeque::new();
            // Requests held back earlier go first, then whatever queued up meanwhile.
            while ops < MAX_OPS_PER_COMMIT && !alone {
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
                if runs_alone(&next) {
                    // It runs in a group of its own, after this one.
                    held_back.push_back(next);
                    break;
                }
                let mine: Vec<_> = idempotency_keys(&next).collect();
                if mine.iter().any(|k| keys.contains(k)) {
                    held_back.push_back(next);
                    // Bounded: a burst on one key must not pull the whole queue into one writer.
                    if held_back.len() >= MAX_OPS_PER_COMMIT {
                        break;
                    }
                    continue;
                }
                keys.extend(mine);
                ops += next.ops.len();
                group.push(next);
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
        let mut attempt = 1;
        loop {
            match self.attempt(&group).await {
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
                Err(AttemptError::Retry(e) | AttemptError::Failed(e)) => {
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

    async fn attempt(&mut self, group: &[WriteRequest]) -> Result<Vec<RequestResult>, AttemptError> {
        let Writer { pool, connection, machines, machines_epoch, machines_seen, metrics, .. } = self;
        let conn = connect(pool, connection).await?;
        let tx = conn.transaction().await.map_err(classify)?;

        // 1. Locks, in one global order.
        let mut keys = Vec::new();
        let mut instances: Vec<(&str, &str, &str)> = Vec::new();
        let mut invocations: Vec<&str> = Vec::new();
        for op in group.iter().flat_map(|r| &r.ops) {
            lock_keys(op, &mut keys);
            match op {
                WriteOp::ApplyEvent { key, .. } | WriteOp::DeleteInstance { key } => {
                    instances.push((key.space.as_ref(), key.machine.as_ref(), key.id.as_ref()))
                }
                WriteOp::FinishInvocation(record) => invocations.push(record.id.as_str()),
                _ => {}
            }
        }
        if !keys.is_empty() {
            // One lock per hash, exclusive if any key with that hash asks for it.
            let (keys, exclusive): (Vec<String>, Vec<bool>) = keys.into_iter().unzip();
            let stmt = tx
                .prepare_cached(
                    "SELECT CASE WHEN x THEN pg_advisory_xact_lock(h) ELSE pg_advisory_xact_lock_shared(h) END FROM
                       (SELECT hashtextextended(k, 0) AS h, bool_or(x) AS x
                        FROM unnest($1::text[], $2::bool[]) AS t(k, x) GROUP BY 1 ORDER BY 1) AS sorted",
                )
                .await
                .map_err(classify)?;
            tx.execute(&stmt, &[&keys, &exclusive]).await.map_err(classify)?;
        }
        if !instances.is_empty() {
            instances.sort_unstable();
            instances.dedup();
            let (spaces, machines_col, ids): (Vec<&str>, Vec<&str>, Vec<&str>) =
                instances.iter().fold((Vec::new(), Vec::new(), Vec::new()), |(mut a, mut b, mut c), (s, m, i)| {
                    a.push(*s);
                    b.push(*m);
                    c.push(*i);
                    (a, b, c)
                });
            let stmt = tx
                .prepare_cached(
                    "SELECT 1 FROM instances
                     WHERE (space, machine, id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
                     ORDER BY space, machine, id FOR UPDATE",
                )
                .await
                .map_err(classify)?;
            tx.query(&stmt, &[&spaces, &machines_col, &ids]).await.map_err(classify)?;
        }
        if !invocations.is_empty() {
            invocations.sort_unstable();
            invocations.dedup();
            let stmt = tx
                .prepare_cached("SELECT 1 FROM invocations WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .await
                .map_err(classify)?;
            tx.query(&stmt, &[&invocations]).await.map_err(classify)?;
        }

        // Checked with every lock held: a deletion bumps the epoch before it commits, and a
        // group writing into the space (re-created, perhaps) gets its space lock or an
        // instance's row lock only after that commit, so it has dropped what it cached.
        let epoch = machines_epoch.load(std::sync::atomic::Ordering::SeqCst);
        if epoch != *machines_seen {
            machines.clear();
            *machines_seen = epoch;
        }

        // 2. The ops, each request in its own savepoint.
        let mut log = GroupLog::default();
        let mut results: Vec<RequestResult> = Vec::with_capacity(group.len());
        for (r, req) in group.iter().enumerate() {
            if let Some(refusal) = crate::group::refuse_repeated_key(req) {
                results.push(Err(refusal));
                continue;
            }
            // A single op refuses before it writes (see `ops`), so only a batch of several
            // needs a savepoint to undo its earlier ops.
            let savepoint = req.ops.len() > 1;
            if savepoint {
                tx.batch_execute("SAVEPOINT request").await.map_err(classify)?;
            }
            let mark = log.mark();
            let mut outcomes = Vec::with_capacity(req.ops.len());
            let mut refused = None;
            for (o, op) in req.ops.iter().enumerate() {
                let mut cx = OpContext { machines: &mut *machines, log: &mut log, position: (r, o) };
                // A panic (a bug) may have left writes behind: the whole attempt is abandoned
                // and the group failed, and this writer lives on.
                let executed = AssertUnwindSafe(ops::execute(&tx, &mut cx, op)).catch_unwind().await;
                let executed = executed.map_err(|panic| {
                    AttemptError::Failed(StoreError::Internal(format!(
                        "a bug stopped this write group: {}",
                        crate::group::panic_text(&panic)
                    )))
                })?;
                match executed {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(OpFailure::Refused(e)) => {
                        refused = Some(if req.atomic {
                            StoreError::BatchFailed { index: o, source: Box::new(e) }
                        } else {
                            e
                        });
                        break;
                    }
                    Err(OpFailure::Sql(e)) => return Err(classify(e)),
                }
            }
            match refused {
                None => {
                    if savepoint {
                        tx.batch_execute("RELEASE SAVEPOINT request").await.map_err(classify)?;
                    }
                    results.push(Ok(outcomes));
                }
                Some(e) => {
                    if savepoint {
                        tx.batch_execute("ROLLBACK TO SAVEPOINT request").await.map_err(classify)?;
                    }
                    log.truncate(mark);
                    // A machine version put by the rolled-back request may sit in the cache.
                    if req.ops.iter().any(|op| matches!(op, WriteOp::PutMachine { .. })) {
                        machines.clear();
                    }
                    results.push(Err(e));
                }
            }
        }

        // 3. Seqs in commit order, then the buffered rows, then commit.
        if !log.records.is_empty() {
            let count = log.records.len() as i64;
            let bytes: i64 = log.records.iter().map(|r| (r.address.len() + r.payload.len()) as i64).sum();
            let stmt = tx
                .prepare_cached(
                    "UPDATE log_head SET last_seq = last_seq + $1, last_offset = last_offset + $2 WHERE id = 1
                     RETURNING last_seq, last_offset",
                )
                .await
                .map_err(classify)?;
            let head = tx.query_one(&stmt, &[&count, &bytes]).await.map_err(classify)?;
            let (last, last_offset): (i64, i64) = (head.get(0), head.get(1));
            let first = last - count + 1;
            let mut offset = last_offset - bytes;
            let mut seqs = Vec::with_capacity(log.records.len());
            let mut offsets = Vec::with_capacity(log.records.len());
            for (i, record) in log.records.iter().enumerate() {
                let seq = first + i as i64;
                seqs.push(seq);
                offset += (record.address.len() + record.payload.len()) as i64;
                offsets.push(offset);
                if let Some((r, o)) = record.reports_seq
                    && let Some(Ok(outcomes)) = results.get_mut(r)
                {
                    match outcomes.get_mut(o) {
                        Some(WriteOutcome::EventApplied { applied, .. }) => applied.seq = crate::types::Seq(seq as u64),
                        Some(WriteOutcome::Published { seq: published, .. })
                        | Some(WriteOutcome::KvWritten { seq: published, .. })
                        | Some(WriteOutcome::SpaceDeleted { seq: published, .. })
                        | Some(WriteOutcome::InvocationFinished(Some(published))) => {
                            *published = crate::types::Seq(seq as u64)
                        }
                        _ => {}
                    }
                }
            }
            let spaces: Vec<&str> = log.records.iter().map(|r| r.space.as_str()).collect();
            let kinds: Vec<&str> = log.records.iter().map(|r| r.kind).collect();
            let addresses: Vec<&str> = log.records.iter().map(|r| r.address.as_str()).collect();
            let payloads: Vec<&str> = log.records.iter().map(|r| r.payload.as_str()).collect();
            let keys: Vec<Option<&str>> = log.records.iter().map(|r| r.idempotency_key.as_deref()).collect();
            let times: Vec<i64> = log.records.iter().map(|r| r.created_at.0).collect();
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO events (seq, space, kind, address, payload, idempotency_key, created_at, end_offset)
                     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])",
                )
                .await
                .map_err(classify)?;
            tx.execute(&stmt, &[&seqs, &spaces, &kinds, &addresses, &payloads, &keys, &times, &offsets])
                .await
                .map_err(classify)?;
        }
        if !log.idempotency.is_empty() {
            let mut responses = Vec::with_capacity(log.idempotency.len());
            for idem in &log.idempotency {
                let (r, o) = idem.response_of;
                let response = match results.get(r).and_then(|res| res.as_ref().ok()).and_then(|outs| outs.get(o)) {
                    Some(WriteOutcome::InstanceCreated { instance, .. }) => serde_json::to_string(instance),
                    Some(WriteOutcome::EventApplied { applied, .. }) => serde_json::to_string(applied),
                    Some(WriteOutcome::Published { seq, .. }) => {
                        serde_json::to_string(&crate::records::PublishedResponse { seq: seq.0 })
                    }
                    _ => {
                        return Err(AttemptError::Failed(StoreError::Backend(
                            "idempotency record without a result".into(),
                        )));
                    }
                };
                responses.push(response.map_err(|e| AttemptError::Failed(StoreError::from(e)))?);
            }
            let spaces: Vec<&str> = log.idempotency.iter().map(|i| i.space.as_str()).collect();
            let keys: Vec<&str> = log.idempotency.iter().map(|i| i.key.as_str()).collect();
            let fingerprints: Vec<&str> = log.idempotency.iter().map(|i| i.fingerprint.as_str()).collect();
            let times: Vec<i64> = log.idempotency.iter().map(|i| i.created_at.0).collect();
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO idempotency (space, key, fingerprint, response, created_at)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])",
                )
                .await
                .map_err(classify)?;
            tx.execute(&stmt, &[&spaces, &keys, &fingerprints, &responses, &times]).await.map_err(classify)?;
        }
        if !log.spaces.is_empty() {
            insert_spaces(&tx, &log, &mut results).await?;
        }
        if group.iter().any(runs_alone) {
            machines_epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let started = Instant::now();
        // An error without a database answer (I/O, a closed connection) leaves the commit's
        // outcome unknown; an answer from the database means it rolled back.
        tx.commit().await.map_err(|e| {
            if e.as_db_error().is_none() { AttemptError::Unknown(StoreError::from(e)) } else { classify(e) }
        })?;
        metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
        Ok(results)
    }
}

/// Inserts the `spaces` rows of the spaces the group made exist, under the `log_head` row lock
/// (taken here when the group appended no record), so no two groups insert one row at once and
/// the insert never waits on another group; marks the first op of each space whose row this
/// inserted as having created it.
async fn insert_spaces(
    tx: &deadpool_postgres::Transaction<'_>,
    log: &GroupLog,
    results: &mut [RequestResult],
) -> Result<(), AttemptError> {
    if log.records.is_empty() {
        let stmt = tx.prepare_cached("SELECT 1 FROM log_head WHERE id = 1 FOR UPDATE").await.map_err(classify)?;
        tx.execute(&stmt, &[]).await.map_err(classify)?;
    }
    let names: Vec<&str> = log.spaces.iter().map(|p| p.space.as_str()).collect();
    let times: Vec<i64> = log.spaces.iter().map(|p| p.created_at.0).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO spaces (name, created_at) SELECT * FROM unnest($1::text[], $2::bigint[])
             ON CONFLICT (name) DO NOTHING RETURNING name",
        )
        .await
        .map_err(classify)?;
    let created: HashSet<String> =
        tx.query(&stmt, &[&names, &times]).await.map_err(classify)?.iter().map(|row| row.get(0)).collect();
    let mut reported = HashSet::new();
    for pending in &log.spaces {
        if !created.contains(&pending.space) || !reported.insert(pending.space.as_str()) {
            continue;
        }
        let (r, o) = pending.reports_to;
        if let Some(Ok(outcomes)) = results.get_mut(r)
            && let Some(outcome) = outcomes.get_mut(o)
        {
            outcome.set_space_created();
        }
    }
    Ok(())
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
