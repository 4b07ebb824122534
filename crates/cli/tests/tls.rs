//! TLS against the real binary, with a CA and a server certificate made in the test (rcgen):
//! the CLI and the Rust client reach `serve --tls-cert/--tls-key` through `--ca-cert` (flag,
//! environment, config file), are refused clearly without it, plain HTTP and silent clients get
//! no HTTP answer and are closed, the connection cap answers over TLS, and bad certificate or
//! key files stop the start-up with a message naming the file.

mod support;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use serde_json::Value;
use support::TestServer;
use support::run::run;
use switchyard_client::{ClientError, WatchQuery};

/// How long anything may take before a test calls it a hang.
const BOUND: Duration = Duration::from_secs(20);

const ORDER_YAML: &str = r#"
name: order
initial: open
states:
  open: {}
transitions:
  - { from: open, event: ping, to: open }
"#;

/// A private CA and a certificate it issued for `localhost` and 127.0.0.1, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// A key that belongs to no certificate here.
    other_key: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.distinguished_name.push(DnType::CommonName, "Switchyard test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("server params");
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &issuer).expect("server certificate");

        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write PEM");
            path
        };
        Pki {
            ca: write("ca.pem", ca_cert.pem()),
            cert: write("server.pem", cert.pem()),
            key: write("server.key", key.serialize_pem()),
            other_key: write("other.key", KeyPair::generate().expect("another key").serialize_pem()),
            dir,
        }
    }

    /// `serve` arguments for this certificate and key, plus `extra`.
    fn serve_args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["--tls-cert", path_str(&self.cert), "--tls-key", path_str(&self.key)];
        args.extend_from_slice(extra);
        args
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// A TLS server trusted through `pki`'s CA.
fn start(pki: &Pki, extra: &[&str]) -> TestServer {
    let mut server = TestServer::start_with(&pki.serve_args(extra));
    assert!(server.url.starts_with("https://127.0.0.1:"), "the listening line says https: {}", server.url);
    server.ca_cert = Some(pki.ca.clone());
    server
}

/// The CLI aimed at `server` by `--server`, trusting the CA by `--ca-cert`.
fn cli_with_ca(server: &TestServer, pki: &Pki) -> Command {
    let mut cmd = server.cli();
    cmd.args(["--server", &server.url, "--ca-cert", path_str(&pki.ca), "--space", "acme", "--output", "json"]);
    cmd
}

#[test]
fn the_cli_does_a_round_trip_and_watches_over_tls_with_a_private_ca() {
    let pki = Pki::new();
    let server = start(&pki, &[]);
    let definition = pki.dir.path().join("order.yaml");
    std::fs::write(&definition, ORDER_YAML).expect("write definition");

    run(&mut cli_with_ca(&server, &pki), &["machine", "put", "-f", path_str(&definition)]).json();
    let created = run(&mut cli_with_ca(&server, &pki), &["instance", "create", "order", "--id", "o-1"]).json();
    assert_eq!(created["state"], "open", "{created}");

    let mut watch =
        cli_with_ca(&server, &pki).args(["watch", "acme:order:*"]).stdout(Stdio::piped()).spawn().expect("spawn watch");
    let stdout = watch.stdout.take().expect("stdout");
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    // The watch follows only what comes after it connected: send until an event shows up.
    let deadline = Instant::now() + BOUND;
    let mut sent = 0;
    let record: Value = loop {
        assert!(Instant::now() < deadline, "the watch received nothing over TLS");
        let transition = run(&mut cli_with_ca(&server, &pki), &["event", "send", "order:o-1", "ping"]).json();
        sent += 1;
        assert_eq!(transition["revision"], 1 + sent, "{transition}");
        if let Ok(line) = lines.recv_timeout(Duration::from_secs(2)) {
            break serde_json::from_str(&line).unwrap_or_else(|e| panic!("one JSON record per line ({e}): {line}"));
        }
    };
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(record["kind"], "instance.transitioned", "{record}");
    assert_eq!(record["address"], "acme:order:o-1", "{record}");

    let got = run(&mut cli_with_ca(&server, &pki), &["instance", "get", "order:o-1"]).json();
    assert_eq!(got["state"], "open", "{got}");
    assert_eq!(got["revision"], 1 + sent, "{got}");
}

#[test]
fn the_ca_comes_from_the_environment_and_the_config_file_too() {
    let pki = Pki::new();
    let server = start(&pki, &[]);
    let by_env = run(server.cli().env("SWITCHYARD_CA_CERT", &pki.ca), &["--output", "json", "space", "list"]);
    by_env.json();
    // A relative path in the config file is taken from the file's directory.
    let config = pki.dir.path().join("config.toml");
    std::fs::write(&config, "ca_cert = \"ca.pem\"\n").expect("write config");
    let by_file = run(server.cli().arg("--config").arg(&config), &["--output", "json", "space", "list"]);
    by_file.json();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_client_reaches_the_server_and_the_node_advertises_https() {
    let pki = Pki::new();
    let server = start(&pki, &[]);
    let client = server.client();
    client.readyz().await.expect("ready over TLS");
    // A raw reqwest client with the same trust (what the benchmark's watchers use).
    let builder = switchyard_client::Client::builder(&server.url).ca_cert_file(&pki.ca).expect("CA");
    let http = builder.reqwest_builder().build().expect("reqwest client");
    let nodes: Value = http
        .get(format!("{}/v1/cluster/nodes", server.url))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    let advertised = nodes["nodes"][0]["address"].as_str().unwrap_or_default().to_string();
    assert_eq!(advertised, server.url, "{nodes}");
}

/// gRPC over TLS on the same port (ALPN `h2`), trusted through the private CA; without the CA
/// the call fails as a transport error, not as an answer.
#[tokio::test(flavor = "multi_thread")]
async fn grpc_calls_reach_the_tls_port_through_alpn_h2() {
    use switchyard_client::grpc::v1;
    let pki = Pki::new();
    let server = start(&pki, &[]);
    let put = server
        .grpc()
        .machines()
        .put_machine(v1::PutMachineRequest {
            space: "acme".into(),
            name: "m".into(),
            definition:
                r#"{"name":"m","initial":"a","states":["a","b"],"transitions":[{"from":"a","event":"go","to":"b"}]}"#
                    .into(),
            dry_run: false,
        })
        .await
        .expect("put over gRPC and TLS")
        .into_inner();
    assert_eq!((put.version, put.created), (1, true));
    // The same connection's port still serves HTTP/1.1 clients.
    assert_eq!(server.client().get_machine("acme", "m", None).await.expect("machine over HTTPS").version, 1);
    let untrusting = switchyard_client::Client::builder(&server.url)
        .token(Some(server.admin_token.clone()))
        .build_grpc()
        .expect("client");
    let refused = untrusting.machines().list_machines(v1::ListMachinesRequest { space: "acme".into() }).await;
    let status = refused.expect_err("the certificate is not trusted");
    assert!(
        matches!(switchyard_client::grpc::status_error(status.clone()), switchyard_client::ClientError::Transport(_)),
        "{status:?}"
    );
}

#[test]
fn without_the_ca_the_cli_refuses_the_certificate_with_a_hint() {
    let pki = Pki::new();
    let server = start(&pki, &[]);
    let stderr = run(&mut server.cli(), &["--server", &server.url, "space", "list"]).fails(1);
    assert!(stderr.contains("certificate") && stderr.contains("not trusted"), "{stderr}");
    assert!(stderr.contains("--ca-cert"), "the hint names the flag: {stderr}");

    // A CA file that is missing or holds no certificate is a usage error naming it.
    let missing = pki.dir.path().join("missing.pem");
    let stderr = run(&mut server.cli(), &["--ca-cert", path_str(&missing), "space", "list"]).fails(2);
    assert!(stderr.contains("missing.pem") && stderr.contains("cannot read"), "{stderr}");
    let stderr = run(&mut server.cli(), &["--ca-cert", path_str(&pki.key), "space", "list"]).fails(2);
    assert!(stderr.contains("server.key") && stderr.contains("no certificate"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_ca_the_rust_client_reports_a_certificate_error() {
    let pki = Pki::new();
    let server = start(&pki, &[]);
    let client = switchyard_client::Client::new(&server.url, None).expect("client");
    match client.healthz().await {
        Err(ClientError::Certificate(message)) => assert!(message.contains("UnknownIssuer"), "{message}"),
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

/// `host:port` of a server.
fn host(server: &TestServer) -> String {
    server.url.trim_start_matches("https://").to_string()
}

/// Reads `stream` until the server closes it (within `BOUND`); returns what arrived, or `None`
/// when it stayed open.
fn read_until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    stream.set_read_timeout(Some(BOUND)).expect("read timeout");
    let (mut got, mut buf) = (Vec::new(), [0u8; 1024]);
    let start = Instant::now();
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {
                return Some(got);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return None,
            Err(e) => panic!("read: {e}"),
        }
        if start.elapsed() > BOUND {
            return None;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_to_the_tls_port_gets_no_http_answer_and_the_server_stays_healthy() {
    let pki = Pki::new();
    // Timeouts far past BOUND: the close must come from the failed handshake.
    let server = start(&pki, &["--header-read-timeout", "5m", "--idle-timeout", "5m"]);
    let mut stream = TcpStream::connect(host(&server)).expect("connect");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").expect("send");
    let answer = read_until_closed(&mut stream).expect("the server closed the plain-HTTP connection");
    assert!(!answer.starts_with(b"HTTP/"), "an HTTP answer: {}", String::from_utf8_lossy(&answer));
    server.client().healthz().await.expect("still healthy over TLS");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_says_hello_is_closed_after_the_header_read_timeout() {
    let pki = Pki::new();
    let server = start(&pki, &["--header-read-timeout", "1s", "--idle-timeout", "5m"]);
    let mut silent = TcpStream::connect(host(&server)).expect("connect");
    let answer = read_until_closed(&mut silent).expect("the silent connection was closed");
    assert!(answer.is_empty(), "no bytes for a client that sent none: {answer:?}");
    server.client().healthz().await.expect("still healthy over TLS");
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_connection_cap_a_tls_client_gets_the_json_503() {
    let pki = Pki::new();
    let server = start(&pki, &["--max-connections", "1"]);
    // An open event stream holds the only place.
    let holder = server.client();
    let _watch = holder.watch("acme", &WatchQuery::default()).await.expect("watch");
    match server.client().healthz().await {
        Err(ClientError::Api { status: 503, code, .. }) => assert_eq!(code, "unavailable"),
        other => panic!("expected the 503 refusal over TLS, got {other:?}"),
    }
}

/// Runs `serve` with `args` in a fresh data dir; it must exit within `BOUND`. Returns the exit
/// code, stderr, and whether the data dir got an admin token.
fn failed_start(args: &[&str]) -> (Option<i32>, String, bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = support::command()
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("SWITCHYARD_TLS_CERT")
        .env_remove("SWITCHYARD_TLS_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    // A server that starts instead of failing is killed before the test fails, so it does not
    // outlive the test.
    let exited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        switchyard_testkit::wait_until_blocking("serve to exit", BOUND, || child.try_wait().expect("wait"))
    }));
    let Ok(status) = exited else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("serve {args:?} started instead of failing");
    };
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr is text");
    (status.code(), stderr, dir.path().join("admin.token").exists())
}

#[test]
fn bad_certificate_or_key_files_stop_the_start_up_with_a_message_naming_the_file() {
    let pki = Pki::new();
    let (cert, key, other_key) = (path_str(&pki.cert), path_str(&pki.key), path_str(&pki.other_key));
    let missing = pki.dir.path().join("missing.key");
    let missing = path_str(&missing);
    let table: &[(&[&str], &[&str])] = &[
        (&["--tls-cert", cert, "--tls-key", missing], &["cannot read --tls-key", "missing.key"]),
        (&["--tls-cert", missing, "--tls-key", key], &["cannot read --tls-cert", "missing.key"]),
        (&["--tls-cert", cert, "--tls-key", other_key], &["other.key", "does not match", "server.pem"]),
        (&["--tls-cert", key, "--tls-key", key], &["--tls-cert", "server.key", "holds no certificate"]),
        (&["--tls-cert", cert, "--tls-key", cert], &["--tls-key", "server.pem", "holds no private key"]),
    ];
    for (args, expected) in table {
        let (code, stderr, token_written) = failed_start(args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        for part in *expected {
            assert!(stderr.contains(part), "{args:?}: no {part:?} in: {stderr}");
        }
        assert!(!token_written, "{args:?}: the store was opened before the TLS files were checked");
    }
    // One without the other is a usage error.
    for args in [["--tls-cert", cert], ["--tls-key", key]] {
        let (code, stderr, _) = failed_start(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("--tls-key") && stderr.contains("--tls-cert"), "{args:?}: {stderr}");
    }
}
