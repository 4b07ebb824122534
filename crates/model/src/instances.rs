//! Machines and their instances as the product knows them: versions and revisions that cannot
//! be mixed up or be zero, an instance's key, the stored records and the result of an event.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::JsonObject;
use crate::log::Seq;
use crate::time::Timestamp;
use crate::{Segment, SpaceName};

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

    /// The key an address `space:machine:id` names; `None` when it is not one.
    pub fn from_address(address: &str) -> Option<InstanceKey> {
        let mut parts = address.splitn(3, ':');
        let (space, machine, id) = (parts.next()?, parts.next()?, parts.next()?);
        Some(InstanceKey {
            space: SpaceName::new(space).ok()?,
            machine: Segment::new(machine).ok()?,
            id: Segment::new(id).ok()?,
        })
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

/// The job kind of a state's timer (`after`, `after_expr`, a wait's timeout, the machine's
/// timeout): it does nothing but report back when it is due.
pub const TIMER_JOB: &str = "timer";
/// How deep child machines may nest: an instance this many levels below one nobody started
/// as a child cannot start another (a machine that invokes itself stops here).
pub const MAX_CHILD_DEPTH: u32 = 8;

/// The entry of an instance's `work` that stands for a child instance its state waits for
/// (the other entries are job ids).
pub fn child_work_entry(child_address: &str) -> String {
    format!("child:{child_address}")
}

/// The child instance's address, if this `work` entry stands for one.
pub fn child_in_work(entry: &str) -> Option<&str> {
    entry.strip_prefix("child:")
}

/// The instance whose state started this one as its child and waits for its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentLink {
    /// The parent's address (`space:machine:id`).
    pub instance: String,
    /// The parent's state that invoked the child.
    pub state: String,
    /// The parent's revision when it entered that state.
    pub revision: u64,
    /// How many parents are above this instance (1 for a child of an instance nobody started).
    pub depth: u32,
}

/// Where an instance is in its life; kept with the instance, changed by every transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    /// In a state that waits for events (the default).
    #[default]
    Active,
    /// In a `wait` state.
    Waiting,
    /// In an action state: its work is pending or running.
    Running,
    /// In a final state.
    Completed,
    /// In a failure-final state, or stopped by an error nothing handled.
    Failed,
    /// Cancelled: its pending work was cancelled and it accepts no events.
    Cancelled,
}

impl InstanceStatus {
    /// The persisted spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Active => "active",
            InstanceStatus::Waiting => "waiting",
            InstanceStatus::Running => "running",
            InstanceStatus::Completed => "completed",
            InstanceStatus::Failed => "failed",
            InstanceStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the persisted spelling.
    pub fn parse(text: &str) -> Option<InstanceStatus> {
        Some(match text {
            "active" => InstanceStatus::Active,
            "waiting" => InstanceStatus::Waiting,
            "running" => InstanceStatus::Running,
            "completed" => InstanceStatus::Completed,
            "failed" => InstanceStatus::Failed,
            "cancelled" => InstanceStatus::Cancelled,
            _ => return None,
        })
    }

    /// Whether the instance is done: completed, failed or cancelled.
    pub fn is_terminal(self) -> bool {
        matches!(self, InstanceStatus::Completed | InstanceStatus::Failed | InstanceStatus::Cancelled)
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// Where it is in its life.
    #[serde(default)]
    pub status: InstanceStatus,
    /// The jobs of its current state (action, timers) still to run, by id; empty when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub work: Vec<String>,
    /// Why it failed or was cancelled (`{code, message}`), if it did or was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// The instance that started this one as its child, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentLink>,
    /// Why its stored context cannot be read back, when it cannot (`ctx` is then empty). Only a
    /// listing returns such a record, so one damaged instance does not hide its neighbours; a
    /// read of the instance itself is refused instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

impl InstanceRecord {
    /// Whether the stored context was read back (see [`InstanceRecord::unreadable`]).
    pub fn is_readable(&self) -> bool {
        self.unreadable.is_none()
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
            status: InstanceStatus::Active,
            work: Vec::new(),
            error: None,
            parent: None,
            unreadable: None,
        }
    }

    /// The instance's key.
    pub fn key(&self) -> InstanceKey {
        InstanceKey { space: self.space.clone(), machine: self.machine.clone(), id: self.id.clone() }
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
