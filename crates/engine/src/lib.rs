//! Switchyard's engine: what the API asks for, checked and turned into store operations.
//!
//! The engine validates input (names, JSON shapes, definitions), assigns ids, computes the
//! fingerprint that ties an idempotency key to its request, authenticates tokens and decides
//! what a principal may do, and runs background maintenance (idempotency retention). It does no
//! I/O of its own besides the store and the admin token file.
//!
//! Invariants:
//! - Every mutation goes through [`Store::write`] or [`Store::write_atomic`], so the store's
//!   atomicity and ordering guarantees hold for everything the engine does.
//! - Every task the engine starts is owned by its [`Supervisor`]: long-lived tasks by name,
//!   per-request work in its in-flight tracker; none is spawned bare.
//! - The engine reads the time only from its clock ([`EngineConfig::clock`]), once per request
//!   or operation, so one operation sees one `now` and tests can move time.

pub mod access;
pub mod auth;
pub mod config;
pub mod endpoints;
pub mod env;
mod error;
pub mod flows;
pub mod functions;
pub mod jobs;
pub mod kv;
pub mod orgs;
pub mod quotas;
pub mod subscriptions;
pub mod supervisor;
pub mod triggers;
pub mod watch;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_model::{
    CompiledMachine, DefinitionFormat, Idempotency, InstanceKey, InstanceRecord, JobRecord, JsonObject, LogRecord,
    MachineRecord, MachineSummary, MachineVersion, NodeRecord, Revision, Role, Segment, Seq, SpaceDeletion, SpaceGrant,
    SpaceName, Timestamp, TokenRecord, TransitionApplied, kinds, parse_definition,
};
use switchyard_store::*;

pub use access::{NewPrincipal, Principal, PrincipalView, RoleView, SignedIn};
pub use endpoints::{EndpointHealth, EndpointView};
pub use env::{EnvValue, SecretInfo};
pub use error::{EngineError, ErrorCode};
pub use flows::{BulkOutcome, FlowRecord, RunFilter, RunPage, RunStatus};
pub use functions::{FunctionSettings, FunctionView, FunctionsConfig, InvokeRequest};
pub use jobs::{EnqueueJob, JOB_KINDS, JobMetrics, JobsConfig, LAG_BUCKETS_MS};
pub use kv::{KeyPage, KvPutRequest, check_kv_key};
pub use quotas::{NodeSpaceMeters, SpaceUsage};
pub use subscriptions::{Settled, SubscribeFrom, SubscriptionSettings, SubscriptionStatus};
pub use supervisor::{FailedTask, Policy, ShutdownReport, Supervisor};
pub use switchyard_model::{AddressFilter, LogFilter};
pub use triggers::{TriggerHealth, TriggerView, WebhookAccepted, WebhookRequest};
pub use watch::{LogTail, WatchFilter, WatchFrom, WatchedRecord, parse_address_pattern};

/// How often a node renews its heartbeat.
pub const NODE_HEARTBEAT: Duration = Duration::from_secs(2);

/// A node whose last heartbeat is older than this is not listed as live.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(10);

/// The engine's settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long an idempotency key is remembered.
    pub idempotency_retention: Duration,
    /// Log records older than this are trimmed (unless a subscription still needs them).
    pub log_retention_age: Duration,
    /// The oldest log records are trimmed while the log holds more bytes than this.
    pub log_retention_bytes: Option<u64>,
    /// The largest context an instance may have, in bytes of compact JSON.
    pub max_context_bytes: usize,
    /// Where the engine reads the time.
    pub clock: SharedClock,
    /// How long a sign-in session lasts.
    pub session_ttl: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            idempotency_retention: Duration::from_secs(24 * 3600),
            log_retention_age: Duration::from_secs(7 * 24 * 3600),
            log_retention_bytes: Some(1 << 30),
            max_context_bytes: switchyard_model::json::DEFAULT_MAX_CONTEXT_BYTES,
            clock: SystemClock::shared(),
            session_ttl: access::DEFAULT_SESSION_TTL,
        }
    }
}

/// A request to create an instance.
#[derive(Debug, Clone, Default)]
pub struct CreateInstance {
    /// The id; generated (UUIDv7) when absent.
    pub id: Option<String>,
    /// The initial context; `{}` when absent; must be an object.
    pub ctx: Option<Value>,
    /// Makes a retry return the original instance.
    pub idempotency_key: Option<String>,
}

/// A request to apply an event.
#[derive(Debug, Clone, Default)]
pub struct SendEvent {
    /// The event's name.
    pub event: String,
    /// Its payload; `{}` when absent; must be an object.
    pub payload: Option<Value>,
    /// Makes a retry return the original result.
    pub idempotency_key: Option<String>,
    /// Refuse unless the instance is in this state.
    pub expected_state: Option<String>,
    /// Refuse unless the instance is at this revision.
    pub expected_revision: Option<u64>,
}

/// One operation of an atomic batch.
#[derive(Debug, Clone)]
pub enum BatchOp {
    /// Create an instance.
    CreateInstance {
        /// The space.
        space: String,
        /// The machine.
        machine: String,
        /// The request.
        request: CreateInstance,
    },
    /// Apply an event.
    ApplyEvent {
        /// The space.
        space: String,
        /// The machine.
        machine: String,
        /// The instance.
        instance: String,
        /// The request.
        request: SendEvent,
    },
    /// Delete an instance.
    DeleteInstance {
        /// The space.
        space: String,
        /// The machine.
        machine: String,
        /// The instance.
        instance: String,
    },
}

impl BatchOp {
    /// The permission the operation needs and the address it acts on: what its route needs
    /// (`space:machines:machine[:instance]`; creating an instance acts on its machine's
    /// address, as `POST …/instances` does).
    pub fn access(&self) -> (switchyard_model::Permission, Vec<&str>) {
        use switchyard_model::permissions::{EVENTS_SEND, INSTANCES_WRITE};
        match self {
            BatchOp::CreateInstance { space, machine, .. } => (INSTANCES_WRITE, vec![space, "machines", machine]),
            BatchOp::ApplyEvent { space, machine, instance, .. } => {
                (EVENTS_SEND, vec![space, "machines", machine, instance])
            }
            BatchOp::DeleteInstance { space, machine, instance } => {
                (INSTANCES_WRITE, vec![space, "machines", machine, instance])
            }
        }
    }

    /// The space the operation writes to.
    pub fn space(&self) -> &str {
        match self {
            BatchOp::CreateInstance { space, .. }
            | BatchOp::ApplyEvent { space, .. }
            | BatchOp::DeleteInstance { space, .. } => space,
        }
    }
}

/// What a batch operation did.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchResult {
    /// The created instance.
    Created(Box<InstanceRecord>),
    /// The applied transition.
    Applied(TransitionApplied),
    /// The instance was deleted.
    Deleted,
}

/// The work of an instance's current state (see [`Engine::instance_work`]).
#[derive(Debug, Clone, Default)]
pub struct InstanceWork {
    /// Its jobs: the action and timers.
    pub jobs: Vec<JobRecord>,
    /// The child instance its state waits for.
    pub child: Option<InstanceRecord>,
}

/// A page of instances.
#[derive(Debug, Clone)]
pub struct InstancePage {
    /// The instances.
    pub instances: Vec<InstanceRecord>,
    /// Pass as `cursor` for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// A page of log records.
#[derive(Debug, Clone)]
pub struct LogPage {
    /// The records.
    pub records: Vec<LogRecord>,
    /// Pass as `after` for the next page; `None` at the end.
    pub next_cursor: Option<Seq>,
}

/// Parses a space name, as a validation error naming `what` when it breaks the rules.
pub fn parse_space(s: &str) -> Result<SpaceName, EngineError> {
    s.parse().map_err(|e| EngineError::validation(format!("space: {e}")))
}

/// Parses a machine name or instance id (`what` names it in the error).
pub fn parse_segment(what: &str, s: &str) -> Result<Segment, EngineError> {
    s.parse().map_err(|e| EngineError::validation(format!("{what}: {e}")))
}

/// Refuses a value from outside nested deeper than the JSON policy allows. The HTTP layer
/// refuses such text before parsing it; this covers every other way in (functions, batches).
pub(crate) fn check_depth(what: &str, value: &Value) -> Result<(), EngineError> {
    switchyard_model::json::check_depth(value)
        .map_err(|source| EngineError::JsonLimit { what: what.to_owned(), source })
}

fn into_object(what: &str, v: Option<Value>) -> Result<JsonObject, EngineError> {
    if let Some(v) = &v {
        check_depth(what, v)?;
    }
    match v {
        None | Some(Value::Null) => Ok(JsonObject::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(EngineError::validation(format!("{what} must be a JSON object, not {}", json_kind(&other)))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Digest of the parts of a request an idempotency key stands for.
fn fingerprint(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

pub(crate) fn check_key(key: &Option<String>) -> Result<(), EngineError> {
    match key {
        Some(k) if k.is_empty() || k.len() > 255 => {
            Err(EngineError::validation("idempotency_key must be 1-255 characters"))
        }
        // Control characters (NUL above all) cannot be stored as text by every backend.
        Some(k) if k.chars().any(char::is_control) => {
            Err(EngineError::validation("idempotency_key must not contain control characters"))
        }
        _ => Ok(()),
    }
}

tokio::task_local! {
    /// Set when a write made by the task inside [`noting_space_creation`] created its space.
    static SPACE_CREATED: std::cell::Cell<bool>;
}

/// Runs `work` and says whether a write it made through the engine created a space (the space
/// had nothing in it, or was deleted, and now exists). The HTTP layer wraps every request in
/// this to tell the caller, so a mistyped space is seen the moment it appears. Only writes made
/// by `work` itself count, not those of tasks it spawns.
pub async fn noting_space_creation<F: std::future::Future>(work: F) -> (F::Output, bool) {
    SPACE_CREATED
        .scope(std::cell::Cell::new(false), async move {
            let output = work.await;
            (output, SPACE_CREATED.with(std::cell::Cell::get))
        })
        .await
}

/// The engine. Cheap to share behind an `Arc`.
pub struct Engine {
    store: Arc<dyn Store>,
    config: EngineConfig,
    tokens: auth::TokenCache,
    /// Password hashes computed at once ([`access::MAX_CONCURRENT_HASHES`]).
    password_hashes: tokio::sync::Semaphore,
    /// Failed sign-ins of names that are no user's, on this node.
    unknown_names: access::UnknownNames,
    tail: std::sync::OnceLock<Arc<LogTail>>,
    functions: std::sync::OnceLock<Arc<functions::Functions>>,
    /// Retention passes (idempotency, invocations, log) completed by [`Engine::spawn_maintenance`].
    maintenance_passes: std::sync::atomic::AtomicU64,
    /// Owns every task the engine starts.
    supervisor: Supervisor,
    /// The job scheduler, once started ([`Engine::start_jobs`]).
    jobs: std::sync::OnceLock<Arc<jobs::Scheduler>>,
    /// What the job scheduler has done.
    job_metrics: jobs::JobMetrics,
    /// Compiled triggers, webhook refusals and rate limits of this node.
    triggers: triggers::TriggerState,
    /// Compiled endpoints and their breakers on this node.
    endpoints: endpoints::EndpointState,
    /// Quotas, their rate buckets, and the meters of this node.
    quotas: quotas::QuotaState,
}

impl Engine {
    /// An engine over `store`, with a supervisor of its own.
    pub fn new(store: Arc<dyn Store>, config: EngineConfig) -> Engine {
        Engine::with_supervisor(store, config, Supervisor::new())
    }

    /// An engine over `store` whose tasks `supervisor` owns.
    pub fn with_supervisor(store: Arc<dyn Store>, config: EngineConfig, supervisor: Supervisor) -> Engine {
        Engine {
            store,
            config,
            tokens: auth::TokenCache::default(),
            password_hashes: tokio::sync::Semaphore::new(access::MAX_CONCURRENT_HASHES),
            unknown_names: access::UnknownNames::default(),
            tail: std::sync::OnceLock::new(),
            functions: std::sync::OnceLock::new(),
            maintenance_passes: std::sync::atomic::AtomicU64::new(0),
            jobs: std::sync::OnceLock::new(),
            job_metrics: jobs::JobMetrics::default(),
            triggers: triggers::TriggerState::default(),
            endpoints: endpoints::EndpointState::default(),
            quotas: quotas::QuotaState::default(),
            supervisor,
        }
    }

    /// The supervisor that owns the engine's tasks; `serve` shuts it down before closing the store.
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// The current time by the engine's clock; read once per request or operation.
    pub fn now(&self) -> Timestamp {
        self.config.clock.now()
    }

    /// Starts tailing the log for watchers: `buffer` records are kept in memory for watchers
    /// that fall behind; writes through other nodes are picked up every `poll_every`.
    pub async fn start_log_tail(self: &Arc<Self>, buffer: usize, poll_every: Duration) -> Result<(), EngineError> {
        let tail = LogTail::start(self.store.clone(), buffer, poll_every, &self.supervisor).await?;
        // Subscribed now, not when the task first runs, so nothing committed from here on is
        // missed; a restart subscribes afresh.
        let (engine, records, mut first) = (Arc::downgrade(self), tail.clone(), Some(tail.subscribe_cache_kinds()));
        self.supervisor.spawn_named("forget-deleted-spaces", Policy::Restart, move |cancel| {
            let restarted = first.is_none();
            let receiver = first.take().unwrap_or_else(|| records.subscribe_cache_kinds());
            forget_deleted_spaces(engine.clone(), receiver, restarted, cancel)
        });
        let _ = self.tail.set(tail);
        Ok(())
    }

    /// Applies one write and, unless it appended nothing to the log, wakes the log tail, so
    /// watchers see it at once. A write that created its space is noted for
    /// [`noting_space_creation`].
    pub(crate) async fn write(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        let outcome = self.store.write(op).await?;
        if let Some(tail) = self.tail.get()
            && may_append_to_log(&outcome)
        {
            tail.wake();
        }
        if outcome.space_created() {
            // Outside `noting_space_creation` (a function's host call, maintenance) nobody asked.
            let _ = SPACE_CREATED.try_with(|created| created.set(true));
        }
        Ok(outcome)
    }

    /// Applies one op as [`Engine::write`] does, answering with the op's typed result.
    pub(crate) async fn execute<R: Request>(&self, request: R) -> Result<R::Output, StoreError> {
        R::output(self.write(request.into()).await?)
    }

    /// Applies every write or none, and wakes the log tail.
    async fn write_atomic(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>, StoreError> {
        let outcomes = self.store.write_atomic(ops).await?;
        if let Some(tail) = self.tail.get() {
            tail.wake();
        }
        Ok(outcomes)
    }

    /// Publishes a message to a topic; `true` with its seq when an idempotency key returned the
    /// original.
    pub async fn publish(
        &self,
        space: &str,
        topic: &str,
        payload: Value,
        key: Option<String>,
        headers: std::collections::BTreeMap<String, String>,
        idempotency_key: Option<String>,
    ) -> Result<(Seq, bool), EngineError> {
        let space = parse_space(space)?;
        let topic = parse_segment("topic", topic)?;
        check_depth("payload", &payload)?;
        check_key(&idempotency_key)?;
        let idempotency = idempotency_key.map(|k| {
            let body = serde_json::to_vec(&(&payload, &key, &headers)).unwrap_or_default();
            Idempotency { key: k, fingerprint: fingerprint(&[b"publish", topic.as_ref().as_bytes(), &body]) }
        });
        let published = self.execute(Publish { space, topic, payload, key, headers, idempotency }).await?;
        Ok((published.seq, published.replayed))
    }

    /// Streams the log records `filter` passes, from `from`; `capacity` records may wait for a
    /// slow reader before the watcher pauses (and later catches up from the store).
    pub async fn watch(
        &self,
        filter: WatchFilter,
        from: WatchFrom,
        capacity: usize,
    ) -> Result<tokio::sync::mpsc::Receiver<Result<Arc<WatchedRecord>, EngineError>>, EngineError> {
        let tail =
            self.tail.get().cloned().ok_or_else(|| EngineError::bad_request("watching is not enabled on this node"))?;
        watch::watch(tail, filter, from, capacity, &self.supervisor).await
    }

    /// Times a watcher on this node fell behind the live stream and caught up from the store (0
    /// when watching is not enabled).
    pub fn watch_catch_ups(&self) -> u64 {
        self.tail.get().map_or(0, |tail| tail.catch_ups())
    }

    /// The last seq this node's log tail handed to watchers (`None` when watching is not enabled).
    pub fn tailed_seq(&self) -> Option<Seq> {
        self.tail.get().map(|tail| tail.last_seq())
    }

    /// Retention passes completed since start: a pass that begins after this count was read
    /// sees every record that was past retention when it was read.
    pub fn maintenance_passes(&self) -> u64 {
        self.maintenance_passes.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Stores a definition: a new version when it differs from the latest, else the latest.
    pub async fn put_machine(
        &self,
        space: &str,
        name: &str,
        body: &[u8],
        format: DefinitionFormat,
    ) -> Result<(MachineVersion, bool), EngineError> {
        let (space, name, compiled) = self.compile_machine_put(space, name, body, format).await?;
        self.store_compiled_machine(space, name, &compiled).await
    }

    /// Checks a machine definition as [`Engine::put_machine`] would, without storing it: its
    /// canonical form and the current version's, if any.
    pub async fn preview_machine(
        &self,
        space: &str,
        name: &str,
        body: &[u8],
        format: DefinitionFormat,
    ) -> Result<config::Preview, EngineError> {
        let (space, name, compiled) = self.compile_machine_put(space, name, body, format).await?;
        check_own_space(&space, &compiled)?;
        let current = self.store.get_machine(&space, &name, None).await?.map(|m| m.definition);
        Ok(config::Preview::of(current, compiled.canonical_json().clone()))
    }

    /// Parses and compiles a machine put as `space:name`, with every check but storing.
    async fn compile_machine_put(
        &self,
        space: &str,
        name: &str,
        body: &[u8],
        format: DefinitionFormat,
    ) -> Result<(SpaceName, Segment, CompiledMachine), EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("machine name", name)?;
        // Parsing and compiling cost CPU in proportion to the text (up to the body limit):
        // off the reactor, so that other requests on this thread are not held up.
        let body = body.to_vec();
        let compiled =
            tokio::task::spawn_blocking(move || parse_definition(&body, format).and_then(CompiledMachine::compile))
                .await
                .map_err(|e| EngineError::Store(StoreError::Internal(format!("compiling a definition: {e}"))))??;
        if let Some(inner) = compiled.name()
            && inner != name.as_ref()
        {
            return Err(EngineError::Validation {
                message: format!("name: the definition is named \"{inner}\" but is put as \"{name}\""),
                details: serde_json::json!({ "errors": [{ "path": "name", "message": format!("must be \"{name}\" or absent") }] }),
            });
        }
        if compiled.flow().is_some() {
            return Err(EngineError::Validation {
                message: "flow: only a flow's own compilation sets it; put the flow at /v1/spaces/{space}/flows/{name}"
                    .to_owned(),
                details: serde_json::json!({ "errors": [{ "path": "flow", "message": "put flows at /flows/{name}" }] }),
            });
        }
        if let Some(latest) = self.store.get_machine(&space, &name, None).await?
            && latest.definition.get("flow").is_some()
        {
            return Err(EngineError::Conflict(format!(
                "{space}:{name} is a flow; change it by putting the flow (a flow and a machine cannot share a name)"
            )));
        }
        Ok((space, name, compiled))
    }

    /// Stores a compiled machine (a machine's or a flow's) once its functions and children are
    /// known to be of its own space.
    pub(crate) async fn store_compiled_machine(
        &self,
        space: SpaceName,
        name: Segment,
        compiled: &CompiledMachine,
    ) -> Result<(MachineVersion, bool), EngineError> {
        check_own_space(&space, compiled)?;
        let put = self.execute(PutMachine { space, name, definition: compiled.canonical_json().clone() }).await?;
        Ok((put.version, put.created))
    }

    /// One version of a machine (the latest without `version`).
    pub async fn get_machine(
        &self,
        space: &str,
        name: &str,
        version: Option<u32>,
    ) -> Result<MachineRecord, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("machine name", name)?;
        let version = match version {
            Some(v) => {
                Some(MachineVersion::new(v).ok_or_else(|| EngineError::validation("version must be 1 or more"))?)
            }
            None => None,
        };
        self.store.get_machine(&space, &name, version).await?.ok_or_else(|| {
            EngineError::Store(StoreError::MachineNotFound {
                space: space.to_string(),
                name: name.to_string(),
                version,
            })
        })
    }

    /// The latest version of each machine in a space.
    pub async fn list_machines(&self, space: &str) -> Result<Vec<MachineSummary>, EngineError> {
        Ok(self.store.list_machines(&parse_space(space)?).await?)
    }

    fn create_op(
        &self,
        space: &str,
        machine: &str,
        req: CreateInstance,
    ) -> Result<switchyard_store::CreateInstance, EngineError> {
        let space = parse_space(space)?;
        let machine = parse_segment("machine name", machine)?;
        check_key(&req.idempotency_key)?;
        let ctx = into_object("ctx", req.ctx)?;
        let limit = self.config.max_context_bytes;
        let size = switchyard_model::json::encoded_len_up_to(&ctx, limit);
        if size > limit {
            let source = switchyard_model::json::JsonLimitError::TooLarge { size, limit };
            return Err(EngineError::JsonLimit { what: "ctx".to_owned(), source });
        }
        let idempotency = req.idempotency_key.map(|key| {
            // The generated id is not part of the fingerprint: a retry without an id must
            // find the original, not make a second instance.
            let ctx_text = serde_json::to_vec(&ctx).unwrap_or_default();
            let fp = fingerprint(&[
                b"create_instance",
                machine.as_ref().as_bytes(),
                req.id.as_deref().unwrap_or("").as_bytes(),
                &ctx_text,
            ]);
            Idempotency { key, fingerprint: fp }
        });
        let id = match req.id {
            Some(id) => parse_segment("id", &id)?,
            None => parse_segment("id", &uuid::Uuid::now_v7().to_string())?,
        };
        Ok(switchyard_store::CreateInstance { key: InstanceKey { space, machine, id }, ctx, idempotency })
    }

    /// Creates an instance; `true` with it when an idempotency key returned the original.
    pub async fn create_instance(
        &self,
        space: &str,
        machine: &str,
        req: CreateInstance,
    ) -> Result<(InstanceRecord, bool), EngineError> {
        let op = self.create_op(space, machine, req)?;
        // Whatever asks for the instance (a caller, a run, a trigger, a flow), the space's quota
        // must have room for it; a create that fails or replays gives the room back.
        let reservation = match self.reserve_instances(op.key.space.as_str(), 1).await {
            Ok(reservation) => Some(reservation),
            // At the limit, a create naming an instance that exists adds none: the store answers
            // it (the replay of its idempotency key, or `instance_exists`).
            Err(e @ EngineError::QuotaExceeded(_)) => match self.store.get_instance(&op.key).await? {
                Some(existing) if existing.deleted_at.is_none() => None,
                _ => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let created = self.execute(op).await?;
        if let Some(reservation) = reservation.filter(|_| !created.replayed) {
            reservation.keep();
        }
        if created.started_work {
            self.wake_scheduler();
        }
        Ok((created.instance, created.replayed))
    }

    /// The key of an instance, validated.
    pub fn instance_key(&self, space: &str, machine: &str, id: &str) -> Result<InstanceKey, EngineError> {
        Ok(InstanceKey {
            space: parse_space(space)?,
            machine: parse_segment("machine name", machine)?,
            id: parse_segment("id", id)?,
        })
    }

    /// An instance that is not deleted.
    pub async fn get_instance(&self, space: &str, machine: &str, id: &str) -> Result<InstanceRecord, EngineError> {
        let key = self.instance_key(space, machine, id)?;
        match self.store.get_instance(&key).await? {
            Some(i) if i.deleted_at.is_none() => Ok(i),
            Some(i) => Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: i.deleted_at }.into()),
            None => Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: None }.into()),
        }
    }

    /// A page of a machine's instances, optionally in one state.
    pub async fn list_instances(
        &self,
        space: &str,
        machine: &str,
        state: Option<String>,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<InstancePage, EngineError> {
        let limit = limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(EngineError::validation("limit must be between 1 and 1000"));
        }
        let query = ListInstances {
            state,
            after_id: cursor,
            ..ListInstances::of(parse_space(space)?, parse_segment("machine name", machine)?, limit)
        };
        let instances = self.store.list_instances(&query).await?;
        let next_cursor =
            if instances.len() == limit as usize { instances.last().map(|i| i.id.to_string()) } else { None };
        Ok(InstancePage { instances, next_cursor })
    }

    /// Cancels an instance: its pending and running work is cancelled, its status becomes
    /// `cancelled` with `reason`, and it accepts no more events.
    pub async fn cancel_instance(
        &self,
        space: &str,
        machine: &str,
        id: &str,
        reason: Option<String>,
    ) -> Result<InstanceRecord, EngineError> {
        let key = self.instance_key(space, machine, id)?;
        if let Some(reason) = &reason
            && (reason.is_empty() || reason.len() > 1024)
        {
            return Err(EngineError::validation("reason must be 1 to 1024 bytes"));
        }
        self.execute(switchyard_store::CancelInstance { key, reason }).await?;
        // A parent waiting for this instance may have moved into a state with work.
        self.wake_scheduler();
        self.get_instance(space, machine, id).await
    }

    /// Moves an instance to `version` of its machine, when its current state exists there.
    pub async fn migrate_instance(
        &self,
        space: &str,
        machine: &str,
        id: &str,
        version: u32,
    ) -> Result<InstanceRecord, EngineError> {
        let key = self.instance_key(space, machine, id)?;
        let version =
            MachineVersion::new(version).ok_or_else(|| EngineError::validation("version must be 1 or more"))?;
        self.execute(switchyard_store::MigrateInstance { key, version }).await?;
        self.get_instance(space, machine, id).await
    }

    /// The work of an instance's current state as it stands now: its jobs (action, timers)
    /// and the child instance it waits for.
    pub async fn instance_work(&self, instance: &InstanceRecord) -> Result<InstanceWork, EngineError> {
        let mut work = InstanceWork { jobs: Vec::with_capacity(instance.work.len()), child: None };
        for entry in &instance.work {
            // A fan-out's children that ended or wait their turn: nothing running to show.
            if ["ok:", "failed:", "queued:"].iter().any(|prefix| entry.starts_with(prefix)) {
                continue;
            }
            if let Some(child) = switchyard_model::child_in_work(entry) {
                // Shown beside the parent only: a child that cannot be read (its ctx damaged) is
                // left out rather than failing the parent's read; reading it says why.
                if let Some(key) = InstanceKey::from_address(child) {
                    work.child = self.store.get_instance(&key).await.ok().flatten();
                }
            } else if let Some(job) = self.store.get_job(&instance.space, entry).await? {
                work.jobs.push(job);
            }
        }
        Ok(work)
    }

    /// Soft-deletes an instance.
    pub async fn delete_instance(&self, space: &str, machine: &str, id: &str) -> Result<(), EngineError> {
        let key = self.instance_key(space, machine, id)?;
        self.execute(DeleteInstance { key }).await?;
        // A parent waiting for this instance may have moved into a state with work.
        self.wake_scheduler();
        Ok(())
    }

    fn event_op(&self, space: &str, machine: &str, id: &str, req: SendEvent) -> Result<ApplyEvent, EngineError> {
        let key = self.instance_key(space, machine, id)?;
        if req.event.is_empty() {
            return Err(EngineError::validation("event must not be empty"));
        }
        check_key(&req.idempotency_key)?;
        let payload = into_object("payload", req.payload)?;
        let expected_revision = match req.expected_revision {
            Some(r) => {
                Some(Revision::new(r).ok_or_else(|| EngineError::validation("expected_revision must be 1 or more"))?)
            }
            None => None,
        };
        let idempotency = req.idempotency_key.map(|k| {
            let payload_text = serde_json::to_vec(&payload).unwrap_or_default();
            let revision = expected_revision.map(|r| r.get().to_string()).unwrap_or_default();
            let fp = fingerprint(&[
                b"apply_event",
                key.machine.as_ref().as_bytes(),
                key.id.as_ref().as_bytes(),
                req.event.as_bytes(),
                &payload_text,
                req.expected_state.as_deref().unwrap_or("").as_bytes(),
                revision.as_bytes(),
            ]);
            Idempotency { key: k, fingerprint: fp }
        });
        Ok(ApplyEvent {
            key,
            event: req.event,
            payload,
            expected_state: req.expected_state,
            expected_revision,
            idempotency,
            max_context_bytes: self.config.max_context_bytes,
        })
    }

    /// Applies an event; `true` with the result when an idempotency key returned the original.
    pub async fn apply_event(
        &self,
        space: &str,
        machine: &str,
        id: &str,
        req: SendEvent,
    ) -> Result<(TransitionApplied, bool), EngineError> {
        let event = self.execute(self.event_op(space, machine, id, req)?).await?;
        if event.started_work {
            self.wake_scheduler();
        }
        Ok((event.applied, event.replayed))
    }

    /// An instance's history (deleted instances keep theirs).
    pub async fn history(
        &self,
        space: &str,
        machine: &str,
        id: &str,
        after: Option<u64>,
        limit: Option<u32>,
    ) -> Result<LogPage, EngineError> {
        let key = self.instance_key(space, machine, id)?;
        let limit = limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(EngineError::validation("limit must be between 1 and 1000"));
        }
        let after = after.unwrap_or(0);
        if after > i64::MAX as u64 {
            return Err(EngineError::validation("after must be a seq from this log"));
        }
        if self.store.get_instance(&key).await?.is_none() {
            return Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: None }.into());
        }
        let records = self.store.history(&key.address(), Seq(after), limit).await?;
        let next_cursor = if records.len() == limit as usize { records.last().map(|r| r.seq) } else { None };
        Ok(LogPage { records, next_cursor })
    }

    /// Applies every operation or none.
    pub async fn batch(&self, ops: Vec<BatchOp>) -> Result<Vec<BatchResult>, EngineError> {
        if ops.is_empty() || ops.len() > 1000 {
            return Err(EngineError::validation("a batch holds 1 to 1000 operations"));
        }
        let mut writes = Vec::with_capacity(ops.len());
        for (index, op) in ops.into_iter().enumerate() {
            let write = match op {
                BatchOp::CreateInstance { space, machine, request } => {
                    self.create_op(&space, &machine, request).map(WriteOp::from)
                }
                BatchOp::ApplyEvent { space, machine, instance, request } => {
                    self.event_op(&space, &machine, &instance, request).map(WriteOp::from)
                }
                BatchOp::DeleteInstance { space, machine, instance } => {
                    self.instance_key(&space, &machine, &instance).map(|key| DeleteInstance { key }.into())
                }
            };
            writes.push(write.map_err(|e| EngineError::BatchFailed { index, source: Box::new(e) })?);
        }
        // Room for the creations, one reservation per space, taken in the order of the spaces'
        // names (a reservation waits while its space is measured: one order keeps two batches
        // from waiting on each other).
        let mut creating: std::collections::BTreeMap<&str, (usize, u64)> = std::collections::BTreeMap::new();
        for (index, write) in writes.iter().enumerate() {
            if let WriteOp::CreateInstance(create) = write {
                creating.entry(create.key.space.as_str()).or_insert((index, 0)).1 += 1;
            }
        }
        let mut reservations = std::collections::BTreeMap::new();
        for (space, (index, n)) in creating {
            let reserved = self.reserve_instances(space, n).await;
            let reserved = reserved.map_err(|e| EngineError::BatchFailed { index, source: Box::new(e) })?;
            reservations.insert(space.to_owned(), reserved);
        }
        let outcomes = self.write_atomic(writes).await.map_err(|e| match e {
            StoreError::BatchFailed { index, source } => {
                EngineError::BatchFailed { index, source: Box::new(EngineError::Store(*source)) }
            }
            other => EngineError::Store(other),
        })?;
        // Creations that replayed an earlier one give their room back; the others keep it.
        let mut replayed: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for outcome in &outcomes {
            if let WriteOutcome::InstanceCreated(created) = outcome
                && created.replayed
            {
                *replayed.entry(created.instance.space.as_str()).or_default() += 1;
            }
        }
        for (space, reservation) in reservations {
            reservation.keep_all_but(replayed.get(space.as_str()).copied().unwrap_or(0));
        }
        let started_work = outcomes.iter().any(|o| match o {
            WriteOutcome::InstanceCreated(created) => created.started_work,
            WriteOutcome::EventApplied(event) => event.started_work,
            _ => false,
        });
        if started_work {
            self.wake_scheduler();
        }
        outcomes
            .into_iter()
            .map(|o| match o {
                WriteOutcome::InstanceCreated(created) => Ok(BatchResult::Created(Box::new(created.instance))),
                WriteOutcome::EventApplied(event) => Ok(BatchResult::Applied(event.applied)),
                WriteOutcome::InstanceDeleted => Ok(BatchResult::Deleted),
                other => Err(unexpected(other)),
            })
            .collect()
    }

    /// Ok when `principal` may run `op` of a batch: what its route alone would need.
    pub fn authorise_batch_op(&self, principal: &Principal, op: &BatchOp) -> Result<(), EngineError> {
        parse_space(op.space())?;
        let (permission, address) = op.access();
        self.authorise(principal, permission, &address)
    }

    /// Deletes a space and everything in it (see [`DeleteSpace`]); needs an admin token
    /// granted the space. Drops what this node caches of the space at once; other nodes sharing
    /// the store drop theirs when the `space.deleted` record reaches them through the log.
    /// Tokens are not touched: one granted the space works again if a space of that name is
    /// created anew.
    pub async fn delete_space(&self, by: &Principal, space: &str) -> Result<(SpaceDeletion, Seq), EngineError> {
        let space = parse_space(space)?;
        by.require(switchyard_model::permissions::SPACES_DELETE, &[space.as_str()])?;
        let deleted = self.execute(DeleteSpace { space: space.clone() }).await?;
        self.forget_space(&space);
        // Gives what the space took back to the file system now, as a trim does (bounded; what
        // is left goes at the next compaction). The deletion itself is done either way.
        if let Err(e) = self.store.compact().await {
            tracing::warn!(error = %e, %space, "compacting the store after a space deletion failed");
        }
        Ok((deleted.deleted, deleted.seq))
    }

    /// Drops what this node caches of a deleted space: the store's compiled machines and the
    /// loaded functions (a space created again may reuse names and versions).
    fn forget_space(&self, space: &SpaceName) {
        self.store.forget_compiled_machines();
        if let Some(functions) = self.functions.get() {
            functions.forget_space(space);
        }
    }

    /// Creates the first admin token unless one was created before: writes its secret to
    /// `<data_dir>/admin.token` (mode 0600) and returns it so it can be printed once.
    pub async fn bootstrap_admin_token(&self, data_dir: &Path) -> Result<Option<String>, EngineError> {
        let files = AdminTokenFiles::new(data_dir);
        // A crash between storing a token and renaming its file leaves the secret only in the
        // pending file: if the store knows it, it is the real admin token.
        if let Ok(leftover) = std::fs::read_to_string(&files.pending) {
            if self.store.find_token(&auth::hash_secret(leftover.trim())).await?.is_some() {
                files.install().map_err(|e| files.error(e))?;
            } else {
                let _ = std::fs::remove_file(&files.pending);
            }
        }
        let (secret, record) = admin_token_record(self.now());
        // The secret reaches the disk before the store: a stored admin token whose secret
        // nobody has would lock the operator out.
        files.write_pending(&secret).map_err(|e| files.error(e))?;
        if self.execute(BootstrapAdminToken { token: record }).await? {
            files.install().map_err(|e| files.error(e))?;
            Ok(Some(secret))
        } else {
            let _ = std::fs::remove_file(&files.pending);
            Ok(None)
        }
    }

    /// Creates a new admin token for every space, whatever exists, writes it to
    /// `<data_dir>/admin.token`, then revokes the admin tokens minted before it (those named
    /// [`ADMIN_TOKEN_NAME`] that administer every space): the way back in when the admin token
    /// was lost, revoked or leaked. Returns the new secret and the ids revoked.
    ///
    /// The new token is stored and its file installed before anything is revoked, so a crash
    /// in between leaves the operator a working token (and the old one, until the next reset).
    pub async fn reset_admin_token(&self, data_dir: &Path) -> Result<(String, Vec<String>), EngineError> {
        let files = AdminTokenFiles::new(data_dir);
        let (secret, record) = admin_token_record(self.now());
        let new_id = record.id.clone();
        files.write_pending(&secret).map_err(|e| files.error(e))?;
        self.execute(CreateToken { token: record, by: switchyard_model::Actor::system() }).await?;
        files.install().map_err(|e| files.error(e))?;
        let mut revoked = Vec::new();
        for token in self.store.list_tokens().await? {
            let minted_admin =
                token.name == ADMIN_TOKEN_NAME && token.role == Role::Admin && token.spaces == SpaceGrant::All;
            if minted_admin && token.revoked_at.is_none() && token.id != new_id {
                let by = switchyard_model::Actor::system();
                self.execute(RevokeToken { id: token.id.clone(), by, sign_out: false }).await?;
                self.tokens.evict_token(&token.id);
                revoked.push(token.id);
            }
        }
        Ok((secret, revoked))
    }

    /// Forgets idempotency keys older than the retention, in chunks so writes are never
    /// stalled behind one large delete; returns how many.
    pub async fn purge_idempotency(&self) -> Result<u64, EngineError> {
        let retention_ms = self.config.idempotency_retention.as_millis() as i64;
        let before = Timestamp(self.now().as_millis() - retention_ms);
        self.sweep(1000, |limit| PurgeIdempotency { before, limit }).await
    }

    /// Runs a bounded sweep (`op` with a chunk's limit, answering how many rows it took) until
    /// a chunk comes back short, so that writes never wait behind one large delete; how many
    /// rows it took in all.
    pub(crate) async fn sweep<R: Request<Output = u64>>(
        &self,
        chunk: u32,
        op: impl Fn(u32) -> R,
    ) -> Result<u64, EngineError> {
        let mut total = 0;
        loop {
            let n = self.execute(op(chunk)).await?;
            total += n;
            if n < u64::from(chunk) {
                return Ok(total);
            }
        }
    }

    /// Registers this node (`address` is where its API answers) and renews its heartbeat every
    /// `every` until the supervisor shuts down; returns the node's id.
    pub async fn join_cluster(self: &Arc<Self>, address: String, every: Duration) -> Result<String, EngineError> {
        let id = format!("node_{}", uuid::Uuid::now_v7().simple());
        let started_at = self.now();
        let node = NodeRecord { id: id.clone(), address, started_at, heartbeat_at: started_at };
        self.execute(HeartbeatNode { node }).await?;
        let (engine, node_id) = (Arc::downgrade(self), id.clone());
        self.supervisor.spawn_named("heartbeat", Policy::Restart, move |cancel| {
            heartbeat(engine.clone(), node_id.clone(), every, cancel)
        });
        Ok(id)
    }

    /// Removes this node from the cluster's list (on a clean shutdown).
    pub async fn leave_cluster(&self, id: &str) -> Result<(), EngineError> {
        self.execute(RemoveNode { id: id.to_string() }).await?;
        Ok(())
    }

    /// The nodes whose heartbeat is younger than `NODE_TIMEOUT`; needs `cluster:read` on `*`.
    pub async fn live_nodes(&self, by: &Principal) -> Result<Vec<NodeRecord>, EngineError> {
        by.require(switchyard_model::permissions::CLUSTER_READ, &[] as &[&str])?;
        let since = Timestamp(self.now().as_millis() - NODE_TIMEOUT.as_millis() as i64);
        Ok(self.store.list_nodes(since).await?)
    }

    /// Trims the log as the retention settings allow, in chunks, then lets the store give the
    /// space back; returns how many records went.
    pub async fn trim_log(&self) -> Result<u64, EngineError> {
        const CHUNK: u32 = 10_000;
        let age_ms = i64::try_from(self.config.log_retention_age.as_millis()).unwrap_or(i64::MAX);
        let older_than = Timestamp(self.now().as_millis().saturating_sub(age_ms));
        let trim = TrimLog { older_than, max_bytes: self.config.log_retention_bytes, limit: CHUNK };
        let mut total = 0;
        loop {
            let n = self.execute(trim).await?;
            total += n;
            if n < u64::from(CHUNK) {
                break;
            }
        }
        if total > 0 {
            self.store.compact().await?;
        }
        Ok(total)
    }

    /// Runs maintenance until the supervisor shuts down: KV expiry every `expiry_every`,
    /// idempotency, invocation and log retention every `every`.
    pub fn spawn_maintenance(self: &Arc<Self>, every: Duration, expiry_every: Duration) {
        let engine = Arc::downgrade(self);
        self.supervisor.spawn_named("maintenance", Policy::Restart, move |cancel| {
            maintain(engine.clone(), every, expiry_every, cancel)
        });
    }
}

/// Renews this node's heartbeat every `every` until cancelled (or the engine is gone).
async fn heartbeat(
    engine: std::sync::Weak<Engine>,
    id: String,
    every: Duration,
    cancel: supervisor::CancellationToken,
) -> supervisor::TaskResult {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let Some(engine) = engine.upgrade() else { return Ok(()) };
        let renew = RenewNode { id: id.clone(), at: engine.now() };
        if let Err(e) = engine.execute(renew).await {
            tracing::warn!(error = %e, "node heartbeat failed");
        }
    }
}

/// The maintenance loop (see [`Engine::spawn_maintenance`]); a restart runs a retention pass at
/// once.
async fn maintain(
    engine: std::sync::Weak<Engine>,
    every: Duration,
    expiry_every: Duration,
    cancel: supervisor::CancellationToken,
) -> supervisor::TaskResult {
    let mut tick = tokio::time::interval(expiry_every.min(every));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_retention: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let Some(engine) = engine.upgrade() else { return Ok(()) };
        // A pass under way when shutdown begins runs to its end: each step is a bounded chunk
        // of writes, and the supervisor waits for long-lived tasks to stop.
        match engine.expire_kv().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(expired = n, "KV keys past their TTL deleted"),
            Err(e) => tracing::warn!(error = %e, "KV expiry failed"),
        }
        if last_retention.is_some_and(|at| at.elapsed() < every) {
            continue;
        }
        last_retention = Some(tokio::time::Instant::now());
        match engine.purge_idempotency().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "idempotency keys past retention forgotten"),
            Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
        }
        match engine.purge_invocations().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "invocation records past retention forgotten"),
            Err(e) => tracing::warn!(error = %e, "invocation retention failed"),
        }
        match engine.purge_jobs().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "finished jobs past retention forgotten"),
            Err(e) => tracing::warn!(error = %e, "job retention failed"),
        }
        match engine.trim_log().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(trimmed = n, "log records past retention trimmed"),
            Err(e) => tracing::warn!(error = %e, "log retention failed"),
        }
        engine.maintenance_passes.fetch_add(1, std::sync::atomic::Ordering::Release);
    }
}

/// Whether a write may have appended to the log, so that the tail must read it now. The
/// background writes every node makes every second or two — its heartbeat, a KV expiry sweep
/// that found nothing, retention — append nothing: waking the
/// tail for them made every node read the log at least once a second, whatever
/// `--watch-poll-ms` said.
fn may_append_to_log(outcome: &WriteOutcome) -> bool {
    match outcome {
        // A lease round that leased nothing and took back nothing, and lease renewals, append
        // nothing: the scheduler makes them every second or so.
        WriteOutcome::JobsLeased(leased) => !leased.jobs.is_empty() || leased.expired > 0,
        WriteOutcome::JobFinished(finished) => *finished != JobFinished::NotHeld,
        other => !matches!(
            other,
            WriteOutcome::NodeRecorded
                | WriteOutcome::KvExpired(0)
                | WriteOutcome::IdempotencyPurged(_)
                | WriteOutcome::InvocationsPurged(_)
                | WriteOutcome::LogTrimmed(_)
                | WriteOutcome::JobLeasesExtended(_)
                | WriteOutcome::JobsPurged(_)
        ),
    }
}

/// Drops this node's caches of a space when its deletion passes through the log tail (from any
/// node: sharing PostgreSQL, another node may have deleted it). A `restarted` run subscribed
/// afresh and may have missed deletions, as after a lag.
async fn forget_deleted_spaces(
    engine: std::sync::Weak<Engine>,
    mut records: tokio::sync::broadcast::Receiver<Arc<WatchedRecord>>,
    restarted: bool,
    cancel: supervisor::CancellationToken,
) -> supervisor::TaskResult {
    use tokio::sync::broadcast::error::RecvError;
    let forget_all = |engine: &Engine| {
        engine.store.forget_compiled_machines();
        if let Some(functions) = engine.functions.get() {
            functions.forget_all();
        }
    };
    if restarted && let Some(engine) = engine.upgrade() {
        forget_all(&engine);
        // Quota changes may have been missed while the task was down.
        if let Err(e) = engine.load_quotas().await {
            tracing::warn!(error = %e, "reloading the quotas after a restart failed");
        }
    }
    loop {
        let record = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            record = records.recv() => record,
        };
        let Some(engine) = engine.upgrade() else { return Ok(()) };
        match record {
            Ok(record) if record.kind == kinds::SPACE_DELETED => engine.forget_space(&record.space),
            Ok(record) if record.kind == kinds::AUDIT_QUOTA_SET => engine.quota_changed(&record.payload),
            Ok(_) => {}
            // Missed records may have included deletions and quota changes: forget what could
            // be stale, and read every quota again.
            Err(RecvError::Lagged(_)) => {
                forget_all(&engine);
                if let Err(e) = engine.load_quotas().await {
                    tracing::warn!(error = %e, "reloading the quotas after missed log records failed");
                }
            }
            Err(RecvError::Closed) => return Ok(()),
        }
    }
}

pub(crate) fn unexpected(outcome: WriteOutcome) -> EngineError {
    EngineError::Store(StoreError::Backend(format!("unexpected outcome from the store: {outcome:?}")))
}

/// A new admin token for every space, with its secret.
/// The name of the admin tokens the server mints itself (first start, `--reset-admin-token`).
pub const ADMIN_TOKEN_NAME: &str = "admin";

fn admin_token_record(now: Timestamp) -> (String, TokenRecord) {
    let (secret, id) = auth::mint();
    let record = TokenRecord {
        id,
        name: ADMIN_TOKEN_NAME.into(),
        secret_hash: auth::hash_secret(&secret),
        role: Role::Admin,
        spaces: SpaceGrant::All,
        created_at: now,
        revoked_at: None,
        principal: None,
        expires_at: None,
        session: false,
    };
    (secret, record)
}

/// `admin.token` and the pending file its secret is written to first.
struct AdminTokenFiles {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
    pending: std::path::PathBuf,
}

impl AdminTokenFiles {
    fn new(dir: &Path) -> AdminTokenFiles {
        AdminTokenFiles { dir: dir.to_path_buf(), path: dir.join("admin.token"), pending: dir.join("admin.token.new") }
    }

    fn error(&self, e: std::io::Error) -> EngineError {
        EngineError::AdminTokenFile { path: self.path.display().to_string(), message: e.to_string() }
    }

    /// Writes the secret to the pending file (mode 0600) and makes it durable.
    fn write_pending(&self, secret: &str) -> std::io::Result<()> {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut f = options.open(&self.pending)?;
        f.write_all(secret.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        self.sync_dir()
    }

    /// Renames the pending file over `admin.token`, durably.
    fn install(&self) -> std::io::Result<()> {
        std::fs::rename(&self.pending, &self.path)?;
        self.sync_dir()
    }

    fn sync_dir(&self) -> std::io::Result<()> {
        std::fs::File::open(&self.dir)?.sync_all()
    }
}

/// Refuses a machine (or flow) that invokes functions or starts machines of another space: a
/// token granted one space must not reach into another through a machine.
pub(crate) fn check_own_space(space: &SpaceName, compiled: &CompiledMachine) -> Result<(), EngineError> {
    let mut invoked = compiled.invoked_functions();
    invoked.extend(compiled.invoked_machines());
    let foreign: Vec<serde_json::Value> = invoked
        .into_iter()
        .filter(|(_, target)| target.split_once(':').is_some_and(|(other, _)| other != space.as_str()))
        .map(|(path, target)| {
            let message = format!(
                "\"{target}\" is in another space; a machine of {space} invokes functions and machines of {space}"
            );
            serde_json::json!({ "path": path, "message": message })
        })
        .collect();
    if let Some(first) = foreign.first() {
        return Err(EngineError::Validation {
            message: format!("{}: {}", first["path"].as_str().unwrap_or(""), first["message"].as_str().unwrap_or("")),
            details: serde_json::json!({ "errors": foreign }),
        });
    }
    Ok(())
}
