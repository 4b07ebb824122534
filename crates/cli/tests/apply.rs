//! Configuration as code through the real binary: `switchyard apply -f` creates a space's
//! machines, flows, functions, triggers, endpoints and buckets from YAML documents (a file or a
//! directory), idempotently; `--dry-run` prints what would change and changes nothing;
//! `switchyard export` writes the space back out so that applying it changes nothing; a
//! configuration with a bad document applies nothing.

mod support;

use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;
use support::TestServer;
use support::http::Http;
use support::run::run;
use switchyard_testkit::example_function_bytes;

const CORE: &str = r#"kind: machine
name: order
initial: new
states:
  new: {}
  paid: { final: true }
transitions:
  - { from: new, event: pay, to: paid }
---
kind: flow
name: echo
nodes:
  - { id: echo, kind: transform, value: "input" }
---
kind: bucket
name: cfg
history: 3
"#;

const OUTSIDE: &str = r#"kind: trigger
name: nightly
source: { cron: { schedule: "0 3 * * *", timezone: Europe/Paris } }
target: { flow: echo, input: "{'at': fire_time}" }
---
kind: endpoint
name: crm
url: https://crm.example.com/hooks
secret: "{{secrets.crm}}"
kinds: [instance.transitioned]
timeout: 10s
---
kind: function
name: hello
component: hello.wasm
timeout_ms: 2000
"#;

fn write_config(dir: &Path) {
    std::fs::create_dir_all(dir.join("more")).expect("dirs");
    std::fs::write(dir.join("core.yaml"), CORE).expect("write");
    std::fs::write(dir.join("more/outside.yml"), OUTSIDE).expect("write");
    std::fs::write(dir.join("more/hello.wasm"), example_function_bytes("hello")).expect("write");
    std::fs::write(dir.join("README.txt"), "not a configuration file").expect("write");
}

fn apply(server: &TestServer, args: &[&str]) -> String {
    let mut all = vec!["--space", "acme", "apply"];
    all.extend_from_slice(args);
    run(&mut server.cli(), &all).ok()
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with("    ")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_a_space_idempotently_and_export_round_trips() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let dir = tempfile::tempdir().expect("tempdir");
    write_config(dir.path());
    let conf = dir.path().to_str().expect("path");

    // A dry run on an empty space: everything would be created, nothing is.
    let dry = apply(&server, &["-f", conf, "--dry-run"]);
    assert_eq!(
        lines(&dry),
        [
            "would create bucket cfg",
            "would create function hello (version 1)",
            "would create machine order (version 1)",
            "would create flow echo (version 1)",
            "would create endpoint crm (version 1)",
            "would create trigger nightly (version 1)",
            "6 created, 0 updated, 0 unchanged (dry run: nothing changed)",
        ],
        "{dry}"
    );
    assert!(dry.contains("    + url: https://crm.example.com/hooks"), "the definition is shown: {dry}");
    let (status, _) = http.get("/v1/spaces/acme/triggers/nightly").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a dry run changes nothing");

    // Applied: created in dependency order (the trigger's flow before it).
    let applied = apply(&server, &["-f", conf]);
    assert_eq!(lines(&applied).last(), Some(&"6 created, 0 updated, 0 unchanged"), "{applied}");
    let (status, trigger) = http.get("/v1/spaces/acme/triggers/nightly").await;
    assert_eq!((status, &trigger["version"]), (StatusCode::OK, &Value::from(1)), "{trigger}");
    let (_, function) = http.get("/v1/spaces/acme/functions/hello").await;
    assert_eq!(function["settings"]["timeout_ms"], 2000, "{function}");
    let (_, bucket) = http.get("/v1/spaces/acme/kv/cfg").await;
    assert_eq!(bucket["history"], 3, "{bucket}");

    // Again: nothing changes.
    let again = apply(&server, &["-f", conf]);
    assert_eq!(lines(&again).last(), Some(&"0 created, 0 updated, 6 unchanged"), "{again}");

    // One change: the dry run shows it, the apply makes a new version of that resource only.
    let changed = OUTSIDE.replace("0 3 * * *", "0 4 * * *");
    std::fs::write(dir.path().join("more/outside.yml"), changed).expect("write");
    let dry = apply(&server, &["-f", conf, "--dry-run"]);
    assert!(dry.contains("would update trigger nightly"), "{dry}");
    assert!(dry.contains("    -     schedule: 0 3 * * *") && dry.contains("    +     schedule: 0 4 * * *"), "{dry}");
    assert!(dry.contains("0 created, 1 updated, 5 unchanged (dry run: nothing changed)"), "{dry}");
    let json = run(&mut server.cli(), &["--space", "acme", "apply", "-f", conf, "-o", "json"]).json();
    let results: Vec<(&str, &str)> = json["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| Some((r["name"].as_str()?, r["result"].as_str()?)))
        .collect();
    assert!(results.contains(&("nightly", "updated")), "{json}");
    assert_eq!(results.iter().filter(|(_, r)| *r == "unchanged").count(), 5, "{json}");
    let (_, trigger) = http.get("/v1/spaces/acme/triggers/nightly").await;
    assert_eq!(trigger["version"], 2, "{trigger}");

    // Export needs a directory for the function's component; applying the export changes
    // nothing.
    let refused = run(&mut server.cli(), &["--space", "acme", "export"]).fails(2);
    assert!(refused.contains("--dir"), "{refused}");
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("acme");
    run(&mut server.cli(), &["--space", "acme", "export", "--dir", target.to_str().expect("path")]).ok();
    let exported = std::fs::read_to_string(target.join("space.yaml")).expect("space.yaml");
    assert!(exported.contains("---\nkind: trigger\nname: nightly\n"), "{exported}");
    assert_eq!(std::fs::read(target.join("functions/hello.wasm")).expect("component"), example_function_bytes("hello"));
    let reapplied = apply(&server, &["-f", target.to_str().expect("path")]);
    assert_eq!(lines(&reapplied).last(), Some(&"0 created, 0 updated, 6 unchanged"), "{reapplied}");

    // Into another space, the export creates the same resources.
    let other = run(&mut server.cli(), &["--space", "globex", "apply", "-f", target.to_str().expect("path")]).ok();
    assert_eq!(lines(&other).last(), Some(&"6 created, 0 updated, 0 unchanged"), "{other}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_with_a_bad_document_applies_nothing() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    let file_arg = file.to_str().expect("path");
    let cases = [
        ("kind: bucket\nname: ok\n---\nname: nokind\n", "`kind` must be one of"),
        ("kind: bucket\nname: ok\n---\nkind: trigger\n", "`name` is required"),
        ("kind: bucket\nname: ok\n---\nkind: bucket\nname: ok\n", "defined twice"),
        ("kind: bucket\nname: ok\n---\nkind: function\nname: f\n", "needs `component`"),
        ("kind: bucket\nname: ok\n---\nkind: function\nname: f\ncomponent: nope.wasm\n", "is not a file"),
        ("kind: bucket\nname: ok\n---\n- a list\n", "a document is a map"),
        ("kind: bucket\nname: ok\n---\nkind: bucket\nname: b2\nhistory: 4294967297\n", "whole number"),
        ("kind: bucket\nname: ok\n---\nkind: bucket\nname: b2\nhistory: 0\n", "whole number"),
    ];
    for (text, expected) in cases {
        std::fs::write(&file, text).expect("write");
        let error = run(&mut server.cli(), &["--space", "acme", "apply", "-f", file_arg]).fails(2);
        assert!(error.contains(expected), "{text:?}: {error}");
        let (status, _) = http.get("/v1/spaces/acme/kv/ok").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{text:?}: nothing is applied");
    }
    // A document the server would refuse stops the apply before anything is put, naming it.
    std::fs::write(
        &file,
        "kind: bucket\nname: ok\n---\nkind: trigger\nname: t\nsource: { cron: { schedule: 'not cron' } }\ntarget: { flow: x }\n",
    )
    .expect("write");
    let error = run(&mut server.cli(), &["--space", "acme", "apply", "-f", file_arg]).fails(1);
    assert!(error.contains("trigger t would fail; nothing was applied") && error.contains("source.cron"), "{error}");
    let (status, _) = http.get("/v1/spaces/acme/kv/ok").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the bucket before it was not put");
}
