//! Quotas of spaces and the meters of what spaces did.
//!
//! Invariants:
//! - Setting or removing a quota appends `audit.quota_set` to the system space in the same
//!   transaction, naming who acted; a set that changes nothing appends nothing. Every node
//!   tails the log and reloads its quotas on that record, which is how a change reaches nodes
//!   sharing the store at once.
//! - Meters only grow: each node adds what it counted since its last flush; a flush that
//!   fails keeps its counts for the next one.
//! - A quota belongs to the space's name, set by the operator, not to the space's contents:
//!   deleting a space keeps it (and its meters), so a tenant cannot shed its quota by
//!   deleting and recreating its space.

use serde_json::json;
use switchyard_model::quotas::{Meters, Quota};
use switchyard_model::{Actor, SYSTEM_SPACE, SpaceName, kinds};

use super::{Command, Cx, Locking};
use crate::tables::{Locks, Tables, TxResult};

/// Sets a space's quota, or removes it (`None`); appends `audit.quota_set` when that changed
/// anything. Answers whether it did.
#[derive(Debug, Clone, PartialEq)]
pub struct SetQuota {
    /// The space.
    pub space: SpaceName,
    /// The new quota; `None` (or a quota without any limit) removes it.
    pub quota: Option<Quota>,
    /// Who sets it.
    pub by: Actor,
}

request!(SetQuota => QuotaSet(bool));

impl Locking for SetQuota {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(SYSTEM_SPACE);
        locks.exclusive(format!("quota:{}", self.space));
    }
}

impl Command for SetQuota {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let space = self.space.as_str();
        let quota = self.quota.as_ref().filter(|q| !q.is_empty());
        let before = tx.quota(space).await?;
        if before.as_ref() == quota {
            return Ok(false);
        }
        match quota {
            Some(quota) => tx.put_quota(space, quota, cx.now).await?,
            None => tx.delete_quota(space).await?,
        }
        let payload = json!({ "principal": self.by, "space": space, "quota": quota, "before": before });
        cx.touch_space(SYSTEM_SPACE);
        let address = format!("{SYSTEM_SPACE}:quotas:{space}");
        cx.append(tx, SYSTEM_SPACE, kinds::AUDIT_QUOTA_SET, address, &payload, None, false).await?;
        Ok(true)
    }
}

/// Adds what a node counted to the spaces' meters.
#[derive(Debug, Clone, PartialEq)]
pub struct AddMeters {
    /// Each space's counts since the node's last flush.
    pub counts: Vec<(SpaceName, Meters)>,
}

request!(AddMeters => MetersAdded);

impl Locking for AddMeters {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        for (space, _) in &self.counts {
            locks.exclusive(format!("meters:{space}"));
        }
    }
}

impl Command for AddMeters {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        for (space, counts) in self.counts.iter().filter(|(_, c)| !c.is_zero()) {
            tx.add_meters(space.as_str(), counts).await?;
        }
        Ok(())
    }
}
