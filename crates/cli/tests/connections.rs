//! Connection hygiene against the real binary, with raw TCP clients: idle, slowloris and
//! slow-body connections are closed (or answered 408) after their timeouts, the connection cap
//! refuses with the JSON 503 and recovers, requests hyper cannot parse get the JSON error body,
//! idle connections starve neither `/healthz` nor another space's watcher, hundreds of SSE
//! watchers outlive every timeout, and shutdown ends event streams and is bounded.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::TestServer;
use switchyard_testkit::{wait_until, wait_until_blocking};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long anything may take before a test calls it a hang.
const BOUND: Duration = Duration::from_secs(20);

fn host(server: &TestServer) -> String {
    server.url.trim_start_matches("http://").to_string()
}

fn connect(server: &TestServer) -> TcpStream {
    let stream = TcpStream::connect(host(server)).expect("connect");
    stream.set_read_timeout(Some(BOUND)).expect("read timeout");
    stream
}

/// One parsed response: status, head (lower-cased) and body.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        assert!(self.head.contains("content-type: application/json"), "not JSON: {}", self.head);
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Reads one response with a `content-length` body (every non-streaming answer has one).
fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => bytes.push(byte[0]),
            Ok(_) => panic!("connection closed inside a response head: {:?}", String::from_utf8_lossy(&bytes)),
            Err(e) => panic!("no response head ({e}): {:?}", String::from_utf8_lossy(&bytes)),
        }
    }
    let head = String::from_utf8(bytes).expect("head is text").to_ascii_lowercase();
    let status = head[9..12].parse().expect("a status");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().expect("a length"))
        .unwrap_or_else(|| panic!("no content-length: {head}"));
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("the whole body");
    Answer { status, head, body }
}

fn request(stream: &mut TcpStream, text: &str) -> Answer {
    stream.write_all(text.as_bytes()).expect("send");
    read_answer(stream)
}

/// Whether the server closed `stream` within `BOUND` (end of stream or reset, after any bytes).
fn closed_within_bound(stream: &mut TcpStream) -> bool {
    let mut sink = [0u8; 1024];
    let start = Instant::now();
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => return true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return false,
            Err(e) => panic!("read: {e}"),
        }
        if start.elapsed() > BOUND {
            return false;
        }
    }
}

fn healthz(server: &TestServer) -> Answer {
    let mut stream = connect(server);
    request(&mut stream, "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
}

/// Publishes `payload` to topic `t` in `space` with the admin token; returns the status.
fn publish(server: &TestServer, space: &str, payload: Value) -> u16 {
    let body = json!({ "payload": payload }).to_string();
    let mut stream = connect(server);
    let answer = request(
        &mut stream,
        &format!(
            "POST /v1/spaces/{space}/topics/t/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            server.admin_token,
            body.len()
        ),
    );
    answer.status
}

/// What `partial_publish` sends of the body.
const PAYLOAD_START: &str = "{\"payload\":";

/// The head of a publish whose body is `length` bytes long, and the first bytes of that body.
fn partial_publish(server: &TestServer, space: &str, length: usize) -> TcpStream {
    let mut stream = connect(server);
    stream
        .write_all(
            format!(
                "POST /v1/spaces/{space}/topics/t/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n{PAYLOAD_START}",
                server.admin_token
            )
            .as_bytes(),
        )
        .expect("send");
    stream
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    // The head timeout is long: only the idle timeout can close these within the bound.
    let server = TestServer::start_with(&["--idle-timeout", "1s", "--header-read-timeout", "60s"]);
    let mut fresh = connect(&server);
    let mut kept_alive = connect(&server);
    let answer = request(&mut kept_alive, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    assert_eq!(answer.status, 200);
    assert!(closed_within_bound(&mut fresh), "a connection that never sent a byte stayed open");
    assert!(closed_within_bound(&mut kept_alive), "a kept-alive connection stayed open after its response");
    assert_eq!(healthz(&server).status, 200);
}

#[test]
fn a_trickled_request_head_is_closed_after_the_header_read_timeout() {
    // The idle timeout is long: only the head timeout can close this within the bound.
    let server = TestServer::start_with(&["--header-read-timeout", "1s", "--idle-timeout", "60s"]);
    let mut stream = connect(&server);
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n").expect("send");
    let mut writer = stream.try_clone().expect("clone");
    let trickle = std::thread::spawn(move || {
        let start = Instant::now();
        // A header byte every 200 ms: always making progress, never finishing.
        while start.elapsed() < BOUND + Duration::from_secs(5) {
            if writer.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    assert!(closed_within_bound(&mut stream), "a trickled head kept its connection open");
    trickle.join().expect("trickle thread");
    assert_eq!(healthz(&server).status, 200);
}

#[test]
fn a_slow_body_gets_408_request_timeout_and_its_connection_closes() {
    let server = TestServer::start_with(&["--body-read-timeout", "1s"]);
    assert_eq!(publish(&server, "acme", json!({ "n": 1 })), 201);
    let mut slow = partial_publish(&server, "acme", 100);
    let answer = read_answer(&mut slow);
    assert_eq!(answer.status, 408);
    let body = answer.json();
    assert_eq!(body["error"]["code"], "request_timeout", "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("1s"), "{body}");
    assert!(answer.head.contains("connection: close"), "{}", answer.head);
    assert!(closed_within_bound(&mut slow));
    // The route itself is fine for a body that arrives.
    assert_eq!(publish(&server, "acme", json!({ "n": 2 })), 201);
}

#[test]
fn past_the_connection_cap_a_new_connection_gets_503_json_and_the_server_recovers() {
    let server = TestServer::start_with(&["--max-connections", "3"]);
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut stream = connect(&server);
            // Answered, so the server has accepted and is counting it.
            assert_eq!(request(&mut stream, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").status, 200);
            stream
        })
        .collect();
    let mut extra = connect(&server);
    let answer = request(&mut extra, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    assert_eq!(answer.status, 503);
    let body = answer.json();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("too many connections") && message.contains("(limit 3)"), "{message}");
    assert_eq!(body["error"]["details"]["limit"], 3);
    assert!(closed_within_bound(&mut extra), "the refused connection was not closed");
    // A connection already in doesn't notice.
    assert_eq!(request(&mut held[0], "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").status, 200);
    // Once others close, a new connection is served again.
    held.truncate(1);
    wait_until_blocking("closed connections to free their places", BOUND, || {
        let answer = healthz(&server);
        assert!(matches!(answer.status, 200 | 503), "{}", answer.status);
        (answer.status == 200).then_some(())
    });
}

#[test]
fn requests_hyper_cannot_parse_get_the_json_error_body() {
    let server = TestServer::start();
    let long_uri = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70_000));
    let del_byte = "GET /healthz HTTP/1.1\r\nhost: x\r\nx-bad: a\x7fb\r\n\r\n".to_string();
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\n{}\r\n",
        (0..120).map(|i| format!("x-h{i}: v\r\n")).collect::<String>()
    );
    for (text, status, code) in
        [(long_uri, 414, "uri_too_long"), (del_byte, 400, "bad_request"), (many_headers, 431, "headers_too_large")]
    {
        let mut stream = connect(&server);
        let answer = request(&mut stream, &text);
        assert_eq!(answer.status, status, "{code}: {}", answer.head);
        let body = answer.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(!body["error"]["message"].as_str().unwrap_or("").is_empty(), "{body}");
        assert!(closed_within_bound(&mut stream), "{code}: the connection stayed open");
    }
    assert_eq!(healthz(&server).status, 200);
}

#[test]
fn zero_timeouts_are_refused_at_start_up() {
    let out = support::command()
        .args(["serve", "--listen", "127.0.0.1:0", "--idle-timeout", "0s"])
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("longer than zero"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A raw SSE watcher: the request sent and the 200 head read.
async fn open_watcher(server: &TestServer, space: &str) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(host(server)).await.expect("connect");
    stream
        .write_all(
            format!(
                "GET /v1/spaces/{space}/watch HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
                server.admin_token
            )
            .as_bytes(),
        )
        .await
        .expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(BOUND, stream.read(&mut byte)).await.expect("watch head in time").expect("read");
        assert_eq!(n, 1, "watch closed: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
}

/// Reads the stream until `marker` shows up; false if it does not within `BOUND` or the stream ends.
async fn sees(stream: &mut tokio::net::TcpStream, marker: &str) -> bool {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        if String::from_utf8_lossy(&seen).contains(marker) {
            return true;
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_starve_neither_healthz_nor_another_spaces_watcher() {
    let server = TestServer::start_with(&["--max-connections", "300"]);
    let server = std::sync::Arc::new(server);
    let s = server.clone();
    assert_eq!(tokio::task::spawn_blocking(move || publish(&s, "beta", json!({ "warm": true }))).await.unwrap(), 201);
    let mut watcher = open_watcher(&server, "beta").await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(tokio::net::TcpStream::connect(host(&server)).await.expect("an idle connection"));
    }
    let s = server.clone();
    let health = tokio::task::spawn_blocking(move || healthz(&s)).await.unwrap();
    assert_eq!(health.status, 200);
    let s = server.clone();
    let published =
        tokio::task::spawn_blocking(move || publish(&s, "beta", json!({ "marker": "written-while-200-idle" })))
            .await
            .unwrap();
    assert_eq!(published, 201);
    assert!(sees(&mut watcher, "written-while-200-idle").await, "the other space's watcher missed the event");
    // A new watcher is still let in.
    let mut late = open_watcher(&server, "beta").await;
    let s = server.clone();
    tokio::task::spawn_blocking(move || publish(&s, "beta", json!({ "marker": "for-the-late-watcher" })))
        .await
        .unwrap();
    assert!(sees(&mut late, "for-the-late-watcher").await);
    drop(idle);
}

#[tokio::test(flavor = "multi_thread")]
async fn three_hundred_sse_watchers_outlive_every_timeout_and_all_receive_an_event() {
    const WATCHERS: usize = 320;
    let server = std::sync::Arc::new(TestServer::start_with(&[
        "--idle-timeout",
        "1s",
        "--header-read-timeout",
        "1s",
        "--body-read-timeout",
        "1s",
    ]));
    let s = server.clone();
    assert_eq!(tokio::task::spawn_blocking(move || publish(&s, "acme", json!({ "warm": true }))).await.unwrap(), 201);
    let mut watchers = Vec::with_capacity(WATCHERS);
    for _ in 0..WATCHERS {
        watchers.push(open_watcher(&server, "acme").await);
    }
    // Well past every timeout the server was given.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = server.clone();
    let published = tokio::task::spawn_blocking(move || publish(&s, "acme", json!({ "marker": "after-the-timeouts" })))
        .await
        .unwrap();
    assert_eq!(published, 201);
    let tasks: Vec<_> = watchers
        .into_iter()
        .map(|mut w| tokio::spawn(async move { sees(&mut w, "after-the-timeouts").await }))
        .collect();
    let mut received = 0;
    for task in tasks {
        received += usize::from(task.await.expect("watcher task"));
    }
    assert_eq!(received, WATCHERS, "watchers cut or starved");
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_ends_event_streams_finishes_requests_and_is_bounded_by_the_grace() {
    let mut server = TestServer::start_with(&["--shutdown-grace", "5s", "--body-read-timeout", "120s"]);
    assert_eq!(publish(&server, "acme", json!({ "warm": true })), 201);
    let mut watcher = open_watcher(&server, "acme").await;
    let rest_of_body = br#"{"a":"finished in time"}}"#;
    let mut finishing = partial_publish(&server, "acme", PAYLOAD_START.len() + rest_of_body.len());
    let mut stuck = partial_publish(&server, "acme", 1000);
    // The server has the heads and waits for the bodies.
    let client = server.client();
    let publishing = r#"switchyard_http_requests_in_flight{route="/v1/spaces/{space}/topics/{name}/messages"}"#;
    wait_until("the server to be reading both bodies", BOUND, || async {
        (support::series(&client, publishing).await == Some(2.0)).then_some(())
    })
    .await;
    let terminated = std::thread::spawn(move || {
        let status = server.terminate();
        (status, server)
    });
    // The event stream ends, cleanly (the last chunk), and the connection closes.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(BOUND, watcher.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the event stream held shutdown");
    assert!(rest.ends_with(b"0\r\n\r\n"), "the stream was cut, not ended: {:?}", String::from_utf8_lossy(&rest));
    // A request under way when shutdown began still gets its answer.
    finishing.write_all(rest_of_body).expect("rest of the body");
    let answer = read_answer(&mut finishing);
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    // One that never finishes is cut once the grace is over, and the process exits cleanly.
    assert!(closed_within_bound(&mut stuck), "a stuck request held shutdown");
    let (status, _server) = terminated.join().expect("terminate thread");
    assert!(status.success(), "serve exits 0 on SIGTERM, not {status:?}");
}
