//! Instances: creation on a machine's latest version, events through the model's transition,
//! soft deletion.

use switchyard_model::{
    Idempotency, InstanceKey, InstanceRecord, JsonObject, Revision, Seq, SpaceName, TransitionApplied, kinds,
};

use super::{Command, Cx, Locking, compiled_machine};
use crate::error::StoreError;
use crate::records::{CreatedRecord, TransitionedRecord};
use crate::tables::{Locks, Tables, TxResult};

/// Creates an instance on the machine's latest version, in its initial state.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateInstance {
    /// The new instance.
    pub key: InstanceKey,
    /// Its initial context (checked against the machine's context schema).
    pub ctx: JsonObject,
    /// The request's idempotency key, if any.
    pub idempotency: Option<Idempotency>,
}

/// An instance exists; `replayed` when an idempotency key returned the original.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceCreated {
    /// The instance as created.
    pub instance: InstanceRecord,
    /// Whether this is the stored result of an earlier request with the same key.
    pub replayed: bool,
}

request!(CreateInstance => InstanceCreated(InstanceCreated));

impl Locking for CreateInstance {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        // The row does not exist yet: a concurrent insert of the same key would make it wait.
        locks.exclusive(format!("instance:{}", self.key.address()));
        locks.writes_into(self.key.space.as_ref());
    }
}

impl Command for CreateInstance {
    fn idempotency(&self) -> Option<(&SpaceName, &Idempotency)> {
        self.idempotency.as_ref().map(|idem| (&self.key.space, idem))
    }

    fn replay(&self, stored: &str) -> Result<Self::Output, StoreError> {
        let instance = crate::persisted::StoredInstance::read(stored)?;
        Ok(InstanceCreated { instance, replayed: true })
    }

    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let key = &self.key;
        let (space, machine) = (key.space.as_ref(), key.machine.as_ref());
        let Some(version) = tx.latest_machine_version(space, machine).await? else {
            let e = StoreError::MachineNotFound { space: space.to_string(), name: machine.to_string(), version: None };
            return Err(e.into());
        };
        let compiled = compiled_machine(tx, cx.machines, space, machine, version).await?;
        compiled.validate_context(&self.ctx).map_err(StoreError::InvalidContext)?;
        let instance = InstanceRecord::created(key, version, compiled.initial_state(), &self.ctx, cx.now);
        let ctx_text = serde_json::to_string(&self.ctx)?;
        if !tx.insert_instance(key, version, &instance.state, &ctx_text, cx.now).await? {
            return Err(StoreError::InstanceExists { address: key.address() }.into());
        }
        let record = CreatedRecord { machine_version: version.get(), state: &instance.state, ctx: &instance.ctx };
        let idem_key = self.idempotency.as_ref().map(|i| i.key.as_str());
        cx.append(tx, space, kinds::INSTANCE_CREATED, key.address(), &record, idem_key, false).await?;
        Ok(InstanceCreated { instance, replayed: false })
    }
}

/// Applies an event to an instance: the hot path.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyEvent {
    /// The instance.
    pub key: InstanceKey,
    /// The event's name.
    pub event: String,
    /// The event's payload.
    pub payload: JsonObject,
    /// Refuse unless the instance is in this state.
    pub expected_state: Option<String>,
    /// Refuse unless the instance is at this revision.
    pub expected_revision: Option<Revision>,
    /// The request's idempotency key, if any.
    pub idempotency: Option<Idempotency>,
    /// The largest context the instance may have after the event, in bytes of compact
    /// JSON (the node's `--max-context-bytes`); a larger one refuses the event.
    pub max_context_bytes: usize,
}

/// An event was applied; `replayed` when an idempotency key returned the original.
#[derive(Debug, Clone, PartialEq)]
pub struct EventApplied {
    /// The transition.
    pub applied: TransitionApplied,
    /// Whether this is the stored result of an earlier request with the same key.
    pub replayed: bool,
}

request!(ApplyEvent => EventApplied(EventApplied));

impl Locking for ApplyEvent {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        // No space lock: the instance's row lock is enough, as a deletion of the space waits on
        // it before it empties what this writes (see `space_rules`).
        locks.instance(&self.key);
    }
}

impl Command for ApplyEvent {
    fn idempotency(&self) -> Option<(&SpaceName, &Idempotency)> {
        self.idempotency.as_ref().map(|idem| (&self.key.space, idem))
    }

    fn replay(&self, stored: &str) -> Result<Self::Output, StoreError> {
        let applied = crate::persisted::StoredTransition::read(stored)?;
        Ok(EventApplied { applied, replayed: true })
    }

    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let key = &self.key;
        let (space, machine) = (key.space.as_ref(), key.machine.as_ref());
        let Some(row) = tx.instance_for_update(key).await? else {
            return Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: None }.into());
        };
        if let Some(at) = row.deleted_at {
            return Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: Some(at) }.into());
        }
        let state_ok = self.expected_state.as_deref().is_none_or(|s| s == row.state);
        let revision_ok = self.expected_revision.is_none_or(|r| r == row.revision);
        if !state_ok || !revision_ok {
            let e =
                StoreError::Conflict { address: key.address(), actual_state: row.state, actual_revision: row.revision };
            return Err(e.into());
        }
        let compiled = compiled_machine(tx, cx.machines, space, machine, row.machine_version).await?;
        let ctx: JsonObject = serde_json::from_str(&row.ctx)?;
        let outcome = compiled
            .apply(&row.state, &ctx, &self.event, &self.payload, cx.now.as_millis())
            .map_err(StoreError::from)?;
        let revision = row.revision.next();
        let new_ctx_text = serde_json::to_string(&outcome.ctx)?;
        crate::machines::check_context_size(&new_ctx_text, self.max_context_bytes)?;
        tx.update_instance(key, &outcome.to, &new_ctx_text, revision, cx.now).await?;
        let record = TransitionedRecord {
            event: &self.event,
            payload: &self.payload,
            from: &row.state,
            to: &outcome.to,
            revision: revision.get(),
        };
        let idem_key = self.idempotency.as_ref().map(|i| i.key.as_str());
        cx.append(tx, space, kinds::INSTANCE_TRANSITIONED, key.address(), &record, idem_key, true).await?;
        // The seq is patched in when the group's records are numbered.
        let applied = TransitionApplied { from: row.state, to: outcome.to, revision, seq: Seq(0), ctx: outcome.ctx };
        Ok(EventApplied { applied, replayed: false })
    }
}

/// Soft-deletes an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteInstance {
    /// The instance.
    pub key: InstanceKey,
}

request!(DeleteInstance => InstanceDeleted);

impl Locking for DeleteInstance {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.instance(&self.key);
    }
}

impl Command for DeleteInstance {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let key = &self.key;
        match tx.instance_deleted_at_for_update(key).await? {
            None => Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: None }.into()),
            Some(Some(at)) => Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: Some(at) }.into()),
            Some(None) => {
                tx.mark_instance_deleted(key, cx.now).await?;
                let payload = serde_json::json!({});
                cx.append(tx, key.space.as_ref(), kinds::INSTANCE_DELETED, key.address(), &payload, None, false)
                    .await?;
                Ok(())
            }
        }
    }
}
