//! Crash tests: a seeded workload of every kind of write — instance create, event, batch, KV
//! compare-and-set, publish, subscription pull and ack, asynchronous function invocation —
//! from concurrent writers against the real server, SIGKILLed at a seeded moment over several
//! rounds, on SQLite and on PostgreSQL (where one round also cuts the node's database
//! connections mid-load and the node must recover without a restart).
//!
//! After each restart, what was in flight at the kill is settled first: a batch must be all
//! or nothing and a KV compare-and-set applied whole or not at all (checked before any retry),
//! then each request is retried under its idempotency key (a KV put is reconciled by reading
//! its key). At the end every acknowledged write is present exactly once with the result it was
//! acknowledged with, and each kind's own invariants hold (see [`verify`]).
//!
//! The seed comes from `SWITCHYARD_CRASH_SEED` when set, else at random. It is printed first and
//! named in every failure (a panic hook adds it to any panic). It fixes each writer's choices
//! and each round's kill point (a number of acknowledgements); how the writers interleave with
//! the server is not reproducible, so a replay reruns the same workload, not the same schedule.
//!
//! Every round must catch at least one write in flight (sent, connection broken by the kill
//! before the answer): the kill comes once the round has a seeded number of acknowledgements,
//! while every writer is busy.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use support::TestServer;
use support::sse::SseReader;
use switchyard_testkit::fixtures::LoggedWrite;
use switchyard_testkit::{
    COUNTER_MACHINE, InstanceRecords, PATIENCE, TestDatabase, example_function_bytes, verify_exactly_once, wait_until,
    within,
};

const SEED_VAR: &str = "SWITCHYARD_CRASH_SEED";
/// Kills (and restarts) per test.
const ROUNDS: usize = 5;
/// Concurrent writers, besides the one subscription consumer.
const WRITERS: usize = 6;
/// Instances each writer creates before the first round (it creates more as it goes).
const INSTANCES_PER_WRITER: usize = 2;
/// A round is killed once it has a seeded number of acknowledgements in this range.
const ACKS_BEFORE_KILL: std::ops::RangeInclusive<u64> = 60..=180;
/// After its connections are cut, a PostgreSQL node must acknowledge this many more writes
/// before the round's kill: it recovered without a restart.
const ACKS_AFTER_CUT: u64 = 30;
/// The KV bucket keeps this many revisions per key (the most it allows), and a writer puts a
/// key at most this many times before it moves on to a new one: each key's whole history is kept.
const KV_HISTORY: u64 = 64;
const KV_PUTS_PER_KEY: usize = KV_HISTORY as usize;
/// One request's bound: a server that stops answering fails the test instead of hanging it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The example function's `timeout_ms`.
const FUNCTION_TIMEOUT_MS: u64 = 2000;
/// With a 2 s job lease, an invocation whose node died runs again about 2 s after the kill.
const SERVE_ARGS: [&str; 2] = ["--job-lease", "2s"];

const SPACE: &str = "crash";
const TOPIC: &str = "feed";
const BUCKET: &str = "cas";
const SUBSCRIPTION: &str = "feed-reader";
const FUNCTION: &str = "hello";
/// Lease of a pulled record: records leased by a pull the kill cut short are delivered again
/// after it.
const PULL_LEASE: &str = "3s";

/// The run's seed, chosen once per process and printed; from then on every panic names it.
fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let seed = match std::env::var(SEED_VAR) {
            Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{SEED_VAR}={v:?} is not a u64")),
            Err(_) => rand::random(),
        };
        println!("crash seed {seed} (replay with {SEED_VAR}={seed})");
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            eprintln!("crash seed {seed}: replay with {SEED_VAR}={seed}");
        }));
        seed
    })
}

/// `assert!` whose message names the seed.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        assert!($cond, "seed {}: {}", seed(), format_args!($($arg)+))
    };
}

/// `panic!` whose message names the seed.
macro_rules! fail {
    ($($arg:tt)+) => {
        panic!("seed {}: {}", seed(), format_args!($($arg)+))
    };
}

// ---------------------------------------------------------------------------------------------
// Requests

/// The kinds of request the workload sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Create,
    Event,
    Batch,
    KvCas,
    Publish,
    Invoke,
    Pull,
    Ack,
}

const KINDS: usize = 8;
const KIND_NAMES: [&str; KINDS] = ["create", "event", "batch", "kv-cas", "publish", "invoke", "pull", "ack"];

/// Counts per kind.
type PerKind = [u64; KINDS];

fn show(counts: &PerKind) -> String {
    let parts: Vec<String> =
        counts.iter().zip(KIND_NAMES).filter(|(n, _)| **n > 0).map(|(n, name)| format!("{name} {n}")).collect();
    if parts.is_empty() { "none".into() } else { parts.join(", ") }
}

/// A write the workload sends; kept while in flight, to settle it after a crash.
#[derive(Clone, Debug)]
enum Op {
    Create {
        id: String,
        key: String,
    },
    Event(EventOp),
    Batch(Vec<BatchOp>),
    /// A compare-and-set of the writer's own key: `If-None-Match: *` when it has no revision yet.
    KvCas {
        key: String,
        value: String,
        expected: Option<u64>,
    },
    Publish {
        key: String,
        payload: Value,
    },
    Invoke {
        key: String,
    },
    Pull,
    Ack(Vec<u64>),
}

#[derive(Clone, Debug)]
struct EventOp {
    instance: String,
    key: String,
    event: &'static str,
    payload: Value,
}

#[derive(Clone, Debug)]
enum BatchOp {
    Create { id: String, key: String },
    Event(EventOp),
}

enum Body {
    Empty,
    Json(Value),
    Text(String),
}

struct Request {
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

fn instances_path() -> String {
    format!("/v1/spaces/{SPACE}/machines/counter/instances")
}

fn event_json(e: &EventOp) -> Value {
    json!({ "event": e.event, "payload": e.payload, "idempotency_key": e.key })
}

impl Op {
    fn kind(&self) -> Kind {
        match self {
            Op::Create { .. } => Kind::Create,
            Op::Event(_) => Kind::Event,
            Op::Batch(_) => Kind::Batch,
            Op::KvCas { .. } => Kind::KvCas,
            Op::Publish { .. } => Kind::Publish,
            Op::Invoke { .. } => Kind::Invoke,
            Op::Pull => Kind::Pull,
            Op::Ack(_) => Kind::Ack,
        }
    }

    fn request(&self) -> Request {
        let post =
            |path: String, body: Value| Request { method: Method::POST, path, headers: vec![], body: Body::Json(body) };
        match self {
            Op::Create { id, key } => {
                post(instances_path(), json!({ "id": id, "ctx": { "n": 0 }, "idempotency_key": key }))
            }
            Op::Event(e) => post(format!("{}/{}/events", instances_path(), e.instance), event_json(e)),
            Op::Batch(ops) => {
                let operations: Vec<Value> = ops
                    .iter()
                    .map(|op| match op {
                        BatchOp::Create { id, key } => json!({ "op": "create_instance", "space": SPACE,
                            "machine": "counter", "id": id, "ctx": { "n": 0 }, "idempotency_key": key }),
                        BatchOp::Event(e) => json!({ "op": "apply_event", "space": SPACE, "machine": "counter",
                            "instance": e.instance, "event": e.event, "payload": e.payload, "idempotency_key": e.key }),
                    })
                    .collect();
                post("/v1/batch".into(), json!({ "operations": operations }))
            }
            Op::KvCas { key, value, expected } => Request {
                method: Method::PUT,
                path: format!("/v1/spaces/{SPACE}/kv/{BUCKET}/keys/{key}"),
                headers: vec![match expected {
                    Some(revision) => ("if-match", format!("\"{revision}\"")),
                    None => ("if-none-match", "*".into()),
                }],
                body: Body::Text(value.clone()),
            },
            Op::Publish { key, payload } => post(
                format!("/v1/spaces/{SPACE}/topics/{TOPIC}/messages"),
                json!({ "payload": payload, "idempotency_key": key }),
            ),
            Op::Invoke { key } => Request {
                method: Method::POST,
                path: format!("/v1/spaces/{SPACE}/functions/{FUNCTION}/invoke?async=true"),
                headers: vec![("idempotency-key", key.clone())],
                body: Body::Json(json!({ "name": key })),
            },
            Op::Pull => Request {
                method: Method::POST,
                path: format!("/v1/spaces/{SPACE}/subscriptions/{SUBSCRIPTION}/pull?max=20&lease={PULL_LEASE}&wait=1s"),
                headers: vec![],
                body: Body::Empty,
            },
            Op::Ack(seqs) => {
                post(format!("/v1/spaces/{SPACE}/subscriptions/{SUBSCRIPTION}/ack"), json!({ "seqs": seqs }))
            }
        }
    }
}

/// A request that got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lost {
    /// Refused before anything was sent: the server was dead already.
    Refused,
    /// Sent, and the connection broke before the answer came: in flight when the server died.
    Cut,
}

struct Reply {
    status: u16,
    body: Value,
}

/// The server of one round, through one token.
#[derive(Clone)]
struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
    /// Set once the round cut the node's database connections: from then on a 5xx answer means
    /// "outcome unknown" (settled like a request the kill caught) instead of failing the test.
    cut: Arc<AtomicBool>,
}

impl Api {
    /// With a client of its own: no connection pooled to an earlier round's (dead) server can
    /// be picked for this one, even if the new server got the old one's port.
    fn new(server: &TestServer) -> Api {
        Api {
            base: server.url.clone(),
            token: server.admin_token.clone(),
            http: reqwest::Client::new(),
            cut: Arc::new(AtomicBool::new(false)),
        }
    }

    async fn call(&self, request: &Request) -> Result<Reply, Lost> {
        let mut req = self
            .http
            .request(request.method.clone(), format!("{}{}", self.base, request.path))
            .bearer_auth(&self.token)
            .timeout(REQUEST_TIMEOUT);
        for (name, value) in &request.headers {
            req = req.header(*name, value);
        }
        req = match &request.body {
            Body::Empty => req,
            Body::Json(v) => req.json(v),
            Body::Text(t) => req.header("content-type", "text/plain").body(t.clone()),
        };
        let response = req.send().await.map_err(|e| lost(&request.path, e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| lost(&request.path, e))?;
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Ok(Reply { status, body })
    }

    /// Fails the test on a 5xx answer unless the node's connections were cut.
    fn unavailable(&self, path: &str, reply: &Reply) {
        ensure!(self.cut.load(Ordering::SeqCst), "{path}: unexpected {} {}", reply.status, reply.body);
    }

    /// [`Api::call`], repeated while the node answers 5xx after a cut (each repeat is safe: the
    /// callers send idempotent requests).
    async fn answered(&self, request: &Request) -> Result<Reply, Lost> {
        let what = format!("{} to be answered without a 5xx", request.path);
        wait_until(&what, PATIENCE, || async move {
            match self.call(request).await {
                Ok(reply) if reply.status >= 500 => {
                    self.unavailable(&request.path, &reply);
                    None
                }
                other => Some(other),
            }
        })
        .await
    }

    async fn get(&self, path: String) -> Result<Reply, Lost> {
        self.answered(&Request { method: Method::GET, path, headers: vec![], body: Body::Empty }).await
    }

    /// A request outside the workload, to a server that must answer it.
    async fn expect(&self, method: Method, path: String, body: Value, status: u16) -> Value {
        let request = Request { method, path, headers: vec![], body: Body::Json(body) };
        match self.call(&request).await {
            Ok(reply) if reply.status == status => reply.body,
            Ok(reply) => fail!("{}: expected {status}, got {} {}", request.path, reply.status, reply.body),
            Err(lost) => fail!("{}: no answer ({lost:?})", request.path),
        }
    }

    async fn read(&self, path: String) -> Value {
        match self.get(path.clone()).await {
            Ok(reply) if reply.status == 200 => reply.body,
            Ok(reply) => fail!("{path}: {} {}", reply.status, reply.body),
            Err(lost) => fail!("{path}: no answer ({lost:?})"),
        }
    }
}

fn lost(path: &str, e: reqwest::Error) -> Lost {
    if e.is_timeout() {
        fail!("{path}: no answer within {REQUEST_TIMEOUT:?}: {e}");
    }
    if e.is_connect() { Lost::Refused } else { Lost::Cut }
}

// ---------------------------------------------------------------------------------------------
// Writers

/// An acknowledged event (alone or in a batch): what the log must hold for its key.
#[derive(Clone, Debug)]
struct AckedEvent {
    instance: String,
    key: String,
    seq: u64,
    revision: u64,
    ctx: Value,
}

/// What the server acknowledged to one writer.
#[derive(Default)]
struct Ledger {
    /// `(key, instance id)`.
    creates: Vec<(String, String)>,
    events: Vec<AckedEvent>,
    /// `(key, seq, payload)`.
    publishes: Vec<(String, u64, Value)>,
    /// `(key, invocation id)`.
    invocations: Vec<(String, String)>,
}

/// One writer: its own instances and KV key, its seeded choices, what it was acknowledged, and
/// the write it had in flight when its server died.
struct Writer {
    w: usize,
    rng: StdRng,
    n: u64,
    instances: Vec<String>,
    /// Its KV keys, each with its acknowledged `(revision, value)` puts in order; it moves on
    /// to a new key once one has [`KV_PUTS_PER_KEY`].
    kv: BTreeMap<String, Vec<(u64, String)>>,
    ledger: Ledger,
    acks: PerKind,
    /// 5xx answers (after a connection cut), by kind.
    unavailable: PerKind,
    in_flight: Option<Op>,
    lost: Option<Lost>,
}

impl Writer {
    fn new(seed: u64, w: usize) -> Writer {
        let stream = (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Writer {
            w,
            rng: StdRng::seed_from_u64(seed ^ stream),
            n: 0,
            instances: Vec::new(),
            kv: BTreeMap::new(),
            ledger: Ledger::default(),
            acks: [0; KINDS],
            unavailable: [0; KINDS],
            in_flight: None,
            lost: None,
        }
    }

    /// The KV key to put next, and its revision (`None`: not set yet).
    fn kv_target(&self) -> (String, Option<u64>) {
        let current = format!("w{}-k{}", self.w, self.kv.len().saturating_sub(1));
        match self.kv.get(&current) {
            Some(puts) if puts.len() < KV_PUTS_PER_KEY => (current, puts.last().map(|(revision, _)| *revision)),
            _ => (format!("w{}-k{}", self.w, self.kv.len()), None),
        }
    }

    /// The last acknowledged put of `key`.
    fn kv_last(&self, key: &str) -> Option<&(u64, String)> {
        self.kv.get(key).and_then(|puts| puts.last())
    }

    fn event(&mut self, key: String, extra: Option<&str>) -> EventOp {
        let mut choices: Vec<&str> = self.instances.iter().map(String::as_str).collect();
        choices.extend(extra);
        let instance = choices.choose(&mut self.rng).expect("a writer owns instances").to_string();
        let (event, payload) = if self.rng.random_bool(0.5) {
            ("next", json!({}))
        } else {
            ("add", json!({ "by": self.rng.random_range(1..10) }))
        };
        EventOp { instance, key, event, payload }
    }

    /// The next write, chosen by the writer's seeded generator.
    fn next_op(&mut self) -> Op {
        self.n += 1;
        let (w, n) = (self.w, self.n);
        // Weights: create 1, event 4, batch 2, KV compare-and-set 2, publish 3, invoke 1.
        match self.rng.random_range(0..13) {
            0 => Op::Create { id: format!("w{w}-c{n}"), key: format!("w{w}-{n}-create") },
            1..=4 => Op::Event(self.event(format!("w{w}-{n}-event"), None)),
            5..=6 => {
                let created = self.rng.random_bool(0.3).then(|| format!("w{w}-b{n}"));
                let mut ops: Vec<BatchOp> = created
                    .iter()
                    .map(|id| BatchOp::Create { id: id.clone(), key: format!("w{w}-{n}-batch-create") })
                    .collect();
                for i in 0..self.rng.random_range(2..=4) {
                    ops.push(BatchOp::Event(self.event(format!("w{w}-{n}-batch-{i}"), created.as_deref())));
                }
                Op::Batch(ops)
            }
            7..=8 => {
                let (key, expected) = self.kv_target();
                Op::KvCas { key, value: format!("w{w}-{n}-value"), expected }
            }
            9..=11 => Op::Publish { key: format!("w{w}-{n}-publish"), payload: json!({ "w": w, "n": n }) },
            _ => Op::Invoke { key: format!("w{w}-{n}-invoke") },
        }
    }

    fn created(&mut self, id: &str, key: &str, view: &Value, what: &str) {
        ensure!(
            view["id"] == id && view["revision"] == 1 && view["ctx"] == json!({ "n": 0 }),
            "{what}: create {key} answered {view}"
        );
        self.instances.push(id.to_string());
        self.ledger.creates.push((key.to_string(), id.to_string()));
    }

    fn applied(&mut self, e: &EventOp, result: &Value, what: &str) {
        let (Some(seq), Some(revision)) = (result["seq"].as_u64(), result["revision"].as_u64()) else {
            fail!("{what}: event {} answered {result}", e.key);
        };
        ensure!(result["ctx"].is_object(), "{what}: event {} answered {result}", e.key);
        self.ledger.events.push(AckedEvent {
            instance: e.instance.clone(),
            key: e.key.clone(),
            seq,
            revision,
            ctx: result["ctx"].clone(),
        });
    }

    /// Records an answer to `op`; returns whether it was a repeat's answer (the key had been
    /// applied before) for the kinds whose status says so.
    fn accept(&mut self, op: &Op, reply: &Reply) -> bool {
        let what = format!("writer {}", self.w);
        let (status, body) = (reply.status, &reply.body);
        let replayed = match op {
            Op::Create { id, key } => {
                ensure!(status == 201 || status == 200, "{what}: create {key}: {status} {body}");
                self.created(id, key, body, &what);
                status == 200
            }
            Op::Event(e) => {
                ensure!(status == 200, "{what}: event {}: {status} {body}", e.key);
                self.applied(e, body, &what);
                false
            }
            Op::Batch(ops) => {
                let results = body["results"].as_array().cloned().unwrap_or_default();
                ensure!(status == 200 && results.len() == ops.len(), "{what}: batch {ops:?}: {status} {body}");
                for (op, result) in ops.iter().zip(&results) {
                    match op {
                        BatchOp::Create { id, key } => self.created(id, key, result, &what),
                        BatchOp::Event(e) => self.applied(e, result, &what),
                    }
                }
                false
            }
            Op::KvCas { key, value, expected } => {
                let revision = expected.unwrap_or(0) + 1;
                ensure!(
                    status == 200 && body["revision"] == revision,
                    "{what}: put {value} into {key} at revision {expected:?}: {status} {body}"
                );
                self.kv.entry(key.clone()).or_default().push((revision, value.clone()));
                false
            }
            Op::Publish { key, payload } => {
                let seq = body["seq"].as_u64();
                ensure!((status == 201 || status == 200) && seq.is_some(), "{what}: publish {key}: {status} {body}");
                self.ledger.publishes.push((key.clone(), seq.unwrap_or_default(), payload.clone()));
                status == 200
            }
            Op::Invoke { key } => {
                let id = body["id"].as_str().unwrap_or_default().to_string();
                ensure!(
                    (status == 202 || status == 200) && !id.is_empty() && body["idempotency_key"] == key.as_str(),
                    "{what}: invoke {key}: {status} {body}"
                );
                self.ledger.invocations.push((key.clone(), id));
                status == 200
            }
            Op::Pull | Op::Ack(_) => unreachable!("the consumer pulls and acks"),
        };
        self.acks[op.kind() as usize] += 1;
        replayed
    }
}

/// Where the round stands, shared by its writers and the test.
struct Round {
    /// Set just before the SIGKILL: writers start nothing new.
    killing: AtomicBool,
    /// Acknowledged requests in this round.
    acks: AtomicU64,
    /// Invocations acknowledged in this round.
    invoked: Mutex<Vec<String>>,
}

impl Round {
    fn new() -> Arc<Round> {
        Arc::new(Round { killing: AtomicBool::new(false), acks: AtomicU64::new(0), invoked: Mutex::new(Vec::new()) })
    }

    fn acked(&self, w: &Writer, op: &Op) {
        if let Op::Invoke { .. } = op {
            let (_, id) = w.ledger.invocations.last().expect("an acknowledged invocation");
            self.invoked.lock().expect("not poisoned").push(id.clone());
        }
        self.acks.fetch_add(1, Ordering::SeqCst);
    }
}

async fn write_until_killed(mut w: Writer, api: Api, round: Arc<Round>) -> Writer {
    while !round.killing.load(Ordering::SeqCst) {
        let op = w.next_op();
        w.in_flight = Some(op.clone());
        let request = op.request();
        match api.call(&request).await {
            Ok(reply) if reply.status >= 500 => {
                // Only after a connection cut: the outcome is unknown; settle it now, on the
                // same node, which must have recovered.
                api.unavailable(&request.path, &reply);
                w.unavailable[op.kind() as usize] += 1;
                match settle(&api, &mut w, &op).await {
                    Ok(_) => {
                        w.in_flight = None;
                        round.acked(&w, &op);
                    }
                    Err(lost) => {
                        w.lost = Some(lost);
                        break;
                    }
                }
            }
            Ok(reply) => {
                let replayed = w.accept(&op, &reply);
                ensure!(!replayed, "writer {}: {op:?}, never sent before, was answered as a repeat", w.w);
                w.in_flight = None;
                round.acked(&w, &op);
            }
            Err(lost) => {
                ensure!(
                    round.killing.load(Ordering::SeqCst),
                    "writer {}: {op:?} got no answer from a live server ({lost:?})",
                    w.w
                );
                w.lost = Some(lost);
                break;
            }
        }
    }
    w
}

/// The idempotency keys in an instance's history, with their seqs; `None` when it does not exist.
async fn logged_keys(api: &Api, id: &str) -> Result<Option<HashMap<String, u64>>, Lost> {
    Ok(history(api, id).await?.map(|records| {
        records.iter().filter_map(|r| Some((r["idempotency_key"].as_str()?.to_string(), r["seq"].as_u64()?))).collect()
    }))
}

/// An instance's whole history; `None` when it does not exist.
async fn history(api: &Api, id: &str) -> Result<Option<Vec<Value>>, Lost> {
    let mut out = Vec::new();
    let mut after = 0u64;
    loop {
        let reply = api.get(format!("{}/{id}/history?after={after}&limit=1000", instances_path())).await?;
        match reply.status {
            404 => return Ok(None),
            200 => {}
            s => fail!("history of {id}: {s} {}", reply.body),
        }
        out.extend(reply.body["events"].as_array().cloned().unwrap_or_default());
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => after = cursor.parse().expect("a cursor is a seq"),
            None => return Ok(Some(out)),
        }
    }
}

/// The writer's KV key as stored: `(revision, value)`, `None` when not set.
async fn kv_current(api: &Api, key: &str) -> Result<Option<(u64, String)>, Lost> {
    let reply = api.get(format!("/v1/spaces/{SPACE}/kv/{BUCKET}/history/{key}?limit=1")).await?;
    match reply.status {
        404 => Ok(None),
        200 => {
            let newest = &reply.body["history"][0];
            ensure!(newest["operation"] == "put", "{key}: newest revision is {newest}");
            Ok(Some((
                newest["revision"].as_u64().unwrap_or_default(),
                newest["value"].as_str().unwrap_or_default().into(),
            )))
        }
        s => fail!("{key}: {s} {}", reply.body),
    }
}

/// Settles a write whose outcome is unknown (the kill, or a 5xx after a connection cut, took
/// its answer): checks what the store holds of it, then retries it under its idempotency key.
/// Returns whether it had been applied.
async fn settle(api: &Api, w: &mut Writer, op: &Op) -> Result<bool, Lost> {
    let what = format!("writer {} settling {op:?}", w.w);
    match op {
        Op::Create { .. } | Op::Publish { .. } | Op::Invoke { .. } => {
            // The answer to the retry says whether the key had been applied (200) or not.
            let reply = api.answered(&op.request()).await?;
            Ok(w.accept(op, &reply))
        }
        Op::Event(e) => {
            let before = logged_keys(api, &e.instance).await?.and_then(|keys| keys.get(&e.key).copied());
            let reply = api.answered(&op.request()).await?;
            w.accept(op, &reply);
            if let Some(seq) = before {
                ensure!(
                    reply.body["seq"] == seq,
                    "{what}: the retry answered {}, the log has it at seq {seq}",
                    reply.body
                );
            }
            Ok(before.is_some())
        }
        Op::Batch(ops) => {
            // All or nothing, checked before the retry could complete it.
            let mut logs: HashMap<String, Option<HashMap<String, u64>>> = HashMap::new();
            let mut found = Vec::new();
            for op in ops {
                let (instance, key) = match op {
                    BatchOp::Create { id, key } => (id, key),
                    BatchOp::Event(e) => (&e.instance, &e.key),
                };
                if !logs.contains_key(instance) {
                    let keys = logged_keys(api, instance).await?;
                    logs.insert(instance.clone(), keys);
                }
                found.push(logs[instance].as_ref().and_then(|keys| keys.get(key).copied()));
            }
            let applied = found.iter().filter(|seq| seq.is_some()).count();
            ensure!(
                applied == 0 || applied == ops.len(),
                "{what}: a batch is all or nothing, but {applied} of its {} operations are in the log ({found:?})",
                ops.len()
            );
            let reply = api.answered(&op.request()).await?;
            w.accept(op, &reply);
            if applied > 0 {
                let seqs: Vec<Option<u64>> =
                    reply.body["results"].as_array().into_iter().flatten().map(|r| r["seq"].as_u64()).collect();
                for (i, (logged, answered)) in found.iter().zip(&seqs).enumerate() {
                    if matches!(ops[i], BatchOp::Event(_)) {
                        ensure!(
                            logged == answered,
                            "{what}: operation {i} is logged at {logged:?}, the retry answered {answered:?}"
                        );
                    }
                }
            }
            Ok(applied > 0)
        }
        Op::KvCas { key, value, expected } => {
            // Whole or not at all: the key holds either this put at the next revision, or what
            // it held before.
            let current = kv_current(api, key).await?;
            let next = expected.unwrap_or(0) + 1;
            if current.as_ref() == Some(&(next, value.clone())) {
                w.kv.entry(key.clone()).or_default().push((next, value.clone()));
                w.acks[Kind::KvCas as usize] += 1;
                return Ok(true);
            }
            ensure!(
                current.as_ref().map(|c| c.0) == *expected && current.as_ref() == w.kv_last(key),
                "{what}: the key holds {current:?}: neither this put nor the revision before it ({:?})",
                w.kv_last(key)
            );
            let reply = api.answered(&op.request()).await?;
            if reply.status == 409 {
                // Only if the put committed after the read (its database session died in the
                // middle of its commit): then it must be there, whole.
                let now = kv_current(api, key).await?;
                ensure!(
                    now == Some((next, value.clone())),
                    "{what}: the retry found {}, the key holds {now:?}",
                    reply.body
                );
                w.kv.entry(key.clone()).or_default().push((next, value.clone()));
                w.acks[Kind::KvCas as usize] += 1;
                return Ok(true);
            }
            w.accept(op, &reply);
            Ok(false)
        }
        Op::Pull | Op::Ack(_) => unreachable!("the consumer settles its own requests"),
    }
}

// ---------------------------------------------------------------------------------------------
// The subscription consumer

/// Pulls the topic's records from a durable subscription and acks them.
#[derive(Default)]
struct Consumer {
    /// Every seq acknowledged as acked.
    acked: BTreeSet<u64>,
    /// Records delivered again (a pull the kill cut short had leased them).
    redelivered: u64,
    acks: PerKind,
    unavailable: PerKind,
    in_flight: Option<Op>,
    lost: Option<Lost>,
}

impl Consumer {
    /// The seqs a pull delivered; none may have been acked before.
    fn delivered(&mut self, reply: &Reply) -> Vec<u64> {
        ensure!(reply.status == 200, "pull: {} {}", reply.status, reply.body);
        let mut seqs = Vec::new();
        for record in reply.body["records"].as_array().into_iter().flatten() {
            let seq = record["seq"].as_u64().unwrap_or_default();
            ensure!(
                record["address"] == format!("{SPACE}:{TOPIC}") && record["kind"] == "topic.message",
                "pull delivered a record the subscription does not follow: {record}"
            );
            ensure!(!self.acked.contains(&seq), "record {seq} was acked, and is delivered again: {record}");
            if record["deliveries"].as_u64() != Some(1) {
                self.redelivered += 1;
            }
            seqs.push(seq);
        }
        self.acks[Kind::Pull as usize] += 1;
        seqs
    }

    /// Records the answer to an ack; returns whether it had been applied before (all its seqs
    /// not pending). An ack is all or nothing.
    fn acked(&mut self, seqs: &[u64], reply: &Reply) -> bool {
        let list = |field: &str| -> Vec<u64> {
            let mut v: Vec<u64> =
                reply.body[field].as_array().into_iter().flatten().filter_map(Value::as_u64).collect();
            v.sort_unstable();
            v
        };
        let mut sorted = seqs.to_vec();
        sorted.sort_unstable();
        let (done, not_pending) = (list("acked_seqs"), list("not_pending"));
        ensure!(
            reply.status == 200
                && ((done == sorted && not_pending.is_empty()) || (done.is_empty() && not_pending == sorted)),
            "ack {seqs:?}: an ack is all or nothing: {} {}",
            reply.status,
            reply.body
        );
        self.acked.extend(seqs);
        self.acks[Kind::Ack as usize] += 1;
        done.is_empty()
    }

    /// Pulls once and acks what came; `Err` when the server died meanwhile.
    async fn pull_and_ack(&mut self, api: &Api) -> Result<(), Lost> {
        self.in_flight = Some(Op::Pull);
        let request = Op::Pull.request();
        let reply = api.call(&request).await?;
        self.in_flight = None;
        if reply.status >= 500 {
            // What it leased is delivered again once the lease ends.
            api.unavailable(&request.path, &reply);
            self.unavailable[Kind::Pull as usize] += 1;
            return Ok(());
        }
        let seqs = self.delivered(&reply);
        if seqs.is_empty() {
            return Ok(());
        }
        let op = Op::Ack(seqs.clone());
        self.in_flight = Some(op.clone());
        let request = op.request();
        let reply = api.call(&request).await?;
        if reply.status >= 500 {
            api.unavailable(&request.path, &reply);
            self.unavailable[Kind::Ack as usize] += 1;
            self.settle(api, &seqs).await?;
        } else {
            let replayed = self.acked(&seqs, &reply);
            ensure!(!replayed, "ack {seqs:?} of records just delivered found them acked already");
        }
        self.in_flight = None;
        Ok(())
    }

    /// Retries an ack whose answer was lost; returns whether it had been applied.
    async fn settle(&mut self, api: &Api, seqs: &[u64]) -> Result<bool, Lost> {
        let reply = api.answered(&Op::Ack(seqs.to_vec()).request()).await?;
        Ok(self.acked(seqs, &reply))
    }
}

async fn consume_until_killed(mut c: Consumer, api: Api, round: Arc<Round>) -> Consumer {
    while !round.killing.load(Ordering::SeqCst) {
        match c.pull_and_ack(&api).await {
            Ok(()) => {
                round.acks.fetch_add(1, Ordering::SeqCst);
            }
            Err(lost) => {
                ensure!(round.killing.load(Ordering::SeqCst), "consumer: no answer from a live server ({lost:?})");
                c.lost = Some(lost);
                break;
            }
        }
    }
    c
}

// ---------------------------------------------------------------------------------------------
// The run

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// What a run saw, for the report it prints.
#[derive(Default)]
struct Tally {
    /// Per round, by kind: requests sent before the kill whose connection it broke.
    caught: Vec<PerKind>,
    /// Per round, by kind: requests refused because the server was dead already.
    refused: Vec<PerKind>,
    /// Per round, by kind: caught requests found applied when settled after the restart.
    applied: Vec<PerKind>,
    /// Per round: sessions ended by the connection cut, if the round had one.
    cut: Vec<Option<u64>>,
}

async fn start(dir: &Path, args: &[&str]) -> TestServer {
    let (dir, args) = (dir.to_path_buf(), args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        TestServer::start_in(&dir, &args)
    })
    .await
    .expect("start the server")
}

async fn setup(api: &Api, writers: &mut [Writer], component: &[u8]) {
    let definition: Value = serde_json::from_str(COUNTER_MACHINE).expect("the fixture is JSON");
    api.expect(Method::PUT, format!("/v1/spaces/{SPACE}/machines/counter"), definition, 200).await;
    api.expect(Method::PUT, format!("/v1/spaces/{SPACE}/kv/{BUCKET}"), json!({ "history": KV_HISTORY }), 201).await;
    let subscription = json!({ "address": format!("{SPACE}:{TOPIC}"), "kind": "topic.message", "from": "earliest",
        "max_deliveries": 1000, "ack_wait": PULL_LEASE });
    api.expect(Method::PUT, format!("/v1/spaces/{SPACE}/subscriptions/{SUBSCRIPTION}"), subscription, 201).await;
    let deploy = json!({
        "component_base64": base64::engine::general_purpose::STANDARD.encode(component),
        "timeout_ms": FUNCTION_TIMEOUT_MS,
    });
    api.expect(Method::PUT, format!("/v1/spaces/{SPACE}/functions/{FUNCTION}"), deploy, 201).await;
    for w in writers {
        for i in 0..INSTANCES_PER_WRITER {
            let op = Op::Create { id: format!("w{}-i{i}", w.w), key: format!("w{}-setup-{i}", w.w) };
            let reply = api.answered(&op.request()).await.expect("a live server answers");
            ensure!(!w.accept(&op, &reply), "setup create {op:?} answered as a repeat");
        }
    }
}

/// Waits until every invocation in `ids` has finished (its record is no longer pending).
async fn wait_finished(api: &Api, ids: &[String]) {
    for id in ids {
        let path = format!("/v1/spaces/{SPACE}/invocations/{id}");
        wait_until(&format!("invocation {id} to finish (seed {})", seed()), PATIENCE, || {
            let path = path.clone();
            async move { (api.read(path).await["status"] != "pending").then_some(()) }
        })
        .await;
    }
}

async fn wait_acks(round: &Round, at_least: u64, what: &str) {
    let what = format!("{at_least} acknowledgements in the round ({what}; seed {})", seed());
    wait_until(&what, PATIENCE, || async move { (round.acks.load(Ordering::SeqCst) >= at_least).then_some(()) }).await;
}

async fn run(backend: Backend) {
    let seed = seed();
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let component = tokio::task::spawn_blocking(|| example_function_bytes(FUNCTION)).await.expect("example function");
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let db = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(tokio::task::spawn_blocking(TestDatabase::create).await.expect("database")),
    };
    let mut args: Vec<&str> = SERVE_ARGS.to_vec();
    if let Some(db) = &db {
        args.extend(["--store", db.url()]);
    }
    let cut_round = (backend == Backend::Postgres).then(|| rng.random_range(0..ROUNDS));
    let mut writers: Vec<Writer> = (0..WRITERS).map(|w| Writer::new(seed, w)).collect();
    let mut consumer = Consumer::default();
    let mut tally = Tally::default();
    // Invocations acknowledged before the current round, not yet seen finished.
    let mut unfinished: Vec<String> = Vec::new();

    for r in 0..=ROUNDS {
        let mut server = start(&data_dir, &args).await;
        let api = Api::new(&server);
        if r == 0 {
            setup(&api, &mut writers, &component).await;
        } else {
            // Settle what the kill caught, before anything else writes.
            let mut applied = [0; KINDS];
            for w in &mut writers {
                if let Some(op) = w.in_flight.take() {
                    let was_applied = settle(&api, w, &op).await.expect("the restarted server answers");
                    applied[op.kind() as usize] += u64::from(was_applied);
                    if let Op::Invoke { .. } = op {
                        unfinished.push(w.ledger.invocations.last().expect("settled").1.clone());
                    }
                }
            }
            if let Some(Op::Ack(seqs)) = consumer.in_flight.take() {
                let was_applied = consumer.settle(&api, &seqs).await.expect("the restarted server answers");
                applied[Kind::Ack as usize] += u64::from(was_applied);
            }
            tally.applied.push(applied);
        }
        if r == ROUNDS {
            verify(&api, &server, &writers, &mut consumer, seed).await;
            print_report(seed, backend, &writers, &consumer, &tally, started);
            drop(server);
            if let Some(db) = db {
                tokio::task::spawn_blocking(move || drop(db)).await.expect("drop the database");
            }
            return;
        }

        let round = Round::new();
        let writer_tasks: Vec<_> = std::mem::take(&mut writers)
            .into_iter()
            .map(|w| tokio::spawn(write_until_killed(w, api.clone(), round.clone())))
            .collect();
        let consumer_task =
            tokio::spawn(consume_until_killed(std::mem::take(&mut consumer), api.clone(), round.clone()));

        let target = rng.random_range(ACKS_BEFORE_KILL);
        let mut cut = None;
        if cut_round == Some(r) {
            wait_acks(&round, target / 2, "before the connection cut").await;
            api.cut.store(true, Ordering::SeqCst);
            let db = db.as_ref().expect("a PostgreSQL run");
            let ended = tokio::task::block_in_place(|| db.terminate_connections());
            ensure!(ended > 0, "round {r}: the node had no database session to cut");
            let at_cut = round.acks.load(Ordering::SeqCst);
            // Recovery without a restart: the same node acknowledges more writes.
            wait_acks(&round, at_cut + ACKS_AFTER_CUT, "after the connection cut").await;
            cut = Some(ended);
            // An invocation whose finish the cut failed runs again once its job's lease ends:
            // it must be done before the kill.
            let invoked = round.invoked.lock().expect("not poisoned").clone();
            wait_finished(&api, &invoked).await;
        }
        wait_acks(&round, target, "before the kill").await;
        // Earlier rounds' invocations finish before the kill (the writers keep writing
        // meanwhile), so that each round's kill leaves only its own invocations to run again.
        wait_finished(&api, &unfinished).await;
        unfinished.clear();
        round.killing.store(true, Ordering::SeqCst);
        server.kill();

        let mut caught = [0; KINDS];
        let mut refused = [0; KINDS];
        let mut count = |in_flight: &Option<Op>, lost: Option<Lost>| {
            if let (Some(op), Some(lost)) = (in_flight, lost) {
                let counts = if lost == Lost::Cut { &mut caught } else { &mut refused };
                counts[op.kind() as usize] += 1;
            }
        };
        for task in writer_tasks {
            let mut w = task.await.expect("a writer panicked");
            count(&w.in_flight, w.lost.take());
            writers.push(w);
        }
        unfinished.extend(round.invoked.lock().expect("not poisoned").drain(..));
        consumer = consumer_task.await.expect("the consumer panicked");
        count(&consumer.in_flight, consumer.lost.take());
        if matches!(consumer.in_flight, Some(Op::Pull)) {
            consumer.in_flight = None; // nothing to settle: its leases end by themselves
        }
        let acks = round.acks.load(Ordering::SeqCst);
        println!(
            "{} round {r}: killed after {acks} acknowledgements (target {target}){}; caught in flight: {}; \
             refused after the kill: {}",
            backend.name(),
            cut.map(|n| format!(", {n} database sessions cut mid-round")).unwrap_or_default(),
            show(&caught),
            show(&refused),
        );
        let writes_caught: u64 = caught.iter().zip(KIND_NAMES).filter(|(_, k)| *k != "pull").map(|(n, _)| n).sum();
        ensure!(writes_caught > 0, "round {r}: the kill caught no write in flight ({})", show(&caught));
        tally.caught.push(caught);
        tally.refused.push(refused);
        tally.cut.push(cut);
    }
}

// ---------------------------------------------------------------------------------------------
// Verification

/// Checks, after the last restart, every kind's invariants:
/// - instances: [`verify_exactly_once`] (state and ctx equal the replay of the history through
///   the model, no idempotency key applied twice), every acknowledged create and event is
///   logged at the seq, revision and ctx it was acknowledged with, and nothing else is logged;
/// - KV: each key's revisions are dense from 1 and its history is exactly the acknowledged
///   `(revision, value)` puts;
/// - topic: the log holds each acknowledged publish once, at its seq, and nothing else;
/// - subscription: no acked record was ever delivered again, and every published record was
///   acked or is still delivered (none lost);
/// - invocations: each acknowledged one exists and succeeded with its output; no key started two.
async fn verify(api: &Api, server: &TestServer, writers: &[Writer], consumer: &mut Consumer, seed: u64) {
    // Instances.
    let ids: BTreeSet<&String> = writers.iter().flat_map(|w| &w.instances).collect();
    let mut records = Vec::new();
    for id in &ids {
        let history = history(api, id).await.expect("a live server").unwrap_or_else(|| fail!("{id} is missing"));
        let instance = api.read(format!("{}/{id}", instances_path())).await;
        records.push(InstanceRecords { id: id.to_string(), history, instance });
    }
    let replayed = verify_exactly_once(COUNTER_MACHINE, &records).unwrap_or_else(|e| fail!("{e}"));
    ensure!(replayed.unkeyed == 0, "{} records carry no idempotency key", replayed.unkeyed);
    let mut acknowledged = 0;
    for w in writers {
        for (key, id) in &w.ledger.creates {
            let logged = replayed.keyed.get(key);
            ensure!(
                logged.is_some_and(|l| &l.instance == id && l.kind == "instance.created"),
                "acknowledged create {key} of {id} is logged as {logged:?}"
            );
        }
        for e in &w.ledger.events {
            let expected = LoggedWrite {
                instance: e.instance.clone(),
                kind: "instance.transitioned".into(),
                seq: e.seq,
                revision: e.revision,
                ctx: e.ctx.clone(),
            };
            let logged = replayed.keyed.get(&e.key);
            ensure!(logged == Some(&expected), "acknowledged event {e:?} is logged as {logged:?}");
        }
        acknowledged += w.ledger.creates.len() + w.ledger.events.len();
    }
    ensure!(
        replayed.keyed.len() == acknowledged,
        "the log holds {} keyed instance writes, {acknowledged} were acknowledged",
        replayed.keyed.len()
    );
    let mut listed = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let page = api.read(format!("{}?limit=1000{cursor}", instances_path())).await;
        listed.extend(
            page["instances"].as_array().into_iter().flatten().filter_map(|i| i["id"].as_str()).map(String::from),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let ids: BTreeSet<String> = ids.into_iter().cloned().collect();
    ensure!(listed == ids, "listed instances differ from the acknowledged ones: {}", differences(&listed, &ids));

    // KV: the bucket holds exactly the keys put; each key's revisions are dense from 1 and its
    // history is exactly its acknowledged puts.
    let acked_kv: BTreeMap<&String, &Vec<(u64, String)>> = writers.iter().flat_map(|w| &w.kv).collect();
    let mut keys = BTreeSet::new();
    let mut after = String::new();
    loop {
        let page = api.read(format!("/v1/spaces/{SPACE}/kv/{BUCKET}/keys?limit=1000{after}")).await;
        keys.extend(page["keys"].as_array().into_iter().flatten().filter_map(|k| k["key"].as_str()).map(String::from));
        match page["next_cursor"].as_str() {
            Some(c) => after = format!("&after={c}"),
            None => break,
        }
    }
    let put: BTreeSet<String> = acked_kv.keys().map(|k| k.to_string()).collect();
    ensure!(keys == put, "the bucket's keys differ from the keys put: {}", differences(&keys, &put));
    for (key, puts) in acked_kv {
        let reply = api.read(format!("/v1/spaces/{SPACE}/kv/{BUCKET}/history/{key}")).await;
        let mut stored: Vec<(u64, String)> = Vec::new();
        for entry in reply["history"].as_array().into_iter().flatten().rev() {
            ensure!(entry["operation"] == "put", "{key}: {entry}");
            stored.push((
                entry["revision"].as_u64().unwrap_or_default(),
                entry["value"].as_str().unwrap_or_default().into(),
            ));
        }
        ensure!(
            puts.iter().map(|(revision, _)| *revision).eq(1..=puts.len() as u64),
            "{key}: acknowledged revisions are not dense: {puts:?}"
        );
        ensure!(&stored == puts, "{key}: the history {stored:?} is not the acknowledged puts {puts:?}");
    }

    // Topic: a sentinel ends the replay; the log then holds exactly the acknowledged publishes.
    let sentinel = api
        .expect(
            Method::POST,
            format!("/v1/spaces/{SPACE}/topics/{TOPIC}/messages"),
            json!({ "payload": "end", "idempotency_key": "sentinel" }),
            201,
        )
        .await["seq"]
        .as_u64()
        .expect("seq");
    let mut expected: BTreeMap<String, (u64, Value)> =
        writers.iter().flat_map(|w| &w.ledger.publishes).map(|(k, s, p)| (k.clone(), (*s, p.clone()))).collect();
    ensure!(
        expected.len() == writers.iter().map(|w| w.ledger.publishes.len()).sum::<usize>(),
        "a publish key was acknowledged twice"
    );
    expected.insert("sentinel".into(), (sentinel, json!("end")));
    let url = format!("{}/v1/spaces/{SPACE}/watch?from=1&address={SPACE}:{TOPIC}&kind=topic.message", server.url);
    let mut watch = SseReader::open(&url, &server.admin_token, None).await;
    let mut logged: BTreeMap<String, (u64, Value)> = BTreeMap::new();
    loop {
        let event =
            watch.next(PATIENCE).await.unwrap_or_else(|| fail!("the watch replay stopped before seq {sentinel}"));
        let record = event.data;
        let seq = record["seq"].as_u64().unwrap_or_default();
        let key = record["idempotency_key"].as_str().unwrap_or_else(|| fail!("a message without a key: {record}"));
        let entry = (seq, record["payload"]["payload"].clone());
        if let Some(first) = logged.insert(key.to_string(), entry) {
            fail!("publish {key} is in the log twice: seq {} and {seq}", first.0);
        }
        if seq >= sentinel {
            break;
        }
    }
    ensure!(
        logged == expected,
        "the topic's log differs from the acknowledged publishes: {}",
        differences(&logged, &expected)
    );

    // Subscription: drain; every published record was acked or is still delivered.
    let published: BTreeSet<u64> = logged.values().map(|(seq, _)| *seq).collect();
    within(&format!("the subscription to deliver every record (seed {seed})"), PATIENCE, async {
        while !published.is_subset(&consumer.acked) {
            consumer.pull_and_ack(api).await.expect("a live server");
        }
    })
    .await;
    ensure!(consumer.acked == published, "acked differ from published: {}", differences(&consumer.acked, &published));
    let subscription = api.read(format!("/v1/spaces/{SPACE}/subscriptions/{SUBSCRIPTION}")).await;
    ensure!(
        subscription["pending"] == 0 && subscription["dead_letters"] == 0 && subscription["lag"] == 0,
        "after the drain: {subscription}"
    );

    // Invocations.
    let acked: BTreeMap<&String, &String> =
        writers.iter().flat_map(|w| &w.ledger.invocations).map(|(key, id)| (id, key)).collect();
    wait_finished(api, &acked.keys().map(|id| id.to_string()).collect::<Vec<_>>()).await;
    for (id, key) in &acked {
        let record = api.read(format!("/v1/spaces/{SPACE}/invocations/{id}")).await;
        ensure!(
            record["status"] == "succeeded"
                && record["idempotency_key"] == key.as_str()
                && record["output"] == json!({ "greeting": format!("Hello, {key}!") }),
            "invocation {id} ({key}): {record}"
        );
    }
    let mut listed: BTreeMap<String, String> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page =
            api.read(format!("/v1/spaces/{SPACE}/functions/{FUNCTION}/invocations?after={after}&limit=1000")).await;
        let invocations = page["invocations"].as_array().cloned().unwrap_or_default();
        for record in &invocations {
            let (id, key) =
                (record["id"].as_str().unwrap_or_default(), record["idempotency_key"].as_str().unwrap_or_default());
            if let Some(other) = listed.insert(key.to_string(), id.to_string()) {
                fail!("idempotency key {key} started two invocations: {other} and {id}");
            }
        }
        if invocations.is_empty() {
            break;
        }
        after = page["next_after"].as_u64().expect("next_after");
    }
    let acked_by_key: BTreeMap<String, String> =
        acked.iter().map(|(id, key)| (key.to_string(), id.to_string())).collect();
    ensure!(
        listed == acked_by_key,
        "invocations differ from the acknowledged: {}",
        differences(&listed, &acked_by_key)
    );
}

/// Collections a test compares whole, seen as maps (a set's values are `()`).
trait Entries<K, V> {
    fn entries(&self) -> BTreeMap<&K, &V>;
}

impl<K: Ord, V> Entries<K, V> for BTreeMap<K, V> {
    fn entries(&self) -> BTreeMap<&K, &V> {
        self.iter().collect()
    }
}

impl<K: Ord> Entries<K, ()> for BTreeSet<K> {
    fn entries(&self) -> BTreeMap<&K, &()> {
        self.iter().map(|k| (k, &())).collect()
    }
}

/// Where `found` and `expected` differ, at most ten entries, for a failure message.
fn differences<K: Ord + Debug, V: PartialEq + Debug>(
    found: &impl Entries<K, V>,
    expected: &impl Entries<K, V>,
) -> String {
    let (found, expected) = (found.entries(), expected.entries());
    let mut out = Vec::new();
    for (k, v) in &expected {
        match found.get(k) {
            None => out.push(format!("{k:?} missing (expected {v:?})")),
            Some(f) if f != v => out.push(format!("{k:?} is {f:?}, expected {v:?}")),
            Some(_) => {}
        }
    }
    out.extend(
        found.iter().filter(|(k, _)| !expected.contains_key(*k)).map(|(k, v)| format!("{k:?} ({v:?}) unexpected")),
    );
    let all = out.len();
    out.truncate(10);
    format!("{} ({all} in all)", out.join("; "))
}

fn print_report(seed: u64, backend: Backend, writers: &[Writer], consumer: &Consumer, tally: &Tally, started: Instant) {
    let mut acks = consumer.acks;
    let mut unavailable = consumer.unavailable;
    for w in writers {
        for k in 0..KINDS {
            acks[k] += w.acks[k];
            unavailable[k] += w.unavailable[k];
        }
    }
    println!("{}, seed {seed}: acknowledged {}", backend.name(), show(&acks));
    for (r, caught) in tally.caught.iter().enumerate() {
        println!(
            "  round {r}: caught in flight {}; of them applied before the kill {}; refused after the kill {}{}",
            show(caught),
            show(&tally.applied[r]),
            show(&tally.refused[r]),
            tally.cut[r].map(|n| format!("; {n} database sessions cut")).unwrap_or_default()
        );
    }
    if unavailable.iter().any(|n| *n > 0) {
        println!("  5xx after the connection cut (outcome unknown, settled): {}", show(&unavailable));
    }
    println!(
        "  {} records delivered again after a cut-short pull; {} records acked; {:.1} s",
        consumer.redelivered,
        consumer.acked.len(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_sigkill_exactly_once_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_sigkill_and_cut_connections_exactly_once_on_postgres() {
    run(Backend::Postgres).await;
}

// ---------------------------------------------------------------------------------------------
// gRPC streams under SIGKILL

/// Instances the streaming crash test writes to, spread over [`STREAMS`] streams.
const STREAM_INSTANCES: usize = 40;
/// Concurrent `ApplyEvents` streams, each its own connection and its own instances.
const STREAMS: usize = 4;
/// Events each stream keeps in flight.
const STREAM_IN_FLIGHT: usize = 100;

/// Counts `tick`s, refusing one out of order (event `i` applies only at count `i`).
const STREAM_MACHINE: &str = r#"{
  "name": "ticker",
  "initial": "open",
  "states": ["open"],
  "transitions": [
    {"from": "open", "event": "tick", "to": "open", "guard": "event.i == ctx.count", "assign": {"count": "ctx.count + 1"}}
  ]
}"#;

/// What the test knows of one instance: events sent (indexes `0..sent`) and those answered,
/// with the seq each was answered with.
#[derive(Debug, Default)]
struct Ticks {
    id: String,
    sent: u64,
    acked: BTreeMap<u64, u64>,
}

fn tick_key(id: &str, i: u64) -> String {
    format!("tick-{id}-{i}")
}

fn tick(id: &str, i: u64) -> switchyard_client::grpc::v1::ApplyEventRequest {
    switchyard_client::grpc::v1::ApplyEventRequest {
        space: "crash-stream".into(),
        machine: "ticker".into(),
        instance: id.into(),
        event: "tick".into(),
        payload_json: json!({ "i": i }).to_string(),
        idempotency_key: tick_key(id, i),
        ..Default::default()
    }
}

/// Streams ticks to `mine` (instances only this stream writes), [`STREAM_IN_FLIGHT`] in flight,
/// until the server dies under it.
async fn stream_until_killed(
    grpc: switchyard_client::grpc::GrpcClient,
    mine: Vec<usize>,
    ticks: Arc<Mutex<Vec<Ticks>>>,
    acks: Arc<AtomicU64>,
) {
    use switchyard_client::grpc::v1;
    let permits = Arc::new(tokio::sync::Semaphore::new(STREAM_IN_FLIGHT));
    let (tx, rx) = tokio::sync::mpsc::channel::<v1::ApplyEventsRequest>(STREAM_IN_FLIGHT);
    let sender = {
        let (permits, ticks) = (permits.clone(), ticks.clone());
        tokio::spawn(async move {
            for turn in 0.. {
                let Ok(permit) = permits.acquire().await else { return };
                permit.forget();
                let m = mine[turn % mine.len()];
                let request = {
                    let mut ticks = ticks.lock().expect("ticks");
                    let t = &mut ticks[m];
                    t.sent += 1;
                    // The correlation id names the instance and the index.
                    let i = t.sent - 1;
                    v1::ApplyEventsRequest { correlation_id: ((m as u64) << 32) | i, event: Some(tick(&t.id, i)) }
                };
                if tx.send(request).await.is_err() {
                    return;
                }
            }
        })
    };
    let events = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
    if let Ok(mut answers) = grpc.apply_events(events).await {
        while let Ok(Some(answer)) = answers.message().await {
            let (m, i) = ((answer.correlation_id >> 32) as usize, answer.correlation_id & 0xffff_ffff);
            match answer.result {
                Some(v1::apply_events_response::Result::Applied(applied)) => {
                    let seq = applied.transition.expect("a transition").seq;
                    ensure!(
                        ticks.lock().expect("ticks")[m].acked.insert(i, seq).is_none(),
                        "tick {m}/{i} answered twice"
                    );
                    acks.fetch_add(1, Ordering::Relaxed);
                }
                other => fail!("tick {m}/{i} refused: {other:?}"),
            }
            permits.add_permits(1);
        }
    }
    sender.abort();
}

/// SIGKILL under streaming load: every event an `ApplyEvents` stream answered survives with
/// the seq it was answered with; every event sent and not answered was applied once or not at
/// all (retried in order under its idempotency key, it replays or applies).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_a_grpc_stream_answered_survives_sigkill() {
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37_79b9);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path(), &[]).await;
    let client = server.client();
    client
        .put_machine("crash-stream", "ticker", STREAM_MACHINE.as_bytes().to_vec(), "application/json")
        .await
        .expect("put the machine");
    let ticks: Vec<Ticks> =
        (0..STREAM_INSTANCES).map(|n| Ticks { id: format!("t{n}"), ..Default::default() }).collect();
    for t in &ticks {
        let create = switchyard_client::CreateInstance {
            id: Some(t.id.clone()),
            ctx: Some(serde_json::Map::from_iter([("count".to_owned(), json!(0))])),
            ..Default::default()
        };
        client.create_instance("crash-stream", "ticker", &create).await.expect("create");
    }
    let ticks = Arc::new(Mutex::new(ticks));
    let mut caught_total = 0;
    for round in 0..3 {
        let acks = Arc::new(AtomicU64::new(0));
        let mut streams = tokio::task::JoinSet::new();
        for s in 0..STREAMS {
            let mine: Vec<usize> = (s..STREAM_INSTANCES).step_by(STREAMS).collect();
            streams.spawn(stream_until_killed(server.grpc(), mine, ticks.clone(), acks.clone()));
        }
        let kill_at = rng.random_range(500..=2000u64);
        wait_until(&format!("{kill_at} acknowledgements in round {round}"), PATIENCE, || async {
            (acks.load(Ordering::Relaxed) >= kill_at).then_some(())
        })
        .await;
        server.kill();
        while streams.join_next().await.is_some() {}
        server = start(dir.path(), &[]).await;
        // Settle: retry what was sent and not answered, in order per instance.
        let grpc = server.grpc();
        let pending: Vec<(usize, String, u64)> = {
            let ticks = ticks.lock().expect("ticks");
            ticks
                .iter()
                .enumerate()
                .flat_map(|(m, t)| (0..t.sent).filter(|i| !t.acked.contains_key(i)).map(move |i| (m, t.id.clone(), i)))
                .collect()
        };
        ensure!(!pending.is_empty(), "round {round}: the kill caught no event in flight");
        caught_total += pending.len();
        let mut replayed = 0;
        for (m, id, i) in pending {
            let answer = grpc.apply_event(tick(&id, i)).await.unwrap_or_else(|e| fail!("retrying tick {id}/{i}: {e}"));
            replayed += usize::from(answer.replayed);
            ticks.lock().expect("ticks")[m].acked.insert(i, answer.transition.expect("a transition").seq);
        }
        println!(
            "round {round}: killed after {} answers; {replayed} caught events were applied, the rest applied on retry",
            acks.load(Ordering::Relaxed)
        );
    }
    // Every answered event is in its instance's history once, with its answered seq.
    let client = server.client();
    let ticks = ticks.lock().expect("ticks").drain(..).collect::<Vec<_>>();
    for t in &ticks {
        let mut logged: HashMap<String, u64> = HashMap::new();
        let mut after = None;
        loop {
            let page = client.history("crash-stream", "ticker", &t.id, after, Some(1000)).await.expect("history");
            for record in page.events {
                if let Some(key) = record.idempotency_key {
                    ensure!(logged.insert(key.clone(), record.seq).is_none(), "{key} applied twice");
                }
            }
            match page.next_cursor {
                Some(cursor) => after = Some(cursor.parse().expect("a seq cursor")),
                None => break,
            }
        }
        ensure!(logged.len() as u64 == t.sent, "{}: {} applied, {} sent", t.id, logged.len(), t.sent);
        for (i, seq) in &t.acked {
            ensure!(logged.get(&tick_key(&t.id, *i)) == Some(seq), "{}: tick {i} is not durable as answered", t.id);
        }
        let instance = client.get_instance("crash-stream", "ticker", &t.id).await.expect("instance");
        ensure!(
            instance.ctx["count"] == json!(t.sent),
            "{}: count {} after {} ticks",
            t.id,
            instance.ctx["count"],
            t.sent
        );
    }
    println!("{caught_total} events caught in flight over 3 kills; every answered one survived");
}
