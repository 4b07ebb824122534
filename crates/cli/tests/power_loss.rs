//! Power loss, simulated for the SQLite files of the real, unmodified binary.
//!
//! The server runs under the faultfs shim (`crates/faultfs`), which journals every change to
//! the files of its data directory and every successful fsync. Concurrent writers create
//! instances in atomic batches, send events and put KV keys through the HTTP API; at a seeded
//! point the server is SIGKILLed, every change no fsync made durable is undone (the files are
//! left as a power loss that wrote back nothing unsynced would leave them), and the server is
//! started again without the shim. What that proves, per `--durability` (README, Durability):
//!
//! - `fsync`: every acknowledged write is there, exactly once — over two crash-and-restore
//!   rounds, the second recovering a store the first left behind.
//! - `batch:<ms>`: what survives is a prefix of the log: an acknowledged write is missing only
//!   if every write after it is missing too.
//! - `none`: acknowledged writes are lost, as documented (which also shows the simulation
//!   bites: the same kill without it loses nothing), and the store still opens.
//!
//! And after every power loss: no atomic batch is half there, each instance's state is the
//! replay of its history, the log has no holes, SQLite's integrity check passes and the store
//! takes writes again. The seed is printed; `SWITCHYARD_TEST_SEED` replays one.

mod support;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use support::TestServer;
use switchyard_faultfs::{Entry, FaultFs, Journal};
use switchyard_testkit::{PATIENCE, wait_until};

const SPACE: &str = "power";
const WAL: &str = "switchyard.db-wal";
const WRITERS: usize = 6;

const COUNTER: &str = r#"{
  "name": "counter",
  "initial": "s0",
  "states": ["s0", "s1", "s2", "s3", "s4"],
  "transitions": [
    {"from": "s0", "event": "next", "to": "s1", "assign": {"n": "ctx.n + 1"}},
    {"from": "s1", "event": "next", "to": "s2", "assign": {"n": "ctx.n + 1"}},
    {"from": "s2", "event": "next", "to": "s3", "assign": {"n": "ctx.n + 1"}},
    {"from": "s3", "event": "next", "to": "s4", "assign": {"n": "ctx.n + 1"}},
    {"from": "s4", "event": "next", "to": "s0", "assign": {"n": "ctx.n + 1"}}
  ]
}"#;

/// A write the server acknowledged, with the seq of its (last) log record.
#[derive(Debug, Clone)]
struct Acked {
    op: Op,
    seq: u64,
}

#[derive(Debug, Clone)]
enum Op {
    /// An atomic batch: create instance `id`, then apply `next` to it (two records).
    Batch { id: String },
    /// `next` on the writer's own counter `c-<w>`, with idempotency key `key`.
    Event { id: String, key: String },
    /// A put of KV key `key` (written once) with `value`.
    Put { key: String, value: String },
}

/// A test's directories: the data directory the shim tracks, and its journal elsewhere.
struct Dirs {
    _root: tempfile::TempDir,
    data: PathBuf,
    faultfs: FaultFs,
}

fn dirs() -> Dirs {
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data");
    let scratch = root.path().join("scratch");
    std::fs::create_dir(&data).expect("mkdir data");
    std::fs::create_dir(&scratch).expect("mkdir scratch");
    let faultfs = FaultFs::new(&data, &scratch);
    Dirs { data, faultfs, _root: root }
}

fn seed(test: &str) -> u64 {
    let seed = match std::env::var("SWITCHYARD_TEST_SEED") {
        Ok(s) => s.parse().expect("SWITCHYARD_TEST_SEED is a u64"),
        Err(_) => rand::rng().random(),
    };
    eprintln!("{test}: seed {seed} (replay with SWITCHYARD_TEST_SEED={seed})");
    seed
}

fn instances_url(base: &str) -> String {
    format!("{base}/v1/spaces/{SPACE}/machines/counter/instances")
}

async fn send(req: reqwest::RequestBuilder, token: &str) -> Result<(u16, Value), reqwest::Error> {
    let resp = req.bearer_auth(token).timeout(Duration::from_secs(60)).send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

/// The machine, one counter instance per writer, and the KV bucket.
async fn set_up_space(server: &TestServer) {
    let client = reqwest::Client::new();
    let token = &server.admin_token;
    let url = format!("{}/v1/spaces/{SPACE}/machines/counter", server.url);
    let (status, body) = send(client.put(url).header("content-type", "application/json").body(COUNTER), token)
        .await
        .expect("put machine");
    assert_eq!(status, 200, "{body}");
    for w in 0..WRITERS {
        let (status, body) = send(
            client.post(instances_url(&server.url)).json(&json!({ "id": format!("c-{w}"), "ctx": { "n": 0 } })),
            token,
        )
        .await
        .expect("create counter");
        assert_eq!(status, 201, "{body}");
    }
    let url = format!("{}/v1/spaces/{SPACE}/kv/kv", server.url);
    let (status, body) = send(client.put(url).json(&json!({ "history": 1 })), token).await.expect("create bucket");
    assert_eq!(status, 201, "{body}");
}

/// Sends one write; `Ok(seq)` once acknowledged, `Err` when the server is gone. Any answer other
/// than success fails the test: nothing in this workload can be refused.
async fn perform(client: &reqwest::Client, base: &str, token: &str, op: &Op) -> Result<u64, reqwest::Error> {
    let (status, body) = match op {
        Op::Batch { id } => {
            let operations = json!({ "operations": [
                { "op": "create_instance", "space": SPACE, "machine": "counter", "id": id, "ctx": { "n": 0 } },
                { "op": "apply_event", "space": SPACE, "machine": "counter", "instance": id, "event": "next" },
            ]});
            let (status, body) = send(client.post(format!("{base}/v1/batch")).json(&operations), token).await?;
            (status, body["results"][1].clone())
        }
        Op::Event { id, key } => {
            let url = format!("{}/{id}/events", instances_url(base));
            send(client.post(url).json(&json!({ "event": "next", "idempotency_key": key })), token).await?
        }
        Op::Put { key, value } => {
            let url = format!("{base}/v1/spaces/{SPACE}/kv/kv/keys/{key}");
            send(client.put(url).header("content-type", "text/plain").body(value.clone()), token).await?
        }
    };
    assert_eq!(status, 200, "{op:?}: {body}");
    Ok(body["seq"].as_u64().unwrap_or_else(|| panic!("{op:?}: no seq in {body}")))
}

/// Writes until the server dies; returns what was acknowledged.
async fn writer(
    base: String,
    token: String,
    seed: u64,
    round: usize,
    w: usize,
    acked_total: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> Vec<Acked> {
    let client = reqwest::Client::new();
    let mut rng = StdRng::seed_from_u64(seed ^ ((round as u64) << 32) ^ w as u64);
    let mut acked = Vec::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let op = match rng.random_range(0..3) {
            0 => Op::Batch { id: format!("b-{round}-{w}-{n}") },
            1 => Op::Event { id: format!("c-{w}"), key: format!("e-{round}-{w}-{n}") },
            _ => Op::Put { key: format!("k-{round}-{w}-{n}"), value: format!("v-{round}-{w}-{n}") },
        };
        match perform(&client, &base, &token, &op).await {
            Ok(seq) => {
                acked.push(Acked { op, seq });
                acked_total.fetch_add(1, Ordering::Relaxed);
            }
            // The server was killed; what was in flight may or may not have committed.
            Err(_) => break,
        }
    }
    acked
}

/// One round: the server under the shim (first setting up the space if `set_up`) takes
/// concurrent writes until `target` are acknowledged, is SIGKILLed, and loses what was never
/// fsynced. Returns what was acknowledged, and the journal of what the shim saw.
async fn crash_round(
    dirs: &Dirs,
    args: &[&str],
    seed: u64,
    round: usize,
    set_up: bool,
    target: usize,
) -> (Vec<Acked>, Journal) {
    let mut server = TestServer::start_in_with_env(&dirs.data, args, &dirs.faultfs.env());
    if set_up {
        set_up_space(&server).await;
    }
    let acked_total = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (base, token) = (server.url.clone(), server.admin_token.clone());
            tokio::spawn(writer(base, token, seed, round, w, acked_total.clone(), stop.clone()))
        })
        .collect();
    wait_until(&format!("{target} writes acknowledged"), PATIENCE, || {
        let acked = acked_total.load(Ordering::Relaxed);
        async move { (acked >= target).then_some(()) }
    })
    .await;
    server.kill();
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for handle in writers {
        acked.extend(handle.await.expect("writer"));
    }
    let journal = dirs.faultfs.journal();
    let restored = dirs.faultfs.power_loss();
    eprintln!(
        "round {round}: {} writes acknowledged; the power loss undid {} changes ({:?}); intercepted: {:?}",
        acked.len(),
        restored.total(),
        restored.undone,
        journal.entry_points()
    );
    // The simulation only means something if it saw SQLite's writes: the bundled SQLite writes
    // its WAL with pwrite64.
    assert!(journal.count(WAL, Entry::Pwrite64) > 0, "the WAL's writes were journaled: {:?}", journal.entry_points());
    (acked, journal)
}

/// How many times the writer fsynced the WAL (`File::sync_data`, i.e. fdatasync; SQLite's own
/// syncs use fsync).
fn writer_wal_syncs(journal: &Journal) -> usize {
    journal.count(WAL, Entry::Fdatasync)
}

/// Everything readable about the store after the power loss.
struct Survivors {
    /// Instance id → its history.
    histories: HashMap<String, Vec<Value>>,
    /// Instance id → the instance.
    instances: HashMap<String, Value>,
    newest_seq: u64,
}

async fn get(client: &reqwest::Client, url: String, token: &str) -> (u16, Value) {
    send(client.get(url), token).await.expect("read")
}

async fn read_survivors(server: &TestServer) -> Survivors {
    let client = reqwest::Client::new();
    let token = &server.admin_token;
    let mut instances = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}?limit=1000", instances_url(&server.url));
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = get(&client, url, token).await;
        assert_eq!(status, 200, "{page}");
        for inst in page["instances"].as_array().expect("instances") {
            instances.insert(inst["id"].as_str().expect("id").to_string(), inst.clone());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut histories = HashMap::new();
    for id in instances.keys() {
        let mut history = Vec::new();
        let mut after = 0u64;
        loop {
            let url = format!("{}/{id}/history?after={after}&limit=1000", instances_url(&server.url));
            let (status, page) = get(&client, url, token).await;
            assert_eq!(status, 200, "{page}");
            history.extend(page["events"].as_array().expect("events").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => after = c.parse().expect("a seq"),
                None => break,
            }
        }
        histories.insert(id.clone(), history);
    }
    let metrics = server.client();
    let newest_seq = support::gauge(&metrics, "switchyard_log_newest_seq").await as u64;
    let oldest_seq = support::gauge(&metrics, "switchyard_log_oldest_seq").await as u64;
    let records = support::gauge(&metrics, "switchyard_log_records").await as u64;
    assert_eq!(
        records,
        newest_seq - oldest_seq + 1,
        "the log has no holes: {records} records in {oldest_seq}..={newest_seq}"
    );
    Survivors { histories, instances, newest_seq }
}

/// Checks what holds after any power loss: batches whole, states equal to their histories'
/// replay, idempotency keys applied at most once.
fn check_consistent(s: &Survivors) {
    let mut keys = HashSet::new();
    for (id, inst) in &s.instances {
        let history = &s.histories[id];
        assert_eq!(history[0]["kind"], "instance.created", "{id}: {history:?}");
        let transitions = history.len() as u64 - 1;
        if id.starts_with("b-") {
            // A batch commits its create and its event together or not at all.
            assert_eq!(transitions, 1, "{id}: half of an atomic batch survived: {history:?}");
            assert_eq!(history[1]["seq"].as_u64(), history[0]["seq"].as_u64().map(|s| s + 1), "{id}: {history:?}");
        }
        for record in &history[1..] {
            assert_eq!(record["kind"], "instance.transitioned", "{id}: {record}");
            if let Some(key) = record["idempotency_key"].as_str() {
                assert!(keys.insert(key.to_string()), "{key} was applied twice");
            }
        }
        assert_eq!(inst["revision"].as_u64(), Some(transitions + 1), "{id}: one revision per event: {inst}");
        assert_eq!(inst["ctx"]["n"].as_u64(), Some(transitions), "{id}: ctx is the replay of its history: {inst}");
        assert_eq!(inst["state"], format!("s{}", transitions % 5), "{id}: state is the replay of its history: {inst}");
    }
}

/// Whether an acknowledged write is in the store; panics if it is there but not as acknowledged.
async fn is_present(server: &TestServer, s: &Survivors, acked: &Acked) -> bool {
    match &acked.op {
        Op::Batch { id } => match s.histories.get(id) {
            None => false,
            Some(history) => {
                assert_eq!(history[1]["seq"].as_u64(), Some(acked.seq), "{id} is where it was acknowledged");
                true
            }
        },
        Op::Event { id, key } => {
            let found = s.histories[id].iter().find(|r| r["idempotency_key"].as_str() == Some(key.as_str()));
            if let Some(record) = found {
                assert_eq!(record["seq"].as_u64(), Some(acked.seq), "{key} is where it was acknowledged");
            }
            found.is_some()
        }
        Op::Put { key, value } => {
            let url = format!("{}/v1/spaces/{SPACE}/kv/kv/keys/{key}", server.url);
            let (status, body) = get(&reqwest::Client::new(), url, &server.admin_token).await;
            match status {
                404 => false,
                200 => {
                    assert_eq!(body, Value::String(value.clone()), "{key} holds what was put");
                    true
                }
                other => panic!("GET {key}: {other} {body}"),
            }
        }
    }
}

/// Restarts without the shim and checks the store; returns how many acknowledged writes are lost.
async fn check_after_power_loss(dirs: &Dirs, args: &[&str], acked: &[Acked]) -> usize {
    let mut server = TestServer::start_in(&dirs.data, args);
    let ready = reqwest::get(format!("{}/readyz", server.url)).await.expect("readyz");
    assert_eq!(ready.status().as_u16(), 200, "the store opens after the power loss");
    let survivors = read_survivors(&server).await;
    check_consistent(&survivors);
    let mut lost = Vec::new();
    for a in acked {
        let present = is_present(&server, &survivors, a).await;
        // The log is a prefix of what was committed: nothing below the newest surviving seq is missing.
        assert!(
            present || a.seq > survivors.newest_seq,
            "{a:?} is missing though seq {} survived",
            survivors.newest_seq
        );
        if !present {
            lost.push(a.seq);
        }
    }
    eprintln!(
        "{} of {} acknowledged writes lost; the log ends at seq {}",
        lost.len(),
        acked.len(),
        survivors.newest_seq
    );
    // The store takes writes again.
    let client = reqwest::Client::new();
    let url = format!("{}/c-0/events", instances_url(&server.url));
    let (status, body) =
        send(client.post(url).json(&json!({ "event": "next" })), &server.admin_token).await.expect("write");
    assert_eq!(status, 200, "{body}");
    assert!(server.terminate().success());
    integrity_check(&dirs.data.join("switchyard.db"));
    lost.len()
}

fn integrity_check(db: &Path) {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    let result: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
    assert_eq!(result, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fsync_durability_loses_no_acknowledged_write_to_power_loss() {
    let seed = seed("fsync_durability_loses_no_acknowledged_write_to_power_loss");
    let mut rng = StdRng::seed_from_u64(seed);
    let dirs = dirs();
    let args = ["--durability", "fsync"];
    let mut acked = Vec::new();
    for round in 0..2 {
        let target = rng.random_range(200..600);
        // The store itself is created under the shim: its creation must be durable too.
        let (round_acked, journal) = crash_round(&dirs, &args, seed, round, round == 0, target).await;
        assert!(writer_wal_syncs(&journal) > 0, "the writer's WAL fsyncs were journaled");
        acked.extend(round_acked);
    }
    let lost = check_after_power_loss(&dirs, &args, &acked).await;
    assert_eq!(lost, 0, "under fsync every acknowledged write survives a power loss");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batch_durability_keeps_a_prefix_of_the_log_through_power_loss() {
    let seed = seed("batch_durability_keeps_a_prefix_of_the_log_through_power_loss");
    let mut rng = StdRng::seed_from_u64(seed);
    let dirs = dirs();
    let args = ["--durability", "batch:20"];
    let (acked, journal) = crash_round(&dirs, &args, seed, 0, true, rng.random_range(200..600)).await;
    assert!(writer_wal_syncs(&journal) > 0, "the writer's WAL fsyncs were journaled");
    // How many are lost depends on where in the interval the kill fell; that the survivors are a
    // prefix, and the store whole, does not.
    check_after_power_loss(&dirs, &args, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn none_durability_loses_acknowledged_writes_to_power_loss_and_still_opens() {
    let seed = seed("none_durability_loses_acknowledged_writes_to_power_loss_and_still_opens");
    let mut rng = StdRng::seed_from_u64(seed);
    let dirs = dirs();
    // The store is made and shut down cleanly first, so what the power loss can take is only
    // what was written under `none`.
    let mut server = TestServer::start_in(&dirs.data, &["--durability", "fsync"]);
    set_up_space(&server).await;
    assert!(server.terminate().success());
    let args = ["--durability", "none"];
    let (acked, journal) = crash_round(&dirs, &args, seed, 0, false, rng.random_range(200..600)).await;
    assert_eq!(writer_wal_syncs(&journal), 0, "under none the writer never fsyncs the WAL");
    let lost = check_after_power_loss(&dirs, &args, &acked).await;
    assert!(lost > 0, "under none a power loss loses acknowledged writes (README: \"recent writes\")");
}
