//! A space's configuration: setting and deleting its `env` values and secrets.
//!
//! Invariants:
//! - A space holds at most `MAX_SPACE_VALUES` values of each kind; a value is within its
//!   kind's size (checked here, whoever the caller).
//! - Every set and delete appends one log record at `space:env:name` or `space:secrets:name`;
//!   a secret's record carries its name only, never its value.
//! - On PostgreSQL the writes of one kind in one space are serialised by one advisory lock, so
//!   the count checked is the count written.

use serde_json::json;
use switchyard_model::{MAX_SPACE_VALUES, Segment, SpaceName, SpaceValueKind, kinds};

use super::{Command, Cx, Locking};
use crate::error::StoreError;
use crate::tables::{Locks, Tables, TxResult};

/// Sets a space's `env` value (JSON text) or secret, replacing the one of that name; appends
/// `env.set` or `secret.set`.
#[derive(Clone, PartialEq)]
pub struct PutSpaceValue {
    /// The space.
    pub space: SpaceName,
    /// `env` or `secret`.
    pub kind: SpaceValueKind,
    /// The name.
    pub name: Segment,
    /// The JSON text of an `env` value (validated by the caller), or the secret.
    pub value: String,
}

impl std::fmt::Debug for PutSpaceValue {
    // A secret must not reach a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutSpaceValue")
            .field("space", &self.space)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .finish()
    }
}

/// A value was set.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceValuePut {
    /// Whether it was new (not a replacement).
    pub created: bool,
    /// Whether this write created the space.
    pub space_created: bool,
}

request!(PutSpaceValue => SpaceValuePut(SpaceValuePut));

/// Deletes a space's `env` value or secret (`SpaceValueNotFound` when there is none); appends
/// `env.deleted` or `secret.deleted`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteSpaceValue {
    /// The space.
    pub space: SpaceName,
    /// `env` or `secret`.
    pub kind: SpaceValueKind,
    /// The name.
    pub name: Segment,
}

request!(DeleteSpaceValue => SpaceValueDeleted);

fn address(space: &SpaceName, kind: SpaceValueKind, name: &Segment) -> String {
    let family = match kind {
        SpaceValueKind::Env => "env",
        SpaceValueKind::Secret => "secrets",
    };
    format!("{space}:{family}:{name}")
}

/// The log record of setting (or, `deleted`, deleting) a value of `kind`.
fn record_kind(kind: SpaceValueKind, deleted: bool) -> &'static str {
    match (kind, deleted) {
        (SpaceValueKind::Env, false) => kinds::ENV_SET,
        (SpaceValueKind::Env, true) => kinds::ENV_DELETED,
        (SpaceValueKind::Secret, false) => kinds::SECRET_SET,
        (SpaceValueKind::Secret, true) => kinds::SECRET_DELETED,
    }
}

impl Locking for PutSpaceValue {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
        locks.exclusive(format!("values:{}:{}", self.space, self.kind));
    }
}

impl Command for PutSpaceValue {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let (space, kind, name) = (self.space.as_ref(), self.kind.as_str(), self.name.as_ref());
        if self.value.len() > self.kind.max_bytes() {
            return Err(StoreError::Internal(format!(
                "a {kind} value of {} bytes reached the store; the limit is {}",
                self.value.len(),
                self.kind.max_bytes()
            ))
            .into());
        }
        let (count, exists) = tx.count_space_values(space, kind, name).await?;
        if !exists && count >= MAX_SPACE_VALUES as u64 {
            return Err(StoreError::TooManySpaceValues {
                space: space.to_owned(),
                kind: self.kind,
                limit: MAX_SPACE_VALUES,
            }
            .into());
        }
        let payload = match self.kind {
            // The value is JSON text the engine produced from a JSON value; parsed before the
            // first write, so a refusal writes nothing.
            SpaceValueKind::Env => {
                let value: serde_json::Value = serde_json::from_str(&self.value)?;
                json!({ "name": name, "value": value })
            }
            SpaceValueKind::Secret => json!({ "name": name }),
        };
        tx.upsert_space_value(space, kind, name, &self.value, cx.now).await?;
        cx.touch_space(space);
        let address = address(&self.space, self.kind, &self.name);
        cx.append(tx, space, record_kind(self.kind, false), address, &payload, None, false).await?;
        Ok(SpaceValuePut { created: !exists, space_created: false })
    }
}

impl Locking for DeleteSpaceValue {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(self.space.as_ref());
        locks.exclusive(format!("values:{}:{}", self.space, self.kind));
    }
}

impl Command for DeleteSpaceValue {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let (space, kind, name) = (self.space.as_ref(), self.kind.as_str(), self.name.as_ref());
        if !tx.delete_space_value(space, kind, name).await? {
            return Err(StoreError::SpaceValueNotFound {
                space: space.to_owned(),
                kind: self.kind,
                name: name.to_owned(),
            }
            .into());
        }
        let address = address(&self.space, self.kind, &self.name);
        let record = record_kind(self.kind, true);
        cx.append(tx, space, record, address, &json!({ "name": name }), None, false).await?;
        Ok(())
    }
}
