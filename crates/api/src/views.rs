//! The JSON shapes of responses (docs/http-api.md), borrowed from records so nothing is
//! cloned to answer.

use serde::Serialize;
use serde_json::Value;
use switchyard_model::jobs::RetryPolicy;
use switchyard_model::{
    InstanceRecord, JobAttempt, JobError, JobRecord, JsonObject, LogRecord, MachineSummary, TokenRecord,
    TransitionApplied,
};

/// An instance.
#[derive(Serialize)]
pub struct InstanceView<'a> {
    id: &'a str,
    machine: &'a str,
    machine_version: u32,
    state: &'a str,
    ctx: &'a JsonObject,
    revision: u64,
    created_at: String,
    updated_at: String,
    /// `active`, `waiting`, `running`, `completed`, `failed` or `cancelled`.
    status: &'static str,
    /// Why it failed or was cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a serde_json::Value>,
    /// The jobs of its current state (read of one instance only): its action and timers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending: Option<Vec<PendingWorkView<'a>>>,
    /// The child instance its current state waits for (read of one instance only).
    #[serde(skip_serializing_if = "Option::is_none")]
    child: Option<ChildView<'a>>,
    /// The instance that started this one as its child.
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<ParentView<'a>>,
    /// Present only in a listing, on an instance whose stored ctx cannot be read back (`ctx` is
    /// then `{}`); reading that instance itself answers `internal`, naming it.
    #[serde(skip_serializing_if = "Option::is_none")]
    unreadable: Option<UnreadableView<'a>>,
}

/// One job of an instance's current state, as an instance read shows it.
#[derive(Serialize)]
pub struct PendingWorkView<'a> {
    job: &'a str,
    kind: &'a str,
    /// The timer's name (`after:15m`, `wait.timeout`, `timeout`), for a timer.
    #[serde(skip_serializing_if = "Option::is_none")]
    timer: Option<&'a str>,
    status: &'static str,
    attempt: u32,
    /// When it is due (its next attempt, or the timer's time).
    run_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<&'a switchyard_model::JobError>,
}

/// A child instance, as its parent's read shows it.
#[derive(Serialize)]
pub struct ChildView<'a> {
    /// Its address, `space:machine:id`.
    instance: String,
    state: &'a str,
    status: &'static str,
}

/// An instance's parent, as the child's read shows it.
#[derive(Serialize)]
pub struct ParentView<'a> {
    /// Its address, `space:machine:id`.
    instance: &'a str,
    /// The parent's state that started this child.
    state: &'a str,
}

impl<'a> InstanceView<'a> {
    /// Adds the work of the instance's current state: its jobs and the child it waits for.
    pub fn with_work(mut self, work: &'a switchyard_engine::InstanceWork) -> Self {
        self.child = work.child.as_ref().map(|child| ChildView {
            instance: child.key().address(),
            state: &child.state,
            status: child.status.as_str(),
        });
        let jobs = &work.jobs;
        if jobs.is_empty() {
            return self;
        }
        self.pending = Some(
            jobs.iter()
                .map(|job| PendingWorkView {
                    job: &job.id,
                    kind: job.kind.as_ref(),
                    timer: job.payload.get("timer").and_then(serde_json::Value::as_str),
                    status: job.status.as_str(),
                    attempt: job.attempt,
                    run_at: job.run_at.to_rfc3339(),
                    last_error: job.last_error.as_ref(),
                })
                .collect(),
        );
        self
    }
}

/// The code of an instance whose stored ctx cannot be read back, in a listing.
pub const INSTANCE_UNREADABLE: &str = "instance_unreadable";

impl<'a> From<&'a InstanceRecord> for InstanceView<'a> {
    fn from(i: &'a InstanceRecord) -> Self {
        InstanceView {
            id: i.id.as_ref(),
            machine: i.machine.as_ref(),
            machine_version: i.machine_version.get(),
            state: &i.state,
            ctx: &i.ctx,
            revision: i.revision.get(),
            created_at: i.created_at.to_rfc3339(),
            updated_at: i.updated_at.to_rfc3339(),
            status: i.status.as_str(),
            error: i.error.as_ref(),
            pending: None,
            child: None,
            parent: i.parent.as_ref().map(|p| ParentView { instance: &p.instance, state: &p.state }),
            unreadable: i.unreadable.as_deref().map(|message| UnreadableView { code: INSTANCE_UNREADABLE, message }),
        }
    }
}

/// The result of applying an event.
#[derive(Serialize)]
pub struct TransitionView<'a> {
    from: &'a str,
    to: &'a str,
    revision: u64,
    seq: u64,
    ctx: &'a JsonObject,
}

impl<'a> From<&'a TransitionApplied> for TransitionView<'a> {
    fn from(t: &'a TransitionApplied) -> Self {
        TransitionView { from: &t.from, to: &t.to, revision: t.revision.get(), seq: t.seq.0, ctx: &t.ctx }
    }
}

/// A log record.
#[derive(Serialize)]
pub struct LogView<'a> {
    seq: u64,
    kind: &'a str,
    address: &'a str,
    payload: &'a Value,
    idempotency_key: Option<&'a str>,
    created_at: String,
    /// Present only on a record that cannot be read back (its payload is then `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    unreadable: Option<UnreadableView<'a>>,
}

/// Why a stored log record or instance cannot be read back.
#[derive(Serialize)]
pub struct UnreadableView<'a> {
    code: &'static str,
    message: &'a str,
}

/// The code of a log record that cannot be read back, in its `unreadable` field and as its SSE
/// event name.
pub const RECORD_UNREADABLE: &str = "record_unreadable";

impl<'a> From<&'a LogRecord> for LogView<'a> {
    fn from(r: &'a LogRecord) -> Self {
        LogView {
            seq: r.seq.0,
            kind: &r.kind,
            address: &r.address,
            payload: &r.payload,
            idempotency_key: r.idempotency_key.as_deref(),
            created_at: r.created_at.to_rfc3339(),
            unreadable: r.unreadable.as_deref().map(|message| UnreadableView { code: RECORD_UNREADABLE, message }),
        }
    }
}

/// A machine as listed.
#[derive(Serialize)]
pub struct MachineSummaryView<'a> {
    name: &'a str,
    version: u32,
    created_at: String,
}

impl<'a> From<&'a MachineSummary> for MachineSummaryView<'a> {
    fn from(m: &'a MachineSummary) -> Self {
        MachineSummaryView { name: m.name.as_ref(), version: m.version.get(), created_at: m.created_at.to_rfc3339() }
    }
}

/// A token, without its secret.
#[derive(Serialize)]
pub struct TokenView<'a> {
    id: &'a str,
    name: &'a str,
    role: &'static str,
    spaces: Vec<String>,
    created_at: String,
    revoked_at: Option<String>,
    principal: Option<&'a str>,
    expires_at: Option<String>,
    session: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
}

impl<'a> TokenView<'a> {
    /// The token as listed; `secret` only right after creation.
    pub fn new(t: &'a TokenRecord, secret: Option<&'a str>) -> Self {
        TokenView {
            id: &t.id,
            name: &t.name,
            role: t.role.as_str(),
            spaces: t.spaces.to_names(),
            created_at: t.created_at.to_rfc3339(),
            revoked_at: t.revoked_at.map(|r| r.to_rfc3339()),
            principal: t.principal.as_deref(),
            expires_at: t.expires_at.map(|r| r.to_rfc3339()),
            session: t.session,
            token: secret,
        }
    }
}

/// A durable job, with its newest attempts.
#[derive(Serialize)]
pub struct JobView<'a> {
    id: &'a str,
    space: &'a str,
    kind: &'a str,
    target: &'a str,
    payload: &'a Value,
    status: &'static str,
    priority: i32,
    concurrency_key: Option<&'a str>,
    idempotency_key: Option<&'a str>,
    /// What every effect of the job carries: the idempotency key, or the id.
    effect_key: &'a str,
    run_at: String,
    attempt: u32,
    retry: &'a RetryPolicy,
    /// While running: who holds it and until when.
    lease: Option<LeaseView<'a>>,
    created_at: String,
    updated_at: String,
    finished_at: Option<String>,
    last_error: Option<&'a JobError>,
    result: Option<&'a Value>,
    attempts: Vec<AttemptView<'a>>,
}

/// A running job's lease.
#[derive(Serialize)]
pub struct LeaseView<'a> {
    owner: &'a str,
    until: String,
}

/// One attempt at a job.
#[derive(Serialize)]
pub struct AttemptView<'a> {
    attempt: u32,
    owner: &'a str,
    started_at: String,
    ended_at: Option<String>,
    error: Option<&'a JobError>,
}

impl<'a> From<&'a JobRecord> for JobView<'a> {
    fn from(j: &'a JobRecord) -> Self {
        let lease = match (&j.lease_owner, j.lease_until) {
            (Some(owner), Some(until)) => Some(LeaseView { owner, until: until.to_rfc3339() }),
            _ => None,
        };
        JobView {
            id: &j.id,
            space: j.space.as_ref(),
            kind: j.kind.as_ref(),
            target: &j.target,
            payload: &j.payload,
            status: j.status.as_str(),
            priority: j.priority,
            concurrency_key: j.concurrency_key.as_deref(),
            idempotency_key: j.idempotency_key.as_deref(),
            effect_key: j.effect_key(),
            run_at: j.run_at.to_rfc3339(),
            attempt: j.attempt,
            retry: &j.retry,
            lease,
            created_at: j.created_at.to_rfc3339(),
            updated_at: j.updated_at.to_rfc3339(),
            finished_at: j.finished_at.map(|t| t.to_rfc3339()),
            last_error: j.last_error.as_ref(),
            result: j.result.as_ref(),
            attempts: j.attempts.iter().map(AttemptView::from).collect(),
        }
    }
}

impl<'a> From<&'a JobAttempt> for AttemptView<'a> {
    fn from(a: &'a JobAttempt) -> Self {
        AttemptView {
            attempt: a.attempt,
            owner: &a.owner,
            started_at: a.started_at.to_rfc3339(),
            ended_at: a.ended_at.map(|t| t.to_rfc3339()),
            error: a.error.as_ref(),
        }
    }
}
