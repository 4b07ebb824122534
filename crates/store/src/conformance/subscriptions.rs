//! Conformance cases for durable subscriptions and log retention.
//!
//! They check the invariants stated in [`crate::streams`]: a record passed by the filter is
//! delivered until acked (redelivered when its lease ends or it is nacked, a dead letter after
//! `max_deliveries`), leased to one consumer at a time, and kept by retention while a
//! subscription that does not allow loss still needs it. Leases are long (a minute) except in
//! the one case that waits for a lease to end, so the suite does not depend on timing.

use std::collections::HashSet;

use serde_json::json;
use switchyard_model::{
    AddressFilter, Delivery, LogFilter, Seq, SubscriptionRecord, SubscriptionSpec, Timestamp, kinds,
};

use super::{Case, Harness, create, publish, put_order, seg, space};
use crate::types::*;
use crate::{
    Ack, Clock, DeleteSubscription, DiscardDeadLetters, Nack, Published, Pull, PutSubscription, RedriveDeadLetters,
    Store, StoreError, SubscriptionPut, SystemClock, TrimLog,
};

/// A lease no case outlives.
const LONG: u64 = 60_000;

/// This module's cases, by name.
pub(super) fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("subscription_put_updates_settings_and_refuses_a_new_filter", |h| Box::pin(put_update_refuse_delete(h))),
        ("pull_leases_matching_records_and_advances_the_cursor", |h| Box::pin(pull_leases_matching_records(h))),
        ("acked_records_are_never_redelivered_and_expired_leases_are", |h| {
            Box::pin(acked_never_redelivered_expired_redelivered(h))
        }),
        ("nack_makes_a_record_due_at_once", |h| Box::pin(nack_makes_record_due(h))),
        ("nack_ends_only_the_lease_it_names", |h| Box::pin(nack_ends_only_the_lease_it_names(h))),
        ("dead_letters_after_max_deliveries_redrive_and_discard", |h| Box::pin(dead_letters_redrive_discard(h))),
        ("a_run_of_dead_letters_still_fills_a_pull", |h| Box::pin(dead_letter_run_still_fills_pull(h))),
        ("shared_consumers_receive_each_record_once", |h| Box::pin(shared_consumers_receive_each_record_once(h))),
        ("pull_scans_only_its_space_and_its_cursor_follows_the_log", |h| Box::pin(pull_scans_only_its_space(h))),
        ("subscription_state_survives_reopen", |h| Box::pin(subscription_state_survives_reopen(h))),
        ("retention_keeps_records_a_subscription_needs", |h| Box::pin(retention_keeps_needed_records(h))),
        ("allow_loss_subscription_does_not_hold_retention", |h| Box::pin(allow_loss_does_not_hold_retention(h))),
        ("a_subscription_never_starts_inside_the_trimmed_log", |h| Box::pin(never_starts_inside_trimmed_log(h))),
        ("retention_ignores_needs_that_are_already_trimmed", |h| Box::pin(retention_ignores_trimmed_needs(h))),
        ("trim_by_bytes_keeps_about_max_bytes_and_stats_agree", |h| Box::pin(trim_by_bytes_and_stats(h))),
    ]
}

/// Records of `topic.message` kind on `space:topic` (a prefix, so `news` also passes `newsroom`).
fn topic_filter(sp: &str, topic: &str) -> LogFilter {
    LogFilter {
        space: space(sp),
        address: AddressFilter::Prefix(format!("{sp}:{topic}")),
        kinds: vec![kinds::TOPIC_MESSAGE.to_string()],
        state: None,
        event: None,
    }
}

/// Every record of a space.
fn everything(sp: &str) -> LogFilter {
    LogFilter { space: space(sp), address: AddressFilter::Any, kinds: Vec::new(), state: None, event: None }
}

/// A subscription's settings with five deliveries and no loss allowed.
fn spec(name: &str, filter: LogFilter, start_after: Seq) -> SubscriptionSpec {
    SubscriptionSpec { filter, name: seg(name), start_after, max_deliveries: 5, ack_wait_ms: 30_000, allow_loss: false }
}

/// Puts a subscription; whether it was created.
async fn put_sub<S: Store>(store: &S, spec: SubscriptionSpec) -> bool {
    match store.write(WriteOp::PutSubscription(PutSubscription { spec })).await.expect("put subscription") {
        WriteOutcome::SubscriptionPut(SubscriptionPut { created, .. }) => created,
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// Pulls, checking the deliveries come by seq.
async fn pull<S: Store>(store: &S, sp: &str, name: &str, max: u32, lease_ms: u64) -> Vec<Delivery> {
    let op = WriteOp::Pull(Pull { space: space(sp), name: seg(name), max, lease_ms });
    match store.write(op).await.expect("pull") {
        WriteOutcome::Pulled(deliveries) => {
            assert!(deliveries.windows(2).all(|w| w[0].record.seq < w[1].record.seq), "deliveries by seq");
            deliveries
        }
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// The seqs delivered.
fn seqs_of(deliveries: &[Delivery]) -> Vec<Seq> {
    deliveries.iter().map(|d| d.record.seq).collect()
}

/// The count of a redrive or discard.
fn updated(outcome: Result<WriteOutcome, StoreError>) -> u64 {
    match outcome.expect("subscription update") {
        WriteOutcome::SubscriptionUpdated(n) => n,
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// The seqs an ack or nack settled.
fn settled(outcome: Result<WriteOutcome, StoreError>) -> Vec<Seq> {
    match outcome.expect("ack or nack") {
        WriteOutcome::Settled(seqs) => seqs,
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// Acks; how many were pending (the seqs the store names are checked to be among those given).
async fn ack<S: Store>(store: &S, sp: &str, name: &str, seqs: &[Seq]) -> u64 {
    let acked =
        settled(store.write(WriteOp::Ack(Ack { space: space(sp), name: seg(name), seqs: seqs.to_vec() })).await);
    assert!(acked.iter().all(|s| seqs.contains(s)), "acked {acked:?} of {seqs:?}");
    assert!(acked.windows(2).all(|w| w[0] < w[1]), "acked seqs in order, once each: {acked:?}");
    acked.len() as u64
}

/// Nacks leases, each named by its record's seq and delivery count; how many leases ended.
async fn nack<S: Store>(store: &S, sp: &str, name: &str, leases: &[(Seq, u32)]) -> u64 {
    let released =
        settled(store.write(WriteOp::Nack(Nack { space: space(sp), name: seg(name), leases: leases.to_vec() })).await);
    assert!(released.iter().all(|s| leases.iter().any(|(l, _)| l == s)), "released {released:?} of {leases:?}");
    released.len() as u64
}

/// The leases of these deliveries, as a nack names them.
fn leases_of(deliveries: &[Delivery]) -> Vec<(Seq, u32)> {
    deliveries.iter().map(|d| (d.record.seq, d.deliveries)).collect()
}

/// Redrives dead letters (all for `None`); how many.
async fn redrive<S: Store>(store: &S, sp: &str, name: &str, seqs: Option<&[Seq]>) -> u64 {
    let op = WriteOp::RedriveDeadLetters(RedriveDeadLetters {
        space: space(sp),
        name: seg(name),
        seqs: seqs.map(<[Seq]>::to_vec),
    });
    updated(store.write(op).await)
}

/// Discards dead letters (all for `None`); how many.
async fn discard<S: Store>(store: &S, sp: &str, name: &str, seqs: Option<&[Seq]>) -> u64 {
    let op = WriteOp::DiscardDeadLetters(DiscardDeadLetters {
        space: space(sp),
        name: seg(name),
        seqs: seqs.map(<[Seq]>::to_vec),
    });
    updated(store.write(op).await)
}

/// A subscription that must exist.
async fn get_sub<S: Store>(store: &S, sp: &str, name: &str) -> SubscriptionRecord {
    store.get_subscription(&space(sp), &seg(name)).await.expect("get subscription").expect("subscription exists")
}

/// Trims the log; how many records went.
async fn trim<S: Store>(store: &S, older_than: Timestamp, max_bytes: Option<u64>, limit: u32) -> u64 {
    match store.write(WriteOp::TrimLog(TrimLog { older_than, max_bytes, limit })).await.expect("trim") {
        WriteOutcome::LogTrimmed(n) => n,
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// A cut-off every record is older than.
fn far_future() -> Timestamp {
    Timestamp(SystemClock.now().0 + 86_400_000)
}

/// Publishes `n` messages of one size to `space:topic` (in atomic batches, so it is quick);
/// returns their seqs.
async fn publish_many<S: Store>(store: &S, sp: &str, topic: &str, n: usize) -> Vec<Seq> {
    let mut seqs = Vec::with_capacity(n);
    let ops: Vec<WriteOp> = (0..n).map(|i| publish(sp, topic, json!({ "n": format!("{i:06}") }), None)).collect();
    let mut ops = ops.into_iter().peekable();
    while ops.peek().is_some() {
        let batch: Vec<WriteOp> = ops.by_ref().take(100).collect();
        for outcome in store.write_atomic(batch).await.expect("publish batch") {
            match outcome {
                WriteOutcome::Published(Published { seq, .. }) => seqs.push(seq),
                other => panic!("unexpected outcome {other:?}"),
            }
        }
    }
    seqs
}

/// Bytes of the log as retention counts them, from what `read_log` returns.
async fn log_bytes<S: Store>(store: &S) -> u64 {
    let records = store.read_log(Seq(0), 10_000).await.expect("read log");
    records
        .iter()
        .map(|r| (r.address.len() + serde_json::to_string(&r.payload).expect("payload serialises").len()) as u64)
        .sum()
}

/// Whether the result is `SubscriptionNotFound`.
fn is_not_found<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::SubscriptionNotFound { .. }))
}

/// A subscription is created once, updated by a put with its filter, refused a new filter, and deleted with its pending records.
async fn put_update_refuse_delete<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let before = SystemClock.now();
    assert!(put_sub(&*store, spec("s1", topic_filter("acme", "news"), Seq(0))).await, "created");
    let got = get_sub(&*store, "acme", "s1").await;
    assert_eq!(got.spec, spec("s1", topic_filter("acme", "news"), Seq(0)));
    assert_eq!((got.cursor, got.pending, got.leased, got.dead_letters), (Seq(0), 0, 0, 0));
    assert!(got.created_at >= Timestamp(before.0 - 1_000) && got.created_at <= SystemClock.now());

    let seqs = publish_many(&*store, "acme", "news", 3).await;
    // The same filter again updates the settings; its start is fixed at creation.
    let mut changed = spec("s1", topic_filter("acme", "news"), seqs[2]);
    (changed.max_deliveries, changed.ack_wait_ms, changed.allow_loss) = (9, 1_000, true);
    assert!(!put_sub(&*store, changed).await, "updated, not created");
    let got = get_sub(&*store, "acme", "s1").await;
    assert_eq!((got.spec.max_deliveries, got.spec.ack_wait_ms, got.spec.allow_loss), (9, 1_000, true));
    assert_eq!((got.spec.start_after, got.cursor), (Seq(0), Seq(0)), "start and cursor are unchanged");
    // A filter cannot change.
    let refused = store
        .write(WriteOp::PutSubscription(PutSubscription { spec: spec("s1", topic_filter("acme", "sports"), Seq(0)) }))
        .await;
    assert!(matches!(refused, Err(StoreError::SubscriptionFilterChanged { .. })), "{refused:?}");
    assert_eq!(get_sub(&*store, "acme", "s1").await.spec.filter, topic_filter("acme", "news"));

    assert!(put_sub(&*store, spec("s0", everything("acme"), seqs[1])).await);
    assert!(put_sub(&*store, spec("s1", everything("beta"), Seq(0))).await, "names are per space");
    let listed = store.list_subscriptions(&space("acme")).await.expect("list");
    assert_eq!(listed.iter().map(|s| s.spec.name.to_string()).collect::<Vec<_>>(), vec!["s0", "s1"]);
    assert_eq!(listed[0].cursor, seqs[1], "the cursor starts at start_after");

    assert_eq!(seqs_of(&pull(&*store, "acme", "s1", 10, LONG).await), seqs);
    let deleted =
        store.write(WriteOp::DeleteSubscription(DeleteSubscription { space: space("acme"), name: seg("s1") })).await;
    assert_eq!(deleted.expect("delete"), WriteOutcome::SubscriptionDeleted);
    assert!(store.get_subscription(&space("acme"), &seg("s1")).await.expect("get").is_none());
    assert!(store.get_subscription(&space("beta"), &seg("s1")).await.expect("get").is_some(), "other space kept");
    let again =
        store.write(WriteOp::DeleteSubscription(DeleteSubscription { space: space("acme"), name: seg("s1") })).await;
    assert!(is_not_found(&again), "{again:?}");
    let (sp, name) = (space("acme"), seg("s1"));
    let missing = [
        WriteOp::Pull(Pull { space: sp.clone(), name: name.clone(), max: 1, lease_ms: LONG }),
        WriteOp::Ack(Ack { space: sp.clone(), name: name.clone(), seqs: vec![seqs[0]] }),
        WriteOp::Nack(Nack { space: sp.clone(), name: name.clone(), leases: vec![] }),
        WriteOp::RedriveDeadLetters(RedriveDeadLetters { space: sp.clone(), name: name.clone(), seqs: None }),
        WriteOp::DiscardDeadLetters(DiscardDeadLetters { space: sp.clone(), name: name.clone(), seqs: None }),
    ];
    for op in missing {
        let result = store.write(op.clone()).await;
        assert!(is_not_found(&result), "{op:?} on a missing subscription: {result:?}");
    }
    // Created again, it starts afresh: the deleted one's pending records went with it.
    assert!(put_sub(&*store, spec("s1", topic_filter("acme", "news"), Seq(0))).await);
    assert_eq!(get_sub(&*store, "acme", "s1").await.pending, 0);
    assert_eq!(seqs_of(&pull(&*store, "acme", "s1", 10, LONG).await), seqs);
}

/// A pull leases only records its filter passes (address prefix, exact address, kind, space), at most `max`, and moves the cursor over what it examined.
async fn pull_leases_matching_records<H: Harness>(h: &H) {
    let store = h.fresh().await;
    put_order(&*store, "acme").await;
    let mut news = publish_many(&*store, "acme", "news", 2).await;
    publish_many(&*store, "acme", "sports", 1).await;
    create(&*store, "acme", "o-1", 5).await;
    publish_many(&*store, "beta", "news", 1).await;
    news.extend(publish_many(&*store, "acme", "newsroom", 2).await);
    let sports = publish_many(&*store, "acme", "sports", 1).await;
    let log = store.read_log(Seq(0), 100).await.expect("log");
    let newest = log.last().expect("records").seq;
    assert_eq!(newest, sports[0]);

    assert!(put_sub(&*store, spec("news", topic_filter("acme", "news"), Seq(0))).await);
    let exact = LogFilter { address: AddressFilter::Exact("acme:sports".into()), ..everything("acme") };
    assert!(put_sub(&*store, spec("sports", exact, Seq(0))).await);
    let created = LogFilter { kinds: vec![kinds::INSTANCE_CREATED.into()], ..everything("acme") };
    assert!(put_sub(&*store, spec("orders", created, Seq(0))).await);

    let before = SystemClock.now();
    let first = pull(&*store, "acme", "news", 3, LONG).await;
    assert_eq!(seqs_of(&first), news[..3], "only matching records, at most `max`");
    for d in &first {
        assert_eq!(d.deliveries, 1);
        assert!(
            d.lease_expires_at.0 >= before.0 + LONG as i64 && d.lease_expires_at.0 <= SystemClock.now().0 + LONG as i64
        );
        let logged = log.iter().find(|r| r.seq == d.record.seq).expect("in the log");
        assert_eq!(&d.record, logged, "the delivered record is the log record");
    }
    let got = get_sub(&*store, "acme", "news").await;
    assert_eq!(got.cursor, news[2], "the cursor stops at the record that filled the pull");
    assert_eq!((got.pending, got.leased, got.dead_letters), (3, 3, 0));

    let second = pull(&*store, "acme", "news", 3, LONG).await;
    assert_eq!(seqs_of(&second), news[3..], "the rest, not the leased ones");
    assert_eq!(get_sub(&*store, "acme", "news").await.cursor, newest, "examined to the end of the log");
    assert!(pull(&*store, "acme", "news", 3, LONG).await.is_empty());

    let sports_pulled = pull(&*store, "acme", "sports", 10, LONG).await;
    assert_eq!(sports_pulled.len(), 2, "an exact address passes only itself");
    assert!(sports_pulled.iter().all(|d| d.record.address == "acme:sports"));
    let orders = pull(&*store, "acme", "orders", 10, LONG).await;
    assert_eq!(orders.len(), 1, "kinds filter: {orders:?}");
    assert_eq!(
        (orders[0].record.kind.as_str(), orders[0].record.address.as_str()),
        (kinds::INSTANCE_CREATED, "acme:order:o-1")
    );
    assert!(pull(&*store, "acme", "orders", 0, LONG).await.is_empty(), "max 0 delivers nothing");
}

/// Acked records never come back; an unacked one comes back once its lease ends, counted again.
async fn acked_never_redelivered_expired_redelivered<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let seqs = publish_many(&*store, "acme", "jobs", 3).await;
    assert!(put_sub(&*store, spec("w", topic_filter("acme", "jobs"), Seq(0))).await);
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 10, 50).await), seqs);
    assert_eq!(ack(&*store, "acme", "w", &seqs[..2]).await, 2);
    assert_eq!(ack(&*store, "acme", "w", &seqs[..2]).await, 0, "acked records are not pending any more");
    assert_eq!(nack(&*store, "acme", "w", &[(seqs[0], 1)]).await, 0, "an acked record cannot be nacked");
    assert_eq!(ack(&*store, "acme", "w", &[]).await, 0);
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert_eq!(get_sub(&*store, "acme", "w").await.leased, 0, "the lease ended");
    let again = pull(&*store, "acme", "w", 10, LONG).await;
    assert_eq!(seqs_of(&again), vec![seqs[2]], "only the unacked record comes back");
    assert_eq!(again[0].deliveries, 2);
    assert!(pull(&*store, "acme", "w", 10, LONG).await.is_empty(), "leased again, so not delivered twice");
    // An ack after a lease ended is still accepted (at-least-once delivery).
    assert_eq!(ack(&*store, "acme", "w", &[seqs[2]]).await, 1);
    let got = get_sub(&*store, "acme", "w").await;
    assert_eq!((got.pending, got.leased, got.dead_letters, got.cursor), (0, 0, 0, seqs[2]));
}

/// A nack ends a lease at once; other leases stand.
async fn nack_makes_record_due<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let seqs = publish_many(&*store, "acme", "jobs", 2).await;
    assert!(put_sub(&*store, spec("w", topic_filter("acme", "jobs"), Seq(0))).await);
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 10, LONG).await), seqs);
    assert_eq!(nack(&*store, "acme", "w", &[(seqs[0], 1), (Seq(999_999), 1)]).await, 1, "only pending records count");
    let got = get_sub(&*store, "acme", "w").await;
    assert_eq!((got.pending, got.leased), (2, 1));
    let again = pull(&*store, "acme", "w", 10, LONG).await;
    assert_eq!(seqs_of(&again), vec![seqs[0]], "the nacked record at once; the leased one stays leased");
    assert_eq!(again[0].deliveries, 2);
}

/// A nack names a lease by its delivery count: a consumer whose lease already ended cannot end
/// the lease another consumer holds now on the same record.
async fn nack_ends_only_the_lease_it_names<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let s = publish_many(&*store, "acme", "jobs", 1).await[0];
    assert!(put_sub(&*store, spec("w", topic_filter("acme", "jobs"), Seq(0))).await);
    // A's lease ends at once (a zero-length lease), so B gets the record next.
    let a = pull(&*store, "acme", "w", 1, 0).await;
    assert_eq!(leases_of(&a), vec![(s, 1)]);
    let b = pull(&*store, "acme", "w", 1, LONG).await;
    assert_eq!(leases_of(&b), vec![(s, 2)]);
    assert_eq!(nack(&*store, "acme", "w", &leases_of(&a)).await, 0, "A's lease ended already: nothing to end");
    assert_eq!(nack(&*store, "acme", "w", &[(s, 3)]).await, 0, "a lease not handed out yet");
    assert!(pull(&*store, "acme", "w", 1, LONG).await.is_empty(), "B's lease holds");
    let got = get_sub(&*store, "acme", "w").await;
    assert_eq!((got.pending, got.leased), (1, 1));
    assert_eq!(nack(&*store, "acme", "w", &leases_of(&b)).await, 1, "B ends its own lease");
    assert_eq!(leases_of(&pull(&*store, "acme", "w", 1, LONG).await), vec![(s, 3)], "delivered again");
}

/// A record leased `max_deliveries` times becomes a dead letter, listed with its record; redrive makes it deliverable afresh, discard forgets it.
async fn dead_letters_redrive_discard<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let mut sub = spec("w", topic_filter("acme", "jobs"), Seq(0));
    sub.max_deliveries = 2;
    assert!(put_sub(&*store, sub).await);
    let s1 = publish_many(&*store, "acme", "jobs", 1).await[0];
    // Two leases end without an ack (nacks end them at once, with no waiting).
    for deliveries in 1..=2 {
        let got = pull(&*store, "acme", "w", 10, LONG).await;
        assert_eq!((seqs_of(&got), got[0].deliveries), (vec![s1], deliveries));
        assert_eq!(nack(&*store, "acme", "w", &[(s1, deliveries)]).await, 1);
    }
    let s2 = publish_many(&*store, "acme", "jobs", 1).await[0];
    let before = SystemClock.now();
    let third = pull(&*store, "acme", "w", 10, LONG).await;
    assert_eq!(seqs_of(&third), vec![s2], "the record at max_deliveries became a dead letter, not a delivery");
    let got = get_sub(&*store, "acme", "w").await;
    assert_eq!((got.pending, got.dead_letters), (1, 1));
    let dead = store.dead_letters(&space("acme"), &seg("w"), Seq(0), 10).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].seq, dead[0].deliveries), (s1, 2));
    assert!(dead[0].dead_at >= Timestamp(before.0 - 1_000) && dead[0].dead_at <= SystemClock.now());
    let logged = store.read_log(Seq(0), 10).await.expect("log").into_iter().find(|r| r.seq == s1);
    assert_eq!(dead[0].record, logged, "a dead letter comes with its record");
    assert!(store.dead_letters(&space("acme"), &seg("w"), s1, 10).await.expect("page").is_empty());
    assert_eq!(ack(&*store, "acme", "w", &[s1]).await, 0, "a dead letter is not acked");
    assert_eq!(nack(&*store, "acme", "w", &[(s1, 2)]).await, 0, "nor nacked");

    assert_eq!(redrive(&*store, "acme", "w", Some(&[s1, s2])).await, 1, "only dead letters are redriven");
    let got = get_sub(&*store, "acme", "w").await;
    assert_eq!((got.pending, got.dead_letters), (2, 0));
    let redriven = pull(&*store, "acme", "w", 10, LONG).await;
    assert_eq!((seqs_of(&redriven), redriven[0].deliveries), (vec![s1], 1), "deliverable again, counted afresh");
    for deliveries in 1..=2 {
        assert_eq!(nack(&*store, "acme", "w", &[(s1, deliveries)]).await, 1);
        pull(&*store, "acme", "w", 10, LONG).await;
    }
    assert_eq!(get_sub(&*store, "acme", "w").await.dead_letters, 1, "dead again after two more leases");
    assert_eq!(redrive(&*store, "acme", "w", None).await, 1, "all dead letters");
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 10, LONG).await), vec![s1]);
    for deliveries in 1..=2 {
        assert_eq!(nack(&*store, "acme", "w", &[(s1, deliveries)]).await, 1);
        pull(&*store, "acme", "w", 10, LONG).await;
    }
    assert_eq!(discard(&*store, "acme", "w", Some(&[s2])).await, 0, "a pending record is not discarded");
    assert_eq!(discard(&*store, "acme", "w", None).await, 1);
    assert!(store.dead_letters(&space("acme"), &seg("w"), Seq(0), 10).await.expect("dead letters").is_empty());
    let got = get_sub(&*store, "acme", "w").await;
    assert_eq!((got.pending, got.dead_letters), (1, 0));
    assert_eq!(redrive(&*store, "acme", "w", None).await, 0);
    assert_eq!(discard(&*store, "acme", "w", Some(&[])).await, 0);
}

/// A long run of due records turning into dead letters does not stop a pull short of `max`.
async fn dead_letter_run_still_fills_pull<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let mut sub = spec("w", topic_filter("acme", "jobs"), Seq(0));
    sub.max_deliveries = 2;
    assert!(put_sub(&*store, sub).await);
    let seqs = publish_many(&*store, "acme", "jobs", 80).await;
    let first = pull(&*store, "acme", "w", 80, LONG).await;
    assert_eq!(first.len(), 80);
    assert_eq!(nack(&*store, "acme", "w", &leases_of(&first)).await, 80);
    let second = pull(&*store, "acme", "w", 75, LONG).await;
    assert_eq!(seqs_of(&second), seqs[..75]);
    // The 75 leased again, and the 5 still due from the first nack (their lease is the first).
    let leases: Vec<(Seq, u32)> = leases_of(&second).into_iter().chain(leases_of(&first[75..])).collect();
    assert_eq!(nack(&*store, "acme", "w", &leases).await, 80);
    // 75 due records reach max_deliveries in a row before the three that fill the pull.
    let third = pull(&*store, "acme", "w", 3, LONG).await;
    assert_eq!(seqs_of(&third), seqs[75..78]);
    assert!(third.iter().all(|d| d.deliveries == 2));
    let got = get_sub(&*store, "acme", "w").await;
    assert_eq!((got.dead_letters, got.pending, got.leased), (75, 5, 3));
    let rest = pull(&*store, "acme", "w", 10, LONG).await;
    assert_eq!(seqs_of(&rest), seqs[78..], "records after the one that filled `max` stayed due");
}

/// Concurrent consumers of one subscription each get a disjoint share, and together every record.
async fn shared_consumers_receive_each_record_once<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let seqs = publish_many(&*store, "acme", "jobs", 200).await;
    assert!(put_sub(&*store, spec("w", topic_filter("acme", "jobs"), Seq(0))).await);
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = seqs_of(&pull(&*store, "acme", "w", 7, LONG).await);
                    if got.is_empty() {
                        return mine;
                    }
                    assert_eq!(
                        ack(&*store, "acme", "w", &got).await,
                        got.len() as u64,
                        "a consumer acks its own lease"
                    );
                    mine.extend(got);
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for consumer in consumers {
        all.extend(consumer.await.expect("consumer"));
    }
    let distinct: HashSet<Seq> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "no record was leased to two consumers");
    assert_eq!(distinct, seqs.iter().copied().collect::<HashSet<_>>(), "every record was delivered");
    let got = get_sub(&*store, "acme", "w").await;
    assert_eq!((got.pending, got.cursor), (0, seqs[199]));
}

/// A pull examines only its own space's records, so other spaces' records do not use up its
/// budget; once it has examined all of its space's records, its cursor follows the log's newest
/// record (so its lag means something), and nothing of its space is skipped.
async fn pull_scans_only_its_space<H: Harness>(h: &H) {
    let store = h.fresh().await;
    assert!(put_sub(&*store, spec("w", topic_filter("acme", "jobs"), Seq(0))).await);
    assert!(put_sub(&*store, spec("all", everything("acme"), Seq(0))).await);
    let mut mine = publish_many(&*store, "acme", "jobs", 1).await;
    // More records than one pull examines (10,000), all of another space.
    publish_many(&*store, "beta", "jobs", 10_050).await;
    mine.extend(publish_many(&*store, "acme", "jobs", 2).await);
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 10, LONG).await), mine, "the other space used no budget");
    assert_eq!(get_sub(&*store, "acme", "w").await.cursor, mine[2]);

    let tail = publish_many(&*store, "beta", "jobs", 5).await;
    assert!(pull(&*store, "acme", "w", 10, LONG).await.is_empty());
    assert_eq!(get_sub(&*store, "acme", "w").await.cursor, tail[4], "at the end of its space: the log's newest");
    let next = publish_many(&*store, "acme", "jobs", 1).await;
    publish_many(&*store, "beta", "jobs", 1).await;
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 10, LONG).await), next, "nothing of its space was skipped");

    // A pull that fills `max` leaves the cursor at the record that filled it.
    assert_eq!(seqs_of(&pull(&*store, "acme", "all", 2, LONG).await), mine[..2]);
    assert_eq!(get_sub(&*store, "acme", "all").await.cursor, mine[1]);
    let rest: Vec<Seq> = mine[2..].iter().chain(&next).copied().collect();
    assert_eq!(seqs_of(&pull(&*store, "acme", "all", 10, LONG).await), rest);
    let newest = store.log_stats().await.expect("stats").newest;
    assert_eq!(get_sub(&*store, "acme", "all").await.cursor, newest);
}

/// Cursor, pending records and dead letters survive a restart.
async fn subscription_state_survives_reopen<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let mut sub = spec("w", topic_filter("acme", "jobs"), Seq(0));
    sub.max_deliveries = 1;
    assert!(put_sub(&*store, sub).await);
    let seqs = publish_many(&*store, "acme", "jobs", 5).await;
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 2, LONG).await), seqs[..2]);
    assert_eq!(ack(&*store, "acme", "w", &seqs[..1]).await, 1);
    assert_eq!(nack(&*store, "acme", "w", &[(seqs[1], 1)]).await, 1);
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 1, LONG).await), seqs[2..3], "seq 2 became a dead letter");
    let before = get_sub(&*store, "acme", "w").await;
    assert_eq!((before.cursor, before.pending, before.leased, before.dead_letters), (seqs[2], 1, 1, 1));
    let dead = store.dead_letters(&space("acme"), &seg("w"), Seq(0), 10).await.expect("dead letters");
    let store = h.reopen(store).await;
    assert_eq!(get_sub(&*store, "acme", "w").await, before);
    assert_eq!(store.dead_letters(&space("acme"), &seg("w"), Seq(0), 10).await.expect("dead letters"), dead);
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 10, LONG).await), seqs[3..], "goes on from the cursor");
}

/// Trimming keeps every record a subscription still needs (pending, or after its cursor), at most `limit` at a time, and never the newest record.
async fn retention_keeps_needed_records<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let seqs = publish_many(&*store, "acme", "jobs", 10).await;
    assert!(put_sub(&*store, spec("w", topic_filter("acme", "jobs"), Seq(0))).await);
    assert_eq!(
        trim(&*store, far_future(), None, 10_000).await,
        0,
        "a new subscription needs everything after its start"
    );
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 5, LONG).await), seqs[..5]);
    assert_eq!(ack(&*store, "acme", "w", &seqs[..3]).await, 3);
    assert_eq!(trim(&*store, Timestamp(0), None, 10_000).await, 0, "nothing is older than the epoch");
    // Records 3 and 4 are pending (unacked): they and everything after them stay.
    assert_eq!(trim(&*store, far_future(), None, 10_000).await, 3);
    let stats = store.log_stats().await.expect("stats");
    assert_eq!((stats.oldest, stats.newest, stats.records), (Some(seqs[3]), seqs[9], 7));
    assert_eq!(store.read_log(Seq(0), 100).await.expect("log").first().map(|r| r.seq), Some(seqs[3]));
    assert_eq!(trim(&*store, far_future(), None, 10_000).await, 0);

    assert_eq!(ack(&*store, "acme", "w", &seqs[3..5]).await, 2);
    assert_eq!(trim(&*store, far_future(), None, 1).await, 1, "at most `limit`");
    assert_eq!(trim(&*store, far_future(), None, 10_000).await, 1, "up to the record after the cursor");
    assert_eq!(store.log_stats().await.expect("stats").oldest, Some(seqs[5]));
    loop {
        let got = seqs_of(&pull(&*store, "acme", "w", 3, LONG).await);
        if got.is_empty() {
            break;
        }
        ack(&*store, "acme", "w", &got).await;
    }
    assert_eq!(trim(&*store, far_future(), None, 10_000).await, 4, "everything but the newest record");
    let stats = store.log_stats().await.expect("stats");
    assert_eq!((stats.oldest, stats.newest, stats.records), (Some(seqs[9]), seqs[9], 1));
    store
        .write(WriteOp::DeleteSubscription(DeleteSubscription { space: space("acme"), name: seg("w") }))
        .await
        .expect("delete");
    assert_eq!(trim(&*store, far_future(), Some(0), 10_000).await, 0, "the newest record is never trimmed");
    let next = publish_many(&*store, "acme", "jobs", 1).await[0];
    assert_eq!(store.log_stats().await.expect("stats").newest, next);
}

/// A subscription that allows loss does not hold trimming and skips what was trimmed; one that does not is held even by a dead letter.
async fn allow_loss_does_not_hold_retention<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let seqs = publish_many(&*store, "acme", "jobs", 6).await;
    let mut lossy = spec("lossy", topic_filter("acme", "jobs"), Seq(0));
    (lossy.allow_loss, lossy.max_deliveries) = (true, 1);
    assert!(put_sub(&*store, lossy).await);
    assert_eq!(seqs_of(&pull(&*store, "acme", "lossy", 2, LONG).await), seqs[..2]);
    assert_eq!(nack(&*store, "acme", "lossy", &[(seqs[0], 1)]).await, 1);
    assert_eq!(seqs_of(&pull(&*store, "acme", "lossy", 1, LONG).await), seqs[2..3], "seq 0 is a dead letter");
    assert_eq!(
        trim(&*store, far_future(), None, 10_000).await,
        5,
        "pending records of a lossy subscription do not hold"
    );
    let got = get_sub(&*store, "acme", "lossy").await;
    assert_eq!((got.pending, got.dead_letters), (0, 1), "trimmed pending records are forgotten");
    let dead = store.dead_letters(&space("acme"), &seg("lossy"), Seq(0), 10).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].seq, dead[0].record.is_none()), (seqs[0], true), "a trimmed dead letter has no record");
    assert_eq!(seqs_of(&pull(&*store, "acme", "lossy", 10, LONG).await), seqs[5..], "trimmed records are skipped");
    // A cursor far behind the log's start.
    let mut late = spec("late", topic_filter("acme", "jobs"), Seq(0));
    late.allow_loss = true;
    assert!(put_sub(&*store, late).await);
    assert_eq!(seqs_of(&pull(&*store, "acme", "late", 10, LONG).await), seqs[5..]);

    // A subscription that does not allow loss: its dead letter holds the log.
    let mut strict = spec("strict", topic_filter("acme", "jobs"), seqs[5]);
    strict.max_deliveries = 1;
    assert!(put_sub(&*store, strict).await);
    let more = publish_many(&*store, "acme", "jobs", 3).await;
    assert_eq!(seqs_of(&pull(&*store, "acme", "strict", 1, LONG).await), more[..1]);
    assert_eq!(nack(&*store, "acme", "strict", &[(more[0], 1)]).await, 1);
    assert_eq!(seqs_of(&pull(&*store, "acme", "strict", 1, LONG).await), more[1..2]);
    assert_eq!(ack(&*store, "acme", "strict", &more[1..2]).await, 1);
    assert_eq!(trim(&*store, far_future(), None, 10_000).await, 1);
    assert_eq!(store.log_stats().await.expect("stats").oldest, Some(more[0]), "held by the dead letter");
    let dead = store.dead_letters(&space("acme"), &seg("strict"), Seq(0), 10).await.expect("dead letters");
    assert_eq!(dead[0].record.as_ref().map(|r| r.seq), Some(more[0]));
    assert_eq!(discard(&*store, "acme", "strict", None).await, 1);
    assert_eq!(trim(&*store, far_future(), None, 10_000).await, 2, "up to the record after the cursor");
    assert_eq!(store.log_stats().await.expect("stats").oldest, Some(more[2]));
}

/// A new subscription cannot start before the oldest record kept (records it would deliver are
/// gone); start 0 means "from the oldest record kept", and holds the log from there.
async fn never_starts_inside_trimmed_log<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let seqs = publish_many(&*store, "acme", "jobs", 10).await;
    assert_eq!(trim(&*store, far_future(), None, 4).await, 4);
    let oldest = seqs[4];
    for start in [seqs[0], seqs[2]] {
        let refused = store
            .write(WriteOp::PutSubscription(PutSubscription { spec: spec("w", topic_filter("acme", "jobs"), start) }))
            .await;
        assert!(matches!(refused, Err(StoreError::SeqExpired { oldest: o }) if o == oldest), "{start}: {refused:?}");
        assert!(store.get_subscription(&space("acme"), &seg("w")).await.expect("get").is_none(), "nothing written");
    }
    let batch = vec![
        WriteOp::PutSubscription(PutSubscription { spec: spec("a", everything("acme"), Seq(0)) }),
        WriteOp::PutSubscription(PutSubscription { spec: spec("b", everything("acme"), seqs[1]) }),
    ];
    let refused = store.write_atomic(batch).await;
    assert!(
        matches!(&refused, Err(StoreError::BatchFailed { index: 1, source }) if matches!(**source, StoreError::SeqExpired { .. })),
        "{refused:?}"
    );
    assert!(store.list_subscriptions(&space("acme")).await.expect("list").is_empty(), "the batch was undone");

    // Right before the oldest record kept: nothing it would deliver is gone.
    assert!(put_sub(&*store, spec("w", topic_filter("acme", "jobs"), seqs[3])).await);
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 20, LONG).await), seqs[4..]);
    // Its start is fixed at creation: putting it again with an older one updates its settings.
    let mut again = spec("w", topic_filter("acme", "jobs"), seqs[0]);
    again.max_deliveries = 7;
    assert!(!put_sub(&*store, again).await);
    assert_eq!(get_sub(&*store, "acme", "w").await.spec.start_after, seqs[3]);

    // 0: from the oldest record kept, which it then holds (it has examined nothing yet).
    assert!(put_sub(&*store, spec("all", topic_filter("acme", "jobs"), Seq(0))).await);
    assert_eq!(ack(&*store, "acme", "w", &seqs[4..]).await, 6);
    assert_eq!(trim(&*store, far_future(), None, 10_000).await, 0, "held by the new subscription");
    assert_eq!(seqs_of(&pull(&*store, "acme", "all", 20, LONG).await), seqs[4..]);
    // A start after the newest record is no trouble either.
    assert!(put_sub(&*store, spec("late", topic_filter("acme", "jobs"), Seq(seqs[9].0 + 100))).await);
}

/// Needs of a subscription below the oldest record kept (dead letters of a subscription that
/// allowed loss when their records were trimmed) do not stop retention; its cursor does.
async fn retention_ignores_trimmed_needs<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let seqs = publish_many(&*store, "acme", "jobs", 6).await;
    let mut sub = spec("w", topic_filter("acme", "jobs"), Seq(0));
    (sub.allow_loss, sub.max_deliveries) = (true, 1);
    assert!(put_sub(&*store, sub.clone()).await);
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 1, LONG).await), seqs[..1]);
    assert_eq!(nack(&*store, "acme", "w", &[(seqs[0], 1)]).await, 1);
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 2, LONG).await), seqs[1..3], "seq 0 became a dead letter");
    assert_eq!(ack(&*store, "acme", "w", &seqs[1..3]).await, 2);
    assert_eq!(trim(&*store, far_future(), None, 3).await, 3, "the lossy subscription holds nothing");
    // It stops allowing loss; its dead letter's record is gone already.
    sub.allow_loss = false;
    assert!(!put_sub(&*store, sub).await);
    assert_eq!(trim(&*store, far_future(), None, 10_000).await, 0, "held after its cursor");
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 10, LONG).await), seqs[3..]);
    assert_eq!(ack(&*store, "acme", "w", &seqs[3..]).await, 3);
    assert_eq!(trim(&*store, far_future(), None, 10_000).await, 2, "the trimmed dead letter holds nothing");
    let dead = store.dead_letters(&space("acme"), &seg("w"), Seq(0), 10).await.expect("dead letters");
    assert_eq!((dead.len(), dead[0].seq, dead[0].record.is_none()), (1, seqs[0], true), "the dead letter stays");

    // A subscription whose cursor is below the oldest record kept needs everything from it on.
    let more = publish_many(&*store, "acme", "jobs", 3).await;
    assert!(put_sub(&*store, spec("late", topic_filter("acme", "jobs"), Seq(0))).await);
    assert_eq!(seqs_of(&pull(&*store, "acme", "w", 10, LONG).await), more);
    assert_eq!(ack(&*store, "acme", "w", &more).await, 3);
    assert_eq!(trim(&*store, far_future(), None, 10_000).await, 0, "held by the new subscription's cursor");
    let late = pull(&*store, "acme", "late", 10, LONG).await;
    assert_eq!(seqs_of(&late), [&seqs[5..], &more[..]].concat());
    assert_eq!(ack(&*store, "acme", "late", &seqs_of(&late)).await, 4);
    assert_eq!(trim(&*store, far_future(), None, 10_000).await, 3, "all but the newest record");
}

/// Trimming by size keeps between `max_bytes` and one record more; `log_stats` agrees with the log.
async fn trim_by_bytes_and_stats<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let empty = store.log_stats().await.expect("stats");
    assert_eq!((empty.oldest, empty.newest, empty.records, empty.bytes), (None, Seq(0), 0, 0));
    assert!(empty.file_bytes.is_none_or(|b| b > 0));
    let seqs = publish_many(&*store, "acme", "jobs", 50).await;
    let stats = store.log_stats().await.expect("stats");
    assert_eq!((stats.oldest, stats.newest, stats.records), (Some(seqs[0]), seqs[49], 50));
    let total = log_bytes(&*store).await;
    assert_eq!(stats.bytes, total, "bytes are the addresses and payloads kept");
    assert!(stats.file_bytes.is_none_or(|b| b > 0));
    let record = total / 50;
    assert_eq!(record * 50, total, "the records are of one size");

    let limit = total / 2;
    let trimmed = trim(&*store, Timestamp(0), Some(limit), 10_000).await;
    let stats = store.log_stats().await.expect("stats");
    assert!(stats.bytes >= limit && stats.bytes < limit + record, "kept {} bytes for max_bytes {limit}", stats.bytes);
    assert_eq!((stats.records, stats.oldest, stats.newest), (50 - trimmed, Some(seqs[trimmed as usize]), seqs[49]));
    assert_eq!(stats.bytes, log_bytes(&*store).await);
    assert_eq!(trim(&*store, Timestamp(0), Some(0), 3).await, 3, "at most `limit`");
    assert_eq!(trim(&*store, Timestamp(0), Some(0), 10_000).await, 50 - trimmed - 4);
    let stats = store.log_stats().await.expect("stats");
    assert_eq!((stats.records, stats.bytes, stats.oldest, stats.newest), (1, record, Some(seqs[49]), seqs[49]));
}
