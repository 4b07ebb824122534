//! What two real `switchyard serve` nodes sharing one PostgreSQL database must agree on: a
//! subscription's lease taken through one node holds on the other (and is acked there), a
//! compare-and-set raced through both has exactly one winner, and an asynchronous invocation
//! left by a dead node runs exactly once however the surviving nodes race to claim it.

mod support;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use support::net::Gate;
use support::{TestServer, gauge};
use switchyard_client::{Client, FunctionSettings, InvokeOptions, KvCondition, KvPutOptions, Publish, PullOptions};
use switchyard_testkit::{PATIENCE, TestDatabase, example_function_bytes, wait_for, wait_until};

/// Two nodes on one fresh database, each with its own data dir.
struct Pair {
    a: TestServer,
    b: TestServer,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    // Dropped after the nodes (fields drop in order).
    _db: TestDatabase,
}

impl Pair {
    async fn start(extra: &[&str]) -> Pair {
        let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
        let dirs = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
        let args: Vec<&str> = ["--store", db.url()].into_iter().chain(extra.iter().copied()).collect();
        let a = TestServer::start_in(dirs.0.path(), &args);
        let b = TestServer::start_node(dirs.1.path(), &args, &a.admin_token);
        Pair { a, b, _dirs: dirs, _db: db }
    }
}

async fn publish(client: &Client, topic: &str, payload: Value) -> u64 {
    let message = Publish { payload, key: None, headers: Default::default(), idempotency_key: None };
    client.publish("acme", topic, &message).await.expect("publish").seq
}

fn pull(max: u32, lease: &str) -> PullOptions {
    PullOptions { max: Some(max), lease: Some(lease.into()), wait: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_taken_through_one_node_holds_on_the_other_and_is_acked_there() {
    let pair = Pair::start(&[]).await;
    let (a, b) = (pair.a.client(), pair.b.client());
    a.put_subscription("acme", "mailer", &json!({"address": "acme:mail"})).await.expect("create");
    let m1 = publish(&a, "mail", json!({"n": 1})).await;
    let m2 = publish(&b, "mail", json!({"n": 2})).await;

    // A lease of a minute through A: B's pull, right after, passes over it.
    let on_a = a.pull("acme", "mailer", &pull(1, "60s")).await.expect("pull on A");
    let leased: Vec<(u64, u32)> = on_a.records.iter().map(|r| (r.record.seq, r.deliveries)).collect();
    assert_eq!(leased, [(m1, 1)]);
    let on_b = b.pull("acme", "mailer", &pull(10, "60s")).await.expect("pull on B");
    let leased: Vec<(u64, u32)> = on_b.records.iter().map(|r| (r.record.seq, r.deliveries)).collect();
    assert_eq!(leased, [(m2, 1)], "B was handed a record A holds");

    // B acks what A leased; neither node delivers it again.
    let acked = b.ack("acme", "mailer", &[m1, m2]).await.expect("ack on B");
    assert_eq!((acked.acked, acked.not_pending.as_slice()), (2, [].as_slice()));
    let status = a.get_subscription("acme", "mailer").await.expect("status on A");
    assert_eq!((&status["pending"], &status["leased"]), (&json!(0), &json!(0)), "{status}");
    let again = a.ack("acme", "mailer", &[m1]).await.expect("ack on A");
    assert_eq!((again.acked, again.not_pending.as_slice()), (0, [m1].as_slice()), "acked on B, not pending on A");

    // A short lease through A: once it ends, B delivers the record again, as its second delivery.
    let m3 = publish(&a, "mail", json!({"n": 3})).await;
    let on_a = a.pull("acme", "mailer", &pull(10, "1s")).await.expect("pull on A");
    assert_eq!(on_a.records.iter().map(|r| r.record.seq).collect::<Vec<_>>(), [m3]);
    let redelivered = wait_until("the lease to end and B to deliver the record", PATIENCE, || async {
        let options = PullOptions { max: Some(10), lease: Some("60s".into()), wait: Some("1s".into()) };
        let pulled = b.pull("acme", "mailer", &options).await.expect("pull on B");
        (!pulled.records.is_empty()).then_some(pulled.records)
    })
    .await;
    let leased: Vec<(u64, u32)> = redelivered.iter().map(|r| (r.record.seq, r.deliveries)).collect();
    assert_eq!(leased, [(m3, 2)]);
    // A's ack of its ended lease still settles the record: acks name seqs, not leases.
    assert_eq!(a.ack("acme", "mailer", &[m3]).await.expect("ack on A").acked, 1);
    assert!(b.pull("acme", "mailer", &pull(10, "60s")).await.expect("pull").records.is_empty());
}

/// Races `racers` conditional puts of `key` through both nodes (alternating); returns the
/// values written and the conflict codes of the others.
async fn race(pair: &Pair, key: &str, condition: KvCondition, round: usize) -> (Vec<String>, Vec<String>) {
    const RACERS: usize = 8;
    let mut tasks = Vec::new();
    for racer in 0..RACERS {
        let client = if racer % 2 == 0 { pair.a.client() } else { pair.b.client() };
        let (key, value) = (key.to_owned(), format!("round {round} racer {racer}"));
        tasks.push(tokio::spawn(async move {
            let options = KvPutOptions::when(condition);
            let result = client.kv_put("acme", "locks", &key, value.clone().into_bytes(), &options).await;
            (value, result)
        }));
    }
    let (mut won, mut lost) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.expect("task") {
            (value, Ok(_)) => won.push(value),
            (_, Err(e)) => {
                assert_eq!(e.status(), Some(409), "{e}");
                lost.push(e.code().unwrap_or("?").to_owned());
            }
        }
    }
    (won, lost)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_set_raced_through_two_nodes_has_exactly_one_winner() {
    let pair = Pair::start(&[]).await;
    let (a, b) = (pair.a.client(), pair.b.client());

    // Create-if-absent: one racer creates the key.
    let (won, lost) = race(&pair, "leader", KvCondition::Absent, 0).await;
    assert_eq!((won.len(), lost.len()), (1, 7), "winners {won:?}");
    assert!(lost.iter().all(|code| code == "conflict"), "{lost:?}");
    let mut current = a.kv_get("acme", "locks", "leader").await.expect("the key");
    assert_eq!((current.value.as_slice(), current.revision), (won[0].as_bytes(), 1));

    // At each revision, one racer moves the key on; both nodes read the winner's value.
    for round in 1..=5 {
        let (won, lost) = race(&pair, "leader", KvCondition::Revision(current.revision), round).await;
        assert_eq!((won.len(), lost.len()), (1, 7), "round {round}: winners {won:?}");
        let on_a = a.kv_get("acme", "locks", "leader").await.expect("read on A");
        let on_b = b.kv_get("acme", "locks", "leader").await.expect("read on B");
        assert_eq!((on_a.value.as_slice(), on_a.revision), (won[0].as_bytes(), current.revision + 1));
        assert_eq!((on_b.value, on_b.revision), (on_a.value.clone(), on_a.revision));
        current = on_a;
    }
    let history = b.kv_history("acme", "locks", "leader").await.expect("history");
    assert_eq!(history["history"][0]["revision"], 6, "one revision per round, no lost or extra write");
}

/// How many invocations a node has run since it started.
async fn runs(server: &TestServer) -> f64 {
    gauge(&server.client(), "switchyard_function_invocations").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_invocations_left_by_a_dead_node_run_exactly_once_across_the_survivors() {
    // Loopback is where the gate listens; a dead node's jobs run again 2 s after its last
    // renewal; every node runs 64 jobs at once, all of one space if need be.
    const FLAGS: [&str; 11] = [
        "--function-allow-private-networks",
        "--function-memory-budget",
        "4GiB",
        "--job-lease",
        "2s",
        "--job-slots",
        "64",
        "--job-space-limit",
        "1000",
        "--function-slots-per-space",
        "64",
    ];
    // A node runs at most 64 jobs at once and leases at most as many as it has slots for.
    const RUNNING: usize = 64;
    const QUEUED: usize = 64;
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
    let args: Vec<&str> = ["--store", db.url()].into_iter().chain(FLAGS).collect();
    let (dir_a, dir_b) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let mut a = TestServer::start_in(dir_a.path(), &args);
    let gate = Gate::start().await;
    let settings = FunctionSettings {
        allowed_hosts: vec![gate.addr.clone()],
        timeout_ms: Some(10_000),
        memory_bytes: Some(16 * 1024 * 1024),
        ..FunctionSettings::default()
    };
    let client = a.client();
    client.deploy_function("acme", "fetch", &example_function_bytes("http-fetch"), &settings).await.expect("deploy");

    // A runs 64 (they wait at the gate) and leaves the other 64 pending, due at once for a node
    // with a free slot: it has none, and is the only node.
    let mut paths = BTreeMap::new();
    for i in 0..RUNNING + QUEUED {
        let input = serde_json::to_vec(&json!({"url": format!("http://{}/{i}", gate.addr)})).expect("encode");
        let accepted = client.invoke_async("acme", "fetch", input, &InvokeOptions::default()).await.expect("accepted");
        paths.insert(accepted["id"].as_str().expect("id").to_owned(), format!("/{i}"));
    }
    let held =
        wait_for("A's invocations at the gate", PATIENCE, || async { gate.paths() }, |p| p.len() == RUNNING).await;
    a.kill();

    // Two survivors start together: A's successor (its data dir) and B. Each holds at most 64
    // while they wait at the gate, so both must lease, racing for the same rows: the 64 queued
    // and A's 64, which come due when their leases end.
    let successor = TestServer::start_node(dir_a.path(), &args, &a.admin_token);
    let b = TestServer::start_node(dir_b.path(), &args, &a.admin_token);
    // Every invocation reaches the gate again (A's as their second attempt) before it opens:
    // 128 held at once, which takes both survivors' 64 slots.
    wait_for(
        "every invocation at the gate after the kill",
        PATIENCE,
        || async { gate.paths() },
        |p| p.len() == held.len() + RUNNING + QUEUED,
    )
    .await;
    gate.open();

    let reader = b.client();
    let finished = wait_for(
        "every invocation to finish",
        PATIENCE,
        || async { reader.list_invocations("acme", "fetch", None, Some(1000)).await.expect("list").invocations },
        |records| records.len() == RUNNING + QUEUED && records.iter().all(|r| r["status"] != "pending"),
    )
    .await;
    let held_paths: std::collections::BTreeSet<&String> = held.iter().collect();
    for record in &finished {
        assert_eq!(record["status"], "succeeded", "{record}");
        assert_eq!(record["output"], json!({"status": 200, "body": "ok"}), "{record}");
        let id = record["id"].as_str().expect("id");
        // A's own attempts ended with it: theirs ran again as attempt 2; the queued ran once.
        let want = if held_paths.contains(&paths[id]) { 2 } else { 1 };
        assert_eq!(record["attempt"], want, "{record}");
    }

    // After A died, every invocation reached the gate exactly once, whichever node ran it ...
    let after: Vec<String> = gate.paths()[held.len()..].to_vec();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for path in &after {
        *counts.entry(path.as_str()).or_default() += 1;
    }
    let want: BTreeMap<&str, usize> = paths.values().map(|p| (p.as_str(), 1)).collect();
    assert_eq!(counts, want, "an invocation ran twice, or not at all");
    // ... the survivors ran exactly that many between them, each its share of the race.
    let (by_successor, by_b) = (runs(&successor).await, runs(&b).await);
    assert_eq!(by_successor + by_b, (RUNNING + QUEUED) as f64);
    assert!(by_successor >= 16.0 && by_b >= 16.0, "successor ran {by_successor}, B {by_b}");
    drop((successor, b));
}
