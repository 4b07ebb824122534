//! A space's quota and usage: decode, call the engine, encode.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchyard_engine::SpaceUsage;
use switchyard_model::quotas::Quota;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Caller, Json, Path};

type Result<T> = std::result::Result<T, ApiError>;

/// `GET /v1/spaces/{space}/quota`: the space's limits (`{}` when it has none).
pub async fn get_quota(
    State(state): State<AppState>,
    Caller(by): Caller,
    Path(space): Path<String>,
) -> Result<Response> {
    let quota = state.engine.get_quota(&by, &space)?;
    Ok((StatusCode::OK, axum::Json(json!({ "space": space, "quota": quota }))).into_response())
}

/// `PUT /v1/spaces/{space}/quota`: replaces the space's limits (a field left out is no limit);
/// 200 with `changed`.
pub async fn put_quota(
    State(state): State<AppState>,
    Caller(by): Caller,
    Path(space): Path<String>,
    Json(quota): Json<Quota>,
) -> Result<Response> {
    let changed = state.engine.set_quota(&by, &space, quota.clone()).await?;
    Ok((StatusCode::OK, axum::Json(json!({ "space": space, "quota": quota, "changed": changed }))).into_response())
}

/// `DELETE /v1/spaces/{space}/quota`: removes every limit; 204, or 404 when there were none.
pub async fn delete_quota(
    State(state): State<AppState>,
    Caller(by): Caller,
    Path(space): Path<String>,
) -> Result<Response> {
    if state.engine.delete_quota(&by, &space).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(switchyard_engine::ErrorCode::NotFound, format!("space \"{space}\" has no quota")))
    }
}

/// `GET /v1/spaces/{space}/usage`: what the space may hold and do, holds, and did.
pub async fn get_usage(
    State(state): State<AppState>,
    Caller(by): Caller,
    Path(space): Path<String>,
) -> Result<Response> {
    let usage = state.engine.space_usage(&by, &space).await?;
    Ok((StatusCode::OK, axum::Json(usage_json(&usage))).into_response())
}

fn usage_json(u: &SpaceUsage) -> serde_json::Value {
    let stored = &u.holdings.stored_bytes;
    json!({
        "space": u.space,
        "quota": u.quota,
        "stored_bytes": {
            "total": stored.total(),
            "log": stored.log,
            "instances": stored.instances,
            "kv": stored.kv,
            "functions": stored.functions,
            "invocations": stored.invocations,
        },
        "instances": u.holdings.instances,
        "measured_at": u.measured_at.to_rfc3339(),
        "running_jobs": u.running_jobs,
        "meters": u.meters,
    })
}
