//! Every route that reads a request body, fed arbitrary and mutated bodies through the real
//! router in-process (the request-body types are the API's own, private; this is the boundary
//! they are reachable at).
//!
//! Each case sends one body with the admin token — so the body, not the permission check, is
//! what decides the answer — and then checks that:
//! - the answer is not a 5xx (a function's own failure aside) and not `internal`;
//! - every non-2xx answer is `{"error":{"code","message","details"}}` with the code's status;
//! - the server still serves ordinary requests on the fixtures afterwards.
//!
//! Bodies are either arbitrary bytes, or valid seeds edited as JSON (a node replaced by any
//! value — deep, huge, of the wrong type —, removed, wrapped, or an unknown field added) and
//! then possibly as bytes. The number of cases is bounded (`FUZZ_BODIES_CASES`, default 1024),
//! so this runs in `cargo test`; `fuzz/` has the unbounded fuzzers (docs/fuzzing.md).

mod fuzz_support;

use axum::http::Method;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use fuzz_support::{
    ByteEdit, JSON, JsonEdit, ORDER_YAML, Server, byte_edit, check_answer, edit_bytes, edit_json, json_edit, path,
};

/// A flow in YAML: a seed for the flow route's raw bodies.
const FLOW_YAML: &str = "name: fz
nodes:
  - { id: a, kind: transform, value: 'input.x * 2' }
  - { id: b, kind: condition, if: 'nodes.a.output > 2' }
  - { id: c, kind: fail, code: small }
edges:
  - { from: a, to: b }
  - { from: b, to: c, branch: false }
";

/// A body-carrying route, with valid bodies to start from.
struct Route {
    method: Method,
    uri: String,
    seeds: Vec<Value>,
    /// Seeds that are not JSON (YAML definitions, raw KV values).
    raw_seeds: Vec<&'static [u8]>,
    function: bool,
}

fn route(method: Method, uri: String, seeds: Vec<Value>) -> Route {
    Route { method, uri, seeds, raw_seeds: Vec::new(), function: false }
}

/// Every route of `switchyard_api::ROUTES` with a body, and `pull`, whose body is ignored.
fn routes() -> Vec<Route> {
    let definition: Value =
        serde_json::from_str(include_str!("../../../fuzz/corpus/definition/order.json")).expect("a JSON seed");
    let batch = json!({"operations": [
        {"op": "create_instance", "space": "acme", "machine": "order", "id": "b-1", "ctx": {"amount": 1}, "idempotency_key": "b"},
        {"op": "apply_event", "space": "acme", "machine": "order", "instance": "o-1", "event": "pay",
         "payload": {"amount": 100}, "expected_state": "pending", "expected_revision": 1},
        {"op": "delete_instance", "space": "acme", "machine": "order", "instance": "b-1"},
    ]});
    vec![
        Route { raw_seeds: vec![ORDER_YAML.as_bytes()], ..route(Method::PUT, path("/machines/fz"), vec![definition]) },
        route(
            Method::POST,
            path("/machines/order/instances"),
            vec![json!({"id": "i-1", "ctx": {"amount": 5}, "idempotency_key": "k"}), json!({})],
        ),
        route(
            Method::POST,
            path("/machines/order/instances/o-1/events"),
            vec![
                json!({"event": "pay", "payload": {"amount": 100}, "idempotency_key": "e", "expected_state": "pending", "expected_revision": 1}),
                json!({"event": "cancel"}),
            ],
        ),
        route(
            Method::POST,
            path("/machines/order/instances/o-1/cancel"),
            vec![json!({"reason": "customer left"}), json!({})],
        ),
        route(Method::POST, path("/machines/order/instances/o-1/migrate"), vec![json!({"version": 1})]),
        route(Method::POST, "/v1/batch".to_owned(), vec![batch]),
        route(Method::POST, "/v1/tokens".to_owned(), vec![json!({"name": "t", "role": "reader", "spaces": ["acme"]})]),
        route(
            Method::POST,
            "/v1/auth/sign-in".to_owned(),
            vec![json!({"name": "fz", "password": "correct horse battery"})],
        ),
        route(
            Method::POST,
            "/v1/auth/password".to_owned(),
            vec![json!({"current": "a long password", "new": "another one!"})],
        ),
        route(
            Method::POST,
            "/v1/principals".to_owned(),
            vec![
                json!({"kind": "user", "name": "fz", "password": "correct horse battery",
                       "grants": [{"role": "space-reader", "pattern": "acme:*"}]}),
                json!({"kind": "service", "name": "fz-bot"}),
            ],
        ),
        route(
            Method::PUT,
            "/v1/principals/usr_fz/password".to_owned(),
            vec![json!({"password": "correct horse battery"})],
        ),
        route(Method::POST, "/v1/orgs".to_owned(), vec![json!({"name": "fz"})]),
        route(
            Method::POST,
            "/v1/orgs/fz/members".to_owned(),
            vec![
                json!({"kind": "user", "name": "fz-member", "password": "correct horse battery",
                       "grants": [{"role": "space-reader", "pattern": "fz/*:*"}]}),
                json!({"kind": "service", "name": "fz-member-bot"}),
            ],
        ),
        route(
            Method::PUT,
            "/v1/orgs/fz/members/usr_fz/password".to_owned(),
            vec![json!({"password": "correct horse battery"})],
        ),
        route(
            Method::POST,
            "/v1/grants".to_owned(),
            vec![json!({"principal": "usr_fz", "role": "space-writer", "pattern": "acme:orders:*"})],
        ),
        route(
            Method::PUT,
            "/v1/roles/fz".to_owned(),
            vec![json!({"permissions": ["functions:deploy", "jobs:*", "read"]})],
        ),
        route(
            Method::POST,
            path("/topics/t/messages"),
            vec![json!({"payload": {"x": 1}, "key": "k", "headers": {"h": "v"}, "idempotency_key": "p"})],
        ),
        route(Method::PUT, path("/kv/b2"), vec![json!({"history": 5}), json!({})]),
        Route {
            raw_seeds: vec![b"plain value", b"{\"a\": [1, 2]}"],
            ..route(Method::PUT, path("/kv/b/keys/k2"), vec![json!({"a": 1})])
        },
        route(
            Method::PUT,
            path("/subscriptions/s2"),
            vec![json!({"address": "acme:order:*", "kind": ["transition"], "state": "paid", "event": "pay",
                        "from": "earliest", "max_deliveries": 3, "ack_wait": "30s", "allow_loss": false})],
        ),
        route(Method::POST, path("/subscriptions/s/pull"), vec![json!({})]),
        route(
            Method::POST,
            path("/jobs"),
            vec![
                json!({"kind": "noop"}),
                json!({"kind": "http", "payload": {"url": "https://example.com/hook", "method": "POST", "body": {"a": 1},
                                              "secret_headers": {"Authorization": "Bearer {{secrets.t}}"}},
                       "delay_ms": 1000, "priority": 2, "concurrency_key": "c", "idempotency_key": "k",
                       "retry": {"max_attempts": 3, "initial": "10ms", "jitter": "none", "non_retryable": ["x"]}}),
            ],
        ),
        route(Method::PUT, path("/env/region"), vec![json!({"value": {"name": "eu", "zones": [1, 2]}})]),
        route(Method::PUT, path("/secrets/token"), vec![json!({"value": "s3cr3t"})]),
        route(Method::POST, path("/jobs/retry"), vec![json!({"kind": "http", "limit": 10}), json!({})]),
        route(
            Method::PUT,
            path("/triggers/fz"),
            vec![
                json!({"source": {"cron": {"schedule": "0 9 * * MON-FRI", "timezone": "Europe/Paris", "overlap": "skip"}},
                       "filter": "true", "target": {"flow": "fz", "input": "{'at': fire_time}"}}),
                json!({"source": {"webhook": {"scheme": "standard-webhooks", "secrets": ["{{secrets.k}}"], "tolerance": "5m"}},
                       "target": {"instance": "'order:' + body.id", "event": "paid", "create": true}}),
            ],
        ),
        route(Method::POST, path("/triggers/fz/fire"), vec![json!({"body": {"id": 1}}), json!({})]),
        // A space of its own: a mutated quota must not pace the space the other routes use.
        route(
            Method::PUT,
            "/v1/spaces/fz-quota/quota".to_string(),
            vec![
                json!({"stored_bytes": 1073741824u64, "instances": 1000000, "requests_per_second": 1000000,
                       "events_per_second": 1000000, "concurrent_jobs": 64, "function_timeout_ms": 60000,
                       "function_memory_bytes": 67108864}),
                json!({}),
            ],
        ),
        route(
            Method::PUT,
            path("/endpoints/fz"),
            vec![json!({"url": "https://example.com/hook", "secret": "{{secrets.k}}", "signing_key": "{{secrets.sk}}",
                        "kinds": ["topic.message"], "filter": "record.seq > 0", "headers": {"X-Team": "a"},
                        "timeout": "10s", "retry": {"max_attempts": 3, "initial": "1s"},
                        "breaker": {"failures": 3, "cooldown": "30s"}})],
        ),
        route(Method::POST, path("/endpoints/fz/disable"), vec![json!({"reason": "maintenance"}), json!({})]),
        route(
            Method::POST,
            path("/endpoints/fz/redrive"),
            vec![json!({"from": "2026-01-05T00:00:00Z", "to": "2026-01-09T00:00:00Z"}), json!({})],
        ),
        route(
            Method::POST,
            path("/triggers/fz/backfill"),
            vec![json!({"from": "2026-01-05T00:00:00Z", "to": "2026-01-09T00:00:00Z"})],
        ),
        route(
            Method::POST,
            "/hooks/acme/fz".to_string(),
            vec![json!({"type": "payment.succeeded", "data": {"id": 1}})],
        ),
        Route {
            raw_seeds: vec![FLOW_YAML.as_bytes()],
            ..route(
                Method::PUT,
                path("/flows/fz"),
                vec![json!({"nodes": [{"id": "a", "kind": "transform", "value": "input.x * 2"}], "edges": []})],
            )
        },
        route(
            Method::POST,
            path("/flows/fz/runs"),
            vec![json!({"input": {"x": 2}, "idempotency_key": "r"}), json!({})],
        ),
        route(Method::POST, path("/runs/cancel"), vec![json!({"flow": "fz", "status": "running"}), json!({})]),
        route(
            Method::POST,
            path("/runs/retry"),
            vec![json!({"flow": "fz", "status": "failed", "since": "2026-01-01T00:00:00Z"}), json!({})],
        ),
        route(Method::POST, path("/runs/r-1/cancel"), vec![json!({"reason": "no longer needed"}), json!({})]),
        route(
            Method::POST,
            path("/runs/r-1/events"),
            vec![json!({"event": "approve", "payload": {"by": "ops"}, "idempotency_key": "a"})],
        ),
        route(
            Method::POST,
            path("/jobs/j-1/retry"),
            vec![json!({"payload": {"url": "https://example.com"}}), json!({})],
        ),
        route(Method::POST, path("/subscriptions/s/ack"), vec![json!({"seqs": [1, 2]})]),
        route(Method::POST, path("/subscriptions/s/nack"), vec![json!({"leases": [{"seq": 1, "deliveries": 1}]})]),
        route(Method::POST, path("/subscriptions/s/dead-letters/redrive"), vec![json!({"seqs": [1]}), json!({})]),
        route(Method::POST, path("/subscriptions/s/dead-letters/discard"), vec![json!({"seqs": null})]),
        route(
            Method::PUT,
            path("/functions/fz"),
            vec![json!({"component_base64": "AGFzbQ0AAQA=", "timeout_ms": 100, "memory_bytes": 16777216, "fuel": 1000,
                        "allowed_hosts": ["example.com:443"], "kv_buckets": ["b"], "config": {"a": "b"}, "secrets": {"s": "t"}})],
        ),
        Route {
            function: true,
            ..route(
                Method::POST,
                path("/functions/f/invoke"),
                vec![
                    json!({"do": "echo", "x": [1, 2]}),
                    json!({"do": "kv", "bucket": "b", "key": "k"}),
                    json!({"do": "fail", "code": "nope"}),
                ],
            )
        },
    ]
}

/// One case: a route, a body and a Content-Type.
#[derive(Debug, Clone)]
struct Case {
    route: usize,
    body: Vec<u8>,
    content_type: Option<&'static str>,
}

fn case(routes: &[Route]) -> impl Strategy<Value = Case> + use<> {
    let shapes: Vec<(Vec<Value>, Vec<&'static [u8]>)> =
        routes.iter().map(|r| (r.seeds.clone(), r.raw_seeds.clone())).collect();
    let content_type = prop_oneof![
        8 => Just(Some(JSON)),
        1 => Just(None::<&'static str>),
        1 => proptest::sample::select(&["text/plain", "application/yaml", "application/merge-patch+json", "application/json; charset=utf-8"][..]).prop_map(Some),
    ];
    (0..routes.len(), any::<u64>(), content_type).prop_flat_map(move |(index, pick, content_type)| {
        let (seeds, raw) = shapes[index].clone();
        let seed = seeds[(pick % seeds.len() as u64) as usize].clone();
        let raw_seed = raw.get((pick % raw.len().max(1) as u64) as usize).copied();
        let edited = move |json_edits: &[JsonEdit], byte_edits: &[ByteEdit]| {
            let mut value = seed.clone();
            for edit in json_edits {
                edit_json(&mut value, edit);
            }
            let mut bytes = serde_json::to_vec(&value).expect("serialises");
            for edit in byte_edits {
                edit_bytes(&mut bytes, edit);
            }
            bytes
        };
        let as_json = edited.clone();
        let body = prop_oneof![
            1 => proptest::collection::vec(any::<u8>(), 0..256),
            // Still JSON: reaches the handlers and the engine behind the decoder.
            5 => proptest::collection::vec(json_edit(), 1..4).prop_map(move |edits| as_json(&edits, &[])),
            // JSON edited, then bytes: reaches the decoder's error paths.
            2 => (proptest::collection::vec(json_edit(), 0..3), proptest::collection::vec(byte_edit(), 1..3))
                .prop_map(move |(json_edits, byte_edits)| edited(&json_edits, &byte_edits)),
            1 => proptest::collection::vec(byte_edit(), 1..4).prop_map(move |edits| {
                let mut bytes = raw_seed.map(<[u8]>::to_vec).unwrap_or_default();
                for edit in &edits {
                    edit_bytes(&mut bytes, edit);
                }
                bytes
            }),
        ];
        body.prop_map(move |body| Case { route: index, body, content_type })
    })
}

fn cases() -> u32 {
    std::env::var("FUZZ_BODIES_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1024)
}

#[test]
fn every_body_carrying_route_answers_arbitrary_bodies_with_a_clean_error_and_keeps_serving() {
    let server = Server::start();
    let routes = routes();
    // Every seed is accepted as it stands: a mutation starts from a body that gets past decoding.
    for r in &routes {
        for seed in &r.seeds {
            let answer = server.send(r.method.clone(), &r.uri, Some(serde_json::to_vec(seed).unwrap()), Some(JSON));
            let decoded = answer.status.is_success()
                || !matches!(answer.json().pointer("/error/code").and_then(Value::as_str), Some("bad_request"));
            assert!(decoded, "seed for {} {} does not decode: {answer:?}", r.method, r.uri);
        }
    }
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let sent = std::cell::Cell::new(0u64);
    // Answers by route and status: printed, so a run shows how far the bodies got.
    let outcomes = std::cell::RefCell::new(std::collections::BTreeMap::<(String, u16), u64>::new());
    let result = runner.run(&case(&routes), |c| {
        let r = &routes[c.route];
        let what = format!("{} {} with {} bytes ({:?})", r.method, r.uri, c.body.len(), c.content_type);
        let answer = server.send(r.method.clone(), &r.uri, Some(c.body.clone()), c.content_type);
        sent.set(sent.get() + 1);
        *outcomes.borrow_mut().entry((format!("{} {}", r.method, r.uri), answer.status.as_u16())).or_default() += 1;
        check_answer(&what, &answer, r.function)?;
        server.check_still_serving()
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(sent.get() >= u64::from(cases()), "only {} bodies were sent", sent.get());
    eprintln!("answers by route and status: {:#?}", outcomes.borrow());
}

/// Templates of `ROUTES` that take no body (GET and DELETE, and POSTs without one such as a cancel).
const BODILESS: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/openapi.json",
    "/v1/spaces",
    "/v1/spaces/{space}",
    "/v1/spaces/{space}/machines",
    "/v1/spaces/{space}/stats",
    "/v1/spaces/{space}/usage",
    "/v1/spaces/{space}/machines/{name}/instances/{id}",
    "/v1/spaces/{space}/machines/{name}/instances/{id}/history",
    "/v1/tokens/{id}",
    "/v1/auth/sign-out",
    "/v1/auth/me",
    "/v1/principals/{id}",
    "/v1/grants/{id}",
    "/v1/orgs/{org}",
    "/v1/orgs/{org}/members/{id}",
    "/v1/roles",
    "/v1/audit",
    "/v1/cluster/nodes",
    "/v1/spaces/{space}/watch",
    "/v1/spaces/{space}/watch/ws",
    "/v1/spaces/{space}/kv",
    "/v1/spaces/{space}/kv/{bucket}/keys",
    "/v1/spaces/{space}/kv/{bucket}/history/{*key}",
    "/v1/spaces/{space}/subscriptions",
    "/v1/spaces/{space}/subscriptions/{name}/dead-letters",
    "/v1/spaces/{space}/functions",
    "/v1/spaces/{space}/functions/{name}/versions",
    "/v1/spaces/{space}/functions/{name}/invocations",
    "/v1/spaces/{space}/invocations/{id}",
    "/v1/spaces/{space}/jobs/{id}/cancel",
    "/v1/spaces/{space}/flows",
    "/v1/spaces/{space}/runs",
    "/v1/spaces/{space}/runs/{id}/retry",
    "/v1/spaces/{space}/runs/{id}/rerun",
    "/v1/spaces/{space}/env",
    "/v1/spaces/{space}/secrets",
    "/v1/spaces/{space}/triggers",
    "/v1/spaces/{space}/triggers/{name}/pause",
    "/v1/spaces/{space}/triggers/{name}/resume",
    "/v1/spaces/{space}/triggers/{name}/executions",
    "/v1/spaces/{space}/endpoints",
    "/v1/spaces/{space}/endpoints/{name}/enable",
    "/v1/spaces/{space}/endpoints/{name}/deliveries",
    "/v1/spaces/{space}/endpoints/{name}/deliveries/{id}/redrive",
    "/v1/spaces/{space}/functions/{name}/component",
];

/// Whether a concrete path matches a route template (`{x}` is one segment, `{*x}` the rest).
fn matches_template(template: &str, uri: &str) -> bool {
    let mut uri = uri.split('/');
    for part in template.split('/') {
        if part.starts_with("{*") {
            return uri.next().is_some();
        }
        match uri.next() {
            Some(segment) if part.starts_with('{') || part == segment => {}
            _ => return false,
        }
    }
    uri.next().is_none()
}

/// A route added with a body must be added to the table above: this fails until it is.
#[test]
fn the_table_covers_every_route_with_a_body() {
    let routes = routes();
    for template in switchyard_api::ROUTES {
        let covered = routes.iter().any(|r| matches_template(template, &r.uri));
        assert!(covered || BODILESS.contains(template), "{template} is neither fuzzed nor listed as bodiless");
        assert!(!(covered && BODILESS.contains(template)), "{template} is fuzzed and listed as bodiless");
    }
    for r in &routes {
        assert!(switchyard_api::ROUTES.iter().any(|t| matches_template(t, &r.uri)), "{} is not a route", r.uri);
    }
}

/// The checks themselves refuse what they must: a 500, an error without a code, a status that
/// does not fit its code.
#[test]
fn the_answer_checks_refuse_bad_answers() {
    use axum::http::StatusCode;
    use fuzz_support::Answer;
    let answer = |status: StatusCode, body: &str| Answer {
        status,
        content_type: Some(JSON.to_owned()),
        body: body.as_bytes().to_vec(),
    };
    let good = answer(StatusCode::BAD_REQUEST, r#"{"error":{"code":"bad_request","message":"m","details":null}}"#);
    assert!(check_answer("good", &good, false).is_ok());
    let internal =
        answer(StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":{"code":"internal","message":"m","details":null}}"#);
    assert!(check_answer("internal", &internal, false).is_err());
    let no_code = answer(StatusCode::BAD_REQUEST, "plain text");
    assert!(check_answer("no code", &no_code, false).is_err());
    let wrong_status = answer(StatusCode::CONFLICT, r#"{"error":{"code":"bad_request","message":"m","details":null}}"#);
    assert!(check_answer("wrong status", &wrong_status, false).is_err());
    let timeout = answer(
        StatusCode::GATEWAY_TIMEOUT,
        r#"{"error":{"code":"function_timeout","message":"m","details":{"invocation_id":"i"}}}"#,
    );
    assert!(check_answer("function timeout", &timeout, true).is_ok());
}
