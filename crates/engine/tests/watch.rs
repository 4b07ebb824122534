//! The watcher's hand-off and catch-up, driven directly so that falling behind is certain: a
//! watcher whose reader does not read while hundreds of records are written overflows both
//! its own queue and the tail's buffer, and must catch up from the store without a gap.

use std::sync::Arc;
use std::time::Duration;

use switchyard_engine::{AddressFilter, CreateInstance, Engine, EngineConfig, SendEvent, WatchFilter, WatchFrom};
use switchyard_model::DefinitionFormat;
use switchyard_store::sqlite::{SqliteOptions, SqliteStore};
use switchyard_store::{Durability, Store};
use switchyard_testkit::fixtures::CYCLE_JSON as CYCLE;
use switchyard_testkit::{PATIENCE, wait_until, within};

async fn engine(dir: &std::path::Path, buffer: usize) -> Arc<Engine> {
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(SqliteOptions {
            data_dir: dir.into(),
            durability: Durability::None,
            clock: switchyard_store::SystemClock::shared(),
        })
        .unwrap(),
    );
    let engine = Arc::new(Engine::new(store, EngineConfig::default()));
    engine.start_log_tail(buffer, Duration::from_millis(5)).await.unwrap();
    engine.put_machine("acme", "cycle", CYCLE.as_bytes(), DefinitionFormat::Json).await.unwrap();
    let create = CreateInstance { id: Some("c".into()), ..Default::default() };
    engine.create_instance("acme", "cycle", create).await.unwrap();
    engine
}

fn everything() -> WatchFilter {
    WatchFilter { space: "acme".parse().unwrap(), address: AddressFilter::Any, kinds: vec![], state: None, event: None }
}

async fn apply(engine: &Engine, n: usize) -> u64 {
    let mut last = 0;
    for _ in 0..n {
        let (applied, _) = engine
            .apply_event("acme", "cycle", "c", SendEvent { event: "next".into(), ..Default::default() })
            .await
            .unwrap();
        last = applied.seq.0;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_falls_out_of_the_buffer_catches_up_without_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), 4).await;
    // Starts live ("now"), with room for one record between it and its reader.
    let mut rx = engine.watch(everything(), WatchFrom::Now, 1).await.unwrap();
    let first_expected = 3; // after machine.put (1) and instance.created (2)
    let last = apply(&engine, 300).await;
    // Once the tail has broadcast everything, this unread watcher is 300 records behind a buffer
    // of 4: it must have lagged.
    wait_until("the tail to broadcast every write", PATIENCE, || async {
        engine.tailed_seq().is_some_and(|seq| seq.0 >= last).then_some(())
    })
    .await;
    let mut seqs = Vec::new();
    while seqs.last().is_none_or(|s| *s < last) {
        let record = within("the next record", PATIENCE, rx.recv()).await.expect("open").unwrap();
        seqs.push(record.seq.0);
    }
    assert_eq!(seqs, (first_expected..=last).collect::<Vec<u64>>());
    assert!(engine.watch_catch_ups() >= 1, "the watcher never fell behind, so this test proved nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_hands_off_to_live_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), 16).await;
    let before = apply(&engine, 100).await;
    let writer = {
        let engine = engine.clone();
        tokio::spawn(async move { apply(&engine, 200).await })
    };
    let mut rx = engine.watch(everything(), WatchFrom::After(switchyard_model::Seq(0)), 8).await.unwrap();
    let last = writer.await.unwrap();
    assert!(last > before);
    let mut seqs = Vec::new();
    while seqs.last().is_none_or(|s| *s < last) {
        let record = within("the next record", PATIENCE, rx.recv()).await.expect("open").unwrap();
        seqs.push(record.seq.0);
    }
    assert_eq!(seqs, (1..=last).collect::<Vec<u64>>());
}

/// With nobody receiving every record, the tail reads only what the node's caches act on (here a
/// space deletion written beside it, as another node sharing the database would) and still
/// moves past everything else; a receiver that subscribes then gets every later record, from
/// the first, at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nobody_watching_the_tail_passes_on_cache_kinds_then_every_record_once_someone_subscribes() {
    use switchyard_engine::{LogTail, Supervisor};
    use switchyard_store::{DeleteSpace, StoreExt};

    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), 16).await;
    let store = engine.store().clone();
    // A tail of its own, beside the engine's: the engine's writes do not wake it, as another
    // node's would not; only its poll brings them.
    let supervisor = Supervisor::new();
    let tail = LogTail::start(store.clone(), 16, Duration::from_millis(5), &supervisor).await.unwrap();
    let mut caches = tail.subscribe_cache_kinds();

    engine.put_machine("gone", "cycle", CYCLE.as_bytes(), DefinitionFormat::Json).await.unwrap();
    let before = apply(&engine, 20).await;
    let deleted = store.execute(DeleteSpace { space: "gone".parse().unwrap() }).await.unwrap();
    let last = apply(&engine, 20).await;
    assert!(before < deleted.seq.0 && deleted.seq.0 < last);

    let record = within("the deletion to reach the caches", PATIENCE, caches.recv()).await.unwrap();
    assert_eq!((record.seq, record.kind.as_str(), record.space.as_str()), (deleted.seq, "space.deleted", "gone"));
    wait_until("the tail to move past every record", PATIENCE, || async { (tail.last_seq().0 >= last).then_some(()) })
        .await;
    assert!(caches.try_recv().is_err(), "only the deletion is a cache kind");

    let mut every = tail.subscribe();
    let next = apply(&engine, 5).await;
    let mut seqs = Vec::new();
    while seqs.last().is_none_or(|s| *s < next) {
        seqs.push(within("the next record", PATIENCE, every.recv()).await.unwrap().seq.0);
    }
    assert_eq!(seqs, (last + 1..=next).collect::<Vec<u64>>());
    supervisor.shutdown(Duration::from_secs(1)).await;
}
