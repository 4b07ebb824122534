//! Durable jobs: validating what is enqueued, and the scheduler that leases due jobs from the
//! work table and runs them.
//!
//! The scheduler is one supervised task per node (`job-scheduler`) plus one that renews the
//! leases it holds (`job-leases`). A round leases at most the node's free slots
//! (`LeaseJobs`: fair across spaces and lanes, limited per space); each job runs as supervised
//! in-flight work and reports its attempt's end (`FinishJob`), which the job's retry policy turns
//! into success, a later retry or a dead letter. Between rounds the scheduler sleeps until the
//! next due job or lease end (`Store::next_job_wakeup`), a local enqueue, a freed slot, a
//! wake-up from another node (`job-wakeups`: `Store::listen_for_jobs`, a `NOTIFY` on
//! PostgreSQL), or at most `poll`, the backstop for a lost wake-up: it never spins.
//!
//! Invariants:
//! - A job runs only while this node holds its lease; leases are renewed every third of their
//!   length, so a live node keeps them and a dead one loses them to the next round anywhere.
//! - Every effect a job has carries its effect key (the job's idempotency key, or its id), the
//!   same on every attempt: `Idempotency-Key` on HTTP requests, the idempotency key of the events
//!   and messages it sends, a function's invocation context. A re-run attempt therefore does not
//!   repeat an effect that already committed, where the target honours the key.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_model::jobs::{FairCursor, JobStatus, RetryPolicy};
use switchyard_model::{INVOCATION_JOB, JobError, JobRecord, JobSpec, Segment, SpaceName, TIMER_JOB, Timestamp};
use switchyard_store::*;
use tokio_util::sync::CancellationToken;

use crate::supervisor::Policy;
use crate::{Engine, EngineError, ErrorCode, SendEvent, parse_segment, parse_space};

/// The kinds of job a node can run.
pub const JOB_KINDS: &[&str] = &["http", "function", "event", "publish", "noop"];

/// The longest an HTTP job's request may take.
const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(300);

/// The most bytes of an HTTP job's response body kept as its result.
const MAX_RESULT_BODY: usize = 64 * 1024;

/// How a node runs jobs.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Jobs running at once on this node.
    pub slots: usize,
    /// Jobs of one space running at once across the cluster.
    pub space_limit: u32,
    /// How long a lease lasts unless renewed.
    pub lease: Duration,
    /// The longest the scheduler sleeps without looking at the work table.
    pub poll: Duration,
    /// Whether HTTP jobs may reach loopback, private and other non-global addresses.
    pub allow_private_networks: bool,
    /// How long succeeded and cancelled jobs are kept after they finished.
    pub retention: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            slots: 64,
            space_limit: 32,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            allow_private_networks: false,
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// A job to enqueue, as a client asks for it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnqueueJob {
    /// `http`, `function`, `event`, `publish` or `noop`.
    pub kind: String,
    /// What the kind needs (see docs/http-api.md).
    #[serde(default)]
    pub payload: Value,
    /// Due at this time (RFC 3339); now when neither this nor `delay_ms` is given.
    #[serde(default)]
    pub run_at: Option<String>,
    /// Due this many milliseconds from now.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Higher runs first among the space's due jobs.
    #[serde(default)]
    pub priority: i32,
    /// The fairness lane inside the space.
    #[serde(default)]
    pub concurrency_key: Option<String>,
    /// Stable across attempts; a second enqueue with it returns the first job.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The retry policy (defaults: 5 attempts from 1 s, doubling to 100 s, full jitter).
    #[serde(default)]
    pub retry: Option<RetryPolicy>,
}

/// What the scheduler has done since the node started, for `/metrics`.
#[derive(Debug, Default)]
pub struct JobMetrics {
    /// Attempts started.
    pub attempts: AtomicU64,
    /// Attempts that succeeded.
    pub succeeded: AtomicU64,
    /// Attempts that failed (retried or dead).
    pub failures: AtomicU64,
    /// Jobs that became dead letters.
    pub dead: AtomicU64,
    /// Leases of other workers found ended and taken back.
    pub lease_expiries: AtomicU64,
    /// Scheduling lag (now − `run_at` when an attempt started), a histogram over
    /// [`LAG_BUCKETS_MS`] (the last count is everything above).
    pub lag_buckets: [AtomicU64; LAG_BUCKETS_MS.len() + 1],
    /// The sum of every lag, in milliseconds.
    pub lag_sum_ms: AtomicU64,
}

/// Upper bounds of the scheduling-lag histogram's buckets, in milliseconds.
pub const LAG_BUCKETS_MS: [u64; 10] = [1, 5, 10, 20, 50, 100, 250, 1_000, 5_000, 30_000];

impl JobMetrics {
    fn observe_lag(&self, lag_ms: u64) {
        let bucket = LAG_BUCKETS_MS.iter().position(|b| lag_ms <= *b).unwrap_or(LAG_BUCKETS_MS.len());
        self.lag_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.lag_sum_ms.fetch_add(lag_ms, Ordering::Relaxed);
    }
}

/// The scheduler's state shared between its tasks.
pub(crate) struct Scheduler {
    config: JobsConfig,
    owner: String,
    /// The ids of the jobs this node holds.
    held: Mutex<HashSet<String>>,
    /// How many of them are log consumers (`LOG_CONSUMER_LANE`), which take no slot.
    consumers: AtomicU64,
    /// Wakes the scheduler: a local enqueue or a freed slot.
    wake: tokio::sync::Notify,
    http: reqwest::Client,
}

impl Engine {
    /// Validates and enqueues a job in `space`; `true` with the job when an idempotency key
    /// returned an earlier one.
    pub async fn enqueue_job(&self, space: &str, request: EnqueueJob) -> Result<(JobRecord, bool), EngineError> {
        let space = parse_space(space)?;
        let kind = parse_segment("kind", &request.kind)?;
        crate::check_depth("payload", &request.payload)?;
        crate::check_key(&request.idempotency_key)?;
        if let Some(key) = &request.concurrency_key
            && (key.is_empty() || key.len() > 128)
        {
            return Err(EngineError::validation("concurrency_key must be 1 to 128 characters"));
        }
        if request.concurrency_key.as_deref() == Some(switchyard_model::jobs::LOG_CONSUMER_LANE) {
            return Err(EngineError::validation(format!(
                "concurrency_key \"{}\" is reserved for the server's log consumers",
                switchyard_model::jobs::LOG_CONSUMER_LANE
            )));
        }
        let target = job_target(&space, kind.as_ref(), &request.payload)?;
        let retry = request.retry.unwrap_or_default();
        check_retry(&retry)?;
        let now = self.now();
        let run_at = match (&request.run_at, request.delay_ms) {
            (Some(_), Some(_)) => return Err(EngineError::validation("give run_at or delay_ms, not both")),
            (Some(at), None) => {
                let at = humantime::parse_rfc3339(at)
                    .map_err(|e| EngineError::validation(format!("run_at: {e} (expected RFC 3339)")))?;
                let ms = at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
                Timestamp(i64::try_from(ms).unwrap_or(i64::MAX))
            }
            (None, Some(delay)) => Timestamp(now.0.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX))),
            (None, None) => now,
        };
        let spec = JobSpec {
            id: uuid::Uuid::now_v7().to_string(),
            space,
            kind,
            target,
            payload: request.payload,
            priority: request.priority,
            concurrency_key: request.concurrency_key,
            idempotency_key: request.idempotency_key,
            run_at,
            retry,
        };
        let enqueued = self.execute(switchyard_store::EnqueueJob { spec }).await?;
        if let Some(scheduler) = self.jobs.get() {
            scheduler.wake.notify_one();
        }
        Ok((*enqueued.job, enqueued.replayed))
    }

    /// A job of a space.
    pub async fn get_job(&self, space: &str, id: &str) -> Result<JobRecord, EngineError> {
        let space = parse_space(space)?;
        self.store
            .get_job(&space, id)
            .await?
            .ok_or_else(|| StoreError::JobNotFound { space: space.to_string(), id: id.to_string() }.into())
    }

    /// A page of a space's jobs, by id.
    pub async fn list_jobs(
        &self,
        space: &str,
        status: Option<&str>,
        kind: Option<&str>,
        after: Option<String>,
        limit: Option<u32>,
    ) -> Result<Vec<JobRecord>, EngineError> {
        let space = parse_space(space)?;
        let status = status
            .map(|s| {
                JobStatus::parse(s).map_err(|_| {
                    EngineError::validation(format!(
                        "status \"{s}\": expected one of pending, running, succeeded, dead, cancelled"
                    ))
                })
            })
            .transpose()?;
        let limit = limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(EngineError::validation("limit must be between 1 and 1000"));
        }
        let query = ListJobs { space, status, kind: kind.map(str::to_string), after_id: after, limit };
        Ok(self.store.list_jobs(&query).await?)
    }

    /// Re-drives a dead or cancelled job, optionally with a new payload.
    pub async fn retry_job(&self, space: &str, id: &str, payload: Option<Value>) -> Result<JobRecord, EngineError> {
        let space = parse_space(space)?;
        if let Some(payload) = &payload {
            crate::check_depth("payload", payload)?;
            let job = self.get_job(space.as_ref(), id).await?;
            job_target(&space, job.kind.as_ref(), payload)?;
        }
        let job = self.execute(RetryJob { space, id: id.to_string(), payload }).await?;
        self.wake_scheduler();
        Ok(*job)
    }

    /// Re-drives up to `limit` dead jobs of a space (of one kind, if given); how many.
    pub async fn redrive_jobs(
        &self,
        space: &str,
        kind: Option<String>,
        limit: Option<u32>,
    ) -> Result<u64, EngineError> {
        let space = parse_space(space)?;
        let limit = limit.unwrap_or(1000);
        if !(1..=10_000).contains(&limit) {
            return Err(EngineError::validation("limit must be between 1 and 10000"));
        }
        let redriven = self.execute(RedriveJobs { space, kind, limit }).await?;
        self.wake_scheduler();
        Ok(redriven)
    }

    /// Cancels a job that has not finished.
    pub async fn cancel_job(&self, space: &str, id: &str) -> Result<JobRecord, EngineError> {
        let space = parse_space(space)?;
        let instance = self.store.get_job(&space, id).await?.and_then(|job| job.reply_instance());
        Ok(*self.execute(CancelJob { space, id: id.to_string(), instance }).await?)
    }

    /// Deletes a job that is not running.
    pub async fn delete_job(&self, space: &str, id: &str) -> Result<(), EngineError> {
        let space = parse_space(space)?;
        let instance = self.store.get_job(&space, id).await?.and_then(|job| job.reply_instance());
        Ok(self.execute(DeleteJob { space, id: id.to_string(), instance }).await?)
    }

    /// Per space: jobs pending, due, running and dead, and the oldest due job.
    pub async fn job_queue_stats(&self) -> Result<Vec<JobQueueStats>, EngineError> {
        Ok(self.store.job_queue_stats(self.now()).await?)
    }

    /// A space at a glance: its live instances by machine and status, and its job queue (`None`
    /// when it has no pending, running or dead job).
    pub async fn space_stats(
        &self,
        space: &str,
    ) -> Result<(Vec<switchyard_store::InstanceCount>, Option<JobQueueStats>), EngineError> {
        let name = crate::parse_space(space)?;
        let (instances, jobs) =
            futures_util::future::join(self.store.instance_counts(&name), self.store.job_queue_stats(self.now())).await;
        let jobs = jobs?.into_iter().find(|s| s.space == name.as_ref() as &str);
        Ok((instances?, jobs))
    }

    /// What the scheduler has done since the node started.
    pub fn job_metrics(&self) -> &JobMetrics {
        &self.job_metrics
    }

    /// Runs `work` unless the node is shutting down (`None` then, at once or as soon as it
    /// starts to): a job that would otherwise run for as long as it is wanted — a consumer of
    /// the log — hands itself back (`Failure::deferred`) so that the next node takes it without
    /// waiting for its lease to end.
    pub(crate) async fn unless_shutting_down<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        let token = self.supervisor.token();
        if token.is_cancelled() {
            return None;
        }
        tokio::select! {
            out = work => Some(out),
            _ = token.cancelled() => None,
        }
    }

    /// The HTTP client jobs send with and whether it may reach private networks (`None` when
    /// this node runs no jobs).
    pub(crate) fn http_client_for_jobs(&self) -> Option<(reqwest::Client, bool)> {
        self.jobs.get().map(|s| (s.http.clone(), s.config.allow_private_networks))
    }

    pub(crate) fn wake_scheduler(&self) {
        if let Some(scheduler) = self.jobs.get() {
            scheduler.wake.notify_one();
        }
    }

    /// Gives up the leases of the jobs this node still holds: called once shutdown has cut
    /// their attempts, so that any node runs them again at once rather than when the leases
    /// would have ended. How many it gave up.
    pub async fn release_held_jobs(&self) -> Result<u64, EngineError> {
        let Some(scheduler) = self.jobs.get() else { return Ok(0) };
        let ids: Vec<String> = scheduler.held.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let op = ReleaseJobs { owner: scheduler.owner.clone(), ids, random: rand::random::<f64>() };
        Ok(self.execute(op).await?)
    }

    /// Forgets succeeded and cancelled jobs older than the retention, in bounded chunks; how
    /// many. Dead jobs stay until a person re-drives or deletes them.
    pub async fn purge_jobs(&self) -> Result<u64, EngineError> {
        let Some(scheduler) = self.jobs.get() else { return Ok(0) };
        let retention = i64::try_from(scheduler.config.retention.as_millis()).unwrap_or(i64::MAX);
        let before = Timestamp(self.now().as_millis().saturating_sub(retention));
        self.sweep(10_000, |limit| PurgeJobs { before, limit }).await
    }

    /// Starts running jobs on this node as `owner` (its node id): the scheduler, the lease
    /// renewer and the listener for other nodes' enqueues, all supervised.
    pub fn start_jobs(self: &Arc<Self>, config: JobsConfig, owner: String) -> Result<(), EngineError> {
        install_crypto_provider();
        let http = http_client(config.allow_private_networks)?;
        let scheduler = Arc::new(Scheduler {
            config,
            owner,
            held: Mutex::new(HashSet::new()),
            consumers: AtomicU64::new(0),
            wake: tokio::sync::Notify::new(),
            http,
        });
        if self.jobs.set(scheduler).is_err() {
            return Err(EngineError::validation("jobs are already running on this node"));
        }
        let engine = Arc::downgrade(self);
        self.supervisor.spawn_named("job-scheduler", Policy::Restart, move |cancel| {
            let engine = engine.clone();
            async move {
                run_scheduler(engine, cancel).await;
                Ok(())
            }
        });
        let engine = Arc::downgrade(self);
        self.supervisor.spawn_named("job-leases", Policy::Restart, move |cancel| {
            let engine = engine.clone();
            async move {
                renew_leases(engine, cancel).await;
                Ok(())
            }
        });
        // Jobs enqueued through other nodes sharing the store wake this scheduler at once (on
        // PostgreSQL a `NOTIFY` on commit); a lost wake-up costs one poll interval.
        let engine = Arc::downgrade(self);
        self.supervisor.spawn_named("job-wakeups", Policy::Restart, move |cancel| {
            let engine = engine.clone();
            async move {
                let Some((store, scheduler)) =
                    engine.upgrade().and_then(|e| Some((e.store.clone(), e.jobs.get()?.clone())))
                else {
                    return Ok(());
                };
                let wake = move || scheduler.wake.notify_one();
                tokio::select! {
                    ended = store.listen_for_jobs(&wake) => ended.map_err(Into::into),
                    _ = cancel.cancelled() => Ok(()),
                }
            }
        });
        Ok(())
    }
}

/// Whether a job reads the log for as long as it is wanted (it takes no slot).
fn is_log_consumer(job: &JobRecord) -> bool {
    job.concurrency_key.as_deref() == Some(switchyard_model::jobs::LOG_CONSUMER_LANE)
}

/// Refuses a retry policy that breaks a rule, naming every broken field (under `retry`).
pub(crate) fn check_retry(retry: &RetryPolicy) -> Result<(), EngineError> {
    retry
        .validate_at("retry")
        .map_err(|errors| EngineError::validation(errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")))
}

/// reqwest is built without a crypto provider of its own: one must be installed before the
/// first client is built (the same one the CLI's client installs).
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Checks a job's payload for its kind and says what it acts on.
fn job_target(space: &SpaceName, kind: &str, payload: &Value) -> Result<String, EngineError> {
    let field = |name: &str| payload.get(name);
    let text = |name: &str| -> Result<&str, EngineError> {
        field(name)
            .and_then(Value::as_str)
            .ok_or_else(|| EngineError::validation(format!("payload.{name}: a string is required for a {kind} job")))
    };
    if !JOB_KINDS.contains(&kind) {
        return Err(EngineError::validation(format!("kind \"{kind}\": expected one of {}", JOB_KINDS.join(", "))));
    }
    if !payload.is_object() && kind != "noop" {
        return Err(EngineError::validation(format!("payload: an object is required for a {kind} job")));
    }
    match kind {
        "http" => {
            let spec: HttpJob = serde_json::from_value(payload.clone())
                .map_err(|e| EngineError::validation(format!("payload: {e}")))?;
            let url =
                reqwest::Url::parse(&spec.url).map_err(|e| EngineError::validation(format!("payload.url: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(EngineError::validation("payload.url: an http:// or https:// URL with a host is required"));
            }
            spec.method()?;
            let problems = switchyard_model::check_secret_headers(&spec.secret_headers, spec.headers.keys());
            if let Some((header, problem)) = problems.into_iter().next() {
                return Err(EngineError::validation(format!("payload.secret_headers.{header}: {problem}")));
            }
            if spec.timeout_ms.is_some_and(|t| t == 0 || t > MAX_HTTP_TIMEOUT.as_millis() as u64) {
                return Err(EngineError::validation("payload.timeout_ms must be between 1 and 300000"));
            }
            Ok(spec.url)
        }
        "function" => {
            let name = parse_segment("payload.function", text("function")?)?;
            Ok(format!("{space}:{name}"))
        }
        "event" => {
            let (machine, id) = instance_of(text("instance")?)?;
            text("event")?;
            if field("payload").is_some_and(|p| !p.is_object()) {
                return Err(EngineError::validation("payload.payload: an object is required"));
            }
            Ok(format!("{space}:{machine}:{id}"))
        }
        "publish" => {
            let topic = parse_segment("payload.topic", text("topic")?)?;
            Ok(format!("{space}:{topic}"))
        }
        "noop" => Ok("noop".to_string()),
        other => Err(EngineError::validation(format!("kind \"{other}\": expected one of {}", JOB_KINDS.join(", ")))),
    }
}

/// `machine:id` of an `event` job's instance.
fn instance_of(text: &str) -> Result<(Segment, Segment), EngineError> {
    let Some((machine, id)) = text.split_once(':') else {
        return Err(EngineError::validation("payload.instance: expected machine:id"));
    };
    Ok((parse_segment("payload.instance machine", machine)?, parse_segment("payload.instance id", id)?))
}

/// An `http` job's payload.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct HttpJob {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Header name to a secret template, rendered at send time (`crate::env`).
    #[serde(default)]
    secret_headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    /// The instance a machine's request reports to (read by the store, not here).
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    reply: Option<Value>,
}

impl HttpJob {
    fn method(&self) -> Result<reqwest::Method, EngineError> {
        match self.method.as_deref().unwrap_or("POST") {
            "GET" => Ok(reqwest::Method::GET),
            "POST" => Ok(reqwest::Method::POST),
            "PUT" => Ok(reqwest::Method::PUT),
            "PATCH" => Ok(reqwest::Method::PATCH),
            "DELETE" => Ok(reqwest::Method::DELETE),
            other => Err(EngineError::validation(format!(
                "payload.method \"{other}\": expected GET, POST, PUT, PATCH or DELETE"
            ))),
        }
    }
}

/// Resolves names for HTTP jobs, refusing addresses that are not global (loopback, private,
/// link-local, metadata) unless allowed: the check and the connection use the same answer, so a
/// name cannot be re-bound to an inside address in between.
#[derive(Debug, Clone, Copy)]
struct GlobalOnly;

impl reqwest::dns::Resolve for GlobalOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let global: Vec<SocketAddr> =
                addrs.into_iter().filter(|a| !switchyard_runtime::is_private(a.ip())).collect();
            if global.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves to no public address; private networks are not allowed").into();
                return Err(e);
            }
            Ok(Box::new(global.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn http_client(allow_private_networks: bool) -> Result<reqwest::Client, EngineError> {
    let mut builder =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).user_agent("switchyard-jobs");
    if !allow_private_networks {
        builder = builder.dns_resolver(Arc::new(GlobalOnly));
    }
    builder.build().map_err(|e| StoreError::Internal(format!("cannot build the HTTP client for jobs: {e}")).into())
}

async fn run_scheduler(engine: std::sync::Weak<Engine>, cancel: CancellationToken) {
    let mut cursor = FairCursor::default();
    loop {
        let Some(engine) = engine.upgrade() else { return };
        let Some(scheduler) = engine.jobs.get().cloned() else { return };
        let held = scheduler.held.lock().unwrap_or_else(|p| p.into_inner()).len();
        let consumers = usize::try_from(scheduler.consumers.load(Ordering::Relaxed)).unwrap_or(0);
        let free = scheduler.config.slots.saturating_sub(held.saturating_sub(consumers));
        let mut full_round = false;
        // A read first: an idle node writes nothing (a lease round is a write transaction).
        let next = match engine.store.next_job_wakeup().await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "reading the work table failed; retrying");
                Some(engine.now())
            }
        };
        let due = next.is_some_and(|at| at <= engine.now());
        if free > 0 && due && !cancel.is_cancelled() {
            let request = LeaseJobs {
                owner: scheduler.owner.clone(),
                max: u32::try_from(free).unwrap_or(u32::MAX),
                lease_ms: scheduler.config.lease.as_millis() as u64,
                limits: engine.job_space_limits(scheduler.config.space_limit),
                cursor: cursor.clone(),
                random: rand::random::<f64>(),
            };
            match engine.execute(request).await {
                Ok(leased) => {
                    cursor = leased.cursor;
                    let metrics = &engine.job_metrics;
                    metrics.lease_expiries.fetch_add(u64::from(leased.expired), Ordering::Relaxed);
                    full_round = leased.jobs.len() >= free;
                    let now = engine.now();
                    for job in leased.jobs {
                        metrics.attempts.fetch_add(1, Ordering::Relaxed);
                        metrics.observe_lag(u64::try_from(now.0.saturating_sub(job.run_at.0)).unwrap_or(0));
                        scheduler.held.lock().unwrap_or_else(|p| p.into_inner()).insert(job.id.clone());
                        let consumer = is_log_consumer(&job);
                        if consumer {
                            scheduler.consumers.fetch_add(1, Ordering::Relaxed);
                        }
                        let runner = engine.clone();
                        let id = job.id.clone();
                        if engine.supervisor.spawn_work("job", async move { runner.run_job(job).await }).is_err() {
                            // Shutting down: the lease ends and another node takes the job.
                            scheduler.held.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                            if consumer {
                                scheduler.consumers.fetch_sub(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "leasing jobs failed; retrying"),
            }
        }
        if cancel.is_cancelled() {
            return;
        }
        if full_round {
            // Every slot was filled: more may be due at once.
            tokio::task::yield_now().await;
            continue;
        }
        let now = engine.now();
        let poll = scheduler.config.poll;
        let sleep = match next {
            Some(at) if at.0 > now.0 => Duration::from_millis(u64::try_from(at.0 - now.0).unwrap_or(0)).min(poll),
            // Something is due (or a lease ended) but no slot is free or the space is at its limit:
            // wait for a slot, or poll.
            Some(_) => poll,
            None => poll,
        };
        drop(engine);
        tokio::select! {
            _ = scheduler.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
            _ = cancel.cancelled() => return,
        }
    }
}

async fn renew_leases(engine: std::sync::Weak<Engine>, cancel: CancellationToken) {
    loop {
        let every = {
            let Some(engine) = engine.upgrade() else { return };
            let Some(scheduler) = engine.jobs.get().cloned() else { return };
            let ids: Vec<String> = scheduler.held.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect();
            if !ids.is_empty() {
                let op = ExtendJobLeases {
                    owner: scheduler.owner.clone(),
                    ids,
                    lease_ms: scheduler.config.lease.as_millis() as u64,
                };
                if let Err(e) = engine.execute(op).await {
                    tracing::warn!(error = %e, "renewing job leases failed; retrying");
                }
            }
            scheduler.config.lease / 3
        };
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = cancel.cancelled() => return,
        }
    }
}

impl Engine {
    /// Runs one attempt of a job this node holds and records how it ended.
    async fn run_job(self: Arc<Self>, job: JobRecord) {
        let Some(scheduler) = self.jobs.get().cloned() else { return };
        let (result, report) = if job.kind.as_str() == INVOCATION_JOB {
            let (result, record) = self.invocation_attempt(&job).await;
            (result, record.map(|record| JobReport::Invocation(Box::new(record))))
        } else if job.kind.as_str() == switchyard_model::TRIGGER_JOB {
            (self.trigger_attempt(&job).await, None)
        } else if job.kind.as_str() == switchyard_model::DELIVERY_JOB {
            (self.delivery_attempt(&job).await, None)
        } else {
            (self.attempt(&scheduler, &job).await, None)
        };
        let deferred = matches!(&result, Err(failure) if failure.deferred.is_some());
        let outcome = match result {
            Ok(result) => AttemptOutcome::Succeeded(result),
            Err(Failure { deferred: Some(until), .. }) => AttemptOutcome::Deferred { until },
            Err(failure) => AttemptOutcome::Failed {
                permanent: failure.permanent || PERMANENT.contains(&failure.code.as_str()),
                error: JobError { code: failure.code, message: failure.message },
                retry_after_ms: failure.retry_after_ms,
                random: rand::random::<f64>(),
            },
        };
        let finish = FinishJob {
            space: job.space.clone(),
            id: job.id.clone(),
            owner: scheduler.owner.clone(),
            attempt: job.attempt,
            outcome,
            report,
            instance: job.reply_instance(),
        };
        match self.execute(finish).await {
            Ok(finished) => {
                let metrics = &self.job_metrics;
                match finished {
                    JobFinished::Succeeded => {
                        metrics.succeeded.fetch_add(1, Ordering::Relaxed);
                    }
                    // A deferred job did not run: not a failure.
                    JobFinished::Retrying(_) if deferred => {}
                    JobFinished::Retrying(_) => {
                        metrics.failures.fetch_add(1, Ordering::Relaxed);
                    }
                    JobFinished::Dead => {
                        metrics.failures.fetch_add(1, Ordering::Relaxed);
                        metrics.dead.fetch_add(1, Ordering::Relaxed);
                    }
                    JobFinished::NotHeld => {
                        tracing::debug!(job = %job.id, "an attempt ended after its lease was taken over or the job was cancelled")
                    }
                }
            }
            // The lease ends and the attempt is counted as failed by whichever node takes it next.
            Err(e) => tracing::warn!(job = %job.id, error = %e, "recording a job's attempt failed"),
        }
        scheduler.held.lock().unwrap_or_else(|p| p.into_inner()).remove(&job.id);
        if is_log_consumer(&job) {
            scheduler.consumers.fetch_sub(1, Ordering::Relaxed);
        }
        scheduler.wake.notify_one();
    }

    async fn attempt(&self, scheduler: &Scheduler, job: &JobRecord) -> Result<Option<Value>, Failure> {
        // A state's action may bound each attempt (`invoke.timeout`); HTTP bounds its own request.
        match job.payload.get("timeout_ms").and_then(Value::as_u64) {
            Some(ms) if job.kind.as_str() != "http" => {
                let limit = Duration::from_millis(ms);
                match tokio::time::timeout(limit, self.attempt_once(scheduler, job)).await {
                    Ok(result) => result,
                    Err(_) => Err(Failure::new(
                        "timeout",
                        format!("the attempt took longer than {}", humantime::format_duration(limit)),
                    )),
                }
            }
            _ => self.attempt_once(scheduler, job).await,
        }
    }

    async fn attempt_once(&self, scheduler: &Scheduler, job: &JobRecord) -> Result<Option<Value>, Failure> {
        let key = job.effect_key();
        match job.kind.as_ref() {
            "noop" => Ok(None),
            // A state's timer: being due is all it does; its finish moves the instance.
            TIMER_JOB => Ok(None),
            "http" => {
                // Secrets are read at send time, so the job's payload holds their names only.
                let secret_headers = match job.payload.get("secret_headers").and_then(Value::as_object) {
                    Some(templates) if !templates.is_empty() => {
                        self.render_secret_headers(&job.space, templates).await.map_err(|e| match e.code() {
                            // Not set: the job fails at once; set the secret and retry it.
                            ErrorCode::SecretNotFound | ErrorCode::ValidationFailed => {
                                Failure::permanent(e.code().as_str(), e.to_string())
                            }
                            _ => Failure::engine(e),
                        })?
                    }
                    _ => Vec::new(),
                };
                http_attempt(&scheduler.http, scheduler.config.allow_private_networks, job, &secret_headers).await
            }
            "event" => {
                let (machine, id) = instance_of(job.payload.get("instance").and_then(Value::as_str).unwrap_or(""))
                    .map_err(Failure::invalid)?;
                let request = SendEvent {
                    event: job.payload.get("event").and_then(Value::as_str).unwrap_or("").to_string(),
                    payload: job.payload.get("payload").cloned(),
                    idempotency_key: Some(format!("job:{key}")),
                    expected_state: None,
                    expected_revision: None,
                };
                let (applied, _) = self
                    .apply_event(job.space.as_ref(), machine.as_ref(), id.as_ref(), request)
                    .await
                    .map_err(Failure::engine)?;
                Ok(Some(
                    json!({ "from": applied.from, "to": applied.to, "revision": applied.revision.get(), "seq": applied.seq.0 }),
                ))
            }
            "publish" => {
                let topic = job.payload.get("topic").and_then(Value::as_str).unwrap_or("");
                let message = job.payload.get("message").cloned().unwrap_or(Value::Null);
                let message_key = job.payload.get("key").and_then(Value::as_str).map(str::to_string);
                let (seq, _) = self
                    .publish(
                        job.space.as_ref(),
                        topic,
                        message,
                        message_key,
                        BTreeMap::new(),
                        Some(format!("job:{key}")),
                    )
                    .await
                    .map_err(Failure::engine)?;
                Ok(Some(json!({ "seq": seq.0 })))
            }
            "function" => {
                let address = job.payload.get("function").and_then(Value::as_str).unwrap_or("");
                // A machine's action names its function as `name` or `space:name`.
                let name = match address.split_once(':') {
                    None => address,
                    Some((space, name)) if space == job.space.as_str() => name,
                    Some((space, _)) => {
                        return Err(Failure::permanent(
                            "capability_denied",
                            format!("a job of space {} cannot invoke a function of space {space}", job.space),
                        ));
                    }
                };
                let input = job.payload.get("input").cloned().unwrap_or(json!({}));
                let machine = job.payload.get("reply").map(|reply| {
                    let text = |field: &str| reply.get(field).and_then(Value::as_str).unwrap_or("").to_string();
                    switchyard_runtime::MachineContext {
                        instance: text("instance"),
                        state: text("state"),
                        event: switchyard_model::definition::DONE_EVENT.to_string(),
                    }
                });
                let request = crate::functions::InvokeRequest {
                    input: serde_json::to_vec(&input).unwrap_or_default(),
                    content_type: Some("application/json".into()),
                    version: job.payload.get("version").and_then(Value::as_u64),
                    idempotency_key: Some(key.to_string()),
                    trace_id: Some(job.id.clone()),
                    machine,
                    attempt: job.attempt,
                };
                let (record, output) =
                    self.invoke_function(job.space.as_ref(), name, request).await.map_err(Failure::engine)?;
                if let Some(error) = record.error {
                    let code = error.get("code").and_then(Value::as_str).unwrap_or("function_failed").to_string();
                    let message =
                        error.get("message").and_then(Value::as_str).unwrap_or("the function failed").to_string();
                    // The guest says no later attempt can succeed (`retryable: false`).
                    if error.get("retryable").and_then(Value::as_bool) == Some(false) {
                        return Err(Failure::permanent(&code, message));
                    }
                    return Err(Failure::new(&code, message));
                }
                Ok(output.map(|out| {
                    serde_json::from_slice(&out.body)
                        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&out.body).into_owned()))
                }))
            }
            other => Err(Failure::new("job_kind_unknown", format!("this node cannot run jobs of kind \"{other}\""))),
        }
    }
}

/// Errors no later attempt can get past: the job is dead at once (its payload is invalid, its
/// kind unknown to this build, its target refused by policy).
const PERMANENT: &[&str] = &["capability_denied", "job_payload_invalid", "job_kind_unknown"];

/// Why an attempt failed.
pub(crate) struct Failure {
    pub(crate) code: String,
    pub(crate) message: String,
    /// The earliest the next attempt may run.
    pub(crate) retry_after_ms: Option<u64>,
    /// No later attempt can get past it, whatever the code.
    pub(crate) permanent: bool,
    /// It did not run: due again then, the attempt not counted.
    pub(crate) deferred: Option<Timestamp>,
}

impl Failure {
    /// A failure the job's policy may retry.
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Failure {
        Failure {
            code: code.to_string(),
            message: message.into(),
            retry_after_ms: None,
            permanent: false,
            deferred: None,
        }
    }

    /// Not run now: due again at `until`, without spending an attempt.
    pub(crate) fn deferred(until: Timestamp) -> Failure {
        Failure { deferred: Some(until), ..Failure::new("deferred", "held back") }
    }

    /// A failure that ends the job at once.
    pub(crate) fn permanent(code: &str, message: impl Into<String>) -> Failure {
        Failure { permanent: true, ..Failure::new(code, message) }
    }

    /// A failure of an engine call, retried by the policy unless its code is [`PERMANENT`].
    pub(crate) fn engine(e: EngineError) -> Failure {
        Failure::new(e.code().as_str(), e.to_string())
    }

    fn invalid(e: EngineError) -> Failure {
        Failure::new("job_payload_invalid", e.to_string())
    }
}

/// Refuses a URL whose host is a literal address that is not public, unless allowed: a literal
/// never reaches the resolver ([`GlobalOnly`]), so it is checked here.
pub(crate) fn check_literal_address(url: &reqwest::Url, allow_private_networks: bool) -> Result<(), Failure> {
    if let Some(host) = url.host_str()
        && let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>()
        && switchyard_runtime::is_private(ip)
        && !allow_private_networks
    {
        return Err(Failure::new(
            "capability_denied",
            format!("{ip} is not a public address; private networks are not allowed"),
        ));
    }
    Ok(())
}

async fn http_attempt(
    client: &reqwest::Client,
    allow_private_networks: bool,
    job: &JobRecord,
    secret_headers: &[(String, String)],
) -> Result<Option<Value>, Failure> {
    let spec: HttpJob =
        serde_json::from_value(job.payload.clone()).map_err(|e| Failure::new("job_payload_invalid", e.to_string()))?;
    let method = spec.method().map_err(Failure::invalid)?;
    let url = reqwest::Url::parse(&spec.url).map_err(|e| Failure::new("job_payload_invalid", e.to_string()))?;
    check_literal_address(&url, allow_private_networks)?;
    let mut request = client
        .request(method, url)
        .timeout(spec.timeout_ms.map(Duration::from_millis).unwrap_or(Duration::from_secs(30)))
        .header("Idempotency-Key", job.effect_key())
        .header("Switchyard-Job-Id", &job.id)
        .header("Switchyard-Job-Attempt", job.attempt.to_string());
    for (name, value) in &spec.headers {
        request = request.header(name, value);
    }
    for (name, value) in secret_headers {
        let mut value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
            Failure::permanent("job_payload_invalid", format!("header {name}: not a valid header value"))
        })?;
        // Kept out of HTTP/2 header compression tables and marked for any middleware that logs.
        value.set_sensitive(true);
        request = request.header(name, value);
    }
    if let Some(body) = &spec.body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| Failure::new(if e.is_timeout() { "http_timeout" } else { "http_unreachable" }, format!("{e}")))?;
    let status = response.status();
    let headers: serde_json::Map<String, Value> = response
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_string(), Value::String(value.to_str().ok()?.to_string()))))
        .collect();
    let retry_after_ms = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|secs| secs.saturating_mul(1000));
    let body = response.bytes().await.unwrap_or_default();
    let body = &body[..body.len().min(MAX_RESULT_BODY)];
    let body_value: Value =
        serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    if status.is_success() {
        return Ok(Some(json!({ "status": status.as_u16(), "headers": headers, "body": body_value })));
    }
    Err(Failure {
        retry_after_ms,
        ..Failure::new(&format!("http_{}", status.as_u16()), format!("{} answered {status}", spec.url))
    })
}
