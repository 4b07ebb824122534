//! The transactional storage interface the commands are written against: small per-table
//! traits (in the manner of Restate's `storage-api`), implemented by each backend with SQL only.
//!
//! A backend's transaction type implements every table trait ([`Tables`]); a command reads and
//! writes through them and decides everything else itself (`crate::commands`). Invariants the
//! implementations keep:
//! - A method does what its name says and nothing more: no rule, no refusal but
//!   [`TxError::Storage`] (the database failed) and `StoreError::Corrupt` (a stored value cannot
//!   be decoded).
//! - Reads see the transaction's own earlier writes.
//! - On PostgreSQL the rows a command writes are already locked when it runs (the writer takes
//!   the command's declared [`Locks`] first, in one global order); methods named `…_for_update`
//!   lock the row they read as well, which costs nothing when it is already held. The sweeps
//!   across spaces (expiry, claims, purges) declare no locks: they lock the rows they read and
//!   skip those another transaction holds, never waiting (their docs say so).
//! - A method that takes a list of rows changes them in a fixed number of statements on
//!   PostgreSQL (a statement is a round trip there), one per row on SQLite when that is plainer.
//! - Log records, idempotency records and `spaces` rows are not written by the commands but
//!   buffered in the group's [`GroupLog`] and flushed by the writer ([`Tables::flush_log`] and
//!   friends): PostgreSQL can only number records just before commit (see `postgres::writer`).

use std::collections::HashSet;

use switchyard_model::{
    EndpointRecord, FunctionSpec, FunctionSummary, GrantRecord, InstanceKey, InvocationRecord, MachineVersion,
    NodeRecord, PrincipalRecord, Revision, RoleRecord, Seq, SubscriptionSpec, Timestamp, TokenRecord, TriggerRecord,
};

use crate::decode::RawLogRow;
use crate::error::StoreError;
use crate::function_rules::{StoredFunction, StoredInvocation};
use crate::streams::StoredFilter;

/// Why a step of a command did not happen.
#[derive(Debug)]
pub(crate) enum TxError {
    /// The command refused (a rule said no, or a stored value cannot be read): its request is
    /// answered with the error and the transaction stays usable once the request's writes are
    /// undone.
    Refused(StoreError),
    /// The database failed: the whole group's transaction is abandoned. `retry` when the
    /// database rolled it back for a reason a new attempt can avoid (a deadlock, a
    /// serialization failure).
    Storage { error: StoreError, retry: bool },
    /// A request failed after it had written (a panic, or a refusal that broke the rule that
    /// commands refuse before their first write) in a group run without a savepoint per
    /// request: its writes cannot be undone alone, so the writer abandons the transaction and
    /// runs the group again with one savepoint per request ([`Group::isolated`]), which
    /// confines the failure to its own request.
    ///
    /// [`Group::isolated`]: crate::commands::Group
    Isolate(StoreError),
}

/// What a table method or a command returns.
pub(crate) type TxResult<T> = Result<T, TxError>;

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Refused(e)
    }
}

impl From<serde_json::Error> for TxError {
    fn from(e: serde_json::Error) -> Self {
        TxError::Refused(StoreError::from(e))
    }
}

impl From<rusqlite::Error> for TxError {
    fn from(e: rusqlite::Error) -> Self {
        TxError::Storage { error: StoreError::from(e), retry: false }
    }
}

impl From<tokio_postgres::Error> for TxError {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        let retry = e
            .code()
            .is_some_and(|c| *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE);
        TxError::Storage { error: StoreError::from(e), retry }
    }
}

/// A log record a command appended, waiting to be written (PostgreSQL) or written and waiting
/// for the group to commit (SQLite).
#[derive(Debug)]
pub(crate) struct PendingRecord {
    pub space: String,
    pub kind: &'static str,
    pub address: String,
    pub payload: String,
    pub idempotency_key: Option<String>,
    pub created_at: Timestamp,
    /// The (request, op) whose outcome reports this record's seq.
    pub reports_seq: Option<(usize, usize)>,
    /// Its seq, once assigned.
    pub seq: Option<Seq>,
}

/// An idempotency record waiting for its response (which may contain a seq).
#[derive(Debug)]
pub(crate) struct PendingIdempotency {
    pub space: String,
    pub key: String,
    pub fingerprint: String,
    pub created_at: Timestamp,
    /// The (request, op) whose outcome is the stored response.
    pub response_of: (usize, usize),
}

/// A space an op wrote into in a way that makes a space exist (a new machine version, bucket,
/// function version or subscription, a message): its `spaces` row is inserted unless it has one.
#[derive(Debug)]
pub(crate) struct PendingSpace {
    pub space: String,
    pub created_at: Timestamp,
    /// The (request, op) whose outcome reports whether this created the space.
    pub reports_to: (usize, usize),
}

/// What a group writes once its seqs are known.
#[derive(Debug, Default)]
pub(crate) struct GroupLog {
    pub records: Vec<PendingRecord>,
    pub idempotency: Vec<PendingIdempotency>,
    pub spaces: Vec<PendingSpace>,
}

/// A position in a [`GroupLog`] to roll back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogMark {
    records: usize,
    idempotency: usize,
    spaces: usize,
}

impl GroupLog {
    /// A mark to roll back to when a request's writes are undone.
    pub fn mark(&self) -> LogMark {
        LogMark { records: self.records.len(), idempotency: self.idempotency.len(), spaces: self.spaces.len() }
    }

    /// Forgets everything after `mark`.
    pub fn truncate(&mut self, mark: LogMark) {
        self.records.truncate(mark.records);
        self.idempotency.truncate(mark.idempotency);
        self.spaces.truncate(mark.spaces);
    }
}

/// The locks a group takes before its first command runs (PostgreSQL; the SQLite writer is
/// alone and needs none). See `postgres::writer` for the order they are taken in.
#[derive(Debug, Default)]
pub(crate) struct Locks<'a> {
    /// Advisory locks by key: exclusive (`true`) or shared.
    pub advisory: Vec<(String, bool)>,
    /// Row locks on instances: (space, machine, id).
    pub instances: Vec<(&'a str, &'a str, &'a str)>,
    /// Row locks on invocation records, by id.
    pub invocations: Vec<&'a str>,
}

impl<'a> Locks<'a> {
    /// An advisory lock held exclusively.
    pub fn exclusive(&mut self, key: String) {
        self.advisory.push((key, true));
    }

    /// The space's lock held shared: every op that writes into a space but the hot path holds
    /// it, so a deletion of the space (holding it exclusively) never runs beside it.
    pub fn writes_into(&mut self, space: &str) {
        self.advisory.push((format!("space:{space}"), false));
    }

    /// The row lock of an existing instance.
    pub fn instance(&mut self, key: &'a InstanceKey) {
        self.instances.push((key.space.as_ref(), key.machine.as_ref(), key.id.as_ref()));
    }
}

/// An instance row as a command reads it.
#[derive(Debug)]
pub(crate) struct InstanceRow {
    pub machine_version: MachineVersion,
    pub state: String,
    pub ctx: String,
    pub revision: Revision,
    pub deleted_at: Option<Timestamp>,
    /// The persisted status (`active`, `running`, …).
    pub status: String,
    /// The ids of the jobs of the current state, as a JSON array; `None` when there are none.
    pub work: Option<String>,
    /// The parent that started it as a child, as JSON; `None` when nobody did.
    pub parent: Option<String>,
}

/// What a command writes into an instance's row.
#[derive(Debug)]
pub(crate) struct InstanceWrite<'a> {
    pub state: &'a str,
    pub ctx: &'a str,
    pub revision: Revision,
    pub status: &'a str,
    /// Whether `status` differs from the row's (read by updates only): an update that leaves it
    /// does not name it, so SQLite does not rewrite the row's `instances_by_status` entry on
    /// every event (it rewrites the entries of every index whose column an UPDATE names).
    pub status_changed: bool,
    /// The current state's job ids as a JSON array; `None` when there are none.
    pub work: Option<&'a str>,
    /// Why the instance failed or was cancelled, as JSON.
    pub error: Option<&'a str>,
    /// The parent that started it as a child, as JSON (read by inserts only: it never changes).
    pub parent: Option<&'a str>,
    pub now: Timestamp,
}

/// The transaction's control and the group's bookkeeping rows.
pub(crate) trait GroupTable {
    /// Rows changed in this transaction so far, when the backend counts them for free (SQLite);
    /// `None` where it does not. Lets the group runner see a request that refused after it had
    /// written, which a group without savepoints cannot undo alone.
    fn rows_changed(&self) -> Option<u64> {
        None
    }

    /// Starts a savepoint for one request.
    async fn savepoint(&mut self) -> TxResult<()>;
    /// Keeps the request's writes.
    async fn release_savepoint(&mut self) -> TxResult<()>;
    /// Undoes the request's writes; its buffered rows after `mark` are forgotten by the caller.
    async fn rollback_to_savepoint(&mut self, log: &GroupLog, mark: LogMark) -> TxResult<()>;
    /// Buffers (or writes) a log record; the backend may assign its seq now or at
    /// [`GroupTable::flush_log`].
    async fn append_log(&mut self, log: &mut GroupLog, record: PendingRecord) -> TxResult<()>;
    /// Gives every buffered record its seq and writes those not yet written.
    async fn flush_log(&mut self, log: &mut GroupLog) -> TxResult<()>;
    /// Writes idempotency records: (space, key, fingerprint, response, created at).
    async fn insert_idempotency(&mut self, rows: &[(&str, &str, &str, String, Timestamp)]) -> TxResult<()>;
    /// Inserts the `spaces` rows that do not exist yet; returns the names it inserted.
    async fn insert_spaces(&mut self, rows: &[(&str, Timestamp)], log_flushed: bool) -> TxResult<HashSet<String>>;
}

/// Stored responses of idempotent requests.
pub(crate) trait IdempotencyTable {
    /// The fingerprint and stored response of a key.
    async fn idempotency_record(&mut self, space: &str, key: &str) -> TxResult<Option<(String, String)>>;
    /// Forgets up to `limit` records written before `before`; how many went.
    async fn purge_idempotency(&mut self, before: Timestamp, limit: u32) -> TxResult<u64>;
}

/// Machine versions.
pub(crate) trait MachineTable {
    /// The latest version of a machine with its canonical definition text.
    async fn latest_machine(&mut self, space: &str, name: &str) -> TxResult<Option<(MachineVersion, String)>>;
    /// The latest version number of a machine.
    async fn latest_machine_version(&mut self, space: &str, name: &str) -> TxResult<Option<MachineVersion>>;
    /// One version's canonical definition text.
    async fn machine_definition(
        &mut self,
        space: &str,
        name: &str,
        version: MachineVersion,
    ) -> TxResult<Option<String>>;
    /// Stores a version.
    async fn insert_machine(
        &mut self,
        space: &str,
        name: &str,
        version: MachineVersion,
        definition: &str,
        now: Timestamp,
    ) -> TxResult<()>;
}

/// Instances.
pub(crate) trait InstanceTable {
    /// An instance's row, locked for the rest of the transaction.
    async fn instance_for_update(&mut self, key: &InstanceKey) -> TxResult<Option<InstanceRow>>;
    /// When an instance was deleted (`Some(None)`: it is not), locked for the rest of the
    /// transaction; `None` when there is no such instance.
    async fn instance_deleted_at_for_update(&mut self, key: &InstanceKey) -> TxResult<Option<Option<Timestamp>>>;
    /// Inserts a new instance (at `write.revision`, 1); `false` when one with its key exists.
    async fn insert_instance(
        &mut self,
        key: &InstanceKey,
        version: MachineVersion,
        write: &InstanceWrite<'_>,
    ) -> TxResult<bool>;
    /// Writes an instance's new state, context, revision, status, work and error.
    async fn update_instance(&mut self, key: &InstanceKey, write: &InstanceWrite<'_>) -> TxResult<()>;
    /// Moves an instance to another version of its machine, with the status its state has there.
    async fn set_instance_version(
        &mut self,
        key: &InstanceKey,
        version: MachineVersion,
        status: &str,
        now: Timestamp,
    ) -> TxResult<()>;
    /// Writes an instance's status, work and error alone (a cancellation, a failure).
    async fn set_instance_status(
        &mut self,
        key: &InstanceKey,
        status: &str,
        work: Option<&str>,
        error: Option<&str>,
        now: Timestamp,
    ) -> TxResult<()>;
    /// Marks an instance deleted.
    async fn mark_instance_deleted(&mut self, key: &InstanceKey, now: Timestamp) -> TxResult<()>;
}

/// Tokens and the admin bootstrap.
pub(crate) trait TokenTable {
    /// Stores a token.
    async fn insert_token(&mut self, token: &TokenRecord) -> TxResult<()>;
    /// Records that the admin token was bootstrapped; `false` when it had been before.
    async fn claim_admin_bootstrap(&mut self, token_id: &str) -> TxResult<bool>;
    /// When a token was revoked (`Some(None)`: it is not), locked; `None` for no such token.
    async fn token_revoked_at_for_update(&mut self, id: &str) -> TxResult<Option<Option<Timestamp>>>;
    /// Revokes a token.
    async fn revoke_token(&mut self, id: &str, now: Timestamp) -> TxResult<()>;
    /// Revokes a principal's live tokens (neither revoked nor expired at `now`; only its
    /// sessions when `sessions_only`), all but `except`; returns their ids.
    async fn revoke_tokens_of(
        &mut self,
        principal: &str,
        now: Timestamp,
        except: Option<&str>,
        sessions_only: bool,
    ) -> TxResult<Vec<String>>;
}

/// Users, service accounts, their grants and custom roles.
pub(crate) trait AccessTable {
    /// Stores a new principal.
    async fn insert_principal(&mut self, principal: &PrincipalRecord) -> TxResult<()>;
    /// Inserts an org; false when one of the name exists.
    async fn insert_org(&mut self, org: &switchyard_model::OrgRecord) -> TxResult<bool>;
    /// An org, locked against a concurrent deletion or member's creation.
    async fn org_for_update(&mut self, name: &str) -> TxResult<Option<switchyard_model::OrgRecord>>;
    /// How many members an org has, and how many spaces are its projects (`org.project`).
    async fn org_holdings(&mut self, name: &str) -> TxResult<(u64, u64)>;
    /// Deletes an org and the grants on its projects written as `org/…`; answers their ids.
    async fn delete_org(&mut self, name: &str) -> TxResult<Vec<String>>;
    /// Whether a user of this name exists.
    async fn user_exists(&mut self, name: &str) -> TxResult<bool>;
    /// A principal, locked.
    async fn principal_for_update(&mut self, id: &str) -> TxResult<Option<PrincipalRecord>>;
    /// Records a sign-in's outcome: the failures since the last success and the lock.
    async fn update_sign_in(&mut self, id: &str, failed: u32, locked_until: Option<Timestamp>) -> TxResult<()>;
    /// Replaces a user's password hash.
    async fn set_password(&mut self, id: &str, hash: &str) -> TxResult<()>;
    /// Deletes a principal and its grants.
    async fn delete_principal(&mut self, id: &str) -> TxResult<()>;
    /// Stores a grant; `false` when the principal holds that role on that pattern already.
    async fn insert_grant(&mut self, grant: &GrantRecord) -> TxResult<bool>;
    /// A grant, locked.
    async fn grant_for_update(&mut self, id: &str) -> TxResult<Option<GrantRecord>>;
    /// Deletes a grant.
    async fn delete_grant(&mut self, id: &str) -> TxResult<()>;
    /// Stores or replaces a custom role.
    async fn put_role(&mut self, role: &RoleRecord) -> TxResult<bool>;
    /// Whether a custom role of this name exists.
    async fn role_exists(&mut self, name: &str) -> TxResult<bool>;
    /// How many grants name a role.
    async fn grants_of_role(&mut self, name: &str) -> TxResult<u64>;
    /// Deletes a custom role.
    async fn delete_role(&mut self, name: &str) -> TxResult<()>;
}

/// Spaces' quotas and meters.
pub(crate) trait QuotaTable {
    /// A space's quota, if it has one.
    async fn quota(&mut self, space: &str) -> TxResult<Option<switchyard_model::quotas::Quota>>;
    /// Stores or replaces a space's quota.
    async fn put_quota(&mut self, space: &str, quota: &switchyard_model::quotas::Quota, now: Timestamp)
    -> TxResult<()>;
    /// Removes a space's quota (nothing when it has none).
    async fn delete_quota(&mut self, space: &str) -> TxResult<()>;
    /// Adds `counts` to a space's meters.
    async fn add_meters(&mut self, space: &str, counts: &switchyard_model::quotas::Meters) -> TxResult<()>;
}

/// Cluster nodes.
pub(crate) trait NodeTable {
    /// Registers a node or renews its heartbeat and address.
    async fn upsert_node(&mut self, node: &NodeRecord) -> TxResult<()>;
    /// Renews a registered node's heartbeat (nothing for an unknown node).
    async fn renew_node(&mut self, id: &str, at: Timestamp) -> TxResult<()>;
    /// Removes a node.
    async fn remove_node(&mut self, id: &str) -> TxResult<()>;
}

/// Spaces as a whole.
pub(crate) trait SpaceTable {
    /// Whether a space exists (see `space_rules::exists_sql`).
    async fn space_exists(&mut self, space: &str) -> TxResult<bool>;
    /// How many distinct names a space has in a table of named things (`space_rules::NAMED`).
    async fn count_names(&mut self, table: &str, space: &str) -> TxResult<u64>;
    /// Deletes a space's rows from one table; how many went.
    async fn delete_space_rows(&mut self, table: &str, space: &str) -> TxResult<u64>;
    /// Deletes a space's row in `spaces`.
    async fn delete_space_row(&mut self, space: &str) -> TxResult<()>;
    /// A space's values of one kind (`space_values`), as (name, value), by name.
    async fn space_values(&mut self, space: &str, kind: &str) -> TxResult<Vec<(String, String)>>;
    /// How many values of one kind a space has, and whether `name` is among them.
    async fn count_space_values(&mut self, space: &str, kind: &str, name: &str) -> TxResult<(u64, bool)>;
    /// Inserts or replaces a value.
    async fn upsert_space_value(
        &mut self,
        space: &str,
        kind: &str,
        name: &str,
        value: &str,
        now: Timestamp,
    ) -> TxResult<()>;
    /// Deletes a value; whether there was one.
    async fn delete_space_value(&mut self, space: &str, kind: &str, name: &str) -> TxResult<bool>;
}

/// A KV key by name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KvKey<'a> {
    pub space: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
}

/// A KV key's current row (a tombstone's too) as a write reads it, with its bucket's history.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KvKeyRow {
    pub revision: u64,
    pub deleted: bool,
    pub expires_at: Option<Timestamp>,
    /// Revisions its bucket keeps; `None` when the bucket's row is missing.
    pub history: Option<u32>,
}

/// A value about to become a key's current row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KvValue<'a> {
    /// At most `i64::MAX` (every revision a command computes is).
    pub revision: u64,
    pub value: &'a [u8],
    pub content_type: &'a str,
    pub expires_at: Option<Timestamp>,
}

/// A live key whose TTL ended, as the expiry sweep reads it.
#[derive(Debug)]
pub(crate) struct ExpiredKey {
    pub space: String,
    pub bucket: String,
    pub key: String,
    /// Its current revision.
    pub revision: u64,
    /// Revisions its bucket keeps; `None` when the bucket's row is missing.
    pub history: Option<u32>,
}

/// KV buckets (`kv_buckets`), keys at their current revision (`kv_keys`, tombstones included)
/// and past revisions (`kv_history`). Revisions passed in are at most `i64::MAX`.
pub(crate) trait KvTable {
    /// A bucket's history and creation time, locked for the rest of the transaction.
    async fn kv_bucket_for_update(&mut self, space: &str, bucket: &str) -> TxResult<Option<(u32, Timestamp)>>;
    /// A bucket's history.
    async fn kv_bucket_history(&mut self, space: &str, bucket: &str) -> TxResult<Option<u32>>;
    /// Inserts a bucket; `false` when it exists (on PostgreSQL, after waiting for the
    /// transaction that inserted it to commit).
    async fn insert_kv_bucket(&mut self, space: &str, bucket: &str, history: u32, now: Timestamp) -> TxResult<bool>;
    /// Changes a bucket's history.
    async fn set_kv_bucket_history(&mut self, space: &str, bucket: &str, history: u32) -> TxResult<()>;
    /// Forgets the past revisions of the bucket's keys at or below their current revision
    /// minus `history`.
    async fn prune_kv_history(&mut self, space: &str, bucket: &str, history: u32) -> TxResult<()>;
    /// A key's current row with its bucket's history, locked for the rest of the transaction.
    async fn kv_key_for_update(&mut self, key: KvKey<'_>) -> TxResult<Option<KvKeyRow>>;
    /// Copies a key's current row into its past revisions, then forgets its past revisions
    /// at or below `cutoff` (none when `None`).
    async fn archive_kv_key(&mut self, key: KvKey<'_>, cutoff: Option<u64>) -> TxResult<()>;
    /// [`KvTable::archive_kv_key`] for many keys, in a fixed number of statements.
    async fn archive_kv_keys(&mut self, keys: &[(KvKey<'_>, Option<u64>)]) -> TxResult<()>;
    /// Makes `value` a key's current row, inserting the key or replacing its row.
    async fn put_kv_key(&mut self, key: KvKey<'_>, value: &KvValue<'_>, now: Timestamp) -> TxResult<()>;
    /// Replaces a key's current row with a tombstone at `revision`.
    async fn tombstone_kv_key(&mut self, key: KvKey<'_>, revision: u64, now: Timestamp) -> TxResult<()>;
    /// [`KvTable::tombstone_kv_key`] for many keys (each with its revision), in a fixed number
    /// of statements.
    async fn tombstone_kv_keys(&mut self, keys: &[(KvKey<'_>, u64)], now: Timestamp) -> TxResult<()>;
    /// Up to `limit` live keys whose TTL ended at or before `due`, soonest expiry first,
    /// locked for the rest of the transaction. Skips rows another transaction holds (on
    /// PostgreSQL `FOR UPDATE SKIP LOCKED`): it never waits on a key a put is writing, and a
    /// key it skips is left for the next sweep.
    async fn expired_keys_for_update(&mut self, due: Timestamp, limit: u32) -> TxResult<Vec<ExpiredKey>>;
}

/// A subscription's row as a command reads it. Seqs are as stored.
#[derive(Debug)]
pub(crate) struct SubscriptionRow {
    pub filter: StoredFilter,
    /// Every record of its space up to this one was examined.
    pub cursor: i64,
    pub max_deliveries: i64,
}

/// A pending record of a subscription whose lease ended, with its log record.
#[derive(Debug)]
pub(crate) struct DueRecord {
    pub seq: i64,
    /// How many times it was leased.
    pub deliveries: i64,
    /// Its log record as read (decoded by the command, only when it needs it); `None` when the
    /// log no longer has it.
    pub record: Option<RawLogRow>,
}

/// A log record a scan examined.
#[derive(Debug)]
pub(crate) struct ScannedRecord {
    pub seq: i64,
    /// The record as read; `None` when its space, kind and address did not pass the scan's
    /// filter (the rest of it was not read).
    pub record: Option<RawLogRow>,
}

/// Durable subscriptions (`subscriptions`) and the records they delivered that no consumer
/// acked yet (`subscription_records`: leased, due again, or dead letters). Seqs are as stored;
/// a list of seqs names each at most once.
pub(crate) trait SubscriptionTable {
    /// A subscription's row.
    async fn subscription(&mut self, space: &str, name: &str) -> TxResult<Option<SubscriptionRow>>;
    /// Whether a subscription exists.
    async fn subscription_exists(&mut self, space: &str, name: &str) -> TxResult<bool>;
    /// Inserts a subscription with its filter serialised, its cursor at `start_after`.
    async fn insert_subscription(
        &mut self,
        spec: &SubscriptionSpec,
        filter: &str,
        start_after: i64,
        now: Timestamp,
    ) -> TxResult<()>;
    /// Writes a subscription's settings (its filter and cursor stay).
    async fn update_subscription(&mut self, spec: &SubscriptionSpec) -> TxResult<()>;
    /// Deletes a subscription's row; `false` when there was none.
    async fn delete_subscription(&mut self, space: &str, name: &str) -> TxResult<bool>;
    /// Deletes a subscription's pending records and dead letters.
    async fn delete_subscription_records(&mut self, space: &str, name: &str) -> TxResult<()>;
    /// Up to `limit` pending (not dead) records whose lease ended at or before `now`, with a
    /// seq above `after`, by seq.
    async fn due_records(
        &mut self,
        space: &str,
        name: &str,
        now: Timestamp,
        after: i64,
        limit: usize,
    ) -> TxResult<Vec<DueRecord>>;
    /// Makes pending records dead letters, dead since `now`.
    async fn kill_records(&mut self, space: &str, name: &str, seqs: &[i64], now: Timestamp) -> TxResult<()>;
    /// Forgets pending records.
    async fn forget_records(&mut self, space: &str, name: &str, seqs: &[i64]) -> TxResult<()>;
    /// Leases pending records again until `lease_until`, counting one more delivery on each.
    async fn lease_again(&mut self, space: &str, name: &str, seqs: &[i64], lease_until: i64) -> TxResult<()>;
    /// Inserts pending records leased until `lease_until`, delivered once.
    async fn lease_new(&mut self, space: &str, name: &str, seqs: &[i64], lease_until: i64) -> TxResult<()>;
    /// Moves a subscription's cursor.
    async fn set_cursor(&mut self, space: &str, name: &str, cursor: i64) -> TxResult<()>;
    /// Deletes the pending (not dead) records among `seqs`; the seqs it deleted.
    async fn ack_records(&mut self, space: &str, name: &str, seqs: &[i64]) -> TxResult<Vec<i64>>;
    /// Ends the leases of the pending records among `leases` that still count that many
    /// deliveries (`lease_until` 0); the seqs it changed.
    async fn end_leases(&mut self, space: &str, name: &str, leases: &[(i64, u32)]) -> TxResult<Vec<i64>>;
    /// Makes dead letters (those among `seqs`; all when `None`) pending again, with no
    /// deliveries counted and no lease; how many.
    async fn redrive_dead_letters(&mut self, space: &str, name: &str, seqs: Option<&[i64]>) -> TxResult<u64>;
    /// Deletes dead letters (those among `seqs`; all when `None`); how many.
    async fn discard_dead_letters(&mut self, space: &str, name: &str, seqs: Option<&[i64]>) -> TxResult<u64>;
    /// The oldest seq some subscription that does not allow loss still needs: the least of
    /// the seq after its cursor and its oldest record (pending or dead) at or above `oldest`
    /// (the oldest record the log keeps; rows below it name records that are gone). `None`
    /// when there is no such subscription.
    async fn retention_floor(&mut self, oldest: i64) -> TxResult<Option<i64>>;
    /// Forgets the pending (not dead) records at or below `seq` of subscriptions that allow
    /// loss.
    async fn forget_lost_records(&mut self, seq: i64) -> TxResult<()>;
}

/// The log (`events`) as commands read and trim it; records are appended through
/// [`GroupTable::append_log`]. Seqs are as stored. On PostgreSQL the group's own records are
/// not visible here (they are written at [`GroupTable::flush_log`]); on SQLite they are.
pub(crate) trait LogTable {
    /// The oldest record's seq.
    async fn oldest_seq(&mut self) -> TxResult<Option<i64>>;
    /// The newest record's seq (0 when the log is empty).
    async fn newest_seq(&mut self) -> TxResult<i64>;
    /// The newest record's seq and the log's byte total after it.
    async fn newest_end(&mut self) -> TxResult<Option<(i64, i64)>>;
    /// The oldest `limit` records' (seq, created at, byte total after it), by seq.
    async fn oldest_records(&mut self, limit: u32) -> TxResult<Vec<(i64, Timestamp, i64)>>;
    /// Deletes the records at or below `seq`; how many.
    async fn delete_records_through(&mut self, seq: i64) -> TxResult<u64>;
    /// Up to `limit` records of `space` with a seq above `after`, by seq. Of a record whose
    /// space, kind and address are text that `keep` refuses, only the seq is returned.
    async fn space_records_after(
        &mut self,
        space: &str,
        after: i64,
        limit: usize,
        keep: &(dyn Fn(&str, &str, &str) -> bool + Sync),
    ) -> TxResult<Vec<ScannedRecord>>;
}

/// Function versions (`functions`, each with its component).
pub(crate) trait FunctionTable {
    /// The latest version of a function, without its component.
    async fn latest_function(&mut self, space: &str, name: &str) -> TxResult<Option<FunctionSummary>>;
    /// Stores `spec`'s component as the version `stored` describes.
    async fn insert_function(&mut self, spec: &FunctionSpec, stored: &StoredFunction) -> TxResult<()>;
}

/// Invocation records (`invocations`); the table assigns each its `seq` (never reused).
pub(crate) trait InvocationTable {
    /// One of `ids` that is stored already.
    async fn stored_invocation_id(&mut self, ids: &[&str]) -> TxResult<Option<String>>;
    /// Whether an asynchronous invocation of the function has the idempotency key.
    async fn async_invocation_key_taken(&mut self, space: &str, function: &str, key: &str) -> TxResult<bool>;
    /// The asynchronous invocation of the function with the idempotency key.
    async fn async_invocation_by_key(
        &mut self,
        space: &str,
        function: &str,
        key: &str,
    ) -> TxResult<Option<InvocationRecord>>;
    /// Inserts an invocation (whose id and key are free); its seq.
    async fn insert_invocation(&mut self, invocation: &StoredInvocation<'_>) -> TxResult<u64>;
    /// Inserts invocations (whose ids and keys are free), their seqs in the order given; how
    /// many.
    async fn insert_invocations(&mut self, invocations: &[StoredInvocation<'_>]) -> TxResult<u64>;
    /// An invocation (without its input), locked for the rest of the transaction.
    async fn invocation_for_update(&mut self, space: &str, id: &str) -> TxResult<Option<InvocationRecord>>;
    /// Writes an invocation's status, attempt, output, error, logs and times over the stored
    /// record; whether there was one.
    async fn update_invocation(&mut self, invocation: &StoredInvocation<'_>) -> TxResult<bool>;
    /// Deletes up to `limit` finished invocations that finished before `before`, soonest
    /// finished first; how many. Skips rows another transaction holds (on PostgreSQL `SKIP
    /// LOCKED`): it never waits.
    async fn purge_invocations(&mut self, before: Timestamp, limit: u32) -> TxResult<u64>;
}

/// The work table.
pub(crate) trait JobTable {
    /// A space's job with this idempotency key.
    async fn job_by_key(&mut self, space: &str, key: &str) -> TxResult<Option<crate::JobRecord>>;
    /// A job, locked for the rest of the transaction.
    async fn job_for_update(&mut self, space: &str, id: &str) -> TxResult<Option<crate::JobRecord>>;
    /// Stores a new job.
    async fn insert_job(&mut self, job: &crate::JobRecord) -> TxResult<()>;
    /// Writes every column of a job that can change (status, payload, times, lease, attempts,
    /// error, result).
    async fn update_job(&mut self, job: &crate::JobRecord) -> TxResult<()>;
    /// [`JobTable::update_job`] for several jobs at once (one statement where the backend can).
    async fn update_jobs(&mut self, jobs: &[crate::JobRecord]) -> TxResult<()>;
    /// Deletes a job.
    async fn delete_job(&mut self, space: &str, id: &str) -> TxResult<()>;
    /// Deletes up to `limit` succeeded or cancelled jobs that finished before `before`, soonest
    /// finished first; how many. Skips rows another transaction holds (on PostgreSQL `SKIP
    /// LOCKED`): it never waits.
    async fn purge_jobs(&mut self, before: Timestamp, limit: u32) -> TxResult<u64>;
    /// Up to `limit` running jobs whose lease ended at or before `now`, locked; rows another
    /// transaction holds are skipped, never waited for.
    async fn expired_jobs_for_update(&mut self, now: Timestamp, limit: u32) -> TxResult<Vec<crate::JobRecord>>;
    /// Every space with pending jobs (due or not), by name: one index probe per space.
    async fn spaces_with_pending_jobs(&mut self) -> TxResult<Vec<String>>;
    /// Up to `limit` of a space's due pending jobs in queue order (priority, then due time),
    /// locked; rows another transaction holds are skipped, never waited for.
    async fn due_jobs_for_update(&mut self, space: &str, now: Timestamp, limit: u32)
    -> TxResult<Vec<crate::JobRecord>>;
    /// How many jobs run per space (their lease has not ended at `now`).
    async fn running_jobs(&mut self, now: Timestamp) -> TxResult<std::collections::BTreeMap<String, u32>>;
    /// The jobs of `ids` that `owner` still holds (running, leased to it), locked.
    async fn held_jobs_for_update(&mut self, owner: &str, ids: &[String]) -> TxResult<Vec<crate::JobRecord>>;
    /// Extends the leases `owner` still holds on these jobs to `until`; how many it held.
    async fn extend_job_leases(&mut self, owner: &str, ids: &[String], until: Timestamp) -> TxResult<u64>;
    /// Up to `limit` of a space's dead jobs (of one kind, if given), oldest first, locked.
    async fn dead_jobs_for_update(
        &mut self,
        space: &str,
        kind: Option<&str>,
        limit: u32,
    ) -> TxResult<Vec<crate::JobRecord>>;
}

/// Triggers (`triggers`): the current version of each.
pub(crate) trait TriggerTable {
    /// A trigger, locked for the rest of the transaction.
    async fn trigger_for_update(&mut self, space: &str, name: &str) -> TxResult<Option<TriggerRecord>>;
    /// Inserts or replaces a trigger's row.
    async fn upsert_trigger(&mut self, trigger: &TriggerRecord) -> TxResult<()>;
    /// Deletes a trigger's row; whether there was one.
    async fn delete_trigger(&mut self, space: &str, name: &str) -> TxResult<bool>;
}

/// Outbound webhook endpoints (`endpoints`): the current version of each.
pub(crate) trait EndpointTable {
    /// An endpoint, locked for the rest of the transaction.
    async fn endpoint_for_update(&mut self, space: &str, name: &str) -> TxResult<Option<EndpointRecord>>;
    /// Inserts or replaces an endpoint's row.
    async fn upsert_endpoint(&mut self, endpoint: &EndpointRecord) -> TxResult<()>;
    /// Deletes an endpoint's row; whether there was one.
    async fn delete_endpoint(&mut self, space: &str, name: &str) -> TxResult<bool>;
}

/// Every table: what a backend's transaction implements and what commands are written against.
pub(crate) trait Tables:
    GroupTable
    + IdempotencyTable
    + MachineTable
    + InstanceTable
    + TokenTable
    + AccessTable
    + QuotaTable
    + NodeTable
    + SpaceTable
    + KvTable
    + SubscriptionTable
    + LogTable
    + FunctionTable
    + InvocationTable
    + JobTable
    + TriggerTable
    + EndpointTable
{
}
