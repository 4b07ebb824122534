//! Conformance cases for the work states do (the outbox of instances): a transition writes its
//! jobs with it, a finished job moves its instance once, leaving a state cancels its pending
//! work, a cancelled instance refuses events, a migration checks the target version.

use serde_json::{Value, json};
use switchyard_model::jobs::{FairCursor, JobStatus, SpaceLimits};
use switchyard_model::{
    CompiledMachine, DefinitionFormat, InstanceKey, InstanceStatus, JsonObject, MachineVersion, parse_definition,
};

use super::{Case, Harness};
use crate::*;

pub(super) fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("work_a_transition_writes_its_jobs_and_a_finished_job_moves_the_instance_once", |h| {
            Box::pin(finished_job_moves_instance_once(h))
        }),
        ("work_a_cancelled_instance_cancels_its_work_and_refuses_events", |h| Box::pin(cancel_instance(h))),
        ("work_a_migration_needs_the_state_defined_alike", |h| Box::pin(migrate_instance(h))),
        ("work_children_start_with_their_parent_and_their_ends_move_it_up_the_chain", |h| Box::pin(children_chain(h))),
        ("work_instances_are_counted_by_machine_and_status", |h| Box::pin(instance_counts(h))),
    ]
}

const CHARGE: &str = r#"
initial: idle
states:
  idle: {}
  charging:
    invoke: { function: charge, input: "{'amount': ctx.amount}" }
    on_done: { to: paid, assign: { receipt: "result.id" } }
    after: { 1h: late }
  paid: { final: true }
  late: { final: true, failure: true }
transitions:
  - { from: idle, event: go, to: charging }
"#;

fn definition(yaml: &str) -> Value {
    let def = parse_definition(yaml.as_bytes(), DefinitionFormat::Yaml).expect("parses");
    CompiledMachine::compile(def).expect("compiles").canonical_json().clone()
}

fn key(id: &str) -> InstanceKey {
    InstanceKey {
        space: SpaceName::new("acme").unwrap(),
        machine: Segment::new("charge").unwrap(),
        id: Segment::new(id).unwrap(),
    }
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

async fn put(store: &dyn Store, yaml: &str) -> MachineVersion {
    let op = PutMachine {
        space: SpaceName::new("acme").unwrap(),
        name: Segment::new("charge").unwrap(),
        definition: definition(yaml),
    };
    store.execute(op).await.expect("put").version
}

async fn start(store: &dyn Store, id: &str) -> EventApplied {
    let create = CreateInstance { key: key(id), ctx: object(json!({ "amount": 5 })), idempotency: None };
    store.execute(create).await.expect("create");
    let go = ApplyEvent {
        key: key(id),
        event: "go".into(),
        payload: JsonObject::new(),
        expected_state: None,
        expected_revision: None,
        idempotency: None,
        max_context_bytes: 1 << 20,
    };
    store.execute(go).await.expect("go")
}

async fn instance(store: &dyn Store, id: &str) -> InstanceRecord {
    store.get_instance(&key(id)).await.expect("read").expect("exists")
}

async fn job(store: &dyn Store, id: &str) -> JobRecord {
    store.get_job(&SpaceName::new("acme").unwrap(), id).await.expect("read").expect("exists")
}

async fn finished_job_moves_instance_once<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put(&*store, CHARGE).await;
    let applied = start(&*store, "c-1").await;
    assert!(applied.started_work);
    let charging = instance(&*store, "c-1").await;
    assert_eq!((charging.state.as_str(), charging.status), ("charging", InstanceStatus::Running));
    assert_eq!(charging.work.len(), 2, "the action and the timer: {charging:?}");
    let action = job(&*store, &charging.work[0]).await;
    let timer = job(&*store, &charging.work[1]).await;
    assert_eq!((action.kind.as_str(), timer.kind.as_str()), ("function", "timer"));
    assert_eq!(action.payload["input"], json!({ "amount": 5 }));
    assert_eq!(action.reply_instance(), Some(key("c-1")));

    let lease = LeaseJobs {
        owner: "w".into(),
        max: 10,
        lease_ms: 30_000,
        limits: SpaceLimits::new(100),
        cursor: FairCursor::default(),
        random: 0.5,
    };
    let leased = store.execute(lease).await.expect("lease");
    assert_eq!(leased.jobs.len(), 1, "the timer is not due");
    let running = &leased.jobs[0];
    let finish = |attempt| FinishJob {
        space: running.space.clone(),
        id: running.id.clone(),
        owner: "w".into(),
        attempt,
        outcome: AttemptOutcome::Succeeded(Some(json!({ "id": "ch_1" }))),
        report: None,
        instance: running.reply_instance(),
    };
    assert_eq!(store.execute(finish(running.attempt)).await.expect("finish"), JobFinished::Succeeded);
    let paid = instance(&*store, "c-1").await;
    assert_eq!(
        (paid.state.as_str(), paid.status, &paid.ctx["receipt"]),
        ("paid", InstanceStatus::Completed, &json!("ch_1"))
    );
    assert!(paid.work.is_empty(), "{paid:?}");
    assert_eq!(job(&*store, &timer.id).await.status, JobStatus::Cancelled, "leaving the state cancels its timer");
    // The same attempt's end again changes nothing: applied once.
    assert_eq!(store.execute(finish(running.attempt)).await.expect("finish"), JobFinished::NotHeld);
    assert_eq!(instance(&*store, "c-1").await.revision, paid.revision);
}

async fn cancel_instance<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put(&*store, CHARGE).await;
    start(&*store, "c-2").await;
    let work = instance(&*store, "c-2").await.work;
    store.execute(CancelInstance { key: key("c-2"), reason: Some("gone".into()) }).await.expect("cancel");
    let cancelled = instance(&*store, "c-2").await;
    assert_eq!(cancelled.status, InstanceStatus::Cancelled);
    assert_eq!(cancelled.error, Some(json!({ "code": "cancelled", "message": "gone" })));
    for id in &work {
        assert_eq!(job(&*store, id).await.status, JobStatus::Cancelled);
    }
    let again = store.execute(CancelInstance { key: key("c-2"), reason: None }).await.unwrap_err();
    assert!(matches!(again, StoreError::InstanceFinished { .. }), "{again:?}");
    let event = ApplyEvent {
        key: key("c-2"),
        event: "go".into(),
        payload: JsonObject::new(),
        expected_state: None,
        expected_revision: None,
        idempotency: None,
        max_context_bytes: 1 << 20,
    };
    assert!(matches!(store.execute(event).await.unwrap_err(), StoreError::InstanceFinished { .. }));
}

async fn migrate_instance<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let v1 = put(&*store, CHARGE).await;
    start(&*store, "c-3").await;
    // Version 2 charges differently: the running charge could not be applied by its rules.
    let v2 = put(&*store, &CHARGE.replace("after: { 1h: late }", "after: { 2h: late }")).await;
    let refused = store.execute(MigrateInstance { key: key("c-3"), version: v2 }).await.unwrap_err();
    assert!(matches!(refused, StoreError::MigrationRefused { .. }), "{refused:?}");
    // Version 3 adds a state and leaves `charging` alone: allowed.
    let v3 = put(&*store, &CHARGE.replace("  paid: { final: true }", "  paid: { final: true }\n  refunded: {}")).await;
    let moved = store.execute(MigrateInstance { key: key("c-3"), version: v3 }).await.expect("migrate");
    assert_eq!((moved.from, moved.to), (v1, v3));
    let on_v3 = instance(&*store, "c-3").await;
    assert_eq!((on_v3.machine_version, on_v3.status), (v3, InstanceStatus::Running));
}

/// A parent whose initial state starts a child, whose own starts a grandchild that waits.
const TREE: &str = r#"
initial: growing
states:
  growing:
    invoke: { machine: branch, input: "{'n': 1}" }
    on_done: { to: grown, assign: { got: "result" } }
  grown: { final: true }
"#;
const BRANCH: &str = r#"
initial: growing
states:
  growing:
    invoke: { machine: "acme:leaf", input: "{'n': ctx.n + 1}" }
    on_done: { to: grown, assign: { leaf: "result.n" } }
  grown: { final: true }
"#;
const LEAF: &str = r#"
initial: waiting
states:
  waiting: { wait: { event: ripe } }
  ripe: { final: true }
transitions:
  - { from: waiting, event: ripe, to: ripe }
"#;

async fn put_named(store: &dyn Store, name: &str, yaml: &str) {
    let op = PutMachine {
        space: SpaceName::new("acme").unwrap(),
        name: Segment::new(name).unwrap(),
        definition: definition(yaml),
    };
    store.execute(op).await.expect("put");
}

fn key_of(machine: &str, id: &str) -> InstanceKey {
    InstanceKey {
        space: SpaceName::new("acme").unwrap(),
        machine: Segment::new(machine).unwrap(),
        id: Segment::new(id).unwrap(),
    }
}

async fn children_chain<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_named(&*store, "tree", TREE).await;
    put_named(&*store, "branch", BRANCH).await;
    put_named(&*store, "leaf", LEAF).await;
    let read = |machine: &'static str, id: &'static str| {
        let store = store.clone();
        async move { store.get_instance(&key_of(machine, id)).await.expect("read").expect("exists") }
    };

    // One create starts the whole chain, each child linked to its parent.
    let create = CreateInstance { key: key_of("tree", "t-1"), ctx: JsonObject::new(), idempotency: None };
    store.execute(create).await.expect("create");
    let tree = read("tree", "t-1").await;
    assert_eq!(tree.work, vec!["child:acme:branch:tree.t-1.1".to_string()]);
    let branch = read("branch", "tree.t-1.1").await;
    let parent = branch.parent.clone().expect("a parent");
    assert_eq!((parent.instance.as_str(), parent.state.as_str(), parent.depth), ("acme:tree:t-1", "growing", 1));
    assert_eq!(branch.ctx["n"], json!(1));
    let leaf = read("leaf", "branch.tree.t-1.1.1").await;
    assert_eq!(leaf.parent.as_ref().map(|p| p.depth), Some(2));
    assert_eq!((leaf.ctx["n"].clone(), leaf.status), (json!(2), InstanceStatus::Waiting));

    // The grandchild's end moves the child, whose end moves the parent: one transaction.
    let ripe = ApplyEvent {
        key: key_of("leaf", "branch.tree.t-1.1.1"),
        event: "ripe".into(),
        payload: JsonObject::new(),
        expected_state: None,
        expected_revision: None,
        idempotency: None,
        max_context_bytes: 1 << 20,
    };
    let applied = store.execute(ripe).await.expect("ripe");
    assert_eq!(applied.applied.to, "ripe");
    let branch = read("branch", "tree.t-1.1").await;
    assert_eq!((branch.state.as_str(), &branch.ctx["leaf"]), ("grown", &json!(2)));
    let tree = read("tree", "t-1").await;
    assert_eq!((tree.state.as_str(), tree.status), ("grown", InstanceStatus::Completed));
    assert_eq!(tree.ctx["got"], json!({ "n": 1, "leaf": 2 }));
    assert!(tree.work.is_empty(), "{tree:?}");

    // Cancelling the parent cancels the child and the grandchild; none reports back.
    let create = CreateInstance { key: key_of("tree", "t-2"), ctx: JsonObject::new(), idempotency: None };
    store.execute(create).await.expect("create");
    store.execute(CancelInstance { key: key_of("tree", "t-2"), reason: None }).await.expect("cancel");
    for (machine, id) in [("branch", "tree.t-2.1"), ("leaf", "branch.tree.t-2.1.1")] {
        let child = read(machine, id).await;
        assert_eq!(child.status, InstanceStatus::Cancelled, "{child:?}");
        let message = child.error.as_ref().and_then(|e| e["message"].as_str()).unwrap_or_default().to_owned();
        assert!(message.contains("was cancelled"), "{message}");
    }
    let tree = read("tree", "t-2").await;
    assert_eq!((tree.status, tree.revision.get()), (InstanceStatus::Cancelled, 1));

    // An id someone took already: the child gets the hashed form instead.
    let taken =
        CreateInstance { key: key_of("leaf", "branch.tree.t-3.1.1"), ctx: JsonObject::new(), idempotency: None };
    store.execute(taken).await.expect("a leaf of someone's own");
    let create = CreateInstance { key: key_of("tree", "t-3"), ctx: JsonObject::new(), idempotency: None };
    store.execute(create).await.expect("create");
    let branch = read("branch", "tree.t-3.1").await;
    let entry = branch.work.first().cloned().unwrap_or_default();
    assert!(entry.starts_with("child:acme:leaf:child-"), "{branch:?}");
    let leaf = store
        .get_instance(&InstanceKey::from_address(&entry["child:".len()..]).expect("an address"))
        .await
        .expect("read")
        .expect("the leaf exists");
    assert_eq!(leaf.parent.map(|p| p.instance), Some("acme:branch:tree.t-3.1".to_string()));
}

async fn instance_counts<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let acme = SpaceName::new("acme").unwrap();
    assert_eq!(store.instance_counts(&acme).await.expect("counts"), Vec::new(), "an empty space");
    put(&*store, CHARGE).await;
    for id in ["idle-1", "idle-2", "gone", "stopped"] {
        let create = CreateInstance { key: key(id), ctx: object(json!({ "amount": 5 })), idempotency: None };
        store.execute(create).await.expect("create");
    }
    start(&*store, "busy").await;
    store.execute(CancelInstance { key: key("stopped"), reason: None }).await.expect("cancel");
    store.execute(crate::DeleteInstance { key: key("gone") }).await.expect("delete");
    put_named(&*store, "tree", TREE).await;
    put_named(&*store, "branch", BRANCH).await;
    put_named(&*store, "leaf", LEAF).await;
    let create = CreateInstance { key: key_of("tree", "t-1"), ctx: JsonObject::new(), idempotency: None };
    store.execute(create).await.expect("create a tree");
    // Another space's instances are its own.
    let other = PutMachine {
        space: SpaceName::new("other").unwrap(),
        name: Segment::new("charge").unwrap(),
        definition: definition(CHARGE),
    };
    store.execute(other).await.expect("put in other");
    let elsewhere = InstanceKey { space: SpaceName::new("other").unwrap(), ..key("x") };
    store
        .execute(CreateInstance { key: elsewhere, ctx: object(json!({ "amount": 1 })), idempotency: None })
        .await
        .expect("create");

    let counts = store.instance_counts(&acme).await.expect("counts");
    let count = |machine: &str, status: InstanceStatus| {
        counts.iter().find(|c| c.machine == machine && c.status == status).map(|c| (c.roots, c.children))
    };
    assert_eq!(count("charge", InstanceStatus::Active), Some((2, 0)), "{counts:?}");
    assert_eq!(count("charge", InstanceStatus::Running), Some((1, 0)), "{counts:?}");
    assert_eq!(count("charge", InstanceStatus::Cancelled), Some((1, 0)), "{counts:?}");
    assert_eq!(count("charge", InstanceStatus::Failed), None, "no status without an instance: {counts:?}");
    let total = |machine: &str| {
        counts
            .iter()
            .filter(|c| c.machine == machine)
            .map(|c| (c.roots, c.children))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    };
    assert_eq!(total("charge"), (4, 0), "the deleted instance is not counted: {counts:?}");
    assert_eq!(total("tree"), (1, 0), "{counts:?}");
    assert_eq!(total("branch"), (0, 1), "{counts:?}");
    assert_eq!(total("leaf"), (0, 1), "{counts:?}");
    let machines: Vec<&str> = counts.iter().map(|c| c.machine.as_str()).collect();
    let mut sorted = machines.clone();
    sorted.sort();
    assert_eq!(machines, sorted, "by machine");
    let other = store.instance_counts(&SpaceName::new("other").unwrap()).await.expect("counts");
    assert_eq!(other.iter().map(|c| c.roots).sum::<u64>(), 1, "{other:?}");
}
