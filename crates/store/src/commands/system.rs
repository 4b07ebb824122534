//! Tokens, cluster nodes and idempotency retention: bookkeeping that appends nothing to the log.

use switchyard_model::{NodeRecord, Timestamp, TokenRecord};

use super::{Command, Cx, Locking};
use crate::error::StoreError;
use crate::tables::{Locks, Tables, TxResult};
use crate::types::*;

/// [`WriteOp::CreateToken`].
pub(crate) struct CreateToken<'a> {
    pub token: &'a TokenRecord,
}

impl<'a> Locking<'a> for CreateToken<'a> {
    fn locks(&self, _: &mut Locks<'a>) {}
}

impl Command for CreateToken<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        tx.insert_token(self.token).await?;
        Ok(WriteOutcome::TokenCreated(true))
    }
}

/// [`WriteOp::BootstrapAdminToken`].
pub(crate) struct BootstrapAdminToken<'a> {
    pub token: &'a TokenRecord,
}

impl<'a> Locking<'a> for BootstrapAdminToken<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        locks.exclusive("bootstrap".to_string());
    }
}

impl Command for BootstrapAdminToken<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        if !tx.claim_admin_bootstrap(&self.token.id).await? {
            return Ok(WriteOutcome::TokenCreated(false));
        }
        tx.insert_token(self.token).await?;
        Ok(WriteOutcome::TokenCreated(true))
    }
}

/// [`WriteOp::RevokeToken`].
pub(crate) struct RevokeToken<'a> {
    pub id: &'a str,
}

impl<'a> Locking<'a> for RevokeToken<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        locks.exclusive(format!("token:{}", self.id));
    }
}

impl Command for RevokeToken<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        match tx.token_revoked_at_for_update(self.id).await? {
            None => Err(StoreError::TokenNotFound { id: self.id.to_string() }.into()),
            Some(Some(_)) => Ok(WriteOutcome::TokenRevoked),
            Some(None) => {
                tx.revoke_token(self.id, cx.now).await?;
                Ok(WriteOutcome::TokenRevoked)
            }
        }
    }
}

/// [`WriteOp::HeartbeatNode`].
pub(crate) struct HeartbeatNode<'a> {
    pub node: &'a NodeRecord,
}

impl<'a> Locking<'a> for HeartbeatNode<'a> {
    fn locks(&self, _: &mut Locks<'a>) {}
}

impl Command for HeartbeatNode<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        tx.upsert_node(self.node).await?;
        Ok(WriteOutcome::NodeRecorded)
    }
}

/// [`WriteOp::RenewNode`].
pub(crate) struct RenewNode<'a> {
    pub id: &'a str,
    pub at: Timestamp,
}

impl<'a> Locking<'a> for RenewNode<'a> {
    fn locks(&self, _: &mut Locks<'a>) {}
}

impl Command for RenewNode<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        tx.renew_node(self.id, self.at).await?;
        Ok(WriteOutcome::NodeRecorded)
    }
}

/// [`WriteOp::RemoveNode`].
pub(crate) struct RemoveNode<'a> {
    pub id: &'a str,
}

impl<'a> Locking<'a> for RemoveNode<'a> {
    fn locks(&self, _: &mut Locks<'a>) {}
}

impl Command for RemoveNode<'_> {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        tx.remove_node(self.id).await?;
        Ok(WriteOutcome::NodeRecorded)
    }
}

/// [`WriteOp::PurgeIdempotency`].
pub(crate) struct PurgeIdempotency {
    pub before: Timestamp,
    pub limit: u32,
}

impl<'a> Locking<'a> for PurgeIdempotency {
    fn locks(&self, _: &mut Locks<'a>) {}
}

impl Command for PurgeIdempotency {
    async fn apply<T: Tables>(&self, tx: &mut T, _: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        // Bounded by `limit`: this runs inside a group, so one huge DELETE would stall writes.
        Ok(WriteOutcome::IdempotencyPurged(tx.purge_idempotency(self.before, self.limit).await?))
    }
}
