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
mod orgs;
mod principals;
mod quotas;
mod shutdown;
mod spaces;
mod streams;
mod triggers;
mod views;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use access::Access::{Metrics, Open, Org, Somewhere, Space, SpaceWide, System, Token};
use access::{Rule, Verb};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use switchyard_engine::Engine;
use switchyard_model::permissions::*;

pub use access::MetricsAccess;
pub use error::{ApiError, code_status, status_of};
pub use extract::{ClientCertificate, bearer_token, page_limit};
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
    // Space(p) needs p on the request's address (`access::request_address`: the space, the
    // resource's family, its names); SpaceWide(p) on the space itself, for definitions that can
    // reach anything in the space once they run. Deleting a space: spaces:delete on it.
    "/v1/spaces/{space}" => { Delete Space(SPACES_DELETE) => spaces::delete_space },
    "/v1/spaces/{space}/stats" => { Get Space(SPACES_READ) => spaces::space_stats },
    // Only the system's roles hold quotas:write: a tenant cannot raise its own quota.
    "/v1/spaces/{space}/quota" => {
        Get SpaceWide(QUOTAS_READ) => quotas::get_quota,
        Put SpaceWide(QUOTAS_WRITE) => quotas::put_quota,
        Delete SpaceWide(QUOTAS_WRITE) => quotas::delete_quota,
    },
    "/v1/spaces/{space}/usage" => { Get SpaceWide(USAGE_READ) => quotas::get_usage },
    "/v1/spaces/{space}/machines" => { Get Space(MACHINES_READ) => handlers::list_machines },
    "/v1/spaces/{space}/machines/{name}" => {
        Get Space(MACHINES_READ) => handlers::get_machine,
        Put SpaceWide(MACHINES_WRITE) => handlers::put_machine,
    },
    "/v1/spaces/{space}/machines/{name}/instances" => {
        Get Space(INSTANCES_READ) => handlers::list_instances,
        Post Space(INSTANCES_WRITE) => handlers::create_instance,
    },
    "/v1/spaces/{space}/machines/{name}/instances/{id}" => {
        Get Space(INSTANCES_READ) => handlers::get_instance,
        Delete Space(INSTANCES_WRITE) => handlers::delete_instance,
    },
    "/v1/spaces/{space}/machines/{name}/instances/{id}/events" => { Post Space(EVENTS_SEND) => handlers::send_event },
    "/v1/spaces/{space}/machines/{name}/instances/{id}/cancel" => { Post Space(INSTANCES_WRITE) => handlers::cancel_instance },
    "/v1/spaces/{space}/machines/{name}/instances/{id}/migrate" => { Post Space(INSTANCES_WRITE) => handlers::migrate_instance },
    "/v1/spaces/{space}/machines/{name}/instances/{id}/history" => { Get Space(INSTANCES_READ) => handlers::history },
    // The operations name their addresses in the body: instances:write somewhere before the
    // body is read, then each operation's own permission on its address once it is.
    "/v1/batch" => { Post Somewhere(INSTANCES_WRITE) => handlers::batch },
    // A token's own tokens, and those whose whole scope it holds tokens:read/write on: the
    // engine decides per token. Creating one needs tokens:write somewhere before the body.
    "/v1/tokens" => {
        Get Token => handlers::list_tokens,
        Post Somewhere(TOKENS_WRITE) => handlers::create_token,
    },
    "/v1/tokens/{id}" => { Delete Token => handlers::revoke_token },
    "/v1/cluster/nodes" => { Get System(CLUSTER_READ) => handlers::list_nodes },
    // The name and password are the credential.
    "/v1/auth/sign-in" => { Post Open => principals::sign_in },
    "/v1/auth/sign-out" => { Post Token => principals::sign_out },
    "/v1/auth/password" => { Post Token => principals::change_password },
    "/v1/auth/me" => { Get Token => principals::me },
    "/v1/principals" => {
        Get System(PRINCIPALS_READ) => principals::list_principals,
        Post System(PRINCIPALS_WRITE) => principals::create_principal,
    },
    // Oneself, or anyone with principals:read (the engine decides).
    "/v1/principals/{id}" => {
        Get Token => principals::get_principal,
        Delete System(PRINCIPALS_WRITE) => principals::delete_principal,
    },
    "/v1/principals/{id}/password" => { Put System(PRINCIPALS_WRITE) => principals::reset_password },
    // Grants are on patterns the body names: the engine checks the granter holds
    // grants:write on all of the pattern and every permission of the role there.
    "/v1/grants" => {
        Get Token => principals::list_grants,
        Post Somewhere(GRANTS_WRITE) => principals::create_grant,
    },
    "/v1/grants/{id}" => { Delete Somewhere(GRANTS_WRITE) => principals::delete_grant },
    "/v1/audit" => { Get System(AUDIT_READ) => principals::read_audit },
    // Orgs are the system's to make; each shows to whoever reaches one of its projects (the
    // engine decides). Its members are its admins' (members:read/write on `org/*:*`).
    "/v1/orgs" => {
        Get Token => orgs::list_orgs,
        Post System(ORGS_WRITE) => orgs::create_org,
    },
    "/v1/orgs/{org}" => {
        Get Token => orgs::get_org,
        Delete System(ORGS_WRITE) => orgs::delete_org,
    },
    "/v1/orgs/{org}/members" => {
        Get Org(MEMBERS_READ) => orgs::list_members,
        Post Org(MEMBERS_WRITE) => orgs::create_member,
    },
    "/v1/orgs/{org}/members/{id}" => { Delete Org(MEMBERS_WRITE) => orgs::delete_member },
    "/v1/orgs/{org}/members/{id}/password" => { Put Org(MEMBERS_WRITE) => orgs::reset_member_password },
    "/v1/roles" => { Get Token => principals::list_roles },
    "/v1/roles/{name}" => {
        Get Token => principals::get_role,
        Put System(ROLES_WRITE) => principals::put_role,
        Delete System(ROLES_WRITE) => principals::delete_role,
    },
    "/v1/spaces/{space}/watch" => { Get Space(LOG_READ) => handlers::watch_sse },
    "/v1/spaces/{space}/watch/ws" => { Get Space(LOG_READ) => handlers::watch_ws },
    "/v1/spaces/{space}/topics/{name}/messages" => { Post Space(TOPICS_PUBLISH) => handlers::publish },
    "/v1/spaces/{space}/kv" => { Get Space(KV_READ) => streams::list_buckets },
    "/v1/spaces/{space}/kv/{bucket}" => {
        Get Space(KV_READ) => streams::get_bucket,
        Put Space(KV_WRITE) => streams::put_bucket,
    },
    "/v1/spaces/{space}/kv/{bucket}/keys" => { Get Space(KV_READ) => streams::list_keys },
    "/v1/spaces/{space}/kv/{bucket}/keys/{*key}" => {
        Get Space(KV_READ) => streams::get_key,
        Put Space(KV_WRITE) => streams::put_key,
        Delete Space(KV_WRITE) => streams::delete_key,
    },
    "/v1/spaces/{space}/kv/{bucket}/history/{*key}" => { Get Space(KV_READ) => streams::key_history },
    "/v1/spaces/{space}/subscriptions" => { Get Space(SUBSCRIPTIONS_READ) => streams::list_subscriptions },
    "/v1/spaces/{space}/subscriptions/{name}" => {
        Get Space(SUBSCRIPTIONS_READ) => streams::get_subscription,
        Put SpaceWide(SUBSCRIPTIONS_WRITE) => streams::put_subscription,
        Delete Space(SUBSCRIPTIONS_WRITE) => streams::delete_subscription,
    },
    // Pulling changes the subscription (leases): subscriptions:consume, a write.
    "/v1/spaces/{space}/subscriptions/{name}/pull" => { Post Space(SUBSCRIPTIONS_CONSUME) => streams::pull },
    "/v1/spaces/{space}/subscriptions/{name}/ack" => { Post Space(SUBSCRIPTIONS_CONSUME) => streams::ack },
    "/v1/spaces/{space}/subscriptions/{name}/nack" => { Post Space(SUBSCRIPTIONS_CONSUME) => streams::nack },
    "/v1/spaces/{space}/subscriptions/{name}/dead-letters" => { Get Space(SUBSCRIPTIONS_READ) => streams::dead_letters },
    "/v1/spaces/{space}/subscriptions/{name}/dead-letters/redrive" => { Post Space(SUBSCRIPTIONS_REDRIVE) => streams::redrive },
    "/v1/spaces/{space}/subscriptions/{name}/dead-letters/discard" => {
        Post Space(SUBSCRIPTIONS_REDRIVE) => streams::discard_dead_letters,
    },
    "/v1/spaces/{space}/flows" => { Get Space(FLOWS_READ) => flows::list_flows },
    "/v1/spaces/{space}/flows/{name}" => {
        Get Space(FLOWS_READ) => flows::get_flow,
        Put SpaceWide(FLOWS_WRITE) => flows::put_flow,
    },
    "/v1/spaces/{space}/flows/{name}/runs" => { Post Space(RUNS_START) => flows::start_run },
    "/v1/spaces/{space}/runs" => { Get Space(RUNS_READ) => flows::list_runs },
    // Fixed segments: they win over `{id}` below, so no run is reachable as .../runs/cancel.
    "/v1/spaces/{space}/runs/cancel" => { Post Space(RUNS_WRITE) => flows::cancel_runs },
    "/v1/spaces/{space}/runs/retry" => { Post Space(RUNS_WRITE) => flows::retry_runs },
    "/v1/spaces/{space}/runs/{id}" => { Get Space(RUNS_READ) => flows::get_run },
    "/v1/spaces/{space}/runs/{id}/cancel" => { Post Space(RUNS_WRITE) => flows::cancel_run },
    "/v1/spaces/{space}/runs/{id}/retry" => { Post Space(RUNS_WRITE) => flows::retry_run },
    "/v1/spaces/{space}/runs/{id}/rerun" => { Post Space(RUNS_WRITE) => flows::rerun_run },
    "/v1/spaces/{space}/runs/{id}/events" => { Post Space(RUNS_WRITE) => flows::send_run_event },
    "/v1/spaces/{space}/env" => { Get Space(ENV_READ) => env::list_env },
    "/v1/spaces/{space}/env/{name}" => {
        Get Space(ENV_READ) => env::get_env,
        Put SpaceWide(ENV_WRITE) => env::put_env,
        Delete SpaceWide(ENV_WRITE) => env::delete_env,
    },
    // Names only are shown; setting or deleting a secret is the space admin's (secrets:write).
    "/v1/spaces/{space}/secrets" => { Get Space(SECRETS_READ) => env::list_secrets },
    "/v1/spaces/{space}/secrets/{name}" => {
        Get Space(SECRETS_READ) => env::get_secret,
        Put SpaceWide(SECRETS_WRITE) => env::put_secret,
        Delete SpaceWide(SECRETS_WRITE) => env::delete_secret,
    },
    "/v1/spaces/{space}/functions" => { Get Space(FUNCTIONS_READ) => functions::list_functions },
    "/v1/spaces/{space}/functions/{name}" => {
        Get Space(FUNCTIONS_READ) => functions::get_function,
        // A component travels as base64 inside JSON: allow for the encoding's growth.
        Put SpaceWide(FUNCTIONS_DEPLOY) => axum::handler::Handler::layer(
            functions::deploy_function,
            DefaultBodyLimit::max(functions::DEPLOY_BODY_LIMIT),
        ),
    },
    "/v1/spaces/{space}/functions/{name}/component" => { Get Space(FUNCTIONS_READ) => functions::get_component },
    "/v1/spaces/{space}/functions/{name}/versions" => { Get Space(FUNCTIONS_READ) => functions::function_versions },
    "/v1/spaces/{space}/functions/{name}/invoke" => { Post Space(FUNCTIONS_INVOKE) => functions::invoke_function },
    "/v1/spaces/{space}/functions/{name}/invocations" => { Get Space(FUNCTIONS_READ) => functions::list_invocations },
    "/v1/spaces/{space}/invocations/{id}" => { Get Space(FUNCTIONS_READ) => functions::get_invocation },
    "/v1/spaces/{space}/jobs" => {
        Get Space(JOBS_READ) => jobs::list_jobs,
        Post SpaceWide(JOBS_WRITE) => jobs::enqueue_job,
    },
    // A fixed segment: it wins over `{id}` below, so no job is reachable at .../jobs/retry.
    "/v1/spaces/{space}/jobs/retry" => { Post Space(JOBS_REDRIVE) => jobs::redrive_jobs },
    "/v1/spaces/{space}/jobs/{id}" => {
        Get Space(JOBS_READ) => jobs::get_job,
        Delete Space(JOBS_WRITE) => jobs::delete_job,
    },
    "/v1/spaces/{space}/jobs/{id}/retry" => { Post Space(JOBS_REDRIVE) => jobs::retry_job },
    "/v1/spaces/{space}/jobs/{id}/cancel" => { Post Space(JOBS_WRITE) => jobs::cancel_job },
    "/v1/spaces/{space}/triggers" => { Get Space(TRIGGERS_READ) => triggers::list_triggers },
    "/v1/spaces/{space}/triggers/{name}" => {
        Get Space(TRIGGERS_READ) => triggers::get_trigger,
        Put SpaceWide(TRIGGERS_WRITE) => triggers::put_trigger,
        Delete Space(TRIGGERS_WRITE) => triggers::delete_trigger,
    },
    "/v1/spaces/{space}/triggers/{name}/pause" => { Post Space(TRIGGERS_WRITE) => triggers::pause_trigger },
    "/v1/spaces/{space}/triggers/{name}/resume" => { Post Space(TRIGGERS_WRITE) => triggers::resume_trigger },
    "/v1/spaces/{space}/triggers/{name}/fire" => { Post Space(TRIGGERS_FIRE) => triggers::fire_trigger },
    "/v1/spaces/{space}/triggers/{name}/backfill" => { Post Space(TRIGGERS_FIRE) => triggers::backfill_trigger },
    "/v1/spaces/{space}/triggers/{name}/executions" => { Get Space(TRIGGERS_READ) => triggers::list_executions },
    "/v1/spaces/{space}/endpoints" => { Get Space(ENDPOINTS_READ) => endpoints::list_endpoints },
    "/v1/spaces/{space}/endpoints/{name}" => {
        Get Space(ENDPOINTS_READ) => endpoints::get_endpoint,
        Put SpaceWide(ENDPOINTS_WRITE) => endpoints::put_endpoint,
        Delete Space(ENDPOINTS_WRITE) => endpoints::delete_endpoint,
    },
    "/v1/spaces/{space}/endpoints/{name}/disable" => { Post Space(ENDPOINTS_WRITE) => endpoints::disable_endpoint },
    "/v1/spaces/{space}/endpoints/{name}/enable" => { Post Space(ENDPOINTS_WRITE) => endpoints::enable_endpoint },
    "/v1/spaces/{space}/endpoints/{name}/deliveries" => { Get Space(ENDPOINTS_READ) => endpoints::list_deliveries },
    "/v1/spaces/{space}/endpoints/{name}/deliveries/{id}/redrive" => { Post Space(ENDPOINTS_REDRIVE) => endpoints::redrive_delivery },
    "/v1/spaces/{space}/endpoints/{name}/redrive" => { Post Space(ENDPOINTS_REDRIVE) => endpoints::redrive_deliveries },
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
