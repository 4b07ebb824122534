//! The store's requests about functions (a page of invocation records, an asynchronous invocation
//! to enqueue) and the payload of `function.completed`; the records are
//! `switchyard_model::functions`.
//!
//! The store treats a function's configuration and an invocation's context, logs and error as
//! opaque JSON; the engine and the runtime give them meaning. It keeps these rules:
//! - A function's versions count 1, 2, 3… per name; deploying the same component (by digest)
//!   with the same configuration as the latest version creates nothing.
//! - An invocation record is written once when it is finished (synchronous calls), or enqueued
//!   as `pending` and finished later (asynchronous calls). An async invocation with an
//!   idempotency key already enqueued for that function returns the original record.
//! - An asynchronous invocation runs as a job of the work table (kind
//!   [`switchyard_model::INVOCATION_JOB`], the invocation's id), enqueued with it; its record
//!   follows the job's changes.
//! - The end of an async invocation appends one `function.completed` log record.

use serde_json::Value;
use switchyard_model::functions::{InvocationRecord, insert_output};
use switchyard_model::{Segment, SpaceName};

/// A page of a function's invocation records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListInvocations {
    /// The space.
    pub space: SpaceName,
    /// Only this function's (all functions of the space when `None`).
    pub function: Option<Segment>,
    /// Only records with a `seq` above this, oldest first; `None` for the newest `limit`,
    /// still returned oldest first.
    pub after: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

/// The payload of a `function.completed` record: what a watcher or subscriber needs to act on
/// the result without fetching the invocation.
pub(crate) fn completed_payload(record: &InvocationRecord) -> Value {
    let mut payload = serde_json::Map::new();
    payload.insert("invocation_id".into(), Value::String(record.id.clone()));
    payload.insert("function".into(), Value::String(record.function.to_string()));
    payload.insert("version".into(), Value::from(record.version));
    payload.insert("attempt".into(), Value::from(record.attempt));
    payload.insert("status".into(), Value::String(record.status.as_str().into()));
    if let Some(duration_us) = record.duration_us {
        payload.insert("duration_us".into(), Value::from(duration_us));
    }
    if let Some(output) = &record.output {
        insert_output(&mut payload, output, &record.output_content_type);
    }
    if let Some(error) = &record.error {
        payload.insert("error".into(), error.clone());
    }
    Value::Object(payload)
}
