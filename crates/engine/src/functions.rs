//! Functions: deploying versions, invoking them synchronously or asynchronously, and keeping
//! their invocation records.
//!
//! Invariants this module keeps:
//! - A version is stored only after the runtime compiled it and linked it against the world,
//!   so every stored version can be invoked (and its artifact is already in the cache).
//! - A synchronous invocation answers as soon as the guest returns. Its record is written
//!   afterwards, batched with others by the recorder task; a crash can lose the last records of
//!   synchronous invocations, never the invocations' effects (those are the guest's own writes)
//!   and never an asynchronous invocation.
//! - An asynchronous invocation is durable before it is acknowledged: a pending record holding
//!   its input, and its job on the work table (kind `invocation`, the same id), written in one
//!   transaction. The scheduler runs it like any job: leased by one node at a time, its failed
//!   attempts retried by the function's `retry` policy (a guest error marked not retryable ends
//!   it at once), dead-lettered after the last, re-driven through the job. Each attempt's report
//!   is written with the job's change, so a worker whose lease was taken over changes nothing.
//! - The loaded-function cache is dropped for a function when a `function.deployed` record for
//!   it passes through the log tail (from any node), and at once on this node's own deploys;
//!   for a whole space (every version) when its `space.deleted` record passes, and at once on
//!   this node's own deletions.
//! - Every invocation runs as the supervisor's in-flight work (`invocation` for synchronous
//!   ones, `job` for asynchronous ones), so a shutdown waits for it up to the grace; the recorder
//!   and the cache's log follower are its long-lived tasks. The
//!   recorder writes out what is queued once shutdown began and no invocation is left to send.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_model::jobs::RetryPolicy;
use switchyard_model::{
    AddressPattern, FUNCTION_DEPLOYED, FunctionSpec, FunctionSummary, Grant, GrantSet, InvocationRecord,
    InvocationStatus, JobRecord, KvCondition, RoleRecord, Segment, SpaceName, Timestamp, function_grants, kinds,
};
use switchyard_runtime::{
    Capabilities, EffectCall, FunctionHost, FunctionRuntime, HostCallError, Invocation, InvocationContext,
    InvocationError, KvValue, KvWriteCondition, Limits, LoadedFunction, LogLine, MachineContext, Outcome, Payload,
    RuntimeError,
};
use switchyard_store::*;

use crate::supervisor::{CancellationToken, Policy, Supervisor, TaskResult};
use crate::{Engine, EngineError, ErrorCode, KvPutRequest, SendEvent, check_key, parse_segment, parse_space};

/// The default wall-time limit of an invocation.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wall-time limit a function may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// The default memory limit of an invocation.
pub const DEFAULT_MEMORY_BYTES: u64 = 64 * 1024 * 1024;
/// The smallest memory limit a function may ask for.
pub const MIN_MEMORY_BYTES: u64 = 1024 * 1024;
/// The largest component accepted.
pub const MAX_COMPONENT_BYTES: usize = 64 * 1024 * 1024;
/// The largest input accepted.
pub const MAX_INPUT_BYTES: usize = 8 * 1024 * 1024;
/// Outputs larger than this are not kept in an asynchronous invocation's record.
pub const MAX_STORED_OUTPUT_BYTES: usize = 1024 * 1024;
/// Invocation records written per store op by the recorder.
const RECORD_BATCH: usize = 512;

/// A function version's settings, as deployed (stored as the version's configuration). Its
/// `Debug` form shows secrets by name only.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSettings {
    /// Wall-time limit in milliseconds (default 10 s, at most 300 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Memory limit in bytes (default 64 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Fuel limit; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    /// Hosts outgoing HTTP may reach: `host` or `host:port`.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// KV buckets of the space the function may use.
    #[serde(default)]
    pub kv_buckets: Vec<String>,
    /// Configuration values.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Secrets (never shown back).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// How failed asynchronous invocations are retried (default: the work table's default
    /// policy, 5 attempts with backoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Roles on patterns within the function's space: what its host calls may send events to
    /// and publish on (and KV beyond `kv_buckets`). None: the default, `events:send` and
    /// `topics:publish` on the whole space ([`switchyard_model::FUNCTION_DEFAULT_ROLE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<FunctionGrant>>,
}

/// A role a function holds on a pattern of its space.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionGrant {
    /// The role: built in or custom.
    pub role: String,
    /// Where, within the function's space (`acme:machines:order:*`).
    pub pattern: String,
}

impl std::fmt::Debug for FunctionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionSettings")
            .field("timeout_ms", &self.timeout_ms)
            .field("memory_bytes", &self.memory_bytes)
            .field("fuel", &self.fuel)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("kv_buckets", &self.kv_buckets)
            .field("config", &self.config)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("retry", &self.retry)
            .field("grants", &self.grants)
            .finish()
    }
}

impl FunctionSettings {
    /// Fills in defaults and checks every field; `budget` is the node's memory budget for
    /// running invocations, which one invocation's limit must fit in.
    fn resolve(mut self, max_memory: u64, budget: u64) -> Result<FunctionSettings, EngineError> {
        let timeout = self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT.as_millis() as u64);
        if timeout == 0 || Duration::from_millis(timeout) > MAX_TIMEOUT {
            return Err(EngineError::validation(format!(
                "timeout must be between 1 ms and {} s",
                MAX_TIMEOUT.as_secs()
            )));
        }
        self.timeout_ms = Some(timeout);
        let memory = self.memory_bytes.unwrap_or(DEFAULT_MEMORY_BYTES);
        if !(MIN_MEMORY_BYTES..=max_memory).contains(&memory) {
            return Err(EngineError::validation(format!(
                "memory must be between {} MiB and {} MiB",
                MIN_MEMORY_BYTES >> 20,
                max_memory >> 20
            )));
        }
        if memory > budget {
            return Err(EngineError::validation(format!(
                "memory limit of {memory} bytes is more than this node's function memory budget of {budget} bytes \
                 (--function-memory-budget): it could never run"
            )));
        }
        self.memory_bytes = Some(memory);
        if self.fuel == Some(0) {
            return Err(EngineError::validation("fuel must be positive"));
        }
        for host in &self.allowed_hosts {
            check_host(host)?;
        }
        self.allowed_hosts.sort();
        self.allowed_hosts.dedup();
        for bucket in &self.kv_buckets {
            parse_segment("bucket", bucket)?;
        }
        self.kv_buckets.sort();
        self.kv_buckets.dedup();
        for (what, map) in [("config", &self.config), ("secret", &self.secrets)] {
            for (key, value) in map {
                if key.is_empty()
                    || key.len() > 128
                    || !key.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                {
                    return Err(EngineError::validation(format!(
                        "{what} key {key:?}: 1-128 characters of letters, digits, '.', '_' and '-'"
                    )));
                }
                if value.len() > 64 * 1024 {
                    return Err(EngineError::validation(format!("{what} {key}: values are at most 64 KiB")));
                }
            }
        }
        if let Some(retry) = &self.retry {
            crate::jobs::check_retry(retry)?;
        }
        if let Some(grants) = &mut self.grants {
            grants.sort();
            grants.dedup();
        }
        Ok(self)
    }

    /// Checks the grants given are within `space` and name roles that exist.
    fn check_grants(&self, space: &SpaceName, custom: &[RoleRecord]) -> Result<Vec<Grant>, EngineError> {
        let mut checked = Vec::new();
        for g in self.grants.iter().flatten() {
            let pattern = AddressPattern::parse(&g.pattern).map_err(|e| EngineError::validation(e.to_string()))?;
            if pattern.space() != Some(space.as_str()) {
                return Err(EngineError::validation(format!(
                    "a function's grant is within its own space \"{space}\": \"{}\" is not (its host calls reach \
                     nothing else)",
                    g.pattern
                )));
            }
            let Some(role) = crate::access::resolve_role(&g.role, custom) else {
                return Err(EngineError::NotFound(format!("role \"{}\" not found", g.role)));
            };
            checked.push(Grant { role, pattern });
        }
        Ok(checked)
    }

    /// The grants the function acts with: its buckets', then those it was given (roles that no
    /// longer resolve grant nothing) or the default.
    fn grant_set(&self, space: &SpaceName, custom: &[RoleRecord]) -> GrantSet {
        let given = self.grants.as_ref().map(|grants| {
            grants
                .iter()
                .filter_map(|g| {
                    Some(Grant {
                        role: crate::access::resolve_role(&g.role, custom)?,
                        pattern: AddressPattern::parse(&g.pattern).ok()?,
                    })
                })
                .collect()
        });
        function_grants(space.as_str(), &self.kv_buckets, given)
    }

    /// Whether some grant names a custom role (which must be read to resolve).
    fn names_custom_roles(&self) -> bool {
        self.grants.iter().flatten().any(|g| switchyard_model::builtin_role(&g.role).is_none())
    }

    fn limits(&self) -> Limits {
        Limits {
            timeout: Duration::from_millis(self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT.as_millis() as u64)),
            memory_bytes: self.memory_bytes.unwrap_or(DEFAULT_MEMORY_BYTES),
            fuel: self.fuel,
        }
    }

    fn capabilities(&self, space: &SpaceName, custom: &[RoleRecord]) -> Capabilities {
        Capabilities {
            allowed_hosts: self.allowed_hosts.clone(),
            grants: self.grant_set(space, custom),
            config: self.config.clone(),
            secrets: self.secrets.clone(),
        }
    }

    /// The settings as shown to API clients: secrets by name only.
    pub fn redacted(&self) -> Value {
        json!({
            "timeout_ms": self.timeout_ms,
            "memory_bytes": self.memory_bytes,
            "fuel": self.fuel,
            "allowed_hosts": self.allowed_hosts,
            "kv_buckets": self.kv_buckets,
            "config": self.config,
            "secrets": self.secrets.keys().collect::<Vec<_>>(),
            "retry": self.retry,
            "grants": self.grants,
        })
    }
}

/// `host` or `host:port`: an IPv4 address or a host name (labels of 1-63 letters, digits and
/// hyphens, no hyphen at either end of a label, 253 characters in all, not ending in an
/// all-digit label, which resolvers read as an IPv4 address), and a port of 1-65535. No scheme,
/// path, wildcard or IPv6 literal.
fn check_host(entry: &str) -> Result<(), EngineError> {
    let refuse = |why: &str| {
        Err(EngineError::validation(format!(
            "allowed host {entry:?}: {why} (expected host or host:port, e.g. api.example.com:443)"
        )))
    };
    let (name, port) = match entry.split_once(':') {
        Some((_, port)) if port.contains(':') => return refuse("IPv6 addresses are not supported"),
        Some((name, port)) => (name, Some(port)),
        None => (entry, None),
    };
    if let Some(port) = port
        && !(!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return refuse("the port must be a number from 1 to 65535");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    if name.is_empty() {
        return refuse("the host name is empty");
    }
    if name.len() > 253 {
        return refuse("a host name is at most 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return refuse("every label of a host name (between dots) must be 1-63 characters");
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return refuse("a host name holds only letters, digits, '-' and '.'");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return refuse("a label of a host name cannot start or end with '-'");
        }
    }
    if name.rsplit('.').next().is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit())) {
        return refuse("not an IPv4 address, and a host name's last label cannot be all digits");
    }
    Ok(())
}

/// A deployed version as the API shows it.
#[derive(Debug, Clone)]
pub struct FunctionView {
    /// The stored version.
    pub summary: FunctionSummary,
    /// Its settings.
    pub settings: FunctionSettings,
}

impl FunctionView {
    fn from_summary(summary: FunctionSummary) -> Result<FunctionView, EngineError> {
        let settings = serde_json::from_value(summary.config.clone()).map_err(|e| {
            EngineError::Store(StoreError::Backend(format!(
                "stored settings of {}:{} do not decode: {e}",
                summary.space, summary.name
            )))
        })?;
        Ok(FunctionView { summary, settings })
    }
}

/// A request to invoke a function.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    /// The input.
    pub input: Vec<u8>,
    /// The input's content type (`application/json` when absent).
    pub content_type: Option<String>,
    /// A specific version (the latest when absent).
    pub version: Option<u64>,
    /// Passed to the guest; for asynchronous invocations, a repeat returns the original.
    pub idempotency_key: Option<String>,
    /// The trace to join (a new one when absent).
    pub trace_id: Option<String>,
    /// The machine invoking, if one is.
    pub machine: Option<MachineContext>,
    /// Which attempt this is (1 for a direct call; a job's attempt for a machine's action).
    pub attempt: u32,
}

/// A function and a version of it (`None`: the latest).
type FunctionKey = (SpaceName, Segment, Option<u64>);

/// A loaded version, ready to invoke.
struct CachedFunction {
    version: u64,
    loaded: Arc<LoadedFunction>,
    limits: Limits,
    capabilities: Arc<Capabilities>,
    /// How its failed asynchronous invocations are retried (`None`: the default policy).
    retry: Option<RetryPolicy>,
}

/// The engine's function state.
pub(crate) struct Functions {
    runtime: Arc<FunctionRuntime>,
    /// Loaded functions by (space, name, version); `None` is the latest version, dropped on a
    /// deploy.
    latest: RwLock<HashMap<FunctionKey, Arc<CachedFunction>>>,
    recorder: tokio::sync::mpsc::Sender<InvocationRecord>,
    host: Arc<EngineHost>,
    config: FunctionsConfig,
    /// Bumped whenever a cached function is dropped: a load that read the store before a
    /// deploy must not put the version it read back into the cache afterwards.
    generation: std::sync::atomic::AtomicU64,
}

/// How the engine keeps invocations.
#[derive(Debug, Clone, Copy)]
pub struct FunctionsConfig {
    /// How long finished invocation records are kept.
    pub retention: Duration,
}

impl Default for FunctionsConfig {
    fn default() -> Self {
        FunctionsConfig { retention: Duration::from_secs(7 * 24 * 3600) }
    }
}

/// The engine's side of the guest's imports.
struct EngineHost {
    engine: Weak<Engine>,
}

impl EngineHost {
    fn engine(&self) -> Result<Arc<Engine>, HostCallError> {
        self.engine.upgrade().ok_or_else(|| HostCallError::Unavailable("the server is shutting down".into()))
    }
}

/// A component the runtime could not load: the bytes or the world are wrong, or (`internal`) the
/// runtime itself failed.
fn component_error(e: RuntimeError) -> EngineError {
    let code = match e {
        RuntimeError::InvalidComponent(_) => ErrorCode::InvalidComponent,
        RuntimeError::WorldMismatch(_) => ErrorCode::ComponentWorldMismatch,
        RuntimeError::Cache { .. } | RuntimeError::Setup(_) => ErrorCode::Internal,
    };
    EngineError::InvalidComponent { code, message: e.to_string() }
}

fn host_error(e: EngineError) -> HostCallError {
    match e {
        EngineError::Store(StoreError::KvConflict { current, .. }) => HostCallError::Conflict(current),
        EngineError::Store(StoreError::InstanceNotFound { address, .. }) => {
            HostCallError::NotFound(format!("instance {address} not found"))
        }
        EngineError::Store(StoreError::MachineNotFound { space, name, .. }) => {
            HostCallError::NotFound(format!("machine {space}:{name} not found"))
        }
        EngineError::Store(StoreError::Conflict { .. } | StoreError::Transition(_) | StoreError::InvalidContext(_)) => {
            HostCallError::Rejected(e.to_string())
        }
        EngineError::Store(
            StoreError::Backend(_)
            | StoreError::Failed(_)
            | StoreError::OutcomeUnknown(_)
            | StoreError::Unreachable(_)
            | StoreError::Closed,
        ) => HostCallError::Unavailable(e.to_string()),
        // Over a rate passes; at a quota on holdings stays until data goes or the quota rises.
        EngineError::RateLimited { .. } => HostCallError::Unavailable(e.to_string()),
        EngineError::QuotaExceeded(_) => HostCallError::Rejected(e.to_string()),
        other => HostCallError::Invalid(other.to_string()),
    }
}

#[async_trait]
impl FunctionHost for EngineHost {
    async fn kv_get(&self, space: &str, bucket: &str, key: &str) -> Result<Option<KvValue>, HostCallError> {
        match self.engine()?.kv_get(space, bucket, key).await {
            Ok(entry) => {
                Ok(Some(KvValue { value: entry.value, content_type: entry.content_type, revision: entry.revision }))
            }
            Err(EngineError::Store(StoreError::KvNotFound { .. })) => Ok(None),
            Err(e) => Err(host_error(e)),
        }
    }

    async fn kv_put(
        &self,
        space: &str,
        bucket: &str,
        key: &str,
        value: Vec<u8>,
        content_type: String,
        condition: KvWriteCondition,
    ) -> Result<u64, HostCallError> {
        let condition = match condition {
            KvWriteCondition::None => KvCondition::Always,
            KvWriteCondition::Absent => KvCondition::Absent,
            KvWriteCondition::Revision(r) => KvCondition::Revision(r),
        };
        let put = KvPutRequest { value, content_type: Some(content_type), ttl: None, condition };
        self.engine()?.kv_put(space, bucket, key, put).await.map(|(revision, _)| revision).map_err(host_error)
    }

    async fn kv_delete(&self, space: &str, bucket: &str, key: &str) -> Result<bool, HostCallError> {
        match self.engine()?.kv_delete(space, bucket, key, KvCondition::Always).await {
            Ok(_) => Ok(true),
            Err(EngineError::Store(StoreError::KvNotFound { .. })) => Ok(false),
            Err(e) => Err(host_error(e)),
        }
    }

    async fn send_event(
        &self,
        space: &str,
        instance: &str,
        event: &str,
        payload: serde_json::Map<String, Value>,
        call: &EffectCall,
    ) -> Result<String, HostCallError> {
        let Some((machine, id)) = instance.split_once(':') else {
            return Err(HostCallError::Invalid(format!("instance address {instance:?}: expected machine:id")));
        };
        let request = SendEvent {
            event: event.to_owned(),
            payload: Some(Value::Object(payload)),
            idempotency_key: Some(call_key(call)),
            ..SendEvent::default()
        };
        let engine = self.engine()?;
        engine.admit_events(space, 1).map_err(host_error)?;
        let (applied, _) = engine.apply_event(space, machine, id, request).await.map_err(host_error)?;
        Ok(applied.to)
    }

    async fn publish(&self, space: &str, topic: &str, message: Value, call: &EffectCall) -> Result<u64, HostCallError> {
        let engine = self.engine()?;
        let key = Some(call_key(call));
        engine.admit_events(space, 1).map_err(host_error)?;
        let (seq, _) = engine.publish(space, topic, message, None, BTreeMap::new(), key).await.map_err(host_error)?;
        Ok(seq.0)
    }
}

/// The idempotency key of a function's effectful host call: `fn:<effect key>:<index>`, or its
/// SHA-256 when that would be longer than a key may be (an invocation's own key may already use
/// the whole 255 characters).
fn call_key(call: &EffectCall) -> String {
    let key = format!("fn:{}", call.key());
    if key.len() <= 255 && !key.chars().any(char::is_control) {
        return key;
    }
    use sha2::Digest as _;
    format!("fn:sha256:{}", hex::encode(sha2::Sha256::digest(key.as_bytes())))
}

/// The JSON form of an invocation's log lines, with a closing line counting dropped ones.
fn logs_json(logs: &[LogLine], dropped: u32) -> Value {
    let mut lines: Vec<Value> = logs
        .iter()
        .map(|l| {
            let fields: serde_json::Map<String, Value> =
                l.fields.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            json!({ "at_ms": l.at_ms, "level": l.level.as_str(), "message": l.message, "fields": fields })
        })
        .collect();
    if dropped > 0 {
        lines.push(json!({ "level": "warn", "message": format!("{dropped} more lines were dropped"), "fields": {} }));
    }
    Value::Array(lines)
}

fn error_json(e: &InvocationError) -> Value {
    json!({ "code": e.code, "message": e.message, "retryable": e.retryable })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Engine {
    /// Turns functions on: deploys compile with `runtime` and invocation records are kept as
    /// `config` says (asynchronous invocations run as jobs, see [`Engine::start_jobs`]).
    pub fn enable_functions(self: &Arc<Self>, runtime: Arc<FunctionRuntime>, config: FunctionsConfig) {
        let (recorder, records) = tokio::sync::mpsc::channel(2 * RECORD_BATCH);
        let functions = Functions {
            runtime,
            latest: RwLock::new(HashMap::new()),
            recorder,
            host: Arc::new(EngineHost { engine: Arc::downgrade(self) }),
            config,
            generation: std::sync::atomic::AtomicU64::new(0),
        };
        if self.functions.set(Arc::new(functions)).is_err() {
            return;
        }
        // Shared so that a restarted recorder takes the queue over.
        let records = Arc::new(tokio::sync::Mutex::new(records));
        let (store, supervisor) = (self.store.clone(), self.supervisor.clone());
        self.supervisor.spawn_named("record-invocations", Policy::Restart, move |_| {
            record_invocations(store.clone(), records.clone(), supervisor.clone())
        });
        if let Some(tail) = self.tail.get() {
            // Subscribed now, so a deploy committed before the task first runs is not missed.
            let (engine, tail, mut first) = (Arc::downgrade(self), tail.clone(), Some(tail.subscribe_cache_kinds()));
            self.supervisor.spawn_named("forget-redeployed-functions", Policy::Restart, move |cancel| {
                let restarted = first.is_none();
                let records = first.take().unwrap_or_else(|| tail.subscribe_cache_kinds());
                forget_redeployed(engine.clone(), records, restarted, cancel)
            });
        }
    }

    fn functions(&self) -> Result<&Arc<Functions>, EngineError> {
        self.functions.get().ok_or_else(|| EngineError::bad_request("functions are not enabled on this node"))
    }

    /// The function runtime, when functions are enabled.
    pub fn function_runtime(&self) -> Option<&Arc<FunctionRuntime>> {
        self.functions.get().map(|f| &f.runtime)
    }

    /// Deploys a component: compiles and checks it, then stores it as a new version unless the
    /// latest version has the same component and settings.
    /// What deploying would store ([`Engine::deploy_function`]'s checks, the component loaded,
    /// no write): the component's digest and the settings (secrets by name), now and after.
    /// A change of a secret's value counts as a change, as it does for the deploy.
    pub async fn preview_function(
        &self,
        by: &crate::access::Principal,
        space: &str,
        name: &str,
        component: Vec<u8>,
        settings: FunctionSettings,
    ) -> Result<crate::config::Preview, EngineError> {
        self.check_function_grants(by, space, &settings).await?;
        let (space, name, settings, spec) = self.prepare_deploy(space, name, component, settings).await?;
        let (digest, config) = (spec.digest, spec.config);
        let definition = json!({ "digest": digest, "settings": settings.redacted() });
        let Some(latest) = self.store.get_function(&space, &name, None).await? else {
            return Ok(crate::config::Preview { current: None, definition, changed: true });
        };
        let changed = latest.summary.digest != digest || latest.summary.config != config;
        let current = FunctionView::from_summary(latest.summary)
            .map(|view| json!({ "digest": view.summary.digest, "settings": view.settings.redacted() }))?;
        Ok(crate::config::Preview { current: Some(current), definition, changed })
    }

    /// Checks the grants a deploy gives the function — those given, within its space and of
    /// roles that exist, its buckets' and the default — are all held by the deployer (a
    /// function acts with its grants: no one hands it more than they hold).
    async fn check_function_grants(
        &self,
        by: &crate::access::Principal,
        space: &str,
        settings: &FunctionSettings,
    ) -> Result<(), EngineError> {
        let space = parse_space(space)?;
        let custom = if settings.names_custom_roles() { self.store.list_roles().await? } else { Vec::new() };
        settings.check_grants(&space, &custom)?;
        for grant in settings.grant_set(&space, &custom).grants() {
            if by.covers(&grant.role, &grant.pattern) {
                continue;
            }
            let how = match grant.role.name.as_str() {
                switchyard_model::FUNCTION_KV_ROLE => "its KV bucket (kv_buckets)",
                switchyard_model::FUNCTION_DEFAULT_ROLE => {
                    "the default for a function deployed without grants (give \"grants\", an empty list for none)"
                }
                _ => "a grant given",
            };
            return Err(EngineError::Forbidden(format!(
                "role \"{}\" ({}) on \"{}\", {how}, is more than the deployer holds there; a function is \
                 granted only what its deployer holds",
                grant.role.name,
                grant.role.permission_names().join(", "),
                grant.pattern
            )));
        }
        Ok(())
    }

    /// The grants a function version acts with in its host calls: its buckets', then those it
    /// was given or the default (a custom role since deleted grants nothing and is left out).
    pub async fn function_grants(&self, view: &FunctionView) -> Result<Vec<Grant>, EngineError> {
        let settings = &view.settings;
        let custom = if settings.names_custom_roles() { self.store.list_roles().await? } else { Vec::new() };
        Ok(settings.grant_set(&view.summary.space, &custom).grants().to_vec())
    }

    /// A deploy's checks and the version it would store: the names, the settings resolved,
    /// the component loaded (and so compiled and cached by its digest).
    async fn prepare_deploy(
        &self,
        space: &str,
        name: &str,
        component: Vec<u8>,
        settings: FunctionSettings,
    ) -> Result<(SpaceName, Segment, FunctionSettings, FunctionSpec), EngineError> {
        let functions = self.functions()?;
        let space = parse_space(space)?;
        let name = parse_segment("function name", name)?;
        if component.len() > MAX_COMPONENT_BYTES {
            return Err(EngineError::validation(format!("a component is at most {} MiB", MAX_COMPONENT_BYTES >> 20)));
        }
        let settings =
            settings.resolve(functions.runtime.max_memory_bytes(), functions.runtime.memory_budget_bytes())?;
        let digest = switchyard_runtime::component_digest(&component);
        let component = Arc::new(component);
        functions.runtime.load(&digest, component.clone()).await.map_err(component_error)?;
        let config = serde_json::to_value(&settings).map_err(|e| EngineError::bad_request(e.to_string()))?;
        let component = Arc::try_unwrap(component).unwrap_or_else(|shared| (*shared).clone());
        let spec = FunctionSpec { space: space.clone(), name: name.clone(), component, digest, config };
        Ok((space, name, settings, spec))
    }

    /// Deploys a function version as `by` (named in its `function.deployed` record); answers
    /// the version now latest and whether it is new.
    pub async fn deploy_function(
        &self,
        by: &crate::access::Principal,
        space: &str,
        name: &str,
        component: Vec<u8>,
        settings: FunctionSettings,
    ) -> Result<(FunctionView, bool), EngineError> {
        let functions = self.functions()?;
        // Before the component is compiled: a space at its stored bytes costs no compile.
        self.admit_storage(parse_space(space)?.as_str())?;
        self.check_function_grants(by, space, &settings).await?;
        let (space, name, settings, spec) = self.prepare_deploy(space, name, component, settings).await?;
        let FunctionPut { summary, created, .. } = self.execute(PutFunction { spec, by: by.actor() }).await?;
        functions.forget(&space, &name);
        Ok((FunctionView { summary, settings }, created))
    }

    /// The component (WebAssembly bytes) of one version of a function (the latest without
    /// `version`).
    pub async fn function_component(
        &self,
        space: &str,
        name: &str,
        version: Option<u64>,
    ) -> Result<Vec<u8>, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("function name", name)?;
        let record =
            self.store.get_function(&space, &name, version).await?.ok_or_else(|| not_found(&space, &name, version))?;
        Ok(record.component)
    }

    /// One version of a function (the latest without `version`).
    pub async fn get_function(
        &self,
        space: &str,
        name: &str,
        version: Option<u64>,
    ) -> Result<FunctionView, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("function name", name)?;
        let record =
            self.store.get_function(&space, &name, version).await?.ok_or_else(|| not_found(&space, &name, version))?;
        FunctionView::from_summary(record.summary)
    }

    /// The latest version of every function of a space.
    pub async fn list_functions(&self, space: &str) -> Result<Vec<FunctionView>, EngineError> {
        let space = parse_space(space)?;
        self.store.list_functions(&space).await?.into_iter().map(FunctionView::from_summary).collect()
    }

    /// Every version of a function, oldest first.
    pub async fn function_versions(&self, space: &str, name: &str) -> Result<Vec<FunctionView>, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("function name", name)?;
        let versions = self.store.function_versions(&space, &name).await?;
        if versions.is_empty() {
            return Err(not_found(&space, &name, None));
        }
        versions.into_iter().map(FunctionView::from_summary).collect()
    }

    /// Invokes a function and waits for its outcome. The invocation record is written
    /// afterwards, in the background; it is returned as it will be stored.
    pub async fn invoke_function(
        &self,
        space: &str,
        name: &str,
        request: InvokeRequest,
    ) -> Result<(InvocationRecord, Option<Payload>), EngineError> {
        let functions = self.functions()?;
        let space = parse_space(space)?;
        let name = parse_segment("function name", name)?;
        check_invoke(&request)?;
        let function = self.loaded_function(functions, &space, &name, request.version).await?;
        let created_at = self.now();
        let id = uuid::Uuid::now_v7().to_string();
        let content_type = request.content_type.clone().unwrap_or_else(|| "application/json".to_owned());
        let input_size = request.input.len() as u64;
        let context = record_context(&request);
        let invocation = Invocation {
            input: Payload { content_type: content_type.clone(), body: request.input },
            context: InvocationContext {
                space: space.to_string(),
                function: name.to_string(),
                version: function.version,
                invocation_id: id.clone(),
                attempt: request.attempt.max(1),
                idempotency_key: request.idempotency_key.clone(),
                trace_id: request.trace_id.unwrap_or_else(|| id.clone()),
                machine: request.machine,
            },
            limits: self.limits_in(space.as_str(), function.limits),
            capabilities: function.capabilities.clone(),
        };
        let mut record = InvocationRecord {
            id,
            space,
            function: name,
            version: function.version,
            status: InvocationStatus::Pending,
            is_async: false,
            attempt: request.attempt.max(1),
            idempotency_key: request.idempotency_key,
            context,
            input: None,
            input_content_type: content_type,
            input_size,
            output: None,
            output_content_type: String::new(),
            output_size: 0,
            error: None,
            logs: Value::Null,
            created_at,
            finished_at: None,
            duration_us: None,
            seq: 0,
        };
        // The invocation and its record run in a task of their own: a caller that goes away
        // mid-invocation does not stop the guest half-way, and its record is still kept.
        let (functions, clock) = (functions.clone(), self.config.clock.clone());
        let task = self.supervisor.spawn_work("invocation", async move {
            let outcome = functions.runtime.invoke(function.loaded.clone(), invocation, functions.host.clone()).await;
            if let Ok(engine) = functions.host.engine() {
                engine.meter_invocation(record.space.as_str(), outcome.duration);
            }
            let output = finish_record(&mut record, outcome, clock.now(), false);
            // Backpressure: when the recorder is behind, invocations wait for it rather than
            // piling records up in memory.
            if functions.recorder.send(record.clone()).await.is_err() {
                tracing::warn!("the invocation recorder has stopped; a record was not kept");
            }
            (record, output)
        });
        task.map_err(|_| EngineError::ShuttingDown)?
            .await
            .map_err(|e| EngineError::Store(StoreError::Backend(format!("the invocation task failed: {e}"))))
    }

    /// Accepts an asynchronous invocation: durable once this returns, run as a job of the work
    /// table (its id the invocation's). A repeat with the same idempotency key returns the
    /// original (`true`).
    pub async fn invoke_function_async(
        self: &Arc<Self>,
        space: &str,
        name: &str,
        request: InvokeRequest,
    ) -> Result<(InvocationRecord, bool), EngineError> {
        let functions = self.functions()?;
        let space = parse_space(space)?;
        let name = parse_segment("function name", name)?;
        check_invoke(&request)?;
        let function = self.loaded_function(functions, &space, &name, request.version).await?;
        let now = self.now();
        let id = uuid::Uuid::now_v7().to_string();
        let mut context = record_context(&request);
        if let Value::Object(map) = &mut context {
            map.insert("trace_id".into(), Value::String(request.trace_id.clone().unwrap_or_else(|| id.clone())));
        }
        let record = InvocationRecord {
            id,
            space,
            function: name,
            version: function.version,
            status: InvocationStatus::Pending,
            is_async: true,
            attempt: 0,
            idempotency_key: request.idempotency_key,
            context,
            input_content_type: request.content_type.unwrap_or_else(|| "application/json".to_owned()),
            input_size: request.input.len() as u64,
            input: Some(request.input),
            output: None,
            output_content_type: String::new(),
            output_size: 0,
            error: None,
            logs: Value::Array(Vec::new()),
            created_at: now,
            finished_at: None,
            duration_us: None,
            seq: 0,
        };
        let retry = function.retry.clone().unwrap_or_default();
        let InvocationEnqueued { record, replayed } = self.execute(EnqueueInvocation { record, retry }).await?;
        if !replayed {
            self.wake_scheduler();
        }
        Ok((record, replayed))
    }

    /// Runs one attempt of an asynchronous invocation whose job this node holds: the job's
    /// outcome, and the record as the attempt left it (`None` when there is nothing to report).
    pub(crate) async fn invocation_attempt(
        &self,
        job: &JobRecord,
    ) -> (Result<Option<Value>, crate::jobs::Failure>, Option<InvocationRecord>) {
        use crate::jobs::Failure;
        let functions = match self.functions() {
            Ok(functions) => functions.clone(),
            Err(e) => return (Err(Failure::new("functions_disabled", e.to_string())), None),
        };
        let mut record = match self.store.get_invocation(&job.space, &job.id).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                let message = format!("invocation \"{}\" is not stored (purged, or its space deleted)", job.id);
                return (Err(Failure::permanent("invocation_not_found", message)), None);
            }
            Err(e) => return (Err(Failure::engine(e.into())), None),
        };
        if record.status != InvocationStatus::Pending {
            // Already ended (a job re-driven by hand after its record was settled): nothing runs twice.
            return (Ok(None), None);
        }
        let function =
            match self.loaded_function(&functions, &record.space, &record.function, Some(record.version)).await {
                Ok(function) => function,
                Err(e @ (EngineError::FunctionNotFound(_) | EngineError::InvalidComponent { .. })) => {
                    let code = ErrorCode::FunctionNotFound.as_str();
                    let outcome = Outcome::failed(InvocationError::runtime(code, e.to_string(), false));
                    finish_record(&mut record, outcome, self.now(), true);
                    return (Err(Failure::permanent(code, e.to_string())), Some(record));
                }
                // Likely passing (the store): the attempt fails and the policy retries it.
                Err(e) => return (Err(Failure::engine(e)), None),
            };
        let context = &record.context;
        let text = |key: &str| context.get(key).and_then(Value::as_str).map(str::to_owned);
        let machine = context.get("machine").and_then(|m| {
            Some(MachineContext {
                instance: m.get("instance")?.as_str()?.to_owned(),
                state: m.get("state")?.as_str()?.to_owned(),
                event: m.get("event")?.as_str()?.to_owned(),
            })
        });
        let invocation = Invocation {
            input: Payload {
                content_type: record.input_content_type.clone(),
                body: record.input.take().unwrap_or_default(),
            },
            context: InvocationContext {
                space: record.space.to_string(),
                function: record.function.to_string(),
                version: record.version,
                invocation_id: record.id.clone(),
                attempt: job.attempt,
                idempotency_key: record.idempotency_key.clone(),
                trace_id: text("trace_id").unwrap_or_else(|| record.id.clone()),
                machine,
            },
            limits: self.limits_in(record.space.as_str(), function.limits),
            capabilities: function.capabilities.clone(),
        };
        let outcome = functions.runtime.invoke(function.loaded.clone(), invocation, functions.host.clone()).await;
        self.meter_invocation(record.space.as_str(), outcome.duration);
        let error = outcome.result.as_ref().err().cloned();
        finish_record(&mut record, outcome, self.now(), true);
        let result = match error {
            None => Ok(None),
            Some(error) => Err(if error.retryable {
                Failure::new(&error.code, error.message)
            } else {
                Failure::permanent(&error.code, error.message)
            }),
        };
        (result, Some(record))
    }

    /// An invocation record.
    pub async fn get_invocation(&self, space: &str, id: &str) -> Result<InvocationRecord, EngineError> {
        let space = parse_space(space)?;
        if id.is_empty() || id.len() > 64 {
            return Err(EngineError::InvocationNotFound(id.to_owned()));
        }
        self.store.get_invocation(&space, id).await?.ok_or_else(|| EngineError::InvocationNotFound(id.to_owned()))
    }

    /// A page of invocation records of a space or one of its functions, oldest first (the
    /// newest `limit` without `after`).
    pub async fn list_invocations(
        &self,
        space: &str,
        function: Option<&str>,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<InvocationRecord>, EngineError> {
        let space = parse_space(space)?;
        let function = function.map(|f| parse_segment("function name", f)).transpose()?;
        let query = ListInvocations { space, function, after, limit: limit.clamp(1, 1000) };
        Ok(self.store.list_invocations(&query).await?)
    }

    /// Forgets finished invocation records past retention; returns how many.
    pub async fn purge_invocations(&self) -> Result<u64, EngineError> {
        let Some(functions) = self.functions.get() else { return Ok(0) };
        let before = Timestamp(
            self.now()
                .as_millis()
                .saturating_sub(i64::try_from(functions.config.retention.as_millis()).unwrap_or(i64::MAX)),
        );
        self.sweep(10_000, |limit| PurgeInvocations { before, limit }).await
    }

    /// The loaded function for a version (the latest when `None`), from the cache or the store.
    async fn loaded_function(
        &self,
        functions: &Functions,
        space: &SpaceName,
        name: &Segment,
        version: Option<u64>,
    ) -> Result<Arc<CachedFunction>, EngineError> {
        let key = (space.clone(), name.clone(), version);
        if let Some(cached) = functions.latest.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(cached.clone());
        }
        let generation = functions.generation.load(std::sync::atomic::Ordering::Acquire);
        let record =
            self.store.get_function(space, name, version).await?.ok_or_else(|| not_found(space, name, version))?;
        let view = FunctionView::from_summary(record.summary)?;
        let custom = if view.settings.names_custom_roles() { self.store.list_roles().await? } else { Vec::new() };
        let loaded =
            functions.runtime.load(&view.summary.digest, Arc::new(record.component)).await.map_err(component_error)?;
        let cached = Arc::new(CachedFunction {
            version: view.summary.version,
            loaded,
            limits: view.settings.limits(),
            capabilities: Arc::new(view.settings.capabilities(space, &custom)),
            retry: view.settings.retry.clone(),
        });
        let mut latest = functions.latest.write().unwrap_or_else(|e| e.into_inner());
        // A deploy since the store read may have made what was read stale; so may a deletion of
        // the space, even for a version named explicitly.
        if functions.generation.load(std::sync::atomic::Ordering::Acquire) == generation {
            latest.insert(key, cached.clone());
        }
        Ok(cached)
    }
}

impl Functions {
    fn forget(&self, space: &SpaceName, name: &Segment) {
        let mut latest = self.latest.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        latest.remove(&(space.clone(), name.clone(), None));
    }

    /// Forgets every loaded function of a deleted space, versions named explicitly included (a
    /// space created again may deploy other components under the same names and versions).
    pub(crate) fn forget_space(&self, space: &SpaceName) {
        let mut latest = self.latest.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        latest.retain(|(cached, _, _), _| cached != space);
    }

    pub(crate) fn forget_all(&self) {
        let mut latest = self.latest.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        latest.clear();
    }
}

fn not_found(space: &SpaceName, name: &Segment, version: Option<u64>) -> EngineError {
    match version {
        Some(v) => EngineError::FunctionNotFound(format!("{space}:{name}:{v}")),
        None => EngineError::FunctionNotFound(format!("{space}:{name}")),
    }
}

fn check_invoke(request: &InvokeRequest) -> Result<(), EngineError> {
    check_key(&request.idempotency_key)?;
    if request.input.len() > MAX_INPUT_BYTES {
        return Err(EngineError::validation(format!("an input is at most {} MiB", MAX_INPUT_BYTES >> 20)));
    }
    if let Some(trace) = &request.trace_id
        && (trace.is_empty() || trace.len() > 128 || trace.chars().any(char::is_control))
    {
        return Err(EngineError::validation("trace id must be 1-128 printable characters"));
    }
    Ok(())
}

/// What an invocation record keeps of the request's context.
fn record_context(request: &InvokeRequest) -> Value {
    let mut context = serde_json::Map::new();
    if let Some(trace) = &request.trace_id {
        context.insert("trace_id".into(), Value::String(trace.clone()));
    }
    if let Some(m) = &request.machine {
        context.insert("machine".into(), json!({ "instance": m.instance, "state": m.state, "event": m.event }));
    }
    Value::Object(context)
}

/// Fills the record from the outcome, finished at `now`; returns the output for the caller.
fn finish_record(
    record: &mut InvocationRecord,
    outcome: Outcome,
    now: Timestamp,
    keep_output: bool,
) -> Option<Payload> {
    record.finished_at = Some(now);
    record.duration_us = Some(micros(outcome.duration));
    record.logs = logs_json(&outcome.logs, outcome.logs_dropped);
    match outcome.result {
        Ok(payload) => {
            record.status = InvocationStatus::Succeeded;
            record.output_size = payload.body.len() as u64;
            record.output_content_type = payload.content_type.clone();
            if keep_output && payload.body.len() <= MAX_STORED_OUTPUT_BYTES {
                record.output = Some(payload.body.clone());
            }
            Some(payload)
        }
        Err(error) => {
            record.status = InvocationStatus::Failed;
            record.error = Some(error_json(&error));
            None
        }
    }
}

/// Writes the records of synchronous invocations in batches until every sender is gone, or,
/// once shutdown began, until no invocation is left that could send one: then it writes what
/// is queued and stops.
async fn record_invocations(
    store: Arc<dyn Store>,
    records: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<InvocationRecord>>>,
    supervisor: Supervisor,
) -> TaskResult {
    let mut records = records.lock().await;
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    let write = async |batch: &mut Vec<InvocationRecord>| {
        let chunk = std::mem::replace(batch, Vec::with_capacity(RECORD_BATCH));
        let count = chunk.len();
        if let Err(e) = store.execute(RecordInvocations { records: chunk }).await {
            tracing::warn!(error = %e, records = count, "invocation records could not be written");
        }
    };
    loop {
        tokio::select! {
            received = records.recv_many(&mut batch, RECORD_BATCH) => {
                if received == 0 {
                    return Ok(());
                }
                write(&mut batch).await;
            }
            _ = supervisor.work_finished() => {
                records.close();
                while records.recv_many(&mut batch, RECORD_BATCH).await > 0 {
                    write(&mut batch).await;
                }
                return Ok(());
            }
        }
    }
}

/// Drops cached functions when any node deploys a new version of them. A `restarted` run
/// subscribed afresh and may have missed deploys, as after a lag.
async fn forget_redeployed(
    engine: Weak<Engine>,
    mut records: tokio::sync::broadcast::Receiver<Arc<crate::WatchedRecord>>,
    restarted: bool,
    cancel: CancellationToken,
) -> TaskResult {
    use tokio::sync::broadcast::error::RecvError;
    if restarted
        && let Some(engine) = engine.upgrade()
        && let Some(functions) = engine.functions.get()
    {
        functions.forget_all();
    }
    loop {
        let record = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            record = records.recv() => record,
        };
        let Some(engine) = engine.upgrade() else { return Ok(()) };
        let Some(functions) = engine.functions.get() else { return Ok(()) };
        match record {
            Ok(record) if record.kind == FUNCTION_DEPLOYED => {
                let name = record.address.rsplit(':').next().and_then(|n| n.parse::<Segment>().ok());
                match name {
                    Some(name) => functions.forget(&record.space, &name),
                    None => functions.forget_all(),
                }
            }
            // A custom role a function is granted changed: its loaded grants may be stale.
            Ok(record) if record.kind == kinds::AUDIT_ROLE_PUT || record.kind == kinds::AUDIT_ROLE_DELETED => {
                functions.forget_all()
            }
            Ok(_) => {}
            // Missed records may have included deploys.
            Err(RecvError::Lagged(_)) => functions.forget_all(),
            Err(RecvError::Closed) => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_store_abandons_invocations_with_the_runtimes_code() {
        assert_eq!(switchyard_model::INVOCATION_ABANDONED, switchyard_runtime::codes::ABANDONED);
    }

    use super::*;

    #[test]
    fn allowed_hosts_are_host_names_or_addresses_with_an_optional_port() {
        let long_label = "a".repeat(63);
        let longest = [&*long_label, &*long_label, &*long_label, &"b".repeat(61)].join(".");
        assert_eq!(longest.len(), 253);
        for good in [
            "example.com",
            "api.example.com:443",
            "localhost",
            "a",
            "x-1.example",
            "10.0.0.1",
            "93.184.216.34:8080",
            "host:1",
            "host:65535",
            &longest,
        ] {
            assert!(check_host(good).is_ok(), "{good} is a valid entry");
        }
        let too_long_label = format!("{}.com", "a".repeat(64));
        let too_long = format!("{longest}a");
        let name_129 = "a".repeat(129);
        for bad in [
            "",
            "..",
            ".a",
            "a.",
            "a..b",
            "-a",
            "a-",
            "a.-b.com",
            "b-.com",
            &too_long_label,
            &too_long,
            &name_129,
            "host:0",
            "host:65536",
            "host:+80",
            "host:",
            ":80",
            "host:80:80",
            "::1",
            "[::1]:80",
            "*.example.com",
            "http://example.com",
            "example.com/path",
            "exa mple.com",
            "ex_ample.com",
            "127.1",
            "1.2.3",
            "256.1.1.1",
            "0x7f.0.0.1.5",
        ] {
            let error = check_host(bad).expect_err(bad);
            assert_eq!(error.code(), "validation_failed");
            assert!(error.to_string().contains(&format!("{bad:?}")), "the error names the entry: {error}");
        }
    }

    #[test]
    fn a_memory_limit_above_the_budget_is_refused_naming_both() {
        let settings = FunctionSettings { memory_bytes: Some(512 << 20), ..FunctionSettings::default() };
        let error = settings.clone().resolve(1 << 30, 256 << 20).expect_err("over the budget");
        let text = error.to_string();
        assert!(text.contains(&(512u64 << 20).to_string()) && text.contains(&(256u64 << 20).to_string()), "{text}");
        assert!(settings.resolve(1 << 30, 512 << 20).is_ok());
    }
}
