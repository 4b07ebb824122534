//! Route handlers for a space's `env` values and secrets: decode, call the engine, encode (the
//! route's rule was checked before). A secret's value is accepted and never answered.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_engine::{EnvValue, SecretInfo};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Caller, Json, Path};

type Result<T> = std::result::Result<T, ApiError>;

fn ok(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn env_view(v: &EnvValue) -> Value {
    json!({ "name": v.name, "value": v.value, "updated_at": v.updated_at.to_rfc3339() })
}

fn secret_view(s: &SecretInfo) -> Value {
    json!({ "name": s.name, "updated_at": s.updated_at.to_rfc3339() })
}

pub async fn list_env(State(state): State<AppState>, _: Caller, Path(space): Path<String>) -> Result<Response> {
    let values = state.engine.list_env(&space).await?;
    Ok(ok(StatusCode::OK, json!({ "env": values.iter().map(env_view).collect::<Vec<_>>() })))
}

pub async fn get_env(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    Ok(ok(StatusCode::OK, env_view(&state.engine.get_env(&space, &name).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvBody {
    value: Value,
}

pub async fn put_env(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Json(body): Json<EnvBody>,
) -> Result<Response> {
    let created = state.engine.set_env(&space, &name, &body.value).await?;
    let value = state.engine.get_env(&space, &name).await?;
    Ok(ok(if created { StatusCode::CREATED } else { StatusCode::OK }, env_view(&value)))
}

pub async fn delete_env(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    state.engine.delete_env(&space, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_secrets(State(state): State<AppState>, _: Caller, Path(space): Path<String>) -> Result<Response> {
    let secrets = state.engine.list_secrets(&space).await?;
    Ok(ok(StatusCode::OK, json!({ "secrets": secrets.iter().map(secret_view).collect::<Vec<_>>() })))
}

pub async fn get_secret(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    Ok(ok(StatusCode::OK, secret_view(&state.engine.get_secret_info(&space, &name).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretBody {
    value: String,
}

pub async fn put_secret(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Json(body): Json<SecretBody>,
) -> Result<Response> {
    let created = state.engine.set_secret(&space, &name, body.value).await?;
    let info = state.engine.get_secret_info(&space, &name).await?;
    Ok(ok(if created { StatusCode::CREATED } else { StatusCode::OK }, secret_view(&info)))
}

pub async fn delete_secret(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    state.engine.delete_secret(&space, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
