//! The engine's errors and their stable codes.
//!
//! Invariants:
//! - [`ErrorCode`] is the one list of the codes an API answer can carry, the HTTP layer's
//!   own included. A code outside it cannot be produced: errors carry an [`ErrorCode`], never
//!   free text. The HTTP status of each (`switchyard_api::code_status`, an exhaustive match),
//!   the documented table (docs/http-api.md) and the OpenAPI document's enum are checked
//!   against [`ErrorCode::ALL`] by tests, so none of them can drift from it.
//! - Each error maps to exactly one code; the HTTP layer only chooses a status for a code.
//!   `details` carries machine-readable context.

use serde_json::{Value, json};
use switchyard_model::{DefinitionError, SpaceValueKind, TransitionError};
use switchyard_store::StoreError;

/// Declares [`ErrorCode`] from one list of `Variant = "code"`, with [`ErrorCode::ALL`],
/// [`ErrorCode::as_str`] and [`ErrorCode::parse`] generated from it, so none of them can miss
/// a code.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = $code:literal,)+) => {
        /// A stable error code clients match on: every code an answer of the HTTP API can carry,
        /// the engine's and the HTTP layer's own (see the module's invariants).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the order of the documented table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code as clients see it, e.g. `instance_not_found`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }

            /// The code spelled `text`, if there is one.
            pub fn parse(text: &str) -> Option<ErrorCode> {
                match text {
                    $($code => Some(ErrorCode::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// The body or a parameter is malformed, or the request is not valid HTTP/1.1.
    BadRequest = "bad_request",
    /// Well-formed input that breaks a rule.
    ValidationFailed = "validation_failed",
    /// No such machine (or version).
    MachineNotFound = "machine_not_found",
    /// No such instance, or it was deleted.
    InstanceNotFound = "instance_not_found",
    /// An instance with that id exists (or existed).
    InstanceExists = "instance_exists",
    /// No transition from the instance's state on that event.
    InvalidTransition = "invalid_transition",
    /// The instance was cancelled or stopped on an error, or (for a cancellation) is final.
    InstanceFinished = "instance_finished",
    /// Transitions exist but every guard said no.
    GuardRejected = "guard_rejected",
    /// A guard or assignment exceeded its cost budget.
    ExpressionCostExceeded = "expression_cost_exceeded",
    /// The instance's context would be larger than the node allows.
    ContextTooLarge = "context_too_large",
    /// The instance's stored machine version no longer compiles.
    MachineDefinitionInvalid = "machine_definition_invalid",
    /// A precondition (`expected_state`, `expected_revision`, `If-Match`…) did not hold.
    Conflict = "conflict",
    /// The idempotency key was used before for a different request.
    IdempotencyKeyReused = "idempotency_key_reused",
    /// No token, or an unknown or revoked one.
    Unauthorized = "unauthorized",
    /// The token may not do this.
    Forbidden = "forbidden",
    /// No such route or token.
    NotFound = "not_found",
    /// Nothing of the space exists.
    SpaceNotFound = "space_not_found",
    /// The route exists, the method does not.
    MethodNotAllowed = "method_not_allowed",
    /// A body in a format the route does not take.
    UnsupportedMediaType = "unsupported_media_type",
    /// The body is over the limit.
    PayloadTooLarge = "payload_too_large",
    /// The request body did not arrive in time.
    RequestTimeout = "request_timeout",
    /// The request target is over the limit.
    UriTooLong = "uri_too_long",
    /// The request head is over the limits.
    HeadersTooLarge = "headers_too_large",
    /// A WebSocket route asked without the handshake.
    UpgradeRequired = "upgrade_required",
    /// A bug or a storage failure; nothing was applied.
    Internal = "internal",
    /// A watch asked for records the log no longer keeps.
    SeqExpired = "seq_expired",
    /// No such KV bucket.
    BucketNotFound = "bucket_not_found",
    /// The KV key is not set.
    KeyNotFound = "key_not_found",
    /// No such durable subscription.
    SubscriptionNotFound = "subscription_not_found",
    /// A subscription of that name follows a different filter.
    SubscriptionExists = "subscription_exists",
    /// The server cannot serve this now (shutting down, store stopped or unreachable, too many
    /// connections); retrying later may work.
    Unavailable = "unavailable",
    /// No such function (or version).
    FunctionNotFound = "function_not_found",
    /// No such invocation record.
    InvocationNotFound = "invocation_not_found",
    /// No such job.
    JobNotFound = "job_not_found",
    /// A deploy's bytes are not a component the runtime can compile.
    InvalidComponent = "invalid_component",
    /// The component does not fit the `switchyard:function` world.
    ComponentWorldMismatch = "component_world_mismatch",
    /// No such flow (or version), or the machine of that name is not a flow.
    FlowNotFound = "flow_not_found",
    /// No such run.
    RunNotFound = "run_not_found",
    /// The space has no `env` value of that name.
    EnvNotFound = "env_not_found",
    /// The space has no secret of that name.
    SecretNotFound = "secret_not_found",
    /// No such trigger (or, at a webhook's address, none with a webhook source).
    TriggerNotFound = "trigger_not_found",
    /// The trigger is paused: its webhook takes no deliveries until it is resumed.
    TriggerPaused = "trigger_paused",
    /// A webhook request's signature did not verify (or the trigger cannot verify any).
    WebhookUnverified = "webhook_unverified",
    /// Over a rate limit (a trigger's, a space's quota); `Retry-After` says when to retry.
    RateLimited = "rate_limited",
    /// The space is at a quota on what it holds (stored bytes, instances).
    QuotaExceeded = "quota_exceeded",
    /// The sign-in name or password is wrong.
    InvalidCredentials = "invalid_credentials",
    /// Sign-in is locked after repeated failures; `Retry-After` says for how long.
    SignInLocked = "sign_in_locked",
    /// No such outbound webhook endpoint.
    EndpointNotFound = "endpoint_not_found",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

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
        oldest: switchyard_model::Seq,
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
    /// No such flow.
    #[error("{0}")]
    FlowNotFound(String),
    /// No such run.
    #[error("run {0} not found")]
    RunNotFound(String),
    /// The request cannot apply to the resource as it stands (a name taken by another kind,
    /// a run that is not in a state to retry).
    #[error("{0}")]
    Conflict(String),
    /// A deployed component cannot be used.
    #[error("{message}")]
    InvalidComponent {
        /// [`ErrorCode::InvalidComponent`], [`ErrorCode::ComponentWorldMismatch`], or
        /// [`ErrorCode::Internal`] when the runtime itself failed.
        code: ErrorCode,
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
    /// The node is shutting down and starts no new work.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// No such trigger, or none a webhook can deliver to.
    #[error("{0}")]
    TriggerNotFound(String),
    /// The trigger is paused.
    #[error("{0}")]
    TriggerPaused(String),
    /// A webhook request did not verify.
    #[error("{0}")]
    WebhookUnverified(String),
    /// Over a rate limit.
    #[error("{message}")]
    RateLimited {
        /// What limit, and what to do.
        message: String,
        /// How long until a retry can be admitted, in milliseconds.
        retry_after_ms: u64,
    },
    /// At a quota on what a space holds.
    #[error("{0}")]
    QuotaExceeded(String),
    /// No such principal, grant or role.
    #[error("{0}")]
    NotFound(String),
    /// A sign-in name or password is wrong (which one is not said).
    #[error("the name or the password is wrong")]
    InvalidCredentials,
    /// Sign-in is locked after repeated failures.
    #[error("sign-in is locked after repeated failures; try again in {} s", retry_after_ms.div_ceil(1000))]
    SignInLocked {
        /// For how long, in milliseconds.
        retry_after_ms: u64,
    },
    /// A bug in the engine or a failure beneath it.
    #[error("{0}")]
    Internal(String),
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
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::BadRequest { .. } => ErrorCode::BadRequest,
            EngineError::Validation { .. } => ErrorCode::ValidationFailed,
            EngineError::Definition(DefinitionError::Syntax { .. }) => ErrorCode::BadRequest,
            EngineError::Definition(DefinitionError::Invalid(_)) => ErrorCode::ValidationFailed,
            EngineError::Store(e) => store_code(e),
            EngineError::BatchFailed { source, .. } => source.code(),
            EngineError::Unauthorized(_) => ErrorCode::Unauthorized,
            EngineError::Forbidden(_) => ErrorCode::Forbidden,
            EngineError::TokenNotFound(_) => ErrorCode::NotFound,
            EngineError::BucketNotFound(_) => ErrorCode::BucketNotFound,
            EngineError::SeqExpired { .. } => ErrorCode::SeqExpired,
            EngineError::FunctionNotFound(_) => ErrorCode::FunctionNotFound,
            EngineError::InvocationNotFound(_) => ErrorCode::InvocationNotFound,
            EngineError::FlowNotFound(_) => ErrorCode::FlowNotFound,
            EngineError::RunNotFound(_) => ErrorCode::RunNotFound,
            EngineError::Conflict(_) => ErrorCode::Conflict,
            EngineError::InvalidComponent { code, .. } => *code,
            EngineError::JsonLimit { source, .. } => json_limit_code(source),
            EngineError::AdminTokenFile { .. } => ErrorCode::Internal,
            EngineError::ShuttingDown => ErrorCode::Unavailable,
            EngineError::TriggerNotFound(_) => ErrorCode::TriggerNotFound,
            EngineError::TriggerPaused(_) => ErrorCode::TriggerPaused,
            EngineError::WebhookUnverified(_) => ErrorCode::WebhookUnverified,
            EngineError::RateLimited { .. } => ErrorCode::RateLimited,
            EngineError::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            EngineError::NotFound(_) => ErrorCode::NotFound,
            EngineError::InvalidCredentials => ErrorCode::InvalidCredentials,
            EngineError::SignInLocked { .. } => ErrorCode::SignInLocked,
            EngineError::Internal(_) => ErrorCode::Internal,
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
            EngineError::SignInLocked { retry_after_ms } => json!({ "retry_after_s": retry_after_ms.div_ceil(1000) }),
            EngineError::RateLimited { retry_after_ms, .. } => {
                json!({ "retry_after_s": retry_after_ms.div_ceil(1000), "retry_after_ms": retry_after_ms })
            }
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

fn store_code(e: &StoreError) -> ErrorCode {
    match e {
        StoreError::MachineNotFound { .. } => ErrorCode::MachineNotFound,
        StoreError::InstanceNotFound { .. } => ErrorCode::InstanceNotFound,
        StoreError::InstanceExists { .. } => ErrorCode::InstanceExists,
        StoreError::InstanceFinished { .. } => ErrorCode::InstanceFinished,
        StoreError::MigrationRefused { .. } => ErrorCode::ValidationFailed,
        StoreError::Conflict { .. } => ErrorCode::Conflict,
        StoreError::IdempotencyKeyReused { .. } => ErrorCode::IdempotencyKeyReused,
        StoreError::Transition(TransitionError::NoTransition { .. } | TransitionError::FinalState { .. }) => {
            ErrorCode::InvalidTransition
        }
        StoreError::Transition(TransitionError::GuardRejected { .. }) => ErrorCode::GuardRejected,
        StoreError::Transition(TransitionError::CostExceeded { .. }) => ErrorCode::ExpressionCostExceeded,
        StoreError::Transition(TransitionError::ContextLimit(limit)) => json_limit_code(limit),
        StoreError::BadDefinition { .. } => ErrorCode::MachineDefinitionInvalid,
        StoreError::Transition(_) | StoreError::InvalidContext(_) => ErrorCode::ValidationFailed,
        StoreError::TokenNotFound { .. }
        | StoreError::PrincipalNotFound { .. }
        | StoreError::GrantNotFound { .. }
        | StoreError::RoleNotFound { .. }
        | StoreError::OrgNotFound { .. } => ErrorCode::NotFound,
        StoreError::UserNameTaken { .. }
        | StoreError::GrantExists { .. }
        | StoreError::RoleInUse { .. }
        | StoreError::OrgExists { .. }
        | StoreError::OrgInUse { .. } => ErrorCode::Conflict,
        StoreError::SpaceNotFound { .. } => ErrorCode::SpaceNotFound,
        StoreError::KvConflict { .. } => ErrorCode::Conflict,
        StoreError::KvNotFound { .. } => ErrorCode::KeyNotFound,
        StoreError::SubscriptionNotFound { .. } => ErrorCode::SubscriptionNotFound,
        StoreError::SpaceValueNotFound { kind: SpaceValueKind::Env, .. } => ErrorCode::EnvNotFound,
        StoreError::SpaceValueNotFound { kind: SpaceValueKind::Secret, .. } => ErrorCode::SecretNotFound,
        StoreError::TooManySpaceValues { .. } => ErrorCode::ValidationFailed,
        StoreError::SubscriptionFilterChanged { .. } => ErrorCode::SubscriptionExists,
        StoreError::SeqExpired { .. } => ErrorCode::SeqExpired,
        StoreError::JobNotFound { .. } => ErrorCode::JobNotFound,
        StoreError::TriggerNotFound { .. } => ErrorCode::TriggerNotFound,
        StoreError::EndpointNotFound { .. } => ErrorCode::EndpointNotFound,
        StoreError::JobConflict { .. } => ErrorCode::Conflict,
        StoreError::BatchFailed { source, .. } => store_code(source),
        StoreError::Closed | StoreError::Failed(_) | StoreError::OutcomeUnknown(_) | StoreError::Unreachable(_) => {
            ErrorCode::Unavailable
        }
        StoreError::Internal(_) => ErrorCode::Internal,
        StoreError::SchemaTooNew { .. } | StoreError::Open { .. } | StoreError::Backend(_) | StoreError::Corrupt(_) => {
            ErrorCode::Internal
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
        StoreError::JobConflict { status, .. } | StoreError::InstanceFinished { status, .. } => {
            json!({ "status": status })
        }
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
fn json_limit_code(limit: &switchyard_model::json::JsonLimitError) -> ErrorCode {
    match limit {
        switchyard_model::json::JsonLimitError::TooDeep { .. } => ErrorCode::ValidationFailed,
        switchyard_model::json::JsonLimitError::TooLarge { .. } => ErrorCode::ContextTooLarge,
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
