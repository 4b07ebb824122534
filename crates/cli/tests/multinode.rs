//! Several real `switchyard serve` processes sharing one real PostgreSQL database behave as one
//! service: writes through any node, one instance's events serialised across nodes,
//! idempotency and tokens shared, live nodes listed — and when one node is SIGKILLed mid-run,
//! the others keep serving and every acknowledged event is present exactly once.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::TestServer;
use switchyard_testkit::fixtures::COUNTER_MACHINE as COUNTER;
use switchyard_testkit::{InstanceRecords, PATIENCE, TestDatabase, verify_exactly_once, wait_until};

async fn put_counter(http: &reqwest::Client, node: &str, token: &str) {
    let resp = http
        .put(format!("{node}/v1/spaces/acme/machines/counter"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(COUNTER)
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status().as_u16(), 200);
}

struct Node {
    server: TestServer,
    _dir: tempfile::TempDir,
}

fn start_cluster(url: &str, nodes: usize) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::new();
    for _ in 0..nodes {
        let dir = tempfile::tempdir().expect("temp dir");
        // A data dir that does not exist yet: serve creates it (with PostgreSQL it holds only
        // the admin token).
        let data_dir = dir.path().join("data");
        let args = ["--store", url];
        let server = match out.first() {
            None => TestServer::start_in(&data_dir, &args),
            Some(first) => TestServer::start_node(&data_dir, &args, &first.server.admin_token),
        };
        out.push(Node { server, _dir: dir });
    }
    out
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, url).bearer_auth(token).timeout(Duration::from_secs(30));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request reaches the node");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
}

fn events_url(node: &str, id: &str) -> String {
    format!("{node}/v1/spaces/acme/machines/counter/instances/{id}/events")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_sharing_postgres_serve_as_one() {
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
    let nodes = start_cluster(db.url(), 3);
    let token = nodes[0].server.admin_token.clone();
    let urls: Vec<String> = nodes.iter().map(|n| n.server.url.clone()).collect();
    let http = reqwest::Client::new();
    use reqwest::Method;

    // Every node lists every live node.
    for url in &urls {
        let (status, body) = call(&http, Method::GET, format!("{url}/v1/cluster/nodes"), &token, None).await;
        assert_eq!(status, 200, "{body}");
        let listed: Vec<&str> =
            body["nodes"].as_array().expect("nodes").iter().filter_map(|n| n["address"].as_str()).collect();
        for u in &urls {
            assert!(listed.contains(&u.as_str()), "{u} missing from {listed:?}");
        }
    }

    // A machine put through one node is used through another; an instance created through a
    // third is read through the first.
    put_counter(&http, &urls[0], &token).await;
    let create = json!({ "id": "shared", "ctx": { "n": 0 } });
    let (status, _) = call(
        &http,
        Method::POST,
        format!("{}/v1/spaces/acme/machines/counter/instances", urls[1]),
        &token,
        Some(create),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) =
        call(&http, Method::GET, format!("{}/v1/spaces/acme/machines/counter/instances/shared", urls[2]), &token, None)
            .await;
    assert_eq!(status, 200);

    // Concurrent events to one instance from every node: each gets its own revision.
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (http, url, token) = (http.clone(), urls[i % urls.len()].clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let (status, body) =
                call(&http, Method::POST, events_url(&url, "shared"), &token, Some(json!({ "event": "next" }))).await;
            assert_eq!(status, 200, "{body}");
            body["revision"].as_u64().expect("revision")
        }));
    }
    let mut revisions = Vec::new();
    for t in tasks {
        revisions.push(t.await.expect("task"));
    }
    revisions.sort_unstable();
    assert_eq!(revisions, (2..=61).collect::<Vec<u64>>(), "no lost update across nodes");
    let (_, inst) =
        call(&http, Method::GET, format!("{}/v1/spaces/acme/machines/counter/instances/shared", urls[0]), &token, None)
            .await;
    assert_eq!(inst["ctx"]["n"], 60);

    // One idempotency key sent to every node at once applies once.
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (http, url, token) = (http.clone(), urls[i % urls.len()].clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({ "event": "next", "idempotency_key": "once-across-nodes" });
            call(&http, Method::POST, events_url(&url, "shared"), &token, Some(body)).await
        }));
    }
    let mut seqs = std::collections::HashSet::new();
    for t in tasks {
        let (status, body) = t.await.expect("task");
        assert_eq!(status, 200, "{body}");
        seqs.insert(body["seq"].as_u64().expect("seq"));
    }
    assert_eq!(seqs.len(), 1, "every node returned the one original result");
    let (_, inst) =
        call(&http, Method::GET, format!("{}/v1/spaces/acme/machines/counter/instances/shared", urls[2]), &token, None)
            .await;
    assert_eq!(inst["revision"], 62);

    // A token created on one node works on another; revoked on a third, it stops working on a
    // node that had it cached within that cache's lifetime (5 s).
    let (_, created) = call(
        &http,
        Method::POST,
        format!("{}/v1/tokens", urls[0]),
        &token,
        Some(json!({ "name": "r", "role": "reader", "spaces": ["acme"] })),
    )
    .await;
    let reader = created["token"].as_str().expect("secret").to_string();
    // Both node 2 and node 3 cache the token; node 3 then revokes it.
    for node in [&urls[1], &urls[2]] {
        let (status, _) = call(&http, Method::GET, format!("{node}/v1/spaces/acme/machines"), &reader, None).await;
        assert_eq!(status, 200, "{node} now has the token cached");
    }
    let id = created["id"].as_str().expect("id");
    let (status, _) = call(&http, Method::DELETE, format!("{}/v1/tokens/{id}", urls[2]), &token, None).await;
    assert_eq!(status, 204);
    let (status, _) = call(&http, Method::GET, format!("{}/v1/spaces/acme/machines", urls[2]), &reader, None).await;
    assert_eq!(status, 401, "refused at once on the node that revoked it, though it had the token cached");
    // Node 2 learns of it when its cache entry expires (the bound itself is the engine's
    // TOKEN_CACHE_TTL; here only that it happens).
    wait_until("node 2 to refuse the token revoked on node 3", PATIENCE, || async {
        let (status, _) = call(&http, Method::GET, format!("{}/v1/spaces/acme/machines", urls[1]), &reader, None).await;
        (status == 401).then_some(())
    })
    .await;

    // A node that shuts down cleanly leaves the list at once.
    let mut nodes = nodes;
    let leaving = nodes.pop().expect("three nodes");
    let mut leaving_server = leaving.server;
    assert!(leaving_server.terminate().success());
    let (_, body) = call(&http, Method::GET, format!("{}/v1/cluster/nodes", urls[0]), &token, None).await;
    assert_eq!(body["nodes"].as_array().map(|a| a.len()), Some(2), "{body}");
    drop(nodes);
    tokio::task::spawn_blocking(move || drop(db)).await.expect("drop database");
}

#[derive(Default)]
struct WriterLog {
    acked: Vec<(String, String, u64)>,
    in_flight: Option<(String, String)>,
}

/// Writes through `node` until stopped. Only the writers of the node that is killed may meet
/// a failed request (and then stop); a survivor's writer panics on any error.
async fn write_until_stopped(
    node: String,
    token: String,
    writer: usize,
    on_killed_node: bool,
    acks: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> WriterLog {
    let http = reqwest::Client::new();
    let mut log = WriterLog::default();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let id = format!("w{writer}-{}", n % 2);
        let key = format!("w{writer}-{n}");
        log.in_flight = Some((id.clone(), key.clone()));
        let req = http
            .post(events_url(&node, &id))
            .bearer_auth(&token)
            .json(&json!({ "event": "next", "idempotency_key": key }))
            .timeout(Duration::from_secs(20));
        match req.send().await {
            Ok(resp) if resp.status().as_u16() == 200 => {
                let body: Value = resp.json().await.expect("json");
                log.acked.push((id, key, body["seq"].as_u64().expect("seq")));
                log.in_flight = None;
                acks.fetch_add(1, Ordering::Relaxed);
            }
            Ok(resp) => panic!("writer {writer}: unexpected {}", resp.status()),
            Err(_) if on_killed_node => break,
            Err(e) => panic!("writer {writer} on a surviving node failed: {e}"),
        }
        n += 1;
    }
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkilled_node_loses_no_acknowledged_event_and_the_others_keep_serving() {
    const WRITERS: usize = 9;
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
    let mut nodes = start_cluster(db.url(), 3);
    let token = nodes[0].server.admin_token.clone();
    let urls: Vec<String> = nodes.iter().map(|n| n.server.url.clone()).collect();
    let http = reqwest::Client::new();
    put_counter(&http, &urls[0], &token).await;
    for w in 0..WRITERS {
        for i in 0..2 {
            let url = format!("{}/v1/spaces/acme/machines/counter/instances", urls[w % 3]);
            let (status, body) = call(
                &http,
                reqwest::Method::POST,
                url,
                &token,
                Some(json!({ "id": format!("w{w}-{i}"), "ctx": { "n": 0 } })),
            )
            .await;
            assert_eq!(status, 201, "{body}");
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let survivor_acks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let killed_acks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let on_killed_node = w % 3 == 2;
            let acks = if on_killed_node { killed_acks.clone() } else { survivor_acks.clone() };
            tokio::spawn(write_until_stopped(urls[w % 3].clone(), token.clone(), w, on_killed_node, acks, stop.clone()))
        })
        .collect();
    // Counts of acknowledged writes, not time, say when each phase has happened.
    wait_until("the node to be killed to serve writes", PATIENCE, || async {
        (killed_acks.load(Ordering::Relaxed) >= 20).then_some(())
    })
    .await;
    nodes[2].server.kill();
    let acks_at_kill = survivor_acks.load(Ordering::Relaxed);
    wait_until("the surviving nodes to serve 50 writes after the kill", PATIENCE, || async {
        (survivor_acks.load(Ordering::Relaxed) >= acks_at_kill + 50).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    let mut in_flight = Vec::new();
    for handle in writers {
        let log = handle.await.expect("writer");
        acked.extend(log.acked);
        in_flight.extend(log.in_flight);
    }
    // What was in flight on the dead node is retried through a survivor: applied at most once.
    for (id, key) in &in_flight {
        let (status, body) = call(
            &http,
            reqwest::Method::POST,
            events_url(&urls[0], id),
            &token,
            Some(json!({ "event": "next", "idempotency_key": key })),
        )
        .await;
        assert_eq!(status, 200, "retry of {key}: {body}");
        acked.push((id.clone(), key.clone(), body["seq"].as_u64().expect("seq")));
    }

    let mut instances = Vec::new();
    for w in 0..WRITERS {
        for i in 0..2 {
            let id = format!("w{w}-{i}");
            let history_url = format!("{}/v1/spaces/acme/machines/counter/instances/{id}/history?limit=1000", urls[1]);
            let (_, history) = call(&http, reqwest::Method::GET, history_url, &token, None).await;
            assert!(history["next_cursor"].is_null(), "fewer than 1000 records per instance");
            let url = format!("{}/v1/spaces/acme/machines/counter/instances/{id}", urls[0]);
            let (_, instance) = call(&http, reqwest::Method::GET, url, &token, None).await;
            let history = history["events"].as_array().expect("events").clone();
            instances.push(InstanceRecords { id, history, instance });
        }
    }
    let replayed = verify_exactly_once(COUNTER, &instances).unwrap_or_else(|e| panic!("{e}"));
    replayed
        .check_acknowledged(acked.iter().map(|(id, key, seq)| (id.as_str(), key.as_str(), *seq)))
        .unwrap_or_else(|e| panic!("{e}"));
    drop(nodes);
    tokio::task::spawn_blocking(move || drop(db)).await.expect("drop database");
}
