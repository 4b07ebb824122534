//! Issue 11, items 1–5, against the real binary: a JSON value nested too deep, a ctx that an
//! assignment would nest too deep or grow too large, a deep context schema and a deeply nested
//! YAML definition are each refused at the door with a clear error, and meanwhile a second
//! space's watcher keeps receiving and its writer keeps writing.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestServer;
use support::http::{Http, code};
use support::sse::SseReader;

const MAX_DEPTH: usize = 64;

const COUNTER: &str = r#"{"name":"counter","initial":"open","states":["open"],"transitions":[
  {"from":"open","event":"tick","to":"open"}]}"#;

/// `levels` nested arrays around `1` (`[[1]]` is 2 levels).
fn nested(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

/// Space `neighbour`: a machine, an instance and a live watcher, to show that whatever another
/// space sends, this one keeps being served.
struct Neighbour {
    http: Http,
    watcher: SseReader,
    ticks: u64,
}

impl Neighbour {
    async fn start(server: &TestServer) -> Neighbour {
        let http = Http::new(server);
        let (status, body) =
            http.put_json("/v1/spaces/neighbour/machines/counter", &serde_json::from_str(COUNTER).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = http.post("/v1/spaces/neighbour/machines/counter/instances", json!({"id": "n-1"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let url = format!("{}/v1/spaces/neighbour/watch?from=now", server.url);
        let watcher = SseReader::open(&url, &server.admin_token, None).await;
        let mut neighbour = Neighbour { http, watcher, ticks: 0 };
        neighbour.assert_served().await;
        neighbour
    }

    /// Writes one event in the neighbour space and sees it arrive on its live watcher.
    async fn assert_served(&mut self) {
        self.ticks += 1;
        let (status, body) = self
            .http
            .post(
                "/v1/spaces/neighbour/machines/counter/instances/n-1/events",
                json!({"event": "tick", "payload": {"n": self.ticks}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "the neighbour's write failed: {body}");
        let seq = body["seq"].as_u64().expect("seq");
        loop {
            let event = self.watcher.next(Duration::from_secs(20)).await.expect("the neighbour's watcher stalled");
            assert_ne!(event.event.as_deref(), Some("error"), "the neighbour's watcher got an error: {:?}", event.data);
            if event.id == Some(seq) {
                assert_eq!(event.data["payload"]["payload"]["n"], json!(self.ticks), "{:?}", event.data);
                return;
            }
        }
    }
}

async fn put_counter(http: &Http, space: &str) {
    let (status, body) =
        http.put_json(&format!("/v1/spaces/{space}/machines/counter"), &serde_json::from_str(COUNTER).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        http.post(&format!("/v1/spaces/{space}/machines/counter/instances"), json!({"id": "c-1"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Item 1: a value nested past the policy is refused at the door on every way in over HTTP
/// (event payload, create ctx, topic message, batch), while 64 levels are accepted and read
/// back — by GET, by a replaying watcher and by a live one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_nested_past_the_limit_are_refused_at_the_door() {
    let server = TestServer::start();
    let mut neighbour = Neighbour::start(&server).await;
    let http = Http::new(&server);
    put_counter(&http, "tenant-a").await;

    // The payload object is one level, its value the rest.
    let events = "/v1/spaces/tenant-a/machines/counter/instances/c-1/events";
    for levels in [MAX_DEPTH, MAX_DEPTH + 1, 126, 127, 128, 10_000] {
        let body = format!(r#"{{"event":"tick","payload":{{"d":{}}}}}"#, nested(levels.saturating_sub(2)));
        let (status, answer) = http.post_text(events, body).await;
        // The whole body nests payload's levels plus the body object itself.
        if levels.saturating_sub(2) + 2 <= MAX_DEPTH {
            assert_eq!(status, StatusCode::OK, "{levels}: {answer}");
        } else {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{levels}: {answer}");
            assert_eq!(code(&answer), "validation_failed");
            assert_eq!(answer["error"]["details"]["max_depth"], json!(MAX_DEPTH), "{answer}");
            assert!(answer["error"]["message"].as_str().unwrap().contains("64 levels"), "{answer}");
        }
        neighbour.assert_served().await;
    }

    let deep = nested(MAX_DEPTH + 1);
    let refused = [
        ("/v1/spaces/tenant-a/machines/counter/instances", format!(r#"{{"id":"deep","ctx":{{"d":{deep}}}}}"#)),
        ("/v1/spaces/tenant-a/topics/t/messages", format!(r#"{{"payload":{deep}}}"#)),
        (
            "/v1/batch",
            format!(
                r#"{{"operations":[{{"op":"apply_event","space":"tenant-a","machine":"counter","instance":"c-1","event":"tick","payload":{{"d":{deep}}}}}]}}"#
            ),
        ),
    ];
    for (path, body) in refused {
        let (status, answer) = http.post_text(path, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {answer}");
        assert_eq!(code(&answer), "validation_failed", "{path}: {answer}");
        neighbour.assert_served().await;
    }

    // What was accepted reads back, live and replayed.
    let (status, answer) = http.get("/v1/spaces/tenant-a/machines/counter/instances/c-1").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(json_depth(&answer["ctx"]["d"]), MAX_DEPTH - 2);
    let (status, answer) = http
        .post_text("/v1/spaces/tenant-a/topics/t/messages", format!(r#"{{"payload":{}}}"#, nested(MAX_DEPTH - 1)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let mut replay =
        SseReader::open(&format!("{}/v1/spaces/tenant-a/watch?from=1", server.url), &server.admin_token, None).await;
    let mut seen = 0;
    while let Some(event) = replay.next(Duration::from_secs(3)).await {
        assert_ne!(event.event.as_deref(), Some("error"), "replay failed: {:?}", event.data);
        seen += 1;
    }
    assert!(seen >= 4, "the replay read {seen} records");
    neighbour.assert_served().await;
}

fn json_depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        Value::Object(fields) => 1 + fields.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Item 2: an assignment that would nest ctx past the policy is refused; the instance stays
/// readable, listable and takes later events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_nesting_ctx_too_deep_is_refused_and_the_instance_stays_readable() {
    let server = TestServer::start();
    let mut neighbour = Neighbour::start(&server).await;
    let http = Http::new(&server);
    let machine = json!({
        "name": "nester", "initial": "open", "states": ["open"],
        "transitions": [
            {"from": "open", "event": "wrap", "to": "open", "assign": {"d": "[[[[[[[[[[event.d]]]]]]]]]]"}},
            {"from": "open", "event": "tick", "to": "open"}
        ]
    });
    let (status, body) = http.put_json("/v1/spaces/tenant-a/machines/nester", &machine).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = http.post("/v1/spaces/tenant-a/machines/nester/instances", json!({"id": "x"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let events = "/v1/spaces/tenant-a/machines/nester/instances/x/events";
    // 53 + 10 = 63 levels under ctx: ctx nests 64, the limit.
    let (status, body) =
        http.post_text(events, format!(r#"{{"event":"wrap","payload":{{"d":{}}}}}"#, nested(53))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The reported attack: 118 levels wrapped in 10 more. The body itself is too deep now.
    let (status, body) =
        http.post_text(events, format!(r#"{{"event":"wrap","payload":{{"d":{}}}}}"#, nested(118))).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{body}");
    // A payload within the policy that the assignment wraps past it.
    let (status, body) =
        http.post_text(events, format!(r#"{{"event":"wrap","payload":{{"d":{}}}}}"#, nested(54))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "validation_failed", "{body}");
    assert_eq!(body["error"]["details"]["max_depth"], json!(MAX_DEPTH), "{body}");
    assert_eq!(body["error"]["details"]["field"], json!("ctx"), "{body}");
    neighbour.assert_served().await;

    let (status, body) = http.get("/v1/spaces/tenant-a/machines/nester/instances/x").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revision"], json!(2), "the refused event changed the instance: {body}");
    assert_eq!(json_depth(&body["ctx"]), MAX_DEPTH);
    let (status, body) = http.get("/v1/spaces/tenant-a/machines/nester/instances").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = http.post(events, json!({"event": "tick"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = http.get("/v1/spaces/tenant-a/machines/nester/instances/x/history").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    neighbour.assert_served().await;
}

/// Item 3: a context schema nested past the policy is refused at PUT (nothing stored), one
/// within it works end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_context_schema_is_refused_when_put() {
    let server = TestServer::start();
    let mut neighbour = Neighbour::start(&server).await;
    let http = Http::new(&server);
    let schema = |levels: usize| {
        let mut s = json!({"type": "object"});
        for _ in 0..levels {
            s = json!({ "not": s });
        }
        s
    };
    let machine = |schema: Value| {
        json!({"name": "schema", "initial": "a", "states": ["a"], "context_schema": schema,
               "transitions": [{"from": "a", "event": "e", "to": "a"}]})
    };
    for levels in [63, 126] {
        let (status, body) = http.put_json("/v1/spaces/tenant-a/machines/schema", &machine(schema(levels))).await;
        // The definition around the schema nests one level more: refused before parsing.
        assert_eq!(status, StatusCode::BAD_REQUEST, "{levels}: {body}");
        assert_eq!(code(&body), "bad_request", "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("deeper than the limit of 64"), "{body}");
        let (status, body) = http.get("/v1/spaces/tenant-a/machines/schema").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a refused definition was stored: {body}");
        neighbour.assert_served().await;
    }
    // `not` of `not` is the schema itself: 60 levels (an even number) accept an object.
    let (status, body) = http.put_json("/v1/spaces/tenant-a/machines/schema", &machine(schema(60))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = http.get("/v1/spaces/tenant-a/machines/schema").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = http.post("/v1/spaces/tenant-a/machines/schema/instances", json!({"id": "s"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) =
        http.post("/v1/spaces/tenant-a/machines/schema/instances/s/events", json!({"event": "e"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    neighbour.assert_served().await;
}

/// Item 4: deeply nested YAML (flow, block and `- - -` forms) and JSON definitions are refused
/// before a parser recurses, several at once, while the node keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_definitions_are_refused_before_parsing() {
    let server = TestServer::start();
    let mut neighbour = Neighbour::start(&server).await;
    let flow = format!("initial: a\nstates: {}a{}\n", "[".repeat(60_000), "]".repeat(60_000));
    let mut block = String::from("initial: a\nstates:\n");
    for level in 0..300 {
        block.push_str(&" ".repeat(level + 2));
        block.push_str("- \n");
    }
    let dashes = format!("initial: a\nstates:\n  {}a\n", "- ".repeat(40_000));
    let json_text = format!(r#"{{"initial":"a","states":{}}}"#, nested(60_000));
    let bodies = [
        ("application/yaml", flow),
        ("application/yaml", block),
        ("application/yaml", dashes),
        ("application/json", json_text),
    ];
    let mut puts = Vec::new();
    for round in 0..3 {
        for (content_type, body) in &bodies {
            let (url, token, ct, body) = (
                format!("{}/v1/spaces/tenant-a/machines/deep-{round}", server.url),
                server.admin_token.clone(),
                *content_type,
                body.clone(),
            );
            puts.push(tokio::spawn(async move {
                let resp = reqwest::Client::new()
                    .put(url)
                    .bearer_auth(token)
                    .header("content-type", ct)
                    .body(body)
                    .send()
                    .await
                    .expect("put");
                let status = resp.status();
                (ct, status, resp.json::<Value>().await.expect("a JSON error body"))
            }));
        }
    }
    // The node answers while the puts are refused.
    let (status, _) = Http::new(&server).get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    for put in puts {
        let (ct, status, body) = put.await.expect("put task");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{ct}: {body}");
        assert_eq!(code(&body), "bad_request", "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("deeper than the limit of 64"), "{body}");
    }
    neighbour.assert_served().await;
    let (status, _) = Http::new(&server).get("/v1/spaces/tenant-a/machines/deep-0").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Item 5: the context is bounded by `--max-context-bytes`: a create over it and an event whose
/// assignment would grow it past it are refused with `context_too_large`; the instance keeps
/// its last good context and takes later events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_size_is_bounded() {
    let server = TestServer::start_with(&["--max-context-bytes", "64KiB"]);
    let mut neighbour = Neighbour::start(&server).await;
    let http = Http::new(&server);
    let machine = json!({
        "name": "grower", "initial": "open", "states": ["open"],
        "transitions": [{"from": "open", "event": "double", "to": "open", "assign": {"blob": "ctx.blob + ctx.blob"}}]
    });
    let (status, body) = http.put_json("/v1/spaces/tenant-a/machines/grower", &machine).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = http
        .post(
            "/v1/spaces/tenant-a/machines/grower/instances",
            json!({"id": "big", "ctx": {"blob": "x".repeat(70_000)}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "context_too_large", "{body}");
    assert_eq!(body["error"]["details"]["max_bytes"], json!(65_536), "{body}");

    let (status, body) = http
        .post("/v1/spaces/tenant-a/machines/grower/instances", json!({"id": "g", "ctx": {"blob": "x".repeat(1000)}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let events = "/v1/spaces/tenant-a/machines/grower/instances/g/events";
    let mut accepted = 0;
    loop {
        let (status, body) = http.post(events, json!({"event": "double"})).await;
        if status == StatusCode::OK {
            accepted += 1;
            assert!(accepted < 10, "the context grew past the limit: {accepted} doublings accepted");
            continue;
        }
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(code(&body), "context_too_large", "{body}");
        assert_eq!(body["error"]["details"]["max_bytes"], json!(65_536), "{body}");
        break;
    }
    // 1000 · 2⁶ = 64,000 bytes fit in 64 KiB; the seventh doubling does not.
    assert_eq!(accepted, 6);
    let (status, body) = http.get("/v1/spaces/tenant-a/machines/grower/instances/g").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ctx"]["blob"].as_str().map(str::len), Some(64_000));
    neighbour.assert_served().await;
}
