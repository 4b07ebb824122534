//! Trigger routes and the webhook receiver: decode, call the engine, encode.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_engine::{TriggerView, WebhookRequest};
use switchyard_model::{JobRecord, Timestamp};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Caller, DEFAULT_LIMIT, Path, Query, page_limit};
use crate::jobs::optional_body;

type Result<T> = std::result::Result<T, ApiError>;

fn ok(status: StatusCode, body: impl Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

/// One execution of a trigger (a job of kind `trigger`), as the API shows it.
pub(crate) fn execution_view(job: &JobRecord) -> Value {
    let p = &job.payload;
    let fire_time = p.get("fire_ms").and_then(Value::as_i64).map(|ms| Timestamp(ms).to_rfc3339());
    let result = job.result.as_ref();
    json!({
        "id": job.id,
        "source": p.get("source"),
        "status": job.status.as_str(),
        "outcome": result.and_then(|r| r.get("outcome")),
        "started": result.and_then(|r| r.get("started")),
        "reason": result.and_then(|r| r.get("reason")),
        "fire_time": if p.get("source").and_then(Value::as_str) == Some("webhook") { None } else { fire_time },
        "delivery_id": p.get("delivery_id"),
        "seq": p.get("seq"),
        "error": job.last_error,
        "attempt": job.attempt,
        "accepted_at": job.created_at.to_rfc3339(),
        "run_at": job.run_at.to_rfc3339(),
        "finished_at": job.finished_at.map(|t| t.to_rfc3339()),
    })
}

fn trigger_view(view: &TriggerView) -> Value {
    let r = &view.record;
    let h = &view.health;
    json!({
        "name": r.name.as_ref() as &str,
        "version": r.version,
        "paused": r.paused,
        "definition": r.definition,
        "webhook_url": r.definition.pointer("/source/webhook").map(|_| format!("/hooks/{}/{}", r.space, r.name)),
        "next_fire_times": view.next_fire_times.iter().map(|t| t.to_rfc3339()).collect::<Vec<_>>(),
        "health": {
            "last_execution": h.last_execution.as_ref().map(execution_view),
            "last_failure": h.last_failure.as_ref().map(execution_view),
            "rejected": h.rejected,
            "last_rejection": h.last_rejection.as_ref().map(|(at, reason)| json!({ "at": at.to_rfc3339(), "reason": reason })),
        },
        "created_at": r.created_at.to_rfc3339(),
        "updated_at": r.updated_at.to_rfc3339(),
    })
}

/// Puts a trigger (YAML or JSON): 201 when new, 200 otherwise; `changed` says whether this
/// made a new version.
pub async fn put_trigger(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<crate::handlers::DryRunQuery>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let format = crate::handlers::definition_format(&headers, &body)?;
    if q.dry_run {
        let preview = state.engine.preview_trigger(&space, &name, &body, format).await?;
        return Ok(crate::handlers::preview_answer(&name, &preview));
    }
    let (view, created, changed) = state.engine.put_trigger(&space, &name, &body, format).await?;
    let mut out = trigger_view(&view);
    out["created"] = Value::Bool(created);
    out["changed"] = Value::Bool(changed);
    Ok(ok(if created { StatusCode::CREATED } else { StatusCode::OK }, out))
}

pub async fn get_trigger(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    let view = state.engine.get_trigger(&space, &name).await?;
    Ok(ok(StatusCode::OK, trigger_view(&view)))
}

pub async fn list_triggers(State(state): State<AppState>, _: Caller, Path(space): Path<String>) -> Result<Response> {
    let views = state.engine.list_triggers(&space).await?;
    let triggers: Vec<Value> = views.iter().map(trigger_view).collect();
    Ok(ok(StatusCode::OK, json!({ "triggers": triggers })))
}

pub async fn delete_trigger(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    state.engine.delete_trigger(&space, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn pause_trigger(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    let view = state.engine.pause_trigger(&space, &name, true).await?;
    Ok(ok(StatusCode::OK, trigger_view(&view)))
}

pub async fn resume_trigger(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    let view = state.engine.pause_trigger(&space, &name, false).await?;
    Ok(ok(StatusCode::OK, trigger_view(&view)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FireBody {
    body: Option<Value>,
}

/// Fires a trigger now: 202 with the execution.
pub async fn fire_trigger(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let body: FireBody = optional_body(&headers, &body)?;
    let job = state.engine.fire_trigger(&space, &name, body.body).await?;
    Ok(ok(StatusCode::ACCEPTED, execution_view(&job)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillBody {
    from: String,
    to: String,
}

pub(crate) fn rfc3339(field: &str, text: &str) -> Result<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text).map(|t| Timestamp(t.timestamp_millis())).map_err(|e| {
        ApiError::new(crate::ErrorCode::ValidationFailed, format!("{field}: {text:?} is not an RFC 3339 time: {e}"))
    })
}

/// Backfills a schedule's fire times in `[from, to]`: 202 with them and how many were new
/// (a time backfilled before is not enqueued again).
pub async fn backfill_trigger(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    crate::extract::Json(body): crate::extract::Json<BackfillBody>,
) -> Result<Response> {
    let (from, to) = (rfc3339("from", &body.from)?, rfc3339("to", &body.to)?);
    let (times, enqueued) = state.engine.backfill_trigger(&space, &name, from, to).await?;
    let times: Vec<String> = times.iter().map(|t| t.to_rfc3339()).collect();
    Ok(ok(StatusCode::ACCEPTED, json!({ "count": times.len(), "enqueued": enqueued, "fire_times": times })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionsQuery {
    before: Option<String>,
    limit: Option<i64>,
}

/// A page of a trigger's executions, newest first; `next_before` continues it.
pub async fn list_executions(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<ExecutionsQuery>,
) -> Result<Response> {
    let limit = page_limit(q.limit, DEFAULT_LIMIT)?;
    let jobs = state.engine.trigger_executions(&space, &name, q.before.as_deref(), limit).await?;
    let next_before = (jobs.len() == limit as usize).then(|| jobs.last().map(|j| j.id.clone())).flatten();
    let executions: Vec<Value> = jobs.iter().map(execution_view).collect();
    Ok(ok(StatusCode::OK, json!({ "executions": executions, "next_before": next_before })))
}

/// Receives a webhook: no token, the trigger's scheme verifies it; 202 once its execution is
/// committed (`replayed` when its delivery id was accepted before).
pub async fn receive_webhook(
    State(state): State<AppState>,
    Path((space, name)): Path<(String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let headers =
        headers.iter().filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned()))).collect();
    let request = WebhookRequest { headers, query, body: body.to_vec() };
    let accepted = state.engine.accept_webhook(&space, &name, request).await?;
    Ok(ok(StatusCode::ACCEPTED, json!({ "execution": accepted.execution, "replayed": accepted.replayed })))
}
