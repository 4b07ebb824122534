//! Deleting a space with everything in it (see `space_rules` for the tables and their order).

use switchyard_model::{Seq, SpaceDeletion, SpaceName, kinds};

use super::{Command, Cx, Locking};
use crate::error::StoreError;
use crate::space_rules;
use crate::tables::{Locks, Tables, TxResult};

/// Deletes a space and everything in it, in one transaction: machines (every version),
/// instances, KV buckets and keys, subscriptions with their pending records and dead
/// letters, functions (every version), invocation records, idempotency records and the
/// space's log records; then appends one `space.deleted` record. Tokens are not touched.
/// Refused with `SpaceNotFound` when nothing of the space exists.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteSpace {
    /// The space.
    pub space: SpaceName,
}

/// A space and everything in it were deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceDeleted {
    /// What went, per kind.
    pub deleted: SpaceDeletion,
    /// The `space.deleted` record.
    pub seq: Seq,
}

request!(DeleteSpace => SpaceDeleted(SpaceDeleted));

impl Locking for DeleteSpace {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        // Exclusive: every other write into the space holds it shared, so none is in flight on
        // any node while the space is emptied.
        locks.exclusive(format!("space:{}", self.space));
    }
}

impl Command for DeleteSpace {
    /// Alone, so nothing the group buffered for the space can outlive the deletion.
    fn runs_alone(&self) -> bool {
        true
    }

    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let space = self.space.as_ref();
        if !tx.space_exists(space).await? {
            return Err(StoreError::SpaceNotFound { space: space.to_string() }.into());
        }
        let mut deleted = SpaceDeletion::default();
        for (table, count) in space_rules::NAMED {
            *count(&mut deleted) = tx.count_names(table, space).await?;
        }
        for t in space_rules::TABLES {
            let n = tx.delete_space_rows(t.table, space).await?;
            // Added, not set: a table swept twice (`instances`) counts both passes.
            if let Some(count) = t.counts {
                *count(&mut deleted) += n;
            }
        }
        tx.delete_space_row(space).await?;
        // A space created again may put other definitions under the same names and versions.
        cx.machines.forget_space(space);
        cx.append(tx, space, kinds::SPACE_DELETED, space.to_string(), &deleted, None, true).await?;
        // The seq is patched in when the group's records are numbered.
        Ok(SpaceDeleted { deleted, seq: Seq(0) })
    }
}
