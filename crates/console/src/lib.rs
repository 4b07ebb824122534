//! Switchyard's web console, served at `/console` by `switchyard serve`.
//!
//! The console is a client of the HTTP API that runs in the same process: every page and every
//! action is one or more calls to the API's own router ([`api::Api`]), made with the token of
//! the signed-in person. So the console sees and may do exactly what that token may, with the
//! API's checks, validation and error codes; it holds no rule of its own about who may see what.
//!
//! Invariants:
//! - Pages are rendered on the server (`maud`), graphs are laid out on the server
//!   ([`graph`]); the browser runs one script of ours (`assets/console.js`) for live views and
//!   the flow editor, and fetches nothing from anywhere but this server (the
//!   Content-Security-Policy in [`security_headers`] says so to the browser).
//! - The session is an HttpOnly, SameSite=Strict cookie scoped to `/console` holding the token;
//!   every state-changing request carries a CSRF token derived from it ([`session`]), and is a
//!   POST. A GET changes nothing.
//! - Every asset is compiled into the binary ([`assets`]).

mod api;
mod assets;
mod forms;
pub mod graph;
mod layout;
mod pages;
mod session;
mod yaml_lines;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};

pub use assets::ASSETS_BYTES;

/// Settings of the console.
#[derive(Debug, Clone, Default)]
pub struct ConsoleConfig {
    /// Whether the server speaks HTTPS: the session cookie is then marked `Secure`.
    pub secure_cookie: bool,
}

/// What every console handler reaches.
#[derive(Clone)]
pub struct ConsoleState {
    api: api::Api,
    config: std::sync::Arc<ConsoleConfig>,
}

/// The console's routes, all under `/console`, calling the API through `api_router` in process.
/// Merge the result into the application's router; it has no fallback of its own.
pub fn router(api_router: Router, config: ConsoleConfig) -> Router {
    let state = ConsoleState { api: api::Api::new(api_router), config: std::sync::Arc::new(config) };
    let s = "/console/s/{space}";
    Router::new()
        .route("/console", get(pages::home))
        .route("/console/", get(pages::home))
        .route("/console/assets/{file}", get(assets::serve))
        .route("/console/go", get(pages::go))
        .route("/console/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/console/sign-out", post(session::sign_out))
        .route(s, get(pages::overview::page))
        .route(&format!("{s}/machines"), get(pages::machines::list))
        .route(&format!("{s}/machines/{{name}}"), get(pages::machines::show))
        .route(&format!("{s}/machines/{{name}}/instances"), get(pages::instances::list))
        .route(&format!("{s}/machines/{{name}}/instances/{{id}}"), get(pages::instances::show))
        .route(&format!("{s}/machines/{{name}}/instances/{{id}}/{{action}}"), post(pages::instances::act))
        .route(&format!("{s}/runs"), get(pages::runs::list).post(pages::runs::retry_matching))
        .route(&format!("{s}/runs/{{id}}"), get(pages::runs::show))
        .route(&format!("{s}/runs/{{id}}/{{action}}"), post(pages::runs::act))
        .route(&format!("{s}/flows"), get(pages::flows::list).post(pages::flows::create))
        .route(&format!("{s}/flows/{{name}}"), get(pages::flows::show).post(pages::flows::save))
        .route(&format!("{s}/flows/{{name}}/check"), post(pages::flows::check))
        .route(&format!("{s}/flows/{{name}}/yaml"), post(pages::flows::to_yaml))
        .route(&format!("{s}/flows/{{name}}/start"), post(pages::flows::start))
        .route(&format!("{s}/live"), get(pages::live::page))
        .route(&format!("{s}/live/stream"), get(pages::live::stream))
        .route(&format!("{s}/functions"), get(pages::functions::list))
        .route(&format!("{s}/functions/{{name}}"), get(pages::functions::show))
        .route(&format!("{s}/functions/{{name}}/invoke"), post(pages::functions::invoke))
        .route(&format!("{s}/invocations/{{id}}"), get(pages::functions::invocation))
        .route(&format!("{s}/jobs"), get(pages::jobs::list).post(pages::jobs::bulk))
        .route(&format!("{s}/jobs/{{id}}"), get(pages::jobs::show))
        .route(&format!("{s}/jobs/{{id}}/{{action}}"), post(pages::jobs::act))
        .route(&format!("{s}/subscriptions"), get(pages::streams::subscriptions))
        .route(&format!("{s}/subscriptions/{{name}}"), get(pages::streams::subscription))
        .route(&format!("{s}/subscriptions/{{name}}/{{action}}"), post(pages::streams::dead_letter_act))
        .route(&format!("{s}/topics"), get(pages::streams::topics).post(pages::streams::publish))
        .route(&format!("{s}/kv"), get(pages::streams::buckets))
        .route(&format!("{s}/kv/{{bucket}}"), get(pages::streams::bucket))
        .route(&format!("{s}/kv/{{bucket}}/entry"), get(pages::streams::entry))
        .route(&format!("{s}/triggers"), get(pages::triggers::list))
        .route(&format!("{s}/triggers/{{name}}"), get(pages::triggers::show))
        .route(&format!("{s}/triggers/{{name}}/{{action}}"), post(pages::triggers::act))
        .route(&format!("{s}/endpoints"), get(pages::endpoints::list))
        .route(&format!("{s}/endpoints/{{name}}"), get(pages::endpoints::show))
        .route(&format!("{s}/endpoints/{{name}}/{{action}}"), post(pages::endpoints::act))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security_headers))
        .with_state(state)
}

/// The Content-Security-Policy of every console answer: scripts, styles, images and
/// connections from this server only, no inline script or style, no framing, forms post here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// How long a browser that saw the console over HTTPS keeps to HTTPS for this host (a year).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// Adds the security headers to every console answer (HSTS over HTTPS), and drops a flash once
/// a page showed it.
async fn security_headers(State(state): State<ConsoleState>, req: Request, next: Next) -> Response {
    let had_flash = session::cookie_value(req.headers(), session::FLASH_COOKIE).is_some();
    let https = session::over_https(&state, req.headers());
    let mut response = next.run(req).await;
    if had_flash && response.status().is_success() {
        response.headers_mut().append(header::SET_COOKIE, session::clear_flash());
    }
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(STRICT_TRANSPORT_SECURITY));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Pages show a person's data: never kept by shared caches or the back button's cache.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
