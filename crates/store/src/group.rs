//! What a backend's group-commit writer receives and answers, shared by every backend.
//!
//! A caller sends one [`WriteRequest`] (one op, or an atomic batch) and awaits its reply; a
//! writer drains every request that queued up into one transaction. [`FailState`] is how a
//! writer that hit a storage failure it cannot reason about (an I/O error at commit or fsync)
//! stops the store from accepting writes until a restart.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::types::{WriteOp, WriteOutcome};

/// A group never holds more operations than this, bounding a commit's latency.
pub(crate) const MAX_OPS_PER_COMMIT: usize = 1024;

/// What a writer receives.
pub(crate) enum WriterMsg {
    /// Apply these writes.
    Write(WriteRequest),
    /// Serve nothing more; flush and stop.
    Shutdown,
    /// Give freed space back to the file system, between groups (SQLite only; other backends
    /// answer at once).
    Compact(oneshot::Sender<Result<(), StoreError>>),
}

/// One caller's request: a single op, or an atomic batch.
pub(crate) struct WriteRequest {
    pub ops: Vec<WriteOp>,
    pub atomic: bool,
    pub reply: oneshot::Sender<Result<Vec<WriteOutcome>, StoreError>>,
    /// When it was queued (for `queue_seconds`).
    pub queued_at: std::time::Instant,
}

/// The sending side of a backend's writer queue: what every backend's `write`, `write_atomic`
/// and `close` go through.
#[derive(Clone)]
pub(crate) struct WriteQueue(pub flume::Sender<WriterMsg>);

impl WriteQueue {
    /// Queues a request and waits for its reply.
    pub async fn submit(&self, ops: Vec<WriteOp>, atomic: bool) -> RequestResult {
        let (reply, rx) = oneshot::channel();
        self.0
            .send_async(WriterMsg::Write(WriteRequest { ops, atomic, reply, queued_at: std::time::Instant::now() }))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Applies one op.
    pub async fn write(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        let mut outcomes = self.submit(vec![op], false).await?;
        outcomes.pop().ok_or_else(|| StoreError::Backend("the writer returned no outcome".into()))
    }

    /// Applies every op or none.
    pub async fn write_atomic(&self, ops: Vec<WriteOp>) -> RequestResult {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        self.submit(ops, true).await
    }

    /// Asks the writer to compact its files between groups, and waits until it has.
    pub async fn compact(&self) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.0.send_async(WriterMsg::Compact(reply)).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Asks one writer to stop once it has served what is queued before this message.
    pub async fn shutdown_one(&self) {
        let _ = self.0.send_async(WriterMsg::Shutdown).await;
    }
}

/// What a panic carried, logged as the bug it is.
pub(crate) fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(panic = %text, "a bug stopped a write; it was rolled back");
    text
}

/// Decides which queued requests join a group being formed. Two requests naming one
/// idempotency key never share a group (the later one waits for the next: the first's record is
/// written only at the group's end), and a request that must run alone (a space's deletion)
/// runs in a group of its own.
pub(crate) struct GroupBuilder {
    keys: HashSet<(String, String)>,
    ops: usize,
    alone: bool,
}

/// What to do with a request offered to a [`GroupBuilder`].
pub(crate) enum Admission {
    /// It joins the group.
    Join,
    /// It waits for a later group; keep offering others.
    HoldBack,
    /// It waits for a later group, and the group is complete.
    HoldBackAndStop,
}

impl GroupBuilder {
    /// A group starting with `first`.
    pub fn start(first: &WriteRequest) -> GroupBuilder {
        GroupBuilder { keys: keys_of(first).collect(), ops: first.ops.len(), alone: runs_alone(first) }
    }

    /// Whether nothing more may join.
    pub fn is_full(&self) -> bool {
        self.alone || self.ops >= MAX_OPS_PER_COMMIT
    }

    /// Offers the next queued request.
    pub fn offer(&mut self, next: &WriteRequest) -> Admission {
        if runs_alone(next) {
            return Admission::HoldBackAndStop;
        }
        let mine: Vec<_> = keys_of(next).collect();
        if mine.iter().any(|k| self.keys.contains(k)) {
            return Admission::HoldBack;
        }
        self.keys.extend(mine);
        self.ops += next.ops.len();
        Admission::Join
    }
}

fn keys_of(req: &WriteRequest) -> impl Iterator<Item = (String, String)> + '_ {
    req.ops.iter().filter_map(crate::commands::idempotency_key)
}

/// Whether a request must run in a group of its own.
fn runs_alone(req: &WriteRequest) -> bool {
    req.ops.iter().any(crate::commands::runs_alone)
}

/// The reply to one request.
pub(crate) type RequestResult = Result<Vec<WriteOutcome>, StoreError>;

/// Why the store stopped accepting writes, if it did.
#[derive(Clone, Default)]
pub(crate) struct FailState(Arc<Mutex<Option<String>>>);

impl FailState {
    /// The reason, once failed.
    pub fn reason(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops the store; later writes are refused with this reason.
    pub fn fail(&self, reason: String) {
        tracing::error!(%reason, "the store stops accepting writes: the durability of recent writes is unknown; restart the server");
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
    }
}

/// Answers every request of a group with `error` (nothing of the group was applied, or, for
/// `OutcomeUnknown`, nobody knows).
pub(crate) fn fail_all(group: Vec<WriteRequest>, error: &StoreError) {
    let message = error.to_string();
    for req in group {
        let e = match error {
            StoreError::Failed(reason) => StoreError::Failed(reason.clone()),
            StoreError::OutcomeUnknown(reason) => StoreError::OutcomeUnknown(reason.clone()),
            StoreError::Internal(reason) => StoreError::Internal(reason.clone()),
            StoreError::Unreachable(reason) => StoreError::Unreachable(reason.clone()),
            _ => StoreError::Backend(message.clone()),
        };
        let _ = req.reply.send(Err(e));
    }
}

/// Sends every request its result.
pub(crate) fn reply_all(group: Vec<WriteRequest>, results: Vec<RequestResult>) {
    for (req, result) in group.into_iter().zip(results) {
        let _ = req.reply.send(result);
    }
}

/// Records how long each request of a group starting now waited for the writer.
pub(crate) fn record_queued(metrics: &crate::StoreMetrics, group: &[WriteRequest]) {
    let now = std::time::Instant::now();
    for request in group {
        metrics.queue_seconds.observe(now.saturating_duration_since(request.queued_at).as_secs_f64());
    }
}

/// Counts a committed group's work in `metrics`; refused requests count for nothing.
pub(crate) fn record_committed(metrics: &crate::StoreMetrics, results: &[RequestResult]) {
    let mut ops = 0u64;
    let mut events = 0u64;
    for outcomes in results.iter().flatten() {
        ops += outcomes.len() as u64;
        events += outcomes
            .iter()
            .filter(|o| matches!(o, WriteOutcome::EventApplied(crate::EventApplied { replayed: false, .. })))
            .count() as u64;
    }
    metrics.commit_batch_size.observe(ops as f64);
    metrics.commits.inc();
    metrics.events_applied.inc_by(events);
}

/// The first op of a request that repeats an idempotency key used by an earlier op of the same
/// request, with that key: such a batch is refused the same way on every backend.
pub(crate) fn repeated_key(req: &WriteRequest) -> Option<(usize, String)> {
    // The common case, one op, can repeat nothing: no set is built for it.
    if req.ops.len() < 2 {
        return None;
    }
    let mut seen = HashSet::new();
    for (index, op) in req.ops.iter().enumerate() {
        if let Some((space, key)) = crate::commands::idempotency_key(op)
            && !seen.insert((space, key.clone()))
        {
            return Some((index, key));
        }
    }
    None
}

/// The refusal for a request that repeats an idempotency key, if it does.
pub(crate) fn refuse_repeated_key(req: &WriteRequest) -> Option<StoreError> {
    repeated_key(req).map(|(index, key)| StoreError::BatchFailed {
        index,
        source: Box::new(StoreError::IdempotencyKeyReused { key }),
    })
}
