//! Records the store keeps and the operations it applies.
//!
//! Numbers that mean different things have different types: a `MachineVersion` cannot be
//! mixed up with a `Revision` or a `Seq`, and neither version nor revision can be zero.

use std::collections::BTreeMap;
use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchyard_model::{Segment, SpaceName};

use crate::functions::{AsyncInvocation, FunctionSpec, FunctionSummary, InvocationRecord};
use crate::streams::{BucketRecord, Delivery, KvCondition, PullRequest, SubscriptionSpec, TrimLog};

/// A JSON object: an instance's context or an event's payload.
pub type JsonObject = Map<String, Value>;

/// Wall-clock time in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        Timestamp(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// The latest time RFC 3339 can write (9999-12-31T23:59:59.999Z).
    pub const MAX_RFC3339: Timestamp = Timestamp(253_402_300_799_999);

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-20T22:48:04.123Z` (times past year 9999
    /// are written as the last millisecond of 9999).
    pub fn to_rfc3339(self) -> String {
        humantime::format_rfc3339_millis(self.min(Timestamp::MAX_RFC3339).to_system_time()).to_string()
    }

    /// This time as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_millis(self.0.max(0) as u64)
    }
}

/// The version of a machine definition; 1 for the first, n+1 for each changed definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MachineVersion(pub NonZeroU32);

impl MachineVersion {
    /// The first version of a machine.
    pub const FIRST: MachineVersion = MachineVersion(NonZeroU32::MIN);

    /// Builds a version from a raw number; `None` for zero.
    pub fn new(v: u32) -> Option<MachineVersion> {
        NonZeroU32::new(v).map(MachineVersion)
    }

    /// The raw number.
    pub fn get(self) -> u32 {
        self.0.get()
    }

    /// The version after this one.
    pub fn next(self) -> MachineVersion {
        MachineVersion(self.0.saturating_add(1))
    }
}

impl fmt::Display for MachineVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An instance's revision: 1 on creation, incremented by one for every applied event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Revision(pub NonZeroU64);

impl Revision {
    /// The revision of a newly created instance.
    pub const FIRST: Revision = Revision(NonZeroU64::MIN);

    /// Builds a revision from a raw number; `None` for zero.
    pub fn new(v: u64) -> Option<Revision> {
        NonZeroU64::new(v).map(Revision)
    }

    /// The raw number.
    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// The revision after this one.
    pub fn next(self) -> Revision {
        Revision(self.0.saturating_add(1))
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A position in the event log; strictly increasing in commit order. `Seq(0)` is "before the
/// first record" and is never assigned to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies one instance: its space, machine and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceKey {
    /// The space the instance lives in.
    pub space: SpaceName,
    /// The machine it is an instance of.
    pub machine: Segment,
    /// Its id, unique within the machine.
    pub id: Segment,
}

impl InstanceKey {
    /// The instance's address, `space:machine:id`.
    pub fn address(&self) -> String {
        format!("{}:{}:{}", self.space, self.machine, self.id)
    }
}

/// One stored version of a machine definition.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineRecord {
    /// The space the machine lives in.
    pub space: SpaceName,
    /// The machine's name.
    pub name: Segment,
    /// This definition's version.
    pub version: MachineVersion,
    /// The definition in its canonical JSON form.
    pub definition: Value,
    /// When this version was stored.
    pub created_at: Timestamp,
}

/// The latest version of a machine, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineSummary {
    /// The machine's name.
    pub name: Segment,
    /// Its latest version.
    pub version: MachineVersion,
    /// When that version was stored.
    pub created_at: Timestamp,
}

/// An instance as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// The space it lives in.
    pub space: SpaceName,
    /// Its machine.
    pub machine: Segment,
    /// Its id.
    pub id: Segment,
    /// The machine version it runs on.
    pub machine_version: MachineVersion,
    /// Its current state.
    pub state: String,
    /// Its context.
    pub ctx: JsonObject,
    /// Its revision.
    pub revision: Revision,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it was deleted, if it was.
    pub deleted_at: Option<Timestamp>,
    /// Why its stored context cannot be read back, when it cannot (`ctx` is then empty). Only a
    /// listing returns such a record, so one damaged instance does not hide its neighbours; a
    /// read of the instance itself is refused instead ([`InstanceRecord::readable`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

impl InstanceRecord {
    /// The record, or `StoreError::Corrupt` naming the instance when its context cannot be read
    /// back: what reads one instance must not go on with an empty context in its place.
    pub fn readable(self) -> Result<InstanceRecord, crate::StoreError> {
        match &self.unreadable {
            None => Ok(self),
            Some(reason) => Err(crate::StoreError::Corrupt(format!(
                "instance \"{}\" cannot be read back: {reason}",
                self.key().address()
            ))),
        }
    }

    /// A new instance, as a create writes it: revision 1, in `state`, never changed or deleted.
    pub fn created(
        key: &InstanceKey,
        machine_version: MachineVersion,
        state: &str,
        ctx: &JsonObject,
        now: Timestamp,
    ) -> Self {
        InstanceRecord {
            space: key.space.clone(),
            machine: key.machine.clone(),
            id: key.id.clone(),
            machine_version,
            state: state.to_string(),
            ctx: ctx.clone(),
            revision: Revision::FIRST,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            unreadable: None,
        }
    }

    /// The instance's key.
    pub fn key(&self) -> InstanceKey {
        InstanceKey { space: self.space.clone(), machine: self.machine.clone(), id: self.id.clone() }
    }
}

/// The kinds of event-log records this version writes.
pub mod kinds {
    /// A machine version was stored.
    pub const MACHINE_PUT: &str = "machine.put";
    /// An instance was created.
    pub const INSTANCE_CREATED: &str = "instance.created";
    /// An event moved an instance.
    pub const INSTANCE_TRANSITIONED: &str = "instance.transitioned";
    /// An instance was deleted.
    pub const INSTANCE_DELETED: &str = "instance.deleted";
    /// A message was published to a topic.
    pub const TOPIC_MESSAGE: &str = "topic.message";
    /// A KV key was written.
    pub const KV_PUT: &str = "kv.put";
    /// A KV key was deleted or its TTL expired.
    pub const KV_DELETED: &str = "kv.deleted";
    /// A space was deleted with everything in it; the one record of the space the deletion
    /// leaves (its payload is the [`SpaceDeletion`](super::SpaceDeletion)).
    pub const SPACE_DELETED: &str = "space.deleted";
}

/// One record of the event log.
///
/// A record some part of which cannot be read back (its payload does not decode, say) is still
/// returned, in its place, with [`LogRecord::unreadable`] saying why: readers learn its position
/// and move past it instead of failing on it (see [`LogRecord::is_readable`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Its position in the log.
    pub seq: Seq,
    /// The space of the resource it is about.
    pub space: SpaceName,
    /// What happened (see [`kinds`]).
    pub kind: String,
    /// The address of the resource it is about.
    pub address: String,
    /// What changed.
    pub payload: Value,
    /// The idempotency key of the request that wrote it, if any.
    pub idempotency_key: Option<String>,
    /// When it was written.
    pub created_at: Timestamp,
    /// Why part of the stored record cannot be read, when it cannot. What did not decode is
    /// left empty: the payload `null`, the time 0, text with replacement characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

impl LogRecord {
    /// Whether every part of the stored record was read.
    pub fn is_readable(&self) -> bool {
        self.unreadable.is_none()
    }
}

/// The result of applying an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionApplied {
    /// The state before.
    pub from: String,
    /// The state after.
    pub to: String,
    /// The instance's revision after.
    pub revision: Revision,
    /// The log record of this transition.
    pub seq: Seq,
    /// The context after.
    pub ctx: JsonObject,
}

/// An idempotency key and the fingerprint of the request that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// The client's key, unique within a space.
    pub key: String,
    /// A digest of the request; the same key with another fingerprint is refused.
    pub fingerprint: String,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads.
    Reader,
    /// Reads and writes.
    Writer,
    /// Reads, writes and manages tokens.
    Admin,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "reader" => Some(Role::Reader),
            "writer" => Some(Role::Writer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The spaces a token may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpaceGrant {
    /// Every space, present and future (`*`).
    All,
    /// Exactly these spaces.
    Only(Vec<SpaceName>),
}

impl SpaceGrant {
    /// Whether `space` is granted.
    pub fn allows(&self, space: &SpaceName) -> bool {
        match self {
            SpaceGrant::All => true,
            SpaceGrant::Only(spaces) => spaces.contains(space),
        }
    }

    /// Whether everything `other` grants is granted here too.
    pub fn covers(&self, other: &SpaceGrant) -> bool {
        match (self, other) {
            (SpaceGrant::All, _) => true,
            (SpaceGrant::Only(_), SpaceGrant::All) => false,
            (SpaceGrant::Only(mine), SpaceGrant::Only(theirs)) => theirs.iter().all(|s| mine.contains(s)),
        }
    }

    /// The grant as a list of names, `["*"]` for all.
    pub fn to_names(&self) -> Vec<String> {
        match self {
            SpaceGrant::All => vec!["*".to_string()],
            SpaceGrant::Only(spaces) => spaces.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// A token as stored: its secret only as a SHA-256 digest.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// Public identifier, used to list and revoke.
    pub id: String,
    /// A person's label for it.
    pub name: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// What it may do.
    pub role: Role,
    /// Where it may do it.
    pub spaces: SpaceGrant,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// A space, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceRecord {
    /// Its name.
    pub name: SpaceName,
    /// When something was first written into it.
    pub created_at: Timestamp,
}

/// A Switchyard node serving from this store, as it registered itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// A random id chosen at start.
    pub id: String,
    /// The address its HTTP API listens on.
    pub address: String,
    /// When it started.
    pub started_at: Timestamp,
    /// Its last heartbeat.
    pub heartbeat_at: Timestamp,
}

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
    EnqueueJob(crate::JobSpec),
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
        job: Box<crate::JobRecord>,
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
    JobChanged(Option<Box<crate::JobRecord>>),
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

/// What deleting a space removed, counted per kind; the payload of its `space.deleted` record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceDeletion {
    /// Machines, by name (every version of each went).
    pub machines: u64,
    /// Instances, deleted ones included.
    pub instances: u64,
    /// KV buckets.
    pub kv_buckets: u64,
    /// KV keys, deleted ones (tombstones) included.
    pub kv_keys: u64,
    /// Durable subscriptions (their pending records and dead letters went with them).
    pub subscriptions: u64,
    /// Functions, by name (every version of each went).
    pub functions: u64,
    /// Invocation records.
    pub invocations: u64,
    /// Log records of the space.
    pub log_records: u64,
    /// Idempotency records.
    pub idempotency_keys: u64,
}
