//! The payloads of log records, serialised from borrowed parts so appending allocates only the
//! text. Every backend writes these exact shapes (docs/http-api.md documents them).

use serde::Serialize;
use switchyard_model::JsonObject;

/// The payload of an `instance.created` record.
#[derive(Serialize)]
pub(crate) struct CreatedRecord<'a> {
    pub machine_version: u32,
    pub state: &'a str,
    pub ctx: &'a JsonObject,
}

/// The payload of an `instance.transitioned` record.
#[derive(Serialize)]
pub(crate) struct TransitionedRecord<'a> {
    pub event: &'a str,
    pub payload: &'a JsonObject,
    pub from: &'a str,
    pub to: &'a str,
    pub revision: u64,
}

/// The payload of a `topic.message` record.
#[derive(Serialize)]
pub(crate) struct MessageRecord<'a> {
    pub payload: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: &'a std::collections::BTreeMap<String, String>,
}
