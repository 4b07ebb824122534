//! Switchyard's function runtime: WebAssembly components implementing the
//! `switchyard:function@0.1.0` world (`wit/function.wit`), run on wasmtime.
//!
//! Invariants this crate keeps:
//! - A component is compiled once per digest and engine configuration. The compiled artifact is
//!   written to the cache directory (atomically, by rename), and a later process loads it
//!   instead of compiling.
//! - A loaded component is pre-linked ([`FunctionPre`]); an invocation instantiates it in a
//!   fresh store from the pooling allocator, so no state survives from one invocation to the
//!   next.
//! - Every invocation is bounded: wall time (epoch interruption plus a timer around host
//!   calls), linear memory (a resource limiter), optionally fuel. Running into a bound,
//!   trapping or panicking is an [`Outcome`] with an error code; it never unwinds into the host.
//! - Invocations are admitted before they are instantiated (`admission.rs`): at most
//!   [`RuntimeConfig::max_concurrent`] run at once, the memory limits of those running add up
//!   to at most [`RuntimeConfig::memory_budget_bytes`], and one space holds at most
//!   [`RuntimeConfig::max_concurrent_per_space`] slots and the same share of the budget.
//!   Waiters are served round-robin across spaces. The wall-time limit runs from the call to
//!   [`FunctionRuntime::invoke`], waiting included: an invocation not admitted in time fails
//!   with [`codes::CAPACITY_EXHAUSTED`], so a caller never waits longer than the timeout.
//! - The pooling allocator reserves address space for `max_concurrent` instances of up to
//!   `max_memory_bytes` each (virtual, never committed up front); what guests commit is bounded
//!   by each one's limit, so together by the budget. Memory of an ended instance is decommitted
//!   when its slot is reused or returned.
//! - What a guest hands over as JSON (event payloads, messages, JSON KV values, a JSON output)
//!   obeys `switchyard_model::json`: nested at most [`switchyard_model::json::MAX_DEPTH`] deep,
//!   checked on the text before any parser recurses into it.
//! - Compilation and guest code run on the runtime's own threads, never on the caller's async
//!   reactor.
//! - A guest reaches only what `host.rs` lets it: granted KV buckets, its own space's instances
//!   and topics, allow-listed HTTP hosts, its configuration, clocks and randomness.

mod admission;
mod error;
mod host;
mod output;
mod types;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap, UpdateDeadline};

pub use error::RuntimeError;
pub use host::{
    EffectCall, FunctionHost, HostCallError, KvValue, KvWriteCondition, MAX_HOST_PAYLOAD_BYTES, is_private,
};
pub use output::MAX_CAPTURED_OUTPUT;
pub use types::*;

use host::HostState;

/// Bindings generated from `wit/function.wit`.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "switchyard:function/function",
        imports: { default: async },
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
        },
        require_store_data_send: true,
    });
}

use bindings::switchyard::function::types as wit;

/// Lines of log kept per invocation; more are counted as dropped.
pub const MAX_LOG_LINES: usize = 100;
/// Bytes of one log message kept.
pub const MAX_LOG_MESSAGE_BYTES: usize = 2048;
/// Bytes of one log field's value kept.
pub const MAX_LOG_FIELD_BYTES: usize = 512;
/// Bytes of log (messages and fields) kept per invocation; lines past it are dropped.
pub const MAX_LOG_BYTES: usize = 64 * 1024;
/// Bytes of a guest error's code kept (longer codes are cut; codes with other characters than
/// letters, digits, `_`, `.` and `-` become `function_error`).
pub const MAX_ERROR_CODE_BYTES: usize = 128;
/// Bytes of a guest error's message kept.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 4096;
/// Bytes of an output's content type kept.
pub const MAX_CONTENT_TYPE_BYTES: usize = 255;
/// Elements a guest table may grow to.
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// How often the epoch advances; the wall-time limit is checked, and the guest yields to other
/// invocations, at this granularity.
const EPOCH_TICK: Duration = Duration::from_millis(1);

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled artifacts are kept.
    pub cache_dir: PathBuf,
    /// Invocations running at once (and instances the pool holds); more wait for a slot.
    pub max_concurrent: u32,
    /// Invocations one space may run at once (at most `max_concurrent`); the space may also
    /// reserve at most this share (`max_concurrent_per_space / max_concurrent`) of the memory
    /// budget, or the largest function memory limit if that is more.
    pub max_concurrent_per_space: u32,
    /// The memory limits of the invocations running at once add up to at most this.
    pub memory_budget_bytes: u64,
    /// The largest memory limit a function may ask for.
    pub max_memory_bytes: u64,
    /// Threads running guest code and compilations.
    pub threads: usize,
    /// Whether outgoing HTTP may reach loopback, private and link-local addresses (a host on
    /// a function's allow-list is checked against this after name resolution).
    pub allow_private_networks: bool,
}

impl RuntimeConfig {
    /// Defaults for a server whose cache lives in `cache_dir`.
    pub fn new(cache_dir: PathBuf) -> Self {
        let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
        RuntimeConfig {
            cache_dir,
            max_concurrent: 256,
            max_concurrent_per_space: default_slots_per_space(256),
            memory_budget_bytes: default_memory_budget(),
            max_memory_bytes: 1024 * 1024 * 1024,
            threads,
            allow_private_networks: false,
        }
    }
}

/// The default number of invocations one space may run at once: a quarter of `slots` (at least
/// one), so that four spaces flooding at once still leave every one of them running.
pub fn default_slots_per_space(slots: u32) -> u32 {
    (slots / 4).max(1)
}

/// Used when the machine's memory cannot be read.
const FALLBACK_MEMORY_BUDGET: u64 = 4 * 1024 * 1024 * 1024;

/// The default memory budget: half of the memory this process can have, which is the smaller of
/// the machine's physical memory (`MemTotal` in `/proc/meminfo`) and the cgroup's limit
/// (`/sys/fs/cgroup/memory.max`, when it is a number); 4 GiB when neither can be read.
pub fn default_memory_budget() -> u64 {
    let physical = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        text.lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map(|kb| kb.saturating_mul(1024))
    });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|t| t.trim().parse::<u64>().ok());
    match (physical, cgroup) {
        (Some(p), Some(c)) => p.min(c) / 2,
        (Some(m), None) | (None, Some(m)) => m / 2,
        (None, None) => FALLBACK_MEMORY_BUDGET,
    }
}

/// Counters of the runtime's work, for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct RuntimeStats {
    /// Components compiled from WebAssembly.
    pub compilations: AtomicU64,
    /// Components loaded from the artifact cache.
    pub cache_loads: AtomicU64,
    /// Invocations run.
    pub invocations: AtomicU64,
    /// Total time spent instantiating, in nanoseconds.
    pub instantiation_nanos: AtomicU64,
    /// Total time spent compiling, in nanoseconds.
    pub compilation_nanos: AtomicU64,
    /// The node's memory budget for running invocations, in bytes.
    pub memory_budget_bytes: AtomicU64,
    /// Bytes of the budget reserved by running invocations now.
    pub memory_reserved_bytes: AtomicU64,
    /// Invocations running now.
    pub running_invocations: AtomicU64,
    /// Invocations waiting for a slot or for memory now.
    pub waiting_invocations: AtomicU64,
    /// Invocations refused for want of capacity (`function_capacity_exhausted`).
    pub capacity_refusals: AtomicU64,
}

/// A component compiled, checked against the world, and pre-linked.
pub struct LoadedFunction {
    pre: bindings::FunctionPre<HostState>,
    digest: String,
}

impl LoadedFunction {
    /// The component's SHA-256, lowercase hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

impl std::fmt::Debug for LoadedFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedFunction").field("digest", &self.digest).finish_non_exhaustive()
    }
}

/// The SHA-256 of a component, lowercase hex (how versions and cached artifacts are named).
pub fn component_digest(component: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(component))
}

/// Raised by the epoch callback when an invocation's wall time is up.
#[derive(Debug)]
struct TimedOut;

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("wall-time limit reached")
    }
}

impl std::error::Error for TimedOut {}

/// Compiles, caches and runs function components.
pub struct FunctionRuntime {
    engine: Engine,
    linker: Arc<Linker<HostState>>,
    cache_dir: PathBuf,
    compatibility: u64,
    executor: Option<tokio::runtime::Runtime>,
    admission: Arc<admission::Admission>,
    /// One cell per digest, so concurrent loads of one component compile it once.
    loaded: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<LoadedFunction>>>>>,
    stats: Arc<RuntimeStats>,
    stop_ticker: Arc<AtomicBool>,
    max_memory_bytes: u64,
    allow_private_networks: bool,
}

impl FunctionRuntime {
    /// Sets up the engine, the pool, the linker and the threads.
    pub fn new(config: RuntimeConfig) -> Result<FunctionRuntime, RuntimeError> {
        let setup = |e: &dyn std::fmt::Display| RuntimeError::Setup(e.to_string());
        std::fs::create_dir_all(&config.cache_dir).map_err(|e| RuntimeError::Cache {
            path: config.cache_dir.display().to_string(),
            message: e.to_string(),
        })?;

        let mut pool = PoolingAllocationConfig::default();
        let instances = config.max_concurrent.max(1);
        pool.total_component_instances(instances)
            .total_core_instances(instances.saturating_mul(8))
            .total_memories(instances.saturating_mul(2))
            .total_tables(instances.saturating_mul(8))
            .max_memories_per_component(2)
            .max_core_instances_per_component(32)
            .max_tables_per_component(16)
            .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX));
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .consume_fuel(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(|e| setup(&e))?;

        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| setup(&e))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(|e| setup(&e))?;
        use bindings::switchyard::function::{config as cfg, events, kv, log};
        kv::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s).map_err(|e| setup(&e))?;
        events::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s).map_err(|e| setup(&e))?;
        log::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s).map_err(|e| setup(&e))?;
        cfg::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s).map_err(|e| setup(&e))?;

        let executor = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads.max(1))
            .thread_name("sy-function")
            .enable_all()
            .build()
            .map_err(|e| setup(&e))?;

        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let compatibility = hasher.finish();

        let stop_ticker = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let stop = stop_ticker.clone();
        std::thread::Builder::new()
            .name("sy-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| setup(&e))?;

        if config.memory_budget_bytes == 0 {
            return Err(RuntimeError::Setup("the function memory budget must be positive".into()));
        }
        let space_slots = config.max_concurrent_per_space.clamp(1, instances);
        let budget = config.memory_budget_bytes;
        // A space's share of the budget is its share of the slots, but never so small that the
        // largest function allowed could not run at all.
        let share =
            u64::try_from(u128::from(budget) * u128::from(space_slots) / u128::from(instances)).unwrap_or(budget);
        let space_budget = share.max(config.max_memory_bytes.min(budget));
        tracing::info!(
            slots = instances,
            slots_per_space = space_slots,
            memory_budget = budget,
            space_memory_budget = space_budget,
            "function admission limits"
        );
        let stats = Arc::new(RuntimeStats::default());
        let admission = admission::Admission::new(
            admission::AdmissionLimits { slots: instances, space_slots, budget, space_budget },
            stats.clone(),
        );

        Ok(FunctionRuntime {
            engine,
            linker: Arc::new(linker),
            cache_dir: config.cache_dir,
            compatibility,
            executor: Some(executor),
            admission,
            loaded: Mutex::new(HashMap::new()),
            stats,
            stop_ticker,
            max_memory_bytes: config.max_memory_bytes,
            allow_private_networks: config.allow_private_networks,
        })
    }

    /// The largest memory limit a function may ask for.
    pub fn max_memory_bytes(&self) -> u64 {
        self.max_memory_bytes
    }

    /// The node's memory budget for running invocations.
    pub fn memory_budget_bytes(&self) -> u64 {
        self.admission.limits().budget
    }

    /// The most of the memory budget one space may reserve at once.
    pub fn space_memory_budget_bytes(&self) -> u64 {
        self.admission.limits().space_budget
    }

    /// Counters of the runtime's work.
    pub fn stats(&self) -> &RuntimeStats {
        &self.stats
    }

    fn executor(&self) -> &tokio::runtime::Handle {
        // Only `Drop` takes the executor.
        self.executor.as_ref().map(|rt| rt.handle()).expect("the executor lives as long as the runtime")
    }

    /// Compiles (or loads from the cache) a component, checks it implements the world and
    /// pre-links it. Runs on the runtime's threads.
    pub async fn load(&self, digest: &str, component: Arc<Vec<u8>>) -> Result<Arc<LoadedFunction>, RuntimeError> {
        // The digest names a file in the cache: it must be what `component_digest` makes.
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(RuntimeError::InvalidComponent(format!("{digest:?} is not a SHA-256 digest")));
        }
        let cell = {
            let mut map = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(digest.to_owned()).or_default().clone()
        };
        let loaded = cell
            .get_or_try_init(|| async {
                let engine = self.engine.clone();
                let linker = self.linker.clone();
                let path = self.cache_path(digest);
                let stats = self.stats.clone();
                let owned_digest = digest.to_owned();
                self.executor()
                    .spawn_blocking(move || load_blocking(&engine, &linker, &path, &owned_digest, &component, &stats))
                    .await
                    .map_err(|e| RuntimeError::Setup(format!("compilation task failed: {e}")))?
                    .map(Arc::new)
            })
            .await?;
        Ok(loaded.clone())
    }

    fn cache_path(&self, digest: &str) -> PathBuf {
        self.cache_dir.join(format!("{digest}-{:016x}.cwasm", self.compatibility))
    }

    /// Runs one invocation to its outcome on the runtime's threads, once it is admitted (see
    /// the crate's invariants); its wall-time limit counts from this call.
    pub async fn invoke(
        &self,
        function: Arc<LoadedFunction>,
        invocation: Invocation,
        host: Arc<dyn FunctionHost>,
    ) -> Outcome {
        let arrived = Instant::now();
        let deadline = arrived + invocation.limits.timeout;
        let engine = self.engine.clone();
        let admission = self.admission.clone();
        let stats = self.stats.clone();
        let allow_private_networks = self.allow_private_networks;
        let task = self.executor().spawn(async move {
            let space = invocation.context.space.clone();
            let limits = invocation.limits;
            let _permit = match admission.admit(&space, limits.memory_bytes, deadline).await {
                Ok(permit) => permit,
                Err(refusal) => {
                    let mut outcome = Outcome::failed(capacity_error(&refusal, limits.timeout));
                    outcome.duration = arrived.elapsed();
                    return outcome;
                }
            };
            run(&engine, &function, invocation, host, &stats, allow_private_networks, arrived).await
        });
        match task.await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::failed(InvocationError::runtime(
                codes::TRAPPED,
                format!("the invocation task failed: {e}"),
                false,
            )),
        }
    }
}

impl Drop for FunctionRuntime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
        // Dropping a runtime blocks, which panics inside another runtime's async context.
        if let Some(executor) = self.executor.take() {
            executor.shutdown_background();
        }
    }
}

fn load_blocking(
    engine: &Engine,
    linker: &Linker<HostState>,
    path: &Path,
    digest: &str,
    bytes: &[u8],
    stats: &RuntimeStats,
) -> Result<LoadedFunction, RuntimeError> {
    let component = match load_cached(engine, path) {
        Some(component) => {
            stats.cache_loads.fetch_add(1, Ordering::Relaxed);
            component
        }
        None => {
            let started = Instant::now();
            let component =
                Component::new(engine, bytes).map_err(|e| RuntimeError::InvalidComponent(format!("{e:#}")))?;
            stats.compilations.fetch_add(1, Ordering::Relaxed);
            stats.compilation_nanos.fetch_add(nanos(started.elapsed()), Ordering::Relaxed);
            // A failed cache write costs a recompile on the next start, nothing more.
            if let Err(e) = store_cached(&component, path) {
                tracing::warn!(error = %e, "could not cache a compiled function");
            }
            component
        }
    };
    let instance_pre = linker.instantiate_pre(&component).map_err(|e| RuntimeError::WorldMismatch(format!("{e:#}")))?;
    let pre = bindings::FunctionPre::new(instance_pre).map_err(|e| {
        RuntimeError::WorldMismatch(format!(
            "{e:#} (a function must export `handle: func(request: request) -> result<response, error>`)"
        ))
    })?;
    Ok(LoadedFunction { pre, digest: digest.to_owned() })
}

/// The cached artifact, when there is one this engine can load. The file is the SHA-256 of
/// the serialised component followed by the serialised component; a file whose checksum does
/// not match (a torn write, a bad disk) is ignored and the component compiled again.
fn load_cached(engine: &Engine, path: &Path) -> Option<Component> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read a cached function");
            return None;
        }
    };
    use sha2::Digest;
    let (checksum, artifact) = bytes.split_at_checked(32)?;
    if sha2::Sha256::digest(artifact).as_slice() != checksum {
        tracing::warn!(path = %path.display(), "ignoring a cached function whose checksum does not match");
        return None;
    }
    // SAFETY: the bytes are what `store_cached` wrote from a component this engine compiled
    // (checked by the checksum above; the file is in the server's own data directory); the
    // file name carries the engine's compatibility hash, and wasmtime checks the header again.
    match unsafe { Component::deserialize(engine, artifact) } {
        Ok(component) => Some(component),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring an unusable cached function");
            None
        }
    }
}

fn store_cached(component: &Component, path: &Path) -> Result<(), RuntimeError> {
    use sha2::Digest;
    use std::io::Write;
    let cache_error =
        |e: &dyn std::fmt::Display| RuntimeError::Cache { path: path.display().to_string(), message: e.to_string() };
    let artifact = component.serialize().map_err(|e| cache_error(&e))?;
    let dir = path.parent().ok_or_else(|| cache_error(&"no parent directory"))?;
    // A unique temporary file per writer, renamed into place once complete and durable.
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| cache_error(&e))?;
    file.write_all(&sha2::Sha256::digest(&artifact)).map_err(|e| cache_error(&e))?;
    file.write_all(&artifact).map_err(|e| cache_error(&e))?;
    file.as_file().sync_all().map_err(|e| cache_error(&e))?;
    file.persist(path).map_err(|e| cache_error(&e.error))?;
    Ok(())
}

/// The error of an invocation that was not admitted.
fn capacity_error(refusal: &admission::Refusal, timeout: Duration) -> InvocationError {
    match refusal {
        admission::Refusal::NeverFits { asked, space_budget, budget } => InvocationError::runtime(
            codes::CAPACITY_EXHAUSTED,
            format!(
                "the function's memory limit of {asked} bytes is more than the {space_budget} bytes one space may \
                 reserve of this node's function memory budget of {budget} bytes (--function-memory-budget)"
            ),
            false,
        ),
        admission::Refusal::TimedOut { asked, budget, reserved, running, space_running, waiting } => {
            InvocationError::runtime(
                codes::CAPACITY_EXHAUSTED,
                format!(
                    "no capacity for this invocation within its {} ms limit: it asks {asked} bytes of this node's \
                     function memory budget of {budget} bytes, of which {reserved} are reserved by {running} running \
                     invocations ({space_running} of them in this space), and {waiting} more are waiting",
                    timeout.as_millis()
                ),
                true,
            )
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

async fn run(
    engine: &Engine,
    function: &LoadedFunction,
    invocation: Invocation,
    host: Arc<dyn FunctionHost>,
    stats: &RuntimeStats,
    allow_private_networks: bool,
    arrived: Instant,
) -> Outcome {
    let Invocation { input, context, limits, capabilities } = invocation;
    let state = HostState::new(&context, capabilities, limits.memory_bytes, allow_private_networks, host);
    let started = state.started;
    // Waiting for admission counts against the wall-time limit and is part of the duration.
    let deadline = arrived + limits.timeout;
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    // Fuel is always metered (the engine is configured so); without a limit there is plenty.
    let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline { Err(wasmtime::Error::new(TimedOut)) } else { Ok(UpdateDeadline::Yield(1)) }
    });
    store.set_epoch_deadline(1);

    let request = wit::Request {
        input: wit::Payload { content_type: input.content_type, body: input.body },
        context: wit::Context {
            space: context.space.clone(),
            function: format!("{}:{}", context.space, context.function),
            version: context.version,
            invocation_id: context.invocation_id,
            attempt: context.attempt,
            idempotency_key: context.idempotency_key,
            trace_id: context.trace_id,
            machine: context.machine.map(|m| wit::MachineContext {
                instance: m.instance,
                state: m.state,
                event: m.event,
            }),
        },
    };

    let remaining = deadline.saturating_duration_since(Instant::now());
    let mut instantiation = Duration::ZERO;
    let called = tokio::time::timeout(remaining, async {
        let instance = function.pre.instantiate_async(&mut store).await.map_err(CallFailure::Instantiate)?;
        instantiation = started.elapsed();
        instance.call_handle(&mut store, &request).await.map_err(CallFailure::Call)
    })
    .await;
    stats.invocations.fetch_add(1, Ordering::Relaxed);
    stats.instantiation_nanos.fetch_add(nanos(instantiation), Ordering::Relaxed);

    let state = store.data_mut();
    let result = match called {
        Err(_elapsed) => Err(timeout_error(limits.timeout)),
        Ok(Ok(Ok(response))) => {
            let content_type = host::truncate(response.output.content_type, MAX_CONTENT_TYPE_BYTES);
            match host::check_json_bytes(&content_type, &response.output.body) {
                Ok(()) => Ok(Payload { content_type, body: response.output.body }),
                Err(e) => Err(InvocationError::runtime(
                    codes::VALIDATION_FAILED,
                    format!("the function's output was refused: {e}"),
                    false,
                )),
            }
        }
        Ok(Ok(Err(error))) => Err(guest_error(error)),
        Ok(Err(failure)) => Err(classify(failure, state, &limits)),
    };
    let mut logs = std::mem::take(&mut state.logs);
    for (output, level, stream) in
        [(&state.stdout, LogLevel::Info, "stdout"), (&state.stderr, LogLevel::Warn, "stderr")]
    {
        let text = output.take_text();
        for line in text.lines().filter(|l| !l.is_empty()) {
            logs.push(LogLine {
                at_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                level,
                message: host::truncate(line.to_owned(), MAX_LOG_MESSAGE_BYTES),
                fields: vec![("stream".into(), stream.into())],
            });
        }
    }
    Outcome { result, logs: logs.lines, logs_dropped: logs.dropped, duration: arrived.elapsed(), instantiation }
}

/// The guest's own error, bounded: its code and message end up in records, answers and the
/// event log.
fn guest_error(error: wit::Error) -> InvocationError {
    let mut code = host::truncate(error.code, MAX_ERROR_CODE_BYTES);
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) {
        code = codes::FUNCTION_ERROR.to_owned();
    }
    InvocationError {
        code,
        message: host::truncate(error.message, MAX_ERROR_MESSAGE_BYTES),
        retryable: error.retryable,
    }
}

enum CallFailure {
    Instantiate(wasmtime::Error),
    Call(wasmtime::Error),
}

fn timeout_error(timeout: Duration) -> InvocationError {
    InvocationError::runtime(
        codes::TIMEOUT,
        format!("the function ran longer than its {} ms limit and was stopped", timeout.as_millis()),
        true,
    )
}

fn classify(failure: CallFailure, state: &HostState, limits: &Limits) -> InvocationError {
    let (error, instantiating) = match failure {
        CallFailure::Instantiate(e) => (e, true),
        CallFailure::Call(e) => (e, false),
    };
    if error.downcast_ref::<TimedOut>().is_some() {
        return timeout_error(limits.timeout);
    }
    if error.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
        return InvocationError::runtime(
            codes::FUEL_EXHAUSTED,
            format!("the function used up its fuel ({})", limits.fuel.unwrap_or(u64::MAX)),
            false,
        );
    }
    if state.limiter.exceeded {
        return InvocationError::runtime(
            codes::MEMORY_LIMIT,
            format!("the function asked for more than its {} bytes of memory and was stopped", limits.memory_bytes),
            false,
        );
    }
    if instantiating {
        return InvocationError::runtime(codes::INSTANTIATION_FAILED, format!("{error:#}"), true);
    }
    // The trap's own description, not the wasm backtrace around it.
    let trap = match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => error.to_string().lines().next().unwrap_or("unknown trap").to_owned(),
    };
    let message = match state.stderr_tail() {
        Some(stderr) => format!("the function trapped ({trap}); it wrote: {stderr}"),
        None => format!("the function trapped ({trap})"),
    };
    InvocationError::runtime(codes::TRAPPED, message, false)
}
