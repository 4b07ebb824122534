//! Sign-in, users and service accounts, grants and roles: decode, call the engine, encode.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchyard_engine::{NewPrincipal, Principal, PrincipalView, RoleView};
use switchyard_model::{GrantRecord, PrincipalKind};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Caller, Json, Path, Query};
use crate::views::TokenView;
use switchyard_engine::ErrorCode;

type Result<T> = std::result::Result<T, ApiError>;

fn ok(status: StatusCode, body: impl Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

/// A grant as shown.
#[derive(Serialize)]
struct GrantView<'a> {
    id: &'a str,
    principal: &'a str,
    role: &'a str,
    pattern: &'a str,
    created_at: String,
}

impl<'a> From<&'a GrantRecord> for GrantView<'a> {
    fn from(g: &'a GrantRecord) -> Self {
        GrantView {
            id: &g.id,
            principal: &g.principal,
            role: &g.role,
            pattern: &g.pattern,
            created_at: g.created_at.to_rfc3339(),
        }
    }
}

pub(crate) fn principal_json(v: &PrincipalView) -> serde_json::Value {
    let grants: Vec<GrantView<'_>> = v.grants.iter().map(GrantView::from).collect();
    json!({
        "id": v.record.id,
        "kind": v.record.kind.as_str(),
        "name": v.record.name,
        "org": v.record.org,
        "created_at": v.record.created_at.to_rfc3339(),
        "failed_sign_ins": v.record.failed_sign_ins,
        "locked_until": v.record.locked_until.map(|t| t.to_rfc3339()),
        "grants": grants,
    })
}

fn role_json(r: &RoleView) -> serde_json::Value {
    json!({
        "name": r.name,
        "permissions": r.permissions,
        "builtin": r.builtin,
        "updated_at": r.updated_at.map(|t| t.to_rfc3339()),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    name: String,
    password: String,
}

/// `POST /v1/auth/sign-in`: a session token for a user's name and password.
pub async fn sign_in(State(state): State<AppState>, Json(body): Json<SignInBody>) -> Result<Response> {
    let signed_in = state.engine.sign_in(&body.name, &body.password).await?;
    let mut session = serde_json::to_value(TokenView::new(&signed_in.session, Some(&signed_in.secret)))
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    if let Some(obj) = session.as_object_mut() {
        obj.insert("user".into(), json!({ "id": signed_in.user.id, "name": signed_in.user.name }));
    }
    Ok(ok(StatusCode::CREATED, session))
}

/// `POST /v1/auth/sign-out`: ends the caller's session (or revokes the token it used).
pub async fn sign_out(State(state): State<AppState>, Caller(caller): Caller) -> Result<Response> {
    state.engine.sign_out(&caller).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeBody {
    current: String,
    new: String,
}

/// `POST /v1/auth/password`: the caller changes its own password; its other sessions end.
pub async fn change_password(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Json(body): Json<PasswordChangeBody>,
) -> Result<Response> {
    let revoked = state.engine.change_password(&caller, &body.current, &body.new).await?;
    Ok(ok(StatusCode::OK, json!({ "sessions_revoked": revoked })))
}

/// `GET /v1/auth/me`: who the caller is and what it may do.
pub async fn me(Caller(caller): Caller) -> Result<Response> {
    Ok(ok(StatusCode::OK, me_json(&caller)))
}

fn me_json(p: &Principal) -> serde_json::Value {
    let grants: Vec<_> = p
        .grants
        .grants()
        .iter()
        .map(
            |g| json!({ "role": g.role.name, "permissions": g.role.permission_names(), "pattern": g.pattern.as_str() }),
        )
        .collect();
    let scope: Option<Vec<_>> = p
        .scope
        .as_ref()
        .map(|s| s.grants().iter().map(|g| json!({ "role": g.role.name, "pattern": g.pattern.as_str() })).collect());
    json!({
        "id": p.id,
        "kind": p.kind,
        "name": p.name,
        "token": p.token_id,
        "session": p.session,
        "expires_at": p.expires_at.map(|t| t.to_rfc3339()),
        "grants": grants,
        "scope": scope,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantSpec {
    role: String,
    pattern: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePrincipalBody {
    kind: String,
    name: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    grants: Vec<GrantSpec>,
}

/// `POST /v1/principals`: a user (with a password) or a service account, with first grants.
pub async fn create_principal(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Json(body): Json<CreatePrincipalBody>,
) -> Result<Response> {
    let view = state.engine.create_principal(&caller, body.into_new()?).await?;
    Ok(ok(StatusCode::CREATED, principal_json(&view)))
}

impl CreatePrincipalBody {
    /// The principal the body asks for.
    pub(crate) fn into_new(self) -> Result<NewPrincipal> {
        let kind = PrincipalKind::parse(&self.kind).ok_or_else(|| {
            ApiError::new(ErrorCode::ValidationFailed, format!("kind \"{}\": expected user or service", self.kind))
        })?;
        Ok(NewPrincipal {
            kind,
            name: self.name,
            password: self.password,
            grants: self.grants.into_iter().map(|g| (g.role, g.pattern)).collect(),
        })
    }
}

/// `GET /v1/principals`.
pub async fn list_principals(State(state): State<AppState>, Caller(caller): Caller) -> Result<Response> {
    let views = state.engine.list_principals(&caller).await?;
    let principals: Vec<_> = views.iter().map(principal_json).collect();
    Ok(ok(StatusCode::OK, json!({ "principals": principals })))
}

/// `GET /v1/principals/{id}`.
pub async fn get_principal(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    let view = state.engine.get_principal(&caller, &id).await?;
    Ok(ok(StatusCode::OK, principal_json(&view)))
}

/// `DELETE /v1/principals/{id}`: the principal, its grants, and its tokens (revoked).
pub async fn delete_principal(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    let revoked = state.engine.delete_principal(&caller, &id).await?;
    Ok(ok(StatusCode::OK, json!({ "deleted": id, "tokens_revoked": revoked })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetPasswordBody {
    pub(crate) password: String,
}

/// `PUT /v1/principals/{id}/password`: a system admin sets a user's password.
pub async fn reset_password(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Json(body): Json<ResetPasswordBody>,
) -> Result<Response> {
    let revoked = state.engine.reset_password(&caller, &id, &body.password).await?;
    Ok(ok(StatusCode::OK, json!({ "sessions_revoked": revoked })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantBody {
    principal: String,
    role: String,
    pattern: String,
}

/// `POST /v1/grants`.
pub async fn create_grant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Json(body): Json<CreateGrantBody>,
) -> Result<Response> {
    let grant = state.engine.create_grant(&caller, &body.principal, &body.role, &body.pattern).await?;
    Ok(ok(StatusCode::CREATED, GrantView::from(&grant)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantsQuery {
    #[serde(default)]
    principal: Option<String>,
}

/// `GET /v1/grants`: those the caller may see.
pub async fn list_grants(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(q): Query<GrantsQuery>,
) -> Result<Response> {
    let grants = state.engine.list_grants(&caller, q.principal.as_deref()).await?;
    let grants: Vec<GrantView<'_>> = grants.iter().map(GrantView::from).collect();
    Ok(ok(StatusCode::OK, json!({ "grants": grants })))
}

/// `DELETE /v1/grants/{id}`.
pub async fn delete_grant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    state.engine.delete_grant(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/roles`: built-in and custom.
pub async fn list_roles(State(state): State<AppState>) -> Result<Response> {
    let roles = state.engine.list_roles().await?;
    let roles: Vec<_> = roles.iter().map(role_json).collect();
    Ok(ok(StatusCode::OK, json!({ "roles": roles })))
}

/// `GET /v1/roles/{name}`.
pub async fn get_role(State(state): State<AppState>, Path(name): Path<String>) -> Result<Response> {
    let roles = state.engine.list_roles().await?;
    match roles.iter().find(|r| r.name == name) {
        Some(role) => Ok(ok(StatusCode::OK, role_json(role))),
        None => Err(ApiError::new(ErrorCode::NotFound, format!("role \"{name}\" not found"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutRoleBody {
    permissions: Vec<String>,
}

/// `PUT /v1/roles/{name}`: a custom role; every grant of it follows.
pub async fn put_role(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    Json(body): Json<PutRoleBody>,
) -> Result<Response> {
    let (role, created) = state.engine.put_role(&caller, &name, &body.permissions).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(ok(status, role_json(&role)))
}

/// `DELETE /v1/roles/{name}`: a custom role no grant names.
pub async fn delete_role(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Response> {
    state.engine.delete_role(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    kind: Option<String>,
}

/// `GET /v1/audit`: audit records after a seq, oldest first; `next_after` is where the next
/// page starts (the log past what was read held no more of them).
pub async fn read_audit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Response> {
    let kinds: Vec<String> =
        q.kind.iter().flat_map(|k| k.split(',')).map(str::trim).filter(|k| !k.is_empty()).map(str::to_string).collect();
    let limit = q.limit.unwrap_or(100);
    let (records, through) = state.engine.read_audit(&caller, switchyard_model::Seq(q.after), &kinds, limit).await?;
    let records: Vec<crate::views::LogView<'_>> = records.iter().map(crate::views::LogView::from).collect();
    Ok(ok(StatusCode::OK, json!({ "records": records, "next_after": through.0 })))
}
