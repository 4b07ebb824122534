//! Runs the store conformance suite against the SQLite backend (a real file in a temp dir),
//! plus the checks that only make sense for an embedded file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use switchyard_model::{CompiledMachine, DefinitionFormat, parse_definition};
use switchyard_store::conformance::{BoxFuture, Harness, run_all};
use switchyard_store::sqlite::{DB_FILE, SCHEMA_VERSION, SqliteOptions, SqliteStore};
use switchyard_store::{Durability, InstanceKey, JsonObject, Seq, Store, StoreError, WriteOp};

/// Makes each store in its own directory under one temp dir; remembers which is where.
struct SqliteHarness {
    root: tempfile::TempDir,
    dirs: Mutex<HashMap<usize, PathBuf>>,
    created: AtomicUsize,
    durability: Durability,
}

impl SqliteHarness {
    fn new(durability: Durability) -> SqliteHarness {
        SqliteHarness {
            root: tempfile::tempdir().unwrap(),
            dirs: Mutex::new(HashMap::new()),
            created: AtomicUsize::new(0),
            durability,
        }
    }

    fn open(&self, dir: PathBuf) -> Arc<SqliteStore> {
        let store =
            SqliteStore::open(SqliteOptions { data_dir: dir.clone(), durability: self.durability }).expect("open");
        let store = Arc::new(store);
        self.dirs.lock().unwrap().insert(Arc::as_ptr(&store) as usize, dir);
        store
    }
}

impl Harness for SqliteHarness {
    type S = SqliteStore;

    fn fresh(&self) -> BoxFuture<'_, Arc<SqliteStore>> {
        Box::pin(async move {
            let n = self.created.fetch_add(1, Ordering::Relaxed);
            self.open(self.root.path().join(format!("store-{n}")))
        })
    }

    fn reopen(&self, store: Arc<SqliteStore>) -> BoxFuture<'_, Arc<SqliteStore>> {
        Box::pin(async move {
            let dir = self.dirs.lock().unwrap().remove(&(Arc::as_ptr(&store) as usize)).expect("opened here");
            store.close().await;
            drop(Arc::into_inner(store).expect("the case holds no other reference when it reopens"));
            self.open(dir)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_passes_conformance_suite() {
    run_all(&SqliteHarness::new(Durability::Fsync)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_passes_conformance_suite_with_batch_durability() {
    run_all(&SqliteHarness::new(Durability::Batch { interval_ms: 5 })).await;
}

#[tokio::test]
async fn store_written_by_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    }
    let err = SqliteStore::open(SqliteOptions { data_dir: dir.path().into(), durability: Durability::Fsync })
        .err()
        .expect("refused");
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, supported } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION)
    );
    assert!(err.to_string().contains("upgrade switchyard"), "{err}");
}

#[tokio::test]
async fn second_open_of_one_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions { data_dir: dir.path().into(), durability: Durability::Fsync };
    let first = SqliteStore::open(options.clone()).expect("first open");
    let err = SqliteStore::open(options.clone()).err().expect("second open refused");
    assert!(err.to_string().contains("another switchyard process"), "{err}");
    first.close().await;
    drop(first);
    SqliteStore::open(options).expect("open after close");
}

#[test]
fn durability_parses() {
    assert_eq!("fsync".parse::<Durability>(), Ok(Durability::Fsync));
    assert_eq!("none".parse::<Durability>(), Ok(Durability::None));
    assert_eq!("batch:10".parse::<Durability>(), Ok(Durability::Batch { interval_ms: 10 }));
    for bad in ["batch:", "batch:0", "batch:x", "always", ""] {
        assert!(bad.parse::<Durability>().is_err(), "{bad} should not parse");
    }
}

/// The value of `name` in the store's metrics, as Prometheus text.
fn metric(store: &SqliteStore, name: &str) -> f64 {
    let mut registry = prometheus_client::registry::Registry::default();
    store.metrics().register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

fn put_op(name: &str) -> WriteOp {
    let def = parse_definition(
        br#"{"initial":"a","states":["a","b"],"transitions":[{"from":"a","event":"go","to":"b"}]}"#,
        DefinitionFormat::Json,
    )
    .unwrap();
    let definition = CompiledMachine::compile(def).unwrap().canonical_json().clone();
    WriteOp::PutMachine { space: "acme".parse().unwrap(), name: name.parse().unwrap(), definition }
}

#[tokio::test]
async fn fsync_durability_fsyncs_the_wal_before_replying() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open(SqliteOptions { data_dir: dir.path().into(), durability: Durability::Fsync }).unwrap();
    store.write(put_op("m1")).await.unwrap();
    assert_eq!(metric(&store, "switchyard_store_fsync_seconds_count"), 1.0, "one commit, one fsync, before the reply");
    store.write(put_op("m2")).await.unwrap();
    assert_eq!(metric(&store, "switchyard_store_fsync_seconds_count"), 2.0);
}

#[tokio::test]
async fn batch_durability_fsyncs_the_wal_within_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions { data_dir: dir.path().into(), durability: Durability::Batch { interval_ms: 20 } };
    let store = SqliteStore::open(options).unwrap();
    store.write(put_op("m1")).await.unwrap();
    // The reply does not wait for the fsync; the writer's deadline brings it soon after.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while metric(&store, "switchyard_store_fsync_seconds_count") < 1.0 {
        assert!(std::time::Instant::now() < deadline, "no fsync within 5 s of a write under batch:20");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn none_durability_never_fsyncs_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions { data_dir: dir.path().into(), durability: Durability::None }).unwrap();
    store.write(put_op("m1")).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(metric(&store, "switchyard_store_fsync_seconds_count"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_writes_leave_no_holes_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(SqliteOptions { data_dir: dir.path().into(), durability: Durability::Fsync }).unwrap(),
    );
    store.write(put_op("m")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            // Even tasks create instances; odd ones send events that are refused (no such instance).
            let key = InstanceKey {
                space: "acme".parse().unwrap(),
                machine: "m".parse().unwrap(),
                id: format!("i{i}").parse().unwrap(),
            };
            let op = if i % 2 == 0 {
                WriteOp::CreateInstance { key, ctx: JsonObject::new(), idempotency: None }
            } else {
                WriteOp::ApplyEvent {
                    key,
                    event: "go".into(),
                    payload: JsonObject::new(),
                    expected_state: None,
                    expected_revision: None,
                    idempotency: None,
                }
            };
            store.write(op).await.is_ok()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 20);
    let seqs: Vec<u64> = store.read_log(Seq(0), 1000).await.unwrap().iter().map(|r| r.seq.0).collect();
    assert_eq!(seqs, (1..=21).collect::<Vec<u64>>(), "seqs are contiguous: refused writes took none");
}
