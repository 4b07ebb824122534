//! Orgs, their projects and members: decode, call the engine, encode.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use switchyard_engine::orgs::OrgView;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Caller, Json, Path};
use crate::principals::{CreatePrincipalBody, ResetPasswordBody, principal_json};

type Result<T> = std::result::Result<T, ApiError>;

fn org_json(v: &OrgView) -> serde_json::Value {
    let projects: Vec<_> = v
        .projects
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "project": format!("{}/{}", v.record.name, p.name),
                "space": p.space.name.as_str(),
                "created_at": p.space.created_at.to_rfc3339(),
            })
        })
        .collect();
    json!({ "name": v.record.name, "created_at": v.record.created_at.to_rfc3339(), "projects": projects })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgBody {
    name: String,
}

/// `POST /v1/orgs`.
pub async fn create_org(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Json(body): Json<CreateOrgBody>,
) -> Result<Response> {
    let record = state.engine.create_org(&caller, &body.name).await?;
    let view = OrgView { record, projects: Vec::new() };
    Ok((StatusCode::CREATED, axum::Json(org_json(&view))).into_response())
}

/// `GET /v1/orgs`: the orgs the caller reaches a project of.
pub async fn list_orgs(State(state): State<AppState>, Caller(caller): Caller) -> Result<Response> {
    let orgs = state.engine.list_orgs(&caller).await?;
    let orgs: Vec<_> = orgs.iter().map(org_json).collect();
    Ok(axum::Json(json!({ "orgs": orgs })).into_response())
}

/// `GET /v1/orgs/{org}`.
pub async fn get_org(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(org): Path<String>,
) -> Result<Response> {
    let view = state.engine.get_org(&caller, &org).await?;
    Ok(axum::Json(org_json(&view)).into_response())
}

/// `DELETE /v1/orgs/{org}`: only an org without members and projects.
pub async fn delete_org(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(org): Path<String>,
) -> Result<Response> {
    state.engine.delete_org(&caller, &org).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/orgs/{org}/members`.
pub async fn list_members(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(org): Path<String>,
) -> Result<Response> {
    let members = state.engine.list_members(&caller, &org).await?;
    let members: Vec<_> = members.iter().map(principal_json).collect();
    Ok(axum::Json(json!({ "members": members })).into_response())
}

/// `POST /v1/orgs/{org}/members`: a user or service account of the org, with first grants.
pub async fn create_member(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(org): Path<String>,
    Json(body): Json<CreatePrincipalBody>,
) -> Result<Response> {
    let view = state.engine.create_member(&caller, &org, body.into_new()?).await?;
    Ok((StatusCode::CREATED, axum::Json(principal_json(&view))).into_response())
}

/// `DELETE /v1/orgs/{org}/members/{id}`: the member, its grants, and its tokens (revoked).
pub async fn delete_member(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response> {
    let revoked = state.engine.delete_member(&caller, &org, &id).await?;
    Ok(axum::Json(json!({ "deleted": id, "tokens_revoked": revoked })).into_response())
}

/// `PUT /v1/orgs/{org}/members/{id}/password`: an org admin resets a member's password.
pub async fn reset_member_password(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((org, id)): Path<(String, String)>,
    Json(body): Json<ResetPasswordBody>,
) -> Result<Response> {
    let revoked = state.engine.reset_member_password(&caller, &org, &id, &body.password).await?;
    Ok(axum::Json(json!({ "sessions_revoked": revoked })).into_response())
}
