//! The watch API's `event=` filter against the real binary: a watch passes exactly the
//! transitions caused by that event — not other events' transitions into the same states, not
//! creations, not records whose payload merely mentions the event — alone and combined with
//! `state=`, `address=` and `kind=`, over SSE and WebSocket, in the replay and live.
//!
//! Completeness without waiting: the expected seqs are known from the write answers, and the
//! last write is a sentinel every watch passes, so a watch has delivered all it ever will of
//! the writes before it once the sentinel arrives.

mod support;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestServer;
use support::http::Http;
use support::sse::SseReader;
use switchyard_testkit::{PATIENCE, within};

/// `pay` and `settle` both lead from `pending` to `paid`; `pay` again leads from `paid` to
/// `settled`; `refund` goes back to `pending`, so an instance can pay again.
const ORDER: &str = r#"
name: order
initial: pending
states: { pending: {}, paid: {}, settled: {}, cancelled: { final: true } }
transitions:
  - { from: pending, event: pay, to: paid }
  - { from: pending, event: settle, to: paid }
  - { from: paid, event: pay, to: settled }
  - { from: [paid, settled], event: refund, to: pending }
  - { from: [pending, paid, settled], event: cancel, to: cancelled }
"#;

/// The writes and the seqs of those each watch must pass.
#[derive(Default)]
struct Expected {
    /// `event=pay`.
    pay: Vec<u64>,
    /// `event=pay&state=paid`.
    pay_into_paid: Vec<u64>,
    /// `event=pay&address=acme:order:o-1`.
    pay_of_o1: Vec<u64>,
    /// `event=cancel&kind=instance.transitioned` (WebSocket).
    cancel: Vec<u64>,
}

struct Writer {
    http: Http,
}

impl Writer {
    async fn create(&self, id: &str, ctx: Value) {
        let (status, body) =
            self.http.post("/v1/spaces/acme/machines/order/instances", json!({ "id": id, "ctx": ctx })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// Sends `event` to `id`; returns the transition's seq and the state entered.
    async fn send(&self, id: &str, event: &str) -> (u64, String) {
        let path = format!("/v1/spaces/acme/machines/order/instances/{id}/events");
        // The payload names another event, which the filter must not look at.
        let (status, body) = self.http.post(&path, json!({ "event": event, "payload": { "event": "cancel" } })).await;
        assert_eq!(status, StatusCode::OK, "{event} to {id}: {body}");
        (body["seq"].as_u64().expect("a seq"), body["to"].as_str().expect("a state").to_owned())
    }

    /// Sends `event` to `id` and files its seq under every watch it must pass.
    async fn apply(&self, expected: &mut Expected, id: &str, event: &str) -> u64 {
        let (seq, to) = self.send(id, event).await;
        if event == "pay" {
            expected.pay.push(seq);
            if to == "paid" {
                expected.pay_into_paid.push(seq);
            }
            if id == "o-1" {
                expected.pay_of_o1.push(seq);
            }
        }
        if event == "cancel" {
            expected.cancel.push(seq);
        }
        seq
    }

    /// Records that no `event=` watch may pass: a topic message and a KV value whose payloads
    /// carry `event` and `to` fields.
    async fn decoys(&self) {
        let message = json!({ "payload": { "event": "pay", "to": "paid" }, "headers": { "event": "pay" } });
        let (status, body) = self.http.post("/v1/spaces/acme/topics/order/messages", message).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = self
            .http
            .send(
                reqwest::Method::PUT,
                "/v1/spaces/acme/kv/orders/keys/event",
                Some(("application/json", br#"{"event":"pay","to":"paid"}"#.to_vec())),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// The ids of what `watch` sends up to and including `last`, checking each is a transition.
async fn sse_until(watch: &mut SseReader, last: u64) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.last() != Some(&last) {
        let event = watch.next(PATIENCE).await.unwrap_or_else(|| panic!("no record within {PATIENCE:?}; had {seqs:?}"));
        assert_eq!(event.event.as_deref(), Some("instance.transitioned"), "{event:?}");
        let seq = event.id.expect("an id");
        assert_eq!(event.data["seq"], seq, "{event:?}");
        assert!(seq <= last, "a record past the sentinel {last}: {event:?}");
        seqs.push(seq);
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_filter_passes_exactly_the_transitions_of_that_event() {
    let server = TestServer::start();
    let writer = Writer { http: Http::new(&server) };
    let (status, body) = writer.http.put_yaml("/v1/spaces/acme/machines/order", ORDER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut expected = Expected::default();

    // Before the watches start: they replay these from the store.
    writer.create("o-1", json!({ "event": "pay" })).await;
    writer.create("o-2", json!({})).await;
    writer.create("o-3", json!({})).await;
    writer.apply(&mut expected, "o-1", "pay").await; // pending -> paid
    writer.apply(&mut expected, "o-2", "settle").await; // into paid by another event
    writer.apply(&mut expected, "o-2", "pay").await; // paid -> settled
    writer.decoys().await;

    let base = format!("{}/v1/spaces/acme/watch?from=1", server.url);
    let token = &server.admin_token;
    let mut pay = SseReader::open(&format!("{base}&event=pay"), token, None).await;
    let mut pay_into_paid = SseReader::open(&format!("{base}&event=pay&state=paid"), token, None).await;
    let mut pay_of_o1 = SseReader::open(&format!("{base}&event=pay&address=acme:order:o-1"), token, None).await;
    let ws_url = format!(
        "{}&event=cancel&kind=instance.transitioned",
        base.replace("http://", "ws://").replace("/watch?", "/watch/ws?")
    );
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url).expect("a request");
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("a header"));
    let (mut cancels, _) = within("the WebSocket handshake", PATIENCE, tokio_tungstenite::connect_async(request))
        .await
        .expect("a WebSocket");

    // After: the watches get these live.
    writer.apply(&mut expected, "o-1", "refund").await;
    writer.apply(&mut expected, "o-3", "cancel").await;
    writer.apply(&mut expected, "o-2", "refund").await;
    writer.apply(&mut expected, "o-2", "pay").await; // pending -> paid
    writer.apply(&mut expected, "o-2", "cancel").await;
    writer.decoys().await;
    // The sentinels: a pay of o-1 into paid passes every pay watch; a cancel ends the other.
    let pay_sentinel = writer.apply(&mut expected, "o-1", "pay").await;
    let cancel_sentinel = writer.apply(&mut expected, "o-1", "cancel").await;

    assert_eq!(sse_until(&mut pay, pay_sentinel).await, expected.pay, "event=pay");
    assert_eq!(sse_until(&mut pay_into_paid, pay_sentinel).await, expected.pay_into_paid, "event=pay&state=paid");
    assert_eq!(sse_until(&mut pay_of_o1, pay_sentinel).await, expected.pay_of_o1, "event=pay&address=acme:order:o-1");
    let mut seen = Vec::new();
    while seen.last() != Some(&cancel_sentinel) {
        let message = within("a record on the WebSocket", PATIENCE, cancels.next())
            .await
            .expect("the WebSocket stays open")
            .expect("a message");
        let record: Value = serde_json::from_str(message.to_text().expect("a text message")).expect("JSON");
        assert_eq!(
            (record["kind"].as_str(), record["payload"]["event"].as_str()),
            (Some("instance.transitioned"), Some("cancel")),
            "{record}"
        );
        seen.push(record["seq"].as_u64().expect("a seq"));
    }
    assert_eq!(seen, expected.cancel, "event=cancel&kind=instance.transitioned over WebSocket");

    // Each expectation is a strict part of the log: the filters had something to leave out.
    assert_eq!(expected.pay.len(), 4);
    assert_eq!(expected.pay_into_paid.len(), 3);
    assert_eq!(expected.pay_of_o1.len(), 2);
    assert_eq!(expected.cancel.len(), 3);
}
