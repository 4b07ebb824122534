//! The `flow` and `run` commands of the real `switchyard` CLI against a real server: applying,
//! listing, reading and drawing flows; starting runs and waiting for them; listing, reading and
//! watching runs (without a terminal: one line per change); answering a `wait` node; cancelling,
//! rerunning and retrying runs, one by one and in bulk; and the exit codes of each.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use serde_json::{Value, json};
use support::TestServer;
use support::run::Run;
use switchyard_testkit::{PATIENCE, wait_until_blocking};

const DOUBLE: &str = "name: double
description: doubles x, adds one
nodes:
  - { id: a, kind: transform, value: 'input.x * 2' }
  - { id: b, kind: transform, value: 'nodes.a.output + 1' }
edges:
  - { from: a, to: b }
";

const APPROVAL: &str = "nodes:
  - { id: ask, kind: wait, approval: true, timeout: 1h }
  - { id: answer, kind: transform, value: '\"approved by \" + nodes.ask.output.by' }
edges:
  - { from: ask, to: answer }
";

const FAILING: &str = "nodes:
  - { id: prepare, kind: transform, value: 'input' }
  - { id: check, kind: condition, if: 'has(input.ok) && input.ok' }
  - { id: done, kind: succeed }
  - { id: stop, kind: fail, code: boom, message: '\"it broke\"' }
edges:
  - { from: prepare, to: check }
  - { from: check, to: done, branch: true }
  - { from: check, to: stop, branch: false }
";

/// Runs the CLI against `server` in space `acme`, bounded by [`PATIENCE`].
fn cli(server: &TestServer, args: &[&str]) -> Run {
    let mut cmd = server.cli();
    cmd.args(["--space", "acme"]).args(args);
    finish(cmd)
}

/// Runs `cmd` to its end; fails the test if it has not exited within [`PATIENCE`].
fn finish(mut cmd: Command) -> Run {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn switchyard");
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

/// Writes `text` to `dir/name`; returns its path as text.
fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the flow file");
    path.to_str().expect("a UTF-8 path").to_string()
}

/// The value of `key` in `key  value` output.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key).filter(|rest| rest.starts_with("  ")).map(str::trim))
        .unwrap_or_else(|| panic!("no field {key:?} in:\n{text}"))
}

/// The whitespace-separated cells of each line.
fn cells(text: &str) -> Vec<Vec<&str>> {
    text.lines().map(|l| l.split_whitespace().collect()).collect()
}

/// Starts a run of `flow` without waiting; returns its id.
fn start(server: &TestServer, flow: &str, input: &str) -> String {
    let run = cli(server, &["flow", "run", flow, "--input", input, "-o", "json"]).json();
    run["id"].as_str().expect("a run id").to_string()
}

/// Reads a run as JSON.
fn get_run(server: &TestServer, id: &str) -> Value {
    cli(server, &["run", "get", id, "-o", "json"]).json()
}

/// Waits until the run has `status`.
fn until_status(server: &TestServer, id: &str, status: &str) -> Value {
    wait_until_blocking(&format!("run {id} to be {status}"), PATIENCE, || {
        Some(get_run(server, id)).filter(|r| r["status"] == status)
    })
}

#[test]
fn flows_are_applied_listed_read_drawn_and_run() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "double.yaml", DOUBLE);

    let applied = cli(&server, &["flow", "apply", "-f", &file]);
    assert!(applied.stderr.contains("space \"acme\" did not exist"), "{}", applied.stderr);
    assert_eq!(applied.ok(), "flow double version 1 (created)\n");
    assert_eq!(cli(&server, &["flow", "apply", "-f", &file]).ok(), "flow double version 1 (unchanged)\n");
    let put = cli(&server, &["flow", "apply", "-f", &file, "-o", "json"]).json();
    assert_eq!(put, json!({"name": "double", "version": 1, "created": false}));
    // The name comes from --name, else the file's `name`, else the file's stem; JSON is told
    // from its content when the extension does not say.
    let stemmed =
        write(dir.path(), "triple.flow", r#"{"nodes": [{"id": "t", "kind": "transform", "value": "input.x * 3"}]}"#);
    assert_eq!(cli(&server, &["flow", "apply", "-f", &stemmed]).ok(), "flow triple version 1 (created)\n");
    let renamed = write(dir.path(), "anything.yml", "nodes:\n  - { id: a, kind: transform, value: 'input' }\n");
    assert_eq!(
        cli(&server, &["flow", "put", "-f", &renamed, "--name", "echo"]).ok(),
        "flow echo version 1 (created)\n"
    );

    let list = cli(&server, &["flow", "list"]).ok();
    let rows = cells(&list);
    assert_eq!(rows[0], ["NAME", "VERSION", "NODES", "CREATED", "DESCRIPTION"], "{list}");
    let double = rows.iter().find(|r| r[0] == "double").unwrap_or_else(|| panic!("{list}"));
    assert_eq!((double[1], double[2]), ("1", "2"), "{list}");
    assert!(list.contains("doubles x, adds one"), "{list}");
    let listed = cli(&server, &["flow", "ls", "-o", "json"]).json();
    assert_eq!(listed["flows"].as_array().map(Vec::len), Some(3), "{listed}");
    let lines = cli(&server, &["flow", "list", "-o", "jsonl"]).ok();
    assert_eq!(lines.lines().count(), 3, "one line per flow:\n{lines}");
    for line in lines.lines() {
        let flow: Value = serde_json::from_str(line).expect("a JSON line");
        assert!(flow["name"].is_string() && flow["nodes"].is_u64(), "{line}");
    }

    // `get` prints the definition as JSON (re-appliable), or the machine it compiled to.
    let definition: Value = serde_json::from_str(&cli(&server, &["flow", "get", "double"]).ok()).expect("JSON");
    assert_eq!(definition["nodes"][0], json!({"id": "a", "kind": "transform", "value": "input.x * 2"}));
    assert_eq!(definition["edges"], json!([{"from": "a", "to": "b"}]));
    let compiled: Value =
        serde_json::from_str(&cli(&server, &["flow", "get", "double", "--compiled"]).ok()).expect("JSON");
    assert_eq!(compiled["initial"], "flow.start", "{compiled}");
    let reply = cli(&server, &["flow", "show", "double", "--version", "1", "-o", "json"]).json();
    assert_eq!((&reply["name"], &reply["version"]), (&json!("double"), &json!(1)), "{reply}");
    assert!(reply.get("compiled").is_none(), "{reply}");
    let error = cli(&server, &["flow", "get", "double", "--version", "7", "-o", "json"]).json_error();
    assert_eq!(error["code"], "flow_not_found", "{error}");

    let graph = cli(&server, &["flow", "graph", "double"]).ok();
    assert_eq!(graph, "a (transform)\n  -> b\nb (transform)\n");
    let failing = write(dir.path(), "failing.yaml", FAILING);
    cli(&server, &["flow", "apply", "-f", &failing]).ok();
    let graph = cli(&server, &["flow", "graph", "failing"]).ok();
    assert_eq!(
        graph,
        "prepare (transform)\n  -> check\ncheck (condition)\n  -> done [branch: true]\n  -> stop [branch: false]\n\
         done (succeed)\nstop (fail)\n"
    );
    let mermaid = cli(&server, &["flow", "graph", "double", "--format", "mermaid"]).ok();
    assert_eq!(mermaid, "flowchart TD\n    n_a[\"a (transform)\"]\n    n_b[\"b (transform)\"]\n    n_a --> n_b\n");
    let as_json = cli(&server, &["flow", "graph", "double", "--format", "mermaid", "-o", "json"]).json();
    assert_eq!((&as_json["format"], &as_json["graph"]), (&json!("mermaid"), &json!(mermaid)));

    // A run waited for prints its id, status and output.
    let done = cli(&server, &["flow", "run", "double", "--input", r#"{"x":20}"#, "--wait"]).ok();
    assert_eq!(field(&done, "status"), "succeeded", "{done}");
    assert_eq!(field(&done, "output"), "41", "{done}");
    let id = field(&done, "run").to_string();
    let waited = cli(&server, &["flow", "run", "double", "--wait", "5s", "--input", r#"{"x":1}"#, "-o", "json"]).json();
    assert_eq!((&waited["status"], &waited["output"]), (&json!("succeeded"), &json!(3)), "{waited}");
    // An idempotency key returns the first run.
    let key = ["flow", "run", "double", "--input", r#"{"x":2}"#, "--idempotency-key", "k1", "-o", "json"];
    let (first, again) = (cli(&server, &key).json(), cli(&server, &key).json());
    assert_eq!(first["id"], again["id"]);
    until_status(&server, first["id"].as_str().unwrap(), "succeeded");

    let run = cli(&server, &["run", "get", &id]).ok();
    assert_eq!(field(&run, "flow"), "double (version 1)", "{run}");
    assert_eq!(field(&run, "status"), "succeeded", "{run}");
    assert_eq!(field(&run, "output"), "41", "{run}");
    let rows = cells(&run);
    let header = rows.iter().position(|r| r.first() == Some(&"NODE")).unwrap_or_else(|| panic!("{run}"));
    assert_eq!(rows[header], ["NODE", "KIND", "STATUS", "RUNS", "ATTEMPTS", "DURATION"], "{run}");
    assert_eq!(rows[header + 1][..5], ["a", "transform", "succeeded", "1", "-"], "{run}");
    assert_eq!(rows[header + 2][..5], ["b", "transform", "succeeded", "1", "-"], "{run}");
    assert!(rows[header + 1][5].ends_with("ms") || rows[header + 1][5].ends_with('s'), "{run}");
    let read = get_run(&server, &id);
    assert_eq!((&read["input"], &read["nodes"][1]["input"]), (&json!({"x": 20}), &json!(40)), "{read}");

    // Runs list newest first, filtered; a page ends with its cursor.
    let list = cli(&server, &["run", "list", "--flow", "double", "--status", "succeeded"]).ok();
    let rows = cells(&list);
    assert_eq!(rows[0], ["ID", "FLOW", "VERSION", "STATUS", "CREATED", "ERROR"], "{list}");
    assert_eq!(rows.len(), 4, "three runs of double:\n{list}");
    assert_eq!(rows[3][0], id, "the oldest last:\n{list}");
    let page = cli(&server, &["run", "ls", "--limit", "1", "-o", "json"]).json();
    assert_eq!(page["runs"].as_array().map(Vec::len), Some(1), "{page}");
    let cursor = page["next_cursor"].as_str().expect("a cursor");
    let next = cli(&server, &["run", "list", "--limit", "1", "--cursor", cursor, "-o", "json"]).json();
    assert_ne!(next["runs"][0]["id"], page["runs"][0]["id"], "{next}");
    let paged = cli(&server, &["run", "list", "--limit", "1"]).ok();
    assert!(paged.contains("(more: --cursor "), "{paged}");
    let none = cli(&server, &["run", "list", "--since", "2099-01-01T00:00:00Z", "-o", "json"]).json();
    assert_eq!(none["runs"], json!([]));
    let recent = cli(&server, &["run", "list", "--since", "1h", "--until", "2099-01-01T00:00:00Z", "-o", "jsonl"]).ok();
    assert_eq!(recent.lines().count(), 3, "one line per run:\n{recent}");

    // Watching a run that has ended prints its nodes' changes and its end, and exits 0.
    let watched = cli(&server, &["run", "watch", &id]).ok();
    let rows = cells(&watched);
    assert_eq!(rows.len(), 3, "{watched}");
    assert_eq!(rows[0][1..], ["node", "a", "succeeded"], "{watched}");
    assert_eq!(rows[1][1..], ["node", "b", "succeeded"], "{watched}");
    assert_eq!(rows[2][1..], ["run", id.as_str(), "succeeded"], "{watched}");
    let watched = cli(&server, &["run", "watch", &id, "-o", "json"]).ok();
    let last: Value = serde_json::from_str(watched.lines().last().unwrap()).expect("JSON lines");
    assert_eq!((&last["run"], &last["status"], &last["output"]), (&json!(id), &json!("succeeded"), &json!(41)));

    // A rerun starts over with the same input.
    let rerun = cli(&server, &["run", "rerun", &id, "-o", "json"]).json();
    assert_eq!((&rerun["rerun_of"], &rerun["input"]), (&json!(id), &json!({"x": 20})), "{rerun}");
    let rerun_id = rerun["id"].as_str().unwrap();
    assert_ne!(rerun_id, id);
    let done = until_status(&server, rerun_id, "succeeded");
    assert_eq!(done["output"], 41);
    let shown = cli(&server, &["run", "get", rerun_id]).ok();
    assert_eq!(field(&shown, "rerun of"), id, "{shown}");
}

#[test]
fn approvals_are_answered_watched_live_and_cancelled() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    cli(&server, &["flow", "apply", "-f", &write(dir.path(), "approval.yaml", APPROVAL)]).ok();

    let started = cli(&server, &["flow", "run", "approval", "--input", "{}"]).ok();
    let id = field(&started, "run").to_string();
    until_status(&server, &id, "waiting");

    // `run watch` follows it; without a terminal, one line per change.
    let mut child = server
        .cli()
        .args(["--space", "acme", "run", "watch", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn switchyard run watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.ends_with(&format!("run {id} waiting"))) {
        seen.push(lines.recv_timeout(PATIENCE).unwrap_or_else(|_| panic!("no `run {id} waiting` line: {seen:?}")));
    }
    assert!(seen.iter().any(|l| l.ends_with("node ask running")), "{seen:?}");

    let answered = cli(&server, &["run", "event", &id, "approve", "--payload", r#"{"by":"ops"}"#]).ok();
    assert_eq!(field(&answered, "status"), "succeeded", "{answered}");
    assert_eq!(field(&answered, "output"), r#""approved by ops""#, "{answered}");

    let status = wait_until_blocking("run watch to exit", PATIENCE, || child.try_wait().expect("wait"));
    assert_eq!(status.code(), Some(0), "{seen:?}");
    seen.extend(lines.iter());
    let last: Vec<&str> = seen.last().expect("lines").split_whitespace().collect();
    assert_eq!(last[1..], ["run", id.as_str(), "succeeded"], "{seen:?}");
    assert!(seen.iter().any(|l| l.ends_with("node ask succeeded")), "{seen:?}");
    assert!(seen.iter().any(|l| l.ends_with("node answer succeeded")), "{seen:?}");

    // A rejection fails the run with the reason as its message.
    let rejected = start(&server, "approval", "{}");
    let body =
        cli(&server, &["run", "event", &rejected, "reject", "--payload", r#"{"reason":"no budget"}"#, "-o", "json"])
            .json();
    assert_eq!((&body["status"], &body["error"]["code"]), (&json!("failed"), &json!("rejected")), "{body}");
    assert_eq!(body["error"]["message"], "no budget");

    // Cancelling one; watching a cancelled run exits 1.
    let waiting = start(&server, "approval", "{}");
    let cancelled = cli(&server, &["run", "cancel", &waiting, "--reason", "not needed"]).ok();
    assert_eq!(field(&cancelled, "status"), "cancelled", "{cancelled}");
    let watched = cli(&server, &["run", "watch", &waiting]);
    let stdout = watched.stdout.clone();
    let stderr = watched.fails(1);
    assert!(stdout.trim_end().ends_with(&format!("run {waiting} cancelled")), "{stdout}");
    assert!(stderr.contains(&format!("run {waiting} was cancelled")), "{stderr}");
    let error = cli(&server, &["run", "event", &waiting, "approve", "-o", "json"]).json_error();
    assert!(error["code"].is_string(), "a cancelled run takes no events: {error}");

    // Cancelling in bulk: every waiting run of the flow.
    let ids: Vec<String> = (0..3).map(|_| start(&server, "approval", "{}")).collect();
    for id in &ids {
        until_status(&server, id, "waiting");
    }
    let bulk = cli(&server, &["run", "cancel-all", "--flow", "approval", "--status", "waiting"]).ok();
    assert!(bulk.starts_with("cancelled 3 runs\n"), "{bulk}");
    for id in &ids {
        assert!(bulk.contains(id.as_str()), "{bulk}");
    }
    let left = cli(&server, &["run", "list", "--flow", "approval", "--status", "waiting", "-o", "json"]).json();
    assert_eq!(left["runs"], json!([]));
    let none = cli(&server, &["run", "cancel-all", "--flow", "approval", "--status", "waiting", "-o", "json"]).json();
    assert_eq!(none, json!({"cancelled": [], "skipped": []}));
}

#[test]
fn failed_runs_exit_non_zero_and_are_retried() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    cli(&server, &["flow", "apply", "-f", &write(dir.path(), "failing.yaml", FAILING)]).ok();

    let failed = cli(&server, &["flow", "run", "failing", "--input", r#"{"ok":false}"#, "--wait", "10s"]);
    let stdout = failed.stdout.clone();
    let stderr = failed.fails(1);
    assert_eq!(field(&stdout, "status"), "failed", "{stdout}");
    assert_eq!(field(&stdout, "error"), "boom: it broke", "{stdout}");
    assert_eq!(field(&stdout, "node"), "stop", "{stdout}");
    let id = field(&stdout, "run").to_string();
    assert!(stderr.contains(&format!("run {id} failed at node stop: boom: it broke")), "{stderr}");
    let error = cli(&server, &["flow", "run", "failing", "--input", "{}", "--wait", "-o", "json"]).json_error();
    assert_eq!(error["code"], "failed", "{error}");
    assert!(error["message"].as_str().unwrap_or("").contains("at node stop"), "{error}");

    // Reading a failed run is not a failure.
    let shown = cli(&server, &["run", "get", &id]).ok();
    assert_eq!(field(&shown, "error"), "boom: it broke", "{shown}");
    assert!(shown.contains("node stop error: boom: it broke"), "{shown}");
    let rows = cells(&shown);
    assert!(rows.iter().any(|r| r.len() >= 3 && r[..3] == ["stop", "fail", "failed"]), "{shown}");
    let listed = cli(&server, &["run", "list", "--status", "failed"]).ok();
    assert!(cells(&listed).iter().any(|r| r[0] == id && r.last() == Some(&"boom")), "{listed}");

    // Retrying resumes at the failed node, which fails again; the new run names the old one.
    let retried = cli(&server, &["run", "retry", &id]).ok();
    assert_eq!(field(&retried, "retry of"), id, "{retried}");
    let new_id = field(&retried, "run").to_string();
    assert_ne!(new_id, id);
    let again = until_status(&server, &new_id, "failed");
    assert_eq!((&again["retry_of"], &again["error"]["node"]), (&json!(id), &json!("stop")), "{again}");
    assert_eq!(again["nodes"][0]["runs"], 1, "the completed node did not run again: {again}");

    // A succeeded run is not retried.
    let ok = start(&server, "failing", r#"{"ok":true}"#);
    until_status(&server, &ok, "succeeded");
    let error = cli(&server, &["run", "retry", &ok, "-o", "json"]).json_error();
    assert_eq!(error["code"], "conflict", "{error}");

    // Retrying in bulk: the failed runs start again, the others are skipped.
    let bulk = cli(&server, &["run", "retry-all", "--flow", "failing", "--status", "failed", "-o", "json"]).json();
    let started = bulk["started"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(started, 3, "the two failed runs and the failed retry: {bulk}");
    let text = cli(&server, &["run", "retry-all", "--flow", "failing", "--since", "2099-01-01T00:00:00Z"]).ok();
    assert_eq!(text, "started 0 runs\n");

    // Refusals: unknown runs and flows, bad arguments.
    let error = cli(&server, &["run", "get", "nope", "-o", "json"]).json_error();
    assert_eq!(error["code"], "run_not_found", "{error}");
    let error = cli(&server, &["flow", "run", "nope", "-o", "json"]).json_error();
    assert_eq!(error["code"], "flow_not_found", "{error}");
    let stderr = cli(&server, &["flow", "run", "failing", "--input", "{"]).fails(2);
    assert!(stderr.contains("--input"), "{stderr}");
    let stderr = cli(&server, &["run", "list", "--status", "sleeping"]).fails(2);
    assert!(stderr.contains("sleeping"), "{stderr}");
    let stderr = cli(&server, &["run", "list", "--since", "yesterday"]).fails(2);
    assert!(stderr.contains("RFC 3339"), "{stderr}");
    let stderr = cli(&server, &["flow", "run", "failing", "--wait", "soon"]).fails(2);
    assert!(stderr.contains("soon"), "{stderr}");
}
