//! Instances: creation on a machine's latest version, events through the model's transition,
//! the work states do (the outbox), cancellation, soft deletion.
//!
//! Invariants:
//! - A transition and everything it causes commit together: the model returns effects as data
//!   (an action to run, timers to arm, messages to emit) and [`transition`] writes each as a
//!   job row in the same transaction as the instance's new state — nothing happens that did not
//!   commit, nothing that committed is forgotten.
//! - An instance's `work` lists the jobs of its current state (its action and timers, and the
//!   machine's timeout) and the child instance it waits for (`child:{address}`). Leaving the
//!   state cancels the jobs still pending and the child; a job running is left to finish, and
//!   its result, no longer in `work`, is recorded with the job and ignored.
//! - A child's end (final state, failure, cancellation, deletion) moves its parent in the
//!   child's own transaction, while the parent's `work` lists it; a child its parent gave up is
//!   cancelled by the parent's transaction and reports nothing.
//! - A job's result is applied to its instance only by the transaction that finishes the job
//!   while its worker holds it (see `commands::jobs`), and only while the job is in `work`: a
//!   result is applied once, even if the job ran twice.
//! - Every refusal of the model happens before the first write.

use std::hash::{Hash, Hasher};

use serde_json::{Value, json};
use switchyard_model::jobs::{JobStatus, RetryPolicy};
use switchyard_model::{
    CompiledMachine, Effect, Idempotency, Input, InstanceInfo, InstanceKey, InstanceRecord, InstanceStatus, InvokeKind,
    JobRecord, JobSpec, JsonObject, MachineVersion, ParentLink, Revision, Segment, Seq, SpaceName, SpaceValueKind,
    TIMER_JOB, TransitionApplied, TransitionError, child_in_work, child_work_entry, kinds,
};

use super::jobs::{cancel_job_row, insert_job};
use super::{Command, Cx, Locking, compiled_machine};
use crate::error::StoreError;
use crate::records::{CreatedRecord, TransitionedRecord};
use crate::tables::{InstanceRow, InstanceWrite, Locks, Tables, TxResult};

/// Creates an instance on the machine's latest version, in its initial state.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateInstance {
    /// The new instance.
    pub key: InstanceKey,
    /// Its initial context (checked against the machine's context schema).
    pub ctx: JsonObject,
    /// The request's idempotency key, if any.
    pub idempotency: Option<Idempotency>,
}

/// An instance exists; `replayed` when an idempotency key returned the original.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceCreated {
    /// The instance as created.
    pub instance: InstanceRecord,
    /// Whether this is the stored result of an earlier request with the same key.
    pub replayed: bool,
    /// Whether creating it wrote jobs (the scheduler has work to look at).
    pub started_work: bool,
}

request!(CreateInstance => InstanceCreated(InstanceCreated));

impl Locking for CreateInstance {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        // The row does not exist yet: a concurrent insert of the same key would make it wait.
        locks.exclusive(format!("instance:{}", self.key.address()));
        locks.writes_into(self.key.space.as_ref());
    }
}

impl Command for CreateInstance {
    fn idempotency(&self) -> Option<(&SpaceName, &Idempotency)> {
        self.idempotency.as_ref().map(|idem| (&self.key.space, idem))
    }

    fn replay(&self, stored: &str) -> Result<Self::Output, StoreError> {
        let instance = crate::persisted::StoredInstance::read(stored)?;
        Ok(InstanceCreated { instance, replayed: true, started_work: false })
    }

    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let key = &self.key;
        let (space, machine) = (key.space.as_ref(), key.machine.as_ref());
        let Some(version) = tx.latest_machine_version(space, machine).await? else {
            let e = StoreError::MachineNotFound { space: space.to_string(), name: machine.to_string(), version: None };
            return Err(e.into());
        };
        let compiled = compiled_machine(tx, cx.machines, space, machine, version).await?;
        compiled.validate_context(&self.ctx).map_err(StoreError::InvalidContext)?;
        let address = key.address();
        let (state, ctx, effects) = if compiled.does_work() {
            let env = space_env(tx, space, &compiled).await?;
            let info =
                InstanceInfo { address: &address, revision: Revision::FIRST.get(), attempt: 0, env: env.as_ref() };
            let started = match compiled.start(&self.ctx, info, cx.now.as_millis()) {
                Ok(started) => started,
                // A flow's run that fails in its first steps is a failed run in its history,
                // as one failing later is; a machine's instance is refused (nothing is created).
                Err(e) if compiled.flow().is_some() => return self.create_failed(tx, cx, version, &compiled, &e).await,
                Err(e) => return Err(StoreError::from(e).into()),
            };
            (started.state, started.ctx, started.effects)
        } else {
            (compiled.initial_state().to_owned(), None, Vec::new())
        };
        let ctx = ctx.as_ref().unwrap_or(&self.ctx);
        let mut instance = InstanceRecord::created(key, version, &state, ctx, cx.now);
        let origin = Origin { key, state: &instance.state, revision: Revision::FIRST, depth: 0, version };
        let children = plan_children(tx, cx, origin, &effects).await?.map_err(StoreError::from)?;
        instance.status = compiled.status_in(&instance.state);
        let ctx_text = serde_json::to_string(ctx)?;
        if ctx_text.len() > INTERNAL_MAX_CONTEXT_BYTES {
            crate::machines::check_context_size(&ctx_text, INTERNAL_MAX_CONTEXT_BYTES)?;
        }
        // Jobs are written before the row: a taken id must refuse before them.
        if !effects.is_empty() && tx.instance_deleted_at_for_update(key).await?.is_some() {
            return Err(StoreError::InstanceExists { address }.into());
        }
        let entries = direct_entries(&children, &address, Revision::FIRST);
        instance.work = write_effects(tx, cx, key, &instance.state, Revision::FIRST, &effects, &entries).await?;
        let work_text = work_text(&instance.work)?;
        let write = InstanceWrite {
            state: &instance.state,
            ctx: &ctx_text,
            revision: Revision::FIRST,
            status: instance.status.as_str(),
            status_changed: true,
            work: work_text.as_deref(),
            error: None,
            parent: None,
            now: cx.now,
        };
        if !tx.insert_instance(key, version, &write).await? {
            return Err(StoreError::InstanceExists { address: key.address() }.into());
        }
        let record = CreatedRecord { machine_version: version.get(), state: &instance.state, ctx: &instance.ctx };
        let idem_key = self.idempotency.as_ref().map(|i| i.key.as_str());
        cx.append(tx, space, kinds::INSTANCE_CREATED, key.address(), &record, idem_key, false).await?;
        let mut started_work = !effects.is_empty();
        let mut ended = start_children(tx, cx, children).await?;
        ended.extend(empty_fan_out(&compiled, key, &instance.state, Revision::FIRST, &entries));
        if !ended.is_empty() {
            started_work |= report_ends(tx, cx, ended).await?;
            // A child that ended at once has moved the new instance on.
            if let Some(row) = tx.instance_for_update(key).await? {
                instance.state = row.state.clone();
                instance.ctx = serde_json::from_str(&row.ctx)?;
                instance.revision = row.revision;
                instance.status = crate::decode::instance_status(&row.status);
                instance.work = crate::decode::instance_work(row.work.as_deref());
            }
        }
        Ok(InstanceCreated { instance, replayed: false, started_work })
    }
}

impl CreateInstance {
    /// Creates the instance failed, in its initial state with the context given, because its
    /// first steps failed with `e`; appends `instance.created` and `instance.failed`.
    async fn create_failed<T: Tables>(
        &self,
        tx: &mut T,
        cx: &mut Cx<'_>,
        version: MachineVersion,
        compiled: &CompiledMachine,
        e: &TransitionError,
    ) -> TxResult<InstanceCreated> {
        let key = &self.key;
        let error = json!({ "code": "transition_failed", "message": e.to_string(), "input": "start" });
        let mut instance = InstanceRecord::created(key, version, compiled.initial_state(), &self.ctx, cx.now);
        instance.status = InstanceStatus::Failed;
        instance.error = Some(error.clone());
        let (ctx_text, error_text) = (serde_json::to_string(&self.ctx)?, serde_json::to_string(&error)?);
        let write = InstanceWrite {
            state: &instance.state,
            ctx: &ctx_text,
            revision: Revision::FIRST,
            status: instance.status.as_str(),
            status_changed: true,
            work: None,
            error: Some(&error_text),
            parent: None,
            now: cx.now,
        };
        if !tx.insert_instance(key, version, &write).await? {
            return Err(StoreError::InstanceExists { address: key.address() }.into());
        }
        let space = key.space.as_ref();
        let record = CreatedRecord { machine_version: version.get(), state: &instance.state, ctx: &instance.ctx };
        let idem_key = self.idempotency.as_ref().map(|i| i.key.as_str());
        cx.append(tx, space, kinds::INSTANCE_CREATED, key.address(), &record, idem_key, false).await?;
        let failed = json!({ "state": instance.state, "error": error });
        cx.append(tx, space, kinds::INSTANCE_FAILED, key.address(), &failed, None, false).await?;
        Ok(InstanceCreated { instance, replayed: false, started_work: false })
    }
}

/// Applies an event to an instance: the hot path.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyEvent {
    /// The instance.
    pub key: InstanceKey,
    /// The event's name.
    pub event: String,
    /// The event's payload.
    pub payload: JsonObject,
    /// Refuse unless the instance is in this state.
    pub expected_state: Option<String>,
    /// Refuse unless the instance is at this revision.
    pub expected_revision: Option<Revision>,
    /// The request's idempotency key, if any.
    pub idempotency: Option<Idempotency>,
    /// The largest context the instance may have after the event, in bytes of compact
    /// JSON (the node's `--max-context-bytes`); a larger one refuses the event.
    pub max_context_bytes: usize,
}

/// An event was applied; `replayed` when an idempotency key returned the original.
#[derive(Debug, Clone, PartialEq)]
pub struct EventApplied {
    /// The transition.
    pub applied: TransitionApplied,
    /// Whether this is the stored result of an earlier request with the same key.
    pub replayed: bool,
    /// Whether the transition wrote jobs (the scheduler has work to look at).
    pub started_work: bool,
}

request!(ApplyEvent => EventApplied(EventApplied));

impl Locking for ApplyEvent {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        // No space lock: the instance's row lock is enough, as a deletion of the space waits on
        // it before it empties what this writes (see `space_rules`).
        locks.instance(&self.key);
    }
}

impl Command for ApplyEvent {
    fn idempotency(&self) -> Option<(&SpaceName, &Idempotency)> {
        self.idempotency.as_ref().map(|idem| (&self.key.space, idem))
    }

    fn replay(&self, stored: &str) -> Result<Self::Output, StoreError> {
        let applied = crate::persisted::StoredTransition::read(stored)?;
        Ok(EventApplied { applied, replayed: true, started_work: false })
    }

    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let key = &self.key;
        let (space, machine) = (key.space.as_ref(), key.machine.as_ref());
        let row = live_row(tx, key).await?;
        let state_ok = self.expected_state.as_deref().is_none_or(|s| s == row.state);
        let revision_ok = self.expected_revision.is_none_or(|r| r == row.revision);
        if !state_ok || !revision_ok {
            let e =
                StoreError::Conflict { address: key.address(), actual_state: row.state, actual_revision: row.revision };
            return Err(e.into());
        }
        refuse_if_finished(key, &row)?;
        let compiled = compiled_machine(tx, cx.machines, space, machine, row.machine_version).await?;
        let input = Input::Event { name: &self.event, payload: &self.payload };
        let idem_key = self.idempotency.as_ref().map(|i| i.key.as_str());
        let (applied, started_work) =
            transition(tx, cx, key, &row, &compiled, input, &self.payload, idem_key, self.max_context_bytes, None)
                .await?
                .map_err(StoreError::from)?;
        Ok(EventApplied { applied, replayed: false, started_work })
    }
}

/// The row of an instance that exists and is not deleted, locked; else `instance_not_found`.
async fn live_row<T: Tables>(tx: &mut T, key: &InstanceKey) -> TxResult<InstanceRow> {
    match tx.instance_for_update(key).await? {
        None => Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: None }.into()),
        Some(row) if row.deleted_at.is_some() => {
            Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: row.deleted_at }.into())
        }
        Some(row) => Ok(row),
    }
}

/// Refuses an event to an instance that was cancelled or stopped on an error.
fn refuse_if_finished(key: &InstanceKey, row: &InstanceRow) -> Result<(), StoreError> {
    match InstanceStatus::parse(&row.status) {
        Some(status @ (InstanceStatus::Cancelled | InstanceStatus::Failed)) => {
            Err(StoreError::InstanceFinished { address: key.address(), status: status.as_str().to_owned() })
        }
        _ => Ok(()),
    }
}

/// Refuses a cancellation or migration of an instance that is done: cancelled, stopped on an
/// error, or in a final state (reported with the status that state means).
fn refuse_if_done(key: &InstanceKey, row: &InstanceRow, compiled: &CompiledMachine) -> Result<(), StoreError> {
    refuse_if_finished(key, row)?;
    if compiled.is_final(&row.state) {
        let status = compiled.status_in(&row.state).as_str().to_owned();
        return Err(StoreError::InstanceFinished { address: key.address(), status });
    }
    Ok(())
}

/// The largest context an internal input (an action's result, a timer) may leave: the same
/// limit as the API's default, since the node's own is not known to the job's finish.
pub(super) const INTERNAL_MAX_CONTEXT_BYTES: usize = 1024 * 1024;

/// Moves the instance whose locked row is `row` by `input`: the model's transition, then (only
/// if the model accepted) the left state's pending work cancelled, the effects written as jobs
/// and child instances, the row updated and `instance.transitioned` appended; a child that
/// reached its end then moves its parent (and so on up). The inner `Err` is the model's
/// refusal, returned before anything is written.
#[allow(clippy::too_many_arguments)]
pub(super) async fn transition<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    key: &InstanceKey,
    row: &InstanceRow,
    compiled: &CompiledMachine,
    input: Input<'_>,
    record_payload: &JsonObject,
    idem_key: Option<&str>,
    max_context_bytes: usize,
    finished_job: Option<(&str, u32)>,
) -> TxResult<Result<(TransitionApplied, bool), TransitionError>> {
    let (finished_job, attempt) = match finished_job {
        Some((job, attempt)) => (Some(job), attempt),
        None => (None, 0),
    };
    let step = Step { input, record_payload, idem_key, max_context_bytes, finished_job, attempt, reports_seq: true };
    match transition_one(tx, cx, key, row, compiled, step).await? {
        Ok((applied, started_work, ends)) => {
            let parents_started = report_ends(tx, cx, ends).await?;
            Ok(Ok((applied, started_work || parents_started)))
        }
        Err(e) => Ok(Err(e)),
    }
}

/// What moves an instance in [`transition_one`], and how it is recorded.
struct Step<'a> {
    input: Input<'a>,
    record_payload: &'a JsonObject,
    idem_key: Option<&'a str>,
    max_context_bytes: usize,
    /// The work entry (job id, `child:…`) whose end this is: nothing of it to cancel.
    finished_job: Option<&'a str>,
    /// That work's attempt (0 when the step is not the end of work).
    attempt: u32,
    /// Whether the command's outcome carries this transition's seq.
    reports_seq: bool,
}

/// One instance's transition (see [`transition`]); returns, besides the transition, the end
/// to report to its parent when it was a child and is now done.
async fn transition_one<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    key: &InstanceKey,
    row: &InstanceRow,
    compiled: &CompiledMachine,
    step: Step<'_>,
) -> TxResult<Result<(TransitionApplied, bool, Vec<ChildEnd>), TransitionError>> {
    let Step { input, record_payload, idem_key, max_context_bytes, finished_job, attempt, reports_seq } = step;
    let ctx: JsonObject = serde_json::from_str(&row.ctx)?;
    let revision = row.revision.next();
    let address = key.address();
    let env = space_env(tx, key.space.as_ref(), compiled).await?;
    let info = InstanceInfo { address: &address, revision: revision.get(), attempt, env: env.as_ref() };
    let outcome = match compiled.step(&row.state, &ctx, input, info, cx.now.as_millis()) {
        Ok(outcome) => outcome,
        Err(e) => return Ok(Err(e)),
    };
    let new_ctx_text = serde_json::to_string(&outcome.ctx)?;
    if let Err(e) = crate::machines::check_context_size(&new_ctx_text, max_context_bytes) {
        return match e {
            StoreError::Transition(e) => Ok(Err(e)),
            other => Err(other.into()),
        };
    }
    let status = compiled.status_in(&outcome.to);
    let parent = crate::decode::instance_parent(row.parent.as_deref());
    let depth = parent.as_ref().map_or(0, |p| p.depth);
    let origin = Origin { key, state: &outcome.to, revision, depth, version: row.machine_version };
    let children = match plan_children(tx, cx, origin, &outcome.effects).await? {
        Ok(children) => children,
        Err(e) => return Ok(Err(e)),
    };
    let mut work = Vec::new();
    if row.work.is_some() || compiled.does_work() {
        let left = crate::decode::instance_work(row.work.as_deref());
        // The job whose end moves the instance has ended: nothing of it to cancel or read.
        let left: Vec<String> = left.into_iter().filter(|id| Some(id.as_str()) != finished_job).collect();
        work = leave_state(tx, cx, key, &row.state, &left, status.is_terminal()).await?;
        let entries = direct_entries(&children, &address, revision);
        work.extend(write_effects(tx, cx, key, &outcome.to, revision, &outcome.effects, &entries).await?);
    }
    let work_text = work_text(&work)?;
    let write = InstanceWrite {
        state: &outcome.to,
        ctx: &new_ctx_text,
        revision,
        status: status.as_str(),
        status_changed: row.status != status.as_str(),
        work: work_text.as_deref(),
        error: None,
        parent: None,
        now: cx.now,
    };
    tx.update_instance(key, &write).await?;
    let record = TransitionedRecord {
        event: input.name(),
        payload: record_payload,
        from: &row.state,
        to: &outcome.to,
        revision: revision.get(),
    };
    cx.append(tx, key.space.as_ref(), kinds::INSTANCE_TRANSITIONED, address.clone(), &record, idem_key, reports_seq)
        .await?;
    let started_work = !outcome.effects.is_empty();
    let mut ends = start_children(tx, cx, children).await?;
    if !status.is_terminal() {
        ends.extend(empty_fan_out(compiled, key, &outcome.to, revision, &work));
    }
    if let Some(parent) = parent
        && status.is_terminal()
    {
        ends.push(final_end(address, parent, status, &outcome.to, &outcome.ctx));
    }
    // The seq is patched in when the group's records are numbered.
    let applied =
        TransitionApplied { from: row.state.clone(), to: outcome.to, revision, seq: Seq(0), ctx: outcome.ctx };
    Ok(Ok((applied, started_work, ends)))
}

/// The end a child that reached a final state reports to its parent: its ctx as the result,
/// or, in a failure state, a `child_failed` error carrying it.
fn final_end(child: String, parent: ParentLink, status: InstanceStatus, state: &str, ctx: &JsonObject) -> ChildEnd {
    let outcome = if status == InstanceStatus::Completed {
        Ok(Value::Object(ctx.clone()))
    } else {
        Err(json!({
            "code": "child_failed",
            "message": format!("child {child} ended in its failure state \"{state}\""),
            "child": child,
            "state": state,
            "ctx": ctx,
        }))
    };
    ChildEnd { child: Some(child), parent, outcome }
}

/// Leaves a state: cancels its pending jobs (a running one finishes and is ignored) and its
/// child instance. The machine's timeout outlives the state unless the instance is done; what
/// stays is returned.
async fn leave_state<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    key: &InstanceKey,
    state: &str,
    work: &[String],
    done: bool,
) -> TxResult<Vec<String>> {
    let mut kept = Vec::new();
    for id in work {
        // A child, running or (in a fan-out) still queued.
        if let Some(child) = child_in_work(id).or_else(|| id.strip_prefix(QUEUED).and_then(child_in_work)) {
            let reason = format!("its parent {} left state \"{state}\"", key.address());
            cancel_children(tx, cx, vec![child.to_owned()], &reason).await?;
            continue;
        }
        if id.starts_with(COMPLETED) || id.starts_with(FAILED) {
            continue;
        }
        let Some(mut job) = tx.job_for_update(key.space.as_ref(), id).await? else { continue };
        if !done && is_machine_timeout(&job) {
            kept.push(job.id);
            continue;
        }
        if job.status == JobStatus::Pending {
            cancel_job_row(tx, cx, &mut job).await?;
        }
    }
    Ok(kept)
}

/// Cancels every job of `work` that has not finished, running ones included (their attempts'
/// ends are then ignored), and the child instance with its own children (`why` the parent
/// stops: "was cancelled", "failed").
pub(super) async fn cancel_work<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    key: &InstanceKey,
    work: &[String],
    why: &str,
) -> TxResult<()> {
    let children = cancel_jobs(tx, cx, key, work).await?;
    if !children.is_empty() {
        cancel_children(tx, cx, children, &format!("its parent {} {why}", key.address())).await?;
    }
    Ok(())
}

/// Cancels the jobs of `work` that have not finished; returns the addresses of the children it
/// lists, left to the caller.
async fn cancel_jobs<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    key: &InstanceKey,
    work: &[String],
) -> TxResult<Vec<String>> {
    let mut children = Vec::new();
    for id in work {
        if let Some(child) = child_in_work(id).or_else(|| id.strip_prefix(QUEUED).and_then(child_in_work)) {
            children.push(child.to_owned());
        } else if id.starts_with(COMPLETED) || id.starts_with(FAILED) {
            // A fan-out's child that ended: nothing to cancel.
        } else if let Some(mut job) = tx.job_for_update(key.space.as_ref(), id).await?
            && !job.status.is_terminal()
        {
            cancel_job_row(tx, cx, &mut job).await?;
        }
    }
    Ok(children)
}

/// Cancels child instances their parent no longer waits for, and their children in turn: their
/// work cancelled, status `cancelled` with `reason`, `instance.cancelled` appended. A child that
/// is done or gone already is left as it is; none reports back, as its parent moved on.
async fn cancel_children<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    mut children: Vec<String>,
    reason: &str,
) -> TxResult<()> {
    while let Some(address) = children.pop() {
        let Some(key) = InstanceKey::from_address(&address) else { continue };
        let Some(row) = tx.instance_for_update(&key).await? else { continue };
        if row.deleted_at.is_some() || crate::decode::instance_status(&row.status).is_terminal() {
            continue;
        }
        let work = crate::decode::instance_work(row.work.as_deref());
        children.extend(cancel_jobs(tx, cx, &key, &work).await?);
        let error = json!({ "code": "cancelled", "message": format!("cancelled because {reason}") });
        let error_text = serde_json::to_string(&error)?;
        tx.set_instance_status(&key, InstanceStatus::Cancelled.as_str(), None, Some(&error_text), cx.now).await?;
        let record = json!({ "state": row.state, "reason": error["message"] });
        cx.append(tx, key.space.as_ref(), kinds::INSTANCE_CANCELLED, address, &record, None, false).await?;
    }
    Ok(())
}

fn is_machine_timeout(job: &JobRecord) -> bool {
    job.kind.as_str() == TIMER_JOB
        && job.payload.get("timer").and_then(Value::as_str) == Some(switchyard_model::definition::MACHINE_TIMEOUT)
}

fn work_text(work: &[String]) -> Result<Option<String>, StoreError> {
    if work.is_empty() { Ok(None) } else { Ok(Some(serde_json::to_string(work)?)) }
}

/// Writes a transition's effects as jobs (the outbox); returns the ids of those that report
/// back to the instance (its action and timers), and the entry of its child instance, which
/// [`start_children`] creates.
async fn write_effects<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    key: &InstanceKey,
    state: &str,
    revision: Revision,
    effects: &[Effect],
    children: &[String],
) -> TxResult<Vec<String>> {
    let mut work = Vec::new();
    let address = key.address();
    for (n, effect) in effects.iter().enumerate() {
        if let Effect::Invoke { kind: InvokeKind::Machine, .. } = effect {
            // A fan-out over an empty list has no children; the caller reports its end.
            work.extend(children.iter().cloned());
            continue;
        }
        let reply = json!({ "instance": address, "state": state, "revision": revision.get() });
        let (kind, mut payload, run_at, retry, reports) = match effect {
            Effect::Invoke { kind, payload, timeout_ms, retry } => {
                let mut payload = payload.clone();
                if let Some(timeout) = timeout_ms {
                    payload["timeout_ms"] = Value::from(*timeout);
                }
                (job_kind(*kind), payload, cx.now, retry.clone().unwrap_or_default(), true)
            }
            Effect::Timer { name, at_ms } => {
                (TIMER_JOB, json!({ "timer": name }), switchyard_model::Timestamp(*at_ms), RetryPolicy::default(), true)
            }
            Effect::Emit { kind, payload } => (job_kind(*kind), payload.clone(), cx.now, RetryPolicy::default(), false),
        };
        if reports {
            payload["reply"] = reply;
        }
        let target = job_target(key, kind, &payload);
        let spec = JobSpec {
            id: job_id(&address, revision, n),
            space: key.space.clone(),
            kind: Segment::new(kind).map_err(|e| StoreError::Internal(format!("job kind {kind}: {e}")))?,
            target,
            payload,
            priority: 0,
            concurrency_key: None,
            // No key: the id is already derived from the instance, and a key could collide with
            // one a client chose for a job of its own. The job's effect key is then its id.
            idempotency_key: None,
            run_at,
            retry,
        };
        let job = insert_job(tx, cx, &spec).await?;
        if reports {
            work.push(job.id);
        }
    }
    Ok(work)
}

/// The job kind an effect runs as.
fn job_kind(kind: InvokeKind) -> &'static str {
    match kind {
        InvokeKind::Function => "function",
        InvokeKind::Http => "http",
        InvokeKind::Publish => "publish",
        InvokeKind::Send => "event",
        // Not a job: `write_effects` starts a child instance instead.
        InvokeKind::Machine => "machine",
    }
}

/// What a job acts on, for listings: a function, URL, topic or instance address.
fn job_target(key: &InstanceKey, kind: &str, payload: &Value) -> String {
    let field = |name: &str| payload.get(name).and_then(Value::as_str).unwrap_or("");
    let in_space = |name: &str| {
        if name.contains(':') { name.to_owned() } else { format!("{}:{name}", key.space) }
    };
    match kind {
        "function" => in_space(field("function")),
        "http" => field("url").to_owned(),
        "publish" => in_space(field("topic")),
        "event" => format!("{}:{}", key.space, field("instance")),
        _ => key.address(),
    }
}

/// A job id derived from the instance, its revision and the effect's place: unique (a revision
/// is never reused), and the same if the group is run again.
fn job_id(address: &str, revision: Revision, n: usize) -> String {
    let half = |salt: u8| {
        let mut hasher = std::hash::DefaultHasher::new();
        (salt, address, revision.get(), n).hash(&mut hasher);
        hasher.finish()
    };
    let (a, b) = (half(0), half(1));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Stops an instance on an error nothing handled: its work cancelled, status `failed`, the
/// error kept, `instance.failed` appended.
pub(super) async fn fail_instance<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    key: &InstanceKey,
    row: &InstanceRow,
    error: &Value,
) -> TxResult<()> {
    let end = fail_one(tx, cx, key, row, error).await?;
    report_ends(tx, cx, end).await?;
    Ok(())
}

/// One instance's failure (see [`fail_instance`]); returns the end to report to its parent.
async fn fail_one<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    key: &InstanceKey,
    row: &InstanceRow,
    error: &Value,
) -> TxResult<Option<ChildEnd>> {
    let work = crate::decode::instance_work(row.work.as_deref());
    cancel_work(tx, cx, key, &work, "failed").await?;
    let error_text = serde_json::to_string(error)?;
    tx.set_instance_status(key, InstanceStatus::Failed.as_str(), None, Some(&error_text), cx.now).await?;
    let record = json!({ "state": row.state, "error": error });
    cx.append(tx, key.space.as_ref(), kinds::INSTANCE_FAILED, key.address(), &record, None, false).await?;
    let message = error.get("message").and_then(Value::as_str).unwrap_or("it stopped on an error");
    Ok(child_end(key, row, "child_failed", format!("child {} failed: {message}", key.address()), Some(error)))
}

/// The end of `row`'s instance as its parent sees it, an error, if it has a parent.
fn child_end(
    key: &InstanceKey,
    row: &InstanceRow,
    code: &str,
    message: String,
    cause: Option<&Value>,
) -> Option<ChildEnd> {
    let parent = crate::decode::instance_parent(row.parent.as_deref())?;
    let child = key.address();
    let mut error = json!({ "code": code, "message": message, "child": child, "state": row.state });
    if let Some(cause) = cause {
        error["cause"] = cause.clone();
    }
    Some(ChildEnd { child: Some(child), parent, outcome: Err(error) })
}

/// The end of a child instance (its final ctx, or the error it ended on), on its way to the
/// parent that waits for it.
struct ChildEnd {
    /// The child's address (`None` for a fan-out that started no child).
    child: Option<String>,
    /// The parent and the state that waits.
    parent: ParentLink,
    /// `Ok(final ctx)` as the parent's `result`, or `Err(error)` as its `error`.
    outcome: Result<Value, Value>,
}

/// Applies children's ends to their parents, up the chain while parents end in turn: a result
/// as `done.invoke`, an error as `error.invoke`, in the parent's transaction. A parent that no
/// longer waits for the child (it left the state, was cancelled) records the end and ignores it;
/// a deleted one ignores it. Returns whether a parent's transition wrote jobs.
async fn report_ends<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    ends: impl IntoIterator<Item = ChildEnd>,
) -> TxResult<bool> {
    let mut started_work = false;
    let mut pending: Vec<ChildEnd> = ends.into_iter().collect();
    while let Some(end) = pending.pop() {
        let Some(key) = InstanceKey::from_address(&end.parent.instance) else { continue };
        let Some(row) = tx.instance_for_update(&key).await? else { continue };
        if row.deleted_at.is_some() {
            continue;
        }
        let live = !crate::decode::instance_status(&row.status).is_terminal();
        let entry = end.child.as_deref().map(child_work_entry);
        let waiting = live
            && match &entry {
                // A child, running (or, in a fan-out, still queued when it was cancelled).
                Some(entry) => crate::decode::instance_work(row.work.as_deref())
                    .iter()
                    .any(|e| e == entry || e.strip_prefix(QUEUED) == Some(entry.as_str())),
                // A fan-out over an empty list: the state that started it is still current.
                None => row.state == end.parent.state && row.revision.get() == end.parent.revision,
            };
        if !waiting {
            let status = if end.outcome.is_ok() { "completed" } else { "failed" };
            let record = json!({ "child": end.child, "kind": "machine", "status": status, "state": row.state });
            cx.append(tx, key.space.as_ref(), kinds::INSTANCE_RESULT_IGNORED, key.address(), &record, None, false)
                .await?;
            continue;
        }
        let compiled =
            compiled_machine(tx, cx.machines, key.space.as_ref(), key.machine.as_ref(), row.machine_version).await?;
        let entry = entry.unwrap_or_else(|| format!("fan-out:{}", end.parent.revision));
        let mut outcome = end.outcome;
        if let (Some(child), Some(settings)) = (&end.child, compiled.fan_out(&row.state)) {
            // Siblings that ended in the same transaction are counted together: one rewrite of
            // the parent's work for all of them.
            let mut ended = vec![(child.clone(), outcome.clone())];
            let work = crate::decode::instance_work(row.work.as_deref());
            let sibling = |e: &ChildEnd| {
                e.parent.instance == end.parent.instance
                    && e.parent.revision == end.parent.revision
                    && e.child.as_deref().is_some_and(|c| {
                        let entry = child_work_entry(c);
                        work.iter().any(|w| *w == entry || w.strip_prefix(QUEUED) == Some(entry.as_str()))
                    })
            };
            let (siblings, rest): (Vec<ChildEnd>, Vec<ChildEnd>) = pending.drain(..).partition(sibling);
            pending = rest;
            ended.extend(siblings.into_iter().filter_map(|e| Some((e.child?, e.outcome))));
            match fan_in(tx, cx, &key, &row, &ended, settings).await? {
                FanIn::Waiting { ends, started } => {
                    started_work |= started;
                    pending.extend(ends);
                    continue;
                }
                FanIn::Joined(joined) => outcome = joined,
            }
        }
        let mut payload = JsonObject::new();
        if let Some(child) = &end.child {
            payload.insert("child".into(), Value::String(child.clone()));
        }
        let input = match &outcome {
            Ok(result) => {
                payload.insert("result".into(), result.clone());
                Input::Done(result)
            }
            Err(error) => {
                payload.insert("error".into(), error.clone());
                Input::Failed(error)
            }
        };
        let idem_key = entry.clone();
        let step = Step {
            input,
            record_payload: &payload,
            idem_key: Some(&idem_key),
            max_context_bytes: INTERNAL_MAX_CONTEXT_BYTES,
            finished_job: Some(&entry),
            attempt: 1,
            reports_seq: false,
        };
        match transition_one(tx, cx, &key, &row, &compiled, step).await? {
            Ok((_, started, ends)) => {
                started_work |= started;
                pending.extend(ends);
            }
            Err(e) => {
                let error = unhandled(&e, input);
                pending.extend(fail_one(tx, cx, &key, &row, &error).await?);
            }
        }
    }
    Ok(started_work)
}

/// What one child's end does to a fan-out.
enum FanIn {
    /// The join is not decided: queued children may have started (and ended at once).
    Waiting { ends: Vec<ChildEnd>, started: bool },
    /// Decided: the children's final contexts in the list's order (`null` for those that did
    /// not complete), or why enough of them cannot complete.
    Joined(Result<Value, Value>),
}

/// Records fan-out children's ends in their parent's work (`ok:` / `failed:` before each entry),
/// then decides the join, or starts queued children while fewer than `concurrency` run.
async fn fan_in<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    key: &InstanceKey,
    row: &InstanceRow,
    ended: &[(String, Result<Value, Value>)],
    settings: switchyard_model::definition::FanOutSettings<'_>,
) -> TxResult<FanIn> {
    let (join, concurrency) = (settings.join, settings.concurrency);
    let mut work = crate::decode::instance_work(row.work.as_deref());
    for (child, outcome) in ended {
        let entry = child_work_entry(child);
        let mark = format!("{}{entry}", if outcome.is_ok() { COMPLETED } else { FAILED });
        if let Some(slot) = work.iter_mut().find(|e| **e == entry || e.strip_prefix(QUEUED) == Some(entry.as_str())) {
            *slot = mark;
        }
    }
    // The child an error names: the first of these that failed.
    let failure = ended.iter().find(|(_, outcome)| outcome.is_err());
    let child = failure.or(ended.first()).map_or("", |(child, _)| child.as_str());
    let outcome = failure.map_or(&Ok(Value::Null), |(_, outcome)| outcome);
    let (mut total, mut completed, mut failed, mut running) = (0usize, 0usize, 0usize, 0usize);
    for slot in &work {
        if slot.starts_with(COMPLETED) {
            completed += 1;
        } else if slot.starts_with(FAILED) {
            failed += 1;
        } else if child_in_work(slot).is_some() {
            running += 1;
        } else if !slot.starts_with(QUEUED) {
            continue;
        }
        total += 1;
    }
    let needed = join.needed(total);
    if completed >= needed {
        let mut results = Vec::with_capacity(total);
        for slot in &work {
            if let Some(address) = slot.strip_prefix(COMPLETED).and_then(child_in_work) {
                let ctx = match InstanceKey::from_address(address) {
                    Some(child_key) => match tx.instance_for_update(&child_key).await? {
                        Some(child_row) => {
                            let mut ctx: JsonObject = serde_json::from_str(&child_row.ctx)?;
                            if !settings.collect.is_empty() {
                                ctx.retain(|k, _| settings.collect.iter().any(|c| c == k));
                            }
                            Value::Object(ctx)
                        }
                        None => Value::Null,
                    },
                    None => Value::Null,
                };
                results.push(ctx);
            } else if slot.starts_with(FAILED) || slot.starts_with(QUEUED) || child_in_work(slot).is_some() {
                results.push(Value::Null);
            }
        }
        return Ok(FanIn::Joined(Ok(Value::Array(results))));
    }
    if failed > total - needed {
        let cause = outcome.as_ref().err().cloned().unwrap_or(Value::Null);
        let message = match join {
            switchyard_model::definition::Join::All => {
                format!("child {child} did not complete, so not all {total} children can")
            }
            _ => format!("{failed} of {total} children did not complete; {needed} had to"),
        };
        return Ok(FanIn::Joined(Err(json!({
            "code": "child_failed",
            "message": message,
            "child": child,
            "cause": cause,
        }))));
    }
    // Room for more: start queued children, in the list's order.
    let limit = concurrency.map_or(usize::MAX, |c| c as usize);
    let mut ends = Vec::new();
    let mut started = false;
    for slot in work.iter_mut() {
        if running >= limit {
            break;
        }
        let Some(address) = slot.strip_prefix(QUEUED).and_then(child_in_work).map(str::to_owned) else { continue };
        *slot = child_work_entry(&address);
        running += 1;
        let (child_ends, child_started) = release_child(tx, cx, &address).await?;
        ends.extend(child_ends);
        started |= child_started;
    }
    let work_text = work_text(&work)?;
    tx.set_instance_status(key, &row.status, work_text.as_deref(), None, cx.now).await?;
    Ok(FanIn::Waiting { ends, started })
}

/// Starts a queued child: its machine's start (its initial state's work, its eventless steps)
/// as if it had just been created, recorded as `instance.transitioned` on `start`. A child
/// that moved on its own meanwhile (an event) or is gone is left as it is.
async fn release_child<T: Tables>(tx: &mut T, cx: &mut Cx<'_>, address: &str) -> TxResult<(Vec<ChildEnd>, bool)> {
    let Some(key) = InstanceKey::from_address(address) else { return Ok((Vec::new(), false)) };
    let Some(row) = tx.instance_for_update(&key).await? else { return Ok((Vec::new(), false)) };
    let status = crate::decode::instance_status(&row.status);
    if row.deleted_at.is_some() || status.is_terminal() || row.revision != Revision::FIRST {
        return Ok((Vec::new(), false));
    }
    let compiled =
        compiled_machine(tx, cx.machines, key.space.as_ref(), key.machine.as_ref(), row.machine_version).await?;
    if row.state != compiled.initial_state() || !compiled.does_work() {
        return Ok((Vec::new(), false));
    }
    let ctx: JsonObject = serde_json::from_str(&row.ctx)?;
    let revision = Revision::FIRST.next();
    let env = space_env(tx, key.space.as_ref(), &compiled).await?;
    let info = InstanceInfo { address, revision: revision.get(), attempt: 0, env: env.as_ref() };
    let started = match compiled.start(&ctx, info, cx.now.as_millis()) {
        Ok(started) => started,
        Err(e) => {
            let error = json!({ "code": "transition_failed", "message": e.to_string(), "input": "start" });
            return Ok((fail_one(tx, cx, &key, &row, &error).await?.into_iter().collect(), false));
        }
    };
    let parent = crate::decode::instance_parent(row.parent.as_deref());
    let depth = parent.as_ref().map_or(0, |p| p.depth);
    let origin = Origin { key: &key, state: &started.state, revision, depth, version: row.machine_version };
    let children = match plan_children(tx, cx, origin, &started.effects).await? {
        Ok(children) => children,
        Err(e) => {
            let error = json!({ "code": "transition_failed", "message": e.to_string(), "input": "start" });
            return Ok((fail_one(tx, cx, &key, &row, &error).await?.into_iter().collect(), false));
        }
    };
    let ctx = started.ctx.unwrap_or(ctx);
    let ctx_text = serde_json::to_string(&ctx)?;
    if let Err(e) = crate::machines::check_context_size(&ctx_text, INTERNAL_MAX_CONTEXT_BYTES) {
        let error = json!({ "code": "transition_failed", "message": e.to_string(), "input": "start" });
        return Ok((fail_one(tx, cx, &key, &row, &error).await?.into_iter().collect(), false));
    }
    let status = compiled.status_in(&started.state);
    let entries = direct_entries(&children, address, revision);
    let work = write_effects(tx, cx, &key, &started.state, revision, &started.effects, &entries).await?;
    let work_text = work_text(&work)?;
    let write = InstanceWrite {
        state: &started.state,
        ctx: &ctx_text,
        revision,
        status: status.as_str(),
        status_changed: row.status != status.as_str(),
        work: work_text.as_deref(),
        error: None,
        parent: None,
        now: cx.now,
    };
    tx.update_instance(&key, &write).await?;
    let empty = JsonObject::new();
    let record = TransitionedRecord {
        event: "start",
        payload: &empty,
        from: &row.state,
        to: &started.state,
        revision: revision.get(),
    };
    cx.append(tx, key.space.as_ref(), kinds::INSTANCE_TRANSITIONED, address.to_owned(), &record, None, false).await?;
    let mut ends = start_children(tx, cx, children).await?;
    if !status.is_terminal() {
        ends.extend(empty_fan_out(&compiled, &key, &started.state, revision, &work));
    }
    if let Some(parent) = parent
        && status.is_terminal()
    {
        ends.push(final_end(address.to_owned(), parent, status, &started.state, &ctx));
    }
    Ok((ends, !started.effects.is_empty()))
}

/// The work entries of the children an instance (`address`, at `revision`) starts itself,
/// out of every child planned with it (grandchildren included).
fn direct_entries(children: &[PlannedChild], address: &str, revision: Revision) -> Vec<String> {
    children
        .iter()
        .filter(|c| c.parent.instance == address && c.parent.revision == revision.get())
        .map(PlannedChild::entry)
        .collect()
}

/// The end of a fan-out that started no child (its list was empty): done at once with `[]`.
fn empty_fan_out(
    compiled: &CompiledMachine,
    key: &InstanceKey,
    state: &str,
    revision: Revision,
    work: &[String],
) -> Option<ChildEnd> {
    compiled.fan_out(state)?;
    let has_children = work.iter().any(|e| {
        child_in_work(e).is_some() || e.starts_with(QUEUED) || e.starts_with(COMPLETED) || e.starts_with(FAILED)
    });
    if has_children {
        return None;
    }
    let parent = ParentLink { instance: key.address(), state: state.to_owned(), revision: revision.get(), depth: 0 };
    Some(ChildEnd { child: None, parent, outcome: Ok(Value::Array(Vec::new())) })
}

/// The error an instance stops on when its machine cannot apply an action's outcome: the
/// action's own code when no `on_error` branch took the error, `transition_failed` otherwise.
pub(super) fn unhandled(e: &TransitionError, input: Input<'_>) -> Value {
    let code = match (e, input) {
        (TransitionError::NoTransition { .. }, Input::Failed(error)) => {
            error.get("code").and_then(Value::as_str).unwrap_or("failed").to_owned()
        }
        _ => "transition_failed".to_owned(),
    };
    json!({ "code": code, "message": e.to_string(), "input": input.name() })
}

/// Where a transition starts children from: the instance, the state it entered, its revision
/// there, and how deep below a top-level instance it is.
#[derive(Clone, Copy)]
struct Origin<'a> {
    key: &'a InstanceKey,
    state: &'a str,
    revision: Revision,
    depth: u32,
    /// The version of the instance's machine: children of the same machine run it too, so a
    /// flow's items and branches find the nodes their run was started with.
    version: MachineVersion,
}

/// A child instance a transition starts, checked in full before anything is written.
struct PlannedChild {
    key: InstanceKey,
    version: MachineVersion,
    ctx: JsonObject,
    status: InstanceStatus,
    state: String,
    effects: Vec<Effect>,
    parent: ParentLink,
    /// The work entries of the children this one starts (`child:…`, `queued:child:…`).
    children: Vec<String>,
    /// Created but not started: it waits for a sibling to end (a fan-out's concurrency).
    queued: bool,
    /// Its machine, compiled.
    compiled: std::sync::Arc<CompiledMachine>,
}

/// The child instances an `invoke: {machine}` effect of `parent` at `revision` may start, in
/// order of preference: the machine it names (in the parent's space unless it says another),
/// with an id derived from the parent and its revision — readable, `{machine}.{id}.{revision}`,
/// unless that is too long; else (or when the readable one is taken) hashed. Revisions are
/// never reused, so a parent never derives the same ids twice.
fn child_keys(
    parent: &InstanceKey,
    revision: Revision,
    machine: &str,
    index: Option<usize>,
) -> Result<Vec<InstanceKey>, String> {
    let (space, name) = machine.split_once(':').unwrap_or((parent.space.as_str(), machine));
    let space = switchyard_model::SpaceName::new(space).map_err(|e| format!("child machine {machine:?}: {e}"))?;
    let name = Segment::new(name).map_err(|e| format!("child machine {machine:?}: {e}"))?;
    let mut hasher = std::hash::DefaultHasher::new();
    (parent.address(), revision.get(), index).hash(&mut hasher);
    let hashed = Segment::new(&format!("child-{:016x}", hasher.finish())).map_err(|e| format!("child id: {e}"))?;
    let suffix = index.map(|i| format!(".{i}")).unwrap_or_default();
    let readable = Segment::new(&format!("{}.{}.{}{suffix}", parent.machine, parent.id, revision.get())).ok();
    Ok(readable
        .into_iter()
        .chain([hashed])
        .map(|id| InstanceKey { space: space.clone(), machine: name.clone(), id })
        .collect())
}

/// Checks every child instance `effects` start (and the children those start, down the tree)
/// before anything is written: the machine exists in the parent's space, the input fits its
/// context schema, it does not start final, the nesting is not too deep, the id is free. The
/// children are returned parents first.
async fn plan_children<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    origin: Origin<'_>,
    effects: &[Effect],
) -> TxResult<Result<Vec<PlannedChild>, TransitionError>> {
    let mut planned: Vec<PlannedChild> = Vec::new();
    let first = match plan_child(tx, cx, origin, effects).await? {
        Ok(first) => first,
        Err(e) => return Ok(Err(e)),
    };
    planned.extend(first);
    let mut next = 0;
    while next < planned.len() {
        let child = &planned[next];
        let (key, state, depth, version) = (child.key.clone(), child.state.clone(), child.parent.depth, child.version);
        let effects = std::mem::take(&mut planned[next].effects);
        let origin = Origin { key: &key, state: &state, revision: Revision::FIRST, depth, version };
        let grandchildren = plan_child(tx, cx, origin, &effects).await?;
        planned[next].effects = effects;
        match grandchildren {
            Ok(grandchildren) => {
                planned[next].children = grandchildren.iter().map(PlannedChild::entry).collect();
                planned.extend(grandchildren);
            }
            Err(e) => return Ok(Err(e)),
        }
        next += 1;
    }
    Ok(Ok(planned))
}

/// The children one instance's `effects` start, if they start any (a state invokes one thing):
/// one child, or one per element of a fan-out's list (those past its concurrency queued).
async fn plan_child<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    origin: Origin<'_>,
    effects: &[Effect],
) -> TxResult<Result<Vec<PlannedChild>, TransitionError>> {
    let Some(payload) = effects.iter().find_map(|effect| match effect {
        Effect::Invoke { kind: InvokeKind::Machine, payload, .. } => Some(payload),
        _ => None,
    }) else {
        return Ok(Ok(Vec::new()));
    };
    let expression = format!("states.{}.invoke.machine", origin.state);
    let refuse = |message: String| Ok(Err(TransitionError::EffectFailed { expression: expression.clone(), message }));
    let machine = payload.get("machine").and_then(Value::as_str).unwrap_or("");
    let depth = origin.depth + 1;
    if depth > switchyard_model::MAX_CHILD_DEPTH {
        return refuse(format!(
            "{} would start {machine:?} {depth} levels below a top-level instance; children nest at most {} deep (does the machine start itself?)",
            origin.key.address(),
            switchyard_model::MAX_CHILD_DEPTH
        ));
    }
    // One input, or a fan-out's list of them.
    let (inputs, fan_out): (Vec<&Value>, bool) = match payload.get("inputs").and_then(Value::as_array) {
        Some(inputs) => (inputs.iter().collect(), true),
        None => (vec![payload.get("input").unwrap_or(&Value::Null)], false),
    };
    let concurrency = payload.get("concurrency").and_then(Value::as_u64).map_or(usize::MAX, |c| c as usize);
    let mut planned = Vec::with_capacity(inputs.len());
    let mut compiled = None;
    // Loaded once for all the children, when their machine reads it.
    let mut env: Option<Option<Value>> = None;
    for (index, input) in inputs.into_iter().enumerate() {
        let candidates = match child_keys(origin.key, origin.revision, machine, fan_out.then_some(index)) {
            Ok(candidates) => candidates,
            Err(message) => return refuse(message),
        };
        let Some(first) = candidates.first() else { return refuse("no id for the child".to_owned()) };
        let key = first.clone();
        if key.space != origin.key.space {
            return refuse(format!(
                "{machine:?} is in another space; an instance starts children in its own space only"
            ));
        }
        let (space, name) = (key.space.as_ref(), key.machine.as_ref());
        if compiled.is_none() {
            let own = key.space == origin.key.space && key.machine == origin.key.machine;
            let version = if own { Some(origin.version) } else { tx.latest_machine_version(space, name).await? };
            let Some(version) = version else {
                return refuse(format!("machine {space}:{name} is not defined; put it before starting it as a child"));
            };
            compiled = Some((version, compiled_machine(tx, cx.machines, space, name, version).await?));
        }
        let Some((version, machine_compiled)) = compiled.clone() else { continue };
        let at = if fan_out { format!(" (element {index})") } else { String::new() };
        let ctx: JsonObject = match input {
            Value::Object(input) => input.clone(),
            _ => JsonObject::new(),
        };
        if let Err(e) = machine_compiled.validate_context(&ctx) {
            return refuse(format!("the input{at} does not fit {space}:{name}'s context_schema: {e}"));
        }
        match crate::machines::check_context_size(&serde_json::to_string(&ctx)?, INTERNAL_MAX_CONTEXT_BYTES) {
            Ok(()) => {}
            Err(StoreError::Transition(e)) => return Ok(Err(e)),
            Err(other) => return Err(other.into()),
        }
        let state = machine_compiled.initial_state().to_owned();
        if machine_compiled.is_final(&state) {
            return refuse(format!(
                "{space}:{name} starts in its final state \"{state}\", so there is nothing to wait for"
            ));
        }
        let mut free = None;
        for candidate in candidates {
            if tx.instance_deleted_at_for_update(&candidate).await?.is_none() {
                free = Some(candidate);
                break;
            }
        }
        let Some(key) = free else {
            return refuse(format!("the child's ids are taken: instance {} exists already", key.address()));
        };
        let queued = index >= concurrency;
        let address = key.address();
        if env.is_none() && machine_compiled.does_work() && !queued {
            env = Some(space_env(tx, space, &machine_compiled).await?);
        }
        let info = InstanceInfo {
            address: &address,
            revision: Revision::FIRST.get(),
            attempt: 0,
            env: env.as_ref().and_then(Option::as_ref),
        };
        let (state, ctx, effects) = if machine_compiled.does_work() && !queued {
            match machine_compiled.start(&ctx, info, cx.now.as_millis()) {
                Ok(switchyard_model::definition::Started { state, ctx: Some(grown), effects }) => {
                    // Its eventless steps may have grown the context.
                    let text = serde_json::to_string(&grown)?;
                    match crate::machines::check_context_size(&text, INTERNAL_MAX_CONTEXT_BYTES) {
                        Ok(()) => {}
                        Err(StoreError::Transition(e)) => return Ok(Err(e)),
                        Err(other) => return Err(other.into()),
                    }
                    (state, grown, effects)
                }
                Ok(started) => (started.state, ctx, started.effects),
                Err(e) => return Ok(Err(e)),
            }
        } else {
            (state, ctx, Vec::new())
        };
        let parent = ParentLink {
            instance: origin.key.address(),
            state: origin.state.to_owned(),
            revision: origin.revision.get(),
            depth,
        };
        let status = machine_compiled.status_in(&state);
        let (children, compiled_child) = (Vec::new(), machine_compiled.clone());
        planned.push(PlannedChild {
            key,
            version,
            ctx,
            status,
            state,
            effects,
            parent,
            children,
            queued,
            compiled: compiled_child,
        });
    }
    Ok(Ok(planned))
}

impl PlannedChild {
    /// Its entry in its parent's work.
    fn entry(&self) -> String {
        let entry = child_work_entry(&self.key.address());
        if self.queued { format!("{QUEUED}{entry}") } else { entry }
    }
}

/// The prefix of a fan-out's child that waits for a sibling to end before it starts.
const QUEUED: &str = "queued:";
/// The prefix of a fan-out's child that completed.
const COMPLETED: &str = "ok:";
/// The prefix of a fan-out's child that failed, was cancelled or deleted.
const FAILED: &str = "failed:";

/// Creates planned children (parents first): each row with its parent link and its own work,
/// `instance.created` on the child and `instance.child_started` on the parent.
async fn start_children<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    children: Vec<PlannedChild>,
) -> TxResult<Vec<ChildEnd>> {
    let mut ended = Vec::new();
    for child in children {
        let key = &child.key;
        let work = write_effects(tx, cx, key, &child.state, Revision::FIRST, &child.effects, &child.children).await?;
        let work_text = work_text(&work)?;
        let ctx_text = serde_json::to_string(&child.ctx)?;
        let parent_text = serde_json::to_string(&child.parent)?;
        let write = InstanceWrite {
            state: &child.state,
            ctx: &ctx_text,
            revision: Revision::FIRST,
            status: child.status.as_str(),
            status_changed: true,
            work: work_text.as_deref(),
            error: None,
            parent: Some(&parent_text),
            now: cx.now,
        };
        if !tx.insert_instance(key, child.version, &write).await? {
            return Err(StoreError::InstanceExists { address: key.address() }.into());
        }
        let space = key.space.as_ref();
        let mut record = json!({
            "machine_version": child.version.get(),
            "state": child.state,
            "ctx": child.ctx,
            "parent": child.parent,
        });
        if child.queued {
            record["queued"] = Value::Bool(true);
        }
        cx.append(tx, space, kinds::INSTANCE_CREATED, key.address(), &record, None, false).await?;
        let record =
            json!({ "child": key.address(), "machine_version": child.version.get(), "state": child.parent.state });
        cx.append(tx, space, kinds::INSTANCE_CHILD_STARTED, child.parent.instance.clone(), &record, None, false)
            .await?;
        // Eventless transitions may have taken it straight to a final state, or into a fan-out
        // over an empty list.
        if !child.queued && !child.status.is_terminal() {
            ended.extend(empty_fan_out(&child.compiled, key, &child.state, Revision::FIRST, &work));
        }
        if child.status.is_terminal() && !child.queued {
            ended.push(final_end(key.address(), child.parent, child.status, &child.state, &child.ctx));
        }
    }
    Ok(ended)
}

/// Moves an instance to another version of its machine, when its current state exists there.
/// Its pending work carries over: a result is then applied by the new version's outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrateInstance {
    /// The instance.
    pub key: InstanceKey,
    /// The version to move to.
    pub version: MachineVersion,
}

/// An instance moved from one version to another (the same when it was on it already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceMigrated {
    /// The version it was on.
    pub from: MachineVersion,
    /// The version it is on now.
    pub to: MachineVersion,
}

request!(MigrateInstance => InstanceMigrated(InstanceMigrated));

impl Locking for MigrateInstance {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.instance(&self.key);
    }
}

impl Command for MigrateInstance {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let key = &self.key;
        let row = live_row(tx, key).await?;
        let from = row.machine_version;
        let (space, machine) = (key.space.as_ref(), key.machine.as_ref());
        let current = compiled_machine(tx, cx.machines, space, machine, from).await?;
        refuse_if_done(key, &row, &current)?;
        if from == self.version {
            return Ok(InstanceMigrated { from, to: from });
        }
        let target = compiled_machine(tx, cx.machines, space, machine, self.version).await?;
        let refuse =
            |reason: String| StoreError::MigrationRefused { address: key.address(), version: self.version, reason };
        if !target.has_state(&row.state) {
            return Err(refuse(format!("its state \"{}\" is not in that version", row.state)).into());
        }
        // The work the state started (its action, timers, the machine's timeout) must mean the
        // same in the new version, or its results would be applied by rules that did not start it.
        let state_of = |m: &CompiledMachine| m.canonical_json().get("states").and_then(|s| s.get(&row.state)).cloned();
        if state_of(&current) != state_of(&target) {
            return Err(refuse(format!(
                "state \"{}\" is defined differently there (its work, timers or finality); move it from a state both versions define alike",
                row.state
            ))
            .into());
        }
        if current.canonical_json().get("timeout") != target.canonical_json().get("timeout") {
            return Err(refuse("the machine's timeout differs between the versions".to_owned()).into());
        }
        let ctx: JsonObject = serde_json::from_str(&row.ctx)?;
        if let Err(e) = target.validate_context(&ctx) {
            return Err(refuse(format!("its ctx does not match that version's context_schema: {e}")).into());
        }
        let status = target.status_in(&row.state);
        tx.set_instance_version(key, self.version, status.as_str(), cx.now).await?;
        let record = json!({ "from_version": from.get(), "to_version": self.version.get(), "state": row.state });
        cx.append(tx, space, kinds::INSTANCE_MIGRATED, key.address(), &record, None, false).await?;
        Ok(InstanceMigrated { from, to: self.version })
    }
}

/// Cancels an instance: its pending and running work cancelled, status `cancelled` with the
/// reason, `instance.cancelled` appended. A finished instance refuses.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelInstance {
    /// The instance.
    pub key: InstanceKey,
    /// Why, as the caller says it.
    pub reason: Option<String>,
}

request!(CancelInstance => InstanceCancelled);

impl Locking for CancelInstance {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.instance(&self.key);
    }
}

impl Command for CancelInstance {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let key = &self.key;
        let row = live_row(tx, key).await?;
        let compiled =
            compiled_machine(tx, cx.machines, key.space.as_ref(), key.machine.as_ref(), row.machine_version).await?;
        refuse_if_done(key, &row, &compiled)?;
        let work = crate::decode::instance_work(row.work.as_deref());
        cancel_work(tx, cx, key, &work, "was cancelled").await?;
        let message = self.reason.clone().unwrap_or_else(|| "cancelled on request".to_owned());
        let error = json!({ "code": "cancelled", "message": message });
        let error_text = serde_json::to_string(&error)?;
        tx.set_instance_status(key, InstanceStatus::Cancelled.as_str(), None, Some(&error_text), cx.now).await?;
        let record = json!({ "state": row.state, "reason": message });
        cx.append(tx, key.space.as_ref(), kinds::INSTANCE_CANCELLED, key.address(), &record, None, false).await?;
        // A parent waiting for this child learns of it as the child's error.
        let end =
            child_end(key, &row, "child_cancelled", format!("child {} was cancelled: {message}", key.address()), None);
        report_ends(tx, cx, end).await?;
        Ok(())
    }
}

/// Soft-deletes an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteInstance {
    /// The instance.
    pub key: InstanceKey,
}

request!(DeleteInstance => InstanceDeleted);

impl Locking for DeleteInstance {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.instance(&self.key);
    }
}

impl Command for DeleteInstance {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let key = &self.key;
        match tx.instance_deleted_at_for_update(key).await? {
            None => Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: None }.into()),
            Some(Some(at)) => Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: Some(at) }.into()),
            Some(None) => {
                // Its work goes with it: nothing runs for an instance that is gone.
                let mut end = None;
                if let Some(row) = tx.instance_for_update(key).await? {
                    if row.work.is_some() {
                        let work = crate::decode::instance_work(row.work.as_deref());
                        cancel_work(tx, cx, key, &work, "was deleted").await?;
                        tx.set_instance_status(key, &row.status, None, None, cx.now).await?;
                    }
                    // A parent waiting for this child learns of it as the child's error.
                    if !crate::decode::instance_status(&row.status).is_terminal() {
                        let message = format!("child {} was deleted", key.address());
                        end = child_end(key, &row, "child_deleted", message, None);
                    }
                }
                tx.mark_instance_deleted(key, cx.now).await?;
                let payload = serde_json::json!({});
                cx.append(tx, key.space.as_ref(), kinds::INSTANCE_DELETED, key.address(), &payload, None, false)
                    .await?;
                report_ends(tx, cx, end).await?;
                Ok(())
            }
        }
    }
}

/// The space's `env` values as expressions read them (`env.<name>`), loaded only for a machine
/// whose expressions read `env`.
async fn space_env<T: Tables>(tx: &mut T, space: &str, compiled: &CompiledMachine) -> TxResult<Option<Value>> {
    if !compiled.reads_env() {
        return Ok(None);
    }
    let mut env = JsonObject::new();
    for (name, text) in tx.space_values(space, SpaceValueKind::Env.as_str()).await? {
        let value = serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("env value {name:?} of {space}: {e}")))?;
        env.insert(name, value);
    }
    Ok(Some(Value::Object(env)))
}
