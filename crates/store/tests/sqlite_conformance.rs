//! Runs the store conformance suite against the SQLite backend (a real file in a temp dir),
//! plus the checks that only make sense for an embedded file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use switchyard_store::conformance::{BoxFuture, Harness, run_all};
use switchyard_store::sqlite::{DB_FILE, SCHEMA_VERSION, SqliteOptions, SqliteStore};
use switchyard_store::{Durability, Store, StoreError};

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
