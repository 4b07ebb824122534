//! Flow and run routes: decode, call the engine, encode.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchyard_engine::{ErrorCode, FlowRecord, RunFilter, RunStatus, SendEvent};
use switchyard_model::{InstanceRecord, Timestamp};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Caller, DEFAULT_LIMIT, IdempotencyKey, Json, Path, Query, page_limit};

type Result<T> = std::result::Result<T, ApiError>;

fn ok(status: StatusCode, body: impl Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

/// A flow: its name, version and definition (and, when asked, the machine it compiled to).
fn flow_view(record: &FlowRecord, compiled: bool) -> Value {
    let mut view = json!({
        "name": record.machine.name.as_ref() as &str,
        "version": record.machine.version.get(),
        "definition": record.flow,
        "created_at": record.machine.created_at.to_rfc3339(),
    });
    if compiled {
        view["compiled"] = record.machine.definition.clone();
    }
    view
}

pub async fn put_flow(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<crate::handlers::DryRunQuery>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let format = crate::handlers::definition_format(&headers, &body)?;
    if q.dry_run {
        let preview = state.engine.preview_flow(&space, &name, &body, format).await?;
        return Ok(crate::handlers::preview_answer(&name, &preview));
    }
    let (version, created) = state.engine.put_flow(&space, &name, &body, format).await?;
    Ok(ok(StatusCode::OK, json!({ "name": name, "version": version.get(), "created": created })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetFlowQuery {
    version: Option<u32>,
    #[serde(default)]
    compiled: bool,
}

pub async fn get_flow(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<GetFlowQuery>,
) -> Result<Response> {
    let record = state.engine.get_flow(&space, &name, q.version).await?;
    Ok(ok(StatusCode::OK, flow_view(&record, q.compiled)))
}

pub async fn list_flows(State(state): State<AppState>, _: Caller, Path(space): Path<String>) -> Result<Response> {
    let flows = state.engine.list_flows(&space).await?;
    let flows: Vec<Value> = flows
        .iter()
        .map(|f| {
            json!({
                "name": f.machine.name.as_ref() as &str,
                "version": f.machine.version.get(),
                "description": f.flow.get("description"),
                "nodes": f.flow.get("nodes").and_then(Value::as_array).map_or(0, Vec::len),
                "created_at": f.machine.created_at.to_rfc3339(),
            })
        })
        .collect();
    Ok(ok(StatusCode::OK, json!({ "flows": flows })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StartRunBody {
    #[serde(default)]
    input: Value,
    idempotency_key: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StartRunQuery {
    /// How long to wait for the run to end (`30s`, `500ms`; at most 60 s).
    wait: Option<String>,
}

fn parse_wait(text: &str) -> Result<Duration> {
    let wait = humantime::parse_duration(text).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("wait: invalid duration {text:?}: {e}; write it like 30s or 500ms"),
        )
    })?;
    if wait > switchyard_engine::flows::MAX_RUN_WAIT {
        return Err(ApiError::new(ErrorCode::ValidationFailed, "wait: at most 60s; poll the run for longer runs"));
    }
    Ok(wait)
}

pub async fn start_run(
    State(state): State<AppState>,
    _: Caller,
    Path((space, flow)): Path<(String, String)>,
    Query(q): Query<StartRunQuery>,
    key: IdempotencyKey,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let wait = q.wait.as_deref().map(parse_wait).transpose()?;
    let mut body: StartRunBody = crate::jobs::optional_body(&headers, &body)?;
    body.idempotency_key = key.merge(body.idempotency_key.take())?;
    state.engine.admit_events(&space, 1)?;
    let (run, replayed) = state.engine.start_run(&space, &flow, body.input, body.idempotency_key).await?;
    let status = if replayed { StatusCode::OK } else { StatusCode::CREATED };
    let Some(wait) = wait else { return Ok(ok(status, run_answer(&state, &space, &run).await?)) };
    let run = state.engine.wait_for_run(run, wait).await?;
    // Not finished in time: accepted, and the client polls the run.
    let status = if run.status.is_terminal() { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok(ok(status, run_answer(&state, &space, &run).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRunsQuery {
    flow: Option<String>,
    status: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RunFilterBody {
    flow: Option<String>,
    status: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

fn parse_time(field: &str, text: &str) -> Result<Timestamp> {
    let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("{field}: invalid time {text:?}: {e}; write it in RFC 3339, like 2026-12-04T10:00:00Z"),
        )
    })?;
    Ok(Timestamp(at.timestamp_millis()))
}

fn run_filter(
    flow: Option<String>,
    status: Option<String>,
    since: Option<String>,
    until: Option<String>,
) -> Result<RunFilter> {
    let status = match status {
        Some(text) => Some(RunStatus::parse(&text).ok_or_else(|| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("status: {text:?} is not a run status; use running, waiting, succeeded, failed or cancelled"),
            )
        })?),
        None => None,
    };
    Ok(RunFilter {
        flow,
        status,
        since: since.as_deref().map(|t| parse_time("since", t)).transpose()?,
        until: until.as_deref().map(|t| parse_time("until", t)).transpose()?,
    })
}

pub async fn list_runs(
    State(state): State<AppState>,
    _: Caller,
    Path(space): Path<String>,
    Query(q): Query<ListRunsQuery>,
) -> Result<Response> {
    let limit = page_limit(q.limit, DEFAULT_LIMIT)?;
    let filter = run_filter(q.flow, q.status, q.since, q.until)?;
    let page = state.engine.list_runs(&space, &filter, limit, q.cursor).await?;
    let runs: Vec<RunSummaryView<'_>> = page.runs.iter().map(RunSummaryView::new).collect();
    Ok(ok(StatusCode::OK, json!({ "runs": runs, "next_cursor": page.next_cursor })))
}

pub async fn get_run(
    State(state): State<AppState>,
    _: Caller,
    Path((space, id)): Path<(String, String)>,
) -> Result<Response> {
    let run = state.engine.get_run(&space, &id).await?;
    Ok(ok(StatusCode::OK, run_answer(&state, &space, &run).await?))
}

/// A run as every route answers it: its nodes in the flow's order with their kinds, the
/// running node's attempt and the subflow (or items) it waits for.
async fn run_answer(state: &AppState, space: &str, run: &InstanceRecord) -> Result<Value> {
    let flow = state.engine.get_flow(space, run.machine.as_ref(), Some(run.machine_version.get())).await.ok();
    let work = state.engine.instance_work(run).await?;
    let mut view = RunView::new(run).with_nodes(flow.as_ref().map(|f| &f.flow));
    // The running node's attempt, from its job.
    if let Some(job) = work.jobs.iter().find(|j| j.kind.as_ref() as &str != switchyard_model::TIMER_JOB) {
        view.attempt = Some(job.attempt);
    }
    if let Some(child) = &work.child {
        view.subflow = Some(json!({ "run": child.id.as_ref() as &str, "flow": child.machine.as_ref() as &str,
            "status": RunStatus::of(child.status).as_str() }));
    }
    Ok(serde_json::to_value(view).unwrap_or(Value::Null))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CancelRunBody {
    reason: Option<String>,
}

pub async fn cancel_run(
    State(state): State<AppState>,
    _: Caller,
    Path((space, id)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let body: CancelRunBody = crate::jobs::optional_body(&headers, &body)?;
    let run = state.engine.cancel_run(&space, &id, body.reason).await?;
    Ok(ok(StatusCode::OK, run_answer(&state, &space, &run).await?))
}

pub async fn retry_run(
    State(state): State<AppState>,
    _: Caller,
    Path((space, id)): Path<(String, String)>,
) -> Result<Response> {
    state.engine.admit_events(&space, 1)?;
    let run = state.engine.retry_run(&space, &id).await?;
    Ok(ok(StatusCode::CREATED, run_answer(&state, &space, &run).await?))
}

pub async fn rerun_run(
    State(state): State<AppState>,
    _: Caller,
    Path((space, id)): Path<(String, String)>,
) -> Result<Response> {
    state.engine.admit_events(&space, 1)?;
    let run = state.engine.rerun_run(&space, &id).await?;
    Ok(ok(StatusCode::CREATED, run_answer(&state, &space, &run).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunEventBody {
    event: String,
    payload: Option<Value>,
    idempotency_key: Option<String>,
}

pub async fn send_run_event(
    State(state): State<AppState>,
    _: Caller,
    Path((space, id)): Path<(String, String)>,
    key: IdempotencyKey,
    Json(mut body): Json<RunEventBody>,
) -> Result<Response> {
    body.idempotency_key = key.merge(body.idempotency_key.take())?;
    let run = state.engine.get_run(&space, &id).await?;
    let event = SendEvent {
        event: body.event,
        payload: body.payload,
        idempotency_key: body.idempotency_key,
        expected_state: None,
        expected_revision: None,
    };
    state.engine.admit_events(&space, 1)?;
    state.engine.apply_event(&space, run.machine.as_ref(), &id, event).await?;
    let run = state.engine.get_run(&space, &id).await?;
    Ok(ok(StatusCode::OK, run_answer(&state, &space, &run).await?))
}

async fn bulk(
    state: AppState,
    space: String,
    headers: HeaderMap,
    body: axum::body::Bytes,
    retry: bool,
) -> Result<Response> {
    let body: RunFilterBody = crate::jobs::optional_body(&headers, &body)?;
    let filter = run_filter(body.flow, body.status, body.since, body.until)?;
    if retry {
        // Each run retried is an instance created: the room is reserved per run, the rate
        // taken for the request.
        state.engine.admit_events(&space, 1)?;
    }
    let outcome = state.engine.bulk_runs(&space, &filter, retry).await?;
    let skipped: Vec<Value> = outcome.skipped.iter().map(|(run, why)| json!({ "run": run, "reason": why })).collect();
    let key = if retry { "started" } else { "cancelled" };
    Ok(ok(StatusCode::OK, json!({ key: outcome.done, "skipped": skipped })))
}

pub async fn cancel_runs(
    State(state): State<AppState>,
    _: Caller,
    Path(space): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    bulk(state, space, headers, body, false).await
}

pub async fn retry_runs(
    State(state): State<AppState>,
    _: Caller,
    Path(space): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    bulk(state, space, headers, body, true).await
}

/// A run as listed.
#[derive(Serialize)]
pub struct RunSummaryView<'a> {
    id: &'a str,
    flow: &'a str,
    flow_version: u32,
    status: &'static str,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

impl<'a> RunSummaryView<'a> {
    fn new(run: &'a InstanceRecord) -> Self {
        RunSummaryView {
            id: run.id.as_ref(),
            flow: run.machine.as_ref(),
            flow_version: run.machine_version.get(),
            status: RunStatus::of(run.status).as_str(),
            created_at: run.created_at.to_rfc3339(),
            updated_at: run.updated_at.to_rfc3339(),
            error: run_error(run),
        }
    }
}

/// A run: its input and output, its error, its variables and every node that ran.
#[derive(Serialize)]
pub struct RunView<'a> {
    id: &'a str,
    flow: &'a str,
    flow_version: u32,
    status: &'static str,
    /// The machine state it is in (`fetch.run`, `flow.succeeded`, ...).
    state: &'a str,
    input: Option<&'a Value>,
    /// The output of the node that ran last (the run's output once it succeeded).
    output: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
    vars: Option<&'a Value>,
    /// Every node that ran (in the flow's order, with its kind, on a read of the run).
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<Vec<Value>>,
    /// The attempt of the running node's action, when one is running.
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt: Option<u32>,
    /// The subflow run the current node waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    subflow: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_of: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rerun_of: Option<&'a Value>,
    created_at: String,
    updated_at: String,
}

impl<'a> RunView<'a> {
    fn new(run: &'a InstanceRecord) -> Self {
        let output = run.ctx.get("output");
        RunView {
            id: run.id.as_ref(),
            flow: run.machine.as_ref(),
            flow_version: run.machine_version.get(),
            status: RunStatus::of(run.status).as_str(),
            state: &run.state,
            input: run.ctx.get("input"),
            output,
            error: run_error(run),
            vars: run.ctx.get("vars"),
            nodes: None,
            attempt: None,
            subflow: None,
            retry_of: run.ctx.get("retry_of"),
            rerun_of: run.ctx.get("rerun_of"),
            created_at: run.created_at.to_rfc3339(),
            updated_at: run.updated_at.to_rfc3339(),
        }
        .with_nodes_from(&run.ctx)
    }

    /// The node records as a list in the flow's order, with each node's kind.
    fn with_nodes(mut self, flow: Option<&Value>) -> Self {
        let Some(nodes) = &mut self.nodes else { return self };
        if let Some(order) = flow.and_then(|f| f.get("nodes")).and_then(Value::as_array) {
            let position = |id: &str| order.iter().position(|n| n.get("id").and_then(Value::as_str) == Some(id));
            nodes.sort_by_key(|n| position(n.get("id").and_then(Value::as_str).unwrap_or("")).unwrap_or(usize::MAX));
            for node in nodes.iter_mut() {
                let id = node.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
                if let Some(spec) = order.iter().find(|n| n.get("id").and_then(Value::as_str) == Some(&id))
                    && let Some(object) = node.as_object_mut()
                {
                    object.insert("kind".to_owned(), spec.get("kind").cloned().unwrap_or(Value::Null));
                }
            }
        }
        self
    }

    fn with_nodes_from(mut self, ctx: &Map<String, Value>) -> Self {
        let Some(Value::Object(records)) = ctx.get("nodes") else { return self };
        let ended = match self.status {
            "cancelled" => Some("cancelled"),
            "failed" => Some("failed"),
            _ => None,
        };
        let nodes = records
            .iter()
            // A branch that did not reach a node leaves it `null`.
            .filter(|(_, record)| record.is_object())
            .map(|(id, record)| {
                let mut node = Map::new();
                node.insert("id".to_owned(), Value::String(id.clone()));
                if let Value::Object(fields) = record {
                    node.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                // A run that ended while a node worked: the node ended with it.
                if ended.is_some() && node.get("status").and_then(Value::as_str) == Some("running") {
                    node.insert("status".to_owned(), Value::String(ended.unwrap_or("failed").to_owned()));
                }
                Value::Object(node)
            })
            .collect();
        self.nodes = Some(nodes);
        self
    }
}

/// The error a run ended with: the flow's own (`{code, message, node}`), else the machine's.
fn run_error(run: &InstanceRecord) -> Option<Value> {
    if let Some(error) = run.ctx.get("error").filter(|e| !e.is_null()) {
        return Some(error.clone());
    }
    run.error.clone()
}
