//! Stores written by every earlier schema version, opened by today's binary: every record reads
//! back with the values the old binary answered, writes work afterwards (into the tables later
//! versions added too), and the schema is migrated to the current version.
//!
//! The fixtures (`crates/store/tests/fixtures/`) were written by the old binaries themselves,
//! driven over HTTP by [`make_fixture`] below, which also saved what each old binary answered to
//! a list of reads (`answers.json`): the test asks today's binary the same and expects every
//! field the old answer had, with the same value.
//!
//! | fixture       | made by commit | store schema | what it holds                                   |
//! |---------------|----------------|--------------|-------------------------------------------------|
//! | `sqlite-v1`   | 3209ee2        | SQLite 1     | machines (2 versions), instances (one deleted), events, idempotency keys, tokens (one revoked) |
//! | `sqlite-v2`   | ab07935        | SQLite 2     | the same, and messages published to topics      |
//! | `sqlite-v3`   | ab4d718        | SQLite 3     | the same, and KV buckets, keys and history, subscriptions (pending, leased, acked, dead letters) |
//! | `postgres-v1` | ab07935        | PostgreSQL 1 | as `sqlite-v2`                                  |
//! | `postgres-v2` | ab4d718        | PostgreSQL 2 | as `sqlite-v3`                                  |
//! | `sqlite-v4`   | 9d29148        | SQLite 4     | as `sqlite-v3` (made by today's driver: the jobs table came after it) |
//! | `postgres-v3` | 9d29148        | PostgreSQL 3 | as `sqlite-v4`                                  |
//! | `sqlite-v5`   | 6f85ee9        | SQLite 5     | as `sqlite-v4`, and jobs (a timer, a dead letter), and an asynchronous invocation the node was stopped in the middle of |
//! | `postgres-v4` | 6f85ee9        | PostgreSQL 4 | as `sqlite-v5`                                  |
//! | `sqlite-v6`   | 9dd2fdf        | SQLite 6     | as `sqlite-v5` (instances before they had a status and work) |
//! | `postgres-v5` | 9dd2fdf        | PostgreSQL 5 | as `sqlite-v6`                                  |
//! | `sqlite-v7`   | 354792d        | SQLite 7     | as `sqlite-v6`, and an instance in a `wait` state (statuses and work, before child machines) |
//! | `postgres-v6` | 354792d        | PostgreSQL 6 | as `sqlite-v7`                                  |
//! | `sqlite-v8`   | b879e07        | SQLite 8     | as `sqlite-v7` (instances with a parent column, flows; before a space's env values and secrets) |
//! | `postgres-v7` | b879e07        | PostgreSQL 7 | as `sqlite-v8`                                  |
//! | `sqlite-v9`   | 50a199c        | SQLite 9     | as `sqlite-v8` (a space's env values and secrets; before triggers) |
//! | `postgres-v8` | 50a199c        | PostgreSQL 8 | as `sqlite-v9`                                  |
//! | `sqlite-v10`  | bd5f1bf        | SQLite 10    | as `sqlite-v9`, and a webhook trigger (before outbound endpoints) |
//! | `postgres-v9` | bd5f1bf        | PostgreSQL 9 | as `sqlite-v10`                                 |
//! | `sqlite-v11`  | 825bcc3        | SQLite 11    | as `sqlite-v10` (the log indexed by address row by row, before `event_addresses`) |
//! | `sqlite-v12`  | c7f635d        | SQLite 12    | as `sqlite-v11` (`event_addresses`; before instances were indexed by status) |
//! | `postgres-v10`| c7f635d        | PostgreSQL 10| as `sqlite-v12`                                 |
//! | `sqlite-v13`  | 1d8bda5        | SQLite 13    | as `sqlite-v12` (instances by status; before principals, grants and roles) |
//! | `postgres-v11`| 1d8bda5        | PostgreSQL 11| as `sqlite-v13`                                 |
//! | `sqlite-v14`  | 03a0725        | SQLite 14    | as `sqlite-v13` (principals, grants and roles; before quotas and meters) |
//! | `postgres-v12`| 03a0725        | PostgreSQL 12| as `sqlite-v14`                                 |
//! | `sqlite-v15`  | 7a66ddc        | SQLite 15    | as `sqlite-v14` (quotas and meters; before orgs) |
//! | `postgres-v13`| 7a66ddc        | PostgreSQL 13| as `sqlite-v15`                                 |
//!
//! Each commit is the last one before the next migration that compiles. To make a fixture again:
//!
//! ```text
//! git archive ab4d718 | tar -x -C /tmp/old          # the commit of the fixture
//! cargo build --manifest-path /tmp/old/Cargo.toml -p switchyard --bin switchyard
//! SWITCHYARD_FIXTURE_BIN=/tmp/old/target/debug/switchyard SWITCHYARD_FIXTURE=sqlite-v3 \
//!     cargo test -p switchyard --test schema_upgrades -- --ignored make_fixture
//! ```

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestServer;
use support::http::{Http, code};
use switchyard_client::{Client, FunctionSettings, InvokeOptions, PullOptions, WatchQuery};
use switchyard_testkit::{PATIENCE, TestDatabase, example_function_bytes, wait_for, within};

/// The schema versions today's binary writes.
const SQLITE_SCHEMA: &str = "16";
const POSTGRES_SCHEMA: &str = "14";

/// Retention far beyond the fixtures' age: the records they hold were written on the day the
/// fixture was made, and the defaults (7 days of log, 24 h of idempotency keys) would trim them
/// at start-up.
const KEEP_EVERYTHING: &[&str] = &["--log-retention", "36500days", "--idempotency-retention", "36500days"];

const ORDER_V1: &str = r#"{
  "initial": "pending",
  "context_schema": {"type": "object", "required": ["amount"]},
  "states": ["pending", "paid", "cancelled"],
  "transitions": [
    {"from": "pending", "event": "pay", "to": "paid", "guard": "event.amount >= ctx.amount"},
    {"from": ["pending", "paid"], "event": "cancel", "to": "cancelled"}
  ]
}"#;

const ORDER_V2: &str = r#"{
  "initial": "pending",
  "context_schema": {"type": "object", "required": ["amount"]},
  "states": ["pending", "paid", "cancelled", "refunded"],
  "transitions": [
    {"from": "pending", "event": "pay", "to": "paid", "guard": "event.amount >= ctx.amount"},
    {"from": ["pending", "paid"], "event": "cancel", "to": "cancelled"},
    {"from": "paid", "event": "refund", "to": "refunded"}
  ]
}"#;

const DOOR_YAML: &str = "initial: closed\nstates: [closed, open]\ntransitions:\n  - { from: closed, event: open, to: open }\n  - { from: open, event: close, to: closed }\n";

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/tests/fixtures")
}

/// The schema version a fixture was made at, from its name (`sqlite-v3` → 3).
fn version_of(fixture: &str) -> u32 {
    fixture.rsplit("-v").next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("fixture name {fixture}"))
}

/// What a fixture holds at each schema version (topic messages; KV and subscriptions). PostgreSQL's
/// versions start one later: its schema 1 is SQLite's 2 (it arrived with the nodes table).
fn features(fixture: &str) -> (bool, bool) {
    let version = sqlite_version(fixture);
    (version >= 2, version >= 3)
}

/// The SQLite schema version a fixture's schema matches.
fn sqlite_version(fixture: &str) -> u32 {
    version_of(fixture) + u32::from(fixture.starts_with("postgres"))
}

/// Whether a fixture holds jobs and an asynchronous invocation its node left running (SQLite 5 on).
fn has_jobs(fixture: &str) -> bool {
    sqlite_version(fixture) >= 5
}

/// Whether a fixture holds a trigger (SQLite 10 on).
fn has_triggers(fixture: &str) -> bool {
    sqlite_version(fixture) >= 10
}

/// A webhook trigger: its answers (no fire times, no executions) do not change with the
/// fixture's age.
const INBOUND_YAML: &str = "source: { webhook: { scheme: standard-webhooks, secrets: ['{{secrets.inbound}}'] } }\nfilter: \"body.type == 'payment.succeeded'\"\ntarget: { topic: payments, input: 'body' }\n";

/// Whether a fixture holds an instance with a persisted status (SQLite 7 on).
fn has_statuses(fixture: &str) -> bool {
    sqlite_version(fixture) >= 7
}

/// A machine whose instances wait for an event with no timeout: a status (`waiting`) and no
/// work, so its answers do not change with the fixture's age.
const APPROVAL_YAML: &str = "name: approval\ninitial: asked\nstates:\n  asked: { wait: { event: approve } }\n  approved: { final: true }\ntransitions:\n  - { from: asked, event: approve, to: approved }\n";

/// The input of the invocation a jobs-era fixture's node was stopped in the middle of.
const SPIN_MS: u64 = 2_000;

// ---------------------------------------------------------------------------------------------
// Making the fixtures (run by hand against an old binary; see the module docs).
// ---------------------------------------------------------------------------------------------

/// An HTTP caller for the old binary: raw requests, as its API took them.
struct Old {
    base: String,
    client: reqwest::Client,
}

impl Old {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await.expect("the old binary answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn json(&self, method: Method, path: &str, token: &str, body: Value) -> Value {
        let (status, answer) = self
            .send(method.clone(), path, token, Some(("application/json", body.to_string().into_bytes())), &[])
            .await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {answer}");
        answer
    }

    async fn put_key(&self, path: &str, token: &str, content_type: &str, value: &[u8]) -> Value {
        let (status, answer) = self.send(Method::PUT, path, token, Some((content_type, value.to_vec())), &[]).await;
        assert_eq!(status, 200, "PUT {path}: {answer}");
        answer
    }
}

/// Writes what the old binary supports into it; returns the secrets of the tokens it made.
async fn fill(old: &Old, admin: &str, fixture: &str) -> BTreeMap<String, String> {
    let (published, streams) = features(fixture);
    let json_body = |text: &str| Some(("application/json", text.as_bytes().to_vec()));
    let (status, answer) =
        old.send(Method::PUT, "/v1/spaces/acme/machines/order", admin, json_body(ORDER_V1), &[]).await;
    assert_eq!(status, 200, "{answer}");
    let instances = "/v1/spaces/acme/machines/order/instances";
    old.json(
        Method::POST,
        instances,
        admin,
        json!({"id": "o-1", "ctx": {"amount": 100}, "idempotency_key": "create-o-1"}),
    )
    .await;
    old.json(
        Method::POST,
        &format!("{instances}/o-1/events"),
        admin,
        json!({"event": "pay", "payload": {"amount": 100}, "idempotency_key": "pay-o-1"}),
    )
    .await;
    old.json(Method::POST, instances, admin, json!({"id": "o-2", "ctx": {"amount": 5, "note": "ünïcode ✓"}})).await;
    old.json(Method::POST, instances, admin, json!({"id": "o-3", "ctx": {"amount": 1}})).await;
    let (status, answer) = old.send(Method::DELETE, &format!("{instances}/o-3"), admin, None, &[]).await;
    assert!((200..300).contains(&status), "{answer}");
    let (status, answer) =
        old.send(Method::PUT, "/v1/spaces/acme/machines/order", admin, json_body(ORDER_V2), &[]).await;
    assert_eq!(status, 200, "{answer}");
    old.json(Method::POST, instances, admin, json!({"id": "o-4", "ctx": {"amount": 7}})).await;
    old.json(Method::POST, &format!("{instances}/o-4/events"), admin, json!({"event": "cancel"})).await;
    let yaml = Some(("application/yaml", DOOR_YAML.as_bytes().to_vec()));
    let (status, answer) = old.send(Method::PUT, "/v1/spaces/globex/machines/door", admin, yaml, &[]).await;
    assert_eq!(status, 200, "{answer}");
    old.json(Method::POST, "/v1/spaces/globex/machines/door/instances", admin, json!({"id": "d-1"})).await;
    old.json(Method::POST, "/v1/spaces/globex/machines/door/instances/d-1/events", admin, json!({"event": "open"}))
        .await;

    if has_statuses(fixture) {
        let yaml = Some(("application/yaml", APPROVAL_YAML.as_bytes().to_vec()));
        let (status, answer) = old.send(Method::PUT, "/v1/spaces/acme/machines/approval", admin, yaml, &[]).await;
        assert_eq!(status, 200, "{answer}");
        old.json(Method::POST, "/v1/spaces/acme/machines/approval/instances", admin, json!({"id": "a-1"})).await;
    }
    if has_triggers(fixture) {
        let yaml = Some(("application/yaml", INBOUND_YAML.as_bytes().to_vec()));
        let (status, answer) = old.send(Method::PUT, "/v1/spaces/acme/triggers/inbound", admin, yaml, &[]).await;
        assert_eq!(status, 201, "{answer}");
    }

    let ci =
        old.json(Method::POST, "/v1/tokens", admin, json!({"name": "ci", "role": "writer", "spaces": ["acme"]})).await;
    let gone = old
        .json(Method::POST, "/v1/tokens", admin, json!({"name": "gone", "role": "reader", "spaces": ["globex"]}))
        .await;
    let (status, answer) =
        old.send(Method::DELETE, &format!("/v1/tokens/{}", gone["id"].as_str().expect("id")), admin, None, &[]).await;
    assert!((200..300).contains(&status), "{answer}");
    let mut secrets = BTreeMap::new();
    secrets.insert("admin".to_owned(), admin.to_owned());
    secrets.insert("ci".to_owned(), ci["token"].as_str().expect("secret").to_owned());
    secrets.insert("gone".to_owned(), gone["token"].as_str().expect("secret").to_owned());

    if published {
        let messages = "/v1/spaces/acme/topics/audit/messages";
        old.json(Method::POST, messages, admin, json!({"payload": {"n": 1}})).await;
        old.json(
            Method::POST,
            messages,
            admin,
            json!({"payload": {"n": 2}, "key": "k-2", "headers": {"source": "fixture"}, "idempotency_key": "audit-2"}),
        )
        .await;
    }
    if streams {
        old.json(Method::PUT, "/v1/spaces/acme/kv/cfg", admin, json!({"history": 3})).await;
        for url in ["postgres://a", "postgres://b", "postgres://c", "postgres://d"] {
            old.put_key("/v1/spaces/acme/kv/cfg/keys/db/url", admin, "text/plain", url.as_bytes()).await;
        }
        old.put_key("/v1/spaces/acme/kv/cfg/keys/feature", admin, "application/json", br#"{"on":true}"#).await;
        old.put_key("/v1/spaces/acme/kv/cfg/keys/blob", admin, "application/octet-stream", &[0, 159, 255, 10]).await;
        old.put_key("/v1/spaces/acme/kv/cfg/keys/session?ttl=876000h", admin, "text/plain", b"s-1").await;
        old.put_key("/v1/spaces/acme/kv/cfg/keys/gone", admin, "text/plain", b"x").await;
        let (status, answer) = old.send(Method::DELETE, "/v1/spaces/acme/kv/cfg/keys/gone", admin, None, &[]).await;
        assert_eq!(status, 200, "{answer}");

        let subscriptions = "/v1/spaces/acme/subscriptions";
        old.json(
            Method::PUT,
            &format!("{subscriptions}/mailer"),
            admin,
            json!({"address": "acme:mail", "max_deliveries": 5, "ack_wait": "30s"}),
        )
        .await;
        old.json(
            Method::PUT,
            &format!("{subscriptions}/jobs"),
            admin,
            json!({"address": "acme:jobs", "max_deliveries": 1}),
        )
        .await;
        old.json(
            Method::PUT,
            &format!("{subscriptions}/lossy"),
            admin,
            json!({"kind": ["topic.message"], "allow_loss": true}),
        )
        .await;
        for n in 0..4 {
            old.json(Method::POST, "/v1/spaces/acme/topics/mail/messages", admin, json!({"payload": {"mail": n}}))
                .await;
        }
        old.json(Method::POST, "/v1/spaces/acme/topics/jobs/messages", admin, json!({"payload": {"job": 1}})).await;
        // Three mails leased for a second (the fourth never delivered); the first acked, the
        // other two left to come due again.
        let pulled =
            old.json(Method::POST, &format!("{subscriptions}/mailer/pull?max=3&lease=1s"), admin, json!({})).await;
        let first = pulled["records"][0]["seq"].as_u64().expect("a pulled seq");
        old.json(Method::POST, &format!("{subscriptions}/mailer/ack"), admin, json!({"seqs": [first]})).await;
        // One delivery at most: once its lease ends, the job is a dead letter.
        old.json(Method::POST, &format!("{subscriptions}/jobs/pull?lease=1s"), admin, json!({})).await;
        for _ in 0..100 {
            let (_, dead) =
                old.send(Method::GET, &format!("{subscriptions}/jobs/dead-letters"), admin, None, &[]).await;
            if dead["dead_letters"].as_array().is_some_and(|d| !d.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            old.json(Method::POST, &format!("{subscriptions}/jobs/pull?lease=1s"), admin, json!({})).await;
        }
    }
    if has_jobs(fixture) {
        // A timer far ahead, and an HTTP job dead at once (a private address is refused).
        let jobs = "/v1/spaces/acme/jobs";
        old.json(
            Method::POST,
            jobs,
            admin,
            json!({"kind": "noop", "delay_ms": 3_600_000_000u64, "idempotency_key": "timer-1"}),
        )
        .await;
        old.json(
            Method::POST,
            jobs,
            admin,
            json!({"kind": "http", "payload": {"url": "http://127.0.0.1:9/hook"}, "idempotency_key": "hook-1"}),
        )
        .await;
        for _ in 0..100 {
            let (_, dead) = old.send(Method::GET, &format!("{jobs}?status=dead"), admin, None, &[]).await;
            if dead["jobs"].as_array().is_some_and(|d| !d.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // An asynchronous invocation still running when the node stops (its shutdown grace is
        // shorter than the spin): the old build leaves it pending with its lease.
        let component =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, example_function_bytes("misbehave"));
        old.json(
            Method::PUT,
            "/v1/spaces/acme/functions/spin",
            admin,
            json!({"component_base64": component, "timeout_ms": 60_000}),
        )
        .await;
        let input = json!({"do": "spin", "ms": SPIN_MS}).to_string().into_bytes();
        let (status, accepted) = old
            .send(
                Method::POST,
                "/v1/spaces/acme/functions/spin/invoke?async=true",
                admin,
                Some(("application/json", input)),
                &[("idempotency-key", "spin-1")],
            )
            .await;
        assert_eq!(status, 202, "{accepted}");
        secrets.insert("invocation".to_owned(), accepted["id"].as_str().expect("an invocation id").to_owned());
    }
    secrets
}

/// The reads whose answers the old binary saved and today's must match.
fn reads(fixture: &str) -> Vec<&'static str> {
    let (_, streams) = features(fixture);
    let mut reads = vec![
        "/v1/spaces",
        "/v1/spaces/acme/machines",
        "/v1/spaces/acme/machines/order?version=1",
        "/v1/spaces/acme/machines/order?version=2",
        "/v1/spaces/acme/machines/order/instances",
        "/v1/spaces/acme/machines/order/instances/o-1",
        "/v1/spaces/acme/machines/order/instances/o-2",
        "/v1/spaces/acme/machines/order/instances/o-4",
        "/v1/spaces/acme/machines/order/instances/o-1/history",
        "/v1/spaces/acme/machines/order/instances/o-4/history",
        "/v1/spaces/globex/machines/door",
        "/v1/spaces/globex/machines/door/instances/d-1",
        "/v1/spaces/globex/machines/door/instances/d-1/history",
        "/v1/tokens",
    ];
    if streams {
        reads.extend([
            "/v1/spaces/acme/kv",
            "/v1/spaces/acme/kv/cfg",
            "/v1/spaces/acme/kv/cfg/keys",
            "/v1/spaces/acme/kv/cfg/keys/feature",
            "/v1/spaces/acme/kv/cfg/history/db/url",
            "/v1/spaces/acme/kv/cfg/history/blob",
            "/v1/spaces/acme/kv/cfg/history/gone",
            "/v1/spaces/acme/subscriptions",
            "/v1/spaces/acme/subscriptions/mailer",
            "/v1/spaces/acme/subscriptions/jobs/dead-letters",
        ]);
    }
    if has_jobs(fixture) {
        reads.extend(["/v1/spaces/acme/jobs?status=dead", "/v1/spaces/acme/jobs?status=pending&kind=noop"]);
    }
    if has_statuses(fixture) {
        reads.push("/v1/spaces/acme/machines/approval/instances/a-1");
    }
    if has_triggers(fixture) {
        reads.push("/v1/spaces/acme/triggers/inbound");
    }
    reads
}

#[test]
#[ignore = "makes a fixture from an old binary (SWITCHYARD_FIXTURE_BIN, SWITCHYARD_FIXTURE); see the module docs"]
fn make_fixture() {
    let binary = std::env::var("SWITCHYARD_FIXTURE_BIN").expect("SWITCHYARD_FIXTURE_BIN: the old binary");
    let fixture = std::env::var("SWITCHYARD_FIXTURE").expect("SWITCHYARD_FIXTURE: e.g. sqlite-v3");
    let postgres = fixture.starts_with("postgres");
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("data");
    let db = postgres.then(TestDatabase::create);
    let mut serve = Command::new(&binary);
    serve.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&data);
    if has_jobs(&fixture) {
        serve.args(["--shutdown-grace", "100ms"]);
    }
    if let Some(db) = &db {
        serve.args(["--store", db.url()]);
    }
    let mut child = serve.env("RUST_LOG", "warn").stdout(Stdio::piped()).spawn().expect("run the old binary");
    let base = support::listening_url(&mut child);
    let admin = std::fs::read_to_string(data.join("admin.token")).expect("admin.token").trim().to_owned();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let old = Old { base, client: reqwest::Client::new() };
    let (secrets, answers) = runtime.block_on(async {
        let secrets = fill(&old, &admin, &fixture).await;
        let mut answers = BTreeMap::new();
        for path in reads(&fixture) {
            let (status, answer) = old.send(Method::GET, path, &admin, None, &[]).await;
            assert_eq!(status, 200, "GET {path}: {answer}");
            answers.insert(path.to_owned(), answer);
        }
        if let Some(id) = secrets.get("invocation") {
            let path = format!("/v1/spaces/acme/invocations/{id}");
            let (status, answer) = old.send(Method::GET, &path, &admin, None, &[]).await;
            assert_eq!((status, &answer["status"]), (200, &json!("pending")), "{answer}");
        }
        (secrets, answers)
    });
    // SIGTERM: a clean shutdown checkpoints the WAL into the database file.
    // SAFETY: kill(2) on the child we spawned and have not waited for.
    unsafe {
        libc::kill(i32::try_from(child.id()).expect("pid"), libc::SIGTERM);
    }
    assert!(child.wait().expect("wait").success(), "the old binary did not shut down cleanly");

    let out = fixtures_dir().join(&fixture);
    std::fs::create_dir_all(&out).expect("fixture dir");
    std::fs::write(out.join("secrets.json"), pretty(&secrets)).expect("write secrets");
    std::fs::write(out.join("answers.json"), pretty(&answers)).expect("write answers");
    match &db {
        None => {
            std::fs::copy(data.join("switchyard.db"), out.join("switchyard.db")).expect("copy the store");
        }
        Some(db) => {
            let dump = Command::new("pg_dump")
                .args(["--inserts", "--no-owner", "--no-privileges", "--no-comments", "--dbname", db.url()])
                .output()
                .expect("run pg_dump");
            assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
            // psql meta-commands (`\restrict`) are not SQL; comments and blank lines are noise.
            let sql: String = String::from_utf8(dump.stdout)
                .expect("utf-8 dump")
                .lines()
                .filter(|l| !l.starts_with('\\') && !l.starts_with("--") && !l.trim().is_empty())
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(out.join("dump.sql"), sql).expect("write the dump");
        }
    }
}

/// Pretty JSON with a final newline.
fn pretty(value: &impl serde::Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON");
    text.push('\n');
    text
}

// ---------------------------------------------------------------------------------------------
// Opening the fixtures with today's binary.
// ---------------------------------------------------------------------------------------------

/// Fields that count the log's newest record, which the resumed jobs move on.
const VOLATILE: &[&str] = &["lag", "log_newest_seq"];

/// Every field of `old`, recursively, is in `new` with the same value (but [`VOLATILE`] ones);
/// `new` may have more.
fn holds(old: &Value, new: &Value, at: &str, mismatches: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (key, value) in o {
                // How far the log reaches moves on by itself once today's binary resumes the
                // jobs an old node left (each attempt appends records).
                if VOLATILE.contains(&key.as_str()) {
                    continue;
                }
                match n.get(key) {
                    Some(found) => holds(value, found, &format!("{at}.{key}"), mismatches),
                    None => mismatches.push(format!("{at}.{key}: missing (was {value})")),
                }
            }
        }
        (Value::Array(o), Value::Array(n)) if o.len() == n.len() => {
            for (i, (value, found)) in o.iter().zip(n).enumerate() {
                holds(value, found, &format!("{at}[{i}]"), mismatches);
            }
        }
        _ if old == new => {}
        _ => mismatches.push(format!("{at}: was {old}, is {new}")),
    }
}

/// A fixture copied to a fresh data dir, served by today's binary.
struct Upgraded {
    server: TestServer,
    fixture: String,
    secrets: BTreeMap<String, String>,
    _dir: tempfile::TempDir,
}

impl Upgraded {
    fn sqlite(fixture: &str) -> Upgraded {
        let dir = tempfile::tempdir().expect("temp dir");
        let from = fixtures_dir().join(fixture);
        std::fs::copy(from.join("switchyard.db"), dir.path().join("switchyard.db")).expect("copy the fixture");
        Upgraded::start(fixture, dir, &[])
    }

    fn postgres(fixture: &str, db: &TestDatabase) -> Upgraded {
        let dump = std::fs::read_to_string(fixtures_dir().join(fixture).join("dump.sql")).expect("the dump");
        db.batch_execute(&dump);
        let dir = tempfile::tempdir().expect("temp dir");
        Upgraded::start(fixture, dir, &["--store", db.url()])
    }

    fn start(fixture: &str, dir: tempfile::TempDir, store: &[&str]) -> Upgraded {
        let text = std::fs::read_to_string(fixtures_dir().join(fixture).join("secrets.json")).expect("secrets");
        let secrets: BTreeMap<String, String> = serde_json::from_str(&text).expect("secrets JSON");
        std::fs::write(dir.path().join("admin.token"), &secrets["admin"]).expect("admin.token");
        let args: Vec<&str> = KEEP_EVERYTHING.iter().chain(store).copied().collect();
        let server = TestServer::start_node(dir.path(), &args, &secrets["admin"]);
        Upgraded { server, fixture: fixture.to_owned(), secrets, _dir: dir }
    }

    fn client(&self) -> Client {
        self.server.client()
    }
}

/// Today's answers hold every field of the old binary's, with its values.
async fn reads_match_the_old_answers(up: &Upgraded) {
    let text = std::fs::read_to_string(fixtures_dir().join(&up.fixture).join("answers.json")).expect("answers");
    let answers: BTreeMap<String, Value> = serde_json::from_str(&text).expect("answers JSON");
    assert_eq!(answers.keys().map(String::as_str).collect::<Vec<_>>().len(), reads(&up.fixture).len());
    let http = Http::new(&up.server);
    let mut mismatches = Vec::new();
    for (path, old) in &answers {
        let (status, new) = http.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {new}");
        holds(old, &new, path, &mut mismatches);
    }
    assert!(mismatches.is_empty(), "{}: answers that changed:\n{}", up.fixture, mismatches.join("\n"));
}

/// What every fixture holds, asserted by value (the answers check covers the rest).
async fn machines_instances_events_and_tokens_read_back(up: &Upgraded) {
    let http = Http::new(&up.server);
    let (_, o1) = http.get("/v1/spaces/acme/machines/order/instances/o-1").await;
    assert_eq!(
        (&o1["state"], &o1["revision"], &o1["ctx"]),
        (&json!("paid"), &json!(2), &json!({"amount": 100})),
        "{o1}"
    );
    assert_eq!(o1["machine_version"], 1, "{o1}");
    let (_, o4) = http.get("/v1/spaces/acme/machines/order/instances/o-4").await;
    assert_eq!((&o4["state"], &o4["machine_version"]), (&json!("cancelled"), &json!(2)), "{o4}");
    let (status, o3) = http.get("/v1/spaces/acme/machines/order/instances/o-3").await;
    assert_eq!((status, code(&o3)), (StatusCode::NOT_FOUND, "instance_not_found"), "a deleted instance stays deleted");
    let (_, list) = http.get("/v1/spaces/acme/machines/order/instances").await;
    let ids: Vec<&str> =
        list["instances"].as_array().expect("instances").iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["o-1", "o-2", "o-4"]);
    let (_, history) = http.get("/v1/spaces/acme/machines/order/instances/o-1/history").await;
    let kinds: Vec<&str> =
        history["events"].as_array().expect("events").iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["instance.created", "instance.transitioned"], "{history}");
    assert_eq!(history["events"][1]["idempotency_key"], "pay-o-1");
    let (_, door) = http.get("/v1/spaces/globex/machines/door/instances/d-1").await;
    assert_eq!(door["state"], "open");

    // Idempotency keys survived: a repeat answers the original, another body is refused.
    let create = json!({"id": "o-1", "ctx": {"amount": 100}, "idempotency_key": "create-o-1"});
    let (status, replay) = http.post("/v1/spaces/acme/machines/order/instances", create).await;
    assert_eq!(
        (status, &replay["id"], &replay["state"]),
        (StatusCode::OK, &json!("o-1"), &json!("pending")),
        "{replay}"
    );
    let other = json!({"id": "o-9", "ctx": {"amount": 1}, "idempotency_key": "create-o-1"});
    let (status, refused) = http.post("/v1/spaces/acme/machines/order/instances", other).await;
    assert_eq!((status, code(&refused)), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"), "{refused}");

    // The tokens: the writer works on its space only, the revoked one not at all.
    let ci = Http::with_token(&up.server, Some(&up.secrets["ci"]));
    let (status, body) =
        ci.post("/v1/spaces/acme/machines/order/instances", json!({"id": "o-ci", "ctx": {"amount": 1}})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = ci.get("/v1/spaces/globex/machines/door/instances/d-1").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = Http::with_token(&up.server, Some(&up.secrets["gone"])).get("/v1/spaces").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked token works again");
}

/// The log replays from its first record, topic messages included (schema 2 on), in order.
async fn the_log_replays_whole(up: &Upgraded) -> u64 {
    let client = up.client();
    let mut watch =
        client.watch("acme", &WatchQuery { from: Some("1".into()), ..Default::default() }).await.expect("watch");
    let newest = switchyard_testkit::wait_until("the log's newest seq", PATIENCE, || async {
        let text = client.metrics().await.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("switchyard_log_newest_seq "))
            .and_then(|v| v.trim().parse::<u64>().ok())
    })
    .await;
    let mut seen = Vec::new();
    while seen.last().is_none_or(|(seq, _, _)| *seq < newest) {
        let record = within("the replay", PATIENCE, watch.next()).await.expect("watch").expect("a record");
        seen.push((record.seq, record.kind, record.payload));
        if seen.len() > 1000 {
            break;
        }
    }
    let seqs: Vec<u64> = seen.iter().map(|(seq, _, _)| *seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let (published, _) = features(&up.fixture);
    let audit: Vec<&Value> = seen
        .iter()
        .filter(|(_, kind, p)| kind == "topic.message" && p["payload"].get("n").is_some())
        .map(|(_, _, p)| p)
        .collect();
    if published {
        assert_eq!(audit.len(), 2, "{seen:?}");
        assert_eq!(audit[1]["payload"], json!({"n": 2}));
        assert_eq!(audit[1]["key"], "k-2");
        assert_eq!(audit[1]["headers"], json!({"source": "fixture"}));
    } else {
        assert!(audit.is_empty());
    }
    newest
}

/// KV and subscriptions as schema 3 kept them.
async fn kv_and_subscriptions_read_back(up: &Upgraded) {
    let client = up.client();
    let url = client.kv_get("acme", "cfg", "db/url").await.expect("db/url");
    assert_eq!((url.value.as_slice(), url.revision), (b"postgres://d".as_slice(), 4));
    let blob = client.kv_get("acme", "cfg", "blob").await.expect("blob");
    assert_eq!(
        (blob.value.as_slice(), blob.content_type.as_str()),
        ([0, 159, 255, 10].as_slice(), "application/octet-stream")
    );
    let gone = client.kv_get("acme", "cfg", "gone").await.expect_err("deleted");
    assert_eq!(gone.code(), Some("key_not_found"));
    let history = client.kv_history("acme", "cfg", "db/url").await.expect("history");
    let revisions: Vec<u64> =
        history["history"].as_array().expect("history").iter().map(|e| e["revision"].as_u64().unwrap()).collect();
    assert_eq!(revisions, [4, 3, 2], "the bucket keeps three revisions");
    let keys = client.kv_list("acme", "cfg", None, None, None).await.expect("keys");
    let session = keys.keys.iter().find(|k| k.key == "session").expect("session");
    assert!(session.expires_at.is_some(), "the TTL survived");

    // mailer: the first mail acked, two leased long ago (due again), one never delivered.
    let pulled = client
        .pull("acme", "mailer", &PullOptions { max: Some(10), lease: Some("60s".into()), wait: None })
        .await
        .expect("pull");
    let delivered: Vec<(u64, u32)> =
        pulled.records.iter().map(|r| (r.record.payload["payload"]["mail"].as_u64().unwrap(), r.deliveries)).collect();
    assert_eq!(delivered, [(1, 2), (2, 2), (3, 1)]);
    let seqs: Vec<u64> = pulled.records.iter().map(|r| r.record.seq).collect();
    assert_eq!(client.ack("acme", "mailer", &seqs).await.expect("ack").acked, 3);
    let dead = client.dead_letters("acme", "jobs").await.expect("dead letters");
    assert_eq!(dead["dead_letters"].as_array().map(Vec::len), Some(1), "{dead}");
    assert_eq!(dead["dead_letters"][0]["record"]["payload"]["payload"], json!({"job": 1}));
    assert_eq!(client.redrive("acme", "jobs", None).await.expect("redrive"), 1);
    let lossy = client.get_subscription("acme", "lossy").await.expect("lossy");
    assert_eq!(lossy["allow_loss"], true);
}

/// Writes of every kind work after the upgrade, into the tables later schemas added too.
async fn writes_work_afterwards(up: &Upgraded) {
    let http = Http::new(&up.server);
    let client = up.client();
    let (status, body) = http
        .post("/v1/spaces/acme/machines/order/instances/o-2/events", json!({"event": "pay", "payload": {"amount": 5}}))
        .await;
    assert_eq!((status, &body["to"]), (StatusCode::OK, &json!("paid")), "{body}");
    // Its history: the records the old store held (indexed by the migration), then the new one.
    let (status, body) = http.get("/v1/spaces/acme/machines/order/instances/o-2/history").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kinds: Vec<&str> =
        body["events"].as_array().expect("events").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"instance.created"), "{body}");
    assert_eq!(kinds.last(), Some(&"instance.transitioned"), "{body}");
    assert_eq!(body["events"].as_array().and_then(|e| e.last()).map(|e| &e["payload"]["to"]), Some(&json!("paid")));
    let (status, body) =
        http.put_json("/v1/spaces/acme/machines/order", &serde_json::from_str::<Value>(ORDER_V1).expect("json")).await;
    assert_eq!((status, &body["version"]), (StatusCode::OK, &json!(3)), "{body}");
    let (status, body) =
        http.post("/v1/spaces/acme/machines/order/instances", json!({"id": "o-new", "ctx": {"amount": 2}})).await;
    assert_eq!((status, &body["machine_version"]), (StatusCode::CREATED, &json!(3)), "{body}");
    // The space's counts come from the status index, which the migration built over old rows.
    let (status, stats) = http.get("/v1/spaces/acme/stats").await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let (listed_status, listed) = http.get("/v1/spaces/acme/machines/order/instances?limit=1000").await;
    assert_eq!(listed_status, StatusCode::OK, "{listed}");
    let counted: u64 = stats["instances"]
        .as_array()
        .expect("counts")
        .iter()
        .filter(|c| c["machine"] == "order")
        .map(|c| c["roots"].as_u64().unwrap_or(0) + c["children"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(counted as usize, listed["instances"].as_array().map_or(0, Vec::len), "{stats}");
    // The old store's tokens work with the grants their role and spaces stand for, beside users
    // and grants, which the old schema had no table for.
    let user = json!({ "kind": "user", "name": "alice", "password": "correct horse battery",
        "grants": [{ "role": "space-reader", "pattern": "acme:machines:order:*" }] });
    let (status, body) = http.post("/v1/principals", user).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let anonymous = Http::with_token(&up.server, None);
    let sign_in = json!({ "name": "alice", "password": "correct horse battery" });
    let (status, session) = anonymous.post("/v1/auth/sign-in", sign_in).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let alice = Http::with_token(&up.server, session["token"].as_str());
    let (status, body) = alice.get("/v1/spaces/acme/machines/order/instances/o-2").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = alice.get("/v1/spaces/acme/kv").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, audit) = http.get("/v1/audit?kind=audit.sign_in").await;
    assert_eq!((status, audit["records"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{audit}");
    // Quotas and meters, which the old schema had no table for.
    let (status, body) = http.put_json("/v1/spaces/acme/quota", &json!({ "instances": 100_000 })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, usage) = http.get("/v1/spaces/acme/usage").await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert!(usage["instances"].as_u64().is_some_and(|n| n > 0), "{usage}");
    assert_eq!(usage["quota"], json!({ "instances": 100_000 }), "{usage}");
    // Orgs and their members, which the old schema had no table or column for; a space written
    // before the org was made is its project.
    let (status, body) = http.post("/v1/orgs", json!({ "name": "acme" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let member = json!({ "kind": "service", "name": "acme-bot" });
    let (status, body) = http.post("/v1/orgs/acme/members", member).await;
    assert_eq!((status, &body["org"]), (StatusCode::CREATED, &json!("acme")), "{body}");
    let (status, body) = http.get("/v1/principals").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let orgs: Vec<&Value> = body["principals"].as_array().expect("principals").iter().map(|p| &p["org"]).collect();
    assert!(orgs.contains(&&Value::Null) && orgs.contains(&&json!("acme")), "{body}");
    let published = client
        .publish(
            "acme",
            "audit",
            &switchyard_client::Publish {
                payload: json!({"n": 3}),
                key: None,
                headers: Default::default(),
                idempotency_key: None,
            },
        )
        .await
        .expect("publish");
    assert!(published.seq > 0);
    let written = client
        .kv_put("acme", "cfg", "db/url", b"postgres://e".to_vec(), &switchyard_client::KvPutOptions::default())
        .await
        .expect("kv put");
    let (_, streams) = features(&up.fixture);
    assert_eq!(written.revision, if streams { 5 } else { 1 });
    let hello = example_function_bytes("hello");
    client.deploy_function("acme", "hello", &hello, &FunctionSettings::default()).await.expect("deploy");
    let out = client
        .invoke("acme", "hello", br#"{"name":"upgrade"}"#.to_vec(), &InvokeOptions::default())
        .await
        .expect("invoke");
    assert_eq!(serde_json::from_slice::<Value>(&out.body).expect("json"), json!({"greeting": "Hello, upgrade!"}));
    // The space's configuration (SQLite 9, PostgreSQL 8).
    let (status, body) = http.put_json("/v1/spaces/acme/env/region", &json!({"value": "eu"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = http.put_json("/v1/spaces/acme/secrets/token", &json!({"value": "t"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, env) = http.get("/v1/spaces/acme/env").await;
    assert_eq!(env["env"][0]["value"], "eu", "{env}");
    // Triggers (SQLite 10, PostgreSQL 9): one put, fired, its execution listed.
    let (status, body) = http
        .put_yaml(
            "/v1/spaces/acme/triggers/nightly",
            "source: { cron: { schedule: '@daily' } }\ntarget: { topic: nightly }\n",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, fired) = http.post("/v1/spaces/acme/triggers/nightly/fire", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{fired}");
    let executions = wait_for(
        "the execution to fire",
        PATIENCE,
        || async { http.get("/v1/spaces/acme/triggers/nightly/executions").await.1 },
        |page| page["executions"].as_array().is_some_and(|e| e.iter().any(|x| x["outcome"] == "fired")),
    )
    .await;
    assert_eq!(executions["executions"][0]["id"], fired["id"], "{executions}");
    // Outbound endpoints (SQLite 11, PostgreSQL 10): one put, listed, with no deliveries yet.
    let (status, body) = http
        .put_yaml(
            "/v1/spaces/acme/endpoints/crm",
            "url: https://crm.example.com/hooks\nsecret: '{{secrets.token}}'\nkinds: [topic.message]\n",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, listed) = http.get("/v1/spaces/acme/endpoints").await;
    assert_eq!(listed["endpoints"][0]["name"], "crm", "{listed}");
    let (_, deliveries) = http.get("/v1/spaces/acme/endpoints/crm/deliveries").await;
    assert_eq!(deliveries["deliveries"], json!([]), "{deliveries}");
}

/// The jobs survived, and the invocation the old node left running got its job and ran again,
/// as its next attempt, to success.
async fn jobs_and_the_interrupted_invocation_run(up: &Upgraded) {
    let http = Http::new(&up.server);
    let (_, dead) = http.get("/v1/spaces/acme/jobs?status=dead").await;
    assert_eq!(dead["jobs"].as_array().map(Vec::len), Some(1), "{dead}");
    assert_eq!(dead["jobs"][0]["idempotency_key"], "hook-1", "{dead}");
    let (_, timers) = http.get("/v1/spaces/acme/jobs?status=pending&kind=noop").await;
    assert_eq!(timers["jobs"][0]["idempotency_key"], "timer-1", "{timers}");
    let id = &up.secrets["invocation"];
    let (status, job) = http.get(&format!("/v1/spaces/acme/jobs/{id}")).await;
    assert_eq!(
        (status, &job["kind"], &job["target"]),
        (StatusCode::OK, &json!("invocation"), &json!("acme:spin")),
        "{job}"
    );
    let path = format!("/v1/spaces/acme/invocations/{id}");
    let (_, record) = wait_for(
        "the interrupted invocation to run again",
        PATIENCE,
        || http.get(&path),
        |(_, r)| r["status"] != "pending",
    )
    .await;
    assert_eq!((&record["status"], &record["attempt"]), (&json!("succeeded"), &json!(2)), "{record}");
    assert_eq!(record["output"], json!({"spun_ms": SPIN_MS}), "{record}");
    // Its idempotency key still finds it.
    let path = "/v1/spaces/acme/functions/spin/invoke?async=true";
    let input = Some(json!({"do": "spin", "ms": 1}));
    let (status, _, again) = http.send_with(Method::POST, path, &[("idempotency-key", "spin-1")], input).await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &json!(id)), "{again}");
}

async fn upgrade(up: &Upgraded) {
    reads_match_the_old_answers(up).await;
    machines_instances_events_and_tokens_read_back(up).await;
    the_log_replays_whole(up).await;
    if features(&up.fixture).1 {
        kv_and_subscriptions_read_back(up).await;
    }
    if has_jobs(&up.fixture) {
        jobs_and_the_interrupted_invocation_run(up).await;
    }
    writes_work_afterwards(up).await;
}

/// The store's schema version, read from the file once the server has stopped.
fn sqlite_schema(up: &mut Upgraded) -> String {
    assert!(up.server.terminate().success());
    let conn = rusqlite::Connection::open(up.server.data_dir.join("switchyard.db")).expect("open the store");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("user_version");
    version.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v1_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v1");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v2_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v2");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v3_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v3");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v4_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v4");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v5_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v5");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v6_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v6");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v7_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v7");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v8_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v8");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v9_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v9");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v10_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v10");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v11_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v11");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v12_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v12");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v13_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v13");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v14_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v14");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v15_store_opens_reads_and_writes() {
    let mut up = Upgraded::sqlite("sqlite-v15");
    upgrade(&up).await;
    assert_eq!(sqlite_schema(&mut up), SQLITE_SCHEMA);
}

async fn postgres_upgrade(fixture: &str) {
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
    let up = Upgraded::postgres(fixture, &db);
    upgrade(&up).await;
    let version = tokio::task::block_in_place(|| db.query_text("SELECT version FROM switchyard_schema"));
    assert_eq!(version, [Some(POSTGRES_SCHEMA.to_owned())]);
    // The server goes before its database does.
    drop(up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v1_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v2_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v3_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v4_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v5_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v5").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v6_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v6").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v7_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v7").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v8_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v8").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v9_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v9").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v10_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v10").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v11_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v11").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v12_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v12").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v13_store_opens_reads_and_writes() {
    postgres_upgrade("postgres-v13").await;
}

#[test]
fn the_fixtures_cover_every_earlier_schema_version() {
    // Today's versions, read from the migration lists: a new migration needs a fixture of the
    // version before it.
    let count = |file: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/src").join(file);
        let text = std::fs::read_to_string(&path).expect("schema source");
        let list = text.split("const MIGRATIONS").nth(1).expect("MIGRATIONS").split("\n];").next().expect("end");
        list.matches("r#\"").count()
    };
    assert_eq!(count("sqlite/schema.rs").to_string(), SQLITE_SCHEMA);
    assert_eq!(count("postgres/schema.rs").to_string(), POSTGRES_SCHEMA);
    let mut found: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let sqlite: u32 = SQLITE_SCHEMA.parse().expect("number");
    let postgres: u32 = POSTGRES_SCHEMA.parse().expect("number");
    let mut want: Vec<String> =
        (1..sqlite).map(|v| format!("sqlite-v{v}")).chain((1..postgres).map(|v| format!("postgres-v{v}"))).collect();
    want.sort();
    assert_eq!(found, want);
}
