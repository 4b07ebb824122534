//! The stored forms of idempotent requests' responses: types of their own, never the in-memory
//! records serialised as they happen to be, so renaming a field of `InstanceRecord` or
//! `TransitionApplied` cannot break a response stored by an earlier build.
//!
//! Every form carries a version `v`; a response stored before versions existed has none and is
//! read as version 1 (its fields are exactly version 1's). A later change adds a version and
//! keeps reading every earlier one.

use serde::{Deserialize, Serialize};
use switchyard_model::{InstanceRecord, JsonObject, Seq, Timestamp, TransitionApplied};

use crate::error::StoreError;

/// The version this build writes.
const VERSION: u32 = 1;

/// A stored instance (the response of a create).
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredInstance {
    #[serde(default = "v1")]
    v: u32,
    space: String,
    machine: String,
    id: String,
    machine_version: u32,
    state: String,
    ctx: JsonObject,
    revision: u64,
    created_at: i64,
    updated_at: i64,
    #[serde(default)]
    deleted_at: Option<i64>,
    /// Absent from responses stored before instances had a status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
}

/// A stored transition (the response of an event).
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredTransition {
    #[serde(default = "v1")]
    v: u32,
    from: String,
    to: String,
    revision: u64,
    seq: u64,
    ctx: JsonObject,
}

/// A stored publish (its message's seq).
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredPublish {
    #[serde(default = "v1")]
    v: u32,
    seq: u64,
}

fn v1() -> u32 {
    1
}

fn unknown(v: u32) -> StoreError {
    StoreError::Corrupt(format!("a stored response of version {v}, newer than this build reads"))
}

impl StoredInstance {
    /// The stored form of `instance`.
    pub(crate) fn of(instance: &InstanceRecord) -> StoredInstance {
        StoredInstance {
            v: VERSION,
            space: instance.space.to_string(),
            machine: instance.machine.to_string(),
            id: instance.id.to_string(),
            machine_version: instance.machine_version.get(),
            state: instance.state.clone(),
            ctx: instance.ctx.clone(),
            revision: instance.revision.get(),
            created_at: instance.created_at.0,
            updated_at: instance.updated_at.0,
            deleted_at: instance.deleted_at.map(|t| t.0),
            status: Some(instance.status.as_str().to_owned()),
        }
    }

    /// Reads a stored response back.
    pub(crate) fn read(text: &str) -> Result<InstanceRecord, StoreError> {
        let s: StoredInstance = serde_json::from_str(text)?;
        if s.v != 1 {
            return Err(unknown(s.v));
        }
        Ok(InstanceRecord {
            space: crate::decode::space(s.space)?,
            machine: crate::decode::segment(s.machine)?,
            id: crate::decode::segment(s.id)?,
            machine_version: crate::decode::machine_version(s.machine_version)?,
            state: s.state,
            ctx: s.ctx,
            revision: crate::decode::revision(s.revision)?,
            created_at: Timestamp(s.created_at),
            updated_at: Timestamp(s.updated_at),
            deleted_at: s.deleted_at.map(Timestamp),
            status: s.status.as_deref().map(crate::decode::instance_status).unwrap_or_default(),
            work: Vec::new(),
            error: None,
            // Only instances created by a request are stored, and a request creates no child.
            parent: None,
            unreadable: None,
        })
    }
}

impl StoredTransition {
    /// The stored form of `applied`.
    pub(crate) fn of(applied: &TransitionApplied) -> StoredTransition {
        StoredTransition {
            v: VERSION,
            from: applied.from.clone(),
            to: applied.to.clone(),
            revision: applied.revision.get(),
            seq: applied.seq.0,
            ctx: applied.ctx.clone(),
        }
    }

    /// Reads a stored response back.
    pub(crate) fn read(text: &str) -> Result<TransitionApplied, StoreError> {
        let s: StoredTransition = serde_json::from_str(text)?;
        if s.v != 1 {
            return Err(unknown(s.v));
        }
        Ok(TransitionApplied {
            from: s.from,
            to: s.to,
            revision: crate::decode::revision(s.revision)?,
            seq: Seq(s.seq),
            ctx: s.ctx,
        })
    }
}

impl StoredPublish {
    /// The stored form of a publish's seq.
    pub(crate) fn of(seq: Seq) -> StoredPublish {
        StoredPublish { v: VERSION, seq: seq.0 }
    }

    /// Reads a stored response back.
    pub(crate) fn read(text: &str) -> Result<Seq, StoreError> {
        let s: StoredPublish = serde_json::from_str(text)?;
        if s.v != 1 {
            return Err(unknown(s.v));
        }
        Ok(Seq(s.seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Responses exactly as builds before versions stored them still read back.
    #[test]
    fn unversioned_responses_of_earlier_builds_read_as_version_1() {
        let instance = r#"{"space":"acme","machine":"orders","id":"o-1","machine_version":1,"state":"new","ctx":{"n":1},"revision":1,"created_at":5,"updated_at":5,"deleted_at":null}"#;
        let read = StoredInstance::read(instance).unwrap();
        assert_eq!((read.id.as_str(), read.state.as_str(), read.revision.get()), ("o-1", "new", 1));
        let transition = r#"{"from":"new","to":"paid","revision":2,"seq":9,"ctx":{}}"#;
        let read = StoredTransition::read(transition).unwrap();
        assert_eq!((read.to.as_str(), read.seq), ("paid", Seq(9)));
        assert_eq!(StoredPublish::read(r#"{"seq":4}"#).unwrap(), Seq(4));
        assert!(matches!(StoredPublish::read(r#"{"v":2,"seq":4}"#), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn written_forms_carry_their_version_and_round_trip() {
        let text = serde_json::to_string(&StoredPublish::of(Seq(7))).unwrap();
        assert_eq!(text, r#"{"v":1,"seq":7}"#);
        assert_eq!(StoredPublish::read(&text).unwrap(), Seq(7));
    }
}
