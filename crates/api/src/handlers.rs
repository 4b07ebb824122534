//! Route handlers: decode, call the engine, encode. No business logic lives here.
//!
//! The route's rule (`access`) was checked before a handler runs; the handlers' own `require`
//! calls are a second line, as cheap as a set lookup.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_engine::{BatchOp, BatchResult, CreateInstance, ErrorCode, SendEvent, parse_space};
use switchyard_model::DefinitionFormat;
use switchyard_model::Role;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Caller, DEFAULT_LIMIT, IdempotencyKey, Json, Path, Query, page_limit};
use crate::views::*;

type Result<T> = std::result::Result<T, ApiError>;

fn ok(status: StatusCode, body: impl serde::Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    if !state.ready.load(std::sync::atomic::Ordering::Acquire) {
        return ApiError::new(ErrorCode::Unavailable, "the server is starting or shutting down").into_response();
    }
    if let Err(e) = state.engine.store().check_health() {
        return ApiError::new(ErrorCode::Unavailable, e.to_string()).into_response();
    }
    // A critical background task that died is not restarted: the node cannot do its job.
    if let Some(failed) = state.engine.supervisor().critical_failure() {
        let message = format!("the background task {} failed ({}); restart the node", failed.name, failed.error);
        return ApiError::new(ErrorCode::Unavailable, message).into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

/// Who may read this is `--metrics-access`'s business, checked by `access::authorise`.
pub async fn metrics(State(state): State<AppState>) -> Result<Response> {
    match state.engine.store().log_stats().await {
        Ok(stats) => state.metrics.log.set(&stats),
        Err(e) => tracing::warn!(error = %e, "reading the log's size for /metrics failed"),
    }
    if let Some(cpu) = crate::metrics::process_cpu_seconds() {
        state.metrics.cpu_seconds.set(cpu);
    }
    if let Some(runtime) = state.engine.function_runtime() {
        state.metrics.functions.set(runtime.stats());
    }
    state.metrics.engine.set(&state.engine);
    state.metrics.spaces.set(&state.engine);
    match state.engine.job_queue_stats().await {
        Ok(stats) => state.metrics.jobs.set(state.engine.job_metrics(), &stats, state.engine.now().0),
        Err(e) => tracing::warn!(error = %e, "reading the job queues for /metrics failed"),
    }
    Ok(([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.encode())
        .into_response())
}

pub async fn openapi() -> Response {
    ([(CONTENT_TYPE, "application/json")], crate::openapi::DOCUMENT).into_response()
}

pub async fn list_spaces(State(state): State<AppState>, Caller(caller): Caller) -> Result<Response> {
    let spaces = state.engine.list_spaces(&caller).await?;
    let spaces: Vec<Value> = spaces
        .iter()
        .map(|s| json!({ "name": s.name.as_ref() as &str, "created_at": s.created_at.to_rfc3339() }))
        .collect();
    Ok(ok(StatusCode::OK, json!({ "spaces": spaces })))
}

pub(crate) fn definition_format(headers: &HeaderMap, body: &[u8]) -> Result<DefinitionFormat> {
    let Some(media_type) = crate::extract::media_type(headers) else {
        // Without a declared type, a body that opens like JSON is JSON; anything else is YAML
        // (a superset for our purposes).
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        return Ok(if first == Some(&b'{') { DefinitionFormat::Json } else { DefinitionFormat::Yaml });
    };
    match media_type.as_str() {
        "application/json" => Ok(DefinitionFormat::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => Ok(DefinitionFormat::Yaml),
        _ => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("a definition is JSON (application/json) or YAML (application/yaml), not \"{media_type}\""),
        )),
    }
}

/// `?dry_run=true` on a put: check and compare, write nothing.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DryRunQuery {
    #[serde(default)]
    pub(crate) dry_run: bool,
}

/// A dry run's answer: what the put would store beside what is stored.
pub(crate) fn preview_answer(name: &str, preview: &switchyard_engine::config::Preview) -> Response {
    ok(
        StatusCode::OK,
        json!({
            "dry_run": true,
            "name": name,
            "created": preview.current.is_none(),
            "changed": preview.changed,
            "current": preview.current,
            "definition": preview.definition,
        }),
    )
}

pub async fn put_machine(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<DryRunQuery>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let format = definition_format(&headers, &body)?;
    if q.dry_run {
        return Ok(preview_answer(&name, &state.engine.preview_machine(&space, &name, &body, format).await?));
    }
    let (version, created) = state.engine.put_machine(&space, &name, &body, format).await?;
    Ok(ok(StatusCode::OK, json!({ "name": name, "version": version.get(), "created": created })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    version: Option<u32>,
}

pub async fn get_machine(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<VersionQuery>,
) -> Result<Response> {
    let m = state.engine.get_machine(&space, &name, q.version).await?;
    Ok(ok(
        StatusCode::OK,
        json!({ "name": m.name.as_ref() as &str, "version": m.version.get(), "definition": m.definition, "created_at": m.created_at.to_rfc3339() }),
    ))
}

pub async fn list_machines(State(state): State<AppState>, _: Caller, Path(space): Path<String>) -> Result<Response> {
    let machines = state.engine.list_machines(&space).await?;
    let machines: Vec<MachineSummaryView<'_>> = machines.iter().map(Into::into).collect();
    Ok(ok(StatusCode::OK, json!({ "machines": machines })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateInstanceBody {
    id: Option<String>,
    ctx: Option<Value>,
    idempotency_key: Option<String>,
}

impl From<CreateInstanceBody> for CreateInstance {
    fn from(b: CreateInstanceBody) -> Self {
        CreateInstance { id: b.id, ctx: b.ctx, idempotency_key: b.idempotency_key }
    }
}

pub async fn create_instance(
    State(state): State<AppState>,
    _: Caller,
    Path((space, machine)): Path<(String, String)>,
    key: IdempotencyKey,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    crate::extract::require_json(&headers)?;
    // An empty body means "all defaults".
    let mut body: CreateInstanceBody =
        if body.iter().all(u8::is_ascii_whitespace) { Default::default() } else { crate::extract::decode_json(&body)? };
    body.idempotency_key = key.merge(body.idempotency_key.take())?;
    state.engine.admit_events(&space, 1)?;
    let (instance, replayed) = state.engine.create_instance(&space, &machine, body.into()).await?;
    let status = if replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok(ok(status, InstanceView::from(&instance)))
}

pub async fn get_instance(
    State(state): State<AppState>,
    _: Caller,
    Path((space, machine, id)): Path<(String, String, String)>,
) -> Result<Response> {
    let instance = state.engine.get_instance(&space, &machine, &id).await?;
    let work = state.engine.instance_work(&instance).await?;
    Ok(ok(StatusCode::OK, InstanceView::from(&instance).with_work(&work)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateInstanceBody {
    version: u32,
}

pub async fn migrate_instance(
    State(state): State<AppState>,
    _: Caller,
    Path((space, machine, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    crate::extract::require_json(&headers)?;
    let body: MigrateInstanceBody = crate::extract::decode_json(&body)?;
    let instance = state.engine.migrate_instance(&space, &machine, &id, body.version).await?;
    Ok(ok(StatusCode::OK, InstanceView::from(&instance)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CancelInstanceBody {
    reason: Option<String>,
}

pub async fn cancel_instance(
    State(state): State<AppState>,
    _: Caller,
    Path((space, machine, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    if !body.iter().all(u8::is_ascii_whitespace) {
        crate::extract::require_json(&headers)?;
    }
    let body: CancelInstanceBody =
        if body.iter().all(u8::is_ascii_whitespace) { Default::default() } else { crate::extract::decode_json(&body)? };
    let instance = state.engine.cancel_instance(&space, &machine, &id, body.reason).await?;
    Ok(ok(StatusCode::OK, InstanceView::from(&instance)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListInstancesQuery {
    state: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list_instances(
    State(state): State<AppState>,
    _: Caller,
    Path((space, machine)): Path<(String, String)>,
    Query(q): Query<ListInstancesQuery>,
) -> Result<Response> {
    let limit = page_limit(q.limit, DEFAULT_LIMIT)?;
    let page = state.engine.list_instances(&space, &machine, q.state, Some(limit), q.cursor).await?;
    let instances: Vec<InstanceView<'_>> = page.instances.iter().map(Into::into).collect();
    Ok(ok(StatusCode::OK, json!({ "instances": instances, "next_cursor": page.next_cursor })))
}

pub async fn delete_instance(
    State(state): State<AppState>,
    _: Caller,
    Path((space, machine, id)): Path<(String, String, String)>,
) -> Result<Response> {
    state.engine.delete_instance(&space, &machine, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendEventBody {
    event: String,
    payload: Option<Value>,
    idempotency_key: Option<String>,
    expected_state: Option<String>,
    expected_revision: Option<u64>,
}

impl From<SendEventBody> for SendEvent {
    fn from(b: SendEventBody) -> Self {
        SendEvent {
            event: b.event,
            payload: b.payload,
            idempotency_key: b.idempotency_key,
            expected_state: b.expected_state,
            expected_revision: b.expected_revision,
        }
    }
}

pub async fn send_event(
    State(state): State<AppState>,
    _: Caller,
    Path((space, machine, id)): Path<(String, String, String)>,
    key: IdempotencyKey,
    Json(mut body): Json<SendEventBody>,
) -> Result<Response> {
    body.idempotency_key = key.merge(body.idempotency_key.take())?;
    state.engine.admit_events(&space, 1)?;
    let (applied, _replayed) = state.engine.apply_event(&space, &machine, &id, body.into()).await?;
    Ok(ok(StatusCode::OK, TransitionView::from(&applied)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    after: Option<u64>,
    limit: Option<i64>,
}

pub async fn history(
    State(state): State<AppState>,
    _: Caller,
    Path((space, machine, id)): Path<(String, String, String)>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response> {
    let limit = page_limit(q.limit, DEFAULT_LIMIT)?;
    let page = state.engine.history(&space, &machine, &id, q.after, Some(limit)).await?;
    let events: Vec<LogView<'_>> = page.records.iter().map(Into::into).collect();
    Ok(ok(StatusCode::OK, json!({ "events": events, "next_cursor": page.next_cursor.map(|s| s.0.to_string()) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    operations: Vec<BatchOpBody>,
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum BatchOpBody {
    CreateInstance {
        space: String,
        machine: String,
        id: Option<String>,
        ctx: Option<Value>,
        idempotency_key: Option<String>,
    },
    ApplyEvent {
        space: String,
        machine: String,
        instance: String,
        event: String,
        payload: Option<Value>,
        idempotency_key: Option<String>,
        expected_state: Option<String>,
        expected_revision: Option<u64>,
    },
    DeleteInstance {
        space: String,
        machine: String,
        instance: String,
    },
}

impl From<BatchOpBody> for BatchOp {
    fn from(b: BatchOpBody) -> Self {
        match b {
            BatchOpBody::CreateInstance { space, machine, id, ctx, idempotency_key } => {
                BatchOp::CreateInstance { space, machine, request: CreateInstance { id, ctx, idempotency_key } }
            }
            BatchOpBody::ApplyEvent {
                space,
                machine,
                instance,
                event,
                payload,
                idempotency_key,
                expected_state,
                expected_revision,
            } => BatchOp::ApplyEvent {
                space,
                machine,
                instance,
                request: SendEvent { event, payload, idempotency_key, expected_state, expected_revision },
            },
            BatchOpBody::DeleteInstance { space, machine, instance } => {
                BatchOp::DeleteInstance { space, machine, instance }
            }
        }
    }
}

pub async fn batch(
    State(state): State<AppState>,
    Caller(caller): Caller,
    IdempotencyKey(key): IdempotencyKey,
    Json(body): Json<BatchBody>,
) -> Result<Response> {
    if key.is_some() {
        // Each operation is its own write with its own key: a key for the whole batch would
        // stand for nothing the store keeps, so it is refused rather than ignored.
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            "a batch takes no Idempotency-Key header: give each operation its own idempotency_key",
        ));
    }
    let ops: Vec<BatchOp> = body.operations.into_iter().map(Into::into).collect();
    for (index, op) in ops.iter().enumerate() {
        let checked = state.engine.authorise_batch_op(&caller, op);
        checked.map_err(|e| switchyard_engine::EngineError::BatchFailed { index, source: Box::new(e) })?;
    }
    state.engine.admit_batch(&ops)?;
    let results = state.engine.batch(ops).await?;
    let results: Vec<Value> = results
        .iter()
        .map(|r| match r {
            BatchResult::Created(i) => serde_json::to_value(InstanceView::from(&**i)).unwrap_or(Value::Null),
            BatchResult::Applied(t) => serde_json::to_value(TransitionView::from(t)).unwrap_or(Value::Null),
            BatchResult::Deleted => json!({ "deleted": true }),
        })
        .collect();
    Ok(ok(StatusCode::OK, json!({ "results": results })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenBody {
    name: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    spaces: Option<Vec<String>>,
    #[serde(default)]
    principal: Option<String>,
}

pub async fn create_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Json(body): Json<CreateTokenBody>,
) -> Result<Response> {
    // A principal's token narrows its owner's grants, so it may leave the scope out (none);
    // a standalone token is nothing but its scope, so it must say it.
    let (role, spaces) = match (body.role, body.spaces, &body.principal) {
        (Some(role), Some(spaces), _) => (role, spaces),
        (role, spaces, Some(_)) => (role.unwrap_or_else(|| "admin".into()), spaces.unwrap_or_else(|| vec!["*".into()])),
        _ => {
            return Err(ApiError::new(
                ErrorCode::ValidationFailed,
                "a token needs a role and spaces, unless it belongs to a principal",
            ));
        }
    };
    let role = Role::parse(&role).ok_or_else(|| {
        ApiError::new(ErrorCode::ValidationFailed, format!("role \"{role}\": expected reader, writer or admin"))
    })?;
    let owner = body.principal.as_deref();
    let (token, secret) = state.engine.create_token(&caller, &body.name, role, &spaces, owner).await?;
    Ok(ok(StatusCode::CREATED, TokenView::new(&token, Some(&secret))))
}

pub async fn list_tokens(State(state): State<AppState>, Caller(caller): Caller) -> Result<Response> {
    let tokens = state.engine.list_tokens(&caller).await?;
    let tokens: Vec<TokenView<'_>> = tokens.iter().map(|t| TokenView::new(t, None)).collect();
    Ok(ok(StatusCode::OK, json!({ "tokens": tokens })))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    state.engine.revoke_token(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_nodes(State(state): State<AppState>, Caller(caller): Caller) -> Result<Response> {
    let nodes = state.engine.live_nodes(&caller).await?;
    let nodes: Vec<Value> = nodes
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "address": n.address,
                "started_at": n.started_at.to_rfc3339(),
                "heartbeat_at": n.heartbeat_at.to_rfc3339(),
            })
        })
        .collect();
    Ok(ok(StatusCode::OK, json!({ "nodes": nodes })))
}

pub async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route; see /v1/openapi.json")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this route does not take that method; see /v1/openapi.json")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    payload: Value,
    key: Option<String>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    idempotency_key: Option<String>,
}

pub async fn publish(
    State(state): State<AppState>,
    _: Caller,
    Path((space, topic)): Path<(String, String)>,
    key: IdempotencyKey,
    Json(body): Json<PublishBody>,
) -> Result<Response> {
    let idempotency_key = key.merge(body.idempotency_key)?;
    state.engine.admit_events(&space, 1)?;
    let (seq, replayed) =
        state.engine.publish(&space, &topic, body.payload, body.key, body.headers, idempotency_key).await?;
    let status = if replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok(ok(status, json!({ "seq": seq.0 })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchQuery {
    from: Option<String>,
    address: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    event: Option<String>,
}

/// Checks the caller and turns the query (and a `Last-Event-ID`) into a running watch.
async fn start_watch(
    state: &AppState,
    _caller: &switchyard_engine::Principal,
    space: &str,
    q: WatchQuery,
    headers: &HeaderMap,
) -> Result<
    tokio::sync::mpsc::Receiver<
        std::result::Result<std::sync::Arc<switchyard_engine::WatchedRecord>, switchyard_engine::EngineError>,
    >,
> {
    use switchyard_engine::{WatchFilter, WatchFrom};
    use switchyard_model::Seq;
    let space = parse_space(space)?;
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::trim);
    let from = match (last_event_id, q.from.as_deref()) {
        // A reconnecting EventSource resumes after the last record it got.
        (Some(id), _) => WatchFrom::After(Seq(id
            .parse()
            .map_err(|_| ApiError::new(ErrorCode::BadRequest, format!("Last-Event-ID \"{id}\" is not a seq")))?)),
        (None, None | Some("now")) => WatchFrom::Now,
        (None, Some(seq)) => {
            let seq: u64 =
                seq.parse().map_err(|_| ApiError::new(ErrorCode::BadRequest, "from must be a seq or \"now\""))?;
            WatchFrom::After(Seq(seq.saturating_sub(1)))
        }
    };
    let kinds = q
        .kind
        .map(|k| k.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    let address = switchyard_engine::parse_address_pattern(&space, q.address.as_deref())?;
    let filter = WatchFilter { space, address, kinds, state: q.state, event: q.event };
    Ok(state.engine.watch(filter, from, 256).await?)
}

/// The record's JSON, encoded once however many watchers it goes to.
fn record_json(record: &switchyard_engine::WatchedRecord) -> &str {
    record.encoded(|r| serde_json::to_string(&LogView::from(r)).unwrap_or_default())
}

fn error_json(e: switchyard_engine::EngineError) -> String {
    let e = ApiError::from(e);
    json!({ "error": { "code": e.code, "message": e.message, "details": e.details } }).to_string()
}

pub async fn watch_sse(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(space): Path<String>,
    Query(q): Query<WatchQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    use std::fmt::Write as _;
    /// Records written to the socket in one go when they have queued up.
    const BATCH: usize = 256;
    /// A comment line is sent after this long without a record, so proxies keep the stream.
    const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);
    let rx = start_watch(&state, &caller, &space, q, &headers).await?;
    // Every record that queued up for this watcher goes out as one chunk (one write), not one
    // write per record: a busy log with many watchers is dominated by per-write costs.
    let stream =
        futures_util::stream::unfold((rx, Vec::with_capacity(BATCH), false), |(mut rx, mut batch, ended)| async move {
            if ended {
                return None;
            }
            let received = match tokio::time::timeout(KEEP_ALIVE, rx.recv_many(&mut batch, BATCH)).await {
                Err(_) => {
                    let keep_alive = axum::body::Bytes::from_static(b":\n\n");
                    return Some((Ok::<_, std::convert::Infallible>(keep_alive), (rx, batch, false)));
                }
                Ok(0) => return None,
                Ok(n) => n,
            };
            let mut text = String::with_capacity(received * 320);
            let mut end = false;
            for item in batch.drain(..) {
                // Record JSON is compact (no newline), so it is one `data:` line.
                let _ = match item {
                    Ok(record) => {
                        // A record that cannot be read back gets an event name of its own, so
                        // a consumer that dispatches on kinds cannot take it for a real one.
                        let event = if record.is_readable() { &record.kind } else { crate::views::RECORD_UNREADABLE };
                        write!(text, "id: {}\nevent: {}\ndata: {}\n\n", record.seq.0, event, record_json(&record))
                    }
                    Err(e) => {
                        end = true;
                        write!(text, "event: error\ndata: {}\n\n", error_json(e))
                    }
                };
                if end {
                    break;
                }
            }
            Some((Ok(axum::body::Bytes::from(text)), (rx, batch, end)))
        });
    let mut response = axum::body::Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, axum::http::HeaderValue::from_static("text/event-stream"));
    headers.insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-cache"));
    Ok(response)
}

pub async fn watch_ws(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(space): Path<String>,
    Query(q): Query<WatchQuery>,
    headers: HeaderMap,
    upgrade: std::result::Result<
        axum::extract::ws::WebSocketUpgrade,
        axum::extract::ws::rejection::WebSocketUpgradeRejection,
    >,
) -> Result<Response> {
    use axum::extract::ws::Message;
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return Ok(upgrade_refused(rejection)),
    };
    let mut rx = start_watch(&state, &caller, &space, q, &headers).await?;
    let shutdown = state.shutdown.clone();
    let guard = shutdown.socket_guard();
    Ok(upgrade.on_upgrade(|mut socket| async move {
        let _guard = guard;
        let stopping = shutdown.stopping();
        tokio::pin!(stopping);
        loop {
            tokio::select! {
                () = &mut stopping => {
                    // 1001 "going away" (RFC 6455 §7.4.1): the client reconnects elsewhere or later.
                    let frame = axum::extract::ws::CloseFrame { code: 1001, reason: "the server is shutting down".into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    return;
                }
                item = rx.recv() => {
                    let Some(item) = item else { break };
                    let (text, last) = match item {
                        Ok(record) => (record_json(&record).to_string(), false),
                        Err(e) => (error_json(e), true),
                    };
                    if socket.send(Message::Text(text.into())).await.is_err() || last {
                        break;
                    }
                }
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        let _ = socket.send(Message::Close(None)).await;
    }))
}

/// A WebSocket handshake that cannot go ahead, as the API's error body (axum's own answer is
/// plain text). A request that is no upgrade at all gets 426 with the headers that say how to
/// ask (RFC 9110 §15.5.22, RFC 6455 §4.4).
fn upgrade_refused(rejection: axum::extract::ws::rejection::WebSocketUpgradeRejection) -> Response {
    use axum::extract::ws::rejection::WebSocketUpgradeRejection as R;
    use axum::http::HeaderValue;
    use axum::http::header::{CONNECTION, SEC_WEBSOCKET_VERSION, UPGRADE};
    let reason = rejection.body_text();
    match rejection {
        R::MethodNotGet(_) | R::MethodNotConnect(_) => {
            ApiError::new(ErrorCode::MethodNotAllowed, format!("not a WebSocket handshake: {reason}")).into_response()
        }
        R::WebSocketKeyHeaderMissing(_) => {
            ApiError::new(ErrorCode::BadRequest, format!("not a WebSocket handshake: {reason}")).into_response()
        }
        _ => {
            let error = ApiError::new(
                ErrorCode::UpgradeRequired,
                format!(
                    "this route is a WebSocket: send Connection: Upgrade, Upgrade: websocket, \
                     Sec-WebSocket-Version: 13 and Sec-WebSocket-Key ({reason}); GET \
                     /v1/spaces/{{space}}/watch streams the same over server-sent events"
                ),
            );
            let mut response = error.into_response();
            let headers = response.headers_mut();
            headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
            headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
            response
        }
    }
}
