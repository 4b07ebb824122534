//! The `switchyard` client commands against a real server.

// The shared harness is not ours to restyle.
mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use support::TestServer;
use switchyard_client::{ClientError, CreateInstance, SendEvent};

const ORDER_YAML: &str = r#"
name: order
initial: pending
context_schema: { type: object, required: [amount] }
states:
  pending: {}
  paid: {}
  cancelled: { final: true }
transitions:
  - { from: pending, event: pay, to: paid, guard: "event.amount >= ctx.amount" }
  - { from: [pending, paid], event: cancel, to: cancelled }
"#;

/// What a finished command left behind.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn of(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    fn ok(self) -> String {
        assert_eq!(self.code, 0, "expected success\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self.stdout
    }

    /// Asserts exit code `code` and returns stderr.
    fn fails(self, code: i32) -> String {
        assert_eq!(self.code, code, "expected exit {code}\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self.stderr
    }

    /// Asserts success and parses stdout as JSON.
    fn json(self) -> Value {
        let stdout = self.ok();
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"))
    }
}

fn run(cmd: &mut Command, args: &[&str]) -> Run {
    Run::of(cmd.args(args).output().expect("run switchyard"))
}

/// Writes the order machine to `dir/order.yaml` and returns its path as a string.
fn order_file(dir: &Path) -> String {
    let path = dir.join("order.yaml");
    std::fs::write(&path, ORDER_YAML).unwrap();
    path.to_str().unwrap().to_string()
}

/// A command that sees no server, token or config from the environment.
fn bare_cli(home: &Path) -> Command {
    let mut cmd = Command::new(support::binary());
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
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["ID", "STATE", "REVISION", "UPDATED"], "{out}");
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
        Err(ClientError::Api { status: 409, code, details, .. }) => {
            assert!(code == "conflict" || code == "invalid_transition", "{code}");
            let _ = details;
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
    assert_eq!(err.status().map(|s| s / 100), Some(4), "{err:?}");

    let history = client.history("acme", "order", "o-1", None, Some(1)).await.unwrap();
    assert_eq!(history.events.len(), 1);
    let next: u64 = history.next_cursor.as_deref().expect("a second page").parse().unwrap();
    let rest = client.history("acme", "order", "o-1", Some(next), None).await.unwrap();
    assert_eq!(rest.events[0].kind, "instance.transitioned");
}
