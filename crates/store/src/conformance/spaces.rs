//! Conformance cases for spaces: which writes create one, and deleting one.
//!
//! What they prove, on every backend: the write that brings a space into being (a machine
//! version, a bucket, a key put into a new bucket, a function version, a subscription, a
//! message) says so, and no later write does; deleting a space removes every kind of data it
//! holds and leaves one `space.deleted` record in its place, counts what went, and touches no
//! other space; a deleted space is not found again; and written into once more it starts empty
//! — version 1 of a machine runs the new definition, idempotency keys and KV revisions start
//! afresh.

use serde_json::json;
use switchyard_model::{
    AddressFilter, BucketRecord, FunctionSpec, FunctionSummary, Idempotency, InstanceRecord, InvocationRecord,
    InvocationStatus, KvCondition, KvEntry, KvKeyInfo, LogFilter, LogRecord, MachineSummary, MachineVersion, Seq,
    SpaceDeletion, SubscriptionRecord, SubscriptionSpec, kinds,
};

use super::{Case, Harness, key, obj, order_definition, seg, space};
use crate::functions::*;
use crate::streams::*;
use crate::types::*;
use crate::{
    ApplyEvent, Clock, CreateInstance, DeleteInstance, DeleteSpace, EnqueueInvocation, FunctionPut, InstanceCreated,
    KvDelete, KvPut, KvWritten, ListInstances, MachinePut, Publish, Pull, PutBucket, PutFunction, PutMachine,
    PutSubscription, RecordInvocations, SpaceDeleted, Store, StoreError, SystemClock,
};

/// This module's cases, by name.
pub(super) fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("the_write_that_creates_a_space_says_so", |h| Box::pin(creation_is_reported(h))),
        ("delete_space_removes_everything_and_nothing_else", |h| Box::pin(delete_space(h))),
    ]
}

/// A put of the order machine with `initial` as its initial state.
fn put_machine(sp: &str, initial: &str) -> WriteOp {
    let mut definition = order_definition();
    definition["initial"] = json!(initial);
    WriteOp::PutMachine(PutMachine { space: space(sp), name: seg("order"), definition })
}

fn kv_put(sp: &str, key: &str, value: &[u8]) -> WriteOp {
    WriteOp::KvPut(KvPut {
        space: space(sp),
        bucket: seg("config"),
        key: key.to_string(),
        value: value.to_vec(),
        content_type: "text/plain".to_string(),
        ttl_ms: None,
        condition: KvCondition::Always,
    })
}

fn publish(sp: &str, n: i64, idempotency_key: Option<&str>) -> WriteOp {
    WriteOp::Publish(Publish {
        space: space(sp),
        topic: seg("news"),
        payload: json!({ "n": n }),
        key: None,
        headers: Default::default(),
        idempotency: idempotency_key.map(|k| Idempotency { key: k.to_string(), fingerprint: format!("fp-{n}") }),
    })
}

fn subscription(sp: &str) -> WriteOp {
    WriteOp::PutSubscription(PutSubscription {
        spec: SubscriptionSpec {
            filter: LogFilter {
                space: space(sp),
                address: AddressFilter::Any,
                kinds: vec![],
                state: None,
                event: None,
            },
            name: seg("s1"),
            start_after: Seq(0),
            max_deliveries: 5,
            ack_wait_ms: 60_000,
            allow_loss: false,
        },
    })
}

fn deploy(sp: &str, component: &[u8]) -> WriteOp {
    WriteOp::PutFunction(PutFunction {
        spec: FunctionSpec {
            space: space(sp),
            name: seg("resize"),
            component: component.to_vec(),
            digest: component.iter().map(|b| format!("{b:02x}")).collect(),
            config: json!({ "timeout_ms": 1000 }),
        },
        by: switchyard_model::Actor { id: "usr_dev".into(), kind: "user".into(), name: "dev".into() },
    })
}

/// An invocation record of the space's `resize` function: finished, or pending and asynchronous.
fn invocation(sp: &str, id: &str, pending: bool) -> InvocationRecord {
    InvocationRecord {
        id: format!("{sp}-{id}"),
        space: space(sp),
        function: seg("resize"),
        version: 1,
        status: if pending { InvocationStatus::Pending } else { InvocationStatus::Succeeded },
        is_async: pending,
        attempt: u32::from(!pending),
        idempotency_key: pending.then(|| "once".to_string()),
        context: json!({}),
        input: Some(b"{}".to_vec()),
        input_content_type: "application/json".to_string(),
        input_size: 2,
        output: None,
        output_content_type: String::new(),
        output_size: 0,
        error: None,
        logs: json!([]),
        created_at: SystemClock.now(),
        finished_at: (!pending).then(|| SystemClock.now()),
        duration_us: (!pending).then_some(10),
        seq: 0,
    }
}

async fn write<S: Store>(store: &S, op: WriteOp) -> WriteOutcome {
    let what = format!("{op:?}");
    store.write(op).await.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Every kind of write that can create a space reports it the first time only, and again the
/// first time after the space was deleted; a refused write creates nothing.
async fn creation_is_reported<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let bucket = |sp: &str| WriteOp::PutBucket(PutBucket { space: space(sp), bucket: seg("config"), history: 2 });
    // A space's name, the write that creates it, and a second write of the same kind.
    type Writes = (&'static str, fn(&str) -> WriteOp, fn(&str) -> WriteOp);
    let kinds: Vec<Writes> = vec![
        ("m", |sp| put_machine(sp, "pending"), |sp| put_machine(sp, "paid")),
        ("b", bucket, |sp| WriteOp::PutBucket(PutBucket { space: space(sp), bucket: seg("other"), history: 2 })),
        ("k", |sp| kv_put(sp, "a", b"1"), |sp| kv_put(sp, "b", b"2")),
        ("f", |sp| deploy(sp, b"one"), |sp| deploy(sp, b"two")),
        ("s", subscription, |sp| {
            let WriteOp::PutSubscription(PutSubscription { mut spec }) = subscription(sp) else { unreachable!() };
            spec.name = seg("s2");
            WriteOp::PutSubscription(PutSubscription { spec })
        }),
        ("p", |sp| publish(sp, 1, None), |sp| publish(sp, 2, None)),
    ];
    for (sp, first, second) in &kinds {
        let created = write(&*store, first(sp)).await;
        assert!(created.space_created(), "the first write into {sp} creates it: {created:?}");
        let again = write(&*store, second(sp)).await;
        assert!(!again.space_created(), "the second write into {sp} does not: {again:?}");
    }
    let listed: Vec<String> = store.list_spaces().await.expect("spaces").iter().map(|s| s.name.to_string()).collect();
    assert_eq!(listed, ["b", "f", "k", "m", "p", "s"]);

    // A write that is refused creates nothing; an instance needs its machine, so its space.
    let refused = store.write(WriteOp::KvDelete(KvDelete {
        space: space("x"),
        bucket: seg("config"),
        key: "a".into(),
        condition: KvCondition::Always,
    }));
    let refused = refused.await;
    assert!(matches!(refused, Err(StoreError::KvNotFound { .. })), "{refused:?}");
    let refused = store.write(WriteOp::CreateInstance(CreateInstance {
        key: key("x", "o-1"),
        ctx: obj(json!({})),
        idempotency: None,
    }));
    let refused = refused.await;
    assert!(matches!(refused, Err(StoreError::MachineNotFound { .. })), "{refused:?}");
    assert!(!store.list_spaces().await.expect("spaces").iter().any(|s| s.name.as_str() == "x"));

    for (sp, first, _) in &kinds {
        write(&*store, WriteOp::DeleteSpace(DeleteSpace { space: space(sp) })).await;
        let created = write(&*store, first(sp)).await;
        assert!(created.space_created(), "the first write into {sp} after its deletion creates it: {created:?}");
    }
}

/// What a space holds, read through every read the store has.
#[derive(Debug, PartialEq)]
struct Snapshot {
    machines: Vec<MachineSummary>,
    instance: Option<InstanceRecord>,
    instances: Vec<InstanceRecord>,
    history: Vec<LogRecord>,
    buckets: Vec<BucketRecord>,
    key: Option<KvEntry>,
    key_history: Vec<KvEntry>,
    keys: Vec<KvKeyInfo>,
    subscriptions: Vec<SubscriptionRecord>,
    functions: Vec<FunctionSummary>,
    versions: Vec<FunctionSummary>,
    invocations: Vec<InvocationRecord>,
    log: Vec<LogRecord>,
}

async fn snapshot<S: Store>(store: &S, sp: &str) -> Snapshot {
    let s = space(sp);
    let instance_key = key(sp, "o-1");
    let list = ListInstances::of(s.clone(), seg("order"), 100);
    let keys = ListKeys {
        space: s.clone(),
        bucket: seg("config"),
        prefix: String::new(),
        after: None,
        limit: 100,
        now: SystemClock.now(),
    };
    let invocations = ListInvocations { space: s.clone(), function: None, after: Some(0), limit: 100 };
    let mut subscriptions = store.list_subscriptions(&s).await.expect("subscriptions");
    // Counts of leased records depend on the time they are read at; what a deletion must keep
    // is the rest.
    for sub in &mut subscriptions {
        sub.leased = 0;
    }
    Snapshot {
        machines: store.list_machines(&s).await.expect("machines"),
        instance: store.get_instance(&instance_key).await.expect("instance"),
        instances: store.list_instances(&list).await.expect("instances"),
        history: store.history(&instance_key.address(), Seq(0), 100).await.expect("history"),
        buckets: store.list_buckets(&s).await.expect("buckets"),
        key: store.kv_get(&s, &seg("config"), "a").await.expect("key"),
        key_history: store.kv_history(&s, &seg("config"), "a", 10).await.expect("key history"),
        keys: store.list_keys(&keys).await.expect("keys"),
        subscriptions,
        functions: store.list_functions(&s).await.expect("functions"),
        versions: store.function_versions(&s, &seg("resize")).await.expect("versions"),
        invocations: store.list_invocations(&invocations).await.expect("invocations"),
        log: store.read_log(Seq(0), 10_000).await.expect("log").into_iter().filter(|r| r.space == s).collect(),
    }
}

/// Writes every kind of data into a space: a machine with two versions, an instance moved by an
/// event (idempotency keys on both), a deleted instance, a key with history, a subscription with
/// a pending record, a function with two versions, a finished and a pending invocation, and a
/// message published with an idempotency key.
async fn populate<S: Store>(store: &S, sp: &str) {
    write(store, put_machine(sp, "paid")).await;
    write(store, put_machine(sp, "pending")).await;
    let idem = |k: &str| Some(Idempotency { key: k.to_string(), fingerprint: format!("fp-{k}") });
    let create = WriteOp::CreateInstance(CreateInstance {
        key: key(sp, "o-1"),
        ctx: obj(json!({ "amount": 5 })),
        idempotency: idem("c1"),
    });
    write(store, create).await;
    let pay = WriteOp::ApplyEvent(ApplyEvent {
        key: key(sp, "o-1"),
        event: "pay".into(),
        payload: obj(json!({ "amount": 5 })),
        expected_state: None,
        expected_revision: None,
        idempotency: idem("e1"),
        max_context_bytes: 1 << 20,
    });
    write(store, pay).await;
    write(
        store,
        WriteOp::CreateInstance(CreateInstance {
            key: key(sp, "o-2"),
            ctx: obj(json!({ "amount": 1 })),
            idempotency: None,
        }),
    )
    .await;
    write(store, WriteOp::DeleteInstance(DeleteInstance { key: key(sp, "o-2") })).await;
    write(store, WriteOp::PutBucket(PutBucket { space: space(sp), bucket: seg("config"), history: 3 })).await;
    write(store, kv_put(sp, "a", b"1")).await;
    write(store, kv_put(sp, "a", b"2")).await;
    write(store, subscription(sp)).await;
    let pulled = WriteOp::Pull(Pull { space: space(sp), name: seg("s1"), max: 1, lease_ms: 60_000 });
    let WriteOutcome::Pulled(deliveries) = write(store, pulled).await else { panic!("a pull answers Pulled") };
    assert_eq!(deliveries.len(), 1, "the subscription holds a pending record");
    write(store, deploy(sp, b"one")).await;
    write(store, deploy(sp, b"two")).await;
    write(store, WriteOp::RecordInvocations(RecordInvocations { records: vec![invocation(sp, "i-1", false)] })).await;
    let retry = switchyard_model::jobs::RetryPolicy::default();
    write(store, WriteOp::EnqueueInvocation(EnqueueInvocation { record: invocation(sp, "i-2", true), retry })).await;
    write(store, publish(sp, 1, Some("m1"))).await;
}

async fn delete_space<H: Harness>(h: &H) {
    let store = h.fresh().await;
    populate(&*store, "beta").await;
    populate(&*store, "acme").await;
    let beta = snapshot(&*store, "beta").await;
    let acme = snapshot(&*store, "acme").await;
    assert_eq!(acme.machines.len(), 1);
    assert_eq!(acme.versions.len(), 2);
    assert_eq!(acme.invocations.len(), 2);

    let outcome = write(&*store, WriteOp::DeleteSpace(DeleteSpace { space: space("acme") })).await;
    let WriteOutcome::SpaceDeleted(SpaceDeleted { deleted, seq }) = outcome else { panic!("unexpected {outcome:?}") };
    let expected = SpaceDeletion {
        machines: 1,
        instances: 2,
        kv_buckets: 1,
        kv_keys: 1,
        subscriptions: 1,
        functions: 1,
        invocations: 2,
        log_records: acme.log.len() as u64,
        idempotency_keys: 3,
    };
    assert_eq!(deleted, expected);
    assert!(acme.log.iter().chain(&beta.log).all(|r| r.seq < seq), "the deletion's record is the newest");

    // Nothing of the space is left but the record of its deletion.
    let after = snapshot(&*store, "acme").await;
    let marker = after.log.first().cloned();
    assert_eq!(
        after,
        Snapshot {
            machines: vec![],
            instance: None,
            instances: vec![],
            history: vec![],
            buckets: vec![],
            key: None,
            key_history: vec![],
            keys: vec![],
            subscriptions: vec![],
            functions: vec![],
            versions: vec![],
            invocations: vec![],
            log: marker.iter().cloned().collect(),
        }
    );
    let marker = marker.expect("the deletion is logged");
    assert_eq!((marker.seq, marker.kind.as_str(), marker.address.as_str()), (seq, kinds::SPACE_DELETED, "acme"));
    assert_eq!(marker.payload, serde_json::to_value(expected).expect("counts"));
    for read in [
        store.get_machine(&space("acme"), &seg("order"), None).await.expect("machine").is_some(),
        store.get_bucket(&space("acme"), &seg("config")).await.expect("bucket").is_some(),
        store.get_subscription(&space("acme"), &seg("s1")).await.expect("subscription").is_some(),
        store.get_function(&space("acme"), &seg("resize"), None).await.expect("function").is_some(),
        store.get_invocation(&space("acme"), "acme-i-1").await.expect("invocation").is_some(),
    ] {
        assert!(!read, "a point read finds the deleted space's data");
    }
    let spaces: Vec<String> = store.list_spaces().await.expect("spaces").iter().map(|s| s.name.to_string()).collect();
    assert_eq!(spaces, ["beta"]);
    assert_eq!(snapshot(&*store, "beta").await, beta, "another space is untouched");

    // Gone means not found, however often asked; so is a space that never was.
    for sp in ["acme", "never"] {
        match store.write(WriteOp::DeleteSpace(DeleteSpace { space: space(sp) })).await {
            Err(StoreError::SpaceNotFound { space: s }) => assert_eq!(s, sp),
            other => panic!("deleting {sp}: {other:?}"),
        }
    }
    let log_len = store.read_log(Seq(0), 10_000).await.expect("log").len();

    // Written into again, it starts empty: versions 1 and 2 are the new definitions (nothing
    // compiled from the old version 2, which the instances above ran on, is used), keys and
    // revisions start afresh.
    let put = write(&*store, put_machine("acme", "shipped")).await;
    assert_eq!(
        put,
        WriteOutcome::MachinePut(MachinePut { version: MachineVersion::FIRST, created: true, space_created: true })
    );
    let put = write(&*store, put_machine("acme", "paid")).await;
    let v2 = MachineVersion::FIRST.next();
    assert_eq!(put, WriteOutcome::MachinePut(MachinePut { version: v2, created: true, space_created: false }));
    let create = WriteOp::CreateInstance(CreateInstance {
        key: key("acme", "o-1"),
        ctx: obj(json!({ "amount": 1 })),
        idempotency: Some(Idempotency { key: "c1".into(), fingerprint: "another request".into() }),
    });
    match write(&*store, create).await {
        WriteOutcome::InstanceCreated(InstanceCreated { instance, replayed: false, .. }) => {
            assert_eq!((instance.state.as_str(), instance.machine_version), ("paid", v2));
        }
        other => panic!("a key of the deleted space is free again: {other:?}"),
    }
    match write(&*store, kv_put("acme", "a", b"new")).await {
        WriteOutcome::KvWritten(KvWritten { revision: 1, .. }) => {}
        other => panic!("a key of the deleted space starts at revision 1: {other:?}"),
    }
    let WriteOutcome::FunctionPut(FunctionPut { summary, created: true, .. }) =
        write(&*store, deploy("acme", b"two")).await
    else {
        panic!("a function of the deleted space is deployed anew")
    };
    assert_eq!(summary.version, 1);
    assert!(store.get_invocation(&space("acme"), "acme-i-1").await.expect("invocation").is_none());
    assert_eq!(store.read_log(Seq(0), 10_000).await.expect("log").len(), log_len + 5, "the new writes' records");
    assert_eq!(snapshot(&*store, "beta").await, beta, "another space is still untouched");
}
