//! Durable jobs through the real binary: each kind runs, failures are retried by the policy and
//! end as dead letters that can be re-driven, the effect key reaches the target, bad input is
//! refused naming the field, and every `switchyard job` subcommand works.
//!
//! HTTP jobs go to a local [`Target`], so the servers here run with
//! `--jobs-allow-private-networks`. Tests wait on the job's record (its status, attempts) or on
//! what the target saw, never on the clock.

mod support;

use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestServer;
use support::http::{Http, code};
use support::target::{Answer, Target};
use switchyard_testkit::fixtures::COUNTER_MACHINE;
use switchyard_testkit::{PATIENCE, wait_for, wait_until};

/// A server whose HTTP jobs may reach the loopback target.
fn server() -> TestServer {
    TestServer::start_with(&["--jobs-allow-private-networks"])
}

/// A retry policy with a quick, deterministic schedule.
fn quick(max_attempts: u32) -> Value {
    json!({ "max_attempts": max_attempts, "initial": "10ms", "jitter": "none" })
}

async fn enqueue(http: &Http, space: &str, body: Value) -> Value {
    let (status, job) = http.post(&format!("/v1/spaces/{space}/jobs"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    job
}

async fn job(http: &Http, space: &str, id: &str) -> Value {
    let (status, job) = http.get(&format!("/v1/spaces/{space}/jobs/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    job
}

/// Waits until the job's status is `status`; returns the job.
async fn until_status(http: &Http, space: &str, id: &str, status: &str) -> Value {
    wait_for(&format!("job {id} to be {status}"), PATIENCE, || job(http, space, id), |j| j["status"] == status).await
}

fn millis(rfc3339: &Value) -> u128 {
    let at = humantime::parse_rfc3339(rfc3339.as_str().expect("a time")).expect("RFC 3339");
    at.duration_since(SystemTime::UNIX_EPOCH).expect("after the epoch").as_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_job_succeeds_and_carries_its_effect_key_and_attempt() {
    let server = server();
    let http = Http::new(&server);
    let target = Target::start(vec![Answer::status(200)]).await;
    let body = json!({
        "kind": "http",
        "payload": { "url": target.url("/hook"), "method": "PUT", "headers": { "x-extra": "1" }, "body": { "a": 1 } },
        "idempotency_key": "order-7",
    });
    let created = enqueue(&http, "acme", body.clone()).await;
    assert_eq!(created["replayed"], false);
    assert_eq!((created["status"].as_str(), created["effect_key"].as_str()), (Some("pending"), Some("order-7")));
    let id = created["id"].as_str().expect("id").to_string();

    let done = until_status(&http, "acme", &id, "succeeded").await;
    assert_eq!(done["attempt"], 1);
    assert_eq!((&done["result"]["status"], &done["result"]["body"]), (&json!(200), &json!({})), "{done}");
    assert!(done["result"]["headers"]["content-length"].is_string(), "{done}");
    assert_eq!(done["last_error"], Value::Null);
    assert_eq!(done["lease"], Value::Null);
    assert!(done["finished_at"].is_string(), "{done}");
    let seen = target.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("PUT", "/hook"));
    assert_eq!(seen[0].headers["idempotency-key"], "order-7");
    assert_eq!(seen[0].headers["switchyard-job-id"], id);
    assert_eq!(seen[0].headers["switchyard-job-attempt"], "1");
    assert_eq!(seen[0].headers["x-extra"], "1");

    // The same key again: the earlier job, 200, replayed; nothing new runs. The key may come as
    // the Idempotency-Key header too.
    let (status, again) = http.post("/v1/spaces/acme/jobs", body).await;
    assert_eq!((status, &again["id"], &again["replayed"]), (StatusCode::OK, &json!(id), &json!(true)), "{again}");
    let header_body = json!({ "kind": "http", "payload": { "url": target.url("/hook") } });
    let (status, _, by_header) = http
        .send_with(Method::POST, "/v1/spaces/acme/jobs", &[("Idempotency-Key", "order-7")], Some(header_body))
        .await;
    assert_eq!((status, &by_header["id"]), (StatusCode::OK, &json!(id)), "{by_header}");
    assert_eq!(target.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_is_retried_and_kept_in_the_attempts() {
    let server = server();
    let http = Http::new(&server);
    let target = Target::start(vec![Answer::status(503), Answer::status(200)]).await;
    let body = json!({ "kind": "http", "payload": { "url": target.url("/flaky") }, "retry": quick(3) });
    let id = enqueue(&http, "acme", body).await["id"].as_str().expect("id").to_string();
    let done = until_status(&http, "acme", &id, "succeeded").await;
    assert_eq!(done["attempt"], 2);
    let attempts = done["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{done}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["error"]["code"], "http_503");
    assert_eq!(attempts[1]["error"], Value::Null);
    assert!(attempts[1]["ended_at"].is_string());
    // Both attempts carried the same effect key (the id: no idempotency key was given).
    let seen = target.seen();
    let keys: Vec<_> = seen.iter().map(|s| s.headers["idempotency-key"].clone()).collect();
    let numbers: Vec<_> = seen.iter().map(|s| s.headers["switchyard-job-attempt"].clone()).collect();
    assert_eq!((keys, numbers), (vec![id.clone(), id], vec!["1".to_string(), "2".to_string()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_job_is_a_dead_letter_until_re_driven() {
    let server = server();
    let http = Http::new(&server);
    let target = Target::start(vec![Answer::status(500)]).await;
    let body = json!({ "kind": "http", "payload": { "url": target.url("/down") }, "retry": quick(2) });
    let id = enqueue(&http, "acme", body).await["id"].as_str().expect("id").to_string();
    let dead = until_status(&http, "acme", &id, "dead").await;
    assert_eq!(dead["attempt"], 2);
    assert_eq!(dead["last_error"]["code"], "http_500");
    assert_eq!(target.seen().len(), 2);
    let client = server.client();
    for (series, want) in [
        ("switchyard_job_attempts_total", 2.0),
        ("switchyard_job_failures_total", 2.0),
        ("switchyard_job_dead_total", 1.0),
        ("switchyard_job_successes_total", 0.0),
        ("switchyard_job_scheduling_lag_seconds_count", 2.0),
        // The last bucket is `+Inf` and holds every observation, as Prometheus requires.
        ("switchyard_job_scheduling_lag_seconds_bucket{le=\"+Inf\"}", 2.0),
        ("switchyard_jobs{space=\"acme\",status=\"dead\"}", 1.0),
        ("switchyard_job_queue_depth{space=\"acme\"}", 0.0),
    ] {
        assert_eq!(support::series(&client, series).await, Some(want), "{series}");
    }

    let (status, page) = http.get("/v1/spaces/acme/jobs?status=dead").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<_> = page["jobs"].as_array().expect("jobs").iter().map(|j| j["id"].clone()).collect();
    assert_eq!(ids, vec![json!(id)]);
    let (_, none) = http.get("/v1/spaces/acme/jobs?status=pending").await;
    assert_eq!(none["jobs"], json!([]));

    // Re-driven: due at once, with its attempts counted from one again; it fails twice more.
    let (status, redriven) = http.post(&format!("/v1/spaces/acme/jobs/{id}/retry"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{redriven}");
    wait_until("the re-driven job to run twice more", PATIENCE, || async { (target.seen().len() == 4).then_some(()) })
        .await;
    let again = until_status(&http, "acme", &id, "dead").await;
    assert_eq!(again["attempt"], 2);
    let numbers: Vec<_> = target.seen().iter().map(|s| s.headers["switchyard-job-attempt"].clone()).collect();
    assert_eq!(numbers, ["1", "2", "1", "2"]);

    // The bulk re-drive takes every dead job of the kind.
    let (status, bulk) = http.post("/v1/spaces/acme/jobs/retry", json!({ "kind": "noop" })).await;
    assert_eq!((status, bulk), (StatusCode::OK, json!({ "redriven": 0 })));
    let (status, bulk) = http.post("/v1/spaces/acme/jobs/retry", json!({ "kind": "http" })).await;
    assert_eq!((status, bulk), (StatusCode::OK, json!({ "redriven": 1 })));
    wait_until("the bulk re-drive to run", PATIENCE, || async { (target.seen().len() == 6).then_some(()) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_sets_the_next_attempts_time() {
    let server = server();
    let http = Http::new(&server);
    let target = Target::start(vec![Answer::status(503).header("retry-after", "3600")]).await;
    let body = json!({ "kind": "http", "payload": { "url": target.url("/busy") }, "retry": quick(3) });
    let id = enqueue(&http, "acme", body).await["id"].as_str().expect("id").to_string();
    let failed = wait_for(
        "the first attempt to fail",
        PATIENCE,
        || job(&http, "acme", &id),
        |j| j["status"] == "pending" && j["attempts"][0]["ended_at"].is_string(),
    )
    .await;
    // The backoff would be 10 ms; the target asked for an hour.
    let waited = millis(&failed["run_at"]) - millis(&failed["attempts"][0]["ended_at"]);
    assert!(waited >= 3_600_000, "retried after {waited} ms: {failed}");
    assert_eq!(failed["last_error"]["code"], "http_503");
    assert_eq!(target.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_event_job_applies_its_event_once() {
    let server = server();
    let http = Http::new(&server);
    let (status, body) = http
        .send(Method::PUT, "/v1/spaces/acme/machines/counter", Some(("application/json", COUNTER_MACHINE.into())))
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) =
        http.post("/v1/spaces/acme/machines/counter/instances", json!({ "id": "c1", "ctx": { "n": 0 } })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let request = json!({
        "kind": "event",
        "delay_ms": 50,
        "payload": { "instance": "counter:c1", "event": "add", "payload": { "by": 5 } },
    });
    let created = enqueue(&http, "acme", request).await;
    let id = created["id"].as_str().expect("id").to_string();
    let done = until_status(&http, "acme", &id, "succeeded").await;
    // Not started before it was due.
    assert!(millis(&done["attempts"][0]["started_at"]) >= millis(&created["run_at"]), "{done}");
    assert_eq!((&done["result"]["from"], &done["result"]["to"]), (&json!("s0"), &json!("s0")), "{done}");
    assert_eq!(done["target"], "acme:counter:c1");

    let (_, instance) = http.get("/v1/spaces/acme/machines/counter/instances/c1").await;
    assert_eq!((&instance["ctx"]["n"], &instance["revision"]), (&json!(5), &json!(2)), "{instance}");
    let (_, history) = http.get("/v1/spaces/acme/machines/counter/instances/c1/history").await;
    let events = history["events"].as_array().or(history["records"].as_array()).expect("history");
    let transitions: Vec<_> = events.iter().filter(|r| r["kind"] == "instance.transitioned").collect();
    assert_eq!(transitions.len(), 1, "{history}");
    assert_eq!(transitions[0]["idempotency_key"], format!("job:{id}"));
    // A finished job is not re-driven.
    let (status, refused) = http.post(&format!("/v1/spaces/acme/jobs/{id}/retry"), json!({})).await;
    assert_eq!((status, code(&refused)), (StatusCode::CONFLICT, "conflict"), "{refused}");
    assert_eq!(refused["error"]["details"]["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_noop_jobs_succeed() {
    let server = server();
    let http = Http::new(&server);
    let body = json!({ "kind": "publish", "payload": { "topic": "orders", "message": { "a": 1 }, "key": "k" } });
    let id = enqueue(&http, "acme", body).await["id"].as_str().expect("id").to_string();
    let done = until_status(&http, "acme", &id, "succeeded").await;
    let seq = done["result"]["seq"].as_u64().expect("the message's seq");
    let client = server.client();
    let mut watch = client
        .watch("acme", &switchyard_client::WatchQuery { from: Some(seq.to_string()), ..Default::default() })
        .await
        .expect("watch");
    let message = switchyard_testkit::within("the message", PATIENCE, watch.next()).await.expect("read").expect("one");
    assert_eq!((message.seq, message.kind.as_str(), message.address.as_str()), (seq, "topic.message", "acme:orders"));

    let noop = enqueue(&http, "acme", json!({ "kind": "noop" })).await;
    let id = noop["id"].as_str().expect("id");
    let done = until_status(&http, "acme", id, "succeeded").await;
    assert_eq!((&done["attempt"], &done["result"], &done["target"]), (&json!(1), &Value::Null, &json!("noop")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_naming_the_field() {
    let server = server();
    let http = Http::new(&server);
    let cases: &[(Value, &str)] = &[
        (json!({ "kind": "carrier-pigeon", "payload": {} }), "kind \"carrier-pigeon\": expected one of http"),
        (json!({ "kind": "http", "payload": { "url": "not a url" } }), "payload.url"),
        (json!({ "kind": "http", "payload": { "url": "ftp://example.com/x" } }), "payload.url"),
        (json!({ "kind": "http", "payload": { "url": "https://example.com", "method": "BREW" } }), "payload.method"),
        (json!({ "kind": "http", "payload": { "url": "https://example.com", "timeout_ms": 0 } }), "payload.timeout_ms"),
        (json!({ "kind": "event", "payload": { "instance": "no-colon", "event": "e" } }), "payload.instance"),
        (json!({ "kind": "publish", "payload": {} }), "payload.topic"),
        (json!({ "kind": "noop", "run_at": "2030-01-01T00:00:00Z", "delay_ms": 5 }), "run_at or delay_ms"),
        (json!({ "kind": "noop", "run_at": "tomorrow" }), "run_at"),
        (json!({ "kind": "noop", "retry": { "max_attempts": 0 } }), "retry.max_attempts"),
        (json!({ "kind": "noop", "concurrency_key": "" }), "concurrency_key"),
    ];
    for (body, names) in cases {
        let (status, refused) = http.post("/v1/spaces/acme/jobs", body.clone()).await;
        assert_eq!((status, code(&refused)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{body}");
        let message = refused["error"]["message"].as_str().expect("message");
        assert!(message.contains(names), "{body}: {message}");
    }
    // Unknown fields and wrong types are malformed JSON for the body's shape.
    let (status, refused) = http.post("/v1/spaces/acme/jobs", json!({ "kind": "noop", "colour": "red" })).await;
    assert_eq!((status, code(&refused)), (StatusCode::BAD_REQUEST, "bad_request"), "{refused}");
    assert!(refused["error"]["message"].as_str().expect("message").contains("colour"), "{refused}");
    let (status, refused) = http.get("/v1/spaces/acme/jobs?status=sleeping").await;
    assert_eq!((status, code(&refused)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{refused}");
    let (status, refused) = http.get("/v1/spaces/acme/jobs?limit=0").await;
    assert_eq!((status, code(&refused)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{refused}");
    let (_, page) = http.get("/v1/spaces/acme/jobs").await;
    assert_eq!(page, json!({ "jobs": [], "next_after": null }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_jobs_are_not_found_and_changes_that_do_not_fit_the_status_conflict() {
    let server = server();
    let http = Http::new(&server);
    let unknown = "/v1/spaces/acme/jobs/0197a000-0000-7000-8000-000000000000";
    for (method, path) in [
        (Method::GET, unknown.to_string()),
        (Method::DELETE, unknown.to_string()),
        (Method::POST, format!("{unknown}/cancel")),
        (Method::POST, format!("{unknown}/retry")),
    ] {
        let (status, body) = http.send(method.clone(), &path, None).await;
        assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "job_not_found"), "{method} {path}: {body}");
    }

    // A pending job is not re-driven.
    let later = enqueue(&http, "acme", json!({ "kind": "noop", "delay_ms": 3_600_000 })).await;
    let later_id = later["id"].as_str().expect("id");
    let (status, refused) = http.post(&format!("/v1/spaces/acme/jobs/{later_id}/retry"), json!({})).await;
    assert_eq!(
        (status, code(&refused), &refused["error"]["details"]["status"]),
        (StatusCode::CONFLICT, "conflict", &json!("pending"))
    );

    // A running job is not deleted; cancelled, it is, and then it is gone.
    let target = Target::held(vec![Answer::status(200)]).await;
    let body = json!({ "kind": "http", "payload": { "url": target.url("/slow") }, "retry": quick(1) });
    let id = enqueue(&http, "acme", body).await["id"].as_str().expect("id").to_string();
    wait_until("the job's request to arrive", PATIENCE, || async { (!target.seen().is_empty()).then_some(()) }).await;
    let running = job(&http, "acme", &id).await;
    assert_eq!(running["status"], "running");
    assert!(running["lease"]["owner"].is_string() && running["lease"]["until"].is_string(), "{running}");
    let (status, refused) = http.send(Method::DELETE, &format!("/v1/spaces/acme/jobs/{id}"), None).await;
    assert_eq!(
        (status, code(&refused), &refused["error"]["details"]["status"]),
        (StatusCode::CONFLICT, "conflict", &json!("running"))
    );
    let (status, cancelled) = http.post(&format!("/v1/spaces/acme/jobs/{id}/cancel"), json!({})).await;
    assert_eq!((status, &cancelled["status"]), (StatusCode::OK, &json!("cancelled")), "{cancelled}");
    let (status, refused) = http.post(&format!("/v1/spaces/acme/jobs/{id}/cancel"), json!({})).await;
    assert_eq!((status, code(&refused)), (StatusCode::CONFLICT, "conflict"), "{refused}");
    target.release();
    let (status, _) = http.send(Method::DELETE, &format!("/v1/spaces/acme/jobs/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, gone) = http.get(&format!("/v1/spaces/acme/jobs/{id}")).await;
    assert_eq!((status, code(&gone)), (StatusCode::NOT_FOUND, "job_not_found"));
    // Its end, arriving after it was cancelled and deleted, changes nothing.
    assert_eq!(job(&http, "acme", later_id).await["status"], "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_by_id_and_filters_by_kind() {
    let server = server();
    let http = Http::new(&server);
    let mut ids = Vec::new();
    for kind in ["noop", "noop", "noop"] {
        ids.push(enqueue(&http, "acme", json!({ "kind": kind, "delay_ms": 3_600_000 })).await["id"].clone());
    }
    let body = json!({ "kind": "publish", "delay_ms": 3_600_000, "payload": { "topic": "t" } });
    let publish = enqueue(&http, "acme", body).await["id"].clone();
    let (_, first) = http.get("/v1/spaces/acme/jobs?kind=noop&limit=2").await;
    let page: Vec<_> = first["jobs"].as_array().expect("jobs").iter().map(|j| j["id"].clone()).collect();
    assert_eq!(page, ids[..2]);
    assert_eq!(first["next_after"], ids[1]);
    let after = ids[1].as_str().expect("id");
    let (_, second) = http.get(&format!("/v1/spaces/acme/jobs?kind=noop&limit=2&after={after}")).await;
    let page: Vec<_> = second["jobs"].as_array().expect("jobs").iter().map(|j| j["id"].clone()).collect();
    assert_eq!((page, &second["next_after"]), (ids[2..].to_vec(), &Value::Null));
    let (_, publishes) = http.get("/v1/spaces/acme/jobs?kind=publish").await;
    assert_eq!(publishes["jobs"][0]["id"], publish);
}

/// Runs `switchyard job ARGS…` against `server`; its stdout, after asserting it succeeded.
fn cli(server: &TestServer, args: &[&str]) -> String {
    let out = server.cli().arg("job").args(args).output().expect("run switchyard");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "job {args:?}: {stderr}");
    stdout.into_owned()
}

fn cli_json(server: &TestServer, args: &[&str]) -> Value {
    let mut all = vec!["-o", "json"];
    all.extend_from_slice(args);
    let out = cli(server, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("job {args:?} printed no JSON ({e}): {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_subcommand_works() {
    let server = server();
    let http = Http::new(&server);
    let target = Target::start(vec![Answer::status(500)]).await;
    let payload = json!({ "url": target.url("/cli") }).to_string();
    let retry = quick(1).to_string();
    let args = [
        "enqueue",
        "--space",
        "acme",
        "--kind",
        "http",
        "--payload",
        &payload,
        "--retry",
        &retry,
        "--key",
        "cli-1",
        "--priority",
        "3",
        "--concurrency-key",
        "lane",
    ];
    let enqueued = cli_json(&server, &args);
    let id = enqueued["id"].as_str().expect("id").to_string();
    assert_eq!((&enqueued["priority"], &enqueued["concurrency_key"]), (&json!(3), &json!("lane")), "{enqueued}");
    assert_eq!(enqueued["idempotency_key"], "cli-1");
    until_status(&http, "acme", &id, "dead").await;

    let got = cli_json(&server, &["get", "--space", "acme", &id]);
    assert_eq!((&got["status"], &got["last_error"]["code"]), (&json!("dead"), &json!("http_500")));
    let listed = cli(&server, &["list", "--space", "acme", "--status", "dead"]);
    assert!(listed.contains(&id) && listed.contains("http_500"), "{listed}");
    let retried = cli_json(&server, &["retry", "--space", "acme", &id]);
    assert_eq!(retried["status"], "pending");
    wait_until("the retried job to run", PATIENCE, || async { (target.seen().len() == 2).then_some(()) }).await;
    until_status(&http, "acme", &id, "dead").await;
    let bulk = cli(&server, &["retry", "--space", "acme", "--all", "--kind", "http"]);
    assert!(bulk.contains("1"), "{bulk}");
    wait_until("the bulk re-drive to run", PATIENCE, || async { (target.seen().len() == 3).then_some(()) }).await;
    until_status(&http, "acme", &id, "dead").await;
    cli(&server, &["delete", "--space", "acme", &id]);

    // A delayed job, and one at a time, cancelled.
    let later = cli_json(&server, &["enqueue", "--space", "acme", "--kind", "noop", "--delay", "1h"]);
    let at = cli_json(&server, &["enqueue", "--space", "acme", "--kind", "noop", "--at", "2099-01-01T00:00:00Z"]);
    assert_eq!(at["run_at"], "2099-01-01T00:00:00.000Z");
    // Due an hour after the enqueue was read (a moment before it was stored).
    let in_an_hour = millis(&later["run_at"]).abs_diff(millis(&later["created_at"]));
    let hour = Duration::from_secs(3600).as_millis();
    assert!(in_an_hour <= hour && in_an_hour > hour - 60_000, "{later}");
    let cancelled = cli_json(&server, &["cancel", "--space", "acme", later["id"].as_str().expect("id")]);
    assert_eq!(cancelled["status"], "cancelled");
}
