//! The checks that only make sense for the SQLite backend, an embedded file (the conformance
//! suite every backend passes runs in `sqlite_conformance.rs`).

use std::sync::Arc;

use switchyard_model::{CompiledMachine, DefinitionFormat, parse_definition};
use switchyard_model::{InstanceKey, JsonObject, Seq, Timestamp};
use switchyard_store::sqlite::{DB_FILE, SCHEMA_VERSION, SqliteOptions, SqliteStore};
use switchyard_store::{
    ApplyEvent, Clock, CreateInstance, Durability, Publish, PutMachine, Store, StoreError, SystemClock, TrimLog,
    WriteOp,
};

#[tokio::test]
async fn store_written_by_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    }
    let err = SqliteStore::open(SqliteOptions {
        data_dir: dir.path().into(),
        durability: Durability::Fsync,
        clock: switchyard_store::SystemClock::shared(),
    })
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
    let options = SqliteOptions {
        data_dir: dir.path().into(),
        durability: Durability::Fsync,
        clock: switchyard_store::SystemClock::shared(),
    };
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
    WriteOp::PutMachine(PutMachine { space: "acme".parse().unwrap(), name: name.parse().unwrap(), definition })
}

#[tokio::test]
async fn fsync_durability_fsyncs_the_wal_before_replying() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions {
        data_dir: dir.path().into(),
        durability: Durability::Fsync,
        clock: switchyard_store::SystemClock::shared(),
    })
    .unwrap();
    store.write(put_op("m1")).await.unwrap();
    assert_eq!(metric(&store, "switchyard_store_fsync_seconds_count"), 1.0, "one commit, one fsync, before the reply");
    store.write(put_op("m2")).await.unwrap();
    assert_eq!(metric(&store, "switchyard_store_fsync_seconds_count"), 2.0);
    // Each stage of the write path was timed once per write (each a group of its own here).
    for stage in ["queue", "execute", "commit"] {
        assert_eq!(metric(&store, &format!("switchyard_store_{stage}_seconds_count")), 2.0, "{stage}");
    }
}

#[tokio::test]
async fn batch_durability_fsyncs_the_wal_after_replying() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        data_dir: dir.path().into(),
        durability: Durability::Batch { interval_ms: 20 },
        clock: switchyard_store::SystemClock::shared(),
    };
    let store = SqliteStore::open(options).unwrap();
    store.write(put_op("m1")).await.unwrap();
    // The reply does not wait for the fsync; the writer's deadline brings it after.
    switchyard_testkit::wait_until("the batch fsync", switchyard_testkit::PATIENCE, || async {
        (metric(&store, "switchyard_store_fsync_seconds_count") >= 1.0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn none_durability_replies_without_fsyncing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions {
        data_dir: dir.path().into(),
        durability: Durability::None,
        clock: switchyard_store::SystemClock::shared(),
    })
    .unwrap();
    // Under fsync every one of these replies would have waited for an fsync.
    for i in 0..20 {
        store.write(put_op(&format!("m{i}"))).await.unwrap();
    }
    assert_eq!(metric(&store, "switchyard_store_fsync_seconds_count"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_writes_leave_no_holes_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(SqliteOptions {
            data_dir: dir.path().into(),
            durability: Durability::Fsync,
            clock: switchyard_store::SystemClock::shared(),
        })
        .unwrap(),
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
                WriteOp::CreateInstance(CreateInstance { key, ctx: JsonObject::new(), idempotency: None })
            } else {
                WriteOp::ApplyEvent(ApplyEvent {
                    key,
                    event: "go".into(),
                    payload: JsonObject::new(),
                    expected_state: None,
                    expected_revision: None,
                    idempotency: None,
                    max_context_bytes: switchyard_model::json::DEFAULT_MAX_CONTEXT_BYTES,
                })
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

/// A read-only connection to a store's database file, beside the store's own.
fn peek(dir: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(dir.join(DB_FILE), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// The database's size in pages times the page size (the WAL not included).
fn database_bytes(conn: &rusqlite::Connection) -> i64 {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    pages * page_size
}

fn auto_vacuum(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0)).unwrap()
}

/// A new store, and one made by an earlier build without auto-vacuum, both run with incremental
/// auto-vacuum (2), so retention can give pages back.
#[tokio::test]
async fn stores_run_with_incremental_auto_vacuum() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        data_dir: dir.path().into(),
        durability: Durability::Fsync,
        clock: switchyard_store::SystemClock::shared(),
    };
    let store = SqliteStore::open(options.clone()).unwrap();
    store.write(put_op("m")).await.unwrap();
    assert_eq!(auto_vacuum(&peek(dir.path())), 2, "a new store");
    store.close().await;
    drop(store);
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch("PRAGMA auto_vacuum = NONE; VACUUM;").unwrap();
        assert_eq!(auto_vacuum(&conn), 0, "as an earlier build left it");
    }
    let store = SqliteStore::open(options).unwrap();
    assert_eq!(auto_vacuum(&peek(dir.path())), 2, "switched at open");
    let wal = std::fs::metadata(dir.path().join(format!("{DB_FILE}-wal"))).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal, 0, "the VACUUM's copy does not stay in the WAL");
    assert!(store.get_machine(&"acme".parse().unwrap(), &"m".parse().unwrap(), None).await.unwrap().is_some());
}

/// After retention trims most of the log, a compaction gives the freed pages back: the file
/// shrinks by about what was trimmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_returns_trimmed_pages_to_the_file_system() {
    const RECORDS: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions {
        data_dir: dir.path().into(),
        durability: Durability::None,
        clock: switchyard_store::SystemClock::shared(),
    })
    .unwrap();
    let pad = "x".repeat(1_000);
    let mut written = 0;
    while written < RECORDS {
        let batch: Vec<WriteOp> = (written..(written + 500).min(RECORDS))
            .map(|i| {
                WriteOp::Publish(Publish {
                    space: "acme".parse().unwrap(),
                    topic: "bulk".parse().unwrap(),
                    payload: serde_json::json!({ "n": i, "pad": pad }),
                    key: None,
                    headers: Default::default(),
                    idempotency: None,
                })
            })
            .collect();
        written += store.write_atomic(batch).await.unwrap().len();
    }
    let logged = store.log_stats().await.unwrap().bytes as i64;
    assert!(logged > 20_000_000, "{logged} bytes logged");
    let before = database_bytes(&peek(dir.path()));
    let far_future = switchyard_model::Timestamp(SystemClock.now().0 + 86_400_000);
    let mut trimmed = 0;
    loop {
        let trim = switchyard_store::TrimLog { older_than: far_future, max_bytes: None, limit: 5_000 };
        match store.write(WriteOp::TrimLog(trim)).await.unwrap() {
            switchyard_store::WriteOutcome::LogTrimmed(0) => break,
            switchyard_store::WriteOutcome::LogTrimmed(n) => trimmed += n,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(trimmed, RECORDS as u64 - 1, "all but the newest record");
    let freed = logged - store.log_stats().await.unwrap().bytes as i64;
    store.compact().await.unwrap();
    let after = database_bytes(&peek(dir.path()));
    assert!(before - after >= freed * 9 / 10, "the database went from {before} to {after} bytes; {freed} were trimmed");
    let file = std::fs::metadata(dir.path().join(DB_FILE)).unwrap().len() as i64;
    assert!(file <= after, "the file ({file} bytes) was truncated too (checkpointed)");
    let wal = std::fs::metadata(dir.path().join(format!("{DB_FILE}-wal"))).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal, 0, "the WAL is truncated");
}

/// A reader holding an old snapshot blocks the WAL's TRUNCATE checkpoint; a compaction then
/// gives up at once (the checkpoint is retried later) rather than stall every write behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_does_not_wait_for_readers() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions {
        data_dir: dir.path().into(),
        durability: Durability::Fsync,
        clock: switchyard_store::SystemClock::shared(),
    })
    .unwrap();
    store.write(put_op("m1")).await.unwrap();
    let reader = peek(dir.path());
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader.query_row("SELECT count(*) FROM machines", [], |r| r.get(0)).unwrap();
    store.write(put_op("m2")).await.unwrap();
    let started = std::time::Instant::now();
    store.compact().await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "compaction took {:?}", started.elapsed());
    let started = std::time::Instant::now();
    store.write(put_op("m3")).await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "a write after it took {:?}", started.elapsed());
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    assert!(std::fs::metadata(&wal).unwrap().len() > 0, "the WAL was not truncated under the reader");
    reader.execute_batch("COMMIT").unwrap();
    store.compact().await.unwrap();
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0, "truncated once the reader is done");
}

/// A request that refuses after it has written (here a lease round: it fails an expired lease,
/// then meets a job row it cannot read) runs without a savepoint of its own, so the writer must
/// run the group again isolated and roll that request back: nothing of it is committed.
#[tokio::test]
async fn a_request_that_refuses_after_writing_commits_nothing() {
    use switchyard_model::jobs::{FairCursor, JobStatus, RetryPolicy, SpaceLimits};
    use switchyard_model::{JobSpec, Segment, SpaceName, Timestamp};
    use switchyard_store::{EnqueueJob, LeaseJobs, ListJobs, ManualClock, StoreExt};

    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Timestamp(1_000_000));
    let store = SqliteStore::open(SqliteOptions {
        data_dir: dir.path().into(),
        durability: Durability::Fsync,
        clock: clock.shared(),
    })
    .unwrap();
    let spec = |id: &str| JobSpec {
        id: id.to_string(),
        space: "acme".parse::<SpaceName>().unwrap(),
        kind: Segment::new("noop").unwrap(),
        target: "noop".into(),
        payload: serde_json::json!({}),
        priority: 0,
        concurrency_key: None,
        idempotency_key: None,
        run_at: Timestamp(1_000_000),
        retry: RetryPolicy::default(),
    };
    let lease = |owner: &str| LeaseJobs {
        owner: owner.into(),
        max: 8,
        lease_ms: 5_000,
        limits: SpaceLimits::new(32),
        cursor: FairCursor::default(),
        random: 0.5,
    };
    store.execute(EnqueueJob { spec: spec("held") }).await.unwrap();
    let leased = store.execute(lease("node-a")).await.unwrap();
    assert_eq!(leased.jobs.len(), 1);
    store.execute(EnqueueJob { spec: spec("unreadable") }).await.unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
        conn.execute("UPDATE jobs SET retry = 'not json' WHERE id = 'unreadable'", []).unwrap();
    }
    // node-a's lease ends: the next round fails that attempt (a write), then reads the due job
    // it cannot decode and refuses.
    clock.advance(5_000);
    let err = store.execute(lease("node-b")).await.expect_err("the unreadable job refuses the round");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let held = store
        .list_jobs(&ListJobs {
            space: "acme".parse::<SpaceName>().unwrap(),
            status: Some(JobStatus::Running),
            kind: None,
            after_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(held.len(), 1, "the expired attempt's failure was rolled back with the refused round");
    assert_eq!((held[0].id.as_str(), held[0].lease_owner.as_deref()), ("held", Some("node-a")));
    // The writer goes on: a later write commits.
    store.execute(EnqueueJob { spec: spec("after") }).await.unwrap();
}

/// Checkpoints run beside the writer, and SQLite starts the WAL over only when a write begins
/// with every frame copied, which a background pass under steady load never achieves by itself:
/// without the writer finishing each pass, this load would grow the WAL past 40 MB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_under_steady_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(SqliteOptions {
            data_dir: dir.path().into(),
            durability: Durability::None,
            clock: switchyard_store::SystemClock::shared(),
        })
        .unwrap(),
    );
    // 10,000 messages of 4 KiB, from 32 writers at once: at least 40 MB of pages through the WAL.
    let payload = serde_json::json!({ "data": "x".repeat(4096) });
    let mut tasks = Vec::new();
    for t in 0..32 {
        let (store, payload) = (store.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..10_000 / 32 + usize::from(t < 10_000 % 32) {
                let op = WriteOp::Publish(Publish {
                    space: "acme".parse().unwrap(),
                    topic: "big".parse().unwrap(),
                    payload: payload.clone(),
                    key: None,
                    headers: Default::default(),
                    idempotency: None,
                });
                store.write(op).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.log_stats().await.unwrap().newest, Seq(10_000));
    let wal = std::fs::metadata(dir.path().join(format!("{DB_FILE}-wal"))).unwrap().len();
    assert!(wal < 24 * 1024 * 1024, "the WAL grew to {wal} bytes");
}

/// The writer indexes the log by address in sorted passes, a slice after each group: after
/// thousands of records the index holds exactly what its mark says, the mark is close behind
/// the log's head, and it survives a restart.
#[tokio::test]
async fn the_log_is_indexed_by_address_in_passes() {
    let dir = tempfile::tempdir().unwrap();
    let open = || open_without_fsync(dir.path());
    let publish = topic_message;
    let store = open();
    // 50 batches of 200: a pass starts at 4,096 records and goes on a slice (512 rows or more)
    // after each group, so some passes end and one is under way at the end.
    for batch in 0..50 {
        store.write_atomic((0..200).map(|i| publish(batch * 200 + i)).collect()).await.unwrap();
    }
    assert_eq!(store.log_stats().await.unwrap().newest, Seq(10_000));
    let check = |label: &str, newest: i64| -> (i64, i64, Option<String>, Option<i64>) {
        // One read transaction: the writer commits a slice's rows with its mark, and two
        // statements outside one could see the mark before the slice and the rows after it.
        let mut conn = peek(dir.path());
        let conn = conn.transaction().unwrap();
        let mark: (i64, i64, Option<String>, Option<i64>) = conn
            .query_row("SELECT indexed_through, pass_through, done_address, done_seq FROM address_index", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        let (indexed, pass, done, done_seq) = mark.clone();
        assert!(indexed >= 4096 && pass >= indexed && pass <= newest, "{label}: the mark {mark:?}");
        let (done, done_seq) = (done.unwrap_or_default(), done_seq.unwrap_or_default());
        // Every record the mark covers is indexed, and nothing else.
        let mismatched: i64 = conn
            .query_row(
                "WITH covered AS (SELECT address, seq FROM events
                                   WHERE seq <= ?1 OR (seq <= ?2 AND (address < ?3 OR (address = ?3 AND seq <= ?4))))
                 SELECT (SELECT count(*) FROM covered c WHERE NOT EXISTS
                           (SELECT 1 FROM event_addresses a WHERE a.address = c.address AND a.seq = c.seq))
                      + (SELECT count(*) FROM event_addresses a WHERE NOT EXISTS
                           (SELECT 1 FROM covered c WHERE a.address = c.address AND a.seq = c.seq))",
                rusqlite::params![indexed, pass, done, done_seq],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(mismatched, 0, "{label}: the index holds exactly what the mark {mark:?} says");
        mark
    };
    // A slice commits after its group's replies: close the store (its writer finishes what it
    // started) so the mark is read once nothing moves it any more.
    store.close().await;
    let written = check("written", 10_000);
    drop(store);
    let store = open();
    assert_eq!(check("reopened", 10_000), written, "the mark as it was");
    topic_histories(&store, "reopened", 10_000, 0).await;
    // A pass under way, made by hand: records up to 6,000 indexed, and of those up to 9,000 the
    // ones of topics t0 to t2 and t3's up to 7,500. Reads must take each topic's tail from the
    // mark that applies to it.
    drop(store);
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(
            "DELETE FROM event_addresses;
             INSERT INTO event_addresses (address, seq)
                 SELECT address, seq FROM events WHERE seq <= 6000
                    OR (seq <= 9000 AND (address < 'acme:t3' OR (address = 'acme:t3' AND seq <= 7500)));
             UPDATE address_index SET indexed_through = 6000, pass_through = 9000, done_address = 'acme:t3',
                 done_seq = 7500;",
        )
        .unwrap();
    }
    assert_eq!(check("made by hand", 10_000), (6000, 9000, Some("acme:t3".into()), Some(7500)));
    let store = open();
    topic_histories(&store, "a pass under way", 10_000, 0).await;
    // Writes after the restart finish that pass and go on.
    for batch in 50..70 {
        store.write_atomic((0..200).map(|i| publish(batch * 200 + i)).collect()).await.unwrap();
    }
    let (indexed, pass, ..) = check("written after the restart", 14_000);
    assert!(indexed >= 9000 && pass > 9000, "the pass under way ended and another began: {indexed}, {pass}");
    topic_histories(&store, "written after the restart", 14_000, 0).await;
    // Retention trims into the pass under way: its trimmed records are not indexed later, and
    // the index keeps exactly what the mark covers as the pass goes on.
    let trim = TrimLog { older_than: Timestamp(SystemClock.now().0 + 86_400_000), max_bytes: None, limit: 12_000 };
    store.write(WriteOp::TrimLog(trim)).await.unwrap();
    for batch in 70..80 {
        store.write_atomic((0..200).map(|i| publish(batch * 200 + i)).collect()).await.unwrap();
    }
    let (indexed, ..) = check("written after a trim", 16_000);
    assert!(indexed > 13_000, "passes went on after the trim: {indexed}");
    topic_histories(&store, "written after a trim", 16_000, 12_000).await;
}

/// Groups of a thousand records each: slices grow with what the groups write, so the part of
/// the log that reads must scan stays bounded instead of growing by each group.
#[tokio::test]
async fn large_groups_do_not_outrun_the_address_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_without_fsync(dir.path());
    for batch in 0..40 {
        store.write_atomic((0..1000).map(|i| topic_message(batch * 1000 + i)).collect()).await.unwrap();
    }
    let indexed: i64 =
        peek(dir.path()).query_row("SELECT indexed_through FROM address_index", [], |r| r.get(0)).unwrap();
    // A pass starts 4,096 records after the mark and takes at most 16,384; with slices of twice
    // a group it ends within a few groups.
    assert!(40_000 - indexed <= 4096 + 4000, "the mark lags the log by {}", 40_000 - indexed);
    topic_histories(&store, "large groups", 40_000, 0).await;
}

/// A store in `dir` whose writes wait for no fsync.
fn open_without_fsync(dir: &std::path::Path) -> SqliteStore {
    SqliteStore::open(SqliteOptions {
        data_dir: dir.into(),
        durability: Durability::None,
        clock: switchyard_store::SystemClock::shared(),
    })
    .unwrap()
}

/// Message `n` of a run: `{"n": n}` to topic `acme:t{n % 7}`.
fn topic_message(n: usize) -> WriteOp {
    WriteOp::Publish(Publish {
        space: "acme".parse().unwrap(),
        topic: format!("t{}", n % 7).parse().unwrap(),
        payload: serde_json::json!({ "n": n }),
        key: None,
        headers: Default::default(),
        idempotency: None,
    })
}

/// Checks the history of each topic `acme:t0`..`t6` (message n, seq n + 1, went to topic n % 7)
/// from several starting points, with the records up to `trimmed` gone.
async fn topic_histories(store: &SqliteStore, label: &str, newest: u64, trimmed: u64) {
    for t in 0..7 {
        for after in [0u64, 4000, 6500, 7490, 9990, 13_000, 15_000, 30_000] {
            let history = store.history(&format!("acme:t{t}"), Seq(after), 5000).await.unwrap();
            let seqs: Vec<u64> = history.iter().map(|r| r.seq.0).collect();
            let from = after.max(trimmed) + 1;
            let want: Vec<u64> = (from..=newest).filter(|s| (s - 1) % 7 == t).take(5000).collect();
            assert_eq!(seqs, want, "{label}: t{t} after {after}");
        }
    }
}
