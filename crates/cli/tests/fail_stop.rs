//! Fail-stop after a storage I/O error, through the real binary under the faultfs shim
//! (`crates/faultfs`), which makes the chosen operation on the store's WAL fail once armed.
//!
//! README, Durability: "If the disk fails a commit or an fsync, the server stops accepting
//! writes (`unavailable`, and `/readyz` answers 503) rather than guess what is durable; restart
//! it once the disk is healthy." These tests show, for a failed fsync and for a failed write at
//! commit: the write that met the fault is refused; every later write is refused with 503
//! `unavailable` even once the disk is healthy again; reads, history, the watch stream,
//! `/healthz` and `/metrics` go on; `/readyz` answers 503. After the server is killed and
//! restarted without the fault, every acknowledged write is there, every write refused after
//! the failure is absent, and the write that met the fault is there in full or not at all — as
//! the process left the files, and after a power loss on top.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use support::TestServer;
use support::sse::SseReader;
use switchyard_faultfs::{Errno, Fault, FaultFs, FaultOp};
use switchyard_testkit::PATIENCE;

const SPACE: &str = "disk";
const WAL: &str = "switchyard.db-wal";
/// The batch that meets the fault. Write faults fail only WAL writes carrying this id, so the
/// node's own background writes (heartbeats) never meet the fault first.
const FAULTED: &str = "faulted-batch";

const CYCLE: &str = r#"{
  "name": "cycle",
  "initial": "s0",
  "states": ["s0", "s1", "s2"],
  "transitions": [
    {"from": "s0", "event": "next", "to": "s1"},
    {"from": "s1", "event": "next", "to": "s2"},
    {"from": "s2", "event": "next", "to": "s0"}
  ]
}"#;

/// Requests to one server, answering `(status, body)`; a body that is not JSON comes back as a
/// JSON string.
struct Api {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Api {
    fn new(server: &TestServer) -> Api {
        Api { base: server.url.clone(), token: server.admin_token.clone(), client: reqwest::Client::new() }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.bearer_auth(&self.token).timeout(Duration::from_secs(60)).send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.client.get(format!("{}{path}", self.base))).await
    }

    async fn put_machine(&self) -> (u16, Value) {
        let url = format!("{}/v1/spaces/{SPACE}/machines/cycle", self.base);
        self.send(self.client.put(url).header("content-type", "application/json").body(CYCLE)).await
    }

    async fn create(&self, id: &str) -> (u16, Value) {
        let url = format!("{}/v1/spaces/{SPACE}/machines/cycle/instances", self.base);
        self.send(self.client.post(url).json(&json!({ "id": id }))).await
    }

    async fn event(&self, id: &str, key: &str) -> (u16, Value) {
        let url = format!("{}/v1/spaces/{SPACE}/machines/cycle/instances/{id}/events", self.base);
        self.send(self.client.post(url).json(&json!({ "event": "next", "idempotency_key": key }))).await
    }

    /// An atomic batch: create `id` and move it on.
    async fn batch(&self, id: &str) -> (u16, Value) {
        let operations = json!({ "operations": [
            { "op": "create_instance", "space": SPACE, "machine": "cycle", "id": id },
            { "op": "apply_event", "space": SPACE, "machine": "cycle", "instance": id, "event": "next" },
        ]});
        self.send(self.client.post(format!("{}/v1/batch", self.base)).json(&operations)).await
    }

    async fn put_key(&self, key: &str, value: &str) -> (u16, Value) {
        let url = format!("{}/v1/spaces/{SPACE}/kv/kv/keys/{key}", self.base);
        self.send(self.client.put(url).header("content-type", "text/plain").body(value.to_string())).await
    }

    async fn history(&self, id: &str) -> Vec<Value> {
        let (status, page) = self.get(&format!("/v1/spaces/{SPACE}/machines/cycle/instances/{id}/history")).await;
        assert_eq!(status, 200, "{page}");
        page["events"].as_array().expect("events").clone()
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// Asserts an answer is 503 `unavailable` saying the store stopped after a storage failure.
fn assert_refused(what: &str, (status, body): (u16, Value)) {
    assert_eq!((status, code(&body)), (503, "unavailable"), "{what}: {body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("the store stopped accepting writes after a storage failure (")
            && message.ends_with("); restart the server"),
        "{what}: {message}"
    );
}

/// What was acknowledged before the fault: instance `a` created and moved on twice, key `k1`.
async fn acknowledged_writes(api: &Api) {
    assert_eq!(api.put_machine().await.0, 200);
    assert_eq!(api.create("a").await.0, 201);
    for key in ["a-1", "a-2"] {
        let (status, body) = api.event("a", key).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = api.put_key("k1", "v1").await;
    assert_eq!(status, 200, "{body}");
}

/// Everything written after the store failed: each must be refused, and stay absent.
async fn writes_after_the_failure(api: &Api) {
    assert_refused("an event", api.event("a", "a-3").await);
    assert_refused("a create", api.create("y").await);
    assert_refused("a KV put", api.put_key("k2", "v2").await);
    assert_refused("a batch", api.batch("z").await);
}

/// Reads go on while writes are refused.
async fn reads_go_on(server: &TestServer, api: &Api) {
    let (status, inst) = api.get(&format!("/v1/spaces/{SPACE}/machines/cycle/instances/a")).await;
    assert_eq!((status, inst["state"].as_str(), inst["revision"].as_u64()), (200, Some("s2"), Some(3)), "{inst}");
    let (status, list) = api.get(&format!("/v1/spaces/{SPACE}/machines/cycle/instances")).await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> =
        list["instances"].as_array().expect("instances").iter().filter_map(|i| i["id"].as_str()).collect();
    assert!(ids.contains(&"a") && !ids.contains(&"y") && !ids.contains(&"z"), "{ids:?}");
    let kinds: Vec<Value> = api.history("a").await.iter().map(|r| r["kind"].clone()).collect();
    assert_eq!(kinds, ["instance.created", "instance.transitioned", "instance.transitioned"]);
    let (status, value) = api.get(&format!("/v1/spaces/{SPACE}/kv/kv/keys/k1")).await;
    assert_eq!((status, value), (200, Value::String("v1".into())));
    // The watch replays the log from the start.
    let url = format!("{}/v1/spaces/{SPACE}/watch?from=1", server.url);
    let mut watch = SseReader::open(&url, &server.admin_token, None).await;
    let mut replayed = Vec::new();
    while replayed.len() < 5 {
        let event = watch.next(PATIENCE).await.expect("the watch replays the log");
        replayed.push(event.event.expect("an event name"));
    }
    assert_eq!(
        replayed,
        ["machine.put", "instance.created", "instance.transitioned", "instance.transitioned", "kv.put"]
    );
    // Liveness and metrics answer; readiness does not.
    let plain = reqwest::Client::new();
    let health = plain.get(format!("{}/healthz", server.url)).send().await.expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.text().await.expect("body"), "ok\n");
    let metrics = plain.get(format!("{}/metrics", server.url)).send().await.expect("metrics");
    assert_eq!(metrics.status().as_u16(), 200);
    assert!(metrics.text().await.expect("body").contains("switchyard_store_fsync_seconds"));
    let ready = plain.get(format!("{}/readyz", server.url)).send().await.expect("readyz");
    assert_eq!(ready.status().as_u16(), 503);
    let body: Value = ready.json().await.expect("an error body");
    assert_eq!(code(&body), "unavailable", "{body}");
}

/// Starts a server without the shim on `data` and checks what survived. Returns whether the
/// batch [`FAULTED`], which met the fault, is there (in full: never half).
async fn survivors(data: &Path) -> bool {
    let server = TestServer::start_in(data, &[]);
    let api = Api::new(&server);
    let ready = reqwest::get(format!("{}/readyz", server.url)).await.expect("readyz");
    assert_eq!(ready.status().as_u16(), 200, "the store opens");
    // Acknowledged: all there.
    let keys: Vec<Value> = api.history("a").await.iter().map(|r| r["idempotency_key"].clone()).collect();
    assert_eq!(keys, [Value::Null, json!("a-1"), json!("a-2")], "a's acknowledged events, and not the refused a-3");
    let (status, value) = api.get(&format!("/v1/spaces/{SPACE}/kv/kv/keys/k1")).await;
    assert_eq!((status, value), (200, Value::String("v1".into())));
    // Refused after the failure: absent.
    for id in ["y", "z"] {
        let (status, body) = api.get(&format!("/v1/spaces/{SPACE}/machines/cycle/instances/{id}")).await;
        assert_eq!((status, code(&body)), (404, "instance_not_found"), "{id}: {body}");
    }
    let (status, body) = api.get(&format!("/v1/spaces/{SPACE}/kv/kv/keys/k2")).await;
    assert_eq!((status, code(&body)), (404, "key_not_found"), "{body}");
    // The batch that met the fault: all or nothing.
    let (status, body) = api.get(&format!("/v1/spaces/{SPACE}/machines/cycle/instances/{FAULTED}")).await;
    match status {
        404 => false,
        200 => {
            assert_eq!(
                (body["state"].as_str(), body["revision"].as_u64()),
                (Some("s1"), Some(2)),
                "the batch whole: {body}"
            );
            assert_eq!(api.history(FAULTED).await.len(), 2, "the batch whole");
            true
        }
        other => panic!("GET x: {other} {body}"),
    }
}

struct Dirs {
    _root: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    faultfs: FaultFs,
}

fn dirs() -> Dirs {
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data");
    let scratch = root.path().join("scratch");
    std::fs::create_dir(&data).expect("mkdir data");
    std::fs::create_dir(&scratch).expect("mkdir scratch");
    let faultfs = FaultFs::new(&data, &scratch);
    Dirs { root: root.path().to_path_buf(), data, faultfs, _root: root }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

/// Runs the scenario with `fault` armed on the WAL; `faulted` checks the answer to the write
/// that met it. Returns whether that write survived, as the process left the files and after a
/// power loss.
async fn fail_stop(fault: Fault, faulted: impl FnOnce((u16, Value))) -> (bool, bool) {
    let dirs = dirs();
    let mut server = TestServer::start_in_with_env(&dirs.data, &["--durability", "fsync"], &dirs.faultfs.env());
    let api = Api::new(&server);
    acknowledged_writes(&api).await;

    dirs.faultfs.inject(&[fault]);
    faulted(api.batch(FAULTED).await);
    // The disk is healthy again, but the store stays stopped until a restart.
    dirs.faultfs.inject(&[]);
    writes_after_the_failure(&api).await;
    reads_go_on(&server, &api).await;
    server.kill();

    // Two ways the story can end: the machine stays up (the page cache keeps what the process
    // wrote), or it loses power too.
    let process_crash = dirs.root.join("process-crash");
    copy_dir(&dirs.data, &process_crash);
    dirs.faultfs.power_loss();
    (survivors(&process_crash).await, survivors(&dirs.data).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_wal_fsync_stops_writes_until_restart_while_reads_go_on() {
    let (after_crash, after_power_loss) = fail_stop(Fault::new(FaultOp::Fsync, Errno::Eio).on(WAL), |answer| {
        // Its commit went through and its fsync failed: 503, outcome unknown. (Should a
        // background commit's fsync meet the fault first, this batch is refused before it
        // commits, with the store-stopped refusal: both are fine answers to a dying disk.)
        let (status, body) = &answer;
        let message = body["error"]["message"].as_str().unwrap_or_default();
        if message.starts_with("this write may or may not have been applied") {
            assert_eq!((*status, code(body)), (503, "unavailable"), "{body}");
            assert!(message.contains("it was committed but not made durable (fsync of "), "{message}");
        } else {
            assert_refused("the write whose fsync failed", answer)
        }
    })
    .await;
    // It had committed before its fsync failed, so a restart may find it (in full: `survivors`
    // checks); what no sync made durable is gone after a power loss. (Should a background
    // commit's fsync meet the fault first, the batch is refused before committing: the same
    // answer, and absent either way.)
    eprintln!("the batch whose fsync failed: after a crash {after_crash}, after a power loss {after_power_loss}");
    assert!(!after_power_loss, "never made durable, it is gone after a power loss");
}

/// Asserts an answer is the one to a write whose commit failed: 503 `unavailable`, the store
/// stopped, and this write was not applied.
fn assert_commit_failed((status, body): (u16, Value)) {
    assert_eq!((status, code(&body)), (503, "unavailable"), "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("the store stopped accepting writes after a storage failure (commit failed: ")
            && message.ends_with("; this write was not applied); restart the server"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_wal_write_at_commit_stops_writes_until_restart_while_reads_go_on() {
    let (after_crash, after_power_loss) =
        fail_stop(Fault::new(FaultOp::Write, Errno::Eio).on(WAL).containing(FAULTED), assert_commit_failed).await;
    assert!(!after_crash && !after_power_loss, "its commit failed: it was never applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_at_commit_stops_writes_until_restart_while_reads_go_on() {
    // ENOSPC reaches the writer as SQLITE_FULL, not as an I/O error: it must stop the store too.
    let (after_crash, after_power_loss) =
        fail_stop(Fault::new(FaultOp::Write, Errno::Enospc).on(WAL).containing(FAULTED), assert_commit_failed).await;
    assert!(!after_crash && !after_power_loss, "its commit failed: it was never applied");
}
