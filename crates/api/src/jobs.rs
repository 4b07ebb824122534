//! Route handlers for durable jobs: enqueue, read, list, re-drive, cancel, delete. Decode, call
//! the engine, encode (the route's rule was checked before); no business logic lives here.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_engine::EnqueueJob;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Caller, DEFAULT_LIMIT, IdempotencyKey, Json, Path, Query, page_limit};
use crate::views::JobView;

type Result<T> = std::result::Result<T, ApiError>;

fn ok(status: StatusCode, body: impl serde::Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

/// An optional JSON body: none (or only whitespace) is `T`'s default.
pub(crate) fn optional_body<T: serde::de::DeserializeOwned + Default>(headers: &HeaderMap, body: &[u8]) -> Result<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    crate::extract::require_json(headers)?;
    crate::extract::decode_json(body)
}

/// Enqueues a job: 201 with it, or 200 with the earlier job an idempotency key (body or
/// `Idempotency-Key` header) returned; `replayed` says which.
pub async fn enqueue_job(
    State(state): State<AppState>,
    _: Caller,
    Path(space): Path<String>,
    key: IdempotencyKey,
    Json(mut body): Json<EnqueueJob>,
) -> Result<Response> {
    body.idempotency_key = key.merge(body.idempotency_key.take())?;
    let (job, replayed) = state.engine.enqueue_job(&space, body).await?;
    let status = if replayed { StatusCode::OK } else { StatusCode::CREATED };
    let mut view = serde_json::to_value(JobView::from(&job)).unwrap_or(Value::Null);
    view["replayed"] = Value::Bool(replayed);
    Ok(ok(status, view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    status: Option<String>,
    kind: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

/// A page of a space's jobs by id (oldest first: ids are UUIDv7); `next_after` is the last id
/// of a full page, `null` at the end.
pub async fn list_jobs(
    State(state): State<AppState>,
    _: Caller,
    Path(space): Path<String>,
    Query(q): Query<JobsQuery>,
) -> Result<Response> {
    let limit = page_limit(q.limit, DEFAULT_LIMIT)?;
    let jobs = state.engine.list_jobs(&space, q.status.as_deref(), q.kind.as_deref(), q.after, Some(limit)).await?;
    let next_after = (jobs.len() == limit as usize).then(|| jobs.last().map(|j| j.id.clone())).flatten();
    let jobs: Vec<JobView> = jobs.iter().map(JobView::from).collect();
    Ok(ok(StatusCode::OK, json!({ "jobs": jobs, "next_after": next_after })))
}

pub async fn get_job(
    State(state): State<AppState>,
    _: Caller,
    Path((space, id)): Path<(String, String)>,
) -> Result<Response> {
    let job = state.engine.get_job(&space, &id).await?;
    Ok(ok(StatusCode::OK, JobView::from(&job)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RetryBody {
    payload: Option<Value>,
}

/// Re-drives a dead or cancelled job (optionally with a new payload): it is due at once.
pub async fn retry_job(
    State(state): State<AppState>,
    _: Caller,
    Path((space, id)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let body: RetryBody = optional_body(&headers, &body)?;
    let job = state.engine.retry_job(&space, &id, body.payload).await?;
    Ok(ok(StatusCode::OK, JobView::from(&job)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RedriveBody {
    kind: Option<String>,
    limit: Option<u32>,
}

/// Re-drives a space's dead jobs (of one kind, at most `limit`): `{"redriven": n}`.
pub async fn redrive_jobs(
    State(state): State<AppState>,
    _: Caller,
    Path(space): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let body: RedriveBody = optional_body(&headers, &body)?;
    let n = state.engine.redrive_jobs(&space, body.kind, body.limit).await?;
    Ok(ok(StatusCode::OK, json!({ "redriven": n })))
}

pub async fn cancel_job(
    State(state): State<AppState>,
    _: Caller,
    Path((space, id)): Path<(String, String)>,
) -> Result<Response> {
    let job = state.engine.cancel_job(&space, &id).await?;
    Ok(ok(StatusCode::OK, JobView::from(&job)))
}

pub async fn delete_job(
    State(state): State<AppState>,
    _: Caller,
    Path((space, id)): Path<(String, String)>,
) -> Result<Response> {
    state.engine.delete_job(&space, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
