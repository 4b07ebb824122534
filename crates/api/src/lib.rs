//! Switchyard's HTTP API: routes, authentication, errors, metrics and the OpenAPI document.
//!
//! This crate is thin by design: handlers decode a request, check that the caller's token may
//! do it, call the engine and encode the answer. Every error leaves as
//! `{"error":{"code","message","details"}}` with a stable code (see `error::status_of`).
//! Every route but `/healthz`, `/readyz` and `/v1/openapi.json` needs a token (`/metrics`
//! unless made public).

mod error;
mod extract;
mod functions;
mod handlers;
pub mod metrics;
mod openapi;
mod streams;
mod views;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use switchyard_engine::Engine;

pub use error::{ApiError, status_of};
pub use metrics::HttpMetrics;

/// Every route template, as registered; the metrics label and the OpenAPI test use it.
pub const ROUTES: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/openapi.json",
    "/v1/spaces",
    "/v1/spaces/{space}/machines",
    "/v1/spaces/{space}/machines/{name}",
    "/v1/spaces/{space}/machines/{name}/instances",
    "/v1/spaces/{space}/machines/{name}/instances/{id}",
    "/v1/spaces/{space}/machines/{name}/instances/{id}/events",
    "/v1/spaces/{space}/machines/{name}/instances/{id}/history",
    "/v1/batch",
    "/v1/tokens",
    "/v1/tokens/{id}",
    "/v1/cluster/nodes",
    "/v1/spaces/{space}/watch",
    "/v1/spaces/{space}/watch/ws",
    "/v1/spaces/{space}/topics/{name}/messages",
    "/v1/spaces/{space}/kv",
    "/v1/spaces/{space}/kv/{bucket}",
    "/v1/spaces/{space}/kv/{bucket}/keys",
    "/v1/spaces/{space}/kv/{bucket}/keys/{*key}",
    "/v1/spaces/{space}/kv/{bucket}/history/{*key}",
    "/v1/spaces/{space}/subscriptions",
    "/v1/spaces/{space}/subscriptions/{name}",
    "/v1/spaces/{space}/subscriptions/{name}/pull",
    "/v1/spaces/{space}/subscriptions/{name}/ack",
    "/v1/spaces/{space}/subscriptions/{name}/nack",
    "/v1/spaces/{space}/subscriptions/{name}/dead-letters",
    "/v1/spaces/{space}/subscriptions/{name}/dead-letters/redrive",
    "/v1/spaces/{space}/subscriptions/{name}/dead-letters/discard",
    "/v1/spaces/{space}/functions",
    "/v1/spaces/{space}/functions/{name}",
    "/v1/spaces/{space}/functions/{name}/versions",
    "/v1/spaces/{space}/functions/{name}/invoke",
    "/v1/spaces/{space}/functions/{name}/invocations",
    "/v1/spaces/{space}/invocations/{id}",
];

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Serve `/metrics` without a token.
    pub metrics_public: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig { max_body_bytes: 1024 * 1024, metrics_public: false }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Metrics and their registry.
    pub metrics: Arc<HttpMetrics>,
    /// Settings.
    pub config: Arc<ApiConfig>,
    /// Whether `/readyz` says ready.
    pub ready: Arc<AtomicBool>,
}

/// The application's router.
pub fn router(state: AppState) -> Router {
    use handlers::*;
    let limit = state.config.max_body_bytes;
    let deploy_limit = (switchyard_engine::functions::MAX_COMPONENT_BYTES / 3 + 1) * 4 + 64 * 1024;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/spaces", get(list_spaces))
        .route("/v1/spaces/{space}/machines", get(list_machines))
        .route("/v1/spaces/{space}/machines/{name}", get(get_machine).put(put_machine))
        .route("/v1/spaces/{space}/machines/{name}/instances", get(list_instances).post(create_instance))
        .route("/v1/spaces/{space}/machines/{name}/instances/{id}", get(get_instance).delete(delete_instance))
        .route("/v1/spaces/{space}/machines/{name}/instances/{id}/events", post(send_event))
        .route("/v1/spaces/{space}/machines/{name}/instances/{id}/history", get(history))
        .route("/v1/batch", post(batch))
        .route("/v1/tokens", get(list_tokens).post(create_token))
        .route("/v1/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/v1/cluster/nodes", get(list_nodes))
        .route("/v1/spaces/{space}/watch", get(watch_sse))
        .route("/v1/spaces/{space}/watch/ws", get(watch_ws))
        .route("/v1/spaces/{space}/topics/{name}/messages", post(publish))
        .route("/v1/spaces/{space}/kv", get(streams::list_buckets))
        .route("/v1/spaces/{space}/kv/{bucket}", get(streams::get_bucket).put(streams::put_bucket))
        .route("/v1/spaces/{space}/kv/{bucket}/keys", get(streams::list_keys))
        .route(
            "/v1/spaces/{space}/kv/{bucket}/keys/{*key}",
            get(streams::get_key).put(streams::put_key).delete(streams::delete_key),
        )
        .route("/v1/spaces/{space}/kv/{bucket}/history/{*key}", get(streams::key_history))
        .route("/v1/spaces/{space}/subscriptions", get(streams::list_subscriptions))
        .route(
            "/v1/spaces/{space}/subscriptions/{name}",
            get(streams::get_subscription).put(streams::put_subscription).delete(streams::delete_subscription),
        )
        .route("/v1/spaces/{space}/subscriptions/{name}/pull", post(streams::pull))
        .route("/v1/spaces/{space}/subscriptions/{name}/ack", post(streams::ack))
        .route("/v1/spaces/{space}/subscriptions/{name}/nack", post(streams::nack))
        .route("/v1/spaces/{space}/subscriptions/{name}/dead-letters", get(streams::dead_letters))
        .route("/v1/spaces/{space}/subscriptions/{name}/dead-letters/redrive", post(streams::redrive))
        .route("/v1/spaces/{space}/subscriptions/{name}/dead-letters/discard", post(streams::discard_dead_letters))
        .route("/v1/spaces/{space}/functions", get(functions::list_functions))
        .route(
            "/v1/spaces/{space}/functions/{name}",
            get(functions::get_function)
                // A component travels as base64 inside JSON: allow for the encoding's growth.
                .put(axum::handler::Handler::layer(functions::deploy_function, DefaultBodyLimit::max(deploy_limit))),
        )
        .route("/v1/spaces/{space}/functions/{name}/versions", get(functions::function_versions))
        .route("/v1/spaces/{space}/functions/{name}/invoke", post(functions::invoke_function))
        .route("/v1/spaces/{space}/functions/{name}/invocations", get(functions::list_invocations))
        .route("/v1/spaces/{space}/invocations/{id}", get(functions::get_invocation))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
