//! Route handlers for functions: deploy, read, invoke, and invocation records. Decode, call
//! the engine, encode (the route's rule was checked before); no business logic lives here.
//!
//! A synchronous invocation answers with the function's output as the raw body and its own
//! Content-Type. When the function fails the body is the usual error JSON, whose code is the
//! function's own (`card_declined`) or the runtime's (`function_timeout`…).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_engine::{ErrorCode, FunctionSettings, FunctionView, InvokeRequest};
use switchyard_model::InvocationRecord;
use switchyard_runtime::codes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Caller, DEFAULT_LIMIT, IdempotencyKey, Json, Path, Query, page_limit};

type Result<T> = std::result::Result<T, ApiError>;

/// The header naming the invocation an answer came from.
const INVOCATION_HEADER: HeaderName = HeaderName::from_static("x-switchyard-invocation-id");
/// The header naming the function version that answered.
const VERSION_HEADER: HeaderName = HeaderName::from_static("x-switchyard-function-version");
/// The header carrying how long the invocation ran, in microseconds.
const DURATION_HEADER: HeaderName = HeaderName::from_static("x-switchyard-duration-us");
/// The header carrying the trace id to join.
const TRACE_HEADER: HeaderName = HeaderName::from_static("x-switchyard-trace-id");

fn ok(status: StatusCode, body: impl Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

fn function_json(view: &FunctionView) -> Value {
    let s = &view.summary;
    json!({
        "space": s.space.as_ref() as &str,
        "name": s.name.as_ref() as &str,
        "address": format!("{}:{}", s.space, s.name),
        "version": s.version,
        "digest": s.digest,
        "size": s.size,
        "created_at": s.created_at.to_rfc3339(),
        "settings": view.settings.redacted(),
    })
}

/// An invocation record as the API shows it.
pub(crate) fn invocation_json(r: &InvocationRecord) -> Value {
    let mut v = json!({
        "id": r.id,
        "function": r.function.as_ref() as &str,
        "address": format!("{}:{}", r.space, r.function),
        "version": r.version,
        "status": r.status.as_str(),
        "async": r.is_async,
        "attempt": r.attempt,
        "idempotency_key": r.idempotency_key,
        "context": r.context,
        "input_content_type": r.input_content_type,
        "input_size": r.input_size,
        "output_size": r.output_size,
        "error": r.error,
        "logs": r.logs,
        "created_at": r.created_at.to_rfc3339(),
        "finished_at": r.finished_at.map(|t| t.to_rfc3339()),
        "duration_us": r.duration_us,
        "seq": r.seq,
    });
    if let (Some(output), Value::Object(map)) = (&r.output, &mut v) {
        switchyard_model::insert_output(map, output, &r.output_content_type);
    }
    v
}

/// The body limit of a deploy: the largest component in base64 (which grows it by a third),
/// and room for the settings beside it.
pub const DEPLOY_BODY_LIMIT: usize = (switchyard_engine::functions::MAX_COMPONENT_BYTES / 3 + 1) * 4 + 64 * 1024;

/// A deploy: the component in base64 and the version's settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployBody {
    component_base64: String,
    #[serde(flatten)]
    settings: FunctionSettings,
}

pub async fn deploy_function(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<crate::handlers::DryRunQuery>,
    Json(body): Json<DeployBody>,
) -> Result<Response> {
    let component = base64::engine::general_purpose::STANDARD
        .decode(body.component_base64.as_bytes())
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("component_base64 is not standard base64: {e}")))?;
    if q.dry_run {
        let preview = state.engine.preview_function(&caller, &space, &name, component, body.settings).await?;
        return Ok(crate::handlers::preview_answer(&name, &preview));
    }
    let (view, created) = state.engine.deploy_function(&caller, &space, &name, component, body.settings).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let mut body = function_json(&view);
    body["created"] = Value::Bool(created);
    body["grants"] = grants_json(&state.engine.function_grants(&view).await?);
    Ok(ok(status, body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    version: Option<u64>,
}

pub async fn get_function(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<VersionQuery>,
) -> Result<Response> {
    let view = state.engine.get_function(&space, &name, q.version).await?;
    let mut body = function_json(&view);
    body["grants"] = grants_json(&state.engine.function_grants(&view).await?);
    Ok(ok(StatusCode::OK, body))
}

/// The grants a function acts with, shown as a principal's are: role, its permissions, pattern.
fn grants_json(grants: &[switchyard_model::Grant]) -> Value {
    grants
        .iter()
        .map(
            |g| json!({ "role": g.role.name, "permissions": g.role.permission_names(), "pattern": g.pattern.as_str() }),
        )
        .collect()
}

/// A function version's component, as deployed (`application/wasm`).
pub async fn get_component(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<VersionQuery>,
) -> Result<Response> {
    let bytes = state.engine.function_component(&space, &name, q.version).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/wasm")], bytes).into_response())
}

pub async fn list_functions(State(state): State<AppState>, _: Caller, Path(space): Path<String>) -> Result<Response> {
    let functions: Vec<Value> = state.engine.list_functions(&space).await?.iter().map(function_json).collect();
    Ok(ok(StatusCode::OK, json!({ "functions": functions })))
}

pub async fn function_versions(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
) -> Result<Response> {
    let versions: Vec<Value> = state.engine.function_versions(&space, &name).await?.iter().map(function_json).collect();
    Ok(ok(StatusCode::OK, json!({ "versions": versions })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvokeQuery {
    #[serde(default, rename = "async")]
    is_async: bool,
    version: Option<u64>,
}

fn header_text(headers: &HeaderMap, name: &str) -> Result<Option<String>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.to_owned()))
            .map_err(|_| ApiError::new(ErrorCode::BadRequest, format!("the {name} header is not visible ASCII"))),
    }
}

pub async fn invoke_function(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<InvokeQuery>,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    headers: HeaderMap,
    Body(input): Body,
) -> Result<Response> {
    // The body is the function's input, not an envelope: the key comes in the header only.
    let request = InvokeRequest {
        input: input.to_vec(),
        content_type: header_text(&headers, CONTENT_TYPE.as_str())?,
        version: q.version,
        idempotency_key,
        trace_id: header_text(&headers, TRACE_HEADER.as_str())?,
        machine: None,
        attempt: 1,
    };
    // An invocation's record (and an asynchronous one's input) is stored in the space.
    state.engine.admit_storage(&space)?;
    if q.is_async {
        let (record, replayed) = state.engine.invoke_function_async(&space, &name, request).await?;
        let status = if replayed { StatusCode::OK } else { StatusCode::ACCEPTED };
        let mut response = ok(status, invocation_json(&record));
        response.headers_mut().insert(INVOCATION_HEADER, header_value(&record.id));
        return Ok(response);
    }
    let (record, output) = state.engine.invoke_function(&space, &name, request).await?;
    let mut response = match output {
        Some(output) => {
            let content_type = HeaderValue::from_str(&output.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            (StatusCode::OK, [(CONTENT_TYPE, content_type)], output.body).into_response()
        }
        None => failure_response(&record),
    };
    let headers = response.headers_mut();
    headers.insert(INVOCATION_HEADER, header_value(&record.id));
    headers.insert(VERSION_HEADER, HeaderValue::from(record.version));
    if let Some(us) = record.duration_us {
        headers.insert(DURATION_HEADER, HeaderValue::from(us));
    }
    Ok(response)
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("invalid"))
}

/// The status for an invocation error code: the host side's codes ([`codes`]) have their own;
/// any other code is the function's own refusal (422), as are `validation_failed` and
/// `function_error`. `function_abandoned` is only ever in an asynchronous record, never an
/// answer.
pub fn invocation_error_status(code: &str) -> StatusCode {
    match code {
        codes::TIMEOUT => StatusCode::GATEWAY_TIMEOUT,
        codes::TRAPPED | codes::MEMORY_LIMIT | codes::FUEL_EXHAUSTED => StatusCode::BAD_GATEWAY,
        codes::INSTANTIATION_FAILED | codes::CAPACITY_EXHAUSTED => StatusCode::SERVICE_UNAVAILABLE,
        codes::CAPABILITY_DENIED => StatusCode::FORBIDDEN,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn failure_response(record: &InvocationRecord) -> Response {
    let error = record.error.clone().unwrap_or(Value::Null);
    let code = error.get("code").and_then(Value::as_str).unwrap_or(codes::TRAPPED).to_owned();
    let message = error.get("message").and_then(Value::as_str).unwrap_or("the function failed").to_owned();
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "details": {
                "invocation_id": record.id,
                "function": format!("{}:{}", record.space, record.function),
                "version": record.version,
                "retryable": error.get("retryable").cloned().unwrap_or(Value::Bool(false)),
                "logs": record.logs,
            },
        }
    });
    (invocation_error_status(&code), axum::Json(body)).into_response()
}

pub async fn get_invocation(
    State(state): State<AppState>,
    _: Caller,
    Path((space, id)): Path<(String, String)>,
) -> Result<Response> {
    let record = state.engine.get_invocation(&space, &id).await?;
    Ok(ok(StatusCode::OK, invocation_json(&record)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvocationsQuery {
    after: Option<u64>,
    limit: Option<i64>,
}

pub async fn list_invocations(
    State(state): State<AppState>,
    _: Caller,
    Path((space, name)): Path<(String, String)>,
    Query(q): Query<InvocationsQuery>,
) -> Result<Response> {
    let limit = page_limit(q.limit, DEFAULT_LIMIT)?;
    let records = state.engine.list_invocations(&space, Some(&name), q.after, limit).await?;
    let next = records.last().map(|r| r.seq).or(q.after);
    let invocations: Vec<Value> = records.iter().map(invocation_json).collect();
    Ok(ok(StatusCode::OK, json!({ "invocations": invocations, "next_after": next })))
}
