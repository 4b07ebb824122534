//! Quotas through the engine on a real SQLite store, with time moved by hand: a rate refuses
//! past its bucket with the wait and admits again once time passes; a change applies at once
//! and keeps nothing of the old bucket when it is new; holdings refuse at their limit; meters
//! count requests, events and refusals and reach the store when flushed; only the system may
//! set a quota.

use std::sync::Arc;

use switchyard_engine::{CreateInstance, Engine, EngineConfig, EngineError, ErrorCode, Principal};
use switchyard_model::quotas::Quota;
use switchyard_model::{DefinitionFormat, Role, Timestamp};
use switchyard_store::sqlite::{SqliteOptions, SqliteStore};
use switchyard_store::{Durability, ManualClock, Store};

struct Setup {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    clock: ManualClock,
    admin: Arc<Principal>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Timestamp(1_700_000_000_000));
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(SqliteOptions {
            data_dir: dir.path().join("db"),
            durability: Durability::Fsync,
            clock: clock.shared(),
        })
        .unwrap(),
    );
    let config = EngineConfig { clock: clock.shared(), ..EngineConfig::default() };
    let engine = Arc::new(Engine::new(store.clone(), config));
    let secret = engine.bootstrap_admin_token(dir.path()).await.unwrap().unwrap();
    let admin = engine.authenticate(&secret).await.unwrap();
    Setup { engine, store, clock, admin, _dir: dir }
}

fn retry_after_ms(e: &EngineError) -> u64 {
    assert_eq!(e.code(), ErrorCode::RateLimited, "{e}");
    e.details()["retry_after_ms"].as_u64().expect("a wait")
}

#[tokio::test]
async fn a_request_rate_refuses_past_its_bucket_with_the_wait_and_refills_with_time() {
    let s = setup().await;
    let quota = Quota { requests_per_second: Some(4), ..Quota::default() };
    assert!(s.engine.set_quota(&s.admin, "acme", quota.clone()).await.unwrap());
    assert!(!s.engine.set_quota(&s.admin, "acme", quota).await.unwrap(), "the same quota changes nothing");
    for _ in 0..4 {
        s.engine.admit_request("acme").unwrap();
    }
    let refused = s.engine.admit_request("acme").unwrap_err();
    assert_eq!(retry_after_ms(&refused), 250, "one token comes back every 250 ms");
    assert_eq!(refused.details()["retry_after_s"], 1, "Retry-After is whole seconds, rounded up");
    // Other spaces are not paced.
    for _ in 0..100 {
        s.engine.admit_request("beta").unwrap();
    }
    s.clock.advance(249);
    assert!(s.engine.admit_request("acme").is_err());
    s.clock.advance(1);
    s.engine.admit_request("acme").unwrap();

    // Raised, it applies at once with a full bucket of the new size.
    let raised = Quota { requests_per_second: Some(100), ..Quota::default() };
    s.engine.set_quota(&s.admin, "acme", raised).await.unwrap();
    for _ in 0..100 {
        s.engine.admit_request("acme").unwrap();
    }
    assert!(s.engine.admit_request("acme").is_err());
    // Removed, nothing is paced.
    assert!(s.engine.delete_quota(&s.admin, "acme").await.unwrap());
    for _ in 0..1000 {
        s.engine.admit_request("acme").unwrap();
    }

    // Every request and refusal was counted, and the counts reach the store.
    let usage = s.engine.space_usage(&s.admin, "acme").await.unwrap();
    assert_eq!(usage.meters.requests, 4 + 1 + 1 + 1 + 100 + 1 + 1000);
    assert_eq!(usage.meters.refused, 3);
    s.engine.flush_meters().await.unwrap();
    assert_eq!(s.store.space_meters("acme").await.unwrap().requests, 1108);
    s.engine.flush_meters().await.unwrap();
    assert_eq!(s.store.space_meters("acme").await.unwrap().requests, 1108, "a flush adds only what is new");
    let usage = s.engine.space_usage(&s.admin, "acme").await.unwrap();
    assert_eq!(usage.meters.requests, 1108, "flushed counts are not counted twice");
}

#[tokio::test]
async fn an_event_rate_takes_a_batch_whole_and_a_create_past_the_instances_is_refused() {
    let s = setup().await;
    let definition =
        b"initial: a\nstates: { a: {}, b: { final: true } }\ntransitions:\n  - { from: a, event: go, to: b }\n";
    s.engine.put_machine("acme", "m", definition, DefinitionFormat::Yaml).await.unwrap();
    let quota = Quota { events_per_second: Some(10), instances: Some(3), ..Quota::default() };
    s.engine.set_quota(&s.admin, "acme", quota).await.unwrap();

    // Ten events at once fit; one more waits 100 ms.
    s.engine.admit_events("acme", 10).unwrap();
    let refused = s.engine.admit_events("acme", 1).unwrap_err();
    assert_eq!(retry_after_ms(&refused), 100);

    // Instances: every create reserves room, whatever asked for it.
    let create = |id: &str| {
        let request = CreateInstance { id: Some(id.into()), ..CreateInstance::default() };
        s.engine.create_instance("acme", "m", request)
    };
    for id in ["i-1", "i-2", "i-3"] {
        create(id).await.unwrap();
    }
    let refused = create("i-4").await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::QuotaExceeded, "{refused}");
    assert!(refused.to_string().contains("3 instances"), "{refused}");
    // A create that fails, or replays an earlier one, gives its room back.
    s.engine.set_quota(&s.admin, "acme", Quota { instances: Some(4), ..Quota::default() }).await.unwrap();
    assert!(create("i-1").await.is_err(), "i-1 exists");
    let keyed =
        || CreateInstance { id: Some("i-4".into()), idempotency_key: Some("k".into()), ..CreateInstance::default() };
    s.engine.create_instance("acme", "m", keyed()).await.unwrap();
    // At the limit, a repeat of a create that happened still answers its original.
    let (_, replayed) = s.engine.create_instance("acme", "m", keyed()).await.unwrap();
    assert!(replayed);
    let conflict = create("i-4").await.unwrap_err();
    assert_eq!(conflict.code(), ErrorCode::InstanceExists, "{conflict}");
    assert_eq!(create("i-5").await.unwrap_err().code(), ErrorCode::QuotaExceeded, "4 of 4, not more");
    // A deletion counts from the next measurement.
    s.engine.delete_instance("acme", "m", "i-1").await.unwrap();
    assert!(create("i-5").await.is_err());
    s.engine.measure_quotas().await.unwrap();
    create("i-5").await.unwrap();
    s.engine.measure_quotas().await.unwrap();

    let usage = s.engine.space_usage(&s.admin, "acme").await.unwrap();
    assert_eq!(usage.holdings.instances, 4);
    assert!(usage.holdings.stored_bytes.log > 0, "{usage:?}");
}

#[tokio::test]
async fn stored_bytes_refuse_writes_once_measured_over() {
    let s = setup().await;
    let quota = Quota { stored_bytes: Some(2_000), ..Quota::default() };
    s.engine.set_quota(&s.admin, "acme", quota).await.unwrap();
    s.engine.admit_storage("acme").unwrap();
    let payload = serde_json::json!({ "blob": "x".repeat(3_000) });
    s.engine.publish("acme", "t", payload, None, Default::default(), None).await.unwrap();
    // Not yet measured: admitted.
    s.engine.admit_storage("acme").unwrap();
    s.engine.measure_quotas().await.unwrap();
    let refused = s.engine.admit_storage("acme").unwrap_err();
    assert_eq!(refused.code(), ErrorCode::QuotaExceeded);
    assert!(s.engine.admit_events("acme", 1).is_err(), "events add bytes too");
    assert!(s.engine.admit_storage("beta").is_ok());
}

#[tokio::test]
async fn only_the_system_sets_a_quota_and_invalid_limits_name_their_field() {
    let s = setup().await;
    let (_, secret) = s.engine.create_token(&s.admin, "acme-admin", Role::Admin, &["acme".into()], None).await.unwrap();
    let tenant = s.engine.authenticate(&secret).await.unwrap();
    let quota = Quota { instances: Some(1), ..Quota::default() };
    let refused = s.engine.set_quota(&tenant, "acme", quota.clone()).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Forbidden, "{refused}");
    assert_eq!(s.engine.get_quota(&tenant, "acme").unwrap(), Quota::default(), "a tenant reads its quota");
    s.engine.space_usage(&tenant, "acme").await.unwrap();
    assert_eq!(s.engine.space_usage(&tenant, "beta").await.unwrap_err().code(), ErrorCode::Forbidden);

    let bad = Quota { events_per_second: Some(0), ..Quota::default() };
    let refused = s.engine.set_quota(&s.admin, "acme", bad).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::ValidationFailed);
    assert_eq!(refused.details()["field"], "events_per_second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_never_pass_the_instances() {
    let s = setup().await;
    let definition =
        b"initial: a\nstates: { a: {}, b: { final: true } }\ntransitions:\n  - { from: a, event: go, to: b }\n";
    s.engine.put_machine("acme", "m", definition, DefinitionFormat::Yaml).await.unwrap();
    s.engine.set_quota(&s.admin, "acme", Quota { instances: Some(5), ..Quota::default() }).await.unwrap();
    let mut creates = tokio::task::JoinSet::new();
    for n in 0..40 {
        let engine = s.engine.clone();
        creates.spawn(async move {
            let request = CreateInstance { id: Some(format!("c-{n}")), ..CreateInstance::default() };
            engine.create_instance("acme", "m", request).await.map(|_| ())
        });
    }
    let (mut created, mut refused) = (0, 0);
    while let Some(outcome) = creates.join_next().await {
        match outcome.unwrap() {
            Ok(()) => created += 1,
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::QuotaExceeded, "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!((created, refused), (5, 35));
    s.engine.measure_quotas().await.unwrap();
    let usage = s.engine.space_usage(&s.admin, "acme").await.unwrap();
    assert_eq!(usage.holdings.instances, 5);
}
