//! Conformance cases for outbound webhook endpoints.
//!
//! What they prove, on every backend: an endpoint is versioned (a new version only when its
//! definition changes; every version, disabling, enabling and deletion logged at
//! `space:endpoints:name`); it has one live consumer job — replaced by a new version, cancelled
//! by disabling or deleting, enqueued again on enabling; its jobs list newest first and page;
//! a deferred attempt is not counted; endpoints go with their space.

use serde_json::json;
use switchyard_model::jobs::{FairCursor, SpaceLimits};
use switchyard_model::{JobSpec, JobStatus, RetryPolicy, Segment, Timestamp, endpoint_address, kinds};

use super::{Case, Harness, seg, space};
use crate::{
    AttemptOutcome, ConfirmEndpointConsumer, DeleteEndpoint, DeleteSpace, EnqueueJob, FinishJob, JobFinished,
    LeaseJobs, PutEndpoint, SetEndpointDisabled, Store, StoreError, StoreExt,
};

/// This module's cases, by name.
pub(super) fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("endpoints_are_versioned_logged_and_deleted", |h| Box::pin(versioned(h))),
        ("an_endpoint_has_one_live_consumer", |h| Box::pin(one_consumer(h))),
        ("endpoint_jobs_list_newest_first", |h| Box::pin(deliveries(h))),
        ("a_deferred_attempt_is_not_counted", |h| Box::pin(deferred(h))),
    ]
}

const SPACE: &str = "acme";

fn job(id: &str, name: &str, role: &str) -> JobSpec {
    JobSpec {
        id: id.to_owned(),
        space: space(SPACE),
        kind: Segment::new("delivery").expect("kind"),
        target: endpoint_address(SPACE, name),
        payload: json!({ "endpoint": name, "role": role }),
        priority: 0,
        concurrency_key: None,
        idempotency_key: None,
        run_at: Timestamp(0),
        retry: RetryPolicy::default(),
    }
}

fn put(name: &str, definition: serde_json::Value, consumer: &str) -> PutEndpoint {
    PutEndpoint { space: space(SPACE), name: seg(name), definition, consumer: job(consumer, name, "consumer") }
}

fn disable(name: &str, reason: Option<&str>, consumer: Option<&str>) -> SetEndpointDisabled {
    SetEndpointDisabled {
        space: space(SPACE),
        name: seg(name),
        disabled: reason.map(str::to_owned),
        consumer: consumer.map(|id| job(id, name, "consumer")),
        unless_changed_since: None,
    }
}

async fn status(store: &dyn Store, id: &str) -> JobStatus {
    store.get_job(&space(SPACE), id).await.expect("get job").expect("job exists").status
}

async fn versioned<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let first = store.execute(put("crm", json!({ "a": 1 }), "c1")).await.expect("put");
    assert!(first.created && first.changed && first.space_created);
    assert_eq!((first.endpoint.version, first.endpoint.disabled.as_deref()), (1, None));
    let same = store.execute(put("crm", json!({ "a": 1 }), "c-unused")).await.expect("put again");
    assert!(!same.created && !same.changed, "an equal definition changes nothing");
    assert!(store.get_job(&space(SPACE), "c-unused").await.expect("get").is_none(), "nor enqueues a consumer");
    let second = store.execute(put("crm", json!({ "a": 2 }), "c2")).await.expect("put a change");
    assert_eq!((second.endpoint.version, second.endpoint.created_at), (2, first.endpoint.created_at));

    let off = store.execute(disable("crm", Some("410 Gone"), None)).await.expect("disable");
    assert_eq!(off.disabled.as_deref(), Some("410 Gone"));
    let again = store.execute(disable("crm", Some("other"), None)).await.expect("disable again");
    assert_eq!(again.disabled.as_deref(), Some("410 Gone"), "disabling a disabled endpoint is a no-op");
    let third = store.execute(put("crm", json!({ "a": 3 }), "c3")).await.expect("put while disabled");
    assert_eq!((third.endpoint.disabled.as_deref(), third.endpoint.consumer_job.as_deref()), (Some("410 Gone"), None));
    assert!(store.get_job(&space(SPACE), "c3").await.expect("get").is_none(), "a disabled endpoint reads nothing");
    let on = store.execute(disable("crm", None, Some("c4"))).await.expect("enable");
    assert_eq!((on.disabled.as_deref(), on.consumer_job.as_deref()), (None, Some("c4")));
    store.execute(put("ads", json!({ "b": 1 }), "a1")).await.expect("another");
    let names: Vec<String> =
        store.list_endpoints(&space(SPACE)).await.expect("list").iter().map(|e| e.name.to_string()).collect();
    assert_eq!(names, ["ads", "crm"]);

    store.execute(DeleteEndpoint { space: space(SPACE), name: seg("crm") }).await.expect("delete");
    assert!(store.get_endpoint(&space(SPACE), &seg("crm")).await.expect("get").is_none());
    assert_eq!(status(&*store, "c4").await, JobStatus::Cancelled, "deleting cancels the consumer");
    let missing = store.execute(DeleteEndpoint { space: space(SPACE), name: seg("crm") }).await;
    assert!(matches!(missing, Err(StoreError::EndpointNotFound { .. })), "{missing:?}");
    let disable_missing = store.execute(disable("nope", Some("x"), None)).await;
    assert!(matches!(disable_missing, Err(StoreError::EndpointNotFound { .. })), "{disable_missing:?}");

    let records = store.read_log(switchyard_model::Seq(0), 100).await.expect("log");
    let written: Vec<(&str, &str)> =
        records.iter().filter(|r| !r.kind.starts_with("job.")).map(|r| (r.kind.as_str(), r.address.as_str())).collect();
    assert_eq!(
        written,
        [
            (kinds::ENDPOINT_PUT, "acme:endpoints:crm"),
            (kinds::ENDPOINT_PUT, "acme:endpoints:crm"),
            (kinds::ENDPOINT_DISABLED, "acme:endpoints:crm"),
            (kinds::ENDPOINT_PUT, "acme:endpoints:crm"),
            (kinds::ENDPOINT_ENABLED, "acme:endpoints:crm"),
            (kinds::ENDPOINT_PUT, "acme:endpoints:ads"),
            (kinds::ENDPOINT_DELETED, "acme:endpoints:crm"),
        ]
    );

    store.execute(DeleteSpace { space: space(SPACE) }).await.expect("delete space");
    assert!(store.list_endpoints(&space(SPACE)).await.expect("list").is_empty(), "endpoints go with their space");
}

async fn one_consumer<H: Harness>(h: &H) {
    let store = h.fresh().await;
    store.execute(put("crm", json!({ "a": 1 }), "c1")).await.expect("put");
    assert_eq!(status(&*store, "c1").await, JobStatus::Pending);
    let confirm =
        |consumer: &str| ConfirmEndpointConsumer { space: space(SPACE), name: seg("crm"), consumer: consumer.into() };
    store.execute(confirm("c1")).await.expect("c1 is the consumer");
    store.execute(put("crm", json!({ "a": 2 }), "c2")).await.expect("new version");
    assert_eq!(status(&*store, "c1").await, JobStatus::Cancelled, "a new version replaces the consumer");
    let stale = store.execute(confirm("c1")).await;
    assert!(matches!(stale, Err(StoreError::JobConflict { .. })), "a superseded consumer is refused: {stale:?}");
    store.execute(confirm("c2")).await.expect("c2 is the consumer");
    assert_eq!(status(&*store, "c2").await, JobStatus::Pending);
    store.execute(disable("crm", Some("maintenance"), None)).await.expect("disable");
    assert_eq!(status(&*store, "c2").await, JobStatus::Cancelled);
    assert!(store.execute(confirm("c2")).await.is_err(), "a disabled endpoint has no consumer");
    let enabled = store.execute(disable("crm", None, Some("c3"))).await.expect("enable");
    assert_eq!(status(&*store, "c3").await, JobStatus::Pending);
    // A disabling conditional on what an older look saw changes nothing once the endpoint
    // changed since (a late 410 after a person enabled it again).
    let stale = SetEndpointDisabled {
        unless_changed_since: Some((enabled.version, Timestamp(enabled.updated_at.0 - 1))),
        ..disable("crm", Some("410 Gone"), None)
    };
    assert_eq!(store.execute(stale).await.expect("stale disable").disabled, None);
    // A consumer that finished is replaced by putting the same definition again.
    let leased = store
        .execute(crate::LeaseJobs {
            owner: "node-a".into(),
            max: 10,
            lease_ms: 30_000,
            limits: SpaceLimits::new(100),
            cursor: FairCursor::default(),
            random: 0.5,
        })
        .await
        .expect("lease");
    let c3 = leased.jobs.iter().find(|j| j.id == "c3").expect("c3 leased");
    let finish = FinishJob {
        instance: None,
        space: space(SPACE),
        id: "c3".into(),
        owner: "node-a".into(),
        attempt: c3.attempt,
        outcome: AttemptOutcome::Failed {
            error: switchyard_model::JobError { code: "x".into(), message: "gave up".into() },
            retry_after_ms: None,
            permanent: true,
            random: 0.5,
        },
        report: None,
    };
    store.execute(finish).await.expect("finish");
    assert_eq!(status(&*store, "c3").await, JobStatus::Dead);
    let again = store.execute(put("crm", json!({ "a": 2 }), "c4")).await.expect("put again");
    assert!(!again.changed, "the same definition is no new version");
    assert_eq!(again.endpoint.consumer_job.as_deref(), Some("c4"), "but a consumer that gave up is replaced");
    assert_eq!(status(&*store, "c4").await, JobStatus::Pending);
    let reopened = h.reopen(store).await;
    let e = reopened.get_endpoint(&space(SPACE), &seg("crm")).await.expect("get").expect("exists");
    assert_eq!((e.version, e.consumer_job.as_deref(), e.disabled.as_deref()), (2, Some("c4"), None));
}

async fn deliveries<H: Harness>(h: &H) {
    let store = h.fresh().await;
    for (id, name) in [("d1", "crm"), ("d2", "ads"), ("d3", "crm"), ("d4", "crm")] {
        store.execute(EnqueueJob { spec: job(id, name, "delivery") }).await.expect("enqueue");
    }
    let page = store.endpoint_jobs(&space(SPACE), &seg("crm"), None, 2).await.expect("page");
    let ids: Vec<&str> = page.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["d4", "d3"], "newest first, this endpoint's only");
    let rest = store.endpoint_jobs(&space(SPACE), &seg("crm"), Some("d3"), 10).await.expect("next page");
    let ids: Vec<&str> = rest.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["d1"]);
    assert!(store.endpoint_jobs(&space("other"), &seg("crm"), None, 10).await.expect("other space").is_empty());
}

async fn deferred<H: Harness>(h: &H) {
    let store = h.fresh().await;
    store.execute(EnqueueJob { spec: job("d1", "crm", "delivery") }).await.expect("enqueue");
    let lease = || LeaseJobs {
        owner: "node-a".into(),
        max: 1,
        lease_ms: 30_000,
        limits: SpaceLimits::new(100),
        cursor: FairCursor::default(),
        random: 0.5,
    };
    let leased = store.execute(lease()).await.expect("lease");
    let running = &leased.jobs[0];
    assert_eq!(running.attempt, 1);
    let until = Timestamp(5_000_000_000_000);
    let finish = FinishJob {
        instance: None,
        space: space(SPACE),
        id: "d1".into(),
        owner: "node-a".into(),
        attempt: 1,
        outcome: AttemptOutcome::Deferred { until },
        report: None,
    };
    assert_eq!(store.execute(finish).await.expect("defer"), JobFinished::Retrying(until));
    let job = store.get_job(&space(SPACE), "d1").await.expect("get").expect("exists");
    assert_eq!((job.status, job.attempt, job.run_at), (JobStatus::Pending, 0, until), "the attempt is not counted");
    assert!(job.attempts.is_empty(), "nor kept in the history: {:?}", job.attempts);
    assert!(job.last_error.is_none());
    assert!(store.execute(lease()).await.expect("lease again").jobs.is_empty(), "not due before `until`");
}
