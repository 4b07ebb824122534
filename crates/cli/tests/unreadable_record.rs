//! Issue 11, item 1, against the real binary on SQLite: a log record that cannot be read back
//! (stored 130 levels deep, deeper than the reader reads) stalls nothing. A watcher of another
//! space keeps receiving, a watcher of the record's space gets one `record_unreadable` event
//! and goes on, a replay from seq 1 passes it, a subscription pull delivers past it (and acks
//! it), and `/metrics` counts it once.
//!
//! The damage is done with raw SQL through a second connection to the server's database file
//! while it runs (WAL mode allows it): a trigger rewrites the payload of the next `acme` record
//! that mentions "poison" inside the store's own transaction, so the server's log tail meets it
//! unreadable the first time it reads it. (Inserting a row outright is not possible beside a
//! running server: its writer owns the numbering of seqs.)

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::TestServer;
use support::sse::{Sse, SseReader};

/// A watch of one space, failing the test when no event comes within 10 s.
struct SpaceWatch(SseReader);

impl SpaceWatch {
    async fn open(server: &TestServer, space: &str, from: Option<u64>) -> SpaceWatch {
        let mut url = format!("{}/v1/spaces/{space}/watch", server.url);
        if let Some(from) = from {
            url.push_str(&format!("?from={from}"));
        }
        SpaceWatch(SseReader::open(&url, &server.admin_token, None).await)
    }

    async fn next(&mut self) -> Sse {
        self.0.next(Duration::from_secs(10)).await.expect("an event within 10 s")
    }
}

async fn request(server: &TestServer, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, String) {
    let mut req =
        reqwest::Client::new().request(method, format!("{}{path}", server.url)).bearer_auth(&server.admin_token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let response = req.send().await.expect("request");
    (response.status().as_u16(), response.text().await.expect("body"))
}

async fn publish(server: &TestServer, space: &str, payload: Value) -> u64 {
    let path = format!("/v1/spaces/{space}/topics/news/messages");
    let (status, body) = request(server, reqwest::Method::POST, &path, Some(json!({ "payload": payload }))).await;
    assert_eq!(status, 201, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["seq"].as_u64().expect("seq")
}

/// Checks `event` is the unreadable record `seq` of `acme:news`.
fn assert_unreadable(event: &Sse, seq: u64) {
    assert_eq!(event.id, Some(seq), "{event:?}");
    assert_eq!(event.event.as_deref(), Some("record_unreadable"), "{event:?}");
    assert_eq!(event.data["seq"], seq);
    assert_eq!(event.data["kind"], "topic.message");
    assert_eq!(event.data["address"], "acme:news");
    assert_eq!(event.data["payload"], Value::Null);
    assert_eq!(event.data["unreadable"]["code"], "record_unreadable", "{event:?}");
    let message = event.data["unreadable"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("recursion limit"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_record_in_one_space_stalls_no_reader() {
    let server = TestServer::start();
    let (status, body) = request(
        &server,
        reqwest::Method::PUT,
        "/v1/spaces/acme/subscriptions/reader",
        Some(json!({ "from": "earliest" })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mut beta = SpaceWatch::open(&server, "beta", None).await;
    let mut acme = SpaceWatch::open(&server, "acme", None).await;
    // The watchers are live once a record written now reaches them.
    let warm_beta = publish(&server, "beta", json!("warm")).await;
    assert_eq!(beta.next().await.id, Some(warm_beta));
    let warm_acme = publish(&server, "acme", json!("warm")).await;
    assert_eq!(acme.next().await.id, Some(warm_acme));

    {
        let deep = format!("{{\"payload\":{}{}}}", "[".repeat(129), "]".repeat(129));
        let conn = rusqlite::Connection::open(server.data_dir.join("switchyard.db")).expect("open the database");
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn.execute_batch(&format!(
            "CREATE TRIGGER poison AFTER INSERT ON events
             WHEN NEW.space = 'acme' AND NEW.payload LIKE '%poison%'
             BEGIN UPDATE events SET payload = '{deep}' WHERE seq = NEW.seq; END;"
        ))
        .expect("create the trigger");
    }
    let bad = publish(&server, "acme", json!({ "poison": true })).await;
    let mut beta_seqs = Vec::new();
    let mut acme_seqs = Vec::new();
    for n in 0..3 {
        beta_seqs.push(publish(&server, "beta", json!({ "n": n })).await);
        acme_seqs.push(publish(&server, "acme", json!({ "n": n })).await);
    }

    // Another space's watcher: every one of its records, readable, nothing else.
    for &seq in &beta_seqs {
        let event = beta.next().await;
        assert_eq!((event.id, event.event.as_deref().unwrap_or("")), (Some(seq), "topic.message"), "{event:?}");
        assert_eq!(event.data["payload"]["payload"]["n"].as_u64().map(|_| ()), Some(()));
    }
    // The record's own space: one marker, then the stream goes on.
    assert_unreadable(&acme.next().await, bad);
    for &seq in &acme_seqs {
        let event = acme.next().await;
        assert_eq!((event.id, event.event.as_deref().unwrap_or("")), (Some(seq), "topic.message"), "{event:?}");
    }

    // A new watcher replaying from seq 1 passes it the same way.
    let mut replay = SpaceWatch::open(&server, "acme", Some(1)).await;
    assert_eq!(replay.next().await.id, Some(warm_acme));
    assert_unreadable(&replay.next().await, bad);
    for &seq in &acme_seqs {
        assert_eq!(replay.next().await.id, Some(seq));
    }

    // A pull in that space delivers past it; acking everything leaves nothing pending.
    let (status, body) =
        request(&server, reqwest::Method::POST, "/v1/spaces/acme/subscriptions/reader/pull?max=100", None).await;
    assert_eq!(status, 200, "{body}");
    let records = serde_json::from_str::<Value>(&body).unwrap()["records"].as_array().cloned().unwrap_or_default();
    let seqs: Vec<u64> = records.iter().filter_map(|r| r["seq"].as_u64()).collect();
    let mut expected = vec![warm_acme, bad];
    expected.extend(&acme_seqs);
    assert_eq!(seqs, expected);
    assert_eq!(records[1]["unreadable"]["code"], "record_unreadable");
    let (status, body) = request(
        &server,
        reqwest::Method::POST,
        "/v1/spaces/acme/subscriptions/reader/ack",
        Some(json!({ "seqs": seqs })),
    )
    .await;
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()["acked"].as_u64()), (200, Some(5)), "{body}");
    let (_, body) = request(&server, reqwest::Method::GET, "/v1/spaces/acme/subscriptions/reader", None).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["pending"], 0, "{body}");

    // Read by the tail, a replay and a pull: counted once.
    let (status, metrics) = request(&server, reqwest::Method::GET, "/metrics", None).await;
    assert_eq!(status, 200);
    let count = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchyard_log_unreadable_records_total "))
        .unwrap_or_else(|| panic!("no switchyard_log_unreadable_records_total in\n{metrics}"));
    assert_eq!(count.trim(), "1");

    // And the node is still live for everyone.
    let later = publish(&server, "beta", json!("later")).await;
    assert_eq!(beta.next().await.id, Some(later));
}
