//! Between protobuf messages and the engine's requests and records: JSON text fields parsed
//! with the HTTP API's error, empty strings read as absent.

use serde_json::Value;
use switchyard_api::{ApiError, ErrorCode};
use switchyard_engine::{CreateInstance, SendEvent};
use switchyard_model::{InstanceRecord, LogRecord, TransitionApplied};
use switchyard_proto::v1;

/// `None` for an empty string, else the string.
pub fn optional(text: String) -> Option<String> {
    if text.is_empty() { None } else { Some(text) }
}

/// A `*_json` field: `None` when empty, else its JSON (refused, naming the field, when it is
/// not JSON).
pub fn json_field(field: &str, text: &str) -> Result<Option<Value>, ApiError> {
    if text.is_empty() {
        return Ok(None);
    }
    // The same depth policy as an HTTP body, before the parser sees the text.
    switchyard_model::json::scan_depth(text.as_bytes()).map_err(|e| {
        ApiError::new(ErrorCode::ValidationFailed, format!("{field}: {e}"))
            .with_details(serde_json::json!({ "max_depth": switchyard_model::json::MAX_DEPTH }))
    })?;
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("{field} is not JSON: {e}")))
}

/// JSON text of a value (empty for `null`).
pub fn json_text(value: &Value) -> String {
    if value.is_null() { String::new() } else { value.to_string() }
}

/// An event request as the engine takes it, with its address.
pub struct EventRequest {
    pub space: String,
    pub machine: String,
    pub instance: String,
    pub send: SendEvent,
}

/// Decodes an event request.
pub fn event(req: v1::ApplyEventRequest) -> Result<EventRequest, ApiError> {
    let payload = json_field("payload_json", &req.payload_json)?;
    Ok(EventRequest {
        space: req.space,
        machine: req.machine,
        instance: req.instance,
        send: SendEvent {
            event: req.event,
            payload,
            idempotency_key: optional(req.idempotency_key),
            expected_state: optional(req.expected_state),
            expected_revision: req.expected_revision,
        },
    })
}

/// Decodes an instance creation.
pub fn create(req: &v1::CreateInstanceRequest) -> Result<CreateInstance, ApiError> {
    Ok(CreateInstance {
        id: optional(req.id.clone()),
        ctx: json_field("ctx_json", &req.ctx_json)?,
        idempotency_key: optional(req.idempotency_key.clone()),
    })
}

/// An instance as a message.
pub fn instance(i: &InstanceRecord) -> v1::Instance {
    v1::Instance {
        id: i.id.to_string(),
        machine: i.machine.to_string(),
        machine_version: i.machine_version.get(),
        state: i.state.clone(),
        ctx_json: serde_json::to_string(&i.ctx).unwrap_or_default(),
        revision: i.revision.get(),
        created_at: i.created_at.to_rfc3339(),
        updated_at: i.updated_at.to_rfc3339(),
        status: i.status.as_str().to_owned(),
        error_json: i.error.as_ref().map(json_text).unwrap_or_default(),
    }
}

/// A transition as a message.
pub fn transition(t: &TransitionApplied) -> v1::Transition {
    v1::Transition {
        from: t.from.clone(),
        to: t.to.clone(),
        revision: t.revision.get(),
        seq: t.seq.0,
        ctx_json: serde_json::to_string(&t.ctx).unwrap_or_default(),
    }
}

/// A log record as a message.
pub fn record(r: &LogRecord) -> v1::LogRecord {
    v1::LogRecord {
        seq: r.seq.0,
        kind: r.kind.to_string(),
        address: r.address.to_string(),
        payload_json: json_text(&r.payload),
        idempotency_key: r.idempotency_key.clone().unwrap_or_default(),
        created_at: r.created_at.to_rfc3339(),
    }
}
