//! `serve --reset-admin-token` (issue 12, defect 2), against the real binary: with `admin.token`
//! lost, a restart with the flag prints and saves a new admin token that works, and the data
//! written before is still there.

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
