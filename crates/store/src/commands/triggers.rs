//! Triggers: putting a version, pausing and resuming, deleting, and moving a schedule on to
//! its next fire time.
//!
//! A trigger's executions are jobs of kind `trigger` (target `space:triggers:name`), so they
//! are leased, retried, re-driven and kept like any work; a webhook's accepted delivery is
//! enqueued with `EnqueueJob` (its delivery id as the job's idempotency key).
//!
//! Invariants:
//! - A schedule has at most one pending fire-time job that moves it on: the trigger's
//!   `schedule_job`. Putting a new version, pausing or deleting cancels that job (if it has not
//!   finished) in the same transaction, and resuming or a new version enqueues the next one;
//!   `AdvanceSchedule` replaces it only if it is still the one named, so two nodes running the
//!   same fire time (a lease taken over) move the schedule once.
//! - Putting a definition equal to the current one changes nothing (no version, no record), so
//!   applying the same configuration twice is a no-op.
//! - Every version, pause, resume and deletion appends one record at `space:triggers:name`.
//! - On PostgreSQL every write of a trigger holds the lock `trigger:{space}:{name}`.

use serde_json::{Value as Json, json};
use switchyard_model::{
    JobError, JobRecord, JobSpec, JobStatus, Segment, SpaceName, TriggerRecord, kinds, trigger_address,
};

use super::jobs::{cancel_job_row, insert_job};
use super::{Command, Cx, Locking};
use crate::error::StoreError;
use crate::tables::{Locks, Tables, TxResult};

/// Puts a trigger's definition: a new version unless it equals the current one; appends
/// `trigger.put`. A schedule's pending fire-time job is replaced by `first_job` (unless the
/// trigger is paused).
#[derive(Debug, Clone, PartialEq)]
pub struct PutTrigger {
    /// The space.
    pub space: SpaceName,
    /// The name.
    pub name: Segment,
    /// The definition, normalised.
    pub definition: Json,
    /// A schedule's first fire-time job of this version (`None` for other sources).
    pub first_job: Option<JobSpec>,
}

/// A trigger was put.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerPut {
    /// The trigger as stored now.
    pub trigger: Box<TriggerRecord>,
    /// Whether it is new.
    pub created: bool,
    /// Whether this is a new version (`false`: the definition was the current one).
    pub changed: bool,
    /// Whether this write created the space.
    pub space_created: bool,
}

request!(PutTrigger => TriggerPut(TriggerPut));

/// Pauses or resumes a trigger; appends `trigger.paused` or `trigger.resumed` when that
/// changes it. Pausing cancels a schedule's pending fire-time job; resuming enqueues
/// `resume_job`.
#[derive(Debug, Clone, PartialEq)]
pub struct PauseTrigger {
    /// The space.
    pub space: SpaceName,
    /// The name.
    pub name: Segment,
    /// `true` to pause, `false` to resume.
    pub paused: bool,
    /// A schedule's next fire-time job once resumed.
    pub resume_job: Option<JobSpec>,
}

request!(PauseTrigger => TriggerChanged(Box<TriggerRecord>));

/// Deletes a trigger (`TriggerNotFound` when there is none) and cancels its schedule's pending
/// job; appends `trigger.deleted`. Its past executions stay until they are purged.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteTrigger {
    /// The space.
    pub space: SpaceName,
    /// The name.
    pub name: Segment,
}

request!(DeleteTrigger => TriggerDeleted);

/// Moves a schedule on from the fire-time job `from`: enqueues `catch_up` (missed fire times
/// to fire now) and `next` (the next fire time's job, the schedule's new head), only while
/// `from` is still the trigger's `schedule_job`. Answers whether it moved.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvanceSchedule {
    /// The space.
    pub space: SpaceName,
    /// The trigger.
    pub name: Segment,
    /// The job that moves it on.
    pub from: String,
    /// Missed fire times' jobs, due now.
    pub catch_up: Vec<JobSpec>,
    /// The next fire time's job (`None`: the schedule has no more).
    pub next: Option<JobSpec>,
}

request!(AdvanceSchedule => ScheduleAdvanced(bool));

/// Records an execution that ran outside the work table — an event-pattern trigger fires in its
/// consumer, in the order of the log — as a finished job (`succeeded`, or `dead` with
/// `error`), unless its idempotency key was recorded before; appends `trigger.fired` at the
/// trigger's address (not `job.*`, so the consumer does not read its own bookkeeping back).
/// Answers whether it was new.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordExecution {
    /// The execution as a job (its key names the record it fired for).
    pub spec: JobSpec,
    /// The trigger.
    pub name: Segment,
    /// What it did.
    pub result: Json,
    /// Why it failed for good, if it did.
    pub error: Option<JobError>,
}

request!(RecordExecution => ExecutionRecorded(bool));

fn lock<'a>(locks: &mut Locks<'a>, space: &SpaceName, name: &Segment) {
    locks.writes_into(space.as_ref());
    locks.exclusive(format!("trigger:{space}:{name}"));
}

/// Cancels a schedule's pending fire-time job, if it has not finished.
async fn cancel_schedule_job<T: Tables>(tx: &mut T, cx: &mut Cx<'_>, trigger: &TriggerRecord) -> TxResult<()> {
    let Some(id) = &trigger.schedule_job else { return Ok(()) };
    if let Some(mut job) = tx.job_for_update(trigger.space.as_ref(), id).await?
        && !job.status.is_terminal()
    {
        cancel_job_row(tx, cx, &mut job).await?;
    }
    Ok(())
}

/// Enqueues a head or catch-up job; its id. These jobs carry no idempotency key: the head's
/// compare-and-set is what makes each one enqueued once.
async fn enqueue<T: Tables>(tx: &mut T, cx: &mut Cx<'_>, spec: &JobSpec) -> TxResult<String> {
    Ok(insert_job(tx, cx, spec).await?.id)
}

impl Locking for PutTrigger {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        lock(locks, &self.space, &self.name);
    }
}

impl Command for PutTrigger {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let existing = tx.trigger_for_update(self.space.as_ref(), self.name.as_ref()).await?;
        if let Some(current) = &existing
            && current.definition == self.definition
        {
            let trigger = Box::new(current.clone());
            return Ok(TriggerPut { trigger, created: false, changed: false, space_created: false });
        }
        let mut trigger = match existing.clone() {
            Some(mut t) => {
                t.version += 1;
                t.definition = self.definition.clone();
                t.updated_at = cx.now;
                t
            }
            None => TriggerRecord {
                space: self.space.clone(),
                name: self.name.clone(),
                version: 1,
                definition: self.definition.clone(),
                paused: false,
                schedule_job: None,
                created_at: cx.now,
                updated_at: cx.now,
            },
        };
        if let Some(old) = &existing {
            cancel_schedule_job(tx, cx, old).await?;
        }
        trigger.schedule_job = match (&self.first_job, trigger.paused) {
            (Some(spec), false) => Some(enqueue(tx, cx, spec).await?),
            _ => None,
        };
        tx.upsert_trigger(&trigger).await?;
        cx.touch_space(self.space.as_ref());
        let record = json!({ "name": trigger.name, "version": trigger.version, "definition": trigger.definition });
        let address = trigger_address(self.space.as_ref(), self.name.as_ref());
        cx.append(tx, self.space.as_ref(), kinds::TRIGGER_PUT, address, &record, None, false).await?;
        Ok(TriggerPut { trigger: Box::new(trigger), created: existing.is_none(), changed: true, space_created: false })
    }
}

impl Locking for PauseTrigger {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        lock(locks, &self.space, &self.name);
    }
}

impl Command for PauseTrigger {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let Some(mut trigger) = tx.trigger_for_update(self.space.as_ref(), self.name.as_ref()).await? else {
            return Err(not_found(&self.space, &self.name).into());
        };
        if trigger.paused == self.paused {
            return Ok(Box::new(trigger));
        }
        if self.paused {
            cancel_schedule_job(tx, cx, &trigger).await?;
            trigger.schedule_job = None;
        } else if let Some(spec) = &self.resume_job {
            trigger.schedule_job = Some(enqueue(tx, cx, spec).await?);
        }
        trigger.paused = self.paused;
        trigger.updated_at = cx.now;
        tx.upsert_trigger(&trigger).await?;
        let kind = if self.paused { kinds::TRIGGER_PAUSED } else { kinds::TRIGGER_RESUMED };
        let address = trigger_address(self.space.as_ref(), self.name.as_ref());
        cx.append(tx, self.space.as_ref(), kind, address, &json!({ "name": trigger.name }), None, false).await?;
        Ok(Box::new(trigger))
    }
}

impl Locking for DeleteTrigger {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        lock(locks, &self.space, &self.name);
    }
}

impl Command for DeleteTrigger {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let Some(trigger) = tx.trigger_for_update(self.space.as_ref(), self.name.as_ref()).await? else {
            return Err(not_found(&self.space, &self.name).into());
        };
        cancel_schedule_job(tx, cx, &trigger).await?;
        tx.delete_trigger(self.space.as_ref(), self.name.as_ref()).await?;
        let record = json!({ "name": trigger.name, "version": trigger.version });
        let address = trigger_address(self.space.as_ref(), self.name.as_ref());
        cx.append(tx, self.space.as_ref(), kinds::TRIGGER_DELETED, address, &record, None, false).await?;
        Ok(())
    }
}

impl Locking for AdvanceSchedule {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        lock(locks, &self.space, &self.name);
    }
}

impl Command for AdvanceSchedule {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let Some(mut trigger) = tx.trigger_for_update(self.space.as_ref(), self.name.as_ref()).await? else {
            return Ok(false);
        };
        if trigger.paused || trigger.schedule_job.as_deref() != Some(self.from.as_str()) {
            return Ok(false);
        }
        for spec in &self.catch_up {
            enqueue(tx, cx, spec).await?;
        }
        trigger.schedule_job = match &self.next {
            Some(spec) => Some(enqueue(tx, cx, spec).await?),
            None => None,
        };
        tx.upsert_trigger(&trigger).await?;
        Ok(true)
    }
}

impl Locking for RecordExecution {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(self.spec.space.as_ref());
        if let Some(key) = &self.spec.idempotency_key {
            locks.exclusive(format!("job-key:{}:{key}", self.spec.space));
        }
    }
}

impl Command for RecordExecution {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let spec = &self.spec;
        if let Some(key) = &spec.idempotency_key
            && tx.job_by_key(spec.space.as_ref(), key).await?.is_some()
        {
            return Ok(false);
        }
        let job = JobRecord {
            id: spec.id.clone(),
            space: spec.space.clone(),
            kind: spec.kind.clone(),
            target: spec.target.clone(),
            payload: spec.payload.clone(),
            status: if self.error.is_some() { JobStatus::Dead } else { JobStatus::Succeeded },
            priority: spec.priority,
            concurrency_key: spec.concurrency_key.clone(),
            idempotency_key: spec.idempotency_key.clone(),
            run_at: spec.run_at,
            attempt: 1,
            lease_until: None,
            lease_owner: None,
            retry: spec.retry.clone(),
            created_at: cx.now,
            updated_at: cx.now,
            finished_at: Some(cx.now),
            last_error: self.error.clone(),
            result: Some(self.result.clone()),
            attempts: Vec::new(),
        };
        tx.insert_job(&job).await?;
        let record = json!({
            "execution": job.id,
            "status": job.status.as_str(),
            "result": self.result,
            "error": self.error,
        });
        let address = trigger_address(spec.space.as_ref(), self.name.as_ref());
        cx.append(tx, spec.space.as_ref(), kinds::TRIGGER_FIRED, address, &record, None, false).await?;
        Ok(true)
    }
}

fn not_found(space: &SpaceName, name: &Segment) -> StoreError {
    StoreError::TriggerNotFound { space: space.to_string(), name: name.to_string() }
}
