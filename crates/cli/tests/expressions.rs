//! CEL guards and assignments against the real binary over HTTP: expressions too deep to
//! compile are refused when the machine is put (and the server keeps answering), type errors
//! are refused with the field's path, an expensive guard stops at its cost budget without
//! touching the instance, `now` is the time the event is applied, and standard CEL functions,
//! macros and backtick-quoted fields work end to end.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestServer;
use support::http::{Http, code};

/// A machine `a --go--> b` whose one transition has `guard` and `assign`, if given.
fn machine(guard: Option<&str>, assign: Option<Value>, context_schema: Option<Value>) -> Value {
    let mut transition = json!({ "from": "a", "event": "go", "to": "b" });
    if let Some(guard) = guard {
        transition["guard"] = json!(guard);
    }
    if let Some(assign) = assign {
        transition["assign"] = assign;
    }
    let mut def = json!({ "initial": "a", "states": ["a", "b"], "transitions": [transition] });
    if let Some(schema) = context_schema {
        def["context_schema"] = schema;
    }
    def
}

/// Puts `def` as `acme:{name}`, expects 422 `validation_failed` with a field error at `path`,
/// and returns that error's message.
async fn refused_at(http: &Http, name: &str, def: &Value, path: &str) -> String {
    let (status, body) = http.put_json(&format!("/v1/spaces/acme/machines/{name}"), def).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{body}");
    let errors = body["error"]["details"]["errors"].as_array().unwrap_or_else(|| panic!("field errors: {body}"));
    let error = errors.iter().find(|e| e["path"] == path).unwrap_or_else(|| panic!("no error at {path}: {body}"));
    error["message"].as_str().unwrap_or_else(|| panic!("a message: {body}")).to_string()
}

/// Puts a plain machine into `space`, creates an instance and moves it: the server works.
async fn assert_server_answers(http: &Http, space: &str) {
    let (status, body) =
        http.put_json(&format!("/v1/spaces/{space}/machines/plain"), &machine(Some("event.n == 1"), None, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = http.post(&format!("/v1/spaces/{space}/machines/plain/instances"), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().expect("an instance id");
    let (status, body) = http
        .post(
            &format!("/v1/spaces/{space}/machines/plain/instances/{id}/events"),
            json!({ "event": "go", "payload": { "n": 1 } }),
        )
        .await;
    assert_eq!((status, body["to"].as_str()), (StatusCode::OK, Some("b")), "{body}");
    let (status, _) = http.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn expressions_nested_too_deep_are_refused_and_the_server_keeps_answering() {
    let server = TestServer::start();
    let http = Http::new(&server);

    // The reported crash: a selection chain deep enough to exhaust a stack.
    let selections = format!("{{}}{} == 1", ".a".repeat(1400));
    assert_eq!(selections.len(), 2807);
    let message =
        refused_at(&http, "deep-select", &machine(Some(&selections), None, None), "transitions[0].guard").await;
    assert!(message.contains("levels"), "the message names the depth limit: {message}");

    // A long operator chain, just under the length limit.
    let sum = format!("{} > 0", vec!["1"; 2000].join("+"));
    assert!(sum.len() < 4096, "{} bytes", sum.len());
    let message = refused_at(&http, "deep-sum", &machine(Some(&sum), None, None), "transitions[0].guard").await;
    assert!(message.contains("levels"), "the message names the depth limit: {message}");

    // The same chain in an assignment is refused at its key.
    let message = refused_at(
        &http,
        "deep-assign",
        &machine(None, Some(json!({ "total": sum.trim_end_matches(" > 0") })), None),
        "transitions[0].assign.total",
    )
    .await;
    assert!(message.contains("levels"), "the message names the depth limit: {message}");

    // Nested `has(` forms: 1,000 unclosed ones (the parser's own nesting limit stops them
    // before the syntax error at the end is found), and as many closed ones as fit in the length
    // limit (not valid CEL: `has` takes a field selection). Deep parentheses likewise.
    let unclosed = "has(".repeat(1000);
    let message = refused_at(&http, "deep-has", &machine(Some(&unclosed), None, None), "transitions[0].guard").await;
    assert!(message.contains("levels"), "the message names the depth limit: {message}");
    let closed = format!("{}event.f{}", "has(".repeat(800), ")".repeat(800));
    assert!(closed.len() < 4096, "{} bytes", closed.len());
    refused_at(&http, "deep-has", &machine(Some(&closed), None, None), "transitions[0].guard").await;
    let parens = format!("{}1{} == 1", "(".repeat(2000), ")".repeat(2000));
    assert!(parens.len() < 4096, "{} bytes", parens.len());
    let message = refused_at(&http, "deep-parens", &machine(Some(&parens), None, None), "transitions[0].guard").await;
    assert!(message.contains("levels"), "the message names the depth limit: {message}");

    // Nothing was stored, and the server still works.
    for name in ["deep-select", "deep-sum", "deep-assign", "deep-has", "deep-parens"] {
        let (status, body) = http.get(&format!("/v1/spaces/acme/machines/{name}")).await;
        assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "machine_not_found"), "{name}: {body}");
    }
    assert_server_answers(&http, "acme").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn type_errors_are_refused_when_the_machine_is_put() {
    let server = TestServer::start();
    let http = Http::new(&server);

    let message = refused_at(&http, "m", &machine(Some("1 + 'a' == 2"), None, None), "transitions[0].guard").await;
    assert!(message.contains("no matching overload"), "{message}");

    let message =
        refused_at(&http, "m", &machine(Some("undeclared_var == 1"), None, None), "transitions[0].guard").await;
    assert!(message.contains("undeclared reference"), "{message}");

    // ctx is typed by the context schema: an integer plus a string is refused…
    let schema = json!({ "type": "object", "properties": { "amount": { "type": "integer" } } });
    let bad = machine(None, Some(json!({ "total": "ctx.amount + 'x'" })), Some(schema.clone()));
    let message = refused_at(&http, "m", &bad, "transitions[0].assign.total").await;
    assert!(message.contains("no matching overload"), "{message}");

    // …while the same assignment with a well-typed expression is accepted and evaluated.
    let good = machine(None, Some(json!({ "total": "ctx.amount + 1" })), Some(schema));
    let (status, body) = http.put_json("/v1/spaces/acme/machines/m", &good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        http.post("/v1/spaces/acme/machines/m/instances", json!({ "id": "i-1", "ctx": { "amount": 41 } })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = http.post("/v1/spaces/acme/machines/m/instances/i-1/events", json!({ "event": "go" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ctx"]["total"], 42, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expensive_guard_stops_at_its_cost_budget_and_changes_nothing() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let guard = "event.l.all(x, event.l.all(y, event.l.all(z, x + y + z >= 0)))";
    let (status, body) = http.put_json("/v1/spaces/acme/machines/cubic", &machine(Some(guard), None, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let instances = "/v1/spaces/acme/machines/cubic/instances";
    let (status, body) = http.post(instances, json!({ "id": "i-1", "ctx": { "k": 1 } })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, before) = http.get(&format!("{instances}/i-1")).await;

    // 250³ steps: far over the budget.
    let list: Vec<u32> = (0..250).collect();
    let (status, body) =
        http.post(&format!("{instances}/i-1/events"), json!({ "event": "go", "payload": { "l": list } })).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "expression_cost_exceeded"), "{body}");
    let details = &body["error"]["details"];
    assert!(details["expression"].as_str().is_some_and(|e| e.contains("event.l.all")), "{body}");
    assert!(details["limit"].as_u64().is_some_and(|l| l > 0), "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");

    // The instance is as it was, and the refusal was not recorded.
    let (_, after) = http.get(&format!("{instances}/i-1")).await;
    assert_eq!(after, before);
    assert_eq!((after["state"].as_str(), after["revision"].as_u64()), (Some("a"), Some(1)), "{after}");
    let (_, history) = http.get(&format!("{instances}/i-1/history")).await;
    assert_eq!(history["events"].as_array().map(Vec::len), Some(1), "{history}");

    // Other spaces are served…
    let (status, body) =
        http.send(Method::PUT, "/v1/spaces/other/kv/config/keys/k", Some(("text/plain", b"v".to_vec()))).await;
    assert_eq!((status, body["revision"].as_u64()), (StatusCode::OK, Some(1)), "{body}");
    assert_server_answers(&http, "other").await;

    // …and the same guard over a small list passes.
    let (status, body) =
        http.post(&format!("{instances}/i-1/events"), json!({ "event": "go", "payload": { "l": [0, 1, 2] } })).await;
    assert_eq!((status, body["to"].as_str()), (StatusCode::OK, Some("b")), "{body}");
}

/// Whether `s` is an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| b.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && matches!(b.get(10), Some(b'T' | b't'))
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19);
    if !shape {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

/// A UTC RFC 3339 timestamp as (`YYYY-MM-DDTHH:MM:SS`, milliseconds), so that `…:05Z` and
/// `…:05.000Z` compare equal; `None` when it is not UTC or has sub-millisecond digits.
fn utc_millis(s: &str) -> Option<(&str, u32)> {
    if !is_rfc3339(s) {
        return None;
    }
    let (seconds, rest) = s.split_at(19);
    let fraction = rest.strip_suffix('Z').or_else(|| rest.strip_suffix("+00:00"))?;
    let digits = fraction.strip_prefix('.').unwrap_or(fraction);
    let digits = digits.trim_end_matches('0');
    if digits.len() > 3 {
        return None;
    }
    let millis = if digits.is_empty() { 0 } else { format!("{digits:0<3}").parse().ok()? };
    Some((seconds, millis))
}

#[test]
fn timestamp_helpers_read_rfc3339() {
    for good in ["2025-01-02T03:04:05Z", "2025-01-02T03:04:05.123Z", "2025-01-02T03:04:05.123456789+00:00"] {
        assert!(is_rfc3339(good), "{good}");
    }
    for bad in ["2025-01-02 03:04:05Z", "2025-01-02T03:04:05", "2025-01-02T03:04:05.Z", "1735787045"] {
        assert!(!is_rfc3339(bad), "{bad}");
    }
    assert_eq!(utc_millis("2025-01-02T03:04:05Z"), utc_millis("2025-01-02T03:04:05.000Z"));
    assert_eq!(utc_millis("2025-01-02T03:04:05.1Z"), Some(("2025-01-02T03:04:05", 100)));
    assert_eq!(utc_millis("2025-01-02T03:04:05.123+00:00"), Some(("2025-01-02T03:04:05", 123)));
    assert_eq!(utc_millis("2025-01-02T03:04:05.1234Z"), None);
    assert_eq!(utc_millis("2025-01-02T03:04:05.123+01:00"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn now_is_a_timestamp_of_when_the_event_is_applied() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let def = json!({
        "initial": "a",
        "states": ["a", "b"],
        "transitions": [
            {
                "from": "a", "event": "stamp", "to": "b",
                "guard": "now > timestamp('2000-01-01T00:00:00Z')",
                "assign": { "at": "string(now)", "year": "now.getFullYear()" }
            },
            { "from": "b", "event": "back", "to": "a", "guard": "now < timestamp('2000-01-01T00:00:00Z')" }
        ]
    });
    let (status, body) = http.put_json("/v1/spaces/acme/machines/clock", &def).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let instances = "/v1/spaces/acme/machines/clock/instances";
    let (status, body) = http.post(instances, json!({ "id": "i-1" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) = http.post(&format!("{instances}/i-1/events"), json!({ "event": "stamp" })).await;
    assert_eq!((status, body["to"].as_str()), (StatusCode::OK, Some("b")), "the guard on now passes: {body}");
    let at = body["ctx"]["at"].as_str().unwrap_or_else(|| panic!("ctx.at is a string: {body}"));
    assert!(is_rfc3339(at), "ctx.at is an RFC 3339 timestamp: {at}");
    let year = body["ctx"]["year"].as_i64().unwrap_or_else(|| panic!("ctx.year is an integer: {body}"));
    assert!(year >= 2024, "{body}");
    assert_eq!(at[..4].parse::<i64>().ok(), Some(year), "string(now) and now.getFullYear() agree (UTC): {body}");
    let (_, inst) = http.get(&format!("{instances}/i-1")).await;
    assert_eq!(inst["ctx"], body["ctx"], "the assignments were stored");
    // `now` is the time the transition is recorded with (so a replay sees the same value).
    let (_, history) = http.get(&format!("{instances}/i-1/history")).await;
    let recorded = history["events"][1]["created_at"].as_str().unwrap_or_else(|| panic!("{history}"));
    assert_eq!(utc_millis(at), utc_millis(recorded), "ctx.at {at} is the transition's time {recorded}");
    assert!(utc_millis(at).is_some(), "ctx.at is UTC with at most millisecond precision: {at}");

    // A guard that needs `now` in the past refuses.
    let (status, body) = http.post(&format!("{instances}/i-1/events"), json!({ "event": "back" })).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "guard_rejected"), "{body}");
}

const STANDARD_YAML: &str = r#"
name: standard
initial: open
states: [open]
transitions:
  - from: open
    event: bind
    to: open
    guard: "cel.bind(x, event.items.size(), x > 1)"
  - from: open
    event: exists2
    to: open
    guard: "event.items.exists(i, v, v == 'b')"
  - from: open
    event: split
    to: open
    guard: "'a,b'.split(',').size() == 2"
  - from: open
    event: greatest
    to: open
    guard: "math.greatest(1, 2) == 2"
  - from: open
    event: backtick
    to: open
    guard: "event.`my-key` == 'v'"
  - from: open
    event: record
    to: open
    assign:
      name: "event.name.lowerAscii()"
      key: "event.`my-key`"
      count: "cel.bind(x, event.items.size(), x * 10)"
      parts: "'a,b'.split(',')"
      most: "math.greatest(1, 2, event.items.size())"
      has_b: "event.items.exists(i, v, i > 0 && v == 'b')"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn standard_cel_functions_and_macros_work_end_to_end() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let (status, body) = http.put_yaml("/v1/spaces/acme/machines/standard", STANDARD_YAML).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = http.post("/v1/spaces/acme/machines/standard/instances", json!({ "id": "i-1" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let events = "/v1/spaces/acme/machines/standard/instances/i-1/events";

    // Each guard passes with one payload and, where it reads the payload, refuses another.
    let cases = [
        ("bind", json!({ "items": ["a", "b"] }), Some(json!({ "items": ["a"] }))),
        ("exists2", json!({ "items": ["a", "b"] }), Some(json!({ "items": ["a", "c"] }))),
        ("split", json!({}), None),
        ("greatest", json!({}), None),
        ("backtick", json!({ "my-key": "v" }), Some(json!({ "my-key": "w" }))),
    ];
    for (event, passes, refused) in cases {
        let (status, body) = http.post(events, json!({ "event": event, "payload": passes })).await;
        assert_eq!((status, body["to"].as_str()), (StatusCode::OK, Some("open")), "{event}: {body}");
        if let Some(refused) = refused {
            let (status, body) = http.post(events, json!({ "event": event, "payload": refused })).await;
            assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "guard_rejected"), "{event}: {body}");
        }
    }

    let payload = json!({ "name": "HeLLo World", "my-key": "v", "items": ["a", "b", "c"] });
    let (status, body) = http.post(events, json!({ "event": "record", "payload": payload })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // (Earlier events without `assign` merged their payloads into ctx; only these keys matter.)
    let ctx = &body["ctx"];
    let expected = json!({
        "name": "hello world",
        "key": "v",
        "count": 30,
        "parts": ["a", "b"],
        "most": 3,
        "has_b": true,
    });
    for (key, value) in expected.as_object().expect("an object") {
        assert_eq!(&ctx[key], value, "ctx.{key}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bench_events_with_expressions_drives_the_guarded_machine() {
    let server = TestServer::start();
    let out = server
        .cli()
        .args(["bench", "events", "--clients", "4", "--instances", "5", "--events", "50", "--expressions"])
        .output()
        .expect("bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("machine bench-cycle-cel"), "{stdout}");
    assert!(stdout.contains("ok 50, errors 0"), "{stdout}");
    // Every event went through the guard and the assignment: the counters add up to 50.
    let http = Http::new(&server);
    let (status, body) = http.get("/v1/spaces/bench/machines/bench-cycle-cel/instances").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let total: i64 = body["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| i["ctx"]["n"].as_i64().expect("n is an integer"))
        .sum();
    assert_eq!(total, 50, "{body}");
}
