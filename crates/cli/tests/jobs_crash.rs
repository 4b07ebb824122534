//! Jobs under SIGKILL and SIGTERM, against the real binary: every HTTP job completes exactly
//! once as far as its target can tell (a recording server counts the distinct
//! `Idempotency-Key`s it acknowledged — a retried attempt repeats a key, never adds one), and a
//! SIGTERM lets running jobs finish before the process exits.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};
use support::TestServer;
use support::http::Http;
use switchyard_testkit::{PATIENCE, wait_until};

/// An HTTP target that records each request's `Idempotency-Key` and, when `hold` is set, keeps
/// requests waiting until released, so jobs are in flight when the server is killed.
struct Recorder {
    addr: String,
    /// Every request's key, in arrival order (a retry repeats its key).
    keys: Arc<Mutex<Vec<String>>>,
    /// Keys of requests answered 200.
    acknowledged: Arc<Mutex<BTreeSet<String>>>,
    release: tokio::sync::watch::Sender<bool>,
}

impl Recorder {
    async fn start(hold: bool) -> Recorder {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let keys = Arc::new(Mutex::new(Vec::new()));
        let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
        let (release, released) = tokio::sync::watch::channel(!hold);
        let (k, a) = (keys.clone(), acknowledged.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (keys, acknowledged, mut released) = (k.clone(), a.clone(), released.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).to_string();
                    let key = text
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("idempotency-key: ").or_else(|| l.strip_prefix("Idempotency-Key: "))
                        })
                        .unwrap_or_default()
                        .trim()
                        .to_string();
                    keys.lock().expect("keys").push(key.clone());
                    if released.wait_for(|r| *r).await.is_err() {
                        return;
                    }
                    let reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    if socket.write_all(reply.as_bytes()).await.is_ok() {
                        acknowledged.lock().expect("acknowledged").insert(key);
                    }
                });
            }
        });
        Recorder { addr, keys, acknowledged, release }
    }

    fn release(&self) {
        self.release.send_replace(true);
    }

    fn requests(&self) -> Vec<String> {
        self.keys.lock().expect("keys").clone()
    }
}

async fn enqueue(http: &Http, space: &str, key: &str, url: &str) -> String {
    let body = json!({
        "kind": "http",
        "idempotency_key": key,
        "payload": { "url": url, "method": "POST", "body": { "key": key } },
        "retry": { "max_attempts": 20, "initial": "10ms", "max": "200ms" },
    });
    let (status, job) = http.post(&format!("/v1/spaces/{space}/jobs"), body).await;
    assert!(status.is_success(), "enqueue: {status} {job}");
    job["id"].as_str().expect("the job's id").to_string()
}

async fn statuses(http: &Http, space: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/spaces/{space}/jobs?limit=1000&after={a}"),
            None => format!("/v1/spaces/{space}/jobs?limit=1000"),
        };
        let (status, page) = http.get(&path).await;
        assert!(status.is_success(), "list: {status} {page}");
        let jobs = page["jobs"].as_array().cloned().unwrap_or_default();
        if jobs.is_empty() {
            return out;
        }
        for job in &jobs {
            out.insert(job["id"].as_str().unwrap_or_default().to_string(), job.clone());
        }
        after = jobs.last().and_then(|j| j["id"].as_str()).map(str::to_string);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_jobs_complete_exactly_once_across_sigkills() {
    let recorder = Recorder::start(true).await;
    let url = format!("http://{}/effect", recorder.addr);
    let data = tempfile::tempdir().expect("temp dir");
    let args = ["--jobs-allow-private-networks", "--job-slots", "8"];
    let mut server = TestServer::start_in(data.path(), &args);
    let http = Http::new(&server);
    const JOBS: usize = 120;
    let mut ids = BTreeMap::new();
    for i in 0..JOBS {
        let key = format!("effect-{i:03}");
        ids.insert(enqueue(&http, "acme", &key, &url).await, key);
    }
    // Kill while the target holds requests: attempts are in flight, none acknowledged.
    for round in 0..3 {
        let held = round * 8 + 8;
        wait_until(&format!("{held} requests held by the target"), PATIENCE, || async {
            (recorder.requests().len() >= held).then_some(())
        })
        .await;
        server.kill();
        server = TestServer::start_node(data.path(), &args, &server.admin_token.clone());
    }
    recorder.release();
    let http = Http::new(&server);
    let done = wait_until("every job succeeded", PATIENCE, || async {
        let all = statuses(&http, "acme").await;
        (all.len() == JOBS && all.values().all(|j| j["status"] == "succeeded")).then_some(all)
    })
    .await;
    // Every job's effect arrived under its own key; an attempt cut by a kill repeated its key,
    // never another's; and the target acknowledged each key.
    let requested: BTreeSet<String> = recorder.requests().into_iter().collect();
    let expected: BTreeSet<String> = ids.values().cloned().collect();
    assert_eq!(requested, expected, "the target saw exactly the jobs' keys");
    assert_eq!(*recorder.acknowledged.lock().expect("acknowledged"), expected);
    let retried = done.values().filter(|j| j["attempt"].as_u64().unwrap_or(0) > 1).count();
    assert!(retried >= 8, "the killed attempts were retried (lease taken back): {retried}");
    for (id, job) in &done {
        let attempts = job["attempt"].as_u64().unwrap_or(0) as usize;
        let requests = recorder.requests().iter().filter(|k| **k == ids[id]).count();
        assert!(requests <= attempts, "{id}: {requests} requests from {attempts} attempts");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_running_jobs_finish() {
    let recorder = Recorder::start(true).await;
    let url = format!("http://{}/effect", recorder.addr);
    let mut server = TestServer::start_with(&["--jobs-allow-private-networks", "--shutdown-grace", "60s"]);
    let http = Http::new(&server);
    let id = enqueue(&http, "acme", "drain-1", &url).await;
    wait_until("the job's request held by the target", PATIENCE, || async {
        (!recorder.requests().is_empty()).then_some(())
    })
    .await;
    // SIGTERM while the request is held: once the node has stopped answering, release it. The
    // process must still be there to finish the job and record it.
    let url_of_server = server.url.clone();
    let terminated = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (server, status)
    });
    let probe = reqwest::Client::new();
    wait_until("the node stopped accepting requests", PATIENCE, || async {
        let ready = probe.get(format!("{url_of_server}/readyz")).send().await;
        (!ready.is_ok_and(|r| r.status().is_success())).then_some(())
    })
    .await;
    recorder.release();
    let (server, status) = terminated.await.expect("terminate");
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(recorder.acknowledged.lock().expect("acknowledged").len(), 1);
    // After a restart the job is recorded as succeeded at its first attempt.
    let restarted = TestServer::start_node(&server.data_dir, &["--jobs-allow-private-networks"], &server.admin_token);
    let http = Http::new(&restarted);
    let (status, job) = http.send(Method::GET, &format!("/v1/spaces/acme/jobs/{id}"), None).await;
    assert!(status.is_success(), "{status} {job}");
    assert_eq!((job["status"].as_str(), job["attempt"].as_u64()), (Some("succeeded"), Some(1)), "{job}");
}

/// An order whose charge is an HTTP request to the recorder, retried quickly.
fn charging_machine(url: &str) -> String {
    format!(
        r#"
name: order
initial: pending
states:
  pending: {{}}
  charging:
    invoke:
      http: {{ url: "'{url}'", body: "{{'order': instance.id}}" }}
      retry: {{ max_attempts: 20, initial: 10ms, max: 200ms }}
    on_done: {{ to: paid }}
  paid: {{ final: true }}
transitions:
  - {{ from: pending, event: pay, to: charging }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_action_states_charge_completes_exactly_once_across_sigkills() {
    let recorder = Recorder::start(true).await;
    let url = format!("http://{}/charge", recorder.addr);
    let data = tempfile::tempdir().expect("temp dir");
    let args = ["--jobs-allow-private-networks", "--job-slots", "8"];
    let mut server = TestServer::start_in(data.path(), &args);
    let http = Http::new(&server);
    let (status, body) = http.put_yaml("/v1/spaces/acme/machines/order", &charging_machine(&url)).await;
    assert!(status.is_success(), "{status} {body}");
    const ORDERS: usize = 40;
    for i in 0..ORDERS {
        let id = format!("o-{i:02}");
        let (status, body) = http.post("/v1/spaces/acme/machines/order/instances", json!({ "id": id })).await;
        assert!(status.is_success(), "{status} {body}");
        let path = format!("/v1/spaces/acme/machines/order/instances/{id}/events");
        let (status, body) = http.post(&path, json!({ "event": "pay" })).await;
        assert!(status.is_success(), "{status} {body}");
    }
    // Kill while charges are in flight (held by the target, none acknowledged), twice.
    for round in 0..2 {
        let held = round * 8 + 8;
        wait_until(&format!("{held} charges held by the target"), PATIENCE, || async {
            (recorder.requests().len() >= held).then_some(())
        })
        .await;
        server.kill();
        server = TestServer::start_node(data.path(), &args, &server.admin_token.clone());
    }
    recorder.release();
    let http = Http::new(&server);
    for i in 0..ORDERS {
        let path = format!("/v1/spaces/acme/machines/order/instances/o-{i:02}");
        wait_until(&format!("order o-{i:02} paid"), PATIENCE, || async {
            let (_, order) = http.get(&path).await;
            (order["state"] == "paid").then_some(())
        })
        .await;
        // The result was applied once: one `done.invoke` transition.
        let (_, history) = http.get(&format!("{path}/history")).await;
        let done = history["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|r| r["kind"] == "instance.transitioned" && r["payload"]["event"] == "done.invoke")
            .count();
        assert_eq!(done, 1, "o-{i:02}: {history}");
    }
    // One key per order's charge, every request of a charge under its key, each acknowledged.
    let requested: BTreeSet<String> = recorder.requests().into_iter().collect();
    assert_eq!(requested.len(), ORDERS, "{requested:?}");
    assert_eq!(*recorder.acknowledged.lock().expect("acknowledged"), requested);
    assert!(recorder.requests().len() > ORDERS, "the killed charges were tried again under the same keys");
}

/// A flow of two HTTP nodes and a transform, each node's request to `url`.
fn two_step_flow(url: &str) -> String {
    format!(
        "nodes:
  - {{ id: reserve, kind: http, url: \"'{url}/reserve'\", retry: {{ max_attempts: 20, initial: 10ms, max: 200ms }} }}
  - {{ id: confirm, kind: http, url: \"'{url}/confirm'\", retry: {{ max_attempts: 20, initial: 10ms, max: 200ms }} }}
  - {{ id: done, kind: transform, value: '[nodes.reserve.output.status, nodes.confirm.output.status]' }}
edges:
  - {{ from: reserve, to: confirm }}
  - {{ from: confirm, to: done }}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flow_runs_killed_mid_run_resume_and_finish_with_each_effect_once() {
    let recorder = Recorder::start(true).await;
    let url = format!("http://{}", recorder.addr);
    let data = tempfile::tempdir().expect("temp dir");
    let args = ["--jobs-allow-private-networks", "--job-slots", "8"];
    let mut server = TestServer::start_in(data.path(), &args);
    let http = Http::new(&server);
    let (status, body) = http.put_yaml("/v1/spaces/acme/flows/booking", &two_step_flow(&url)).await;
    assert!(status.is_success(), "{status} {body}");
    const RUNS: usize = 20;
    let mut ids = Vec::new();
    for _ in 0..RUNS {
        let (status, run) = http.post("/v1/spaces/acme/flows/booking/runs", json!({ "input": {} })).await;
        assert!(status.is_success(), "{status} {run}");
        ids.push(run["id"].as_str().expect("an id").to_owned());
    }
    // Kill while the first nodes' requests are held by the target; then let them through and
    // kill again while the second nodes' are in flight.
    wait_until("8 reservations held by the target", PATIENCE, || async {
        (recorder.requests().len() >= 8).then_some(())
    })
    .await;
    server.kill();
    server = TestServer::start_node(data.path(), &args, &server.admin_token.clone());
    recorder.release();
    wait_until("a confirmation requested", PATIENCE, || async { (recorder.requests().len() > RUNS).then_some(()) })
        .await;
    server.kill();
    server = TestServer::start_node(data.path(), &args, &server.admin_token.clone());
    let http = Http::new(&server);
    for id in &ids {
        let path = format!("/v1/spaces/acme/runs/{id}");
        let run = wait_until(&format!("run {id} to succeed"), PATIENCE, || async {
            let (_, run) = http.get(&path).await;
            (run["status"] == "succeeded").then_some(run)
        })
        .await;
        assert_eq!(run["output"], json!([200, 200]), "{run}");
    }
    // Two keys per run (one per node), every request of a node under its key, each acknowledged.
    let requested: BTreeSet<String> = recorder.requests().into_iter().collect();
    assert_eq!(requested.len(), RUNS * 2, "{requested:?}");
    assert_eq!(*recorder.acknowledged.lock().expect("acknowledged"), requested);
}
