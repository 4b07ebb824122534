//! The operations the store applies and what each did. The records they carry and report are
//! the model's (`switchyard_model`).

use std::collections::BTreeMap;

use serde_json::Value;
use switchyard_model::auth::TokenRecord;
use switchyard_model::functions::{FunctionSpec, FunctionSummary, InvocationRecord};
use switchyard_model::idempotency::Idempotency;
use switchyard_model::instances::{InstanceKey, InstanceRecord, MachineVersion, Revision, TransitionApplied};
use switchyard_model::jobs::{JobRecord, JobSpec};
use switchyard_model::json::JsonObject;
use switchyard_model::log::Seq;
use switchyard_model::nodes::NodeRecord;
use switchyard_model::spaces::SpaceDeletion;
use switchyard_model::streams::{BucketRecord, Delivery, KvCondition, SubscriptionSpec};
use switchyard_model::time::Timestamp;
use switchyard_model::{Segment, SpaceName};

use crate::functions::AsyncInvocation;
use crate::streams::{PullRequest, TrimLog};

/// A write the store applies atomically.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Stores a definition as the next version unless it equals the latest one.
    PutMachine {
        /// The space.
        space: SpaceName,
        /// The machine's name.
        name: Segment,
        /// The canonical JSON form of a definition that compiled.
        definition: Value,
    },
    /// Creates an instance on the machine's latest version, in its initial state.
    CreateInstance {
        /// The new instance.
        key: InstanceKey,
        /// Its initial context (checked against the machine's context schema).
        ctx: JsonObject,
        /// The request's idempotency key, if any.
        idempotency: Option<Idempotency>,
    },
    /// Applies an event to an instance.
    ApplyEvent {
        /// The instance.
        key: InstanceKey,
        /// The event's name.
        event: String,
        /// The event's payload.
        payload: JsonObject,
        /// Refuse unless the instance is in this state.
        expected_state: Option<String>,
        /// Refuse unless the instance is at this revision.
        expected_revision: Option<Revision>,
        /// The request's idempotency key, if any.
        idempotency: Option<Idempotency>,
        /// The largest context the instance may have after the event, in bytes of compact
        /// JSON (the node's `--max-context-bytes`); a larger one refuses the event.
        max_context_bytes: usize,
    },
    /// Soft-deletes an instance.
    DeleteInstance {
        /// The instance.
        key: InstanceKey,
    },
    /// Stores a new token.
    CreateToken(TokenRecord),
    /// Stores the first admin token, unless one was bootstrapped before.
    BootstrapAdminToken(TokenRecord),
    /// Revokes a token.
    RevokeToken {
        /// The token's id.
        id: String,
    },
    /// Publishes a message to a topic: appends a `topic.message` record.
    Publish {
        /// The space.
        space: SpaceName,
        /// The topic's name.
        topic: Segment,
        /// The message.
        payload: Value,
        /// An optional key (for consumers that partition or deduplicate by it).
        key: Option<String>,
        /// Optional string headers.
        headers: BTreeMap<String, String>,
        /// The request's idempotency key, if any.
        idempotency: Option<Idempotency>,
    },
    /// Registers a node or renews its heartbeat.
    HeartbeatNode(NodeRecord),
    /// Renews the heartbeat of a registered node; does nothing for a node that was removed
    /// (so a late heartbeat cannot bring back a node that left).
    RenewNode {
        /// The node's id.
        id: String,
        /// The heartbeat's time.
        at: Timestamp,
    },
    /// Removes a node that is shutting down.
    RemoveNode {
        /// The node's id.
        id: String,
    },
    /// Creates a KV bucket, or changes the history it keeps.
    PutBucket {
        /// The space.
        space: SpaceName,
        /// The bucket.
        bucket: Segment,
        /// Revisions kept per key (1..=`MAX_KV_HISTORY`).
        history: u32,
    },
    /// Writes a KV key (creating its bucket with the default history when there is none);
    /// appends a `kv.put` record.
    KvPut {
        /// The space.
        space: SpaceName,
        /// The bucket.
        bucket: Segment,
        /// The key (validated by the caller).
        key: String,
        /// The value.
        value: Vec<u8>,
        /// The value's content type.
        content_type: String,
        /// The value expires this long after the write, in milliseconds.
        ttl_ms: Option<u64>,
        /// Refuse with `KvConflict` unless this holds.
        condition: KvCondition,
    },
    /// Deletes a live KV key (leaving a tombstone revision); appends a `kv.deleted` record.
    KvDelete {
        /// The space.
        space: SpaceName,
        /// The bucket.
        bucket: Segment,
        /// The key.
        key: String,
        /// Refuse with `KvConflict` unless this holds (`Absent` is not meaningful here).
        condition: KvCondition,
    },
    /// Deletes up to `limit` keys whose TTL ended at or before `now`, each with a `kv.deleted`
    /// record.
    ExpireKv {
        /// The time the TTLs are compared with.
        now: Timestamp,
        /// At most this many keys.
        limit: u32,
    },
    /// Creates a durable subscription, or updates the settings of one with the same filter
    /// (its `start_after` is then ignored).
    PutSubscription(SubscriptionSpec),
    /// Deletes a durable subscription with its pending records and dead letters.
    DeleteSubscription {
        /// The space.
        space: SpaceName,
        /// The subscription.
        name: Segment,
    },
    /// Leases up to `max` records to a consumer: first pending ones whose lease ended (turning
    /// those at `max_deliveries` into dead letters), then new ones past the cursor.
    Pull(PullRequest),
    /// Acknowledges pending records, which are then never delivered again.
    Ack {
        /// The space.
        space: SpaceName,
        /// The subscription.
        name: Segment,
        /// The records' seqs.
        seqs: Vec<Seq>,
    },
    /// Ends leases now, so the next pull delivers those records again. A lease is named by its
    /// record's seq and its delivery count (which a pull reports), so a consumer whose lease
    /// already ended cannot end the lease another consumer holds now.
    Nack {
        /// The space.
        space: SpaceName,
        /// The subscription.
        name: Segment,
        /// The leases: (seq, deliveries).
        leases: Vec<(Seq, u32)>,
    },
    /// Makes dead letters pending again with no deliveries counted (all when `seqs` is `None`).
    RedriveDeadLetters {
        /// The space.
        space: SpaceName,
        /// The subscription.
        name: Segment,
        /// Which dead letters.
        seqs: Option<Vec<Seq>>,
    },
    /// Forgets dead letters (all when `seqs` is `None`).
    DiscardDeadLetters {
        /// The space.
        space: SpaceName,
        /// The subscription.
        name: Segment,
        /// Which dead letters.
        seqs: Option<Vec<Seq>>,
    },
    /// Removes the oldest log records as retention allows (see [`TrimLog`]).
    TrimLog(TrimLog),
    /// Stores a function version unless its digest and configuration equal the latest
    /// version's; a new version appends a `function.deployed` record.
    PutFunction(FunctionSpec),
    /// Inserts finished invocation records (of synchronous invocations); appends no log record.
    RecordInvocations(Vec<InvocationRecord>),
    /// Inserts a pending asynchronous invocation and its job (kind `invocation`, the same id),
    /// unless one with the same function and idempotency key exists, which is then returned
    /// instead. The job's changes carry the record along (see [`crate::JobReport`]).
    EnqueueInvocation(AsyncInvocation),
    /// Forgets up to `limit` finished invocation records that finished before `before`.
    PurgeInvocations {
        /// The cut-off.
        before: Timestamp,
        /// At most this many (the caller repeats while a full chunk was removed).
        limit: u32,
    },
    /// Deletes a space and everything in it, in one transaction: machines (every version),
    /// instances, KV buckets and keys, subscriptions with their pending records and dead
    /// letters, functions (every version), invocation records, idempotency records and the
    /// space's log records; then appends one `space.deleted` record. Tokens are not touched.
    /// Refused with `SpaceNotFound` when nothing of the space exists.
    DeleteSpace {
        /// The space.
        space: SpaceName,
    },
    /// Forgets up to `limit` idempotency records written before `before`.
    PurgeIdempotency {
        /// The cut-off.
        before: Timestamp,
        /// At most this many (the caller repeats while a full chunk was removed).
        limit: u32,
    },
    /// Enqueues a job (appends `job.enqueued`), unless the space has one with the same
    /// idempotency key, which is returned instead.
    EnqueueJob(JobSpec),
    /// Leases due jobs to a worker, fairly across spaces (see [`crate::LeaseJobs`]); first takes
    /// back jobs whose lease ended, counting their attempt as failed. Appends `job.started` per job.
    LeaseJobs(crate::LeaseJobs),
    /// Extends the leases a worker still holds.
    ExtendJobLeases {
        /// The worker's node.
        owner: String,
        /// The jobs.
        ids: Vec<String>,
        /// The new lease lasts this long from now, in milliseconds.
        lease_ms: u64,
    },
    /// Gives up the leases a worker still holds on these jobs (its node is shutting down and
    /// cut their attempts): each attempt counts as failed (`node_shutdown`) and the job is
    /// retried or dead by its policy at once, instead of when the lease would have ended.
    ReleaseJobs {
        /// The worker's node.
        owner: String,
        /// The jobs.
        ids: Vec<String>,
        /// A number in `[0, 1)` for the retries' jitter.
        random: f64,
    },
    /// Ends an attempt: succeeded, retried later or dead, as its retry policy says; appends
    /// `job.succeeded`, `job.failed` or `job.dead`.
    FinishJob(crate::FinishJob),
    /// Re-drives a dead or cancelled job: pending now, its attempts counted from zero again,
    /// optionally with a new payload; appends `job.retried`.
    RetryJob {
        /// The space.
        space: SpaceName,
        /// The job.
        id: String,
        /// A new payload, if given.
        payload: Option<Value>,
    },
    /// Re-drives up to `limit` dead jobs of a space (of one kind, if given), oldest first.
    RedriveJobs(crate::RedriveJobs),
    /// Cancels a job that has not finished; appends `job.cancelled`. A running attempt's end is
    /// then ignored.
    CancelJob {
        /// The space.
        space: SpaceName,
        /// The job.
        id: String,
    },
    /// Deletes a job that is not running; appends `job.deleted`.
    DeleteJob {
        /// The space.
        space: SpaceName,
        /// The job.
        id: String,
    },
    /// Forgets up to `limit` succeeded or cancelled jobs that finished before `before`, soonest
    /// finished first (dead ones stay until a person re-drives or deletes them); appends nothing.
    PurgeJobs {
        /// The cut-off.
        before: Timestamp,
        /// At most this many (the caller repeats while a full chunk was removed).
        limit: u32,
    },
}

/// What a [`WriteOp`] did.
// `InvocationEnqueued` carries a whole record and is the largest variant by far; an outcome is
// built once per write and moved a few times, so boxing it would only burden every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome {
    /// A machine definition is stored as `version`; `created` is false when it equalled the
    /// latest version.
    MachinePut {
        /// The version.
        version: MachineVersion,
        /// Whether a new version was stored.
        created: bool,
        /// Whether this write created the space (see [`WriteOutcome::space_created`]).
        space_created: bool,
    },
    /// An instance exists; `replayed` when an idempotency key returned the original.
    InstanceCreated {
        /// The instance as created.
        instance: InstanceRecord,
        /// Whether this is the stored result of an earlier request with the same key.
        replayed: bool,
    },
    /// An event was applied; `replayed` when an idempotency key returned the original.
    EventApplied {
        /// The transition.
        applied: TransitionApplied,
        /// Whether this is the stored result of an earlier request with the same key.
        replayed: bool,
    },
    /// The instance was deleted.
    InstanceDeleted,
    /// A token was stored (`false` from a bootstrap that had happened before).
    TokenCreated(bool),
    /// A token was revoked.
    TokenRevoked,
    /// This many idempotency records were forgotten.
    IdempotencyPurged(u64),
    /// A node's registration was written or removed.
    NodeRecorded,
    /// A bucket was created (`created`) or its history changed.
    BucketPut {
        /// The bucket as it now is.
        bucket: BucketRecord,
        /// Whether it was created.
        created: bool,
        /// Whether this write created the space.
        space_created: bool,
    },
    /// A KV key was written or deleted.
    KvWritten {
        /// The key's new revision.
        revision: u64,
        /// The log record of the write.
        seq: Seq,
        /// Whether this write created the space (a put that created the bucket).
        space_created: bool,
    },
    /// This many expired KV keys were deleted.
    KvExpired(u64),
    /// A subscription was created (`created`) or its settings updated.
    SubscriptionPut {
        /// Whether it was created.
        created: bool,
        /// Whether this write created the space.
        space_created: bool,
    },
    /// A subscription was deleted.
    SubscriptionDeleted,
    /// The records a pull leased, by seq.
    Pulled(Vec<Delivery>),
    /// This many dead letters were redriven or discarded (seqs that were not dead are not
    /// counted).
    SubscriptionUpdated(u64),
    /// The records an ack acknowledged, or whose leases a nack ended, by seq (ascending): the
    /// seqs named that were not pending (or whose lease was not the one named) are left out.
    Settled(Vec<Seq>),
    /// This many log records were trimmed.
    LogTrimmed(u64),
    /// A function version was stored (`created`), or the latest equalled the deploy.
    FunctionPut {
        /// The version now latest.
        summary: FunctionSummary,
        /// Whether a new version was stored.
        created: bool,
        /// Whether this write created the space.
        space_created: bool,
    },
    /// This many invocation records were inserted.
    InvocationsRecorded(u64),
    /// An asynchronous invocation is pending (or, `replayed`, an earlier one with the same
    /// idempotency key was found and is returned as stored).
    InvocationEnqueued {
        /// The record as stored (with its `seq`).
        record: InvocationRecord,
        /// Whether this is the earlier invocation with the same key.
        replayed: bool,
    },
    /// This many invocation records were forgotten.
    InvocationsPurged(u64),
    /// A message was published (or, `replayed`, an idempotent repeat found the original).
    Published {
        /// The message's log record.
        seq: Seq,
        /// Whether this is the stored result of an earlier request with the same key.
        replayed: bool,
        /// Whether this write created the space.
        space_created: bool,
    },
    /// A space and everything in it were deleted.
    SpaceDeleted {
        /// What went, per kind.
        deleted: SpaceDeletion,
        /// The `space.deleted` record.
        seq: Seq,
    },
    /// A job is enqueued (or, `replayed`, an earlier one with the same key was found).
    JobEnqueued {
        /// The job as stored.
        job: Box<JobRecord>,
        /// Whether this is the earlier job with the same key.
        replayed: bool,
        /// Whether this write created the space.
        space_created: bool,
    },
    /// The jobs a worker leased.
    JobsLeased(crate::JobsLeased),
    /// This many leases were extended.
    JobLeasesExtended(u64),
    /// What ending an attempt did.
    JobFinished(crate::JobFinished),
    /// A job was re-drove, cancelled or deleted; the record as it now is (`None` once deleted).
    JobChanged(Option<Box<JobRecord>>),
    /// This many jobs were re-driven.
    JobsRedriven(u64),
    /// This many finished jobs were forgotten.
    JobsPurged(u64),
    /// This many leases were given up.
    JobsReleased(u64),
}

impl WriteOutcome {
    /// Whether the write created its space: the space had no row in `spaces` (it never
    /// existed, or it was deleted) and this write made it exist. Only writes that can bring a
    /// space into being report it: a new machine version, KV bucket, function version or
    /// subscription, and a published message.
    pub fn space_created(&self) -> bool {
        match self {
            WriteOutcome::MachinePut { space_created, .. }
            | WriteOutcome::BucketPut { space_created, .. }
            | WriteOutcome::KvWritten { space_created, .. }
            | WriteOutcome::SubscriptionPut { space_created, .. }
            | WriteOutcome::FunctionPut { space_created, .. }
            | WriteOutcome::Published { space_created, .. }
            | WriteOutcome::JobEnqueued { space_created, .. } => *space_created,
            WriteOutcome::JobsLeased(_)
            | WriteOutcome::JobLeasesExtended(_)
            | WriteOutcome::JobFinished(_)
            | WriteOutcome::JobChanged(_)
            | WriteOutcome::JobsRedriven(_)
            | WriteOutcome::JobsPurged(_)
            | WriteOutcome::JobsReleased(_)
            | WriteOutcome::InstanceCreated { .. }
            | WriteOutcome::EventApplied { .. }
            | WriteOutcome::InstanceDeleted
            | WriteOutcome::TokenCreated(_)
            | WriteOutcome::TokenRevoked
            | WriteOutcome::IdempotencyPurged(_)
            | WriteOutcome::NodeRecorded
            | WriteOutcome::KvExpired(_)
            | WriteOutcome::SubscriptionDeleted
            | WriteOutcome::Pulled(_)
            | WriteOutcome::SubscriptionUpdated(_)
            | WriteOutcome::Settled(_)
            | WriteOutcome::LogTrimmed(_)
            | WriteOutcome::InvocationsRecorded(_)
            | WriteOutcome::InvocationEnqueued { .. }
            | WriteOutcome::InvocationsPurged(_)
            | WriteOutcome::SpaceDeleted { .. } => false,
        }
    }

    /// Records that the write created its space (learnt when the group's `spaces` rows are
    /// written); outcomes that cannot create a space ignore it.
    pub(crate) fn set_space_created(&mut self) {
        match self {
            WriteOutcome::MachinePut { space_created, .. }
            | WriteOutcome::BucketPut { space_created, .. }
            | WriteOutcome::KvWritten { space_created, .. }
            | WriteOutcome::SubscriptionPut { space_created, .. }
            | WriteOutcome::FunctionPut { space_created, .. }
            | WriteOutcome::Published { space_created, .. }
            | WriteOutcome::JobEnqueued { space_created, .. } => *space_created = true,
            WriteOutcome::JobsLeased(_)
            | WriteOutcome::JobLeasesExtended(_)
            | WriteOutcome::JobFinished(_)
            | WriteOutcome::JobChanged(_)
            | WriteOutcome::JobsRedriven(_)
            | WriteOutcome::JobsPurged(_)
            | WriteOutcome::JobsReleased(_)
            | WriteOutcome::InstanceCreated { .. }
            | WriteOutcome::EventApplied { .. }
            | WriteOutcome::InstanceDeleted
            | WriteOutcome::TokenCreated(_)
            | WriteOutcome::TokenRevoked
            | WriteOutcome::IdempotencyPurged(_)
            | WriteOutcome::NodeRecorded
            | WriteOutcome::KvExpired(_)
            | WriteOutcome::SubscriptionDeleted
            | WriteOutcome::Pulled(_)
            | WriteOutcome::SubscriptionUpdated(_)
            | WriteOutcome::Settled(_)
            | WriteOutcome::LogTrimmed(_)
            | WriteOutcome::InvocationsRecorded(_)
            | WriteOutcome::InvocationEnqueued { .. }
            | WriteOutcome::InvocationsPurged(_)
            | WriteOutcome::SpaceDeleted { .. } => {}
        }
    }

    /// Records the seq of the log record this outcome reports (learnt when the group's records
    /// are numbered); outcomes that report none ignore it.
    pub(crate) fn set_seq(&mut self, seq: Seq) {
        match self {
            WriteOutcome::EventApplied { applied, .. } => applied.seq = seq,
            WriteOutcome::Published { seq: at, .. }
            | WriteOutcome::KvWritten { seq: at, .. }
            | WriteOutcome::SpaceDeleted { seq: at, .. } => *at = seq,
            WriteOutcome::MachinePut { .. }
            | WriteOutcome::BucketPut { .. }
            | WriteOutcome::SubscriptionPut { .. }
            | WriteOutcome::FunctionPut { .. }
            | WriteOutcome::InstanceCreated { .. }
            | WriteOutcome::InstanceDeleted
            | WriteOutcome::TokenCreated(_)
            | WriteOutcome::TokenRevoked
            | WriteOutcome::IdempotencyPurged(_)
            | WriteOutcome::NodeRecorded
            | WriteOutcome::KvExpired(_)
            | WriteOutcome::SubscriptionDeleted
            | WriteOutcome::Pulled(_)
            | WriteOutcome::SubscriptionUpdated(_)
            | WriteOutcome::Settled(_)
            | WriteOutcome::LogTrimmed(_)
            | WriteOutcome::InvocationsRecorded(_)
            | WriteOutcome::InvocationEnqueued { .. }
            | WriteOutcome::InvocationsPurged(_)
            | WriteOutcome::JobEnqueued { .. }
            | WriteOutcome::JobsLeased(_)
            | WriteOutcome::JobLeasesExtended(_)
            | WriteOutcome::JobFinished(_)
            | WriteOutcome::JobChanged(_)
            | WriteOutcome::JobsRedriven(_)
            | WriteOutcome::JobsPurged(_)
            | WriteOutcome::JobsReleased(_) => {}
        }
    }
}
