//! Triggers: putting, reading, pausing and deleting them; accepting a webhook; and running an
//! execution (a job of kind `trigger`): a webhook delivery, one fire time of a schedule, a
//! catch-up, a backfilled time or a manual firing.
//!
//! Invariants:
//! - A webhook is answered `202` only once its execution job is committed, so a crash after
//!   the answer loses nothing; a request that does not verify stores nothing (a per-node
//!   counter and the last reason only, for the trigger's health).
//! - A delivery id (`webhook-id`, `X-GitHub-Delivery`, …) is the execution job's idempotency
//!   key: a replay while the first execution is kept (`--job-retention`) fires nothing again.
//! - Every execution starts its target with the idempotency key `trigger:{job id}`, so an
//!   attempt run twice (a lease taken over after a crash) starts one run, instance, invocation
//!   or message.
//! - A schedule moves on only from its head job (`AdvanceSchedule` compares it), before the
//!   head fires: each fire time has one job however many nodes run, and a crash between moving
//!   on and firing re-runs the same job, which fires under the same key.
//! - Secrets are read when a request is verified, never cached and never stored in a job.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{Value, json};
use switchyard_model::quotas::TokenBucket;
use switchyard_model::trigger::{CompiledTrigger, Firing, Overlap, Source, compile_trigger, parse_trigger};
use switchyard_model::{
    DefinitionFormat, InstanceStatus, JobRecord, JobSpec, JobStatus, RetryPolicy, SecretTemplate, Segment, SpaceName,
    SpaceValueKind, TRIGGER_JOB, Timestamp, TriggerRecord, trigger_address,
};
use switchyard_store::{
    AdvanceSchedule, DeleteTrigger, PauseTrigger, PutTrigger, RecordExecution, StoreError, WriteOp,
};
use switchyard_webhooks::{Algorithm, Encoding, GenericHmac, Scheme, VerifyError};

use crate::jobs::Failure;
use crate::{CreateInstance, Engine, EngineError, SendEvent, parse_segment, parse_space};

/// Next fire times a trigger's view lists.
const NEXT_FIRE_TIMES: usize = 5;

/// Most fire times one backfill enqueues.
pub const MAX_BACKFILL: usize = 1_000;

/// Most missed fire times one schedule's catch-up enqueues.
const MAX_CATCH_UP: usize = 1_000;

/// Headers a webhook's execution does not keep (credentials of other kinds).
const DROPPED_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// Records an event-pattern consumer reads at a time.
const EVENT_BATCH: u32 = 100;

/// How long a consumer holds the records it read before they are delivered again.
const EVENT_LEASE: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a consumer's read waits for records before it looks at its trigger again.
const EVENT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Deliveries of a record (each a consumer that failed on it) before it is a dead letter of
/// the trigger's subscription.
const EVENT_MAX_DELIVERIES: u32 = 10;

/// How often a buffered fire time (`overlap: buffer_one`) looks again whether the previous run
/// ended, at most.
const BUFFER_RECHECK_MS: u64 = 1_000;

/// A trigger as the API shows it.
#[derive(Debug, Clone)]
pub struct TriggerView {
    /// The stored trigger.
    pub record: TriggerRecord,
    /// A schedule's next fire times (none while paused).
    pub next_fire_times: Vec<Timestamp>,
    /// What it did last.
    pub health: TriggerHealth,
}

/// Whether a trigger works: its last execution, its last failed one, and the requests this
/// node refused.
#[derive(Debug, Clone, Default)]
pub struct TriggerHealth {
    /// The newest execution.
    pub last_execution: Option<JobRecord>,
    /// The newest execution that failed (an attempt failed or it is dead).
    pub last_failure: Option<JobRecord>,
    /// Webhook requests this node refused since it started (unverified, rate-limited).
    pub rejected: u64,
    /// The last refusal: when and why.
    pub last_rejection: Option<(Timestamp, String)>,
}

/// A webhook request as received.
#[derive(Debug, Clone, Default)]
pub struct WebhookRequest {
    /// Its headers (names as received).
    pub headers: Vec<(String, String)>,
    /// Its query parameters.
    pub query: BTreeMap<String, String>,
    /// Its body.
    pub body: Vec<u8>,
}

/// A webhook was accepted: its execution.
#[derive(Debug, Clone)]
pub struct WebhookAccepted {
    /// The execution (job) id.
    pub execution: String,
    /// Whether the delivery id was seen before (nothing new was stored).
    pub replayed: bool,
}

/// A trigger of this node's maps: (space, name).
type TriggerKey = (String, String);

/// Requests refused: how many, and the last one's time and reason.
type Rejections = (u64, Timestamp, String);

/// Per-node trigger state: compiled triggers by version, refusal counters, rate limits.
#[derive(Default)]
pub(crate) struct TriggerState {
    compiled: RwLock<HashMap<TriggerKey, (u64, Arc<CompiledTrigger>)>>,
    rejections: Mutex<HashMap<TriggerKey, Rejections>>,
    buckets: Mutex<HashMap<TriggerKey, TokenBucket>>,
}

fn not_found(space: &SpaceName, name: &Segment) -> EngineError {
    StoreError::TriggerNotFound { space: space.to_string(), name: name.to_string() }.into()
}

fn now_of(at: Timestamp) -> switchyard_model::trigger::Now {
    chrono::DateTime::from_timestamp_millis(at.0).unwrap_or_default().fixed_offset()
}

impl Engine {
    /// Puts a trigger (YAML or JSON): a new version unless it equals the current one. Answers
    /// the trigger, whether it is new, and whether it changed.
    pub async fn put_trigger(
        &self,
        space: &str,
        name: &str,
        body: &[u8],
        format: DefinitionFormat,
    ) -> Result<(TriggerView, bool, bool), EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("trigger name", name)?;
        let compiled = compile_trigger(parse_trigger(body, format)?, space.as_str(), name.as_ref())?;
        let definition = serde_json::to_value(&compiled.definition)
            .map_err(|e| EngineError::validation(format!("the trigger cannot be stored: {e}")))?;
        // An event pattern reads the log through a subscription of its own, made (or kept, or
        // remade when its kinds changed) before the trigger names it; another source has none.
        match &compiled.definition.source.event {
            Some(event) => self.ensure_event_subscription(&space, &name, &event.kinds).await?,
            None => self.drop_event_subscription(&space, &name).await?,
        }
        let first_job = self.next_schedule_job(&space, &name, &compiled, self.now().0)?;
        let put = self.execute(PutTrigger { space: space.clone(), name: name.clone(), definition, first_job }).await?;
        self.wake_scheduler();
        let view = self.trigger_view(*put.trigger, Some(Arc::new(compiled))).await?;
        Ok((view, put.created, put.changed))
    }

    /// A trigger with its next fire times and health.
    pub async fn get_trigger(&self, space: &str, name: &str) -> Result<TriggerView, EngineError> {
        let (record, compiled) = self.load_trigger(space, name).await?;
        self.trigger_view(record, Some(compiled)).await
    }

    /// A space's triggers, by name (with their next fire times and health).
    pub async fn list_triggers(&self, space: &str) -> Result<Vec<TriggerView>, EngineError> {
        let space = parse_space(space)?;
        let mut out = Vec::new();
        for record in self.store.list_triggers(&space).await? {
            let compiled = self.compiled_trigger(&record).ok();
            out.push(self.trigger_view(record, compiled).await?);
        }
        Ok(out)
    }

    /// Deletes a trigger; its executions stay until purged.
    pub async fn delete_trigger(&self, space: &str, name: &str) -> Result<(), EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("trigger name", name)?;
        self.execute(DeleteTrigger { space: space.clone(), name: name.clone() }).await?;
        self.drop_event_subscription(&space, &name).await
    }

    /// Pauses (`true`) or resumes a trigger. A paused schedule fires nothing and a paused
    /// webhook answers `503`; resumed, a schedule fires from its next fire time after now.
    pub async fn pause_trigger(&self, space: &str, name: &str, paused: bool) -> Result<TriggerView, EngineError> {
        let (record, compiled) = self.load_trigger(space, name).await?;
        let resume_job =
            if paused { None } else { self.next_schedule_job(&record.space, &record.name, &compiled, self.now().0)? };
        let op = PauseTrigger { space: record.space.clone(), name: record.name.clone(), paused, resume_job };
        let record = self.execute(op).await?;
        self.wake_scheduler();
        self.trigger_view(*record, Some(compiled)).await
    }

    /// Fires a trigger now, whatever its source: a schedule with `fire_time` now, a webhook with
    /// `body` (no headers, no delivery id), an event pattern with `body` as the record. Answers
    /// the execution (job).
    pub async fn fire_trigger(&self, space: &str, name: &str, body: Option<Value>) -> Result<JobRecord, EngineError> {
        let (record, _) = self.load_trigger(space, name).await?;
        if let Some(body) = &body {
            crate::check_depth("body", body)?;
        }
        let now = self.now();
        let payload = json!({
            "trigger": record.name,
            "source": "manual",
            "fire_ms": now.0,
            "body": body.unwrap_or_else(|| json!({})),
        });
        let spec = execution_spec(&record.space, &record.name, payload, now, None, execution_retry(false))?;
        let enqueued = self.execute(switchyard_store::EnqueueJob { spec }).await?;
        self.wake_scheduler();
        Ok(*enqueued.job)
    }

    /// Enqueues one execution per fire time of a schedule in `[from, to]` (at most
    /// [`MAX_BACKFILL`]); a time backfilled before is not enqueued again. Answers the fire times
    /// and how many of them were new.
    pub async fn backfill_trigger(
        &self,
        space: &str,
        name: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<(Vec<Timestamp>, usize), EngineError> {
        let (record, compiled) = self.load_trigger(space, name).await?;
        let Source::Schedule { schedule, .. } = &compiled.source else {
            return Err(EngineError::validation(format!(
                "trigger {} has no schedule; only a cron, interval or at trigger is backfilled",
                record.name
            )));
        };
        if to.0 < from.0 {
            return Err(EngineError::validation("`to` is before `from`"));
        }
        let times = schedule.fire_times(from.0.saturating_sub(1), to.0, MAX_BACKFILL + 1);
        if times.len() > MAX_BACKFILL {
            return Err(EngineError::validation(format!(
                "the range holds more than {MAX_BACKFILL} fire times; backfill it in smaller ranges"
            )));
        }
        let now = self.now();
        let mut ops = Vec::with_capacity(times.len());
        for at in &times {
            let payload = json!({ "trigger": record.name, "source": "backfill", "fire_ms": at });
            let key = format!("backfill:{}:{at}", record.name);
            let spec = execution_spec(&record.space, &record.name, payload, now, Some(key), execution_retry(false))?;
            ops.push(WriteOp::EnqueueJob(switchyard_store::EnqueueJob { spec }));
        }
        let mut new = 0;
        if !ops.is_empty() {
            for outcome in self.store.write_atomic(ops).await? {
                if let switchyard_store::WriteOutcome::JobEnqueued(e) = outcome
                    && !e.replayed
                {
                    new += 1;
                }
            }
            self.wake_scheduler();
        }
        Ok((times.into_iter().map(Timestamp).collect(), new))
    }

    /// A page of a trigger's executions, newest first: those before the execution `before`.
    pub async fn trigger_executions(
        &self,
        space: &str,
        name: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("trigger name", name)?;
        Ok(self.store.trigger_jobs(&space, &name, before, limit.clamp(1, 1000)).await?)
    }

    /// Verifies a webhook request against its trigger and, once its execution is committed,
    /// accepts it.
    pub async fn accept_webhook(
        &self,
        space: &str,
        name: &str,
        request: WebhookRequest,
    ) -> Result<WebhookAccepted, EngineError> {
        let (record, compiled) = self.load_trigger(space, name).await?;
        let Source::Webhook(spec) = &compiled.source else {
            return Err(EngineError::TriggerNotFound(format!(
                "trigger {}:{} has no webhook source; it fires on its own",
                record.space, record.name
            )));
        };
        if record.paused {
            return Err(EngineError::TriggerPaused(format!(
                "trigger {}:{} is paused; deliver again once it is resumed",
                record.space, record.name
            )));
        }
        let now = self.now();
        if let Some(rate) = spec.rate_limit
            && let Err(retry_after_ms) = self.take_token(&record, rate, now)
        {
            let message = format!("over the trigger's rate limit of {rate} requests a second");
            self.note_rejection(&record, now, message.clone());
            return Err(EngineError::RateLimited { message, retry_after_ms });
        }
        let scheme = match self.webhook_scheme(&record.space, spec).await {
            Ok(scheme) => scheme,
            Err(reason) => {
                self.note_rejection(&record, now, reason.clone());
                return Err(EngineError::WebhookUnverified(
                    "the request cannot be verified: the trigger's verification is misconfigured (its health says how)"
                        .into(),
                ));
            }
        };
        let headers: Vec<(&str, &str)> = request.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let tolerance = spec.tolerance.map_or(switchyard_webhooks::DEFAULT_TOLERANCE_SECS, |ms| ms / 1000);
        let verified = match scheme.verify(&headers[..], &request.body, now.0.div_euclid(1000), tolerance) {
            Ok(verified) => verified,
            Err(e) => {
                self.note_rejection(&record, now, e.to_string());
                return Err(EngineError::WebhookUnverified(unverified_message(&e)));
            }
        };
        // A verified delivery is a request of its space, paced by the space's quota; one that
        // does not verify costs the space nothing, so no one can spend its rate from outside.
        self.admit_request(record.space.as_str())?;
        let body = match serde_json::from_slice::<Value>(&request.body) {
            Ok(json) => json,
            Err(_) => match String::from_utf8(request.body) {
                Ok(text) => Value::String(text),
                Err(_) => return Err(EngineError::validation("the body is neither JSON nor UTF-8 text")),
            },
        };
        crate::check_depth("body", &body)?;
        let kept: serde_json::Map<String, Value> = request
            .headers
            .iter()
            .filter(|(n, _)| !DROPPED_HEADERS.iter().any(|d| n.eq_ignore_ascii_case(d)))
            .map(|(n, v)| (n.to_ascii_lowercase(), Value::String(v.clone())))
            .collect();
        let payload = json!({
            "trigger": record.name,
            "source": "webhook",
            "delivery_id": verified.delivery_id,
            "body": body,
            "headers": kept,
            "query": request.query,
        });
        // A long delivery id is hashed into the key, which has a length limit.
        let key = verified.delivery_id.as_ref().map(|id| {
            let id = if id.len() > 160 || id.chars().any(char::is_control) {
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(id.as_bytes()))
            } else {
                id.clone()
            };
            format!("webhook:{}:{id}", record.name)
        });
        let spec = execution_spec(&record.space, &record.name, payload, now, key, execution_retry(false))?;
        let enqueued = self.execute(switchyard_store::EnqueueJob { spec }).await?;
        if !enqueued.replayed {
            self.wake_scheduler();
        }
        Ok(WebhookAccepted { execution: enqueued.job.id, replayed: enqueued.replayed })
    }

    /// Runs one attempt of a trigger's execution: decides what it fires and starts it.
    pub(crate) async fn trigger_attempt(self: &Arc<Self>, job: &JobRecord) -> Result<Option<Value>, Failure> {
        let name = job.payload.get("trigger").and_then(Value::as_str).unwrap_or_default();
        let (record, compiled) = match self.load_trigger(job.space.as_str(), name).await {
            Ok(loaded) => loaded,
            Err(e) if e.code() == crate::ErrorCode::TriggerNotFound => {
                return Ok(Some(json!({ "outcome": "trigger_deleted" })));
            }
            Err(e) => return Err(Failure::engine(e)),
        };
        let source = job.payload.get("source").and_then(Value::as_str).unwrap_or_default();
        if source == "events" {
            return self.consume_events(job, record.name.clone()).await;
        }
        let fire_ms = job.payload.get("fire_ms").and_then(Value::as_i64).unwrap_or(job.run_at.0);
        let now = self.now();
        let scheduled = matches!(source, "schedule" | "catch_up");
        if source == "schedule"
            && let Some(missed) = self.advance_schedule(job, &record, &compiled, fire_ms, now).await?
        {
            return Ok(Some(missed));
        }
        if scheduled && record.paused {
            return Ok(Some(json!({ "outcome": "paused" })));
        }
        let fire_time = Value::String(Timestamp(fire_ms).to_rfc3339());
        let env = if compiled.reads_env() {
            self.env_object(&record.space).await.map_err(Failure::engine)?
        } else {
            json!({})
        };
        let empty = json!({});
        let body = job.payload.get("body").unwrap_or(&empty);
        let null = Value::Null;
        let mut vars: Vec<(&str, &Value)> = vec![("env", &env)];
        match &compiled.source {
            Source::Webhook(_) => {
                vars.push(("body", body));
                vars.push(("headers", job.payload.get("headers").unwrap_or(&empty)));
                vars.push(("query", job.payload.get("query").unwrap_or(&empty)));
                vars.push(("delivery_id", job.payload.get("delivery_id").unwrap_or(&null)));
            }
            Source::Schedule { .. } => vars.push(("fire_time", &fire_time)),
            Source::Event(_) => vars.push(("record", job.payload.get("record").unwrap_or(body))),
        }
        let firing = match compiled.fire(&vars, now_of(now)) {
            Ok(Some(firing)) => firing,
            Ok(None) => return Ok(Some(json!({ "outcome": "filtered" }))),
            Err(e) => return Err(Failure::permanent("trigger_expression_failed", e.to_string())),
        };
        if scheduled
            && compiled.starts_a_run()
            && let Source::Schedule { overlap, .. } = &compiled.source
            && let Some(outcome) = self.apply_overlap(job, &record, *overlap).await?
        {
            return outcome;
        }
        let started = self.start_firing(job, &format!("trigger:{}", job.id), firing).await?;
        Ok(Some(json!({ "outcome": "fired", "started": started })))
    }

    /// Moves a schedule on from its head `job` (fire time `fire_ms`): the missed fire times the
    /// catch-up window keeps and the next one. Answers the execution's result when `fire_ms`
    /// itself is not fired (missed beyond the window).
    async fn advance_schedule(
        &self,
        job: &JobRecord,
        record: &TriggerRecord,
        compiled: &CompiledTrigger,
        fire_ms: i64,
        now: Timestamp,
    ) -> Result<Option<Value>, Failure> {
        let Source::Schedule { schedule, catch_up_ms, overlap } = &compiled.source else {
            return Ok(Some(json!({ "outcome": "superseded", "reason": "the trigger no longer has a schedule" })));
        };
        let mut later = schedule.due(fire_ms, now.0, *catch_up_ms);
        later.retain(|t| *t > fire_ms);
        later.truncate(MAX_CATCH_UP);
        let fire_this = if *catch_up_ms == 0 {
            later.is_empty()
        } else {
            u64::try_from(now.0.saturating_sub(fire_ms)).unwrap_or(0) <= *catch_up_ms
        };
        let mut catch_up = Vec::with_capacity(later.len());
        for at in &later {
            let payload = json!({ "trigger": record.name, "source": "catch_up", "fire_ms": at });
            let retry = execution_retry(*overlap == Overlap::BufferOne);
            catch_up
                .push(execution_spec(&record.space, &record.name, payload, now, None, retry).map_err(Failure::engine)?);
        }
        let after = later.last().copied().unwrap_or(fire_ms).max(now.0);
        let next = self.next_schedule_job(&record.space, &record.name, compiled, after).map_err(Failure::engine)?;
        let op = AdvanceSchedule {
            space: record.space.clone(),
            name: record.name.clone(),
            from: job.id.clone(),
            catch_up,
            next,
        };
        let advanced = self.execute(op).await.map_err(|e| Failure::engine(e.into()))?;
        self.wake_scheduler();
        // Whether its fire time is missed is decided by the attempt that moved the schedule on;
        // a later attempt of the same job (a buffered fire time looking again, a re-run after a
        // crash) fires it.
        if fire_this || !advanced {
            Ok(None)
        } else {
            Ok(Some(json!({ "outcome": "missed", "reason": "a later fire time was due when it ran (catch_up)" })))
        }
    }

    /// What `overlap` does when the previous scheduled firing's run is still going: `None` to
    /// fire, or the attempt's end.
    async fn apply_overlap(
        &self,
        job: &JobRecord,
        record: &TriggerRecord,
        overlap: Overlap,
    ) -> Result<Option<Result<Option<Value>, Failure>>, Failure> {
        if overlap == Overlap::AllowAll {
            return Ok(None);
        }
        let recent = self
            .store
            .trigger_jobs(&record.space, &record.name, None, 20)
            .await
            .map_err(|e| Failure::engine(e.into()))?;
        let scheduled = |j: &&JobRecord| {
            j.id != job.id && matches!(j.payload.get("source").and_then(Value::as_str), Some("schedule" | "catch_up"))
        };
        // The newest scheduled execution that started an instance (a run is one).
        let previous = recent.iter().filter(scheduled).find_map(|j| {
            let started = j.result.as_ref()?.get("started")?;
            let address = started.get("run").or_else(|| started.get("instance"))?.as_str()?;
            Some(address.to_owned())
        });
        // buffer_one: while a fire time waits, the ones after it are skipped — even once the run
        // ended, so the waiting one fires next rather than being overtaken.
        if overlap == Overlap::BufferOne
            && recent
                .iter()
                .filter(scheduled)
                .any(|j| !j.status.is_terminal() && j.last_error.as_ref().is_some_and(|e| e.code == "overlap_buffered"))
        {
            let reason = "overlap: a fire time is already buffered";
            return Ok(Some(Ok(Some(json!({ "outcome": "skipped", "reason": reason })))));
        }
        let Some(address) = previous else { return Ok(None) };
        let Some(instance) = self.instance_at(&record.space, &address).await else { return Ok(None) };
        if !matches!(instance.status, InstanceStatus::Active | InstanceStatus::Waiting | InstanceStatus::Running) {
            return Ok(None);
        }
        match overlap {
            Overlap::AllowAll => Ok(None),
            Overlap::Skip => {
                Ok(Some(Ok(Some(json!({ "outcome": "skipped", "reason": "overlap", "running": address })))))
            }
            Overlap::CancelPrevious => {
                let reason =
                    format!("cancelled by trigger {}: its next fire time came (overlap: cancel_previous)", record.name);
                match self
                    .cancel_instance(
                        record.space.as_str(),
                        instance.machine.as_ref(),
                        instance.id.as_ref(),
                        Some(reason),
                    )
                    .await
                {
                    Ok(_) => Ok(None),
                    Err(e) if e.code() == crate::ErrorCode::InstanceFinished => Ok(None),
                    Err(e) => Err(Failure::engine(e)),
                }
            }
            Overlap::BufferOne => {
                let mut failure =
                    Failure::new("overlap_buffered", format!("waiting for {address} to end (overlap: buffer_one)"));
                failure.retry_after_ms = Some(BUFFER_RECHECK_MS);
                Ok(Some(Err(failure)))
            }
        }
    }

    /// The instance at `space:machine:id` (or a run's id), if it exists.
    async fn instance_at(&self, space: &SpaceName, address: &str) -> Option<switchyard_model::InstanceRecord> {
        let rest = address.strip_prefix(space.as_str())?.strip_prefix(':')?;
        let (machine, id) = rest.split_once(':')?;
        self.get_instance(space.as_str(), machine, id).await.ok()
    }

    /// Starts what a firing names, under the execution's idempotency key; what it started.
    async fn start_firing(self: &Arc<Self>, job: &JobRecord, key: &str, firing: Firing) -> Result<Value, Failure> {
        let space = job.space.as_str();
        let key = key.to_owned();
        let target_error = |e: EngineError| match e.code() {
            crate::ErrorCode::Unavailable | crate::ErrorCode::Internal => Failure::engine(e),
            code => Failure::permanent(code.as_str(), e.to_string()),
        };
        match firing {
            Firing::Flow { flow, input } => {
                let (run, _) = self.start_run(space, &flow, input, Some(key)).await.map_err(target_error)?;
                Ok(json!({ "run": run.key().address(), "flow": flow, "id": run.id }))
            }
            Firing::Machine { machine, id, ctx } => {
                let request = CreateInstance { id, ctx: Some(ctx), idempotency_key: Some(key) };
                let (instance, _) = self.create_instance(space, &machine, request).await.map_err(target_error)?;
                Ok(json!({ "instance": instance.key().address() }))
            }
            Firing::Event { instance, event, payload, create } => {
                let Some((machine, id)) = instance.split_once(':') else {
                    return Err(Failure::permanent(
                        "trigger_expression_failed",
                        format!("target.instance: {instance:?} is not machine:id"),
                    ));
                };
                let send = |key: String| SendEvent {
                    event: event.clone(),
                    payload: Some(payload.clone()),
                    idempotency_key: Some(key),
                    expected_state: None,
                    expected_revision: None,
                };
                let sent = match self.apply_event(space, machine, id, send(key.clone())).await {
                    Err(e) if create && e.code() == crate::ErrorCode::InstanceNotFound => {
                        let request = CreateInstance {
                            id: Some(id.to_owned()),
                            ctx: Some(payload.clone()),
                            idempotency_key: Some(format!("{key}:create")),
                        };
                        match self.create_instance(space, machine, request).await {
                            Ok(_) => {}
                            Err(e) if e.code() == crate::ErrorCode::InstanceExists => {}
                            Err(e) => return Err(target_error(e)),
                        }
                        self.apply_event(space, machine, id, send(key)).await
                    }
                    other => other,
                };
                let (applied, _) = sent.map_err(target_error)?;
                Ok(json!({
                    "instance": format!("{space}:{machine}:{id}"),
                    "event": event,
                    "to": applied.to,
                    "seq": applied.seq.0,
                }))
            }
            Firing::Function { function, input } => {
                let request = crate::functions::InvokeRequest {
                    input: serde_json::to_vec(&input).unwrap_or_default(),
                    content_type: Some("application/json".into()),
                    version: None,
                    idempotency_key: Some(key),
                    trace_id: Some(job.id.clone()),
                    machine: None,
                    attempt: 1,
                };
                let (invocation, _) =
                    self.invoke_function_async(space, &function, request).await.map_err(target_error)?;
                Ok(json!({ "invocation": invocation.id, "function": function }))
            }
            Firing::Publish { topic, message, key: message_key } => {
                let (seq, _) = self
                    .publish(space, &topic, message, message_key, BTreeMap::new(), Some(key))
                    .await
                    .map_err(target_error)?;
                Ok(json!({ "topic": topic, "seq": seq.0 }))
            }
        }
    }

    /// Reads an event-pattern trigger's subscription while `job` is the trigger's head: fires
    /// the target for each record the pattern matches, in the log's order, recording each
    /// firing as an execution keyed by the record, and acknowledges the records it examined.
    async fn consume_events(self: &Arc<Self>, job: &JobRecord, name: Segment) -> Result<Option<Value>, Failure> {
        let space = job.space.clone();
        let subscription = event_subscription(&name);
        let own_address = trigger_address(space.as_str(), name.as_ref());
        let mut fired = 0u64;
        loop {
            let Some(record) = self.store.get_trigger(&space, &name).await.map_err(|e| Failure::engine(e.into()))?
            else {
                return Ok(Some(json!({ "outcome": "trigger_deleted", "fired": fired })));
            };
            if record.paused || record.schedule_job.as_deref() != Some(job.id.as_str()) {
                // Paused, deleted or replaced by a new version: its successor reads on.
                return Ok(Some(json!({ "outcome": "stopped", "fired": fired })));
            }
            let compiled = self.compiled_trigger(&record).map_err(Failure::engine)?;
            if !matches!(compiled.source, Source::Event(_)) {
                return Ok(Some(json!({ "outcome": "stopped", "fired": fired })));
            }
            let pull =
                self.pull(space.as_str(), subscription.as_ref(), EVENT_BATCH, Some(EVENT_LEASE), Some(EVENT_WAIT));
            let Some(deliveries) = self.unless_shutting_down(pull).await else {
                return Err(Failure::deferred(self.now()));
            };
            let deliveries = deliveries.map_err(Failure::engine)?;
            if deliveries.is_empty() {
                continue;
            }
            let env =
                if compiled.reads_env() { self.env_object(&space).await.map_err(Failure::engine)? } else { json!({}) };
            let mut examined = Vec::with_capacity(deliveries.len());
            for delivery in &deliveries {
                let r = &delivery.record;
                // Its own bookkeeping (`trigger.fired`) is never a reason to fire.
                if r.address != own_address {
                    let outcome = self.fire_for_record(job, &record, &compiled, &env, r).await;
                    match outcome {
                        Ok(true) => fired += 1,
                        Ok(false) => {}
                        // Not acknowledged: this record and the ones after it are delivered
                        // again once their lease ends, in order, to the retried consumer.
                        Err(failure) => {
                            if !examined.is_empty() {
                                self.ack(space.as_str(), subscription.as_ref(), examined)
                                    .await
                                    .map_err(Failure::engine)?;
                            }
                            return Err(failure);
                        }
                    }
                }
                examined.push(r.seq);
            }
            self.ack(space.as_str(), subscription.as_ref(), examined).await.map_err(Failure::engine)?;
        }
    }

    /// Fires for one log record if the pattern matches it; whether it started the target. A
    /// failure that may pass is returned (the record is read again); one that cannot is
    /// recorded as a dead execution.
    async fn fire_for_record(
        self: &Arc<Self>,
        job: &JobRecord,
        record: &TriggerRecord,
        compiled: &CompiledTrigger,
        env: &Value,
        r: &switchyard_model::LogRecord,
    ) -> Result<bool, Failure> {
        let now = self.now();
        let record_json = r.expression_view();
        let vars: [(&str, &Value); 2] = [("record", &record_json), ("env", env)];
        let seq = r.seq.0;
        let key = format!("event:{}:{seq}", record.name);
        let payload = json!({
            "trigger": record.name, "source": "event", "seq": seq, "kind": r.kind, "address": r.address,
        });
        let outcome = match compiled.matches_record(&vars, now_of(now)) {
            Ok(false) => return Ok(false),
            Ok(true) => match compiled.fire(&vars, now_of(now)) {
                Ok(None) => Ok(json!({ "outcome": "filtered" })),
                Ok(Some(firing)) => {
                    let target_key = format!("trigger:{}:{}:{seq}", record.space, record.name);
                    match self.start_firing(job, &target_key, firing).await {
                        Ok(started) => Ok(json!({ "outcome": "fired", "started": started })),
                        // Recorded as a dead execution below; one that may pass is read again.
                        Err(failure) if failure.permanent => Err(failure),
                        Err(failure) => return Err(failure),
                    }
                }
                Err(e) => Err(Failure::permanent("trigger_expression_failed", e.to_string())),
            },
            Err(e) => Err(Failure::permanent("trigger_expression_failed", e.to_string())),
        };
        let (result, error) = match outcome {
            Ok(result) => (result, None),
            Err(failure) => (
                json!({ "outcome": "failed" }),
                Some(switchyard_model::JobError { code: failure.code.clone(), message: failure.message.clone() }),
            ),
        };
        let fired = result.get("outcome").and_then(Value::as_str) == Some("fired");
        let spec = execution_spec(&record.space, &record.name, payload, now, Some(key), execution_retry(false))
            .map_err(Failure::engine)?;
        let op = RecordExecution { spec, name: record.name.clone(), result, error };
        self.execute(op).await.map_err(|e| Failure::engine(e.into()))?;
        Ok(fired)
    }

    /// Makes the subscription an event-pattern trigger reads (see
    /// [`Engine::ensure_log_subscription`]).
    async fn ensure_event_subscription(
        &self,
        space: &SpaceName,
        name: &Segment,
        kinds: &[String],
    ) -> Result<(), EngineError> {
        self.ensure_log_subscription(space, &event_subscription(name), kinds, EVENT_MAX_DELIVERIES, EVENT_LEASE).await
    }

    /// Deletes an event-pattern trigger's subscription, if it has one.
    async fn drop_event_subscription(&self, space: &SpaceName, name: &Segment) -> Result<(), EngineError> {
        self.drop_log_subscription(space, &event_subscription(name)).await
    }

    /// The space's `env` values as one object.
    async fn env_object(&self, space: &SpaceName) -> Result<Value, EngineError> {
        let mut env = serde_json::Map::new();
        for value in self.store.space_values(space, SpaceValueKind::Env).await? {
            let parsed = serde_json::from_str(&value.value)
                .map_err(|e| StoreError::Corrupt(format!("env value {:?}: {e}", value.name.as_ref())))?;
            env.insert(value.name.to_string(), parsed);
        }
        Ok(Value::Object(env))
    }

    /// A schedule's job for its first fire time after `after_ms` (`None` for other sources or
    /// when it has no more).
    fn next_schedule_job(
        &self,
        space: &SpaceName,
        name: &Segment,
        compiled: &CompiledTrigger,
        after_ms: i64,
    ) -> Result<Option<JobSpec>, EngineError> {
        if let Source::Event(_) = &compiled.source {
            // The consumer of an event pattern: one job that reads the trigger's subscription
            // for as long as it is the trigger's head.
            let payload = json!({ "trigger": name, "source": "events" });
            let at = Timestamp(after_ms);
            let mut spec = execution_spec(space, name, payload, at, None, consumer_retry())?;
            spec.concurrency_key = Some(switchyard_model::jobs::LOG_CONSUMER_LANE.to_owned());
            return Ok(Some(spec));
        }
        let Source::Schedule { schedule, overlap, .. } = &compiled.source else { return Ok(None) };
        let Some(at) = schedule.next_after(after_ms) else { return Ok(None) };
        let payload = json!({ "trigger": name, "source": "schedule", "fire_ms": at });
        let retry = execution_retry(*overlap == Overlap::BufferOne);
        Ok(Some(execution_spec(space, name, payload, Timestamp(at), None, retry)?))
    }

    /// A trigger and its compiled form (cached per version).
    async fn load_trigger(
        &self,
        space: &str,
        name: &str,
    ) -> Result<(TriggerRecord, Arc<CompiledTrigger>), EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("trigger name", name)?;
        let Some(record) = self.store.get_trigger(&space, &name).await? else {
            return Err(not_found(&space, &name));
        };
        let compiled = self.compiled_trigger(&record)?;
        Ok((record, compiled))
    }

    fn compiled_trigger(&self, record: &TriggerRecord) -> Result<Arc<CompiledTrigger>, EngineError> {
        let key = (record.space.to_string(), record.name.to_string());
        if let Some((version, compiled)) = self.triggers.compiled.read().unwrap_or_else(|p| p.into_inner()).get(&key)
            && *version == record.version
        {
            return Ok(Arc::clone(compiled));
        }
        let definition = serde_json::from_value(record.definition.clone())
            .map_err(|e| StoreError::Corrupt(format!("trigger {}: {e}", record.name)))?;
        let compiled = Arc::new(
            compile_trigger(definition, record.space.as_str(), record.name.as_ref())
                .map_err(|e| StoreError::Corrupt(format!("trigger {} no longer compiles: {e}", record.name)))?,
        );
        self.triggers
            .compiled
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (record.version, Arc::clone(&compiled)));
        Ok(compiled)
    }

    async fn trigger_view(
        &self,
        record: TriggerRecord,
        compiled: Option<Arc<CompiledTrigger>>,
    ) -> Result<TriggerView, EngineError> {
        let now = self.now().0;
        let next_fire_times = match compiled.as_deref().map(|c| &c.source) {
            Some(Source::Schedule { schedule, .. }) if !record.paused => {
                schedule.fire_times(now, i64::MAX, NEXT_FIRE_TIMES).into_iter().map(Timestamp).collect()
            }
            _ => Vec::new(),
        };
        let recent = self.store.trigger_jobs(&record.space, &record.name, None, 50).await?;
        // A schedule's head waits for its fire time: the last execution is the newest that ran.
        let ran = |j: &&JobRecord| j.attempt > 0;
        let mut health = TriggerHealth {
            last_execution: recent.iter().find(ran).cloned(),
            last_failure: recent
                .iter()
                .find(|j| j.status == JobStatus::Dead || (j.last_error.is_some() && !j.status.is_terminal()))
                .cloned(),
            ..TriggerHealth::default()
        };
        let key = (record.space.to_string(), record.name.to_string());
        if let Some((count, at, reason)) = self.triggers.rejections.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
        {
            health.rejected = *count;
            health.last_rejection = Some((*at, reason.clone()));
        }
        Ok(TriggerView { record, next_fire_times, health })
    }

    /// Builds the verifier of a webhook source, reading its secrets now; why not, otherwise.
    async fn webhook_scheme(
        &self,
        space: &SpaceName,
        spec: &switchyard_model::trigger::WebhookSpec,
    ) -> Result<Scheme, String> {
        let mut secrets = Vec::with_capacity(spec.secrets.len());
        for reference in &spec.secrets {
            let template = SecretTemplate::parse(reference).map_err(|e| e.to_string())?;
            let Some(name) = template.secrets().next() else { continue };
            let value = self
                .store
                .space_value(space, SpaceValueKind::Secret, name)
                .await
                .map_err(|e| format!("reading secret {name}: {e}"))?
                .ok_or_else(|| format!("secret {name} is not set (switchyard secret set {name})"))?;
            secrets.push((name.to_string(), value.value));
        }
        let raw = |secrets: Vec<(String, String)>| secrets.into_iter().map(|(_, v)| v.into_bytes()).collect::<Vec<_>>();
        Ok(match spec.scheme.as_str() {
            "standard-webhooks" => {
                let mut keys = Vec::new();
                for (name, value) in secrets {
                    keys.push(
                        switchyard_webhooks::decode_whsec(&value)
                            .map_err(|e| format!("secret {name} is not a whsec_ secret: {e}"))?,
                    );
                }
                let mut public_keys = Vec::new();
                for key in &spec.public_keys {
                    public_keys
                        .push(switchyard_webhooks::decode_whpk(key).map_err(|e| format!("public key {key:?}: {e}"))?);
                }
                Scheme::StandardWebhooks { secrets: keys, public_keys }
            }
            "github" => Scheme::GitHub { secrets: raw(secrets) },
            "stripe" => Scheme::Stripe { secrets: raw(secrets) },
            _ => Scheme::Hmac(GenericHmac {
                secrets: raw(secrets),
                algorithm: if spec.algorithm.as_deref() == Some("sha512") {
                    Algorithm::Sha512
                } else {
                    Algorithm::Sha256
                },
                header: spec.header.clone().unwrap_or_default(),
                encoding: if spec.encoding.as_deref() == Some("base64") { Encoding::Base64 } else { Encoding::Hex },
                prefix: spec.prefix.clone(),
                id_header: spec.id_header.clone(),
            }),
        })
    }

    fn note_rejection(&self, record: &TriggerRecord, at: Timestamp, reason: String) {
        let key = (record.space.to_string(), record.name.to_string());
        let mut rejections = self.triggers.rejections.lock().unwrap_or_else(|p| p.into_inner());
        let entry = rejections.entry(key).or_insert((0, at, String::new()));
        entry.0 += 1;
        entry.1 = at;
        entry.2 = reason;
    }

    /// Takes a token of the trigger's bucket; `false` when it is empty.
    /// Takes a token of the trigger's bucket, or answers the milliseconds until one is back.
    fn take_token(&self, record: &TriggerRecord, rate: u32, now: Timestamp) -> Result<(), u64> {
        let key = (record.space.to_string(), record.name.to_string());
        let mut buckets = self.triggers.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.entry(key).or_insert_with(|| TokenBucket::full(rate, now.0)).take(rate, 1, now.0)
    }
}

/// An execution's job: kind `trigger`, target the trigger's address.
fn execution_spec(
    space: &SpaceName,
    name: &Segment,
    payload: Value,
    run_at: Timestamp,
    key: Option<String>,
    retry: RetryPolicy,
) -> Result<JobSpec, EngineError> {
    Ok(JobSpec {
        id: uuid::Uuid::now_v7().to_string(),
        space: space.clone(),
        kind: Segment::new(TRIGGER_JOB).map_err(|e| StoreError::Internal(format!("job kind {TRIGGER_JOB}: {e}")))?,
        target: trigger_address(space.as_str(), name.as_ref()),
        payload,
        priority: 0,
        concurrency_key: None,
        idempotency_key: key,
        run_at,
        retry,
    })
}

/// How a failed execution is retried: starting its target failed for a reason that may pass
/// (the store unavailable) — or, with `buffer_one`, a fire time waits for the previous run,
/// looked at again every one to five seconds, 1,000 times (about an hour) before it is dead.
fn execution_retry(buffer: bool) -> RetryPolicy {
    if buffer {
        RetryPolicy {
            max_attempts: 1000,
            initial_ms: BUFFER_RECHECK_MS,
            multiplier: 1.5,
            max_ms: 5_000,
            ..RetryPolicy::default()
        }
    } else {
        RetryPolicy { max_attempts: 10, initial_ms: 1_000, multiplier: 2.0, max_ms: 60_000, ..RetryPolicy::default() }
    }
}

/// The subscription an event-pattern trigger reads: `trigger.NAME` (a hash of the name when
/// that is too long to be a name).
fn event_subscription(name: &Segment) -> Segment {
    let plain = format!("trigger.{name}");
    Segment::new(&plain).unwrap_or_else(|_| {
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(name.as_ref().as_bytes()));
        Segment::new(&format!("trigger.{}", &digest[..32])).unwrap_or_else(|_| name.clone())
    })
}

/// How an event-pattern consumer is retried when reading or firing fails for a reason that
/// may pass: for about a day, backing off to a minute.
fn consumer_retry() -> RetryPolicy {
    RetryPolicy { max_attempts: 1000, initial_ms: 1_000, multiplier: 2.0, max_ms: 60_000, ..RetryPolicy::default() }
}

/// What an unverified sender is told: which check failed, never a secret.
fn unverified_message(e: &VerifyError) -> String {
    format!("the webhook's signature does not verify: {e}")
}
