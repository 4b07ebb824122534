//! Node-wide limits on functions against the real binary: the memory budget
//! (`--function-memory-budget`), per-space fair slots (`--function-slots-per-space`), host-name
//! validation of `allowed_hosts`, and the JSON depth policy on what a guest hands over. Each
//! test shows the bad case refused or contained and another function (or space) still served.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use support::{TestServer, gauge};
use switchyard_client::{Client, ClientError, FunctionSettings, InvokeOptions};
use switchyard_testkit::{PATIENCE, example_function_bytes, wait_for};

const MIB: u64 = 1024 * 1024;

fn api_error(e: &ClientError) -> (u16, &str, &str) {
    match e {
        ClientError::Api { status, code, message, .. } => (*status, code.as_str(), message.as_str()),
        other => panic!("expected an API error, got {other}"),
    }
}

async fn deploy(client: &Client, space: &str, name: &str, example: &str, settings: FunctionSettings) {
    client.deploy_function(space, name, &example_function_bytes(example), &settings).await.expect("deploy");
}

/// Invokes with the input sent as opaque bytes (the guest parses it as JSON itself).
async fn invoke(client: &Client, space: &str, name: &str, input: &Value) -> Result<Value, ClientError> {
    let options = InvokeOptions { content_type: Some("application/octet-stream".into()), ..InvokeOptions::default() };
    let out = client.invoke(space, name, serde_json::to_vec(input).expect("encode"), &options).await?;
    Ok(serde_json::from_slice(&out.body).expect("JSON output"))
}

/// Polls a gauge until it reads `want` (bounded: a test that never gets there fails).
async fn wait_for_gauge(client: &Client, name: &str, want: f64) {
    let what = format!("{name} to read {want}");
    wait_for(&what, PATIENCE, || gauge(client, name), |value| *value == want).await;
}

fn settings(timeout_ms: u64, memory_bytes: u64) -> FunctionSettings {
    FunctionSettings { timeout_ms: Some(timeout_ms), memory_bytes: Some(memory_bytes), ..FunctionSettings::default() }
}

fn nested(depth: usize) -> Value {
    let mut value = json!(1);
    for _ in 0..depth {
        value = json!([value]);
    }
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_beyond_the_memory_budget_wait_and_are_refused_at_their_timeout() {
    // 96 MiB: one 64 MiB invocation fits, two do not.
    let server = TestServer::start_with(&["--function-memory-budget", "96MiB"]);
    let client = server.client();
    assert_eq!(gauge(&client, "switchyard_function_memory_budget_bytes").await, (96 * MIB) as f64);
    deploy(&client, "acme", "hog", "misbehave", settings(3000, 64 * MIB)).await;
    deploy(&client, "acme", "brief", "misbehave", settings(500, 64 * MIB)).await;
    deploy(&client, "acme", "patient", "misbehave", settings(20_000, 64 * MIB)).await;
    deploy(&client, "acme", "tiny", "misbehave", settings(5000, 16 * MIB)).await;

    let hog = {
        let client = client.clone();
        tokio::spawn(async move { invoke(&client, "acme", "hog", &json!({"do": "loop"})).await })
    };
    wait_for_gauge(&client, "switchyard_function_memory_reserved_bytes", (64 * MIB) as f64).await;

    // Does not fit before its own 500 ms are up: refused with the capacity code, naming the budget.
    let refused = invoke(&client, "acme", "brief", &json!({"do": "echo"})).await.expect_err("over the budget");
    let (status, code, message) = api_error(&refused);
    assert_eq!((status, code), (503, "function_capacity_exhausted"), "{message}");
    assert!(message.contains(&(96 * MIB).to_string()) && message.contains(&(64 * MIB).to_string()), "{message}");
    assert!(gauge(&client, "switchyard_function_capacity_refusals").await >= 1.0);

    // What still fits beside the hog runs at once.
    assert_eq!(invoke(&client, "acme", "tiny", &json!({"do": "echo", "n": 1})).await.expect("fits")["n"], 1);

    // A longer timeout waits for the hog's memory and then runs.
    let patient = {
        let client = client.clone();
        tokio::spawn(async move { invoke(&client, "acme", "patient", &json!({"do": "echo", "n": 2})).await })
    };
    wait_for_gauge(&client, "switchyard_function_waiting_invocations", 1.0).await;
    let hog = hog.await.expect("task").expect_err("the hog loops until its timeout");
    assert_eq!(api_error(&hog).1, "function_timeout");
    let out = patient.await.expect("task").expect("runs once the hog's memory is back");
    assert_eq!(out["n"], 2);
    wait_for_gauge(&client, "switchyard_function_memory_reserved_bytes", 0.0).await;
    assert_eq!(gauge(&client, "switchyard_function_waiting_invocations").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_whose_memory_exceeds_the_budget_is_refused_at_deploy() {
    let server = TestServer::start_with(&["--function-memory-budget", "96MiB"]);
    let client = server.client();
    let bytes = example_function_bytes("misbehave");
    let refused = client
        .deploy_function("acme", "big", &bytes, &settings(1000, 128 * MIB))
        .await
        .expect_err("larger than the budget");
    let (status, code, message) = api_error(&refused);
    assert_eq!((status, code), (422, "validation_failed"), "{message}");
    assert!(message.contains(&(128 * MIB).to_string()) && message.contains(&(96 * MIB).to_string()), "{message}");
    client.deploy_function("acme", "fits", &bytes, &settings(1000, 96 * MIB)).await.expect("as large as the budget");
    assert_eq!(invoke(&client, "acme", "fits", &json!({"do": "echo", "n": 3})).await.expect("runs")["n"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_space_flooding_looping_invocations_does_not_hold_every_slot() {
    let server = TestServer::start_with(&["--function-slots", "4", "--function-slots-per-space", "2"]);
    let client = server.client();
    deploy(&client, "flood", "spin", "misbehave", settings(10_000, 16 * MIB)).await;
    deploy(&client, "quiet", "echo", "misbehave", settings(5000, 16 * MIB)).await;

    let finished = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for _ in 0..70 {
        let (client, finished) = (client.clone(), finished.clone());
        flood.push(tokio::spawn(async move {
            let result = invoke(&client, "flood", "spin", &json!({"do": "loop"})).await;
            finished.fetch_add(1, Ordering::SeqCst);
            result
        }));
    }
    // The flooding space runs its share and queues the rest.
    wait_for_gauge(&client, "switchyard_function_running_invocations", 2.0).await;
    wait_for_gauge(&client, "switchyard_function_waiting_invocations", 68.0).await;

    // Without per-space slots the flood would hold all four for 10 s and this (5 s timeout)
    // would be refused; it answers while every flooding invocation is still running or waiting.
    let out = invoke(&client, "quiet", "echo", &json!({"do": "echo", "n": 4})).await.expect("another space answers");
    assert_eq!(out["n"], 4);
    assert_eq!(finished.load(Ordering::SeqCst), 0, "the flood was still going when the other space answered");

    for task in flood {
        let error = task.await.expect("task").expect_err("looping invocations never succeed");
        let code = api_error(&error).1.to_owned();
        assert!(code == "function_timeout" || code == "function_capacity_exhausted", "{code}");
    }
    wait_for_gauge(&client, "switchyard_function_running_invocations", 0.0).await;
    assert_eq!(gauge(&client, "switchyard_function_waiting_invocations").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hosts_must_be_host_names_or_addresses() {
    let server = TestServer::start();
    let client = server.client();
    let bytes = example_function_bytes("hello");
    let long = "a".repeat(129);
    for bad in ["..", ".a", "-a", "a-", "a..b", long.as_str(), "host:0", "host:70000", "*.example.com", "127.1"] {
        let with = FunctionSettings { allowed_hosts: vec![bad.to_owned()], ..FunctionSettings::default() };
        let refused = client.deploy_function("acme", "fetch", &bytes, &with).await.expect_err(bad);
        let (status, code, message) = api_error(&refused);
        assert_eq!((status, code), (422, "validation_failed"), "{bad}: {message}");
        assert!(message.contains(&format!("{bad:?}")), "the error names the entry {bad:?}: {message}");
    }
    let good = FunctionSettings {
        allowed_hosts: vec!["api.example.com".into(), "x-1.example.org:8443".into(), "93.184.216.34".into()],
        ..FunctionSettings::default()
    };
    let info = client.deploy_function("acme", "fetch", &bytes, &good).await.expect("valid hosts");
    assert_eq!(info.settings["allowed_hosts"].as_array().map(Vec::len), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_a_guest_hands_over_is_held_to_the_depth_policy() {
    let server = TestServer::start();
    let client = server.client();
    let with_bucket = FunctionSettings { kv_buckets: vec!["data".into()], ..FunctionSettings::default() };
    deploy(&client, "acme", "bad", "misbehave", with_bucket).await;
    deploy(&client, "globex", "hello", "hello", FunctionSettings::default()).await;
    let deep = nested(100);

    let published = invoke(&client, "acme", "bad", &json!({"do": "publish", "topic": "t", "message": deep}))
        .await
        .expect_err("a 100-deep message");
    let (_, code, message) = api_error(&published);
    assert_eq!(code, "event_invalid", "{message}");
    assert!(message.contains("64"), "the error names the limit: {message}");

    let put = invoke(&client, "acme", "bad", &json!({"do": "put", "bucket": "data", "key": "k", "value": deep}))
        .await
        .expect_err("a 100-deep KV value");
    let (_, code, message) = api_error(&put);
    assert_eq!(code, "kv_invalid", "{message}");
    assert!(message.contains("64"), "the error names the limit: {message}");
    let missing = client.kv_get("acme", "data", "k").await.expect_err("nothing was stored");
    assert_eq!(api_error(&missing).0, 404);

    let echoed = invoke(&client, "acme", "bad", &json!({"do": "echo", "deep": deep})).await.expect_err("a deep output");
    let (status, code, message) = api_error(&echoed);
    assert_eq!((status, code), (422, "validation_failed"), "{message}");
    assert!(message.contains("64"), "the error names the limit: {message}");

    let options = InvokeOptions { content_type: Some("application/octet-stream".into()), ..InvokeOptions::default() };
    let input = serde_json::to_vec(&json!({"do": "echo", "deep": deep})).expect("encode");
    let pending = client.invoke_async("acme", "bad", input, &options).await.expect("accepted");
    let id = pending["id"].as_str().expect("an id").to_owned();
    let record = wait_for(
        "the invocation to finish",
        PATIENCE,
        || async { client.get_invocation("acme", &id).await.expect("record") },
        |record| record["status"] != "pending",
    )
    .await;
    assert_eq!(record["status"], "failed", "{record}");
    assert_eq!(record["error"]["code"], "validation_failed", "{record}");

    // At the limit, values go through.
    let ok = invoke(&client, "acme", "bad", &json!({"do": "put", "bucket": "data", "key": "k", "value": nested(64)}))
        .await
        .expect("64 levels are within the policy");
    assert!(ok["revision"].as_u64().is_some());

    // The other space's function is unaffected throughout.
    let out = invoke(&client, "globex", "hello", &json!({"name": "globex"})).await.expect("the other space answers");
    assert_eq!(out, json!({"greeting": "Hello, globex!"}));
}
