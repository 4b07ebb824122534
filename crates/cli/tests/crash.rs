//! Crash test: concurrent writers against the real server, SIGKILL at a random moment, over
//! several rounds. Afterwards every acknowledged event is in the log exactly once, no
//! idempotency key was applied twice (in-flight requests are retried after each restart), and
//! every instance's state and context equal the replay of its history through the model.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::Rng;
use serde_json::{Map, Value, json};
use support::TestServer;
use switchyard_model::{CompiledMachine, DefinitionFormat, parse_definition};

const ROUNDS: usize = 4;
const WRITERS: usize = 12;
const INSTANCES_PER_WRITER: usize = 2;

const COUNTER: &str = r#"{
  "name": "counter",
  "initial": "s0",
  "states": ["s0", "s1", "s2", "s3", "s4"],
  "transitions": [
    {"from": "s0", "event": "next", "to": "s1", "assign": {"n": "ctx.n + 1"}},
    {"from": "s1", "event": "next", "to": "s2", "assign": {"n": "ctx.n + 1"}},
    {"from": "s2", "event": "next", "to": "s3", "assign": {"n": "ctx.n + 1"}},
    {"from": "s3", "event": "next", "to": "s4", "assign": {"n": "ctx.n + 1"}},
    {"from": "s4", "event": "next", "to": "s0", "assign": {"n": "ctx.n + 1"}}
  ]
}"#;

/// What a writer knows: acknowledged keys with their seq, and the key it had in flight.
#[derive(Default)]
struct WriterLog {
    acked: Vec<(String, String, u64)>,
    in_flight: Option<(String, String)>,
}

fn instance_id(writer: usize, i: usize) -> String {
    format!("w{writer}-i{i}")
}

async fn post(client: &reqwest::Client, url: &str, token: &str, body: Value) -> Result<(u16, Value), reqwest::Error> {
    let resp = client.post(url).bearer_auth(token).json(&body).timeout(Duration::from_secs(20)).send().await?;
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await?;
    Ok((status, body))
}

async fn write_until_stopped(
    server_url: String,
    token: String,
    writer: usize,
    round: usize,
    retry: Option<(String, String)>,
    stop: Arc<AtomicBool>,
) -> WriterLog {
    let client = reqwest::Client::new();
    let mut log = WriterLog::default();
    let events_url = |id: &str| format!("{server_url}/v1/spaces/crash/machines/counter/instances/{id}/events");
    // First, the request that was in flight when the server died: it must apply at most once.
    if let Some((id, key)) = retry {
        let (status, body) =
            post(&client, &events_url(&id), &token, json!({ "event": "next", "idempotency_key": key }))
                .await
                .expect("retry after restart reaches the server");
        assert_eq!(status, 200, "retry of {key}: {body}");
        log.acked.push((id, key, body["seq"].as_u64().expect("seq")));
    }
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let id = instance_id(writer, n % INSTANCES_PER_WRITER);
        let key = format!("r{round}-w{writer}-{n}");
        log.in_flight = Some((id.clone(), key.clone()));
        match post(&client, &events_url(&id), &token, json!({ "event": "next", "idempotency_key": key })).await {
            Ok((200, body)) => {
                log.acked.push((id, key, body["seq"].as_u64().expect("seq")));
                log.in_flight = None;
            }
            Ok((status, body)) => panic!("writer {writer}: unexpected {status}: {body}"),
            // The server was killed: what was in flight stays in `in_flight`.
            Err(_) => break,
        }
        n += 1;
    }
    log
}

async fn all_history(client: &reqwest::Client, base: &str, token: &str, id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0u64;
    loop {
        let url = format!("{base}/v1/spaces/crash/machines/counter/instances/{id}/history?after={after}&limit=1000");
        let page: Value = client.get(url).bearer_auth(token).send().await.expect("history").json().await.expect("json");
        let events = page["events"].as_array().expect("events").clone();
        out.extend(events);
        match page["next_cursor"].as_str() {
            Some(c) => after = c.parse().expect("cursor is a seq"),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_events_survive_sigkill_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut acked: Vec<(String, String, u64)> = Vec::new();
    let mut in_flight: Vec<Option<(String, String)>> = vec![None; WRITERS];
    for round in 0..ROUNDS {
        let mut server = TestServer::start_in(dir.path(), &[]);
        let token = server.admin_token.clone();
        if round == 0 {
            let client = reqwest::Client::new();
            let resp = client
                .put(format!("{}/v1/spaces/crash/machines/counter", server.url))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(COUNTER)
                .send()
                .await
                .expect("put machine");
            assert!(resp.status().is_success());
            for w in 0..WRITERS {
                for i in 0..INSTANCES_PER_WRITER {
                    let url = format!("{}/v1/spaces/crash/machines/counter/instances", server.url);
                    let (status, body) =
                        post(&client, &url, &token, json!({ "id": instance_id(w, i), "ctx": { "n": 0 } }))
                            .await
                            .expect("create");
                    assert_eq!(status, 201, "{body}");
                }
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                tokio::spawn(write_until_stopped(
                    server.url.clone(),
                    token.clone(),
                    w,
                    round,
                    in_flight[w].take(),
                    stop.clone(),
                ))
            })
            .collect();
        let delay = rand::rng().random_range(300..1200);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for (w, handle) in writers.into_iter().enumerate() {
            let log = handle.await.expect("writer");
            acked.extend(log.acked);
            in_flight[w] = log.in_flight;
        }
    }

    let server = TestServer::start_in(dir.path(), &[]);
    let token = server.admin_token.clone();
    let client = reqwest::Client::new();
    assert!(acked.len() > 100, "the writers got work done before the kills ({} acknowledged)", acked.len());
    let machine =
        CompiledMachine::compile(parse_definition(COUNTER.as_bytes(), DefinitionFormat::Json).expect("parses"))
            .expect("compiles");
    let mut logged: HashMap<String, (String, u64)> = HashMap::new();
    for w in 0..WRITERS {
        for i in 0..INSTANCES_PER_WRITER {
            let id = instance_id(w, i);
            let history = all_history(&client, &server.url, &token, &id).await;
            let created = history.first().expect("a created record");
            assert_eq!(created["kind"], "instance.created");
            let mut state = created["payload"]["state"].as_str().expect("state").to_string();
            let mut ctx: Map<String, Value> = created["payload"]["ctx"].as_object().expect("ctx").clone();
            let mut transitions = 0u64;
            for record in &history[1..] {
                assert_eq!(record["kind"], "instance.transitioned");
                let key = record["idempotency_key"].as_str().expect("every write carried a key").to_string();
                let seq = record["seq"].as_u64().expect("seq");
                assert!(logged.insert(key.clone(), (id.clone(), seq)).is_none(), "{key} was applied twice");
                let payload = record["payload"]["payload"].as_object().cloned().unwrap_or_default();
                let outcome = machine.apply(&state, &ctx, "next", &payload, 0).expect("replay applies");
                assert_eq!(record["payload"]["to"].as_str(), Some(outcome.to.as_str()));
                state = outcome.to;
                ctx = outcome.ctx;
                transitions += 1;
            }
            let inst: Value = client
                .get(format!("{}/v1/spaces/crash/machines/counter/instances/{id}", server.url))
                .bearer_auth(&token)
                .send()
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            assert_eq!(inst["state"].as_str(), Some(state.as_str()), "{id}: state equals the replay of its history");
            assert_eq!(inst["ctx"], Value::Object(ctx.clone()), "{id}: ctx equals the replay");
            assert_eq!(inst["revision"].as_u64(), Some(transitions + 1), "{id}: one revision per event");
            assert_eq!(ctx["n"].as_u64(), Some(transitions));
        }
    }
    for (id, key, seq) in &acked {
        match logged.get(key) {
            Some((logged_id, logged_seq)) => {
                assert_eq!((logged_id, logged_seq), (id, seq), "{key} is logged where it was acknowledged")
            }
            None => panic!("acknowledged event {key} (seq {seq}) is missing after the crashes"),
        }
    }
}
