//! The `kv`, `sub`, `fn` and `bench` commands of the real `switchyard` CLI against a real server:
//! each verb's human output and its `-o json` form, its exit code, and one refusal each (exit
//! code, message, JSON error code). Streaming verbs (`kv watch`, `fn logs --follow`) are read
//! line by line with a deadline and then stopped.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use serde_json::{Value, json};
use support::TestServer;
use support::run::Run;
use switchyard_testkit::{PATIENCE, example_function, wait_until_blocking};

/// Runs the CLI against `server` in space `acme`.
fn run(server: &TestServer, args: &[&str]) -> Run {
    run_with_stdin(server, args, b"")
}

/// Runs the CLI with `input` on stdin; fails the test if it has not exited within [`PATIENCE`]
/// (a command that unexpectedly follows a stream would otherwise hang the test).
fn run_with_stdin(server: &TestServer, args: &[&str], input: &[u8]) -> Run {
    let mut cmd = server.cli();
    cmd.args(["--space", "acme"]).args(args);
    finish(cmd, input)
}

/// Runs `cmd` to its end with `input` on stdin, bounded by [`PATIENCE`].
fn finish(mut cmd: Command, input: &[u8]) -> Run {
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn switchyard");
    child.stdin.take().expect("stdin").write_all(input).expect("write stdin");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("stdout")));
    let stderr = read(Box::new(child.stderr.take().expect("stderr")));
    let what = format!("{cmd:?} to exit");
    let status = wait_until_blocking(&what, PATIENCE, || child.try_wait().expect("wait"));
    Run::from_parts(status, stdout.join().expect("stdout"), &stderr.join().expect("stderr"))
}

/// Runs the CLI against `server` with `args` only (no `--space`).
fn run_bare(server: &TestServer, args: &[&str]) -> Run {
    let mut cmd = server.cli();
    cmd.args(args);
    finish(cmd, b"")
}

/// The whitespace-separated cells of each line.
fn cells(text: &str) -> Vec<Vec<&str>> {
    text.lines().map(|l| l.split_whitespace().collect()).collect()
}

/// The value of `key` in `key  value` output.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key).filter(|rest| rest.starts_with("  ")).map(str::trim))
        .unwrap_or_else(|| panic!("no field {key:?} in:\n{text}"))
}

/// A long-running command whose stdout is read line by line.
struct Streaming {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Streaming {
    fn start(server: &TestServer, args: &[&str]) -> Streaming {
        let mut child = server
            .cli()
            .args(["--space", "acme"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn switchyard");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Streaming { child, lines }
    }

    /// The next line; fails the test when none comes within [`PATIENCE`].
    fn next(&self, what: &str) -> String {
        self.lines.recv_timeout(PATIENCE).unwrap_or_else(|_| panic!("no {what} within {PATIENCE:?}"))
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn kv_puts_gets_lists_and_deletes_keys_with_conditions() {
    let server = TestServer::start();

    let out = run(&server, &["kv", "bucket", "cfg", "--history", "3"]);
    assert_eq!(
        out.stderr,
        "note: space \"acme\" did not exist and was created; if that was a typo: switchyard space delete acme --yes\n"
    );
    assert_eq!(out.ok(), "bucket   cfg\nhistory  3\n");
    let bucket = run(&server, &["kv", "bucket", "cfg", "--history", "2", "-o", "json"]).json();
    assert_eq!((&bucket["name"], &bucket["history"]), (&json!("cfg"), &json!(2)), "{bucket}");

    let put = run(&server, &["kv", "put", "cfg", "db/url", "postgres://db-1"]).ok();
    assert_eq!(field(&put, "key"), "db/url");
    assert_eq!(field(&put, "revision"), "1");
    let first_seq: u64 = field(&put, "seq").parse().expect("a seq");
    // A raw get prints the value's bytes exactly, without a newline of its own.
    assert_eq!(run(&server, &["kv", "get", "cfg", "db/url"]).ok(), "postgres://db-1");
    let got = run(&server, &["kv", "get", "cfg", "db/url", "-o", "json"]).json();
    assert_eq!(
        got,
        json!({"key": "db/url", "revision": 1, "content_type": "text/plain; charset=utf-8", "value": "postgres://db-1"})
    );

    // Compare-and-set: at the right revision it writes, at a stale one it is refused.
    let cas =
        run(&server, &["kv", "put", "cfg", "db/url", "postgres://db-2", "--if-revision", "1", "-o", "json"]).json();
    assert_eq!(cas, json!({"revision": 2, "seq": first_seq + 1}));
    let stale = run(&server, &["kv", "put", "cfg", "db/url", "postgres://db-3", "--if-revision", "1"]).fails(1);
    assert!(stale.starts_with("error: conflict: "), "{stale}");
    let stale = run(&server, &["kv", "put", "cfg", "db/url", "x", "--if-revision", "1", "-o", "json"]).json_error();
    assert_eq!(stale["code"], "conflict", "{stale}");
    assert_eq!(run(&server, &["kv", "get", "cfg", "db/url"]).ok(), "postgres://db-2", "the refused puts wrote nothing");
    // --create only where there is no value.
    run(&server, &["kv", "put", "cfg", "fresh", "1", "--create"]).ok();
    let taken = run(&server, &["kv", "put", "cfg", "fresh", "2", "--create", "-o", "json"]).json_error();
    assert_eq!(taken["code"], "conflict", "{taken}");

    // A value from stdin, bytes that are not UTF-8: JSON shows them as base64.
    run_with_stdin(
        &server,
        &["kv", "put", "cfg", "blob", "-", "--content-type", "application/octet-stream"],
        &[0, 159, 255],
    )
    .ok();
    let raw = run(&server, &["kv", "get", "cfg", "blob"]);
    assert_eq!(raw.code, 0, "{}", raw.stderr);
    assert_eq!(raw.stdout_bytes, [0, 159, 255], "the bytes as stored");
    let blob = run(&server, &["kv", "get", "cfg", "blob", "-o", "json"]).json();
    assert_eq!(blob["value_base64"], "AJ//");
    assert_eq!(blob["content_type"], "application/octet-stream");

    run(&server, &["kv", "put", "cfg", "session", "s", "--ttl", "1h"]).ok();
    let list = run(&server, &["kv", "list", "cfg"]).ok();
    let rows = cells(&list);
    assert_eq!(rows[0], ["KEY", "REVISION", "SIZE", "CONTENT-TYPE", "UPDATED", "EXPIRES"]);
    let keys: Vec<&str> = rows[1..].iter().map(|r| r[0]).collect();
    assert_eq!(keys, ["blob", "db/url", "fresh", "session"], "{list}");
    assert_eq!(rows[2][..3], ["db/url", "2", "15"]);
    // Only the key with a TTL has an EXPIRES cell (one more than a key of the same content type).
    assert_eq!((rows[3].len(), rows[4].len()), (6, 7), "{list}");
    let listed = run(&server, &["kv", "list", "cfg", "-o", "json"]).json();
    let expiring: Vec<&str> = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k.get("expires_at").is_some())
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(expiring, ["session"], "{listed}");
    // A prefix, and pages with their cursor.
    let page = run(&server, &["kv", "ls", "cfg", "db", "--limit", "1", "-o", "json"]).json();
    assert_eq!(
        page["keys"].as_array().map(|k| k.iter().map(|k| k["key"].clone()).collect()),
        Some(vec![json!("db/url")])
    );
    // A full page has a cursor; past the prefix's last key there is nothing.
    let past = run(&server, &["kv", "ls", "cfg", "db", "--after", "db/url", "-o", "json"]).json();
    assert_eq!(past, json!({"keys": [], "next_cursor": null}));
    let page = run(&server, &["kv", "list", "cfg", "--limit", "2"]).ok();
    assert!(page.ends_with("\nmore: --after db/url\n"), "{page}");
    let rest = run(&server, &["kv", "list", "cfg", "--after", "db/url", "-o", "json"]).json();
    let rest: Vec<&str> = rest["keys"].as_array().expect("keys").iter().map(|k| k["key"].as_str().unwrap()).collect();
    assert_eq!(rest, ["fresh", "session"]);

    let history = run(&server, &["kv", "history", "cfg", "db/url"]).ok();
    let rows = cells(&history);
    assert_eq!(rows[0], ["REVISION", "OPERATION", "AT", "VALUE"]);
    assert_eq!((rows[1][0], rows[1][1], rows[1][3]), ("2", "put", "postgres://db-2"));
    assert_eq!((rows[2][0], rows[2][1], rows[2][3]), ("1", "put", "postgres://db-1"));
    assert_eq!(rows.len(), 3, "{history}");

    let stale = run(&server, &["kv", "delete", "cfg", "db/url", "--if-revision", "1"]).fails(1);
    assert!(stale.starts_with("error: conflict: "), "{stale}");
    let deleted = run(&server, &["kv", "rm", "cfg", "db/url", "--if-revision", "2"]).ok();
    assert_eq!(field(&deleted, "deleted"), "db/url");
    assert_eq!(field(&deleted, "revision"), "3");
    let missing = run(&server, &["kv", "get", "cfg", "db/url"]).fails(1);
    assert!(missing.starts_with("error: key_not_found: "), "{missing}");
    let missing = run(&server, &["kv", "get", "cfg", "db/url", "-o", "json"]).json_error();
    assert_eq!(missing["code"], "key_not_found");
    let history = run(&server, &["kv", "history", "cfg", "db/url", "-o", "json"]).json();
    let operations: Vec<&str> =
        history["history"].as_array().expect("history").iter().map(|e| e["operation"].as_str().unwrap()).collect();
    assert_eq!(operations, ["delete", "put"], "the bucket keeps 2 revisions: {history}");

    // Called wrongly: --if-revision and --create together.
    let usage = run(&server, &["kv", "put", "cfg", "k", "v", "--create", "--if-revision", "1"]).fails(2);
    assert!(usage.contains("cannot be used with"), "{usage}");
}

#[test]
fn kv_watch_prints_each_change_of_the_bucket() {
    let server = TestServer::start();
    let put = run(&server, &["kv", "put", "cfg", "a/1", "one", "-o", "json"]).json();
    let first = put["seq"].as_u64().expect("seq");
    // Replays from the first put, then follows; only keys under the prefix.
    let watch = Streaming::start(&server, &["kv", "watch", "cfg", "a/", "--from", &first.to_string()]);
    let line = watch.next("the replayed put");
    assert_eq!(line.split_whitespace().collect::<Vec<_>>(), [&first.to_string(), "PUT", "a/1", "rev", "1", "one"]);
    run(&server, &["kv", "put", "cfg", "b/1", "other"]).ok();
    run(&server, &["kv", "delete", "cfg", "a/1"]).ok();
    let line = watch.next("the delete");
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells[1..], ["DEL", "a/1", "rev", "2"], "{line}");
    assert_eq!(cells[0].parse::<u64>().expect("seq"), first + 2, "the put under b/ was left out");

    let json = Streaming::start(&server, &["kv", "watch", "cfg", "-o", "json", "--from", &first.to_string()]);
    let record: Value = serde_json::from_str(&json.next("a JSON record")).expect("one JSON object per line");
    assert_eq!((record["seq"].as_u64(), &record["kind"]), (Some(first), &json!("kv.put")));
    assert_eq!(record["payload"]["key"], "a/1");

    // A token the server does not know: refused before anything streams, exit 1.
    let mut cmd = server.cli();
    cmd.env("SWITCHYARD_TOKEN", "sy_unknown").args(["--space", "acme", "kv", "watch", "cfg"]);
    let refused = finish(cmd, b"").fails(1);
    assert!(refused.starts_with("error: unauthorized: "), "{refused}");
}

#[test]
fn sub_creates_pulls_acks_and_redrives_dead_letters() {
    let server = TestServer::start();
    let created =
        run(&server, &["sub", "create", "mailer", "acme:mail*", "--max-deliveries", "1", "--ack-wait", "1s"]).ok();
    assert_eq!(field(&created, "name"), "mailer");
    assert_eq!(field(&created, "address"), "acme:mail*");
    assert_eq!(field(&created, "max deliveries"), "1");
    assert_eq!(field(&created, "ack wait"), "1s");
    assert_eq!(field(&created, "pending"), "0");
    let shown = run(&server, &["sub", "get", "mailer", "-o", "json"]).json();
    assert_eq!(
        (&shown["name"], &shown["address"], &shown["max_deliveries"]),
        (&json!("mailer"), &json!("acme:mail*"), &json!(1))
    );
    run(&server, &["sub", "add", "audit"]).ok();
    let list = run(&server, &["sub", "ls"]).ok();
    let rows = cells(&list);
    assert_eq!(rows[0], ["NAME", "ADDRESS", "LAG", "PENDING", "DEAD"]);
    assert_eq!(rows[1..].iter().map(|r| r[0]).collect::<Vec<_>>(), ["audit", "mailer"], "{list}");

    let mut seqs = Vec::new();
    for n in 0..3 {
        let out = run(&server, &["publish", "mail", "--payload", &json!({"n": n}).to_string(), "-o", "json"]).json();
        seqs.push(out["seq"].as_u64().expect("seq"));
    }
    // A pull prints one JSON record per line, leased.
    let pulled = run(&server, &["sub", "pull", "mailer", "--max", "2", "--lease", "60s"]).ok();
    let records: Vec<Value> = pulled.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(records.iter().map(|r| r["seq"].as_u64().unwrap()).collect::<Vec<_>>(), seqs[..2]);
    assert!(records.iter().all(|r| r["deliveries"] == 1 && r["payload"]["payload"]["n"].is_number()), "{pulled}");
    let acked = run(&server, &["sub", "ack", "mailer", &seqs[0].to_string()]).ok();
    assert_eq!(acked, "acked  1\n");
    // Acking a seq that is not pending says which, and exits 1.
    let again = run(&server, &["sub", "ack", "mailer", &seqs[0].to_string(), &seqs[1].to_string()]);
    assert_eq!(again.code, 1);
    assert_eq!(again.stdout, format!("acked        1\nnot pending  {}\n", seqs[0]));
    assert_eq!(
        again.stderr,
        format!(
            "error: 1 of the seqs given was not pending on subscription \"acme:mailer\" (never delivered, already acked, or dead letters), so nothing was done to it: {}\n",
            seqs[0]
        )
    );
    // --ack acknowledges what it printed.
    let pulled = run(&server, &["sub", "pull", "mailer", "--ack"]).ok();
    assert_eq!(pulled.lines().count(), 1, "{pulled}");
    let status = run(&server, &["sub", "get", "mailer", "-o", "json"]).json();
    assert_eq!((&status["pending"], &status["lag"]), (&json!(0), &json!(0)), "{status}");

    // One delivery at most: a lease that ends unacked makes a dead letter.
    let dead_seq = run(&server, &["publish", "mail", "--payload", "{}", "-o", "json"]).json()["seq"].as_u64().unwrap();
    let pulled = run(&server, &["sub", "pull", "mailer", "--lease", "1s"]).ok();
    assert_eq!(pulled.lines().count(), 1);
    let dead = wait_until_blocking("the lease to end in a dead letter", PATIENCE, || {
        // A pull finds the expired lease and retires it; it delivers nothing.
        assert_eq!(run(&server, &["sub", "pull", "mailer", "--lease", "1s"]).ok(), "");
        let dead = run(&server, &["sub", "dead", "mailer"]).ok();
        (cells(&dead).len() == 2).then_some(dead)
    });
    let rows = cells(&dead);
    assert_eq!(rows[0], ["SEQ", "DELIVERIES", "DEAD", "AT", "ADDRESS"]);
    assert_eq!((rows[1][0], rows[1][1], rows[1][3]), (dead_seq.to_string().as_str(), "1", "acme:mail"));
    assert_eq!(run(&server, &["sub", "redrive", "mailer"]).ok(), "redriven  1\n");
    assert_eq!(run(&server, &["sub", "redrive", "mailer", "-o", "json"]).json(), json!({"redriven": 0}));
    let pulled = run(&server, &["sub", "pull", "mailer"]).ok();
    let redriven: Value = serde_json::from_str(pulled.trim()).expect("one record");
    assert_eq!(redriven["seq"].as_u64(), Some(dead_seq));

    assert_eq!(run(&server, &["sub", "delete", "mailer"]).ok(), "deleted  mailer\n");
    let gone = run(&server, &["sub", "get", "mailer"]).fails(1);
    assert!(gone.starts_with("error: subscription_not_found: "), "{gone}");
    let gone = run(&server, &["sub", "pull", "mailer", "-o", "json"]).json_error();
    assert_eq!(gone["code"], "subscription_not_found");
    let usage = run(&server, &["sub", "ack", "audit"]).fails(2);
    assert!(usage.contains("<SEQS>..."), "{usage}");
}

#[test]
fn fn_deploys_lists_invokes_and_shows_invocations() {
    let server = TestServer::start();
    let hello = example_function("hello");
    let hello = hello.to_str().expect("utf-8 path");
    let size = std::fs::metadata(hello).expect("component").len().to_string();

    let deployed = run(
        &server,
        &[
            "fn",
            "deploy",
            "hello",
            hello,
            "--timeout",
            "5s",
            "--memory",
            "32MiB",
            "--kv",
            "cache",
            "--allow-host",
            "api.example.com",
            "--config",
            "greeting=hi",
            "--secret",
            "token=s3cret",
            "--retry",
            r#"{"max_attempts":3,"initial":"200ms"}"#,
        ],
    )
    .ok();
    assert_eq!(field(&deployed, "address"), "acme:hello");
    assert_eq!(field(&deployed, "version"), "1");
    assert_eq!(field(&deployed, "size"), size);
    assert_eq!(field(&deployed, "timeout_ms"), "5000");
    assert_eq!(field(&deployed, "memory_bytes"), "33554432");
    assert_eq!(field(&deployed, "allowed_hosts"), r#"["api.example.com"]"#);
    assert_eq!(field(&deployed, "kv_buckets"), r#"["cache"]"#);
    assert_eq!(field(&deployed, "config"), r#"{"greeting":"hi"}"#);
    assert_eq!(field(&deployed, "secrets"), r#"["token"]"#, "secrets are shown by name only");
    assert!(!deployed.contains("s3cret"), "{deployed}");
    let retry: serde_json::Value = serde_json::from_str(field(&deployed, "retry")).expect("the policy as JSON");
    assert_eq!((&retry["max_attempts"], &retry["initial"]), (&json!(3), &json!("200ms")), "{deployed}");
    let usage = run(&server, &["fn", "deploy", "hello", hello, "--retry", "{"]).fails(2);
    assert!(usage.contains("--retry is not JSON"), "{usage}");
    let refused =
        run(&server, &["fn", "deploy", "hello", hello, "--retry", r#"{"max_attempts":0}"#, "-o", "json"]).json_error();
    assert_eq!(refused["code"], "validation_failed", "{refused}");
    assert_eq!(field(&deployed, "created"), "true");
    let digest = field(&deployed, "digest").to_string();
    let again = run(&server, &["fn", "deploy", "hello", hello, "-o", "json"]).json();
    assert_eq!((&again["version"], &again["created"]), (&json!(2), &json!(true)), "other settings: a new version");
    assert_eq!(again["digest"], digest.as_str(), "the same component");

    let list = run(&server, &["fn", "ls"]).ok();
    let rows = cells(&list);
    assert_eq!(rows[0], ["NAME", "VERSION", "BYTES", "TIMEOUT_MS", "DEPLOYED"]);
    assert_eq!(rows[1][..4], ["hello", "2", size.as_str(), "10000"], "{list}");
    assert_eq!(rows.len(), 2);
    // After `fn deploy`'s own --config, the global --config (the CLI's config file) still works
    // on the other verbs: here it names the space.
    let file = server.data_dir.join("cli.toml");
    std::fs::write(&file, "space = \"acme\"\n").expect("write the config file");
    let listed = run_bare(&server, &["fn", "ls", "--config", file.to_str().expect("utf-8"), "-o", "json"]).json();
    assert_eq!(listed.as_array().map(|f| f.len()), Some(1), "{listed}");
    let versions = run(&server, &["fn", "versions", "hello"]).ok();
    assert_eq!(cells(&versions)[1..].iter().map(|r| r[1]).collect::<Vec<_>>(), ["1", "2"], "{versions}");
    let v1 = run(&server, &["fn", "get", "hello", "--version", "1", "-o", "json"]).json();
    assert_eq!((&v1["version"], &v1["settings"]["timeout_ms"]), (&json!(1), &json!(5000)), "{v1}");

    // The output as it is, with a newline added for the terminal; or the invocation as JSON.
    assert_eq!(run(&server, &["fn", "invoke", "hello", r#"{"name":"Ada"}"#]).ok(), "{\"greeting\":\"Hello, Ada!\"}\n");
    let out = run(&server, &["fn", "invoke", "hello", r#""Grace""#, "--version", "1", "-o", "json"]).json();
    assert_eq!(out["version"], 1);
    assert_eq!(out["content_type"], "application/json");
    assert_eq!(out["output"], json!({"greeting": "Hello, Grace!"}));
    let id = out["invocation_id"].as_str().expect("an id").to_owned();
    let piped = run_with_stdin(&server, &["fn", "invoke", "hello", "-", "--content-type", "text/plain"], b"Lin");
    assert_eq!(piped.ok(), "{\"greeting\":\"Hello, Lin!\"}\n");

    let pending = run(&server, &["fn", "invoke", "hello", r#"{"name":"later"}"#, "--async"]).ok();
    assert_eq!(field(&pending, "status"), "pending");
    let async_id = field(&pending, "invocation").to_string();
    let record = wait_until_blocking("the async invocation to finish", PATIENCE, || {
        let record = run(&server, &["fn", "invocation", &async_id, "-o", "json"]).json();
        (record["status"] != "pending").then_some(record)
    });
    assert_eq!((&record["status"], &record["async"]), (&json!("succeeded"), &json!(true)), "{record}");
    assert_eq!(record["output"], json!({"greeting": "Hello, later!"}));
    let shown = run(&server, &["fn", "invocation", &id]).ok();
    let head: Vec<&str> = shown.lines().next().expect("a header line").split_whitespace().collect();
    assert_eq!((head[1], head[2], head[3]), (id.as_str(), "v1", "succeeded"), "{shown}");
    assert!(head[4].ends_with("µs"), "{shown}");

    // Sync records are written in the background: wait for all four.
    let logs = wait_until_blocking("four invocation records", PATIENCE, || {
        let logs = run(&server, &["fn", "logs", "hello", "-o", "json"]).ok();
        (logs.lines().count() == 4).then_some(logs)
    });
    let records: Vec<Value> =
        logs.lines().map(|l| serde_json::from_str(l).expect("one JSON record per line")).collect();
    assert!(records.iter().all(|r| r["status"] == "succeeded" && r["function"] == "hello"), "{logs}");
    let limited = run(&server, &["fn", "logs", "hello", "--limit", "1"]).ok();
    assert_eq!(limited.lines().count(), 1, "{limited}");

    let follow = Streaming::start(&server, &["fn", "logs", "hello", "--limit", "1", "--follow"]);
    follow.next("the newest recorded invocation");
    let fresh =
        run(&server, &["fn", "invoke", "hello", "followed", "--content-type", "text/plain", "-o", "json"]).json();
    let fresh_id = fresh["invocation_id"].as_str().expect("id");
    let line = follow.next("the new invocation");
    assert!(line.contains(fresh_id) && line.contains(" succeeded "), "{line}");

    let missing = run(&server, &["fn", "invoke", "nope", "{}"]).fails(1);
    assert!(missing.starts_with("error: function_not_found: "), "{missing}");
    let missing = run(&server, &["fn", "invoke", "nope", "{}", "-o", "json"]).json_error();
    assert_eq!(missing["code"], "function_not_found");
    let usage = run(&server, &["fn", "deploy", "hello", hello, "--config", "novalue", "-o", "json"]);
    let stderr = usage.fails(2);
    let error: Value = serde_json::from_str(stderr.trim()).expect("a JSON error");
    assert_eq!(error["error"]["code"], "usage");
    assert_eq!(error["error"]["message"], "--config \"novalue\": expected KEY=VALUE");
}

#[test]
fn bench_events_reports_and_leaves_the_instances_cycled() {
    let server = TestServer::start();
    let out = run(&server, &["bench", "events", "--clients", "1", "--instances", "1", "--events", "5"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "bench events: 1 clients (HTTP/1.1), 1 instances, 5 events, 1 node(s), machine bench-cycle");
    assert!(lines[1].starts_with("  ok 5, errors 0, in "), "{out}");
    assert!(lines[2].starts_with("  throughput  ") && lines[2].ends_with(" events/s"), "{out}");
    assert!(lines[3].starts_with("  latency     p50 "), "{out}");
    // Five events around the five-state cycle bring the instance back to s0 at revision 6.
    assert!(lines[4].starts_with("  group commit: ") && lines[4].contains("operations per commit"), "{out}");
    assert!(lines[5].starts_with("  server CPU: ") && lines[5].contains(" µs per event ("), "{out}");
    let instances = run_bare(&server, &["--space", "bench", "instance", "list", "bench-cycle", "-o", "json"]).json();
    let instances = instances["instances"].as_array().expect("instances");
    assert_eq!(instances.len(), 1);
    assert_eq!((&instances[0]["state"], &instances[0]["revision"]), (&json!("s0"), &json!(6)), "{instances:?}");

    let refused = run(&server, &["bench", "events", "--clients", "0"]).fails(1);
    assert_eq!(refused, "error: --clients, --instances and --events must all be at least 1\n");

    // --grants: the same events again as a service account holding that many grants, and the
    // ratio of the two runs.
    let out =
        run(&server, &["bench", "events", "--clients", "1", "--instances", "1", "--events", "5", "--grants", "3"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    let second = lines.iter().position(|l| l.starts_with("bench events as a service account with 3 grants: "));
    assert!(second.is_some_and(|i| lines[i + 1].starts_with("  ok 5, errors 0, in ")), "{out}");
    let last = lines.last().copied().unwrap_or_default();
    assert!(
        last.starts_with("bench events: as a service account with 3 grants, ")
            && last.ends_with("% of the given token's throughput"),
        "{out}"
    );
    let refused = run(&server, &["bench", "events", "--grants", "0"]).fails(1);
    assert_eq!(refused, "error: --grants must be at least 1\n");
    // Its two runs took its one new instance twice around the cycle: every instance is at s0.
    let instances = run_bare(&server, &["--space", "bench", "instance", "list", "bench-cycle", "-o", "json"]).json();
    let instances = instances["instances"].as_array().expect("instances");
    assert_eq!(instances.len(), 2);
    assert!(instances.iter().all(|i| i["state"] == json!("s0")), "{instances:?}");
    assert!(instances.iter().any(|i| i["revision"] == json!(11)), "{instances:?}");

    // Over gRPC: 10 more events on one stream, 4 in flight, around the same kind of instance.
    let args = ["bench", "events", "--transport", "grpc", "--in-flight", "4", "--clients", "1", "--instances", "2"];
    let out = run(&server, &[&args[..], &["--events", "10"]].concat()).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "bench events: 1 clients (gRPC, 4 in flight per stream), 2 instances, 10 events, 1 node(s), machine bench-cycle"
    );
    assert!(lines[1].starts_with("  ok 10, errors 0, in "), "{out}");
    let instances = run_bare(&server, &["--space", "bench", "instance", "list", "bench-cycle", "-o", "json"]).json();
    let revisions: Vec<&Value> =
        instances["instances"].as_array().expect("instances").iter().map(|i| &i["revision"]).collect();
    assert_eq!(
        revisions.iter().filter(|r| ***r == json!(6)).count(),
        3,
        "each new instance took 5 events: {revisions:?}"
    );
    let refused = run(&server, &["bench", "events", "--in-flight", "4"]).fails(1);
    assert_eq!(
        refused,
        "error: --in-flight applies to --transport grpc only (an HTTP client keeps one request in flight)\n"
    );
    let refused = run(&server, &["bench", "events", "--transport", "grpc", "--in-flight", "0"]).fails(1);
    assert_eq!(refused, "error: --in-flight must be at least 1\n");
}

/// A report written into a pipe whose reader is gone (`| grep -q`, `| head`) ends the command
/// quietly and successfully, as every other command's output does, instead of panicking.
#[test]
fn bench_sign_in_signs_a_user_in_and_leaves_no_user_behind() {
    let server = TestServer::start();
    let out = run(&server, &["bench", "sign-in", "--clients", "2", "--sign-ins", "4"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "bench sign-in: 4 sign-ins, 2 clients, argon2id m=19456 KiB t=2 p=1", "{out}");
    assert!(lines[1].starts_with("  throughput  ") && lines[1].ends_with(" sign-ins/s"), "{out}");
    assert!(lines[2].starts_with("  latency     p50 "), "{out}");
    let principals = run_bare(&server, &["user", "list", "-o", "json"]).json();
    assert_eq!(principals["principals"], json!([]), "the benchmark's user was deleted");
    let audit = run_bare(&server, &["audit", "--kind", "audit.sign_in", "-o", "json"]).json();
    assert_eq!(audit["records"].as_array().map(Vec::len), Some(4), "{audit}");
    let refused = run(&server, &["bench", "sign-in", "--sign-ins", "0"]).fails(1);
    assert_eq!(refused, "error: --clients and --sign-ins must both be at least 1\n");
}

#[test]
fn quota_commands_set_merge_unset_and_remove_limits_and_usage_reads_them() {
    let server = TestServer::start();
    let set = run(&server, &["quota", "set", "acme", "--requests-per-second", "50", "--stored-bytes", "1GiB"]).ok();
    assert_eq!(set, "quota of acme set\nstored_bytes         1073741824\nrequests_per_second  50\n");
    // Limits not named are kept; --unset removes one; durations and sizes take units.
    let args = [
        "quota",
        "set",
        "acme",
        "--unset",
        "stored_bytes",
        "--instances",
        "5",
        "--events-per-second",
        "10",
        "--concurrent-jobs",
        "2",
        "--function-timeout",
        "2s",
        "--function-memory",
        "64MiB",
        "-o",
        "json",
    ];
    let merged = run(&server, &args).json();
    assert_eq!(
        merged["quota"],
        json!({ "instances": 5, "requests_per_second": 50, "events_per_second": 10, "concurrent_jobs": 2,
                "function_timeout_ms": 2000, "function_memory_bytes": 67108864 })
    );
    let unchanged = run(&server, &["quota", "set", "acme", "--instances", "5"]).ok();
    assert!(unchanged.starts_with("quota of acme unchanged\n"), "{unchanged}");
    let got = run(&server, &["quota", "get", "acme", "-o", "json"]).json();
    assert_eq!(got["quota"]["instances"], 5);
    let usage = run(&server, &["usage", "acme"]).ok();
    assert!(usage.contains("instances     0 of 5\n") && usage.contains("running jobs  0 of 2\n"), "{usage}");
    let refused = run(&server, &["quota", "set", "acme", "--unset", "nope"]).fails(2);
    assert!(refused.contains("--unset nope: no such limit"), "{refused}");
    let refused = run(&server, &["quota", "set", "acme"]).fails(2);
    assert!(refused.contains("name a limit to set"), "{refused}");
    let refused = run(&server, &["quota", "set", "acme", "--requests-per-second", "0"]).fails(1);
    assert!(refused.contains("requests_per_second must be between 1"), "{refused}");
    assert_eq!(run(&server, &["quota", "delete", "acme"]).ok(), "removed the quota of acme\n");
    let refused = run(&server, &["quota", "delete", "acme"]).fails(1);
    assert!(refused.contains("not_found"), "{refused}");
    assert_eq!(run(&server, &["quota", "get", "acme"]).ok(), "no limits\n");
}

#[test]
fn bench_tenants_reports_both_phases_and_removes_what_it_made() {
    let server = TestServer::start();
    let args = [
        "bench",
        "tenants",
        "--quiet-clients",
        "1",
        "--noisy-clients",
        "2",
        "--noisy-rate",
        "5",
        "--duration",
        "300ms",
    ];
    let out = run(&server, &args.iter().copied().chain(["--noisy-offered", "100"]).collect::<Vec<_>>()).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "bench tenants: 1 quiet clients; 2 noisy clients offering 100/s over a quota of 5/s", "{out}");
    assert!(lines[1].starts_with("  quiet alone ") && lines[2].starts_with("  quiet beside "), "{out}");
    assert!(lines[3].contains("refused/s (429 rate_limited)"), "{out}");
    let spaces = run(&server, &["space", "list", "-o", "json"]).json();
    let names: Vec<&str> =
        spaces["spaces"].as_array().expect("spaces").iter().filter_map(|s| s["name"].as_str()).collect();
    assert!(names.iter().all(|n| !n.starts_with("bench-")), "the benchmark's spaces were deleted: {names:?}");
    let refused = run(&server, &["bench", "tenants", "--noisy-rate", "0"]).fails(1);
    assert_eq!(
        refused,
        "error: --quiet-clients, --noisy-clients, --noisy-rate and --duration must all be above zero\n"
    );
}

#[test]
fn access_commands_manage_users_grants_roles_sessions_and_read_the_audit() {
    let server = TestServer::start();
    let created =
        run_with_stdin(&server, &["user", "create", "carol", "-o", "json"], b"correct horse battery\n").json();
    let carol = created["id"].as_str().expect("id").to_owned();
    let listed = run_bare(&server, &["user", "list"]).ok();
    assert!(listed.contains(&carol) && listed.contains("carol"), "{listed}");
    let grant = run(
        &server,
        &["grant", "create", "--principal", &carol, "--role", "space-reader", "--pattern", "acme:*", "-o", "json"],
    )
    .json();
    let grant_id = grant["id"].as_str().expect("grant id").to_owned();
    let grants = run_bare(&server, &["grant", "list", "--principal", &carol, "-o", "json"]).json();
    assert_eq!(grants["grants"][0]["pattern"], json!("acme:*"), "{grants}");
    let shown = run_bare(&server, &["user", "get", &carol, "-o", "json"]).json();
    assert_eq!(shown["grants"][0]["role"], json!("space-reader"), "{shown}");

    // Signed in as carol: whoami, a token of hers (made by the admin), a password change.
    let session =
        run_with_stdin(&server, &["auth", "sign-in", "--name", "carol", "-o", "json"], b"correct horse battery\n")
            .json();
    let session = session["token"].as_str().expect("session").to_owned();
    let as_carol = |args: &[&str], stdin: &[u8]| {
        let mut cmd = server.cli();
        cmd.env("SWITCHYARD_TOKEN", &session).args(args);
        finish(cmd, stdin)
    };
    let me = as_carol(&["auth", "whoami", "-o", "json"], b"").json();
    assert_eq!((&me["name"], &me["session"]), (&json!("carol"), &json!(true)), "{me}");
    let token = run_bare(
        &server,
        &[
            "token",
            "create",
            "--name",
            "hers",
            "--role",
            "reader",
            "--grant",
            "acme",
            "--principal",
            &carol,
            "-o",
            "json",
        ],
    )
    .json();
    assert_eq!(token["principal"], json!(carol), "{token}");
    let changed = as_carol(&["auth", "password"], b"correct horse battery\nanother long password\n").ok();
    assert_eq!(changed, "password changed; 0 other session(s) ended\n");
    let refused = run_with_stdin(&server, &["auth", "sign-in", "--name", "carol"], b"correct horse battery\n").fails(1);
    assert!(refused.starts_with("error: invalid_credentials: "), "{refused}");
    // A reset ends her session and her token.
    let reset = run_with_stdin(&server, &["user", "password", &carol], b"a reset password!\n").ok();
    assert_eq!(reset, "password set; 2 session(s) and token(s) ended\n");
    let ended = as_carol(&["auth", "whoami"], b"").fails(1);
    assert!(ended.starts_with("error: unauthorized: "), "{ended}");
    let session =
        run_with_stdin(&server, &["auth", "sign-in", "--name", "carol", "-o", "json"], b"a reset password!\n").json();
    let mut cmd = server.cli();
    cmd.env("SWITCHYARD_TOKEN", session["token"].as_str().expect("session")).args(["auth", "sign-out"]);
    assert_eq!(finish(cmd, b"").ok(), "signed out\n");

    // A service account: no password, tokens only.
    let bot =
        run_bare(&server, &["user", "create", "bot", "--service", "--grant", "space-writer=acme:*", "-o", "json"])
            .json();
    assert_eq!((&bot["kind"], &bot["grants"][0]["pattern"]), (&json!("service"), &json!("acme:*")), "{bot}");
    let bot_id = bot["id"].as_str().expect("id").to_owned();
    let refused = run_with_stdin(&server, &["auth", "sign-in", "--name", "bot"], b"correct horse battery\n").fails(1);
    assert!(refused.starts_with("error: invalid_credentials: "), "a service account does not sign in: {refused}");
    run_bare(&server, &["user", "delete", &bot_id]).ok();

    // Roles: a custom one stored, listed and deleted; grants deleted; the user deleted.
    run_bare(&server, &["role", "put", "deployer", "--permission", "functions:deploy", "--permission", "jobs:*"]).ok();
    let roles = run_bare(&server, &["role", "list"]).ok();
    assert!(roles.contains("deployer") && roles.contains("functions:deploy,jobs:*"), "{roles}");
    assert_eq!(run_bare(&server, &["role", "delete", "deployer"]).ok(), "deleted role deployer\n");
    assert_eq!(run_bare(&server, &["grant", "delete", &grant_id]).ok(), format!("deleted grant {grant_id}\n"));
    let deleted = run_bare(&server, &["user", "delete", &carol]).ok();
    assert_eq!(deleted, format!("deleted {carol}; 0 token(s) revoked\n"));

    // The audit: every act above, in order, pageable.
    let audit = run_bare(&server, &["audit", "-o", "json"]).json();
    let kinds: Vec<&str> =
        audit["records"].as_array().expect("records").iter().filter_map(|r| r["kind"].as_str()).collect();
    let expected = [
        "audit.token_created",
        "audit.principal_created",
        "audit.grant_created",
        "audit.sign_in",
        "audit.token_created",
        "audit.password_changed",
        "audit.sign_in_failed",
        "audit.password_changed",
        "audit.sign_in",
        "audit.sign_out",
        "audit.principal_created",
        "audit.sign_in_failed",
        "audit.principal_deleted",
        "audit.role_put",
        "audit.role_deleted",
        "audit.grant_deleted",
        "audit.principal_deleted",
    ];
    assert_eq!(kinds, expected, "{audit}");
    let second = audit["records"][1]["seq"].as_u64().expect("seq").to_string();
    let page =
        run_bare(&server, &["audit", "--after", &second, "--limit", "2", "--kind", "audit.sign_in", "-o", "json"])
            .json();
    let page: Vec<&str> =
        page["records"].as_array().expect("records").iter().filter_map(|r| r["kind"].as_str()).collect();
    assert_eq!(page, ["audit.sign_in", "audit.sign_in"]);
}

#[test]
fn bench_reports_into_a_closed_pipe_without_panicking() {
    let server = TestServer::start();
    let mut cmd = server.cli();
    cmd.args(["--space", "acme", "bench", "events", "--clients", "1", "--instances", "1", "--events", "5"]);
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    // The reader goes away before the report is written.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr");
    let status = wait_until_blocking("bench to exit", PATIENCE, || child.try_wait().expect("wait"));
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bench_jobs_runs_every_job_and_holds_timers() {
    let server = TestServer::start();
    let out = run(&server, &["bench", "jobs", "--clients", "2", "--jobs", "20"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("bench jobs: enqueued ") && lines[0].contains("(20 ok, 0 errors in "), "{out}");
    assert!(lines[1].starts_with("  completed ") && lines[1].contains(" jobs/s end to end (20 in "), "{out}");
    let succeeded =
        run_bare(&server, &["--space", "bench", "job", "list", "--status", "succeeded", "-o", "json"]).json();
    assert_eq!(succeeded["jobs"].as_array().map(Vec::len), Some(20), "{succeeded}");

    // Paced: 10 jobs at 20 a second take at least the 0.45 s until the last one is due.
    let out =
        run(&server, &["bench", "jobs", "--clients", "2", "--jobs", "10", "--rate", "20", "--bench-space", "paced"])
            .ok();
    let took = out.split(" errors in ").nth(1).and_then(|rest| rest.split(')').next()).expect("the enqueue time");
    let seconds = match (took.strip_suffix("ms"), took.strip_suffix("µs"), took.strip_suffix('s')) {
        (Some(ms), _, _) => ms.parse::<f64>().map(|v| v / 1e3),
        (_, Some(us), _) => us.parse::<f64>().map(|v| v / 1e6),
        (_, _, Some(s)) => s.parse::<f64>(),
        _ => panic!("a duration: {took}"),
    }
    .unwrap_or_else(|e| panic!("a duration: {took}: {e}"));
    let took = std::time::Duration::from_secs_f64(seconds);
    assert!(took >= std::time::Duration::from_millis(450), "paced at 20 jobs/s, 10 jobs took {took:?}: {out}");

    // Timers are enqueued due in a day and left pending.
    let out = run(&server, &["bench", "jobs", "--clients", "2", "--timers", "6", "--bench-space", "timers"]).ok();
    assert!(out.starts_with("bench jobs: enqueued ") && out.contains("(6 ok, 0 errors in "), "{out}");
    let pending = run_bare(&server, &["--space", "timers", "job", "list", "--status", "pending", "-o", "json"]).json();
    assert_eq!(pending["jobs"].as_array().map(Vec::len), Some(6), "{pending}");

    let refused = run(&server, &["bench", "jobs", "--clients", "0"]).fails(1);
    assert_eq!(refused, "error: --clients, and --jobs or --timers, must be at least 1\n");
}

#[test]
fn bench_kv_writes_every_key_then_reads_them() {
    let server = TestServer::start();
    let out = run(
        &server,
        &["bench", "kv", "--clients", "2", "--puts", "6", "--gets", "4", "--keys", "3", "--value-size", "16"],
    )
    .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "bench kv: 2 clients, 3 keys, 16-byte values");
    assert!(lines[1].starts_with("  puts: ") && lines[1].contains(" (6 ok, 0 errors in "), "{out}");
    assert!(lines[2].starts_with("  gets: ") && lines[2].contains(" (4 ok, 0 errors in "), "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    // It wrote into its own space, `bench`, not the global --space (acme): one bucket holding the
    // three keys, each a 16-byte value written twice.
    let buckets = |space: &str| {
        let http = support::http::Http::new(&server);
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let (_, listed) = runtime.block_on(http.get(&format!("/v1/spaces/{space}/kv")));
        listed["buckets"]
            .as_array()
            .map(|b| b.iter().map(|b| b["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>())
    };
    assert_eq!(buckets("acme"), Some(Vec::new()), "the benchmark wrote into the global --space");
    let bench_buckets = buckets("bench").expect("buckets");
    assert_eq!(bench_buckets.len(), 1);
    let bucket = &bench_buckets[0];
    let keys = run_bare(&server, &["--space", "bench", "kv", "ls", bucket, "-o", "json"]).json();
    let keys: Vec<(String, u64, u64)> = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| (k["key"].as_str().unwrap().to_owned(), k["revision"].as_u64().unwrap(), k["size"].as_u64().unwrap()))
        .collect();
    assert_eq!(keys, [("k0".into(), 2, 16), ("k1".into(), 2, 16), ("k2".into(), 2, 16)]);

    // --bench-space names it; SWITCHYARD_SPACE does not move it.
    let mut cmd = server.cli();
    cmd.env("SWITCHYARD_SPACE", "acme").args([
        "bench",
        "kv",
        "--bench-space",
        "perf",
        "--clients",
        "1",
        "--puts",
        "1",
        "--gets",
        "0",
        "--keys",
        "1",
    ]);
    finish(cmd, b"").ok();
    assert_eq!(buckets("perf").map(|b| b.len()), Some(1));
    assert_eq!(buckets("acme"), Some(Vec::new()));

    let refused = run(&server, &["bench", "kv", "--puts", "0", "--gets", "0", "-o", "json"]).json_error();
    assert_eq!(refused["code"], "failed");
    assert_eq!(refused["message"], "--clients and --keys must be at least 1, and --puts or --gets too");
}

#[test]
fn bench_watch_delivers_every_event_to_every_watcher() {
    let server = TestServer::start();
    let args =
        ["bench", "watch", "--watchers", "2", "--rate", "20", "--duration", "1s", "--writers", "1", "--instances", "2"];
    let out = run(&server, &args).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "bench watch: 2 watchers, 20 events/s target, 1.0s");
    let applied: u64 = lines[1]
        .strip_prefix("  events applied ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(applied >= 1, "{out}");
    assert!(lines[1].ends_with(", errors 0"), "{out}");
    assert!(
        lines[2].starts_with(&format!(
            "  watchers with every event: 2 of 2; fewest received {applied}; deliveries {}",
            2 * applied
        )),
        "{out}"
    );
    assert!(lines[2].ends_with("duplicates or out of order 0"), "{out}");
    assert!(lines[3].starts_with("  delivery latency (sent → read)  p50 "), "{out}");
    assert!(lines[4].starts_with("  server CPU: ") && lines[4].contains("% of one core"), "{out}");

    let refused = run(&server, &["bench", "watch", "--watchers", "0"]).fails(1);
    assert_eq!(refused, "error: --watchers, --rate, --writers and --instances must all be at least 1\n");
}

#[test]
fn bench_invoke_deploys_and_invokes_the_component() {
    let server = TestServer::start();
    let hello = example_function("hello");
    let size = std::fs::metadata(&hello).expect("component").len();
    let hello = hello.to_str().expect("utf-8 path");
    let out = run(&server, &["bench", "invoke", "--component", hello, "--clients", "2", "--invocations", "6"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("bench invoke: deploy ") && lines[0].contains(&format!(" ({size} bytes), first answer ")),
        "{out}"
    );
    assert!(lines[1].starts_with("  invocations: ") && lines[1].contains(" (6 ok, 0 errors in "), "{out}");
    assert!(
        lines[2].starts_with("  instantiation: ") && lines[2].contains(" µs per invocation (server side)"),
        "{out}"
    );
    // One function, invoked once to see it answer and six times measured.
    let functions = run_bare(&server, &["--space", "bench", "fn", "ls", "-o", "json"]).json();
    assert_eq!(functions.as_array().map(Vec::len), Some(1), "{functions}");
    let name = functions[0]["name"].as_str().expect("name").to_owned();
    let logs = || run_bare(&server, &["--space", "bench", "fn", "logs", &name, "--limit", "100", "-o", "json"]).ok();
    // Sync records are written in the background: wait for them, then check none is extra.
    let records = wait_until_blocking("seven invocation records", PATIENCE, || {
        let logs = logs();
        (logs.lines().count() >= 7).then_some(logs)
    });
    assert_eq!(records.lines().count(), 7, "{records}");
    assert!(records.lines().all(|l| l.contains(r#""status":"succeeded""#)), "{records}");

    let refused = run(&server, &["bench", "invoke", "--component", "/no/such.wasm"]).fails(1);
    assert!(refused.starts_with("error: cannot read /no/such.wasm: "), "{refused}");
}

#[test]
fn machine_graph_and_instance_migrate_cancel() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let v1 = dir.path().join("flow.yaml");
    std::fs::write(&v1, "name: flow\ninitial: a\nstates:\n  a: { after: { 1h: b } }\n  b: { final: true }\ntransitions:\n  - { from: a, event: go, to: b, guard: 'event.ok' }\n").expect("write v1");
    run(&server, &["machine", "apply", "-f", v1.to_str().expect("path")]).ok();
    run(&server, &["instance", "create", "flow", "--id", "f-1"]).ok();
    let v2 = dir.path().join("flow2.yaml");
    std::fs::write(&v2, "name: flow\ninitial: a\nstates:\n  a: { after: { 1h: b } }\n  b: { final: true }\n  c: {}\ntransitions:\n  - { from: a, event: go, to: c }\n").expect("write v2");
    run(&server, &["machine", "apply", "-f", v2.to_str().expect("path")]).ok();

    // The first version's diagram, as DOT: its guard and its timer.
    let dot = run(&server, &["machine", "graph", "flow", "--version", "1", "--format", "dot"]).ok();
    assert!(dot.starts_with("digraph \"flow\" {"), "{dot}");
    assert!(dot.contains("\"a\" -> \"b\" [label=\"go [event.ok]\"];"), "{dot}");
    assert!(dot.contains("\"a\" -> \"b\" [label=\"after:1h\", style=dashed];"), "{dot}");
    assert!(dot.contains("\"b\" [peripheries=2];"), "{dot}");
    let mermaid = run(&server, &["machine", "graph", "flow"]).ok();
    assert!(mermaid.contains("s0 --> s2: go") && !mermaid.contains("go [event.ok]"), "the latest version: {mermaid}");

    // f-1 stays on version 1 until migrated; then version 2's transition applies.
    let moved = run(&server, &["instance", "migrate", "flow:f-1", "--version", "2"]).ok();
    assert!(moved.lines().any(|l| l.split_whitespace().eq(["machine", "flow", "(version", "2)"])), "{moved}");
    let out = run(&server, &["event", "send", "flow:f-1", "go"]).ok();
    assert!(out.contains("a -> c"), "{out}");
    let cancelled = run(&server, &["instance", "cancel", "flow:f-1", "--reason", "done with it"]).ok();
    assert!(cancelled.contains("cancelled: done with it"), "{cancelled}");
    let history = run(&server, &["instance", "history", "flow:f-1"]).ok();
    assert!(history.contains("machine version 1 -> 2") && history.contains("in c: done with it"), "{history}");
}

#[test]
fn secret_set_reads_standard_input_and_refuses_an_empty_secret() {
    let server = TestServer::start();
    let set = run_with_stdin(&server, &["secret", "set", "api_token", "-o", "json"], b"s3cr3t\n").json();
    assert_eq!(set["name"], "api_token", "{set}");
    assert!(set.get("value").is_none(), "{set}");
    let listed = run(&server, &["secret", "ls", "-o", "json"]).json();
    assert_eq!(listed["secrets"][0]["name"], "api_token", "{listed}");
    assert!(!listed.to_string().contains("s3cr3t"), "{listed}");
    let refused = run_with_stdin(&server, &["secret", "set", "empty"], b"\n").exits(2);
    assert!(refused.stderr.contains("the secret is empty"), "{}", refused.stderr);
    let missing = run(&server, &["secret", "get", "empty"]).exits(1);
    assert!(missing.stderr.contains("secret_not_found"), "{}", missing.stderr);
    let deleted = run(&server, &["secret", "rm", "api_token"]).ok();
    assert_eq!(field(&deleted, "deleted"), "api_token");
}
