//! The sandbox's limits and capabilities, checked with real components (`examples/functions`)
//! on a real runtime, against an in-memory host.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use switchyard_model::{AddressPattern, Grant, RoleDef, function_grants};
use switchyard_runtime::{
    Capabilities, FunctionHost, FunctionRuntime, HostCallError, Invocation, InvocationContext, KvValue,
    KvWriteCondition, Limits, LoadedFunction, Outcome, Payload, RuntimeConfig, RuntimeError, codes, component_digest,
};

/// KV in a map; counts every call so a test can check that a denial reached nothing.
#[derive(Default)]
struct MemoryHost {
    kv: Mutex<HashMap<(String, String), KvValue>>,
    calls: AtomicU64,
}

#[async_trait]
impl FunctionHost for MemoryHost {
    async fn kv_get(&self, _space: &str, bucket: &str, key: &str) -> Result<Option<KvValue>, HostCallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.kv.lock().unwrap().get(&(bucket.to_owned(), key.to_owned())).cloned())
    }

    async fn kv_put(
        &self,
        _space: &str,
        bucket: &str,
        key: &str,
        value: Vec<u8>,
        content_type: String,
        condition: KvWriteCondition,
    ) -> Result<u64, HostCallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut kv = self.kv.lock().unwrap();
        let k = (bucket.to_owned(), key.to_owned());
        let current = kv.get(&k).map(|v| v.revision);
        match (condition, current) {
            (KvWriteCondition::Absent, Some(rev)) => return Err(HostCallError::Conflict(Some(rev))),
            (KvWriteCondition::Revision(want), cur) if cur != Some(want) => return Err(HostCallError::Conflict(cur)),
            _ => {}
        }
        let revision = current.unwrap_or(0) + 1;
        kv.insert(k, KvValue { value, content_type, revision });
        Ok(revision)
    }

    async fn kv_delete(&self, _space: &str, bucket: &str, key: &str) -> Result<bool, HostCallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.kv.lock().unwrap().remove(&(bucket.to_owned(), key.to_owned())).is_some())
    }

    async fn send_event(
        &self,
        _space: &str,
        _instance: &str,
        _event: &str,
        _payload: serde_json::Map<String, serde_json::Value>,
        _call: &switchyard_runtime::EffectCall,
    ) -> Result<String, HostCallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok("sent".into())
    }

    async fn publish(
        &self,
        _space: &str,
        _topic: &str,
        _message: serde_json::Value,
        _call: &switchyard_runtime::EffectCall,
    ) -> Result<u64, HostCallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(1)
    }
}

struct Fixture {
    runtime: FunctionRuntime,
    host: Arc<MemoryHost>,
    _cache: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_private_networks(true)
    }

    /// The tests' HTTP server is on loopback, which only an operator's setting lets a guest reach.
    fn with_private_networks(allowed: bool) -> Fixture {
        let cache = tempfile::tempdir().unwrap();
        let mut config = RuntimeConfig::new(cache.path().to_owned());
        config.max_concurrent = 64;
        config.allow_private_networks = allowed;
        Fixture { runtime: FunctionRuntime::new(config).unwrap(), host: Arc::new(MemoryHost::default()), _cache: cache }
    }

    async fn load(&self, name: &str) -> Arc<LoadedFunction> {
        let bytes = switchyard_testkit::example_function_bytes(name);
        self.runtime.load(&component_digest(&bytes), Arc::new(bytes)).await.unwrap()
    }

    async fn invoke(
        &self,
        function: &Arc<LoadedFunction>,
        input: serde_json::Value,
        limits: Limits,
        caps: Capabilities,
    ) -> Outcome {
        let invocation = Invocation {
            input: Payload { content_type: "application/json".into(), body: serde_json::to_vec(&input).unwrap() },
            context: context(),
            limits,
            capabilities: Arc::new(caps),
        };
        self.runtime.invoke(function.clone(), invocation, self.host.clone()).await
    }
}

fn context() -> InvocationContext {
    InvocationContext {
        space: "acme".into(),
        function: "f".into(),
        version: 1,
        invocation_id: "inv-1".into(),
        attempt: 1,
        idempotency_key: None,
        trace_id: "trace".into(),
        machine: None,
    }
}

fn output_json(outcome: &Outcome) -> serde_json::Value {
    match &outcome.result {
        Ok(payload) => serde_json::from_slice(&payload.body).unwrap(),
        Err(e) => panic!("expected success, got {e:?}"),
    }
}

fn error_code(outcome: &Outcome) -> &str {
    match &outcome.result {
        Ok(p) => panic!("expected an error, got {:?}", String::from_utf8_lossy(&p.body)),
        Err(e) => &e.code,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_greets_its_input() {
    let fx = Fixture::new();
    let hello = fx.load("hello").await;
    let outcome =
        fx.invoke(&hello, serde_json::json!({"name": "Ada"}), Limits::default(), Capabilities::default()).await;
    assert_eq!(output_json(&outcome), serde_json::json!({"greeting": "Hello, Ada!"}));
    let outcome = fx.invoke(&hello, serde_json::json!("Grace"), Limits::default(), Capabilities::default()).await;
    assert_eq!(output_json(&outcome), serde_json::json!({"greeting": "Hello, Grace!"}));
    assert!(outcome.instantiation > Duration::ZERO && outcome.instantiation <= outcome.duration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_at_its_timeout_and_the_runtime_goes_on() {
    let fx = Fixture::new();
    let misbehave = fx.load("misbehave").await;
    let limits = Limits { timeout: Duration::from_millis(300), ..Limits::default() };
    let outcome = fx.invoke(&misbehave, serde_json::json!({"do": "loop"}), limits, Capabilities::default()).await;
    assert_eq!(error_code(&outcome), codes::TIMEOUT);
    assert!(outcome.duration >= Duration::from_millis(300), "stopped early: {:?}", outcome.duration);
    let next = fx
        .invoke(&misbehave, serde_json::json!({"do": "echo", "x": 1}), Limits::default(), Capabilities::default())
        .await;
    assert_eq!(output_json(&next)["x"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_runs_out_of_fuel_when_fuel_is_limited() {
    let fx = Fixture::new();
    let misbehave = fx.load("misbehave").await;
    let limits = Limits { fuel: Some(5_000_000), ..Limits::default() };
    let outcome = fx.invoke(&misbehave, serde_json::json!({"do": "loop"}), limits, Capabilities::default()).await;
    assert_eq!(error_code(&outcome), codes::FUEL_EXHAUSTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_is_refused() {
    let fx = Fixture::new();
    let misbehave = fx.load("misbehave").await;
    let limits = Limits { memory_bytes: 16 * 1024 * 1024, ..Limits::default() };
    let outcome = fx.invoke(&misbehave, serde_json::json!({"do": "alloc"}), limits, Capabilities::default()).await;
    assert_eq!(error_code(&outcome), codes::MEMORY_LIMIT);
    let next =
        fx.invoke(&misbehave, serde_json::json!({"do": "echo"}), Limits::default(), Capabilities::default()).await;
    assert!(next.result.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traps_and_panics_are_reported_with_their_message() {
    let fx = Fixture::new();
    let misbehave = fx.load("misbehave").await;
    let trap =
        fx.invoke(&misbehave, serde_json::json!({"do": "trap"}), Limits::default(), Capabilities::default()).await;
    assert_eq!(error_code(&trap), codes::TRAPPED);
    let panic =
        fx.invoke(&misbehave, serde_json::json!({"do": "panic"}), Limits::default(), Capabilities::default()).await;
    assert_eq!(error_code(&panic), codes::TRAPPED);
    let message = &panic.result.as_ref().unwrap_err().message;
    assert!(message.contains("misbehave was asked to panic"), "{message}");
    let failed = fx
        .invoke(
            &misbehave,
            serde_json::json!({"do": "fail", "code": "card_declined"}),
            Limits::default(),
            Capabilities::default(),
        )
        .await;
    assert_eq!(error_code(&failed), "card_declined");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_not_granted_is_denied_inside_the_guest_and_reaches_nothing() {
    let fx = Fixture::new();
    let misbehave = fx.load("misbehave").await;
    let caps = Capabilities { grants: function_grants("acme", &["granted".into()], None), ..Capabilities::default() };
    let outcome = fx
        .invoke(
            &misbehave,
            serde_json::json!({"do": "kv", "bucket": "secret", "key": "k"}),
            Limits::default(),
            caps.clone(),
        )
        .await;
    assert_eq!(error_code(&outcome), codes::CAPABILITY_DENIED);
    assert_eq!(fx.host.calls.load(Ordering::SeqCst), 0, "a denied call reached the host");
    let outcome = fx
        .invoke(&misbehave, serde_json::json!({"do": "kv", "bucket": "granted", "key": "k"}), Limits::default(), caps)
        .await;
    assert_eq!(output_json(&outcome), serde_json::json!({"value": null}));
    assert_eq!(fx.host.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_outside_the_space_or_the_grants_are_denied() {
    let fx = Fixture::new();
    let misbehave = fx.load("misbehave").await;
    let defaults = Capabilities { grants: function_grants("acme", &[], None), ..Capabilities::default() };
    let input = serde_json::json!({"do": "send", "instance": "other:orders:o-1", "event": "pay"});
    let outcome = fx.invoke(&misbehave, input, Limits::default(), defaults.clone()).await;
    assert_eq!(error_code(&outcome), codes::CAPABILITY_DENIED);
    assert_eq!(fx.host.calls.load(Ordering::SeqCst), 0);
    let input = serde_json::json!({"do": "send", "instance": "acme:orders:o-1", "event": "pay"});
    let outcome = fx.invoke(&misbehave, input.clone(), Limits::default(), defaults).await;
    assert_eq!(output_json(&outcome), serde_json::json!({"state": "sent"}));

    // Without a grant of events:send there, the same call is denied before the host sees it.
    let calls = fx.host.calls.load(Ordering::SeqCst);
    let other_machine = AddressPattern::parse("acme:machines:payments:*").expect("pattern");
    let sender = RoleDef::custom("sender", &["events:send".into()]).expect("role");
    let narrow = function_grants("acme", &[], Some(vec![Grant { role: sender, pattern: other_machine }]));
    let outcome = fx
        .invoke(&misbehave, input, Limits::default(), Capabilities { grants: narrow, ..Capabilities::default() })
        .await;
    assert_eq!(error_code(&outcome), codes::CAPABILITY_DENIED);
    assert_eq!(fx.host.calls.load(Ordering::SeqCst), calls, "a denied call reached the host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_http_reaches_only_allow_listed_hosts() {
    let fx = Fixture::new();
    let fetch = fx.load("http-fetch").await;
    let (addr, accepted) = switchyard_testkit::counting_http_server("from the test").await;
    let url = format!("http://{addr}/hello");

    let denied = fx.invoke(&fetch, serde_json::json!({"url": url}), Limits::default(), Capabilities::default()).await;
    assert_eq!(error_code(&denied), codes::CAPABILITY_DENIED);
    let other_port = Capabilities { allowed_hosts: vec!["127.0.0.1:1".into()], ..Capabilities::default() };
    let denied = fx.invoke(&fetch, serde_json::json!({"url": url}), Limits::default(), other_port).await;
    assert_eq!(error_code(&denied), codes::CAPABILITY_DENIED);
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "a denied request reached the server");

    let allowed = Capabilities { allowed_hosts: vec![addr.clone()], ..Capabilities::default() };
    let outcome = fx.invoke(&fetch, serde_json::json!({"url": url}), Limits::default(), allowed).await;
    assert_eq!(output_json(&outcome), serde_json::json!({"status": 200, "body": "from the test"}));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_listed_host_on_a_private_network_is_refused_unless_the_operator_allows_it() {
    let fx = Fixture::with_private_networks(false);
    let fetch = fx.load("http-fetch").await;
    let (addr, accepted) = switchyard_testkit::counting_http_server("from the test").await;
    for host in [addr.clone(), format!("localhost:{}", addr.rsplit_once(':').unwrap().1)] {
        let allowed = Capabilities { allowed_hosts: vec![host.clone()], ..Capabilities::default() };
        let url = format!("http://{host}/");
        let outcome = fx.invoke(&fetch, serde_json::json!({"url": url}), Limits::default(), allowed).await;
        assert_eq!(error_code(&outcome), codes::CAPABILITY_DENIED, "{host}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "a request reached a loopback server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_errors_and_logs_are_bounded() {
    let fx = Fixture::new();
    let misbehave = fx.load("misbehave").await;
    let long_code = "x".repeat(1000);
    let outcome = fx
        .invoke(
            &misbehave,
            serde_json::json!({"do": "fail", "code": long_code}),
            Limits::default(),
            Capabilities::default(),
        )
        .await;
    assert_eq!(error_code(&outcome).len(), switchyard_runtime::MAX_ERROR_CODE_BYTES);
    let outcome = fx
        .invoke(
            &misbehave,
            serde_json::json!({"do": "fail", "code": "no spaces"}),
            Limits::default(),
            Capabilities::default(),
        )
        .await;
    assert_eq!(error_code(&outcome), "function_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_secrets_and_logs_reach_the_guest_and_come_back() {
    let fx = Fixture::new();
    let misbehave = fx.load("misbehave").await;
    let caps = Capabilities {
        config: [("region".to_owned(), "eu".to_owned())].into(),
        secrets: [("token".to_owned(), "s3cret".to_owned())].into(),
        ..Capabilities::default()
    };
    let outcome =
        fx.invoke(&misbehave, serde_json::json!({"do": "config", "secret": "token"}), Limits::default(), caps).await;
    assert_eq!(output_json(&outcome), serde_json::json!({"config": {"region": "eu"}, "secret": "s3cret"}));

    let outcome = fx
        .invoke(&misbehave, serde_json::json!({"do": "log", "lines": 150}), Limits::default(), Capabilities::default())
        .await;
    assert!(outcome.result.is_ok());
    // 100 lines kept; the other 50 and the stdout line past the limit are counted as dropped.
    assert_eq!(outcome.logs.len(), 100);
    assert_eq!(outcome.logs_dropped, 51);
    assert_eq!(outcome.logs[0].message, "line 0");
    assert_eq!(outcome.logs[0].fields, vec![("i".to_owned(), "0".to_owned())]);

    let outcome = fx
        .invoke(&misbehave, serde_json::json!({"do": "log", "lines": 2}), Limits::default(), Capabilities::default())
        .await;
    let messages: Vec<&str> = outcome.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["line 0", "line 1", "printed to stdout"]);
    assert_eq!(outcome.logs[2].fields, vec![("stream".to_owned(), "stdout".to_owned())]);
    assert_eq!(outcome.logs_dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_each_count_once() {
    let fx = Arc::new(Fixture::new());
    let counter = fx.load("kv-counter").await;
    let caps = Capabilities { grants: function_grants("acme", &["counters".into()], None), ..Capabilities::default() };
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (fx, counter, caps) = (fx.clone(), counter.clone(), caps.clone());
        tasks.push(tokio::spawn(
            async move { fx.invoke(&counter, serde_json::json!({}), Limits::default(), caps).await },
        ));
    }
    let mut counts = Vec::new();
    for task in tasks {
        let outcome = task.await.unwrap();
        counts.push(output_json(&outcome)["count"].as_u64().unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=64).collect::<Vec<u64>>(), "every invocation counted exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_runtime_loads_the_cached_artifact_instead_of_compiling() {
    let cache = tempfile::tempdir().unwrap();
    let bytes = switchyard_testkit::example_function_bytes("hello");
    let digest = component_digest(&bytes);
    let bytes = Arc::new(bytes);
    {
        let runtime = FunctionRuntime::new(RuntimeConfig::new(cache.path().to_owned())).unwrap();
        runtime.load(&digest, bytes.clone()).await.unwrap();
        assert_eq!(runtime.stats().compilations.load(Ordering::Relaxed), 1);
    }
    let runtime = FunctionRuntime::new(RuntimeConfig::new(cache.path().to_owned())).unwrap();
    let hello = runtime.load(&digest, bytes).await.unwrap();
    assert_eq!(runtime.stats().compilations.load(Ordering::Relaxed), 0);
    assert_eq!(runtime.stats().cache_loads.load(Ordering::Relaxed), 1);
    let invocation = Invocation {
        input: Payload { content_type: "text/plain".into(), body: b"cache".to_vec() },
        context: context(),
        limits: Limits::default(),
        capabilities: Arc::new(Capabilities::default()),
    };
    let outcome = runtime.invoke(hello, invocation, Arc::new(MemoryHost::default())).await;
    assert_eq!(output_json(&outcome), serde_json::json!({"greeting": "Hello, cache!"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_that_do_not_implement_the_world_are_refused_saying_why() {
    let fx = Fixture::new();
    let garbage = Arc::new(b"not wasm at all".to_vec());
    let err = fx.runtime.load(&component_digest(&garbage), garbage).await.unwrap_err();
    assert!(matches!(err, RuntimeError::InvalidComponent(_)), "{err:?}");

    // An empty component: valid, but it exports no `handle`.
    let empty = Arc::new(b"\0asm\x0d\0\x01\0".to_vec());
    let err = fx.runtime.load(&component_digest(&empty), empty).await.unwrap_err();
    assert!(matches!(err, RuntimeError::WorldMismatch(_)), "{err:?}");
    assert!(err.to_string().contains("handle"), "{err}");
}

fn nested(depth: usize) -> serde_json::Value {
    let mut value = serde_json::json!(1);
    for _ in 0..depth {
        value = serde_json::json!([value]);
    }
    value
}

fn error_message(outcome: &Outcome) -> &str {
    match &outcome.result {
        Ok(p) => panic!("expected an error, got {:?}", String::from_utf8_lossy(&p.body)),
        Err(e) => &e.message,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_deeper_than_the_policy_never_leaves_the_guest() {
    let fx = Fixture::new();
    let misbehave = fx.load("misbehave").await;
    let caps = Capabilities { grants: function_grants("acme", &["data".into()], None), ..Capabilities::default() };
    let deep = nested(100);
    let published = fx
        .invoke(
            &misbehave,
            serde_json::json!({"do": "publish", "topic": "t", "message": deep}),
            Limits::default(),
            caps.clone(),
        )
        .await;
    assert_eq!(error_code(&published), "event_invalid");
    assert!(error_message(&published).contains("64"), "{}", error_message(&published));
    let put = fx
        .invoke(
            &misbehave,
            serde_json::json!({"do": "put", "bucket": "data", "key": "k", "value": deep}),
            Limits::default(),
            caps.clone(),
        )
        .await;
    assert_eq!(error_code(&put), "kv_invalid");
    assert!(error_message(&put).contains("64"), "{}", error_message(&put));
    assert_eq!(fx.host.calls.load(Ordering::SeqCst), 0, "a refused value reached the host");
    let echoed =
        fx.invoke(&misbehave, serde_json::json!({"do": "echo", "d": deep}), Limits::default(), caps.clone()).await;
    assert_eq!(error_code(&echoed), codes::VALIDATION_FAILED);
    assert!(error_message(&echoed).contains("64"), "{}", error_message(&echoed));

    // 64 levels are within the policy.
    let at_limit = nested(64);
    let put = fx
        .invoke(
            &misbehave,
            serde_json::json!({"do": "put", "bucket": "data", "key": "k", "value": at_limit}),
            Limits::default(),
            caps,
        )
        .await;
    assert!(put.result.is_ok(), "{:?}", put.result);
    assert_eq!(fx.host.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_that_never_fits_the_memory_budget_is_refused_at_once() {
    let cache = tempfile::tempdir().unwrap();
    let mut config = RuntimeConfig::new(cache.path().to_owned());
    config.memory_budget_bytes = 32 * 1024 * 1024;
    let runtime = FunctionRuntime::new(config).unwrap();
    let bytes = switchyard_testkit::example_function_bytes("misbehave");
    let misbehave = runtime.load(&component_digest(&bytes), Arc::new(bytes)).await.unwrap();
    let invocation = |memory_bytes| Invocation {
        input: Payload { content_type: "application/json".into(), body: br#"{"do":"echo","n":1}"#.to_vec() },
        context: context(),
        limits: Limits { memory_bytes, timeout: Duration::from_secs(60), ..Limits::default() },
        capabilities: Arc::new(Capabilities::default()),
    };
    let host = Arc::new(MemoryHost::default());
    let outcome = runtime.invoke(misbehave.clone(), invocation(64 * 1024 * 1024), host.clone()).await;
    assert_eq!(error_code(&outcome), codes::CAPACITY_EXHAUSTED);
    let error = outcome.result.as_ref().unwrap_err();
    assert!(!error.retryable && error.message.contains(&(32 * 1024 * 1024).to_string()), "{error:?}");
    assert!(outcome.duration < Duration::from_secs(60), "refused without waiting for its timeout");
    let fits = runtime.invoke(misbehave, invocation(16 * 1024 * 1024), host).await;
    assert_eq!(output_json(&fits)["n"], 1);
    assert_eq!(runtime.stats().capacity_refusals.load(Ordering::SeqCst), 1);
}
