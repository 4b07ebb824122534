//! The write commands: each [`WriteOp`]'s rules, written once against the storage interface
//! (`crate::tables`), whatever the backend.
//!
//! A command reads what it needs through the table traits, decides (checks, the model's
//! transition, the refusal), writes through the table traits and appends its log record to the
//! group's buffer. It also declares what the writer must know before it runs: the locks it
//! needs on PostgreSQL, its idempotency key, whether it must run in a group of its own. The
//! backends hold no rule; the writers hold no per-op knowledge.
//!
//! One module per family: `machines`, `instances`, `topics`, `kv`, `subscriptions`,
//! `retention` (log trimming), `functions` (versions and invocations), `spaces` (deletion) and
//! `system` (tokens, nodes, idempotency retention); `group` runs a group of requests.
//!
//! Invariants:
//! - A command refuses only before its first write, so a request of one op needs no savepoint
//!   on a backend where a savepoint costs a round trip.
//! - An idempotent command's key is checked, and its response stored, by [`run_command`], not
//!   by the command: a repeat returns the stored response and runs nothing.
//! - A command appends log records with [`Cx::append`] and makes its space exist with
//!   [`Cx::touch_space`]; the seqs and `space_created` its outcome reports are patched in by the
//!   group runner once the group's rows are written ([`WriteOutcome::set_seq`]), so it returns
//!   `Seq(0)` and `false` for them.
//! - Time is [`Cx::now`], read once per group from the store's clock; no command reads a clock.
//! - [`dispatch!`] is the one `match` over every op, exhaustive and without a catch-all; adding
//!   a [`WriteOp`] variant fails to compile there until it is given a command.

mod functions;
mod group;
mod instances;
mod jobs;
mod kv;
mod machines;
mod retention;
mod spaces;
mod subscriptions;
mod system;
mod topics;

use switchyard_model::{Idempotency, MachineVersion, SpaceName, Timestamp};

use crate::error::StoreError;
use crate::machines::MachineCache;
use crate::tables::{GroupLog, Locks, PendingIdempotency, PendingRecord, PendingSpace, Tables, TxResult};
use crate::types::*;

pub(crate) use group::{Group, run_group};

/// What a command needs besides its transaction.
pub(crate) struct Cx<'a> {
    /// The group's time, read once from the store's clock.
    pub now: Timestamp,
    /// The writer's compiled machine versions.
    pub machines: &'a mut MachineCache,
    /// The group's buffered rows.
    pub log: &'a mut GroupLog,
    /// The (request, op) being executed.
    pub position: (usize, usize),
}

impl Cx<'_> {
    /// Appends a log record with a payload serialised from `payload`; `reports_seq` when this
    /// op's outcome carries the record's seq (see [`WriteOutcome::set_seq`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn append<T: Tables>(
        &mut self,
        tx: &mut T,
        space: &str,
        kind: &'static str,
        address: String,
        payload: &impl serde::Serialize,
        idempotency_key: Option<&str>,
        reports_seq: bool,
    ) -> TxResult<()> {
        let record = PendingRecord {
            space: space.to_string(),
            kind,
            address,
            payload: serde_json::to_string(payload)?,
            idempotency_key: idempotency_key.map(str::to_string),
            created_at: self.now,
            reports_seq: reports_seq.then_some(self.position),
            seq: None,
        };
        tx.append_log(self.log, record).await
    }

    /// Makes sure `space` has its `spaces` row when the group commits; this op's outcome then
    /// says whether it created the space.
    pub fn touch_space(&mut self, space: &str) {
        self.log.spaces.push(PendingSpace {
            space: space.to_string(),
            created_at: self.now,
            reports_to: self.position,
        });
    }
}

/// One write op's rules. See the module docs.
pub(crate) trait Command {
    /// The op's idempotency key and the space it is scoped to.
    fn idempotency(&self) -> Option<(&SpaceName, &Idempotency)> {
        None
    }

    /// Whether the op must run in a group of its own.
    fn runs_alone(&self) -> bool {
        false
    }

    /// The outcome of an earlier request with the same idempotency key, from its stored
    /// response (only asked of ops that name a key).
    fn replay(&self, stored: &str) -> Result<WriteOutcome, StoreError> {
        let _ = stored;
        Err(StoreError::Backend("this op takes no idempotency key".into()))
    }

    /// Applies the op.
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome>;
}

/// The locks a command needs on PostgreSQL (besides its idempotency key's, which the writer
/// adds). Apart from [`Command`] because the locks borrow from the op (`'a`).
pub(crate) trait Locking<'a> {
    /// Declares them.
    fn locks(&self, locks: &mut Locks<'a>);
}

/// Runs `$body` with `$c` bound to the command of `$op`. The one match over every [`WriteOp`]:
/// exhaustive, without a catch-all, so a new op fails to compile here until it has a command.
macro_rules! dispatch {
    ($op:expr, $c:ident => $body:expr) => {{
        use $crate::commands::{
            functions::*, instances::*, jobs::*, kv::*, machines::*, retention::*, spaces::*, subscriptions::*,
            system::*, topics::*,
        };
        use $crate::types::WriteOp;
        match $op {
            WriteOp::PutMachine { space, name, definition } => {
                let $c = PutMachine { space, name, definition };
                $body
            }
            WriteOp::CreateInstance { key, ctx, idempotency } => {
                let $c = CreateInstance { key, ctx, idempotency: idempotency.as_ref() };
                $body
            }
            WriteOp::ApplyEvent {
                key,
                event,
                payload,
                expected_state,
                expected_revision,
                idempotency,
                max_context_bytes,
            } => {
                let $c = ApplyEvent {
                    key,
                    event,
                    payload,
                    expected_state: expected_state.as_deref(),
                    expected_revision: *expected_revision,
                    idempotency: idempotency.as_ref(),
                    max_context_bytes: *max_context_bytes,
                };
                $body
            }
            WriteOp::DeleteInstance { key } => {
                let $c = DeleteInstance { key };
                $body
            }
            WriteOp::CreateToken(token) => {
                let $c = CreateToken { token };
                $body
            }
            WriteOp::BootstrapAdminToken(token) => {
                let $c = BootstrapAdminToken { token };
                $body
            }
            WriteOp::RevokeToken { id } => {
                let $c = RevokeToken { id };
                $body
            }
            WriteOp::Publish { space, topic, payload, key, headers, idempotency } => {
                let $c =
                    Publish { space, topic, payload, key: key.as_deref(), headers, idempotency: idempotency.as_ref() };
                $body
            }
            WriteOp::HeartbeatNode(node) => {
                let $c = HeartbeatNode { node };
                $body
            }
            WriteOp::RenewNode { id, at } => {
                let $c = RenewNode { id, at: *at };
                $body
            }
            WriteOp::RemoveNode { id } => {
                let $c = RemoveNode { id };
                $body
            }
            WriteOp::DeleteSpace { space } => {
                let $c = DeleteSpace { space };
                $body
            }
            WriteOp::PurgeIdempotency { before, limit } => {
                let $c = PurgeIdempotency { before: *before, limit: *limit };
                $body
            }
            WriteOp::EnqueueJob(spec) => {
                let $c = EnqueueJob { spec };
                $body
            }
            WriteOp::LeaseJobs(lease) => {
                let $c = LeaseJobsCommand { lease };
                $body
            }
            WriteOp::ReleaseJobs { owner, ids, random } => {
                let $c = ReleaseJobs { owner, ids, random: *random };
                $body
            }
            WriteOp::ExtendJobLeases { owner, ids, lease_ms } => {
                let $c = ExtendJobLeases { owner, ids, lease_ms: *lease_ms };
                $body
            }
            WriteOp::FinishJob(finish) => {
                let $c = FinishJobCommand { finish };
                $body
            }
            WriteOp::RetryJob { space, id, payload } => {
                let $c = RetryJob { space, id, payload: payload.as_ref() };
                $body
            }
            WriteOp::RedriveJobs(redrive) => {
                let $c = RedriveJobsCommand { redrive };
                $body
            }
            WriteOp::PurgeJobs { before, limit } => {
                let $c = PurgeJobs { before: *before, limit: *limit };
                $body
            }
            WriteOp::CancelJob { space, id } => {
                let $c = CancelJob { space, id };
                $body
            }
            WriteOp::DeleteJob { space, id } => {
                let $c = DeleteJob { space, id };
                $body
            }
            WriteOp::PutBucket { space, bucket, history } => {
                let $c = PutBucket { space, bucket, history: *history };
                $body
            }
            WriteOp::KvPut { space, bucket, key, value, content_type, ttl_ms, condition } => {
                let $c = KvPut { space, bucket, key, value, content_type, ttl_ms: *ttl_ms, condition: *condition };
                $body
            }
            WriteOp::KvDelete { space, bucket, key, condition } => {
                let $c = KvDelete { space, bucket, key, condition: *condition };
                $body
            }
            WriteOp::ExpireKv { now, limit } => {
                let $c = ExpireKv { due: *now, limit: *limit };
                $body
            }
            WriteOp::PutSubscription(spec) => {
                let $c = PutSubscription { spec };
                $body
            }
            WriteOp::DeleteSubscription { space, name } => {
                let $c = DeleteSubscription { space, name };
                $body
            }
            WriteOp::Pull(request) => {
                let $c = Pull { request };
                $body
            }
            WriteOp::Ack { space, name, seqs } => {
                let $c = Ack { space, name, seqs };
                $body
            }
            WriteOp::Nack { space, name, leases } => {
                let $c = Nack { space, name, leases };
                $body
            }
            WriteOp::RedriveDeadLetters { space, name, seqs } => {
                let $c = RedriveDeadLetters { space, name, seqs: seqs.as_deref() };
                $body
            }
            WriteOp::DiscardDeadLetters { space, name, seqs } => {
                let $c = DiscardDeadLetters { space, name, seqs: seqs.as_deref() };
                $body
            }
            WriteOp::TrimLog(trim) => {
                let $c = Trim { trim };
                $body
            }
            WriteOp::PutFunction(spec) => {
                let $c = PutFunction { spec };
                $body
            }
            WriteOp::RecordInvocations(records) => {
                let $c = RecordInvocations { records };
                $body
            }
            WriteOp::EnqueueInvocation(invocation) => {
                let $c = EnqueueInvocation { invocation };
                $body
            }
            WriteOp::PurgeInvocations { before, limit } => {
                let $c = PurgeInvocations { before: *before, limit: *limit };
                $body
            }
        }
    }};
}

/// The locks `op` needs on PostgreSQL.
pub(crate) fn locks<'a>(op: &'a WriteOp, locks: &mut Locks<'a>) {
    dispatch!(op, c => {
        Locking::locks(&c, locks);
        if let Some((space, idem)) = c.idempotency() {
            locks.exclusive(format!("idempotency:{space}:{}", idem.key));
        }
    })
}

/// The idempotency key `op` names, with its space: (space, key).
pub(crate) fn idempotency_key(op: &WriteOp) -> Option<(String, String)> {
    dispatch!(op, c => c.idempotency().map(|(space, idem)| (space.to_string(), idem.key.clone())))
}

/// Whether `op` must run in a group of its own.
pub(crate) fn runs_alone(op: &WriteOp) -> bool {
    dispatch!(op, c => c.runs_alone())
}

/// Runs one op: its idempotency check, the command, the buffered idempotency record.
async fn run_op<T: Tables>(op: &WriteOp, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
    dispatch!(op, c => run_command(&c, tx, cx).await)
}

async fn run_command<T: Tables>(c: &impl Command, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
    let Some((space, idem)) = c.idempotency() else {
        return c.apply(tx, cx).await;
    };
    // A key used earlier in this group: by another op of this request (two requests with one
    // key never share a group), whose row is not written until the group's end.
    if cx.log.idempotency.iter().any(|p| p.space == space.as_str() && p.key == idem.key) {
        return Err(StoreError::IdempotencyKeyReused { key: idem.key.clone() }.into());
    }
    match tx.idempotency_record(space.as_ref(), &idem.key).await? {
        Some((fingerprint, response)) if fingerprint == idem.fingerprint => Ok(c.replay(&response)?),
        Some(_) => Err(StoreError::IdempotencyKeyReused { key: idem.key.clone() }.into()),
        None => {
            let outcome = c.apply(tx, cx).await?;
            cx.log.idempotency.push(PendingIdempotency {
                space: space.to_string(),
                key: idem.key.clone(),
                fingerprint: idem.fingerprint.clone(),
                created_at: cx.now,
                response_of: cx.position,
            });
            Ok(outcome)
        }
    }
}

/// The compiled machine version, from the writer's cache or compiled from its stored definition.
pub(crate) async fn compiled_machine<T: Tables>(
    tx: &mut T,
    machines: &mut MachineCache,
    space: &str,
    name: &str,
    version: MachineVersion,
) -> TxResult<std::sync::Arc<switchyard_model::CompiledMachine>> {
    if let Some(cached) = machines.get(space, name, version) {
        return Ok(cached?);
    }
    let Some(text) = tx.machine_definition(space, name, version).await? else {
        let e =
            StoreError::MachineNotFound { space: space.to_string(), name: name.to_string(), version: Some(version) };
        return Err(e.into());
    };
    let definition: serde_json::Value = serde_json::from_str(&text)?;
    Ok(machines.get_or_compile(space, name, version, || Ok(definition))?)
}
