//! Conformance cases for KV buckets.
//!
//! What they prove, on every backend: a key's revision grows by exactly one per put, delete or
//! expiry and never repeats; `If-Match` / `If-None-Match` conditions decide under the same
//! serialisation as the write (a compare-and-set race has exactly one winner per revision);
//! deletes and expiries leave tombstones; a bucket keeps exactly `history` revisions per key;
//! listing is by key, bytewise, with `%` and `_` plain characters; and every write is in the
//! log with the documented payload.

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};
use switchyard_model::{
    BucketRecord, DEFAULT_KV_HISTORY, KvCondition, KvEntry, KvKeyInfo, MAX_KV_HISTORY, Seq, Timestamp, kinds,
};

use super::{Case, Harness, seg, space};
use crate::streams::*;
use crate::types::*;
use crate::{BucketPut, Clock, ExpireKv, KvDelete, KvPut, KvWritten, PutBucket, Store, StoreError, SystemClock};

/// This module's cases, by name.
pub(super) fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("kv_put_get_round_trips_bytes_and_counts_revisions", |h| Box::pin(put_get_round_trip(h))),
        ("kv_writes_are_logged_with_their_values", |h| Box::pin(writes_are_logged(h))),
        ("kv_if_match_and_if_none_match", |h| Box::pin(conditions(h))),
        ("kv_delete_leaves_a_tombstone", |h| Box::pin(delete_leaves_tombstone(h))),
        ("kv_bucket_keeps_history_revisions", |h| Box::pin(history_window(h))),
        ("kv_ttl_expiry_writes_tombstones", |h| Box::pin(ttl_expiry(h))),
        ("kv_list_keys_by_prefix_in_pages", |h| Box::pin(list_keys_by_prefix(h))),
        ("kv_atomic_batch_all_or_nothing", |h| Box::pin(atomic_batch(h))),
        ("kv_compare_and_set_race_has_one_winner_per_revision", |h| Box::pin(cas_race(h))),
    ]
}

const SPACE: &str = "acme";
const BUCKET: &str = "config";

/// A put of `value` into the test bucket.
fn put(key: &str, value: &[u8], condition: KvCondition) -> WriteOp {
    WriteOp::KvPut(KvPut {
        space: space(SPACE),
        bucket: seg(BUCKET),
        key: key.to_string(),
        value: value.to_vec(),
        content_type: "text/plain".to_string(),
        ttl_ms: None,
        condition,
    })
}

/// A put with a TTL.
fn put_ttl(key: &str, value: &[u8], ttl_ms: u64) -> WriteOp {
    match put(key, value, KvCondition::Always) {
        WriteOp::KvPut(KvPut { space, bucket, key, value, content_type, condition, .. }) => {
            WriteOp::KvPut(KvPut { space, bucket, key, value, content_type, ttl_ms: Some(ttl_ms), condition })
        }
        other => other,
    }
}

/// A delete from the test bucket.
fn delete(key: &str, condition: KvCondition) -> WriteOp {
    WriteOp::KvDelete(KvDelete { space: space(SPACE), bucket: seg(BUCKET), key: key.to_string(), condition })
}

/// Sets the test bucket's history.
fn put_bucket(history: u32) -> WriteOp {
    WriteOp::PutBucket(PutBucket { space: space(SPACE), bucket: seg(BUCKET), history })
}

/// The key's address.
fn address(key: &str) -> String {
    format!("{SPACE}:{BUCKET}:{key}")
}

/// Writes `op`, expecting `KvWritten`; returns (revision, seq).
async fn written<S: Store>(store: &S, op: WriteOp) -> (u64, Seq) {
    match store.write(op).await.expect("KV write") {
        WriteOutcome::KvWritten(KvWritten { revision, seq, .. }) => (revision, seq),
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// Writes `op`, expecting a `KvConflict`; returns the live revision it reported.
async fn conflict<S: Store>(store: &S, op: WriteOp) -> Option<u64> {
    match store.write(op).await {
        Err(StoreError::KvConflict { address: _, current }) => current,
        other => panic!("expected a KV conflict, got {other:?}"),
    }
}

/// The key's current row.
async fn get<S: Store>(store: &S, key: &str) -> Option<KvEntry> {
    store.kv_get(&space(SPACE), &seg(BUCKET), key).await.expect("kv get")
}

/// The revisions `kv_history` returns, newest first, with their deleted flags.
async fn revisions<S: Store>(store: &S, key: &str, limit: u32) -> Vec<(u64, bool)> {
    let entries = store.kv_history(&space(SPACE), &seg(BUCKET), key, limit).await.expect("kv history");
    entries.iter().map(|e| (e.revision, e.deleted)).collect()
}

/// Expires what is due at `due`; returns how many keys.
async fn expire<S: Store>(store: &S, due: Timestamp, limit: u32) -> u64 {
    match store.write(WriteOp::ExpireKv(ExpireKv { now: due, limit })).await.expect("expire") {
        WriteOutcome::KvExpired(n) => n,
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// A page of the test bucket's live keys.
async fn list<S: Store>(store: &S, prefix: &str, after: Option<&str>, limit: u32, now: Timestamp) -> Vec<String> {
    let query = ListKeys {
        space: space(SPACE),
        bucket: seg(BUCKET),
        prefix: prefix.to_string(),
        after: after.map(str::to_string),
        limit,
        now,
    };
    store.list_keys(&query).await.expect("list keys").into_iter().map(|k| k.key).collect()
}

/// A value that is not UTF-8.
const BINARY: &[u8] = &[0xff, 0x00, 0xfe, b'a', 0x80];

/// A put's bytes and content type come back as written; revisions count 1, 2, 3; the first put creates its bucket.
async fn put_get_round_trip<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let before = SystemClock.now();
    let op = WriteOp::KvPut(KvPut {
        space: space(SPACE),
        bucket: seg(BUCKET),
        key: "blob.bin".into(),
        value: BINARY.to_vec(),
        content_type: "application/octet-stream".into(),
        ttl_ms: None,
        condition: KvCondition::Always,
    });
    assert_eq!(written(&*store, op).await.0, 1);
    let got = get(&*store, "blob.bin").await.expect("written");
    assert_eq!(got.key, "blob.bin");
    assert_eq!(got.value, BINARY, "bytes that are not UTF-8 come back unchanged");
    assert_eq!(got.content_type, "application/octet-stream");
    assert_eq!((got.revision, got.deleted, got.expires_at), (1, false, None));
    assert!(got.updated_at >= before && got.is_live(SystemClock.now()));
    assert_eq!(written(&*store, put("blob.bin", b"two", KvCondition::Always)).await.0, 2);
    assert_eq!(written(&*store, put("blob.bin", b"", KvCondition::Always)).await.0, 3);
    let got = get(&*store, "blob.bin").await.expect("written");
    assert_eq!((got.revision, got.value.as_slice(), got.content_type.as_str()), (3, &b""[..], "text/plain"));
    assert!(get(&*store, "never").await.is_none(), "a key never written is None");
    // The first put created the bucket with the default history, and its space.
    let bucket = store.get_bucket(&space(SPACE), &seg(BUCKET)).await.expect("get bucket").expect("created");
    assert_eq!((bucket.history, bucket.name.as_ref()), (DEFAULT_KV_HISTORY, BUCKET));
    assert!(bucket.created_at >= before);
    assert!(store.get_bucket(&space(SPACE), &seg("other")).await.expect("get bucket").is_none());
    assert!(store.get_bucket(&space("elsewhere"), &seg(BUCKET)).await.expect("get bucket").is_none());
    let spaces = store.list_spaces().await.expect("spaces");
    assert_eq!(spaces.iter().map(|s| s.name.to_string()).collect::<Vec<_>>(), vec![SPACE]);
    // The same key in another bucket or space is another key.
    let elsewhere = WriteOp::KvPut(KvPut {
        space: space("elsewhere"),
        bucket: seg(BUCKET),
        key: "blob.bin".into(),
        value: b"x".to_vec(),
        content_type: "text/plain".into(),
        ttl_ms: None,
        condition: KvCondition::Absent,
    });
    assert_eq!(written(&*store, elsewhere).await.0, 1);
    assert_eq!(get(&*store, "blob.bin").await.expect("written").revision, 3);
    store
        .write(WriteOp::PutBucket(PutBucket { space: space(SPACE), bucket: seg("a-first"), history: 2 }))
        .await
        .expect("put");
    let names: Vec<String> =
        store.list_buckets(&space(SPACE)).await.expect("list").into_iter().map(|b| b.name.to_string()).collect();
    assert_eq!(names, vec!["a-first", BUCKET], "buckets by name");
}

/// Puts and deletes append records with the documented payloads, and report their seqs.
async fn writes_are_logged<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let (_, s1) = written(&*store, put("k", BINARY, KvCondition::Always)).await;
    let (_, s2) = written(&*store, put("k", "héllo".as_bytes(), KvCondition::Revision(1))).await;
    let (_, s3) = written(&*store, delete("k", KvCondition::Revision(2))).await;
    let (_, s4) = written(&*store, put_ttl("k", b"short-lived", 60_000)).await;
    let log = store.history(&address("k"), Seq(0), 10).await.expect("history");
    assert_eq!(log.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![s1, s2, s3, s4], "each write reports its seq");
    assert!(s1 < s2 && s2 < s3 && s3 < s4);
    assert!(log.iter().all(|r| r.space.as_ref() == SPACE && r.address == address("k") && r.idempotency_key.is_none()));
    let kinds: Vec<&str> = log.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, vec![kinds::KV_PUT, kinds::KV_PUT, kinds::KV_DELETED, kinds::KV_PUT]);
    let base64 = base64::engine::general_purpose::STANDARD.encode(BINARY);
    assert_eq!(
        log[0].payload,
        json!({ "bucket": BUCKET, "key": "k", "revision": 1, "content_type": "text/plain", "value_base64": base64 }),
        "a value that is not UTF-8 is logged in base64"
    );
    assert_eq!(
        log[1].payload,
        json!({ "bucket": BUCKET, "key": "k", "revision": 2, "content_type": "text/plain", "value": "héllo" })
    );
    assert_eq!(log[2].payload, json!({ "bucket": BUCKET, "key": "k", "revision": 3, "reason": "deleted" }));
    let expires_at = get(&*store, "k").await.expect("written").expires_at.expect("has a TTL");
    assert_eq!(log[3].payload["revision"], json!(4));
    assert_eq!(log[3].payload["value"], json!("short-lived"));
    assert_eq!(log[3].payload["expires_at"], json!(expires_at.to_rfc3339()));
    // The log is the whole store's log too.
    let all = store.read_log(Seq(0), 100).await.expect("log");
    assert_eq!(all, log);
}

/// If-Match and If-None-Match decide on the live revision; never-written, deleted and expired keys are absent.
async fn conditions<H: Harness>(h: &H) {
    let store = h.fresh().await;
    // If-Match on a key never written: nothing to match.
    assert_eq!(conflict(&*store, put("k", b"v", KvCondition::Revision(1))).await, None);
    // If-None-Match creates a key never written, and refuses a live one.
    assert_eq!(written(&*store, put("k", b"v1", KvCondition::Absent)).await.0, 1);
    assert_eq!(conflict(&*store, put("k", b"v", KvCondition::Absent)).await, Some(1));
    // If-Match at the current revision succeeds; a stale one reports the current revision.
    assert_eq!(written(&*store, put("k", b"v2", KvCondition::Revision(1))).await.0, 2);
    assert_eq!(conflict(&*store, put("k", b"v", KvCondition::Revision(1))).await, Some(2));
    assert_eq!(conflict(&*store, put("k", b"v", KvCondition::Revision(3))).await, Some(2));
    assert_eq!(get(&*store, "k").await.expect("written").value, b"v2", "a refused put changes nothing");
    // A deleted key counts as absent: If-None-Match creates it again, at the next revision.
    written(&*store, delete("k", KvCondition::Always)).await;
    assert_eq!(conflict(&*store, put("k", b"v", KvCondition::Revision(3))).await, None, "a tombstone is not live");
    assert_eq!(written(&*store, put("k", b"v4", KvCondition::Absent)).await.0, 4);
    // So does an expired one, before any expiry run turned it into a tombstone.
    written(&*store, put_ttl("t", b"brief", 1)).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(conflict(&*store, put("t", b"v", KvCondition::Revision(1))).await, None, "an expired value is not live");
    assert_eq!(written(&*store, put("t", b"again", KvCondition::Absent)).await.0, 2);
    let got = get(&*store, "t").await.expect("written");
    assert_eq!((got.revision, got.expires_at, got.value.as_slice()), (2, None, &b"again"[..]));
    // Only the writes that applied are in the log.
    let log = store.history(&address("k"), Seq(0), 10).await.expect("history");
    assert_eq!(log.iter().map(|r| r.payload["revision"].clone()).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
}

/// A delete leaves a tombstone at the next revision; a missing key cannot be deleted.
async fn delete_leaves_tombstone<H: Harness>(h: &H) {
    let store = h.fresh().await;
    assert!(matches!(
        store.write(delete("never", KvCondition::Always)).await,
        Err(StoreError::KvNotFound { address }) if address == self::address("never")
    ));
    written(&*store, put("k", b"value", KvCondition::Always)).await;
    written(&*store, put("k", b"value", KvCondition::Always)).await;
    assert_eq!(conflict(&*store, delete("k", KvCondition::Revision(1))).await, Some(2), "a stale delete is refused");
    let (revision, _) = written(&*store, delete("k", KvCondition::Revision(2))).await;
    assert_eq!(revision, 3);
    let got = get(&*store, "k").await.expect("a tombstone is kept");
    assert_eq!((got.revision, got.deleted, got.expires_at), (3, true, None));
    assert!(got.value.is_empty() && got.content_type.is_empty());
    assert!(!got.is_live(SystemClock.now()));
    assert!(matches!(store.write(delete("k", KvCondition::Always)).await, Err(StoreError::KvNotFound { .. })));
    assert!(list(&*store, "", None, 10, SystemClock.now()).await.is_empty(), "a deleted key is not listed");
    // A put after the delete continues the revisions.
    assert_eq!(written(&*store, put("k", b"back", KvCondition::Always)).await.0, 4);
    assert_eq!(list(&*store, "", None, 10, SystemClock.now()).await, vec!["k"]);
}

/// A bucket keeps exactly its `history` newest revisions per key, tombstones included, as it grows and shrinks.
async fn history_window<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let created = store.write(put_bucket(3)).await.expect("put bucket");
    let WriteOutcome::BucketPut(BucketPut { bucket, created: true, space_created: true }) = created else {
        panic!("the first bucket of a space creates it: {created:?}")
    };
    assert_eq!((bucket.space.as_ref(), bucket.name.as_ref(), bucket.history), (SPACE, BUCKET, 3));
    let again = store.write(put_bucket(3)).await.expect("put bucket");
    let unchanged = WriteOutcome::BucketPut(BucketPut { bucket: bucket.clone(), created: false, space_created: false });
    assert_eq!(again, unchanged, "a repeat changes nothing");

    written(&*store, put("k", b"1", KvCondition::Always)).await;
    assert_eq!(revisions(&*store, "k", 10).await, vec![(1, false)]);
    written(&*store, put("k", b"2", KvCondition::Always)).await;
    written(&*store, delete("k", KvCondition::Always)).await;
    written(&*store, put("k", b"4", KvCondition::Always)).await;
    written(&*store, put("k", b"5", KvCondition::Always)).await;
    assert_eq!(revisions(&*store, "k", 10).await, vec![(5, false), (4, false), (3, true)], "3 newest, tombstone too");
    assert_eq!(revisions(&*store, "k", 2).await, vec![(5, false), (4, false)], "at most `limit`");
    let entries = store.kv_history(&space(SPACE), &seg(BUCKET), "k", 10).await.expect("history");
    assert_eq!(entries.iter().map(|e| e.value.clone()).collect::<Vec<_>>(), vec![b"5".to_vec(), b"4".to_vec(), vec![]]);
    assert_eq!(entries[0], get(&*store, "k").await.expect("written"), "the first is the current row");
    assert!(revisions(&*store, "never", 10).await.is_empty());

    // Shrinking forgets what falls outside the new window at once.
    let shrunk = store.write(put_bucket(2)).await.expect("shrink");
    let expected = BucketRecord { history: 2, ..bucket.clone() };
    let kept = WriteOutcome::BucketPut(BucketPut { bucket: expected, created: false, space_created: false });
    assert_eq!(shrunk, kept, "created_at is kept");
    assert_eq!(revisions(&*store, "k", 10).await, vec![(5, false), (4, false)]);
    written(&*store, put("k", b"6", KvCondition::Always)).await;
    assert_eq!(revisions(&*store, "k", 10).await, vec![(6, false), (5, false)]);
    store.write(put_bucket(1)).await.expect("shrink");
    assert_eq!(revisions(&*store, "k", 10).await, vec![(6, false)]);
    written(&*store, put("k", b"7", KvCondition::Always)).await;
    assert_eq!(revisions(&*store, "k", 10).await, vec![(7, false)]);
    // Growing keeps revisions from then on; history is clamped to 1..=MAX_KV_HISTORY.
    let grown = store.write(put_bucket(1000)).await.expect("grow");
    assert!(matches!(
        grown,
        WriteOutcome::BucketPut(BucketPut { bucket: BucketRecord { history: MAX_KV_HISTORY, .. }, .. })
    ));
    for v in 8..=10 {
        written(&*store, put("k", b"v", KvCondition::Always)).await;
        assert_eq!(revisions(&*store, "k", 100).await.first(), Some(&(v, false)));
    }
    assert_eq!(revisions(&*store, "k", 100).await.len(), 4, "revision 7 onwards");
    let zero = store.write(put_bucket(0)).await.expect("clamped");
    assert!(matches!(zero, WriteOutcome::BucketPut(BucketPut { bucket: BucketRecord { history: 1, .. }, .. })));
    assert_eq!(revisions(&*store, "k", 100).await, vec![(10, false)]);
    let stored = store.get_bucket(&space(SPACE), &seg(BUCKET)).await.expect("get").expect("exists");
    assert_eq!((stored.history, stored.created_at), (1, bucket.created_at));
}

/// Keys past their TTL are not listed, and an expiry run turns them into tombstones with an `expired` record.
async fn ttl_expiry<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let now = SystemClock.now();
    let hour = 3_600_000;
    written(&*store, put_ttl("session", b"s", 60_000)).await;
    written(&*store, put("forever", b"f", KvCondition::Always)).await;
    let got = get(&*store, "session").await.expect("written");
    let expires_at = got.expires_at.expect("has a TTL");
    assert!(expires_at.0 >= now.0 + 60_000 && expires_at.0 <= SystemClock.now().0 + 60_000);
    assert!(got.is_live(SystemClock.now()) && !got.is_live(expires_at));
    assert_eq!(list(&*store, "", None, 10, SystemClock.now()).await, vec!["forever", "session"]);
    assert_eq!(list(&*store, "", None, 10, expires_at).await, vec!["forever"], "expired at `now` is left out");
    assert_eq!(expire(&*store, SystemClock.now(), 100).await, 0, "nothing is due yet");

    assert_eq!(expire(&*store, Timestamp(now.0 + hour), 100).await, 1);
    let got = get(&*store, "session").await.expect("a tombstone is kept");
    assert_eq!((got.revision, got.deleted, got.expires_at), (2, true, None));
    assert_eq!(get(&*store, "forever").await.expect("written").revision, 1, "a key without a TTL is untouched");
    let log = store.history(&address("session"), Seq(0), 10).await.expect("history");
    let last = log.last().expect("logged");
    assert_eq!(last.kind, kinds::KV_DELETED);
    assert_eq!(last.payload, json!({ "bucket": BUCKET, "key": "session", "revision": 2, "reason": "expired" }));
    assert_eq!(expire(&*store, Timestamp(now.0 + hour), 100).await, 0, "an expired key is expired once");
    assert!(matches!(store.write(delete("session", KvCondition::Always)).await, Err(StoreError::KvNotFound { .. })));

    // At most `limit` per run; a put without a TTL clears the key's TTL.
    for key in ["t1", "t2", "t3", "t4"] {
        written(&*store, put_ttl(key, b"x", 60_000)).await;
    }
    written(&*store, put("t4", b"kept", KvCondition::Always)).await;
    assert_eq!(expire(&*store, Timestamp(now.0 + hour), 2).await, 2);
    assert_eq!(expire(&*store, Timestamp(now.0 + hour), 2).await, 1);
    assert_eq!(expire(&*store, Timestamp(now.0 + hour), 2).await, 0);
    assert_eq!(list(&*store, "", None, 10, Timestamp(now.0 + hour)).await, vec!["forever", "t4"]);
}

/// Listing is by key bytewise, filtered by a literal prefix, in pages after a cursor.
async fn list_keys_by_prefix<H: Harness>(h: &H) {
    let store = h.fresh().await;
    // `_` would match any character under LIKE; `.`, `-`, `/` and `=` sort around it bytewise.
    let keys = ["b", "a_x", "a/2", "A", "a", "abx", "a.b", "a/1", "-x", "a=", "a/3", "a/10", "z"];
    for key in keys {
        written(&*store, put(key, key.as_bytes(), KvCondition::Always)).await;
    }
    written(&*store, delete("a/3", KvCondition::Always)).await;
    written(&*store, put_ttl("a/4", b"x", 1)).await;
    // Keys elsewhere are not listed.
    let other = WriteOp::KvPut(KvPut {
        space: space(SPACE),
        bucket: seg("other"),
        key: "a/9".into(),
        value: vec![],
        content_type: String::new(),
        ttl_ms: None,
        condition: KvCondition::Always,
    });
    written(&*store, other).await;
    let now = Timestamp(SystemClock.now().0 + 1_000);
    let all = vec!["-x", "A", "a", "a.b", "a/1", "a/10", "a/2", "a=", "a_x", "abx", "b", "z"];
    assert_eq!(list(&*store, "", None, 100, now).await, all, "by key, bytewise; deleted and expired left out");
    // Pages of 5 walk the same list.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list(&*store, "", after.as_deref(), 5, now).await;
        assert!(page.len() <= 5);
        let Some(last) = page.last().cloned() else { break };
        paged.extend(page);
        after = Some(last);
    }
    assert_eq!(paged, all);
    assert_eq!(list(&*store, "a/", None, 100, now).await, vec!["a/1", "a/10", "a/2"]);
    assert_eq!(list(&*store, "a/", Some("a/1"), 100, now).await, vec!["a/10", "a/2"]);
    assert_eq!(list(&*store, "a/", Some("A"), 1, now).await, vec!["a/1"], "a cursor before the prefix");
    assert!(list(&*store, "a/", Some("a/2"), 100, now).await.is_empty(), "a cursor at the end");
    assert!(list(&*store, "a/", Some("b"), 100, now).await.is_empty(), "a cursor past the prefix");
    assert_eq!(list(&*store, "a_", None, 100, now).await, vec!["a_x"], "`_` is a plain character");
    assert_eq!(list(&*store, "a", Some("a="), 100, now).await, vec!["a_x", "abx"]);
    assert_eq!(list(&*store, "z", None, 100, now).await, vec!["z"]);
    assert!(list(&*store, "zz", None, 100, now).await.is_empty());
    assert!(list(&*store, "a%", None, 100, now).await.is_empty(), "`%` is a plain character");
    let infos = store
        .list_keys(&ListKeys {
            space: space(SPACE),
            bucket: seg(BUCKET),
            prefix: "a/1".into(),
            after: None,
            limit: 1,
            now,
        })
        .await
        .expect("list");
    let entry = get(&*store, "a/1").await.expect("written");
    let expected = KvKeyInfo {
        key: "a/1".into(),
        revision: 1,
        size: 3,
        content_type: "text/plain".into(),
        updated_at: entry.updated_at,
        expires_at: None,
    };
    assert_eq!(infos, vec![expected]);
}

/// KV ops in an atomic batch see each other and are undone together.
async fn atomic_batch<H: Harness>(h: &H) {
    let store = h.fresh().await;
    // Later ops see earlier ones, on the same key too.
    let outcomes = store
        .write_atomic(vec![
            put("a", b"1", KvCondition::Absent),
            put("a", b"2", KvCondition::Revision(1)),
            put("b", b"1", KvCondition::Always),
        ])
        .await
        .expect("batch");
    let revisions: Vec<u64> = outcomes
        .iter()
        .map(|o| match o {
            WriteOutcome::KvWritten(KvWritten { revision, .. }) => *revision,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(revisions, vec![1, 2, 1]);
    // A refusal undoes the whole batch, its bucket creation included.
    let other = WriteOp::KvPut(KvPut {
        space: space(SPACE),
        bucket: seg("fresh"),
        key: "x".into(),
        value: b"x".to_vec(),
        content_type: "text/plain".into(),
        ttl_ms: None,
        condition: KvCondition::Always,
    });
    let failed = store
        .write_atomic(vec![other, put("a", b"3", KvCondition::Always), delete("b", KvCondition::Revision(7))])
        .await;
    match failed {
        Err(StoreError::BatchFailed { index: 2, source }) => {
            assert!(matches!(*source, StoreError::KvConflict { current: Some(1), .. }))
        }
        other => panic!("expected the batch to fail, got {other:?}"),
    }
    assert_eq!(get(&*store, "a").await.expect("written").revision, 2);
    assert!(store.get_bucket(&space(SPACE), &seg("fresh")).await.expect("get").is_none());
    assert_eq!(store.read_log(Seq(0), 100).await.expect("log").len(), 3);
}

/// Concurrent compare-and-set puts: exactly one winner per revision; everything survives a restart.
async fn cas_race<H: Harness>(h: &H) {
    const TASKS: usize = 16;
    const ROUNDS: u64 = 20;
    let store = h.fresh().await;
    store.write(put_bucket(3)).await.expect("put bucket");
    written(&*store, put("counter", b"start", KvCondition::Absent)).await;
    // Every round, every task reads the revision (all before any writes: the second barrier),
    // then tries to move it on; the first barrier of the next round waits for every attempt.
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for round in 0..ROUNDS {
                barrier.wait().await;
                let current = get(&*store, "counter").await.expect("written").revision;
                barrier.wait().await;
                let value = format!("task {task} round {round}");
                match store.write(put("counter", value.as_bytes(), KvCondition::Revision(current))).await {
                    Ok(WriteOutcome::KvWritten(KvWritten { revision, .. })) => {
                        assert_eq!(revision, current + 1);
                        won.push((revision, value));
                    }
                    // A loser ran after the round's winner, so it sees the winner's revision.
                    Err(StoreError::KvConflict { current: Some(now), .. }) => assert_eq!(now, current + 1),
                    other => panic!("expected a win or a KV conflict, got {other:?}"),
                }
            }
            won
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        won.extend(t.await.expect("task"));
    }
    won.sort();
    let revisions: Vec<u64> = won.iter().map(|(r, _)| *r).collect();
    assert_eq!(revisions, (2..=ROUNDS + 1).collect::<Vec<_>>(), "exactly one winner per revision");
    assert_eq!(revisions.iter().collect::<HashSet<_>>().len(), revisions.len());

    let last = get(&*store, "counter").await.expect("written");
    assert_eq!(last.revision, ROUNDS + 1);
    let winner = won.last().map(|(_, v)| v.as_bytes().to_vec());
    assert_eq!(Some(last.value.clone()), winner, "the last winner's value is current");
    let log = store.history(&address("counter"), Seq(0), 100).await.expect("history");
    let logged: Vec<Value> = log.iter().map(|r| r.payload["revision"].clone()).collect();
    assert_eq!(logged, (1..=ROUNDS + 1).map(|r| json!(r)).collect::<Vec<_>>(), "one record per winning write");

    // Everything survives a restart.
    let history = store.kv_history(&space(SPACE), &seg(BUCKET), "counter", 10).await.expect("history");
    let bucket = store.get_bucket(&space(SPACE), &seg(BUCKET)).await.expect("get").expect("exists");
    let keys = list(&*store, "", None, 10, SystemClock.now()).await;
    let store = h.reopen(store).await;
    assert_eq!(get(&*store, "counter").await, Some(last));
    assert_eq!(store.kv_history(&space(SPACE), &seg(BUCKET), "counter", 10).await.expect("history"), history);
    assert_eq!(history.len(), 3);
    assert_eq!(store.get_bucket(&space(SPACE), &seg(BUCKET)).await.expect("get"), Some(bucket));
    assert_eq!(list(&*store, "", None, 10, SystemClock.now()).await, keys);
    assert_eq!(store.history(&address("counter"), Seq(0), 100).await.expect("history"), log);
    // Revisions continue after the restart.
    assert_eq!(written(&*store, put("counter", b"after", KvCondition::Revision(ROUNDS + 1))).await.0, ROUNDS + 2);
}
