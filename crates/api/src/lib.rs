//! Switchyard's HTTP API: routes, authentication, errors, metrics and the OpenAPI document.
//!
//! This crate is thin by design: [`access::authorise`] checks the caller's token against the
//! route's rule before anything else (the body is not read for a refused request), then a
//! handler decodes the request, calls the engine and encodes the answer. Every error leaves as
//! `{"error":{"code","message","details"}}` with a stable code ([`ErrorCode`]; its status is [`code_status`]).
//! Every route but `/healthz`, `/readyz` and `/v1/openapi.json` needs a token (`/metrics` as
//! [`MetricsAccess`] says).

pub mod access;
mod endpoints;
mod env;
mod error;
mod extract;
mod flows;
mod functions;
mod handlers;
mod jobs;
pub mod metrics;
mod openapi;
mod shutdown;
mod spaces;
mod streams;
mod triggers;
mod views;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use access::Access::{self, Metrics, Open, Space, Token};
use access::{Rule, Verb};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use switchyard_engine::Engine;
use switchyard_model::Role::{Admin, Reader, Writer};

pub use access::MetricsAccess;
pub use error::{ApiError, code_status, status_of};
pub use extract::{bearer_token, page_limit};
pub use metrics::HttpMetrics;
pub use shutdown::{Shutdown, SocketGuard};
pub use spaces::SPACE_CREATED_HEADER;
pub use switchyard_engine::ErrorCode;
pub use views::INSTANCE_UNREADABLE;

/// Declares every route once: its template, and per method who may call it and the handler.
/// Expands to [`ROUTES`], [`RULES`] and the function registering the handlers, so a route
/// cannot be added without its authorisation rule.
macro_rules! routes {
    ($($route:literal => { $($verb:ident $access:expr => $handler:expr),+ $(,)? }),* $(,)?) => {
        /// Every route template, as registered; the metrics label and the OpenAPI test use it.
        pub const ROUTES: &[&str] = &[$($route),*];

        /// Who may call each route with each method; checked before the handler runs.
        pub const RULES: &[Rule] = &[$($(Rule { route: $route, verb: Verb::$verb, access: $access }),+),*];

        fn table_routes(router: Router<AppState>) -> Router<AppState> {
            router $(.route($route, axum::routing::MethodRouter::new() $(.on(Verb::$verb.filter(), $handler))+))*
        }
    };
}

routes! {
    "/healthz" => { Get Open => handlers::healthz },
    "/readyz" => { Get Open => handlers::readyz },
    "/metrics" => { Get Metrics => handlers::metrics },
    "/v1/openapi.json" => { Get Open => handlers::openapi },
    "/v1/spaces" => { Get Token => handlers::list_spaces },
    // Deleting a space is its admin's: a token granted only that space may delete it.
    "/v1/spaces/{space}" => { Delete Space(Admin) => spaces::delete_space },
    "/v1/spaces/{space}/stats" => { Get Space(Reader) => spaces::space_stats },
    "/v1/spaces/{space}/machines" => { Get Space(Reader) => handlers::list_machines },
    "/v1/spaces/{space}/machines/{name}" => {
        Get Space(Reader) => handlers::get_machine,
        Put Space(Writer) => handlers::put_machine,
    },
    "/v1/spaces/{space}/machines/{name}/instances" => {
        Get Space(Reader) => handlers::list_instances,
        Post Space(Writer) => handlers::create_instance,
    },
    "/v1/spaces/{space}/machines/{name}/instances/{id}" => {
        Get Space(Reader) => handlers::get_instance,
        Delete Space(Writer) => handlers::delete_instance,
    },
    "/v1/spaces/{space}/machines/{name}/instances/{id}/events" => { Post Space(Writer) => handlers::send_event },
    "/v1/spaces/{space}/machines/{name}/instances/{id}/cancel" => { Post Space(Writer) => handlers::cancel_instance },
    "/v1/spaces/{space}/machines/{name}/instances/{id}/migrate" => { Post Space(Writer) => handlers::migrate_instance },
    "/v1/spaces/{space}/machines/{name}/instances/{id}/history" => { Get Space(Reader) => handlers::history },
    // The operations name their spaces in the body; the handler checks each once it is read.
    "/v1/batch" => { Post Access::Role(Writer) => handlers::batch },
    "/v1/tokens" => {
        Get Access::Role(Admin) => handlers::list_tokens,
        Post Access::Role(Admin) => handlers::create_token,
    },
    "/v1/tokens/{id}" => { Delete Access::Role(Admin) => handlers::revoke_token },
    "/v1/cluster/nodes" => { Get Access::Role(Admin) => handlers::list_nodes },
    "/v1/spaces/{space}/watch" => { Get Space(Reader) => handlers::watch_sse },
    "/v1/spaces/{space}/watch/ws" => { Get Space(Reader) => handlers::watch_ws },
    "/v1/spaces/{space}/topics/{name}/messages" => { Post Space(Writer) => handlers::publish },
    "/v1/spaces/{space}/kv" => { Get Space(Reader) => streams::list_buckets },
    "/v1/spaces/{space}/kv/{bucket}" => {
        Get Space(Reader) => streams::get_bucket,
        Put Space(Writer) => streams::put_bucket,
    },
    "/v1/spaces/{space}/kv/{bucket}/keys" => { Get Space(Reader) => streams::list_keys },
    "/v1/spaces/{space}/kv/{bucket}/keys/{*key}" => {
        Get Space(Reader) => streams::get_key,
        Put Space(Writer) => streams::put_key,
        Delete Space(Writer) => streams::delete_key,
    },
    "/v1/spaces/{space}/kv/{bucket}/history/{*key}" => { Get Space(Reader) => streams::key_history },
    "/v1/spaces/{space}/subscriptions" => { Get Space(Reader) => streams::list_subscriptions },
    "/v1/spaces/{space}/subscriptions/{name}" => {
        Get Space(Reader) => streams::get_subscription,
        Put Space(Writer) => streams::put_subscription,
        Delete Space(Writer) => streams::delete_subscription,
    },
    // Pulling changes the subscription (leases), so it needs a writer.
    "/v1/spaces/{space}/subscriptions/{name}/pull" => { Post Space(Writer) => streams::pull },
    "/v1/spaces/{space}/subscriptions/{name}/ack" => { Post Space(Writer) => streams::ack },
    "/v1/spaces/{space}/subscriptions/{name}/nack" => { Post Space(Writer) => streams::nack },
    "/v1/spaces/{space}/subscriptions/{name}/dead-letters" => { Get Space(Reader) => streams::dead_letters },
    "/v1/spaces/{space}/subscriptions/{name}/dead-letters/redrive" => { Post Space(Writer) => streams::redrive },
    "/v1/spaces/{space}/subscriptions/{name}/dead-letters/discard" => {
        Post Space(Writer) => streams::discard_dead_letters,
    },
    "/v1/spaces/{space}/flows" => { Get Space(Reader) => flows::list_flows },
    "/v1/spaces/{space}/flows/{name}" => {
        Get Space(Reader) => flows::get_flow,
        Put Space(Writer) => flows::put_flow,
    },
    "/v1/spaces/{space}/flows/{name}/runs" => { Post Space(Writer) => flows::start_run },
    "/v1/spaces/{space}/runs" => { Get Space(Reader) => flows::list_runs },
    // Fixed segments: they win over `{id}` below, so no run is reachable as .../runs/cancel.
    "/v1/spaces/{space}/runs/cancel" => { Post Space(Writer) => flows::cancel_runs },
    "/v1/spaces/{space}/runs/retry" => { Post Space(Writer) => flows::retry_runs },
    "/v1/spaces/{space}/runs/{id}" => { Get Space(Reader) => flows::get_run },
    "/v1/spaces/{space}/runs/{id}/cancel" => { Post Space(Writer) => flows::cancel_run },
    "/v1/spaces/{space}/runs/{id}/retry" => { Post Space(Writer) => flows::retry_run },
    "/v1/spaces/{space}/runs/{id}/rerun" => { Post Space(Writer) => flows::rerun_run },
    "/v1/spaces/{space}/runs/{id}/events" => { Post Space(Writer) => flows::send_run_event },
    "/v1/spaces/{space}/env" => { Get Space(Reader) => env::list_env },
    "/v1/spaces/{space}/env/{name}" => {
        Get Space(Reader) => env::get_env,
        Put Space(Writer) => env::put_env,
        Delete Space(Writer) => env::delete_env,
    },
    // Names only are shown; setting or deleting a secret is the space admin's.
    "/v1/spaces/{space}/secrets" => { Get Space(Reader) => env::list_secrets },
    "/v1/spaces/{space}/secrets/{name}" => {
        Get Space(Reader) => env::get_secret,
        Put Space(Admin) => env::put_secret,
        Delete Space(Admin) => env::delete_secret,
    },
    "/v1/spaces/{space}/functions" => { Get Space(Reader) => functions::list_functions },
    "/v1/spaces/{space}/functions/{name}" => {
        Get Space(Reader) => functions::get_function,
        // A component travels as base64 inside JSON: allow for the encoding's growth.
        Put Space(Writer) => axum::handler::Handler::layer(
            functions::deploy_function,
            DefaultBodyLimit::max(functions::DEPLOY_BODY_LIMIT),
        ),
    },
    "/v1/spaces/{space}/functions/{name}/component" => { Get Space(Reader) => functions::get_component },
    "/v1/spaces/{space}/functions/{name}/versions" => { Get Space(Reader) => functions::function_versions },
    "/v1/spaces/{space}/functions/{name}/invoke" => { Post Space(Writer) => functions::invoke_function },
    "/v1/spaces/{space}/functions/{name}/invocations" => { Get Space(Reader) => functions::list_invocations },
    "/v1/spaces/{space}/invocations/{id}" => { Get Space(Reader) => functions::get_invocation },
    "/v1/spaces/{space}/jobs" => {
        Get Space(Reader) => jobs::list_jobs,
        Post Space(Writer) => jobs::enqueue_job,
    },
    // A fixed segment: it wins over `{id}` below, so no job is reachable at .../jobs/retry.
    "/v1/spaces/{space}/jobs/retry" => { Post Space(Writer) => jobs::redrive_jobs },
    "/v1/spaces/{space}/jobs/{id}" => {
        Get Space(Reader) => jobs::get_job,
        Delete Space(Writer) => jobs::delete_job,
    },
    "/v1/spaces/{space}/jobs/{id}/retry" => { Post Space(Writer) => jobs::retry_job },
    "/v1/spaces/{space}/jobs/{id}/cancel" => { Post Space(Writer) => jobs::cancel_job },
    "/v1/spaces/{space}/triggers" => { Get Space(Reader) => triggers::list_triggers },
    "/v1/spaces/{space}/triggers/{name}" => {
        Get Space(Reader) => triggers::get_trigger,
        Put Space(Writer) => triggers::put_trigger,
        Delete Space(Writer) => triggers::delete_trigger,
    },
    "/v1/spaces/{space}/triggers/{name}/pause" => { Post Space(Writer) => triggers::pause_trigger },
    "/v1/spaces/{space}/triggers/{name}/resume" => { Post Space(Writer) => triggers::resume_trigger },
    "/v1/spaces/{space}/triggers/{name}/fire" => { Post Space(Writer) => triggers::fire_trigger },
    "/v1/spaces/{space}/triggers/{name}/backfill" => { Post Space(Writer) => triggers::backfill_trigger },
    "/v1/spaces/{space}/triggers/{name}/executions" => { Get Space(Reader) => triggers::list_executions },
    "/v1/spaces/{space}/endpoints" => { Get Space(Reader) => endpoints::list_endpoints },
    "/v1/spaces/{space}/endpoints/{name}" => {
        Get Space(Reader) => endpoints::get_endpoint,
        Put Space(Writer) => endpoints::put_endpoint,
        Delete Space(Writer) => endpoints::delete_endpoint,
    },
    "/v1/spaces/{space}/endpoints/{name}/disable" => { Post Space(Writer) => endpoints::disable_endpoint },
    "/v1/spaces/{space}/endpoints/{name}/enable" => { Post Space(Writer) => endpoints::enable_endpoint },
    "/v1/spaces/{space}/endpoints/{name}/deliveries" => { Get Space(Reader) => endpoints::list_deliveries },
    "/v1/spaces/{space}/endpoints/{name}/deliveries/{id}/redrive" => { Post Space(Writer) => endpoints::redrive_delivery },
    "/v1/spaces/{space}/endpoints/{name}/redrive" => { Post Space(Writer) => endpoints::redrive_deliveries },
    // No token: the trigger's verification scheme is the credential.
    "/hooks/{space}/{trigger}" => { Post Open => triggers::receive_webhook },
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Who may read `/metrics`.
    pub metrics_access: MetricsAccess,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig { max_body_bytes: 1024 * 1024, metrics_access: MetricsAccess::Auto }
    }
}

/// What every handler can reach. Cloned for every request (each `State` extractor and layer
/// takes a copy), so it is one shared pointer: one reference count to bump, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    /// The state of an application made of `parts`.
    pub fn new(parts: AppParts) -> AppState {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// The parts of an [`AppState`].
pub struct AppParts {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Metrics and their registry.
    pub metrics: Arc<HttpMetrics>,
    /// Settings.
    pub config: Arc<ApiConfig>,
    /// Whether `/readyz` says ready.
    pub ready: Arc<AtomicBool>,
    /// Fires when the server stops; WebSockets close on it.
    pub shutdown: Arc<Shutdown>,
}

/// The application's router: the table's routes, each behind [`access::authorise`].
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    table_routes(Router::new())
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        // Innermost, so it runs after routing (it needs the matched route) and before any
        // handler's extractor reads the body; the metrics layer outside it counts its refusals.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), access::authorise))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
