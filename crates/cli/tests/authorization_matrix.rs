//! The authorization matrix, generated from the OpenAPI document the real binary serves.
//!
//! Every operation declares who may call it (`x-switchyard-access`: a permission and where it
//! must be held); the declaration must be the router's own rule, so a route added without one
//! fails here. Then every operation is called with each credential that must be refused — none,
//! an expired session, a revoked token, a token of another space, a principal whose role lacks
//! exactly the permission, a principal with every permission on a sibling pattern — and must
//! answer the right status and code (a definition that reaches its whole space also refuses a
//! grant of everything on its own name, an org's route a grant of everything on one of its
//! projects); and with the narrowest credential that must be admitted — a role holding exactly
//! that permission on exactly the request's address (the space, for such a definition; every
//! project of the org, `acme/*:*`, for an org's route) — and must get past the door.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestServer;
use support::http::Http;
use switchyard_api::RULES;
use switchyard_api::access::{Access, Verb};
use switchyard_model::{PermissionEntry, permissions};

const PASSWORD: &str = "correct horse battery";

/// How a route is reached: its access as the OpenAPI document writes it.
fn declared(access: &Access) -> Value {
    let name = |p: &switchyard_model::Permission| p.to_string();
    match access {
        Access::Open => json!({ "scope": "open" }),
        Access::Metrics => json!({ "scope": "metrics" }),
        Access::Token => json!({ "scope": "token" }),
        Access::Somewhere(p) => json!({ "scope": "somewhere", "permission": name(p) }),
        Access::System(p) => json!({ "scope": "system", "permission": name(p) }),
        Access::Space(p) => json!({ "scope": "address", "permission": name(p) }),
        Access::SpaceWide(p) => json!({ "scope": "space", "permission": name(p) }),
        Access::Org(p) => json!({ "scope": "org", "permission": name(p) }),
    }
}

fn verb(method: &str) -> Verb {
    match method {
        "get" => Verb::Get,
        "put" => Verb::Put,
        "post" => Verb::Post,
        "delete" => Verb::Delete,
        other => panic!("an operation of method {other}"),
    }
}

/// A concrete path in space `acme`, and its path parameters' values in order.
fn concrete(template: &str, method: &Method, me: &str) -> (String, Vec<String>) {
    let mut path = String::new();
    let mut values = Vec::new();
    for part in template.split('/').filter(|p| !p.is_empty()) {
        let value = match part {
            "{space}" => "acme",
            "{org}" => "acme",
            "{name}" => "order",
            "{bucket}" => "config",
            "{key}" => "db",
            "{trigger}" => "hook",
            // Reading a principal is one's own unless principals:read says otherwise.
            "{id}" if template == "/v1/principals/{id}" && method == Method::GET => me,
            "{id}" => "o-1",
            fixed => {
                path.push('/');
                path.push_str(fixed);
                continue;
            }
        };
        path.push('/');
        path.push_str(value);
        values.push(value.to_string());
    }
    (path, values)
}

/// A role name for a permission: `only-functions-deploy`, `all-but-functions-deploy`.
fn role_name(prefix: &str, permission: &str) -> String {
    format!("{prefix}-{}", permission.replace(':', "-"))
}

struct Matrix {
    server: TestServer,
    admin: Http,
    /// The user whose sessions the token-scoped operations are admitted with.
    plain_user: String,
    principals: BTreeMap<String, String>,
}

impl Matrix {
    /// A service account granted `role` on `pattern`, and a token of it (one per pair).
    async fn token_with(&mut self, role: &str, pattern: &str) -> String {
        let key = format!("{role} on {pattern}");
        if let Some(token) = self.principals.get(&key) {
            return token.clone();
        }
        let body = json!({
            "kind": "service",
            "name": key,
            "grants": [{ "role": role, "pattern": pattern }],
        });
        let (status, created) = self.admin.post("/v1/principals", body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().expect("id").to_string();
        let (status, token) = self.admin.post("/v1/tokens", json!({ "name": key, "principal": id })).await;
        assert_eq!(status, StatusCode::CREATED, "{token}");
        let secret = token["token"].as_str().expect("secret").to_string();
        self.principals.insert(key, secret.clone());
        secret
    }

    async fn session(&self, name: &str) -> String {
        let anonymous = Http::with_token(&self.server, None);
        let (status, session) = anonymous.post("/v1/auth/sign-in", json!({ "name": name, "password": PASSWORD })).await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        session["token"].as_str().expect("secret").to_string()
    }

    async fn user(&self, name: &str, grants: Value) -> String {
        let body = json!({ "kind": "user", "name": name, "password": PASSWORD, "grants": grants });
        let (status, created) = self.admin.post("/v1/principals", body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["id"].as_str().expect("id").to_string()
    }
}

/// Calls an operation; the body of an event stream is not read (it does not end).
async fn call(server: &TestServer, token: Option<&str>, method: &Method, path: &str) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().request(method.clone(), format!("{}{path}", server.url));
    req = req.timeout(Duration::from_secs(60));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if matches!(*method, Method::POST | Method::PUT) {
        req = req.header("content-type", "application/json").body("{}");
    }
    let resp = req.send().await.expect("request reaches the server");
    let status = resp.status();
    let streaming = resp.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if streaming {
        return (status, Value::Null);
    }
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_refuses_whom_it_must_and_admits_whom_it_may() {
    let server = TestServer::start_with(&["--session-ttl", "2s"]);
    let admin = Http::new(&server);
    let (status, doc) = Http::with_token(&server, None).get("/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);

    // Every operation declares its access, and the declaration is the router's rule.
    let mut operations = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let route = template.replace("{key}", "{*key}");
            let rule = RULES
                .iter()
                .find(|r| r.route == route && r.verb == verb(method))
                .unwrap_or_else(|| panic!("{method} {template} is documented but has no rule"));
            let access = &op["x-switchyard-access"];
            assert_eq!(access, &declared(&rule.access), "{method} {template}: the document and the router differ");
            if let Some(p) = access["permission"].as_str() {
                assert!(PermissionEntry::parse(p).is_ok(), "{method} {template}: {p} is no permission");
            }
            operations.push((method.to_uppercase(), template.clone(), rule.access));
        }
    }
    assert_eq!(operations.len(), RULES.len(), "an operation of the router is not documented");

    let plain_user = String::new();
    let mut m = Matrix { server, admin, plain_user, principals: BTreeMap::new() };
    m.plain_user = m.user("plain", json!([])).await;
    let started = Instant::now();
    m.user("expiring", json!([{ "role": "sys-admin", "pattern": "*" }])).await;
    let expiring = m.session("expiring").await;
    let (status, revoked) = m.admin.post("/v1/tokens", json!({ "name": "r", "role": "admin", "spaces": ["*"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{revoked}");
    let revoked_id = revoked["id"].as_str().expect("id").to_string();
    let revoked = revoked["token"].as_str().expect("secret").to_string();
    let (status, _) = m.admin.delete(&format!("/v1/tokens/{revoked_id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, other) = m.admin.post("/v1/tokens", json!({ "name": "b", "role": "admin", "spaces": ["beta"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let other_space = other["token"].as_str().expect("secret").to_string();
    let sibling = m.token_with("sys-admin", "acme:zzz:*").await;
    // An org's routes need all of its projects: everything on one project is a sibling.
    let sibling_project = m.token_with("sys-admin", "acme/zzz:*").await;

    // Per permission: a role of exactly it, and a role of everything else.
    let names: BTreeSet<String> = permissions::ALL.iter().map(|p| p.to_string()).collect();
    for p in &names {
        let all_but: Vec<&String> = names.iter().filter(|q| *q != p).collect();
        for (name, list) in [(role_name("only", p), vec![p]), (role_name("all-but", p), all_but)] {
            let (status, role) = m.admin.put_json(&format!("/v1/roles/{name}"), &json!({ "permissions": list })).await;
            assert_eq!(status, StatusCode::CREATED, "{role}");
        }
    }

    // The session made at the start has ended by now (--session-ttl 2s).
    tokio::time::sleep(Duration::from_millis(2_500).saturating_sub(started.elapsed())).await;

    let mut checked = 0;
    for (method, template, access) in &operations {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let (path, values) = concrete(template, &method, &m.plain_user.clone());
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let route = template.replace("{key}", "{*key}");
        let address = switchyard_api::access::request_address(&route, &values).join(":");
        let what = format!("{method} {template}");
        let refuse = async |m: &Matrix, token: Option<&str>, status: StatusCode, code: &str, case: &str| {
            let (got, body) = call(&m.server, token, &method, &path).await;
            assert_eq!((got, body["error"]["code"].as_str().unwrap_or("")), (status, code), "{what}, {case}: {body}");
            body
        };
        let admitted_with = match access {
            Access::Open | Access::Metrics => continue,
            Access::Token => m.session("plain").await,
            Access::Somewhere(p) => m.token_with(&role_name("only", &p.to_string()), "acme:*").await,
            Access::System(p) => m.token_with(&role_name("only", &p.to_string()), "*").await,
            Access::Space(p) => m.token_with(&role_name("only", &p.to_string()), &address).await,
            Access::SpaceWide(p) => m.token_with(&role_name("only", &p.to_string()), "acme").await,
            Access::Org(p) => m.token_with(&role_name("only", &p.to_string()), "acme/*:*").await,
        };
        refuse(&m, None, StatusCode::UNAUTHORIZED, "unauthorized", "no credential").await;
        let body = refuse(&m, Some(&expiring), StatusCode::UNAUTHORIZED, "unauthorized", "expired session").await;
        assert!(body["error"]["message"].as_str().unwrap_or("").contains("expired"), "{what}: {body}");
        refuse(&m, Some(&revoked), StatusCode::UNAUTHORIZED, "unauthorized", "revoked token").await;
        if let Access::Space(p) | Access::SpaceWide(p) | Access::System(p) | Access::Somewhere(p) | Access::Org(p) =
            access
        {
            let lacking = m.token_with(&role_name("all-but", &p.to_string()), "*").await;
            refuse(&m, Some(&lacking), StatusCode::FORBIDDEN, "forbidden", "a role without the permission").await;
        }
        if let Access::Space(_) | Access::SpaceWide(_) | Access::System(_) | Access::Org(_) = access {
            refuse(&m, Some(&other_space), StatusCode::FORBIDDEN, "forbidden", "a token of another space").await;
            refuse(&m, Some(&sibling), StatusCode::FORBIDDEN, "forbidden", "a grant on a sibling pattern").await;
        }
        if let Access::Org(_) = access {
            refuse(&m, Some(&sibling_project), StatusCode::FORBIDDEN, "forbidden", "a grant on one project").await;
        }
        if let Access::SpaceWide(_) = access {
            // A definition reaches the whole space once it runs: every permission on its own
            // name is not enough.
            let own = format!("{}:*", switchyard_api::access::request_address(&route, &values).join(":"));
            let own_name = m.token_with("sys-admin", &own).await;
            refuse(&m, Some(&own_name), StatusCode::FORBIDDEN, "forbidden", "a grant on the definition's own name")
                .await;
        }
        let (status, body) = call(&m.server, Some(&admitted_with), &method, &path).await;
        let refused = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
        assert!(!refused && !status.is_server_error(), "{what} refused the narrowest allowed grant: {status} {body}");
        checked += 1;
    }
    assert!(checked > 100, "only {checked} operations were checked");
}
