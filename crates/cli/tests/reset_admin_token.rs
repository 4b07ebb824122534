//! The data dir's admin token, against the real binary (issue 12, defects 2 and 3): with
//! `admin.token` lost, `serve --reset-admin-token` prints and saves a new admin token that
//! works on the data written before; a PostgreSQL node cannot take over a held data dir.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::TestServer;
use support::http::Http;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_admin_token_mints_a_working_token_when_the_file_is_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut first = TestServer::start_in(dir.path(), &[]);
    let http = Http::new(&first);
    let machine = json!({"initial": "a", "states": ["a"]});
    let (status, body) = http.put_json("/v1/spaces/acme/machines/m", &machine).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let old_token = first.admin_token.clone();
    first.kill();
    std::fs::remove_file(dir.path().join("admin.token")).expect("remove admin.token");

    let second = TestServer::start_in(dir.path(), &["--reset-admin-token"]);
    let saved = std::fs::read_to_string(dir.path().join("admin.token")).expect("a new admin.token");
    assert_ne!(saved.trim(), old_token, "the token was not replaced");
    assert_eq!(second.admin_token, saved.trim());
    let http = Http::new(&second);
    let (status, body) = http.get("/v1/spaces/acme/machines/m").await;
    assert_eq!(status, StatusCode::OK, "the new token does not work: {body}");
    let (status, body) = http.put_json("/v1/spaces/another/machines/m", &machine).await;
    assert_eq!(status, StatusCode::OK, "the new token is not an admin of every space: {body}");
}

/// Issue 12, defect 3: a PostgreSQL-backed `serve` pointed at a data dir that a running server
/// holds is refused before it writes anything there (the running server's token survives).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_node_in_a_held_data_dir_is_refused_before_writing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = TestServer::start_in(dir.path(), &[]);
    let token_before = std::fs::read_to_string(dir.path().join("admin.token")).expect("admin.token");
    // Refused before connecting: the URL need not reach a server.
    let output = std::process::Command::new(support::binary())
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
