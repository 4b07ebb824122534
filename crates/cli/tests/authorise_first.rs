//! Drives the real `switchyard` binary: a request is authorised before its body is read, on
//! every route; a WebSocket route answers the JSON error body; every `limit` is refused out of
//! range the same way; `/metrics` is served as `--metrics-access` says.

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::net::non_loopback_ipv4;
use support::{TestServer, listening_url};
use switchyard_api::RULES;
use switchyard_api::access::{Access, Verb};
use switchyard_model::Level;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MACHINE_YAML: &str = "name: order\ninitial: pending\nstates:\n  pending: {}\n  done: { final: true }\n\
                            transitions:\n  - { from: pending, event: finish, to: done }\n";

/// A body no route accepts: not JSON, not YAML, not base64.
const INVALID_BODY: &[u8] = b"{\"not json";

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<no error code>")
    }
}

async fn send(base: &str, method: Method, path: &str, token: Option<&str>, body: Option<(&str, Vec<u8>)>) -> Answer {
    let client = reqwest::Client::new();
    let mut req = client.request(method, format!("{base}{path}")).timeout(Duration::from_secs(30));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some((ct, bytes)) = body {
        req = req.header("content-type", ct).body(bytes);
    }
    let resp = req.send().await.expect("request reaches the server");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Answer { status, headers, body }
}

async fn create_token(server: &TestServer, name: &str, role: &str, spaces: &[&str]) -> String {
    let a = send(
        &server.url,
        Method::POST,
        "/v1/tokens",
        Some(&server.admin_token),
        Some(("application/json", json!({ "name": name, "role": role, "spaces": spaces }).to_string().into_bytes())),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    a.body["token"].as_str().expect("secret").to_string()
}

fn method_of(verb: Verb) -> Method {
    match verb {
        Verb::Get => Method::GET,
        Verb::Put => Method::PUT,
        Verb::Post => Method::POST,
        Verb::Delete => Method::DELETE,
    }
}

/// A concrete path for a route template, in space `acme`.
fn concrete(route: &str) -> String {
    route
        .replace("{space}", "acme")
        .replace("{org}", "acme")
        .replace("{name}", "order")
        .replace("{id}", "o-1")
        .replace("{bucket}", "config")
        .replace("{*key}", "db/url")
}

/// The body-carrying routes the issue names, each with a body that route refuses as malformed.
fn body_routes() -> Vec<(Method, &'static str, &'static str)> {
    vec![
        (Method::PUT, "/v1/spaces/acme/machines/order", "application/json"),
        (Method::POST, "/v1/spaces/acme/machines/order/instances", "application/json"),
        (Method::POST, "/v1/spaces/acme/machines/order/instances/o-1/events", "application/json"),
        (Method::POST, "/v1/spaces/acme/topics/orders/messages", "application/json"),
        (Method::PUT, "/v1/spaces/acme/kv/config", "application/json"),
        (Method::PUT, "/v1/spaces/acme/kv/config/keys/db/url", "text/plain"),
        (Method::PUT, "/v1/spaces/acme/subscriptions/s", "application/json"),
        (Method::POST, "/v1/spaces/acme/subscriptions/s/pull?max=0", "application/json"),
        (Method::POST, "/v1/spaces/acme/subscriptions/s/ack", "application/json"),
        (Method::POST, "/v1/spaces/acme/subscriptions/s/nack", "application/json"),
        (Method::POST, "/v1/spaces/acme/subscriptions/s/dead-letters/redrive", "application/json"),
        (Method::POST, "/v1/spaces/acme/subscriptions/s/dead-letters/discard", "application/json"),
        (Method::PUT, "/v1/spaces/acme/functions/f", "application/json"),
        (Method::POST, "/v1/spaces/acme/functions/f/invoke", "application/json"),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_token_with_an_invalid_body_is_forbidden_never_a_bad_request() {
    let server = TestServer::start();
    let admin = server.admin_token.clone();
    let setup = send(
        &server.url,
        Method::PUT,
        "/v1/spaces/acme/machines/order",
        Some(&admin),
        Some(("application/yaml", MACHINE_YAML.as_bytes().to_vec())),
    )
    .await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
    let beta_reader = create_token(&server, "beta-r", "reader", &["beta"]).await;
    let beta_writer = create_token(&server, "beta-w", "writer", &["beta"]).await;
    let acme_reader = create_token(&server, "acme-r", "reader", &["acme"]).await;

    for (method, path, ct) in body_routes() {
        let body = || Some((ct, INVALID_BODY.to_vec()));
        for token in [&beta_reader, &beta_writer, &acme_reader] {
            let a = send(&server.url, method.clone(), path, Some(token), body()).await;
            assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"), "{method} {path}: {}", a.body);
        }
        let a = send(&server.url, method.clone(), path, None, body()).await;
        assert_eq!((a.status, a.code()), (StatusCode::UNAUTHORIZED, "unauthorized"), "{method} {path}: {}", a.body);
        // The owner's token gets past the door (a KV value may be any bytes; elsewhere it is told
        // what is wrong with the body): the refusals above were about the token, not the body.
        let a = send(&server.url, method.clone(), path, Some(&admin), body()).await;
        let passed = !matches!(a.status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED);
        assert!(passed && !a.status.is_server_error(), "{method} {path}: {}", a.body);
    }

    // Routes that name their spaces in the body need the role before the body is read.
    for (method, path) in [(Method::POST, "/v1/batch"), (Method::POST, "/v1/tokens")] {
        let body = || Some(("application/json", INVALID_BODY.to_vec()));
        let a = send(&server.url, method.clone(), path, Some(&beta_reader), body()).await;
        assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"), "{method} {path}: {}", a.body);
        let a = send(&server.url, method.clone(), path, None, body()).await;
        assert_eq!((a.status, a.code()), (StatusCode::UNAUTHORIZED, "unauthorized"), "{method} {path}: {}", a.body);
        let a = send(&server.url, method.clone(), path, Some(&admin), body()).await;
        assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "bad_request"), "{method} {path}: {}", a.body);
    }
    let a = send(&server.url, Method::POST, "/v1/tokens", Some(&beta_writer), None).await;
    assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rule_of_the_table_is_enforced_at_the_door() {
    let server = TestServer::start();
    let beta_admin = create_token(&server, "beta-a", "admin", &["beta"]).await;
    let acme_reader = create_token(&server, "acme-r", "reader", &["acme"]).await;
    let body = || Some(("application/json", INVALID_BODY.to_vec()));
    let mut checked = 0;
    for rule in RULES {
        let (method, path) = (method_of(rule.verb), concrete(rule.route));
        match rule.access {
            Access::Open | Access::Metrics => continue,
            Access::Token => {}
            Access::Somewhere(permission) | Access::System(permission) => {
                // A token without the permission is refused whatever the body says; what
                // belongs to the system is refused to a space's admin too.
                if permission.level > Level::Read {
                    let a = send(&server.url, method.clone(), &path, Some(&acme_reader), body()).await;
                    assert_eq!(a.status, StatusCode::FORBIDDEN, "{method} {path}: {}", a.body);
                }
                if matches!(rule.access, Access::System(_)) {
                    let a = send(&server.url, method.clone(), &path, Some(&beta_admin), body()).await;
                    assert_eq!(a.status, StatusCode::FORBIDDEN, "{method} {path}: {}", a.body);
                }
            }
            Access::Org(_) => {
                // An org's routes need its every project: an admin of a space, or a reader of
                // the space named like the org, is refused.
                for token in [&beta_admin, &acme_reader] {
                    let a = send(&server.url, method.clone(), &path, Some(token), body()).await;
                    assert_eq!(
                        (a.status, a.code()),
                        (StatusCode::FORBIDDEN, "forbidden"),
                        "{method} {path}: {}",
                        a.body
                    );
                }
            }
            Access::Space(permission) | Access::SpaceWide(permission) => {
                // An admin of another space is refused, and so is a reader where more is needed.
                let a = send(&server.url, method.clone(), &path, Some(&beta_admin), body()).await;
                assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"), "{method} {path}: {}", a.body);
                if permission.level > Level::Read {
                    let a = send(&server.url, method.clone(), &path, Some(&acme_reader), body()).await;
                    assert_eq!(a.status, StatusCode::FORBIDDEN, "{method} {path}: {}", a.body);
                }
            }
        }
        let a = send(&server.url, method.clone(), &path, None, body()).await;
        assert_eq!((a.status, a.code()), (StatusCode::UNAUTHORIZED, "unauthorized"), "{method} {path}: {}", a.body);
        assert_eq!(a.headers.get("www-authenticate").map(|v| v.as_bytes()), Some(&b"Bearer"[..]));
        let a = send(&server.url, method.clone(), &path, Some("sy_unknown"), body()).await;
        assert_eq!((a.status, a.code()), (StatusCode::UNAUTHORIZED, "unauthorized"), "{method} {path}: {}", a.body);
        checked += 1;
    }
    assert!(checked > 40, "only {checked} rules were checked");
    // A method no route takes is refused before anything else too.
    let a = send(&server.url, Method::PATCH, "/v1/spaces/acme/machines/order", None, body()).await;
    assert_eq!((a.status, a.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"), "{}", a.body);
}

/// Sends a request head with a 60 MiB Content-Length and only the first bytes of the body;
/// returns what the server answers without the rest (or `None` when it waits for it).
async fn answer_to_a_truncated_deploy(addr: &str, token: Option<&str>) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "PUT /v1/spaces/acme/functions/f HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{{\"component_base64\":\"AGFzbQ",
        60 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.expect("send the head");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // A bound for "it did not wait for the other 60 MiB", not a measure of speed.
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if let Some(end) = find(&answer, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok());
                        if length.is_some_and(|len| answer.len() >= end + 4 + len) {
                            break;
                        }
                    }
                }
            }
        }
    })
    .await;
    read.ok().map(|()| String::from_utf8_lossy(&answer).into_owned())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_readers_huge_deploy_is_refused_before_its_body_is_read() {
    let server = TestServer::start();
    let beta_reader = create_token(&server, "beta-r", "reader", &["beta"]).await;
    let addr = server.url.trim_start_matches("http://").to_string();

    let answer = answer_to_a_truncated_deploy(&addr, Some(&beta_reader)).await;
    let answer = answer.expect("the 403 arrives without the rest of the 60 MiB body being sent");
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("\"code\":\"forbidden\""), "{answer}");

    let answer = answer_to_a_truncated_deploy(&addr, None).await.expect("the 401 arrives without the body");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("\"code\":\"unauthorized\""), "{answer}");

    // The node still serves the owner.
    let a = send(&server.url, Method::GET, "/v1/spaces/acme/functions", Some(&server.admin_token), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_websocket_route_answers_the_json_error_body() {
    let server = TestServer::start();
    let admin = server.admin_token.clone();
    let path = "/v1/spaces/acme/watch/ws";

    let a = send(&server.url, Method::GET, path, Some(&admin), None).await;
    assert_eq!((a.status, a.code()), (StatusCode::UPGRADE_REQUIRED, "upgrade_required"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().is_some_and(|m| m.contains("WebSocket")), "{}", a.body);
    assert_eq!(a.headers.get("upgrade").map(|v| v.as_bytes()), Some(&b"websocket"[..]));
    assert_eq!(a.headers.get("content-type").map(|v| v.as_bytes()), Some(&b"application/json"[..]));

    // An upgrade without its key is malformed.
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("{}{path}", server.url))
        .bearer_auth(&admin)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], "bad_request", "{body}");

    let a = send(&server.url, Method::GET, path, None, None).await;
    assert_eq!((a.status, a.code()), (StatusCode::UNAUTHORIZED, "unauthorized"), "{}", a.body);
    let beta = create_token(&server, "beta-r", "reader", &["beta"]).await;
    let a = send(&server.url, Method::GET, path, Some(&beta), None).await;
    assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"), "{}", a.body);

    // A real handshake still works.
    let ws_url = format!("{}{path}", server.url.replace("http://", "ws://"));
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url.as_str())
        .expect("request");
    request.headers_mut().insert("authorization", format!("Bearer {admin}").parse().expect("header"));
    let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("handshake");
    assert_eq!(response.status().as_u16(), StatusCode::SWITCHING_PROTOCOLS.as_u16());
    drop(socket);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_limit_out_of_range_is_refused_the_same_way() {
    let server = TestServer::start();
    let admin = server.admin_token.clone();
    let json_body = |v: Value| Some(("application/json", v.to_string().into_bytes()));
    let setup = [
        (Method::PUT, "/v1/spaces/acme/machines/order", Some(("application/yaml", MACHINE_YAML.as_bytes().to_vec()))),
        (Method::POST, "/v1/spaces/acme/machines/order/instances", json_body(json!({ "id": "o-1" }))),
        (Method::PUT, "/v1/spaces/acme/kv/config/keys/db/url", Some(("text/plain", b"postgres://db".to_vec()))),
        (Method::PUT, "/v1/spaces/acme/subscriptions/s", json_body(json!({ "from": "earliest" }))),
    ];
    for (method, path, body) in setup {
        let a = send(&server.url, method.clone(), path, Some(&admin), body).await;
        assert!(a.status.is_success(), "{method} {path}: {}", a.body);
    }
    let lists = [
        "/v1/spaces/acme/machines/order/instances",
        "/v1/spaces/acme/machines/order/instances/o-1/history",
        "/v1/spaces/acme/kv/config/keys",
        "/v1/spaces/acme/kv/config/history/db/url",
        "/v1/spaces/acme/subscriptions/s/dead-letters",
        "/v1/spaces/acme/functions/f/invocations",
    ];
    let mut refusals = Vec::new();
    for list in lists {
        for limit in ["0", "1001", "-1", "4294967296"] {
            let a = send(&server.url, Method::GET, &format!("{list}?limit={limit}"), Some(&admin), None).await;
            assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{list}?limit={limit}: {}", a.body);
            refusals.push(a.body);
        }
        for limit in ["1", "1000"] {
            let a = send(&server.url, Method::GET, &format!("{list}?limit={limit}"), Some(&admin), None).await;
            assert_eq!(a.status, StatusCode::OK, "{list}?limit={limit}: {}", a.body);
        }
    }
    let expected = json!({ "error": {
        "code": "validation_failed", "message": "limit must be between 1 and 1000", "details": null,
    }});
    for body in refusals {
        assert_eq!(body, expected);
    }
    // A page of one is one.
    let a = send(&server.url, Method::GET, "/v1/spaces/acme/kv/config/keys?limit=1", Some(&admin), None).await;
    assert_eq!(a.body["keys"].as_array().map(Vec::len), Some(1), "{}", a.body);
}

async fn metrics_status(base: &str, token: Option<&str>) -> StatusCode {
    let a = send(base, Method::GET, "/metrics", token, None).await;
    if a.status == StatusCode::OK {
        assert!(a.body.as_str().is_some_and(|t| t.contains("switchyard_store_commits")), "{}", a.body);
    } else {
        assert!(a.body["error"]["code"].is_string(), "{}", a.body);
    }
    a.status
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_served_as_metrics_access_says() {
    // The default, `auto`, from loopback: open.
    let server = TestServer::start();
    assert_eq!(metrics_status(&server.url, None).await, StatusCode::OK);
    drop(server);

    let server = TestServer::start_with(&["--metrics-access", "token"]);
    assert_eq!(metrics_status(&server.url, None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(metrics_status(&server.url, Some("sy_unknown")).await, StatusCode::UNAUTHORIZED);
    let reader = create_token(&server, "r", "reader", &["acme"]).await;
    assert_eq!(metrics_status(&server.url, Some(&reader)).await, StatusCode::OK);
    drop(server);

    let server = TestServer::start_with(&["--metrics-access", "admin"]);
    assert_eq!(metrics_status(&server.url, None).await, StatusCode::UNAUTHORIZED);
    let reader = create_token(&server, "r", "reader", &["*"]).await;
    assert_eq!(metrics_status(&server.url, Some(&reader)).await, StatusCode::FORBIDDEN);
    let tenant_admin = create_token(&server, "a", "admin", &["acme"]).await;
    assert_eq!(metrics_status(&server.url, Some(&tenant_admin)).await, StatusCode::FORBIDDEN);
    assert_eq!(metrics_status(&server.url, Some(&server.admin_token)).await, StatusCode::OK);
    drop(server);

    for args in [&["--metrics-access", "public"][..], &["--metrics-public"][..]] {
        let server = TestServer::start_with(args);
        assert_eq!(metrics_status(&server.url, None).await, StatusCode::OK, "{args:?}");
    }
}

#[test]
fn metrics_access_comes_from_the_environment_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = spawn_serve(dir.path(), "127.0.0.1:0", &[("SWITCHYARD_METRICS_ACCESS", "token")]);
    let url = listening_url(&mut child);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    assert_eq!(runtime.block_on(metrics_status(&url, None)), StatusCode::UNAUTHORIZED);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn an_unknown_metrics_access_fails_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = support::command()
        .args(["serve", "--listen", "127.0.0.1:0", "--metrics-access", "loopback", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run switchyard serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--metrics-access"), "{stderr}");
    assert!(
        stderr.contains("\"loopback\" is not a metrics access mode; expected one of auto, public, token, admin"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "it did not start listening");

    let out = support::command()
        .args(["serve", "--listen", "127.0.0.1:0", "--metrics-access", "token", "--metrics-public", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run switchyard serve");
    assert!(!out.status.success(), "the deprecated alias and the mode conflict");
}

/// Starts `switchyard serve` on `listen` with extra environment.
fn spawn_serve(data_dir: &Path, listen: &str, env: &[(&str, &str)]) -> Child {
    support::command()
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(data_dir)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn switchyard serve")
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_metrics_need_a_token_from_another_address() {
    let ip = non_loopback_ipv4().expect("this test needs a non-loopback IPv4 address on the machine");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = spawn_serve(dir.path(), "0.0.0.0:0", &[]);
    let url = listening_url(&mut child);
    let port = url.rsplit(':').next().expect("a port").to_string();
    let admin = std::fs::read_to_string(dir.path().join("admin.token")).expect("admin token");
    let remote = format!("http://{}:{port}", IpAddr::V4(ip));
    let local = format!("http://127.0.0.1:{port}");

    assert_eq!(metrics_status(&remote, None).await, StatusCode::UNAUTHORIZED, "from {ip}");
    assert_eq!(metrics_status(&remote, Some(admin.trim())).await, StatusCode::OK, "from {ip} with a token");
    assert_eq!(metrics_status(&local, None).await, StatusCode::OK, "from loopback");
    let _ = child.kill();
    let _ = child.wait();
}
