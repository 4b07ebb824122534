//! Machine versions: a definition is stored as the next version unless it equals the latest.

use serde_json::{Value, json};
use switchyard_model::{MachineVersion, Segment, SpaceName, kinds};

use super::{Command, Cx, Locking};
use crate::tables::{Locks, Tables, TxResult};
use crate::types::*;

/// [`WriteOp::PutMachine`].
pub(crate) struct PutMachine<'a> {
    pub space: &'a SpaceName,
    pub name: &'a Segment,
    pub definition: &'a Value,
}

impl<'a> Locking<'a> for PutMachine<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        locks.exclusive(format!("machine:{}:{}", self.space, self.name));
        locks.writes_into(self.space.as_ref());
    }
}

impl Command for PutMachine<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let (space, name) = (self.space.as_ref(), self.name.as_ref());
        let text = serde_json::to_string(self.definition)?;
        let version = match tx.latest_machine(space, name).await? {
            Some((latest, stored)) if stored == text => {
                return Ok(WriteOutcome::MachinePut { version: latest, created: false, space_created: false });
            }
            Some((latest, _)) => latest.next(),
            None => MachineVersion::FIRST,
        };
        tx.insert_machine(space, name, version, &text, cx.now).await?;
        cx.touch_space(space);
        let payload = json!({ "name": name, "version": version.get() });
        cx.append(tx, space, kinds::MACHINE_PUT, format!("{space}:{name}"), &payload, None, false).await?;
        // `space_created` is set when the group's `spaces` rows are written.
        Ok(WriteOutcome::MachinePut { version, created: true, space_created: false })
    }
}
