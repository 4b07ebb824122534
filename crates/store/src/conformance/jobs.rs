//! The work table: enqueue, leases held by one worker at a time, expired leases taken over and
//! counted, the retry schedule, dead letters and re-drive, fairness across spaces, and many
//! timers due at once firing exactly once.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde_json::json;
use switchyard_model::jobs::{FairCursor, Jitter, JobStatus, RetryPolicy, SpaceLimits};
use switchyard_model::{JobError, JobRecord, JobSpec, Timestamp};

use super::{Case, Harness};
use crate::clock::ManualClock;
use crate::*;

pub(super) fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("jobs_enqueue_lease_succeed_and_log_each_step", |h| Box::pin(enqueue_lease_succeed(h))),
        ("jobs_enqueue_with_a_key_is_idempotent", |h| Box::pin(enqueue_with_key_is_idempotent(h))),
        ("jobs_a_lease_is_held_by_one_worker_across_nodes", |h| Box::pin(lease_held_by_one_worker(h))),
        ("jobs_an_expired_lease_is_taken_over_and_counted", |h| Box::pin(expired_lease_taken_over(h))),
        ("jobs_retries_follow_the_policy_then_die_and_redrive_runs_again", |h| {
            Box::pin(retry_schedule_dead_redrive(h))
        }),
        ("jobs_a_stale_worker_finishes_nothing", |h| Box::pin(stale_worker_finishes_nothing(h))),
        ("jobs_fairness_one_round_for_a_small_space", |h| Box::pin(fairness_small_space_one_round(h))),
        ("jobs_space_limits_and_priority", |h| Box::pin(space_limits_and_priority(h))),
        ("jobs_cancel_delete_and_refusals", |h| Box::pin(cancel_delete_and_refusals(h))),
        ("jobs_retention_forgets_only_finished_jobs_before_the_cutoff", |h| Box::pin(retention(h))),
        ("jobs_a_released_lease_fails_its_attempt_at_once", |h| Box::pin(released(h))),
    ]
}

/// Cases too heavy to repeat under every setting of a backend (see [`super::heavy_cases`]).
pub(super) fn heavy_cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![("jobs_timers_due_at_once_fire_exactly_once", |h| Box::pin(timers_fire_exactly_once(h)))]
}

fn space(name: &str) -> SpaceName {
    SpaceName::new(name).unwrap()
}

fn no_jitter(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_ms: 1_000,
        multiplier: 2.0,
        max_ms: 60_000,
        jitter: Jitter::None,
        deadline_ms: None,
        non_retryable: vec!["card_declined".into()],
    }
}

fn spec(space_name: &str, id: &str, run_at: Timestamp) -> JobSpec {
    JobSpec {
        id: id.to_string(),
        space: space(space_name),
        kind: Segment::new("noop").unwrap(),
        target: format!("{space_name}:target"),
        payload: json!({ "n": id }),
        priority: 0,
        concurrency_key: None,
        idempotency_key: None,
        run_at,
        retry: no_jitter(3),
    }
}

async fn enqueue(store: &dyn Store, spec: JobSpec) -> JobRecord {
    match store.write(WriteOp::EnqueueJob(EnqueueJob { spec })).await.expect("enqueue") {
        WriteOutcome::JobEnqueued(JobEnqueued { job, .. }) => *job,
        other => panic!("unexpected {other:?}"),
    }
}

fn lease_request(owner: &str, max: u32, lease_ms: u64, cursor: FairCursor) -> LeaseJobs {
    LeaseJobs { owner: owner.into(), max, lease_ms, limits: SpaceLimits::new(1_000), cursor, random: 0.5 }
}

async fn lease(store: &dyn Store, owner: &str, max: u32, lease_ms: u64) -> JobsLeased {
    lease_from(store, lease_request(owner, max, lease_ms, FairCursor::default())).await
}

async fn lease_from(store: &dyn Store, request: LeaseJobs) -> JobsLeased {
    match store.write(WriteOp::LeaseJobs(request)).await.expect("lease") {
        WriteOutcome::JobsLeased(leased) => leased,
        other => panic!("unexpected {other:?}"),
    }
}

async fn finish(store: &dyn Store, job: &JobRecord, owner: &str, outcome: AttemptOutcome) -> JobFinished {
    let op = WriteOp::FinishJob(FinishJob {
        instance: None,
        space: job.space.clone(),
        id: job.id.clone(),
        owner: owner.into(),
        attempt: job.attempt,
        outcome,
        report: None,
    });
    match store.write(op).await.expect("finish") {
        WriteOutcome::JobFinished(finished) => finished,
        other => panic!("unexpected {other:?}"),
    }
}

fn failed(code: &str) -> AttemptOutcome {
    AttemptOutcome::Failed {
        error: JobError { code: code.into(), message: format!("{code} happened") },
        retry_after_ms: None,
        permanent: false,
        random: 0.5,
    }
}

async fn get(store: &dyn Store, space_name: &str, id: &str) -> JobRecord {
    store.get_job(&space(space_name), id).await.expect("get").expect("the job exists")
}

async fn job_kinds(store: &dyn Store, space_name: &str, id: &str) -> Vec<String> {
    store
        .history(&format!("{space_name}:jobs:{id}"), Seq(0), 100)
        .await
        .expect("history")
        .into_iter()
        .map(|r| r.kind)
        .collect()
}

async fn enqueue_lease_succeed<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let job = enqueue(&*store, spec("acme", "j-1", Timestamp(0))).await;
    assert_eq!((job.status, job.attempt), (JobStatus::Pending, 0));
    assert_eq!(store.next_job_wakeup().await.unwrap(), Some(Timestamp(0)));

    let leased = lease(&*store, "node-a", 10, 30_000).await;
    assert_eq!(leased.jobs.len(), 1);
    let running = &leased.jobs[0];
    assert_eq!((running.status, running.attempt), (JobStatus::Running, 1));
    assert_eq!(running.lease_owner.as_deref(), Some("node-a"));
    assert!(running.lease_until.unwrap() > running.updated_at);
    assert_eq!(running.payload, json!({ "n": "j-1" }));
    assert!(lease(&*store, "node-b", 10, 30_000).await.jobs.is_empty(), "a held job is not leased again");

    let done = finish(&*store, running, "node-a", AttemptOutcome::Succeeded(Some(json!({ "ok": true })))).await;
    assert_eq!(done, JobFinished::Succeeded);
    let stored = get(&*store, "acme", "j-1").await;
    assert_eq!(stored.status, JobStatus::Succeeded);
    assert_eq!(stored.result, Some(json!({ "ok": true })));
    assert!(stored.finished_at.is_some() && stored.lease_owner.is_none());
    assert_eq!(stored.attempts.len(), 1);
    assert!(stored.attempts[0].ended_at.is_some() && stored.attempts[0].error.is_none());
    assert_eq!(job_kinds(&*store, "acme", "j-1").await, vec!["job.enqueued", "job.started", "job.succeeded"]);
    assert_eq!(store.next_job_wakeup().await.unwrap(), None);

    let page = store
        .list_jobs(&ListJobs {
            space: space("acme"),
            status: Some(JobStatus::Succeeded),
            kind: None,
            after_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), vec!["j-1"]);
    let none = store
        .list_jobs(&ListJobs {
            space: space("acme"),
            status: Some(JobStatus::Dead),
            kind: None,
            after_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn enqueue_with_key_is_idempotent<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let mut first = spec("acme", "j-1", Timestamp(0));
    first.idempotency_key = Some("order-7".into());
    let mut second = spec("acme", "j-2", Timestamp(0));
    second.idempotency_key = Some("order-7".into());
    let a = store.write(WriteOp::EnqueueJob(EnqueueJob { spec: first })).await.unwrap();
    let b = store.write(WriteOp::EnqueueJob(EnqueueJob { spec: second })).await.unwrap();
    match (a, b) {
        (
            WriteOutcome::JobEnqueued(JobEnqueued { job: a, replayed: false, .. }),
            WriteOutcome::JobEnqueued(JobEnqueued { job: b, replayed: true, .. }),
        ) => {
            assert_eq!((a.id.as_str(), b.id.as_str()), ("j-1", "j-1"));
            assert_eq!(b.effect_key(), "order-7");
        }
        other => panic!("unexpected {other:?}"),
    }
    // The same key in another space is another job.
    let mut other = spec("globex", "j-3", Timestamp(0));
    other.idempotency_key = Some("order-7".into());
    assert_eq!(enqueue(&*store, other).await.id, "j-3");
    assert!(store.get_job(&space("acme"), "j-2").await.unwrap().is_none());
}

async fn lease_held_by_one_worker<H: Harness>(h: &H) {
    let first = h.fresh().await;
    let nodes = [first.clone(), h.node(&first).await, h.node(&first).await];
    const JOBS: usize = 300;
    for i in 0..JOBS {
        enqueue(&*first, spec(["acme", "globex", "initech"][i % 3], &format!("j-{i:04}"), Timestamp(0))).await;
    }
    // Three nodes, two workers each, lease and succeed until nothing is left.
    let mut workers = Vec::new();
    for (n, store) in nodes.iter().enumerate() {
        for w in 0..2 {
            let store = store.clone();
            let owner = format!("node-{n}-{w}");
            workers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                let mut cursor = FairCursor::default();
                loop {
                    let leased = lease_from(&*store, lease_request(&owner, 7, 60_000, cursor)).await;
                    cursor = leased.cursor;
                    if leased.jobs.is_empty() {
                        if store.next_job_wakeup().await.unwrap().is_none() {
                            return mine;
                        }
                        tokio::task::yield_now().await;
                        continue;
                    }
                    for job in leased.jobs {
                        let done = finish(&*store, &job, &owner, AttemptOutcome::Succeeded(None)).await;
                        assert_eq!(done, JobFinished::Succeeded, "{} was held by {owner}", job.id);
                        mine.push(job.id);
                    }
                }
            }));
        }
    }
    let mut seen = HashSet::new();
    for worker in workers {
        for id in worker.await.unwrap() {
            assert!(seen.insert(id.clone()), "{id} was leased by two workers");
        }
    }
    assert_eq!(seen.len(), JOBS);
    for i in [0, 150, 299] {
        let job = get(&*first, ["acme", "globex", "initech"][i % 3], &format!("j-{i:04}")).await;
        assert_eq!((job.status, job.attempt), (JobStatus::Succeeded, 1));
    }
}

async fn expired_lease_taken_over<H: Harness>(h: &H) {
    let clock = ManualClock::new(Timestamp(1_000_000));
    let store = h.fresh_with_clock(clock.shared()).await;
    enqueue(&*store, spec("acme", "j-1", Timestamp(1_000_000))).await;
    let first = lease(&*store, "node-a", 1, 5_000).await.jobs.remove(0);
    assert_eq!(first.lease_until, Some(Timestamp(1_005_000)));
    clock.advance(4_999);
    assert!(lease(&*store, "node-b", 1, 5_000).await.jobs.is_empty(), "the lease has not ended yet");
    clock.advance(1);
    // The lease ended: the next round takes it back as a failed attempt (retried 1 s later,
    // as the policy says) ...
    let round = lease(&*store, "node-b", 1, 5_000).await;
    assert_eq!(round.expired, 1);
    assert!(round.jobs.is_empty(), "the retry is not due yet");
    let job = get(&*store, "acme", "j-1").await;
    assert_eq!((job.status, job.attempt, job.run_at), (JobStatus::Pending, 1, Timestamp(1_006_000)));
    assert_eq!(job.last_error.as_ref().map(|e| e.code.as_str()), Some("lease_expired"));
    // ... and the next worker runs it as attempt 2; the first worker's late end changes nothing.
    clock.advance(1_000);
    let second = lease(&*store, "node-b", 1, 5_000).await.jobs.remove(0);
    assert_eq!((second.attempt, second.lease_owner.as_deref()), (2, Some("node-b")));
    assert_eq!(finish(&*store, &first, "node-a", AttemptOutcome::Succeeded(None)).await, JobFinished::NotHeld);
    assert_eq!(finish(&*store, &second, "node-b", AttemptOutcome::Succeeded(None)).await, JobFinished::Succeeded);
    let done = get(&*store, "acme", "j-1").await;
    assert_eq!(done.attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(done.attempts[0].error.as_ref().map(|e| e.code.as_str()), Some("lease_expired"));
}

async fn retry_schedule_dead_redrive<H: Harness>(h: &H) {
    let clock = ManualClock::new(Timestamp(10_000_000));
    let store = h.fresh_with_clock(clock.shared()).await;
    let mut s = spec("acme", "j-1", Timestamp(10_000_000));
    s.retry = no_jitter(4);
    enqueue(&*store, s).await;
    // initial 1 s, ×2: retries 1 s, 2 s, 4 s after each failure; the 4th failure is the last.
    let mut expected = Vec::new();
    for (attempt, delay) in [(1, 1_000), (2, 2_000), (3, 4_000)] {
        let job = lease(&*store, "w", 1, 60_000).await.jobs.remove(0);
        assert_eq!(job.attempt, attempt);
        clock.advance(100);
        let at = Timestamp(clock.now().0 + delay);
        assert_eq!(finish(&*store, &job, "w", failed("http_503")).await, JobFinished::Retrying(at));
        expected.push("job.started");
        expected.push("job.failed");
        clock.advance(delay - 1);
        assert!(lease(&*store, "w", 1, 60_000).await.jobs.is_empty(), "attempt {} is not due yet", attempt + 1);
        clock.advance(1);
    }
    let last = lease(&*store, "w", 1, 60_000).await.jobs.remove(0);
    assert_eq!(finish(&*store, &last, "w", failed("http_503")).await, JobFinished::Dead);
    let dead = get(&*store, "acme", "j-1").await;
    assert_eq!((dead.status, dead.attempt), (JobStatus::Dead, 4));
    assert_eq!(dead.attempts.iter().filter(|a| a.error.is_some()).count(), 4, "every attempt's error is kept");
    let listed = store
        .list_jobs(&ListJobs {
            space: space("acme"),
            status: Some(JobStatus::Dead),
            kind: None,
            after_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    clock.advance(3_600_000);
    assert!(lease(&*store, "w", 1, 60_000).await.jobs.is_empty(), "a dead job never runs by itself");

    // Re-drive with a new payload: it runs again from attempt 1.
    let op =
        WriteOp::RetryJob(RetryJob { space: space("acme"), id: "j-1".into(), payload: Some(json!({ "fixed": true })) });
    match store.write(op).await.unwrap() {
        WriteOutcome::JobChanged(job) => assert_eq!((job.status, job.attempt), (JobStatus::Pending, 0)),
        other => panic!("unexpected {other:?}"),
    }
    let again = lease(&*store, "w", 1, 60_000).await.jobs.remove(0);
    assert_eq!((again.attempt, again.payload.clone()), (1, json!({ "fixed": true })));
    assert_eq!(finish(&*store, &again, "w", AttemptOutcome::Succeeded(None)).await, JobFinished::Succeeded);
    expected.extend(["job.started", "job.dead", "job.retried", "job.started", "job.succeeded"]);
    expected.insert(0, "job.enqueued");
    assert_eq!(job_kinds(&*store, "acme", "j-1").await, expected);

    // A code the policy never retries is dead at once; `Retry-After` is honoured.
    enqueue(&*store, spec("acme", "j-2", clock.now())).await;
    let job = lease(&*store, "w", 1, 60_000).await.jobs.remove(0);
    assert_eq!(finish(&*store, &job, "w", failed("card_declined")).await, JobFinished::Dead);
    enqueue(&*store, spec("acme", "j-4", clock.now())).await;
    let job = lease(&*store, "w", 1, 60_000).await.jobs.remove(0);
    let refused = AttemptOutcome::Failed {
        error: JobError { code: "capability_denied".into(), message: "not allowed".into() },
        retry_after_ms: None,
        permanent: true,
        random: 0.5,
    };
    assert_eq!(finish(&*store, &job, "w", refused).await, JobFinished::Dead, "a permanent failure is dead at once");
    store
        .write(WriteOp::DeleteJob(DeleteJob { space: space("acme"), id: "j-4".into(), instance: None }))
        .await
        .unwrap();
    enqueue(&*store, spec("acme", "j-3", clock.now())).await;
    let job = lease(&*store, "w", 1, 60_000).await.jobs.remove(0);
    let outcome = AttemptOutcome::Failed {
        error: JobError { code: "http_429".into(), message: "slow down".into() },
        retry_after_ms: Some(30_000),
        permanent: false,
        random: 0.5,
    };
    assert_eq!(finish(&*store, &job, "w", outcome).await, JobFinished::Retrying(Timestamp(clock.now().0 + 30_000)));
    // Bulk re-drive takes every dead job of the space.
    match store.write(WriteOp::RedriveJobs(RedriveJobs { space: space("acme"), kind: None, limit: 100 })).await {
        Ok(WriteOutcome::JobsRedriven(n)) => assert_eq!(n, 1),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(get(&*store, "acme", "j-2").await.status, JobStatus::Pending);
}

async fn stale_worker_finishes_nothing<H: Harness>(h: &H) {
    let store = h.fresh().await;
    enqueue(&*store, spec("acme", "j-1", Timestamp(0))).await;
    let job = lease(&*store, "node-a", 1, 60_000).await.jobs.remove(0);
    // Another owner, another attempt: not held.
    assert_eq!(finish(&*store, &job, "node-b", AttemptOutcome::Succeeded(None)).await, JobFinished::NotHeld);
    let mut wrong = job.clone();
    wrong.attempt = 2;
    assert_eq!(finish(&*store, &wrong, "node-a", AttemptOutcome::Succeeded(None)).await, JobFinished::NotHeld);
    // Extending: only what the owner holds.
    let extend = |owner: &str| {
        WriteOp::ExtendJobLeases(ExtendJobLeases {
            owner: owner.into(),
            ids: vec!["j-1".into(), "nope".into()],
            lease_ms: 120_000,
        })
    };
    assert_eq!(store.write(extend("node-b")).await.unwrap(), WriteOutcome::JobLeasesExtended(0));
    assert_eq!(store.write(extend("node-a")).await.unwrap(), WriteOutcome::JobLeasesExtended(1));
    assert!(get(&*store, "acme", "j-1").await.lease_until > job.lease_until);
    assert_eq!(finish(&*store, &job, "node-a", AttemptOutcome::Succeeded(None)).await, JobFinished::Succeeded);
    assert_eq!(finish(&*store, &job, "node-a", AttemptOutcome::Succeeded(None)).await, JobFinished::NotHeld);
}

async fn fairness_small_space_one_round<H: Harness>(h: &H) {
    let store = h.fresh().await;
    const BIG: usize = 10_000;
    let mut batch = Vec::new();
    for i in 0..BIG {
        batch.push(WriteOp::EnqueueJob(EnqueueJob { spec: spec("big", &format!("b-{i:05}"), Timestamp(0)) }));
        if batch.len() == 1_000 {
            store.write_atomic(std::mem::take(&mut batch)).await.expect("enqueue");
        }
    }
    // The small space's one job is enqueued last and due last.
    enqueue(&*store, spec("small", "s-1", Timestamp(1))).await;
    let round = lease(&*store, "w", 2, 60_000).await;
    let spaces: BTreeMap<&str, usize> = round.jobs.iter().fold(BTreeMap::new(), |mut m, j| {
        *m.entry(j.space.as_str()).or_default() += 1;
        m
    });
    assert_eq!(spaces, BTreeMap::from([("big", 1), ("small", 1)]), "one round serves both spaces");
}

async fn space_limits_and_priority<H: Harness>(h: &H) {
    let store = h.fresh().await;
    for i in 0..5 {
        let mut s = spec("acme", &format!("a-{i}"), Timestamp(i));
        s.priority = if i == 4 { 10 } else { 0 };
        enqueue(&*store, s).await;
    }
    let mut request = lease_request("w", 10, 60_000, FairCursor::default());
    request.limits = SpaceLimits { default: 2, overrides: BTreeMap::new() };
    let first = lease_from(&*store, request.clone()).await;
    let ids: Vec<&str> = first.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, vec!["a-4", "a-0"], "priority first, then the earliest due; at most the space's limit");
    assert!(lease_from(&*store, request.clone()).await.jobs.is_empty(), "the space is at its limit");
    finish(&*store, &first.jobs[0], "w", AttemptOutcome::Succeeded(None)).await;
    let next = lease_from(&*store, request).await;
    assert_eq!(next.jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), vec!["a-1"]);
}

async fn cancel_delete_and_refusals<H: Harness>(h: &H) {
    let store = h.fresh().await;
    enqueue(&*store, spec("acme", "j-1", Timestamp(0))).await;
    enqueue(&*store, spec("acme", "j-2", Timestamp(0))).await;
    let running = lease(&*store, "w", 1, 60_000).await.jobs.remove(0);
    let refused = |op| async { store.write(op).await.expect_err("refused") };
    // A running job cannot be deleted or re-driven; a pending one cannot be re-driven.
    let e =
        refused(WriteOp::DeleteJob(DeleteJob { space: space("acme"), id: running.id.clone(), instance: None })).await;
    assert!(matches!(e, StoreError::JobConflict { ref status, .. } if status == "running"), "{e:?}");
    let e = refused(WriteOp::RetryJob(RetryJob { space: space("acme"), id: "j-2".into(), payload: None })).await;
    assert!(matches!(e, StoreError::JobConflict { ref status, .. } if status == "pending"), "{e:?}");
    let e = refused(WriteOp::RetryJob(RetryJob { space: space("globex"), id: "j-2".into(), payload: None })).await;
    assert!(matches!(e, StoreError::JobNotFound { .. }), "another space's job is not found: {e:?}");
    // Cancelling the running job: its attempt's end changes nothing.
    store
        .write(WriteOp::CancelJob(CancelJob { space: space("acme"), id: running.id.clone(), instance: None }))
        .await
        .unwrap();
    assert_eq!(finish(&*store, &running, "w", AttemptOutcome::Succeeded(None)).await, JobFinished::NotHeld);
    assert_eq!(get(&*store, "acme", &running.id).await.status, JobStatus::Cancelled);
    let e =
        refused(WriteOp::CancelJob(CancelJob { space: space("acme"), id: running.id.clone(), instance: None })).await;
    assert!(matches!(e, StoreError::JobConflict { .. }), "{e:?}");
    store
        .write(WriteOp::DeleteJob(DeleteJob { space: space("acme"), id: running.id.clone(), instance: None }))
        .await
        .unwrap();
    assert!(store.get_job(&space("acme"), &running.id).await.unwrap().is_none());
    let e =
        refused(WriteOp::DeleteJob(DeleteJob { space: space("acme"), id: running.id.clone(), instance: None })).await;
    assert!(matches!(e, StoreError::JobNotFound { .. }), "{e:?}");
    // Deleting the space takes its jobs.
    store.write(WriteOp::DeleteSpace(DeleteSpace { space: space("acme") })).await.unwrap();
    assert!(store.get_job(&space("acme"), "j-2").await.unwrap().is_none());
    assert_eq!(store.next_job_wakeup().await.unwrap(), None);
}

/// A worker gives up the leases it still holds (its node shuts down): each named job it holds
/// fails its attempt (`node_shutdown`) and is retried by its policy at once; jobs it does not
/// hold, or did not name, are untouched.
async fn released<H: Harness>(h: &H) {
    let clock = ManualClock::new(Timestamp(5_000_000));
    let store = h.fresh_with_clock(clock.shared()).await;
    for id in ["j-1", "j-2", "j-3"] {
        enqueue(&*store, spec("acme", id, Timestamp(5_000_000))).await;
    }
    let mine = lease(&*store, "node-a", 2, 60_000).await.jobs;
    let theirs = lease(&*store, "node-b", 1, 60_000).await.jobs;
    assert_eq!((mine.len(), theirs.len()), (2, 1));
    let ids = vec![mine[0].id.clone(), theirs[0].id.clone(), "unknown".to_string()];
    let op = WriteOp::ReleaseJobs(ReleaseJobs { owner: "node-a".into(), ids, random: 0.5 });
    assert_eq!(store.write(op).await.expect("release"), WriteOutcome::JobsReleased(1), "only what node-a holds");
    let released = get(&*store, "acme", &mine[0].id).await;
    assert_eq!((released.status, released.attempt), (JobStatus::Pending, 1));
    assert_eq!(released.run_at, Timestamp(5_001_000), "retried as its policy says, not when the lease would end");
    assert_eq!(released.last_error.as_ref().map(|e| e.code.as_str()), Some("node_shutdown"));
    assert!(released.lease_owner.is_none());
    assert_eq!(get(&*store, "acme", &mine[1].id).await.status, JobStatus::Running, "not named: still held");
    assert_eq!(get(&*store, "acme", &theirs[0].id).await.lease_owner.as_deref(), Some("node-b"), "not node-a's");
    assert_eq!(finish(&*store, &mine[0], "node-a", AttemptOutcome::Succeeded(None)).await, JobFinished::NotHeld);
    assert_eq!(job_kinds(&*store, "acme", &mine[0].id).await, ["job.enqueued", "job.started", "job.failed"]);
}

/// Retention forgets succeeded and cancelled jobs that finished before the cut-off, soonest
/// finished first and at most `limit`; never a pending, running or dead one.
async fn retention<H: Harness>(h: &H) {
    let clock = ManualClock::new(Timestamp(1_000_000));
    let store = h.fresh_with_clock(clock.shared()).await;
    let purge = |before: i64, limit: u32| {
        let store = store.clone();
        async move {
            match store.write(WriteOp::PurgeJobs(PurgeJobs { before: Timestamp(before), limit })).await.expect("purge")
            {
                WriteOutcome::JobsPurged(n) => n,
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    // ok-1 and ok-2 succeed at 1 000 000 and 1 000 010; gone is cancelled at 1 000 020; dead
    // dies at 1 000 030; run stays running and wait pending.
    let mut s = spec("acme", "x", Timestamp(0));
    s.retry = no_jitter(1);
    for id in ["ok-1", "ok-2", "dead", "run"] {
        enqueue(&*store, JobSpec { id: id.into(), ..s.clone() }).await;
    }
    enqueue(&*store, spec("acme", "gone", Timestamp(0))).await;
    enqueue(&*store, spec("acme", "wait", Timestamp(2_000_000))).await;
    let mut held: BTreeMap<String, JobRecord> =
        lease(&*store, "w", 10, 600_000).await.jobs.into_iter().map(|j| (j.id.clone(), j)).collect();
    assert_eq!(held.len(), 5);
    assert_eq!(finish(&*store, &held["ok-1"], "w", AttemptOutcome::Succeeded(None)).await, JobFinished::Succeeded);
    clock.advance(10);
    assert_eq!(finish(&*store, &held["ok-2"], "w", AttemptOutcome::Succeeded(None)).await, JobFinished::Succeeded);
    clock.advance(10);
    store
        .write(WriteOp::CancelJob(CancelJob { space: space("acme"), id: "gone".into(), instance: None }))
        .await
        .unwrap();
    clock.advance(10);
    assert_eq!(finish(&*store, &held["dead"], "w", failed("boom")).await, JobFinished::Dead);
    let _ = held.remove("run");

    assert_eq!(purge(1_000_000, 10).await, 0, "nothing finished before the cut-off");
    assert_eq!(purge(i64::MAX, 1).await, 1, "at most `limit`");
    assert!(store.get_job(&space("acme"), "ok-1").await.unwrap().is_none(), "the soonest finished first");
    assert_eq!(purge(1_000_015, 10).await, 1, "ok-2 finished before the cut-off, gone after it");
    assert_eq!(purge(i64::MAX, 10).await, 1, "the cancelled one");
    assert_eq!(purge(i64::MAX, 10).await, 0);
    for (id, status) in [("dead", JobStatus::Dead), ("run", JobStatus::Running), ("wait", JobStatus::Pending)] {
        assert_eq!(get(&*store, "acme", id).await.status, status, "{id} is kept");
    }
}

async fn timers_fire_exactly_once<H: Harness>(h: &H) {
    let clock = ManualClock::new(Timestamp(50_000_000));
    let store = h.fresh_with_clock(clock.shared()).await;
    const TIMERS: usize = 100_000;
    let due = Timestamp(50_000_000 + 60_000);
    let mut batch = Vec::new();
    for i in 0..TIMERS {
        batch
            .push(WriteOp::EnqueueJob(EnqueueJob { spec: spec(["acme", "globex"][i % 2], &format!("t-{i:06}"), due) }));
        if batch.len() == 2_000 {
            store.write_atomic(std::mem::take(&mut batch)).await.expect("enqueue");
        }
    }
    assert!(lease(&*store, "w", 1_000, 60_000).await.jobs.is_empty(), "no timer is due yet");
    assert_eq!(store.next_job_wakeup().await.unwrap(), Some(due));
    clock.set(due);
    let nodes = [store.clone(), h.node(&store).await];
    let mut workers = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for w in 0..2 {
            let node = node.clone();
            let owner = format!("n{n}w{w}");
            workers.push(tokio::spawn(async move {
                let mut fired = Vec::new();
                let mut cursor = FairCursor::default();
                loop {
                    let leased = lease_from(&*node, lease_request(&owner, 500, 600_000, cursor)).await;
                    cursor = leased.cursor;
                    if leased.jobs.is_empty() {
                        return fired;
                    }
                    let ops = leased
                        .jobs
                        .iter()
                        .map(|job| {
                            WriteOp::FinishJob(FinishJob {
                                instance: None,
                                space: job.space.clone(),
                                id: job.id.clone(),
                                owner: owner.clone(),
                                attempt: job.attempt,
                                outcome: AttemptOutcome::Succeeded(None),
                                report: None,
                            })
                        })
                        .collect();
                    for outcome in node.write_atomic(ops).await.expect("finish") {
                        assert_eq!(outcome, WriteOutcome::JobFinished(JobFinished::Succeeded));
                    }
                    fired.extend(leased.jobs.into_iter().map(|j| j.id));
                }
            }));
        }
    }
    let mut seen: HashSet<String> = HashSet::with_capacity(TIMERS);
    for worker in workers {
        for id in worker.await.unwrap() {
            assert!(seen.insert(id.clone()), "timer {id} fired twice");
        }
    }
    // A worker stops at its first empty round; rounds on the other nodes may have held rows it
    // skipped, so finish what is left here before counting.
    loop {
        let leased = lease(&*store, "last", 1_000, 600_000).await;
        if leased.jobs.is_empty() {
            break;
        }
        for job in leased.jobs {
            finish(&*store, &job, "last", AttemptOutcome::Succeeded(None)).await;
            assert!(seen.insert(job.id.clone()), "timer {} fired twice", job.id);
        }
    }
    assert_eq!(seen.len(), TIMERS, "every timer fired");
    assert_eq!(store.next_job_wakeup().await.unwrap(), None);
    let _ = Arc::strong_count(&store);
}
