//! Outbound webhook endpoint routes: decode, call the engine, encode.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_engine::EndpointView;
use switchyard_model::JobRecord;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Caller, DEFAULT_LIMIT, Path, Query, page_limit};
use crate::jobs::optional_body;
use crate::triggers::rfc3339;

type Result<T> = std::result::Result<T, ApiError>;

fn ok(status: StatusCode, body: impl Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

/// One delivery (a job of kind `delivery`), as the API shows it: the record it carries, where
/// it is, and its attempts (each with the answer's status code and latency in its error).
pub(crate) fn delivery_view(job: &JobRecord) -> Value {
    let p = &job.payload;
    let result = job.result.as_ref();
    let attempts: Vec<Value> = job
        .attempts
        .iter()
        .map(|a| {
            json!({
                "attempt": a.attempt,
                "started_at": a.started_at.to_rfc3339(),
                "ended_at": a.ended_at.map(|t| t.to_rfc3339()),
                "error": a.error,
            })
        })
        .collect();
    json!({
        "id": job.id,
        "webhook_id": switchyard_engine::endpoints::webhook_id(&job.id),
        "seq": p.get("seq"),
        "type": p.get("type"),
        "status": job.status.as_str(),
        "response_status": result.and_then(|r| r.get("status")),
        "latency_ms": result.and_then(|r| r.get("latency_ms")),
        "attempt": job.attempt,
        "max_attempts": job.retry.max_attempts,
        "error": job.last_error,
        "attempts": attempts,
        "created_at": job.created_at.to_rfc3339(),
        "run_at": job.run_at.to_rfc3339(),
        "finished_at": job.finished_at.map(|t| t.to_rfc3339()),
    })
}

fn endpoint_view(view: &EndpointView) -> Value {
    let r = &view.record;
    let h = &view.health;
    json!({
        "name": r.name.as_ref() as &str,
        "version": r.version,
        "enabled": r.disabled.is_none(),
        "disabled_reason": r.disabled,
        "definition": r.definition,
        "health": {
            "last_delivery": h.last_delivery.as_ref().map(delivery_view),
            "last_failure": h.last_failure.as_ref().map(delivery_view),
            "breaker": h.breaker,
            "consecutive_failures": h.consecutive_failures,
            "open_until": h.open_until.map(|t| t.to_rfc3339()),
            "slowed_until": h.slowed_until.map(|t| t.to_rfc3339()),
            "consumer": h.consumer,
        },
        "created_at": r.created_at.to_rfc3339(),
        "updated_at": r.updated_at.to_rfc3339(),
    })
}

/// Puts an endpoint (YAML or JSON): 201 when new, 200 otherwise; `changed` says whether this
/// made a new version.
pub async fn put_endpoint(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<crate::handlers::DryRunQuery>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let format = crate::handlers::definition_format(&headers, &body)?;
    if q.dry_run {
        let preview = state.engine.preview_endpoint(&space, &name, &body, format).await?;
        return Ok(crate::handlers::preview_answer(&name, &preview));
    }
    let (view, created, changed) = state.engine.put_endpoint(&space, &name, &body, format).await?;
    let mut out = endpoint_view(&view);
    out["created"] = Value::Bool(created);
    out["changed"] = Value::Bool(changed);
    Ok(ok(if created { StatusCode::CREATED } else { StatusCode::OK }, out))
}

pub async fn get_endpoint(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    let view = state.engine.get_endpoint(&space, &name).await?;
    Ok(ok(StatusCode::OK, endpoint_view(&view)))
}

pub async fn list_endpoints(State(state): State<AppState>, _: Caller, Path(space): Path<String>) -> Result<Response> {
    let views = state.engine.list_endpoints(&space).await?;
    let endpoints: Vec<Value> = views.iter().map(endpoint_view).collect();
    Ok(ok(StatusCode::OK, json!({ "endpoints": endpoints })))
}

pub async fn delete_endpoint(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    state.engine.delete_endpoint(&space, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DisableBody {
    reason: Option<String>,
}

/// Disables an endpoint: it reads nothing and its pending deliveries end; `reason` is kept.
pub async fn disable_endpoint(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let body: DisableBody = optional_body(&headers, &body)?;
    let reason = body.reason.filter(|r| !r.trim().is_empty()).unwrap_or_else(|| "disabled by a person".to_string());
    if reason.len() > 1024 {
        return Err(ApiError::new(crate::ErrorCode::ValidationFailed, "reason: at most 1024 bytes"));
    }
    let view = state.engine.set_endpoint_disabled(&space, &name, Some(reason)).await?;
    Ok(ok(StatusCode::OK, endpoint_view(&view)))
}

/// Enables an endpoint again: it reads on from where it stopped.
pub async fn enable_endpoint(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    let view = state.engine.set_endpoint_disabled(&space, &name, None).await?;
    Ok(ok(StatusCode::OK, endpoint_view(&view)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    before: Option<String>,
    limit: Option<i64>,
}

/// A page of an endpoint's deliveries, newest first; `next_before` continues it.
pub async fn list_deliveries(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Response> {
    let limit = page_limit(q.limit, DEFAULT_LIMIT)?;
    let jobs = state.engine.endpoint_deliveries(&space, &name, q.before.as_deref(), limit).await?;
    let next_before = (jobs.len() == limit as usize).then(|| jobs.last().map(|j| j.id.clone())).flatten();
    let deliveries: Vec<Value> = jobs.iter().map(delivery_view).collect();
    Ok(ok(StatusCode::OK, json!({ "deliveries": deliveries, "next_before": next_before })))
}

/// Re-drives one dead delivery: 202 with it, pending again under the same `webhook-id`.
pub async fn redrive_delivery(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name, id)): Path<(String, String, String)>,
) -> Result<Response> {
    let job = state.engine.redrive_delivery(&space, &name, &id).await?;
    Ok(ok(StatusCode::ACCEPTED, delivery_view(&job)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RedriveBody {
    from: Option<String>,
    to: Option<String>,
}

/// Re-drives the endpoint's dead deliveries created in `[from, to]` (each optional): 202 with
/// how many.
pub async fn redrive_deliveries(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let body: RedriveBody = optional_body(&headers, &body)?;
    let from = body.from.as_deref().map(|t| rfc3339("from", t)).transpose()?;
    let to = body.to.as_deref().map(|t| rfc3339("to", t)).transpose()?;
    let count = state.engine.redrive_deliveries(&space, &name, from, to).await?;
    Ok(ok(StatusCode::ACCEPTED, json!({ "redriven": count })))
}
