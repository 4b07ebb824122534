//! Machines that do work, through the real binary on both backends: action states invoke a
//! function or an HTTP endpoint and follow the result, failures are retried by the state's
//! policy, timers fire and cancel, late results are recorded and ignored, and a cancellation
//! stops everything pending.
//!
//! Every test runs once on SQLite and once on a throwaway PostgreSQL database. Tests wait on
//! what the instance shows (its state, status, history), never on the clock.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestServer;
use support::http::{Http, code};
use support::target::{Answer, Target};
use switchyard_client::FunctionSettings;
use switchyard_testkit::{PATIENCE, TestDatabase, example_function_bytes, wait_for};

/// The design brief's order machine, as `examples/machines/order.yaml` writes it.
const ORDER: &str = include_str!("../../../examples/machines/order.yaml");

/// A server on each backend (the database lives as long as its server).
struct Backend {
    name: &'static str,
    server: TestServer,
    _db: Option<TestDatabase>,
}

async fn backends() -> Vec<Backend> {
    let sqlite =
        Backend { name: "sqlite", server: TestServer::start_with(&["--jobs-allow-private-networks"]), _db: None };
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
    let server = TestServer::start_with(&["--store", db.url(), "--jobs-allow-private-networks"]);
    vec![sqlite, Backend { name: "postgres", server, _db: Some(db) }]
}

async fn deploy_charge_card(server: &TestServer) {
    let client = server.client();
    client
        .deploy_function("acme", "charge-card", &example_function_bytes("charge-card"), &FunctionSettings::default())
        .await
        .expect("deploy charge-card");
}

async fn put_machine(http: &Http, name: &str, yaml: &str) {
    let (status, body) = http.put_yaml(&format!("/v1/spaces/acme/machines/{name}"), yaml).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn create(http: &Http, machine: &str, id: &str, ctx: Value) -> Value {
    let (status, body) =
        http.post(&format!("/v1/spaces/acme/machines/{machine}/instances"), json!({ "id": id, "ctx": ctx })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn send(http: &Http, machine: &str, id: &str, event: &str, payload: Value) -> (StatusCode, Value) {
    let path = format!("/v1/spaces/acme/machines/{machine}/instances/{id}/events");
    http.post(&path, json!({ "event": event, "payload": payload })).await
}

async fn instance(http: &Http, machine: &str, id: &str) -> Value {
    let (status, body) = http.get(&format!("/v1/spaces/acme/machines/{machine}/instances/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Waits until the instance is in `state`; returns it.
async fn until_state(http: &Http, machine: &str, id: &str, state: &str) -> Value {
    wait_for(
        &format!("{machine}:{id} to reach {state}"),
        PATIENCE,
        || instance(http, machine, id),
        |i| i["state"] == state,
    )
    .await
}

async fn history(http: &Http, machine: &str, id: &str) -> Vec<Value> {
    let (status, body) = http.get(&format!("/v1/spaces/acme/machines/{machine}/instances/{id}/history")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["events"].as_array().expect("events").clone()
}

async fn job(http: &Http, id: &str) -> Value {
    let (status, body) = http.get(&format!("/v1/spaces/acme/jobs/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The transitions an instance went through: (event, from, to).
fn transitions(history: &[Value]) -> Vec<(String, String, String)> {
    history
        .iter()
        .filter(|r| r["kind"] == "instance.transitioned")
        .map(|r| {
            let p = &r["payload"];
            let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            (text("event"), text("from"), text("to"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_machine_charges_and_follows_the_result() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        deploy_charge_card(&backend.server).await;
        put_machine(&http, "order", ORDER).await;

        // A good card: charged once, the receipt assigned from the result.
        create(&http, "order", "o-1", json!({ "amount": 1250, "card": "4242424242424242" })).await;
        let (status, moved) = send(&http, "order", "o-1", "pay", json!({ "amount": 1250 })).await;
        assert_eq!((status, &moved["to"]), (StatusCode::OK, &json!("charging")), "{moved}");
        let paid = until_state(&http, "order", "o-1", "paid").await;
        let receipt = paid["ctx"]["receipt"].as_str().unwrap_or_default();
        assert!(receipt.starts_with("ch_"), "{}: {paid}", backend.name);
        assert_eq!(paid["status"], "active", "{paid}");
        let steps = transitions(&history(&http, "order", "o-1").await);
        assert_eq!(
            steps,
            vec![
                ("pay".into(), "pending".into(), "charging".into()),
                ("done.invoke".into(), "charging".into(), "paid".into())
            ],
            "{}",
            backend.name
        );
        // The `after` timer of `charging` was cancelled when the state was left.
        let (_, jobs) = http.get("/v1/spaces/acme/jobs?kind=timer").await;
        let timers = jobs["jobs"].as_array().expect("jobs");
        assert_eq!(timers.len(), 1, "{jobs}");
        assert_eq!(timers[0]["status"], "cancelled", "{jobs}");
        let (status, shipped) = send(&http, "order", "o-1", "ship", json!({})).await;
        assert_eq!((status, &shipped["to"]), (StatusCode::OK, &json!("shipped")));
        assert_eq!(instance(&http, "order", "o-1").await["status"], "completed");

        // A declined card: the function's `card_declined` goes to `declined` at once, a failure.
        create(&http, "order", "o-2", json!({ "amount": 10, "card": "4000000000000002" })).await;
        send(&http, "order", "o-2", "pay", json!({ "amount": 10 })).await;
        let declined = until_state(&http, "order", "o-2", "declined").await;
        assert_eq!(declined["status"], "failed", "{declined}");
        let record = history(&http, "order", "o-2").await.into_iter().find(|r| r["payload"]["event"] == "error.invoke");
        let record = record.expect("an error.invoke transition");
        assert_eq!(record["payload"]["payload"]["error"]["code"], "card_declined", "{record}");
        assert_eq!(record["payload"]["payload"]["error"]["attempts"], 1, "{record}");
    }
}

/// A machine whose charge is retried on a fixed schedule (no jitter).
const FIXED_RETRY: &str = r#"
name: pay
initial: start
states:
  start: {}
  charging:
    invoke:
      function: charge-card
      input: "{'amount': ctx.amount, 'fail': ctx.fail}"
      retry: { max_attempts: 4, initial: 200ms, multiplier: 2, jitter: none, non_retryable: [invalid_amount] }
    on_done: { to: paid, assign: { attempt: "result.attempt" } }
    on_error: { to: failed, assign: { code: "error.code", message: "error.message" } }
  paid: { final: true }
  failed: { final: true, failure: true }
transitions:
  - { from: start, event: go, to: charging }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_on_the_policys_schedule_and_codes_it_names_are_not() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        deploy_charge_card(&backend.server).await;
        put_machine(&http, "pay", FIXED_RETRY).await;

        // Fails on attempts 1 and 2, succeeds on 3: the function saw the attempt number.
        create(&http, "pay", "p-1", json!({ "amount": 5, "fail": { "until_attempt": 3 } })).await;
        send(&http, "pay", "p-1", "go", json!({})).await;
        let paid = until_state(&http, "pay", "p-1", "paid").await;
        assert_eq!((paid["ctx"]["attempt"].as_u64(), paid["status"].as_str()), (Some(3), Some("completed")));
        let records = history(&http, "pay", "p-1").await;
        let failed: Vec<&Value> = records.iter().filter(|r| r["kind"] == "instance.attempt_failed").collect();
        assert_eq!(failed.len(), 2, "{}: the history shows each failed attempt: {records:?}", backend.name);
        assert_eq!(
            (&failed[0]["payload"]["attempt"], &failed[0]["payload"]["error"]["code"]),
            (&json!(1), &json!("processor_unavailable"))
        );
        let done = records.into_iter().find(|r| r["payload"]["event"] == "done.invoke");
        let job_id = done.expect("done.invoke")["payload"]["payload"]["job"].as_str().expect("job").to_string();
        let job = job(&http, &job_id).await;
        let attempts = job["attempts"].as_array().expect("attempts");
        assert_eq!(attempts.len(), 3, "{}: {job}", backend.name);
        assert_eq!(attempts[0]["error"]["code"], "processor_unavailable");
        // Each retry started no sooner than the policy's delay after the failure before it:
        // 200 ms, then 400 ms.
        for (i, delay) in [(1, 200), (2, 400)] {
            let ended = millis(&attempts[i - 1]["ended_at"]);
            let started = millis(&attempts[i]["started_at"]);
            assert!(
                started >= ended + delay,
                "{}: attempt {} started {} ms after",
                backend.name,
                i + 1,
                started - ended
            );
        }
        // The job's id is its effect key (the idempotency key the function saw).
        assert_eq!(job["effect_key"], job["id"], "{job}");

        // `invalid_amount` is named non-retryable: one attempt, then `on_error`.
        create(&http, "pay", "p-2", json!({ "amount": 0, "fail": null })).await;
        send(&http, "pay", "p-2", "go", json!({})).await;
        let failed = until_state(&http, "pay", "p-2", "failed").await;
        assert_eq!(failed["ctx"]["code"], "invalid_amount", "{failed}");
        assert_eq!(failed["status"], "failed");

        // Retryable every time: four attempts, then `on_error` with the last error.
        create(&http, "pay", "p-3", json!({ "amount": 5, "fail": "unavailable" })).await;
        send(&http, "pay", "p-3", "go", json!({})).await;
        let failed = until_state(&http, "pay", "p-3", "failed").await;
        assert_eq!(failed["ctx"]["code"], "processor_unavailable", "{failed}");
        let record = history(&http, "pay", "p-3").await.into_iter().find(|r| r["payload"]["event"] == "error.invoke");
        assert_eq!(record.expect("error.invoke")["payload"]["payload"]["error"]["attempts"], 4);
    }
}

fn millis(rfc3339: &Value) -> u128 {
    let at = humantime::parse_rfc3339(rfc3339.as_str().expect("a time")).expect("RFC 3339");
    at.duration_since(std::time::UNIX_EPOCH).expect("after the epoch").as_millis()
}

/// An HTTP action with a short timer: the endpoint hangs past it.
fn fetch_machine(url: &str) -> String {
    format!(
        r#"
name: fetch
initial: idle
states:
  idle: {{}}
  fetching:
    invoke:
      http: {{ method: POST, url: "'{url}'", headers: {{ x-order: "instance.id" }}, body: "{{'amount': ctx.amount}}" }}
      retry: {{ max_attempts: 1 }}
    on_done: {{ to: fetched, assign: {{ status: "result.status", body: "result.body" }} }}
    on_error: {{ to: broken, assign: {{ code: "error.code" }} }}
    after: {{ 300ms: gave_up }}
  fetched: {{ final: true }}
  broken: {{ final: true, failure: true }}
  gave_up: {{ final: true, failure: true }}
transitions:
  - {{ from: idle, event: fetch, to: fetching }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_action_answers_and_a_timer_beats_a_hung_one_whose_late_result_is_ignored() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        // First an endpoint that answers: the result (status, body) is `result`.
        let target = Target::start(vec![Answer::status(200)]).await;
        put_machine(&http, "fetch", &fetch_machine(&target.url("/charge"))).await;
        create(&http, "fetch", "f-1", json!({ "amount": 7 })).await;
        send(&http, "fetch", "f-1", "fetch", json!({})).await;
        let fetched = until_state(&http, "fetch", "f-1", "fetched").await;
        assert_eq!((fetched["ctx"]["status"].as_u64(), fetched["status"].as_str()), (Some(200), Some("completed")));
        let seen = target.seen();
        assert_eq!(seen.len(), 1, "{}", backend.name);
        assert_eq!(seen[0].headers["x-order"], "f-1");
        let done = history(&http, "fetch", "f-1").await.into_iter().find(|r| r["payload"]["event"] == "done.invoke");
        let job_id = done.expect("done.invoke")["payload"]["payload"]["job"].clone();
        assert_eq!(json!(seen[0].headers["idempotency-key"]), job_id, "the request carried the job's effect key");

        // Then one that hangs: the 300 ms timer moves the instance on; the answer that comes
        // after is kept with its job and ignored.
        let hung = Target::held(vec![Answer::status(200)]).await;
        put_machine(&http, "fetch", &fetch_machine(&hung.url("/charge"))).await;
        create(&http, "fetch", "f-2", json!({ "amount": 7 })).await;
        send(&http, "fetch", "f-2", "fetch", json!({})).await;
        let gave_up = until_state(&http, "fetch", "f-2", "gave_up").await;
        assert_eq!(gave_up["status"], "failed");
        hung.release();
        let records = wait_for(
            "the late result to be recorded",
            PATIENCE,
            || history(&http, "fetch", "f-2"),
            |h| h.iter().any(|r| r["kind"] == "instance.result_ignored"),
        )
        .await;
        let steps = transitions(&records);
        assert_eq!(steps.last().map(|s| s.0.as_str()), Some("after:300ms"), "{steps:?}");
        assert_eq!(steps.len(), 2, "{}: the late result moved nothing: {steps:?}", backend.name);
        assert_eq!(instance(&http, "fetch", "f-2").await["state"], "gave_up");
    }
}

/// A state that waits on a slow retry and a long timer, for cancellation.
const SLOW: &str = r#"
name: slow
initial: working
states:
  working:
    invoke:
      function: charge-card
      input: "{'amount': 1, 'fail': 'unavailable'}"
      retry: { max_attempts: 3, initial: 1h, jitter: none }
    on_done: { to: done }
    after: { 2h: late }
  done: { final: true }
  late: { final: true }
transitions:
  - { from: working, event: poke, to: working }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_instance_cancels_its_pending_work_and_refuses_what_follows() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        deploy_charge_card(&backend.server).await;
        put_machine(&http, "slow", SLOW).await;
        // Created in an action state: the action starts at once.
        let created = create(&http, "slow", "s-1", json!({})).await;
        assert_eq!(created["status"], "running", "{created}");
        // The first attempt fails; the retry waits an hour. The instance shows both jobs.
        let waiting = wait_for(
            "the first attempt to fail",
            PATIENCE,
            || instance(&http, "slow", "s-1"),
            |i| {
                i["pending"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|w| w["last_error"]["code"] == "processor_unavailable"))
            },
        )
        .await;
        let pending = waiting["pending"].as_array().expect("pending").clone();
        assert_eq!(pending.len(), 2, "{waiting}");
        assert!(pending.iter().any(|w| w["timer"] == "after:2h" && w["status"] == "pending"), "{waiting}");

        let (status, cancelled) =
            http.post("/v1/spaces/acme/machines/slow/instances/s-1/cancel", json!({ "reason": "customer left" })).await;
        assert_eq!(status, StatusCode::OK, "{cancelled}");
        assert_eq!(cancelled["status"], "cancelled");
        assert_eq!(cancelled["error"], json!({ "code": "cancelled", "message": "customer left" }));
        for work in &pending {
            let job = job(&http, work["job"].as_str().expect("job")).await;
            assert_eq!(job["status"], "cancelled", "{}: {job}", backend.name);
        }
        let (status, refused) = send(&http, "slow", "s-1", "poke", json!({})).await;
        assert_eq!((status, code(&refused)), (StatusCode::CONFLICT, "instance_finished"), "{refused}");
        assert_eq!(refused["error"]["details"]["status"], "cancelled", "{refused}");
        let (status, again) = http.post("/v1/spaces/acme/machines/slow/instances/s-1/cancel", json!({})).await;
        assert_eq!((status, code(&again)), (StatusCode::CONFLICT, "instance_finished"), "{again}");
        let kinds: Vec<String> =
            history(&http, "slow", "s-1").await.iter().filter_map(|r| r["kind"].as_str().map(str::to_string)).collect();
        assert_eq!(kinds.last().map(String::as_str), Some("instance.cancelled"), "{kinds:?}");
        let (status, missing) = http.post("/v1/spaces/acme/machines/slow/instances/nope/cancel", json!({})).await;
        assert_eq!((status, code(&missing)), (StatusCode::NOT_FOUND, "instance_not_found"));

        // A person cancelling the action's job is the action's error; without `on_error` the
        // instance stops as failed, its timer cancelled.
        create(&http, "slow", "s-2", json!({})).await;
        let waiting = wait_for(
            "s-2's first attempt to fail",
            PATIENCE,
            || instance(&http, "slow", "s-2"),
            |i| {
                i["pending"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|w| w["last_error"]["code"] == "processor_unavailable"))
            },
        )
        .await;
        let pending = waiting["pending"].as_array().expect("pending").clone();
        // Cancelling the timer's job only removes the timer: the action goes on.
        let timer = pending.iter().find(|w| w["kind"] == "timer").expect("the timer");
        let (status, body) =
            http.post(&format!("/v1/spaces/acme/jobs/{}/cancel", timer["job"].as_str().expect("id")), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let running = instance(&http, "slow", "s-2").await;
        assert_eq!(running["status"], "running", "{running}");
        assert_eq!(running["pending"].as_array().map(Vec::len), Some(1), "{running}");
        let action = pending.iter().find(|w| w["kind"] == "function").expect("the action's job");
        let (status, body) =
            http.post(&format!("/v1/spaces/acme/jobs/{}/cancel", action["job"].as_str().expect("id")), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let failed = instance(&http, "slow", "s-2").await;
        assert_eq!(
            (failed["status"].as_str(), failed["error"]["code"].as_str()),
            (Some("failed"), Some("job_cancelled")),
            "{}: {failed}",
            backend.name
        );
        assert_eq!(job(&http, timer["job"].as_str().expect("id")).await["status"], "cancelled");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_with_broken_action_states_are_refused_naming_the_field() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let cases = [
        ("states:\n  a: { invoke: { function: f } }\ninitial: a", "states.a.on_done"),
        (
            "states:\n  a: { invoke: { function: 'a:b:c:d' }, on_done: { to: a } }\ninitial: a",
            "states.a.invoke.function",
        ),
        ("states:\n  a: { after: { 10x: a } }\ninitial: a", "states.a.after.10x"),
        ("states:\n  a: { after: { 1s: nowhere } }\ninitial: a", "states.a.after.1s"),
        (
            "states:\n  a: { invoke: { function: f }, on_done: { to: a }, on_error: { to: a, assign: { r: 'result.x' } } }\ninitial: a",
            "states.a.on_error.assign.r",
        ),
        ("states:\n  a: { on_done: { to: a } }\ninitial: a", "states.a.on_done"),
        // A machine invokes functions of its own space only.
        (
            "states:\n  a: { invoke: { function: 'other:f' }, on_done: { to: a } }\ninitial: a",
            "states.a.invoke.function",
        ),
    ];
    for (yaml, path) in cases {
        let (status, body) = http.put_yaml("/v1/spaces/acme/machines/bad", yaml).await;
        assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{yaml}: {body}");
        let paths: Vec<&str> = body["error"]["details"]["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["path"].as_str())
            .collect();
        assert!(paths.contains(&path), "{yaml}: want {path} in {body}");
    }
}

/// Per `Idempotency-Key`: (requests in flight now, most in flight at once, requests).
type InFlight = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, (u32, u32, u32)>>>;

/// A target that answers each request after a short pause and remembers, per
/// `Idempotency-Key`, how many requests were in flight at once.
struct OverlapTarget {
    addr: String,
    keys: InFlight,
}

impl OverlapTarget {
    async fn start() -> OverlapTarget {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let keys: InFlight = Default::default();
        let seen = keys.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let keys = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).to_lowercase();
                    let key = text
                        .lines()
                        .find_map(|l| l.strip_prefix("idempotency-key: "))
                        .unwrap_or_default()
                        .trim()
                        .to_string();
                    {
                        let mut keys = keys.lock().expect("keys");
                        let entry = keys.entry(key.clone()).or_insert((0, 0, 0));
                        entry.0 += 1;
                        entry.1 = entry.1.max(entry.0);
                        entry.2 += 1;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    keys.lock().expect("keys").entry(key).and_modify(|e| e.0 -= 1);
                    let reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        OverlapTarget { addr, keys }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_postgres_run_a_thousand_instances_and_no_job_runs_twice_at_once() {
    let target = OverlapTarget::start().await;
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
    let dirs = [tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir")];
    let args = ["--store", db.url(), "--jobs-allow-private-networks"];
    let first = TestServer::start_in(&dirs[0].path().join("data"), &args);
    let second = TestServer::start_node(&dirs[1].path().join("data"), &args, &first.admin_token);
    let nodes = [Http::new(&first), Http::new(&second)];
    let machine = format!(
        r#"
name: order
initial: charging
states:
  charging:
    invoke:
      http: {{ url: "'http://{}/charge'", body: "{{'order': instance.id}}" }}
      retry: {{ max_attempts: 10, initial: 10ms }}
    on_done: {{ to: paid }}
  paid: {{ final: true }}
"#,
        target.addr
    );
    put_machine(&nodes[0], "order", &machine).await;
    const ORDERS: usize = 1000;
    let mut creators = tokio::task::JoinSet::new();
    for lane in 0..8 {
        let http = Http::with_token(if lane % 2 == 0 { &first } else { &second }, Some(&first.admin_token));
        creators.spawn(async move {
            for i in (lane..ORDERS).step_by(8) {
                create(&http, "order", &format!("o-{i:04}"), json!({})).await;
            }
        });
    }
    while let Some(done) = creators.join_next().await {
        done.expect("creator");
    }
    let listing = |http: &Http| {
        let http = http.clone();
        async move {
            let mut paid = 0;
            let mut cursor = String::new();
            loop {
                let path = format!("/v1/spaces/acme/machines/order/instances?state=paid&limit=1000{cursor}");
                let (_, page) = http.get(&path).await;
                paid += page["instances"].as_array().map_or(0, Vec::len);
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = format!("&cursor={next}"),
                    None => return paid,
                }
            }
        }
    };
    wait_for("every order paid", PATIENCE * 3, || listing(&nodes[1]), |paid| *paid == ORDERS).await;
    let keys = target.keys.lock().expect("keys").clone();
    assert_eq!(keys.len(), ORDERS, "one key per order's charge");
    let overlapping: Vec<_> = keys.iter().filter(|(_, (_, most, _))| *most > 1).collect();
    assert!(overlapping.is_empty(), "a job ran twice at once: {overlapping:?}");
    // Both nodes ran charges.
    let metric = |server: &TestServer| {
        let client = server.client();
        async move { support::series(&client, "switchyard_job_successes_total").await.unwrap_or(0.0) }
    };
    let (a, b) = (metric(&first).await, metric(&second).await);
    assert!(a > 0.0 && b > 0.0, "jobs ran on one node only: {a} and {b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stays_on_its_version_until_migrated_where_its_state_exists() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        let v1 = "initial: a\nstates: [a, b]\ntransitions:\n  - { from: a, event: go, to: b }\n";
        let v2 = "initial: a\nstates: [a, b, c]\ntransitions:\n  - { from: a, event: go, to: c }\n";
        let v3 = "initial: x\nstates: [x]\n";
        put_machine(&http, "flow", v1).await;
        create(&http, "flow", "f-1", json!({})).await;
        put_machine(&http, "flow", v2).await;
        put_machine(&http, "flow", v3).await;
        // Still on version 1: `go` leads to b.
        let mut on_v1 = create(&http, "flow", "f-2", json!({})).await;
        assert_eq!(on_v1["machine_version"], 3, "a new instance takes the latest version");
        on_v1 = instance(&http, "flow", "f-1").await;
        assert_eq!(on_v1["machine_version"], 1);
        let migrate =
            |v: u32| http.post("/v1/spaces/acme/machines/flow/instances/f-1/migrate", json!({ "version": v }));
        let (status, refused) = migrate(3).await;
        assert_eq!((status, code(&refused)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{refused}");
        let (status, missing) = migrate(9).await;
        assert_eq!((status, code(&missing)), (StatusCode::NOT_FOUND, "machine_not_found"), "{missing}");
        // A state whose work differs in the target version is refused too.
        put_machine(&http, "flow", "initial: a\nstates:\n  a: { after: { 1h: b } }\n  b: {}\n").await;
        let (status, differs) = migrate(4).await;
        assert_eq!((status, code(&differs)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{differs}");
        let (status, moved) = migrate(2).await;
        assert_eq!((status, &moved["machine_version"]), (StatusCode::OK, &json!(2)), "{}: {moved}", backend.name);
        let (_, applied) = send(&http, "flow", "f-1", "go", json!({})).await;
        assert_eq!(applied["to"], "c", "version 2's transition: {applied}");
        let kinds: Vec<Value> = history(&http, "flow", "f-1").await.iter().map(|r| r["kind"].clone()).collect();
        assert!(kinds.contains(&json!("instance.migrated")), "{kinds:?}");
    }
}

/// A request that waits for a decision, tells a ledger instance on entry and on exit, and gives
/// up after its wait's timeout; the machine's own timeout ends what the wait does not.
const REQUEST: &str = r#"
name: request
initial: requested
timeout: { after: 600ms, to: timed_out }
states:
  requested:
    wait: { event: approve, timeout: 300ms, on_timeout: expired }
    on_entry: [ { send: { instance: "'ledger:' + ctx.ledger", event: opened, payload: "{'by': instance.id}" } } ]
    on_exit: [ { send: { instance: "'ledger:' + ctx.ledger", event: closed } } ]
  approved: {}
  expired: { final: true, failure: true }
  timed_out: { final: true, failure: true }
transitions:
  - { from: requested, event: approve, to: approved }
"#;

const LEDGER: &str = r#"
name: ledger
initial: idle
states: [idle, open, done]
transitions:
  - { from: idle, event: opened, to: open }
  - { from: open, event: closed, to: done }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_time_out_effects_run_on_entry_and_exit_and_the_machine_timeout_ends_the_rest() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        put_machine(&http, "request", REQUEST).await;
        put_machine(&http, "ledger", LEDGER).await;
        for id in ["l-1", "l-2"] {
            create(&http, "ledger", id, json!({})).await;
        }
        // Unanswered: the wait's timeout moves it to `expired`; entry and exit told the ledger.
        let waiting = create(&http, "request", "r-1", json!({ "ledger": "l-1" })).await;
        assert_eq!(waiting["status"], "waiting", "{waiting}");
        let expired = until_state(&http, "request", "r-1", "expired").await;
        assert_eq!(expired["status"], "failed", "{}: {expired}", backend.name);
        let ledger = until_state(&http, "ledger", "l-1", "done").await;
        assert_eq!(ledger["ctx"]["by"], "r-1", "the entry effect's payload: {ledger}");
        let steps = transitions(&history(&http, "request", "r-1").await);
        assert_eq!(steps.last().map(|s| s.0.as_str()), Some("wait.timeout"), "{steps:?}");

        // Approved in time: then `approved` is not final, and the machine's timeout ends it.
        create(&http, "request", "r-2", json!({ "ledger": "l-2" })).await;
        let (status, body) = send(&http, "request", "r-2", "approve", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let timed_out = until_state(&http, "request", "r-2", "timed_out").await;
        assert_eq!(timed_out["status"], "failed", "{timed_out}");
        let steps = transitions(&history(&http, "request", "r-2").await);
        let events: Vec<&str> = steps.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(events, ["approve", "timeout"], "{}: the wait's own timeout was cancelled: {steps:?}", backend.name);
        until_state(&http, "ledger", "l-2", "done").await;
    }
}

/// The example parent and child: a fulfilment waits for its shipment.
const FULFILMENT: &str = include_str!("../../../examples/machines/fulfilment.yaml");
const SHIPMENT: &str = include_str!("../../../examples/machines/shipment.yaml");

/// A child that can end in failure on request, and a parent that starts it and retries.
const FRAGILE: &str = "name: fragile\ninitial: open\nstates:\n  open: {}\n  broken: { final: true, failure: true }\ntransitions:\n  - { from: open, event: break, to: broken, assign: { why: \"event.why\" } }\n";
const CAREFUL: &str = "name: careful\ninitial: working\nstates:\n  working:\n    invoke: { machine: fragile }\n    on_done: { to: done }\n    on_error: { to: broken, assign: { error: \"error\" } }\n  broken: {}\n  done: { final: true }\ntransitions:\n  - { from: broken, event: retry, to: working }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_waits_for_its_child_and_their_ends_reach_each_other() {
    for backend in backends().await {
        let name = backend.name;
        let http = Http::new(&backend.server);
        put_machine(&http, "shipment", SHIPMENT).await;
        put_machine(&http, "fulfilment", FULFILMENT).await;

        // Creating the parent in its `shipping` state starts the child in the same transaction.
        let created = create(&http, "fulfilment", "f-1", json!({ "order": "o-1" })).await;
        assert_eq!(created["status"], "running", "{created}");
        let parent = instance(&http, "fulfilment", "f-1").await;
        let child_address = "acme:shipment:fulfilment.f-1.1";
        assert_eq!(
            parent["child"],
            json!({ "instance": child_address, "state": "packing", "status": "waiting" }),
            "{name}: {parent}"
        );
        let child = instance(&http, "shipment", "fulfilment.f-1.1").await;
        assert_eq!(child["ctx"], json!({ "order": "o-1" }), "{child}");
        assert_eq!(child["parent"], json!({ "instance": "acme:fulfilment:f-1", "state": "shipping" }), "{child}");

        // The child moves by its own events; its final ctx is the parent's `result`.
        let (status, body) =
            send(&http, "shipment", "fulfilment.f-1.1", "dispatched", json!({ "tracking": "T-9" })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(instance(&http, "fulfilment", "f-1").await["state"], "shipping");
        let (status, body) = send(&http, "shipment", "fulfilment.f-1.1", "delivered", json!({})).await;
        assert_eq!((status, &body["to"]), (StatusCode::OK, &json!("delivered")), "{body}");
        // Applied in the child's transaction: the parent has moved when the event returns.
        let done = instance(&http, "fulfilment", "f-1").await;
        assert_eq!((done["state"].as_str(), done["status"].as_str()), (Some("delivered"), Some("completed")), "{done}");
        assert_eq!(done["ctx"]["tracking"], "T-9", "{done}");
        let events = history(&http, "fulfilment", "f-1").await;
        let kinds: Vec<&str> = events.iter().filter_map(|r| r["kind"].as_str()).collect();
        assert_eq!(kinds, ["instance.created", "instance.child_started", "instance.transitioned"], "{name}");
        assert_eq!(events[2]["payload"]["event"], "done.invoke", "{events:?}");
        assert_eq!(events[2]["payload"]["payload"]["child"], child_address, "{events:?}");
        assert_eq!(instance(&http, "shipment", "fulfilment.f-1.1").await["status"], "completed");

        // A child cancelled by a person is its parent's error: `child_cancelled`.
        create(&http, "fulfilment", "f-2", json!({ "order": "o-2" })).await;
        let (status, body) = http
            .post(
                "/v1/spaces/acme/machines/shipment/instances/fulfilment.f-2.1/cancel",
                json!({ "reason": "no stock" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let abandoned = instance(&http, "fulfilment", "f-2").await;
        assert_eq!(abandoned["state"], "abandoned", "{name}: {abandoned}");
        let problem = abandoned["ctx"]["problem"].as_str().unwrap_or_default();
        assert!(problem.contains("was cancelled: no stock"), "{abandoned}");

        // Cancelling the parent cancels the child, which then refuses events; it reports nothing.
        create(&http, "fulfilment", "f-3", json!({ "order": "o-3" })).await;
        let (status, body) = http.post("/v1/spaces/acme/machines/fulfilment/instances/f-3/cancel", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let child = instance(&http, "shipment", "fulfilment.f-3.1").await;
        assert_eq!(child["status"], "cancelled", "{name}: {child}");
        let reason = child["error"]["message"].as_str().unwrap_or_default();
        assert!(reason.contains("its parent acme:fulfilment:f-3 was cancelled"), "{child}");
        let (status, refused) = send(&http, "shipment", "fulfilment.f-3.1", "dispatched", json!({})).await;
        assert_eq!((status, code(&refused)), (StatusCode::CONFLICT, "instance_finished"), "{refused}");

        // A deleted child is its parent's error too: `child_deleted`.
        create(&http, "fulfilment", "f-4", json!({ "order": "o-4" })).await;
        let (status, body) = http
            .send(reqwest::Method::DELETE, "/v1/spaces/acme/machines/shipment/instances/fulfilment.f-4.1", None)
            .await;
        assert!(status.is_success(), "{body}");
        let abandoned = instance(&http, "fulfilment", "f-4").await;
        assert_eq!(abandoned["state"], "abandoned", "{name}: {abandoned}");
        assert!(abandoned["ctx"]["problem"].as_str().unwrap_or_default().contains("was deleted"), "{abandoned}");

        // A child ending in a failure state is `child_failed`, with its state and ctx; entering
        // the state again starts a new child (a new revision, a new id).
        put_machine(&http, "fragile", FRAGILE).await;
        put_machine(&http, "careful", CAREFUL).await;
        create(&http, "careful", "c-1", json!({})).await;
        let (status, body) = send(&http, "fragile", "careful.c-1.1", "break", json!({ "why": "dropped" })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let broken = instance(&http, "careful", "c-1").await;
        assert_eq!(broken["state"], "broken", "{name}: {broken}");
        let error = &broken["ctx"]["error"];
        assert_eq!(
            (error["code"].as_str(), error["child"].as_str(), error["state"].as_str()),
            (Some("child_failed"), Some("acme:fragile:careful.c-1.1"), Some("broken")),
            "{broken}"
        );
        assert_eq!(error["ctx"]["why"], "dropped", "{broken}");
        let (status, body) = send(&http, "careful", "c-1", "retry", json!({})).await;
        assert_eq!((status, &body["to"]), (StatusCode::OK, &json!("working")), "{body}");
        let working = instance(&http, "careful", "c-1").await;
        assert_eq!(working["child"]["instance"], "acme:fragile:careful.c-1.3", "{working}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_that_cannot_start_refuse_the_transition_that_would_start_them() {
    let server = TestServer::start();
    let http = Http::new(&server);
    // Another space's machine is refused when the definition is put.
    let foreign = "name: p\ninitial: a\nstates:\n  a:\n    invoke: { machine: 'other:shipment' }\n    on_done: { to: b }\n  b: { final: true }\n";
    let (status, body) = http.put_yaml("/v1/spaces/acme/machines/p", foreign).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{body}");
    assert_eq!(body["error"]["details"]["errors"][0]["path"], "states.a.invoke.machine", "{body}");

    // A machine that is not defined, or input its schema refuses: the create is refused and
    // nothing is left behind.
    let parent = "name: p\ninitial: a\nstates:\n  a:\n    invoke: { machine: shipment, input: \"{'order': 7}\" }\n    on_done: { to: b }\n  b: { final: true }\n";
    put_machine(&http, "p", parent).await;
    let (status, body) = http.post("/v1/spaces/acme/machines/p/instances", json!({ "id": "p-1" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("acme:shipment is not defined"), "{body}");
    put_machine(&http, "shipment", "name: shipment\ninitial: s\ncontext_schema: { type: object, properties: { order: { type: string } } }\nstates:\n  s: {}\n").await;
    let (status, body) = http.post("/v1/spaces/acme/machines/p/instances", json!({ "id": "p-1" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("context_schema"), "{body}");
    let (status, _) = http.get("/v1/spaces/acme/machines/p/instances/p-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A machine that starts itself stops at the nesting limit, refusing the first create.
    let recursive = "name: r\ninitial: a\nstates:\n  a:\n    invoke: { machine: r }\n    on_done: { to: b }\n  b: { final: true }\n";
    put_machine(&http, "r", recursive).await;
    let (status, body) = http.post("/v1/spaces/acme/machines/r/instances", json!({ "id": "r-1" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("nest at most 8 deep"), "{body}");
    let (_, listed) = http.get("/v1/spaces/acme/machines/r/instances").await;
    assert_eq!(listed["instances"], json!([]), "{listed}");
}
