//! Topics: a message is a `topic.message` record in the log.

use std::collections::BTreeMap;

use serde_json::Value;
use switchyard_model::{Idempotency, Segment, Seq, SpaceName, kinds};

use super::{Command, Cx, Locking};
use crate::error::StoreError;
use crate::records::MessageRecord;
use crate::tables::{Locks, Tables, TxResult};
use crate::types::*;

/// [`WriteOp::Publish`].
pub(crate) struct Publish<'a> {
    pub space: &'a SpaceName,
    pub topic: &'a Segment,
    pub payload: &'a Value,
    pub key: Option<&'a str>,
    pub headers: &'a BTreeMap<String, String>,
    pub idempotency: Option<&'a Idempotency>,
}

impl<'a> Locking<'a> for Publish<'a> {
    fn locks(&self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
    }
}

impl Command for Publish<'_> {
    fn idempotency(&self) -> Option<(&SpaceName, &Idempotency)> {
        self.idempotency.map(|idem| (self.space, idem))
    }

    fn replay(&self, stored: &str) -> Result<WriteOutcome, StoreError> {
        let seq = crate::persisted::StoredPublish::read(stored)?;
        Ok(WriteOutcome::Published { seq, replayed: true, space_created: false })
    }

    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<WriteOutcome> {
        let space = self.space.as_ref();
        cx.touch_space(space);
        let record = MessageRecord { payload: self.payload, key: self.key, headers: self.headers };
        let idem_key = self.idempotency.map(|i| i.key.as_str());
        let address = format!("{space}:{}", self.topic);
        cx.append(tx, space, kinds::TOPIC_MESSAGE, address, &record, idem_key, true).await?;
        // The seq and `space_created` are patched in when the group's rows are written.
        Ok(WriteOutcome::Published { seq: Seq(0), replayed: false, space_created: false })
    }
}
