//! The conformance suite every [`Store`] backend must pass.
//!
//! Written against the trait only. A backend's test provides a [`Harness`] that makes fresh
//! stores and reopens them (to check what survives a restart) and runs each of [`cases`] as a
//! test of its own; a failing check panics.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Value, json};
use switchyard_model::{
    CompiledMachine, DefinitionFormat, Idempotency, InstanceKey, InstanceRecord, JsonObject, MachineVersion,
    NodeRecord, Revision, Role, Segment, Seq, SpaceGrant, SpaceName, Timestamp, TokenRecord, TransitionApplied, kinds,
    parse_definition,
};

use crate::types::*;
use crate::{
    ApplyEvent, BootstrapAdminToken, Clock, CreateInstance, CreateToken, DeleteInstance, EventApplied, HeartbeatNode,
    InstanceCreated, ListInstances, LogKindsPage, LogRecord, MachinePut, Publish, Published, PurgeIdempotency,
    PutMachine, RemoveNode, RenewNode, RevokeToken, Store, StoreError, SystemClock, TrimLog,
};

/// A boxed future, for the harness's methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How the suite gets stores from a backend.
pub trait Harness: Send + Sync {
    /// The backend under test.
    type S: Store;
    /// A new, empty store.
    fn fresh(&self) -> BoxFuture<'_, Arc<Self::S>>;
    /// Closes `store` and opens the same store again, as a restart would.
    fn reopen(&self, store: Arc<Self::S>) -> BoxFuture<'_, Arc<Self::S>>;
    /// Runs one SQL statement (valid on every backend's schema) on `store`'s database through a
    /// connection of its own, beside the store, as a hand edit or an older build would: the
    /// cases that show readers survive records the store itself never writes use it.
    fn execute_raw<'a>(&'a self, store: &'a Self::S, sql: &'a str) -> BoxFuture<'a, ()>;
    /// A new, empty store whose writers read the time from `clock`.
    fn fresh_with_clock(&self, clock: crate::SharedClock) -> BoxFuture<'_, Arc<Self::S>>;
    /// Another node on `store`'s database, as a second server process sharing it would be (a
    /// backend one process owns alone, like SQLite, answers `store` itself).
    fn node<'a>(&'a self, store: &'a Arc<Self::S>) -> BoxFuture<'a, Arc<Self::S>>;
}

mod access;
mod endpoints;
mod env;
mod functions;
mod jobs;
mod kv;
mod quotas;
mod spaces;
mod subscriptions;
mod triggers;
mod unreadable;
mod work;

/// One case of the suite: it makes its own stores through the harness and panics on a failure.
pub type Case<H> = fn(&H) -> BoxFuture<'_, ()>;

/// Every case, by name. A backend's tests run each as a test of its own (so one failure hides
/// no other and a case can be run alone): names are unique and stable.
/// Cases that pass the same way whatever a backend's settings (durability, writer count) and are
/// heavy enough (100,000 jobs) that a backend runs them under one setting only.
pub fn heavy_cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    jobs::heavy_cases::<H>()
}

pub fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    let cases: Vec<(&'static str, Case<H>)> = vec![
        ("put_machine_versions", |h| Box::pin(put_machine_versions(h))),
        ("create_and_get_instance", |h| Box::pin(create_and_get_instance(h))),
        ("create_refusals", |h| Box::pin(create_refusals(h))),
        ("apply_event_moves_instance", |h| Box::pin(apply_event_moves_instance(h))),
        ("apply_event_refusals", |h| Box::pin(apply_event_refusals(h))),
        ("read_log_kinds_reads_past_other_kinds", |h| Box::pin(read_log_kinds_reads_past_other_kinds(h))),
        ("expected_state_and_revision", |h| Box::pin(expected_state_and_revision(h))),
        ("idempotency_replays_and_refuses_reuse", |h| Box::pin(idempotency_replays_and_refuses_reuse(h))),
        ("idempotency_survives_reopen", |h| Box::pin(idempotency_survives_reopen(h))),
        ("concurrent_same_key_applies_once", |h| Box::pin(concurrent_same_key_applies_once(h))),
        ("concurrent_events_serialise", |h| Box::pin(concurrent_events_serialise(h))),
        ("delete_is_soft", |h| Box::pin(delete_is_soft(h))),
        ("list_instances_filters_and_pages", |h| Box::pin(list_instances_filters_and_pages(h))),
        ("history_in_order", |h| Box::pin(history_in_order(h))),
        ("history_of_a_long_log_pages_in_order", |h| Box::pin(history_of_a_long_log_pages_in_order(h))),
        ("atomic_batch_all_or_nothing", |h| Box::pin(atomic_batch_all_or_nothing(h))),
        ("log_seq_strictly_increasing_for_tailing_reader", |h| Box::pin(log_seq_strictly_increasing(h))),
        ("data_and_timestamps_survive_reopen", |h| Box::pin(data_and_timestamps_survive_reopen(h))),
        ("tokens_create_find_revoke", |h| Box::pin(tokens_create_find_revoke(h))),
        ("bootstrap_admin_once", |h| Box::pin(bootstrap_admin_once(h))),
        ("idempotency_purge", |h| Box::pin(idempotency_purge(h))),
        ("nodes_register_heartbeat_and_leave", |h| Box::pin(nodes_register_heartbeat_and_leave(h))),
        ("batch_repeating_an_idempotency_key_is_refused", |h| {
            Box::pin(batch_repeating_an_idempotency_key_is_refused(h))
        }),
        ("publish_appends_topic_messages_once_per_key", |h| Box::pin(publish_appends_topic_messages_once_per_key(h))),
    ];
    cases
        .into_iter()
        .chain(kv::cases::<H>())
        .chain(jobs::cases::<H>())
        .chain(subscriptions::cases::<H>())
        .chain(functions::cases::<H>())
        .chain(spaces::cases::<H>())
        .chain(unreadable::cases::<H>())
        .chain(work::cases::<H>())
        .chain(env::cases::<H>())
        .chain(access::cases::<H>())
        .chain(quotas::cases::<H>())
        .chain(triggers::cases::<H>())
        .chain(endpoints::cases::<H>())
        .collect()
}

const ORDER: &str = r#"
name: order
initial: pending
context_schema: { type: object, required: [amount] }
states:
  pending: {}
  paid: {}
  shipped: {}
  cancelled: { final: true }
transitions:
  - { from: pending, event: pay, to: paid, guard: "event.amount >= ctx.amount" }
  - { from: paid, event: ship, to: shipped }
  - { from: [pending, paid], event: cancel, to: cancelled }
"#;

fn space(s: &str) -> SpaceName {
    s.parse().expect("valid space")
}

fn seg(s: &str) -> Segment {
    s.parse().expect("valid segment")
}

fn order_definition() -> Value {
    let def = parse_definition(ORDER.as_bytes(), DefinitionFormat::Yaml).expect("order parses");
    CompiledMachine::compile(def).expect("order compiles").canonical_json().clone()
}

fn obj(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn key(sp: &str, id: &str) -> InstanceKey {
    InstanceKey { space: space(sp), machine: seg("order"), id: seg(id) }
}

async fn put_order<S: Store>(store: &S, sp: &str) -> MachineVersion {
    let op = WriteOp::PutMachine(PutMachine { space: space(sp), name: seg("order"), definition: order_definition() });
    match store.write(op).await.expect("put machine") {
        WriteOutcome::MachinePut(MachinePut { version, .. }) => version,
        other => panic!("unexpected outcome {other:?}"),
    }
}

async fn create<S: Store>(store: &S, sp: &str, id: &str, amount: i64) -> InstanceRecord {
    let op = WriteOp::CreateInstance(CreateInstance {
        key: key(sp, id),
        ctx: obj(json!({ "amount": amount })),
        idempotency: None,
    });
    match store.write(op).await.expect("create instance") {
        WriteOutcome::InstanceCreated(InstanceCreated { instance, replayed: false, .. }) => instance,
        other => panic!("unexpected outcome {other:?}"),
    }
}

fn event(sp: &str, id: &str, name: &str, payload: Value) -> WriteOp {
    WriteOp::ApplyEvent(ApplyEvent {
        key: key(sp, id),
        event: name.to_string(),
        payload: obj(payload),
        expected_state: None,
        expected_revision: None,
        idempotency: None,
        max_context_bytes: switchyard_model::json::DEFAULT_MAX_CONTEXT_BYTES,
    })
}

fn with_key(op: WriteOp, key: &str, fingerprint: &str) -> WriteOp {
    match op {
        WriteOp::ApplyEvent(ApplyEvent {
            key: k,
            event,
            payload,
            expected_state,
            expected_revision,
            max_context_bytes,
            ..
        }) => WriteOp::ApplyEvent(ApplyEvent {
            key: k,
            event,
            payload,
            expected_state,
            expected_revision,
            idempotency: Some(Idempotency { key: key.to_string(), fingerprint: fingerprint.to_string() }),
            max_context_bytes,
        }),
        other => other,
    }
}

async fn applied<S: Store>(store: &S, op: WriteOp) -> (TransitionApplied, bool) {
    match store.write(op).await.expect("apply event") {
        WriteOutcome::EventApplied(EventApplied { applied, replayed, .. }) => (applied, replayed),
        other => panic!("unexpected outcome {other:?}"),
    }
}

async fn put_machine_versions<H: Harness>(h: &H) {
    let store = h.fresh().await;
    assert_eq!(put_order(&*store, "acme").await, MachineVersion::FIRST);
    // The same definition again is a no-op returning the same version.
    let again = store
        .write(WriteOp::PutMachine(PutMachine {
            space: space("acme"),
            name: seg("order"),
            definition: order_definition(),
        }))
        .await
        .expect("put again");
    assert_eq!(
        again,
        WriteOutcome::MachinePut(MachinePut { version: MachineVersion::FIRST, created: false, space_created: false })
    );
    // A changed definition becomes version 2.
    let mut changed = order_definition();
    changed["initial"] = json!("paid");
    let v2 = store
        .write(WriteOp::PutMachine(PutMachine {
            space: space("acme"),
            name: seg("order"),
            definition: changed.clone(),
        }))
        .await;
    assert_eq!(
        v2.expect("put changed"),
        WriteOutcome::MachinePut(MachinePut {
            version: MachineVersion::FIRST.next(),
            created: true,
            space_created: false
        })
    );
    let latest = store.get_machine(&space("acme"), &seg("order"), None).await.expect("get").expect("exists");
    assert_eq!(latest.version.get(), 2);
    assert_eq!(latest.definition, changed);
    let first =
        store.get_machine(&space("acme"), &seg("order"), MachineVersion::new(1)).await.expect("get").expect("v1");
    assert_eq!(first.definition, order_definition());
    assert!(store.get_machine(&space("acme"), &seg("order"), MachineVersion::new(3)).await.expect("get").is_none());
    assert!(store.get_machine(&space("other"), &seg("order"), None).await.expect("get").is_none());
    let list = store.list_machines(&space("acme")).await.expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].version.get(), 2);
    let spaces = store.list_spaces().await.expect("spaces");
    assert_eq!(spaces.iter().map(|s| s.name.to_string()).collect::<Vec<_>>(), vec!["acme"]);
}

async fn create_and_get_instance<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    let created = create(&*store, "acme", "o-1", 100).await;
    assert_eq!(created.state, "pending");
    assert_eq!(created.revision, Revision::FIRST);
    assert_eq!(created.machine_version, MachineVersion::FIRST);
    assert_eq!(created.ctx, obj(json!({ "amount": 100 })));
    let got = store.get_instance(&key("acme", "o-1")).await.expect("get").expect("exists");
    assert_eq!(got, created);
    assert!(store.get_instance(&key("acme", "o-2")).await.expect("get").is_none());
    // Instances in another space are invisible here.
    assert!(store.get_instance(&key("other", "o-1")).await.expect("get").is_none());
}

async fn create_refusals<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let no_machine = store
        .write(WriteOp::CreateInstance(CreateInstance {
            key: key("acme", "o-1"),
            ctx: JsonObject::new(),
            idempotency: None,
        }))
        .await;
    assert!(matches!(no_machine, Err(StoreError::MachineNotFound { .. })), "{no_machine:?}");
    put_order(&*store, "acme").await;
    let bad_ctx = store
        .write(WriteOp::CreateInstance(CreateInstance {
            key: key("acme", "o-1"),
            ctx: JsonObject::new(),
            idempotency: None,
        }))
        .await;
    assert!(matches!(bad_ctx, Err(StoreError::InvalidContext(_))), "{bad_ctx:?}");
    create(&*store, "acme", "o-1", 5).await;
    let dup = store
        .write(WriteOp::CreateInstance(CreateInstance {
            key: key("acme", "o-1"),
            ctx: obj(json!({"amount": 1})),
            idempotency: None,
        }))
        .await;
    assert!(matches!(dup, Err(StoreError::InstanceExists { .. })), "{dup:?}");
    // Refusals left nothing behind: one machine.put and one instance.created.
    let log = store.read_log(Seq(0), 100).await.expect("log");
    assert_eq!(
        log.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
        vec![kinds::MACHINE_PUT, kinds::INSTANCE_CREATED]
    );
}

async fn apply_event_moves_instance<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    create(&*store, "acme", "o-1", 100).await;
    let (a, replayed) = applied(&*store, event("acme", "o-1", "pay", json!({ "amount": 150, "card": "visa" }))).await;
    assert!(!replayed);
    assert_eq!((a.from.as_str(), a.to.as_str(), a.revision.get()), ("pending", "paid", 2));
    // Without assign, the payload is shallow-merged into ctx.
    assert_eq!(a.ctx, obj(json!({ "amount": 150, "card": "visa" })));
    let got = store.get_instance(&key("acme", "o-1")).await.expect("get").expect("exists");
    assert_eq!((got.state.as_str(), got.revision.get()), ("paid", 2));
    assert_eq!(got.ctx, a.ctx);
    assert!(got.updated_at >= got.created_at);
    let log = store.read_log(Seq(0), 100).await.expect("log");
    let last = log.last().expect("records");
    assert_eq!(last.seq, a.seq);
    assert_eq!(last.kind, kinds::INSTANCE_TRANSITIONED);
    assert_eq!(last.address, "acme:order:o-1");
    assert_eq!(last.payload["event"], "pay");
    assert_eq!(last.payload["to"], "paid");
}

async fn apply_event_refusals<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    create(&*store, "acme", "o-1", 100).await;
    let before = store.read_log(Seq(0), 100).await.expect("log").len();
    let missing = store.write(event("acme", "nope", "pay", json!({}))).await;
    assert!(matches!(missing, Err(StoreError::InstanceNotFound { deleted_at: None, .. })), "{missing:?}");
    let invalid = store.write(event("acme", "o-1", "ship", json!({}))).await;
    assert!(
        matches!(invalid, Err(StoreError::Transition(switchyard_model::TransitionError::NoTransition { .. }))),
        "{invalid:?}"
    );
    let guard = store.write(event("acme", "o-1", "pay", json!({ "amount": 1 }))).await;
    assert!(
        matches!(guard, Err(StoreError::Transition(switchyard_model::TransitionError::GuardRejected { .. }))),
        "{guard:?}"
    );
    let got = store.get_instance(&key("acme", "o-1")).await.expect("get").expect("exists");
    assert_eq!((got.state.as_str(), got.revision.get()), ("pending", 1));
    assert_eq!(store.read_log(Seq(0), 100).await.expect("log").len(), before, "refusals append nothing");
    // Final states take no events.
    applied(&*store, event("acme", "o-1", "cancel", json!({}))).await;
    let fin = store.write(event("acme", "o-1", "pay", json!({ "amount": 500 }))).await;
    assert!(matches!(fin, Err(StoreError::Transition(_))), "{fin:?}");
}

async fn read_log_kinds_reads_past_other_kinds<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let created_kind: &[&str] = &[kinds::INSTANCE_CREATED];
    let empty = store.read_log_kinds(Seq(0), created_kind, 10).await.expect("read");
    assert_eq!(empty, LogKindsPage { records: Vec::new(), through: Seq(0) });
    put_order(&*store, "acme").await;
    create(&*store, "acme", "o-1", 100).await;
    applied(&*store, event("acme", "o-1", "pay", json!({ "amount": 150 }))).await;
    create(&*store, "acme", "o-2", 100).await;
    applied(&*store, event("acme", "o-2", "pay", json!({ "amount": 150 }))).await;
    let log = store.read_log(Seq(0), 100).await.expect("log");
    let newest = log.last().expect("records").seq;
    let of = |wanted: &[&str]| log.iter().filter(|r| wanted.contains(&r.kind.as_str())).cloned().collect::<Vec<_>>();
    let created = of(created_kind);
    assert_eq!(created.len(), 2);

    // The last record is not of the kind: the read still covers it.
    let page = store.read_log_kinds(Seq(0), created_kind, 10).await.expect("read");
    assert_eq!(page, LogKindsPage { records: created.clone(), through: newest });
    // A full page covers the log only up to its last record.
    let first = store.read_log_kinds(Seq(0), created_kind, 1).await.expect("read");
    assert_eq!(first, LogKindsPage { records: created[..1].to_vec(), through: created[0].seq });
    let second = store.read_log_kinds(first.through, created_kind, 1).await.expect("read");
    assert_eq!(second, LogKindsPage { records: created[1..].to_vec(), through: created[1].seq });
    let rest = store.read_log_kinds(second.through, created_kind, 1).await.expect("read");
    assert_eq!(rest, LogKindsPage { records: Vec::new(), through: newest });

    let several: &[&str] = &[kinds::MACHINE_PUT, kinds::INSTANCE_TRANSITIONED];
    let page = store.read_log_kinds(Seq(0), several, 10).await.expect("read");
    assert_eq!(page, LogKindsPage { records: of(several), through: newest });
    let page = store.read_log_kinds(Seq(0), &["no.such.kind"], 10).await.expect("read");
    assert_eq!(page, LogKindsPage { records: Vec::new(), through: newest });
    let page = store.read_log_kinds(Seq(0), &[], 10).await.expect("read");
    assert_eq!(page, LogKindsPage { records: Vec::new(), through: newest });
    let page = store.read_log_kinds(newest, created_kind, 10).await.expect("read");
    assert_eq!(page, LogKindsPage { records: Vec::new(), through: newest });
}

async fn expected_state_and_revision<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    create(&*store, "acme", "o-1", 10).await;
    let mut op = event("acme", "o-1", "pay", json!({ "amount": 10 }));
    if let WriteOp::ApplyEvent(ApplyEvent { expected_state, .. }) = &mut op {
        *expected_state = Some("paid".into());
    }
    let wrong_state = store.write(op).await;
    assert!(
        matches!(&wrong_state, Err(StoreError::Conflict { actual_state, actual_revision, .. }) if actual_state == "pending" && actual_revision.get() == 1),
        "{wrong_state:?}"
    );
    let mut op = event("acme", "o-1", "pay", json!({ "amount": 10 }));
    if let WriteOp::ApplyEvent(ApplyEvent { expected_revision, .. }) = &mut op {
        *expected_revision = Revision::new(2);
    }
    assert!(matches!(store.write(op).await, Err(StoreError::Conflict { .. })));
    let mut op = event("acme", "o-1", "pay", json!({ "amount": 10 }));
    if let WriteOp::ApplyEvent(ApplyEvent { expected_state, expected_revision, .. }) = &mut op {
        *expected_state = Some("pending".into());
        *expected_revision = Revision::new(1);
    }
    let (a, _) = applied(&*store, op).await;
    assert_eq!(a.revision.get(), 2);
}

async fn idempotency_replays_and_refuses_reuse<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    let create_op = |fp: &str| {
        WriteOp::CreateInstance(CreateInstance {
            key: key("acme", "o-1"),
            ctx: obj(json!({ "amount": 10 })),
            idempotency: Some(Idempotency { key: "c-1".into(), fingerprint: fp.into() }),
        })
    };
    let first = store.write(create_op("f1")).await.expect("create");
    let again = store.write(create_op("f1")).await.expect("create again");
    match (first, again) {
        (
            WriteOutcome::InstanceCreated(InstanceCreated { instance: a, replayed: false, .. }),
            WriteOutcome::InstanceCreated(InstanceCreated { instance: b, replayed: true, .. }),
        ) => assert_eq!(a, b),
        other => panic!("unexpected {other:?}"),
    }
    let reused = store.write(create_op("f2")).await;
    assert!(matches!(reused, Err(StoreError::IdempotencyKeyReused { .. })), "{reused:?}");

    let op = || with_key(event("acme", "o-1", "pay", json!({ "amount": 10 })), "e-1", "g1");
    let (a, replayed_a) = applied(&*store, op()).await;
    let (b, replayed_b) = applied(&*store, op()).await;
    assert!(!replayed_a && replayed_b);
    assert_eq!(a, b);
    let got = store.get_instance(&key("acme", "o-1")).await.expect("get").expect("exists");
    assert_eq!(got.revision.get(), 2, "the retry did not apply again");
    let other = store.write(with_key(event("acme", "o-1", "ship", json!({})), "e-1", "g2")).await;
    assert!(matches!(other, Err(StoreError::IdempotencyKeyReused { .. })), "{other:?}");
    // Keys are scoped to a space.
    put_order(&*store, "beta").await;
    create(&*store, "beta", "o-1", 10).await;
    let (c, replayed_c) =
        applied(&*store, with_key(event("beta", "o-1", "pay", json!({ "amount": 10 })), "e-1", "g3")).await;
    assert!(!replayed_c);
    assert_eq!(c.revision.get(), 2);
}

async fn idempotency_survives_reopen<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    create(&*store, "acme", "o-1", 10).await;
    let op = || with_key(event("acme", "o-1", "pay", json!({ "amount": 10 })), "k", "fp");
    let (a, _) = applied(&*store, op()).await;
    let store = h.reopen(store).await;
    let (b, replayed) = applied(&*store, op()).await;
    assert!(replayed, "an idempotent retry after a restart returns the original");
    assert_eq!(a, b);
    assert_eq!(store.get_instance(&key("acme", "o-1")).await.expect("get").expect("exists").revision.get(), 2);
}

async fn concurrent_same_key_applies_once<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    create(&*store, "acme", "o-1", 10).await;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            applied(&*store, with_key(event("acme", "o-1", "pay", json!({ "amount": 10 })), "same", "fp")).await
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task"));
    }
    assert_eq!(results.iter().filter(|(_, replayed)| !replayed).count(), 1, "exactly one request applied");
    assert!(results.iter().all(|(a, _)| *a == results[0].0), "every request got the original result");
    let got = store.get_instance(&key("acme", "o-1")).await.expect("get").expect("exists");
    assert_eq!(got.revision.get(), 2);
}

const CYCLE: &str = r#"{"initial":"a","states":["a","b"],"transitions":[
  {"from":"a","event":"next","to":"b"},{"from":"b","event":"next","to":"a"}]}"#;

async fn put_cycle<S: Store>(store: &S, sp: &str) {
    let def = parse_definition(CYCLE.as_bytes(), DefinitionFormat::Json).expect("cycle parses");
    let definition = CompiledMachine::compile(def).expect("cycle compiles").canonical_json().clone();
    store
        .write(WriteOp::PutMachine(PutMachine { space: space(sp), name: seg("cycle"), definition }))
        .await
        .expect("put cycle");
}

fn cycle_key(id: &str) -> InstanceKey {
    InstanceKey { space: space("acme"), machine: seg("cycle"), id: seg(id) }
}

fn next(id: &str) -> WriteOp {
    WriteOp::ApplyEvent(ApplyEvent {
        key: cycle_key(id),
        event: "next".into(),
        payload: JsonObject::new(),
        expected_state: None,
        expected_revision: None,
        idempotency: None,
        max_context_bytes: switchyard_model::json::DEFAULT_MAX_CONTEXT_BYTES,
    })
}

async fn concurrent_events_serialise<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_cycle(&*store, "acme").await;
    store
        .write(WriteOp::CreateInstance(CreateInstance {
            key: cycle_key("c"),
            ctx: JsonObject::new(),
            idempotency: None,
        }))
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut revisions = Vec::new();
            for _ in 0..25 {
                revisions.push(applied(&*store, next("c")).await.0.revision.get());
            }
            revisions
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all.sort_unstable();
    assert_eq!(all, (2..=201).collect::<Vec<u64>>(), "every event got its own revision: no lost update");
    let got = store.get_instance(&cycle_key("c")).await.expect("get").expect("exists");
    assert_eq!((got.revision.get(), got.state.as_str()), (201, "a"));
}

async fn delete_is_soft<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    create(&*store, "acme", "o-1", 10).await;
    assert_eq!(
        store.write(WriteOp::DeleteInstance(DeleteInstance { key: key("acme", "o-1") })).await.expect("delete"),
        WriteOutcome::InstanceDeleted
    );
    let got = store.get_instance(&key("acme", "o-1")).await.expect("get").expect("still stored");
    assert!(got.deleted_at.is_some());
    let refused = store.write(event("acme", "o-1", "pay", json!({ "amount": 10 }))).await;
    assert!(matches!(refused, Err(StoreError::InstanceNotFound { deleted_at: Some(_), .. })), "{refused:?}");
    let again = store.write(WriteOp::DeleteInstance(DeleteInstance { key: key("acme", "o-1") })).await;
    assert!(matches!(again, Err(StoreError::InstanceNotFound { .. })));
    let reuse = store
        .write(WriteOp::CreateInstance(CreateInstance {
            key: key("acme", "o-1"),
            ctx: obj(json!({"amount": 1})),
            idempotency: None,
        }))
        .await;
    assert!(matches!(reuse, Err(StoreError::InstanceExists { .. })), "deleted ids are not reused");
    let query = ListInstances::of(space("acme"), seg("order"), 10);
    assert!(store.list_instances(&query).await.expect("list").is_empty());
    let history = store.history("acme:order:o-1", Seq(0), 10).await.expect("history");
    assert_eq!(history.last().map(|r| r.kind.as_str()), Some(kinds::INSTANCE_DELETED));
}

async fn list_instances_filters_and_pages<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    for i in 0..7 {
        create(&*store, "acme", &format!("o-{i}"), 1).await;
    }
    for i in [1, 3, 5] {
        applied(&*store, event("acme", &format!("o-{i}"), "pay", json!({ "amount": 1 }))).await;
    }
    let mut query = ListInstances::of(space("acme"), seg("order"), 3);
    let mut seen = Vec::new();
    loop {
        let page = store.list_instances(&query).await.expect("list");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        query.after_id = page.last().map(|i| i.id.to_string());
        seen.extend(page.into_iter().map(|i| i.id.to_string()));
    }
    assert_eq!(seen, (0..7).map(|i| format!("o-{i}")).collect::<Vec<_>>());
    let ids = |list: Vec<InstanceRecord>| list.into_iter().map(|i| i.id.to_string()).collect::<Vec<_>>();
    let all = || ListInstances::of(space("acme"), seg("order"), 100);
    let paid = ListInstances { state: Some("paid".into()), ..all() };
    assert_eq!(ids(store.list_instances(&paid).await.expect("list")), vec!["o-1", "o-3", "o-5"]);

    // Newest first, paged from the end.
    let mut query = ListInstances { newest_first: true, ..ListInstances::of(space("acme"), seg("order"), 3) };
    let mut seen = Vec::new();
    loop {
        let page = store.list_instances(&query).await.expect("list");
        if page.is_empty() {
            break;
        }
        query.after_id = page.last().map(|i| i.id.to_string());
        seen.extend(ids(page));
    }
    assert_eq!(seen, (0..7).rev().map(|i| format!("o-{i}")).collect::<Vec<_>>());

    // An id range, a status, and roots only (none of these has a parent).
    let range = ListInstances { id_at_least: Some("o-2".into()), id_below: Some("o-5".into()), ..all() };
    assert_eq!(ids(store.list_instances(&range).await.expect("list")), vec!["o-2", "o-3", "o-4"]);
    let active = ListInstances { status: Some("active".into()), roots_only: true, ..all() };
    assert_eq!(store.list_instances(&active).await.expect("list").len(), 7);
    let failed = ListInstances { status: Some("failed".into()), state: Some("paid".into()), ..all() };
    assert!(store.list_instances(&failed).await.expect("list").is_empty());
}

async fn history_in_order<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    create(&*store, "acme", "o-1", 1).await;
    create(&*store, "acme", "o-2", 1).await;
    applied(&*store, event("acme", "o-1", "pay", json!({ "amount": 1 }))).await;
    applied(&*store, event("acme", "o-2", "cancel", json!({}))).await;
    applied(&*store, event("acme", "o-1", "ship", json!({}))).await;
    let history = store.history("acme:order:o-1", Seq(0), 100).await.expect("history");
    let kinds: Vec<_> = history.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, vec![kinds::INSTANCE_CREATED, kinds::INSTANCE_TRANSITIONED, kinds::INSTANCE_TRANSITIONED]);
    assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(history[0].payload["state"], "pending");
    assert_eq!(history[0].payload["ctx"], json!({ "amount": 1 }));
    let after = store.history("acme:order:o-1", history[0].seq, 1).await.expect("history page");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].seq, history[1].seq);
}

/// Every record of an address, read page by page from any point.
async fn full_history<S: Store>(store: &S, address: &str, after: Seq, page: u32) -> Vec<Seq> {
    let mut seqs = Vec::new();
    let mut last = after;
    loop {
        let records = store.history(address, last, page).await.expect("history");
        assert!(records.len() <= page as usize, "a page holds at most its limit");
        assert!(records.iter().all(|r| r.address == address), "only the address's records");
        let Some(end) = records.last() else { return seqs };
        last = end.seq;
        seqs.extend(records.iter().map(|r| r.seq));
    }
}

/// History over a log of thousands of records to a few addresses, written in batches, read in
/// pages from every kind of starting point, after a reopen and after retention trimmed the
/// oldest records (a backend may index the log lazily; its readers must not see the seams).
async fn history_of_a_long_log_pages_in_order<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_cycle(&*store, "acme").await;
    let ids = ["c0", "c1", "c2"];
    for id in ids {
        let op =
            WriteOp::CreateInstance(CreateInstance { key: cycle_key(id), ctx: JsonObject::new(), idempotency: None });
        store.write(op).await.expect("create");
    }
    // 24 batches of 250 events round the three instances, then a few single ones so the last
    // records are written after any batch boundary.
    for _ in 0..24 {
        let batch: Vec<WriteOp> = (0..250).map(|i| next(ids[i % 3])).collect();
        store.write_atomic(batch).await.expect("batch");
    }
    for i in 0..7 {
        applied(&*store, next(ids[i % 3])).await;
    }
    let log: Vec<LogRecord> = {
        let mut all = Vec::new();
        loop {
            let page = store.read_log(all.last().map_or(Seq(0), |r: &LogRecord| r.seq), 1000).await.expect("log");
            if page.is_empty() {
                break all;
            }
            all.extend(page);
        }
    };
    let expected = |id: &str, after: Seq| -> Vec<Seq> {
        let address = cycle_key(id).address();
        log.iter().filter(|r| r.address == address && r.seq > after).map(|r| r.seq).collect()
    };
    // c0's creation, 84 events of each batch and 3 single ones.
    assert_eq!(expected("c0", Seq(0)).len(), 1 + 24 * 84 + 3, "c0's records");
    let check = |store: Arc<H::S>, label: &'static str| {
        let expected = &expected;
        let log = &log;
        async move {
            for id in ids {
                let address = cycle_key(id).address();
                let mine = expected(id, Seq(0));
                for page in [1, 7, 100, 1000, 5000] {
                    assert_eq!(
                        full_history(&*store, &address, Seq(0), page).await,
                        mine,
                        "{label}: {id} in pages of {page}"
                    );
                }
                // From every 397th record of the log (its own or another address's) onwards.
                for from in log.iter().step_by(397).map(|r| r.seq).chain([mine[mine.len() - 2]]) {
                    let got = full_history(&*store, &address, from, 64).await;
                    assert_eq!(got, expected(id, from), "{label}: {id} after {from:?}");
                }
            }
        }
    };
    check(store.clone(), "written").await;
    let store = h.reopen(store).await;
    check(store.clone(), "reopened").await;
    for i in 0..5 {
        applied(&*store, next(ids[i % 3])).await;
    }
    let trimmed = match store
        .write(WriteOp::TrimLog(TrimLog {
            older_than: Timestamp(SystemClock.now().0 + 86_400_000),
            max_bytes: None,
            limit: 1500,
        }))
        .await
        .expect("trim")
    {
        WriteOutcome::LogTrimmed(n) => n,
        other => panic!("unexpected outcome {other:?}"),
    };
    assert_eq!(trimmed, 1500);
    let oldest = store.log_bounds().await.expect("bounds").expect("a log").0;
    for id in ids {
        let got = full_history(&*store, &cycle_key(id).address(), Seq(0), 100).await;
        assert!(got.iter().all(|s| *s >= oldest), "{id}: nothing trimmed is read back");
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{id}: in order");
        let before_trim: Vec<Seq> = expected(id, Seq(0)).into_iter().filter(|s| *s >= oldest).collect();
        assert_eq!(&got[..before_trim.len()], &before_trim[..], "{id}: what was kept, then the new events");
        assert_eq!(got.len(), before_trim.len() + if id == "c2" { 1 } else { 2 }, "{id}: the five new events");
    }
}

async fn atomic_batch_all_or_nothing<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    create(&*store, "acme", "o-1", 1).await;
    let log_before = store.read_log(Seq(0), 1000).await.expect("log").len();
    let failing = vec![
        WriteOp::CreateInstance(CreateInstance {
            key: key("acme", "o-2"),
            ctx: obj(json!({ "amount": 1 })),
            idempotency: None,
        }),
        event("acme", "o-1", "pay", json!({ "amount": 1 })),
        event("acme", "o-1", "pay", json!({ "amount": 1 })), // o-1 is paid now: no transition
    ];
    match store.write_atomic(failing).await {
        Err(StoreError::BatchFailed { index: 2, source }) => {
            assert!(matches!(*source, StoreError::Transition(_)), "{source:?}")
        }
        other => panic!("expected the third operation to fail: {other:?}"),
    }
    assert!(store.get_instance(&key("acme", "o-2")).await.expect("get").is_none(), "the create was rolled back");
    let o1 = store.get_instance(&key("acme", "o-1")).await.expect("get").expect("exists");
    assert_eq!((o1.state.as_str(), o1.revision.get()), ("pending", 1), "the first event was rolled back");
    assert_eq!(store.read_log(Seq(0), 1000).await.expect("log").len(), log_before);
    let ok = vec![
        WriteOp::CreateInstance(CreateInstance {
            key: key("acme", "o-2"),
            ctx: obj(json!({ "amount": 1 })),
            idempotency: None,
        }),
        event("acme", "o-2", "pay", json!({ "amount": 1 })),
        WriteOp::DeleteInstance(DeleteInstance { key: key("acme", "o-1") }),
    ];
    let outcomes = store.write_atomic(ok).await.expect("batch");
    assert_eq!(outcomes.len(), 3);
    assert!(matches!(&outcomes[1], WriteOutcome::EventApplied(EventApplied { applied, .. }) if applied.to == "paid"));
    assert!(store.get_instance(&key("acme", "o-1")).await.expect("get").expect("exists").deleted_at.is_some());
}

async fn log_seq_strictly_increasing<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_cycle(&*store, "acme").await;
    for i in 0..8 {
        let op = WriteOp::CreateInstance(CreateInstance {
            key: cycle_key(&format!("c{i}")),
            ctx: JsonObject::new(),
            idempotency: None,
        });
        store.write(op).await.expect("create");
    }
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for _ in 0..50 {
                    seqs.push(applied(&*store, next(&format!("c{i}"))).await.0.seq);
                }
                seqs
            })
        })
        .collect();
    // A tailing reader runs while the writers write: it must never see a seq at or below one it
    // already has, and at the end it must have seen every acknowledged seq. It stops once the
    // writers are done and a read finds nothing new (not after a quiet spell: a loaded machine
    // can pause the writers for any time).
    let writers_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tail_store = store.clone();
    let done = writers_done.clone();
    let tail = tokio::spawn(async move {
        let mut last = Seq(0);
        let mut seen = Vec::new();
        loop {
            let finished = done.load(std::sync::atomic::Ordering::Acquire);
            let page = tail_store.read_log(last, 64).await.expect("read log");
            if page.is_empty() {
                if finished {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                continue;
            }
            for r in page {
                assert!(r.seq > last, "seq went back from {last} to {}", r.seq);
                last = r.seq;
                seen.push(r.seq);
            }
        }
        seen
    });
    let mut acked = HashSet::new();
    for w in writers {
        acked.extend(w.await.expect("writer"));
    }
    writers_done.store(true, std::sync::atomic::Ordering::Release);
    let seen: HashSet<Seq> = tail.await.expect("tail").into_iter().collect();
    assert!(acked.is_subset(&seen), "the tailing reader missed acknowledged records");
}

async fn data_and_timestamps_survive_reopen<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    let created = create(&*store, "acme", "o-1", 7).await;
    let (a, _) = applied(&*store, event("acme", "o-1", "pay", json!({ "amount": 7 }))).await;
    let before = store.get_instance(&key("acme", "o-1")).await.expect("get").expect("exists");
    let log_before = store.read_log(Seq(0), 100).await.expect("log");
    let store = h.reopen(store).await;
    let after = store.get_instance(&key("acme", "o-1")).await.expect("get").expect("exists");
    assert_eq!(after, before);
    assert_eq!(after.created_at, created.created_at, "timestamps are kept, not reset");
    assert_eq!(store.read_log(Seq(0), 100).await.expect("log"), log_before);
    // The log continues after the last seq; it never reuses one.
    let (b, _) = applied(&*store, event("acme", "o-1", "ship", json!({}))).await;
    assert!(b.seq > a.seq);
}

fn token(id: &str, hash: &str, role: Role, spaces: SpaceGrant) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        name: format!("{id}-name"),
        secret_hash: hash.into(),
        role,
        spaces,
        created_at: SystemClock.now(),
        revoked_at: None,
        principal: None,
        expires_at: None,
        session: false,
    }
}

async fn tokens_create_find_revoke<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let t = token("t1", "h1", Role::Reader, SpaceGrant::Only(vec![space("acme")]));
    assert_eq!(
        store
            .write(WriteOp::CreateToken(CreateToken { token: t.clone(), by: switchyard_model::Actor::system() }))
            .await
            .expect("create"),
        WriteOutcome::TokenCreated(true)
    );
    store
        .write(WriteOp::CreateToken(CreateToken {
            token: token("t2", "h2", Role::Admin, SpaceGrant::All),
            by: switchyard_model::Actor::system(),
        }))
        .await
        .expect("create");
    assert_eq!(store.find_token("h1").await.expect("find"), Some(t));
    assert!(store.find_token("nope").await.expect("find").is_none());
    assert_eq!(store.list_tokens().await.expect("list").len(), 2);
    store
        .write(WriteOp::RevokeToken(RevokeToken {
            id: "t1".into(),
            by: switchyard_model::Actor::system(),
            sign_out: false,
        }))
        .await
        .expect("revoke");
    assert!(store.find_token("h1").await.expect("find").expect("kept").revoked_at.is_some());
    let missing = store
        .write(WriteOp::RevokeToken(RevokeToken {
            id: "t9".into(),
            by: switchyard_model::Actor::system(),
            sign_out: false,
        }))
        .await;
    assert!(matches!(missing, Err(StoreError::TokenNotFound { .. })));
    let store = h.reopen(store).await;
    assert_eq!(store.find_token("h2").await.expect("find").expect("kept").spaces, SpaceGrant::All);
}

async fn bootstrap_admin_once<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let first = store
        .write(WriteOp::BootstrapAdminToken(BootstrapAdminToken {
            token: token("a1", "ha1", Role::Admin, SpaceGrant::All),
        }))
        .await;
    assert_eq!(first.expect("bootstrap"), WriteOutcome::TokenCreated(true));
    let store = h.reopen(store).await;
    let second = store
        .write(WriteOp::BootstrapAdminToken(BootstrapAdminToken {
            token: token("a2", "ha2", Role::Admin, SpaceGrant::All),
        }))
        .await;
    assert_eq!(second.expect("bootstrap"), WriteOutcome::TokenCreated(false));
    assert_eq!(store.list_tokens().await.expect("list").len(), 1);
}

async fn idempotency_purge<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    create(&*store, "acme", "o-1", 1).await;
    applied(&*store, with_key(event("acme", "o-1", "pay", json!({ "amount": 1 })), "old", "fp")).await;
    applied(&*store, with_key(event("acme", "o-1", "cancel", json!({})), "old-2", "fp")).await;
    let later = Timestamp(SystemClock.now().0 + 1_000);
    let purged = store.write(WriteOp::PurgeIdempotency(PurgeIdempotency { before: later, limit: 1 })).await;
    assert_eq!(purged.expect("purge"), WriteOutcome::IdempotencyPurged(1), "purges at most `limit`");
    let purged = store.write(WriteOp::PurgeIdempotency(PurgeIdempotency { before: later, limit: 10 })).await;
    assert_eq!(purged.expect("purge"), WriteOutcome::IdempotencyPurged(1));
    // After retention the key is forgotten: the same request is a new one (and now refused by
    // the machine, since the instance is paid).
    let again = store.write(with_key(event("acme", "o-1", "pay", json!({ "amount": 1 })), "old", "fp")).await;
    assert!(matches!(again, Err(StoreError::Transition(_))), "{again:?}");
}

async fn nodes_register_heartbeat_and_leave<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let now = SystemClock.now();
    let node = |id: &str, heartbeat: i64| NodeRecord {
        id: id.into(),
        address: format!("http://{id}"),
        started_at: Timestamp(now.0 - 60_000),
        heartbeat_at: Timestamp(heartbeat),
    };
    store.write(WriteOp::HeartbeatNode(HeartbeatNode { node: node("a", now.0) })).await.expect("register a");
    store.write(WriteOp::HeartbeatNode(HeartbeatNode { node: node("b", now.0 - 30_000) })).await.expect("register b");
    let live = store.list_nodes(Timestamp(now.0 - 10_000)).await.expect("list");
    assert_eq!(live.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), vec!["a"], "b's heartbeat is too old");
    let mut heartbeat = node("b", now.0);
    heartbeat.started_at = now;
    store.write(WriteOp::HeartbeatNode(HeartbeatNode { node: heartbeat })).await.expect("heartbeat b");
    let live = store.list_nodes(Timestamp(now.0 - 10_000)).await.expect("list");
    assert_eq!(live.len(), 2);
    assert_eq!(live[1], node("b", now.0), "a heartbeat renews heartbeat_at and keeps the first started_at");
    store.write(WriteOp::RenewNode(RenewNode { id: "b".into(), at: Timestamp(now.0 + 1) })).await.expect("renew b");
    assert_eq!(store.list_nodes(Timestamp(now.0 + 1)).await.expect("list").len(), 1, "renewing moves the heartbeat");
    store.write(WriteOp::RemoveNode(RemoveNode { id: "a".into() })).await.expect("remove a");
    store.write(WriteOp::RenewNode(RenewNode { id: "a".into(), at: now })).await.expect("a late renewal is harmless");
    let live = store.list_nodes(Timestamp(0)).await.expect("list");
    assert_eq!(
        live.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        vec!["b"],
        "a late heartbeat does not bring a node back"
    );
}

async fn batch_repeating_an_idempotency_key_is_refused<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    create(&*store, "acme", "o-1", 1).await;
    create(&*store, "acme", "o-2", 1).await;
    // A concurrent, unrelated write shares the group and must not be affected.
    let other = {
        let store = store.clone();
        tokio::spawn(async move { store.write(event("acme", "o-2", "pay", json!({ "amount": 1 }))).await })
    };
    let batch = vec![
        with_key(event("acme", "o-1", "pay", json!({ "amount": 1 })), "k", "fp-1"),
        with_key(event("acme", "o-1", "ship", json!({})), "k", "fp-2"),
    ];
    match store.write_atomic(batch).await {
        Err(StoreError::BatchFailed { index: 1, source }) => {
            assert!(matches!(*source, StoreError::IdempotencyKeyReused { .. }), "{source:?}")
        }
        other => panic!("expected the repeated key to be refused: {other:?}"),
    }
    assert!(other.await.expect("task").is_ok(), "the refusal did not fail a neighbour");
    let o1 = store.get_instance(&key("acme", "o-1")).await.expect("get").expect("exists");
    assert_eq!(o1.revision.get(), 1, "nothing of the refused batch was applied");
}

fn publish(sp: &str, topic: &str, payload: Value, idempotency_key: Option<&str>) -> WriteOp {
    WriteOp::Publish(Publish {
        space: space(sp),
        topic: seg(topic),
        payload,
        key: None,
        headers: [("source".to_string(), "test".to_string())].into_iter().collect(),
        idempotency: idempotency_key.map(|k| Idempotency { key: k.into(), fingerprint: "fp".into() }),
    })
}

async fn publish_appends_topic_messages_once_per_key<H: Harness>(h: &H) {
    let store = h.fresh().await;
    assert_eq!(store.log_bounds().await.expect("bounds"), None, "an empty log has no bounds");
    let first = store.write(publish("acme", "news", json!({ "n": 1 }), None)).await.expect("publish");
    let WriteOutcome::Published(Published { seq: s1, replayed: false, space_created: true }) = first else {
        panic!("the first message into a space creates it: {first:?}")
    };
    let keyed = store.write(publish("acme", "news", json!({ "n": 2 }), Some("m-2"))).await.expect("publish");
    let again = store.write(publish("acme", "news", json!({ "n": 2 }), Some("m-2"))).await.expect("publish again");
    let (
        WriteOutcome::Published(Published { seq: s2, replayed: false, space_created: false }),
        WriteOutcome::Published(Published { seq: s2b, replayed: true, space_created: false }),
    ) = (&keyed, &again)
    else {
        panic!("unexpected {keyed:?} / {again:?}")
    };
    assert_eq!(s2, s2b, "a repeat returns the original seq");
    assert!(*s2 > s1);
    let log = store.read_log(Seq(0), 10).await.expect("log");
    assert_eq!(log.len(), 2, "the repeat appended nothing");
    assert_eq!(log[0].kind, kinds::TOPIC_MESSAGE);
    assert_eq!(log[0].address, "acme:news");
    assert_eq!(log[0].payload, json!({ "payload": { "n": 1 }, "headers": { "source": "test" } }));
    assert_eq!(log[1].idempotency_key.as_deref(), Some("m-2"));
    assert_eq!(store.log_bounds().await.expect("bounds"), Some((s1, *s2)));
}
