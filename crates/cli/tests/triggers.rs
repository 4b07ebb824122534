//! Triggers through the real binary: webhooks verified by each scheme and accepted durably
//! (a replayed delivery id fires once; an unverified request stores nothing; a SIGKILL right
//! after `202` loses nothing), schedules that fire once per fire time (pause, resume, backfill,
//! fire now), and three nodes on one PostgreSQL firing each time exactly once while one dies.
//!
//! Tests wait on what the server shows, never on the clock, except where a test must show that
//! nothing happens (a paused schedule), which it can only do by letting fire times pass.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestServer;
use support::http::{Http, code};
use switchyard_testkit::{PATIENCE, TestDatabase, wait_for};
use switchyard_webhooks::{Algorithm, decode_whsk, encode_whpk, hmac_tag, sign_v1, sign_v1a};

struct Backend {
    name: &'static str,
    server: TestServer,
    _db: Option<TestDatabase>,
}

async fn backends() -> Vec<Backend> {
    backends_with(&[]).await
}

async fn backends_with(args: &[&str]) -> Vec<Backend> {
    let sqlite = Backend { name: "sqlite", server: TestServer::start_with(args), _db: None };
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
    let pg_args: Vec<&str> = ["--store", db.url()].into_iter().chain(args.iter().copied()).collect();
    let server = TestServer::start_with(&pg_args);
    vec![sqlite, Backend { name: "postgres", server, _db: Some(db) }]
}

/// A flow that echoes its input: what a webhook's trigger starts.
const ECHO: &str = "nodes:\n  - { id: echo, kind: transform, value: 'input' }\n";

/// A Standard Webhooks secret (`whsec_` and base64 of the key).
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn whsec_key() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(&WHSEC[6..]).expect("base64")
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

async fn ok(answer: (StatusCode, Value)) -> Value {
    assert!(answer.0.is_success(), "{} {}", answer.0, answer.1);
    answer.1
}

async fn set_secret(http: &Http, name: &str, value: &str) {
    ok(http.put_json(&format!("/v1/spaces/acme/secrets/{name}"), &json!({ "value": value })).await).await;
}

async fn put_trigger(http: &Http, name: &str, yaml: &str) -> Value {
    ok(http.put_yaml(&format!("/v1/spaces/acme/triggers/{name}"), yaml).await).await
}

/// POSTs `body` to a trigger's webhook with `headers`, as a sender does (no token).
async fn deliver(http: &Http, trigger: &str, headers: &[(&str, &str)], body: &Value) -> (StatusCode, Value) {
    let (status, _, answer) =
        http.send_with(Method::POST, &format!("/hooks/acme/{trigger}"), headers, Some(body.clone())).await;
    (status, answer)
}

/// A Standard Webhooks `v1` delivery.
async fn deliver_v1(http: &Http, trigger: &str, id: &str, body: &Value) -> (StatusCode, Value) {
    let ts = now_secs();
    let signature = sign_v1(&whsec_key(), id, ts, body.to_string().as_bytes());
    let ts = ts.to_string();
    deliver(http, trigger, &[("webhook-id", id), ("webhook-timestamp", &ts), ("webhook-signature", &signature)], body)
        .await
}

async fn executions(http: &Http, trigger: &str) -> Vec<Value> {
    let (status, page) = http.get(&format!("/v1/spaces/acme/triggers/{trigger}/executions?limit=1000")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["executions"].as_array().cloned().unwrap_or_default()
}

/// Waits until every execution of `trigger` has finished; returns them (newest first).
async fn settled(http: &Http, trigger: &str, count: usize) -> Vec<Value> {
    wait_for(
        &format!("{count} finished executions of {trigger}"),
        PATIENCE,
        || executions(http, trigger),
        |e| e.len() >= count && e.iter().all(|x| ["succeeded", "dead"].contains(&x["status"].as_str().unwrap_or(""))),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_starts_a_flow_run_once_per_delivery_id() {
    for b in backends().await {
        let http = Http::new(&b.server);
        let sender = Http::with_token(&b.server, None);
        ok(http.put_yaml("/v1/spaces/acme/flows/fulfil", ECHO).await).await;
        set_secret(&http, "hook_key", WHSEC).await;
        let trigger = put_trigger(
            &http,
            "paid",
            "source: { webhook: { scheme: standard-webhooks, secrets: ['{{secrets.hook_key}}'] } }\n\
             filter: \"body.type == 'payment.succeeded'\"\n\
             target: { flow: fulfil, input: \"{'order': body.data.order, 'via': delivery_id}\" }\n",
        )
        .await;
        assert_eq!((trigger["created"].as_bool(), trigger["version"].as_u64()), (Some(true), Some(1)), "{trigger}");
        assert_eq!(trigger["webhook_url"], "/hooks/acme/paid", "{}", b.name);

        let paid = json!({ "type": "payment.succeeded", "data": { "order": "o-1" } });
        let (status, first) = deliver_v1(&sender, "paid", "msg_1", &paid).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}: {first}", b.name);
        assert_eq!(first["replayed"], false);
        // The sender retries the same delivery: accepted again, nothing new stored.
        let (status, again) = deliver_v1(&sender, "paid", "msg_1", &paid).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}: {again}", b.name);
        assert_eq!((again["replayed"].as_bool(), &again["execution"]), (Some(true), &first["execution"]), "{}", b.name);
        let other = json!({ "type": "payment.failed", "data": { "order": "o-2" } });
        assert_eq!(deliver_v1(&sender, "paid", "msg_2", &other).await.0, StatusCode::ACCEPTED);

        // Refused requests store nothing.
        let unsigned = deliver(&sender, "paid", &[], &paid).await;
        assert_eq!((unsigned.0, code(&unsigned.1)), (StatusCode::UNAUTHORIZED, "webhook_unverified"), "{}", b.name);
        let ts = now_secs().to_string();
        let forged = sign_v1(b"not the key", "msg_3", now_secs(), paid.to_string().as_bytes());
        let headers = [("webhook-id", "msg_3"), ("webhook-timestamp", ts.as_str()), ("webhook-signature", &forged)];
        let forged = deliver(&sender, "paid", &headers, &paid).await;
        assert_eq!(forged.0, StatusCode::UNAUTHORIZED, "{}: {}", b.name, forged.1);
        let stale_ts = (now_secs() - 3600).to_string();
        let stale = sign_v1(&whsec_key(), "msg_4", now_secs() - 3600, paid.to_string().as_bytes());
        let headers =
            [("webhook-id", "msg_4"), ("webhook-timestamp", stale_ts.as_str()), ("webhook-signature", &stale)];
        let stale = deliver(&sender, "paid", &headers, &paid).await;
        assert_eq!(stale.0, StatusCode::UNAUTHORIZED, "{}: {}", b.name, stale.1);

        let done = settled(&http, "paid", 2).await;
        assert_eq!(done.len(), 2, "{}: only the two accepted deliveries are executions: {done:?}", b.name);
        let by_delivery: BTreeMap<&str, &Value> =
            done.iter().map(|e| (e["delivery_id"].as_str().unwrap_or(""), e)).collect();
        assert_eq!(by_delivery["msg_2"]["outcome"], "filtered", "{}", b.name);
        let fired = by_delivery["msg_1"];
        assert_eq!(fired["outcome"], "fired", "{}: {fired}", b.name);
        let run_id = fired["started"]["id"].as_str().expect("the run it started");
        let run = wait_for(
            "the run to succeed",
            PATIENCE,
            || async { http.get(&format!("/v1/spaces/acme/runs/{run_id}")).await.1 },
            |r| r["status"] == "succeeded",
        )
        .await;
        assert_eq!(run["output"], json!({ "order": "o-1", "via": "msg_1" }), "{}: {run}", b.name);
        let (_, runs) = http.get("/v1/spaces/acme/runs?flow=fulfil").await;
        assert_eq!(runs["runs"].as_array().map(Vec::len), Some(1), "{}: one run for one delivery: {runs}", b.name);

        // The trigger's health says what happened.
        let trigger = ok(http.get("/v1/spaces/acme/triggers/paid").await).await;
        assert_eq!(trigger["health"]["rejected"], 3, "{}: {trigger}", b.name);
        assert!(trigger["health"]["last_rejection"]["reason"].as_str().is_some_and(|r| r.contains("timestamp")));
        assert!(trigger["health"]["last_execution"]["id"].is_string(), "{}: {trigger}", b.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verification_scheme_accepts_its_signature_and_refuses_another() {
    let server = TestServer::start();
    let http = Http::new(&server);
    set_secret(&http, "gh", "It's a Secret to Everybody").await;
    set_secret(&http, "stripe", "whsec_stripe_test").await;
    set_secret(&http, "plain", "k3y").await;
    let signer = decode_whsk(&format!("whsk_{}", base64::engine::general_purpose::STANDARD.encode([7u8; 32])))
        .expect("a signing key");
    let public_key = encode_whpk(&signer);
    put_trigger(
        &http,
        "gh",
        "source: { webhook: { scheme: github, secrets: ['{{secrets.gh}}'] } }\ntarget: { topic: t }\n",
    )
    .await;
    put_trigger(
        &http,
        "stripe",
        "source: { webhook: { scheme: stripe, secrets: ['{{secrets.stripe}}'] } }\ntarget: { topic: t }\n",
    )
    .await;
    put_trigger(
        &http,
        "plain",
        "source: { webhook: { scheme: hmac, secrets: ['{{secrets.plain}}'], header: X-Signature, algorithm: sha512,\n\
         encoding: base64, prefix: 'sha512=', id_header: X-Delivery } }\ntarget: { topic: t }\n",
    )
    .await;
    put_trigger(
        &http,
        "ed",
        &format!("source: {{ webhook: {{ scheme: standard-webhooks, public_keys: ['{public_key}'] }} }}\ntarget: {{ topic: t }}\n"),
    )
    .await;

    let body = json!({ "hello": "world" });
    let text = body.to_string();
    let hex_tag = |key: &[u8], msg: &[u8]| hex::encode(hmac_tag(Algorithm::Sha256, key, msg));
    let ts = now_secs();
    let ts_text = ts.to_string();
    let gh_ok = format!("sha256={}", hex_tag(b"It's a Secret to Everybody", text.as_bytes()));
    let gh_bad = format!("sha256={}", hex_tag(b"another", text.as_bytes()));
    let stripe_ok = format!("t={ts},v1={}", hex_tag(b"whsec_stripe_test", format!("{ts}.{text}").as_bytes()));
    let stripe_bad = format!("t={ts},v1={}", hex_tag(b"whsec_other", format!("{ts}.{text}").as_bytes()));
    let b64 = |tag: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(tag);
    let plain_ok = format!("sha512={}", b64(hmac_tag(Algorithm::Sha512, b"k3y", text.as_bytes())));
    let plain_bad = format!("sha512={}", b64(hmac_tag(Algorithm::Sha256, b"k3y", text.as_bytes())));
    let ed_ok = sign_v1a(&signer, "msg_ed", ts, text.as_bytes());
    let other = decode_whsk(&format!("whsk_{}", base64::engine::general_purpose::STANDARD.encode([9u8; 32])))
        .expect("another key");
    let ed_bad = sign_v1a(&other, "msg_ed", ts, text.as_bytes());
    // Per trigger: the headers of a good delivery, then of a bad one.
    type Headers<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Headers, Headers)> = vec![
        (
            "gh",
            vec![("x-hub-signature-256", &gh_ok), ("x-github-delivery", "g-1")],
            vec![("x-hub-signature-256", &gh_bad), ("x-github-delivery", "g-2")],
        ),
        ("stripe", vec![("stripe-signature", &stripe_ok)], vec![("stripe-signature", &stripe_bad)]),
        (
            "plain",
            vec![("x-signature", &plain_ok), ("x-delivery", "p-1")],
            vec![("x-signature", &plain_bad), ("x-delivery", "p-2")],
        ),
        (
            "ed",
            vec![("webhook-id", "msg_ed"), ("webhook-timestamp", &ts_text), ("webhook-signature", &ed_ok)],
            vec![("webhook-id", "msg_ed"), ("webhook-timestamp", &ts_text), ("webhook-signature", &ed_bad)],
        ),
    ];
    let sender = Http::with_token(&server, None);
    for (trigger, good, bad) in cases {
        let (status, answer) = deliver(&sender, trigger, &good, &body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{trigger}: {answer}");
        let (status, answer) = deliver(&sender, trigger, &bad, &body).await;
        assert_eq!((status, code(&answer)), (StatusCode::UNAUTHORIZED, "webhook_unverified"), "{trigger}: {answer}");
        let done = settled(&http, trigger, 1).await;
        assert_eq!(done.len(), 1, "{trigger}: {done:?}");
        assert_eq!(done[0]["outcome"], "fired", "{trigger}: {done:?}");
        assert!(done[0]["started"]["seq"].is_u64(), "{trigger}: published: {done:?}");
    }
    // A trigger's own tolerance: a Stripe request signed an hour ago passes a 2h tolerance.
    put_trigger(
        &http,
        "lenient",
        "source: { webhook: { scheme: stripe, secrets: ['{{secrets.stripe}}'], tolerance: 2h } }\ntarget: { topic: t }\n",
    )
    .await;
    let old = ts - 3600;
    let old_signature = format!("t={old},v1={}", hex_tag(b"whsec_stripe_test", format!("{old}.{text}").as_bytes()));
    let (status, answer) = deliver(&sender, "lenient", &[("stripe-signature", &old_signature)], &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (status, answer) = deliver(&sender, "stripe", &[("stripe-signature", &old_signature)], &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the default tolerance is 5m: {answer}");
    // The delivery id of each scheme deduplicates.
    let (_, replay) =
        deliver(&sender, "gh", &[("x-hub-signature-256", &gh_ok), ("x-github-delivery", "g-1")], &body).await;
    assert_eq!(replay["replayed"], true, "{replay}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_accepted_before_a_sigkill_all_fire_after_the_restart() {
    let mut server = TestServer::start();
    let http = Http::new(&server);
    ok(http.put_yaml("/v1/spaces/acme/flows/fulfil", ECHO).await).await;
    set_secret(&http, "hook_key", WHSEC).await;
    put_trigger(
        &http,
        "paid",
        "source: { webhook: { scheme: standard-webhooks, secrets: ['{{secrets.hook_key}}'] } }\n\
         target: { flow: fulfil, input: 'body' }\n",
    )
    .await;
    // Deliveries from several senders at once; the server is killed as soon as the last one is
    // answered, before most have fired.
    let sender = Http::with_token(&server, None);
    let mut sends = Vec::new();
    for i in 0..40 {
        let sender = sender.clone();
        sends.push(tokio::spawn(async move {
            let body = json!({ "n": i });
            let answer = deliver_v1(&sender, "paid", &format!("msg_{i}"), &body).await;
            (i, answer)
        }));
    }
    let mut accepted = BTreeMap::new();
    for send in sends {
        let (i, (status, answer)) = send.await.expect("send");
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        accepted.insert(i, answer["execution"].as_str().expect("execution").to_owned());
    }
    server.kill();
    let server = TestServer::start_node(&server.data_dir.clone(), &[], &server.admin_token.clone());
    let http = Http::new(&server);
    let done = settled(&http, "paid", accepted.len()).await;
    let ids: BTreeSet<&str> = done.iter().filter_map(|e| e["id"].as_str()).collect();
    let expected: BTreeSet<&str> = accepted.values().map(String::as_str).collect();
    assert_eq!(ids, expected, "every accepted delivery is an execution, and nothing else");
    assert!(done.iter().all(|e| e["outcome"] == "fired"), "{done:?}");
    // One run per delivery, each with its own input.
    let runs: BTreeSet<&str> = done.iter().filter_map(|e| e["started"]["id"].as_str()).collect();
    assert_eq!(runs.len(), accepted.len(), "{done:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_fires_each_time_once_pauses_resumes_backfills_and_fires_now() {
    for b in backends().await {
        let http = Http::new(&b.server);
        ok(http.put_yaml("/v1/spaces/acme/flows/report", ECHO).await).await;
        let put = put_trigger(
            &http,
            "tick",
            "source: { interval: { every: 1s } }\ntarget: { flow: report, input: \"{'at': fire_time}\" }\n",
        )
        .await;
        assert_eq!(put["next_fire_times"].as_array().map(Vec::len), Some(5), "{}: {put}", b.name);
        let fired = |e: &Vec<Value>| e.iter().filter(|x| x["outcome"] == "fired").count();
        let ran = wait_for("three fire times", PATIENCE, || executions(&http, "tick"), |e| fired(e) >= 3).await;
        let times: Vec<&str> =
            ran.iter().filter(|e| e["outcome"] == "fired").filter_map(|e| e["fire_time"].as_str()).collect();
        let distinct: BTreeSet<&&str> = times.iter().collect();
        assert_eq!(distinct.len(), times.len(), "{}: each fire time fires once: {times:?}", b.name);

        // Paused: no new execution runs while fire times pass.
        let paused = ok(http.post("/v1/spaces/acme/triggers/tick/pause", json!({})).await).await;
        assert_eq!(
            (paused["paused"].as_bool(), paused["next_fire_times"].as_array().map(Vec::len)),
            (Some(true), Some(0))
        );
        let before = executions(&http, "tick").await;
        let started_before = before.iter().filter(|e| e["attempt"].as_u64() > Some(0)).count();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let after = executions(&http, "tick").await;
        let started_after = after.iter().filter(|e| e["attempt"].as_u64() > Some(0)).count();
        assert_eq!(started_before, started_after, "{}: a paused schedule fired: {after:?}", b.name);
        let hook = Http::with_token(&b.server, None).post("/hooks/acme/tick", json!({})).await;
        assert_eq!(code(&hook.1), "trigger_not_found", "{}: a schedule has no webhook", b.name);

        // Resumed: it fires again.
        ok(http.post("/v1/spaces/acme/triggers/tick/resume", json!({})).await).await;
        wait_for("a fire time after resuming", PATIENCE, || executions(&http, "tick"), |e| fired(e) > fired(&after))
            .await;
        ok(http.post("/v1/spaces/acme/triggers/tick/pause", json!({})).await).await;

        // Backfill a past range: once per fire time, however often it is asked.
        let range = json!({ "from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:04Z" });
        let first = ok(http.post("/v1/spaces/acme/triggers/tick/backfill", range.clone()).await).await;
        assert_eq!((first["count"].as_u64(), first["enqueued"].as_u64()), (Some(5), Some(5)), "{first}");
        let again = ok(http.post("/v1/spaces/acme/triggers/tick/backfill", range).await).await;
        assert_eq!(again["enqueued"], 0, "{again}");
        let backfilled = wait_for(
            "five backfilled executions",
            PATIENCE,
            || executions(&http, "tick"),
            |e| e.iter().filter(|x| x["source"] == "backfill" && x["outcome"] == "fired").count() == 5,
        )
        .await;
        let times: BTreeSet<&str> =
            backfilled.iter().filter(|e| e["source"] == "backfill").filter_map(|e| e["fire_time"].as_str()).collect();
        assert_eq!(times.first().copied(), Some("2026-01-01T00:00:00.000Z"), "{times:?}");
        assert_eq!(times.len(), 5, "{times:?}");

        // Fire now, even while paused.
        let now = ok(http.post("/v1/spaces/acme/triggers/tick/fire", json!({})).await).await;
        let id = now["id"].as_str().expect("execution id").to_owned();
        wait_for(
            "the manual execution",
            PATIENCE,
            || executions(&http, "tick"),
            |e| e.iter().any(|x| x["id"] == id.as_str() && x["outcome"] == "fired"),
        )
        .await;
        let bad =
            http.post("/v1/spaces/acme/triggers/tick/backfill", json!({ "from": "yesterday", "to": "now" })).await;
        assert_eq!(code(&bad.1), "validation_failed", "{}", bad.1);
        http.delete("/v1/spaces/acme/triggers/tick").await;
        let gone = http.get("/v1/spaces/acme/triggers/tick").await;
        assert_eq!((gone.0, code(&gone.1)), (StatusCode::NOT_FOUND, "trigger_not_found"), "{}", b.name);
    }
}

/// A machine that only records what started it: one instance per fire time.
const TICKS: &str = "name: tick\ninitial: idle\nstates:\n  idle: {}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_postgres_fire_each_time_exactly_once_while_one_dies() {
    // A dead node's jobs run again 2 s after its last renewal; missed fire times are caught up.
    const FLAGS: [&str; 2] = ["--job-lease", "2s"];
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
    let args: Vec<&str> = ["--store", db.url()].into_iter().chain(FLAGS).collect();
    let dirs =
        [tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir")];
    let a = TestServer::start_in(dirs[0].path(), &args);
    let mut b = TestServer::start_node(dirs[1].path(), &args, &a.admin_token);
    let c = TestServer::start_node(dirs[2].path(), &args, &a.admin_token);
    let http = Http::new(&a);
    ok(http.put_yaml("/v1/spaces/acme/machines/tick", TICKS).await).await;
    put_trigger(
        &http,
        "tick",
        "source: { interval: { every: 1s, catch_up: 1m, overlap: allow_all } }\n\
         target: { machine: tick, input: \"{'at': fire_time}\" }\n",
    )
    .await;
    let instances = |http: &Http| {
        let http = http.clone();
        async move {
            let (_, page) = http.get("/v1/spaces/acme/machines/tick/instances?limit=1000").await;
            page["instances"].as_array().cloned().unwrap_or_default()
        }
    };
    // A minute of fire times; B dies halfway through, holding whatever it held.
    wait_for("30 fire times", Duration::from_secs(120), || instances(&http), |i| i.len() >= 30).await;
    b.kill();
    wait_for("60 fire times", Duration::from_secs(120), || instances(&http), |i| i.len() >= 60).await;
    ok(http.post("/v1/spaces/acme/triggers/tick/pause", json!({})).await).await;
    let survivor = Http::new(&c);
    let done = wait_for(
        "every started execution to finish",
        PATIENCE,
        || executions(&survivor, "tick"),
        |e| e.iter().all(|x| x["status"] != "running" && (x["status"] != "pending" || x["attempt"] == 0)),
    )
    .await;
    let fired: Vec<&str> =
        done.iter().filter(|e| e["outcome"] == "fired").filter_map(|e| e["fire_time"].as_str()).collect();
    let all = instances(&http).await;
    let mut per_time: BTreeMap<String, usize> = BTreeMap::new();
    for instance in &all {
        *per_time.entry(instance["ctx"]["at"].as_str().unwrap_or("").to_owned()).or_default() += 1;
    }
    let twice: Vec<_> = per_time.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "fire times that started two instances: {twice:?}");
    assert_eq!(per_time.len(), fired.len(), "one instance per fired execution");
    // No fire time between the first and the last is missing: each second fired once.
    let seconds: Vec<i64> =
        per_time.keys().map(|t| chrono::DateTime::parse_from_rfc3339(t).expect("a fire time").timestamp()).collect();
    let (first, last) = (seconds[0], seconds[seconds.len() - 1]);
    assert_eq!(seconds.len() as i64, last - first + 1, "every second from the first to the last: {seconds:?}");
    assert!(done.iter().all(|e| e["status"] != "dead"), "{done:?}");
}

const ORDER: &str = "name: order\ninitial: pending\nstates: { pending: {}, paid: {} }\n\
                     transitions:\n  - { from: pending, event: pay, to: paid }\n";

/// The log seqs of the records an event trigger fired for, oldest first.
fn fired_seqs(executions: &[Value]) -> Vec<u64> {
    let mut seqs: Vec<u64> = executions
        .iter()
        .filter(|e| e["source"] == "event" && e["outcome"] == "fired")
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    seqs.sort_unstable();
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_pattern_fires_once_per_matching_record_across_pause_and_sigkill() {
    // A dead node's consumer is taken over 2 s after its last renewal.
    for b in backends_with(&["--job-lease", "2s"]).await {
        let mut server = b.server;
        let http = Http::new(&server);
        ok(http.put_yaml("/v1/spaces/acme/machines/order", ORDER).await).await;
        ok(http.put_yaml("/v1/spaces/acme/flows/fulfil", ECHO).await).await;
        put_trigger(
            &http,
            "on-paid",
            "source: { event: { when: \"record.state == 'paid'\", kinds: [instance.transitioned] } }\n\
             target: { flow: fulfil, input: \"{'order': record.address, 'seq': record.seq}\" }\n",
        )
        .await;
        let pay = |http: Http, id: String| async move {
            ok(http.post("/v1/spaces/acme/machines/order/instances", json!({ "id": id })).await).await;
            let path = format!("/v1/spaces/acme/machines/order/instances/{id}/events");
            ok(http.post(&path, json!({ "event": "pay" })).await).await;
        };
        for i in 0..3 {
            pay(http.clone(), format!("o-{i}")).await;
        }
        let first =
            wait_for("three firings", PATIENCE, || executions(&http, "on-paid"), |e| fired_seqs(e).len() == 3).await;
        let runs: BTreeSet<&str> = first.iter().filter_map(|e| e["started"]["id"].as_str()).collect();
        assert_eq!(runs.len(), 3, "{}: {first:?}", b.name);

        // Paused, the pattern reads nothing; resumed, it fires for what came meanwhile.
        ok(http.post("/v1/spaces/acme/triggers/on-paid/pause", json!({})).await).await;
        pay(http.clone(), "o-paused".into()).await;
        ok(http.post("/v1/spaces/acme/triggers/on-paid/resume", json!({})).await).await;
        wait_for("the paused record fired", PATIENCE, || executions(&http, "on-paid"), |e| fired_seqs(e).len() == 4)
            .await;

        // Records written just before a SIGKILL fire once after the restart.
        for i in 0..5 {
            pay(http.clone(), format!("k-{i}")).await;
        }
        // The killed server keeps its data directory (dropped with it at the end).
        server.kill();
        let mut args = vec!["--job-lease", "2s"];
        if let Some(db) = &b._db {
            args.extend(["--store", db.url()]);
        }
        let restarted = TestServer::start_node(&server.data_dir.clone(), &args, &server.admin_token.clone());
        let _killed = std::mem::replace(&mut server, restarted);
        let http = Http::new(&server);
        let done = wait_for(
            "nine firings",
            Duration::from_secs(120),
            || executions(&http, "on-paid"),
            |e| fired_seqs(e).len() >= 9,
        )
        .await;
        let seqs = fired_seqs(&done);
        let distinct: BTreeSet<&u64> = seqs.iter().collect();
        assert_eq!((seqs.len(), distinct.len()), (9, 9), "{}: once per record: {seqs:?}", b.name);
        let (_, runs) = http.get("/v1/spaces/acme/runs?flow=fulfil&limit=100").await;
        assert_eq!(runs["runs"].as_array().map(Vec::len), Some(9), "{}: one run per record: {runs}", b.name);
        // A transition that is not a payment fires nothing.
        assert!(done.iter().all(|e| e["source"] != "event" || e["outcome"] == "fired"), "{done:?}");
        drop(server);
    }
}

/// A flow whose runs wait for a `done` event: a run a schedule started is still going.
const HOLD: &str = "nodes:\n  - { id: hold, kind: wait, event: done }\n";

/// The executions of `trigger` with this outcome.
fn with_outcome<'a>(executions: &'a [Value], outcome: &str) -> Vec<&'a Value> {
    executions.iter().filter(|e| e["outcome"] == outcome).collect()
}

async fn run_status(http: &Http, id: &str) -> String {
    let (_, run) = http.get(&format!("/v1/spaces/acme/runs/{id}")).await;
    run["status"].as_str().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlap_policies_skip_cancel_or_buffer_a_fire_time_while_the_last_run_goes_on() {
    let server = TestServer::start();
    let http = Http::new(&server);
    ok(http.put_yaml("/v1/spaces/acme/flows/hold", HOLD).await).await;
    for (name, overlap) in [("skips", "skip"), ("cancels", "cancel_previous"), ("buffers", "buffer_one")] {
        let yaml = format!("source: {{ interval: {{ every: 1s, overlap: {overlap} }} }}\ntarget: {{ flow: hold }}\n");
        put_trigger(&http, name, &yaml).await;
    }

    // skip: the first run goes on; the fire times after it are skipped, naming it.
    let skips = wait_for(
        "two skipped fire times",
        PATIENCE,
        || executions(&http, "skips"),
        |e| with_outcome(e, "skipped").len() >= 2,
    )
    .await;
    let fired = with_outcome(&skips, "fired");
    assert_eq!(fired.len(), 1, "only the first fire time started a run: {skips:?}");
    let first = fired[0]["started"]["id"].as_str().expect("run id").to_owned();
    assert!(with_outcome(&skips, "skipped").iter().all(|e| e["started"].is_null()), "{skips:?}");
    assert_eq!(run_status(&http, &first).await, "waiting");

    // cancel_previous: each fire time cancels the run before it.
    let cancels =
        wait_for("three runs", PATIENCE, || executions(&http, "cancels"), |e| with_outcome(e, "fired").len() >= 3)
            .await;
    let mut runs: Vec<(String, String)> = with_outcome(&cancels, "fired")
        .iter()
        .filter_map(|e| Some((e["fire_time"].as_str()?.to_owned(), e["started"]["id"].as_str()?.to_owned())))
        .collect();
    runs.sort();
    for (_, id) in &runs[..runs.len() - 1] {
        let status =
            wait_for("an earlier run cancelled", PATIENCE, || run_status(&http, id), |s| s == "cancelled").await;
        assert_eq!(status, "cancelled");
    }

    // buffer_one: one fire time waits for the run to end; the ones after it are skipped.
    let buffered = wait_for(
        "a buffered fire time and a skipped one",
        PATIENCE,
        || executions(&http, "buffers"),
        |e| {
            with_outcome(e, "fired").len() == 1
                && !with_outcome(e, "skipped").is_empty()
                && e.iter().any(|x| x["error"]["code"] == "overlap_buffered" && x["status"] == "pending")
        },
    )
    .await;
    let first = with_outcome(&buffered, "fired")[0]["started"]["id"].as_str().expect("run id").to_owned();
    let waiting = buffered.iter().find(|x| x["error"]["code"] == "overlap_buffered").expect("buffered");
    let waiting_id = waiting["id"].as_str().expect("id").to_owned();
    // The run ends: the buffered fire time fires (within a few seconds of its next look).
    ok(http.post(&format!("/v1/spaces/acme/runs/{first}/events"), json!({ "event": "done" })).await).await;
    let after = wait_for(
        "the buffered fire time to fire",
        PATIENCE,
        || executions(&http, "buffers"),
        |e| e.iter().any(|x| x["id"] == waiting_id.as_str() && x["outcome"] == "fired"),
    )
    .await;
    assert_eq!(run_status(&http, &first).await, "succeeded");
    assert!(with_outcome(&after, "fired").len() >= 2, "{after:?}");
    for name in ["skips", "cancels", "buffers"] {
        ok(http.post(&format!("/v1/spaces/acme/triggers/{name}/pause"), json!({})).await).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_downtime_a_schedule_fires_only_the_latest_time_or_every_one_in_its_catch_up_window() {
    let mut server = TestServer::start();
    let http = Http::new(&server);
    ok(http.put_yaml("/v1/spaces/acme/flows/report", ECHO).await).await;
    put_trigger(&http, "latest", "source: { interval: { every: 1s } }\ntarget: { flow: report }\n").await;
    put_trigger(&http, "every", "source: { interval: { every: 1s, catch_up: 1h } }\ntarget: { flow: report }\n").await;
    for name in ["latest", "every"] {
        wait_for("a first firing", PATIENCE, || executions(&http, name), |e| !with_outcome(e, "fired").is_empty())
            .await;
    }
    // Down for four seconds: four or so fire times pass with no node to run them.
    server.kill();
    let stopped = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let server = TestServer::start_in(&server.data_dir.clone(), &[]);
    let http = Http::new(&server);
    let down = stopped.elapsed().as_secs();

    // catch_up 0: the head that was due when the node died is missed, the latest passed fires.
    let latest = wait_for(
        "the missed head and the latest",
        PATIENCE,
        || executions(&http, "latest"),
        |e| {
            with_outcome(e, "missed").len() == 1
                && e.iter().any(|x| x["source"] == "catch_up" && x["outcome"] == "fired")
        },
    )
    .await;
    let caught_up: Vec<_> = latest.iter().filter(|e| e["source"] == "catch_up").collect();
    assert_eq!(caught_up.len(), 1, "only the latest missed time fires: {caught_up:?}");

    // catch_up 1h: every fire time that passed fires, once each.
    let every = wait_for(
        "every missed time",
        PATIENCE,
        || executions(&http, "every"),
        |e| e.iter().filter(|x| x["source"] == "catch_up" && x["outcome"] == "fired").count() as u64 >= down - 1,
    )
    .await;
    assert!(with_outcome(&every, "missed").is_empty(), "{every:?}");
    let mut times: Vec<&str> = with_outcome(&every, "fired").iter().filter_map(|e| e["fire_time"].as_str()).collect();
    let count = times.len();
    times.sort_unstable();
    times.dedup();
    assert_eq!(times.len(), count, "each fire time once: {times:?}");
    for name in ["latest", "every"] {
        ok(http.post(&format!("/v1/spaces/acme/triggers/{name}/pause"), json!({})).await).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_target_starts_what_it_names_and_a_one_off_time_fires_once() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let client = server.client();
    client
        .deploy_function(
            "acme",
            "hello",
            &switchyard_testkit::example_function_bytes("hello"),
            &switchyard_client::FunctionSettings::default(),
        )
        .await
        .expect("deploy");
    ok(http.put_yaml("/v1/spaces/acme/machines/order", ORDER).await).await;
    let hook = "source: { webhook: { scheme: github, secrets: ['{{secrets.gh}}'] } }";
    let targets = [
        ("greet", "target: { function: hello, input: \"{'name': body.who}\" }"),
        ("open", "target: { machine: order, id: \"'o-' + string(body.n)\", input: \"{'n': body.n}\" }"),
        ("pay", "target: { instance: \"'order:p-' + string(body.n)\", event: pay, create: true, input: '{}' }"),
    ];
    for (name, target) in targets {
        put_trigger(&http, name, &format!("{hook}\n{target}\n")).await;
    }
    let fire = |name: &'static str, body: Value| {
        let http = http.clone();
        async move { ok(http.post(&format!("/v1/spaces/acme/triggers/{name}/fire"), json!({ "body": body })).await).await }
    };
    fire("greet", json!({ "who": "trigger" })).await;
    fire("open", json!({ "n": 7 })).await;
    fire("pay", json!({ "n": 8 })).await;
    for name in ["greet", "open", "pay"] {
        let done = settled(&http, name, 1).await;
        assert_eq!(done[0]["outcome"], "fired", "{name}: {done:?}");
    }
    // The function ran with the mapped input.
    let greeted = settled(&http, "greet", 1).await;
    let invocation = greeted[0]["started"]["invocation"].as_str().expect("an invocation id").to_owned();
    let finished = wait_for(
        "the invocation to finish",
        PATIENCE,
        || async { http.get(&format!("/v1/spaces/acme/invocations/{invocation}")).await.1 },
        |i| i["status"] == "succeeded",
    )
    .await;
    assert_eq!(finished["output"], json!({ "greeting": "Hello, trigger!" }), "{finished}");
    // The instance has the computed id and context; the event created its instance, then moved it.
    let (_, opened) = http.get("/v1/spaces/acme/machines/order/instances/o-7").await;
    assert_eq!((opened["state"].as_str(), &opened["ctx"]), (Some("pending"), &json!({ "n": 7 })), "{opened}");
    let (_, paid) = http.get("/v1/spaces/acme/machines/order/instances/p-8").await;
    assert_eq!(paid["state"], "paid", "{paid}");

    // A cron pattern is read in its zone: 09:00 in Paris is 08:00 or 07:00 UTC.
    let cron = put_trigger(
        &http,
        "paris",
        "source: { cron: { schedule: '0 9 * * *', timezone: Europe/Paris } }\ntarget: { topic: t }\n",
    )
    .await;
    let next = cron["next_fire_times"][0].as_str().expect("a next fire time").to_owned();
    assert!(next.ends_with("T08:00:00.000Z") || next.ends_with("T07:00:00.000Z"), "{cron}");

    // A one-off time two seconds ahead fires once, then the trigger has no next fire time.
    let at = humantime::format_rfc3339_seconds(std::time::SystemTime::now() + Duration::from_secs(2)).to_string();
    let put =
        put_trigger(&http, "once", &format!("source: {{ at: {{ time: '{at}' }} }}\ntarget: {{ topic: once }}\n")).await;
    assert_eq!(put["next_fire_times"].as_array().map(Vec::len), Some(1), "{put}");
    let done = settled(&http, "once", 1).await;
    assert_eq!((done.len(), done[0]["outcome"].as_str()), (1, Some("fired")), "{done:?}");
    let (_, once) = http.get("/v1/spaces/acme/triggers/once").await;
    assert_eq!(once["next_fire_times"], json!([]), "{once}");
}
