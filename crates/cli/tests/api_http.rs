//! Drives the real `switchyard` binary over HTTP: every route, every error code, auth,
//! batches, idempotency across a restart.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestServer;
use support::http::{Http, code};
use switchyard_testkit::fixtures::ORDER_YAML;

async fn setup_order(http: &Http, space: &str) {
    let (status, body) = http.put_yaml(&format!("/v1/spaces/{space}/machines/order"), ORDER_YAML).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tour_over_http_creates_moves_lists_and_deletes() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let (status, body) = http.put_yaml("/v1/spaces/acme/machines/order", ORDER_YAML).await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({ "name": "order", "version": 1, "created": true })));
    let (_, again) = http.put_yaml("/v1/spaces/acme/machines/order", ORDER_YAML).await;
    assert_eq!(again, json!({ "name": "order", "version": 1, "created": false }), "same definition is a no-op");
    // The same definition as JSON is the same definition.
    let (_, m) = http.get("/v1/spaces/acme/machines/order").await;
    let as_json = m["definition"].to_string();
    let (_, again) = http
        .send(Method::PUT, "/v1/spaces/acme/machines/order", Some(("application/json", as_json.into_bytes())))
        .await;
    assert_eq!(again["created"], false);

    let (status, inst) =
        http.post("/v1/spaces/acme/machines/order/instances", json!({ "id": "o-1", "ctx": { "amount": 100 } })).await;
    assert_eq!(status, StatusCode::CREATED, "{inst}");
    assert_eq!(
        (inst["state"].as_str(), inst["revision"].as_u64(), inst["machine_version"].as_u64()),
        (Some("pending"), Some(1), Some(1))
    );
    for field in ["id", "machine", "machine_version", "state", "ctx", "revision", "created_at", "updated_at"] {
        assert!(inst.get(field).is_some(), "instance has {field}: {inst}");
    }
    let (status, t) = http
        .post(
            "/v1/spaces/acme/machines/order/instances/o-1/events",
            json!({ "event": "pay", "payload": { "amount": 100 } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(
        (t["from"].as_str(), t["to"].as_str(), t["revision"].as_u64()),
        (Some("pending"), Some("paid"), Some(2))
    );
    assert!(t["seq"].as_u64().is_some_and(|s| s > 0));
    assert_eq!(t["ctx"], json!({ "amount": 100 }));

    // An instance with a server-assigned id.
    let (status, auto) = http.post("/v1/spaces/acme/machines/order/instances", json!({ "ctx": { "amount": 5 } })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(auto["id"].as_str().is_some_and(|id| id.len() == 36), "{auto}");

    let (_, paid) = http.get("/v1/spaces/acme/machines/order/instances?state=paid").await;
    assert_eq!(paid["instances"].as_array().map(|a| a.len()), Some(1));
    assert_eq!(paid["instances"][0]["id"], "o-1");
    let (_, page) = http.get("/v1/spaces/acme/machines/order/instances?limit=1").await;
    assert_eq!(page["instances"].as_array().map(|a| a.len()), Some(1));
    let cursor = page["next_cursor"].as_str().expect("a next page").to_string();
    let (_, page2) = http.get(&format!("/v1/spaces/acme/machines/order/instances?limit=1&cursor={cursor}")).await;
    assert_ne!(page2["instances"][0]["id"], page["instances"][0]["id"]);

    let (_, history) = http.get("/v1/spaces/acme/machines/order/instances/o-1/history").await;
    let kinds: Vec<&str> =
        history["events"].as_array().expect("events").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, vec!["instance.created", "instance.transitioned"]);

    let (_, spaces) = http.get("/v1/spaces").await;
    assert_eq!(spaces["spaces"][0]["name"], "acme");
    let (_, machines) = http.get("/v1/spaces/acme/machines").await;
    assert_eq!(machines["machines"][0]["name"], "order");

    let (status, _) = http.send(Method::DELETE, "/v1/spaces/acme/machines/order/instances/o-1", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) =
        http.post("/v1/spaces/acme/machines/order/instances/o-1/events", json!({ "event": "ship" })).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "instance_not_found"));
    assert!(body["error"]["details"]["deleted_at"].is_string(), "{body}");
    let (status, body) = http.get("/v1/spaces/acme/machines/order/instances/o-1").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "instance_not_found"));
    let (_, history) = http.get("/v1/spaces/acme/machines/order/instances/o-1/history").await;
    assert_eq!(history["events"].as_array().map(|a| a.len()), Some(3), "history outlives deletion");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_input_gets_its_code_and_status() {
    let server = TestServer::start_with(&["--max-body-bytes", "4096"]);
    let http = Http::new(&server);
    setup_order(&http, "acme").await;
    let (s, _) =
        http.post("/v1/spaces/acme/machines/order/instances", json!({ "id": "o-1", "ctx": { "amount": 10 } })).await;
    assert_eq!(s, StatusCode::CREATED);
    let ev = "/v1/spaces/acme/machines/order/instances/o-1/events";

    struct Case {
        name: &'static str,
        method: Method,
        path: &'static str,
        body: Option<(&'static str, Vec<u8>)>,
        status: StatusCode,
        code: &'static str,
    }
    let json_body = |v: Value| Some(("application/json", v.to_string().into_bytes()));
    let raw = |ct: &'static str, s: &str| Some((ct, s.as_bytes().to_vec()));
    let cases = vec![
        Case {
            name: "malformed JSON",
            method: Method::POST,
            path: ev,
            body: raw("application/json", "{\"event\": "),
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
        },
        Case {
            name: "wrong JSON type",
            method: Method::POST,
            path: ev,
            body: raw("application/json", "{\"event\": 5}"),
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
        },
        Case {
            name: "unknown field",
            method: Method::POST,
            path: ev,
            body: json_body(json!({"event": "pay", "paylod": {}})),
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
        },
        Case {
            name: "malformed YAML",
            method: Method::PUT,
            path: "/v1/spaces/acme/machines/m2",
            body: raw("application/yaml", "states: [a\ninitial: : :"),
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
        },
        Case {
            name: "unknown state",
            method: Method::PUT,
            path: "/v1/spaces/acme/machines/m2",
            body: raw(
                "application/yaml",
                "initial: a\nstates: [a]\ntransitions:\n  - {from: a, event: go, to: shiped}\n",
            ),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
        },
        Case {
            name: "bad CEL",
            method: Method::PUT,
            path: "/v1/spaces/acme/machines/m2",
            body: raw(
                "application/yaml",
                "initial: a\nstates: [a, b]\ntransitions:\n  - {from: a, event: go, to: b, guard: \"ctx.x >>> 1\"}\n",
            ),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
        },
        Case {
            name: "bad machine name",
            method: Method::PUT,
            path: "/v1/spaces/acme/machines/-x",
            body: raw("application/yaml", ORDER_YAML),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
        },
        Case {
            name: "bad space name",
            method: Method::GET,
            path: "/v1/spaces/Acme/machines",
            body: None,
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
        },
        Case {
            name: "unsupported definition type",
            method: Method::PUT,
            path: "/v1/spaces/acme/machines/m2",
            body: raw("text/plain", "x"),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
        },
        Case {
            name: "unknown machine",
            method: Method::POST,
            path: "/v1/spaces/acme/machines/nope/instances",
            body: json_body(json!({})),
            status: StatusCode::NOT_FOUND,
            code: "machine_not_found",
        },
        Case {
            name: "unknown machine version",
            method: Method::GET,
            path: "/v1/spaces/acme/machines/order?version=9",
            body: None,
            status: StatusCode::NOT_FOUND,
            code: "machine_not_found",
        },
        Case {
            name: "unknown instance",
            method: Method::GET,
            path: "/v1/spaces/acme/machines/order/instances/nope",
            body: None,
            status: StatusCode::NOT_FOUND,
            code: "instance_not_found",
        },
        Case {
            name: "instance exists",
            method: Method::POST,
            path: "/v1/spaces/acme/machines/order/instances",
            body: json_body(json!({"id": "o-1", "ctx": {"amount": 1}})),
            status: StatusCode::CONFLICT,
            code: "instance_exists",
        },
        Case {
            name: "ctx not an object",
            method: Method::POST,
            path: "/v1/spaces/acme/machines/order/instances",
            body: json_body(json!({"id": "o-2", "ctx": 5})),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
        },
        Case {
            name: "ctx breaks schema",
            method: Method::POST,
            path: "/v1/spaces/acme/machines/order/instances",
            body: json_body(json!({"id": "o-2", "ctx": {}})),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
        },
        Case {
            name: "invalid transition",
            method: Method::POST,
            path: ev,
            body: json_body(json!({"event": "ship"})),
            status: StatusCode::CONFLICT,
            code: "invalid_transition",
        },
        Case {
            name: "guard rejected",
            method: Method::POST,
            path: ev,
            body: json_body(json!({"event": "pay", "payload": {"amount": 1}})),
            status: StatusCode::CONFLICT,
            code: "guard_rejected",
        },
        Case {
            name: "payload not an object",
            method: Method::POST,
            path: ev,
            body: json_body(json!({"event": "pay", "payload": [1]})),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
        },
        Case {
            name: "expected state",
            method: Method::POST,
            path: ev,
            body: json_body(json!({"event": "pay", "payload": {"amount": 10}, "expected_state": "paid"})),
            status: StatusCode::CONFLICT,
            code: "conflict",
        },
        Case {
            name: "expected revision",
            method: Method::POST,
            path: ev,
            body: json_body(json!({"event": "pay", "payload": {"amount": 10}, "expected_revision": 7})),
            status: StatusCode::CONFLICT,
            code: "conflict",
        },
        Case {
            name: "oversized body",
            method: Method::POST,
            path: ev,
            body: json_body(json!({"event": "pay", "payload": {"x": "y".repeat(8192)}})),
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
        },
        Case {
            name: "bad query",
            method: Method::GET,
            path: "/v1/spaces/acme/machines/order/instances?limit=abc",
            body: None,
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
        },
        Case {
            name: "limit out of range",
            method: Method::GET,
            path: "/v1/spaces/acme/machines/order/instances?limit=0",
            body: None,
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
        },
        Case {
            name: "unknown route",
            method: Method::GET,
            path: "/v1/nothing",
            body: None,
            status: StatusCode::NOT_FOUND,
            code: "not_found",
        },
        Case {
            name: "wrong method",
            method: Method::PATCH,
            path: "/v1/spaces/acme/machines/order",
            body: None,
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed",
        },
        Case {
            name: "empty batch",
            method: Method::POST,
            path: "/v1/batch",
            body: json_body(json!({"operations": []})),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
        },
        Case {
            name: "NUL in idempotency key",
            method: Method::POST,
            path: ev,
            body: json_body(json!({"event": "pay", "idempotency_key": "a\u{0}b"})),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
        },
    ];
    for case in cases {
        let (status, body) = http.send(case.method.clone(), case.path, case.body).await;
        assert_eq!((status, code(&body)), (case.status, case.code), "case {}: {body}", case.name);
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "case {} has a message", case.name);
    }
    // Positions are given for syntax errors.
    let (_, body) = http.send(Method::POST, ev, raw("application/json", "{\n  \"event\": }")).await;
    assert_eq!(body["error"]["details"]["line"], 2, "{body}");
    let (_, body) = http
        .put_yaml(
            "/v1/spaces/acme/machines/m2",
            "initial: a\nstates: [a]\ntransitions:\n  - {from: a, event: go, to: shiped}\n",
        )
        .await;
    let errors = body["error"]["details"]["errors"].as_array().expect("field errors");
    assert!(errors.iter().any(|e| e["path"] == "transitions[0].to"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("shiped"), "{body}");
    let (_, body) = http
        .put_yaml(
            "/v1/spaces/acme/machines/m2",
            "initial: a\nstates: [a, b]\ntransitions:\n  - {from: a, event: go, to: b, guard: \"ctx.x >>> 1\"}\n",
        )
        .await;
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("transitions[0].guard"), "{body}");

    // Nothing was applied by any refusal.
    let (_, inst) = http.get("/v1/spaces/acme/machines/order/instances/o-1").await;
    assert_eq!((inst["state"].as_str(), inst["revision"].as_u64()), (Some("pending"), Some(1)));
    // And the server still answers normally.
    let (status, _) = http.post(ev, json!({"event": "pay", "payload": {"amount": 10}})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_scoped_by_space_and_role() {
    let server = TestServer::start();
    let admin = Http::new(&server);
    setup_order(&admin, "acme").await;
    setup_order(&admin, "beta").await;

    let anonymous = Http::with_token(&server, None);
    let (status, body) = anonymous.get("/v1/spaces").await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (status, body) = Http::with_token(&server, Some("sy_wrong")).get("/v1/spaces").await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    assert_eq!(anonymous.get("/healthz").await.0, StatusCode::OK);
    assert_eq!(anonymous.get("/readyz").await.0, StatusCode::OK);
    // `--metrics-access auto` (the default) serves loopback without a token.
    assert_eq!(anonymous.get("/metrics").await.0, StatusCode::OK);

    let (status, reader) = admin.post("/v1/tokens", json!({ "name": "r", "role": "reader", "spaces": ["acme"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{reader}");
    let reader_secret = reader["token"].as_str().expect("secret shown once").to_string();
    let (_, writer) = admin.post("/v1/tokens", json!({ "name": "w", "role": "writer", "spaces": ["acme"] })).await;
    let writer_secret = writer["token"].as_str().expect("secret").to_string();

    let as_reader = Http::with_token(&server, Some(&reader_secret));
    assert_eq!(as_reader.get("/v1/spaces/acme/machines/order").await.0, StatusCode::OK);
    let (status, body) =
        as_reader.post("/v1/spaces/acme/machines/order/instances", json!({ "ctx": { "amount": 1 } })).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "a reader cannot write");
    let (status, body) = as_reader.get("/v1/spaces/beta/machines/order").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "a token for acme cannot read beta");
    let (_, spaces) = as_reader.get("/v1/spaces").await;
    assert_eq!(spaces["spaces"], json!([{ "name": "acme", "created_at": spaces["spaces"][0]["created_at"] }]));

    let as_writer = Http::with_token(&server, Some(&writer_secret));
    let (status, _) =
        as_writer.post("/v1/spaces/acme/machines/order/instances", json!({ "ctx": { "amount": 1 } })).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) =
        as_writer.post("/v1/spaces/beta/machines/order/instances", json!({ "ctx": { "amount": 1 } })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = as_writer.post("/v1/tokens", json!({ "name": "x", "role": "reader", "spaces": ["acme"] })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only admins manage tokens");
    let batch = json!({ "operations": [{ "op": "create_instance", "space": "beta", "machine": "order", "ctx": { "amount": 1 } }] });
    let (status, body) = as_writer.post("/v1/batch", batch).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "batch operations are checked per space");

    // Listing shows no secrets; revoking takes effect at once.
    let (_, list) = admin.get("/v1/tokens").await;
    let tokens = list["tokens"].as_array().expect("tokens");
    assert_eq!(tokens.len(), 3);
    assert!(tokens.iter().all(|t| t.get("token").is_none() && !t.to_string().contains(&reader_secret)));
    let id = reader["id"].as_str().expect("id");
    let (status, _) = admin.send(Method::DELETE, &format!("/v1/tokens/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = as_reader.get("/v1/spaces").await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "unauthorized"));

    // A space admin cannot mint tokens for spaces it lacks.
    let (_, acme_admin) = admin.post("/v1/tokens", json!({ "name": "aa", "role": "admin", "spaces": ["acme"] })).await;
    let as_acme_admin = Http::with_token(&server, acme_admin["token"].as_str());
    let (status, _) =
        as_acme_admin.post("/v1/tokens", json!({ "name": "x", "role": "reader", "spaces": ["beta"] })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = as_acme_admin.post("/v1/tokens", json!({ "name": "x", "role": "reader", "spaces": ["*"] })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The admin token file is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(server.data_dir.join("admin.token")).expect("admin.token").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread")]
async fn atomic_batch_applies_all_or_nothing() {
    let server = TestServer::start();
    let http = Http::new(&server);
    setup_order(&http, "acme").await;
    let failing = json!({ "operations": [
        { "op": "create_instance", "space": "acme", "machine": "order", "id": "b-1", "ctx": { "amount": 1 } },
        { "op": "apply_event", "space": "acme", "machine": "order", "instance": "b-1", "event": "pay", "payload": { "amount": 1 } },
        { "op": "apply_event", "space": "acme", "machine": "order", "instance": "b-1", "event": "pay", "payload": { "amount": 1 } },
    ]});
    let (status, body) = http.post("/v1/batch", failing).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "invalid_transition"), "{body}");
    assert_eq!(body["error"]["details"]["index"], 2);
    assert_eq!(body["error"]["details"]["error"]["code"], "invalid_transition");
    let (status, _) = http.get("/v1/spaces/acme/machines/order/instances/b-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the earlier operations were rolled back");

    let ok = json!({ "operations": [
        { "op": "create_instance", "space": "acme", "machine": "order", "id": "b-1", "ctx": { "amount": 1 } },
        { "op": "apply_event", "space": "acme", "machine": "order", "instance": "b-1", "event": "pay", "payload": { "amount": 1 } },
        { "op": "create_instance", "space": "acme", "machine": "order", "id": "b-2", "ctx": { "amount": 2 } },
        { "op": "delete_instance", "space": "acme", "machine": "order", "instance": "b-2" },
    ]});
    let (status, body) = http.post("/v1/batch", ok).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["state"], "pending");
    assert_eq!(body["results"][1]["to"], "paid");
    assert_eq!(body["results"][3], json!({ "deleted": true }));
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_with_one_idempotency_key_apply_once() {
    let server = TestServer::start();
    let http = std::sync::Arc::new(Http::new(&server));
    setup_order(&http, "acme").await;
    http.post("/v1/spaces/acme/machines/order/instances", json!({ "id": "o-1", "ctx": { "amount": 1 } })).await;
    let mut tasks = Vec::new();
    for _ in 0..48 {
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            http.post(
                "/v1/spaces/acme/machines/order/instances/o-1/events",
                json!({ "event": "pay", "payload": { "amount": 1 }, "idempotency_key": "pay-once" }),
            )
            .await
        }));
    }
    let mut seqs = std::collections::HashSet::new();
    for t in tasks {
        let (status, body) = t.await.expect("task");
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["revision"], 2);
        seqs.insert(body["seq"].as_u64().expect("seq"));
    }
    assert_eq!(seqs.len(), 1, "every request got the one original result");
    let (_, history) = http.get("/v1/spaces/acme/machines/order/instances/o-1/history").await;
    assert_eq!(history["events"].as_array().map(|a| a.len()), Some(2));
    // The same key for a different request is refused.
    let (status, body) = http
        .post(
            "/v1/spaces/acme/machines/order/instances/o-1/events",
            json!({ "event": "ship", "idempotency_key": "pay-once" }),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"));
}

#[tokio::test(flavor = "multi_thread")]
async fn idempotent_retry_after_restart_returns_original() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = TestServer::start_in(dir.path(), &[]);
    let http = Http::new(&server);
    setup_order(&http, "acme").await;
    let (_, created) = http
        .post(
            "/v1/spaces/acme/machines/order/instances",
            json!({ "ctx": { "amount": 3 }, "idempotency_key": "create-1" }),
        )
        .await;
    let id = created["id"].as_str().expect("id").to_string();
    let events = format!("/v1/spaces/acme/machines/order/instances/{id}/events");
    let (_, first) =
        http.post(&events, json!({ "event": "pay", "payload": { "amount": 3 }, "idempotency_key": "pay-1" })).await;
    let admin_token = server.admin_token.clone();
    server.kill();

    let server = TestServer::start_in(dir.path(), &[]);
    assert_eq!(server.admin_token, admin_token, "the admin token is created once, not on every start");
    let http = Http::new(&server);
    let (status, again) =
        http.post(&events, json!({ "event": "pay", "payload": { "amount": 3 }, "idempotency_key": "pay-1" })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first, "the retry after a restart returns the original result");
    let (status, recreated) = http
        .post(
            "/v1/spaces/acme/machines/order/instances",
            json!({ "ctx": { "amount": 3 }, "idempotency_key": "create-1" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "a repeated create answers 200 with the original");
    assert_eq!(recreated["id"], created["id"]);
    assert_eq!(recreated["created_at"], created["created_at"], "timestamps survive restarts");
    let (_, inst) = http.get(&format!("/v1/spaces/acme/machines/order/instances/{id}")).await;
    assert_eq!(inst["revision"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_openapi_are_served() {
    let server = TestServer::start();
    let http = Http::new(&server);
    setup_order(&http, "acme").await;
    http.post("/v1/spaces/acme/machines/order/instances", json!({ "id": "o-1", "ctx": { "amount": 1 } })).await;
    http.post(
        "/v1/spaces/acme/machines/order/instances/o-1/events",
        json!({ "event": "pay", "payload": { "amount": 1 } }),
    )
    .await;
    let (status, text) = http.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().expect("text").to_string();
    for needle in [
        "switchyard_http_requests_total{route=\"/v1/spaces/{space}/machines/{name}/instances/{id}/events\",method=\"POST\",status=\"200\"} 1",
        "switchyard_http_request_duration_seconds_bucket",
        "switchyard_store_events_applied_total 1",
        "switchyard_store_commit_batch_size_count",
        "switchyard_store_commit_seconds_bucket",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
    let (status, doc) = http.get("/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/spaces/{space}/machines/{name}/instances/{id}/events"]["post"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn rstmdb_definition_loads_unchanged_and_behaves_the_same() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let def = r#"{
      "states": ["created", "paid", "shipped"],
      "initial": "created",
      "transitions": [
        {"from": "created", "event": "PAY", "to": "paid"},
        {"from": "paid", "event": "SHIP", "to": "shipped", "guard": "ctx.ready"}
      ]
    }"#;
    let (status, body) = http
        .send(Method::PUT, "/v1/spaces/default/machines/order", Some(("application/json", def.as_bytes().to_vec())))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    http.post("/v1/spaces/default/machines/order/instances", json!({ "id": "order-001", "ctx": { "ready": false } }))
        .await;
    let (_, t) = http
        .post(
            "/v1/spaces/default/machines/order/instances/order-001/events",
            json!({ "event": "PAY", "payload": { "amount": 99.99 } }),
        )
        .await;
    assert_eq!(t["to"], "paid");
    assert_eq!(t["ctx"], json!({ "ready": false, "amount": 99.99 }));
    let (status, body) =
        http.post("/v1/spaces/default/machines/order/instances/order-001/events", json!({ "event": "SHIP" })).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "guard_rejected"));
    // As in rstmdb, a guard sees the context before the payload is merged: still refused.
    let (status, body) = http
        .post(
            "/v1/spaces/default/machines/order/instances/order-001/events",
            json!({ "event": "SHIP", "payload": { "ready": true } }),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "guard_rejected"));
    http.post("/v1/spaces/default/machines/order/instances", json!({ "id": "order-002", "ctx": { "ready": true } }))
        .await;
    http.post("/v1/spaces/default/machines/order/instances/order-002/events", json!({ "event": "PAY" })).await;
    let (_, t) =
        http.post("/v1/spaces/default/machines/order/instances/order-002/events", json!({ "event": "SHIP" })).await;
    assert_eq!(t["to"], "shipped", "{t}");
}

/// The OpenAPI document's operations are exactly the router's: `switchyard_api::RULES` is built
/// from the same table as the router (one entry per route and method), so comparing with it is
/// comparing with the router. Then the live server proves it: every documented operation is
/// routed (neither the router's 404 nor a 405), and every other method on a documented path is
/// a 405 `method_not_allowed`.
#[tokio::test(flavor = "multi_thread")]
async fn openapi_operations_are_exactly_the_routers_and_each_is_served() {
    use std::collections::{BTreeMap, BTreeSet};
    use switchyard_api::access::Verb;

    let server = TestServer::start();
    let http = Http::new(&server);
    setup_order(&http, "acme").await;
    http.post("/v1/spaces/acme/machines/order/instances", json!({ "id": "o-1", "ctx": { "amount": 1 } })).await;
    let (status, doc) = Http::with_token(&server, None).get("/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let mut documented: BTreeMap<String, BTreeSet<Method>> = BTreeMap::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("an HTTP method");
            documented.entry(template.clone()).or_default().insert(method);
        }
    }
    let mut routed: BTreeMap<String, BTreeSet<Method>> = BTreeMap::new();
    for rule in switchyard_api::RULES {
        let method = match rule.verb {
            Verb::Get => Method::GET,
            Verb::Put => Method::PUT,
            Verb::Post => Method::POST,
            Verb::Delete => Method::DELETE,
        };
        // OpenAPI has no wildcard segment: the router's `{*key}` is documented as `{key}`.
        routed.entry(rule.route.replace("{*key}", "{key}")).or_default().insert(method);
    }
    assert_eq!(documented, routed, "OpenAPI operations (left) and the router's (right) differ");

    for (template, methods) in &documented {
        let path = template
            .replace("{space}", "acme")
            .replace("{name}", "order")
            .replace("{id}", "o-1")
            .replace("{bucket}", "config")
            .replace("{key}", "db/url");
        for method in [Method::GET, Method::PUT, Method::POST, Method::DELETE, Method::PATCH] {
            let body = matches!(method, Method::POST | Method::PUT).then(|| ("application/json", b"{}".to_vec()));
            if !methods.contains(&method) {
                let (status, body) = http.send(method.clone(), &path, body).await;
                assert_eq!(
                    (status, code(&body)),
                    (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
                    "{method} {template} is not documented: {body}"
                );
                continue;
            }
            if template.ends_with("/watch") {
                // A stream never ends: its status line is the answer.
                let resp = reqwest::Client::new()
                    .get(format!("{}{path}", server.url))
                    .bearer_auth(&server.admin_token)
                    .send()
                    .await
                    .expect("request");
                assert_eq!(resp.status(), StatusCode::OK, "{method} {template}");
                continue;
            }
            // Signing out revokes the token it is sent with: not the admin token the rest uses.
            let http = if template == "/v1/auth/sign-out" {
                let token = json!({ "name": "signs-out", "role": "reader", "spaces": ["acme"] });
                let (_, created) = http.post("/v1/tokens", token).await;
                Http::with_token(&server, created["token"].as_str())
            } else {
                http.clone()
            };
            let (status, body) = http.send(method.clone(), &path, body).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {template}: {body}");
            let message = body["error"]["message"].as_str().unwrap_or("");
            assert!(!message.starts_with("no such route"), "{method} {template} is documented but not routed: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_shuts_down_cleanly_and_keeps_every_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = TestServer::start_in(dir.path(), &["--durability", "batch:50"]);
    let http = Http::new(&server);
    setup_order(&http, "acme").await;
    for i in 0..20 {
        let (status, _) = http
            .post("/v1/spaces/acme/machines/order/instances", json!({ "id": format!("o-{i}"), "ctx": { "amount": i } }))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let status = server.terminate();
    assert!(status.success(), "serve exits 0 on SIGTERM, not {status:?}");
    assert!(
        !dir.path().join("switchyard.db-wal").exists()
            || std::fs::metadata(dir.path().join("switchyard.db-wal")).unwrap().len() == 0,
        "the shutdown checkpoint emptied the WAL"
    );
    let server = TestServer::start_in(dir.path(), &[]);
    let (_, list) = Http::new(&server).get("/v1/spaces/acme/machines/order/instances?limit=100").await;
    assert_eq!(list["instances"].as_array().map(|a| a.len()), Some(20));
}
