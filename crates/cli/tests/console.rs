//! The web console through the real binary: in headless Chromium (Debian's `chromium` and
//! `chromium-driver`; `.ci/run` installs them) a person signs in, finds a failed run, opens the
//! failing node, retries from it and sees the new run succeed; re-drives a dead job; types a
//! flow with an error and sees it at its line; builds a node on the canvas; and a token of
//! another space sees nothing of this one. Over plain HTTP: a POST without the session cookie or
//! with a wrong CSRF token changes nothing, the security headers are sent, and `--no-console`
//! serves no console. Screenshots of the main pages go to `<target dir>/console-screenshots/`.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestServer;
use support::http::Http;
use support::target::{Answer, Target};
use switchyard_testkit::{PATIENCE, wait_for, wait_until};

/// A chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn find_program(names: &[&str]) -> PathBuf {
    for name in names {
        for dir in std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default() {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "none of {names:?} is on PATH: the console's browser tests need Chromium and its driver \
         (Debian: apt-get install chromium chromium-driver; .ci/run installs them)"
    )
}

async fn start_driver() -> Driver {
    let program = find_program(&["chromedriver"]);
    let port = free_port();
    let child = Command::new(program)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let status = format!("{url}/status");
    let client = reqwest::Client::new();
    wait_until("chromedriver to answer", PATIENCE, || {
        let client = client.clone();
        let status = status.clone();
        async move { client.get(&status).send().await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
    })
    .await;
    Driver { child, url }
}

async fn browser(driver: &Driver) -> Client {
    browser_with(driver, &[]).await
}

async fn browser_with(driver: &Driver, extra: &[&str]) -> Client {
    let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
    let mut args =
        vec!["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"];
    args.extend_from_slice(extra);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".to_owned(), json!({ "binary": chromium, "args": args }));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Where screenshots go: beside the test binaries, in the target directory.
fn screenshot_dir() -> PathBuf {
    let binary = PathBuf::from(support::binary());
    let dir = binary.parent().and_then(|p| p.parent()).map_or_else(|| PathBuf::from("."), |p| p.to_path_buf());
    let dir = dir.join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("write the screenshot");
}

async fn text_of(client: &Client, css: &str) -> String {
    client.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await.expect(css).text().await.expect("text")
}

async fn sign_in(client: &Client, server: &TestServer, token: &str) {
    client.goto(&format!("{}/console", server.url)).await.expect("open the console");
    let field = client.wait().at_most(PATIENCE).for_element(Locator::Css("#token")).await.expect("the sign-in form");
    field.send_keys(token).await.expect("type the token");
    client.find(Locator::Css("#token-sign-in")).await.expect("sign-in button").click().await.expect("sign in");
    client.wait().at_most(PATIENCE).for_element(Locator::Css("main#main h1")).await.expect("the home page");
}

const PAY: &str = "name: pay
nodes:
  - { id: double, kind: transform, value: 'input.x * 2' }
  - id: charge
    kind: http
    url: \"'URL'\"
    retry: { max_attempts: 1 }
  - { id: done, kind: transform, value: 'nodes.charge.output.status' }
edges:
  - { from: double, to: charge }
  - { from: charge, to: done }
";

async fn runs(http: &Http, query: &str) -> Vec<Value> {
    let (status, body) = http.get(&format!("/v1/spaces/acme/runs{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["runs"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_finds_a_failed_run_and_retries_it_from_the_failing_node() {
    let server = TestServer::start_with(&["--jobs-allow-private-networks"]);
    let http = Http::new(&server);
    // The charge fails once, then succeeds.
    let target = Target::start(vec![Answer::status(500), Answer::status(200)]).await;
    let flow = PAY.replace("URL", &target.url("/charge"));
    let (status, body) = http.put_yaml("/v1/spaces/acme/flows/pay", &flow).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, run) = http.post("/v1/spaces/acme/flows/pay/runs", json!({ "input": { "x": 21 } })).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let failed_id = run["id"].as_str().expect("run id").to_owned();
    wait_for("the run to fail", PATIENCE, || runs(&http, "?status=failed"), |r| !r.is_empty()).await;
    // A job that dies: its target refuses once (one attempt allowed), then would accept.
    let job_target = Target::start(vec![Answer::status(503), Answer::status(200)]).await;
    let (status, job) = http
        .post(
            "/v1/spaces/acme/jobs",
            json!({ "kind": "http", "payload": { "url": job_target.url("/hook") }, "retry": { "max_attempts": 1 } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let job_id = job["id"].as_str().expect("job id").to_owned();
    let job_path = format!("/v1/spaces/acme/jobs/{job_id}");
    wait_for("the job to die", PATIENCE, || http.get(&job_path), |(_, j)| j["status"] == "dead").await;

    let driver = start_driver().await;
    let client = browser(&driver).await;
    sign_in(&client, &server, &server.admin_token).await;
    screenshot(&client, "spaces").await;

    // The overview names the failed run; from it, the list of failed runs.
    client.goto(&format!("{}/console/s/acme", server.url)).await.expect("overview");
    let overview = text_of(&client, "main#main").await;
    assert!(overview.contains("failed runs") && overview.contains(&failed_id), "{overview}");
    screenshot(&client, "overview").await;
    client
        .find(Locator::Css("a.card[href*='status=failed']"))
        .await
        .expect("failed runs card")
        .click()
        .await
        .expect("open");
    let list = text_of(&client, "main#main table").await;
    assert!(list.contains(&failed_id) && list.contains("failed"), "{list}");
    screenshot(&client, "runs").await;

    // The run: its graph has the failing node in red; clicking it shows the node's error.
    client.find(Locator::LinkText(&failed_id)).await.expect("the run's link").click().await.expect("open the run");
    let failing = client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("svg.graph g.node.s-failed"))
        .await
        .expect("a failed node in the graph");
    assert_eq!(failing.attr("data-node").await.expect("attr").as_deref(), Some("charge"));
    let succeeded = client.find(Locator::Css("svg.graph g.node.s-succeeded")).await.expect("a succeeded node");
    assert_eq!(succeeded.attr("data-node").await.expect("attr").as_deref(), Some("double"));
    failing.click().await.expect("click the failing node");
    let node = text_of(&client, "section#node").await;
    assert!(node.contains("charge") && node.contains("http_500"), "the node shows its error: {node}");
    screenshot(&client, "run-failed").await;

    // Retry from the failed node: the new run succeeds without running `double` again.
    client
        .find(Locator::XPath("//button[contains(., 'Retry from the failed node')]"))
        .await
        .expect("the retry button")
        .click()
        .await
        .expect("retry");
    let notice = text_of(&client, "p.notice").await;
    assert!(notice.contains("Retried"), "{notice}");
    let new_url = client.current_url().await.expect("url").to_string();
    let new_id = new_url.rsplit('/').next().unwrap_or("").split('?').next().unwrap_or("").to_owned();
    assert_ne!(new_id, failed_id);
    // The page shows the run as it is; reload until it has finished.
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut status_text = String::new();
    while std::time::Instant::now() < deadline {
        client.refresh().await.expect("reload");
        status_text = text_of(&client, "main#main h1").await;
        if status_text.contains("succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(status_text.contains("succeeded"), "the retried run succeeds: {status_text}");
    let nodes = client.find_all(Locator::Css("svg.graph g.node.s-succeeded")).await.expect("nodes");
    assert_eq!(nodes.len(), 3, "every node succeeded");
    screenshot(&client, "run-retried").await;
    let (_, new_run) = http.get(&format!("/v1/spaces/acme/runs/{new_id}")).await;
    assert_eq!(new_run["retry_of"], json!(failed_id), "{new_run}");
    assert_eq!(target.seen().len(), 2, "the charge ran once per run, and double was not re-run by a request");

    // Dead jobs: select the dead one and re-drive it; it runs again and succeeds.
    client.goto(&format!("{}/console/s/acme/jobs?status=dead", server.url)).await.expect("jobs");
    let table = text_of(&client, "main#main table").await;
    assert!(table.contains(&job_id), "{table}");
    screenshot(&client, "jobs-dead").await;
    client
        .find(Locator::Css(&format!("input[type=checkbox][value='{job_id}']")))
        .await
        .expect("the job's box")
        .click()
        .await
        .expect("select it");
    client.find(Locator::Css("button[value=retry]")).await.expect("re-drive button").click().await.expect("re-drive");
    let notice = text_of(&client, "p.notice").await;
    assert!(notice.contains("Re-drove 1 of 1"), "{notice}");
    wait_for("the re-driven job to succeed", PATIENCE, || http.get(&job_path), |(_, j)| j["status"] == "succeeded")
        .await;

    // The editor: an error typed at line 4 is shown at line 4; fixing it clears it.
    client.goto(&format!("{}/console/s/acme/flows/pay", server.url)).await.expect("the flow");
    client.wait().at_most(PATIENCE).for_element(Locator::Css("#flow-errors li.ok")).await.expect("a clean check");
    let broken = "nodes:\n  - id: a\n    kind: transform\n    value: 'input.x +'\n  - { id: b, kind: transform, value: '1' }\nedges:\n  - { from: a, to: b }\n";
    let textarea = client.find(Locator::Css("#flow-yaml")).await.expect("the editor");
    client
        .execute(
            "const t = document.getElementById('flow-yaml'); t.value = arguments[0]; t.dispatchEvent(new Event('input'));",
            vec![json!(broken)],
        )
        .await
        .expect("type the flow");
    let error = client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("#flow-errors li[data-line='4']"))
        .await
        .expect("an error at line 4");
    let message = error.text().await.expect("text");
    assert!(message.contains("line 4") && message.contains("nodes.a.value"), "{message}");
    let marked = client.find(Locator::Css(".gutter span.has-error")).await.expect("the gutter mark");
    assert_eq!(marked.text().await.expect("text"), "4");
    screenshot(&client, "flow-editor-error").await;

    // The builder: fix it through the YAML, then add a node on the canvas; the YAML follows.
    client
        .execute(
            "const t = document.getElementById('flow-yaml'); t.value = arguments[0].replace(\"'input.x +'\", \"'input.x + 1'\"); t.dispatchEvent(new Event('input'));",
            vec![json!(broken)],
        )
        .await
        .expect("fix the flow");
    client.wait().at_most(PATIENCE).for_element(Locator::Css("#flow-errors li.ok")).await.expect("no errors");
    client
        .find(Locator::Css("#flow-preview g.node[data-node='b']"))
        .await
        .expect("node b")
        .click()
        .await
        .expect("select b");
    client.find(Locator::Css("#b-kind")).await.expect("kind").select_by_value("succeed").await.expect("choose succeed");
    client.find(Locator::Css("#b-id")).await.expect("id").send_keys("finish").await.expect("type an id");
    client.find(Locator::Css("#b-add")).await.expect("add").click().await.expect("add the node");
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("#flow-preview g.node[data-node='finish']"))
        .await
        .expect("the new node on the canvas");
    let yaml = textarea.prop("value").await.expect("value").unwrap_or_default();
    assert!(yaml.contains("id: finish") && yaml.contains("kind: succeed") && yaml.contains("to: finish"), "{yaml}");
    screenshot(&client, "flow-builder").await;
    client.find(Locator::Css("#flow-form button[type=submit]")).await.expect("save").click().await.expect("save");
    let notice = text_of(&client, "p.notice").await;
    assert!(notice.contains("Saved as version 2"), "{notice}");
    let (_, flow) = http.get("/v1/spaces/acme/flows/pay").await;
    let ids: Vec<&str> =
        flow["definition"]["nodes"].as_array().expect("nodes").iter().filter_map(|n| n["id"].as_str()).collect();
    assert_eq!(ids, ["a", "b", "finish"], "{flow}");

    // The live log follows the watch stream: a message published now appears without a reload.
    client.goto(&format!("{}/console/s/acme/live?address=acme:payments", server.url)).await.expect("live");
    wait_for("the live log to connect", PATIENCE, || text_of(&client, "#live-state"), |t| t == "following").await;
    let (status, body) =
        http.post("/v1/spaces/acme/topics/payments/messages", json!({ "payload": { "paid": 42 } })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let entry = text_of(&client, "#live li").await;
    assert!(entry.contains("topic.message") && entry.contains("acme:payments"), "{entry}");
    screenshot(&client, "live").await;

    // On a phone's width the navigation folds above the page; the run still reads.
    client.set_window_size(390, 844).await.expect("a phone's size");
    client.goto(&format!("{}/console/s/acme/runs/{failed_id}?node=charge", server.url)).await.expect("the run");
    client.wait().at_most(PATIENCE).for_element(Locator::Css("section#node")).await.expect("the node");
    let width: f64 = client
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .expect("width")
        .as_f64()
        .unwrap_or(f64::MAX);
    assert!(width <= 400.0, "the page fits a phone's width ({width}px)");
    screenshot(&client, "run-phone").await;
    client.set_window_size(1280, 1000).await.expect("a laptop's size");

    for (page, name) in [("machines/pay", "machine"), ("triggers", "triggers"), ("kv", "kv")] {
        client.goto(&format!("{}/console/s/acme/{page}", server.url)).await.expect(page);
        client.wait().at_most(PATIENCE).for_element(Locator::Css("main#main h1")).await.expect("a page");
        screenshot(&client, name).await;
    }

    // A token of another space: it sees nothing of acme.
    let (status, other) =
        http.post("/v1/tokens", json!({ "name": "other-space", "spaces": ["other"], "role": "writer" })).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let other_token = other["token"].as_str().expect("token").to_owned();
    client.find(Locator::Css("form.sign-out button")).await.expect("sign out").click().await.expect("sign out");
    client.wait().at_most(PATIENCE).for_element(Locator::Css("#token")).await.expect("signed out");
    sign_in(&client, &server, &other_token).await;
    let home = text_of(&client, "main#main").await;
    assert!(!home.contains("acme"), "another space's token lists acme: {home}");
    client.goto(&format!("{}/console/s/acme/runs/{failed_id}", server.url)).await.expect("acme's run");
    let refused = text_of(&client, "main#main").await;
    assert!(refused.contains("forbidden") && !refused.contains("charge"), "{refused}");
    client.goto(&format!("{}/console/s/acme/runs", server.url)).await.expect("acme's runs");
    let refused = text_of(&client, "main#main").await;
    assert!(!refused.contains(&failed_id), "{refused}");
    screenshot(&client, "other-space").await;
    client.close().await.expect("close the browser");

    // Dark, when the system says so.
    let dark = browser_with(&driver, &["--force-dark-mode"]).await;
    sign_in(&dark, &server, &server.admin_token).await;
    dark.goto(&format!("{}/console/s/acme/runs/{failed_id}?node=charge", server.url)).await.expect("the run");
    let background =
        dark.execute("return getComputedStyle(document.body).backgroundColor;", vec![]).await.expect("a colour");
    assert_eq!(background, json!("rgb(21, 24, 27)"), "the dark theme's background");
    screenshot(&dark, "run-dark").await;
    dark.close().await.expect("close the browser");
}

/// The session cookie of `token`, as a browser would send it.
fn cookie(token: &str) -> String {
    format!("switchyard_console={token}")
}

#[tokio::test]
async fn posts_without_the_session_or_its_csrf_token_are_refused_and_change_nothing() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let (status, body) =
        http.put_yaml("/v1/spaces/acme/flows/f", "nodes:\n  - { id: a, kind: fail, message: \"'no'\" }\n").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, run) = http.post("/v1/spaces/acme/flows/f/runs", json!({})).await;
    let id = run["id"].as_str().expect("id").to_owned();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let retry = format!("{}/console/s/acme/runs/{id}/retry", server.url);

    // Signed in, a page carries the CSRF token, and the security headers.
    let page = client
        .get(format!("{}/console/s/acme/runs/{id}", server.url))
        .header("cookie", cookie(&server.admin_token))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let html = page.text().await.expect("html");
    let csrf =
        html.split("name=\"csrf\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("a CSRF field").to_owned();
    assert!(!html.contains(&server.admin_token), "the page never shows the token");

    let refusals = [
        ("no cookie", None, Some(csrf.as_str()), StatusCode::UNAUTHORIZED),
        ("no CSRF token", Some(server.admin_token.as_str()), None, StatusCode::FORBIDDEN),
        (
            "a wrong CSRF token",
            Some(server.admin_token.as_str()),
            Some("00112233445566778899aabbccddeeff"),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (what, token, token_csrf, expected) in refusals {
        let mut request = client.post(&retry).header("content-type", "application/x-www-form-urlencoded");
        if let Some(token) = token {
            request = request.header("cookie", cookie(token));
        }
        let body = token_csrf.map(|c| format!("csrf={c}")).unwrap_or_default();
        let answer = request.body(body).send().await.expect("post");
        assert_eq!(answer.status(), expected, "{what}");
    }
    // Another site's page cannot post with the cookie either.
    let answer = client
        .post(&retry)
        .header("cookie", cookie(&server.admin_token))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), StatusCode::FORBIDDEN, "a cross-site post");
    let (_, listed) = http.get("/v1/spaces/acme/runs").await;
    assert_eq!(listed["runs"].as_array().map(Vec::len), Some(1), "no refused retry started a run: {listed}");

    // With both, the retry happens.
    let answer = client
        .post(&retry)
        .header("cookie", cookie(&server.admin_token))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let (_, listed) = http.get("/v1/spaces/acme/runs").await;
    assert_eq!(listed["runs"].as_array().map(Vec::len), Some(2), "{listed}");
    // What it did travels in a cookie, not the URL, and the page shows it once.
    let location = answer.headers()["location"].to_str().expect("location").to_owned();
    assert!(location.starts_with("/console/s/acme/runs/") && !location.contains('?'), "{location}");
    let flash = answer.headers()["set-cookie"].to_str().expect("cookie").split(';').next().unwrap_or("").to_owned();
    assert!(flash.starts_with("switchyard_console_flash="), "{flash}");
    let page = client
        .get(format!("{}{location}", server.url))
        .header("cookie", format!("{}; {flash}", cookie(&server.admin_token)))
        .send()
        .await
        .expect("page");
    let cleared = page.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    assert!(cleared.starts_with("switchyard_console_flash=;") && cleared.contains("Max-Age=0"), "{cleared}");
    let html = page.text().await.expect("html");
    assert!(html.contains("Retried run"), "the notice is shown");

    // "Retry all that match" on the failed runs' list: every failed run of the flow, once each.
    let (_, before) = http.get("/v1/spaces/acme/runs?status=failed").await;
    let failed = before["runs"].as_array().map_or(0, Vec::len);
    assert!(failed >= 1, "{before}");
    let answer = post_form(&client, &server, "/console/s/acme/runs", &[("flow", "f")]).await;
    let page = follow(&client, &server, answer).await;
    assert!(page.contains(&format!("Started {failed} retries")), "{page}");
    let (_, after) = http.get("/v1/spaces/acme/runs").await;
    assert_eq!(after["runs"].as_array().map(Vec::len), Some(2 + failed), "{after}");

    // A sign-in with a token the API refuses sets no cookie; a revoked token's session ends.
    let answer = client
        .post(format!("{}/console/sign-in", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=sy_not_a_real_token")
        .send()
        .await
        .expect("sign in");
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert!(answer.headers().get("set-cookie").is_none());
    let (_, created) =
        http.post("/v1/tokens", json!({ "name": "acme-reader", "spaces": ["acme"], "role": "reader" })).await;
    let reader = created["token"].as_str().expect("token").to_owned();
    let answer = client
        .post(format!("{}/console/sign-in", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={reader}&next=/console/s/acme"))
        .send()
        .await
        .expect("sign in");
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let set = answer.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set.contains(part), "{set}");
    }
    assert_eq!(answer.headers()["location"], "/console/s/acme");
    let (status, _) = http.delete(&format!("/v1/tokens/{}", created["id"].as_str().expect("id"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let answer = client
        .get(format!("{}/console/s/acme", server.url))
        .header("cookie", cookie(&reader))
        .send()
        .await
        .expect("page");
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "a revoked token's session goes to sign-in");
    assert!(answer.headers()["location"].to_str().expect("location").starts_with("/console/sign-in"));

    // A user signs in with a name and password: the cookie holds an API session, which signing
    // out of the console ends.
    let user = json!({ "kind": "user", "name": "bob", "password": "correct horse battery",
        "grants": [{ "role": "space-reader", "pattern": "acme:*" }] });
    let (status, body) = http.post("/v1/principals", user).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sign_in = |password: &'static str| {
        client
            .post(format!("{}/console/sign-in", server.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("name=bob&password={}&next=/console/s/acme", url_encode(password)))
            .send()
    };
    let answer = sign_in("not his password").await.expect("sign in");
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert!(answer.headers().get("set-cookie").is_none());
    assert!(answer.text().await.expect("page").contains("the name or the password is wrong"));
    let answer = sign_in("correct horse battery").await.expect("sign in");
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let set = answer.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    let session = set.trim_start_matches("switchyard_console=").split(';').next().expect("value").to_owned();
    let (status, me) = Http::with_token(&server, Some(&session)).get("/v1/auth/me").await;
    assert_eq!((status, &me["name"], &me["session"]), (StatusCode::OK, &json!("bob"), &json!(true)), "{me}");
    let page = client
        .get(format!("{}/console/s/acme", server.url))
        .header("cookie", cookie(&session))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    let csrf =
        html.split("name=\"csrf\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("a CSRF field").to_owned();
    let answer = client
        .post(format!("{}/console/sign-out", server.url))
        .header("cookie", cookie(&session))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .expect("sign out");
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let (status, _) = Http::with_token(&server, Some(&session)).get("/v1/auth/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "signing out of the console ended the API session");
}

#[tokio::test]
async fn no_console_serves_no_console() {
    let server = TestServer::start_with(&["--no-console"]);
    let answer = reqwest::get(format!("{}/console/sign-in", server.url)).await.expect("get");
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let body: Value = answer.json().await.expect("the API's not-found body");
    assert_eq!(body["error"]["code"], "not_found");
    let answer = reqwest::get(format!("{}/healthz", server.url)).await.expect("get");
    assert_eq!(answer.status(), StatusCode::OK, "the API is served");
}

/// A signed-in browser's POST of a form: the session cookie and the page's CSRF token.
async fn post_form(
    client: &reqwest::Client,
    server: &TestServer,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    let csrf = csrf_of(client, server).await;
    form.push(("csrf", &csrf));
    let body = form.iter().map(|(n, v)| format!("{n}={}", url_encode(v))).collect::<Vec<_>>().join("&");
    client
        .post(format!("{}{path}", server.url))
        .header("cookie", cookie(&server.admin_token))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("post")
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn csrf_of(client: &reqwest::Client, server: &TestServer) -> String {
    let html = get_page(client, server, "/console/s/acme/topics").await;
    html.split("name=\"csrf\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("a CSRF field").to_owned()
}

/// The page an action redirected to, with the flash cookie it set.
async fn follow(client: &reqwest::Client, server: &TestServer, answer: reqwest::Response) -> String {
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let to = answer.headers()["location"].to_str().expect("location").to_owned();
    let flash = answer.headers()["set-cookie"].to_str().expect("cookie").split(';').next().unwrap_or("").to_owned();
    client
        .get(format!("{}{to}", server.url))
        .header("cookie", format!("{}; {flash}", cookie(&server.admin_token)))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html")
}

async fn get_page(client: &reqwest::Client, server: &TestServer, path: &str) -> String {
    let answer = client
        .get(format!("{}{path}", server.url))
        .header("cookie", cookie(&server.admin_token))
        .send()
        .await
        .expect("get");
    assert_eq!(answer.status(), StatusCode::OK, "{path}");
    answer.text().await.expect("html")
}

#[tokio::test]
async fn actions_go_through_the_api_and_pages_show_their_effect() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let settings = switchyard_client::FunctionSettings::default();
    server
        .client()
        .deploy_function("acme", "hello", &switchyard_testkit::example_function_bytes("hello"), &settings)
        .await
        .expect("deploy");

    // Invoke with a JSON input: to the invocation's page, which shows its output.
    let answer =
        post_form(&client, &server, "/console/s/acme/functions/hello/invoke", &[("input", r#"{"name": "console"}"#)])
            .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let to = answer.headers()["location"].to_str().expect("location").to_owned();
    assert!(to.starts_with("/console/s/acme/invocations/"), "{to}");
    let page = get_page(&client, &server, &to).await;
    assert!(page.contains("succeeded") && page.contains("console"), "{page}");
    // An input that is not JSON is refused before the API is called.
    let answer = post_form(&client, &server, "/console/s/acme/functions/hello/invoke", &[("input", "{nope")]).await;
    assert_eq!(answer.headers()["location"], "/console/s/acme/functions/hello");
    let (_, listed) = http.get("/v1/spaces/acme/functions/hello/invocations").await;
    assert_eq!(listed["invocations"].as_array().map(Vec::len), Some(1), "{listed}");

    // Publish: the message is in the log, and the topic page says where.
    let answer =
        post_form(&client, &server, "/console/s/acme/topics", &[("topic", "payments"), ("payload", r#"{"paid": 7}"#)])
            .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let page = follow(&client, &server, answer).await;
    assert!(page.contains("Published as seq"), "{page}");
    assert!(page.contains("address=acme%3Apayments"), "the topic's live log link: {page}");

    // A KV value that is not JSON reads as its text, with its revisions.
    let (status, body) = http.put_json("/v1/spaces/acme/kv/config", &json!({ "history": 5 })).await;
    assert!(status.is_success(), "{body}");
    for value in ["first", "second line"] {
        let (status, _) = http
            .send(
                reqwest::Method::PUT,
                "/v1/spaces/acme/kv/config/keys/db/url",
                Some(("text/plain", value.as_bytes().to_vec())),
            )
            .await;
        assert!(status.is_success());
    }
    let page = get_page(&client, &server, "/console/s/acme/kv/config/entry?key=db%2Furl").await;
    assert!(page.contains("second line") && page.contains("text/plain") && page.contains("revision 2"), "{page}");
    assert!(page.contains(">put<"), "the revisions' operations: {page}");

    // An event to an instance: applied, and the page shows the new state.
    let (status, body) = http
        .put_yaml(
            "/v1/spaces/acme/machines/door",
            "initial: shut\nstates:\n  shut: {}\n  open: {}\ntransitions:\n  - { from: shut, event: push, to: open }\n",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = http.post("/v1/spaces/acme/machines/door/instances", json!({ "id": "d1" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let answer =
        post_form(&client, &server, "/console/s/acme/machines/door/instances/d1/event", &[("event", "push")]).await;
    assert_eq!(answer.headers()["location"], "/console/s/acme/machines/door/instances/d1");
    let (_, instance) = http.get("/v1/spaces/acme/machines/door/instances/d1").await;
    assert_eq!(instance["state"], "open", "{instance}");
    // A refused event comes back as the API's error, and changes nothing.
    let answer =
        post_form(&client, &server, "/console/s/acme/machines/door/instances/d1/event", &[("event", "push")]).await;
    let page = follow(&client, &server, answer).await;
    assert!(page.contains("invalid_transition"), "{page}");
    assert!(
        page.contains("class=\"node initial current\" data-node=\"open\"")
            || page.contains("current\" data-node=\"open\""),
        "the diagram marks the state: {page}"
    );

    // The space's stats, as the overview shows them.
    let page = get_page(&client, &server, "/console/s/acme").await;
    assert!(page.contains("Instances by status") && page.contains(">door<"), "{page}");
}

#[tokio::test]
async fn bench_console_seeds_once_and_times_every_page() {
    let server = TestServer::start();
    let args = [
        "bench",
        "console",
        "--instances",
        "120",
        "--runs",
        "30",
        "--requests",
        "2",
        "--clients",
        "3",
        "--bench-space",
        "bc",
    ];
    let run = support::run::run(&mut server.cli(), &args);
    let out = run.ok();
    assert!(out.contains("120 instances and 30 runs in bc"), "{out}");
    for page in ["overview", "run, failed node open", "flow editor", "instances, later page", "kv"] {
        assert!(out.lines().any(|l| l.starts_with(page)), "{page} in {out}");
    }
    assert!(out.contains("console assets in the binary"), "{out}");
    let http = Http::new(&server);
    let (_, stats) = http.get("/v1/spaces/bc/stats").await;
    let roots = |machine: &str| -> u64 {
        stats["instances"]
            .as_array()
            .expect("counts")
            .iter()
            .filter(|c| c["machine"] == machine)
            .map(|c| c["roots"].as_u64().unwrap_or(0))
            .sum()
    };
    assert_eq!((roots("order"), roots("checkout")), (120, 30), "{stats}");
    let (_, failed) = http.get("/v1/spaces/bc/runs?status=failed").await;
    assert_eq!(failed["runs"].as_array().map(Vec::len), Some(3), "one run in ten fails: {failed}");
    // A second run finds the space seeded and seeds nothing more.
    support::run::run(&mut server.cli(), &args).ok();
    let (_, again) = http.get("/v1/spaces/bc/stats").await;
    assert_eq!(again, stats);
}
