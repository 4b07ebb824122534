//! The checks that only make sense for the PostgreSQL backend, a shared database: migrations
//! racing from several nodes, a newer schema refused, and commit-order visibility of the log
//! under many concurrent writers on several connections (the conformance suite every backend
//! passes runs in `postgres_conformance.rs`).

use std::collections::HashSet;
use std::sync::Arc;

use switchyard_model::{CompiledMachine, DefinitionFormat, parse_definition};
use switchyard_model::{InstanceKey, JsonObject, Seq};
use switchyard_store::postgres::{PgOptions, PgStore, SCHEMA_VERSION};
use switchyard_store::{
    ApplyEvent, Clock, CreateInstance, EnqueueJob, EventApplied, HeartbeatNode, PutMachine, Store, StoreError,
    SystemClock, WriteOp, WriteOutcome,
};
use switchyard_testkit::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_migrate_once() {
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.unwrap();
    let url = db.url().to_string();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PgStore::connect(PgOptions::new(url)).await })
        })
        .collect();
    for start in starts {
        let store = start.await.unwrap().expect("every node starts");
        store.close().await;
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let version: i32 = client.query_one("SELECT version FROM switchyard_schema", &[]).await.unwrap().get(0);
    assert_eq!(version, SCHEMA_VERSION);
    // Written by a newer Switchyard: refused, with a message that says what to do.
    client.execute("UPDATE switchyard_schema SET version = $1", &[&(SCHEMA_VERSION + 1)]).await.unwrap();
    let err = PgStore::connect(PgOptions::new(url)).await.err().expect("refused");
    assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err:?}");
    assert!(err.to_string().contains("upgrade switchyard"), "{err}");
    tokio::task::spawn_blocking(move || drop(db)).await.unwrap();
}

const CYCLE: &str = r#"{"initial":"a","states":["a","b"],"transitions":[
  {"from":"a","event":"next","to":"b"},{"from":"b","event":"next","to":"a"}]}"#;

fn key(writer: usize, i: usize) -> InstanceKey {
    InstanceKey {
        space: "acme".parse().unwrap(),
        machine: "cycle".parse().unwrap(),
        id: format!("w{writer}-{i}").parse().unwrap(),
    }
}

/// Many writers on several stores (several connections each, as several nodes would have)
/// while a reader tails the log: the reader never receives a seq lower than one it already
/// has, and at the end it has every acknowledged seq.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tailing_reader_sees_log_in_commit_order_under_concurrent_writers() {
    const NODES: usize = 3;
    const WRITERS_PER_NODE: usize = 6;
    const EVENTS_PER_WRITER: usize = 60;
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.unwrap();
    let mut nodes = Vec::new();
    for _ in 0..NODES {
        nodes.push(Arc::new(PgStore::connect(PgOptions::new(db.url())).await.unwrap()));
    }
    let def = parse_definition(CYCLE.as_bytes(), DefinitionFormat::Json).unwrap();
    let definition = CompiledMachine::compile(def).unwrap().canonical_json().clone();
    nodes[0]
        .write(WriteOp::PutMachine(PutMachine {
            space: "acme".parse().unwrap(),
            name: "cycle".parse().unwrap(),
            definition,
        }))
        .await
        .unwrap();
    let writers = NODES * WRITERS_PER_NODE;
    for w in 0..writers {
        for i in 0..3 {
            let op =
                WriteOp::CreateInstance(CreateInstance { key: key(w, i), ctx: JsonObject::new(), idempotency: None });
            nodes[w % NODES].write(op).await.unwrap();
        }
    }

    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tail = {
        let store = nodes[1].clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut last = Seq(0);
            let mut seen = HashSet::new();
            let mut quiet_rounds_after_done = 0;
            while quiet_rounds_after_done < 3 {
                let page = store.read_log(last, 500).await.expect("read log");
                if page.is_empty() {
                    if done.load(std::sync::atomic::Ordering::Acquire) {
                        quiet_rounds_after_done += 1;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    continue;
                }
                // A record that committed after the reader moved past its seq would never be read
                // again: the commit-order invariant shows up as nothing being missed below.
                for record in page {
                    last = record.seq;
                    seen.insert(record.seq);
                }
            }
            seen
        })
    };
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = nodes[w % NODES].clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for n in 0..EVENTS_PER_WRITER {
                    let op = WriteOp::ApplyEvent(ApplyEvent {
                        key: key(w, n % 3),
                        event: "next".into(),
                        payload: JsonObject::new(),
                        expected_state: None,
                        expected_revision: None,
                        idempotency: None,
                        max_context_bytes: switchyard_model::json::DEFAULT_MAX_CONTEXT_BYTES,
                    });
                    match store.write(op).await.expect("apply") {
                        WriteOutcome::EventApplied(EventApplied { applied, .. }) => acked.push(applied.seq),
                        other => panic!("unexpected {other:?}"),
                    }
                }
                acked
            })
        })
        .collect();
    let mut acked = HashSet::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert_eq!(acked.len(), writers * EVENTS_PER_WRITER, "every acknowledged event has its own seq");
    done.store(true, std::sync::atomic::Ordering::Release);
    let seen = tail.await.unwrap();
    let missed: Vec<_> = acked.difference(&seen).collect();
    assert!(
        missed.is_empty(),
        "the tailing reader missed {} acknowledged records, e.g. {:?}",
        missed.len(),
        missed.first()
    );
    for node in nodes {
        node.close().await;
    }
    tokio::task::spawn_blocking(move || drop(db)).await.unwrap();
}

/// `events.end_offset` has no default once migrated: a node still running a build that does not
/// write it fails its inserts loudly instead of logging offset 0 (which breaks retention by
/// size).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_insert_without_end_offset_is_refused() {
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.unwrap();
    let store = PgStore::connect(PgOptions::new(db.url())).await.unwrap();
    store.close().await;
    let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let default: Option<String> = client
        .query_one(
            "SELECT column_default FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'end_offset'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(default, None);
    // An insert as the earlier build wrote it.
    let err = client
        .execute(
            "INSERT INTO events (seq, space, kind, address, payload, idempotency_key, created_at)
             VALUES (1, 'acme', 'topic.message', 'acme:news', '{}', NULL, 0)",
            &[],
        )
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Some(&tokio_postgres::error::SqlState::NOT_NULL_VIOLATION), "{err}");
    drop(client);
    tokio::task::spawn_blocking(move || drop(db)).await.unwrap();
}

/// A job enqueued through one node wakes the listener of another sharing the database, once
/// the enqueue commits; a write that makes no job due wakes nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_enqueue_through_one_node_wakes_the_others_listener() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.unwrap();
    let a = PgStore::connect(PgOptions::new(db.url().to_string())).await.expect("node a");
    let b = Arc::new(PgStore::connect(PgOptions::new(db.url().to_string())).await.expect("node b"));
    let woken = Arc::new(AtomicUsize::new(0));
    let (listener_store, counter) = (b.clone(), woken.clone());
    let listener = tokio::spawn(async move {
        let wake = move || {
            counter.fetch_add(1, Ordering::SeqCst);
        };
        listener_store.listen_for_jobs(&wake).await
    });
    // LISTEN is issued once the listener's connection is up: a job enqueued before might go
    // unheard (a hint only), so enqueue until one is heard.
    let space = switchyard_model::SpaceName::new("acme").unwrap();
    let spec = |id: String| switchyard_model::JobSpec {
        id,
        space: space.clone(),
        kind: switchyard_model::Segment::new("noop").unwrap(),
        target: "noop".into(),
        payload: serde_json::json!({}),
        priority: 0,
        concurrency_key: None,
        idempotency_key: None,
        run_at: SystemClock.now(),
        retry: Default::default(),
    };
    let mut n = 0;
    while woken.load(Ordering::SeqCst) == 0 {
        assert!(n < 100, "no wake-up after {n} enqueues through another node");
        a.write(WriteOp::EnqueueJob(EnqueueJob { spec: spec(format!("job-{n}")) })).await.expect("enqueue");
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A write that makes no job due (a heartbeat) notifies nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = woken.load(Ordering::SeqCst);
    let heartbeat = switchyard_model::NodeRecord {
        id: "node-a".into(),
        address: "127.0.0.1:1".into(),
        started_at: SystemClock.now(),
        heartbeat_at: SystemClock.now(),
    };
    a.write(WriteOp::HeartbeatNode(HeartbeatNode { node: heartbeat })).await.expect("heartbeat");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(woken.load(Ordering::SeqCst), before, "a heartbeat woke the scheduler");
    assert!(!listener.is_finished(), "the listener is still listening");
    listener.abort();
    a.close().await;
    b.close().await;
    tokio::task::spawn_blocking(move || drop(db)).await.unwrap();
}
