//! What the API fuzz tests share: the real router over a SQLite store in a temporary directory
//! with functions enabled, seeded with one of every resource a body can name; JSON and byte
//! mutators; and the checks every answer must pass.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{Value, json};
use switchyard_api::{ApiConfig, AppParts, AppState, HttpMetrics, status_of};
use switchyard_engine::{Engine, EngineConfig, FunctionsConfig};
use switchyard_runtime::{FunctionRuntime, RuntimeConfig};
use switchyard_store::sqlite::{SqliteOptions, SqliteStore};
use switchyard_store::{Durability, Store};
use tower::ServiceExt;

/// The space every fixture lives in.
pub const SPACE: &str = "acme";

/// The seeded machine (the README's order machine).
pub const ORDER_YAML: &str = include_str!("../../../../fuzz/corpus/definition/order.yaml");

/// A server in-process: the router `switchyard serve` builds, over its own data directory.
pub struct Server {
    pub app: Router,
    pub admin: String,
    pub runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// An answer: status, media type and body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON, or `Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl Server {
    /// Starts a server the way `switchyard serve` does (store, engine, admin token, log tail,
    /// functions) and creates the fixtures: machine `order` with instance `o-1`, bucket `b`
    /// with key `k`, subscription `s`, and function `f` (the `misbehave` example, granted `b`).
    pub fn start() -> Server {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (app, admin) = runtime.block_on(async {
            let options = SqliteOptions {
                data_dir: dir.path().to_owned(),
                durability: Durability::None,
                clock: switchyard_store::SystemClock::shared(),
            };
            let store: Arc<dyn Store> = Arc::new(SqliteStore::open(options).expect("the store opens"));
            let engine = Arc::new(Engine::new(store.clone(), EngineConfig::default()));
            let admin = engine.bootstrap_admin_token(dir.path()).await.expect("bootstrap").expect("a new admin token");
            engine.start_log_tail(4096, std::time::Duration::from_millis(20)).await.expect("the log tail starts");
            let mut config = RuntimeConfig::new(dir.path().join("functions-cache"));
            config.max_concurrent = 8;
            engine.enable_functions(
                Arc::new(FunctionRuntime::new(config).expect("the runtime starts")),
                FunctionsConfig::default(),
            );
            let state = AppState::new(AppParts {
                engine,
                metrics: Arc::new(HttpMetrics::new(store.metrics())),
                config: Arc::new(ApiConfig::default()),
                ready: Arc::new(AtomicBool::new(true)),
                shutdown: switchyard_api::Shutdown::new(),
            });
            (switchyard_api::router(state), admin)
        });
        let server = Server { app, admin, runtime, _dir: dir };
        server.seed();
        server
    }

    fn seed(&self) {
        let component = switchyard_testkit::example_function_bytes("misbehave");
        let deploy = json!({
            "component_base64": base64::engine::general_purpose::STANDARD.encode(component),
            "timeout_ms": 2000,
            "memory_bytes": 32 * 1024 * 1024,
            "kv_buckets": ["b"],
            "allowed_hosts": ["127.0.0.1:9"],
            "config": {"greeting": "hi"},
            "secrets": {"token": "s3cret"},
        });
        let steps: Vec<(Method, String, Option<Vec<u8>>, &str)> = vec![
            (Method::PUT, path("/machines/order"), Some(ORDER_YAML.as_bytes().to_vec()), "application/yaml"),
            (
                Method::POST,
                path("/machines/order/instances"),
                Some(br#"{"id":"o-1","ctx":{"amount":100}}"#.to_vec()),
                JSON,
            ),
            (Method::PUT, path("/kv/b"), Some(br#"{"history":3}"#.to_vec()), JSON),
            (Method::PUT, path("/kv/b/keys/k"), Some(b"v".to_vec()), "text/plain"),
            (Method::PUT, path("/subscriptions/s"), Some(br#"{"from":"earliest"}"#.to_vec()), JSON),
            (Method::PUT, path("/functions/f"), Some(serde_json::to_vec(&deploy).unwrap()), JSON),
        ];
        for (method, uri, body, content_type) in steps {
            let answer = self.send(method, &uri, body, Some(content_type));
            assert!(answer.status.is_success(), "seeding {uri}: {answer:?}");
        }
    }

    /// Sends one request with the admin token.
    pub fn send(&self, method: Method, uri: &str, body: Option<Vec<u8>>, content_type: Option<&str>) -> Answer {
        let mut request =
            Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {}", self.admin));
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let request = request.body(body.map(Body::from).unwrap_or_else(Body::empty)).expect("a valid request");
        self.runtime.block_on(async {
            // A hung handler must fail the test, not stall it.
            let response = tokio::time::timeout(std::time::Duration::from_secs(60), self.app.clone().oneshot(request))
                .await
                .unwrap_or_else(|_| panic!("{uri} did not answer within 60 s"))
                .expect("the router is infallible");
            let status = response.status();
            let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("the body reads");
            Answer { status, content_type, body: body.to_vec() }
        })
    }

    /// The server still serves ordinary requests, its fixtures included.
    pub fn check_still_serving(&self) -> Result<(), TestCaseError> {
        let health = self.send(Method::GET, "/healthz", None, None);
        prop_assert_eq!(health.status, StatusCode::OK);
        for uri in [
            path("/machines/order/instances/o-1"),
            path("/machines/order"),
            path("/machines/order/instances"),
            path("/kv/b/keys/k"),
            path("/subscriptions/s"),
        ] {
            let answer = self.send(Method::GET, &uri, None, None);
            prop_assert!(answer.status.is_success(), "GET {} after the case: {:?}", uri, answer);
        }
        Ok(())
    }
}

/// `application/json`.
pub const JSON: &str = "application/json";

/// A path in the fixtures' space.
pub fn path(rest: &str) -> String {
    format!("/v1/spaces/{SPACE}{rest}")
}

/// Every non-2xx answer is the API's error body with a code; its status is the code's.
/// `function_route`: the answer may come from a function, whose failures have their own statuses.
pub fn check_answer(what: &str, answer: &Answer, function_route: bool) -> Result<(), TestCaseError> {
    if answer.status.is_success() {
        return Ok(());
    }
    let body = answer.json();
    let code = body.pointer("/error/code").and_then(Value::as_str);
    prop_assert!(
        code.is_some_and(|c| !c.is_empty()),
        "{}: {} without an error code: {:?}",
        what,
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    prop_assert!(body.pointer("/error/message").is_some_and(Value::is_string), "{}: no message: {:?}", what, body);
    prop_assert!(body.pointer("/error/details").is_some(), "{}: no details: {:?}", what, body);
    prop_assert_eq!(answer.content_type.as_deref(), Some(JSON), "{}", what);
    let code = code.unwrap_or_default();
    if function_route && body.pointer("/error/details/invocation_id").is_some() {
        // A failed invocation: the code is the function's own choice (any text, `internal`
        // included) or the runtime's; only the runtime's codes answer 5xx.
        if answer.status.is_server_error() {
            prop_assert!(code.starts_with("function_"), "{}: {} for code {}", what, answer.status, code);
        }
    } else {
        prop_assert!(code != "internal", "{}: internal error: {:?}", what, body);
        prop_assert!(!answer.status.is_server_error(), "{}: {} {:?}", what, answer.status, body);
        prop_assert_eq!(answer.status, status_of(code), "{}: status of {}", what, code);
    }
    Ok(())
}

/// A JSON value of any shape: scalars that trip parsers (huge numbers, odd strings), small
/// containers, and containers nested around the depth policy's limit and past it.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        proptest::sample::select(
            &[
                "",
                "now",
                "earliest",
                "*",
                "acme:order:*",
                "acme:order:o-1",
                "order:o-1",
                "other:order:o-1",
                "pay",
                "reader",
                "writer",
                "admin",
                "..",
                "a\u{0}b",
                "30s",
                "-1s",
                "999999999999h",
                "[[[{",
                "\"",
                "é",
            ][..]
        )
        .prop_map(|s| Value::String(s.to_owned())),
        (0usize..3).prop_map(|k| Value::String("x".repeat([1_000, 70_000, 600_000][k]))),
    ];
    let small = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![6 => small, 1 => deep_json()]
}

/// Arrays and objects nested 1 to 140 levels, often right around the policy's limit (64) and
/// `serde_json`'s (128), where a value can be accepted by one reader and refused by the next.
pub fn deep_json() -> impl Strategy<Value = Value> {
    let levels = prop_oneof![1usize..140, 60usize..70, 120usize..132];
    (levels, any::<bool>()).prop_map(|(levels, objects)| {
        let mut v = json!(1);
        for _ in 0..levels {
            v = if objects { json!({ "d": v }) } else { json!([v]) };
        }
        v
    })
}

/// One edit of a JSON value at the place `at` (a fraction of the value's nodes, in walk order).
#[derive(Debug, Clone)]
pub enum JsonEdit {
    Replace(f64, Value),
    Remove(f64),
    AddField(f64, String, Value),
    Wrap(f64),
}

pub fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        4 => (0.0..1.0, any_json()).prop_map(|(at, v)| JsonEdit::Replace(at, v)),
        2 => (0.0..1.0).prop_map(JsonEdit::Remove),
        1 => (0.0..1.0, "[a-z_]{1,8}", any_json()).prop_map(|(at, k, v)| JsonEdit::AddField(at, k, v)),
        1 => (0.0..1.0).prop_map(JsonEdit::Wrap),
    ]
}

/// Applies `edit` to the node it designates (the root counts as the first node).
pub fn edit_json(value: &mut Value, edit: &JsonEdit) {
    let at = match edit {
        JsonEdit::Replace(at, _) | JsonEdit::Remove(at) | JsonEdit::AddField(at, ..) | JsonEdit::Wrap(at) => *at,
    };
    // Node pointers in walk order.
    let mut pointers = vec![String::new()];
    let mut i = 0;
    while i < pointers.len() && pointers.len() < 10_000 {
        let pointer = pointers[i].clone();
        match value.pointer(&pointer) {
            Some(Value::Object(map)) => {
                pointers.extend(map.keys().map(|k| format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"))))
            }
            Some(Value::Array(items)) => pointers.extend((0..items.len()).map(|n| format!("{pointer}/{n}"))),
            _ => {}
        }
        i += 1;
    }
    let index = ((at * pointers.len() as f64) as usize).min(pointers.len() - 1);
    let pointer = pointers[index].clone();
    match edit {
        JsonEdit::Replace(_, new) => {
            if let Some(node) = value.pointer_mut(&pointer) {
                *node = new.clone();
            }
        }
        JsonEdit::Remove(_) => {
            let (parent, last) = pointer.rsplit_once('/').unwrap_or(("", ""));
            match value.pointer_mut(parent) {
                Some(Value::Object(map)) if !pointer.is_empty() => {
                    map.remove(&last.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) if !pointer.is_empty() => {
                    if let Ok(n) = last.parse::<usize>()
                        && n < items.len()
                    {
                        items.remove(n);
                    }
                }
                _ => *value = Value::Null,
            }
        }
        JsonEdit::AddField(_, key, new) => match value.pointer_mut(&pointer) {
            Some(Value::Object(map)) => {
                map.insert(key.clone(), new.clone());
            }
            Some(Value::Array(items)) => items.push(new.clone()),
            _ => {}
        },
        JsonEdit::Wrap(_) => {
            if let Some(node) = value.pointer_mut(&pointer) {
                *node = Value::Array(vec![node.take()]);
            }
        }
    }
}

/// One edit of a byte string; positions are fractions of its length so they shrink well.
#[derive(Debug, Clone)]
pub enum ByteEdit {
    Insert(f64, Vec<u8>),
    Delete(f64, usize),
    Replace(f64, u8),
    Repeat(f64, usize, usize),
}

pub fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    let byte = prop_oneof![3 => proptest::sample::select(&b"{}[]\",:\\ 0123456789.-eEtrufalsn"[..]), 1 => any::<u8>()];
    prop_oneof![
        (0.0..1.0, proptest::collection::vec(byte.clone(), 1..8)).prop_map(|(at, b)| ByteEdit::Insert(at, b)),
        (0.0..1.0, 1usize..16).prop_map(|(at, n)| ByteEdit::Delete(at, n)),
        (0.0..1.0, byte).prop_map(|(at, b)| ByteEdit::Replace(at, b)),
        (0.0..1.0, 1usize..24, 1usize..200).prop_map(|(at, len, n)| ByteEdit::Repeat(at, len, n)),
    ]
}

pub fn edit_bytes(bytes: &mut Vec<u8>, edit: &ByteEdit) {
    let at = |f: f64, len: usize| ((f * len as f64) as usize).min(len);
    match edit {
        ByteEdit::Insert(f, b) => {
            let i = at(*f, bytes.len());
            bytes.splice(i..i, b.iter().copied());
        }
        ByteEdit::Delete(f, n) => {
            let i = at(*f, bytes.len());
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
        ByteEdit::Replace(f, b) => {
            if !bytes.is_empty() {
                let i = at(*f, bytes.len() - 1);
                bytes[i] = *b;
            }
        }
        ByteEdit::Repeat(f, len, n) => {
            let i = at(*f, bytes.len());
            let end = (i + len).min(bytes.len());
            let slice = bytes[i..end].to_vec();
            let repeated: Vec<u8> = slice.iter().copied().cycle().take(slice.len() * n).collect();
            bytes.splice(end..end, repeated);
        }
    }
}
