//! The error body every route answers with, and the status of each code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use switchyard_engine::EngineError;

/// An error answer: `{"error":{"code","message","details"}}`.
#[derive(Debug)]
pub struct ApiError {
    /// The stable code.
    pub code: &'static str,
    /// What a person should know.
    pub message: String,
    /// Machine-readable context, or null.
    pub details: Value,
}

impl ApiError {
    /// An error with a code and message and no details.
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), details: Value::Null }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }
}

/// The HTTP status that fits a code.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "bad_request" => StatusCode::BAD_REQUEST,
        "validation_failed"
        | "idempotency_key_reused"
        | "invalid_component"
        | "component_world_mismatch"
        | "expression_cost_exceeded"
        | "context_too_large" => StatusCode::UNPROCESSABLE_ENTITY,
        "machine_not_found"
        | "instance_not_found"
        | "key_not_found"
        | "bucket_not_found"
        | "subscription_not_found"
        | "function_not_found"
        | "invocation_not_found"
        | "space_not_found"
        | "not_found" => StatusCode::NOT_FOUND,
        "instance_exists"
        | "invalid_transition"
        | "guard_rejected"
        | "conflict"
        | "subscription_exists"
        | "machine_definition_invalid" => StatusCode::CONFLICT,
        "unauthorized" => StatusCode::UNAUTHORIZED,
        "forbidden" => StatusCode::FORBIDDEN,
        "method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
        "unsupported_media_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "request_timeout" => StatusCode::REQUEST_TIMEOUT,
        "uri_too_long" => StatusCode::URI_TOO_LONG,
        "headers_too_large" => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "seq_expired" => StatusCode::GONE,
        "upgrade_required" => StatusCode::UPGRADE_REQUIRED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let code = e.code();
        if code == "internal" {
            // The person gets a stable answer; the operator gets the cause, which may name
            // files and storage internals.
            tracing::error!(error = %e, "request failed");
            return ApiError::new(code, "internal error; nothing was applied and the server log has the cause");
        }
        ApiError { code, message: e.to_string(), details: e.details() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message, "details": self.details } });
        let mut response = (status_of(self.code), axum::Json(body)).into_response();
        if self.code == "unauthorized" {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}
