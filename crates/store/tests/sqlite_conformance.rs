//! Runs the store conformance suite against the SQLite backend (a real file in a temp dir):
//! every case is a test of its own, under each durability (`fsync/<case>`, `batch/<case>`), so
//! one failure hides no other and `cargo test --test sqlite_conformance -- <case>` runs one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Failed, Trial};
use switchyard_store::conformance::{BoxFuture, Harness, cases, heavy_cases};
use switchyard_store::sqlite::{DB_FILE, SqliteOptions, SqliteStore};
use switchyard_store::{Durability, Store};

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
        self.open_with(dir, switchyard_store::SystemClock::shared())
    }

    fn open_with(&self, dir: PathBuf, clock: switchyard_store::SharedClock) -> Arc<SqliteStore> {
        let store = SqliteStore::open(SqliteOptions { data_dir: dir.clone(), durability: self.durability, clock })
            .expect("open");
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

    fn fresh_with_clock(&self, clock: switchyard_store::SharedClock) -> BoxFuture<'_, Arc<SqliteStore>> {
        Box::pin(async move {
            let n = self.created.fetch_add(1, Ordering::Relaxed);
            self.open_with(self.root.path().join(format!("store-{n}")), clock)
        })
    }

    fn node<'a>(&'a self, store: &'a Arc<SqliteStore>) -> BoxFuture<'a, Arc<SqliteStore>> {
        // One process owns a SQLite store: its "other nodes" are the same store's writer.
        Box::pin(async move { store.clone() })
    }

    fn reopen(&self, store: Arc<SqliteStore>) -> BoxFuture<'_, Arc<SqliteStore>> {
        Box::pin(async move {
            let dir = self.dirs.lock().unwrap().remove(&(Arc::as_ptr(&store) as usize)).expect("opened here");
            store.close().await;
            drop(Arc::into_inner(store).expect("the case holds no other reference when it reopens"));
            self.open(dir)
        })
    }

    fn execute_raw<'a>(&'a self, store: &'a SqliteStore, sql: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let dir =
                self.dirs.lock().unwrap().get(&(store as *const SqliteStore as usize)).cloned().expect("opened here");
            let sql = sql.to_string();
            tokio::task::spawn_blocking(move || {
                // WAL mode lets a second connection write beside the store's (waiting out its
                // writer's transaction).
                let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                conn.execute_batch(&sql).unwrap();
            })
            .await
            .unwrap();
        })
    }
}

fn main() {
    let durabilities = [("fsync", Durability::Fsync), ("batch", Durability::Batch { interval_ms: 5 })];
    let mut trials = Vec::new();
    for (label, durability) in durabilities {
        for (name, case) in cases::<SqliteHarness>() {
            trials.push(Trial::test(format!("{label}/{name}"), move || run(durability, case)));
        }
    }
    for (name, case) in heavy_cases::<SqliteHarness>() {
        trials.push(Trial::test(format!("fsync/{name}"), move || run(Durability::Fsync, case)));
    }
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

/// Runs one case on its own runtime and harness; a panic fails it with the panic's message.
fn run(durability: Durability, case: switchyard_store::conformance::Case<SqliteHarness>) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build()?;
    let harness = SqliteHarness::new(durability);
    runtime.block_on(case(&harness));
    Ok(())
}
