//! The error body every route answers with, and the status of each code.
//!
//! Invariant: every code has exactly one status, given by [`code_status`], an exhaustive match
//! over [`ErrorCode`]; the tests below check the documented tables and the OpenAPI document
//! against [`ErrorCode::ALL`] and the invocation codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use switchyard_engine::{EngineError, ErrorCode};

/// An error answer: `{"error":{"code","message","details"}}`.
#[derive(Debug)]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// What a person should know.
    pub message: String,
    /// Machine-readable context, or null.
    pub details: Value,
}

impl ApiError {
    /// An error with a code and message and no details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), details: Value::Null }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }
}

/// The HTTP status of a code. Exhaustive: a new [`ErrorCode`] does not compile without one.
pub fn code_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::ValidationFailed
        | ErrorCode::IdempotencyKeyReused
        | ErrorCode::InvalidComponent
        | ErrorCode::ComponentWorldMismatch
        | ErrorCode::ExpressionCostExceeded
        | ErrorCode::ContextTooLarge => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::MachineNotFound
        | ErrorCode::InstanceNotFound
        | ErrorCode::KeyNotFound
        | ErrorCode::BucketNotFound
        | ErrorCode::SubscriptionNotFound
        | ErrorCode::FunctionNotFound
        | ErrorCode::InvocationNotFound
        | ErrorCode::FlowNotFound
        | ErrorCode::RunNotFound
        | ErrorCode::EnvNotFound
        | ErrorCode::SecretNotFound
        | ErrorCode::TriggerNotFound
        | ErrorCode::EndpointNotFound
        | ErrorCode::JobNotFound
        | ErrorCode::SpaceNotFound
        | ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::InstanceExists
        | ErrorCode::InvalidTransition
        | ErrorCode::InstanceFinished
        | ErrorCode::GuardRejected
        | ErrorCode::Conflict
        | ErrorCode::SubscriptionExists
        | ErrorCode::MachineDefinitionInvalid => StatusCode::CONFLICT,
        ErrorCode::Unauthorized | ErrorCode::WebhookUnverified => StatusCode::UNAUTHORIZED,
        ErrorCode::TriggerPaused => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::RateLimited | ErrorCode::SignInLocked => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::InvalidCredentials => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::QuotaExceeded => StatusCode::FORBIDDEN,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        ErrorCode::UriTooLong => StatusCode::URI_TOO_LONG,
        ErrorCode::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::SeqExpired => StatusCode::GONE,
        ErrorCode::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The HTTP status that fits a code spelled as text (as read from an answer); 500 for text
/// that is no code.
pub fn status_of(code: &str) -> StatusCode {
    ErrorCode::parse(code).map_or(StatusCode::INTERNAL_SERVER_ERROR, code_status)
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let code = e.code();
        if code == ErrorCode::Internal {
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
        let mut response = (code_status(self.code), axum::Json(body)).into_response();
        if self.code == ErrorCode::Unauthorized {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        // A locked sign-in says when to come back, as a 429 should.
        if let Some(seconds) = self.details.get("retry_after_s").and_then(serde_json::Value::as_u64) {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use switchyard_runtime::codes;
    use switchyard_testkit::error_tables;

    use super::*;
    use crate::functions::invocation_error_status;

    /// Fails naming what only one side has, which a whole-set diff would bury.
    fn assert_same(left_name: &str, left: &BTreeSet<&str>, right_name: &str, right: &BTreeSet<&str>) {
        let only_left: Vec<_> = left.difference(right).collect();
        let only_right: Vec<_> = right.difference(left).collect();
        assert!(
            only_left.is_empty() && only_right.is_empty(),
            "only in {left_name}: {only_left:?}; only in {right_name}: {only_right:?}"
        );
    }

    #[test]
    fn every_code_spells_and_parses_back_uniquely() {
        let spelled: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(spelled.len(), ErrorCode::ALL.len(), "two codes share a spelling");
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert_eq!(status_of(code.as_str()), code_status(code));
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
        assert_eq!(status_of("no_such_code"), StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// Adding a code without a row in the docs, or a row without a code, or documenting another
    /// status than the one answered, fails here.
    #[test]
    fn the_documented_table_lists_every_code_with_its_status() {
        let (api, _) = error_tables();
        let mut documented: BTreeMap<&str, Vec<Option<u16>>> = BTreeMap::new();
        for row in &api {
            documented.entry(row.code.as_str()).or_default().push(row.status);
        }
        let codes: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        let rows: BTreeSet<&str> = documented.keys().copied().collect();
        assert_same("docs/http-api.md's error table", &rows, "ErrorCode::ALL", &codes);
        for &code in ErrorCode::ALL {
            // A code may have several rows (one per cause); each states the same status.
            for status in &documented[code.as_str()] {
                assert_eq!(*status, Some(code_status(code).as_u16()), "the documented status of {code}");
            }
        }
    }

    #[test]
    fn the_documented_invocation_table_lists_every_invocation_code_with_its_status() {
        let (_, invocation) = error_tables();
        let rows: BTreeSet<&str> = invocation.iter().map(|r| r.code.as_str()).collect();
        let all: BTreeSet<&str> = codes::ALL.iter().copied().collect();
        assert_same("docs/http-api.md's invocation error table", &rows, "switchyard_runtime::codes::ALL", &all);
        assert_eq!(invocation.len(), codes::ALL.len(), "an invocation code has two rows: {invocation:?}");
        for row in &invocation {
            match row.status {
                Some(status) => assert_eq!(status, invocation_error_status(&row.code).as_u16(), "{row:?}"),
                // Only the engine's verdict on an asynchronous invocation is never an answer.
                None => assert_eq!(row.code, codes::ABANDONED, "{row:?} has no status"),
            }
        }
    }

    #[test]
    fn the_openapi_error_enum_is_every_code() {
        let doc: Value = serde_json::from_str(crate::openapi::DOCUMENT).expect("openapi.json is JSON");
        let listed = doc.pointer("/components/schemas/Error/properties/error/properties/code/enum");
        let listed: Vec<&str> = listed
            .and_then(Value::as_array)
            .expect("the Error schema's code has an enum")
            .iter()
            .map(|v| v.as_str().expect("a string"))
            .collect();
        let set: BTreeSet<&str> = listed.iter().copied().collect();
        assert_eq!(set.len(), listed.len(), "the enum repeats a code: {listed:?}");
        let codes: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_same("openapi.json's Error code enum", &set, "ErrorCode::ALL", &codes);
    }
}
