//! Flows through the real binary on both backends: put, run (synchronously and not), read a
//! run's nodes, retry from the failed node without re-running completed ones, rerun, waits and
//! approvals, subflows, cancellation, and the errors of each route.
//!
//! Every test runs once on SQLite and once on a throwaway PostgreSQL database. Tests wait on
//! what a run shows, never on the clock.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestServer;
use support::http::{Http, code};
use support::target::{Answer, Target};
use switchyard_testkit::{PATIENCE, TestDatabase, wait_for};

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

const DOUBLE: &str = "name: double
nodes:
  - { id: a, kind: transform, value: 'input.x * 2' }
  - { id: b, kind: transform, value: 'nodes.a.output + 1' }
edges:
  - { from: a, to: b }
";

async fn put_flow(http: &Http, name: &str, yaml: &str) -> Value {
    let (status, body) = http.put_yaml(&format!("/v1/spaces/acme/flows/{name}"), yaml).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn start(http: &Http, flow: &str, input: Value) -> Value {
    let (status, body) = http.post(&format!("/v1/spaces/acme/flows/{flow}/runs"), json!({ "input": input })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn run(http: &Http, id: &str) -> Value {
    let (status, body) = http.get(&format!("/v1/spaces/acme/runs/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn until_status(http: &Http, id: &str, status: &str) -> Value {
    wait_for(&format!("run {id} to be {status}"), PATIENCE, || run(http, id), |r| r["status"] == status).await
}

fn node<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["nodes"].as_array().and_then(|nodes| nodes.iter().find(|n| n["id"] == id)).unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_runs_synchronously_and_its_run_shows_every_node() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        let put = put_flow(&http, "double", DOUBLE).await;
        assert_eq!((put["version"].as_u64(), put["created"].as_bool()), (Some(1), Some(true)), "{}", backend.name);
        assert_eq!(put_flow(&http, "double", DOUBLE).await["created"], false, "the same flow is the same version");

        let (status, done) =
            http.post("/v1/spaces/acme/flows/double/runs?wait=30s", json!({ "input": { "x": 20 } })).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!((done["status"].as_str(), &done["output"]), (Some("succeeded"), &json!(41)), "{done}");
        let id = done["id"].as_str().expect("an id").to_owned();

        let read = run(&http, &id).await;
        assert_eq!(read["flow"], "double");
        assert_eq!(read["input"], json!({ "x": 20 }));
        let ids: Vec<&str> = read["nodes"].as_array().unwrap().iter().filter_map(|n| n["id"].as_str()).collect();
        assert_eq!(ids, ["a", "b"], "in the flow's order");
        assert_eq!((node(&read, "a")["kind"].as_str(), &node(&read, "a")["output"]), (Some("transform"), &json!(40)));
        assert_eq!(node(&read, "b")["input"], json!(40));
        assert_eq!(node(&read, "b")["status"], "succeeded");

        // The flow reads back as written, and as the machine it became.
        let (_, flow) = http.get("/v1/spaces/acme/flows/double?compiled=true").await;
        assert_eq!(flow["definition"]["nodes"][0]["id"], "a");
        assert_eq!(flow["compiled"]["initial"], "flow.start", "{flow}");
        let (_, flows) = http.get("/v1/spaces/acme/flows").await;
        assert_eq!(flows["flows"][0]["name"], "double");

        // An idempotency key returns the original run.
        let body = json!({ "input": { "x": 1 }, "idempotency_key": "once" });
        let (first, a) = http.post("/v1/spaces/acme/flows/double/runs", body.clone()).await;
        let (again, b) = http.post("/v1/spaces/acme/flows/double/runs", body).await;
        assert_eq!((first, again), (StatusCode::CREATED, StatusCode::OK));
        assert_eq!(a["id"], b["id"]);

        // Runs list newest first, filtered by flow and status.
        let (_, page) = http.get("/v1/spaces/acme/runs?flow=double&status=succeeded&limit=1").await;
        assert_eq!(page["runs"].as_array().map(Vec::len), Some(1), "{page}");
        assert_eq!(page["runs"][0]["id"], a["id"], "the newest first");
        let cursor = page["next_cursor"].as_str().expect("a cursor").to_owned();
        let (_, next) = http.get(&format!("/v1/spaces/acme/runs?limit=1&cursor={cursor}")).await;
        assert_eq!(next["runs"][0]["id"], json!(id));
        let (_, none) = http.get("/v1/spaces/acme/runs?since=2099-01-01T00:00:00Z").await;
        assert_eq!(none["runs"], json!([]));
        let (_, none) = http.get("/v1/spaces/acme/runs?until=2000-01-01T00:00:00%2B02:00").await;
        assert_eq!(none["runs"], json!([]));
        let (_, all) = http.get("/v1/spaces/acme/runs?since=2000-01-01T00:00:00Z&until=2099-01-01T00:00:00Z").await;
        assert_eq!(all["runs"].as_array().map(Vec::len), Some(2), "{all}");
        let (_, first) = http.get("/v1/spaces/acme/flows/double?version=1").await;
        assert_eq!(first["version"], 1);
        let (status, missing) = http.get("/v1/spaces/acme/flows/double?version=9").await;
        assert_eq!((status, code(&missing)), (StatusCode::NOT_FOUND, "flow_not_found"), "{missing}");
        let (_, none) = http.get("/v1/spaces/acme/runs?status=failed").await;
        assert_eq!(none["runs"], json!([]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_resumes_at_the_failed_node_and_rerun_starts_over() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        // /a answers, /b fails once (no retries), then answers: each request is counted.
        let target = Target::start(vec![Answer::status(200), Answer::status(500), Answer::status(200)]).await;
        let yaml = format!(
            "nodes:
  - {{ id: fetch, kind: http, method: GET, url: \"'{a}'\", retry: {{ max_attempts: 1 }} }}
  - {{ id: store, kind: http, url: \"'{b}'\", body: '{{\"n\": nodes.fetch.output.status}}', retry: {{ max_attempts: 1 }} }}
  - {{ id: done, kind: transform, value: 'nodes.store.output.status' }}
edges:
  - {{ from: fetch, to: store }}
  - {{ from: store, to: done }}
",
            a = target.url("/a"),
            b = target.url("/b"),
        );
        put_flow(&http, "etl", &yaml).await;
        let id = start(&http, "etl", json!({ "batch": 1 })).await["id"].as_str().unwrap().to_owned();
        let failed = until_status(&http, &id, "failed").await;
        assert_eq!(failed["error"]["node"], "store", "{failed}");
        assert_eq!(node(&failed, "fetch")["status"], "succeeded");
        assert_eq!(node(&failed, "store")["status"], "failed");
        assert_eq!(node(&failed, "store")["attempts"], 1);

        let (status, retried) = http.post(&format!("/v1/spaces/acme/runs/{id}/retry"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{retried}");
        assert_eq!(retried["retry_of"], json!(id));
        let new_id = retried["id"].as_str().unwrap().to_owned();
        let done = until_status(&http, &new_id, "succeeded").await;
        assert_eq!(done["output"], 200);
        assert_eq!(node(&done, "fetch")["runs"], 1, "the completed node kept its record");
        let paths: Vec<String> = target.seen().into_iter().map(|s| s.path).collect();
        assert_eq!(paths, ["/a", "/b", "/b"], "{}: retry did not re-run fetch", backend.name);

        // A succeeded run is not retried; it is rerun, from the start, with the same input.
        let (status, refused) = http.post(&format!("/v1/spaces/acme/runs/{new_id}/retry"), json!({})).await;
        assert_eq!((status, code(&refused)), (StatusCode::CONFLICT, "conflict"), "{refused}");
        let (status, rerun) = http.post(&format!("/v1/spaces/acme/runs/{id}/rerun"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{rerun}");
        assert_eq!((&rerun["input"], &rerun["rerun_of"]), (&json!({ "batch": 1 }), &json!(id)));
        until_status(&http, rerun["id"].as_str().unwrap(), "succeeded").await;
        assert_eq!(target.seen().len(), 5, "a rerun runs every node again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_approvals_subflows_and_cancellation() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        put_flow(
            &http,
            "approval",
            "nodes:
  - { id: ask, kind: wait, approval: true, timeout: 1h }
  - { id: answer, kind: transform, value: '\"approved by \" + nodes.ask.output.by' }
edges:
  - { from: ask, to: answer }
",
        )
        .await;
        let id = start(&http, "approval", json!({})).await["id"].as_str().unwrap().to_owned();
        let waiting = until_status(&http, &id, "waiting").await;
        assert_eq!(node(&waiting, "ask")["status"], "running");
        let (status, answered) = http
            .post(
                &format!("/v1/spaces/acme/runs/{id}/events"),
                json!({ "event": "approve", "payload": { "by": "ops" } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answered}");
        assert_eq!((answered["status"].as_str(), &answered["output"]), (Some("succeeded"), &json!("approved by ops")));

        let rejected = start(&http, "approval", json!({})).await["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/spaces/acme/runs/{rejected}/events");
        let (_, body) = http.post(&path, json!({ "event": "reject", "payload": { "reason": "no budget" } })).await;
        assert_eq!((body["status"].as_str(), &body["error"]["code"]), (Some("failed"), &json!("rejected")), "{body}");
        assert_eq!(body["error"]["message"], "no budget");

        // A subflow's output is the node's output; cancelling the parent cancels the child.
        put_flow(&http, "parent", "nodes:\n  - { id: child, kind: subflow, flow: approval, input: 'input' }\n").await;
        let parent = start(&http, "parent", json!({ "k": 1 })).await["id"].as_str().unwrap().to_owned();
        let running = until_status(&http, &parent, "running").await;
        let child = running["subflow"]["run"].as_str().expect("a subflow run").to_owned();
        let (status, cancelled) =
            http.post(&format!("/v1/spaces/acme/runs/{parent}/cancel"), json!({ "reason": "not needed" })).await;
        assert_eq!((status, cancelled["status"].as_str()), (StatusCode::OK, Some("cancelled")), "{cancelled}");
        let (_, child_run) = http.get(&format!("/v1/spaces/acme/machines/approval/instances/{child}")).await;
        assert_eq!(child_run["status"], "cancelled", "{}: the subflow went with it", backend.name);
        let (status, listed) = http.get(&format!("/v1/spaces/acme/runs/{child}")).await;
        assert_eq!((status, code(&listed)), (StatusCode::NOT_FOUND, "run_not_found"), "a subflow is not a run");

        // One that finishes: the parent's output is the child's.
        let parent = start(&http, "parent", json!({})).await["id"].as_str().unwrap().to_owned();
        let running = until_status(&http, &parent, "running").await;
        let child = running["subflow"]["run"].as_str().unwrap().to_owned();
        let path = format!("/v1/spaces/acme/machines/approval/instances/{child}/events");
        let (status, _) = http.post(&path, json!({ "event": "approve", "payload": { "by": "lead" } })).await;
        assert_eq!(status, StatusCode::OK);
        let done = until_status(&http, &parent, "succeeded").await;
        assert_eq!(done["output"], "approved by lead");

        // Bulk cancel: every waiting run of a flow.
        for _ in 0..3 {
            start(&http, "approval", json!({})).await;
        }
        let (status, bulk) =
            http.post("/v1/spaces/acme/runs/cancel", json!({ "flow": "approval", "status": "waiting" })).await;
        assert_eq!(status, StatusCode::OK, "{bulk}");
        assert_eq!(bulk["cancelled"].as_array().map(Vec::len), Some(3), "{bulk}");
        let (_, left) = http.get("/v1/spaces/acme/runs?flow=approval&status=waiting").await;
        assert_eq!(left["runs"], json!([]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flows_and_bad_requests_get_clear_errors() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        let (status, body) =
            http.put_yaml("/v1/spaces/acme/flows/bad", "nodes:\n  - { id: a, kind: transform }\n").await;
        assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{body}");
        assert_eq!(body["error"]["details"]["errors"][0]["path"], "nodes.a.value", "{body}");
        let (status, body) =
            http.put_yaml("/v1/spaces/acme/flows/bad", "nodes: [{ id: a, kind: transform, value: '1', x: 1 }]").await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "bad_request"), "{body}");

        // A name is a flow or a machine, not both.
        let (status, _) = http.put_yaml("/v1/spaces/acme/machines/plain", "initial: a\nstates: [a]\n").await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) =
            http.put_yaml("/v1/spaces/acme/flows/plain", DOUBLE.replace("name: double\n", "").as_str()).await;
        assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"), "{body}");
        put_flow(&http, "double", DOUBLE).await;
        let (status, body) = http.put_yaml("/v1/spaces/acme/machines/double", "initial: a\nstates: [a]\n").await;
        assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"), "{body}");

        let (status, body) = http.get("/v1/spaces/acme/flows/plain").await;
        assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "flow_not_found"), "a machine is not a flow");
        let (status, body) = http.post("/v1/spaces/acme/flows/nope/runs", json!({})).await;
        assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "flow_not_found"), "{body}");
        let (status, body) = http.get("/v1/spaces/acme/runs/nope").await;
        assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "run_not_found"), "{body}");
        let (status, body) = http.get("/v1/spaces/acme/runs?status=sleeping").await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "bad_request"), "{body}");
        let (status, body) = http.get("/v1/spaces/acme/runs?since=yesterday").await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "bad_request"), "{body}");
        let (status, body) = http.post("/v1/spaces/acme/flows/double/runs?wait=5m", json!({})).await;
        assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{body}");

        // An input the flow's schema refuses; a node whose expression fails at run time.
        put_flow(
            &http,
            "typed",
            "input_schema: { type: object, required: [x], properties: { x: { type: integer } } }
nodes:
  - { id: a, kind: transform, value: 'input.x / 0' }
",
        )
        .await;
        let (status, body) = http.post("/v1/spaces/acme/flows/typed/runs", json!({ "input": { "x": "one" } })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {body}", backend.name);
        // A run whose first step fails is created failed, so its history shows why.
        let (status, body) = http.post("/v1/spaces/acme/flows/typed/runs", json!({ "input": { "x": 1 } })).await;
        assert_eq!((status, &body["status"]), (StatusCode::CREATED, &json!("failed")), "{}: {body}", backend.name);
        assert_eq!(body["error"]["code"], "transition_failed", "{body}");
        assert!(body["error"]["message"].as_str().unwrap_or("").contains("nodes.a"), "{body}");
        let failed = run(&http, body["id"].as_str().unwrap()).await;
        assert_eq!((&failed["status"], &failed["input"]), (&json!("failed"), &json!({ "x": 1 })), "{failed}");
        let (_, listed) = http.get("/v1/spaces/acme/runs?flow=typed&status=failed").await;
        assert_eq!(listed["runs"].as_array().map(Vec::len), Some(1), "{listed}");
        let (status, waited) =
            http.post("/v1/spaces/acme/flows/typed/runs?wait=5s", json!({ "input": { "x": 2 } })).await;
        assert_eq!((status, &waited["status"]), (StatusCode::OK, &json!("failed")), "{waited}");

        // A loop past its bound fails the run instead of spinning.
        put_flow(
            &http,
            "spin",
            "max_iterations: 20
nodes:
  - { id: init, kind: set, vars: { n: '0' } }
  - { id: again, kind: set, vars: { n: 'vars.n + 1' } }
  - { id: check, kind: condition, if: 'vars.n > 0' }
edges:
  - { from: init, to: again }
  - { from: again, to: check }
  - { from: check, to: again, branch: true }
",
        )
        .await;
        let (status, body) = http.post("/v1/spaces/acme/flows/spin/runs?wait=10s", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((body["status"].as_str(), &body["error"]["code"]), (Some("failed"), &json!("loop_limit")), "{body}");
    }
}

/// A target that answers each request after a short pause and counts how many were in flight
/// at once, and which paths it saw.
struct CountingTarget {
    addr: String,
    /// (in flight now, most at once, paths seen).
    state: std::sync::Arc<std::sync::Mutex<(u32, u32, Vec<String>)>>,
}

impl CountingTarget {
    async fn start() -> CountingTarget {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let state: std::sync::Arc<std::sync::Mutex<(u32, u32, Vec<String>)>> = Default::default();
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let path = text.split(' ').nth(1).unwrap_or_default().to_owned();
                    {
                        let mut state = state.lock().expect("state");
                        state.0 += 1;
                        state.1 = state.1.max(state.0);
                        state.2.push(path);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    state.lock().expect("state").0 -= 1;
                    let reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        CountingTarget { addr, state }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreach_of_a_thousand_items_keeps_its_order_and_its_concurrency() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        let target = CountingTarget::start().await;
        let yaml = format!(
            "nodes:
  - {{ id: each, kind: foreach, items: 'input.items', do: fetch, concurrency: 10 }}
  - {{ id: fetch, kind: http, method: GET, url: \"'http://{addr}/item/' + string(item)\" }}
  - {{ id: double, kind: transform, value: 'item * 2' }}
  - {{ id: count, kind: transform, value: 'size(nodes.each.output)' }}
edges:
  - {{ from: fetch, to: double }}
  - {{ from: each, to: count }}
",
            addr = target.addr
        );
        put_flow(&http, "fanout", &yaml).await;
        let items: Vec<u32> = (0..1000).collect();
        let id = start(&http, "fanout", json!({ "items": items })).await["id"].as_str().unwrap().to_owned();
        let done = until_status(&http, &id, "succeeded").await;
        assert_eq!(done["output"], 1000, "{}", backend.name);
        let expected: Vec<u32> = items.iter().map(|i| i * 2).collect();
        assert_eq!(node(&done, "each")["output"], json!(expected), "{}: in the list's order", backend.name);
        let (in_flight, most, paths) = target.state.lock().expect("state").clone();
        assert_eq!((in_flight, paths.len()), (0, 1000), "{}: each item once", backend.name);
        assert!(most <= 10, "{}: {most} requests in flight at once; the concurrency is 10", backend.name);
        assert!(most >= 2, "{}: the items ran concurrently ({most} at most)", backend.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_branches_join_and_cancel_stops_every_branch() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        // `any`: the quick branch wins and the waiting one is cancelled.
        put_flow(
            &http,
            "race",
            "nodes:
  - { id: split, kind: parallel, branches: [quick, slow], join: any }
  - { id: quick, kind: transform, value: 'input.x + 1' }
  - { id: slow, kind: wait, event: go }
  - { id: after, kind: transform, value: 'nodes.quick.output * 10' }
edges:
  - { from: split, to: after }
",
        )
        .await;
        let (status, done) =
            http.post("/v1/spaces/acme/flows/race/runs?wait=30s", json!({ "input": { "x": 1 } })).await;
        assert_eq!((status, done["status"].as_str()), (StatusCode::OK, Some("succeeded")), "{}: {done}", backend.name);
        assert_eq!(done["output"], 20);
        let read = run(&http, done["id"].as_str().unwrap()).await;
        assert_eq!(node(&read, "split")["output"][0], 2, "{read}");
        assert_eq!(node(&read, "split")["output"][1], Value::Null);

        // `all` with two start nodes: the run's output is both branches' outputs.
        put_flow(
            &http,
            "both",
            "nodes:
  - { id: a, kind: transform, value: 'input.x' }
  - { id: b, kind: transform, value: 'input.x * 10' }
",
        )
        .await;
        let (_, both) = http.post("/v1/spaces/acme/flows/both/runs?wait=30s", json!({ "input": { "x": 3 } })).await;
        assert_eq!((both["status"].as_str(), &both["output"]), (Some("succeeded"), &json!([3, 30])), "{both}");

        // Cancelling a run stops every branch: each waiting child is cancelled with it.
        put_flow(
            &http,
            "waits",
            "nodes:
  - { id: all, kind: foreach, items: '[1, 2, 3]', do: hold }
  - { id: hold, kind: wait, event: go }
",
        )
        .await;
        let id = start(&http, "waits", json!({})).await["id"].as_str().unwrap().to_owned();
        until_status(&http, &id, "running").await;
        let (_, children) = http.get("/v1/spaces/acme/machines/waits/instances?limit=10").await;
        let children: Vec<String> = children["instances"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| !i["parent"].is_null())
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(children.len(), 3, "{}: one child per item", backend.name);
        let (status, _) = http.post(&format!("/v1/spaces/acme/runs/{id}/cancel"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        for child in children {
            let (_, read) = http.get(&format!("/v1/spaces/acme/machines/waits/instances/{child}")).await;
            assert_eq!(read["status"], "cancelled", "{}: {read}", backend.name);
        }

        // A foreach whose first item fails leaves its state: the items still queued are cancelled.
        put_flow(
            &http,
            "strict",
            "nodes:
  - { id: all, kind: foreach, items: '[0, 1, 2]', do: check, concurrency: 1 }
  - { id: check, kind: condition, if: 'item == 0' }
  - { id: bad, kind: fail, code: bad_item }
  - { id: good, kind: transform, value: 'item' }
edges:
  - { from: check, to: bad, branch: true }
  - { from: check, to: good, branch: false }
",
        )
        .await;
        let (_, failed) = http.post("/v1/spaces/acme/flows/strict/runs?wait=30s", json!({})).await;
        assert_eq!((failed["status"].as_str(), &failed["error"]["node"]), (Some("failed"), &json!("all")), "{failed}");
        let (_, items) = http.get("/v1/spaces/acme/machines/strict/instances?limit=10").await;
        let statuses: Vec<&str> = items["instances"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| !i["parent"].is_null())
            .filter_map(|i| i["status"].as_str())
            .collect();
        assert_eq!(statuses.iter().filter(|s| **s == "cancelled").count(), 2, "{}: {items}", backend.name);
    }
}

const USERS: &str = r#"[{"id": 1, "name": "Ada", "email": "ada@example.com"}, {"id": 2, "name": "Grace", "email": "grace@example.com"}]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_flow_runs() {
    let example = |name: &str| {
        let path = format!("{}/../../examples/flows/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    for backend in backends().await {
        let http = Http::new(&backend.server);
        let client = backend.server.client();

        // ETL: a list over HTTP, each item shaped and written to KV by the kv-put function.
        let settings =
            switchyard_client::FunctionSettings { kv_buckets: vec!["items".to_owned()], ..Default::default() };
        client
            .deploy_function("acme", "kv-put", &switchyard_testkit::example_function_bytes("kv-put"), &settings)
            .await
            .expect("deploy kv-put");
        let users = Target::start(vec![Answer { status: 200, headers: Vec::new(), body: USERS }]).await;
        put_flow(&http, "etl", &example("etl")).await;
        let input = json!({ "url": users.url("/users") });
        let (status, done) = http.post("/v1/spaces/acme/flows/etl/runs?wait=60s", json!({ "input": input })).await;
        assert_eq!((status, done["status"].as_str()), (StatusCode::OK, Some("succeeded")), "{}: {done}", backend.name);
        assert_eq!(done["output"], json!({ "stored": 2 }));
        let stored = client.kv_get("acme", "items", "user-2").await.expect("user-2 stored");
        let value: Value = serde_json::from_slice(&stored.value).expect("JSON");
        assert_eq!(value, json!({ "name": "Grace", "email": "grace@example.com" }));

        // API proxy: the primary keeps failing, so the fallback answers.
        let primary = Target::start(vec![Answer::status(503)]).await;
        let fallback = Target::start(vec![Answer { status: 200, headers: Vec::new(), body: r#"{"price": 12}"# }]).await;
        put_flow(&http, "api-proxy", &example("api-proxy")).await;
        let input = json!({ "primary": primary.url(""), "fallback": fallback.url(""), "symbol": "ACME" });
        let (_, done) = http.post("/v1/spaces/acme/flows/api-proxy/runs?wait=60s", json!({ "input": input })).await;
        assert_eq!(done["output"], json!({ "source": "fallback", "quote": { "price": 12 } }), "{done}");
        assert_eq!(primary.seen().len(), 2, "the primary's two attempts");

        // Approval: by policy, by a person, or refused.
        put_flow(&http, "expense-approval", &example("approval")).await;
        let path = "/v1/spaces/acme/flows/expense-approval/runs?wait=30s";
        let (_, small) = http.post(path, json!({ "input": { "amount": 40 } })).await;
        assert_eq!(small["output"], json!({ "approved": true, "by": "policy" }), "{small}");
        let big = start(&http, "expense-approval", json!({ "amount": 400 })).await["id"].as_str().unwrap().to_owned();
        until_status(&http, &big, "waiting").await;
        let (_, done) = http
            .post(
                &format!("/v1/spaces/acme/runs/{big}/events"),
                json!({ "event": "approve", "payload": { "by": "ana" } }),
            )
            .await;
        assert_eq!(done["output"], json!({ "approved": true, "by": "ana" }), "{done}");
        let refused =
            start(&http, "expense-approval", json!({ "amount": 900 })).await["id"].as_str().unwrap().to_owned();
        let event = json!({ "event": "reject", "payload": { "reason": "over budget" } });
        let (_, done) = http.post(&format!("/v1/spaces/acme/runs/{refused}/events"), event).await;
        assert_eq!(done["error"]["code"], "not_approved", "{done}");
        assert_eq!(done["error"]["message"], "expense of 900: over budget");

        // Fan-out: three suppliers at once, the cheapest of the first two to answer.
        let suppliers = Target::start(vec![Answer { status: 200, headers: Vec::new(), body: r#"{"price": 7}"# }]).await;
        put_flow(&http, "price-check", &example("fan-out")).await;
        let input = json!({ "base": suppliers.url(""), "item": "bolts" });
        let (_, done) = http.post("/v1/spaces/acme/flows/price-check/runs?wait=60s", json!({ "input": input })).await;
        assert_eq!((done["status"].as_str(), &done["output"]), (Some("succeeded"), &json!(7)), "{done}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_values_reach_expressions_and_secrets_only_the_request() {
    for backend in backends().await {
        let http = Http::new(&backend.server);
        let target = Target::start(vec![Answer::status(200)]).await;
        let (status, set) = http.put_json("/v1/spaces/acme/env/base", &json!({ "value": target.url("/items") })).await;
        assert_eq!(status, StatusCode::CREATED, "{set}");
        let (status, _) = http.put_json("/v1/spaces/acme/env/region", &json!({ "value": "eu" })).await;
        assert_eq!(status, StatusCode::CREATED);
        put_flow(
            &http,
            "call",
            "nodes:
  - id: fetch
    kind: http
    method: GET
    url: \"env.base + '/' + string(input.id)\"
    retry: { max_attempts: 3 }
    secret_headers: { Authorization: 'Bearer {{secrets.api_token}}' }
  - { id: shape, kind: transform, value: \"{'status': nodes.fetch.output.status, 'region': env.region}\" }
edges:
  - { from: fetch, to: shape }
",
        )
        .await;

        // The secret is not set: the node fails at once (no retries), and nothing was sent.
        let id = start(&http, "call", json!({ "id": 7 })).await["id"].as_str().unwrap().to_owned();
        let failed = until_status(&http, &id, "failed").await;
        assert_eq!((&failed["error"]["code"], &failed["error"]["node"]), (&json!("secret_not_found"), &json!("fetch")));
        assert_eq!(node(&failed, "fetch")["attempts"], 1, "{}: {failed}", backend.name);
        assert!(target.seen().is_empty());

        // Only a space admin sets secrets; a writer may not, a reader sees names only.
        let (_, writer) = http.post("/v1/tokens", json!({ "name": "w", "role": "writer", "spaces": ["acme"] })).await;
        let writer = Http::with_token(&backend.server, writer["token"].as_str());
        let (status, body) = writer.put_json("/v1/spaces/acme/secrets/api_token", &json!({ "value": "x" })).await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{body}");
        let (status, body) = http.put_json("/v1/spaces/acme/secrets/api_token", &json!({ "value": "s3cr3t" })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body.get("value"), None, "a secret is never answered: {body}");

        // Retried, the run sends the secret in the header and shows it nowhere.
        let (status, retried) = http.post(&format!("/v1/spaces/acme/runs/{id}/retry"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{retried}");
        let done = until_status(&http, retried["id"].as_str().unwrap(), "succeeded").await;
        assert_eq!(done["output"], json!({ "status": 200, "region": "eu" }));
        let seen = target.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            (seen[0].path.as_str(), seen[0].headers.get("authorization").map(String::as_str)),
            ("/items/7", Some("Bearer s3cr3t"))
        );
        let (_, jobs) = http.get("/v1/spaces/acme/jobs").await;
        let (_, secrets) = http.get("/v1/spaces/acme/secrets").await;
        assert_eq!(secrets["secrets"][0]["name"], "api_token");
        for shown in [done.to_string(), jobs.to_string(), secrets.to_string()] {
            assert!(!shown.contains("s3cr3t"), "{}: the secret leaked into {shown}", backend.name);
        }
        assert!(jobs.to_string().contains("{{secrets.api_token}}"), "the job carries the reference: {jobs}");

        // A changed value is what the next run reads.
        let (status, _) = http.put_json("/v1/spaces/acme/env/region", &json!({ "value": "us" })).await;
        assert_eq!(status, StatusCode::OK);
        let again = start(&http, "call", json!({ "id": 8 })).await["id"].as_str().unwrap().to_owned();
        assert_eq!(until_status(&http, &again, "succeeded").await["output"]["region"], "us");
        let (status, listed) = http.get("/v1/spaces/acme/env").await;
        assert_eq!(status, StatusCode::OK);
        let names: Vec<&str> = listed["env"].as_array().unwrap().iter().filter_map(|v| v["name"].as_str()).collect();
        assert_eq!(names, ["base", "region"]);
        let (status, _) = http.delete("/v1/spaces/acme/secrets/api_token").await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = http.get("/v1/spaces/acme/secrets/api_token").await;
        assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "secret_not_found"));
    }
}
