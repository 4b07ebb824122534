//! Instances: creation on a machine's latest version, events through the model's transition,
//! soft deletion.

use switchyard_model::{
    Idempotency, InstanceKey, InstanceRecord, JsonObject, Revision, Seq, SpaceName, TransitionApplied, kinds,
};

use super::{Command, Cx, Locking, compiled_machine};
use crate::error::StoreError;
use crate::records::{CreatedRecord, TransitionedRecord};
use crate::tables::{Locks, Tables, TxResult};
use crate::types::*;

/// [`WriteOp::CreateInstance`].
pub(crate) struct CreateInstance<'a> {
    pub key: &'a InstanceKey,
    pub ctx: &'a JsonObject,
    pub idempotency: Option<&'a Idempotency>,
}

impl<'a> Locking<'a> for CreateInstance<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        // The row does not exist yet: a concurrent insert of the same key would make it wait.
        locks.exclusive(format!("instance:{}", self.key.address()));
        locks.writes_into(self.key.space.as_ref());
    }
}

impl Command for CreateInstance<'_> {
    fn idempotency(&self) -> Option<(&SpaceName, &Idempotency)> {
        self.idempotency.map(|idem| (&self.key.space, idem))
    }

    fn replay(&self, stored: &str) -> Result<WriteOutcome, StoreError> {
        let instance = crate::persisted::StoredInstance::read(stored)?;
        Ok(WriteOutcome::InstanceCreated { instance, replayed: true })
    }

    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let key = self.key;
        let (space, machine) = (key.space.as_ref(), key.machine.as_ref());
        let Some(version) = tx.latest_machine_version(space, machine).await? else {
            let e = StoreError::MachineNotFound { space: space.to_string(), name: machine.to_string(), version: None };
            return Err(e.into());
        };
        let compiled = compiled_machine(tx, cx.machines, space, machine, version).await?;
        compiled.validate_context(self.ctx).map_err(StoreError::InvalidContext)?;
        let instance = InstanceRecord::created(key, version, compiled.initial_state(), self.ctx, cx.now);
        let ctx_text = serde_json::to_string(self.ctx)?;
        if !tx.insert_instance(key, version, &instance.state, &ctx_text, cx.now).await? {
            return Err(StoreError::InstanceExists { address: key.address() }.into());
        }
        let record = CreatedRecord { machine_version: version.get(), state: &instance.state, ctx: &instance.ctx };
        let idem_key = self.idempotency.map(|i| i.key.as_str());
        cx.append(tx, space, kinds::INSTANCE_CREATED, key.address(), &record, idem_key, false).await?;
        Ok(WriteOutcome::InstanceCreated { instance, replayed: false })
    }
}

/// [`WriteOp::ApplyEvent`]: the hot path.
pub(crate) struct ApplyEvent<'a> {
    pub key: &'a InstanceKey,
    pub event: &'a str,
    pub payload: &'a JsonObject,
    pub expected_state: Option<&'a str>,
    pub expected_revision: Option<Revision>,
    pub idempotency: Option<&'a Idempotency>,
    pub max_context_bytes: usize,
}

impl<'a> Locking<'a> for ApplyEvent<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        // No space lock: the instance's row lock is enough, as a deletion of the space waits on
        // it before it empties what this writes (see `space_rules`).
        locks.instance(self.key);
    }
}

impl Command for ApplyEvent<'_> {
    fn idempotency(&self) -> Option<(&SpaceName, &Idempotency)> {
        self.idempotency.map(|idem| (&self.key.space, idem))
    }

    fn replay(&self, stored: &str) -> Result<WriteOutcome, StoreError> {
        let applied = crate::persisted::StoredTransition::read(stored)?;
        Ok(WriteOutcome::EventApplied { applied, replayed: true })
    }

    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let key = self.key;
        let (space, machine) = (key.space.as_ref(), key.machine.as_ref());
        let Some(row) = tx.instance_for_update(key).await? else {
            return Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: None }.into());
        };
        if let Some(at) = row.deleted_at {
            return Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: Some(at) }.into());
        }
        let state_ok = self.expected_state.is_none_or(|s| s == row.state);
        let revision_ok = self.expected_revision.is_none_or(|r| r == row.revision);
        if !state_ok || !revision_ok {
            let e =
                StoreError::Conflict { address: key.address(), actual_state: row.state, actual_revision: row.revision };
            return Err(e.into());
        }
        let compiled = compiled_machine(tx, cx.machines, space, machine, row.machine_version).await?;
        let ctx: JsonObject = serde_json::from_str(&row.ctx)?;
        let outcome =
            compiled.apply(&row.state, &ctx, self.event, self.payload, cx.now.as_millis()).map_err(StoreError::from)?;
        let revision = row.revision.next();
        let new_ctx_text = serde_json::to_string(&outcome.ctx)?;
        crate::machines::check_context_size(&new_ctx_text, self.max_context_bytes)?;
        tx.update_instance(key, &outcome.to, &new_ctx_text, revision, cx.now).await?;
        let record = TransitionedRecord {
            event: self.event,
            payload: self.payload,
            from: &row.state,
            to: &outcome.to,
            revision: revision.get(),
        };
        let idem_key = self.idempotency.map(|i| i.key.as_str());
        cx.append(tx, space, kinds::INSTANCE_TRANSITIONED, key.address(), &record, idem_key, true).await?;
        // The seq is patched in when the group's records are numbered.
        let applied = TransitionApplied { from: row.state, to: outcome.to, revision, seq: Seq(0), ctx: outcome.ctx };
        Ok(WriteOutcome::EventApplied { applied, replayed: false })
    }
}

/// [`WriteOp::DeleteInstance`].
pub(crate) struct DeleteInstance<'a> {
    pub key: &'a InstanceKey,
}

impl<'a> Locking<'a> for DeleteInstance<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        locks.instance(self.key);
    }
}

impl Command for DeleteInstance<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let key = self.key;
        match tx.instance_deleted_at_for_update(key).await? {
            None => Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: None }.into()),
            Some(Some(at)) => Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: Some(at) }.into()),
            Some(None) => {
                tx.mark_instance_deleted(key, cx.now).await?;
                let payload = serde_json::json!({});
                cx.append(tx, key.space.as_ref(), kinds::INSTANCE_DELETED, key.address(), &payload, None, false)
                    .await?;
                Ok(WriteOutcome::InstanceDeleted)
            }
        }
    }
}
