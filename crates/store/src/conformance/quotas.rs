//! Conformance cases for spaces' quotas, their meters and what a space holds.
//!
//! What they prove, on every backend: a quota is stored, replaced and removed, read back after a
//! restart, and each change appends one `audit.quota_set` record naming who acted (a set that
//! changes nothing appends none); meters added by several nodes sum; what a space holds counts
//! its log, instances, KV values and their history, and functions, and nothing of another space.

use std::collections::BTreeMap;

use serde_json::json;
use switchyard_model::quotas::{Meters, Quota};
use switchyard_model::{Actor, SYSTEM_SPACE, Seq, kinds};

use super::{Case, Harness, space};
use crate::{AddMeters, Publish, SetQuota, Store, StoreExt};

/// This module's cases, by name.
pub(super) fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("quotas_are_set_replaced_removed_and_audited", |h| Box::pin(quotas(h))),
        ("meters_sum_and_holdings_count_only_their_space", |h| Box::pin(meters_and_holdings(h))),
    ]
}

fn operator() -> Actor {
    Actor { id: "usr_op".into(), kind: "user".into(), name: "operator".into() }
}

async fn quota_records(store: &dyn Store) -> Vec<serde_json::Value> {
    let page = store.read_log_kinds(Seq(0), &[kinds::AUDIT_QUOTA_SET], 100).await.expect("read audit");
    page.records
        .into_iter()
        .map(|r| {
            assert_eq!(r.space.as_str(), SYSTEM_SPACE);
            r.payload
        })
        .collect()
}

async fn quotas<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let limits = Quota { requests_per_second: Some(50), stored_bytes: Some(1 << 20), ..Quota::default() };
    let set = SetQuota { space: space("acme"), quota: Some(limits.clone()), by: operator() };
    assert!(store.execute(set.clone()).await.expect("set"), "a new quota changes something");
    assert!(!store.execute(set).await.expect("set again"), "the same quota again changes nothing");
    assert_eq!(store.list_quotas().await.expect("list"), vec![("acme".to_string(), limits.clone())]);

    let raised = Quota { requests_per_second: Some(100), ..limits.clone() };
    let set = SetQuota { space: space("acme"), quota: Some(raised.clone()), by: operator() };
    assert!(store.execute(set).await.expect("raise"));
    let other = Quota { instances: Some(10), ..Quota::default() };
    let set = SetQuota { space: space("beta"), quota: Some(other.clone()), by: operator() };
    assert!(store.execute(set).await.expect("another space"));

    let store = h.reopen(store).await;
    let all = store.list_quotas().await.expect("list");
    assert_eq!(all, vec![("acme".to_string(), raised.clone()), ("beta".to_string(), other)]);

    // Removing: an empty quota removes as `None` does; removing nothing changes nothing.
    let empty = SetQuota { space: space("beta"), quota: Some(Quota::default()), by: operator() };
    assert!(store.execute(empty).await.expect("remove by an empty quota"));
    let none = SetQuota { space: space("beta"), quota: None, by: operator() };
    assert!(!store.execute(none).await.expect("remove again"));
    assert_eq!(store.list_quotas().await.expect("list").len(), 1);

    let records = quota_records(store.as_ref()).await;
    assert_eq!(records.len(), 4, "{records:?}");
    assert_eq!(records[0]["space"], "acme");
    assert_eq!(records[0]["principal"]["id"], "usr_op");
    assert_eq!(records[0]["quota"], json!({ "stored_bytes": 1 << 20, "requests_per_second": 50 }));
    assert_eq!(records[0]["before"], serde_json::Value::Null);
    assert_eq!(records[1]["before"]["requests_per_second"], 50);
    assert_eq!(records[1]["quota"]["requests_per_second"], 100);
    assert_eq!(records[3]["space"], "beta");
    assert_eq!(records[3]["quota"], serde_json::Value::Null, "a removal records no quota");
}

async fn meters_and_holdings<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let other_node = h.node(&store).await;
    let counts = Meters { requests: 3, events: 2, refused: 1, invocations: 1, function_ms: 40 };
    store.execute(AddMeters { counts: vec![(space("acme"), counts)] }).await.expect("add");
    other_node
        .execute(AddMeters { counts: vec![(space("acme"), counts), (space("beta"), counts)] })
        .await
        .expect("add");
    let acme = store.space_meters("acme").await.expect("meters");
    assert_eq!(acme, Meters { requests: 6, events: 4, refused: 2, invocations: 2, function_ms: 80 });
    assert_eq!(store.space_meters("nobody").await.expect("meters"), Meters::default());

    assert_eq!(store.space_holdings("acme").await.expect("holdings"), Default::default(), "an empty space");
    super::put_order(store.as_ref(), "acme").await;
    super::put_order(store.as_ref(), "beta").await;
    super::create(store.as_ref(), "acme", "o-1", 5).await;
    super::create(store.as_ref(), "acme", "o-2", 7).await;
    let message = Publish {
        space: space("acme"),
        topic: super::seg("t"),
        payload: json!({ "body": "y".repeat(1000) }),
        key: None,
        headers: BTreeMap::new(),
        idempotency: None,
    };
    store.execute(message).await.expect("publish");
    let acme = store.space_holdings("acme").await.expect("holdings");
    let beta = store.space_holdings("beta").await.expect("holdings");
    assert_eq!(acme.instances, 2);
    assert!(acme.stored_bytes.instances > 0, "{acme:?}");
    assert!(acme.stored_bytes.log >= 1000, "the published message is in the log: {acme:?}");
    assert!(acme.stored_bytes.log > beta.stored_bytes.log, "{acme:?} {beta:?}");
    assert_eq!(beta.instances, 0);
    assert_eq!(beta.stored_bytes.instances, 0);
}
