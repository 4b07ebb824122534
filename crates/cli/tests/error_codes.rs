//! Every documented error code, produced through the real binary over HTTP, with its documented
//! status.
//!
//! The documented tables (docs/http-api.md, `## Errors`) are the input: each row is a label
//! (`api:conflict (KV)`, `invocation:function_timeout`), and each label has one test here that
//! makes the server answer with that code and checks code and status against the row. The code
//! lists themselves are held to the docs elsewhere (`switchyard_api`'s unit tests compare the
//! tables with `ErrorCode::ALL`, the invocation codes and the OpenAPI enum), so together a code
//! cannot be added, documented or answered without a test producing it.
//!
//! Codes that only a fault produces are produced by a genuine fault through the real binary:
//! `internal` by a stored row the server cannot decode, `machine_definition_invalid` by a stored
//! definition this build no longer compiles, `unavailable` by a PostgreSQL database that ends
//! the server's connections and refuses new ones, `function_instantiation_failed` by a component
//! that needs more core instances than the node's instance pool holds, `function_abandoned` by a
//! node killed while it runs an asynchronous invocation (see that test for the one step that is
//! simulated).

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestServer;
use support::http::{Http, code};
use switchyard_testkit::{
    ErrorRow, PATIENCE, TestDatabase, error_tables, example_function_bytes, wait_for, wait_until, within,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a test saw: an answer's status and error body, or (`status: None`) an error that is
/// never an answer, such as an asynchronous invocation record's.
struct Seen {
    what: &'static str,
    status: Option<StatusCode>,
    body: Value,
}

impl Seen {
    fn answer(what: &'static str, (status, body): (StatusCode, Value)) -> Seen {
        Seen { what, status: Some(status), body }
    }
}

/// Declares one test per documented row label and [`PRODUCED`], the labels they cover.
macro_rules! produced {
    ($($label:literal => $test:ident,)+) => {
        /// The row labels this file's tests produce.
        const PRODUCED: &[&str] = &[$($label),+];

        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                check($label, produce::$test().await);
            }
        )+
    };
}

produced! {
    "api:bad_request" => bad_request_for_malformed_json_and_parameters,
    "api:validation_failed" => validation_failed_for_well_formed_input_that_breaks_a_rule,
    "api:machine_not_found" => machine_not_found_for_an_unknown_machine_or_version,
    "api:instance_not_found" => instance_not_found_for_an_unknown_or_deleted_instance,
    "api:instance_exists" => instance_exists_when_an_id_is_taken,
    "api:invalid_transition" => invalid_transition_when_no_transition_takes_the_event,
    "api:instance_finished" => instance_finished_for_an_event_to_a_cancelled_instance,
    "api:guard_rejected" => guard_rejected_when_every_guard_says_no,
    "api:expression_cost_exceeded" => expression_cost_exceeded_by_a_guard_over_its_budget,
    "api:context_too_large" => context_too_large_over_max_context_bytes,
    "api:machine_definition_invalid" => machine_definition_invalid_for_a_stored_definition_that_no_longer_compiles,
    "api:conflict" => conflict_when_expected_state_or_revision_differ,
    "api:idempotency_key_reused" => idempotency_key_reused_for_a_different_request,
    "api:unauthorized" => unauthorized_without_a_token_or_with_an_unknown_one,
    "api:forbidden" => forbidden_for_a_reader_token_that_writes,
    "api:not_found" => not_found_for_an_unknown_route_or_token,
    "api:space_not_found" => space_not_found_when_deleting_a_space_never_written,
    "api:method_not_allowed" => method_not_allowed_on_a_route_without_that_method,
    "api:unsupported_media_type" => unsupported_media_type_for_a_definition_in_plain_text,
    "api:payload_too_large" => payload_too_large_over_max_body_bytes,
    "api:request_timeout" => request_timeout_when_the_body_does_not_arrive,
    "api:uri_too_long" => uri_too_long_over_the_request_target_limit,
    "api:headers_too_large" => headers_too_large_over_the_header_count_limit,
    "api:upgrade_required" => upgrade_required_for_a_websocket_route_without_the_handshake,
    "api:internal" => internal_for_a_stored_row_the_server_cannot_decode,
    "api:seq_expired" => seq_expired_for_a_watch_from_before_the_oldest_record,
    "api:bucket_not_found" => bucket_not_found_for_an_unknown_bucket,
    "api:key_not_found" => key_not_found_for_a_key_never_written_or_deleted,
    "api:conflict (KV)" => conflict_when_a_kv_precondition_does_not_hold,
    "api:subscription_not_found" => subscription_not_found_for_an_unknown_subscription,
    "api:subscription_exists" => subscription_exists_when_a_name_follows_another_filter,
    "api:unavailable" => unavailable_while_the_postgresql_database_cannot_be_reached,
    "api:function_not_found" => function_not_found_for_an_unknown_function_or_version,
    "api:invocation_not_found" => invocation_not_found_for_an_unknown_invocation,
    "api:job_not_found" => job_not_found_for_an_unknown_or_deleted_job,
    "api:flow_not_found" => flow_not_found_for_an_unknown_flow_or_a_machine,
    "api:run_not_found" => run_not_found_for_an_unknown_run_or_a_subflow,
    "api:env_not_found" => env_not_found_for_an_unknown_env_value,
    "api:secret_not_found" => secret_not_found_for_an_unknown_secret,
    "api:trigger_not_found" => trigger_not_found_for_an_unknown_trigger_or_a_hook_without_a_webhook,
    "api:trigger_paused" => trigger_paused_for_a_webhook_to_a_paused_trigger,
    "api:webhook_unverified" => webhook_unverified_for_a_bad_signature_or_a_missing_secret,
    "api:rate_limited" => rate_limited_over_a_webhook_rate_limit_or_a_space_quota,
    "api:quota_exceeded" => quota_exceeded_for_a_space_at_its_instances,
    "api:endpoint_not_found" => endpoint_not_found_for_an_unknown_endpoint,
    "api:invalid_credentials" => invalid_credentials_for_a_wrong_password_or_an_unknown_name,
    "api:sign_in_locked" => sign_in_locked_after_repeated_failures,
    "api:invalid_component" => invalid_component_for_bytes_that_are_no_component,
    "api:component_world_mismatch" => component_world_mismatch_for_a_component_without_handle,
    "invocation:function_timeout" => function_timeout_for_a_guest_past_its_timeout,
    "invocation:function_trapped" => function_trapped_for_a_trap_and_a_panic,
    "invocation:function_memory_limit" => function_memory_limit_for_a_guest_past_its_memory,
    "invocation:function_fuel_exhausted" => function_fuel_exhausted_for_a_guest_past_its_fuel,
    "invocation:capability_denied" => capability_denied_for_an_ungranted_bucket,
    "invocation:function_instantiation_failed" => function_instantiation_failed_when_the_instance_pool_is_too_small,
    "invocation:function_capacity_exhausted" => function_capacity_exhausted_when_every_slot_is_taken,
    "invocation:validation_failed" => validation_failed_for_an_output_nested_too_deep,
    "invocation:function_error" => function_error_for_a_guest_code_with_bad_characters,
    "invocation:function_abandoned" => function_abandoned_after_attempts_end_with_their_node,
}

/// Every row of the docs' tables, by label (`api:…` or `invocation:…`).
fn documented() -> Vec<(String, ErrorRow)> {
    let (api, invocation) = error_tables();
    let api = api.into_iter().map(|r| (format!("api:{}", r.label), r));
    api.chain(invocation.into_iter().map(|r| (format!("invocation:{}", r.label), r))).collect()
}

#[test]
fn every_documented_error_row_has_a_test_producing_it() {
    let rows: BTreeSet<String> = documented().into_iter().map(|(label, _)| label).collect();
    let produced: BTreeSet<String> = PRODUCED.iter().map(|l| l.to_string()).collect();
    let untested: Vec<_> = rows.difference(&produced).collect();
    let stale: Vec<_> = produced.difference(&rows).collect();
    assert!(
        untested.is_empty() && stale.is_empty(),
        "documented rows no test produces: {untested:?}; tests of rows no longer documented: {stale:?}"
    );
    assert_eq!(rows.len(), documented().len(), "two rows of one table share a label");
}

/// Holds what was seen to the row `label`: the row's code, and its status (or none).
fn check(label: &str, seen: Vec<Seen>) {
    let (_, row) = documented()
        .into_iter()
        .find(|(l, _)| l == label)
        .unwrap_or_else(|| panic!("{label} is no longer a row of docs/http-api.md's error tables"));
    assert!(!seen.is_empty(), "{label}: nothing was produced");
    for s in seen {
        let status = s.status.map(|s| s.as_u16());
        assert_eq!((code(&s.body), status), (row.code.as_str(), row.status), "{label}, {}: {}", s.what, s.body);
        let message = s.body["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{label}, {}: an error has a message: {}", s.what, s.body);
        if label.starts_with("invocation:") && s.status.is_some() {
            // Answered by the invocation, not refused at the door.
            assert!(s.body["error"]["details"]["invocation_id"].is_string(), "{label}, {}: {}", s.what, s.body);
        }
    }
}

const ORDER: &str = r#"
name: order
initial: pending
context_schema: { type: object, required: [amount] }
states: { pending: {}, paid: {}, shipped: {}, cancelled: { final: true } }
transitions:
  - { from: pending, event: pay, to: paid, guard: "event.amount >= ctx.amount" }
  - { from: paid, event: ship, to: shipped }
  - { from: [pending, paid], event: cancel, to: cancelled }
"#;

/// A server with machine `acme:order` and its pending instance `o-1` (amount 10).
async fn with_order(server: &TestServer) -> Http {
    let http = Http::new(server);
    let (status, body) = http.put_yaml("/v1/spaces/acme/machines/order", ORDER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        http.post("/v1/spaces/acme/machines/order/instances", json!({ "id": "o-1", "ctx": { "amount": 10 } })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    http
}

const EVENTS: &str = "/v1/spaces/acme/machines/order/instances/o-1/events";

/// Sends `text` as it is on a new connection and reads one answer with a `content-length` body.
async fn raw(server: &TestServer, text: &[u8]) -> (StatusCode, Value) {
    let host = server.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    stream.write_all(text).await.expect("send");
    within("an answer on a raw connection", PATIENCE, async {
        let mut bytes = Vec::new();
        let mut byte = [0u8; 1];
        while !bytes.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).await.expect("a response head");
            bytes.push(byte[0]);
        }
        let head = String::from_utf8(bytes).expect("a text head").to_ascii_lowercase();
        let status: u16 = head[9..12].parse().expect("a status");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no content-length: {head}"));
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await.expect("the body");
        (StatusCode::from_u16(status).expect("a status"), serde_json::from_slice(&body).expect("a JSON body"))
    })
    .await
}

/// Deploys `component` as `acme:{name}` with `settings` (merged into the deploy body).
async fn deploy(http: &Http, name: &str, component: &[u8], settings: Value) -> (StatusCode, Value) {
    let mut body = json!({ "component_base64": base64::engine::general_purpose::STANDARD.encode(component) });
    if let (Some(body), Some(settings)) = (body.as_object_mut(), settings.as_object()) {
        body.extend(settings.clone());
    }
    http.put_json(&format!("/v1/spaces/acme/functions/{name}"), &body).await
}

/// Deploys the `misbehave` example as `acme:{name}`, which must succeed.
async fn deploy_misbehave(http: &Http, name: &str, settings: Value) {
    let (status, body) = deploy(http, name, &example_function_bytes("misbehave"), settings).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Invokes `acme:{name}` synchronously with `input` as opaque bytes (the guest parses them).
async fn invoke(http: &Http, name: &str, input: Value) -> (StatusCode, Value) {
    let body = ("application/octet-stream", input.to_string().into_bytes());
    http.send(Method::POST, &format!("/v1/spaces/acme/functions/{name}/invoke"), Some(body)).await
}

/// One unlabelled gauge of the server's `/metrics` (served to loopback without a token).
async fn gauge(http: &Http, name: &str) -> f64 {
    let (_, text) = http.get("/metrics").await;
    let text = text.as_str().unwrap_or_default().to_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no gauge {name} in /metrics"))
}

/// Polls until `n` invocations are running on the server.
async fn running(http: &Http, n: f64) {
    wait_for(
        "the invocation to be running",
        PATIENCE,
        || gauge(http, "switchyard_function_running_invocations"),
        |running| *running == n,
    )
    .await;
}

/// The server's SQLite database, opened beside it (or after it stopped).
fn database(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("switchyard.db")).expect("open the server's database")
}

/// `component` (a component binary) with `extra` more core instances of an empty core module,
/// appended as one core module section and one core instance section. Nothing else changes: its
/// imports and its `handle` export are the same, so it deploys as the original does.
fn with_extra_core_instances(component: &[u8], extra: u32) -> Vec<u8> {
    assert_eq!(&component[..8], b"\0asm\x0d\0\x01\0", "a component binary");
    // The new module's index: how many core modules the component's own index space holds.
    let mut modules = 0u32;
    let mut at = 8;
    while at < component.len() {
        let id = component[at];
        let (size, read) = leb128(&component[at + 1..]);
        let content = &component[at + 1 + read..at + 1 + read + size as usize];
        match id {
            1 => modules += 1,
            6 => modules += aliased_core_modules(content),
            _ => {}
        }
        at += 1 + read + size as usize;
    }
    let mut out = component.to_vec();
    let empty_module = b"\0asm\x01\0\0\0";
    out.push(1);
    out.extend(encode_leb128(empty_module.len() as u32));
    out.extend(empty_module);
    let mut instances = encode_leb128(extra);
    for _ in 0..extra {
        // `(core instance (instantiate $empty))`: tag 0x00, the module, no arguments.
        instances.push(0);
        instances.extend(encode_leb128(modules));
        instances.push(0);
    }
    out.push(2);
    out.extend(encode_leb128(instances.len() as u32));
    out.extend(instances);
    out
}

/// How many entries of an alias section's content alias a core module (sort `0x00 0x11`).
fn aliased_core_modules(content: &[u8]) -> u32 {
    let (count, mut at) = leb128(content);
    let mut modules = 0;
    for _ in 0..count {
        let core = content[at] == 0;
        let module = core && content[at + 1] == 0x11;
        at += if core { 2 } else { 1 };
        modules += u32::from(module);
        let target = content[at];
        at += 1;
        // An export of an instance (0x00, 0x01) names it; an outer alias (0x02) has two indices.
        let (_, read) = leb128(&content[at..]);
        at += read;
        let (second, read) = leb128(&content[at..]);
        at += read;
        if target != 2 {
            at += second as usize;
        }
    }
    modules
}

fn leb128(bytes: &[u8]) -> (u32, usize) {
    let (mut value, mut shift) = (0u32, 0);
    for (i, byte) in bytes.iter().enumerate() {
        value |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return (value, i + 1);
        }
        shift += 7;
    }
    panic!("a truncated LEB128 number");
}

fn encode_leb128(mut value: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Each test's producer: drives the server into the row's code and returns what it answered.
mod produce {
    use super::*;

    pub async fn bad_request_for_malformed_json_and_parameters() -> Vec<Seen> {
        let server = TestServer::start();
        let http = with_order(&server).await;
        vec![
            Seen::answer("malformed JSON", http.post_text(EVENTS, "{\"event\": ".into()).await),
            Seen::answer(
                "a query parameter of the wrong type",
                http.get("/v1/spaces/acme/machines/order/instances?limit=abc").await,
            ),
        ]
    }

    pub async fn validation_failed_for_well_formed_input_that_breaks_a_rule() -> Vec<Seen> {
        let server = TestServer::start();
        let http = with_order(&server).await;
        vec![
            Seen::answer("limit 0", http.get("/v1/spaces/acme/machines/order/instances?limit=0").await),
            Seen::answer(
                "a ctx against the schema",
                http.post("/v1/spaces/acme/machines/order/instances", json!({ "ctx": {} })).await,
            ),
        ]
    }

    pub async fn machine_not_found_for_an_unknown_machine_or_version() -> Vec<Seen> {
        let server = TestServer::start();
        let http = with_order(&server).await;
        vec![
            Seen::answer("an unknown machine", http.get("/v1/spaces/acme/machines/nope").await),
            Seen::answer("an unknown version", http.get("/v1/spaces/acme/machines/order?version=9").await),
        ]
    }

    pub async fn instance_not_found_for_an_unknown_or_deleted_instance() -> Vec<Seen> {
        let server = TestServer::start();
        let http = with_order(&server).await;
        let (status, _) = http.send(Method::DELETE, "/v1/spaces/acme/machines/order/instances/o-1", None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let deleted = http.get("/v1/spaces/acme/machines/order/instances/o-1").await;
        assert!(deleted.1["error"]["details"]["deleted_at"].is_string(), "{}", deleted.1);
        vec![
            Seen::answer("an unknown instance", http.get("/v1/spaces/acme/machines/order/instances/nope").await),
            Seen::answer("a deleted instance", deleted),
        ]
    }

    pub async fn instance_exists_when_an_id_is_taken() -> Vec<Seen> {
        let server = TestServer::start();
        let http = with_order(&server).await;
        let again = json!({ "id": "o-1", "ctx": { "amount": 1 } });
        vec![Seen::answer("a second create of o-1", http.post("/v1/spaces/acme/machines/order/instances", again).await)]
    }

    pub async fn invalid_transition_when_no_transition_takes_the_event() -> Vec<Seen> {
        let server = TestServer::start();
        let http = with_order(&server).await;
        vec![Seen::answer("ship while pending", http.post(EVENTS, json!({ "event": "ship" })).await)]
    }

    pub async fn instance_finished_for_an_event_to_a_cancelled_instance() -> Vec<Seen> {
        let server = TestServer::start();
        let http = with_order(&server).await;
        let (status, body) = http.post("/v1/spaces/acme/machines/order/instances/o-1/cancel", json!({})).await;
        assert!(status.is_success(), "{body}");
        let again = http.post("/v1/spaces/acme/machines/order/instances/o-1/cancel", json!({})).await;
        vec![
            Seen::answer(
                "pay after a cancel",
                http.post(EVENTS, json!({ "event": "pay", "payload": { "amount": 100 } })).await,
            ),
            Seen::answer("a second cancel", again),
        ]
    }

    pub async fn guard_rejected_when_every_guard_says_no() -> Vec<Seen> {
        let server = TestServer::start();
        let http = with_order(&server).await;
        let answer = http.post(EVENTS, json!({ "event": "pay", "payload": { "amount": 1 } })).await;
        assert!(answer.1["error"]["details"]["guards"].is_array(), "{}", answer.1);
        vec![Seen::answer("pay too little", answer)]
    }

    pub async fn expression_cost_exceeded_by_a_guard_over_its_budget() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        let machine = json!({
            "initial": "a", "states": ["a", "b"],
            "transitions": [{ "from": "a", "event": "go", "to": "b",
                              "guard": "event.l.all(x, event.l.all(y, event.l.all(z, x + y + z >= 0)))" }],
        });
        let (status, body) = http.put_json("/v1/spaces/acme/machines/cubic", &machine).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = http.post("/v1/spaces/acme/machines/cubic/instances", json!({ "id": "i-1" })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        // 250³ steps: far over the budget.
        let list: Vec<u32> = (0..250).collect();
        let path = "/v1/spaces/acme/machines/cubic/instances/i-1/events";
        vec![Seen::answer("a cubic guard", http.post(path, json!({ "event": "go", "payload": { "l": list } })).await)]
    }

    pub async fn context_too_large_over_max_context_bytes() -> Vec<Seen> {
        let server = TestServer::start_with(&["--max-context-bytes", "1KiB"]);
        let http = with_order(&server).await;
        let ctx = json!({ "amount": 1, "note": "x".repeat(2000) });
        vec![Seen::answer(
            "a 2 KB ctx",
            http.post("/v1/spaces/acme/machines/order/instances", json!({ "ctx": ctx })).await,
        )]
    }

    /// The stored definition is edited while the server is stopped to one an older, less strict
    /// build could have stored: a guard that does not parse.
    pub async fn machine_definition_invalid_for_a_stored_definition_that_no_longer_compiles() -> Vec<Seen> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = TestServer::start_in(dir.path(), &[]);
        with_order(&server).await;
        server.kill();
        let db = database(dir.path());
        let stored: String = db
            .query_row("SELECT definition FROM machines WHERE space = 'acme' AND name = 'order'", [], |r| r.get(0))
            .expect("the stored definition");
        let mut definition: Value = serde_json::from_str(&stored).expect("stored as JSON");
        definition["transitions"][1]["guard"] = json!("ctx.x >>> 1");
        let changed = db
            .execute(
                "UPDATE machines SET definition = ?1 WHERE space = 'acme' AND name = 'order'",
                [definition.to_string()],
            )
            .expect("update");
        assert_eq!(changed, 1);
        drop(db);
        let server = TestServer::start_in(dir.path(), &[]);
        let http = Http::new(&server);
        let answer = http.post(EVENTS, json!({ "event": "cancel" })).await;
        assert_eq!(answer.1["error"]["details"]["machine"], "acme:order:1", "{}", answer.1);
        // What could be read stays readable.
        let (status, _) = http.get("/v1/spaces/acme/machines/order/instances/o-1").await;
        assert_eq!(status, StatusCode::OK);
        vec![Seen::answer("an event to an instance of that version", answer)]
    }

    pub async fn conflict_when_expected_state_or_revision_differ() -> Vec<Seen> {
        let server = TestServer::start();
        let http = with_order(&server).await;
        let pay = |expect: Value| {
            let mut body = json!({ "event": "pay", "payload": { "amount": 10 } });
            if let (Some(body), Some(expect)) = (body.as_object_mut(), expect.as_object()) {
                body.extend(expect.clone());
            }
            body
        };
        vec![
            Seen::answer("expected_state", http.post(EVENTS, pay(json!({ "expected_state": "paid" }))).await),
            Seen::answer("expected_revision", http.post(EVENTS, pay(json!({ "expected_revision": 7 }))).await),
        ]
    }

    pub async fn idempotency_key_reused_for_a_different_request() -> Vec<Seen> {
        let server = TestServer::start();
        let http = with_order(&server).await;
        let first =
            http.post(EVENTS, json!({ "event": "pay", "payload": { "amount": 10 }, "idempotency_key": "k" })).await;
        assert_eq!(first.0, StatusCode::OK, "{}", first.1);
        let other = json!({ "event": "cancel", "idempotency_key": "k" });
        vec![Seen::answer("the key with another event", http.post(EVENTS, other).await)]
    }

    pub async fn unauthorized_without_a_token_or_with_an_unknown_one() -> Vec<Seen> {
        let server = TestServer::start();
        vec![
            Seen::answer("no token", Http::with_token(&server, None).get("/v1/spaces").await),
            Seen::answer("an unknown token", Http::with_token(&server, Some("sy_unknown")).get("/v1/spaces").await),
        ]
    }

    pub async fn forbidden_for_a_reader_token_that_writes() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        let (status, token) =
            http.post("/v1/tokens", json!({ "name": "r", "role": "reader", "spaces": ["acme"] })).await;
        assert_eq!(status, StatusCode::CREATED, "{token}");
        let reader = Http::with_token(&server, token["token"].as_str());
        vec![
            Seen::answer("a reader puts a machine", reader.put_yaml("/v1/spaces/acme/machines/order", ORDER).await),
            Seen::answer("a reader of acme reads globex", reader.get("/v1/spaces/globex/machines").await),
        ]
    }

    pub async fn not_found_for_an_unknown_route_or_token() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        vec![
            Seen::answer("an unknown route", http.get("/v1/nothing").await),
            Seen::answer("an unknown token", http.send(Method::DELETE, "/v1/tokens/no-such-token", None).await),
        ]
    }

    pub async fn space_not_found_when_deleting_a_space_never_written() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        vec![Seen::answer("delete a space never written", http.send(Method::DELETE, "/v1/spaces/never", None).await)]
    }

    pub async fn method_not_allowed_on_a_route_without_that_method() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        vec![
            Seen::answer("PATCH a machine", http.send(Method::PATCH, "/v1/spaces/acme/machines/order", None).await),
            Seen::answer("DELETE the space list", http.send(Method::DELETE, "/v1/spaces", None).await),
        ]
    }

    pub async fn unsupported_media_type_for_a_definition_in_plain_text() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        let body = Some(("text/plain", ORDER.as_bytes().to_vec()));
        vec![Seen::answer("text/plain", http.send(Method::PUT, "/v1/spaces/acme/machines/order", body).await)]
    }

    pub async fn payload_too_large_over_max_body_bytes() -> Vec<Seen> {
        let server = TestServer::start_with(&["--max-body-bytes", "4096"]);
        let http = Http::new(&server);
        let message = json!({ "payload": "x".repeat(8192) });
        vec![Seen::answer("an 8 KB message", http.post("/v1/spaces/acme/topics/t/messages", message).await)]
    }

    pub async fn request_timeout_when_the_body_does_not_arrive() -> Vec<Seen> {
        let server = TestServer::start_with(&["--body-read-timeout", "1s"]);
        // The head promises 100 bytes of body; 11 come, the rest never does.
        let text = format!(
            "POST /v1/spaces/acme/topics/t/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
             content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"payload\":",
            server.admin_token
        );
        let answer = raw(&server, text.as_bytes()).await;
        assert_eq!(answer.1["error"]["details"]["timeout_ms"], 1000, "{}", answer.1);
        vec![Seen::answer("a body that stops", answer)]
    }

    pub async fn uri_too_long_over_the_request_target_limit() -> Vec<Seen> {
        let server = TestServer::start();
        let text = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70_000));
        vec![Seen::answer("a 70,000-byte target", raw(&server, text.as_bytes()).await)]
    }

    pub async fn headers_too_large_over_the_header_count_limit() -> Vec<Seen> {
        let server = TestServer::start();
        let headers: String = (0..120).map(|i| format!("x-h{i}: v\r\n")).collect();
        let text = format!("GET /healthz HTTP/1.1\r\nhost: x\r\n{headers}\r\n");
        vec![Seen::answer("120 header fields", raw(&server, text.as_bytes()).await)]
    }

    pub async fn upgrade_required_for_a_websocket_route_without_the_handshake() -> Vec<Seen> {
        let server = TestServer::start();
        vec![Seen::answer("a plain GET of watch/ws", Http::new(&server).get("/v1/spaces/acme/watch/ws").await)]
    }

    /// The instance's stored revision is set to 0, which no instance can have, while the server
    /// is stopped: reading it back is a storage fault the server reports without a panic.
    pub async fn internal_for_a_stored_row_the_server_cannot_decode() -> Vec<Seen> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = TestServer::start_in(dir.path(), &[]);
        with_order(&server).await;
        server.kill();
        let changed = database(dir.path())
            .execute("UPDATE instances SET revision = 0 WHERE space = 'acme' AND id = 'o-1'", [])
            .expect("update");
        assert_eq!(changed, 1);
        let server = TestServer::start_in(dir.path(), &[]);
        let http = Http::new(&server);
        let answer = http.get("/v1/spaces/acme/machines/order/instances/o-1").await;
        // The answer names no storage internals; the server log has the cause.
        let message = answer.1["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.contains("revision"), "{message}");
        // The rest of the store is served.
        let (status, _) = http.get("/v1/spaces/acme/machines/order").await;
        assert_eq!(status, StatusCode::OK);
        vec![Seen::answer("read the damaged instance", answer)]
    }

    /// The oldest records belong to a deleted space, so the oldest seq kept moves past them.
    pub async fn seq_expired_for_a_watch_from_before_the_oldest_record() -> Vec<Seen> {
        // Retention that keeps about one record's bytes trims all records but the newest, the
        // first start's audit record with them.
        let server = TestServer::start_with(&["--log-retention-bytes", "1", "--maintenance-interval", "100ms"]);
        let http = Http::new(&server);
        for _ in 0..3 {
            let (status, body) = http.post("/v1/spaces/acme/topics/t/messages", json!({ "payload": 1 })).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        // A watch that is not refused streams and never ends: only its status is looked at.
        let probe = || async {
            let url = format!("{}/v1/spaces/acme/watch?from=1", server.url);
            let resp = reqwest::Client::new().get(url).bearer_auth(&server.admin_token).send().await;
            resp.map(|r| r.status()).ok()
        };
        wait_for("retention to trim the log", PATIENCE, probe, |s| s.is_some_and(|s| s.is_client_error())).await;
        let answer = http.get("/v1/spaces/acme/watch?from=1").await;
        assert!(answer.1["error"]["details"]["oldest_seq"].as_u64().is_some_and(|s| s > 2), "{}", answer.1);
        // From seq 2 (from 1 means "from the oldest kept", which a subscription may ask).
        let subscription = json!({ "from": 2 });
        vec![
            Seen::answer("a watch from seq 1", answer),
            Seen::answer(
                "a subscription from seq 2",
                http.put_json("/v1/spaces/acme/subscriptions/s", &subscription).await,
            ),
        ]
    }

    pub async fn bucket_not_found_for_an_unknown_bucket() -> Vec<Seen> {
        let server = TestServer::start();
        vec![Seen::answer("an unknown bucket", Http::new(&server).get("/v1/spaces/acme/kv/nope").await)]
    }

    pub async fn key_not_found_for_a_key_never_written_or_deleted() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        let key = "/v1/spaces/acme/kv/config/keys/db/url";
        let (status, body) = http.send(Method::PUT, key, Some(("text/plain", b"x".to_vec()))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let never = http.get("/v1/spaces/acme/kv/config/keys/never").await;
        let (status, body) = http.send(Method::DELETE, key, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        vec![Seen::answer("a key never written", never), Seen::answer("a deleted key", http.get(key).await)]
    }

    pub async fn conflict_when_a_kv_precondition_does_not_hold() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        let key = "/v1/spaces/acme/kv/config/keys/k";
        let (status, body) = http.send(Method::PUT, key, Some(("text/plain", b"1".to_vec()))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _, stale) = http.send_with(Method::PUT, key, &[("if-match", "\"7\"")], Some(json!(2))).await;
        assert_eq!(stale["error"]["details"]["current_revision"], 1, "{stale}");
        let (status_set, _, set) = http.send_with(Method::PUT, key, &[("if-none-match", "*")], Some(json!(3))).await;
        vec![
            Seen::answer("If-Match another revision", (status, stale)),
            Seen::answer("If-None-Match * on a set key", (status_set, set)),
        ]
    }

    pub async fn subscription_not_found_for_an_unknown_subscription() -> Vec<Seen> {
        let server = TestServer::start();
        vec![Seen::answer(
            "an unknown subscription",
            Http::new(&server).get("/v1/spaces/acme/subscriptions/nope").await,
        )]
    }

    pub async fn subscription_exists_when_a_name_follows_another_filter() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        let (status, body) = http.put_json("/v1/spaces/acme/subscriptions/s", &json!({ "address": "acme:a" })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let other = json!({ "address": "acme:b" });
        vec![Seen::answer(
            "the name with another address",
            http.put_json("/v1/spaces/acme/subscriptions/s", &other).await,
        )]
    }

    /// The database ends the server's connections and refuses new ones (`ALLOW_CONNECTIONS
    /// false`), as when it restarts or a network partition cuts it off; reads and writes are
    /// refused as unavailable, and served again once it takes connections, without a restart.
    pub async fn unavailable_while_the_postgresql_database_cannot_be_reached() -> Vec<Seen> {
        let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("a database");
        let server = TestServer::start_with(&["--store", db.url()]);
        let http = with_order(&server).await;
        let name = db.name().to_owned();
        // Blocking: the testkit runs its client on a thread of its own.
        let admin = |sql: String| {
            tokio::task::block_in_place(|| db.execute_as_admin(&sql)).unwrap_or_else(|e| panic!("{sql}: {e}"))
        };
        admin(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"));
        admin(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ));
        // pg_terminate_backend only signals: wait until the server's backends are gone (none
        // can come back while the database refuses connections).
        let gone = format!(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = '{name}') \
             THEN RAISE EXCEPTION 'still connected'; END IF; END $$"
        );
        wait_until("the server's connections to end", PATIENCE, || async {
            tokio::task::block_in_place(|| db.execute_as_admin(&gone)).ok()
        })
        .await;
        let seen = vec![
            Seen::answer("a read", http.get("/v1/spaces/acme/machines/order/instances/o-1").await),
            Seen::answer("a write", http.post(EVENTS, json!({ "event": "pay", "payload": { "amount": 10 } })).await),
            Seen::answer("a list", http.get("/v1/spaces/acme/machines").await),
        ];
        admin(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"));
        // Nothing of the refused write was applied, and the server recovers by itself.
        let instance = wait_for(
            "the instance to be readable again",
            PATIENCE,
            || http.get("/v1/spaces/acme/machines/order/instances/o-1"),
            |(status, _)| *status == StatusCode::OK,
        )
        .await;
        assert_eq!((instance.1["state"].as_str(), instance.1["revision"].as_u64()), (Some("pending"), Some(1)));
        let (status, body) = http.post(EVENTS, json!({ "event": "pay", "payload": { "amount": 10 } })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen
    }

    pub async fn function_not_found_for_an_unknown_function_or_version() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        deploy_misbehave(&http, "m", json!({})).await;
        vec![
            Seen::answer("an unknown function", http.get("/v1/spaces/acme/functions/nope").await),
            Seen::answer("an unknown version", http.get("/v1/spaces/acme/functions/m?version=9").await),
            Seen::answer("invoke an unknown function", invoke(&http, "nope", json!({})).await),
        ]
    }

    pub async fn invocation_not_found_for_an_unknown_invocation() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        let unknown = "/v1/spaces/acme/invocations/0197a000-0000-7000-8000-000000000000";
        vec![Seen::answer("an unknown invocation id", http.get(unknown).await)]
    }

    pub async fn job_not_found_for_an_unknown_or_deleted_job() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        let unknown = "/v1/spaces/acme/jobs/0197a000-0000-7000-8000-000000000000";
        // A job due in an hour, deleted before it runs.
        let (status, job) = http.post("/v1/spaces/acme/jobs", json!({ "kind": "noop", "delay_ms": 3_600_000 })).await;
        assert_eq!(status, StatusCode::CREATED, "{job}");
        let deleted = format!("/v1/spaces/acme/jobs/{}", job["id"].as_str().expect("id"));
        let (status, _) = http.send(Method::DELETE, &deleted, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        vec![
            Seen::answer("an unknown job id", http.get(unknown).await),
            Seen::answer("re-drive an unknown job", http.post(&format!("{unknown}/retry"), json!({})).await),
            Seen::answer("a deleted job", http.get(&deleted).await),
            Seen::answer("delete a deleted job", http.send(Method::DELETE, &deleted, None).await),
        ]
    }

    pub async fn flow_not_found_for_an_unknown_flow_or_a_machine() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        let (status, _) = http.put_yaml("/v1/spaces/acme/machines/plain", "initial: a\nstates: [a]\n").await;
        assert_eq!(status, StatusCode::OK);
        vec![
            Seen::answer("an unknown flow", http.get("/v1/spaces/acme/flows/nope").await),
            Seen::answer("a machine, not a flow", http.get("/v1/spaces/acme/flows/plain").await),
            Seen::answer("a run of an unknown flow", http.post("/v1/spaces/acme/flows/nope/runs", json!({})).await),
        ]
    }

    pub async fn run_not_found_for_an_unknown_run_or_a_subflow() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        vec![
            Seen::answer("an unknown run", http.get("/v1/spaces/acme/runs/nope").await),
            Seen::answer("retry an unknown run", http.post("/v1/spaces/acme/runs/nope/retry", json!({})).await),
        ]
    }

    pub async fn env_not_found_for_an_unknown_env_value() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        vec![
            Seen::answer("an unknown value", http.get("/v1/spaces/acme/env/nope").await),
            Seen::answer("delete an unknown value", http.delete("/v1/spaces/acme/env/nope").await),
        ]
    }

    pub async fn secret_not_found_for_an_unknown_secret() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        vec![
            Seen::answer("an unknown secret", http.get("/v1/spaces/acme/secrets/nope").await),
            Seen::answer("delete an unknown secret", http.delete("/v1/spaces/acme/secrets/nope").await),
        ]
    }

    /// Puts a webhook trigger `name` verified by the secret `hook` (set to `secret` when given).
    async fn webhook_trigger(http: &Http, name: &str, secret: Option<&str>, extra: &str) {
        if let Some(secret) = secret {
            let (status, body) = http.put_json("/v1/spaces/acme/secrets/hook", &json!({ "value": secret })).await;
            assert!(status.is_success(), "{status} {body}");
        }
        let yaml = format!(
            "source: {{ webhook: {{ scheme: github, secrets: ['{{{{secrets.hook}}}}']{extra} }} }}\ntarget: {{ topic: hooks }}\n"
        );
        let (status, body) = http.put_yaml(&format!("/v1/spaces/acme/triggers/{name}"), &yaml).await;
        assert!(status.is_success(), "{status} {body}");
    }

    /// A GitHub-signed POST of `body` to `/hooks/acme/{name}`.
    async fn github_delivery(http: &Http, name: &str, secret: &[u8], body: &str) -> (StatusCode, Value) {
        let signature = format!(
            "sha256={}",
            hex::encode(
                switchyard_webhooks::hmac_tag(switchyard_webhooks::Algorithm::Sha256, secret, body.as_bytes(),)
            )
        );
        let headers = [("x-hub-signature-256", signature.as_str()), ("x-github-delivery", "d-1")];
        let body = serde_json::from_str(body).expect("json");
        let (status, _, value) =
            http.send_with(Method::POST, &format!("/hooks/acme/{name}"), &headers, Some(body)).await;
        (status, value)
    }

    pub async fn trigger_not_found_for_an_unknown_trigger_or_a_hook_without_a_webhook() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        let (status, body) = http
            .put_yaml("/v1/spaces/acme/triggers/tick", "source: { interval: { every: 1h } }\ntarget: { topic: t }\n")
            .await;
        assert!(status.is_success(), "{status} {body}");
        let anonymous = Http::with_token(&server, None);
        vec![
            Seen::answer("an unknown trigger", http.get("/v1/spaces/acme/triggers/nope").await),
            Seen::answer("a hook to an unknown trigger", anonymous.post("/hooks/acme/nope", json!({})).await),
            Seen::answer("a hook to a schedule", anonymous.post("/hooks/acme/tick", json!({})).await),
        ]
    }

    pub async fn endpoint_not_found_for_an_unknown_endpoint() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        vec![
            Seen::answer("an unknown endpoint", http.get("/v1/spaces/acme/endpoints/nope").await),
            Seen::answer(
                "enabling an unknown endpoint",
                http.post("/v1/spaces/acme/endpoints/nope/enable", json!({})).await,
            ),
            Seen::answer("deleting an unknown endpoint", http.delete("/v1/spaces/acme/endpoints/nope").await),
        ]
    }

    pub async fn trigger_paused_for_a_webhook_to_a_paused_trigger() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        webhook_trigger(&http, "gh", Some("s3cret"), "").await;
        let (status, body) = http.post("/v1/spaces/acme/triggers/gh/pause", json!({})).await;
        assert!(status.is_success(), "{status} {body}");
        vec![Seen::answer("a signed hook while paused", github_delivery(&http, "gh", b"s3cret", "{}").await)]
    }

    pub async fn webhook_unverified_for_a_bad_signature_or_a_missing_secret() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        webhook_trigger(&http, "gh", Some("s3cret"), "").await;
        let anonymous = Http::with_token(&server, None);
        let unsigned = anonymous.post("/hooks/acme/gh", json!({})).await;
        let wrong = github_delivery(&anonymous, "gh", b"not the secret", "{}").await;
        http.delete("/v1/spaces/acme/secrets/hook").await;
        let unset = github_delivery(&anonymous, "gh", b"s3cret", "{}").await;
        vec![
            Seen::answer("no signature", unsigned),
            Seen::answer("a wrong signature", wrong),
            Seen::answer("the secret is not set", unset),
        ]
    }

    pub async fn rate_limited_over_a_webhook_rate_limit_or_a_space_quota() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        webhook_trigger(&http, "gh", Some("s3cret"), ", rate_limit: 1").await;
        let first = github_delivery(&http, "gh", b"s3cret", r#"{"n":1}"#).await;
        assert_eq!(first.0, StatusCode::ACCEPTED, "{first:?}");
        // One a second: of the next few, sent at once, one is over the limit.
        let mut seen = Vec::new();
        for n in 2..10 {
            let answer = github_delivery(&http, "gh", b"s3cret", &format!(r#"{{"n":{n}}}"#)).await;
            if answer.0 != StatusCode::ACCEPTED {
                seen.push(Seen::answer("hooks past one a second", answer));
                break;
            }
        }
        assert!(!seen.is_empty(), "eight hooks at once were all accepted under a limit of one a second");
        // A space's quota of one request a second: the second request at once is over it.
        let (status, body) = http.put_json("/v1/spaces/paced/quota", &json!({ "requests_per_second": 1 })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for _ in 0..10 {
            let answer = http.get("/v1/spaces/paced/machines").await;
            if answer.0 != StatusCode::OK {
                seen.push(Seen::answer("requests past a space's quota", answer));
                return seen;
            }
        }
        panic!("ten requests at once were all admitted under a quota of one a second")
    }

    pub async fn quota_exceeded_for_a_space_at_its_instances() -> Vec<Seen> {
        let server = TestServer::start();
        // One instance (o-1) already, and a quota of one.
        let http = with_order(&server).await;
        let (status, body) = http.put_json("/v1/spaces/acme/quota", &json!({ "instances": 1 })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let path = "/v1/spaces/acme/machines/order/instances";
        vec![Seen::answer("a second instance", http.post(path, json!({ "id": "o-2", "ctx": { "amount": 1 } })).await)]
    }

    async fn user_alice(http: &Http) {
        let body = json!({ "kind": "user", "name": "alice", "password": "correct horse battery" });
        let (status, reply) = http.post("/v1/principals", body).await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
    }

    async fn sign_in(http: &Http, name: &str, password: &str) -> (StatusCode, Value) {
        http.post("/v1/auth/sign-in", json!({ "name": name, "password": password })).await
    }

    pub async fn invalid_credentials_for_a_wrong_password_or_an_unknown_name() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        user_alice(&http).await;
        vec![
            Seen::answer("a wrong password", sign_in(&http, "alice", "not her password").await),
            Seen::answer("an unknown name", sign_in(&http, "mallory", "correct horse battery").await),
        ]
    }

    pub async fn sign_in_locked_after_repeated_failures() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        user_alice(&http).await;
        for _ in 1..switchyard_model::FREE_SIGN_IN_FAILURES {
            let (status, body) = sign_in(&http, "alice", "not her password").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        }
        let locking = sign_in(&http, "alice", "not her password").await;
        assert!(locking.1["error"]["details"]["retry_after_s"].as_u64().is_some(), "{}", locking.1);
        let right_password = sign_in(&http, "alice", "correct horse battery").await;
        vec![Seen::answer("the failure that locks", locking), Seen::answer("even the right password", right_password)]
    }

    pub async fn invalid_component_for_bytes_that_are_no_component() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        vec![
            Seen::answer("text", deploy(&http, "f", b"not wasm at all", json!({})).await),
            // A core module is WebAssembly, but not a component.
            Seen::answer("a core module", deploy(&http, "f", b"\0asm\x01\0\0\0", json!({})).await),
        ]
    }

    pub async fn component_world_mismatch_for_a_component_without_handle() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        // The empty component: valid, and exports nothing.
        vec![Seen::answer("an empty component", deploy(&http, "f", b"\0asm\x0d\0\x01\0", json!({})).await)]
    }

    pub async fn function_timeout_for_a_guest_past_its_timeout() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        deploy_misbehave(&http, "m", json!({ "timeout_ms": 200 })).await;
        vec![Seen::answer("a loop", invoke(&http, "m", json!({ "do": "loop" })).await)]
    }

    pub async fn function_trapped_for_a_trap_and_a_panic() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        deploy_misbehave(&http, "m", json!({})).await;
        vec![
            Seen::answer("unreachable", invoke(&http, "m", json!({ "do": "trap" })).await),
            Seen::answer("a panic", invoke(&http, "m", json!({ "do": "panic" })).await),
        ]
    }

    pub async fn function_memory_limit_for_a_guest_past_its_memory() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        deploy_misbehave(&http, "m", json!({ "memory_bytes": 16 * 1024 * 1024 })).await;
        vec![Seen::answer("allocating without end", invoke(&http, "m", json!({ "do": "alloc" })).await)]
    }

    pub async fn function_fuel_exhausted_for_a_guest_past_its_fuel() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        deploy_misbehave(&http, "m", json!({ "fuel": 1_000_000 })).await;
        vec![Seen::answer("a loop", invoke(&http, "m", json!({ "do": "loop" })).await)]
    }

    pub async fn capability_denied_for_an_ungranted_bucket() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        deploy_misbehave(&http, "m", json!({ "kv_buckets": ["mine"] })).await;
        vec![Seen::answer(
            "reading another bucket",
            invoke(&http, "m", json!({ "do": "kv", "bucket": "secrets", "key": "k" })).await,
        )]
    }

    /// With one function slot the node's instance pool holds 8 core instances; the `misbehave`
    /// component with 9 more (empty ones) passes every per-component check at deploy, and its
    /// instantiation runs out of the pool.
    pub async fn function_instantiation_failed_when_the_instance_pool_is_too_small() -> Vec<Seen> {
        let server = TestServer::start_with(&["--function-slots", "1"]);
        let http = Http::new(&server);
        let crowded = with_extra_core_instances(&example_function_bytes("misbehave"), 9);
        let (status, body) = deploy(&http, "crowded", &crowded, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        deploy_misbehave(&http, "plain", json!({})).await;
        let answer = invoke(&http, "crowded", json!({ "do": "echo" })).await;
        assert_eq!(answer.1["error"]["details"]["retryable"], true, "{}", answer.1);
        // wasmtime's pool says which of its limits ran out.
        let message = answer.1["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("maximum concurrent limit"), "{message}");
        // The node is fine: a component that fits its pool runs.
        let (status, body) = invoke(&http, "plain", json!({ "do": "echo" })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        vec![Seen::answer("the crowded component", answer)]
    }

    pub async fn function_capacity_exhausted_when_every_slot_is_taken() -> Vec<Seen> {
        let server = TestServer::start_with(&["--function-slots", "1"]);
        let http = Http::new(&server);
        deploy_misbehave(&http, "hog", json!({ "timeout_ms": 60_000 })).await;
        deploy_misbehave(&http, "brief", json!({ "timeout_ms": 200 })).await;
        let hog = {
            let http = Http::new(&server);
            tokio::spawn(async move { invoke(&http, "hog", json!({ "do": "loop" })).await })
        };
        running(&http, 1.0).await;
        let answer = invoke(&http, "brief", json!({ "do": "echo" })).await;
        hog.abort();
        vec![Seen::answer("a second invocation on a one-slot node", answer)]
    }

    pub async fn validation_failed_for_an_output_nested_too_deep() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        deploy_misbehave(&http, "m", json!({})).await;
        let mut deep = json!(1);
        for _ in 0..70 {
            deep = json!([deep]);
        }
        vec![Seen::answer("echoing 70 levels", invoke(&http, "m", json!({ "do": "echo", "deep": deep })).await)]
    }

    pub async fn function_error_for_a_guest_code_with_bad_characters() -> Vec<Seen> {
        let server = TestServer::start();
        let http = Http::new(&server);
        deploy_misbehave(&http, "m", json!({})).await;
        vec![
            Seen::answer(
                "a code with spaces",
                invoke(&http, "m", json!({ "do": "fail", "code": "no such code!" })).await,
            ),
            Seen::answer("an empty code", invoke(&http, "m", json!({ "do": "fail", "code": "" })).await),
        ]
    }

    /// The node running an asynchronous invocation is SIGKILLed, as the docs' "attempts that
    /// each ended with their node" says. One death is real; the four before it are set in the
    /// stored job (`attempt = 5`, the policy's last, lease over) while the node is down, rather
    /// than killing four more nodes. The restarted node's lease round takes the ended lease
    /// back as the last attempt's failure: the job is dead and the invocation abandoned.
    pub async fn function_abandoned_after_attempts_end_with_their_node() -> Vec<Seen> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = TestServer::start_in(dir.path(), &[]);
        let http = Http::new(&server);
        deploy_misbehave(&http, "m", json!({ "timeout_ms": 60_000 })).await;
        let input = Some(("application/octet-stream", json!({ "do": "loop" }).to_string().into_bytes()));
        let (status, accepted) = http.send(Method::POST, "/v1/spaces/acme/functions/m/invoke?async=true", input).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        let id = accepted["id"].as_str().expect("an invocation id").to_owned();
        running(&http, 1.0).await;
        server.kill();
        let changed = database(dir.path())
            .execute(
                "UPDATE jobs SET attempt = 5, lease_until = 0 WHERE id = ?1 AND status = 'running' AND attempt = 1",
                [&id],
            )
            .expect("update");
        assert_eq!(changed, 1, "the killed attempt left its invocation pending");
        let server = TestServer::start_in(dir.path(), &[]);
        let http = Http::new(&server);
        let path = format!("/v1/spaces/acme/invocations/{id}");
        let (status, record) =
            wait_for("the invocation to finish", PATIENCE, || http.get(&path), |(_, r)| r["status"] != "pending").await;
        assert_eq!(status, StatusCode::OK, "{record}");
        assert_eq!((record["status"].as_str(), record["attempt"].as_u64()), (Some("failed"), Some(5)), "{record}");
        assert_eq!(record["error"]["retryable"], false, "{record}");
        vec![Seen { what: "the invocation's record", status: None, body: json!({ "error": record["error"] }) }]
    }
}
