//! Switchyard's storage layer: the [`Store`] trait, its SQLite backend and the conformance
//! suite every backend must pass.
//!
//! Invariants every backend keeps (the conformance suite checks each):
//! - A [`WriteOp`] is applied entirely or not at all; an atomic batch likewise.
//! - Every mutation of a machine or an instance appends one [`LogRecord`] (token and
//!   idempotency bookkeeping does not); `seq` is strictly increasing in commit order, so a
//!   reader that has seen `seq = n` never later finds a new record with `seq < n`. So do a new
//!   function version ([`switchyard_model::FUNCTION_DEPLOYED`]) and a finished asynchronous
//!   invocation ([`switchyard_model::FUNCTION_COMPLETED`]); recording and purging invocations
//!   append none, and enqueueing one appends its job's `job.enqueued`.
//! - Writes to one instance are serialised: revision increases by exactly one per applied event.
//! - An idempotency key is checked under the same serialisation as the write it guards and is
//!   stored with the result in the same transaction; a repeat returns the stored result.
//! - A write is durable, as the configured [`Durability`] says, before its future resolves.
//!
//! The store executes the domain logic of a write (the machine's transition, the context
//! schema) by calling the pure `switchyard_model`, inside the transaction that records it. The
//! records it keeps and returns (instances, log records, tokens, jobs…) are the model's types;
//! what is the store's own is the shape of its calls ([`WriteOp`], [`WriteOutcome`], the
//! queries), its stored forms and its errors.
//!
//! Each write op is a struct of its own ([`PutMachine`], [`ApplyEvent`], [`LeaseJobs`]…), made
//! into a [`WriteOp`] by `From`. [`StoreExt::execute`] applies one and answers with its typed
//! result ([`Request::Output`]), so callers need not match a [`WriteOutcome`]; batches
//! ([`Store::write_atomic`]) still answer with outcomes, which [`Request::output`] reads.

mod clock;
mod commands;
pub mod conformance;
mod decode;
mod error;
mod function_rules;
mod functions;
mod group;
mod jobs;
mod kv_rules;
mod machines;
mod metrics;
mod persisted;
pub mod postgres;
mod records;
mod space_rules;
pub mod sqlite;
mod streams;
mod subscription_rules;
mod tables;
mod types;

use async_trait::async_trait;
use switchyard_model::{
    BucketRecord, DeadLetter, EndpointRecord, FunctionRecord, FunctionSummary, GrantRecord, InstanceKey,
    InstanceRecord, InstanceStatus, InvocationRecord, JobRecord, KvEntry, KvKeyInfo, LogRecord, MachineRecord,
    MachineSummary, MachineVersion, NodeRecord, PrincipalRecord, RoleRecord, Segment, Seq, SpaceName, SpaceRecord,
    SpaceValue, SpaceValueKind, SubscriptionRecord, Timestamp, TokenRecord, TriggerRecord,
};

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use commands::access::{
    BootstrapAdminToken, CreateGrant, CreateOrg, CreatePrincipal, CreateToken, DeleteGrant, DeleteOrg, DeletePrincipal,
    DeleteRole, PutRole, RecordSignIn, RevokeToken, SetPassword, SignInAttempt, SignInOutcome,
};
pub use commands::endpoints::{ConfirmEndpointConsumer, DeleteEndpoint, EndpointPut, PutEndpoint, SetEndpointDisabled};
pub use commands::env::{DeleteSpaceValue, PutSpaceValue, SpaceValuePut};
pub use commands::functions::{
    EnqueueInvocation, FunctionPut, InvocationEnqueued, PurgeInvocations, PutFunction, RecordInvocations,
};
pub use commands::instances::{
    ApplyEvent, CancelInstance, CreateInstance, DeleteInstance, EventApplied, InstanceCreated, InstanceMigrated,
    MigrateInstance,
};
pub use commands::jobs::{
    AttemptOutcome, CancelJob, DeleteJob, EnqueueJob, ExtendJobLeases, FinishJob, JobEnqueued, JobFinished, JobReport,
    JobsLeased, LeaseJobs, PurgeJobs, RedriveJobs, ReleaseJobs, RetryJob,
};
pub use commands::kv::{BucketPut, ExpireKv, KvDelete, KvPut, KvWritten, PutBucket};
pub use commands::machines::{MachinePut, PutMachine};
pub use commands::quotas::{AddMeters, SetQuota};
pub use commands::retention::TrimLog;
pub use commands::spaces::{DeleteSpace, SpaceDeleted};
pub use commands::subscriptions::{
    Ack, DeleteSubscription, DiscardDeadLetters, Nack, Pull, PutSubscription, RedriveDeadLetters, SubscriptionPut,
};
pub use commands::system::{HeartbeatNode, PurgeIdempotency, RemoveNode, RenewNode};
pub use commands::topics::{Publish, Published};
pub use commands::triggers::{AdvanceSchedule, DeleteTrigger, PauseTrigger, PutTrigger, RecordExecution, TriggerPut};
pub use error::StoreError;
pub use functions::*;
pub use jobs::*;
pub use machines::MachineCache;
pub use metrics::StoreMetrics;
pub use streams::*;
pub use types::{Request, WriteOp, WriteOutcome};

/// When a write is durable relative to its acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Flushed to stable storage (fsync) before the write is acknowledged.
    Fsync,
    /// Acknowledged once committed; flushed at least every this many milliseconds. A crash of
    /// the process loses nothing; a power loss may lose the last interval.
    Batch {
        /// The flush interval in milliseconds.
        interval_ms: u64,
    },
    /// Acknowledged once committed; the operating system decides when to flush.
    None,
}

impl std::str::FromStr for Durability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fsync" => Ok(Durability::Fsync),
            "none" => Ok(Durability::None),
            other => match other.strip_prefix("batch:") {
                Some(ms) => match ms.trim_end_matches("ms").parse::<u64>() {
                    Ok(interval_ms) if interval_ms > 0 => Ok(Durability::Batch { interval_ms }),
                    _ => Err(format!(
                        "durability \"{s}\": batch needs a positive interval in milliseconds, e.g. batch:10"
                    )),
                },
                None => Err(format!("durability \"{s}\": expected fsync, batch:<ms> or none")),
            },
        }
    }
}

/// How many live instances of one machine are in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceCount {
    /// The machine.
    pub machine: String,
    /// The status.
    pub status: InstanceStatus,
    /// Instances no other instance started.
    pub roots: u64,
    /// Instances another instance started (a child machine, a flow's subflow, item or branch).
    pub children: u64,
}

/// A page of instances of one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListInstances {
    /// The space.
    pub space: SpaceName,
    /// The machine.
    pub machine: Segment,
    /// Only instances in this state.
    pub state: Option<String>,
    /// Only instances with this status (`running`, `failed`, ...).
    pub status: Option<String>,
    /// Only instances no other instance started (no parent).
    pub roots_only: bool,
    /// Only instances whose id is at least this (ids made from UUIDv7 sort by creation time).
    pub id_at_least: Option<String>,
    /// Only instances whose id is below this.
    pub id_below: Option<String>,
    /// Only instances after this id in the listing's order (the page cursor).
    pub after_id: Option<String>,
    /// List by id descending (newest first for UUIDv7 ids) instead of ascending.
    pub newest_first: bool,
    /// At most this many.
    pub limit: u32,
}

impl ListInstances {
    /// Every instance of `machine`, by id, at most `limit`: add filters to the result.
    pub fn of(space: SpaceName, machine: Segment, limit: u32) -> Self {
        Self {
            space,
            machine,
            state: None,
            status: None,
            roots_only: false,
            id_at_least: None,
            id_below: None,
            after_id: None,
            newest_first: false,
            limit,
        }
    }

    /// The filters beyond space and machine as `(column test, value)` pairs, in a fixed order,
    /// for a backend to number its parameters; `roots_only` and the order are not among them.
    pub fn value_filters(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        if let Some(state) = &self.state {
            out.push(("state =", state.as_str()));
        }
        if let Some(status) = &self.status {
            out.push(("status =", status.as_str()));
        }
        if let Some(id) = &self.id_at_least {
            out.push(("id >=", id.as_str()));
        }
        if let Some(id) = &self.id_below {
            out.push(("id <", id.as_str()));
        }
        if let Some(id) = &self.after_id {
            out.push((if self.newest_first { "id <" } else { "id >" }, id.as_str()));
        }
        out
    }
}

/// The storage behind Switchyard. See the crate docs for the invariants every backend keeps.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies one write. [`StoreExt::execute`] is the same with the op's typed answer.
    async fn write(&self, op: WriteOp) -> Result<WriteOutcome, StoreError>;

    /// Applies every write or none: on the first refusal nothing is applied and the error is
    /// [`StoreError::BatchFailed`] naming the operation. Later operations see earlier ones.
    async fn write_atomic(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>, StoreError>;

    /// One version of a machine (the latest when `version` is `None`).
    async fn get_machine(
        &self,
        space: &SpaceName,
        name: &Segment,
        version: Option<MachineVersion>,
    ) -> Result<Option<MachineRecord>, StoreError>;

    /// The latest version of every machine in a space, by name.
    async fn list_machines(&self, space: &SpaceName) -> Result<Vec<MachineSummary>, StoreError>;

    /// An instance, deleted or not.
    async fn get_instance(&self, key: &InstanceKey) -> Result<Option<InstanceRecord>, StoreError>;

    /// Instances of a machine that are not deleted, ordered by id.
    async fn list_instances(&self, query: &ListInstances) -> Result<Vec<InstanceRecord>, StoreError>;

    /// Log records about one address with `seq > after`, oldest first.
    async fn history(&self, address: &str, after: Seq, limit: u32) -> Result<Vec<LogRecord>, StoreError>;

    /// The oldest and newest seq in the log (`None` for an empty log).
    async fn log_bounds(&self) -> Result<Option<(Seq, Seq)>, StoreError>;

    /// Log records with `seq > after`, oldest first, across the whole store.
    async fn read_log(&self, after: Seq, limit: u32) -> Result<Vec<LogRecord>, StoreError>;

    /// Log records of the given `kinds` with `seq > after`, oldest first, at most `limit` of
    /// them, and how far the read covered the log: a reader that only needs a few kinds reads
    /// past the rest without decoding them.
    async fn read_log_kinds(&self, after: Seq, kinds: &[&str], limit: u32) -> Result<LogKindsPage, StoreError>;

    /// Every space something was written into.
    async fn list_spaces(&self) -> Result<Vec<SpaceRecord>, StoreError>;

    /// The token whose secret has this SHA-256 hex digest, revoked or not.
    async fn find_token(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Every token, revoked ones included, oldest first.
    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// A user or service account by id.
    async fn get_principal(&self, id: &str) -> Result<Option<PrincipalRecord>, StoreError>;

    /// The user of this sign-in name.
    async fn find_user(&self, name: &str) -> Result<Option<PrincipalRecord>, StoreError>;

    /// Every user and service account, oldest first.
    async fn list_principals(&self) -> Result<Vec<PrincipalRecord>, StoreError>;

    /// Every org, by name.
    async fn list_orgs(&self) -> Result<Vec<switchyard_model::OrgRecord>, StoreError>;

    /// The grants of one principal, or every grant; oldest first.
    async fn list_grants(&self, principal: Option<&str>) -> Result<Vec<GrantRecord>, StoreError>;

    /// Every custom role, by name.
    async fn list_roles(&self) -> Result<Vec<RoleRecord>, StoreError>;

    /// Every space's quota, by space.
    async fn list_quotas(&self) -> Result<Vec<(String, switchyard_model::quotas::Quota)>, StoreError>;

    /// What a space holds, summed from its rows now (reads every row of the space: call it
    /// for one space at a time, not on a request's path).
    async fn space_holdings(&self, space: &str) -> Result<switchyard_model::quotas::Holdings, StoreError>;

    /// A space's meters, as the nodes last added to them.
    async fn space_meters(&self, space: &str) -> Result<switchyard_model::quotas::Meters, StoreError>;

    /// A space's `env` values or secrets, by name.
    async fn space_values(&self, space: &SpaceName, kind: SpaceValueKind) -> Result<Vec<SpaceValue>, StoreError>;

    /// One `env` value or secret of a space.
    async fn space_value(
        &self,
        space: &SpaceName,
        kind: SpaceValueKind,
        name: &Segment,
    ) -> Result<Option<SpaceValue>, StoreError>;

    /// A KV bucket.
    async fn get_bucket(&self, space: &SpaceName, bucket: &Segment) -> Result<Option<BucketRecord>, StoreError>;

    /// Every KV bucket of a space, by name.
    async fn list_buckets(&self, space: &SpaceName) -> Result<Vec<BucketRecord>, StoreError>;

    /// A KV key's current revision, whether live, deleted (a tombstone) or expired; `None` for
    /// a key never written.
    async fn kv_get(&self, space: &SpaceName, bucket: &Segment, key: &str) -> Result<Option<KvEntry>, StoreError>;

    /// A KV key's kept revisions, newest first, tombstones included (at most `limit`).
    async fn kv_history(
        &self,
        space: &SpaceName,
        bucket: &Segment,
        key: &str,
        limit: u32,
    ) -> Result<Vec<KvEntry>, StoreError>;

    /// A bucket's live keys, by key.
    async fn list_keys(&self, query: &ListKeys) -> Result<Vec<KvKeyInfo>, StoreError>;

    /// A durable subscription with its progress.
    async fn get_subscription(
        &self,
        space: &SpaceName,
        name: &Segment,
    ) -> Result<Option<SubscriptionRecord>, StoreError>;

    /// Every durable subscription of a space, by name.
    async fn list_subscriptions(&self, space: &SpaceName) -> Result<Vec<SubscriptionRecord>, StoreError>;

    /// A subscription's dead letters with a seq above `after`, oldest first.
    async fn dead_letters(
        &self,
        space: &SpaceName,
        name: &Segment,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<DeadLetter>, StoreError>;

    /// One version of a function, with its component (the latest when `version` is `None`).
    async fn get_function(
        &self,
        space: &SpaceName,
        name: &Segment,
        version: Option<u64>,
    ) -> Result<Option<FunctionRecord>, StoreError>;

    /// The latest version of every function in a space, by name.
    async fn list_functions(&self, space: &SpaceName) -> Result<Vec<FunctionSummary>, StoreError>;

    /// Every version of a function, oldest first.
    async fn function_versions(&self, space: &SpaceName, name: &Segment) -> Result<Vec<FunctionSummary>, StoreError>;

    /// An invocation record.
    async fn get_invocation(&self, space: &SpaceName, id: &str) -> Result<Option<InvocationRecord>, StoreError>;

    /// A page of invocation records, oldest first (see [`ListInvocations`]), without their
    /// inputs (`input` is `None`).
    async fn list_invocations(&self, query: &ListInvocations) -> Result<Vec<InvocationRecord>, StoreError>;

    /// The log's extent and size.
    async fn log_stats(&self) -> Result<LogStats, StoreError>;

    /// Gives disk space freed by trimming back to the operating system where the backend
    /// needs to be asked (SQLite: an incremental vacuum and a WAL checkpoint). The work of one
    /// call is bounded and a checkpoint blocked by readers is not waited for, so a call may
    /// leave some for the next.
    async fn compact(&self) -> Result<(), StoreError>;

    /// A job of a space.
    async fn get_job(&self, space: &SpaceName, id: &str) -> Result<Option<JobRecord>, StoreError>;

    /// A page of a space's jobs, by id (ids are UUIDv7: creation order).
    async fn list_jobs(&self, query: &ListJobs) -> Result<Vec<JobRecord>, StoreError>;

    /// A page of a trigger's executions (its jobs, kind `trigger`, target `space:triggers:name`),
    /// newest first: those with an id before `before`, when given.
    async fn trigger_jobs(
        &self,
        space: &SpaceName,
        trigger: &Segment,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError>;

    /// A trigger of a space.
    async fn get_trigger(&self, space: &SpaceName, name: &Segment) -> Result<Option<TriggerRecord>, StoreError>;

    /// A space's triggers, by name.
    async fn list_triggers(&self, space: &SpaceName) -> Result<Vec<TriggerRecord>, StoreError>;

    /// A page of an endpoint's jobs (kind `delivery`, target `space:endpoints:name`: its
    /// consumers and deliveries), newest first: those with an id before `before`, when given.
    async fn endpoint_jobs(
        &self,
        space: &SpaceName,
        endpoint: &Segment,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError>;

    /// An outbound webhook endpoint of a space.
    async fn get_endpoint(&self, space: &SpaceName, name: &Segment) -> Result<Option<EndpointRecord>, StoreError>;

    /// A space's endpoints, by name.
    async fn list_endpoints(&self, space: &SpaceName) -> Result<Vec<EndpointRecord>, StoreError>;

    /// The earliest time a scheduler has work: the first `run_at` of a pending job or the first
    /// end of a running job's lease (`None` when there are no such jobs).
    async fn next_job_wakeup(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Calls `wake` whenever another node sharing the store may have made a job due (enqueued,
    /// retried or re-driven one), until the means of hearing it fails, with the reason. A hint:
    /// a scheduler still polls. A backend only one process writes to never returns (its own
    /// writes reach its scheduler directly).
    async fn listen_for_jobs(&self, wake: &(dyn Fn() + Send + Sync)) -> Result<(), StoreError> {
        let _ = wake;
        std::future::pending().await
    }

    /// How many live instances of `space` are in each status, per machine, by machine then
    /// status; statuses without an instance are left out. Read from an index of the space's
    /// instances, never their records.
    async fn instance_counts(&self, space: &SpaceName) -> Result<Vec<InstanceCount>, StoreError>;

    /// Per space with pending, running or dead jobs: the counts and the oldest due job, at `now`.
    /// A scan of the work table's index: for metrics, not for every write.
    async fn job_queue_stats(&self, now: Timestamp) -> Result<Vec<JobQueueStats>, StoreError>;

    /// Nodes whose last heartbeat is at or after `alive_since`, by id.
    async fn list_nodes(&self, alive_since: Timestamp) -> Result<Vec<NodeRecord>, StoreError>;

    /// Drops the compiled machines the store's writers cache. A node calls it when it learns
    /// from the log that a space was deleted through another node sharing the database (a
    /// store's own writers learn of the deletions they make themselves): a space created again
    /// may put other definitions under the same names and versions.
    fn forget_compiled_machines(&self);

    /// Metrics the backend updates.
    fn metrics(&self) -> &StoreMetrics;

    /// Ok while the store accepts writes; the reason when it stopped (a storage failure) or
    /// was closed.
    fn check_health(&self) -> Result<(), StoreError>;

    /// Flushes what is pending and stops accepting writes.
    async fn close(&self);
}

/// Typed writes, for every [`Store`] (`dyn Store` included): an extension trait because a
/// generic method would make [`Store`] unusable as a trait object.
pub trait StoreExt: Store {
    /// Applies one op and answers with its typed result (see [`Request`]).
    fn execute<R: Request>(&self, request: R) -> impl Future<Output = Result<R::Output, StoreError>> + Send {
        let op = request.into();
        async move { R::output(self.write(op).await?) }
    }
}

impl<S: Store + ?Sized> StoreExt for S {}
