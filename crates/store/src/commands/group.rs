//! Runs a group of requests inside one transaction, whatever the backend: each request's ops
//! in turn (in a savepoint when it may need undoing), then the group's log records numbered and
//! written, the seqs patched into the outcomes that report them, the idempotency records and
//! the `spaces` rows written. The writer that calls it owns the transaction: it begins it, takes
//! the locks, and commits (or abandons) it afterwards.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use switchyard_model::Timestamp;

use super::{Cx, run_op};
use crate::error::StoreError;
use crate::group::{RequestResult, WriteRequest};
use crate::machines::MachineCache;
use crate::persisted::{StoredInstance, StoredPublish, StoredTransition};
use crate::tables::{GroupLog, Tables, TxError, TxResult};
use crate::types::*;

/// A group as the writer formed it.
pub(crate) struct Group<'g> {
    /// The requests, in the order they are answered.
    pub requests: &'g [WriteRequest],
    /// The group's time.
    pub now: Timestamp,
    /// Every request in a savepoint of its own. Off, a request of one op runs without one
    /// (commands refuse before their first write, so a refusal leaves nothing to undo; and a
    /// savepoint is a round trip on PostgreSQL and a copy of every page it touches again on
    /// SQLite); a failure after a write then asks for the group to be run again isolated
    /// ([`TxError::Isolate`]).
    pub isolated: bool,
}

/// Runs every request of `group` in `tx`; the result of each request, or the error that fails
/// the whole group (the transaction must then be abandoned).
pub(crate) async fn run_group<T: Tables>(
    tx: &mut T,
    group: Group<'_>,
    machines: &mut MachineCache,
) -> TxResult<Vec<RequestResult>> {
    let mut log = GroupLog::default();
    let mut results: Vec<RequestResult> = Vec::with_capacity(group.requests.len());
    for (r, req) in group.requests.iter().enumerate() {
        if let Some(refusal) = crate::group::refuse_repeated_key(req) {
            results.push(Err(refusal));
            continue;
        }
        let savepoint = group.isolated || req.ops.len() > 1;
        if savepoint {
            tx.savepoint().await?;
        }
        let mark = log.mark();
        let rows_before = tx.rows_changed();
        let mut outcomes = Vec::with_capacity(req.ops.len());
        let mut refused = None;
        for (o, op) in req.ops.iter().enumerate() {
            let mut cx = Cx { now: group.now, machines: &mut *machines, log: &mut log, position: (r, o) };
            let executed = AssertUnwindSafe(run_op(op, tx, &mut cx)).catch_unwind().await;
            let executed = match executed {
                Ok(executed) => executed,
                Err(panic) => {
                    let text = crate::group::panic_text(&panic);
                    if !savepoint {
                        // Its writes cannot be undone alone: run the group again, isolated.
                        return Err(TxError::Isolate(StoreError::Internal(format!(
                            "a bug stopped this write: {text}"
                        ))));
                    }
                    Err(TxError::Refused(StoreError::Internal(format!(
                        "a bug stopped this write (it was rolled back): {text}"
                    ))))
                }
            };
            match executed {
                Ok(outcome) => outcomes.push(outcome),
                Err(TxError::Refused(e)) => {
                    if !savepoint && tx.rows_changed() != rows_before {
                        // It had written: undoing that needs the group run again, isolated.
                        return Err(TxError::Isolate(e));
                    }
                    refused =
                        Some(if req.atomic { StoreError::BatchFailed { index: o, source: Box::new(e) } } else { e });
                    break;
                }
                Err(failed @ (TxError::Storage { .. } | TxError::Isolate(_))) => return Err(failed),
            }
        }
        match refused {
            None => {
                if savepoint {
                    tx.release_savepoint().await?;
                }
                results.push(Ok(outcomes));
            }
            Some(e) => {
                if savepoint {
                    tx.rollback_to_savepoint(&log, mark).await?;
                }
                log.truncate(mark);
                // A machine version put by the rolled-back request may sit in the cache.
                if req.ops.iter().any(|op| matches!(op, WriteOp::PutMachine(_))) {
                    machines.clear();
                }
                results.push(Err(e));
            }
        }
    }
    finish(tx, &mut log, &mut results).await?;
    Ok(results)
}

/// Numbers and writes the group's log records, patches their seqs into the outcomes that report
/// them, then writes the idempotency records (whose responses carry those seqs) and the `spaces`
/// rows.
async fn finish<T: Tables>(tx: &mut T, log: &mut GroupLog, results: &mut [RequestResult]) -> TxResult<()> {
    if !log.records.is_empty() {
        tx.flush_log(log).await?;
        for record in &log.records {
            if let (Some((r, o)), Some(seq)) = (record.reports_seq, record.seq)
                && let Some(Ok(outcomes)) = results.get_mut(r)
                && let Some(outcome) = outcomes.get_mut(o)
            {
                outcome.set_seq(seq);
            }
        }
    }
    if !log.idempotency.is_empty() {
        let mut rows = Vec::with_capacity(log.idempotency.len());
        for idem in &log.idempotency {
            let (r, o) = idem.response_of;
            let outcome = results.get(r).and_then(|res| res.as_ref().ok()).and_then(|outs| outs.get(o));
            let response = stored_response(outcome)?;
            rows.push((idem.space.as_str(), idem.key.as_str(), idem.fingerprint.as_str(), response, idem.created_at));
        }
        tx.insert_idempotency(&rows).await?;
    }
    if !log.spaces.is_empty() {
        let rows: Vec<(&str, Timestamp)> = log.spaces.iter().map(|p| (p.space.as_str(), p.created_at)).collect();
        let created = tx.insert_spaces(&rows, !log.records.is_empty()).await?;
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
    }
    Ok(())
}

/// The response an idempotent op's outcome is stored as.
fn stored_response(outcome: Option<&WriteOutcome>) -> TxResult<String> {
    let text = match outcome {
        Some(WriteOutcome::InstanceCreated(created)) => serde_json::to_string(&StoredInstance::of(&created.instance)),
        Some(WriteOutcome::EventApplied(event)) => serde_json::to_string(&StoredTransition::of(&event.applied)),
        Some(WriteOutcome::Published(published)) => serde_json::to_string(&StoredPublish::of(published.seq)),
        _ => {
            return Err(TxError::Storage {
                error: StoreError::Internal("an idempotency record without a result to store".into()),
                retry: false,
            });
        }
    };
    Ok(text?)
}
