//! Functions against the real binary over HTTP, with the example components built for
//! wasm32-wasip2: deploys and versions, every limit (the server answers the next request),
//! capability denials that reach nothing, concurrent invocations, the compiled-artifact cache
//! across a restart, asynchronous invocations in the event log, and both store backends.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use support::{TestServer, gauge};
use switchyard_client::{Client, ClientError, FunctionSettings, InvokeOptions, WatchQuery};
use switchyard_testkit::{PATIENCE, TestDatabase, example_function_bytes, wait_for, wait_until, within};

fn code(e: &ClientError) -> &str {
    e.code().unwrap_or("(no code)")
}

async fn deploy(
    client: &Client,
    name: &str,
    example: &str,
    settings: FunctionSettings,
) -> switchyard_client::FunctionInfo {
    client.deploy_function("acme", name, &example_function_bytes(example), &settings).await.expect("deploy")
}

async fn invoke(client: &Client, name: &str, input: Value) -> Result<Value, ClientError> {
    let out = client.invoke("acme", name, serde_json::to_vec(&input).unwrap(), &InvokeOptions::default()).await?;
    Ok(serde_json::from_slice(&out.body).expect("JSON output"))
}

/// Waits until the function's invocation records number at least `n`; returns them.
async fn recorded(client: &Client, name: &str, n: usize) -> Vec<Value> {
    let what = format!("{n} invocation records of {name}");
    wait_until(&what, PATIENCE, || async {
        let page = client.list_invocations("acme", name, Some(0), Some(1000)).await.expect("list invocations");
        (page.invocations.len() >= n).then_some(page.invocations)
    })
    .await
}

async fn assert_hello_answers(client: &Client) {
    let out = invoke(client, "hello", json!({"name": "again"})).await.expect("hello after a failure");
    assert_eq!(out, json!({"greeting": "Hello, again!"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_are_versioned_and_invocations_answer_and_are_recorded() {
    let server = TestServer::start();
    let client = server.client();
    let first = deploy(&client, "hello", "hello", FunctionSettings::default()).await;
    assert_eq!((first.version, first.created), (1, Some(true)));
    assert_eq!(first.address, "acme:hello");
    let same = deploy(&client, "hello", "hello", FunctionSettings::default()).await;
    assert_eq!((same.version, same.created), (1, Some(false)), "the same component and settings make no version");
    let settings = FunctionSettings {
        timeout_ms: Some(2000),
        secrets: [("token".to_owned(), "s3cret".to_owned())].into(),
        ..FunctionSettings::default()
    };
    let second = deploy(&client, "hello", "hello", settings).await;
    assert_eq!(second.version, 2);
    assert_eq!(second.settings["timeout_ms"], 2000);
    assert_eq!(second.settings["secrets"], json!(["token"]), "secrets are shown by name only");
    assert!(!second.settings.to_string().contains("s3cret"));
    let versions: Vec<u64> =
        client.function_versions("acme", "hello").await.unwrap().iter().map(|f| f.version).collect();
    assert_eq!(versions, [1, 2]);

    let out =
        client.invoke("acme", "hello", br#"{"name":"Ada"}"#.to_vec(), &InvokeOptions::default()).await.expect("invoke");
    assert_eq!(out.version, 2);
    assert_eq!(out.content_type, "application/json");
    assert_eq!(serde_json::from_slice::<Value>(&out.body).unwrap(), json!({"greeting": "Hello, Ada!"}));
    let old = client
        .invoke("acme", "hello", b"\"Grace\"".to_vec(), &InvokeOptions { version: Some(1), ..InvokeOptions::default() })
        .await
        .expect("invoke version 1");
    assert_eq!(old.version, 1);

    let records = recorded(&client, "hello", 2).await;
    let record = records.iter().find(|r| r["id"] == out.invocation_id.as_str()).expect("the invocation's record");
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["version"], 2);
    assert_eq!(record["input_size"], 14);
    assert_eq!(record["output_size"], out.body.len() as u64);
    assert!(record["duration_us"].as_u64().unwrap() > 0);
    let fetched = client.get_invocation("acme", &out.invocation_id).await.expect("get invocation");
    assert_eq!(fetched["id"], record["id"]);

    let err = client.invoke("acme", "nope", Vec::new(), &InvokeOptions::default()).await.unwrap_err();
    assert_eq!(code(&err), "function_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_that_are_not_functions_are_refused_saying_why() {
    let server = TestServer::start();
    let client = server.client();
    let err = client.deploy_function("acme", "junk", b"not wasm", &FunctionSettings::default()).await.unwrap_err();
    assert_eq!(code(&err), "invalid_component");
    let empty_component = b"\0asm\x0d\0\x01\0";
    let err = client.deploy_function("acme", "empty", empty_component, &FunctionSettings::default()).await.unwrap_err();
    assert_eq!(code(&err), "component_world_mismatch");
    assert!(err.to_string().contains("handle"), "{err}");
    let bad_host =
        FunctionSettings { allowed_hosts: vec!["http://example.com/".into()], ..FunctionSettings::default() };
    let err = client.deploy_function("acme", "h", &example_function_bytes("hello"), &bad_host).await.unwrap_err();
    assert_eq!(code(&err), "validation_failed");
    assert!(client.list_functions("acme").await.unwrap().is_empty(), "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_stop_the_guest_and_the_server_answers_the_next_request() {
    let server = TestServer::start();
    let client = server.client();
    deploy(&client, "hello", "hello", FunctionSettings::default()).await;
    let limited =
        FunctionSettings { timeout_ms: Some(500), memory_bytes: Some(16 * 1024 * 1024), ..FunctionSettings::default() };
    deploy(&client, "misbehave", "misbehave", limited).await;

    let started = std::time::Instant::now();
    let err = invoke(&client, "misbehave", json!({"do": "loop"})).await.unwrap_err();
    assert_eq!(code(&err), "function_timeout");
    assert!(matches!(&err, ClientError::Api { status: 504, .. }), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_hello_answers(&client).await;

    let err = invoke(&client, "misbehave", json!({"do": "alloc"})).await.unwrap_err();
    assert_eq!(code(&err), "function_memory_limit");
    assert_hello_answers(&client).await;

    let err = invoke(&client, "misbehave", json!({"do": "trap"})).await.unwrap_err();
    assert_eq!(code(&err), "function_trapped");
    assert_hello_answers(&client).await;

    let err = invoke(&client, "misbehave", json!({"do": "panic"})).await.unwrap_err();
    assert_eq!(code(&err), "function_trapped");
    assert!(err.to_string().contains("misbehave was asked to panic"), "{err}");

    let fuel = FunctionSettings { fuel: Some(10_000_000), ..FunctionSettings::default() };
    deploy(&client, "fueled", "misbehave", fuel).await;
    let err = invoke(&client, "fueled", json!({"do": "loop"})).await.unwrap_err();
    assert_eq!(code(&err), "function_fuel_exhausted");

    let err = invoke(&client, "misbehave", json!({"do": "fail", "code": "card_declined"})).await.unwrap_err();
    assert_eq!(code(&err), "card_declined", "the guest's own error code comes back");
    assert!(matches!(&err, ClientError::Api { status: 422, .. }), "{err:?}");
    assert_hello_answers(&client).await;

    let records = recorded(&client, "misbehave", 5).await;
    let codes: Vec<&str> = records.iter().map(|r| r["error"]["code"].as_str().unwrap_or("")).collect();
    assert_eq!(
        codes,
        ["function_timeout", "function_memory_limit", "function_trapped", "function_trapped", "card_declined"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_not_granted_are_denied_inside_the_guest_and_reach_nothing() {
    // The test's HTTP server is on loopback, which only this setting lets a function reach.
    let server = TestServer::start_with(&["--function-allow-private-networks"]);
    let client = server.client();
    deploy(
        &client,
        "misbehave",
        "misbehave",
        FunctionSettings { kv_buckets: vec!["open".into()], ..Default::default() },
    )
    .await;
    client
        .kv_put("acme", "vault", "k", b"secret".to_vec(), &switchyard_client::KvPutOptions::default())
        .await
        .expect("seed the vault");

    let err = invoke(&client, "misbehave", json!({"do": "kv", "bucket": "vault", "key": "k"})).await.unwrap_err();
    assert_eq!(code(&err), "capability_denied");
    assert!(!err.to_string().contains("secret\""), "{err}");
    let out = invoke(&client, "misbehave", json!({"do": "kv", "bucket": "open", "key": "k"})).await.unwrap();
    assert_eq!(out, json!({"value": null}));

    let (addr, accepted) = switchyard_testkit::counting_http_server("pong").await;
    let err = invoke(&client, "misbehave", json!({"do": "http", "url": format!("http://{addr}/")})).await.unwrap_err();
    assert_eq!(code(&err), "capability_denied");
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "a denied request reached the server");

    let fetch = FunctionSettings { allowed_hosts: vec![addr.clone()], ..FunctionSettings::default() };
    deploy(&client, "fetch", "http-fetch", fetch).await;
    let out = invoke(&client, "fetch", json!({"url": format!("http://{addr}/ping")})).await.expect("allowed fetch");
    assert_eq!(out, json!({"status": 200, "body": "pong"}));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let err = invoke(&client, "misbehave", json!({"do": "send", "instance": "other:orders:1", "event": "go"}))
        .await
        .unwrap_err();
    assert_eq!(code(&err), "capability_denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_each_count_exactly_once() {
    let server = TestServer::start();
    let client = server.client();
    deploy(
        &client,
        "counter",
        "kv-counter",
        FunctionSettings { kv_buckets: vec!["counters".into()], ..Default::default() },
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..48 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move { invoke(&client, "counter", json!({"key": "c"})).await }));
    }
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap().expect("counter")["count"].as_u64().unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=48).collect::<Vec<u64>>());
    let value = client.kv_get("acme", "counters", "c").await.unwrap();
    assert_eq!(value.value, b"48");
    assert_eq!(recorded(&client, "counter", 48).await.len(), 48);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loads_the_compiled_artifact_instead_of_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(dir.path(), &[]);
    let client = server.client();
    deploy(&client, "hello", "hello", FunctionSettings::default()).await;
    assert_eq!(gauge(&client, "switchyard_function_compilations").await, 1.0);
    assert!(server.terminate().success());

    let server = TestServer::start_in(dir.path(), &[]);
    let client = server.client();
    assert_hello_answers(&client).await;
    assert_eq!(gauge(&client, "switchyard_function_compilations").await, 0.0, "the restart recompiled");
    assert_eq!(gauge(&client, "switchyard_function_cache_loads").await, 1.0);
}

async fn async_invocations_complete_into_the_log(client: &Client) {
    deploy(client, "charge", "charge-card", FunctionSettings::default()).await;
    let mut watch = client
        .watch(
            "acme",
            &WatchQuery { from: Some("1".into()), kind: Some("function.completed".into()), ..Default::default() },
        )
        .await
        .expect("watch");
    let options = InvokeOptions { idempotency_key: Some("order-7".into()), ..InvokeOptions::default() };
    let input = serde_json::to_vec(&json!({"amount": 1250, "currency": "EUR"})).unwrap();
    let pending = client.invoke_async("acme", "charge", input.clone(), &options).await.expect("invoke async");
    let id = pending["id"].as_str().unwrap().to_owned();
    let again = client.invoke_async("acme", "charge", input, &options).await.expect("repeat");
    assert_eq!(again["id"], id.as_str(), "the same idempotency key returns the first invocation");

    let record = within("a completion", PATIENCE, watch.next()).await.unwrap().unwrap();
    assert_eq!(record.address, "acme:charge");
    assert_eq!(record.payload["invocation_id"], id.as_str());
    assert_eq!(record.payload["status"], "succeeded");
    assert_eq!(record.payload["output"]["amount"], 1250);
    let charge_id = record.payload["output"]["charge_id"].as_str().unwrap().to_owned();

    let stored = client.get_invocation("acme", &id).await.unwrap();
    assert_eq!(stored["status"], "succeeded");
    assert_eq!(stored["async"], true);
    assert_eq!(stored["output"]["charge_id"], charge_id.as_str());

    let declined = serde_json::to_vec(&json!({"amount": 5, "fail": "declined"})).unwrap();
    let pending = client.invoke_async("acme", "charge", declined, &InvokeOptions::default()).await.unwrap();
    let record = within("a completion", PATIENCE, watch.next()).await.unwrap().unwrap();
    assert_eq!(record.payload["invocation_id"], pending["id"]);
    assert_eq!(record.payload["status"], "failed");
    assert_eq!(record.payload["error"]["code"], "card_declined");
}

/// Answers every HTTP request on `listener` with 200 `ok`.
async fn answer_ok(listener: tokio::net::TcpListener) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { return };
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_invocations_retry_by_the_functions_policy_die_and_are_redriven() {
    let server = TestServer::start_with(&["--function-allow-private-networks"]);
    let client = server.client();
    // A port nothing listens on, yet: every attempt to reach it is refused (a retryable error).
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let retry = json!({"max_attempts": 3, "initial": "20ms", "jitter": "none"});
    let settings = FunctionSettings {
        allowed_hosts: vec![format!("127.0.0.1:{port}")],
        retry: Some(retry.clone()),
        ..FunctionSettings::default()
    };
    let deployed = deploy(&client, "fetch", "misbehave", settings).await;
    assert_eq!(deployed.settings["retry"]["max_attempts"], 3, "{:?}", deployed.settings);
    let input = serde_json::to_vec(&json!({"do": "http", "url": format!("http://127.0.0.1:{port}/")})).unwrap();
    let accepted = client.invoke_async("acme", "fetch", input, &InvokeOptions::default()).await.expect("accepted");
    let id = accepted["id"].as_str().unwrap().to_owned();
    let settled = |want: &'static str| {
        let (client, id) = (client.clone(), id.clone());
        async move {
            wait_until(&format!("the invocation to be {want}"), PATIENCE, || async {
                let record = client.get_invocation("acme", &id).await.expect("record");
                (record["status"] == want).then_some(record)
            })
            .await
        }
    };
    let failed = settled("failed").await;
    assert_eq!(failed["attempt"], 3, "every attempt the policy allows: {failed}");
    assert_eq!(failed["error"]["code"], "http_connection_refused", "{failed}");
    let job = client.get_job("acme", &id).await.expect("the invocation's job");
    assert_eq!(
        (&job["kind"], &job["status"], &job["attempt"]),
        (&json!("invocation"), &json!("dead"), &json!(3)),
        "{job}"
    );
    assert_eq!(job["attempts"].as_array().map(Vec::len), Some(3), "{job}");
    assert!(
        job["attempts"].as_array().unwrap().iter().all(|a| a["error"]["code"] == "http_connection_refused"),
        "{job}"
    );

    // The target comes up; re-driving the dead job runs the invocation again, from attempt 1.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind the port again");
    tokio::spawn(answer_ok(listener));
    client.retry_job("acme", &id, None).await.expect("re-drive");
    let succeeded = settled("succeeded").await;
    assert_eq!(
        (&succeeded["attempt"], &succeeded["output"]),
        (&json!(1), &json!({"status": 200, "body": "ok"})),
        "{succeeded}"
    );
    assert!(succeeded["error"].is_null(), "{succeeded}");

    // An error the guest marks as not retryable ends the invocation at its first attempt.
    let input = serde_json::to_vec(&json!({"do": "fail", "code": "card_declined"})).unwrap();
    let accepted = client.invoke_async("acme", "fetch", input, &InvokeOptions::default()).await.expect("accepted");
    let id = accepted["id"].as_str().unwrap().to_owned();
    let record = wait_until("the failing invocation to end", PATIENCE, || async {
        let record = client.get_invocation("acme", &id).await.expect("record");
        (record["status"] != "pending").then_some(record)
    })
    .await;
    assert_eq!((&record["status"], &record["attempt"]), (&json!("failed"), &json!(1)), "{record}");
    assert_eq!(record["error"]["code"], "card_declined");
    let job = client.get_job("acme", &id).await.expect("job");
    assert_eq!((&job["status"], &job["attempt"]), (&json!("dead"), &json!(1)), "{job}");

    // A policy that breaks a rule is refused at deploy.
    let bad = FunctionSettings { retry: Some(json!({"max_attempts": 0})), ..FunctionSettings::default() };
    let refused =
        client.deploy_function("acme", "fetch", &example_function_bytes("misbehave"), &bad).await.expect_err("refused");
    assert_eq!(code(&refused), "validation_failed", "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_invocations_are_idempotent_and_complete_into_the_log_on_sqlite() {
    let server = TestServer::start();
    async_invocations_complete_into_the_log(&server.client()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_deploy_invoke_and_record_on_postgres() {
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
    let server = TestServer::start_with(&["--store", db.url()]);
    let client = server.client();
    async_invocations_complete_into_the_log(&client).await;
    deploy(&client, "hello", "hello", FunctionSettings::default()).await;
    assert_hello_answers(&client).await;
    let records = recorded(&client, "hello", 1).await;
    assert_eq!(records[0]["status"], "succeeded");
    assert_eq!(records[0]["async"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_invocation_accepted_before_a_sigkill_runs_again_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--job-lease", "2s"];
    let mut server = TestServer::start_in(dir.path(), &args);
    let client = server.client();
    deploy(&client, "spin", "misbehave", FunctionSettings { timeout_ms: Some(4000), ..FunctionSettings::default() })
        .await;
    let input = serde_json::to_vec(&json!({"do": "spin", "ms": 1500})).unwrap();
    let pending = client.invoke_async("acme", "spin", input, &InvokeOptions::default()).await.expect("accepted");
    let id = pending["id"].as_str().unwrap().to_owned();
    // Killed while the first attempt spins: it never finishes.
    wait_until("the first attempt to be running", PATIENCE, || async {
        (support::gauge(&client, "switchyard_function_running_invocations").await == 1.0).then_some(())
    })
    .await;
    server.kill();

    let server = TestServer::start_in(dir.path(), &args);
    let client = server.client();
    let before = client.get_invocation("acme", &id).await.expect("the accepted invocation survived");
    assert_eq!(before["status"], "pending");
    // Its job's lease (2 s, never renewed by the dead node) ends; the next lease round takes it
    // back as a failed attempt and runs it as attempt 2.
    let record = wait_for(
        "the invocation to finish after the restart",
        PATIENCE,
        || async { client.get_invocation("acme", &id).await.unwrap() },
        |record| record["status"] != "pending",
    )
    .await;
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["attempt"], 2);
    assert_eq!(record["output"], json!({"spun_ms": 1500}));
}
