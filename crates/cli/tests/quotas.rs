//! Quotas and metering against the real binary (issue 19): a tenant over its request or event
//! rate gets `429 rate_limited` with `Retry-After` while another tenant's requests all pass; a
//! space at its instances or stored bytes is refused writes (`403 quota_exceeded`) and nothing
//! is stored; an invocation is held to the quota's timeout; jobs of a space with one
//! concurrent job never overlap; usage counts what the space did and survives a restart; a
//! tenant cannot raise its own quota, every change is audited, and on PostgreSQL a change made
//! through one node holds on another at once.

mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestServer;
use support::http::{Http, code};
use switchyard_testkit::{PATIENCE, TestDatabase, example_function_bytes, wait_until};

const ORDER: &str = "initial: open\nstates: { open: {}, closed: { final: true } }\ntransitions:\n  - { from: open, event: close, to: closed }\n";

async fn put_order(http: &Http, space: &str) {
    let (status, body) = http.put_yaml(&format!("/v1/spaces/{space}/machines/order"), ORDER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn set_quota(http: &Http, space: &str, quota: Value) -> Value {
    let (status, body) = http.put_json(&format!("/v1/spaces/{space}/quota"), &quota).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn create(http: &Http, space: &str, id: &str) -> (StatusCode, Value) {
    http.post(&format!("/v1/spaces/{space}/machines/order/instances"), json!({ "id": id })).await
}

/// A space-admin token of `space` only.
async fn tenant_token(http: &Http, space: &str) -> String {
    let body = json!({ "name": format!("{space}-admin"), "role": "admin", "spaces": [space] });
    let (status, token) = http.post("/v1/tokens", body).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    token["token"].as_str().expect("a secret").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_over_its_rate_gets_429_while_another_is_served() {
    let server = TestServer::start();
    let http = Http::new(&server);
    put_order(&http, "acme").await;
    put_order(&http, "beta").await;
    let quota = set_quota(&http, "acme", json!({ "requests_per_second": 5 })).await;
    assert_eq!(quota["changed"], true);

    // acme and beta are asked at once; acme's bucket holds 5 requests, beta has no quota.
    let ask = |space: &'static str| {
        let http = Http::new(&server);
        async move {
            let mut answers = Vec::new();
            for _ in 0..40 {
                answers.push(http.send_with(Method::GET, &format!("/v1/spaces/{space}/machines"), &[], None).await);
            }
            answers
        }
    };
    let (acme, beta) = tokio::join!(ask("acme"), ask("beta"));
    let refused: Vec<_> = acme.iter().filter(|(status, _, _)| *status == StatusCode::TOO_MANY_REQUESTS).collect();
    assert!(!refused.is_empty(), "40 requests in a burst passed a quota of 5 a second");
    assert!(acme.iter().filter(|(s, _, _)| *s == StatusCode::OK).count() >= 5, "the bucket's 5 passed");
    for (_, headers, body) in &refused {
        assert_eq!(code(body), "rate_limited", "{body}");
        let retry_after: u64 = headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!(retry_after >= 1, "{retry_after}");
        assert!(body["error"]["details"]["retry_after_ms"].as_u64().is_some_and(|ms| ms >= 1), "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("5 requests a second")), "{body}");
    }
    for (status, _, body) in &beta {
        assert_eq!(*status, StatusCode::OK, "beta has no quota and must not be refused: {body}");
    }

    // Changing the quota is never paced, so the operator can raise it at once (the set answers
    // 200), and the raise holds at once.
    set_quota(&http, "acme", json!({ "requests_per_second": 1000 })).await;
    let (status, body) = http.get("/v1/spaces/acme/machines").await;
    assert_eq!(status, StatusCode::OK, "a raised quota applies at once: {body}");
    let (status, body) = http.get("/v1/spaces/acme/quota").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["quota"], json!({ "requests_per_second": 1000 }));

    // Usage counts the refused ones, on this node and (after a flush) in the store.
    let (status, usage) = http.get("/v1/spaces/acme/usage").await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert!(usage["meters"]["refused"].as_u64().is_some_and(|n| n >= refused.len() as u64), "{usage}");
    assert!(usage["meters"]["requests"].as_u64().is_some_and(|n| n >= 40), "{usage}");
    let metrics = reqwest::get(format!("{}/metrics", server.url)).await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("switchyard_space_refused_total{space=\"acme\"}"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_rate_paces_writes_and_a_batch_as_a_whole() {
    let server = TestServer::start();
    let http = Http::new(&server);
    put_order(&http, "acme").await;
    // A batch of 10 against a rate of 2: admitted whole when the bucket is full, leaving a debt
    // of 8 events (4 s) that no slow runner can repay before the next create.
    set_quota(&http, "acme", json!({ "events_per_second": 2 })).await;
    let ops: Vec<Value> = (0..10)
        .map(|n| json!({ "op": "create_instance", "space": "acme", "machine": "order", "id": format!("b-{n}") }))
        .collect();
    let (status, body) = http.post("/v1/batch", json!({ "operations": ops })).await;
    assert_eq!(status, StatusCode::OK, "a batch is admitted whole from a full bucket: {body}");
    // The bucket is in debt now: the next write waits, and nothing of it is stored.
    let (status, body) = create(&http, "acme", "late").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(code(&body), "rate_limited");
    let (status, _) = http.get("/v1/spaces/acme/machines/order/instances/late").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a refused create stores nothing");
    // Once the debt is repaid the bucket holds tokens again.
    wait_until("the event bucket to refill", PATIENCE, || async {
        (create(&http, "acme", "later").await.0 == StatusCode::CREATED).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_space_at_its_holdings_is_refused_writes_until_they_shrink() {
    let server = TestServer::start_with(&["--quota-interval", "200ms"]);
    let http = Http::new(&server);
    put_order(&http, "acme").await;
    set_quota(&http, "acme", json!({ "instances": 3 })).await;
    for id in ["i-1", "i-2", "i-3"] {
        let (status, body) = create(&http, "acme", id).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = create(&http, "acme", "i-4").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), "quota_exceeded");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("3 instances")), "{body}");
    let (status, _) = http.get("/v1/spaces/acme/machines/order/instances/i-4").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a refused create stores nothing");
    // Deleting one makes room once the next measurement sees it.
    let (status, body) = http.delete("/v1/spaces/acme/machines/order/instances/i-1").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    wait_until("room for an instance after a deletion", PATIENCE, || async {
        (create(&http, "acme", "i-4").await.0 == StatusCode::CREATED).then_some(())
    })
    .await;

    // Stored bytes: writes go on until a measurement finds the space over, then KV puts,
    // publishes and deploys are refused.
    set_quota(&http, "beta", json!({ "stored_bytes": 4096 })).await;
    let big = json!({ "payload": { "blob": "x".repeat(2048) } });
    let refused = wait_until("beta's stored bytes to reach its quota", PATIENCE, || async {
        let (status, body) = http.post("/v1/spaces/beta/topics/t/messages", big.clone()).await;
        match status {
            StatusCode::CREATED => None,
            _ => Some((status, body)),
        }
    })
    .await;
    assert_eq!(refused.0, StatusCode::FORBIDDEN, "{}", refused.1);
    assert_eq!(code(&refused.1), "quota_exceeded");
    let kv = http.send(Method::PUT, "/v1/spaces/beta/kv/b/keys/k", Some(("application/json", b"1".to_vec()))).await;
    assert_eq!(kv.0, StatusCode::FORBIDDEN, "{}", kv.1);
    let (status, usage) = http.get("/v1/spaces/beta/usage").await;
    assert_eq!(status, StatusCode::OK);
    assert!(usage["stored_bytes"]["total"].as_u64().is_some_and(|b| b >= 4096), "{usage}");
    assert!(usage["stored_bytes"]["log"].as_u64().is_some_and(|b| b >= 4096), "{usage}");
    // Other spaces are untouched.
    let (status, body) = http.post("/v1/spaces/gamma/topics/t/messages", big).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_are_held_to_the_quota_and_jobs_to_one_at_a_time() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let client = server.client();
    let settings = switchyard_client::FunctionSettings { timeout_ms: Some(60_000), ..Default::default() };
    client.deploy_function("acme", "m", &example_function_bytes("misbehave"), &settings).await.expect("deploy");
    set_quota(&http, "acme", json!({ "function_timeout_ms": 300, "concurrent_jobs": 1 })).await;

    // The function allows a minute; the quota, 300 ms.
    let (status, body) = http.post("/v1/spaces/acme/functions/m/invoke", json!({ "do": "loop" })).await;
    assert_eq!(code(&body), "function_timeout", "{status} {body}");

    // Three asynchronous invocations of 200 ms each, one job at a time: their runs never overlap.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let input = serde_json::to_vec(&json!({ "do": "spin", "ms": 200 })).expect("input");
        let accepted = client
            .invoke_async("acme", "m", input, &switchyard_client::InvokeOptions::default())
            .await
            .expect("accepted");
        ids.push(accepted["id"].as_str().expect("id").to_owned());
    }
    let mut runs = Vec::new();
    for id in &ids {
        let record = wait_until("the invocation to finish", PATIENCE, || async {
            let record = client.get_invocation("acme", id).await.ok()?;
            (record["status"] == "succeeded").then_some(record)
        })
        .await;
        let finished = chrono::DateTime::parse_from_rfc3339(record["finished_at"].as_str().expect("finished"))
            .expect("a time")
            .timestamp_micros();
        let duration = record["duration_us"].as_i64().expect("a duration");
        runs.push((finished - duration, finished));
    }
    runs.sort();
    for pair in runs.windows(2) {
        // Times are in milliseconds in the record: allow the one it rounds.
        assert!(pair[1].0 + 1_000 >= pair[0].1, "two jobs of a space limited to one ran at once: {runs:?}");
    }
    let (_, usage) = http.get("/v1/spaces/acme/usage").await;
    assert!(usage["meters"]["invocations"].as_u64().is_some_and(|n| n >= 4), "{usage}");
    assert!(usage["meters"]["function_ms"].as_u64().is_some_and(|ms| ms >= 600), "{usage}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_system_sets_quotas_every_change_is_audited_and_meters_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = TestServer::start_in(dir.path(), &[]);
    let http = Http::new(&server);
    put_order(&http, "acme").await;
    let tenant = tenant_token(&http, "acme").await;
    let as_tenant = Http::with_token(&server, Some(&tenant));

    // The tenant reads its quota and usage, and cannot change either limit.
    let (status, body) = as_tenant.get("/v1/spaces/acme/quota").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["quota"], json!({}));
    let (status, body) = as_tenant.put_json("/v1/spaces/acme/quota", &json!({ "instances": 1_000_000 })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = as_tenant.get("/v1/spaces/other/usage").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Bad limits are refused with the field named.
    let (status, body) = http.put_json("/v1/spaces/acme/quota", &json!({ "requests_per_second": 0 })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["field"], "requests_per_second");
    let (status, body) = http.put_json("/v1/spaces/acme/quota", &json!({ "stored_byte": 1 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an unknown limit is refused, not ignored: {body}");

    set_quota(&http, "acme", json!({ "instances": 10 })).await;
    let (status, _) = http.delete("/v1/spaces/acme/quota").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = http.delete("/v1/spaces/acme/quota").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let audit = server.client().read_audit(0, Some("audit.quota_set"), 100).await.expect("audit");
    let records = audit["records"].as_array().expect("records");
    assert_eq!(records.len(), 2, "{audit}");
    assert_eq!(records[0]["payload"]["quota"], json!({ "instances": 10 }));
    assert_eq!(records[1]["payload"]["quota"], Value::Null);
    assert!(records[0]["payload"]["principal"]["id"].as_str().is_some(), "{audit}");

    for n in 0..5 {
        let (status, body) =
            as_tenant.post("/v1/spaces/acme/machines/order/instances", json!({ "id": format!("o-{n}") })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Holdings are measured at most once a second: the five show from the next measurement.
    let before = wait_until("usage to show the five instances", PATIENCE, || async {
        let (_, usage) = http.get("/v1/spaces/acme/usage").await;
        (usage["instances"] == 5).then_some(usage)
    })
    .await;
    assert!(before["meters"]["events"].as_u64().is_some_and(|n| n >= 5), "{before}");

    // SIGTERM flushes this node's meters; the restarted node reads them from the store.
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server)
    })
    .await
    .expect("join");
    assert!(status.0.success());
    drop(status.1);
    let server = TestServer::start_in(dir.path(), &[]);
    let (_, after) = Http::new(&server).get("/v1/spaces/acme/usage").await;
    assert!(after["meters"]["events"].as_u64() >= before["meters"]["events"].as_u64(), "{before} {after}");
    assert!(after["meters"]["requests"].as_u64().is_some_and(|n| n >= 5), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_quota_set_through_one_node_holds_on_another_at_once() {
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
    let (dir_a, dir_b) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let args = ["--store", db.url(), "--quota-interval", "300ms"];
    let a = TestServer::start_in(&dir_a.path().join("data"), &args);
    let b = TestServer::start_node(&dir_b.path().join("data"), &args, &a.admin_token);
    let (http_a, http_b) = (Http::new(&a), Http::new(&b));
    put_order(&http_a, "acme").await;
    let (status, _) = http_b.get("/v1/spaces/acme/machines").await;
    assert_eq!(status, StatusCode::OK);

    // A rate set through a holds on b as soon as the change's record reaches b through the log.
    set_quota(&http_a, "acme", json!({ "requests_per_second": 1 })).await;
    wait_until("node b to pace acme", Duration::from_secs(30), || async {
        let answers = futures_util::future::join_all((0..5).map(|_| http_b.get("/v1/spaces/acme/machines"))).await;
        answers.iter().any(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS).then_some(())
    })
    .await;
    // Raised through b, it lifts on a too.
    set_quota(&http_b, "acme", json!({ "requests_per_second": 100_000 })).await;
    for http in [&http_a, &http_b] {
        wait_until("the raised rate to hold", Duration::from_secs(30), || async {
            let answers = futures_util::future::join_all((0..5).map(|_| http.get("/v1/spaces/acme/machines"))).await;
            answers.iter().all(|(status, _)| *status == StatusCode::OK).then_some(())
        })
        .await;
    }

    // An instance limit set through a: once b reads it (its quota route answers what is in
    // force on the node), b holds acme to it by its own count.
    set_quota(&http_a, "acme", json!({ "requests_per_second": 100_000, "instances": 2 })).await;
    wait_until("node b to hold the instance limit", Duration::from_secs(30), || async {
        let (_, body) = http_b.get("/v1/spaces/acme/quota").await;
        (body["quota"]["instances"] == 2).then_some(())
    })
    .await;
    for id in ["x-1", "x-2"] {
        let (status, body) = create(&http_b, "acme", id).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = create(&http_b, "acme", "x-3").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), "quota_exceeded", "{body}");
    // Node a counted none of b's creations itself: until its next measurement it admits what
    // its own count allows (at most the limit again); from then on it refuses, for good.
    let mut n = 0;
    wait_until("node a to hold acme to its instances", Duration::from_secs(30), || {
        n += 1;
        let (id, http_a) = (format!("a-{n}"), &http_a);
        async move { (create(http_a, "acme", &id).await.0 == StatusCode::FORBIDDEN).then_some(()) }
    })
    .await;
    let usage = wait_until("a measurement after the creates", PATIENCE, || async {
        let (_, usage) = http_a.get("/v1/spaces/acme/usage").await;
        (usage["instances"].as_u64() >= Some(2)).then_some(usage)
    })
    .await;
    let held = usage["instances"].as_u64().expect("instances");
    // Each node admits at most the limit by its own count: past it only by what a admitted
    // before it measured b's creations.
    assert!((2..=4).contains(&held), "{usage}");
    for id in ["late-a", "late-b"] {
        assert_eq!(create(&http_a, "acme", id).await.0, StatusCode::FORBIDDEN);
        assert_eq!(create(&http_b, "acme", id).await.0, StatusCode::FORBIDDEN);
    }
}
