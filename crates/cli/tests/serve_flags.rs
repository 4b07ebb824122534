//! Every `switchyard serve` flag is driven through the real binary, here or in another test
//! file: each test starts the server with the flag and asserts what it changes as a user sees it
//! (HTTP answers, `/metrics`, the cluster's node list). [`FLAGS`] names, for every flag `serve
//! --help` lists, the test that drives it; `every_serve_flag_is_driven_by_a_named_test` fails
//! when a flag is added without one, or when the named test stops passing the flag.

mod support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::http::{Http, code};
use support::net::{Gate, non_loopback_ipv4};
use support::target::{Answer, Target};
use support::{TestServer, gauge, series};
use switchyard_client::{Client, ClientError, FunctionSettings, InvokeOptions, Publish, WatchQuery};
use switchyard_testkit::{PATIENCE, TestDatabase, example_function_bytes, wait_for, wait_until, within};

const MIB: u64 = 1024 * 1024;

/// Where a flag is driven: by a test in this file, or by the tests of another file.
enum Driven {
    /// The test function in this file; its body passes the flag.
    Here(&'static str),
    /// A test file of this crate that passes the flag (what it asserts is that file's business).
    In(&'static str),
}

use Driven::{Here, In};

/// Every flag of `switchyard serve --help`, with the test that drives it.
const FLAGS: &[(&str, Driven)] = &[
    ("--config-file", In("serve_config.rs")),
    ("--print-config", In("serve_config.rs")),
    ("--log-level", In("serve_config.rs")),
    // The harness passes it to every server it starts.
    ("--data-dir", In("support/mod.rs")),
    ("--store", In("multinode.rs")),
    ("--advertise", Here("advertise_is_the_address_the_cluster_lists_for_the_node")),
    // The harness passes it to every server it starts (port 0, read back from stdout).
    ("--listen", In("support/mod.rs")),
    ("--tls-cert", In("tls.rs")),
    ("--tls-key", In("tls.rs")),
    ("--durability", Here("durability_decides_when_the_wal_is_fsynced")),
    ("--max-body-bytes", In("api_http.rs")),
    ("--max-context-bytes", In("json_limits.rs")),
    ("--metrics-access", In("authorise_first.rs")),
    ("--metrics-public", Here("metrics_public_serves_metrics_without_a_token_to_other_addresses")),
    ("--idempotency-retention", Here("idempotency_keys_are_forgotten_after_the_retention")),
    ("--log-retention", In("streams.rs")),
    ("--log-retention-bytes", Here("log_retention_bytes_keeps_the_newest_records_that_fill_the_limit")),
    ("--maintenance-interval", In("streams.rs")),
    ("--quota-interval", In("quotas.rs")),
    ("--watch-buffer", In("watch.rs")),
    ("--watch-poll-ms", Here("watch_poll_ms_is_how_often_a_node_reads_what_other_nodes_wrote")),
    ("--invocation-retention", Here("invocation_records_are_forgotten_after_the_retention")),
    ("--function-slots", Here("function_slots_bound_the_invocations_running_at_once_on_the_node")),
    ("--function-slots-per-space", In("function_limits.rs")),
    ("--function-memory-budget", In("function_limits.rs")),
    ("--function-max-memory", Here("function_max_memory_bounds_the_memory_limit_a_deploy_may_ask")),
    ("--function-allow-private-networks", Here("functions_reach_private_addresses_only_when_allowed")),
    ("--job-slots", Here("job_slots_bound_the_jobs_running_at_once_on_the_node")),
    ("--job-space-limit", Here("job_space_limit_bounds_the_jobs_of_one_space_running_at_once")),
    ("--job-lease", In("functions.rs")),
    ("--job-retention", Here("finished_jobs_are_forgotten_after_the_retention_and_dead_ones_kept")),
    ("--jobs-allow-private-networks", Here("http_jobs_reach_private_addresses_only_when_allowed")),
    ("--header-read-timeout", In("connections.rs")),
    ("--idle-timeout", In("connections.rs")),
    ("--body-read-timeout", In("connections.rs")),
    ("--max-connections", In("connections.rs")),
    ("--shutdown-grace", In("shutdown.rs")),
    ("--no-console", In("console.rs")),
    ("--session-ttl", In("authorization_matrix.rs")),
    ("--tls-client-ca", In("mtls.rs")),
    ("--reset-admin-token", In("reset_admin_token.rs")),
    ("--help", Here("every_serve_flag_is_driven_by_a_named_test")),
];

/// The long flag an option line of `--help` starts with: option lines are indented by at most six
/// spaces (`  -h, --help`, `      --listen <LISTEN>`), their descriptions by more, so a wrapped
/// description that begins with a flag's name is not taken for an option.
fn flag_of_help_line(line: &str) -> Option<String> {
    let indent = line.len() - line.trim_start().len();
    let text = line.trim_start();
    if indent > 6 || !text.starts_with('-') {
        return None;
    }
    let long = text.split(", ").find(|part| part.starts_with("--"))?;
    Some(long.split([' ', '=', '<']).next()?.to_string())
}

/// The body of `fn name(` in `source`: up to the next line that closes an item.
fn fn_body<'a>(source: &'a str, name: &str) -> Option<&'a str> {
    let start = source.find(&format!("fn {name}("))?;
    let rest = &source[start..];
    let end = rest.find("\n}\n").map_or(rest.len(), |i| i + 3);
    Some(&rest[..end])
}

#[test]
fn every_serve_flag_is_driven_by_a_named_test() {
    let out = Command::new(support::binary()).args(["serve", "--help"]).output().expect("run serve --help");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let help = String::from_utf8(out.stdout).expect("utf-8 help");
    let listed: BTreeSet<String> = help.lines().filter_map(flag_of_help_line).collect();
    let tabled: BTreeSet<String> = FLAGS.iter().map(|(flag, _)| flag.to_string()).collect();
    assert_eq!(FLAGS.len(), tabled.len(), "a flag is in FLAGS twice");
    let untested: Vec<&String> = listed.difference(&tabled).collect();
    let gone: Vec<&String> = tabled.difference(&listed).collect();
    assert!(
        untested.is_empty() && gone.is_empty(),
        "serve flags without a test named in FLAGS: {untested:?}; in FLAGS but no longer flags: {gone:?}"
    );

    let here = include_str!("serve_flags.rs");
    let tests = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    for (flag, driven) in FLAGS {
        let quoted = format!("\"{flag}\"");
        match driven {
            Here(test) => {
                let body = fn_body(here, test).unwrap_or_else(|| panic!("{flag}: no fn {test} in serve_flags.rs"));
                assert!(body.contains(&quoted), "{flag}: {test} does not pass it");
            }
            In(file) => {
                let path = format!("{tests}/{file}");
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{flag}: {path}: {e}"));
                assert!(text.contains(&quoted), "{flag}: {file} does not pass it");
            }
        }
    }
}

#[test]
fn flags_are_read_from_help_option_lines_only() {
    let table: &[(&str, Option<&str>)] = &[
        ("  -h, --help", Some("--help")),
        ("      --listen <LISTEN>", Some("--listen")),
        ("      --durability <DURABILITY>", Some("--durability")),
        ("      --metrics-public", Some("--metrics-public")),
        ("          --function-slots) of --function-memory-budget", None),
        ("          The URL other nodes reach", None),
        ("Options:", None),
        ("", None),
    ];
    for (line, want) in table {
        assert_eq!(flag_of_help_line(line).as_deref(), *want, "{line:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advertise_is_the_address_the_cluster_lists_for_the_node() {
    let advertised = "https://node-7.internal.example:7443";
    let server = TestServer::start_with(&["--advertise", advertised]);
    assert_eq!(node_addresses(&server).await, [advertised]);
    // Without it, a node is listed at the address it listens on.
    let plain = TestServer::start();
    assert_eq!(node_addresses(&plain).await, std::slice::from_ref(&plain.url));
}

async fn node_addresses(server: &TestServer) -> Vec<String> {
    let (status, body) = Http::new(server).get("/v1/cluster/nodes").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let nodes = body["nodes"].as_array().expect("nodes");
    nodes.iter().map(|n| n["address"].as_str().expect("address").to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_public_serves_metrics_without_a_token_to_other_addresses() {
    // From loopback the default (`auto`) already answers without a token; only a request from
    // another address tells `--metrics-public` apart.
    let ip = non_loopback_ipv4().expect("this test needs a non-loopback IPv4 address on the machine");
    let dir = tempfile::tempdir().expect("temp dir");
    let public = Listening::start(dir.path(), &["--metrics-public"]);
    let (status, body) = metrics_from(&public.at(ip)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\nswitchyard_log_records "), "{body}");

    let dir = tempfile::tempdir().expect("temp dir");
    let auto = Listening::start(dir.path(), &[]);
    let (status, body) = metrics_from(&auto.at(ip)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "without the flag another address needs a token: {body}");
}

/// A server listening on every address (the harness listens on loopback only).
struct Listening {
    child: std::process::Child,
    port: String,
}

impl Listening {
    fn start(data_dir: &std::path::Path, extra: &[&str]) -> Listening {
        let mut child = Command::new(support::binary())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn switchyard serve");
        let url = support::listening_url(&mut child);
        let port = url.rsplit(':').next().expect("a port").to_string();
        Listening { child, port }
    }

    fn at(&self, ip: Ipv4Addr) -> String {
        format!("http://{ip}:{}", self.port)
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn metrics_from(base: &str) -> (StatusCode, String) {
    let resp = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("metrics request");
    (resp.status(), resp.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_forgotten_after_the_retention() {
    // 4 s: the replay and the refusal right after the first publish happen well within it.
    let server = TestServer::start_with(&["--idempotency-retention", "4s", "--maintenance-interval", "100ms"]);
    let http = Http::new(&server);
    let publish = |n: u64| {
        let http = &http;
        async move {
            let (status, _, body) = http
                .send_with(
                    Method::POST,
                    "/v1/spaces/acme/topics/orders/messages",
                    &[("Idempotency-Key", "order-1")],
                    Some(json!({ "payload": { "n": n } })),
                )
                .await;
            (status, body)
        }
    };
    let (status, first) = publish(1).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, replay) = publish(1).await;
    assert_eq!((status, &replay), (StatusCode::OK, &first), "a retry returns the original");
    let (status, reused) = publish(2).await;
    assert_eq!((status, code(&reused)), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"), "{reused}");

    // Past the retention the key is forgotten: the same key with another body is a new message.
    let fresh = wait_until("the key to be forgotten", PATIENCE, || async {
        let (status, body) = publish(2).await;
        match status {
            StatusCode::CREATED => Some(body),
            StatusCode::UNPROCESSABLE_ENTITY => None,
            other => panic!("unexpected {other}: {body}"),
        }
    })
    .await;
    assert!(fresh["seq"].as_u64() > first["seq"].as_u64(), "{fresh} after {first}");
    // From then on the key stands for the new message.
    let (status, replay) = publish(2).await;
    assert_eq!((status, &replay), (StatusCode::OK, &fresh));
}

async fn publish(client: &Client, topic: &str, payload: Value) -> u64 {
    let message = Publish { payload, key: None, headers: Default::default(), idempotency_key: None };
    client.publish("acme", topic, &message).await.expect("publish").seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_retention_bytes_keeps_the_newest_records_that_fill_the_limit() {
    const LIMIT: u64 = 1000;
    let server = TestServer::start_with(&["--log-retention-bytes", "1000", "--maintenance-interval", "100ms"]);
    let client = server.client();
    // Records of one size: the same topic and payloads of the same length.
    let body = |n: u64| json!({ "n": format!("{n:04}"), "pad": "x".repeat(40) });
    // The log starts with the first start's audit record (the admin token's creation), of
    // another size: a message's size is what one adds.
    let before = gauge(&client, "switchyard_log_bytes").await as u64;
    publish(&client, "audit", body(0)).await;
    let size = gauge(&client, "switchyard_log_bytes").await as u64 - before;
    assert!(size > 0 && size < LIMIT / 4, "a record of {size} bytes");
    assert_eq!(gauge(&client, "switchyard_log_records").await, 2.0, "nothing is trimmed below the limit");
    let mut newest = 0;
    for n in 1..40 {
        newest = publish(&client, "audit", body(n)).await;
    }
    // A record is trimmed only while what is left still fills the limit: the log keeps the
    // fewest newest records that hold at least LIMIT bytes.
    let kept = LIMIT.div_ceil(size);
    let records = wait_for(
        "the log to be trimmed to the limit",
        PATIENCE,
        || gauge(&client, "switchyard_log_records"),
        |records| *records == kept as f64,
    )
    .await;
    assert_eq!(records, kept as f64);
    assert_eq!(gauge(&client, "switchyard_log_bytes").await, (kept * size) as f64);
    assert_eq!(gauge(&client, "switchyard_log_oldest_seq").await, (newest + 1 - kept) as f64);
    assert_eq!(gauge(&client, "switchyard_log_newest_seq").await, newest as f64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_poll_ms_is_how_often_a_node_reads_what_other_nodes_wrote() {
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
    let (dir_slow, dir_quick) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    // An hour: within this test the slow node reads the log only when it writes to it itself.
    let slow = TestServer::start_in(dir_slow.path(), &["--store", db.url(), "--watch-poll-ms", "3600000"]);
    let quick = TestServer::start_node(dir_quick.path(), &["--store", db.url()], &slow.admin_token);
    let (slow_client, quick_client) = (slow.client(), quick.client());
    let mut on_slow = slow_client.watch("acme", &WatchQuery::default()).await.expect("watch on the slow node");
    let mut on_quick = quick_client.watch("acme", &WatchQuery::default()).await.expect("watch on the quick node");
    // A watch replays what the store holds past its start before it goes live, and that replay
    // may run after the watch's answer began: a first record through the slow node, seen by both
    // watchers, makes sure both are live before the write the slow node must not see early.
    let first = publish(&slow_client, "t", json!({ "via": "slow, first" })).await;
    for on in [&mut on_slow, &mut on_quick] {
        let seen = within("the first record", PATIENCE, on.next()).await.expect("watch").expect("record");
        assert_eq!(seen.seq, first);
    }

    let from_quick = publish(&quick_client, "t", json!({ "via": "quick" })).await;
    let seen = within("the quick node's own write", PATIENCE, on_quick.next()).await.expect("watch").expect("record");
    assert_eq!(seen.seq, from_quick);
    // Two seconds, far below the hour: the slow node has not read the log since.
    let early = tokio::time::timeout(Duration::from_secs(2), on_slow.next()).await;
    assert!(early.is_err(), "the slow node read another node's write before its poll: {early:?}");

    // A write through the slow node makes it read the log: both records arrive, in order.
    let from_slow = publish(&slow_client, "t", json!({ "via": "slow" })).await;
    for want in [from_quick, from_slow] {
        let seen = within("the slow node's watcher", PATIENCE, on_slow.next()).await.expect("watch").expect("record");
        assert_eq!(seen.seq, want);
    }
    // The quick node polls at the default 20 ms and picks up the slow node's write.
    let seen = within("the quick node's poll", PATIENCE, on_quick.next()).await.expect("watch").expect("record");
    assert_eq!(seen.seq, from_slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_records_are_forgotten_after_the_retention() {
    let server = TestServer::start_with(&["--invocation-retention", "2s", "--maintenance-interval", "100ms"]);
    let client = server.client();
    let hello = example_function_bytes("hello");
    client.deploy_function("acme", "hello", &hello, &FunctionSettings::default()).await.expect("deploy");
    let input = br#"{"name":"Ada"}"#.to_vec();
    let pending = client.invoke_async("acme", "hello", input, &InvokeOptions::default()).await.expect("accepted");
    let id = pending["id"].as_str().expect("an id").to_owned();
    // Retention counts from when a record finished; a finished record is kept for two seconds.
    let finished = wait_for(
        "the invocation to finish",
        PATIENCE,
        || client.get_invocation("acme", &id),
        |record| record.as_ref().is_ok_and(|r| r["status"] != "pending"),
    )
    .await
    .expect("the record");
    assert_eq!(finished["status"], "succeeded", "{finished}");
    let gone =
        wait_until("the record to be forgotten", PATIENCE, || async { client.get_invocation("acme", &id).await.err() })
            .await;
    assert_eq!((gone.status(), gone.code()), (Some(404), Some("invocation_not_found")), "{gone}");
    let page = client.list_invocations("acme", "hello", None, None).await.expect("list");
    assert!(page.invocations.is_empty(), "{:?}", page.invocations);
}

async fn invoke_json(client: &Client, space: &str, name: &str, input: Value) -> Result<Value, ClientError> {
    let out =
        client.invoke(space, name, serde_json::to_vec(&input).expect("encode"), &InvokeOptions::default()).await?;
    Ok(serde_json::from_slice(&out.body).expect("JSON output"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_slots_bound_the_invocations_running_at_once_on_the_node() {
    // One slot on the node. The two invocations are in different spaces, so the per-space
    // share (a quarter of the slots, at least one each) would let both run: only the node's
    // limit makes the second wait.
    let server = TestServer::start_with(&["--function-slots", "1", "--function-allow-private-networks"]);
    let client = server.client();
    let gate = Gate::start().await;
    let patient = |hosts: Vec<String>| FunctionSettings {
        timeout_ms: Some(120_000),
        memory_bytes: Some(16 * MIB),
        allowed_hosts: hosts,
        ..FunctionSettings::default()
    };
    let fetch = example_function_bytes("http-fetch");
    client.deploy_function("acme", "fetch", &fetch, &patient(vec![gate.addr.clone()])).await.expect("deploy fetch");
    let echo = example_function_bytes("misbehave");
    client.deploy_function("globex", "echo", &echo, &patient(Vec::new())).await.expect("deploy echo");

    let held = {
        let (client, url) = (client.clone(), format!("http://{}/held", gate.addr));
        tokio::spawn(async move { invoke_json(&client, "acme", "fetch", json!({ "url": url })).await })
    };
    wait_until("the fetch to reach the gate", PATIENCE, || async { (!gate.paths().is_empty()).then_some(()) }).await;
    let waiting = {
        let client = client.clone();
        tokio::spawn(async move { invoke_json(&client, "globex", "echo", json!({ "do": "echo", "n": 7 })).await })
    };
    wait_for(
        "the second invocation to wait for the slot",
        PATIENCE,
        || gauge(&client, "switchyard_function_waiting_invocations"),
        |n| *n == 1.0,
    )
    .await;
    assert_eq!(gauge(&client, "switchyard_function_running_invocations").await, 1.0);
    assert!(!waiting.is_finished(), "the waiting invocation answered while the slot was taken");

    gate.open();
    let fetched = held.await.expect("task").expect("the fetch answers once the gate opens");
    assert_eq!(fetched, json!({ "status": 200, "body": "ok" }));
    let echoed = waiting.await.expect("task").expect("the echo runs once the slot is free");
    assert_eq!(echoed, json!({ "do": "echo", "n": 7 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_max_memory_bounds_the_memory_limit_a_deploy_may_ask() {
    let server = TestServer::start_with(&["--function-max-memory", "32MiB"]);
    let client = server.client();
    let hello = example_function_bytes("hello");
    let with_memory = |bytes: Option<u64>| FunctionSettings { memory_bytes: bytes, ..FunctionSettings::default() };
    // Above the maximum, and the default (64 MiB) too.
    for asked in [Some(32 * MIB + 1), Some(64 * MIB), None] {
        let refused = client.deploy_function("acme", "hello", &hello, &with_memory(asked)).await.expect_err("too much");
        match &refused {
            ClientError::Api { status, code, message, .. } => {
                assert_eq!((*status, code.as_str()), (422, "validation_failed"), "{message}");
                assert_eq!(message, "memory must be between 1 MiB and 32 MiB", "{asked:?}");
            }
            other => panic!("expected a refusal, got {other}"),
        }
    }
    let info = client.deploy_function("acme", "hello", &hello, &with_memory(Some(32 * MIB))).await.expect("at the max");
    assert_eq!(info.settings["memory_bytes"], 32 * MIB);
    let out = invoke_json(&client, "acme", "hello", json!({ "name": "max" })).await.expect("it runs");
    assert_eq!(out, json!({ "greeting": "Hello, max!" }));
    // The default maximum (1 GiB) takes what this one refused.
    let roomy = TestServer::start();
    roomy.client().deploy_function("acme", "hello", &hello, &with_memory(Some(64 * MIB))).await.expect("default max");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_reach_private_addresses_only_when_allowed() {
    let (addr, accepted) = switchyard_testkit::counting_http_server("pong").await;
    let fetch = example_function_bytes("http-fetch");
    let allowed = FunctionSettings { allowed_hosts: vec![addr.clone()], ..FunctionSettings::default() };
    let url = json!({ "url": format!("http://{addr}/ping") });

    // By default an allow-listed host on loopback is refused after name resolution, before
    // any connection: the guest SDK reports it as a denied capability.
    let server = TestServer::start();
    let client = server.client();
    client.deploy_function("acme", "fetch", &fetch, &allowed).await.expect("deploy");
    let refused = invoke_json(&client, "acme", "fetch", url.clone()).await.expect_err("loopback is private");
    match &refused {
        ClientError::Api { code, message, .. } => {
            assert_eq!(code, "capability_denied", "{message}");
            assert_eq!(
                message,
                "outgoing HTTP to private, loopback and link-local addresses is not allowed on this server"
            );
        }
        other => panic!("expected a refusal, got {other}"),
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "the refused request reached the server");

    let open = TestServer::start_with(&["--function-allow-private-networks"]);
    let client = open.client();
    client.deploy_function("acme", "fetch", &fetch, &allowed).await.expect("deploy");
    let out = invoke_json(&client, "acme", "fetch", url).await.expect("allowed");
    assert_eq!(out, json!({ "status": 200, "body": "pong" }));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

/// Writes `n` messages, each acknowledged before the next is sent.
async fn write_messages(client: &Client, n: u64) {
    for i in 0..n {
        publish(client, "d", json!({ "i": i })).await;
    }
}

async fn fsyncs(client: &Client) -> f64 {
    gauge(client, "switchyard_store_fsync_seconds_count").await
}

async fn commits(client: &Client) -> f64 {
    gauge(client, "switchyard_store_commits_total").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durability_decides_when_the_wal_is_fsynced() {
    // fsync (the default): every commit is followed by its WAL fsync before the reply.
    let server = TestServer::start_with(&["--durability", "fsync"]);
    let client = server.client();
    write_messages(&client, 5).await;
    let (synced, committed) = wait_for(
        "one fsync per commit",
        PATIENCE,
        || async { (fsyncs(&client).await, commits(&client).await) },
        |(f, c)| f == c,
    )
    .await;
    assert!(committed >= 5.0, "{committed} commits");
    assert_eq!(synced, committed);
    drop(server);

    // batch:<ms>: replies do not wait for an fsync; the WAL is fsynced once per interval. An hour
    // has not passed by the time the writes are answered: none yet.
    let dir = tempfile::tempdir().expect("dir");
    let mut server = TestServer::start_in(dir.path(), &["--durability", "batch:3600000"]);
    let client = server.client();
    write_messages(&client, 5).await;
    assert!(commits(&client).await >= 5.0);
    assert_eq!(fsyncs(&client).await, 0.0, "batch fsynced before its interval");
    // What was acknowledged survives the process dying (only a power loss may lose it).
    server.kill();
    let server = TestServer::start_node(dir.path(), &[], &server.admin_token);
    // The five messages and the first start's audit record.
    assert_eq!(gauge(&server.client(), "switchyard_log_records").await, 6.0, "acknowledged writes were lost");
    drop(server);

    // A short interval: the writes are fsynced by the timer, not by the replies.
    let server = TestServer::start_with(&["--durability", "batch:50"]);
    let client = server.client();
    write_messages(&client, 1).await;
    wait_for("the interval's fsync", PATIENCE, || fsyncs(&client), |n| *n >= 1.0).await;
    drop(server);

    // none: never fsynced; acknowledged writes still survive the process dying.
    let dir = tempfile::tempdir().expect("dir");
    let mut server = TestServer::start_in(dir.path(), &["--durability", "none"]);
    let client = server.client();
    write_messages(&client, 5).await;
    assert!(commits(&client).await >= 5.0);
    assert_eq!(fsyncs(&client).await, 0.0, "none fsynced");
    server.kill();
    let server = TestServer::start_node(dir.path(), &[], &server.admin_token);
    // The five messages and the first start's audit record.
    assert_eq!(gauge(&server.client(), "switchyard_log_records").await, 6.0, "acknowledged writes were lost");

    // A value it cannot read stops the start with the forms it takes.
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(support::binary())
        .env_clear()
        .args(["serve", "--listen", "127.0.0.1:0", "--durability", "sometimes", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run serve");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("durability \"sometimes\": expected fsync, batch:<ms> or none"), "{stderr}");
}

/// Enqueues an HTTP job to `url` with one attempt; returns its id.
async fn enqueue_http_job(http: &Http, space: &str, url: String) -> String {
    let body = json!({ "kind": "http", "payload": { "url": url }, "retry": { "max_attempts": 1 } });
    let (status, job) = http.post(&format!("/v1/spaces/{space}/jobs"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    job["id"].as_str().expect("id").to_string()
}

async fn job_status(http: &Http, space: &str, id: &str) -> Value {
    http.get(&format!("/v1/spaces/{space}/jobs/{id}")).await.1
}

/// Waits until `space`'s oldest due job has waited two seconds by the server's own account
/// (`switchyard_job_oldest_due_age_seconds`): the scheduler looks at the work table at least
/// every second, so a job it could lease would have been leased by then.
async fn until_passed_over(client: &Client, space: &str) {
    let name = format!("switchyard_job_oldest_due_age_seconds{{space=\"{space}\"}}");
    wait_for(
        "the job to be passed over by two scheduler rounds",
        PATIENCE,
        || series(client, &name),
        |age| age.is_some_and(|a| a >= 2.0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_are_forgotten_after_the_retention_and_dead_ones_kept() {
    let server = TestServer::start_with(&["--job-retention", "2s", "--maintenance-interval", "100ms"]);
    let http = Http::new(&server);
    let enqueue = |body: Value| {
        let http = &http;
        async move {
            let (status, job) = http.post("/v1/spaces/acme/jobs", body).await;
            assert_eq!(status, StatusCode::CREATED, "{job}");
            job["id"].as_str().expect("id").to_string()
        }
    };
    let done = enqueue(json!({ "kind": "noop" })).await;
    // A private address is refused (no --jobs-allow-private-networks): dead at once.
    let dead = enqueue(json!({ "kind": "http", "payload": { "url": "http://127.0.0.1:9/" } })).await;
    let succeeded =
        wait_for("the job to succeed", PATIENCE, || job_status(&http, "acme", &done), |j| j["status"] == "succeeded")
            .await;
    assert!(succeeded["finished_at"].is_string(), "{succeeded}");
    // Retention counts from when a job finished; a finished job is kept for two seconds.
    let path = format!("/v1/spaces/acme/jobs/{done}");
    let gone = wait_for(
        "the succeeded job to be forgotten",
        PATIENCE,
        || http.get(&path),
        |(status, _)| *status == StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(gone.1["error"]["code"], "job_not_found", "{:?}", gone.1);
    let kept = job_status(&http, "acme", &dead).await;
    assert_eq!(kept["status"], "dead", "a dead letter waits for a person: {kept}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_slots_bound_the_jobs_running_at_once_on_the_node() {
    // One slot on the node; the jobs are in different spaces, so only the node's limit holds
    // the second back.
    let server = TestServer::start_with(&["--job-slots", "1", "--jobs-allow-private-networks"]);
    let (http, client) = (Http::new(&server), server.client());
    let target = Target::held(vec![Answer::status(200)]).await;
    let first = enqueue_http_job(&http, "acme", target.url("/first")).await;
    wait_until("the first job's request", PATIENCE, || async { (target.seen().len() == 1).then_some(()) }).await;
    let second = enqueue_http_job(&http, "globex", target.url("/second")).await;
    until_passed_over(&client, "globex").await;
    assert_eq!(target.seen().len(), 1, "a second job ran while the only slot was taken");
    let waiting = job_status(&http, "globex", &second).await;
    assert_eq!((&waiting["status"], &waiting["attempt"]), (&json!("pending"), &json!(0)), "{waiting}");
    assert_eq!(series(&client, "switchyard_job_queue_depth{space=\"globex\"}").await, Some(1.0));

    target.release();
    for (space, id) in [("acme", &first), ("globex", &second)] {
        wait_for("the job to succeed", PATIENCE, || job_status(&http, space, id), |j| j["status"] == "succeeded").await;
    }
    let paths: Vec<_> = target.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/first", "/second"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_space_limit_bounds_the_jobs_of_one_space_running_at_once() {
    let server = TestServer::start_with(&["--job-space-limit", "1", "--jobs-allow-private-networks"]);
    let (http, client) = (Http::new(&server), server.client());
    let target = Target::held(vec![Answer::status(200)]).await;
    let a1 = enqueue_http_job(&http, "acme", target.url("/acme")).await;
    wait_until("acme's first job's request", PATIENCE, || async { (target.seen().len() == 1).then_some(()) }).await;
    let a2 = enqueue_http_job(&http, "acme", target.url("/acme")).await;
    // Another space's job runs beside it: the node has free slots.
    let g1 = enqueue_http_job(&http, "globex", target.url("/globex")).await;
    wait_until("globex's job's request", PATIENCE, || async { (target.seen().len() == 2).then_some(()) }).await;
    until_passed_over(&client, "acme").await;
    let paths: Vec<_> = target.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/acme", "/globex"], "a second acme job ran beside the first");
    let waiting = job_status(&http, "acme", &a2).await;
    assert_eq!((&waiting["status"], &waiting["attempt"]), (&json!("pending"), &json!(0)), "{waiting}");
    assert_eq!(series(&client, "switchyard_jobs{space=\"acme\",status=\"running\"}").await, Some(1.0));

    target.release();
    for (space, id) in [("acme", &a1), ("acme", &a2), ("globex", &g1)] {
        wait_for("the job to succeed", PATIENCE, || job_status(&http, space, id), |j| j["status"] == "succeeded").await;
    }
    assert_eq!(target.seen().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_jobs_reach_private_addresses_only_when_allowed() {
    let target = Target::start(vec![Answer::status(200)]).await;

    // By default a loopback address is refused before any connection.
    let server = TestServer::start();
    let http = Http::new(&server);
    let id = enqueue_http_job(&http, "acme", target.url("/private")).await;
    let dead = wait_for("the job to die", PATIENCE, || job_status(&http, "acme", &id), |j| j["status"] == "dead").await;
    assert_eq!(dead["last_error"]["code"], "capability_denied", "{dead}");
    assert_eq!(target.connections(), 0, "the refused job reached the server");

    let open = TestServer::start_with(&["--jobs-allow-private-networks"]);
    let http = Http::new(&open);
    let id = enqueue_http_job(&http, "acme", target.url("/private")).await;
    let done =
        wait_for("the job to succeed", PATIENCE, || job_status(&http, "acme", &id), |j| j["status"] == "succeeded")
            .await;
    assert_eq!(done["result"]["status"], 200);
    assert_eq!(target.seen().len(), 1);
}
