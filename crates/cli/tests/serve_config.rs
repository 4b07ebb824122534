//! `serve --config-file`, `serve --print-config` and the log level, against the real binary
//! (issue 12, item 8): a file's settings reach the running server; a flag, then an environment
//! variable, wins over the file; the printed configuration names each value's source and loads
//! back as a config file; a bad file is refused with exit code 2 naming the file and key;
//! `--log-level` chooses what is logged and `RUST_LOG` overrides it.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use reqwest::StatusCode;
use serde_json::json;
use support::TestServer;
use support::http::{Http, code};

/// The settings file used throughout: listen, max-body-bytes and shutdown-grace.
const FILE: &str = "listen = \"127.0.0.2:0\"\nmax-body-bytes = 2000\nshutdown-grace = \"3s\"\n";

/// Writes `text` as `switchyard.toml` in `dir`.
fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("switchyard.toml");
    std::fs::write(&path, text).expect("write the config file");
    path
}

/// `switchyard serve ARGS` with an environment holding only PATH and `env`.
fn serve(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = support::command();
    cmd.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).arg("serve").args(args);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `cmd` to completion (`--print-config` and refused files exit at once).
fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run switchyard")
}

/// The line of `toml` that sets (or, commented, leaves unset) `key`.
fn line<'a>(toml: &'a str, key: &str) -> &'a str {
    toml.lines()
        .find(|l| l.starts_with(&format!("{key} = ")) || l.starts_with(&format!("# {key}: ")))
        .unwrap_or_else(|| panic!("no line for {key} in:\n{toml}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_files_settings_reach_the_server_and_a_flag_wins_over_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), FILE);
    let config = config.to_str().expect("utf-8 path");

    // The file's listen address is used when no flag or variable gives one.
    let data = dir.path().join("alone");
    let mut child =
        serve(&["--config-file", config, "--data-dir", data.to_str().expect("utf-8")], &[("RUST_LOG", "warn")])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn serve");
    let url = support::listening_url(&mut child);
    let _ = child.kill();
    let _ = child.wait();
    assert!(url.starts_with("http://127.0.0.2:"), "listen did not come from the file: {url}");

    // TestServer passes --listen 127.0.0.1:0, which wins over the file's; the file's body limit
    // still applies.
    let server = TestServer::start_in(&dir.path().join("node"), &["--config-file", config]);
    assert!(server.url.starts_with("http://127.0.0.1:"), "the flag did not win over the file: {}", server.url);
    let http = Http::new(&server);
    let (status, body) = http.put_json("/v1/spaces/acme/machines/m", &json!({"initial": "a", "states": ["a"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let instances = "/v1/spaces/acme/machines/m/instances";
    let (status, body) = http.post(instances, json!({"ctx": {"pad": "x".repeat(1500)}})).await;
    assert_eq!(status, StatusCode::CREATED, "a body under the file's limit was refused: {body}");
    let (status, body) = http.post(instances, json!({"ctx": {"pad": "x".repeat(2500)}})).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(code(&body), "payload_too_large");
    assert_eq!(body["error"]["details"]["limit"], 2000, "{body}");
}

#[test]
fn print_config_names_each_source_and_a_flag_then_env_win_over_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), FILE);
    let data = dir.path().join("data");
    let out = run(serve(
        &["--config-file", config.to_str().expect("utf-8"), "--print-config", "--listen", "127.0.0.1:9999"],
        &[
            ("SWITCHYARD_MAX_BODY_BYTES", "5000"),
            ("SWITCHYARD_DATA_DIR", data.to_str().expect("utf-8")),
            ("SWITCHYARD_STORE", "postgres://sy:hunter2@db.example:5432/switchyard"),
        ],
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(line(&stdout, "listen"), "listen = \"127.0.0.1:9999\"  # flag");
    assert_eq!(line(&stdout, "max-body-bytes"), "max-body-bytes = 5000  # env");
    assert_eq!(line(&stdout, "shutdown-grace"), "shutdown-grace = \"3s\"  # file");
    assert_eq!(line(&stdout, "durability"), "durability = \"fsync\"  # default");
    assert_eq!(line(&stdout, "log-level"), "log-level = \"info\"  # default");
    assert_eq!(line(&stdout, "metrics-public"), "metrics-public = false  # default");
    assert_eq!(line(&stdout, "advertise"), "# advertise: not set  # default");
    assert_eq!(
        line(&stdout, "store"),
        "store = \"postgres://sy:****@db.example:5432/switchyard\"  # env; password masked"
    );
    assert!(!stdout.contains("hunter2"), "the password was printed:\n{stdout}");
    for absent in ["config-file", "print-config", "reset-admin-token"] {
        assert!(!stdout.lines().any(|l| l.starts_with(absent)), "{absent} is not a setting:\n{stdout}");
    }
    assert!(!data.exists(), "--print-config opened the store in {}", data.display());
}

#[test]
fn the_config_file_can_be_named_by_its_environment_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), FILE);
    let out = run(serve(&["--print-config"], &[("SWITCHYARD_SERVE_CONFIG", config.to_str().expect("utf-8"))]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(line(&stdout, "shutdown-grace"), "shutdown-grace = \"3s\"  # file");
    assert_eq!(line(&stdout, "max-body-bytes"), "max-body-bytes = 2000  # file");
    // A variable naming a file that is not there is refused like the flag.
    let missing = dir.path().join("nope.toml");
    let out = run(serve(&["--print-config"], &[("SWITCHYARD_SERVE_CONFIG", missing.to_str().expect("utf-8"))]));
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_printed_configuration_loads_back_as_the_config_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), FILE);
    let first = run(serve(
        &["--config-file", config.to_str().expect("utf-8"), "--print-config", "--function-allow-private-networks"],
        &[("SWITCHYARD_WATCH_POLL_MS", "35"), ("SWITCHYARD_ADVERTISE", "http://node-1:7400")],
    ));
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let printed = String::from_utf8(first.stdout).expect("utf-8");
    let reloaded = dir.path().join("printed.toml");
    std::fs::write(&reloaded, &printed).expect("write the printed configuration");
    let second = run(serve(&["--config-file", reloaded.to_str().expect("utf-8"), "--print-config"], &[]));
    assert!(
        second.status.success(),
        "the printed configuration was refused: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    let again = String::from_utf8(second.stdout).expect("utf-8");
    // The same values, each now from the file (unset ones stay unset).
    let values = |text: &str| -> Vec<String> {
        text.lines().filter(|l| !l.starts_with("# ")).map(|l| l.split("  # ").next().unwrap_or(l).to_string()).collect()
    };
    assert_eq!(values(&printed), values(&again));
    assert!(values(&again).contains(&"function-allow-private-networks = true".to_string()), "{again}");
    assert!(values(&again).contains(&"watch-poll-ms = 35".to_string()), "{again}");
    for l in again.lines().filter(|l| !l.starts_with('#')) {
        assert!(l.ends_with("  # file"), "not from the file: {l}");
    }
}

#[test]
fn a_bad_config_file_is_refused_with_exit_code_2_naming_the_file_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let cases: &[(&str, &str)] = &[
        (
            "listen = \"127.0.0.1:0\"\nmax_body_bytes = 10\n",
            "unknown key `max_body_bytes` (did you mean `max-body-bytes`?)",
        ),
        ("max-body-bytes = \"lots\"\n", "bad value for `max-body-bytes`: invalid digit found in string"),
        ("shutdown-grace = 8\n", "bad value for `shutdown-grace`: time unit needed"),
        ("durability = \"sometimes\"\n", "bad value for `durability`:"),
        ("reset-admin-token = true\n", "`reset-admin-token` cannot be set in a config file: it is a one-time action"),
        ("listen = \n", "is not valid TOML"),
    ];
    for (text, expected) in cases {
        let config = write_config(dir.path(), text);
        let out = run(serve(
            &["--config-file", config.to_str().expect("utf-8")],
            &[("SWITCHYARD_DATA_DIR", data.to_str().expect("utf-8"))],
        ));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(expected), "{text}: expected {expected:?} in {stderr}");
        assert!(stderr.contains(config.to_str().expect("utf-8")), "{text}: the file is not named: {stderr}");
    }
    // A missing file, and the client's --config given to serve.
    let out = run(serve(&["--config-file", "/nonexistent/switchyard.toml"], &[]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the config file /nonexistent/switchyard.toml"));
    let out = run(serve(&["--config", "/etc/switchyard.toml"], &[]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the server's is --config-file FILE"));
    assert!(!data.exists(), "a refused configuration opened the store");
}

/// Starts `serve` with `args` and `env`, stops it with SIGTERM once it listens, and returns
/// what it logged.
fn logs_of_a_run(args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut all_args = vec!["--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().expect("utf-8")];
    all_args.extend_from_slice(args);
    let mut child = serve(&all_args, env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn serve");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    support::listening_url(&mut child);
    terminate(&mut child);
    reader.join().expect("stderr reader")
}

/// SIGTERM, then waits for the exit.
fn terminate(child: &mut Child) {
    let pid = i32::try_from(child.id()).expect("pid fits in i32");
    // SAFETY: kill(2) with a pid we spawned and have not waited for.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    switchyard_testkit::wait_until_blocking("serve to exit after SIGTERM", switchyard_testkit::PATIENCE, || {
        child.try_wait().expect("wait for serve")
    });
}

#[test]
fn log_level_chooses_what_is_logged_and_rust_log_overrides_it() {
    let default = logs_of_a_run(&[], &[]);
    assert!(default.contains(" INFO ") && default.contains("switchyard serving"), "{default}");
    assert!(!default.contains(" DEBUG "), "{default}");

    let debug = logs_of_a_run(&["--log-level", "debug"], &[]);
    assert!(debug.contains(" DEBUG ") && debug.contains("configuration"), "{debug}");
    assert!(debug.contains("log-level=\"debug\" (flag)"), "{debug}");

    let from_env = logs_of_a_run(&[], &[("SWITCHYARD_LOG_LEVEL", "warn")]);
    assert!(!from_env.contains(" INFO "), "{from_env}");

    let overridden = logs_of_a_run(&["--log-level", "debug"], &[("RUST_LOG", "warn")]);
    assert!(!overridden.contains(" DEBUG ") && !overridden.contains(" INFO "), "{overridden}");

    let targeted = logs_of_a_run(&["--log-level", "error"], &[("RUST_LOG", "switchyard::serve=info")]);
    assert!(targeted.contains("switchyard serving"), "{targeted}");
}
