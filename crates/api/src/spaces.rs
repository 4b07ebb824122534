//! Spaces: deleting one, and telling a caller that its write created one.
//!
//! A space comes into being with the first write that puts something in it, so a mistyped
//! space name would otherwise pass unnoticed: every answer to a write that created its space
//! carries [`SPACE_CREATED_HEADER`] naming it (the CLI turns that into a note).

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchyard_engine::parse_space;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Caller, Path};

/// The header naming the space a write created (absent when the space existed before).
pub const SPACE_CREATED_HEADER: HeaderName = HeaderName::from_static("x-switchyard-space-created");

pub async fn delete_space(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(space): Path<String>,
) -> Result<Response, ApiError> {
    // The engine checks the caller is an admin of the space, as the door did.
    let (deleted, seq) = state.engine.delete_space(&caller, &space).await?;
    // 200 with what went, unlike the 204 of deletes with nothing to report: this one's answer
    // is the only account of what a whole space held.
    let body = json!({ "space": parse_space(&space)?.as_str(), "deleted": deleted, "seq": seq.0 });
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

/// A space at a glance: live instances by machine and status (roots and the children other
/// instances started, apart), and its job queue.
pub async fn space_stats(
    State(state): State<AppState>,
    _: Caller,
    Path(space): Path<String>,
) -> Result<Response, ApiError> {
    let (instances, jobs) = state.engine.space_stats(&space).await?;
    let instances: Vec<_> = instances
        .iter()
        .map(|c| json!({ "machine": c.machine, "status": c.status.as_str(), "roots": c.roots, "children": c.children }))
        .collect();
    let jobs = jobs.map_or_else(
        || json!({ "pending": 0, "due": 0, "running": 0, "dead": 0, "oldest_due": null }),
        |j| {
            json!({ "pending": j.pending, "due": j.due, "running": j.running, "dead": j.dead,
                    "oldest_due": j.oldest_due.map(|t| t.to_rfc3339()) })
        },
    );
    Ok((StatusCode::OK, axum::Json(json!({ "instances": instances, "jobs": jobs }))).into_response())
}

/// Runs an admitted request to a route of `space` (see [`crate::access::authorise`]), adding
/// [`SPACE_CREATED_HEADER`] to a successful answer when the request created the space.
pub(crate) async fn run_noting_space_creation(space: String, req: Request, next: Next) -> Response {
    let (mut response, created) = switchyard_engine::noting_space_creation(next.run(req)).await;
    if created
        && response.status().is_success()
        && let Ok(space) = HeaderValue::from_str(&space)
    {
        response.headers_mut().insert(SPACE_CREATED_HEADER, space);
    }
    response
}
