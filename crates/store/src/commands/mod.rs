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
//! Each op is a public struct defined here, in its family's module, beside its command: the
//! struct is what a caller builds, and implementing the traits below on it is what makes it
//! a command. Its answer is typed: [`request!`] implements [`Request`] for it, naming the
//! one [`WriteOutcome`] variant that carries its output, and [`Command::apply`] returns that
//! output, so a command cannot answer with another op's outcome.
//!
//! Invariants:
//! - A command refuses only before its first write, so a request of one op runs without a
//!   savepoint; one that fails after writing anyway has its group run again with a savepoint per
//!   request (`TxError::Isolate`).
//! - An idempotent command's key is checked, and its response stored, by [`run_command`], not
//!   by the command: a repeat returns the stored response and runs nothing.
//! - A command appends log records with [`Cx::append`] and makes its space exist with
//!   [`Cx::touch_space`]; the seqs and `space_created` its outcome reports are patched in by the
//!   group runner once the group's rows are written ([`WriteOutcome::set_seq`]), so it returns
//!   `Seq(0)` and `false` for them.
//! - Time is [`Cx::now`], read once per group from the store's clock; no command reads a clock.
//! - [`dispatch!`] is the one `match` over every op, exhaustive and without a catch-all; adding
//!   a [`WriteOp`] variant fails to compile there until its struct is a command.

/// Makes an op a [`Request`] answered by one [`WriteOutcome`] variant, whose payload is the
/// output (`()` for a variant without one), and a [`WriteOp`] (`From`).
macro_rules! request {
    ($op:ident => $variant:ident($output:ty)) => {
        impl From<$op> for $crate::types::WriteOp {
            fn from(op: $op) -> Self {
                $crate::types::WriteOp::$op(op)
            }
        }

        impl $crate::types::Request for $op {
            type Output = $output;

            fn output(outcome: $crate::types::WriteOutcome) -> Result<$output, $crate::error::StoreError> {
                match outcome {
                    $crate::types::WriteOutcome::$variant(output) => Ok(output),
                    other => Err($crate::types::mismatched::<Self>(&other)),
                }
            }

            fn outcome(output: $output) -> $crate::types::WriteOutcome {
                $crate::types::WriteOutcome::$variant(output)
            }
        }
    };
    ($op:ident => $variant:ident) => {
        impl From<$op> for $crate::types::WriteOp {
            fn from(op: $op) -> Self {
                $crate::types::WriteOp::$op(op)
            }
        }

        impl $crate::types::Request for $op {
            type Output = ();

            fn output(outcome: $crate::types::WriteOutcome) -> Result<(), $crate::error::StoreError> {
                match outcome {
                    $crate::types::WriteOutcome::$variant => Ok(()),
                    other => Err($crate::types::mismatched::<Self>(&other)),
                }
            }

            fn outcome((): ()) -> $crate::types::WriteOutcome {
                $crate::types::WriteOutcome::$variant
            }
        }
    };
}

pub(crate) mod access;
pub(crate) mod endpoints;
pub(crate) mod env;
pub(crate) mod functions;
mod group;
pub(crate) mod instances;
pub(crate) mod jobs;
pub(crate) mod kv;
pub(crate) mod machines;
pub(crate) mod quotas;
pub(crate) mod retention;
pub(crate) mod spaces;
pub(crate) mod subscriptions;
pub(crate) mod system;
pub(crate) mod topics;
pub(crate) mod triggers;

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

/// One write op's rules, implemented on the op's struct. See the module docs.
pub(crate) trait Command: Request {
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
    fn replay(&self, stored: &str) -> Result<Self::Output, StoreError> {
        let _ = stored;
        Err(StoreError::Backend("this op takes no idempotency key".into()))
    }

    /// Applies the op.
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output>;
}

/// The locks a command needs on PostgreSQL (besides its idempotency key's, which the writer
/// adds). Apart from [`Command`] so that every op states its locks, none by default.
pub(crate) trait Locking {
    /// Declares them; they may borrow from the op.
    fn locks<'a>(&'a self, locks: &mut Locks<'a>);
}

/// Runs `$body` with `$c` bound to the command of `$op` (a `&WriteOp`): the op's own struct.
/// The one match over every [`WriteOp`]: exhaustive, without a catch-all, so a new op fails to
/// compile here until its struct is a command.
macro_rules! dispatch {
    ($op:expr, $c:ident => $body:expr) => {{
        use $crate::types::WriteOp;
        match $op {
            WriteOp::PutMachine($c) => $body,
            WriteOp::CreateInstance($c) => $body,
            WriteOp::ApplyEvent($c) => $body,
            WriteOp::DeleteInstance($c) => $body,
            WriteOp::CancelInstance($c) => $body,
            WriteOp::MigrateInstance($c) => $body,
            WriteOp::CreateToken($c) => $body,
            WriteOp::BootstrapAdminToken($c) => $body,
            WriteOp::RevokeToken($c) => $body,
            WriteOp::CreatePrincipal($c) => $body,
            WriteOp::DeletePrincipal($c) => $body,
            WriteOp::CreateOrg($c) => $body,
            WriteOp::DeleteOrg($c) => $body,
            WriteOp::RecordSignIn($c) => $body,
            WriteOp::SetPassword($c) => $body,
            WriteOp::CreateGrant($c) => $body,
            WriteOp::DeleteGrant($c) => $body,
            WriteOp::PutRole($c) => $body,
            WriteOp::DeleteRole($c) => $body,
            WriteOp::SetQuota($c) => $body,
            WriteOp::AddMeters($c) => $body,
            WriteOp::Publish($c) => $body,
            WriteOp::HeartbeatNode($c) => $body,
            WriteOp::RenewNode($c) => $body,
            WriteOp::RemoveNode($c) => $body,
            WriteOp::DeleteSpace($c) => $body,
            WriteOp::PurgeIdempotency($c) => $body,
            WriteOp::EnqueueJob($c) => $body,
            WriteOp::LeaseJobs($c) => $body,
            WriteOp::ReleaseJobs($c) => $body,
            WriteOp::ExtendJobLeases($c) => $body,
            WriteOp::FinishJob($c) => $body,
            WriteOp::RetryJob($c) => $body,
            WriteOp::RedriveJobs($c) => $body,
            WriteOp::PurgeJobs($c) => $body,
            WriteOp::CancelJob($c) => $body,
            WriteOp::DeleteJob($c) => $body,
            WriteOp::PutBucket($c) => $body,
            WriteOp::KvPut($c) => $body,
            WriteOp::KvDelete($c) => $body,
            WriteOp::ExpireKv($c) => $body,
            WriteOp::PutSubscription($c) => $body,
            WriteOp::DeleteSubscription($c) => $body,
            WriteOp::Pull($c) => $body,
            WriteOp::Ack($c) => $body,
            WriteOp::Nack($c) => $body,
            WriteOp::RedriveDeadLetters($c) => $body,
            WriteOp::DiscardDeadLetters($c) => $body,
            WriteOp::TrimLog($c) => $body,
            WriteOp::PutFunction($c) => $body,
            WriteOp::RecordInvocations($c) => $body,
            WriteOp::EnqueueInvocation($c) => $body,
            WriteOp::PurgeInvocations($c) => $body,
            WriteOp::PutSpaceValue($c) => $body,
            WriteOp::DeleteSpaceValue($c) => $body,
            WriteOp::PutTrigger($c) => $body,
            WriteOp::PauseTrigger($c) => $body,
            WriteOp::DeleteTrigger($c) => $body,
            WriteOp::AdvanceSchedule($c) => $body,
            WriteOp::PutEndpoint($c) => $body,
            WriteOp::SetEndpointDisabled($c) => $body,
            WriteOp::DeleteEndpoint($c) => $body,
            WriteOp::ConfirmEndpointConsumer($c) => $body,
            WriteOp::RecordExecution($c) => $body,
        }
    }};
}

/// The locks `op` needs on PostgreSQL.
pub(crate) fn locks<'a>(op: &'a WriteOp, locks: &mut Locks<'a>) {
    dispatch!(op, c => {
        Locking::locks(c, locks);
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
    dispatch!(op, c => run_command(c, tx, cx).await)
}

async fn run_command<T: Tables, C: Command>(c: &C, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
    let Some((space, idem)) = c.idempotency() else {
        return Ok(C::outcome(c.apply(tx, cx).await?));
    };
    // A key used earlier in this group: by another op of this request (two requests with one
    // key never share a group), whose row is not written until the group's end.
    if cx.log.idempotency.iter().any(|p| p.space == space.as_str() && p.key == idem.key) {
        return Err(StoreError::IdempotencyKeyReused { key: idem.key.clone() }.into());
    }
    match tx.idempotency_record(space.as_ref(), &idem.key).await? {
        Some((fingerprint, response)) if fingerprint == idem.fingerprint => Ok(C::outcome(c.replay(&response)?)),
        Some(_) => Err(StoreError::IdempotencyKeyReused { key: idem.key.clone() }.into()),
        None => {
            let outcome = C::outcome(c.apply(tx, cx).await?);
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
