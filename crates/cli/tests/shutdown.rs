//! Shutdown against the real binary (issue 12, defect 1): SIGTERM while ten SSE watchers, a
//! WebSocket and writers are connected ends every stream cleanly (SSE with its last chunk, the
//! WebSocket with close code 1001), exits 0 long before the grace would cut anything, and loses
//! no acknowledged write. And (issue 13) the supervisor's drain: an asynchronous invocation
//! running at SIGTERM finishes before the process exits, within the grace; one that outlasts the
//! grace is cut, and stays pending to run again.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use support::TestServer;
use support::http::Http;
use support::sse::SseReader;
use switchyard_client::{Client, FunctionSettings, InvokeOptions};
use switchyard_testkit::{example_function_bytes, wait_until, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// A loopback HTTP server that answers its first request only once released: a function
/// fetching from it runs exactly as long as the test wants. Later requests (another attempt,
/// after a restart) are held unanswered for as long as the test runs, so such an attempt cannot
/// finish the invocation behind the test's back. Returns its `host:port`, a receiver told when
/// the first request arrived, and the sender that releases its answer.
async fn held_http_server() -> (String, tokio::sync::oneshot::Receiver<()>, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("the bound address").to_string();
    let (arrived_tx, arrived) = tokio::sync::oneshot::channel();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else { return };
        tokio::spawn(async move {
            let mut head = vec![0u8; 4096];
            let _ = socket.read(&mut head).await;
            let _ = arrived_tx.send(());
            // Dropped unsent (the test gave up on it): close without answering.
            if released.await.is_err() {
                return;
            }
            let body = "released";
            let answer =
                format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = socket.write_all(answer.as_bytes()).await;
        });
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (addr, arrived, release)
}

/// Deploys `misbehave` as `fetch`, allowed to reach `addr`, and invokes it asynchronously to
/// fetch from there; returns the invocation's id once its request reached `addr`.
async fn invoke_fetch_from(client: &Client, addr: &str, arrived: tokio::sync::oneshot::Receiver<()>) -> String {
    let settings = FunctionSettings {
        timeout_ms: Some(120_000),
        allowed_hosts: vec![addr.to_owned()],
        ..FunctionSettings::default()
    };
    client.deploy_function("acme", "fetch", &example_function_bytes("misbehave"), &settings).await.expect("deploy");
    let input = serde_json::to_vec(&json!({"do": "http", "url": format!("http://{addr}/slow")})).expect("input");
    let pending = client.invoke_async("acme", "fetch", input, &InvokeOptions::default()).await.expect("accepted");
    let id = pending["id"].as_str().expect("an invocation id").to_owned();
    within("the invocation's request to arrive", BOUND, arrived).await.expect("the function fetched");
    id
}

/// Sends SIGTERM from a blocking task; the task returns the exit status (and the server, so its
/// data directory outlives it).
fn terminate(mut server: TestServer) -> tokio::task::JoinHandle<(std::process::ExitStatus, TestServer)> {
    tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server)
    })
}

/// Waits until nothing accepts connections at the server's address: shutdown began.
async fn wait_until_not_accepting(url: &str) {
    let addr = url.trim_start_matches("http://").to_owned();
    wait_until("the server to stop accepting connections", BOUND, || async {
        tokio::net::TcpStream::connect(&addr).await.err().map(|_| ())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_waits_for_a_running_async_invocation_which_is_succeeded_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (addr, arrived, release) = held_http_server().await;
    let server = TestServer::start_in(dir.path(), &["--shutdown-grace", GRACE, "--function-allow-private-networks"]);
    let url = server.url.clone();
    let id = invoke_fetch_from(&server.client(), &addr, arrived).await;

    let terminated = terminate(server);
    wait_until_not_accepting(&url).await;
    // The invocation cannot finish before the release: the process must still be there.
    assert!(!terminated.is_finished(), "serve exited while an invocation it accepted was still running");
    release.send(()).expect("the held request is waiting");
    let (status, server) = within("serve to exit", BOUND, terminated).await.expect("join");
    assert!(status.success(), "serve exits 0 on SIGTERM, not {status:?}");
    drop(server);

    // Finished by the first process (attempt 1): the restarted one has not claimed it, its lease
    // being far from over.
    let restarted = TestServer::start_in(dir.path(), &[]);
    let record = restarted.client().get_invocation("acme", &id).await.expect("the invocation record");
    assert_eq!(record["status"], "succeeded", "{record}");
    assert_eq!(record["attempt"], 1, "{record}");
    assert_eq!(record["output"], json!({"status": 200, "body": "released"}), "{record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cuts_an_async_invocation_that_outlasts_the_grace_and_it_stays_pending() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (addr, arrived, release) = held_http_server().await;
    let server = TestServer::start_in(dir.path(), &["--shutdown-grace", "1s", "--function-allow-private-networks"]);
    let id = invoke_fetch_from(&server.client(), &addr, arrived).await;

    // Never released: the grace ends first.
    let (status, server) = within("serve to exit once the grace ended", BOUND, terminate(server)).await.expect("join");
    assert!(status.success(), "serve exits 0 on SIGTERM even when it cut work, not {status:?}");
    drop(server);
    drop(release);

    // The restarted node may start another attempt at once (the cut one gave its lease up); it
    // may reach the held server, which never answers it, so the invocation cannot finish here.
    let restarted = TestServer::start_in(dir.path(), &["--function-allow-private-networks"]);
    let client = restarted.client();
    let record = client.get_invocation("acme", &id).await.expect("the invocation record");
    assert_eq!(record["status"], "pending", "a cut invocation runs again: {record}");
    // The cut attempt ended when the node gave its lease up (the restarted node may have begun
    // another since).
    assert!(record["attempt"].as_u64().is_some_and(|a| a >= 1), "{record}");
    // The stopping node gave its job's lease up: the cut attempt failed with `node_shutdown`,
    // and the job runs again by its policy instead of once the lease would have ended.
    let job = client.get_job("acme", &id).await.expect("the invocation's job");
    assert_eq!(job["attempts"][0]["error"]["code"], "node_shutdown", "{job}");
    assert_ne!(job["lease"]["owner"], job["attempts"][0]["owner"], "the stopped node holds nothing: {job}");
}
