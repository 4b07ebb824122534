//! The store's errors: refusals of an operation (nothing was written) and failures of the
//! backend.

use switchyard_model::{ContextError, MachineVersion, Revision, SpaceValueKind, Timestamp, TransitionError};

/// Why a store operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The machine (or that version of it) does not exist.
    #[error("machine \"{space}:{name}\"{} not found", version.map(|v| format!(" version {v}")).unwrap_or_default())]
    MachineNotFound {
        /// The space.
        space: String,
        /// The machine's name.
        name: String,
        /// The version asked for, if one was.
        version: Option<MachineVersion>,
    },
    /// The instance does not exist or was deleted.
    #[error("instance \"{address}\" {}", if deleted_at.is_some() { "was deleted" } else { "not found" })]
    InstanceNotFound {
        /// The instance's address.
        address: String,
        /// When it was deleted, if it was.
        deleted_at: Option<Timestamp>,
    },
    /// An instance with that id exists (or existed: ids of deleted instances are not reused).
    #[error("instance \"{address}\" already exists")]
    InstanceExists {
        /// The instance's address.
        address: String,
    },
    /// The instance was cancelled or stopped on an error (or, for a cancellation, is final):
    /// it accepts nothing more.
    #[error("instance \"{address}\" is {status} and accepts no more events or cancellation")]
    InstanceFinished {
        /// The instance's address.
        address: String,
        /// Its status.
        status: String,
    },
    /// A migration to another version was refused: the instance's state is not in it.
    #[error("instance \"{address}\" cannot move to version {version}: {reason}")]
    MigrationRefused {
        /// The instance's address.
        address: String,
        /// The version asked for.
        version: MachineVersion,
        /// Why not.
        reason: String,
    },
    /// An `expected_state` or `expected_revision` precondition did not hold.
    #[error("instance \"{address}\" is in state \"{actual_state}\" at revision {actual_revision}, not as expected")]
    Conflict {
        /// The instance's address.
        address: String,
        /// Its actual state.
        actual_state: String,
        /// Its actual revision.
        actual_revision: Revision,
    },
    /// The idempotency key was used before for a different request.
    #[error("idempotency key \"{key}\" was already used for a different request")]
    IdempotencyKeyReused {
        /// The key.
        key: String,
    },
    /// The machine refused the event.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A new instance's context breaks the machine's context schema.
    #[error("ctx does not match the machine's context_schema: {0}")]
    InvalidContext(ContextError),
    /// A stored definition no longer compiles (written by an older, less strict version); its
    /// instances refuse events, and nothing else is affected.
    #[error(
        "the stored definition of machine \"{address}\" does not compile with this version of Switchyard \
         ({message}); its instances refuse events: put a corrected version of the machine for new \
         instances"
    )]
    BadDefinition {
        /// The machine version's address.
        address: String,
        /// Why it does not load.
        message: String,
    },
    /// A KV write's precondition (`If-Match` / `If-None-Match`) did not hold.
    #[error("KV key \"{address}\" is {}, not as expected", match current { Some(r) => format!("at revision {r}"), None => "not set".to_string() })]
    KvConflict {
        /// The key's address (`space:bucket:key`).
        address: String,
        /// Its live revision, if it is live.
        current: Option<u64>,
    },
    /// The KV key is not set (never written, deleted or expired).
    #[error("KV key \"{address}\" not found")]
    KvNotFound {
        /// The key's address (`space:bucket:key`).
        address: String,
    },
    /// No `env` value or secret of that name in the space.
    #[error("{} \"{name}\" is not set in space \"{space}\"", if *kind == SpaceValueKind::Env { "env value" } else { "secret" })]
    SpaceValueNotFound {
        /// The space.
        space: String,
        /// `env` or `secret`.
        kind: SpaceValueKind,
        /// The name.
        name: String,
    },
    /// No outbound webhook endpoint of that name in the space.
    #[error("endpoint \"{space}:{name}\" not found")]
    EndpointNotFound {
        /// The space.
        space: String,
        /// The name.
        name: String,
    },
    /// No trigger of that name in the space.
    #[error("trigger \"{space}:{name}\" not found")]
    TriggerNotFound {
        /// The space.
        space: String,
        /// The name.
        name: String,
    },
    /// The space holds as many values of the kind as it may.
    #[error("space \"{space}\" already has {limit} {kind} values, the most it may hold; delete one first")]
    TooManySpaceValues {
        /// The space.
        space: String,
        /// `env` or `secret`.
        kind: SpaceValueKind,
        /// The limit.
        limit: usize,
    },
    /// No such durable subscription.
    #[error("subscription \"{space}:{name}\" not found")]
    SubscriptionNotFound {
        /// The space.
        space: String,
        /// The subscription.
        name: String,
    },
    /// A subscription with that name follows a different filter (a filter cannot change:
    /// delete the subscription and create it again).
    #[error(
        "subscription \"{space}:{name}\" already exists with a different filter; delete it first to change the filter"
    )]
    SubscriptionFilterChanged {
        /// The space.
        space: String,
        /// The subscription.
        name: String,
    },
    /// A subscription was asked to start before the oldest record the log still keeps.
    #[error("the log no longer keeps records that old; the oldest kept is seq {oldest}")]
    SeqExpired {
        /// The oldest seq kept.
        oldest: switchyard_model::Seq,
    },
    /// Nothing of the space exists (never written into, or deleted).
    #[error("space \"{space}\" not found")]
    SpaceNotFound {
        /// The space.
        space: String,
    },
    /// No such token.
    #[error("token \"{id}\" not found")]
    TokenNotFound {
        /// The token's id.
        id: String,
    },
    /// No such user or service account.
    #[error("principal \"{id}\" not found")]
    PrincipalNotFound {
        /// The principal's id.
        id: String,
    },
    /// No such org.
    #[error("org \"{name}\" not found")]
    OrgNotFound {
        /// The org's name.
        name: String,
    },
    /// An org of that name exists.
    #[error("org \"{name}\" exists")]
    OrgExists {
        /// The org's name.
        name: String,
    },
    /// An org has members or projects, so it cannot be deleted.
    #[error(
        "org \"{name}\" has {members} member(s) and {projects} project(s); delete them first (an org's projects are the spaces named \"{name}.…\")"
    )]
    OrgInUse {
        /// The org's name.
        name: String,
        /// Its members.
        members: u64,
        /// Its projects (spaces).
        projects: u64,
    },
    /// A user of that name exists.
    #[error("a user named \"{name}\" exists; user names are unique")]
    UserNameTaken {
        /// The name.
        name: String,
    },
    /// No such grant.
    #[error("grant \"{id}\" not found")]
    GrantNotFound {
        /// The grant's id.
        id: String,
    },
    /// The principal holds that role on that pattern already.
    #[error("the principal holds role \"{role}\" on \"{pattern}\" already")]
    GrantExists {
        /// The role.
        role: String,
        /// The pattern.
        pattern: String,
    },
    /// No such custom role.
    #[error("role \"{name}\" not found")]
    RoleNotFound {
        /// The role's name.
        name: String,
    },
    /// A custom role is granted, so it cannot be deleted.
    #[error("role \"{name}\" is in {grants} grant(s); delete them first")]
    RoleInUse {
        /// The role's name.
        name: String,
        /// How many grants name it.
        grants: u64,
    },
    /// No such job in the space.
    #[error("job \"{id}\" not found in space \"{space}\"")]
    JobNotFound {
        /// The space.
        space: String,
        /// The job's id.
        id: String,
    },
    /// The job's status does not allow the change (re-driving a job that is not dead, deleting
    /// one that runs, cancelling one that finished).
    #[error("job \"{id}\" is {status}: {reason}")]
    JobConflict {
        /// The job's id.
        id: String,
        /// Its status.
        status: String,
        /// What would be needed, for a person.
        reason: String,
    },
    /// One operation of an atomic batch failed, so none was applied.
    #[error("operation {index} of the batch failed: {source}")]
    BatchFailed {
        /// The failing operation's position in the batch.
        index: usize,
        /// Why it failed.
        source: Box<StoreError>,
    },
    /// The store was written by a newer Switchyard.
    #[error("the store has schema version {found}, but this switchyard supports up to {supported}; upgrade switchyard")]
    SchemaTooNew {
        /// The store's schema version.
        found: u32,
        /// The newest this build knows.
        supported: u32,
    },
    /// The store's files could not be opened or created.
    #[error("cannot open the store at {path}: {message}")]
    Open {
        /// Where.
        path: String,
        /// Why.
        message: String,
    },
    /// The backend failed; nothing of the operation was applied.
    #[error("storage failure: {0}")]
    Backend(String),
    /// Stored data does not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A bug stopped this one operation; it was rolled back.
    #[error("internal error: {0}")]
    Internal(String),
    /// The store stopped accepting writes after a storage failure.
    #[error("the store stopped accepting writes after a storage failure ({0}); restart the server")]
    Failed(String),
    /// The write may or may not have been applied, or may not survive a crash: the connection to
    /// the database was lost while committing, or the commit's fsync failed. The text says which.
    #[error("this write may or may not have been applied: {0}; retry it with the same idempotency key")]
    OutcomeUnknown(String),
    /// The database could not be reached: no connection could be had, or the connection was
    /// lost (or ended by the server) before the operation committed. Nothing of the operation
    /// was applied; it may work once the database is back.
    #[error("the database cannot be reached ({0}); nothing was applied: retry once it is back")]
    Unreachable(String),
    /// The store is shut down.
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// The error itself, or for a failed batch the error of the operation that failed.
    pub fn root(&self) -> &StoreError {
        match self {
            StoreError::BatchFailed { source, .. } => source.root(),
            other => other,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The database's own message and code, when it sent one; the chain otherwise. A lost
        // connection, or the server ending or refusing it (class 08 connection exception,
        // 57P01-57P03 shutdown, cannot connect now), is the database being out of reach, not a
        // fault of this operation.
        match e.as_db_error() {
            Some(db) => {
                let code = db.code().code();
                let message = format!("{} ({code})", db.message());
                if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") {
                    StoreError::Unreachable(message)
                } else {
                    StoreError::Backend(message)
                }
            }
            None if e.is_closed() || lost_connection(&e) => StoreError::Unreachable(e.to_string()),
            None => StoreError::Backend(e.to_string()),
        }
    }
}

/// Whether a client error is the socket failing (reset, closed under it, timed out), as
/// opposed to a message that could not be encoded or parsed.
fn lost_connection(e: &tokio_postgres::Error) -> bool {
    use std::io::ErrorKind::*;
    std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>()).is_some_and(|io| {
        matches!(
            io.kind(),
            ConnectionReset
                | ConnectionAborted
                | ConnectionRefused
                | BrokenPipe
                | UnexpectedEof
                | TimedOut
                | NotConnected
                | HostUnreachable
                | NetworkUnreachable
        )
    })
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
