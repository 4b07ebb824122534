//! The `switchyard` client commands against a real server.

// The shared harness is not ours to restyle.
mod support;

use std::path::Path;
use std::process::Command;
use switchyard_testkit::fixtures::ORDER_YAML;

use serde_json::{Value, json};
use support::TestServer;
use support::run::run;
use switchyard_client::{ClientError, CreateInstance, SendEvent};

/// Writes the order machine to `dir/order.yaml` and returns its path as a string.
fn order_file(dir: &Path) -> String {
    let path = dir.join("order.yaml");
    std::fs::write(&path, ORDER_YAML).unwrap();
    path.to_str().unwrap().to_string()
}

/// A command that sees no server, token or config from the environment.
fn bare_cli(home: &Path) -> Command {
    let mut cmd = support::command();
    cmd.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", home).current_dir(home);
    cmd
}

#[test]
fn full_tour_through_the_cli_ends_with_instance_not_found_after_delete() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = order_file(dir.path());

    let out = run(&mut server.cli(), &["machine", "put", "-f", &file]).ok();
    assert!(out.contains("default:order") && out.contains("version 1"), "{out}");
    let out = run(&mut server.cli(), &["machine", "put", "-f", &file]).ok();
    assert!(out.contains("unchanged at version 1"), "{out}");

    let out =
        run(&mut server.cli(), &["instance", "create", "order", "--id", "o-1", "--ctx", r#"{"amount": 100}"#]).ok();
    assert!(out.contains("default:order:o-1") && out.contains("pending"), "{out}");

    let out = run(&mut server.cli(), &["event", "send", "order:o-1", "pay", "--payload", r#"{"amount": 100}"#]).ok();
    assert!(out.contains("pending -> paid"), "{out}");

    let out = run(&mut server.cli(), &["instance", "get", "default:order:o-1"]).ok();
    assert!(out.contains("paid") && out.contains(r#"{"amount":100}"#), "{out}");
    assert!(out.lines().any(|l| l.split_whitespace().eq(["revision", "2"])), "{out}");

    let out = run(&mut server.cli(), &["instance", "list", "order"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["ID", "STATE", "STATUS", "REVISION", "UPDATED"],
        "{out}"
    );
    assert!(lines[1].starts_with("o-1") && lines[1].contains("paid"), "{out}");
    assert_eq!(lines.len(), 2, "{out}");

    let out = run(&mut server.cli(), &["instance", "history", "order:o-1"]).ok();
    assert!(out.contains("instance.created") && out.contains("in pending"), "{out}");
    assert!(out.contains("instance.transitioned") && out.contains("pay: pending -> paid (revision 2)"), "{out}");

    let out = run(&mut server.cli(), &["instance", "delete", "order:o-1"]).ok();
    assert!(out.contains("deleted default:order:o-1"), "{out}");
    let out = run(&mut server.cli(), &["instance", "list", "order"]).ok();
    assert_eq!(out.lines().count(), 1, "deleted instances are not listed: {out}");

    let err =
        run(&mut server.cli(), &["event", "send", "order:o-1", "pay", "--payload", r#"{"amount": 100}"#]).fails(1);
    assert!(err.contains("error: instance_not_found:"), "{err}");
}

#[test]
fn bad_payload_json_exits_2_before_any_request() {
    // No server: a usage error must not need one.
    let home = tempfile::tempdir().unwrap();
    let mut cmd = bare_cli(home.path());
    let err = run(
        cmd.env("SWITCHYARD_SERVER", "127.0.0.1:1"),
        &["event", "send", "order:o-1", "pay", "--payload", "{amount: 1}"],
    )
    .fails(2);
    assert!(err.contains("--payload") && err.contains("not valid JSON"), "{err}");

    let err = run(&mut bare_cli(home.path()), &["instance", "create", "order", "--ctx", "[1, 2]"]).fails(2);
    assert!(err.contains("expected a JSON object, got an array"), "{err}");
}

#[test]
fn malformed_instance_address_exits_2() {
    let home = tempfile::tempdir().unwrap();
    for bad in ["o-1", "a:b:c:d", "order:", "Acme:order:o-1", "order:o 1"] {
        let err = run(&mut bare_cli(home.path()), &["instance", "get", bad]).fails(2);
        assert!(err.contains("<INSTANCE>"), "{bad}: {err}");
    }
}

#[test]
fn missing_explicit_config_file_exits_2() {
    let home = tempfile::tempdir().unwrap();
    let err =
        run(&mut bare_cli(home.path()), &["--config", "/nonexistent/switchyard.toml", "machine", "list"]).fails(2);
    assert!(err.contains("/nonexistent/switchyard.toml does not exist"), "{err}");

    let bad = home.path().join("bad.toml");
    std::fs::write(&bad, "output = \"xml\"\n").unwrap();
    let mut cmd = bare_cli(home.path());
    let err = run(cmd.env("SWITCHYARD_CONFIG", &bad), &["machine", "list"]).fails(2);
    assert!(err.contains("bad.toml") && err.contains("xml"), "{err}");
}

#[test]
fn unreachable_server_exits_1_and_names_the_server() {
    let home = tempfile::tempdir().unwrap();
    let err = run(&mut bare_cli(home.path()), &["--server", "127.0.0.1:1", "machine", "list"]).fails(1);
    assert!(err.contains("could not reach the server at 127.0.0.1:1"), "{err}");
}

#[test]
fn unknown_machine_exits_1_with_machine_not_found() {
    let server = TestServer::start();
    let err = run(&mut server.cli(), &["instance", "create", "no-such-machine"]).fails(1);
    assert!(err.contains("error: machine_not_found:"), "{err}");
    let err = run(&mut server.cli(), &["machine", "get", "no-such-machine"]).fails(1);
    assert!(err.contains("error: machine_not_found:"), "{err}");
}

#[test]
fn refused_event_prints_code_and_details() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    run(&mut server.cli(), &["machine", "put", "-f", &order_file(dir.path())]).ok();
    run(&mut server.cli(), &["instance", "create", "order", "--id", "o-1", "--ctx", r#"{"amount": 100}"#]).ok();
    let err = run(&mut server.cli(), &["event", "send", "order:o-1", "pay", "--expected-revision", "7"]).fails(1);
    assert!(err.contains("error: conflict:") && err.contains(r#""actual_revision":1"#), "{err}");
}

#[test]
fn json_output_is_the_servers_json() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = order_file(dir.path());
    let put = run(&mut server.cli(), &["--output", "json", "machine", "put", "-f", &file, "acme:order"]).json();
    assert_eq!(put, json!({"name": "order", "version": 1, "created": true}));

    let mut cmd = server.cli();
    cmd.env("SWITCHYARD_OUTPUT", "json").env("SWITCHYARD_SPACE", "acme");
    let created = run(&mut cmd, &["instance", "create", "order", "--id", "o-7", "--ctx", r#"{"amount": 5}"#]).json();
    assert_eq!(created["id"], "o-7");
    assert_eq!(created["state"], "pending");
    assert_eq!(created["revision"], 1);
    assert_eq!(created["ctx"], json!({"amount": 5}));

    let list = run(&mut server.cli(), &["--output", "json", "--space", "acme", "instance", "list", "order"]).json();
    assert_eq!(list["instances"].as_array().map(Vec::len), Some(1));
    assert!(list["next_cursor"].is_null(), "{list}");

    let machines = run(&mut server.cli(), &["--output", "json", "--space", "acme", "machine", "list"]).json();
    assert_eq!(machines["machines"][0]["name"], "order");

    let history = run(&mut server.cli(), &["--output", "json", "instance", "history", "acme:order:o-7"]).json();
    assert_eq!(history["events"][0]["kind"], "instance.created");
    assert_eq!(history["events"][0]["address"], "acme:order:o-7");
}

#[test]
fn reader_token_can_read_acme_but_writing_is_forbidden() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = order_file(dir.path());
    run(&mut server.cli(), &["--space", "acme", "machine", "put", "-f", &file]).ok();

    let created = run(
        &mut server.cli(),
        &["--output", "json", "token", "create", "--name", "ci", "--role", "reader", "--grant", "acme"],
    )
    .json();
    assert_eq!(created["role"], "reader");
    assert_eq!(created["spaces"], json!(["acme"]));
    let secret = created["token"].as_str().expect("the secret is returned").to_string();

    let mut reader = server.cli();
    reader.env("SWITCHYARD_TOKEN", &secret).env("SWITCHYARD_SPACE", "acme");
    let out = run(&mut reader, &["machine", "list"]).ok();
    assert!(out.contains("order"), "{out}");

    let mut reader = server.cli();
    reader.env("SWITCHYARD_TOKEN", &secret).env("SWITCHYARD_SPACE", "acme");
    let err = run(&mut reader, &["instance", "create", "order", "--ctx", r#"{"amount": 1}"#]).fails(1);
    assert!(err.contains("error: forbidden:"), "{err}");

    let err = run(&mut server.cli(), &["--token", &secret, "--space", "other", "machine", "list"]).fails(1);
    assert!(err.contains("error: forbidden:"), "a space not granted is forbidden: {err}");
}

#[test]
fn token_create_table_shows_the_secret_once_and_token_list_never() {
    let server = TestServer::start();
    let out = run(&mut server.cli(), &["token", "create", "--name", "deploy", "--role", "writer"]).ok();
    assert!(out.contains("shown only this once"), "{out}");
    let secret = out.lines().find_map(|l| l.strip_prefix("token").map(str::trim)).expect("a token line").to_string();
    assert!(!secret.is_empty());
    assert!(out.lines().any(|l| l.split_whitespace().eq(["spaces", "default"])), "grants default to --space: {out}");

    let table = run(&mut server.cli(), &["token", "list"]).ok();
    assert!(table.contains("deploy") && table.contains("writer"), "{table}");
    assert!(!table.contains(&secret), "token list leaks a secret: {table}");
    assert!(!table.contains(&server.admin_token), "token list leaks the admin secret: {table}");

    let list = run(&mut server.cli(), &["--output", "json", "token", "list"]).json();
    let tokens = list["tokens"].as_array().expect("tokens array");
    assert!(tokens.iter().any(|t| t["name"] == "deploy"), "{list}");
    assert!(tokens.iter().all(|t| t.get("token").is_none()), "{list}");
    assert!(!list.to_string().contains(&secret), "{list}");
}

#[test]
fn revoked_token_is_unauthorized() {
    let server = TestServer::start();
    let created =
        run(&mut server.cli(), &["--output", "json", "token", "create", "--name", "tmp", "--role", "writer"]).json();
    let (id, secret) = (created["id"].as_str().unwrap().to_string(), created["token"].as_str().unwrap().to_string());
    run(&mut server.cli(), &["--token", &secret, "machine", "list"]).ok();

    let out = run(&mut server.cli(), &["token", "revoke", &id]).ok();
    assert!(out.contains(&id), "{out}");

    let err = run(&mut server.cli(), &["--token", &secret, "machine", "list"]).fails(1);
    assert!(err.contains("error: unauthorized:"), "{err}");

    let list = run(&mut server.cli(), &["--output", "json", "token", "list"]).json();
    let revoked = list["tokens"].as_array().unwrap().iter().find(|t| t["id"] == id.as_str()).cloned();
    assert!(revoked.is_some_and(|t| t["revoked_at"].is_string()), "{list}");
}

#[test]
fn env_token_overrides_a_wrong_token_in_the_config_file() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "token = \"sy_wrong\"\nspace = \"from-file\"\n").unwrap();

    // SWITCHYARD_TOKEN (set by cli()) wins over the file's token; the file's space still applies.
    let mut cmd = server.cli();
    let out = run(cmd.env("SWITCHYARD_CONFIG", &config), &["token", "create", "--name", "n", "--role", "reader"]).ok();
    assert!(out.lines().any(|l| l.split_whitespace().eq(["spaces", "from-file"])), "{out}");

    // Without the env token, the file's wrong token is used and refused.
    let mut cmd = server.cli();
    cmd.env_remove("SWITCHYARD_TOKEN");
    let err = run(&mut cmd, &["--config", config.to_str().unwrap(), "machine", "list"]).fails(1);
    assert!(err.contains("error: unauthorized:"), "{err}");
}

#[test]
fn server_set_only_in_the_default_config_file_is_used() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let config_dir = home.path().join(".config").join("switchyard");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(config_dir.join("config.toml"), format!("server = \"{}\"\noutput = \"json\"\n", server.url))
        .unwrap();

    let mut cmd = bare_cli(home.path());
    cmd.env("SWITCHYARD_TOKEN", &server.admin_token);
    let spaces = run(&mut cmd, &["space", "list"]).json();
    assert!(spaces["spaces"].is_array(), "{spaces}");

    // A flag still beats the file.
    let mut cmd = bare_cli(home.path());
    cmd.env("SWITCHYARD_TOKEN", &server.admin_token);
    let err = run(&mut cmd, &["--server", "127.0.0.1:1", "space", "list"]).fails(1);
    assert!(err.contains("could not reach the server at 127.0.0.1:1"), "{err}");
}

#[test]
fn local_server_admin_token_is_used_when_no_token_is_given() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = bare_cli(home.path());
    cmd.env("SWITCHYARD_SERVER", &server.url).env("SWITCHYARD_DATA_DIR", &server.data_dir);
    run(&mut cmd, &["machine", "list"]).ok();

    // Elsewhere there is no admin token file: the server says who is missing.
    let mut cmd = bare_cli(home.path());
    cmd.env("SWITCHYARD_SERVER", &server.url);
    let err = run(&mut cmd, &["machine", "list"]).fails(1);
    assert!(err.contains("error: unauthorized:") && err.contains("hint: no token was given"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_library_round_trip_with_idempotency_and_batch() {
    let server = TestServer::start();
    let client = server.client();
    client.healthz().await.unwrap();
    let put = client.put_machine("acme", "order", ORDER_YAML.as_bytes().to_vec(), "application/yaml").await.unwrap();
    assert_eq!((put.name.as_str(), put.version, put.created), ("order", 1, true));

    let ctx = json!({"amount": 10}).as_object().cloned();
    let req = CreateInstance { id: Some("o-1".into()), ctx, idempotency_key: Some("k-1".into()) };
    let first = client.create_instance("acme", "order", &req).await.unwrap();
    let again = client.create_instance("acme", "order", &req).await.unwrap();
    assert_eq!(first, again, "a repeated idempotency key returns the original instance");

    let mut pay = SendEvent::new("pay");
    pay.payload = json!({"amount": 10}).as_object().cloned();
    pay.expected_revision = Some(1);
    let t = client.send_event("acme", "order", "o-1", &pay).await.unwrap();
    assert_eq!((t.from.as_str(), t.to.as_str(), t.revision), ("pending", "paid", 2));

    match client.send_event("acme", "order", "o-1", &pay).await {
        // The revision precondition is checked before the transition.
        Err(ClientError::Api { status: 409, code, details, .. }) => {
            assert_eq!(code, "conflict", "{details:?}");
            assert_eq!(details["actual_revision"], 2, "{details:?}");
        }
        other => panic!("expected a 409, got {other:?}"),
    }

    let results = client
        .batch(&[
            json!({"op": "create_instance", "space": "acme", "machine": "order", "id": "o-2", "ctx": {"amount": 1}}),
            json!({"op": "apply_event", "space": "acme", "machine": "order", "instance": "o-2", "event": "cancel"}),
        ])
        .await
        .unwrap();
    assert_eq!(results["results"][1]["to"], "cancelled", "{results}");

    // Names that would change the route are refused before sending.
    assert!(matches!(client.get_instance("acme", "order", "..").await, Err(ClientError::InvalidArgument(_))));
    // Odd characters are one percent-encoded segment, so the server sees a bad name, not a route.
    let err = client.get_instance("acme", "order", "a/b").await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(422), Some("validation_failed")), "{err:?}");

    let history = client.history("acme", "order", "o-1", None, Some(1)).await.unwrap();
    assert_eq!(history.events.len(), 1);
    let next: u64 = history.next_cursor.as_deref().expect("a second page").parse().unwrap();
    let rest = client.history("acme", "order", "o-1", Some(next), None).await.unwrap();
    assert_eq!(rest.events[0].kind, "instance.transitioned");
}

/// Parses the one JSON error object a failed command wrote to stderr under `-o json|jsonl`.
fn json_error(stderr: &str) -> Value {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line of JSON on stderr:\n{stderr}");
    let error: Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("stderr is not JSON ({e}):\n{stderr}"));
    assert!(error["error"]["message"].is_string(), "{error}");
    assert!(error["error"].get("details").is_some(), "{error}");
    error
}

#[test]
fn old_and_new_verb_spellings_reach_the_same_commands() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = order_file(dir.path());
    // machine: apply (new), put (old), create and ls/show (aliases).
    let out = run(&mut server.cli(), &["machine", "apply", "-f", &file]).ok();
    assert!(out.contains("stored as version 1"), "{out}");
    let out = run(&mut server.cli(), &["machine", "put", "-f", &file]).ok();
    assert!(out.contains("unchanged at version 1"), "{out}");
    let out = run(&mut server.cli(), &["machine", "create", "-f", &file]).ok();
    assert!(out.contains("unchanged at version 1"), "{out}");
    assert!(run(&mut server.cli(), &["machine", "ls"]).ok().contains("order"));
    assert!(run(&mut server.cli(), &["machine", "show", "order"]).ok().contains("definition:"));

    // instance: add, ls, show, rm, del.
    for id in ["o-1", "o-2"] {
        run(&mut server.cli(), &["instance", "add", "order", "--id", id, "--ctx", r#"{"amount": 1}"#]).ok();
    }
    assert_eq!(run(&mut server.cli(), &["instance", "ls", "order"]).ok().lines().count(), 3);
    assert!(run(&mut server.cli(), &["instance", "show", "order:o-1"]).ok().contains("pending"));
    run(&mut server.cli(), &["instance", "rm", "order:o-1"]).ok();
    run(&mut server.cli(), &["instance", "del", "order:o-2"]).ok();
    assert_eq!(run(&mut server.cli(), &["instance", "list", "order"]).ok().lines().count(), 1);

    // kv: list/ls, delete/del/rm.
    for key in ["a", "b", "c"] {
        run(&mut server.cli(), &["kv", "put", "cfg", key, "v"]).ok();
    }
    assert_eq!(run(&mut server.cli(), &["kv", "list", "cfg"]).ok().lines().count(), 4);
    assert_eq!(run(&mut server.cli(), &["kv", "ls", "cfg"]).ok().lines().count(), 4);
    run(&mut server.cli(), &["kv", "del", "cfg", "a"]).ok();
    run(&mut server.cli(), &["kv", "delete", "cfg", "b"]).ok();
    run(&mut server.cli(), &["kv", "rm", "cfg", "c"]).ok();
    assert_eq!(run(&mut server.cli(), &["kv", "ls", "cfg"]).ok().lines().count(), 1);

    // sub: list/ls, delete/rm.
    run(&mut server.cli(), &["sub", "add", "s1"]).ok();
    run(&mut server.cli(), &["sub", "create", "s2"]).ok();
    assert_eq!(run(&mut server.cli(), &["sub", "ls"]).ok().lines().count(), 3);
    run(&mut server.cli(), &["sub", "rm", "s1"]).ok();
    run(&mut server.cli(), &["sub", "delete", "s2"]).ok();
    assert_eq!(run(&mut server.cli(), &["sub", "list"]).ok().lines().count(), 1);

    // token: delete and the old revoke.
    for name in ["t1", "t2"] {
        let created =
            run(&mut server.cli(), &["-o", "json", "token", "add", "--name", name, "--role", "reader"]).json();
        let id = created["id"].as_str().unwrap().to_string();
        let verb = if name == "t1" { "delete" } else { "revoke" };
        assert!(run(&mut server.cli(), &["token", verb, &id]).ok().contains("revoked"));
    }
    let list = run(&mut server.cli(), &["-o", "json", "token", "ls"]).json();
    let revoked = list["tokens"].as_array().unwrap().iter().filter(|t| t["revoked_at"].is_string()).count();
    assert_eq!(revoked, 2, "{list}");

    assert!(run(&mut server.cli(), &["space", "ls"]).ok().contains("default"));
    assert!(run(&mut server.cli(), &["fn", "ls"]).ok().starts_with("NAME"));
}

#[test]
fn subcommand_help_is_short_and_points_at_the_global_options() {
    let home = tempfile::tempdir().unwrap();
    let help = run(&mut bare_cli(home.path()), &["instance", "get", "--help"]).ok();
    assert!(!help.contains("Server URL or host:port"), "global options are not described again:\n{help}");
    assert!(help.contains("`switchyard --help` describes them"), "{help}");
    assert!(help.lines().count() < 20, "short:\n{help}");
    let top = run(&mut bare_cli(home.path()), &["--help"]).ok();
    assert!(top.contains("Global options:") && top.contains("Server URL or host:port"), "{top}");
    assert!(top.contains("--context <NAME>"), "{top}");
    // Still accepted after the subcommand: the bad server shows it was read.
    let err = run(&mut bare_cli(home.path()), &["instance", "get", "order:o-1", "--server", "127.0.0.1:1"]).fails(1);
    assert!(err.contains("could not reach the server at 127.0.0.1:1"), "{err}");
}

#[test]
fn completions_print_a_script_for_each_shell() {
    let home = tempfile::tempdir().unwrap();
    let bash = run(&mut bare_cli(home.path()), &["completions", "bash"]).ok();
    assert!(bash.contains("switchyard") && bash.contains("complete -F"), "{bash}");
    assert!(bash.contains("instance") && bash.contains("--server"), "commands and global options complete");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = run(&mut bare_cli(home.path()), &["completions", shell]).ok();
        assert!(script.contains("switchyard") && script.contains("context"), "{shell}: {script}");
    }
    let err = run(&mut bare_cli(home.path()), &["completions", "tcsh"]).fails(2);
    assert!(err.contains("tcsh"), "{err}");
}

#[test]
fn json_errors_on_stderr_carry_stable_codes() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();

    // A server's refusal keeps the server's code and details; stdout stays empty.
    let mut cmd = server.cli();
    let result = run(&mut cmd, &["-o", "json", "instance", "get", "order:nope"]);
    assert!(result.stdout.is_empty(), "{}", result.stdout);
    let error = json_error(&result.fails(1));
    assert_eq!(error["error"]["code"], "instance_not_found", "{error}");

    // A usage error clap finds, with -o after the subcommand or from the environment.
    let error = json_error(&run(&mut bare_cli(home.path()), &["instance", "get", "no-colon", "-o", "json"]).fails(2));
    assert_eq!(error["error"]["code"], "usage", "{error}");
    assert_eq!(error["error"]["details"]["kind"], "value_validation", "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("MACHINE:ID"), "{error}");
    let mut cmd = bare_cli(home.path());
    let error = json_error(&run(cmd.env("SWITCHYARD_OUTPUT", "jsonl"), &["instance", "frobnicate"]).fails(2));
    assert_eq!(error["error"]["code"], "usage", "{error}");
    assert_eq!(error["error"]["details"]["kind"], "invalid_subcommand", "{error}");
    // ... and one found after parsing.
    let error = json_error(
        &run(&mut bare_cli(home.path()), &["-o", "json", "--config", "/nonexistent/sy.toml", "machine", "list"])
            .fails(2),
    );
    assert_eq!(error["error"]["code"], "usage", "{error}");

    // No server at the address.
    let error = json_error(
        &run(&mut bare_cli(home.path()), &["-o", "json", "--server", "127.0.0.1:1", "space", "list"]).fails(1),
    );
    assert_eq!(error["error"]["code"], "unreachable", "{error}");
    assert_eq!(error["error"]["details"]["server"], "127.0.0.1:1", "{error}");

    // Unauthorized: the hint travels with the error.
    let mut cmd = bare_cli(home.path());
    cmd.env("SWITCHYARD_SERVER", &server.url);
    let error = json_error(&run(&mut cmd, &["-o", "jsonl", "machine", "list"]).fails(1));
    assert_eq!(error["error"]["code"], "unauthorized", "{error}");
    assert!(error["error"]["hint"].as_str().unwrap().contains("switchyard context add"), "{error}");

    // Without -o json the text form is unchanged.
    let err = run(&mut bare_cli(home.path()), &["--server", "127.0.0.1:1", "space", "list"]).fails(1);
    assert!(err.starts_with("error: could not reach the server at 127.0.0.1:1"), "{err}");
}

#[test]
fn jsonl_prints_one_object_per_item_and_per_watched_record() {
    use std::io::{BufRead, BufReader};
    use std::time::Duration;
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    run(&mut server.cli(), &["machine", "apply", "-f", &order_file(dir.path())]).ok();
    for id in ["o-1", "o-2", "o-3"] {
        run(&mut server.cli(), &["instance", "create", "order", "--id", id, "--ctx", r#"{"amount": 1}"#]).ok();
    }
    let out = run(&mut server.cli(), &["instance", "list", "order", "-o", "jsonl", "--limit", "2"]).ok();
    let ids: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON object per line")["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["o-1", "o-2"], "{out}");
    // Every list splits: jobs, env values, secrets (names only).
    for kind in ["noop", "noop"] {
        run(&mut server.cli(), &["job", "enqueue", "--kind", kind, "--delay", "1h"]).ok();
    }
    let out = run(&mut server.cli(), &["job", "list", "-o", "jsonl"]).ok();
    assert_eq!(out.lines().count(), 2, "one line per job:\n{out}");
    run(&mut server.cli(), &["env", "set", "region", "eu-west-1"]).ok();
    run(&mut server.cli(), &["env", "set", "limits", r#"{"max": 3}"#]).ok();
    run(&mut server.cli(), &["env", "set", "count", "42", "--string"]).ok();
    let out = run(&mut server.cli(), &["env", "list", "-o", "jsonl"]).ok();
    let values: Vec<Value> =
        out.lines().map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")["value"].clone()).collect();
    assert_eq!(
        values,
        [json!("42"), json!({ "max": 3 }), json!("eu-west-1")],
        "by name; a bare word is a string:\n{out}"
    );
    let secret = dir.path().join("token.txt");
    std::fs::write(&secret, "s3cr3t\n").unwrap();
    run(&mut server.cli(), &["secret", "set", "api_token", "--from-file", secret.to_str().unwrap()]).ok();
    let out = run(&mut server.cli(), &["secret", "list", "-o", "jsonl"]).ok();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("api_token") && !out.contains("s3cr3t"), "{out}");
    run(&mut server.cli(), &["secret", "delete", "api_token"]).ok();
    run(&mut server.cli(), &["env", "unset", "count"]).ok();
    let out = run(&mut server.cli(), &["env", "get", "count"]).fails(1);
    assert!(out.contains("env_not_found"), "{out}");

    // A reply that is not a list is one line.
    let out = run(&mut server.cli(), &["instance", "get", "order:o-3", "-o", "jsonl"]).ok();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["id"], "o-3");

    let mut watch = server
        .cli()
        .args(["watch", "default:order:*", "--from", "1", "-o", "jsonl"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("watch");
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut addresses = Vec::new();
    while addresses.len() < 3 {
        let line = rx.recv_timeout(Duration::from_secs(30)).expect("a watched record within 30 s").expect("utf-8");
        let record: Value = serde_json::from_str(&line).expect("one JSON record per line");
        assert!(record["seq"].is_u64(), "{record}");
        addresses.push(record["address"].as_str().unwrap().to_string());
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(addresses, ["default:order:o-1", "default:order:o-2", "default:order:o-3"]);
}

#[test]
fn contexts_round_trip_and_reach_the_server_from_any_directory() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let xdg = home.path().join("xdg");
    let anywhere = tempfile::tempdir().unwrap();
    let cli = || {
        let mut cmd = bare_cli(home.path());
        cmd.env("XDG_CONFIG_HOME", &xdg).current_dir(anywhere.path());
        cmd
    };

    assert_eq!(run(&mut cli(), &["context", "list"]).ok().lines().count(), 1, "none yet: only the header");
    let out = run(
        &mut cli(),
        &["context", "add", "local", "--server", &server.url, "--token", &server.admin_token, "--space", "acme"],
    )
    .ok();
    assert!(out.contains("context local saved") && out.contains("switchyard context use local"), "{out}");
    assert!(!out.contains(&server.admin_token), "the token is never shown: {out}");
    run(&mut cli(), &["context", "create", "down", "--server", "127.0.0.1:1", "--token", "sy_x"]).ok();
    let token_file = server.data_dir.join("admin.token");
    run(
        &mut cli(),
        &["context", "add", "viafile", "--server", &server.url, "--token-file", token_file.to_str().unwrap()],
    )
    .ok();
    let contexts = xdg.join("switchyard").join("contexts.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&contexts).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the contexts file holds tokens");
    }

    // Nothing in use yet: the default server (nobody there in this test) would be tried.
    let out = run(&mut cli(), &["context", "use", "local"]).ok();
    assert!(out.contains("using context local"), "{out}");
    let list = run(&mut cli(), &["-o", "json", "context", "ls"]).json();
    let names: Vec<(&str, bool)> = list["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["current"].as_bool().unwrap()))
        .collect();
    assert_eq!(names, [("down", false), ("local", true), ("viafile", false)], "{list}");
    assert!(!list.to_string().contains(&server.admin_token), "{list}");
    let table = run(&mut cli(), &["context", "list"]).ok();
    assert!(table.lines().any(|l| l.starts_with('*') && l.contains("local") && l.contains("acme")), "{table}");

    // From an unrelated directory, with no token or server anywhere else: the context's.
    run(&mut cli(), &["machine", "apply", "-f", &order_file(anywhere.path())]).ok();
    let machines = run(&mut server.cli(), &["-o", "json", "--space", "acme", "machine", "list"]).json();
    assert_eq!(machines["machines"][0]["name"], "order", "the context's space was used: {machines}");
    // --context and SWITCHYARD_CONTEXT pick another for one command.
    let err = run(&mut cli(), &["--context", "down", "machine", "list"]).fails(1);
    assert!(err.contains("could not reach the server at 127.0.0.1:1"), "{err}");
    let mut cmd = cli();
    let err = run(cmd.env("SWITCHYARD_CONTEXT", "down"), &["machine", "list"]).fails(1);
    assert!(err.contains("127.0.0.1:1"), "{err}");
    let mut cmd = cli();
    run(cmd.env("SWITCHYARD_CONTEXT", "viafile"), &["space", "list"]).ok();
    let err = run(&mut cli(), &["--context", "nope", "machine", "list"]).fails(2);
    assert!(err.contains("no context named \"nope\"") && err.contains("down, local, viafile"), "{err}");
    // Flags beat the context.
    let out = run(&mut cli(), &["-o", "json", "--space", "other", "machine", "list"]).json();
    assert_eq!(out["machines"], json!([]), "{out}");

    let shown = run(&mut cli(), &["context", "get"]).ok();
    assert!(shown.contains("local") && shown.contains("stored") && shown.contains(&server.url), "{shown}");
    let shown = run(&mut cli(), &["-o", "json", "context", "show", "viafile"]).json();
    assert_eq!(shown["token"], "file", "{shown}");

    // context add never captures SWITCHYARD_* variables.
    let mut cmd = cli();
    cmd.env("SWITCHYARD_TOKEN", "sy_from_env").env("SWITCHYARD_SPACE", "envspace");
    run(&mut cmd, &["context", "add", "bare", "--server", &server.url]).ok();
    let bare = run(&mut cli(), &["-o", "json", "context", "get", "bare"]).json();
    assert_eq!((bare["token"].as_str(), bare["space"].as_str()), (Some("none"), None), "{bare}");
    let err = run(&mut cli(), &["context", "add", "nosrv"]).fails(2);
    assert!(err.contains("--server URL is required"), "{err}");

    let out = run(&mut cli(), &["context", "delete", "local"]).ok();
    assert!(out.contains("deleted context local") && out.contains("it was in use"), "{out}");
    run(&mut cli(), &["context", "rm", "down"]).ok();
    let err = run(&mut cli(), &["-o", "json", "context", "get"]).fails(2);
    assert_eq!(json_error(&err)["error"]["code"], "context_not_found");
    let err = run(&mut cli(), &["context", "use", "local"]).fails(2);
    assert!(err.contains("no context named \"local\""), "{err}");
    let left = run(&mut cli(), &["context", "list"]).ok();
    assert_eq!(left.lines().count(), 3, "bare and viafile are left: {left}");
}

#[test]
fn admin_token_is_found_from_a_project_subdirectory_and_the_hint_names_every_path() {
    let project = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(&project.path().join("switchyard-data"), &[]);
    let inside = project.path().join("greet").join("src");
    std::fs::create_dir_all(&inside).unwrap();
    let home = tempfile::tempdir().unwrap();

    let mut cmd = bare_cli(home.path());
    cmd.env("SWITCHYARD_SERVER", &server.url).current_dir(&inside);
    run(&mut cmd, &["space", "list"]).ok();

    // Outside the project nothing is found, and the hint says where the CLI looked.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = bare_cli(home.path());
    cmd.env("SWITCHYARD_SERVER", &server.url).current_dir(elsewhere.path());
    let err = run(&mut cmd, &["space", "list"]).fails(1);
    assert!(err.contains("error: unauthorized:"), "{err}");
    let expected = elsewhere.path().join("switchyard-data").join("admin.token");
    assert!(err.contains(&expected.display().to_string()), "names the paths it tried: {err}");
    assert!(err.contains("SWITCHYARD_TOKEN") && err.contains("switchyard context add"), "{err}");
    assert!(err.contains(&home.path().join(".config/switchyard/config.toml").display().to_string()), "{err}");
}

#[test]
fn no_progress_bar_or_escape_codes_when_output_is_not_a_terminal() {
    let server = TestServer::start();
    let out = server
        .cli()
        .args(["bench", "events", "--clients", "2", "--instances", "3", "--events", "30"])
        .output()
        .expect("bench runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ok 30, errors 0"), "{stdout}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "no bar, no escape codes: {text:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not a component").unwrap();
    let out = server.cli().args(["fn", "deploy", "junk", junk.to_str().unwrap()]).output().expect("deploy runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains('\u{1b}') && !stderr.contains('\r'), "{stderr:?}");
}

#[test]
fn progress_bar_is_drawn_on_a_terminal() {
    // `script` (util-linux) runs the command on a pseudo-terminal and copies what it drew.
    let server = TestServer::start();
    let command = format!("{} bench events --clients 2 --instances 3 --events 3000", support::binary());
    let out = Command::new("script")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &server.data_dir)
        .env("TERM", "xterm")
        .env("SWITCHYARD_SERVER", &server.url)
        .env("SWITCHYARD_TOKEN", &server.admin_token)
        .stdin(std::process::Stdio::null())
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .output()
        .expect("script (util-linux) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("ok 3000, errors 0"), "{text}");
    assert!(text.contains("/3,000 events") && text.contains('\u{1b}'), "a bar was drawn: {text:?}");
}
