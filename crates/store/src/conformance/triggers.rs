//! Conformance cases for triggers.
//!
//! What they prove, on every backend: a trigger is versioned (a new version only when its
//! definition changes; every version, pause, resume and deletion logged at
//! `space:triggers:name`); a schedule has one head job — replaced by a new version, cancelled by
//! a pause or a deletion, enqueued again on resume — and moves on only from that head, so a
//! second node running a stale head enqueues nothing; a trigger's executions list newest first
//! and page; triggers go with their space.

use serde_json::json;
use switchyard_model::{JobSpec, JobStatus, RetryPolicy, Segment, Timestamp, kinds, trigger_address};

use super::{Case, Harness, seg, space};
use crate::{
    AdvanceSchedule, DeleteSpace, DeleteTrigger, EnqueueJob, PauseTrigger, PutTrigger, Store, StoreError, StoreExt,
};

/// This module's cases, by name.
pub(super) fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("triggers_are_versioned_logged_and_deleted", |h| Box::pin(versioned(h))),
        ("a_schedule_moves_on_only_from_its_head", |h| Box::pin(schedule_head(h))),
        ("trigger_executions_list_newest_first", |h| Box::pin(executions(h))),
    ]
}

const SPACE: &str = "acme";

fn definition(every: &str) -> serde_json::Value {
    json!({ "name": "tick", "source": { "interval": { "every": every } }, "target": { "flow": "report" } })
}

fn fire_job(id: &str, name: &str, at: i64) -> JobSpec {
    JobSpec {
        id: id.to_owned(),
        space: space(SPACE),
        kind: Segment::new("trigger").expect("kind"),
        target: trigger_address(SPACE, name),
        payload: json!({ "trigger": name, "source": "schedule", "fire_ms": at }),
        priority: 0,
        concurrency_key: None,
        idempotency_key: None,
        run_at: Timestamp(at),
        retry: RetryPolicy::default(),
    }
}

fn put(name: &str, definition: serde_json::Value, first_job: Option<JobSpec>) -> PutTrigger {
    PutTrigger { space: space(SPACE), name: seg(name), definition, first_job }
}

async fn status(store: &dyn Store, id: &str) -> JobStatus {
    store.get_job(&space(SPACE), id).await.expect("get job").expect("job exists").status
}

async fn versioned<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let first = store.execute(put("hook", json!({ "a": 1 }), None)).await.expect("put");
    assert!(first.created && first.changed && first.space_created);
    assert_eq!(first.trigger.version, 1);
    let same = store.execute(put("hook", json!({ "a": 1 }), None)).await.expect("put again");
    assert!(!same.created && !same.changed, "an equal definition changes nothing");
    assert_eq!(same.trigger.version, 1);
    let second = store.execute(put("hook", json!({ "a": 2 }), None)).await.expect("put a change");
    assert!(!second.created && second.changed);
    assert_eq!(second.trigger.version, 2);
    assert_eq!(second.trigger.created_at, first.trigger.created_at);

    let paused = store
        .execute(PauseTrigger { space: space(SPACE), name: seg("hook"), paused: true, resume_job: None })
        .await
        .expect("pause");
    assert!(paused.paused);
    let again = store
        .execute(PauseTrigger { space: space(SPACE), name: seg("hook"), paused: true, resume_job: None })
        .await
        .expect("pause again");
    assert!(again.paused, "pausing a paused trigger is a no-op");
    let third = store.execute(put("hook", json!({ "a": 3 }), None)).await.expect("put while paused");
    assert!(third.trigger.paused, "a new version keeps the pause");
    store.execute(put("other", json!({ "b": 1 }), None)).await.expect("another");

    let listed = store.list_triggers(&space(SPACE)).await.expect("list");
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["hook", "other"]);
    let got = store.get_trigger(&space(SPACE), &seg("hook")).await.expect("get").expect("exists");
    assert_eq!((got.version, got.paused, &got.definition), (3, true, &json!({ "a": 3 })));

    store.execute(DeleteTrigger { space: space(SPACE), name: seg("hook") }).await.expect("delete");
    assert!(store.get_trigger(&space(SPACE), &seg("hook")).await.expect("get").is_none());
    let missing = store.execute(DeleteTrigger { space: space(SPACE), name: seg("hook") }).await;
    assert!(matches!(missing, Err(StoreError::TriggerNotFound { .. })), "{missing:?}");
    let pause_missing =
        store.execute(PauseTrigger { space: space(SPACE), name: seg("nope"), paused: true, resume_job: None }).await;
    assert!(matches!(pause_missing, Err(StoreError::TriggerNotFound { .. })), "{pause_missing:?}");

    let records = store.read_log(switchyard_model::Seq(0), 100).await.expect("log");
    let written: Vec<(&str, &str)> = records.iter().map(|r| (r.kind.as_str(), r.address.as_str())).collect();
    assert_eq!(
        written,
        [
            (kinds::TRIGGER_PUT, "acme:triggers:hook"),
            (kinds::TRIGGER_PUT, "acme:triggers:hook"),
            (kinds::TRIGGER_PAUSED, "acme:triggers:hook"),
            (kinds::TRIGGER_PUT, "acme:triggers:hook"),
            (kinds::TRIGGER_PUT, "acme:triggers:other"),
            (kinds::TRIGGER_DELETED, "acme:triggers:hook"),
        ]
    );
    assert_eq!(records[1].payload, json!({ "name": "hook", "version": 2, "definition": { "a": 2 } }));

    store.execute(DeleteSpace { space: space(SPACE) }).await.expect("delete space");
    assert!(store.list_triggers(&space(SPACE)).await.expect("list").is_empty(), "triggers go with their space");
}

async fn schedule_head<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let put1 = store.execute(put("tick", definition("1m"), Some(fire_job("j1", "tick", 60_000)))).await.expect("put");
    assert_eq!(put1.trigger.schedule_job.as_deref(), Some("j1"));
    assert_eq!(status(&*store, "j1").await, JobStatus::Pending);

    // A new version replaces the head.
    let put2 = store.execute(put("tick", definition("2m"), Some(fire_job("j2", "tick", 120_000)))).await.expect("put");
    assert_eq!(put2.trigger.schedule_job.as_deref(), Some("j2"));
    assert_eq!(status(&*store, "j1").await, JobStatus::Cancelled);

    // Moving on from a job that is not the head does nothing.
    let stale = AdvanceSchedule {
        space: space(SPACE),
        name: seg("tick"),
        from: "j1".into(),
        catch_up: vec![fire_job("c0", "tick", 1)],
        next: Some(fire_job("j9", "tick", 240_000)),
    };
    assert!(!store.execute(stale).await.expect("advance from a stale head"));
    assert!(store.get_job(&space(SPACE), "j9").await.expect("get").is_none());
    assert!(store.get_job(&space(SPACE), "c0").await.expect("get").is_none());

    // From the head: the catch-up jobs and the next head, once.
    let advance = |from: &str| AdvanceSchedule {
        space: space(SPACE),
        name: seg("tick"),
        from: from.into(),
        catch_up: vec![fire_job("c1", "tick", 121_000)],
        next: Some(fire_job("j3", "tick", 240_000)),
    };
    assert!(store.execute(advance("j2")).await.expect("advance"));
    assert!(!store.execute(advance("j2")).await.expect("advance twice"), "a head moves on once");
    assert_eq!(status(&*store, "c1").await, JobStatus::Pending);
    assert_eq!(status(&*store, "j3").await, JobStatus::Pending);
    let t = store.get_trigger(&space(SPACE), &seg("tick")).await.expect("get").expect("exists");
    assert_eq!(t.schedule_job.as_deref(), Some("j3"));

    // Pausing cancels the head; resuming enqueues the next one.
    let paused = store
        .execute(PauseTrigger { space: space(SPACE), name: seg("tick"), paused: true, resume_job: None })
        .await
        .expect("pause");
    assert_eq!(paused.schedule_job, None);
    assert_eq!(status(&*store, "j3").await, JobStatus::Cancelled);
    assert!(!store.execute(advance("j3")).await.expect("advance while paused"));
    let resumed = store
        .execute(PauseTrigger {
            space: space(SPACE),
            name: seg("tick"),
            paused: false,
            resume_job: Some(fire_job("j4", "tick", 360_000)),
        })
        .await
        .expect("resume");
    assert_eq!(resumed.schedule_job.as_deref(), Some("j4"));

    // Deleting cancels the head; the trigger's past jobs stay.
    store.execute(DeleteTrigger { space: space(SPACE), name: seg("tick") }).await.expect("delete");
    assert_eq!(status(&*store, "j4").await, JobStatus::Cancelled);
    assert_eq!(status(&*store, "c1").await, JobStatus::Pending);

    let reopened = h.reopen(store).await;
    assert!(reopened.get_trigger(&space(SPACE), &seg("tick")).await.expect("get").is_none());
}

async fn executions<H: Harness>(h: &H) {
    let store = h.fresh().await;
    for (id, name) in [("e1", "tick"), ("e2", "other"), ("e3", "tick"), ("e4", "tick")] {
        store.execute(EnqueueJob { spec: fire_job(id, name, 1_000) }).await.expect("enqueue");
    }
    let page = store.trigger_jobs(&space(SPACE), &seg("tick"), None, 2).await.expect("page");
    let ids: Vec<&str> = page.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["e4", "e3"], "newest first, this trigger's only");
    let rest = store.trigger_jobs(&space(SPACE), &seg("tick"), Some("e3"), 10).await.expect("next page");
    let ids: Vec<&str> = rest.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["e1"]);
    assert!(store.trigger_jobs(&space("other"), &seg("tick"), None, 10).await.expect("other space").is_empty());
}
