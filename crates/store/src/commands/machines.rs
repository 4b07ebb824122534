//! Machine versions: a definition is stored as the next version unless it equals the latest.

use serde_json::{Value, json};
use switchyard_model::{MachineVersion, Segment, SpaceName, kinds};

use super::{Command, Cx, Locking};
use crate::tables::{Locks, Tables, TxResult};

/// Stores a definition as the next version unless it equals the latest one.
#[derive(Debug, Clone, PartialEq)]
pub struct PutMachine {
    /// The space.
    pub space: SpaceName,
    /// The machine's name.
    pub name: Segment,
    /// The canonical JSON form of a definition that compiled.
    pub definition: Value,
}

/// A machine definition is stored as `version`; `created` is false when it equalled the
/// latest version.
#[derive(Debug, Clone, PartialEq)]
pub struct MachinePut {
    /// The version.
    pub version: MachineVersion,
    /// Whether a new version was stored.
    pub created: bool,
    /// Whether this write created the space (see [`crate::WriteOutcome::space_created`]).
    pub space_created: bool,
}

request!(PutMachine => MachinePut(MachinePut));

impl Locking for PutMachine {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.exclusive(format!("machine:{}:{}", self.space, self.name));
        locks.writes_into(self.space.as_ref());
    }
}

impl Command for PutMachine {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<MachinePut> {
        let (space, name) = (self.space.as_ref(), self.name.as_ref());
        let text = serde_json::to_string(&self.definition)?;
        let version = match tx.latest_machine(space, name).await? {
            Some((latest, stored)) if stored == text => {
                return Ok(MachinePut { version: latest, created: false, space_created: false });
            }
            Some((latest, _)) => latest.next(),
            None => MachineVersion::FIRST,
        };
        tx.insert_machine(space, name, version, &text, cx.now).await?;
        cx.touch_space(space);
        let payload = json!({ "name": name, "version": version.get() });
        cx.append(tx, space, kinds::MACHINE_PUT, format!("{space}:{name}"), &payload, None, false).await?;
        // `space_created` is set when the group's `spaces` rows are written.
        Ok(MachinePut { version, created: true, space_created: false })
    }
}
