//! Request and response bodies, field for field as in docs/http-api.md.
//!
//! Timestamps stay RFC 3339 strings; contexts and payloads stay JSON. Response types serialize
//! back to the same JSON the server sent (for the documented fields).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON object (`ctx`, event payloads).
pub type JsonObject = Map<String, Value>;

/// Reply to `PUT /v1/spaces/{space}/machines/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PutMachine {
    /// The machine's name.
    pub name: String,
    /// The version now current.
    pub version: u64,
    /// False when the definition equalled the latest version, which was returned unchanged.
    pub created: bool,
}

/// One version of a machine, from `GET /v1/spaces/{space}/machines/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// The machine's name.
    pub name: String,
    /// This version's number.
    pub version: u64,
    /// The definition in its normalised JSON form.
    pub definition: Value,
    /// When this version was stored.
    pub created_at: String,
}

/// A machine's latest version in a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineSummary {
    /// The machine's name.
    pub name: String,
    /// Its latest version.
    pub version: u64,
    /// When that version was stored.
    pub created_at: String,
}

/// Reply to `GET /v1/spaces/{space}/machines`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineList {
    /// Latest version of each machine, by name.
    pub machines: Vec<MachineSummary>,
}

/// Body of `POST /v1/spaces/{space}/machines/{name}/instances`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateInstance {
    /// The instance id; the server assigns a UUIDv7 when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The initial context; `{}` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<JsonObject>,
    /// Makes a retry return the original instance instead of failing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// An instance of a machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// The instance id.
    pub id: String,
    /// The machine's name.
    pub machine: String,
    /// The machine version the instance runs on.
    pub machine_version: u64,
    /// The current state.
    pub state: String,
    /// The context.
    pub ctx: JsonObject,
    /// Increments on every applied event.
    pub revision: u64,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// `active`, `waiting`, `running`, `completed`, `failed` or `cancelled` (absent from
    /// servers before 0.x that had no statuses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why it failed or was cancelled: `{code, message}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
    /// The jobs of its current state (its action and timers), on a read of one instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Vec<PendingWork>>,
    /// The child instance its current state waits for, on a read of one instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<ChildInstance>,
    /// The instance that started this one as its child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentInstance>,
}

/// The child instance a state waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildInstance {
    /// Its address, `space:machine:id`.
    pub instance: String,
    /// Its current state.
    pub state: String,
    /// Its status.
    pub status: String,
}

/// The instance that started an instance as its child.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentInstance {
    /// Its address, `space:machine:id`.
    pub instance: String,
    /// Its state that started the child.
    pub state: String,
}

/// One job of an instance's current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingWork {
    /// The job's id.
    pub job: String,
    /// Its kind (`function`, `http`, `timer`, …).
    pub kind: String,
    /// The timer's name, for a timer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<String>,
    /// The job's status.
    pub status: String,
    /// Attempts started so far.
    pub attempt: u32,
    /// When it is due (RFC 3339).
    pub run_at: String,
    /// The last attempt's error: `{code, message}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<serde_json::Value>,
}

/// Body of `POST …/instances/{id}/cancel`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CancelInstance {
    /// Why (kept with the instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Query of `GET /v1/spaces/{space}/machines/{name}/instances`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListInstances {
    /// Only instances in this state.
    pub state: Option<String>,
    /// Page size, 1–1000 (server default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Reply to `GET /v1/spaces/{space}/machines/{name}/instances`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceList {
    /// This page, ordered by id.
    pub instances: Vec<Instance>,
    /// Cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Body of `POST …/instances/{id}/events`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SendEvent {
    /// The event's name.
    pub event: String,
    /// The event's payload; `{}` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<JsonObject>,
    /// Makes a retry return the original result instead of applying twice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Refuse with `conflict` unless the instance is in this state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_state: Option<String>,
    /// Refuse with `conflict` unless the instance is at this revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_revision: Option<u64>,
}

impl SendEvent {
    /// An event with no payload and no preconditions.
    pub fn new(event: impl Into<String>) -> SendEvent {
        SendEvent { event: event.into(), ..SendEvent::default() }
    }
}

/// Reply to an applied event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The state before.
    pub from: String,
    /// The state after.
    pub to: String,
    /// The instance's new revision.
    pub revision: u64,
    /// The event log record's sequence number.
    pub seq: u64,
    /// The context after.
    pub ctx: JsonObject,
}

/// One record of the event log (an instance's history, or a watch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// Position in the store's event log.
    pub seq: u64,
    /// `instance.created`, `instance.transitioned` or `instance.deleted`.
    pub kind: String,
    /// The instance's address, `space:machine:id`.
    pub address: String,
    /// Kind-specific payload.
    pub payload: Value,
    /// The idempotency key of the request that wrote it.
    pub idempotency_key: Option<String>,
    /// When it was written.
    pub created_at: String,
}

/// Reply to `GET …/instances/{id}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// This page, in `seq` order.
    pub events: Vec<HistoryEvent>,
    /// The `after` value of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A space the token may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Space {
    /// The space's name.
    pub name: String,
    /// When something was first written into it.
    pub created_at: String,
}

/// What deleting a space removed, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceDeletion {
    /// Machines, by name (every version went).
    pub machines: u64,
    /// Instances, deleted ones included.
    pub instances: u64,
    /// KV buckets.
    pub kv_buckets: u64,
    /// KV keys, deleted ones included.
    pub kv_keys: u64,
    /// Durable subscriptions.
    pub subscriptions: u64,
    /// Functions, by name (every version went).
    pub functions: u64,
    /// Invocation records.
    pub invocations: u64,
    /// Log records.
    pub log_records: u64,
    /// Idempotency records.
    pub idempotency_keys: u64,
}

/// Reply to `DELETE /v1/spaces/{space}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceDeleted {
    /// The space.
    pub space: String,
    /// What went.
    pub deleted: SpaceDeletion,
    /// The seq of the `space.deleted` record left in its place.
    pub seq: u64,
}

/// Reply to `GET /v1/spaces`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpaceList {
    /// The spaces.
    pub spaces: Vec<Space>,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads.
    Reader,
    /// Also writes: machines, instances, events, batches.
    Writer,
    /// Also manages tokens.
    Admin,
}

impl Role {
    /// The role's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "reader" => Ok(Role::Reader),
            "writer" => Ok(Role::Writer),
            "admin" => Ok(Role::Admin),
            _ => Err(format!("unknown role \"{s}\" (expected reader, writer or admin)")),
        }
    }
}

/// Body of `POST /v1/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateToken {
    /// A name for people.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Granted spaces, or `["*"]` for all.
    pub spaces: Vec<String>,
    /// The user or service account it belongs to (it then acts with its grants, narrowed to
    /// `role` on `spaces`); none for a standalone token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

/// Reply to `POST /v1/tokens`: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedToken {
    /// Public id, used to list and revoke.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Granted spaces, or `["*"]`.
    pub spaces: Vec<String>,
    /// When it was created.
    pub created_at: String,
    /// The user or service account it belongs to; none for a standalone token.
    #[serde(default)]
    pub principal: Option<String>,
    /// When it ends, if it does (a session).
    #[serde(default)]
    pub expires_at: Option<String>,
    /// The secret to send as `Authorization: Bearer …`.
    pub token: String,
}

/// A token as listed: no secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Public id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Granted spaces, or `["*"]`.
    pub spaces: Vec<String>,
    /// When it was created.
    pub created_at: String,
    /// When it was revoked; `None` while it works.
    pub revoked_at: Option<String>,
    /// The user or service account it belongs to; none for a standalone token.
    #[serde(default)]
    pub principal: Option<String>,
    /// When it ends, if it does (a session).
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Whether a sign-in made it.
    #[serde(default)]
    pub session: bool,
}

/// Reply to `GET /v1/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenList {
    /// The tokens the caller's grant covers.
    pub tokens: Vec<TokenInfo>,
}

/// A message to publish to a topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Publish {
    /// The message: any JSON value.
    pub payload: Value,
    /// An optional key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Optional string headers.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Makes a retry return the original seq instead of publishing twice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// Where a published message landed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    /// The message's seq in the event log.
    pub seq: u64,
}

/// What a watch follows; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchQuery {
    /// A seq to replay from (inclusive), or `now` (the default).
    pub from: Option<String>,
    /// An address, or a prefix pattern ending in `*`.
    pub address: Option<String>,
    /// Kinds, comma-separated.
    pub kind: Option<String>,
    /// Only records of instances entering this state.
    pub state: Option<String>,
    /// Only transitions caused by this event.
    pub event: Option<String>,
}
