//! Outbound webhooks through the real binary, on SQLite and PostgreSQL: a log record reaches
//! each endpoint that asks for it as a signed Standard Webhooks request (`v1` and `v1a`); a
//! delivery that fails three times and then succeeds is received four times under one
//! `webhook-id` and recorded once; `410 Gone` disables the endpoint (re-enabled, it reads on;
//! the dead delivery re-drives under its old id); the circuit breaker opens after consecutive
//! failures, holds deliveries back without spending their attempts, and closes after a probe
//! succeeds; a private-network URL is refused unless the node allows it.
//!
//! Tests wait on what the server or the receiver shows, never on the clock, except where a
//! test must show that nothing happens (a disabled endpoint sends nothing), which it can only
//! do by letting time pass.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestServer;
use support::http::Http;
use support::run::run;
use support::target::{Answer, Target};
use switchyard_testkit::{PATIENCE, TestDatabase, wait_for};
use switchyard_webhooks::{Scheme, decode_whpk, decode_whsec, decode_whsk, encode_whpk};

struct Backend {
    name: &'static str,
    server: TestServer,
    _db: Option<TestDatabase>,
}

/// Both backends, allowed to reach the loopback receiver.
async fn backends() -> Vec<Backend> {
    let args = ["--jobs-allow-private-networks"];
    let sqlite = Backend { name: "sqlite", server: TestServer::start_with(&args), _db: None };
    let db = tokio::task::spawn_blocking(TestDatabase::create).await.expect("database");
    let server = TestServer::start_with(&["--store", db.url(), "--jobs-allow-private-networks"]);
    vec![sqlite, Backend { name: "postgres", server, _db: Some(db) }]
}

/// The endpoint's signing secret and Ed25519 key.
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WHSK: &str = "whsk_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

async fn ok(answer: (StatusCode, Value)) -> Value {
    assert!(answer.0.is_success(), "{} {}", answer.0, answer.1);
    answer.1
}

async fn set_secrets(http: &Http) {
    ok(http.put_json("/v1/spaces/acme/secrets/hook_secret", &json!({ "value": WHSEC })).await).await;
    ok(http.put_json("/v1/spaces/acme/secrets/hook_key", &json!({ "value": WHSK })).await).await;
}

async fn put_endpoint(http: &Http, name: &str, yaml: &str) -> Value {
    ok(http.put_yaml(&format!("/v1/spaces/acme/endpoints/{name}"), yaml).await).await
}

/// Publishes one message: a `topic.message` record.
async fn publish(http: &Http, payload: Value) -> u64 {
    let answer = ok(http.post("/v1/spaces/acme/topics/orders/messages", json!({ "payload": payload })).await).await;
    answer["seq"].as_u64().unwrap_or_else(|| panic!("no seq in {answer}"))
}

async fn deliveries(http: &Http, endpoint: &str) -> Vec<Value> {
    let page = ok(http.get(&format!("/v1/spaces/acme/endpoints/{endpoint}/deliveries")).await).await;
    page["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Waits until the endpoint has a delivery in `status`; that delivery.
async fn delivery_in(http: &Http, endpoint: &str, status: &str) -> Value {
    let all = wait_for(
        &format!("a {status} delivery to {endpoint}"),
        PATIENCE,
        || deliveries(http, endpoint),
        |all| all.iter().any(|d| d["status"] == status),
    )
    .await;
    all.into_iter().find(|d| d["status"] == status).expect("found")
}

/// Checks a received request is a Standard Webhooks delivery the endpoint's secret and public
/// key verify; its `webhook-id` and body.
fn verified(seen: &support::target::Seen, with_v1a: bool) -> (String, Value) {
    let header = |name: &str| seen.headers.get(name).cloned().unwrap_or_else(|| panic!("no {name} header"));
    let headers = [
        ("webhook-id", header("webhook-id")),
        ("webhook-timestamp", header("webhook-timestamp")),
        ("webhook-signature", header("webhook-signature")),
    ];
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    let v1 = Scheme::StandardWebhooks { secrets: vec![decode_whsec(WHSEC).expect("whsec")], public_keys: vec![] };
    v1.verify(pairs.as_slice(), &seen.body, now, 300).expect("the v1 signature verifies");
    // A body changed by one byte does not verify.
    let mut forged = seen.body.clone();
    forged.push(b' ');
    assert!(v1.verify(pairs.as_slice(), &forged, now, 300).is_err(), "a modified body must not verify");
    if with_v1a {
        let public = decode_whpk(&encode_whpk(&decode_whsk(WHSK).expect("whsk"))).expect("whpk");
        let v1a = Scheme::StandardWebhooks { secrets: vec![], public_keys: vec![public] };
        v1a.verify(pairs.as_slice(), &seen.body, now, 300).expect("the v1a signature verifies");
    }
    assert_eq!(seen.headers.get("content-type").map(String::as_str), Some("application/json"));
    let body: Value = serde_json::from_slice(&seen.body).expect("a JSON body");
    (header("webhook-id"), body)
}

/// Delivery that fails three times then succeeds: four requests under one `webhook-id`, each
/// signed afresh; one delivery recorded with its attempts. Fan-out: a second endpoint gets the
/// same record, and a filter keeps a third from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_fails_three_times_lands_once_under_one_webhook_id() {
    for b in backends().await {
        let http = Http::new(&b.server);
        set_secrets(&http).await;
        let flaky =
            Target::start(vec![Answer::status(503), Answer::status(500), Answer::status(503), Answer::status(200)])
                .await;
        let steady = Target::start(vec![Answer::status(204)]).await;
        let retry = "retry: { max_attempts: 10, initial: 20ms, multiplier: 1, max: 20ms }";
        let put = put_endpoint(
            &http,
            "billing",
            &format!(
                "url: {}\nsecret: '{{{{secrets.hook_secret}}}}'\nsigning_key: '{{{{secrets.hook_key}}}}'\nkinds: [topic.message]\nheaders: {{ X-Team: billing }}\n{retry}\nbreaker: {{ failures: 100 }}\n",
                flaky.url("/hooks/billing")
            ),
        )
        .await;
        assert_eq!(put["created"], true, "{}: {put}", b.name);
        assert_eq!(put["enabled"], true);
        put_endpoint(
            &http,
            "audit",
            &format!("url: {}\nsecret: '{{{{secrets.hook_secret}}}}'\nkinds: [topic.message]\n", steady.url("/audit")),
        )
        .await;
        put_endpoint(
            &http,
            "refunds-only",
            &format!(
                "url: {}\nsecret: '{{{{secrets.hook_secret}}}}'\nfilter: \"record.kind == 'topic.message' && record.payload.payload.type == 'refund'\"\n",
                steady.url("/refunds")
            ),
        )
        .await;
        // The same definition again changes nothing.
        let again = put_endpoint(
            &http,
            "audit",
            &format!("url: {}\nsecret: '{{{{secrets.hook_secret}}}}'\nkinds: [topic.message]\n", steady.url("/audit")),
        )
        .await;
        assert_eq!((again["changed"].clone(), again["version"].clone()), (json!(false), json!(1)), "{}", b.name);

        let seq = publish(&http, json!({ "type": "payment", "order": "o-1" })).await;
        let delivered = delivery_in(&http, "billing", "succeeded").await;
        assert_eq!(delivered["attempt"], 4, "{}: three failures and one success: {delivered}", b.name);
        assert_eq!(delivered["response_status"], 200);
        assert_eq!(delivered["seq"], seq);
        let errors: Vec<&str> = delivered["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .filter_map(|a| a["error"]["code"].as_str())
            .collect();
        assert_eq!(errors, ["http_503", "http_500", "http_503"], "{}: {delivered}", b.name);

        let seen = flaky.seen();
        assert_eq!(seen.len(), 4, "{}: four requests, no more", b.name);
        let ids: BTreeSet<String> = seen.iter().map(|s| verified(s, true).0).collect();
        assert_eq!(ids.len(), 1, "{}: one webhook-id across attempts: {ids:?}", b.name);
        assert_eq!(ids.first(), delivered["webhook_id"].as_str().map(str::to_string).as_ref());
        let (_, body) = verified(&seen[3], true);
        assert_eq!(body["type"], "topic.message", "{body}");
        assert_eq!(body["data"]["seq"], seq);
        assert_eq!(body["data"]["payload"]["payload"]["order"], "o-1", "{body}");
        assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
        assert_eq!(seen[3].headers.get("x-team").map(String::as_str), Some("billing"));
        assert_eq!(seen[3].path, "/hooks/billing");

        // Fan-out: the audit endpoint got the record once; the filtered one got nothing of it.
        let audit = delivery_in(&http, "audit", "succeeded").await;
        assert_eq!((audit["seq"].clone(), audit["attempt"].clone()), (json!(seq), json!(1)), "{}", b.name);
        let refund = publish(&http, json!({ "type": "refund", "order": "o-2" })).await;
        let refunded = delivery_in(&http, "refunds-only", "succeeded").await;
        assert_eq!(refunded["seq"], refund, "{}: only the refund passes the filter", b.name);
        assert_eq!(deliveries(&http, "refunds-only").await.len(), 1, "{}", b.name);
        // Deliveries' own job records are never delivered: the audit endpoint that follows
        // every topic message has exactly the two.
        wait_for(
            "audit has both messages",
            PATIENCE,
            || deliveries(&http, "audit"),
            |all| all.iter().filter(|d| d["status"] == "succeeded").count() == 2,
        )
        .await;

        let view = ok(http.get("/v1/spaces/acme/endpoints/billing").await).await;
        assert_eq!(view["health"]["breaker"], "closed", "{view}");
        assert_eq!(view["health"]["last_delivery"]["status"], "succeeded", "{view}");
        let list = ok(http.get("/v1/spaces/acme/endpoints").await).await;
        let names: Vec<&str> =
            list["endpoints"].as_array().expect("list").iter().filter_map(|e| e["name"].as_str()).collect();
        assert_eq!(names, ["audit", "billing", "refunds-only"]);
    }
}

/// `410 Gone` disables the endpoint: the delivery is dead (`endpoint_gone`), later records are
/// not sent while it is disabled; enabled again it reads on from where it stopped, and the dead
/// delivery re-drives under its old `webhook-id`. Through the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_an_endpoint_until_it_is_enabled_and_redriven() {
    for b in backends().await {
        let http = Http::new(&b.server);
        set_secrets(&http).await;
        let receiver = Target::start(vec![Answer::status(410), Answer::status(200)]).await;
        let dir = tempfile::tempdir().expect("tempdir");
        // Named by --name: neither the file (`endpoint.yaml`) nor its content says `crm`.
        let file = dir.path().join("endpoint.yaml");
        std::fs::write(
            &file,
            format!("url: {}\nsecret: '{{{{secrets.hook_secret}}}}'\nkinds: [topic.message]\n", receiver.url("/crm")),
        )
        .expect("write");
        let applied = run(
            &mut b.server.cli(),
            &["--space", "acme", "endpoint", "apply", "-f", file.to_str().expect("path"), "--name", "crm"],
        )
        .ok();
        assert!(applied.contains("endpoint crm version 1 (created)"), "{}: {applied}", b.name);

        let first = publish(&http, json!({ "n": 1 })).await;
        let dead = delivery_in(&http, "crm", "dead").await;
        assert_eq!(dead["error"]["code"], "endpoint_gone", "{}: {dead}", b.name);
        assert_eq!(dead["seq"], first);
        let view = ok(http.get("/v1/spaces/acme/endpoints/crm").await).await;
        assert_eq!(view["enabled"], false, "{}: {view}", b.name);
        assert!(view["disabled_reason"].as_str().is_some_and(|r| r.contains("410")), "{view}");
        let got = run(&mut b.server.cli(), &["--space", "acme", "endpoint", "get", "crm"]).ok();
        assert!(got.contains("disabled"), "{got}");

        // Disabled: a new record is not sent.
        let second = publish(&http, json!({ "n": 2 })).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(receiver.seen().len(), 1, "{}: a disabled endpoint sends nothing", b.name);

        // Enabled: it reads on (the record written while it was disabled is delivered).
        let enabled = run(&mut b.server.cli(), &["--space", "acme", "endpoint", "enable", "crm", "-o", "json"]).json();
        assert_eq!(enabled["enabled"], true, "{enabled}");
        wait_for(
            "the second record delivered",
            PATIENCE,
            || deliveries(&http, "crm"),
            |all| all.iter().any(|d| d["seq"] == second && d["status"] == "succeeded"),
        )
        .await;
        // The dead one re-drives by id, under its first webhook-id.
        let id = dead["id"].as_str().expect("id");
        let redriven = run(
            &mut b.server.cli(),
            &["--space", "acme", "endpoint", "redrive", "crm", "--delivery", id, "-o", "json"],
        )
        .json();
        assert_eq!(redriven["id"], id);
        wait_for(
            "the re-driven delivery lands",
            PATIENCE,
            || deliveries(&http, "crm"),
            |all| all.iter().any(|d| d["id"] == id && d["status"] == "succeeded"),
        )
        .await;
        let seen = receiver.seen();
        assert_eq!(seen.len(), 3, "{}: 410, the second record, the re-drive", b.name);
        let (first_id, _) = verified(&seen[0], false);
        let (redriven_id, body) = verified(&seen[2], false);
        assert_eq!(first_id, redriven_id, "{}: a re-drive keeps the webhook-id", b.name);
        assert_eq!(body["data"]["seq"], first);

        // Range re-drive: nothing is dead now.
        let none = run(&mut b.server.cli(), &["--space", "acme", "endpoint", "redrive", "crm", "-o", "json"]).json();
        assert_eq!(none["redriven"], 0, "{none}");
        let ranged = run(
            &mut b.server.cli(),
            &[
                "--space",
                "acme",
                "endpoint",
                "redrive",
                "crm",
                "--from",
                "2000-01-01T00:00:00Z",
                "--to",
                "2100-01-01T00:00:00Z",
                "-o",
                "json",
            ],
        )
        .json();
        assert_eq!(ranged["redriven"], 0, "{ranged}");
        let page = run(
            &mut b.server.cli(),
            &["--space", "acme", "endpoint", "deliveries", "crm", "--limit", "1", "-o", "json"],
        )
        .json();
        let before = page["next_before"].as_str().expect("a second page");
        let rest = run(
            &mut b.server.cli(),
            &["--space", "acme", "endpoint", "deliveries", "crm", "--before", before, "-o", "json"],
        )
        .json();
        assert_eq!(rest["deliveries"].as_array().map(Vec::len), Some(1), "{rest}");
        let listed =
            run(&mut b.server.cli(), &["--space", "acme", "endpoint", "deliveries", "crm", "-o", "json"]).json();
        assert_eq!(listed["deliveries"].as_array().map(Vec::len), Some(2), "{listed}");
        let table = run(&mut b.server.cli(), &["--space", "acme", "endpoint", "list"]).ok();
        assert!(table.contains("crm") && table.contains("enabled"), "{table}");
        let disabled = run(
            &mut b.server.cli(),
            &["--space", "acme", "endpoint", "disable", "crm", "--reason", "maintenance", "-o", "json"],
        )
        .json();
        assert_eq!(disabled["disabled_reason"], "maintenance");
        run(&mut b.server.cli(), &["--space", "acme", "endpoint", "delete", "crm"]).ok();
        let (status, _) = http.get("/v1/spaces/acme/endpoints/crm").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

/// The breaker opens after three failures in a row: while it is open nothing is sent and no
/// attempt is spent; after the cooldown one probe goes; a failed probe opens it for longer, a
/// successful one closes it and the waiting deliveries go. Every request is an attempt, so the
/// attempts the deliveries count equal the requests the receiver saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_after_failures_and_recovers_after_a_probe() {
    for b in backends().await {
        let http = Http::new(&b.server);
        set_secrets(&http).await;
        // Three failures open it, the first probe fails, the second succeeds.
        let receiver = Target::start(vec![
            Answer::status(500),
            Answer::status(500),
            Answer::status(500),
            Answer::status(500),
            Answer::status(200),
        ])
        .await;
        put_endpoint(
            &http,
            "ledger",
            &format!(
                "url: {}\nsecret: '{{{{secrets.hook_secret}}}}'\nkinds: [topic.message]\nretry: {{ max_attempts: 50, initial: 10ms, multiplier: 1, max: 10ms }}\nbreaker: {{ failures: 3, cooldown: 1s }}\n",
                receiver.url("/ledger")
            ),
        )
        .await;
        let start = Instant::now();
        publish(&http, json!({ "n": 1 })).await;
        let open = wait_for(
            "the breaker opens",
            PATIENCE,
            || async { ok(http.get("/v1/spaces/acme/endpoints/ledger").await).await },
            |view| view["health"]["breaker"] == "open",
        )
        .await;
        assert!(open["health"]["consecutive_failures"].as_u64() >= Some(3), "{open}");
        // More records while it is open wait with the first.
        publish(&http, json!({ "n": 2 })).await;
        publish(&http, json!({ "n": 3 })).await;
        wait_for(
            "all three delivered",
            PATIENCE,
            || deliveries(&http, "ledger"),
            |all| all.len() == 3 && all.iter().all(|d| d["status"] == "succeeded"),
        )
        .await;
        let seen = receiver.seen();
        // 3 failures, a failed probe, a successful probe, then the other two.
        assert_eq!(seen.len(), 7, "{}: {} requests", b.name, seen.len());
        let attempts: u64 = deliveries(&http, "ledger").await.iter().filter_map(|d| d["attempt"].as_u64()).sum();
        assert_eq!(attempts, 7, "{}: held-back deliveries spend no attempt", b.name);
        // The cooldown (1 s, then 2 s after the failed probe) held them back at least that long.
        assert!(start.elapsed() >= Duration::from_secs(3), "{}: the breaker did not hold", b.name);
        let closed = ok(http.get("/v1/spaces/acme/endpoints/ledger").await).await;
        assert_eq!(closed["health"]["breaker"], "closed", "{closed}");
        assert_eq!(closed["health"]["consecutive_failures"], 0);
    }
}

/// Without `--jobs-allow-private-networks`, a delivery to a loopback address fails at once as
/// `capability_denied` and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_network_endpoint_is_refused_by_default() {
    let server = TestServer::start();
    let http = Http::new(&server);
    set_secrets(&http).await;
    let receiver = Target::start(vec![Answer::status(200)]).await;
    put_endpoint(
        &http,
        "inside",
        &format!("url: {}\nsecret: '{{{{secrets.hook_secret}}}}'\nkinds: [topic.message]\n", receiver.url("/x")),
    )
    .await;
    publish(&http, json!({ "n": 1 })).await;
    let dead = delivery_in(&http, "inside", "dead").await;
    assert_eq!(dead["error"]["code"], "capability_denied", "{dead}");
    assert_eq!(dead["attempt"], 1);
    assert!(receiver.seen().is_empty(), "nothing reached the private address");
}

/// Definitions that cannot work are refused with every problem named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_endpoint_definitions_are_refused() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let (status, body) = http
        .put_yaml(
            "/v1/spaces/acme/endpoints/bad",
            "url: ftp://example.com\nsecret: whsec_plain\nheaders: { webhook-id: x }\nfilter: 'record.kind +'\nbreaker: { failures: 0 }\n",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let text = body.to_string();
    for field in ["url", "secret", "headers.webhook-id", "filter", "breaker.failures"] {
        assert!(text.contains(field), "{field} is not named: {text}");
    }
    let (status, body) = http.get("/v1/spaces/acme/endpoints/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "endpoint_not_found", "{body}");
}

/// SIGKILL while deliveries are in flight: every published record reaches the receiver after
/// the restart — at least once, under one `webhook-id` per record — and is recorded as one
/// succeeded delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_delivered_across_a_sigkill() {
    const RECORDS: usize = 200;
    let mut server = TestServer::start_with(&["--jobs-allow-private-networks", "--job-lease", "2s"]);
    let mut http = Http::new(&server);
    set_secrets(&http).await;
    let receiver = Target::start(vec![Answer::status(200)]).await;
    put_endpoint(
        &http,
        "sink",
        &format!("url: {}\nsecret: '{{{{secrets.hook_secret}}}}'\nkinds: [topic.message]\n", receiver.url("/sink")),
    )
    .await;
    let mut seqs = BTreeSet::new();
    // The killed server's temporary directory is the data directory: kept until the end.
    let mut killed = None;
    for n in 0..RECORDS {
        seqs.insert(publish(&http, json!({ "n": n })).await);
        if n == RECORDS / 2 {
            // Kill it while the first half is being delivered, then bring it back.
            server.kill();
            let restarted = TestServer::start_node(
                &server.data_dir.clone(),
                &["--jobs-allow-private-networks", "--job-lease", "2s"],
                &server.admin_token.clone(),
            );
            killed = Some(std::mem::replace(&mut server, restarted));
            http = Http::new(&server);
        }
    }
    let all = wait_for(
        "every record delivered",
        PATIENCE,
        || async {
            let mut all = Vec::new();
            let mut before: Option<String> = None;
            loop {
                let path = match &before {
                    Some(b) => format!("/v1/spaces/acme/endpoints/sink/deliveries?limit=1000&before={b}"),
                    None => "/v1/spaces/acme/endpoints/sink/deliveries?limit=1000".to_string(),
                };
                let page = ok(http.get(&path).await).await;
                all.extend(page["deliveries"].as_array().cloned().unwrap_or_default());
                match page["next_before"].as_str() {
                    Some(next) => before = Some(next.to_string()),
                    None => return all,
                }
            }
        },
        |all| all.len() >= RECORDS && all.iter().all(|d| d["status"] == "succeeded"),
    )
    .await;
    let delivered: BTreeSet<u64> = all.iter().filter_map(|d| d["seq"].as_u64()).collect();
    assert_eq!(all.len(), RECORDS, "one delivery per record");
    assert_eq!(delivered, seqs, "every published record has its delivery");
    // The receiver saw every record; a repeat (an attempt cut by the kill) carries the same id.
    let seen = receiver.seen();
    let mut ids_by_seq = std::collections::BTreeMap::<u64, BTreeSet<String>>::new();
    for s in &seen {
        let (id, body) = verified(s, false);
        ids_by_seq.entry(body["data"]["seq"].as_u64().expect("seq")).or_default().insert(id);
    }
    assert_eq!(ids_by_seq.keys().copied().collect::<BTreeSet<_>>(), seqs, "the receiver got every record");
    assert!(ids_by_seq.values().all(|ids| ids.len() == 1), "one webhook-id per record");
    drop(killed);
}

/// Consumers take no job slot and do not count against a space's running-job limit: with a
/// limit of 2 running jobs per space, three endpoints (three always-running consumers) still
/// deliver, and the endpoint shows its consumer running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_do_not_starve_the_deliveries_they_feed() {
    let server =
        TestServer::start_with(&["--jobs-allow-private-networks", "--job-space-limit", "2", "--job-slots", "2"]);
    let http = Http::new(&server);
    set_secrets(&http).await;
    let receiver = Target::start(vec![Answer::status(200)]).await;
    for name in ["a", "b", "c"] {
        put_endpoint(
            &http,
            name,
            &format!("url: {}\nsecret: '{{{{secrets.hook_secret}}}}'\nkinds: [topic.message]\n", receiver.url("/")),
        )
        .await;
    }
    publish(&http, json!({ "n": 1 })).await;
    for name in ["a", "b", "c"] {
        delivery_in(&http, name, "succeeded").await;
    }
    let view = ok(http.get("/v1/spaces/acme/endpoints/a").await).await;
    assert_eq!(view["health"]["consumer"], "running", "{view}");
    // The lane is the server's own.
    let (status, body) =
        http.post("/v1/spaces/acme/jobs", json!({ "kind": "noop", "concurrency_key": "log-consumer" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}
