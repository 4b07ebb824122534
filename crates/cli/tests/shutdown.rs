//! Shutdown against the real binary (issue 12, defect 1): SIGTERM while ten SSE watchers, a
//! WebSocket and writers are connected ends every stream cleanly (SSE with its last chunk, the
//! WebSocket with close code 1001), exits 0 long before the grace would cut anything, and loses
//! no acknowledged write.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use support::TestServer;
use support::http::Http;
use support::sse::SseReader;
use switchyard_testkit::wait_until;
use tokio_tungstenite::tungstenite::Message;

/// How long anything may take before the test calls it a hang. The grace below is longer, so a
/// stream that held shutdown until the grace cut it fails the test.
const BOUND: Duration = Duration::from_secs(20);
const GRACE: &str = "60s";
const WATCHERS: usize = 10;
const WRITERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_with_watchers_a_websocket_and_writers_exits_cleanly_and_keeps_every_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = TestServer::start_in(dir.path(), &["--shutdown-grace", GRACE]);
    let (status, body) =
        Http::new(&server).put_json("/v1/spaces/acme/machines/m", &json!({"initial": "a", "states": ["a"]})).await;
    assert_eq!(status, 200, "{body}");

    let watch_url = format!("{}/v1/spaces/acme/watch?from=1", server.url);
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        watchers.push(SseReader::open(&watch_url, &server.admin_token, None).await);
    }
    let ws_url = format!("{}/v1/spaces/acme/watch/ws?from=1", server.url.replace("http://", "ws://"));
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url).expect("request");
    request.headers_mut().insert("authorization", format!("Bearer {}", server.admin_token).parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("websocket");

    // Writers create instances until the server stops answering; what got a 201 is acknowledged.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (url, token, acked) = (server.url.clone(), server.admin_token.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(BOUND).build().expect("client");
            for n in 0.. {
                let id = format!("w{w}-{n}");
                let sent = client
                    .post(format!("{url}/v1/spaces/acme/machines/m/instances"))
                    .bearer_auth(&token)
                    .json(&json!({ "id": id }))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 201 => acked.lock().expect("lock").push(id),
                    // Refused or cut by the shutdown: not acknowledged, so not counted.
                    _ => return,
                }
            }
        }));
    }
    // Every stream is live and writes are flowing before the signal.
    for watcher in &mut watchers {
        assert!(watcher.next(BOUND).await.is_some(), "a watcher saw no event");
    }
    let first = tokio::time::timeout(BOUND, socket.next()).await.expect("a WebSocket message in time");
    assert!(matches!(first, Some(Ok(Message::Text(_)))), "{first:?}");
    wait_until("writes to be flowing", BOUND, || async { (acked.lock().expect("lock").len() >= 40).then_some(()) })
        .await;

    let terminated = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server)
    });
    for (i, watcher) in watchers.iter_mut().enumerate() {
        assert!(watcher.ends_within(BOUND).await, "watcher {i}'s stream held shutdown");
    }
    let close = loop {
        match tokio::time::timeout(BOUND, socket.next()).await.expect("the WebSocket closes in time") {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("the WebSocket ended without a close frame: {other:?}"),
        }
    };
    let close = close.expect("a close frame with a code");
    assert_eq!(u16::from(close.code), 1001, "{close:?}");
    let (status, server) = tokio::time::timeout(BOUND, terminated).await.expect("serve exits in time").expect("join");
    assert!(status.success(), "serve exits 0 on SIGTERM, not {status:?}");
    for writer in writers {
        tokio::time::timeout(BOUND, writer).await.expect("writer stops").expect("writer task");
    }
    drop(server);

    // Every acknowledged write is there after a restart.
    let acked = acked.lock().expect("lock").clone();
    let restarted = TestServer::start_in(dir.path(), &[]);
    let http = Http::new(&restarted);
    for id in &acked {
        let (status, body) = http.get(&format!("/v1/spaces/acme/machines/m/instances/{id}")).await;
        assert_eq!(status, 200, "acknowledged instance {id} was lost: {body}");
    }
}
