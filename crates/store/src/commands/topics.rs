//! Topics: a message is a `topic.message` record in the log.

use std::collections::BTreeMap;

use serde_json::Value;
use switchyard_model::{Idempotency, Segment, Seq, SpaceName, kinds};

use super::{Command, Cx, Locking};
use crate::error::StoreError;
use crate::records::MessageRecord;
use crate::tables::{Locks, Tables, TxResult};

/// Publishes a message to a topic: appends a `topic.message` record.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    /// The space.
    pub space: SpaceName,
    /// The topic's name.
    pub topic: Segment,
    /// The message.
    pub payload: Value,
    /// An optional key (for consumers that partition or deduplicate by it).
    pub key: Option<String>,
    /// Optional string headers.
    pub headers: BTreeMap<String, String>,
    /// The request's idempotency key, if any.
    pub idempotency: Option<Idempotency>,
}

/// A message was published (or, `replayed`, an idempotent repeat found the original).
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The message's log record.
    pub seq: Seq,
    /// Whether this is the stored result of an earlier request with the same key.
    pub replayed: bool,
    /// Whether this write created the space.
    pub space_created: bool,
}

request!(Publish => Published(Published));

impl Locking for Publish {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
    }
}

impl Command for Publish {
    fn idempotency(&self) -> Option<(&SpaceName, &Idempotency)> {
        self.idempotency.as_ref().map(|idem| (&self.space, idem))
    }

    fn replay(&self, stored: &str) -> Result<Self::Output, StoreError> {
        let seq = crate::persisted::StoredPublish::read(stored)?;
        Ok(Published { seq, replayed: true, space_created: false })
    }

    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let space = self.space.as_ref();
        cx.touch_space(space);
        let record = MessageRecord { payload: &self.payload, key: self.key.as_deref(), headers: &self.headers };
        let idem_key = self.idempotency.as_ref().map(|i| i.key.as_str());
        let address = format!("{space}:{}", self.topic);
        cx.append(tx, space, kinds::TOPIC_MESSAGE, address, &record, idem_key, true).await?;
        // The seq and `space_created` are patched in when the group's rows are written.
        Ok(Published { seq: Seq(0), replayed: false, space_created: false })
    }
}
