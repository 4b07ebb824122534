//! Orgs, projects and function grants against the real binary (issue 19): an org's admin —
//! `space-admin` on `acme/*:*`, nothing on the system — creates and deletes members, resets
//! their passwords and grants them roles on its projects, and reaches no other org, no
//! principal outside its org and nothing of the system; a project `acme/orders` is the space
//! `acme.orders` for every route and for the CLI's `--space`; an org with members or projects
//! is not deleted. A function acts with its grants: deployed with a narrow one, its host calls
//! reach only that, a deployer cannot hand it more than it holds, and its grants are shown as
//! a principal's are.

mod support;

use std::process::Command;

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestServer;
use support::http::{Http, code};
use switchyard_testkit::example_function_bytes;

const PASSWORD: &str = "correct horse battery";
const ORDER: &str = "initial: open\nstates: { open: {}, closed: { final: true } }\ntransitions:\n  - { from: open, event: close, to: closed }\n";

async fn session(server: &TestServer, name: &str) -> Http {
    let anonymous = Http::with_token(server, None);
    let (status, session) = anonymous.post("/v1/auth/sign-in", json!({ "name": name, "password": PASSWORD })).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    Http::with_token(server, session["token"].as_str())
}

fn switchyard(server: &TestServer, token: &str, args: &[&str]) -> (bool, String, String) {
    switchyard_with_input(server, token, args, "")
}

/// Runs the CLI with `input` on its standard input (a password, never an argument).
fn switchyard_with_input(server: &TestServer, token: &str, args: &[&str], input: &str) -> (bool, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .env("SWITCHYARD_SERVER", &server.url)
        .env("SWITCHYARD_TOKEN", token)
        .env_remove("SWITCHYARD_SPACE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the CLI runs");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).expect("write the input");
    }
    let out = child.wait_with_output().expect("the CLI ends");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_org_admin_manages_its_members_and_projects_and_nothing_else() {
    let server = TestServer::start();
    let admin = Http::new(&server);
    for org in ["acme", "beta"] {
        let (status, body) = admin.post("/v1/orgs", json!({ "name": org })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = admin.post("/v1/orgs", json!({ "name": "acme" })).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"), "{body}");
    let (status, body) = admin.post("/v1/orgs", json!({ "name": "a.b" })).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{body}");

    // The org's admin: space-admin on every project of acme, made by the system admin.
    let (status, body) = admin
        .post(
            "/v1/orgs/acme/members",
            json!({ "kind": "user", "name": "ada", "password": PASSWORD,
               "grants": [{ "role": "space-admin", "pattern": "acme/*:*" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["org"], "acme");
    let (status, outsider) =
        admin.post("/v1/principals", json!({ "kind": "user", "name": "otto", "password": PASSWORD })).await;
    assert_eq!(status, StatusCode::CREATED, "{outsider}");
    let outsider = outsider["id"].as_str().expect("id").to_owned();
    let (status, beta_member) =
        admin.post("/v1/orgs/beta/members", json!({ "kind": "service", "name": "beta-bot" })).await;
    assert_eq!(status, StatusCode::CREATED, "{beta_member}");
    let beta_member = beta_member["id"].as_str().expect("id").to_owned();

    let ada = session(&server, "ada").await;
    // A member with a grant on one project; it signs in and works there.
    let (status, mia) = ada
        .post(
            "/v1/orgs/acme/members",
            json!({ "kind": "user", "name": "mia", "password": PASSWORD,
               "grants": [{ "role": "space-writer", "pattern": "acme/orders:*" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mia}");
    let mia_id = mia["id"].as_str().expect("id").to_owned();
    let (status, body) = ada.put_yaml("/v1/spaces/acme.orders/machines/order", ORDER).await;
    assert_eq!(status, StatusCode::OK, "the org admin writes into a project: {body}");
    let mia = session(&server, "mia").await;
    let (status, body) = mia.post("/v1/spaces/acme.orders/machines/order/instances", json!({ "id": "o-1" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = mia.put_yaml("/v1/spaces/acme.billing/machines/order", ORDER).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "another project: {body}");

    // Granting within the org and within what it holds; not beyond.
    let (status, body) = ada
        .post("/v1/grants", json!({ "principal": mia_id, "role": "space-reader", "pattern": "acme/billing:*" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for (role, pattern) in [("space-reader", "beta/*:*"), ("space-reader", "acme:*"), ("sys-admin", "acme/*:*")] {
        let (status, body) =
            ada.post("/v1/grants", json!({ "principal": mia_id, "role": role, "pattern": pattern })).await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{role} on {pattern}: {body}");
    }
    let (status, body) = ada
        .post(
            "/v1/orgs/acme/members",
            json!({ "kind": "service", "name": "b", "grants": [{ "role": "space-admin", "pattern": "*" }] }),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{body}");

    // The members list: acme's only.
    let (status, members) = ada.get("/v1/orgs/acme/members").await;
    assert_eq!(status, StatusCode::OK, "{members}");
    let names: Vec<&str> =
        members["members"].as_array().expect("members").iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(names, ["ada", "mia"], "{members}");

    // Another org, the system and principals outside the org are out of reach.
    for path in ["/v1/orgs/beta/members", "/v1/principals", "/v1/audit"] {
        let (status, body) = ada.get(path).await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{path}: {body}");
    }
    let (status, body) = ada.delete(&format!("/v1/orgs/acme/members/{outsider}")).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"), "a principal of no org: {body}");
    let (status, body) = ada.delete(&format!("/v1/orgs/acme/members/{beta_member}")).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"), "beta's member named through acme: {body}");
    let (status, body) = ada.delete("/v1/orgs/beta").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{body}");
    let (status, body) = ada.get("/v1/orgs/beta").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"), "an org it reaches nothing of: {body}");

    // The orgs it reaches, with the projects it reaches.
    let (status, orgs) = mia.get("/v1/orgs").await;
    assert_eq!(status, StatusCode::OK, "{orgs}");
    assert_eq!(orgs["orgs"].as_array().map(Vec::len), Some(1), "{orgs}");
    assert_eq!(orgs["orgs"][0]["projects"][0]["project"], "acme/orders", "{orgs}");
    assert_eq!(orgs["orgs"][0]["projects"][0]["space"], "acme.orders", "{orgs}");

    // A password reset by the org admin (through the CLI, the password on standard input) ends
    // the member's session.
    let ada_secret = ada.token().expect("a session").to_owned();
    let (ok, out, err) =
        switchyard_with_input(&server, &ada_secret, &["org", "reset-password", "acme", &mia_id], "another long one\n");
    assert!(ok && out.contains("password set"), "{out}{err}");
    let (status, body) = mia.get("/v1/auth/me").await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "unauthorized"), "{body}");

    // A member given more than its org admin holds (by a system admin) is out of its reach;
    // a service account it manages gets a token from it.
    let (status, boss) = admin
        .post(
            "/v1/orgs/acme/members",
            json!({ "kind": "user", "name": "boss", "password": PASSWORD,
               "grants": [{ "role": "sys-admin", "pattern": "*" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{boss}");
    let boss = boss["id"].as_str().expect("id").to_owned();
    let (status, body) =
        ada.put_json(&format!("/v1/orgs/acme/members/{boss}/password"), &json!({ "password": "taken over now" })).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{body}");
    let (status, body) = ada.delete(&format!("/v1/orgs/acme/members/{boss}")).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{body}");
    let (status, body) = ada.post("/v1/tokens", json!({ "name": "b", "principal": boss })).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{body}");
    let (status, body) = admin.delete(&format!("/v1/orgs/acme/members/{boss}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, bot) = ada
        .post(
            "/v1/orgs/acme/members",
            json!({ "kind": "service", "name": "acme-ci",
               "grants": [{ "role": "space-writer", "pattern": "acme/orders:*" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bot}");
    let (status, token) = ada.post("/v1/tokens", json!({ "name": "ci", "principal": bot["id"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let bot_http = Http::with_token(&server, token["token"].as_str());
    let (status, body) = bot_http.get("/v1/spaces/acme.orders/machines/order/instances/o-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = ada.post("/v1/tokens", json!({ "name": "o", "principal": outsider })).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{body}");

    // The CLI: --space takes the project as org/project.
    let (ok, out, err) =
        switchyard(&server, &ada_secret, &["--space", "acme/orders", "-o", "json", "instance", "get", "order:o-1"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("\"o-1\""), "{out}");
    let (ok, out, err) = switchyard(&server, &ada_secret, &["org", "members", "acme"]);
    assert!(ok && out.contains("mia") && out.contains("space-writer=acme/orders:*"), "{out}{err}");
    let (ok, out, err) = switchyard(&server, &ada_secret, &["org", "get", "acme"]);
    assert!(ok && out.contains("acme/orders (space acme.orders)"), "{out}{err}");

    // An org with members or projects stays; emptied, it goes.
    let (status, body) = admin.delete("/v1/orgs/acme").await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"), "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("3 member(s) and 1 project(s)")), "{body}");
    let (status, body) = ada.delete(&format!("/v1/orgs/acme/members/{mia_id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (ok, out, err) =
        switchyard(&server, &ada_secret, &["org", "remove-member", "acme", bot["id"].as_str().expect("id")]);
    assert!(ok && out.contains("token(s) revoked"), "{out}{err}");
    let (ok, out, err) = switchyard(&server, &ada_secret, &["org", "list"]);
    assert!(ok && out.contains("acme") && !out.contains("beta"), "{out}{err}");
    // An outside collaborator's grant on acme's projects goes with the org.
    let (status, body) =
        admin.post("/v1/grants", json!({ "principal": outsider, "role": "space-reader", "pattern": "acme/*:*" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = ada.delete("/v1/spaces/acme.orders").await;
    assert_eq!(status, StatusCode::OK, "the org admin deletes a project: {body}");
    let (ok, out, err) = switchyard(&server, admin.token().expect("admin"), &["org", "members", "acme", "-o", "json"]);
    assert!(ok, "{out}{err}");
    let ada_id =
        serde_json::from_str::<Value>(&out).expect("json")["members"][0]["id"].as_str().expect("id").to_owned();
    let (status, body) = admin.delete(&format!("/v1/orgs/acme/members/{ada_id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (ok, out, err) = switchyard(&server, admin.token().expect("admin"), &["org", "delete", "acme"]);
    assert!(ok, "{out}{err}");
    let (status, grants) = admin.get(&format!("/v1/grants?principal={outsider}")).await;
    assert_eq!((status, grants["grants"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{grants}");

    // Every act is in the audit.
    let (status, audit) = admin.get("/v1/audit?kind=audit.org_created,audit.org_deleted").await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let kinds: Vec<&str> =
        audit["records"].as_array().expect("records").iter().filter_map(|r| r["kind"].as_str()).collect();
    assert_eq!(kinds, ["audit.org_created", "audit.org_created", "audit.org_deleted"], "{audit}");
}

async fn deploy(http: &Http, name: &str, settings: Value) -> (StatusCode, Value) {
    let component = example_function_bytes("misbehave");
    let mut body = json!({ "component_base64": base64::engine::general_purpose::STANDARD.encode(component) });
    if let (Some(body), Some(settings)) = (body.as_object_mut(), settings.as_object()) {
        body.extend(settings.clone());
    }
    http.put_json(&format!("/v1/spaces/acme/functions/{name}"), &body).await
}

async fn invoke(http: &Http, name: &str, input: Value) -> (StatusCode, Value) {
    let body = ("application/octet-stream", input.to_string().into_bytes());
    http.send(Method::POST, &format!("/v1/spaces/acme/functions/{name}/invoke"), Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_function_acts_with_its_grants_and_no_more_than_its_deployer_holds() {
    let server = TestServer::start();
    let admin = Http::new(&server);
    for machine in ["order", "payment"] {
        let (status, body) = admin.put_yaml(&format!("/v1/spaces/acme/machines/{machine}"), ORDER).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) =
            admin.post(&format!("/v1/spaces/acme/machines/{machine}/instances"), json!({ "id": "x-1" })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = admin.put_json("/v1/roles/order-closer", &json!({ "permissions": ["events:send"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Deployed without grants: the default, shown like a principal's grants.
    let (status, open) = deploy(&admin, "open", json!({ "kv_buckets": ["cache"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{open}");
    let shown: Vec<(String, String)> = open["grants"]
        .as_array()
        .expect("grants")
        .iter()
        .map(|g| (g["role"].as_str().unwrap_or("").to_owned(), g["pattern"].as_str().unwrap_or("").to_owned()))
        .collect();
    assert_eq!(
        shown,
        [
            ("kv-bucket".to_owned(), "acme:kv:cache:*".to_owned()),
            ("function-default".to_owned(), "acme:machines:*".to_owned()),
            ("function-default".to_owned(), "acme:topics:*".to_owned()),
        ],
        "{open}"
    );
    let (status, body) =
        invoke(&admin, "open", json!({ "do": "send", "instance": "payment:x-1", "event": "close" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Deployed with a custom role on one machine: only that machine's instances.
    let (status, narrow) =
        deploy(&admin, "narrow", json!({ "grants": [{ "role": "order-closer", "pattern": "acme:machines:order:*" }] }))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{narrow}");
    assert_eq!(narrow["grants"][0]["permissions"], json!(["events:send"]), "{narrow}");
    let (status, body) =
        invoke(&admin, "narrow", json!({ "do": "send", "instance": "order:x-1", "event": "close" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin.post("/v1/spaces/acme/machines/payment/instances", json!({ "id": "x-2" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) =
        invoke(&admin, "narrow", json!({ "do": "send", "instance": "payment:x-2", "event": "close" })).await;
    assert_eq!(code(&body), "capability_denied", "{status} {body}");
    let (status, body) = invoke(&admin, "narrow", json!({ "do": "publish", "topic": "news", "message": {} })).await;
    assert_eq!(code(&body), "capability_denied", "{status} {body}");
    let (_, payment) = admin.get("/v1/spaces/acme/machines/payment/instances/x-2").await;
    assert_eq!(payment["state"], "open", "a denied call changed nothing: {payment}");

    // A grant outside the function's space, of an unknown role, or beyond the deployer's own.
    let (status, body) =
        deploy(&admin, "wide", json!({ "grants": [{ "role": "space-writer", "pattern": "beta:*" }] })).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{body}");
    let (status, body) =
        deploy(&admin, "ghost", json!({ "grants": [{ "role": "nobody", "pattern": "acme:*" }] })).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"), "{body}");
    let (status, deployer) = admin
        .post(
            "/v1/principals",
            json!({ "kind": "service", "name": "deployer",
               "grants": [{ "role": "space-writer", "pattern": "acme:*" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{deployer}");
    let (status, token) = admin.post("/v1/tokens", json!({ "name": "d", "principal": deployer["id"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let deployer = Http::with_token(&server, token["token"].as_str());
    let (status, body) =
        deploy(&deployer, "admin-fn", json!({ "grants": [{ "role": "space-admin", "pattern": "acme:*" }] })).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{body}");
    // A deployer holding only functions:deploy cannot hand out the default or a bucket either;
    // with an empty list of grants its function gets nothing, and deploys.
    let (status, body) = admin.put_json("/v1/roles/deploy-only", &json!({ "permissions": ["functions:deploy"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, bare) = admin
        .post(
            "/v1/principals",
            json!({ "kind": "service", "name": "bare",
               "grants": [{ "role": "deploy-only", "pattern": "acme" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bare}");
    let (status, token) = admin.post("/v1/tokens", json!({ "name": "b", "principal": bare["id"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let bare = Http::with_token(&server, token["token"].as_str());
    for settings in [json!({}), json!({ "grants": [], "kv_buckets": ["cache"] })] {
        let (status, body) = deploy(&bare, "bare-fn", settings.clone()).await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{settings}: {body}");
    }
    let (status, body) = deploy(&bare, "bare-fn", json!({ "grants": [] })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["grants"], json!([]), "{body}");
    let (status, body) = invoke(&admin, "bare-fn", json!({ "do": "publish", "topic": "news", "message": {} })).await;
    assert_eq!(code(&body), "capability_denied", "{status} {body}");
    let (status, body) = admin
        .put_json(
            "/v1/spaces/acme/functions/admin-fn?dry_run=true",
            &json!({
            "component_base64": base64::engine::general_purpose::STANDARD.encode(example_function_bytes("misbehave")),
            "grants": [{ "role": "space-admin", "pattern": "beta:*" }] }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        "a dry run checks too: {body}"
    );

    // A change of the custom role reaches the loaded function.
    let (status, body) = admin.put_json("/v1/roles/order-closer", &json!({ "permissions": ["topics:publish"] })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin.post("/v1/spaces/acme/machines/order/instances", json!({ "id": "x-3" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) =
        invoke(&admin, "narrow", json!({ "do": "send", "instance": "order:x-3", "event": "close" })).await;
    assert_eq!(code(&body), "capability_denied", "the role no longer sends events: {status} {body}");

    // The CLI deploys with --grant and shows the grants.
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = dir.path().join("m.wasm");
    std::fs::write(&wasm, example_function_bytes("misbehave")).expect("write");
    let wasm = wasm.to_str().expect("utf-8");
    let (ok, out, err) = switchyard(
        &server,
        admin.token().expect("admin"),
        &["--space", "acme", "fn", "deploy", "cli-fn", wasm, "--grant", "space-writer=acme:topics:*"],
    );
    assert!(ok, "{out}{err}");
    let (ok, out, err) =
        switchyard(&server, admin.token().expect("admin"), &["--space", "acme", "fn", "get", "cli-fn"]);
    assert!(ok && out.contains("space-writer=acme:topics:*"), "{out}{err}");
}
