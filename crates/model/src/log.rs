//! The event log as the product knows it: positions, records, their kinds, and the filters
//! watches and durable subscriptions pass records through.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::SpaceName;
use crate::time::Timestamp;

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
    /// An instance was moved to another version of its machine.
    pub const INSTANCE_MIGRATED: &str = "instance.migrated";
    /// An instance was cancelled (its pending work with it).
    pub const INSTANCE_CANCELLED: &str = "instance.cancelled";
    /// An instance stopped on an error nothing handled (an action's error without `on_error`,
    /// an outcome that could not be applied).
    pub const INSTANCE_FAILED: &str = "instance.failed";
    /// An attempt of the instance's action failed and will be retried (the error, when).
    pub const INSTANCE_ATTEMPT_FAILED: &str = "instance.attempt_failed";
    /// A job of a state the instance had left reported; its result was kept with the job and
    /// not applied.
    pub const INSTANCE_RESULT_IGNORED: &str = "instance.result_ignored";
    /// A state of the instance started a child instance and waits for its end.
    pub const INSTANCE_CHILD_STARTED: &str = "instance.child_started";
    /// A user signed in (`{"principal","session"}`), in the system space like every audit
    /// record; each names who acted as `principal` (`{"id","kind","name"}`).
    pub const AUDIT_SIGN_IN: &str = "audit.sign_in";
    /// A sign-in was refused (`{"principal"` when the name is a user's`,"name","reason","locked_until"}`).
    pub const AUDIT_SIGN_IN_FAILED: &str = "audit.sign_in_failed";
    /// A user signed out (`{"principal","session"}`).
    pub const AUDIT_SIGN_OUT: &str = "audit.sign_out";
    /// A user's password was changed or reset (`{"principal","user","revoked"}`: the sessions,
    /// and after a reset the tokens, it ended).
    pub const AUDIT_PASSWORD_CHANGED: &str = "audit.password_changed";
    /// A token was created (`{"principal","token","name","owner","role","spaces"}`).
    pub const AUDIT_TOKEN_CREATED: &str = "audit.token_created";
    /// A token was revoked (`{"principal","token"}`).
    pub const AUDIT_TOKEN_REVOKED: &str = "audit.token_revoked";
    /// A user or service account was created (`{"principal","id","kind","name","org","grants"}`).
    pub const AUDIT_PRINCIPAL_CREATED: &str = "audit.principal_created";
    /// A user or service account was deleted (`{"principal","id","tokens_revoked"}`).
    pub const AUDIT_PRINCIPAL_DELETED: &str = "audit.principal_deleted";
    /// A grant was made (`{"principal","grant","to","role","pattern"}`).
    pub const AUDIT_GRANT_CREATED: &str = "audit.grant_created";
    /// A grant was deleted (`{"principal","grant","to","role","pattern"}`).
    pub const AUDIT_GRANT_DELETED: &str = "audit.grant_deleted";
    /// A custom role was put (`{"principal","role","permissions","created"}`).
    pub const AUDIT_ROLE_PUT: &str = "audit.role_put";
    /// A custom role was deleted (`{"principal","role"}`).
    pub const AUDIT_ROLE_DELETED: &str = "audit.role_deleted";
    /// A space's quota was set or removed (`{"principal","space","quota"}`, `quota` null when removed).
    pub const AUDIT_QUOTA_SET: &str = "audit.quota_set";
    /// An org was created (`{"principal","org"}`).
    pub const AUDIT_ORG_CREATED: &str = "audit.org_created";
    /// An org was deleted (`{"principal","org","grants_deleted"}`).
    pub const AUDIT_ORG_DELETED: &str = "audit.org_deleted";
    /// Every audit record kind.
    pub const AUDIT: &[&str] = &[
        AUDIT_SIGN_IN,
        AUDIT_SIGN_IN_FAILED,
        AUDIT_SIGN_OUT,
        AUDIT_PASSWORD_CHANGED,
        AUDIT_TOKEN_CREATED,
        AUDIT_TOKEN_REVOKED,
        AUDIT_PRINCIPAL_CREATED,
        AUDIT_PRINCIPAL_DELETED,
        AUDIT_GRANT_CREATED,
        AUDIT_GRANT_DELETED,
        AUDIT_ROLE_PUT,
        AUDIT_ROLE_DELETED,
        AUDIT_QUOTA_SET,
        AUDIT_ORG_CREATED,
        AUDIT_ORG_DELETED,
    ];
    /// A message was published to a topic.
    pub const TOPIC_MESSAGE: &str = "topic.message";
    /// A KV key was written.
    pub const KV_PUT: &str = "kv.put";
    /// A KV key was deleted or its TTL expired.
    pub const KV_DELETED: &str = "kv.deleted";
    /// A space's `env` value was set (`{"name","value"}`).
    pub const ENV_SET: &str = "env.set";
    /// A space's `env` value was deleted (`{"name"}`).
    pub const ENV_DELETED: &str = "env.deleted";
    /// A space's secret was set (`{"name"}`: never its value).
    pub const SECRET_SET: &str = "secret.set";
    /// A space's secret was deleted (`{"name"}`).
    pub const SECRET_DELETED: &str = "secret.deleted";
    /// A trigger was put, a new version (`{"name","version","definition"}`).
    pub const TRIGGER_PUT: &str = "trigger.put";
    /// A trigger was deleted (`{"name","version"}`).
    pub const TRIGGER_DELETED: &str = "trigger.deleted";
    /// A trigger was paused (`{"name"}`).
    pub const TRIGGER_PAUSED: &str = "trigger.paused";
    /// A paused trigger was resumed (`{"name"}`).
    pub const TRIGGER_RESUMED: &str = "trigger.resumed";
    /// An outbound webhook endpoint was put, a new version (`{"name","version","definition"}`).
    pub const ENDPOINT_PUT: &str = "endpoint.put";
    /// An endpoint was deleted (`{"name","version"}`).
    pub const ENDPOINT_DELETED: &str = "endpoint.deleted";
    /// An endpoint was disabled (`{"name","reason"}`): by a person, or by a `410 Gone` answer.
    pub const ENDPOINT_DISABLED: &str = "endpoint.disabled";
    /// A disabled endpoint was enabled again (`{"name"}`).
    pub const ENDPOINT_ENABLED: &str = "endpoint.enabled";
    /// An event-pattern trigger fired for a log record (`{"execution","status","result","error"}`);
    /// other executions are jobs, logged as `job.*`.
    pub const TRIGGER_FIRED: &str = "trigger.fired";
    /// A space was deleted with everything in it; the one record of the space the deletion
    /// leaves (its payload is the [`SpaceDeletion`](crate::spaces::SpaceDeletion)).
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
    /// The record as expressions see it (an event pattern's and an endpoint's `record`, an
    /// endpoint's delivered `data`): `seq`, `kind`, `address`, `payload`, `created_at`, and
    /// `state` — the state a transition went to (or the instance's state), else null.
    pub fn expression_view(&self) -> Value {
        let state = self.payload.get("to").or_else(|| self.payload.get("state")).cloned().unwrap_or(Value::Null);
        serde_json::json!({
            "seq": self.seq.0,
            "kind": self.kind,
            "address": self.address,
            "payload": self.payload,
            "state": state,
            "created_at": self.created_at.to_rfc3339(),
        })
    }

    /// Whether every part of the stored record was read.
    pub fn is_readable(&self) -> bool {
        self.unreadable.is_none()
    }
}

/// Which addresses a log filter passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum AddressFilter {
    /// Everything in the space.
    Any,
    /// Exactly this address.
    Exact(String),
    /// Addresses starting with this prefix (from a pattern ending in `*`).
    Prefix(String),
}

impl AddressFilter {
    /// The filter written as a pattern (`*`, an address, or a prefix followed by `*`).
    pub fn to_pattern(&self) -> String {
        match self {
            AddressFilter::Any => "*".to_string(),
            AddressFilter::Exact(a) => a.clone(),
            AddressFilter::Prefix(p) => format!("{p}*"),
        }
    }
}

/// Which log records a watch or a subscription passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter {
    /// The space followed.
    pub space: SpaceName,
    /// Which addresses.
    pub address: AddressFilter,
    /// Only these kinds (all when empty).
    pub kinds: Vec<String>,
    /// Only records about an instance entering (or created in) this state.
    pub state: Option<String>,
    /// Only transitions caused by this event.
    pub event: Option<String>,
}

impl LogFilter {
    /// Whether a record of this space, kind and address can pass: the test on a record's
    /// columns, without its payload (which `state` and `event` need).
    pub fn matches_columns(&self, space: &str, kind: &str, address: &str) -> bool {
        let address_ok = match &self.address {
            AddressFilter::Any => true,
            AddressFilter::Exact(a) => address == a,
            AddressFilter::Prefix(p) => address.starts_with(p.as_str()),
        };
        space == self.space.as_str() && address_ok && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind))
    }

    /// Whether `record` passes. A record marked unreadable passes on its columns alone: its
    /// payload, which `state` and `event` test, is unknown, and a reader of its space is better
    /// told of it than left to miss it unawares.
    pub fn matches(&self, record: &LogRecord) -> bool {
        if !self.matches_columns(record.space.as_str(), &record.kind, &record.address) {
            return false;
        }
        if !record.is_readable() {
            return true;
        }
        // A created record names its state as `state`, a transition as `to`.
        let state_ok = self.state.as_deref().is_none_or(|s| {
            record.payload.get("to").or_else(|| record.payload.get("state")).and_then(|v| v.as_str()) == Some(s)
        });
        let event_ok =
            self.event.as_deref().is_none_or(|e| record.payload.get("event").and_then(|v| v.as_str()) == Some(e));
        state_ok && event_ok
    }
}
