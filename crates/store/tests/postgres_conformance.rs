//! Runs the store conformance suite against the PostgreSQL backend, each case on its own
//! throwaway database: every case is a test of its own, with four writer connections and with
//! one (`writers4/<case>`, `writers1/<case>`), so one failure hides no other and
//! `cargo test --test postgres_conformance -- <case>` runs one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Failed, Trial};
use switchyard_store::Store;
use switchyard_store::conformance::{BoxFuture, Case, Harness, cases, heavy_cases};
use switchyard_store::postgres::{PgOptions, PgStore};
use switchyard_testkit::TestDatabase;

/// Makes each store on its own database; remembers which is where, and keeps the databases
/// alive until the harness drops.
struct PgHarness {
    /// Each store's database and clock.
    databases: Mutex<HashMap<usize, (Arc<TestDatabase>, switchyard_store::SharedClock)>>,
    writers: usize,
}

impl PgHarness {
    fn new(writers: usize) -> PgHarness {
        PgHarness { databases: Mutex::new(HashMap::new()), writers }
    }

    async fn open(&self, db: Arc<TestDatabase>) -> Arc<PgStore> {
        self.open_with(db, switchyard_store::SystemClock::shared()).await
    }

    async fn open_with(&self, db: Arc<TestDatabase>, clock: switchyard_store::SharedClock) -> Arc<PgStore> {
        let options = PgOptions { url: db.url().to_string(), writers: self.writers, readers: 4, clock: clock.clone() };
        let store = Arc::new(PgStore::connect(options).await.expect("connect"));
        self.databases.lock().unwrap().insert(Arc::as_ptr(&store) as usize, (db, clock));
        store
    }
}

impl Harness for PgHarness {
    type S = PgStore;

    fn fresh(&self) -> BoxFuture<'_, Arc<PgStore>> {
        Box::pin(async move {
            let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("create database");
            self.open(Arc::new(db)).await
        })
    }

    fn fresh_with_clock(&self, clock: switchyard_store::SharedClock) -> BoxFuture<'_, Arc<PgStore>> {
        Box::pin(async move {
            let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("create database");
            self.open_with(Arc::new(db), clock).await
        })
    }

    fn node<'a>(&'a self, store: &'a Arc<PgStore>) -> BoxFuture<'a, Arc<PgStore>> {
        Box::pin(async move {
            // The same database, and the same clock: nodes of one cluster agree on the time.
            let (db, clock) =
                self.databases.lock().unwrap().get(&(Arc::as_ptr(store) as usize)).cloned().expect("opened here");
            self.open_with(db, clock).await
        })
    }

    fn reopen(&self, store: Arc<PgStore>) -> BoxFuture<'_, Arc<PgStore>> {
        Box::pin(async move {
            let (db, clock) =
                self.databases.lock().unwrap().remove(&(Arc::as_ptr(&store) as usize)).expect("opened here");
            store.close().await;
            drop(Arc::into_inner(store).expect("the case holds no other reference when it reopens"));
            self.open_with(db, clock).await
        })
    }

    fn execute_raw<'a>(&'a self, store: &'a PgStore, sql: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let (db, _) =
                self.databases.lock().unwrap().get(&(store as *const PgStore as usize)).cloned().expect("opened here");
            let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls).await.unwrap();
            let connection = tokio::spawn(connection);
            client.batch_execute(sql).await.unwrap();
            drop(client);
            let _ = connection.await;
        })
    }
}

fn main() {
    let mut trials = Vec::new();
    for writers in [4, 1] {
        for (name, case) in cases::<PgHarness>() {
            trials.push(Trial::test(format!("writers{writers}/{name}"), move || run(writers, case)));
        }
    }
    for (name, case) in heavy_cases::<PgHarness>() {
        trials.push(Trial::test(format!("writers4/{name}"), move || run(4, case)));
    }
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

/// Runs one case on its own runtime and harness, then drops its databases.
fn run(writers: usize, case: Case<PgHarness>) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build()?;
    let harness = PgHarness::new(writers);
    runtime.block_on(case(&harness));
    // Outside the runtime: dropping a database blocks.
    let databases: Vec<_> =
        harness.databases.lock().unwrap_or_else(|e| e.into_inner()).drain().map(|(_, (db, _))| db).collect();
    drop(databases);
    Ok(())
}
