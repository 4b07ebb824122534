//! The engine's errors and their stable codes.
//!
//! Each error maps to exactly one code from the public list (docs/http-api.md); the HTTP layer
//! only chooses a status for a code. `details` carries machine-readable context.

use serde_json::{Value, json};
use switchyard_model::{DefinitionError, TransitionError};
use switchyard_store::StoreError;

/// Why an engine call did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Malformed input (syntax), with details such as a position.
    #[error("{message}")]
    BadRequest {
        /// What is wrong.
        message: String,
        /// Where, when known.
        details: Value,
    },
    /// Well-formed input that breaks a rule.
    #[error("{message}")]
    Validation {
        /// What is wrong.
        message: String,
        /// Which fields, when known.
        details: Value,
    },
    /// A machine definition does not load.
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Operation `index` of a batch failed; nothing was applied.
    #[error("operation {index} of the batch failed: {source}")]
    BatchFailed {
        /// Its position.
        index: usize,
        /// Its error.
        source: Box<EngineError>,
    },
    /// A watch asked to start before the oldest record the log still keeps.
    #[error("the log no longer keeps records that old; the oldest kept is seq {oldest}")]
    SeqExpired {
        /// The oldest seq kept.
        oldest: switchyard_store::Seq,
    },
    /// No usable token.
    #[error("{0}")]
    Unauthorized(String),
    /// The token may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such token.
    #[error("token \"{0}\" not found")]
    TokenNotFound(String),
    /// No such KV bucket.
    #[error("bucket \"{0}\" not found")]
    BucketNotFound(String),
    /// No such function (or version).
    #[error("function {0} not found")]
    FunctionNotFound(String),
    /// No such invocation.
    #[error("invocation {0} not found")]
    InvocationNotFound(String),
    /// A deployed component cannot be used.
    #[error("{message}")]
    InvalidComponent {
        /// `invalid_component` or `component_world_mismatch`.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A JSON value from outside breaks the depth and size policy (`switchyard_model::json`).
    #[error("{what}: {source}")]
    JsonLimit {
        /// Which value: `payload`, `ctx`, `message`, ...
        what: String,
        /// Which limit.
        source: switchyard_model::json::JsonLimitError,
    },
    /// Writing the admin token file failed.
    #[error("cannot write the admin token to {path}: {message}")]
    AdminTokenFile {
        /// Where.
        path: String,
        /// Why.
        message: String,
    },
}

impl EngineError {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::BadRequest { .. } => "bad_request",
            EngineError::Validation { .. } => "validation_failed",
            EngineError::Definition(DefinitionError::Syntax { .. }) => "bad_request",
            EngineError::Definition(DefinitionError::Invalid(_)) => "validation_failed",
            EngineError::Store(e) => store_code(e),
            EngineError::BatchFailed { source, .. } => source.code(),
            EngineError::Unauthorized(_) => "unauthorized",
            EngineError::Forbidden(_) => "forbidden",
            EngineError::TokenNotFound(_) => "not_found",
            EngineError::BucketNotFound(_) => "bucket_not_found",
            EngineError::SeqExpired { .. } => "seq_expired",
            EngineError::FunctionNotFound(_) => "function_not_found",
            EngineError::InvocationNotFound(_) => "invocation_not_found",
            EngineError::InvalidComponent { code, .. } => code,
            EngineError::JsonLimit { source, .. } => json_limit_code(source),
            EngineError::AdminTokenFile { .. } => "internal",
        }
    }

    /// Machine-readable context for the error body.
    pub fn details(&self) -> Value {
        match self {
            EngineError::BadRequest { details, .. } | EngineError::Validation { details, .. } => details.clone(),
            EngineError::Definition(DefinitionError::Syntax { line, column, path, .. }) => {
                json!({ "line": line, "column": column, "path": path })
            }
            EngineError::Definition(DefinitionError::Invalid(errors)) => json!({ "errors": errors }),
            EngineError::Store(e) => store_details(e),
            EngineError::SeqExpired { oldest } => json!({ "oldest_seq": oldest.0 }),
            EngineError::JsonLimit { what, source } => json_limit_details(Some(what), source),
            EngineError::BatchFailed { index, source } => json!({
                "index": index,
                "error": { "code": source.code(), "message": source.to_string(), "details": source.details() },
            }),
            _ => Value::Null,
        }
    }

    /// A validation error without details.
    pub fn validation(message: impl Into<String>) -> EngineError {
        EngineError::Validation { message: message.into(), details: Value::Null }
    }

    /// A bad request without details.
    pub fn bad_request(message: impl Into<String>) -> EngineError {
        EngineError::BadRequest { message: message.into(), details: Value::Null }
    }
}

fn store_code(e: &StoreError) -> &'static str {
    match e {
        StoreError::MachineNotFound { .. } => "machine_not_found",
        StoreError::InstanceNotFound { .. } => "instance_not_found",
        StoreError::InstanceExists { .. } => "instance_exists",
        StoreError::Conflict { .. } => "conflict",
        StoreError::IdempotencyKeyReused { .. } => "idempotency_key_reused",
        StoreError::Transition(TransitionError::NoTransition { .. } | TransitionError::FinalState { .. }) => {
            "invalid_transition"
        }
        StoreError::Transition(TransitionError::GuardRejected { .. }) => "guard_rejected",
        StoreError::Transition(TransitionError::CostExceeded { .. }) => "expression_cost_exceeded",
        StoreError::Transition(TransitionError::ContextLimit(limit)) => json_limit_code(limit),
        StoreError::BadDefinition { .. } => "machine_definition_invalid",
        StoreError::Transition(_) | StoreError::InvalidContext(_) => "validation_failed",
        StoreError::TokenNotFound { .. } => "not_found",
        StoreError::SpaceNotFound { .. } => "space_not_found",
        StoreError::KvConflict { .. } => "conflict",
        StoreError::KvNotFound { .. } => "key_not_found",
        StoreError::SubscriptionNotFound { .. } => "subscription_not_found",
        StoreError::SubscriptionFilterChanged { .. } => "subscription_exists",
        StoreError::SeqExpired { .. } => "seq_expired",
        StoreError::BatchFailed { source, .. } => store_code(source),
        StoreError::Closed | StoreError::Failed(_) | StoreError::OutcomeUnknown(_) => "unavailable",
        StoreError::Internal(_) => "internal",
        StoreError::SchemaTooNew { .. } | StoreError::Open { .. } | StoreError::Backend(_) | StoreError::Corrupt(_) => {
            "internal"
        }
    }
}

fn store_details(e: &StoreError) -> Value {
    match e {
        StoreError::InstanceNotFound { deleted_at: Some(at), .. } => json!({ "deleted_at": at.to_rfc3339() }),
        StoreError::Conflict { actual_state, actual_revision, .. } => {
            json!({ "actual_state": actual_state, "actual_revision": actual_revision.get() })
        }
        StoreError::KvConflict { current, .. } => json!({ "current_revision": current }),
        StoreError::SeqExpired { oldest } => json!({ "oldest_seq": oldest.0 }),
        StoreError::Transition(TransitionError::GuardRejected { guards, .. }) => json!({ "guards": guards }),
        StoreError::Transition(
            TransitionError::NoTransition { state, event } | TransitionError::FinalState { state, event },
        ) => {
            json!({ "state": state, "event": event })
        }
        StoreError::Transition(TransitionError::ContextInvalid(c)) | StoreError::InvalidContext(c) => {
            json!({ "errors": c.errors })
        }
        StoreError::Transition(TransitionError::AssignFailed { key, message }) => {
            json!({ "key": key, "reason": message })
        }
        StoreError::Transition(TransitionError::CostExceeded { expression, limit }) => {
            json!({ "expression": expression, "limit": limit })
        }
        StoreError::BadDefinition { address, message } => json!({ "machine": address, "reason": message }),
        StoreError::Transition(TransitionError::ContextLimit(limit)) => json_limit_details(Some("ctx"), limit),
        _ => Value::Null,
    }
}

/// A value too large for the context is `context_too_large`; any value nested too deep breaks
/// a rule of the request's shape.
fn json_limit_code(limit: &switchyard_model::json::JsonLimitError) -> &'static str {
    match limit {
        switchyard_model::json::JsonLimitError::TooDeep { .. } => "validation_failed",
        switchyard_model::json::JsonLimitError::TooLarge { .. } => "context_too_large",
    }
}

fn json_limit_details(what: Option<&str>, limit: &switchyard_model::json::JsonLimitError) -> Value {
    match limit {
        switchyard_model::json::JsonLimitError::TooDeep { limit } => {
            json!({ "field": what, "max_depth": limit })
        }
        switchyard_model::json::JsonLimitError::TooLarge { size, limit } => {
            json!({ "field": what, "max_bytes": limit, "size": size })
        }
    }
}
