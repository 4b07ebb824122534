//! Switchyard's gRPC API (`switchyard.v1`, `proto/switchyard/v1/switchyard.proto`): the
//! services, each a thin translation between protobuf messages and the engine, like the HTTP
//! handlers.
//!
//! Invariants:
//! - Every call is authenticated from its `authorization: Bearer …` metadata and authorised for
//!   its space with the role the matching HTTP route needs, before anything in it is decoded or
//!   applied ([`GrpcApi::caller`]). A streaming `ApplyEvents` authenticates once, when it opens,
//!   and authorises every event's space.
//! - Every error is the HTTP API's error (the same [`ErrorCode`], message and details), carried
//!   as a gRPC status whose code fits it ([`grpc_code`], exhaustive over the codes), with a
//!   `google.rpc.ErrorInfo` detail (`reason` = the code) and a `switchyard-error-code` trailer.
//! - Limits are the HTTP API's: a message may be as large as an HTTP body
//!   (`--max-body-bytes`), and the engine's own checks (sizes, depth, keys) run on every value.
//! - `ApplyEvents` answers every event it read exactly once, as soon as it is durable or
//!   refused; events to one instance run one after another in the order they arrived
//!   ([`stream`]).

mod convert;
mod services;
mod stream;

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_api::{ApiError, AppState, ErrorCode};
use switchyard_engine::{Principal, parse_space};
use switchyard_model::Permission;
use switchyard_proto::v1;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub use stream::{MAX_HELD_EVENTS, MAX_NODE_HELD_EVENTS};

/// The error domain in every status's `ErrorInfo`.
pub const ERROR_DOMAIN: &str = "switchyard";

/// The trailer naming a failed call's stable error code.
pub const ERROR_CODE_TRAILER: &str = "switchyard-error-code";

/// The gRPC services over one application state.
#[derive(Clone)]
pub struct GrpcApi {
    state: AppState,
    /// Permits of events held by `ApplyEvents` streams, node-wide
    /// ([`stream::MAX_NODE_HELD_EVENTS`]).
    stream_events: Arc<tokio::sync::Semaphore>,
}

impl GrpcApi {
    /// The services of `state`'s engine.
    pub fn new(state: AppState) -> GrpcApi {
        GrpcApi { state, stream_events: Arc::new(tokio::sync::Semaphore::new(stream::MAX_NODE_HELD_EVENTS)) }
    }

    /// Every service, routed by path, as one tower service; messages are limited to the HTTP
    /// API's body size.
    pub fn routes(self) -> tonic::service::Routes {
        // Only what a client sends is limited (tonic sends any size by default).
        let limit = self.state.config.max_body_bytes;
        tonic::service::Routes::default()
            .add_service(v1::machines_server::MachinesServer::new(self.clone()).max_decoding_message_size(limit))
            .add_service(v1::instances_server::InstancesServer::new(self.clone()).max_decoding_message_size(limit))
            .add_service(v1::events_server::EventsServer::new(self.clone()).max_decoding_message_size(limit))
            .add_service(v1::watch_server::WatchServer::new(self.clone()).max_decoding_message_size(limit))
            .add_service(v1::topics_server::TopicsServer::new(self.clone()).max_decoding_message_size(limit))
            .add_service(v1::kv_server::KvServer::new(self.clone()).max_decoding_message_size(limit))
            .add_service(v1::functions_server::FunctionsServer::new(self).max_decoding_message_size(limit))
    }

    /// Authenticates a request's bearer token.
    async fn authenticate<T>(&self, request: &tonic::Request<T>) -> Result<Arc<Principal>, ApiError> {
        let value = request.metadata().get("authorization").map(|v| v.as_bytes());
        // Without a token, the connection's verified client certificate (mutual TLS) says who.
        if value.is_none()
            && let Some(certificate) = request.extensions().get::<switchyard_api::ClientCertificate>()
        {
            return Ok(self.state.engine.authenticate_certificate(&certificate.subject).await?);
        }
        let token = switchyard_api::bearer_token(value)?;
        Ok(self.state.engine.authenticate(token).await?)
    }

    /// Authenticates the caller and has the engine authorise `permission` on the address of
    /// `segments` (the space, the family, the names), as the matching HTTP route does.
    async fn caller<T>(
        &self,
        request: &tonic::Request<T>,
        permission: Permission,
        segments: &[&str],
    ) -> Result<Arc<Principal>, ApiError> {
        let principal = self.authenticate(request).await?;
        let space = segments.first().copied().unwrap_or_default();
        parse_space(space)?;
        self.state.engine.authorise(&principal, permission, segments)?;
        self.state.engine.admit_request(space)?;
        Ok(principal)
    }

    /// Counts a finished call and turns its error into a status.
    fn finish<T>(&self, method: &'static str, result: Result<T, ApiError>) -> Result<tonic::Response<T>, Status> {
        let code = match &result {
            Ok(_) => "ok",
            Err(e) => e.code.as_str(),
        };
        self.state.metrics.grpc_calls.get_or_create(&switchyard_api::metrics::GrpcLabels { method, code }).inc();
        result.map(tonic::Response::new).map_err(status)
    }
}

/// The gRPC status code that fits an error code. Exhaustive: a new [`ErrorCode`] does not
/// compile without one.
pub fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::BadRequest
        | ErrorCode::ValidationFailed
        | ErrorCode::InvalidComponent
        | ErrorCode::ComponentWorldMismatch
        | ErrorCode::MachineDefinitionInvalid
        | ErrorCode::ContextTooLarge
        | ErrorCode::PayloadTooLarge
        | ErrorCode::UriTooLong
        | ErrorCode::HeadersTooLarge
        | ErrorCode::UnsupportedMediaType => Code::InvalidArgument,
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
        | ErrorCode::NotFound => Code::NotFound,
        ErrorCode::InstanceExists | ErrorCode::SubscriptionExists => Code::AlreadyExists,
        // The request is well formed but the target's state refuses it; retrying the same
        // request will not help until that state changes.
        ErrorCode::InvalidTransition
        | ErrorCode::InstanceFinished
        | ErrorCode::GuardRejected
        | ErrorCode::IdempotencyKeyReused
        | ErrorCode::UpgradeRequired => Code::FailedPrecondition,
        // A revision check failed: read again and retry (gRPC's read-modify-write conflict).
        ErrorCode::Conflict => Code::Aborted,
        ErrorCode::ExpressionCostExceeded
        | ErrorCode::RateLimited
        | ErrorCode::SignInLocked
        | ErrorCode::QuotaExceeded => Code::ResourceExhausted,
        ErrorCode::Unauthorized | ErrorCode::WebhookUnverified | ErrorCode::InvalidCredentials => Code::Unauthenticated,
        ErrorCode::Forbidden => Code::PermissionDenied,
        ErrorCode::MethodNotAllowed => Code::Unimplemented,
        ErrorCode::RequestTimeout => Code::DeadlineExceeded,
        ErrorCode::TriggerPaused | ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::SeqExpired => Code::OutOfRange,
        ErrorCode::Internal => Code::Internal,
    }
}

/// The status of an error: its fitting code and message, an `ErrorInfo` naming the stable code
/// (with the details as JSON), and the code as a trailer.
pub fn status(e: ApiError) -> Status {
    let mut metadata = HashMap::new();
    if !e.details.is_null() {
        metadata.insert("details".to_owned(), e.details.to_string());
    }
    let details = ErrorDetails::with_error_info(e.code.as_str(), ERROR_DOMAIN, metadata);
    let mut status = Status::with_error_details(grpc_code(e.code), e.message, details);
    status.metadata_mut().insert(ERROR_CODE_TRAILER, MetadataValue::from_static(e.code.as_str()));
    status
}

/// An error of one refused event or operation, as a message.
fn error_message(e: ApiError) -> v1::Error {
    v1::Error {
        code: e.code.as_str().to_owned(),
        message: e.message,
        details_json: if e.details.is_null() { String::new() } else { e.details.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_that_fits_its_http_status() {
        for &code in ErrorCode::ALL {
            let grpc = grpc_code(code);
            let http = switchyard_api::code_status(code).as_u16();
            let fits = match http {
                400 | 413 | 414 | 415 | 431 => grpc == Code::InvalidArgument,
                401 => grpc == Code::Unauthenticated,
                // A quota is a resource the caller exhausted (gRPC's own example), not a right it
                // lacks, though HTTP answers both with 403.
                403 => {
                    grpc == Code::PermissionDenied
                        || (code == ErrorCode::QuotaExceeded && grpc == Code::ResourceExhausted)
                }
                404 => grpc == Code::NotFound,
                405 => grpc == Code::Unimplemented,
                408 => grpc == Code::DeadlineExceeded,
                409 => matches!(
                    grpc,
                    Code::AlreadyExists | Code::FailedPrecondition | Code::Aborted | Code::InvalidArgument
                ),
                410 => grpc == Code::OutOfRange,
                422 => matches!(grpc, Code::InvalidArgument | Code::FailedPrecondition | Code::ResourceExhausted),
                426 => grpc == Code::FailedPrecondition,
                429 => grpc == Code::ResourceExhausted,
                500 => grpc == Code::Internal,
                503 => grpc == Code::Unavailable,
                other => panic!("{code} answers HTTP {other}, which this test does not map"),
            };
            assert!(fits, "{code}: HTTP {http} but gRPC {grpc:?}");
        }
    }

    /// docs/grpc.md's table of statuses lists every code once, with the status it gets.
    #[test]
    fn the_documented_mapping_is_the_code() {
        let doc = include_str!("../../../docs/grpc.md");
        let errors = doc.split("\n## Errors\n").nth(1).expect("an Errors section");
        let doc = errors.split("\n## ").next().unwrap_or(errors);
        let mut documented = std::collections::BTreeMap::new();
        for line in doc.lines().filter(|l| l.starts_with("| `") && l.matches('|').count() == 3) {
            let mut cells = line.trim_matches('|').split('|').map(str::trim);
            let (Some(status), Some(codes)) = (cells.next(), cells.next()) else { continue };
            let status = status.trim_matches('`');
            for code in codes.split(',').map(|c| c.trim()) {
                if code == "every `*_not_found`" {
                    for c in ErrorCode::ALL.iter().filter(|c| c.as_str().ends_with("_not_found")) {
                        documented.insert(c.as_str().to_owned(), status.to_owned());
                    }
                    continue;
                }
                let code = code.split_whitespace().next().unwrap_or("").trim_matches('`');
                assert!(documented.insert(code.to_owned(), status.to_owned()).is_none(), "{code} documented twice");
            }
        }
        for &code in ErrorCode::ALL {
            let expected = format!("{:?}", grpc_code(code));
            let spelled: String = expected
                .chars()
                .enumerate()
                .flat_map(|(i, c)| {
                    let sep = (i > 0 && c.is_uppercase()).then_some('_');
                    sep.into_iter().chain(c.to_uppercase())
                })
                .collect();
            assert_eq!(documented.get(code.as_str()), Some(&spelled), "docs/grpc.md's status of {code}");
        }
        assert_eq!(documented.len(), ErrorCode::ALL.len(), "docs/grpc.md lists codes that do not exist");
    }

    #[test]
    fn a_status_carries_the_stable_code_twice() {
        let e = ApiError::new(ErrorCode::GuardRejected, "no").with_details(serde_json::json!({ "state": "a" }));
        let status = status(e);
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(status.message(), "no");
        let info = status.get_details_error_info().expect("an ErrorInfo");
        assert_eq!(info.reason, "guard_rejected");
        assert_eq!(info.domain, ERROR_DOMAIN);
        assert_eq!(info.metadata.get("details").map(String::as_str), Some(r#"{"state":"a"}"#));
        let trailer = status.metadata().get(ERROR_CODE_TRAILER).and_then(|v| v.to_str().ok());
        assert_eq!(trailer, Some("guard_rejected"));
    }
}
