//! The data dir's admin token, against the real binary (issue 12, defects 2 and 3): with
//! `admin.token` lost, `serve --reset-admin-token` prints and saves a new admin token that
//! works on the data written before and revokes the old one; a PostgreSQL node cannot take over a held data dir.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::TestServer;
use support::http::Http;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_admin_token_prints_saves_a_working_token_and_revokes_the_old_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut first = TestServer::start_in(dir.path(), &[]);
    let http = Http::new(&first);
    let machine = json!({"initial": "a", "states": ["a"]});
    let (status, body) = http.put_json("/v1/spaces/acme/machines/m", &machine).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = http.get("/v1/tokens").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let old_id = body["tokens"][0]["id"].as_str().expect("the admin token's id").to_string();
    let (status, made) = http.post("/v1/tokens", json!({"name": "ci", "role": "writer", "spaces": ["acme"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let user_token = made["token"].as_str().expect("token").to_string();
    let old_token = first.admin_token.clone();
    first.kill();
    std::fs::remove_file(dir.path().join("admin.token")).expect("remove admin.token");

    // Started by hand to read what it prints on stderr.
    let log = dir.path().join("serve.log");
    let mut child = support::command()
        .args(["serve", "--listen", "127.0.0.1:0", "--reset-admin-token", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn serve");
    let url = support::listening_url(&mut child);
    let printed = std::fs::read_to_string(&log).expect("serve's stderr");
    let saved = std::fs::read_to_string(dir.path().join("admin.token")).expect("a new admin.token");
    let saved = saved.trim();
    assert_ne!(saved, old_token, "the token was not replaced");
    assert!(printed.contains(&format!("\n    {saved}\n")), "the new token was not printed: {printed}");
    assert!(printed.contains(&format!("Revoked the earlier admin token(s): {old_id}")), "{printed}");

    let as_token = |token: &str| {
        let client = reqwest::Client::new();
        let url = url.clone();
        let token = token.to_string();
        async move {
            let response = client.get(format!("{url}/v1/spaces/acme/machines/m")).bearer_auth(token).send().await;
            response.expect("request").status()
        }
    };
    assert_eq!(as_token(saved).await, StatusCode::OK, "the new token does not work on the old data");
    assert_eq!(as_token(&old_token).await, StatusCode::UNAUTHORIZED, "the old admin token still works");
    assert_eq!(as_token(&user_token).await, StatusCode::OK, "a token a user made was revoked");
    let response = reqwest::Client::new()
        .put(format!("{url}/v1/spaces/another/machines/m"))
        .bearer_auth(saved)
        .json(&machine)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK, "the new token is not an admin of every space");
    let _ = child.kill();
    let _ = child.wait();
}

/// Issue 12, defect 3: a PostgreSQL-backed `serve` pointed at a data dir that a running server
/// holds is refused before it writes anything there (the running server's token survives).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_node_in_a_held_data_dir_is_refused_before_writing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = TestServer::start_in(dir.path(), &[]);
    let token_before = std::fs::read_to_string(dir.path().join("admin.token")).expect("admin.token");
    // Refused before connecting: the URL need not reach a server.
    let output = support::command()
        .args(["serve", "--listen", "127.0.0.1:0", "--store", "postgres://postgres@127.0.0.1:1/none", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run serve");
    assert!(!output.status.success(), "a second server started in a held data dir");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("another switchyard process has the data directory"), "{stderr}");
    let token_after = std::fs::read_to_string(dir.path().join("admin.token")).expect("admin.token");
    assert_eq!(token_before, token_after, "the running server's admin.token was overwritten");
    let (status, body) = Http::new(&running).get("/v1/spaces").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
