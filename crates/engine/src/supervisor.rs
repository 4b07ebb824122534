//! One owner for the node's background work.
//!
//! Two kinds of task run beside the requests:
//! - **Long-lived tasks** ([`Supervisor::spawn_named`]): the log tail, the job scheduler,
//!   maintenance, the heartbeat… Each has a static name and a [`Policy`]. A task that panics or
//!   returns an error is restarted after a backoff ([`Policy::Restart`]: an ERROR line naming it
//!   and `switchyard_task_restarts_total{task}`), or stays dead and is reported
//!   ([`Policy::Report`], [`Policy::Critical`]: an ERROR line, `switchyard_task_failed{task}`
//!   and [`Supervisor::failed_tasks`]; a dead critical task makes `/readyz` answer 503).
//! - **In-flight work** ([`Supervisor::spawn_work`]): per-request work that outlives the
//!   request's handler, such as running an asynchronous invocation or feeding a watcher.
//!
//! Invariants:
//! - Every task watches the supervisor's [`CancellationToken`]; a long-lived task returns soon
//!   after it is cancelled, and work that streams (watchers) ends at once. Work that finishes
//!   something (an invocation) does not watch it: it is given the grace to finish.
//! - [`Supervisor::shutdown`] cancels, waits for in-flight work up to the grace, aborts what is
//!   left (a WARN line per task, and the names come back in the [`ShutdownReport`]), then waits
//!   for the long-lived tasks (at least [`STOP_BOUND`] more, so a task that writes out what it
//!   holds — the invocation recorder — can). After it returns nothing the supervisor started is
//!   running, so the store can be closed.
//! - No work starts once shutdown began ([`SupervisorError::ShuttingDown`]), so the grace bounds
//!   the shutdown.
//! - Task names are `&'static str`: they label metrics, whose cardinality must stay bounded.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;
pub use tokio_util::sync::CancellationToken;

/// What a long-lived task returns: `Ok` when it is done (it was cancelled, or has nothing left
/// to do), an error when it failed.
pub type TaskResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The first wait before restarting a failed task; it doubles with each failure in a row.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait before restarting a failed task. A task that ran at least this long before
/// failing starts again from [`BACKOFF_MIN`].
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How long shutdown waits for cancelled long-lived tasks at least, even when the grace was
/// spent on in-flight work.
pub const STOP_BOUND: Duration = Duration::from_secs(1);

/// What happens when a long-lived task panics or returns an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// It is restarted after a backoff (and counted in `switchyard_task_restarts_total`).
    Restart,
    /// It stays dead and is reported by [`Supervisor::failed_tasks`]; the node keeps serving.
    Report,
    /// It stays dead and is reported; the node is not ready (`/readyz` 503) until a restart.
    Critical,
}

/// A long-lived task that died and was not restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedTask {
    /// The task's name.
    pub name: &'static str,
    /// Whether the node is unready because of it ([`Policy::Critical`]).
    pub critical: bool,
    /// Its error or panic message.
    pub error: String,
}

/// What [`Supervisor::shutdown`] had to abort.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// In-flight work still running when the grace ended, by name (one entry per task).
    pub aborted_work: Vec<&'static str>,
    /// Long-lived tasks that did not stop once cancelled, by name.
    pub aborted_tasks: Vec<&'static str>,
}

impl ShutdownReport {
    /// Whether everything finished by itself.
    pub fn is_clean(&self) -> bool {
        self.aborted_work.is_empty() && self.aborted_tasks.is_empty()
    }
}

/// Why the supervisor did not start something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorError {
    /// Shutdown began: no new work starts.
    #[error("the node is shutting down")]
    ShuttingDown,
}

/// Starts, restarts, reports, cancels and drains the node's background tasks. Cheap to clone;
/// clones share everything.
#[derive(Clone, Default)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancel: CancellationToken,
    tasks: Arc<Tracked>,
    work: Arc<Tracked>,
    /// Restarts by task name, since start.
    restarts: Mutex<BTreeMap<&'static str, u64>>,
    failed: Mutex<Vec<FailedTask>>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("cancelled", &self.inner.cancel.is_cancelled())
            .field("tasks", &self.inner.tasks.len())
            .field("work", &self.inner.work.len())
            .finish()
    }
}

impl Supervisor {
    /// A supervisor with nothing running.
    pub fn new() -> Supervisor {
        Supervisor::default()
    }

    /// The token every task watches; cancelled when shutdown begins.
    pub fn token(&self) -> CancellationToken {
        self.inner.cancel.clone()
    }

    /// Whether shutdown began.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Starts a long-lived task named `name`: `start` is called with the cancellation token for
    /// each run (again after each restart, so it sets up anew whatever the failed run held).
    /// Does nothing once shutdown began.
    pub fn spawn_named<F, Fut>(&self, name: &'static str, policy: Policy, mut start: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = TaskResult> + Send + 'static,
    {
        if self.is_shutting_down() {
            tracing::debug!(task = name, "not starting a task: shutting down");
            return;
        }
        let inner = self.inner.clone();
        let cancel = self.inner.cancel.clone();
        self.inner.tasks.spawn(name, async move {
            let mut backoff = BACKOFF_MIN;
            loop {
                let started = Instant::now();
                // `start` itself is inside the guarded future: a panic while setting up counts too.
                let run = AssertUnwindSafe(async { start(cancel.clone()).await }).catch_unwind().await;
                let error = match run {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => e.to_string(),
                    Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
                };
                if cancel.is_cancelled() {
                    // Not restarted, and not held against the node: it is stopping anyway.
                    tracing::error!(task = name, %error, "background task failed while stopping");
                    return;
                }
                match policy {
                    Policy::Restart => {
                        // A task that ran well for a while failed afresh, not in a loop.
                        if started.elapsed() >= BACKOFF_MAX {
                            backoff = BACKOFF_MIN;
                        }
                        *lock(&inner.restarts).entry(name).or_insert(0) += 1;
                        tracing::error!(task = name, %error, restart_in = ?backoff, "background task failed; restarting it");
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                    Policy::Report | Policy::Critical => {
                        let critical = policy == Policy::Critical;
                        tracing::error!(task = name, %error, critical, "background task failed; it is not restarted");
                        lock(&inner.failed).push(FailedTask { name, critical, error });
                        return;
                    }
                }
            }
        });
    }

    /// Starts in-flight work named `name` (the name labels it in logs; many may share one).
    /// Shutdown waits for it up to the grace, then aborts it. Work that can stop early (a
    /// watcher) watches [`Supervisor::token`] itself.
    pub fn spawn_work<T, Fut>(&self, name: &'static str, work: Fut) -> Result<JoinHandle<T>, SupervisorError>
    where
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        if self.is_shutting_down() {
            return Err(SupervisorError::ShuttingDown);
        }
        Ok(self.inner.work.spawn(name, work))
    }

    /// In-flight work running now.
    pub fn work_in_flight(&self) -> usize {
        self.inner.work.len()
    }

    /// Resolves once shutdown began and no in-flight work is left (finished or aborted): from
    /// then on nothing sends to the long-lived tasks that serve work, so they can write out what
    /// they hold and stop.
    pub async fn work_finished(&self) {
        self.inner.cancel.cancelled().await;
        self.inner.work.idle().await;
    }

    /// Restarts since start, by task name (tasks never restarted are absent).
    pub fn restarts(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.inner.restarts).clone()
    }

    /// Long-lived tasks that died and were not restarted.
    pub fn failed_tasks(&self) -> Vec<FailedTask> {
        lock(&self.inner.failed).clone()
    }

    /// The first critical task that died, if one did: the node is not ready.
    pub fn critical_failure(&self) -> Option<FailedTask> {
        lock(&self.inner.failed).iter().find(|f| f.critical).cloned()
    }

    /// Stops everything: cancels the token, waits up to `grace` for in-flight work, aborts the
    /// work left, then waits for the long-lived tasks (until the grace ends, or at least
    /// [`STOP_BOUND`]) and aborts those left. Returns what it aborted, each logged at WARN.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        let deadline = Instant::now() + grace;
        self.inner.cancel.cancel();
        let mut report = ShutdownReport::default();
        if tokio::time::timeout_at(deadline, self.inner.work.idle()).await.is_err() {
            report.aborted_work = self.inner.work.abort_all();
            for name in &report.aborted_work {
                tracing::warn!(task = name, grace = ?grace, "in-flight work did not finish within the shutdown grace: aborted");
            }
        }
        let stop_by = deadline.max(Instant::now() + STOP_BOUND);
        if tokio::time::timeout_at(stop_by, self.inner.tasks.idle()).await.is_err() {
            report.aborted_tasks = self.inner.tasks.abort_all();
            for name in &report.aborted_tasks {
                tracing::warn!(task = name, "background task did not stop when cancelled: aborted");
            }
        }
        // Aborted tasks are gone once their futures are dropped, at their next poll.
        let _ = tokio::time::timeout(STOP_BOUND, async {
            self.inner.work.idle().await;
            self.inner.tasks.idle().await;
        })
        .await;
        report
    }
}

/// A set of running tasks by id, with their names and abort handles.
#[derive(Default)]
struct Tracked {
    next: AtomicU64,
    running: Mutex<HashMap<u64, Entry>>,
    idle: Notify,
}

struct Entry {
    name: &'static str,
    /// `None` for the moment between inserting the entry and spawning the task.
    abort: Option<AbortHandle>,
}

impl Tracked {
    fn spawn<T, Fut>(self: &Arc<Self>, name: &'static str, task: Fut) -> JoinHandle<T>
    where
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        // The entry is in before the task can end (its guard removes it), and the lock is not
        // held while spawning, which may drop the future at once (a runtime shutting down).
        lock(&self.running).insert(id, Entry { name, abort: None });
        let done = Done { tracked: self.clone(), id };
        let handle = tokio::spawn(async move {
            let _done = done;
            task.await
        });
        if let Some(entry) = lock(&self.running).get_mut(&id) {
            entry.abort = Some(handle.abort_handle());
        }
        handle
    }

    fn len(&self) -> usize {
        lock(&self.running).len()
    }

    /// Resolves when nothing is running.
    async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Registered before the check, so a task ending in between still wakes this.
            notified.as_mut().enable();
            if lock(&self.running).is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Aborts every task running; returns their names.
    fn abort_all(&self) -> Vec<&'static str> {
        let running = lock(&self.running);
        let mut names: Vec<&'static str> = running
            .values()
            .map(|entry| {
                if let Some(abort) = &entry.abort {
                    abort.abort();
                }
                entry.name
            })
            .collect();
        names.sort_unstable();
        names
    }
}

/// Removes a task's entry when its future completes or is dropped (aborted).
struct Done {
    tracked: Arc<Tracked>,
    id: u64,
}

impl Drop for Done {
    fn drop(&mut self) {
        let mut running = lock(&self.tracked.running);
        running.remove(&self.id);
        if running.is_empty() {
            self.tracked.idle.notify_waiters();
        }
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical section
/// here is a single insert, remove or read).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The message a panic carried, when it was a string.
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(message) = panic.downcast_ref::<&str>() {
        message
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message
    } else {
        "(not a string)"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    /// Lets every ready task run (time is paused: this never sleeps for real).
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_restartable_task_is_restarted_with_backoff_and_counted() {
        let supervisor = Supervisor::new();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        supervisor.spawn_named("flaky", Policy::Restart, move |cancel| {
            let run = counted.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if run <= 2 {
                    panic!("run {run} fails");
                }
                cancel.cancelled().await;
                Ok(())
            }
        });
        settle().await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "the first run panicked and waits its backoff");
        assert_eq!(supervisor.restarts().get("flaky"), Some(&1));
        tokio::time::advance(BACKOFF_MIN).await;
        settle().await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(supervisor.restarts().get("flaky"), Some(&2));
        // The backoff doubled: half of it is not enough.
        tokio::time::advance(BACKOFF_MIN).await;
        settle().await;
        assert_eq!(runs.load(Ordering::SeqCst), 2, "the second backoff is twice the first");
        tokio::time::advance(BACKOFF_MIN).await;
        settle().await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "the third run started and stays up");
        assert!(supervisor.failed_tasks().is_empty(), "a restartable task is never reported failed");
        assert!(supervisor.shutdown(Duration::from_secs(1)).await.is_clean());
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_returning_an_error_is_restarted_too() {
        let supervisor = Supervisor::new();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        supervisor.spawn_named("erring", Policy::Restart, move |cancel| {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if run == 0 {
                    return Err("the store is down".into());
                }
                cancel.cancelled().await;
                Ok(())
            }
        });
        settle().await;
        tokio::time::advance(BACKOFF_MIN).await;
        settle().await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(supervisor.restarts(), BTreeMap::from([("erring", 1)]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_non_restartable_task_that_dies_is_reported_failed_and_critical_ones_make_the_node_unready() {
        let supervisor = Supervisor::new();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        supervisor.spawn_named("one-shot", Policy::Report, move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Err("gave up".into()) }
        });
        settle().await;
        assert_eq!(
            supervisor.failed_tasks(),
            [FailedTask { name: "one-shot", critical: false, error: "gave up".into() }]
        );
        assert_eq!(supervisor.critical_failure(), None, "a reported task does not make the node unready");

        supervisor.spawn_named("vital", Policy::Critical, |_| async { panic!("vital broke") });
        settle().await;
        let failure = supervisor.critical_failure().expect("the critical task is reported");
        assert_eq!(failure.name, "vital");
        assert!(failure.error.contains("vital broke"), "{failure:?}");
        tokio::time::advance(BACKOFF_MAX * 2).await;
        settle().await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "never restarted");
        assert!(supervisor.restarts().is_empty(), "a failure that is not restarted is not a restart");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_cancels_long_lived_tasks_and_starts_nothing_after() {
        let supervisor = Supervisor::new();
        let stopped = Arc::new(AtomicU32::new(0));
        for name in ["tail", "heartbeat"] {
            let stopped = stopped.clone();
            supervisor.spawn_named(name, Policy::Restart, move |cancel| {
                let stopped = stopped.clone();
                async move {
                    cancel.cancelled().await;
                    stopped.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            });
        }
        settle().await;
        let report = supervisor.shutdown(Duration::from_secs(5)).await;
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(stopped.load(Ordering::SeqCst), 2, "both saw the cancellation");
        assert_eq!(supervisor.inner.tasks.len(), 0);
        assert_eq!(supervisor.spawn_work("late", async {}).err(), Some(SupervisorError::ShuttingDown));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_aborts_a_long_lived_task_that_ignores_cancellation() {
        let supervisor = Supervisor::new();
        supervisor.spawn_named("stubborn", Policy::Restart, |_| std::future::pending());
        settle().await;
        let report = supervisor.shutdown(Duration::ZERO).await;
        assert_eq!(report.aborted_tasks, ["stubborn"]);
        assert_eq!(supervisor.inner.tasks.len(), 0, "aborted tasks are gone when shutdown returns");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_waits_for_work_that_finishes_within_the_grace() {
        let supervisor = Supervisor::new();
        let finished = Arc::new(AtomicU32::new(0));
        let done = finished.clone();
        let work = supervisor
            .spawn_work("invocation", async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                done.fetch_add(1, Ordering::SeqCst);
                "output"
            })
            .expect("not shutting down");
        settle().await;
        assert_eq!(supervisor.work_in_flight(), 1);
        let report = supervisor.shutdown(Duration::from_secs(10)).await;
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(finished.load(Ordering::SeqCst), 1, "the work finished before shutdown returned");
        assert_eq!(work.await.expect("not aborted"), "output");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_aborts_work_past_the_grace_and_reports_it() {
        let supervisor = Supervisor::new();
        let quick = supervisor.spawn_work("quick", tokio::time::sleep(Duration::from_secs(1))).expect("started");
        let slow = supervisor.spawn_work("slow", tokio::time::sleep(Duration::from_secs(3600))).expect("started");
        settle().await;
        let report = supervisor.shutdown(Duration::from_secs(10)).await;
        assert_eq!(report.aborted_work, ["slow"]);
        assert!(report.aborted_tasks.is_empty());
        assert!(quick.await.is_ok(), "work within the grace finished");
        assert!(slow.await.expect_err("aborted").is_cancelled());
        assert_eq!(supervisor.work_in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn work_finished_resolves_only_after_shutdown_began_and_work_drained() {
        let supervisor = Supervisor::new();
        let watcher = supervisor.clone();
        let drained = tokio::spawn(async move { watcher.work_finished().await });
        settle().await;
        assert!(!drained.is_finished(), "no shutdown yet: nothing is finished, even with no work");
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        supervisor
            .spawn_work("invocation", async move {
                let _ = released.await;
            })
            .expect("started");
        let stopping = supervisor.clone();
        let shutdown = tokio::spawn(async move { stopping.shutdown(Duration::from_secs(60)).await });
        settle().await;
        assert!(!drained.is_finished(), "work is still in flight");
        release.send(()).expect("the work waits");
        drained.await.expect("resolves");
        assert!(shutdown.await.expect("shutdown").is_clean());
    }
}
