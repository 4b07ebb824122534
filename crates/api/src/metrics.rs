//! HTTP metrics: requests by route, method and status, and latency by route.
//!
//! The route label is the matched route template (`/v1/spaces/{space}/…`), never a concrete
//! path, so label cardinality stays bounded whatever clients send.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The matched route template.
    pub route: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The status code.
    pub status: u16,
}

/// Labels of the supervisor's per-task series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    /// The task's name (static: the supervisor's names are `&'static str`).
    pub task: &'static str,
}

/// Labels of the latency histogram.
/// A space, on the per-space job series (bounded by the number of spaces).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SpaceLabels {
    pub space: String,
}

/// A space and a job status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SpaceStatusLabels {
    pub space: String,
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The matched route template.
    pub route: &'static str,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Labels of the gRPC call counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrpcLabels {
    /// The method, `Service/Method`.
    pub method: &'static str,
    /// The stable error code of a failed call, or `ok`.
    pub code: &'static str,
}

/// Labels of the per-event counter of `ApplyEvents` streams.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamEventLabels {
    /// The stable error code of a refused event, or `ok`.
    pub code: &'static str,
}

/// The API's metrics and the registry they (and the store's) are exported from.
pub struct HttpMetrics {
    /// Requests by route, method and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by route.
    pub latency: HistogramFamily,
    /// The event log's extent and size, read from the store at each scrape.
    pub log: LogGauges,
    /// CPU time this process has used, read at each scrape.
    pub cpu_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// The function runtime's counters, read at each scrape.
    pub functions: FunctionGauges,
    /// The engine's counters, read at each scrape.
    pub engine: EngineGauges,
    /// The job scheduler's counters and the work table's per-space figures, read at each scrape.
    pub jobs: JobGauges,
    /// Per-space meters and stored bytes.
    pub spaces: SpaceGauges,
    /// Requests being handled now, by route (a waiting pull counts until it answers).
    pub in_flight: Family<RouteLabels, Gauge>,
    /// gRPC calls by method and outcome (a stream counts once, when it starts or is refused).
    pub grpc_calls: Family<GrpcLabels, Counter>,
    /// Events answered on `ApplyEvents` streams, by outcome.
    pub grpc_stream_events: Family<StreamEventLabels, Counter>,
    /// Everything `/metrics` exports.
    pub registry: Registry,
}

/// The function runtime's counters (monotonic; exported as gauges because they are read from
/// the runtime at each scrape).
#[derive(Default)]
pub struct FunctionGauges {
    /// Components compiled from WebAssembly.
    pub compilations: Gauge,
    /// Components loaded from the compiled-artifact cache.
    pub cache_loads: Gauge,
    /// Invocations run.
    pub invocations: Gauge,
    /// Seconds spent instantiating components.
    pub instantiation_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Seconds spent compiling components.
    pub compilation_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// The node's memory budget for running invocations.
    pub memory_budget_bytes: Gauge,
    /// Bytes of the budget reserved by running invocations.
    pub memory_reserved_bytes: Gauge,
    /// Invocations running.
    pub running: Gauge,
    /// Invocations waiting for a slot or memory.
    pub waiting: Gauge,
    /// Invocations refused for want of capacity.
    pub capacity_refusals: Gauge,
}

impl FunctionGauges {
    /// Copies the runtime's counters.
    pub fn set(&self, stats: &switchyard_runtime::RuntimeStats) {
        use std::sync::atomic::Ordering::Relaxed;
        let count = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.compilations.set(count(stats.compilations.load(Relaxed)));
        self.cache_loads.set(count(stats.cache_loads.load(Relaxed)));
        self.invocations.set(count(stats.invocations.load(Relaxed)));
        self.instantiation_seconds.set(stats.instantiation_nanos.load(Relaxed) as f64 / 1e9);
        self.compilation_seconds.set(stats.compilation_nanos.load(Relaxed) as f64 / 1e9);
        self.memory_budget_bytes.set(count(stats.memory_budget_bytes.load(Relaxed)));
        self.memory_reserved_bytes.set(count(stats.memory_reserved_bytes.load(Relaxed)));
        self.running.set(count(stats.running_invocations.load(Relaxed)));
        self.waiting.set(count(stats.waiting_invocations.load(Relaxed)));
        self.capacity_refusals.set(count(stats.capacity_refusals.load(Relaxed)));
    }
}

/// The engine's counters (monotonic; exported as gauges because they are read from the engine
/// at each scrape).
#[derive(Default)]
pub struct EngineGauges {
    /// Times a watcher fell behind the live stream and caught up from the store.
    pub watch_catch_ups: Gauge,
    /// Retention passes completed.
    pub maintenance_passes: Gauge,
    /// Restarts of long-lived tasks after a panic or an error, by task.
    pub task_restarts: Family<TaskLabels, Counter>,
    /// Long-lived tasks that died and were not restarted (1), by task.
    pub tasks_failed: Family<TaskLabels, Gauge>,
}

impl EngineGauges {
    /// Copies the engine's counters.
    pub fn set(&self, engine: &switchyard_engine::Engine) {
        use std::sync::atomic::Ordering;
        let count = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.watch_catch_ups.set(count(engine.watch_catch_ups()));
        self.maintenance_passes.set(count(engine.maintenance_passes()));
        let supervisor = engine.supervisor();
        for (task, restarts) in supervisor.restarts() {
            // The supervisor keeps the count; the counter shows it (a store, not an increment,
            // so concurrent scrapes cannot count a restart twice).
            self.task_restarts.get_or_create(&TaskLabels { task }).inner().store(restarts, Ordering::Relaxed);
        }
        for failed in supervisor.failed_tasks() {
            self.tasks_failed.get_or_create(&TaskLabels { task: failed.name }).set(1);
        }
    }
}

/// Per-space meters of this node (copied from the engine at scrape time) and the stored bytes
/// last measured for spaces whose quota limits them.
#[derive(Default)]
pub struct SpaceGauges {
    pub requests: Family<SpaceLabels, Counter>,
    pub events: Family<SpaceLabels, Counter>,
    pub refused: Family<SpaceLabels, Counter>,
    pub invocations: Family<SpaceLabels, Counter>,
    pub function_ms: Family<SpaceLabels, Counter>,
    pub stored_bytes: Family<SpaceLabels, Gauge>,
}

impl SpaceGauges {
    /// Copies the engine's per-space meters (a store, not an increment, so concurrent scrapes
    /// cannot count anything twice).
    pub fn set(&self, engine: &switchyard_engine::Engine) {
        use std::sync::atomic::Ordering::Relaxed;
        for space in engine.node_space_meters() {
            let labels = SpaceLabels { space: space.space };
            let m = space.meters;
            self.requests.get_or_create(&labels).inner().store(m.requests, Relaxed);
            self.events.get_or_create(&labels).inner().store(m.events, Relaxed);
            self.refused.get_or_create(&labels).inner().store(m.refused, Relaxed);
            self.invocations.get_or_create(&labels).inner().store(m.invocations, Relaxed);
            self.function_ms.get_or_create(&labels).inner().store(m.function_ms, Relaxed);
            match space.stored_bytes {
                Some(bytes) => {
                    self.stored_bytes.get_or_create(&labels).set(i64::try_from(bytes).unwrap_or(i64::MAX));
                }
                None => {
                    self.stored_bytes.remove(&labels);
                }
            }
        }
    }
}

/// Gauges of the event log.
/// The job scheduler's counters (copied from [`switchyard_engine::JobMetrics`] at scrape time)
/// and the work table's per-space figures (read from the store at scrape time).
#[derive(Default)]
pub struct JobGauges {
    pub attempts: Counter,
    pub successes: Counter,
    pub failures: Counter,
    pub dead: Counter,
    pub lease_expiries: Counter,
    pub lag: SchedulingLag,
    pub queue_depth: Family<SpaceLabels, Gauge>,
    pub oldest_due_age: Family<SpaceLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    pub jobs: Family<SpaceStatusLabels, Gauge>,
}

impl JobGauges {
    /// Copies the scheduler's counters and replaces the per-space series with `stats` (so a
    /// space without jobs any more has none).
    pub fn set(&self, metrics: &switchyard_engine::JobMetrics, stats: &[switchyard_store::JobQueueStats], now_ms: i64) {
        use std::sync::atomic::Ordering::Relaxed;
        for (counter, value) in [
            (&self.attempts, &metrics.attempts),
            (&self.successes, &metrics.succeeded),
            (&self.failures, &metrics.failures),
            (&self.dead, &metrics.dead),
            (&self.lease_expiries, &metrics.lease_expiries),
        ] {
            // A store, not an increment: concurrent scrapes cannot count twice.
            counter.inner().store(value.load(Relaxed), Relaxed);
        }
        self.lag.set(metrics);
        let count = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.queue_depth.clear();
        self.oldest_due_age.clear();
        self.jobs.clear();
        for s in stats {
            let space = SpaceLabels { space: s.space.clone() };
            self.queue_depth.get_or_create(&space).set(count(s.due));
            let age_ms = s.oldest_due.map_or(0, |due| now_ms.saturating_sub(due.0).max(0));
            self.oldest_due_age.get_or_create(&space).set(age_ms as f64 / 1000.0);
            for (status, n) in [("pending", s.pending), ("running", s.running), ("dead", s.dead)] {
                self.jobs.get_or_create(&SpaceStatusLabels { space: s.space.clone(), status }).set(count(n));
            }
        }
    }
}

/// The scheduling-lag histogram: the engine counts into fixed buckets
/// ([`switchyard_engine::LAG_BUCKETS_MS`]); this shows the copy taken at the last scrape.
#[derive(Debug, Default, Clone)]
pub struct SchedulingLag(std::sync::Arc<std::sync::Mutex<LagSnapshot>>);

#[derive(Debug, Default)]
struct LagSnapshot {
    /// (upper bound in seconds, count in that bucket alone); the last bound is infinite (`+Inf`).
    buckets: Vec<(f64, u64)>,
    sum_seconds: f64,
    count: u64,
}

impl SchedulingLag {
    fn set(&self, metrics: &switchyard_engine::JobMetrics) {
        use std::sync::atomic::Ordering::Relaxed;
        let bounds = switchyard_engine::LAG_BUCKETS_MS.iter().map(|ms| *ms as f64 / 1000.0).chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds.zip(metrics.lag_buckets.iter().map(|b| b.load(Relaxed))).collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum_seconds = metrics.lag_sum_ms.load(Relaxed) as f64 / 1000.0;
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = LagSnapshot { buckets, sum_seconds, count };
    }
}

impl prometheus_client::encoding::EncodeMetric for SchedulingLag {
    fn encode(&self, mut encoder: prometheus_client::encoding::MetricEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let empty: Vec<(f64, u64)>;
        let buckets = if snapshot.buckets.is_empty() {
            let bounds = switchyard_engine::LAG_BUCKETS_MS.iter().map(|ms| *ms as f64 / 1000.0).chain([f64::INFINITY]);
            empty = bounds.map(|b| (b, 0)).collect();
            &empty
        } else {
            &snapshot.buckets
        };
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            snapshot.sum_seconds,
            snapshot.count,
            buckets,
            None,
        )
    }

    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        prometheus_client::metrics::MetricType::Histogram
    }
}

#[derive(Default)]
pub struct LogGauges {
    /// The oldest seq kept (0 when empty).
    pub oldest_seq: Gauge,
    /// The newest seq written.
    pub newest_seq: Gauge,
    /// Records kept.
    pub records: Gauge,
    /// Bytes of the records kept (addresses and payloads).
    pub bytes: Gauge,
    /// Bytes of the store's files on disk (SQLite only).
    pub file_bytes: Gauge,
}

impl LogGauges {
    /// Sets every gauge from `stats`.
    pub fn set(&self, stats: &switchyard_store::LogStats) {
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.oldest_seq.set(clamp(stats.oldest.map_or(0, |s| s.0)));
        self.newest_seq.set(clamp(stats.newest.0));
        self.records.set(clamp(stats.records));
        self.bytes.set(clamp(stats.bytes));
        self.file_bytes.set(clamp(stats.file_bytes.unwrap_or(0)));
    }
}

/// CPU seconds (user and system) this process has used, from `/proc/self/stat` (Linux).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name, in ticks of
    // USER_HZ, which Linux fixes at 100 for /proc.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

impl HttpMetrics {
    /// New metrics, with the store's registered beside them.
    pub fn new(store_metrics: &switchyard_store::StoreMetrics) -> HttpMetrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register("switchyard_http_requests", "HTTP requests by route, method and status", requests.clone());
        registry.register("switchyard_http_request_duration_seconds", "HTTP request latency by route", latency.clone());
        let in_flight = Family::<RouteLabels, Gauge>::default();
        registry.register(
            "switchyard_http_requests_in_flight",
            "HTTP requests being handled now, by route (streams count until their response starts)",
            in_flight.clone(),
        );
        let grpc_calls = Family::<GrpcLabels, Counter>::default();
        registry.register(
            "switchyard_grpc_calls",
            "gRPC calls by method and outcome (error code or ok)",
            grpc_calls.clone(),
        );
        let grpc_stream_events = Family::<StreamEventLabels, Counter>::default();
        registry.register(
            "switchyard_grpc_stream_events",
            "Events answered on gRPC ApplyEvents streams, by outcome (error code or ok)",
            grpc_stream_events.clone(),
        );
        let engine = EngineGauges::default();
        registry.register(
            "switchyard_watch_catch_ups",
            "Times a watcher fell behind the live stream and caught up from the store (slow consumers)",
            engine.watch_catch_ups.clone(),
        );
        registry.register(
            "switchyard_maintenance_passes",
            "Retention passes (idempotency keys, invocations, log) completed since the process started",
            engine.maintenance_passes.clone(),
        );
        registry.register(
            "switchyard_task_restarts",
            "Restarts of background tasks after a panic or an error since the process started, by task",
            engine.task_restarts.clone(),
        );
        registry.register(
            "switchyard_task_failed",
            "Background tasks that died and are not restarted (1), by task",
            engine.tasks_failed.clone(),
        );
        store_metrics.register(&mut registry);
        let log = LogGauges::default();
        registry.register("switchyard_log_oldest_seq", "The oldest seq the event log keeps", log.oldest_seq.clone());
        registry.register(
            "switchyard_log_newest_seq",
            "The newest seq written to the event log",
            log.newest_seq.clone(),
        );
        registry.register("switchyard_log_records", "Records the event log keeps", log.records.clone());
        registry.register("switchyard_log_bytes", "Bytes of the records the event log keeps", log.bytes.clone());
        registry.register(
            "switchyard_store_file_bytes",
            "Bytes the store's files take on disk (SQLite; 0 on PostgreSQL)",
            log.file_bytes.clone(),
        );
        let cpu_seconds = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register("switchyard_process_cpu_seconds", "CPU time this process has used", cpu_seconds.clone());
        let functions = FunctionGauges::default();
        registry.register(
            "switchyard_function_compilations",
            "Function components compiled from WebAssembly since the process started",
            functions.compilations.clone(),
        );
        registry.register(
            "switchyard_function_cache_loads",
            "Function components loaded from the compiled-artifact cache since the process started",
            functions.cache_loads.clone(),
        );
        registry.register(
            "switchyard_function_invocations",
            "Function invocations run since the process started",
            functions.invocations.clone(),
        );
        registry.register(
            "switchyard_function_instantiation_seconds",
            "Time spent instantiating function components since the process started",
            functions.instantiation_seconds.clone(),
        );
        registry.register(
            "switchyard_function_compilation_seconds",
            "Time spent compiling function components since the process started",
            functions.compilation_seconds.clone(),
        );
        for (name, help, gauge) in [
            (
                "switchyard_function_memory_budget_bytes",
                "The memory the invocations running at once on this node may reserve (--function-memory-budget)",
                &functions.memory_budget_bytes,
            ),
            (
                "switchyard_function_memory_reserved_bytes",
                "Bytes of the function memory budget reserved by running invocations",
                &functions.memory_reserved_bytes,
            ),
            ("switchyard_function_running_invocations", "Function invocations running now", &functions.running),
            (
                "switchyard_function_waiting_invocations",
                "Function invocations waiting for a slot or for memory",
                &functions.waiting,
            ),
            (
                "switchyard_function_capacity_refusals",
                "Function invocations refused with function_capacity_exhausted since the process started",
                &functions.capacity_refusals,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        let jobs = JobGauges::default();
        for (name, help, counter) in [
            ("switchyard_job_attempts", "Job attempts started on this node since it started", &jobs.attempts),
            ("switchyard_job_successes", "Job attempts that succeeded on this node", &jobs.successes),
            ("switchyard_job_failures", "Job attempts that failed on this node (retried or dead)", &jobs.failures),
            ("switchyard_job_dead", "Jobs that became dead letters on this node", &jobs.dead),
            (
                "switchyard_job_lease_expiries",
                "Leases of other nodes' jobs found ended and taken back by this node",
                &jobs.lease_expiries,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "switchyard_job_scheduling_lag_seconds",
            "How late job attempts started on this node after their run_at",
            jobs.lag.clone(),
        );
        registry.register(
            "switchyard_job_queue_depth",
            "Pending jobs that are due, by space",
            jobs.queue_depth.clone(),
        );
        registry.register(
            "switchyard_job_oldest_due_age_seconds",
            "How long the oldest due pending job has waited, by space",
            jobs.oldest_due_age.clone(),
        );
        registry.register("switchyard_jobs", "Jobs by space and status (pending, running, dead)", jobs.jobs.clone());
        let spaces = SpaceGauges::default();
        for (name, help, counter) in [
            ("switchyard_space_requests", "API requests naming the space, on this node", &spaces.requests),
            (
                "switchyard_space_events",
                "Instances created, events applied and messages published by callers in the space, on this node",
                &spaces.events,
            ),
            (
                "switchyard_space_refused",
                "Requests and writes refused by the space's quota, on this node",
                &spaces.refused,
            ),
            (
                "switchyard_space_invocations",
                "Function invocations run for the space, on this node",
                &spaces.invocations,
            ),
            (
                "switchyard_space_function_milliseconds",
                "Milliseconds the space's function invocations ran, on this node",
                &spaces.function_ms,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "switchyard_space_stored_bytes",
            "Bytes the space holds, as last measured (spaces whose quota limits stored bytes or instances)",
            spaces.stored_bytes.clone(),
        );
        HttpMetrics {
            spaces,
            requests,
            latency,
            log,
            cpu_seconds,
            functions,
            engine,
            jobs,
            in_flight,
            grpc_calls,
            grpc_stream_events,
            registry,
        }
    }

    /// The registry in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// Middleware recording every request.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Labels are static strings: recording a request allocates nothing.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| crate::ROUTES.iter().find(|r| **r == p.as_str()).copied())
        .unwrap_or("unmatched");
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    let in_flight = state.metrics.in_flight.get_or_create(&RouteLabels { route }).clone();
    in_flight.inc();
    // Decremented when the request ends however it ends (a client that hangs up drops this future).
    let _in_flight = DecrementOnDrop(in_flight);
    let response = next.run(req).await;
    let metrics = &state.metrics;
    metrics.latency.get_or_create(&RouteLabels { route }).observe(started.elapsed().as_secs_f64());
    metrics.requests.get_or_create(&RequestLabels { route, method, status: response.status().as_u16() }).inc();
    response
}

/// Decrements its gauge when dropped.
struct DecrementOnDrop(Gauge);

impl Drop for DecrementOnDrop {
    fn drop(&mut self) {
        self.0.dec();
    }
}
