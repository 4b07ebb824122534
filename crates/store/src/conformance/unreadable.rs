//! Conformance cases for stored records that cannot be read back (an older build let a value
//! too deep for the reader in, or the database was edited by hand): every reader gets the
//! record in its place, marked unreadable, and goes on past it; nothing fails a whole page, and
//! the store reports each such record once.
//!
//! The records are damaged with raw SQL through [`Harness::execute_raw`], since the store
//! itself refuses to write them.

use serde_json::json;
use switchyard_model::{AddressFilter, LogFilter, LogRecord, Seq, SubscriptionSpec, Timestamp, kinds};

use super::{Case, Harness, create, key, publish, put_order, seg, space};
use crate::types::*;
use crate::{
    Ack, Clock, DiscardDeadLetters, ListInstances, Published, Pull, PutSubscription, Store, StoreError, SystemClock,
    TrimLog,
};

/// This module's cases, by name.
pub(super) fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("an_unreadable_log_record_is_read_marked_in_its_place", |h| Box::pin(unreadable_record_read_in_place(h))),
        ("a_subscription_delivers_past_an_unreadable_record_and_retention_goes_on", |h| {
            Box::pin(subscription_goes_past_unreadable_record(h))
        }),
        ("an_instance_with_an_unreadable_ctx_is_refused_alone", |h| Box::pin(unreadable_instance_refused_alone(h))),
    ]
}

/// A `topic.message` payload nested 130 levels deep: more than `serde_json` reads back.
pub(super) fn too_deep_payload() -> String {
    format!("{{\"payload\":{}{}}}", "[".repeat(129), "]".repeat(129))
}

/// Replaces the stored payload of the log record `seq` with `text` (no single quotes in it).
pub(super) async fn damage_payload<H: Harness>(h: &H, store: &H::S, seq: Seq, text: &str) {
    assert!(!text.contains('\''), "the payload goes into an SQL literal");
    h.execute_raw(store, &format!("UPDATE events SET payload = '{text}' WHERE seq = {}", seq.0)).await;
}

/// Publishes one message; its seq.
async fn publish_one<S: Store>(store: &S, sp: &str, topic: &str, n: i64) -> Seq {
    match store.write(publish(sp, topic, json!({ "n": n }), None)).await.expect("publish") {
        WriteOutcome::Published(Published { seq, .. }) => seq,
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// Checks `record` is the damaged record `seq` of `acme:news`: in place, payload unknown.
fn assert_marked(record: &LogRecord, seq: Seq) {
    assert_eq!(record.seq, seq);
    assert_eq!(
        (record.space.as_str(), record.kind.as_str(), record.address.as_str()),
        ("acme", kinds::TOPIC_MESSAGE, "acme:news")
    );
    assert!(!record.is_readable(), "seq {seq} is marked unreadable");
    assert_eq!(record.payload, serde_json::Value::Null, "an unreadable payload is null");
    assert!(record.unreadable.as_deref().is_some_and(|why| why.starts_with("payload: ")), "{:?}", record.unreadable);
}

async fn unreadable_record_read_in_place<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let mut seqs = Vec::new();
    for (i, sp) in ["acme", "other", "acme", "other", "acme"].into_iter().enumerate() {
        seqs.push(publish_one(&*store, sp, "news", i as i64).await);
    }
    damage_payload(h, &store, seqs[0], "{\"payload\": [1, 2").await;
    damage_payload(h, &store, seqs[2], &too_deep_payload()).await;

    for _ in 0..3 {
        let log = store.read_log(Seq(0), 100).await.expect("a page holding unreadable records reads");
        assert_eq!(log.iter().map(|r| r.seq).collect::<Vec<_>>(), seqs, "every record in its place");
        assert_marked(&log[0], seqs[0]);
        assert_marked(&log[2], seqs[2]);
        for (i, record) in log.iter().enumerate().filter(|(i, _)| *i % 2 == 1 || *i == 4) {
            assert!(record.is_readable(), "seq {} is untouched", record.seq);
            assert_eq!(record.payload["payload"], json!({ "n": i }));
        }
    }
    // A page that starts or ends on it.
    let page = store.read_log(seqs[1], 1).await.expect("page of one");
    assert_marked(&page[0], seqs[2]);
    let history = store.history("acme:news", Seq(0), 10).await.expect("history");
    assert_eq!(history.len(), 3);
    assert_marked(&history[1], seqs[2]);
    assert!(history[2].is_readable());
    assert_eq!(store.metrics().unreadable_records.count(), 2, "each unreadable record is counted once");

    // Only its own space's filters pass it, whatever they ask of the payload.
    let damaged = &page[0];
    let other =
        LogFilter { space: space("other"), address: AddressFilter::Any, kinds: vec![], state: None, event: None };
    assert!(!other.matches(damaged), "another space never sees it");
    let picky = LogFilter { space: space("acme"), state: Some("paid".into()), ..other.clone() };
    assert!(picky.matches(damaged), "its own space is told of it even under payload filters");

    // A restart (a fresh process) reads it the same way and reports it again, once.
    let store = h.reopen(store).await;
    let log = store.read_log(Seq(0), 100).await.expect("log after reopen");
    assert_marked(&log[2], seqs[2]);
    store.read_log(Seq(0), 100).await.expect("log after reopen");
    assert_eq!(store.metrics().unreadable_records.count(), 2);
}

async fn subscription_goes_past_unreadable_record<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let news = |sp: &str| LogFilter {
        space: space(sp),
        address: AddressFilter::Prefix(format!("{sp}:news")),
        kinds: vec![kinds::TOPIC_MESSAGE.to_string()],
        state: None,
        event: None,
    };
    let spec = |name: &str, filter: LogFilter, max_deliveries: u32| SubscriptionSpec {
        filter,
        name: seg(name),
        start_after: Seq(0),
        max_deliveries,
        ack_wait_ms: 30_000,
        allow_loss: false,
    };
    for s in [spec("reader", news("acme"), 5), spec("poison", news("acme"), 1), spec("reader", news("other"), 5)] {
        store.write(WriteOp::PutSubscription(PutSubscription { spec: s })).await.expect("put subscription");
    }
    let mut seqs = Vec::new();
    for (i, sp) in ["acme", "acme", "other", "acme"].into_iter().enumerate() {
        seqs.push(publish_one(&*store, sp, "news", i as i64).await);
    }
    damage_payload(h, &store, seqs[1], &too_deep_payload()).await;

    let pull = |sp: &'static str, name: &'static str, lease_ms: u64| {
        let op = WriteOp::Pull(Pull { space: space(sp), name: seg(name), max: 10, lease_ms });
        let store = store.clone();
        async move {
            match store.write(op).await.expect("a pull across an unreadable record succeeds") {
                WriteOutcome::Pulled(deliveries) => deliveries,
                other => panic!("unexpected outcome {other:?}"),
            }
        }
    };
    let ack = |sp: &'static str, name: &'static str, seqs: Vec<Seq>| {
        let store = store.clone();
        async move {
            match store.write(WriteOp::Ack(Ack { space: space(sp), name: seg(name), seqs })).await.expect("ack") {
                WriteOutcome::Settled(acked) => acked.len() as u64,
                other => panic!("unexpected outcome {other:?}"),
            }
        }
    };

    // Delivered in its place, marked; the consumer acks it like the others.
    let got = pull("acme", "reader", 60_000).await;
    assert_eq!(got.iter().map(|d| d.record.seq).collect::<Vec<_>>(), vec![seqs[0], seqs[1], seqs[3]]);
    assert_marked(&got[1].record, seqs[1]);
    assert_eq!(ack("acme", "reader", got.iter().map(|d| d.record.seq).collect()).await, 3);
    // Another space's subscription never sees it.
    let got = pull("other", "reader", 60_000).await;
    assert_eq!(got.iter().map(|d| d.record.seq).collect::<Vec<_>>(), vec![seqs[2]]);
    assert_eq!(ack("other", "reader", vec![seqs[2]]).await, 1);

    // A consumer that never acks it: it becomes a dead letter, listed marked.
    let got = pull("acme", "poison", 0).await;
    assert_eq!(got.len(), 3);
    assert_eq!(ack("acme", "poison", vec![seqs[0], seqs[3]]).await, 2);
    assert!(pull("acme", "poison", 60_000).await.is_empty(), "at max_deliveries it is a dead letter");
    let dead = store.dead_letters(&space("acme"), &seg("poison"), Seq(0), 10).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_marked(dead[0].record.as_ref().expect("still kept"), seqs[1]);
    let discarded = store
        .write(WriteOp::DiscardDeadLetters(DiscardDeadLetters {
            space: space("acme"),
            name: seg("poison"),
            seqs: None,
        }))
        .await
        .expect("discard");
    assert_eq!(discarded, WriteOutcome::SubscriptionUpdated(1));

    // Nothing holds the log any more: retention trims past it (all but the newest record).
    let trim = TrimLog { older_than: Timestamp(SystemClock.now().0 + 86_400_000), max_bytes: None, limit: 100 };
    let trimmed = store.write(WriteOp::TrimLog(trim)).await.expect("trim");
    assert_eq!(trimmed, WriteOutcome::LogTrimmed(3));
    assert_eq!(store.metrics().unreadable_records.count(), 1, "reported once, however often it was read");
}

async fn unreadable_instance_refused_alone<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    for (i, id) in ["o-1", "o-2", "o-3"].into_iter().enumerate() {
        create(&*store, "acme", id, i as i64).await;
    }
    let deep = format!("{{\"amount\":{}{}}}", "[".repeat(129), "]".repeat(129));
    h.execute_raw(&store, &format!("UPDATE instances SET ctx = '{deep}' WHERE id = 'o-2'")).await;

    // Reading it names it; its neighbours read as before.
    match store.get_instance(&key("acme", "o-2")).await {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.contains("acme:order:o-2") && message.contains("ctx: "), "{message}")
        }
        other => panic!("expected a refusal naming the instance, got {other:?}"),
    }
    let o3 = store.get_instance(&key("acme", "o-3")).await.expect("read").expect("exists");
    assert_eq!(o3.ctx["amount"], json!(2));
    assert!(o3.unreadable.is_none());

    // A listing shows it marked, in its place, with an empty ctx.
    let query = ListInstances::of(space("acme"), seg("order"), 10);
    let listed = store.list_instances(&query).await.expect("a listing holding an unreadable instance");
    assert_eq!(listed.iter().map(|i| i.id.as_ref()).collect::<Vec<&str>>(), vec!["o-1", "o-2", "o-3"]);
    assert!(listed[1].unreadable.as_deref().is_some_and(|why| why.starts_with("ctx: ")), "{:?}", listed[1]);
    assert!(listed[1].ctx.is_empty());
    assert!(listed[0].unreadable.is_none() && listed[2].unreadable.is_none());
    assert!(crate::decode::readable_instance(listed[1].clone()).is_err());
}
