//! Watching the log over SSE and WebSocket, against the real binary: the replay-to-live
//! hand-off has no gap and no duplicate under concurrent writers, a slow consumer falls behind
//! the server's buffer (`switchyard_watch_catch_ups` counts it) and catches up,
//! filters and `Last-Event-ID` work, topics publish into the log, and on PostgreSQL a write
//! through one node reaches a watcher on another.

mod support;

use std::time::Duration;
use switchyard_testkit::fixtures::CYCLE_JSON as CYCLE;

use serde_json::{Value, json};
use support::TestServer;
use support::sse::SseReader;
use switchyard_testkit::{PATIENCE, wait_until, within};

async fn setup(server: &TestServer, instances: usize) {
    let http = reqwest::Client::new();
    let resp = http
        .put(format!("{}/v1/spaces/acme/machines/cycle", server.url))
        .bearer_auth(&server.admin_token)
        .header("content-type", "application/json")
        .body(CYCLE)
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status().as_u16(), 200);
    for i in 0..instances {
        let resp = http
            .post(format!("{}/v1/spaces/acme/machines/cycle/instances", server.url))
            .bearer_auth(&server.admin_token)
            .json(&json!({ "id": format!("i-{i}") }))
            .send()
            .await
            .expect("create");
        assert_eq!(resp.status().as_u16(), 201);
    }
}

/// `writers` tasks each apply `events` events; returns the highest seq acknowledged.
fn spawn_writers(
    url: &str,
    token: &str,
    writers: usize,
    events: usize,
    instances: usize,
) -> tokio::task::JoinHandle<u64> {
    spawn_padded_writers(url, token, writers, events, instances, 0)
}

/// [`spawn_writers`] with `pad` bytes of payload in every event.
fn spawn_padded_writers(
    url: &str,
    token: &str,
    writers: usize,
    events: usize,
    instances: usize,
    pad: usize,
) -> tokio::task::JoinHandle<u64> {
    let (url, token) = (url.to_string(), token.to_string());
    let body = if pad == 0 {
        json!({ "event": "next" })
    } else {
        json!({ "event": "next", "payload": { "pad": "x".repeat(pad) } })
    };
    tokio::spawn(async move {
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let (url, token, body) = (url.clone(), token.clone(), body.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    let mut max = 0;
                    for n in 0..events {
                        let id = format!("i-{}", (w + n * writers) % instances);
                        let body: Value = http
                            .post(format!("{url}/v1/spaces/acme/machines/cycle/instances/{id}/events"))
                            .bearer_auth(&token)
                            .json(&body)
                            .send()
                            .await
                            .expect("event")
                            .json()
                            .await
                            .expect("json");
                        max = max.max(body["seq"].as_u64().expect("seq"));
                    }
                    max
                })
            })
            .collect();
        let mut max = 0;
        for t in tasks {
            max = max.max(t.await.expect("writer"));
        }
        max
    })
}

/// Reads events until one has seq `last` (or fails after a quiet [`PATIENCE`]); returns the seqs.
async fn read_until(reader: &mut SseReader, last: u64, per_event: Duration) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.last().is_none_or(|s| *s < last) {
        let event = reader.next(PATIENCE).await.unwrap_or_else(|| panic!("no event after {seqs:?}"));
        let seq = event.id.expect("every event has an id");
        assert_eq!(event.data["seq"].as_u64(), Some(seq), "id is the record's seq");
        seqs.push(seq);
        if !per_event.is_zero() {
            tokio::time::sleep(per_event).await;
        }
    }
    seqs
}

/// The first seq of a fresh server's spaces: seq 1 is its first start's audit record (the admin
/// token's creation), in space `system`.
const FIRST_SEQ: u64 = 2;

fn assert_contiguous(seqs: &[u64], from: u64, to: u64) {
    let expected: Vec<u64> = (from..=to).collect();
    if seqs != expected.as_slice() {
        let dups = seqs.windows(2).filter(|w| w[0] == w[1]).count();
        panic!(
            "expected seqs {from}..={to} once each, got {} with {dups} duplicates: first {:?}",
            seqs.len(),
            &seqs[..seqs.len().min(10)]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watchers_started_mid_stream_get_every_record_once() {
    let server = TestServer::start();
    setup(&server, 8).await;
    let client = server.client();
    let before = support::gauge(&client, "switchyard_log_newest_seq").await;
    let writers = spawn_writers(&server.url, &server.admin_token, 8, 150, 8);
    wait_until("the writers to be under way", PATIENCE, || async {
        (support::gauge(&client, "switchyard_log_newest_seq").await >= before + 100.0).then_some(())
    })
    .await;
    // One replays from the beginning, one starts now; both while the writers write (and a
    // second wave starts only once both are open, so the live one surely has work).
    let mut replaying =
        SseReader::open(&format!("{}/v1/spaces/acme/watch?from=1", server.url), &server.admin_token, None).await;
    let mut live = SseReader::open(&format!("{}/v1/spaces/acme/watch", server.url), &server.admin_token, None).await;
    let second_wave = spawn_writers(&server.url, &server.admin_token, 4, 50, 8);
    let last = writers.await.expect("writers").max(second_wave.await.expect("second wave"));
    let all = read_until(&mut replaying, last, Duration::ZERO).await;
    assert_contiguous(&all, FIRST_SEQ, last);
    let tail = read_until(&mut live, last, Duration::ZERO).await;
    assert!(tail.len() > 1, "the live watcher saw the writes made after it started");
    assert_contiguous(&tail, tail[0], last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_consumer_falls_behind_and_catches_up_without_gaps() {
    // A tiny in-memory buffer, and a watcher that reads nothing while some 24 MB are written:
    // far more than socket buffers hold, so the server's side of it must fall out of the buffer.
    let server = TestServer::start_with(&["--watch-buffer", "8"]);
    setup(&server, 4).await;
    let client = server.client();
    let mut slow =
        SseReader::open(&format!("{}/v1/spaces/acme/watch?from=1", server.url), &server.admin_token, None).await;
    let last = spawn_padded_writers(&server.url, &server.admin_token, 4, 150, 4, 40_000).await.expect("writers");
    let seqs = read_until(&mut slow, last, Duration::ZERO).await;
    assert_contiguous(&seqs, FIRST_SEQ, last);
    assert!(
        support::gauge(&client, "switchyard_watch_catch_ups").await >= 1.0,
        "the watcher never fell behind, so this test proved nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn filters_resume_and_topics() {
    let server = TestServer::start();
    setup(&server, 2).await;
    let token = &server.admin_token;
    let base = format!("{}/v1/spaces/acme/watch", server.url);
    let mut transitions_of_i0 =
        SseReader::open(&format!("{base}?from=1&address=acme:cycle:i-0&kind=instance.transitioned"), token, None).await;
    let mut entering_b = SseReader::open(&format!("{base}?from=1&address=acme:cycle:*&state=b"), token, None).await;
    let mut messages = SseReader::open(&format!("{base}?kind=topic.message"), token, None).await;
    let last = spawn_writers(&server.url, token, 2, 4, 2).await.expect("writers");

    // Each filtered stream gets exactly what it matches: its records, then — with nothing
    // else in between — a sentinel written after everything else, which both filters pass
    // (i-0's fifth event takes it from a to b).
    let mut seen = Vec::new();
    for _ in 0..4 {
        let e = transitions_of_i0.next(PATIENCE).await.expect("one of i-0's four transitions");
        assert_eq!(
            (e.data["address"].as_str(), e.event.as_deref()),
            (Some("acme:cycle:i-0"), Some("instance.transitioned"))
        );
        seen.push(e.id.expect("id"));
    }
    let mut entering = 0;
    for _ in 0..4 {
        let e = entering_b.next(PATIENCE).await.expect("one of the four transitions into b");
        assert_eq!(e.data["payload"]["to"], "b");
        entering += 1;
    }
    assert_eq!((seen.len(), entering), (4, 4), "i-0 got four events; half of the eight transitions enter b");
    let sentinel: Value = reqwest::Client::new()
        .post(format!("{}/v1/spaces/acme/machines/cycle/instances/i-0/events", server.url))
        .bearer_auth(token)
        .json(&json!({ "event": "next" }))
        .send()
        .await
        .expect("sentinel")
        .json()
        .await
        .expect("json");
    let sentinel = sentinel["seq"].as_u64().expect("seq");
    assert!(sentinel > last);
    assert_eq!(transitions_of_i0.next(PATIENCE).await.expect("the sentinel").id, Some(sentinel));
    assert_eq!(entering_b.next(PATIENCE).await.expect("the sentinel").id, Some(sentinel));

    let http = reqwest::Client::new();
    let publish = |body: Value| {
        http.post(format!("{}/v1/spaces/acme/topics/news/messages", server.url)).bearer_auth(token).json(&body).send()
    };
    let resp = publish(json!({ "payload": { "headline": "hi" }, "key": "k1", "idempotency_key": "m-1" }))
        .await
        .expect("publish");
    assert_eq!(resp.status().as_u16(), 201);
    let seq = resp.json::<Value>().await.expect("json")["seq"].as_u64().expect("seq");
    let again = publish(json!({ "payload": { "headline": "hi" }, "key": "k1", "idempotency_key": "m-1" }))
        .await
        .expect("again");
    assert_eq!(again.status().as_u16(), 200, "an idempotent repeat answers 200 with the original");
    assert_eq!(again.json::<Value>().await.expect("json")["seq"].as_u64(), Some(seq));
    let message = messages.next(PATIENCE).await.expect("the message reaches the watcher");
    assert_eq!((message.id, message.data["address"].as_str()), (Some(seq), Some("acme:news")));
    assert_eq!(message.data["payload"]["payload"]["headline"], "hi");
    // The repeat appended nothing: the next message the watcher gets is the one after it.
    let next = publish(json!({ "payload": { "headline": "later" }, "idempotency_key": "m-2" })).await.expect("publish");
    assert_eq!(next.status().as_u16(), 201);
    let next_seq = next.json::<Value>().await.expect("json")["seq"].as_u64().expect("seq");
    assert_eq!(messages.next(PATIENCE).await.expect("the later message").id, Some(next_seq));

    // A reconnecting client resumes right after the last id it got.
    let mut resumed = SseReader::open(&base, token, Some(last - 3)).await;
    let next = resumed.next(PATIENCE).await.expect("resumed");
    assert_eq!(next.id, Some(last - 2));

    // Bad filters are refused with a code; a watch outside the token's spaces is forbidden.
    let bad = http.get(format!("{base}?address=other:x")).bearer_auth(token).send().await.expect("request");
    assert_eq!(bad.status().as_u16(), 422);
    let bad = http.get(format!("{base}?from=yesterday")).bearer_auth(token).send().await.expect("request");
    assert_eq!(bad.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn websocket_watch_streams_the_same_records() {
    use futures_util::StreamExt;
    let server = TestServer::start();
    setup(&server, 1).await;
    let url = format!("{}/v1/spaces/acme/watch/ws?from=1", server.url.replace("http://", "ws://"));
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).expect("request");
    request.headers_mut().insert("authorization", format!("Bearer {}", server.admin_token).parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("websocket");
    let last = spawn_writers(&server.url, &server.admin_token, 1, 5, 1).await.expect("writers");
    let mut seqs = Vec::new();
    while seqs.last().is_none_or(|s| *s < last) {
        let message = within("a message", PATIENCE, socket.next()).await.expect("open").expect("ok");
        let record: Value = serde_json::from_str(message.to_text().expect("text")).expect("json");
        seqs.push(record["seq"].as_u64().expect("seq"));
    }
    assert_contiguous(&seqs, FIRST_SEQ, last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_through_one_node_reaches_a_watcher_on_another() {
    let db = tokio::task::spawn_blocking(switchyard_testkit::TestDatabase::create).await.expect("database");
    let (dir_a, dir_b) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let a = TestServer::start_in(dir_a.path(), &["--store", db.url()]);
    let b = TestServer::start_node(dir_b.path(), &["--store", db.url()], &a.admin_token);
    setup(&a, 4).await;
    let mut on_b = SseReader::open(&format!("{}/v1/spaces/acme/watch?from=1", b.url), &b.admin_token, None).await;
    let last = spawn_writers(&a.url, &a.admin_token, 4, 25, 4).await.expect("writers");
    let seqs = read_until(&mut on_b, last, Duration::ZERO).await;
    assert_contiguous(&seqs, FIRST_SEQ, last);
    drop((a, b));
    tokio::task::spawn_blocking(move || drop(db)).await.expect("drop database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_watch_prints_records_and_cli_publish_appends_them() {
    use std::io::{BufRead, BufReader};
    let server = TestServer::start();
    setup(&server, 1).await;
    let published = server
        .cli()
        .args([
            "--space",
            "acme",
            "--output",
            "json",
            "publish",
            "news",
            "--payload",
            r#"{"headline":"hi"}"#,
            "--header",
            "source=cli",
        ])
        .output()
        .expect("publish");
    assert!(published.status.success(), "{}", String::from_utf8_lossy(&published.stderr));
    let seq = serde_json::from_slice::<Value>(&published.stdout).expect("json")["seq"].as_u64().expect("seq");
    let bad =
        server.cli().args(["--space", "acme", "publish", "news", "--payload", "{oops"]).output().expect("publish");
    assert_eq!(bad.status.code(), Some(2), "bad --payload JSON is a usage error");

    let mut watch = server
        .cli()
        .args(["--output", "json", "watch", "acme:*", "--from", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("watch");
    let mut lines = BufReader::new(watch.stdout.take().expect("stdout")).lines();
    let mut seqs = Vec::new();
    let mut message = None;
    while seqs.last().is_none_or(|s| *s < seq) {
        let line = lines.next().expect("a line").expect("utf-8");
        let record: Value = serde_json::from_str(&line).expect("one JSON record per line");
        if record["kind"] == "topic.message" {
            message = Some(record.clone());
        }
        seqs.push(record["seq"].as_u64().expect("seq"));
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(seqs, (FIRST_SEQ..=seq).collect::<Vec<u64>>());
    let message = message.expect("the published message was watched");
    assert_eq!(message["payload"], json!({ "payload": { "headline": "hi" }, "headers": { "source": "cli" } }));
}

/// The first line a running `switchyard watch` writes to stdout (within `out_wait`) and to
/// stderr (within 20 s); `None` for a stream that stays silent that long. Then the process is
/// killed.
fn first_lines(mut cmd: std::process::Command, out_wait: Duration) -> (Option<String>, Option<String>) {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    let mut child =
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("watch");
    let first_line = |stream: Box<dyn std::io::Read + Send>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let line = BufReader::new(stream).lines().next().and_then(Result::ok);
            let _ = tx.send(line);
        });
        rx
    };
    let out = first_line(Box::new(child.stdout.take().expect("stdout")));
    let err = first_line(Box::new(child.stderr.take().expect("stderr")));
    let err = err.recv_timeout(Duration::from_secs(20)).ok().flatten();
    let out = out.recv_timeout(out_wait).ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    (out, err)
}

/// Issue 12, defect 5: `watch 'cycle:*'` with `--space acme` reads the pattern within acme and
/// says so (it used to watch a space called "cycle" in silence), and a watch of a space that
/// does not exist says that nothing can match yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_watch_says_how_it_read_a_pattern_and_when_nothing_can_match() {
    let server = TestServer::start();
    setup(&server, 1).await;
    let server = std::sync::Arc::new(server);

    let s = server.clone();
    let (out, err) = tokio::task::spawn_blocking(move || {
        let mut cmd = s.cli();
        cmd.args(["--space", "acme", "watch", "cycle:*", "--from", "1"]);
        first_lines(cmd, Duration::from_secs(20))
    })
    .await
    .expect("watch");
    let note = err.expect("a note on stderr");
    assert!(note.contains("there is no space \"cycle\"") && note.contains("\"acme:cycle:*\""), "{note}");
    let record = out.expect("a record on stdout");
    assert!(record.contains("acme:cycle:i-0"), "{record}");

    // Neither "default" (the --space when none is given) nor "nowhere" exists.
    for args in [&["watch", "*"][..], &["watch", "nowhere:orders:*"][..]] {
        let s = server.clone();
        let (out, err) = tokio::task::spawn_blocking(move || {
            let mut cmd = s.cli();
            cmd.args(args);
            // Silence cannot be proven; a record would come at once (nothing is written meanwhile).
            first_lines(cmd, Duration::from_secs(2))
        })
        .await
        .expect("watch");
        let note = err.unwrap_or_else(|| panic!("{args:?}: no note on stderr"));
        assert!(note.contains("does not exist yet") && note.contains("spaces: acme"), "{args:?}: {note}");
        assert_eq!(out, None, "{args:?}");
    }
}
