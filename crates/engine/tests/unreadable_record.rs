//! A log record that cannot be read back (here: its payload made 130 levels deep inside the
//! store's own transaction, by a trigger added with raw SQL) does not stop the node's log
//! tail: watchers of other spaces keep receiving, watchers of its space get it once, marked,
//! and go on, a replay from the start passes it, a subscription pull delivers past it, and the
//! store reports it once however often it is read.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_engine::{
    AddressFilter, Engine, EngineConfig, EngineError, SubscribeFrom, SubscriptionSettings, WatchFilter, WatchFrom,
    WatchedRecord,
};
use switchyard_model::Seq;
use switchyard_store::sqlite::{DB_FILE, SqliteOptions, SqliteStore};
use switchyard_store::{Durability, Store};
use tokio::sync::mpsc::Receiver;

type Watch = Receiver<Result<Arc<WatchedRecord>, EngineError>>;

fn everything(space: &str) -> WatchFilter {
    WatchFilter { space: space.parse().unwrap(), address: AddressFilter::Any, kinds: vec![], state: None, event: None }
}

async fn publish(engine: &Engine, space: &str, payload: Value) -> u64 {
    engine.publish(space, "news", payload, None, Default::default(), None).await.unwrap().0.0
}

async fn next(rx: &mut Watch) -> Arc<WatchedRecord> {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a record within 5 s")
        .expect("the watch is open")
        .expect("no error in the stream")
}

/// From now on, every `acme` record whose payload mentions "poison" is stored 130 levels deep,
/// inside the store's own transaction, so the tail meets it unreadable.
fn poison_acme_records(dir: &std::path::Path) {
    let deep = format!("{{\"payload\":{}{}}}", "[".repeat(129), "]".repeat(129));
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch(&format!(
        "CREATE TRIGGER poison AFTER INSERT ON events
         WHEN NEW.space = 'acme' AND NEW.payload LIKE '%poison%'
         BEGIN UPDATE events SET payload = '{deep}' WHERE seq = NEW.seq; END;"
    ))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_record_stalls_neither_the_tail_nor_other_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(SqliteOptions {
            data_dir: dir.path().into(),
            durability: Durability::None,
            clock: switchyard_store::SystemClock::shared(),
        })
        .unwrap(),
    );
    let engine = Arc::new(Engine::new(store.clone(), EngineConfig::default()));
    engine.start_log_tail(64, Duration::from_millis(5)).await.unwrap();
    let settings = SubscriptionSettings {
        filter: everything("acme"),
        from: SubscribeFrom::Earliest,
        max_deliveries: None,
        ack_wait: None,
        allow_loss: false,
    };
    engine.put_subscription("reader", settings).await.unwrap();
    let mut beta = engine.watch(everything("beta"), WatchFrom::Now, 16).await.unwrap();
    let mut acme = engine.watch(everything("acme"), WatchFrom::Now, 16).await.unwrap();
    poison_acme_records(dir.path());

    let bad = publish(&engine, "acme", json!({ "poison": true })).await;
    let mut beta_seqs = Vec::new();
    let mut acme_seqs = vec![bad];
    for n in 0..5 {
        beta_seqs.push(publish(&engine, "beta", json!({ "n": n })).await);
        acme_seqs.push(publish(&engine, "acme", json!({ "n": n })).await);
    }

    // Another space: everything, readable, nothing of acme's.
    for &seq in &beta_seqs {
        let record = next(&mut beta).await;
        assert_eq!(record.seq.0, seq);
        assert!(record.is_readable());
    }
    // Its own space: the bad record once, marked, then the rest.
    let first = next(&mut acme).await;
    assert_eq!(first.seq.0, bad);
    assert_eq!(first.address, "acme:news");
    assert_eq!(first.payload, Value::Null);
    assert!(first.unreadable.as_deref().is_some_and(|why| why.contains("recursion limit")), "{:?}", first.unreadable);
    for &seq in &acme_seqs[1..] {
        let record = next(&mut acme).await;
        assert_eq!(record.seq.0, seq);
        assert!(record.is_readable());
    }

    // A replay across it.
    let mut replay = engine.watch(everything("acme"), WatchFrom::After(Seq(0)), 16).await.unwrap();
    let mut replayed = Vec::new();
    while replayed.len() < acme_seqs.len() {
        let record = next(&mut replay).await;
        assert_eq!(record.is_readable(), record.seq.0 != bad, "seq {}", record.seq);
        replayed.push(record.seq.0);
    }
    assert_eq!(replayed, acme_seqs);

    // A pull across it, then an ack of everything: the subscription is not held.
    let pulled = engine.pull("acme", "reader", 100, None, None).await.unwrap();
    assert_eq!(pulled.iter().map(|d| d.record.seq.0).collect::<Vec<_>>(), acme_seqs);
    assert!(!pulled[0].record.is_readable());
    let acked = engine.ack("acme", "reader", pulled.iter().map(|d| d.record.seq).collect()).await.unwrap();
    assert_eq!(acked.done.iter().map(|s| s.0).collect::<Vec<_>>(), acme_seqs);
    assert!(acked.not_pending.is_empty());

    // Read by the tail, a live watcher, a replay and a pull: reported once.
    assert_eq!(store.metrics().unreadable_records.count(), 1);

    // And the tail is still live for everyone.
    let later = publish(&engine, "beta", json!({ "after": true })).await;
    assert_eq!(next(&mut beta).await.seq.0, later);
}
