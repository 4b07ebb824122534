//! Outbound webhooks: endpoints in a space, and the deliveries that carry log records to them
//! as signed Standard Webhooks requests.
//!
//! An endpoint reads the log through a subscription of its own (`endpoint.NAME`, from when it
//! was first put). Its consumer — one job of kind `delivery` at a time, the endpoint's
//! `consumer_job` — turns each record its `kinds` and `filter` accept into a delivery job keyed
//! by the record (`delivery:NAME:SEQ`), then acknowledges the records. Each delivery is a job
//! too: leased, retried by the endpoint's policy (by default about three days of exponential
//! backoff with full jitter), dead when its attempts run out, re-drivable singly or by range.
//!
//! Invariants:
//! - A record is delivered to an endpoint at most once as a job (the key), and the job sends
//!   the same body under the same `webhook-id` (`msg_` and the job's id) on every attempt and
//!   after a re-drive; `webhook-timestamp` and the signatures are made fresh per attempt.
//! - A record about a delivery (a `job.*` record of a `delivery` job) is never delivered, so an
//!   endpoint that follows every kind does not feed on its own work.
//! - `410 Gone` disables the endpoint (durably, `endpoint.disabled`): its consumer stops where
//!   it is and its pending deliveries end as `endpoint_disabled`; enabling it reads on from
//!   there and the dead deliveries can be re-driven.
//! - The circuit breaker and the slow-down after `429`/`502`/`504` are per node (like any
//!   client-side breaker). While either holds an endpoint back, its deliveries are deferred
//!   (`AttemptOutcome::Deferred`): no attempt is spent waiting.
//! - Secrets are read per attempt, never cached and never stored in a job.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_model::endpoint::{CompiledEndpoint, compile_endpoint, message, parse_endpoint};
use switchyard_model::{
    DELIVERY_JOB, DefinitionFormat, EndpointRecord, JobRecord, JobSpec, JobStatus, RetryPolicy, SecretTemplate,
    Segment, SpaceName, SpaceValueKind, Timestamp, endpoint_address,
};
use switchyard_store::{DeleteEndpoint, PutEndpoint, SetEndpointDisabled, StoreError, WriteOp};

use crate::jobs::Failure;
use crate::{Engine, EngineError, parse_segment, parse_space};

/// Records a consumer reads at a time.
const BATCH: u32 = 200;

/// How long a consumer holds the records it read before they are delivered again.
const LEASE: Duration = Duration::from_secs(10);

/// How long a consumer's read waits for records before it looks at its endpoint again.
const WAIT: Duration = Duration::from_secs(5);

/// Reads of a record (each by a consumer that failed on it) before it is a dead letter of the
/// endpoint's subscription.
const MAX_READS: u32 = 10;

/// The most response body kept with a delivery's result or error.
const MAX_RESPONSE: usize = 1024;

/// The longest an open breaker waits before its next probe.
const MAX_COOLDOWN_MS: u64 = 3600 * 1000;

/// The first and the longest slow-down after a `429`, `502` or `504` without `Retry-After`.
const SLOW_DOWN_MS: (u64, u64) = (1_000, 60_000);

/// Most dead deliveries one range re-drive re-drives.
pub const MAX_REDRIVE: usize = 10_000;

/// An endpoint as the API shows it.
#[derive(Debug, Clone)]
pub struct EndpointView {
    /// The stored endpoint.
    pub record: EndpointRecord,
    /// How its deliveries go.
    pub health: EndpointHealth,
}

/// How an endpoint's deliveries go: its newest, its newest that failed, and this node's
/// breaker and slow-down.
#[derive(Debug, Clone, Default)]
pub struct EndpointHealth {
    /// The newest delivery that was attempted.
    pub last_delivery: Option<JobRecord>,
    /// The newest delivery that failed (an attempt failed or it is dead).
    pub last_failure: Option<JobRecord>,
    /// `closed`, `open` or `half_open` (on this node).
    pub breaker: &'static str,
    /// Consecutive failures (on this node).
    pub consecutive_failures: u32,
    /// While open: when the next probe may go.
    pub open_until: Option<Timestamp>,
    /// Held back after a `429`/`502`/`504` until then (on this node).
    pub slowed_until: Option<Timestamp>,
    /// Its consumer's status (`running`, `pending`; `dead` when it gave up: put the endpoint
    /// again); `None` while disabled.
    pub consumer: Option<&'static str>,
}

/// An endpoint of this node's maps: (space, name).
type EndpointKey = (String, String);

/// Per-node endpoint state: compiled endpoints by version, breakers.
#[derive(Default)]
pub(crate) struct EndpointState {
    compiled: RwLock<HashMap<EndpointKey, (u64, Arc<CompiledEndpoint>)>>,
    circuits: Mutex<HashMap<EndpointKey, Circuit>>,
}

/// One endpoint's breaker and slow-down on this node.
#[derive(Debug, Clone, Default)]
struct Circuit {
    /// Failed requests since the last success.
    failures: u32,
    /// Open until then (ms); past it, half-open: one probe at a time.
    open_until: Option<i64>,
    /// The current open time (doubled by each failed probe).
    cooldown_ms: u64,
    /// A probe is out until then (ms).
    probe_until: Option<i64>,
    /// Slowed down until then (ms).
    slowed_until: i64,
    /// The next slow-down without `Retry-After` (ms).
    slow_step_ms: u64,
}

/// How a request ended, for the breaker.
enum Answer {
    /// A 2xx.
    Delivered,
    /// A failure the breaker counts.
    Failed,
    /// `429`, `502` or `504`: slow down (after `Retry-After` if given); `counts` for the breaker.
    SlowDown { retry_after_ms: Option<u64>, counts: bool },
    /// Nothing reached the endpoint (refused by policy, a secret not set): not its failure.
    NotSent,
}

fn not_found(space: &SpaceName, name: &Segment) -> EngineError {
    StoreError::EndpointNotFound { space: space.to_string(), name: name.to_string() }.into()
}

impl Engine {
    /// Puts an endpoint (YAML or JSON): a new version unless it equals the current one. Answers
    /// the endpoint, whether it is new, and whether it changed.
    pub async fn put_endpoint(
        &self,
        space: &str,
        name: &str,
        body: &[u8],
        format: DefinitionFormat,
    ) -> Result<(EndpointView, bool, bool), EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("endpoint name", name)?;
        let compiled = compile_endpoint(parse_endpoint(body, format)?, name.as_ref())?;
        let definition = serde_json::to_value(&compiled.definition)
            .map_err(|e| EngineError::validation(format!("the endpoint cannot be stored: {e}")))?;
        if self.store.get_endpoint(&space, &name).await?.is_none() {
            // A new endpoint reads from now, even if a deleted one of the same name left its
            // subscription behind.
            self.drop_log_subscription(&space, &endpoint_subscription(&name)).await?;
        }
        let subscription = endpoint_subscription(&name);
        self.ensure_log_subscription(&space, &subscription, &compiled.definition.kinds, MAX_READS, LEASE).await?;
        let consumer = consumer_spec(&space, &name, self.now())?;
        let put = self.execute(PutEndpoint { space: space.clone(), name: name.clone(), definition, consumer }).await?;
        self.wake_scheduler();
        let view = self.endpoint_view(*put.endpoint).await?;
        Ok((view, put.created, put.changed))
    }

    /// An endpoint with its health.
    pub async fn get_endpoint(&self, space: &str, name: &str) -> Result<EndpointView, EngineError> {
        let (record, _) = self.load_endpoint(space, name).await?;
        self.endpoint_view(record).await
    }

    /// A space's endpoints, by name.
    pub async fn list_endpoints(&self, space: &str) -> Result<Vec<EndpointView>, EngineError> {
        let space = parse_space(space)?;
        let mut out = Vec::new();
        for record in self.store.list_endpoints(&space).await? {
            out.push(self.endpoint_view(record).await?);
        }
        Ok(out)
    }

    /// Deletes an endpoint and its subscription; its deliveries stay until purged (pending ones
    /// end as `endpoint_not_found`).
    pub async fn delete_endpoint(&self, space: &str, name: &str) -> Result<(), EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("endpoint name", name)?;
        self.execute(DeleteEndpoint { space: space.clone(), name: name.clone() }).await?;
        self.endpoints.circuits.lock().unwrap_or_else(|p| p.into_inner()).remove(&key_of(&space, &name));
        self.drop_log_subscription(&space, &endpoint_subscription(&name)).await
    }

    /// Disables an endpoint (`reason`) or enables it (`None`). Disabled, it reads nothing and
    /// its pending deliveries end as `endpoint_disabled`; enabled, it reads on from where it
    /// stopped, with a fresh breaker.
    pub async fn set_endpoint_disabled(
        &self,
        space: &str,
        name: &str,
        reason: Option<String>,
    ) -> Result<EndpointView, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("endpoint name", name)?;
        let consumer = match reason {
            None => Some(consumer_spec(&space, &name, self.now())?),
            Some(_) => None,
        };
        let op = SetEndpointDisabled {
            space: space.clone(),
            name: name.clone(),
            disabled: reason,
            consumer,
            unless_changed_since: None,
        };
        let record = self.execute(op).await?;
        self.endpoints.circuits.lock().unwrap_or_else(|p| p.into_inner()).remove(&key_of(&space, &name));
        self.wake_scheduler();
        self.endpoint_view(*record).await
    }

    /// A page of an endpoint's deliveries, newest first: those before the delivery `before`.
    pub async fn endpoint_deliveries(
        &self,
        space: &str,
        name: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("endpoint name", name)?;
        let limit = limit.clamp(1, 1000);
        let mut out = Vec::new();
        let mut cursor = before.map(str::to_string);
        // Consumers share the listing with deliveries: skipped here, so a page is full.
        loop {
            let page = self.store.endpoint_jobs(&space, &name, cursor.as_deref(), limit).await?;
            let done = page.len() < limit as usize;
            cursor = page.last().map(|j| j.id.clone());
            out.extend(page.into_iter().filter(is_delivery));
            if done || out.len() >= limit as usize {
                out.truncate(limit as usize);
                return Ok(out);
            }
        }
    }

    /// Re-drives one dead (or cancelled) delivery of an endpoint.
    pub async fn redrive_delivery(&self, space: &str, name: &str, id: &str) -> Result<JobRecord, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("endpoint name", name)?;
        let job = self.get_job(space.as_str(), id).await?;
        if !is_delivery(&job) || job.target != endpoint_address(space.as_str(), name.as_ref()) {
            return Err(StoreError::JobNotFound { space: space.to_string(), id: id.to_string() }.into());
        }
        self.retry_job(space.as_str(), id, None).await
    }

    /// Re-drives the endpoint's dead deliveries created in `[from, to]` (either open), at most
    /// [`MAX_REDRIVE`]; how many.
    pub async fn redrive_deliveries(
        &self,
        space: &str,
        name: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<u64, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("endpoint name", name)?;
        if let (Some(from), Some(to)) = (from, to)
            && to.0 < from.0
        {
            return Err(EngineError::validation("`to` is before `from`"));
        }
        let in_range =
            |j: &JobRecord| from.is_none_or(|f| j.created_at.0 >= f.0) && to.is_none_or(|t| j.created_at.0 <= t.0);
        let mut dead = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.store.endpoint_jobs(&space, &name, cursor.as_deref(), 1000).await?;
            let done = page.len() < 1000;
            cursor = page.last().map(|j| j.id.clone());
            // Newest first: once a page is older than `from`, no later page is in range.
            let older = from.is_some_and(|f| page.last().is_some_and(|j| j.created_at.0 < f.0));
            dead.extend(page.into_iter().filter(|j| is_delivery(j) && j.status == JobStatus::Dead && in_range(j)));
            if dead.len() > MAX_REDRIVE {
                return Err(EngineError::validation(format!(
                    "the range holds more than {MAX_REDRIVE} dead deliveries; re-drive it in smaller ranges"
                )));
            }
            if done || older {
                break;
            }
        }
        let mut count = 0;
        for chunk in dead.chunks(500) {
            let ops = chunk
                .iter()
                .map(|j| {
                    WriteOp::RetryJob(switchyard_store::RetryJob {
                        space: space.clone(),
                        id: j.id.clone(),
                        payload: None,
                    })
                })
                .collect::<Vec<_>>();
            count += self.store.write_atomic(ops).await?.len() as u64;
        }
        self.wake_scheduler();
        Ok(count)
    }

    /// Runs one attempt of an endpoint's job: its consumer, or one delivery.
    pub(crate) async fn delivery_attempt(self: &Arc<Self>, job: &JobRecord) -> Result<Option<Value>, Failure> {
        let name = job.payload.get("endpoint").and_then(Value::as_str).unwrap_or_default();
        let name = parse_segment("endpoint name", name)
            .map_err(|e| Failure::permanent("job_payload_invalid", e.to_string()))?;
        if job.payload.get("role").and_then(Value::as_str) == Some("consumer") {
            return self.consume_for_endpoint(job, name).await;
        }
        self.deliver(job, name).await
    }

    /// Reads the endpoint's subscription while `job` is its consumer, enqueuing a delivery per
    /// record it accepts, then acknowledging what it examined.
    async fn consume_for_endpoint(self: &Arc<Self>, job: &JobRecord, name: Segment) -> Result<Option<Value>, Failure> {
        let space = job.space.clone();
        let subscription = endpoint_subscription(&name);
        let target = endpoint_address(space.as_str(), name.as_ref());
        let mut enqueued = 0u64;
        loop {
            let Some(record) = self.store.get_endpoint(&space, &name).await.map_err(|e| Failure::engine(e.into()))?
            else {
                return Ok(Some(json!({ "outcome": "endpoint_deleted", "enqueued": enqueued })));
            };
            if record.disabled.is_some() || record.consumer_job.as_deref() != Some(job.id.as_str()) {
                return Ok(Some(json!({ "outcome": "stopped", "enqueued": enqueued })));
            }
            let compiled = self.compiled_endpoint(&record).map_err(Failure::engine)?;
            let pull = self.pull(space.as_str(), subscription.as_ref(), BATCH, Some(LEASE), Some(WAIT));
            let Some(reads) = self.unless_shutting_down(pull).await else {
                return Err(Failure::deferred(self.now()));
            };
            let reads = reads.map_err(Failure::engine)?;
            if reads.is_empty() {
                continue;
            }
            let now = self.now();
            let now_at = chrono::DateTime::from_timestamp_millis(now.0).unwrap_or_default().fixed_offset();
            let kind = delivery_kind().map_err(Failure::engine)?;
            let confirm = switchyard_store::ConfirmEndpointConsumer {
                space: space.clone(),
                name: name.clone(),
                consumer: job.id.clone(),
            };
            let mut ops = vec![WriteOp::ConfirmEndpointConsumer(confirm)];
            let mut examined = Vec::with_capacity(reads.len());
            for read in &reads {
                let r = &read.record;
                examined.push(r.seq);
                let record_value = r.expression_view();
                match compiled.matches(&record_value, name.as_ref(), now_at) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::debug!(endpoint = %target, seq = r.seq.0, error = %e, "an endpoint's filter failed on a record; not delivered");
                        continue;
                    }
                }
                if self.is_delivery_record(&space, r).await.map_err(Failure::engine)? {
                    continue;
                }
                let payload = json!({
                    "endpoint": name,
                    "endpoint_created_ms": record.created_at.0,
                    "seq": r.seq.0,
                    "type": r.kind,
                    "message": message(&record_value),
                });
                let spec = JobSpec {
                    id: uuid::Uuid::now_v7().to_string(),
                    space: space.clone(),
                    kind: kind.clone(),
                    target: target.clone(),
                    payload,
                    priority: 0,
                    concurrency_key: Some(format!("endpoint:{name}")),
                    idempotency_key: Some(format!("delivery:{name}:{}", r.seq.0)),
                    run_at: now,
                    retry: compiled.retry.clone(),
                };
                ops.push(WriteOp::EnqueueJob(switchyard_store::EnqueueJob { spec }));
            }
            // One transaction: still the consumer, the deliveries, the records acknowledged. A
            // crash before it re-reads the records after their lease (the keys keep each
            // delivery single); a consumer superseded meanwhile (disabled, a new version,
            // deleted) commits nothing and hands the records back at once.
            let new = ops.len() - 1;
            ops.push(WriteOp::Ack(switchyard_store::Ack {
                space: space.clone(),
                name: subscription.clone(),
                seqs: examined,
            }));
            match self.store.write_atomic(ops).await {
                Ok(_) => {
                    enqueued += new as u64;
                    if new > 0 {
                        self.wake_scheduler();
                    }
                }
                Err(StoreError::BatchFailed { index: 0, .. }) => {
                    let leases: Vec<_> = reads.iter().map(|r| (r.record.seq, r.deliveries)).collect();
                    if let Err(e) = self.nack(space.as_str(), subscription.as_ref(), leases).await {
                        tracing::debug!(endpoint = %target, error = %e, "handing back a superseded consumer's records failed; their lease ends");
                    }
                    return Ok(Some(json!({ "outcome": "stopped", "enqueued": enqueued })));
                }
                Err(e) => return Err(Failure::engine(e.into())),
            }
        }
    }

    /// Whether a record is about a delivery job (so never delivered itself).
    async fn is_delivery_record(
        &self,
        space: &SpaceName,
        r: &switchyard_model::LogRecord,
    ) -> Result<bool, EngineError> {
        if !r.kind.starts_with("job.") {
            return Ok(false);
        }
        if r.payload.get("kind").and_then(Value::as_str) == Some(DELIVERY_JOB) {
            return Ok(true);
        }
        let Some(id) = r.address.strip_prefix(&format!("{space}:jobs:")) else { return Ok(false) };
        Ok(match self.store.get_job(space, id).await? {
            Some(job) => job.kind.as_str() == DELIVERY_JOB,
            // Gone (purged): its kind is unknown; a delivery's records would be purged with it
            // only long after it was read, so this is someone else's job.
            None => false,
        })
    }

    /// Sends one delivery: signed, through the breaker.
    async fn deliver(&self, job: &JobRecord, name: Segment) -> Result<Option<Value>, Failure> {
        let space = job.space.clone();
        let record = match self.store.get_endpoint(&space, &name).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                return Err(Failure::permanent(
                    "endpoint_not_found",
                    format!("endpoint {space}:{name} was deleted; the delivery is not sent"),
                ));
            }
            Err(e) => return Err(Failure::engine(e.into())),
        };
        // A delivery belongs to the endpoint that read its record: one deleted and put again
        // under the same name (another URL, another secret) does not receive it.
        if job.payload.get("endpoint_created_ms").and_then(Value::as_i64).is_some_and(|ms| ms != record.created_at.0) {
            return Err(Failure::permanent(
                "endpoint_not_found",
                format!("endpoint {space}:{name} was deleted and put again; this delivery belonged to the one before"),
            ));
        }
        if let Some(reason) = &record.disabled {
            return Err(Failure::permanent(
                "endpoint_disabled",
                format!("endpoint {space}:{name} is disabled ({reason}); enable it and re-drive the delivery"),
            ));
        }
        let compiled = self.compiled_endpoint(&record).map_err(Failure::engine)?;
        let key = key_of(&space, &name);
        let now = self.now().0;
        let probe = match self.admit(&key, now, compiled.timeout_ms) {
            Ok(probe) => probe,
            Err(until) => {
                // Spread out, so that a backlog held back together does not come due together.
                let jitter = (rand::random::<f64>() * 2_000.0) as i64;
                return Err(Failure::deferred(Timestamp(until + jitter)));
            }
        };
        let result = self.send_delivery(job, &space, &compiled).await;
        let answer = match &result {
            Ok(_) => Answer::Delivered,
            Err((failure, status)) => match status {
                Some(429) => Answer::SlowDown { retry_after_ms: failure.retry_after_ms, counts: false },
                Some(502 | 504) => Answer::SlowDown { retry_after_ms: failure.retry_after_ms, counts: true },
                Some(_) => Answer::Failed,
                None if matches!(failure.code.as_str(), "http_timeout" | "http_unreachable") => Answer::Failed,
                None => Answer::NotSent,
            },
        };
        self.settle(&key, self.now().0, answer, probe, &compiled);
        match result {
            Ok(value) => Ok(Some(value)),
            Err((failure, Some(410))) => {
                let reason = format!("{} answered 410 Gone", compiled.definition.url);
                // Only the endpoint as this attempt saw it: not a newer version, nor one a
                // person enabled again meanwhile.
                let op = SetEndpointDisabled {
                    space: space.clone(),
                    name: name.clone(),
                    disabled: Some(reason.clone()),
                    consumer: None,
                    unless_changed_since: Some((record.version, record.updated_at)),
                };
                if let Err(e) = self.execute(op).await {
                    tracing::warn!(endpoint = %name, error = %e, "disabling an endpoint after 410 Gone failed");
                    return Err(Failure::engine(e.into()));
                }
                self.endpoints.circuits.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
                Err(Failure::permanent(
                    "endpoint_gone",
                    format!("{reason}; the endpoint is disabled ({})", failure.message),
                ))
            }
            Err((failure, _)) => Err(failure),
        }
    }

    /// Sends a delivery's request; its result, or the failure and the status that caused it.
    async fn send_delivery(
        &self,
        job: &JobRecord,
        space: &SpaceName,
        compiled: &CompiledEndpoint,
    ) -> Result<Value, (Failure, Option<u16>)> {
        let def = &compiled.definition;
        let secret = self.read_secret(space, &def.secret).await.map_err(|f| (f, None))?;
        let key = switchyard_webhooks::decode_whsec(&secret).map_err(|e| {
            (Failure::permanent("endpoint_secret_invalid", format!("secret: not a whsec_ secret: {e}")), None)
        })?;
        let signing_key = match &def.signing_key {
            Some(reference) => {
                let text = self.read_secret(space, reference).await.map_err(|f| (f, None))?;
                Some(switchyard_webhooks::decode_whsk(&text).map_err(|e| {
                    (Failure::permanent("endpoint_secret_invalid", format!("signing_key: not a whsk_ key: {e}")), None)
                })?)
            }
            None => None,
        };
        let message = job.payload.get("message").cloned().unwrap_or(Value::Null);
        let body = serde_json::to_vec(&message)
            .map_err(|e| (Failure::permanent("job_payload_invalid", e.to_string()), None))?;
        let id = webhook_id(&job.id);
        let timestamp = self.now().0.div_euclid(1000);
        let mut signature = switchyard_webhooks::sign_v1(&key, &id, timestamp, &body);
        if let Some(signing_key) = &signing_key {
            signature.push(' ');
            signature.push_str(&switchyard_webhooks::sign_v1a(signing_key, &id, timestamp, &body));
        }
        let (client, allow_private) = self
            .http_client_for_jobs()
            .ok_or_else(|| (Failure::new("unavailable", "this node does not run jobs"), None))?;
        let url = reqwest::Url::parse(&def.url)
            .map_err(|e| (Failure::permanent("job_payload_invalid", e.to_string()), None))?;
        crate::jobs::check_literal_address(&url, allow_private).map_err(|f| (f, None))?;
        let mut request = client
            .post(url)
            .timeout(Duration::from_millis(compiled.timeout_ms))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
        for (name, value) in &def.headers {
            request = request.header(name, value);
        }
        let started = Instant::now();
        let response = request.body(body).send().await.map_err(|e| {
            let code = if e.is_timeout() { "http_timeout" } else { "http_unreachable" };
            (Failure::new(code, format!("{}: {e}", def.url)), None)
        })?;
        let status = response.status();
        let retry_after_ms = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
        // Only the start of the answer is kept: read that much and drop the connection, however
        // much the endpoint sends.
        let mut response = response;
        let mut text = Vec::new();
        while text.len() < MAX_RESPONSE {
            match response.chunk().await {
                Ok(Some(chunk)) => text.extend_from_slice(&chunk[..chunk.len().min(MAX_RESPONSE - text.len())]),
                Ok(None) | Err(_) => break,
            }
        }
        let latency_ms = started.elapsed().as_millis() as u64;
        let snippet = String::from_utf8_lossy(&text[..text.len().min(MAX_RESPONSE)]).into_owned();
        if status.is_success() {
            return Ok(json!({
                "status": status.as_u16(),
                "latency_ms": latency_ms,
                "webhook_id": id,
                "response": snippet,
            }));
        }
        let mut message = format!("{} answered {status} in {latency_ms} ms", def.url);
        if !snippet.is_empty() {
            message.push_str(": ");
            message.push_str(&snippet);
        }
        let failure = Failure { retry_after_ms, ..Failure::new(&format!("http_{}", status.as_u16()), message) };
        Err((failure, Some(status.as_u16())))
    }

    /// A secret's value, by a `{{secrets.NAME}}` reference.
    async fn read_secret(&self, space: &SpaceName, reference: &str) -> Result<String, Failure> {
        let template =
            SecretTemplate::parse(reference).map_err(|e| Failure::permanent("validation_failed", e.to_string()))?;
        let Some(name) = template.secrets().next() else {
            return Err(Failure::permanent("validation_failed", "no secret is referenced"));
        };
        match self.store.space_value(space, SpaceValueKind::Secret, name).await {
            Ok(Some(value)) => Ok(value.value),
            Ok(None) => Err(Failure::permanent(
                "secret_not_found",
                format!("secret {name} is not set (switchyard secret set {name}); set it and re-drive the delivery"),
            )),
            Err(e) => Err(Failure::engine(e.into())),
        }
    }

    /// Whether a delivery may go now (`Ok(true)` when it is the half-open breaker's probe);
    /// when it may not, until when it waits.
    fn admit(&self, key: &EndpointKey, now: i64, timeout_ms: u64) -> Result<bool, i64> {
        let mut circuits = self.endpoints.circuits.lock().unwrap_or_else(|p| p.into_inner());
        let circuit = circuits.entry(key.clone()).or_default();
        if circuit.slowed_until > now {
            return Err(circuit.slowed_until);
        }
        let Some(open_until) = circuit.open_until else { return Ok(false) };
        if now < open_until {
            return Err(open_until);
        }
        // Half-open: one probe at a time; the others wait for its answer (looking again within
        // a few seconds, so a quick answer is not waited on for the probe's whole timeout).
        if let Some(probe) = circuit.probe_until
            && probe > now
        {
            return Err(probe.min(now + 5_000));
        }
        circuit.probe_until = Some(now + i64::try_from(timeout_ms).unwrap_or(i64::MAX / 2) + 1_000);
        Ok(true)
    }

    /// Updates the breaker and the slow-down with how a request ended (`probe`: it was the
    /// half-open breaker's probe). Only the probe's answer reopens the breaker: requests that
    /// were already in flight when it opened fail late without pushing it further open.
    fn settle(&self, key: &EndpointKey, now: i64, answer: Answer, probe: bool, compiled: &CompiledEndpoint) {
        let mut circuits = self.endpoints.circuits.lock().unwrap_or_else(|p| p.into_inner());
        let circuit = circuits.entry(key.clone()).or_default();
        let counts = match answer {
            Answer::Delivered => {
                *circuit = Circuit::default();
                return;
            }
            Answer::Failed => true,
            Answer::NotSent => {
                // A probe that was not sent leaves the breaker half-open for the next one.
                if probe {
                    circuit.probe_until = None;
                }
                return;
            }
            Answer::SlowDown { retry_after_ms, counts } => {
                let step = circuit.slow_step_ms.clamp(SLOW_DOWN_MS.0, SLOW_DOWN_MS.1);
                let wait = retry_after_ms.unwrap_or(step).min(MAX_COOLDOWN_MS);
                circuit.slowed_until = now + i64::try_from(wait).unwrap_or(0);
                circuit.slow_step_ms = (step * 2).min(SLOW_DOWN_MS.1);
                counts
            }
        };
        if !counts {
            // Not a failure of the endpoint (a 429): a probe that met one proved nothing.
            if probe {
                circuit.probe_until = None;
            }
            return;
        }
        circuit.failures = circuit.failures.saturating_add(1);
        if circuit.open_until.is_some() && !probe {
            // A request that was in flight when the breaker opened: counted, nothing more.
        } else if circuit.open_until.is_some() {
            // A failed probe: open again, for twice as long.
            circuit.cooldown_ms = (circuit.cooldown_ms.max(compiled.breaker_cooldown_ms) * 2).min(MAX_COOLDOWN_MS);
            circuit.open_until = Some(now + i64::try_from(circuit.cooldown_ms).unwrap_or(0));
            circuit.probe_until = None;
        } else if circuit.failures >= compiled.breaker_failures {
            circuit.cooldown_ms = compiled.breaker_cooldown_ms;
            circuit.open_until = Some(now + i64::try_from(circuit.cooldown_ms).unwrap_or(0));
            circuit.probe_until = None;
        }
    }

    async fn load_endpoint(
        &self,
        space: &str,
        name: &str,
    ) -> Result<(EndpointRecord, Arc<CompiledEndpoint>), EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("endpoint name", name)?;
        let Some(record) = self.store.get_endpoint(&space, &name).await? else {
            return Err(not_found(&space, &name));
        };
        let compiled = self.compiled_endpoint(&record)?;
        Ok((record, compiled))
    }

    fn compiled_endpoint(&self, record: &EndpointRecord) -> Result<Arc<CompiledEndpoint>, EngineError> {
        let key = key_of(&record.space, &record.name);
        if let Some((version, compiled)) = self.endpoints.compiled.read().unwrap_or_else(|p| p.into_inner()).get(&key)
            && *version == record.version
        {
            return Ok(Arc::clone(compiled));
        }
        let definition = serde_json::from_value(record.definition.clone())
            .map_err(|e| StoreError::Corrupt(format!("endpoint {}: {e}", record.name)))?;
        let compiled = Arc::new(
            compile_endpoint(definition, record.name.as_ref())
                .map_err(|e| StoreError::Corrupt(format!("endpoint {} no longer compiles: {e}", record.name)))?,
        );
        self.endpoints
            .compiled
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (record.version, Arc::clone(&compiled)));
        Ok(compiled)
    }

    async fn endpoint_view(&self, record: EndpointRecord) -> Result<EndpointView, EngineError> {
        let recent = self.endpoint_deliveries(record.space.as_str(), record.name.as_ref(), None, 50).await?;
        let mut health = EndpointHealth {
            last_delivery: recent.iter().find(|j| j.attempt > 0).cloned(),
            last_failure: recent
                .iter()
                .find(|j| j.status == JobStatus::Dead || (j.last_error.is_some() && !j.status.is_terminal()))
                .cloned(),
            breaker: "closed",
            ..EndpointHealth::default()
        };
        if let Some(id) = &record.consumer_job {
            health.consumer = self.store.get_job(&record.space, id).await?.map(|job| job.status.as_str());
        }
        let now = self.now().0;
        if let Some(circuit) =
            self.endpoints.circuits.lock().unwrap_or_else(|p| p.into_inner()).get(&key_of(&record.space, &record.name))
        {
            health.consecutive_failures = circuit.failures;
            if let Some(until) = circuit.open_until {
                health.breaker = if until > now { "open" } else { "half_open" };
                health.open_until = Some(Timestamp(until));
            }
            if circuit.slowed_until > now {
                health.slowed_until = Some(Timestamp(circuit.slowed_until));
            }
        }
        Ok(EndpointView { record, health })
    }
}

fn key_of(space: &SpaceName, name: &Segment) -> EndpointKey {
    (space.to_string(), name.to_string())
}

fn delivery_kind() -> Result<Segment, EngineError> {
    Segment::new(DELIVERY_JOB).map_err(|e| StoreError::Internal(format!("job kind {DELIVERY_JOB}: {e}")).into())
}

/// Whether an endpoint's job is a delivery (not its consumer).
fn is_delivery(job: &JobRecord) -> bool {
    job.payload.get("role").and_then(Value::as_str) != Some("consumer")
}

/// An endpoint's consumer job.
fn consumer_spec(space: &SpaceName, name: &Segment, now: Timestamp) -> Result<JobSpec, EngineError> {
    Ok(JobSpec {
        id: uuid::Uuid::now_v7().to_string(),
        space: space.clone(),
        kind: delivery_kind()?,
        target: endpoint_address(space.as_str(), name.as_ref()),
        payload: json!({ "endpoint": name, "role": "consumer" }),
        priority: 0,
        concurrency_key: Some(switchyard_model::jobs::LOG_CONSUMER_LANE.to_owned()),
        idempotency_key: None,
        run_at: now,
        // Reading or enqueuing failed for a reason that may pass: 1,000 attempts backing off to a
        // minute (about 16 hours); a consumer that gave up is started again by putting the
        // endpoint (its health shows `consumer: dead`).
        retry: RetryPolicy {
            max_attempts: 1000,
            initial_ms: 1_000,
            multiplier: 2.0,
            max_ms: 60_000,
            ..RetryPolicy::default()
        },
    })
}

/// The subscription an endpoint reads: `endpoint.NAME` (a hash of the name when that is too
/// long to be a name).
fn endpoint_subscription(name: &Segment) -> Segment {
    let plain = format!("endpoint.{name}");
    Segment::new(&plain).unwrap_or_else(|_| {
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(name.as_ref().as_bytes()));
        Segment::new(&format!("endpoint.{}", &digest[..32])).unwrap_or_else(|_| name.clone())
    })
}

/// A delivery's `webhook-id`: `msg_` and its job's id without dashes (stable across attempts
/// and re-drives).
pub fn webhook_id(job_id: &str) -> String {
    let mut id = String::with_capacity(4 + job_id.len());
    id.push_str("msg_");
    id.extend(job_id.chars().filter(|c| *c != '-'));
    id
}

/// `Retry-After` in milliseconds from `now`: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).map(|d| d.as_millis() as u64).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after("120", now), Some(120_000));
        assert_eq!(parse_retry_after(" 0 ", now), Some(0));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now), Some(120_000));
        // A date in the past: retry at once.
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(0));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn webhook_ids_are_stable_and_prefixed() {
        assert_eq!(webhook_id("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), "msg_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b");
    }
}
