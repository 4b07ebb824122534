//! Cluster nodes and idempotency retention: bookkeeping that appends nothing to the log.

use switchyard_model::{NodeRecord, Timestamp};

use super::{Command, Cx, Locking};
use crate::tables::{Locks, Tables, TxResult};

/// Registers a node or renews its heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatNode {
    /// The node as it registers itself now.
    pub node: NodeRecord,
}

request!(HeartbeatNode => NodeRecorded);

impl Locking for HeartbeatNode {
    fn locks<'a>(&'a self, _: &mut Locks<'a>) {}
}

impl Command for HeartbeatNode {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        tx.upsert_node(&self.node).await?;
        Ok(())
    }
}

/// Renews the heartbeat of a registered node; does nothing for a node that was removed
/// (so a late heartbeat cannot bring back a node that left).
#[derive(Debug, Clone, PartialEq)]
pub struct RenewNode {
    /// The node's id.
    pub id: String,
    /// The heartbeat's time.
    pub at: Timestamp,
}

request!(RenewNode => NodeRecorded);

impl Locking for RenewNode {
    fn locks<'a>(&'a self, _: &mut Locks<'a>) {}
}

impl Command for RenewNode {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        tx.renew_node(&self.id, self.at).await?;
        Ok(())
    }
}

/// Removes a node that is shutting down.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoveNode {
    /// The node's id.
    pub id: String,
}

request!(RemoveNode => NodeRecorded);

impl Locking for RemoveNode {
    fn locks<'a>(&'a self, _: &mut Locks<'a>) {}
}

impl Command for RemoveNode {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        tx.remove_node(&self.id).await?;
        Ok(())
    }
}

/// Forgets up to `limit` idempotency records written before `before`.
#[derive(Debug, Clone, PartialEq)]
pub struct PurgeIdempotency {
    /// The cut-off.
    pub before: Timestamp,
    /// At most this many (the caller repeats while a full chunk was removed).
    pub limit: u32,
}

request!(PurgeIdempotency => IdempotencyPurged(u64));

impl Locking for PurgeIdempotency {
    fn locks<'a>(&'a self, _: &mut Locks<'a>) {}
}

impl Command for PurgeIdempotency {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<Self::Output> {
        // Bounded by `limit`: this runs inside a group, so one huge DELETE would stall writes.
        tx.purge_idempotency(self.before, self.limit).await
    }
}
