//! KV buckets, durable subscriptions and retention, against the real binary over HTTP:
//! compare-and-set has one winner per revision, TTLs expire (with a `kv.deleted` record),
//! subscriptions redeliver after a lease ends and after a SIGKILL of the server, dead-letter
//! and redrive, and retention trims the log but never what a subscription has not acked.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{Value, json};
use support::TestServer;
use switchyard_client::{Client, ClientError, KvCondition, KvPutOptions, Publish, PullOptions, WatchQuery};
use switchyard_testkit::{PATIENCE, wait_for, wait_until, within};

fn code(e: &ClientError) -> &str {
    e.code().unwrap_or("(no code)")
}

async fn publish(client: &Client, topic: &str, n: u64) -> u64 {
    let message = Publish { payload: json!({ "n": n }), key: None, headers: Default::default(), idempotency_key: None };
    client.publish("acme", topic, &message).await.expect("publish").seq
}

fn pull(max: u32, lease: &str) -> PullOptions {
    PullOptions { max: Some(max), lease: Some(lease.to_string()), wait: None }
}

/// The lease of the redelivery test.
const LEASE: &str = "3s";

/// Reads one gauge from the Prometheus text.
async fn gauge(client: &Client, name: &str) -> u64 {
    let text = client.metrics().await.expect("metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no gauge {name} in /metrics"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_keys_have_revisions_preconditions_history_and_listing() {
    let server = TestServer::start();
    let client = server.client();
    let put = |key: &'static str, value: &'static str, condition| {
        let client = client.clone();
        async move {
            client
                .kv_put(
                    "acme",
                    "config",
                    key,
                    value.as_bytes().to_vec(),
                    &KvPutOptions { content_type: Some("text/plain".into()), ttl: None, condition },
                )
                .await
        }
    };

    let w1 = put("db/url", "postgres://a", KvCondition::Always).await.expect("first put");
    assert_eq!(w1.revision, 1);
    let got = client.kv_get("acme", "config", "db/url").await.expect("get");
    assert_eq!(
        (got.value.as_slice(), got.content_type.as_str(), got.revision),
        (&b"postgres://a"[..], "text/plain", 1)
    );

    // Compare-and-set: the current revision wins, a stale one is a conflict naming the current.
    let w2 = put("db/url", "postgres://b", KvCondition::Revision(1)).await.expect("CAS at the current revision");
    assert_eq!(w2.revision, 2);
    let stale = put("db/url", "postgres://c", KvCondition::Revision(1)).await.expect_err("stale CAS");
    assert_eq!(code(&stale), "conflict");
    match &stale {
        ClientError::Api { status, details, .. } => {
            assert_eq!(*status, 409);
            assert_eq!(details["current_revision"], 2);
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    // Create-only: refused on a live key, allowed on a new one.
    assert_eq!(
        code(&put("db/url", "x", KvCondition::Absent).await.expect_err("create-only on a live key")),
        "conflict"
    );
    assert_eq!(put("db/pool", "10", KvCondition::Absent).await.expect("create-only on a new key").revision, 1);

    // Delete leaves a tombstone: the key is gone, its revision goes on.
    let deleted = client.kv_delete("acme", "config", "db/pool", KvCondition::Always).await.expect("delete");
    assert_eq!(deleted.revision, 2);
    assert_eq!(code(&client.kv_get("acme", "config", "db/pool").await.expect_err("deleted")), "key_not_found");
    assert_eq!(
        code(&client.kv_delete("acme", "config", "db/pool", KvCondition::Always).await.expect_err("deleted twice")),
        "key_not_found"
    );
    assert_eq!(put("db/pool", "20", KvCondition::Absent).await.expect("create-only after a delete").revision, 3);

    // A TTL past what a timestamp can hold is refused, not a crash.
    let far = KvPutOptions { ttl: Some("9000years".into()), ..Default::default() };
    let e = client.kv_put("acme", "config", "far", b"v".to_vec(), &far).await.expect_err("ttl of 9000 years");
    assert_eq!(code(&e), "validation_failed");

    // Bad keys are refused with the rule.
    for bad in ["a:b", "sp ace", "star*"] {
        let e = client.kv_put("acme", "config", bad, b"v".to_vec(), &KvPutOptions::when(KvCondition::Always)).await;
        assert_eq!(code(&e.expect_err(bad)), "validation_failed", "{bad}");
    }

    // History: a bucket keeping 3 revisions.
    let bucket = client.put_bucket("acme", "flags", Some(3)).await.expect("bucket");
    assert_eq!(bucket.history, 3);
    for v in ["a", "b", "c", "d"] {
        client
            .kv_put("acme", "flags", "beta", v.as_bytes().to_vec(), &KvPutOptions::when(KvCondition::Always))
            .await
            .unwrap();
    }
    let history = client.kv_history("acme", "flags", "beta").await.expect("history");
    let revisions: Vec<u64> =
        history["history"].as_array().unwrap().iter().map(|e| e["revision"].as_u64().unwrap()).collect();
    assert_eq!(revisions, vec![4, 3, 2]);
    assert_eq!(history["history"][0]["value"], "d");

    // Listing by prefix, in pages.
    for i in 0..7 {
        let key = format!("svc/{i}");
        client.kv_put("acme", "config", &key, b"x".to_vec(), &KvPutOptions::when(KvCondition::Always)).await.unwrap();
    }
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = client.kv_list("acme", "config", Some("svc/"), after.as_deref(), Some(3)).await.expect("list");
        keys.extend(page.keys.iter().map(|k| k.key.clone()));
        match page.next_cursor {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(keys, (0..7).map(|i| format!("svc/{i}")).collect::<Vec<_>>());

    // The log has the writes, and a watch of the bucket replays them.
    let mut watch = client
        .watch(
            "acme",
            &WatchQuery { from: Some("1".into()), address: Some("acme:config:db/*".into()), ..Default::default() },
        )
        .await
        .expect("watch");
    let first = within("the first replayed record", PATIENCE, watch.next()).await.expect("record").expect("open");
    assert_eq!((first.kind.as_str(), first.address.as_str()), ("kv.put", "acme:config:db/url"));
    assert_eq!(first.payload["value"], "postgres://a");
    assert_eq!(first.payload["revision"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_compare_and_set_races_have_one_winner_per_revision() {
    let server = TestServer::start();
    let client = server.client();
    client.kv_put("acme", "counters", "hits", b"0".to_vec(), &KvPutOptions::when(KvCondition::Always)).await.unwrap();
    const WRITERS: usize = 12;
    const ROUNDS: usize = 15;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let client = client.clone();
        tasks.spawn(async move {
            let mut won = Vec::new();
            for _ in 0..ROUNDS {
                let current = client.kv_get("acme", "counters", "hits").await.expect("get");
                let n: u64 = std::str::from_utf8(&current.value).unwrap().parse().unwrap();
                let next = (n + 1).to_string().into_bytes();
                let cas = KvCondition::Revision(current.revision);
                match client.kv_put("acme", "counters", "hits", next, &KvPutOptions::when(cas)).await {
                    Ok(written) => won.push((written.revision, w)),
                    Err(e) => assert_eq!(code(&e), "conflict", "a losing CAS is a conflict"),
                }
            }
            won
        });
    }
    let mut winners: HashMap<u64, usize> = HashMap::new();
    while let Some(won) = tasks.join_next().await {
        for (revision, w) in won.expect("writer") {
            assert!(winners.insert(revision, w).is_none(), "revision {revision} was won twice");
        }
    }
    // Every success moved the counter by exactly one: no lost update.
    let last = client.kv_get("acme", "counters", "hits").await.unwrap();
    let n: u64 = std::str::from_utf8(&last.value).unwrap().parse().unwrap();
    assert_eq!(n as usize, winners.len());
    assert_eq!(last.revision as usize, winners.len() + 1);
    let revisions: BTreeSet<u64> = winners.keys().copied().collect();
    assert_eq!(revisions, (2..=last.revision).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_ttl_expires_keys_and_records_the_expiry() {
    let server = TestServer::start();
    let client = server.client();
    let mut watch = client
        .watch("acme", &WatchQuery { kind: Some("kv.deleted".into()), ..Default::default() })
        .await
        .expect("watch");
    let put_at = std::time::Instant::now();
    let written = client
        .kv_put(
            "acme",
            "sessions",
            "s1",
            b"alice".to_vec(),
            &KvPutOptions { ttl: Some("2s".into()), ..Default::default() },
        )
        .await
        .expect("put with ttl");
    let read = client.kv_get("acme", "sessions", "s1").await;
    // A read that surely came before the TTL ran out sees the value (on a machine so loaded
    // that two seconds passed, there is nothing to judge).
    if put_at.elapsed() < Duration::from_secs(2) {
        assert_eq!(read.expect("live before its ttl").revision, 1);
    }
    client.kv_put("acme", "sessions", "s2", b"bob".to_vec(), &KvPutOptions::when(KvCondition::Always)).await.unwrap();
    // The sweep turns the expired key into a tombstone and logs it (it runs every second).
    let record = within("the expiry's kv.deleted record", PATIENCE, watch.next())
        .await
        .expect("watch record")
        .expect("stream open");
    assert_eq!(record.address, "acme:sessions:s1");
    assert_eq!(record.payload["reason"], "expired");
    assert!(record.seq > written.seq);
    assert_eq!(code(&client.kv_get("acme", "sessions", "s1").await.expect_err("expired")), "key_not_found");
    let listed = client.kv_list("acme", "sessions", None, None, None).await.unwrap();
    assert_eq!(listed.keys.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(), vec!["s2"]);
    // Create-only succeeds on an expired key.
    let again = client
        .kv_put("acme", "sessions", "s1", b"carol".to_vec(), &KvPutOptions::when(KvCondition::Absent))
        .await
        .expect("create-only after expiry");
    assert_eq!(again.revision, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_redeliver_after_the_lease_then_dead_letter_and_redrive() {
    let server = TestServer::start();
    let client = server.client();
    let body = json!({ "address": "acme:jobs", "kind": "topic.message", "max_deliveries": 2 });
    let created = client.put_subscription("acme", "workers", &body).await.expect("create");
    assert_eq!(created["pending"], 0);
    publish(&client, "other", 0).await; // not matched by the filter
    let seqs =
        [publish(&client, "jobs", 1).await, publish(&client, "jobs", 2).await, publish(&client, "jobs", 3).await];

    // The lease is long enough that the pull just after this one surely falls inside it, and
    // short enough to wait out (twice) below.
    let first = client.pull("acme", "workers", &pull(10, LEASE)).await.expect("pull");
    let got: Vec<(u64, u32)> = first.records.iter().map(|r| (r.record.seq, r.deliveries)).collect();
    assert_eq!(got, seqs.iter().map(|s| (*s, 1)).collect::<Vec<_>>());
    // Leased records are not handed to another consumer meanwhile.
    assert!(client.pull("acme", "workers", &pull(10, LEASE)).await.unwrap().records.is_empty());
    assert_eq!(client.ack("acme", "workers", &[seqs[0]]).await.unwrap().acked, 1);

    // The unacked two come back after their lease (pulls before then get nothing), counted.
    let second = wait_until("the unacked records to be redelivered", PATIENCE, || async {
        let pulled = client.pull("acme", "workers", &pull(10, LEASE)).await.unwrap();
        (!pulled.records.is_empty()).then_some(pulled)
    })
    .await;
    let got: Vec<(u64, u32)> = second.records.iter().map(|r| (r.record.seq, r.deliveries)).collect();
    assert_eq!(got, vec![(seqs[1], 2), (seqs[2], 2)]);

    // A third lease would exceed max_deliveries: once the second lease ends they become dead
    // letters instead of being handed out again.
    let status = wait_for(
        "the twice-delivered records to become dead letters",
        PATIENCE,
        || async {
            let pulled = client.pull("acme", "workers", &pull(10, LEASE)).await.unwrap();
            assert!(pulled.records.is_empty(), "delivered a third time: {:?}", pulled.records);
            client.get_subscription("acme", "workers").await.unwrap()
        },
        |status| status["dead_letters"] == 2,
    )
    .await;
    assert_eq!(
        (status["pending"].as_u64(), status["dead_letters"].as_u64(), status["lag"].as_u64()),
        (Some(0), Some(2), Some(0))
    );
    let dead = client.dead_letters("acme", "workers").await.unwrap();
    let dead_seqs: Vec<u64> =
        dead["dead_letters"].as_array().unwrap().iter().map(|d| d["seq"].as_u64().unwrap()).collect();
    assert_eq!(dead_seqs, vec![seqs[1], seqs[2]]);
    assert_eq!(dead["dead_letters"][0]["record"]["payload"]["payload"]["n"], 2);

    // Redriven, a dead letter is delivered again from a fresh count.
    assert_eq!(client.redrive("acme", "workers", Some(&[seqs[2]])).await.unwrap(), 1);
    let third = client.pull("acme", "workers", &pull(10, "30s")).await.unwrap();
    assert_eq!(third.records.iter().map(|r| (r.record.seq, r.deliveries)).collect::<Vec<_>>(), vec![(seqs[2], 1)]);
    assert_eq!(client.ack("acme", "workers", &[seqs[2]]).await.unwrap().acked, 1);

    // A pull that is already waiting when a matching record is written returns it, long before
    // its wait ends.
    let waiter = {
        let client = client.clone();
        tokio::spawn(async move {
            let options = PullOptions { max: Some(5), lease: None, wait: Some("60s".into()) };
            client.pull("acme", "workers", &options).await
        })
    };
    let pulls = r#"switchyard_http_requests_in_flight{route="/v1/spaces/{space}/subscriptions/{name}/pull"}"#;
    wait_until("the pull to be waiting at the server", PATIENCE, || async {
        (support::series(&client, pulls).await == Some(1.0)).then_some(())
    })
    .await;
    let fourth = publish(&client, "jobs", 4).await;
    let waited = within("the waiting pull to answer", Duration::from_secs(30), waiter).await.unwrap();
    assert_eq!(waited.unwrap().records.iter().map(|r| r.record.seq).collect::<Vec<_>>(), vec![fourth]);

    // A nack names the lease it ends (seq and delivery count): a stale one ends nothing.
    assert_eq!(client.nack("acme", "workers", &[(fourth, 2)]).await.unwrap().released, 0);
    assert!(client.pull("acme", "workers", &pull(5, "30s")).await.unwrap().records.is_empty());
    assert_eq!(client.nack("acme", "workers", &[(fourth, 1)]).await.unwrap().released, 1);
    let again = client.pull("acme", "workers", &pull(5, "30s")).await.unwrap();
    assert_eq!(again.records.iter().map(|r| (r.record.seq, r.deliveries)).collect::<Vec<_>>(), vec![(fourth, 2)]);

    // Unknown subscriptions and bad arguments are refused with their codes.
    let missing = client.pull("acme", "nobody", &pull(1, "1s")).await.expect_err("missing");
    assert_eq!(code(&missing), "subscription_not_found");
    let changed = client.put_subscription("acme", "workers", &json!({ "address": "acme:other" })).await;
    assert_eq!(code(&changed.expect_err("filter change")), "subscription_exists");
    let bad = client.pull("acme", "workers", &pull(0, "1s")).await.expect_err("max 0");
    assert_eq!(code(&bad), "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_state_survives_a_sigkill_and_leases_end_after_it() {
    let mut server = TestServer::start();
    let client = server.client();
    client.put_subscription("acme", "mailer", &json!({ "address": "acme:mail" })).await.expect("create");
    let mut published = Vec::new();
    for n in 0..40 {
        published.push(publish(&client, "mail", n).await);
    }
    // A consumer leases 20, acks 5 and dies; the server is killed too.
    let leased = client.pull("acme", "mailer", &pull(20, "1s")).await.unwrap();
    assert_eq!(leased.records.len(), 20);
    let acked: Vec<u64> = leased.records.iter().take(5).map(|r| r.record.seq).collect();
    assert_eq!(client.ack("acme", "mailer", &acked).await.unwrap().acked, 5);
    let data_dir = server.data_dir.clone();
    let token = server.admin_token.clone();
    server.kill();

    let server = TestServer::start_node(&data_dir, &[], &token);
    let client = server.client();
    let status = client.get_subscription("acme", "mailer").await.expect("the subscription survived");
    assert_eq!(status["pending"], 15, "{status}");
    // Everything not acked is delivered after the restart: the 15 leased ones once their lease
    // ends (counted as second deliveries), the 20 never leased as first ones.
    let delivered = std::sync::Mutex::new(HashMap::<u64, u32>::new());
    wait_until("all 35 unacked records to be delivered", PATIENCE, || async {
        let options = PullOptions { max: Some(50), lease: Some("60s".into()), wait: Some("2s".into()) };
        let records = client.pull("acme", "mailer", &options).await.unwrap().records;
        let mut delivered = delivered.lock().unwrap();
        for r in records {
            assert!(delivered.insert(r.record.seq, r.deliveries).is_none(), "seq {} delivered twice", r.record.seq);
        }
        (delivered.len() >= 35).then_some(())
    })
    .await;
    let delivered = delivered.into_inner().unwrap();
    let expected: BTreeSet<u64> = published.iter().copied().filter(|s| !acked.contains(s)).collect();
    assert_eq!(delivered.keys().copied().collect::<BTreeSet<_>>(), expected);
    for r in &leased.records[5..] {
        assert_eq!(delivered[&r.record.seq], 2, "a lease from before the crash counts");
    }
    assert_eq!(delivered.values().filter(|d| **d == 1).count(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_trims_the_log_but_not_what_a_subscription_has_not_acked() {
    let server = TestServer::start_with(&["--log-retention", "1s", "--maintenance-interval", "500ms"]);
    let client = server.client();
    let old = publish(&client, "audit", 0).await;
    client.put_subscription("acme", "billing", &json!({ "address": "acme:invoices" })).await.unwrap();
    let kept = publish(&client, "invoices", 1).await;
    for n in 0..5 {
        publish(&client, "audit", n).await;
    }
    let published = std::time::Instant::now();
    // Past the retention age, everything before the unacked invoice goes, nothing after it: once
    // every record is older than the retention age, a whole maintenance pass that began after
    // that must still stop at the invoice.
    wait_until("the log to be trimmed", PATIENCE, || async {
        (gauge(&client, "switchyard_log_oldest_seq").await > old).then_some(())
    })
    .await;
    wait_until("every record to be past the retention age", PATIENCE, || async {
        (published.elapsed() > Duration::from_millis(1100)).then_some(())
    })
    .await;
    let passes = gauge(&client, "switchyard_maintenance_passes").await;
    wait_until("a whole maintenance pass after that", PATIENCE, || async {
        (gauge(&client, "switchyard_maintenance_passes").await >= passes + 2).then_some(())
    })
    .await;
    assert_eq!(gauge(&client, "switchyard_log_oldest_seq").await, kept, "trimmed past an unacked record");
    // A watch from before the oldest kept record is told what is left.
    let e = match client.watch("acme", &WatchQuery { from: Some("1".into()), ..Default::default() }).await {
        Ok(mut w) => within("the stream's error", PATIENCE, w.next()).await.expect_err("seq_expired in the stream"),
        Err(e) => e,
    };
    assert_eq!(code(&e), "seq_expired");
    let delivered = client.pull("acme", "billing", &pull(10, "30s")).await.unwrap();
    assert_eq!(delivered.records.iter().map(|r| r.record.seq).collect::<Vec<_>>(), vec![kept]);
    client.ack("acme", "billing", &[kept]).await.unwrap();
    // Once acked, the record goes too; retention always keeps the newest record.
    let newest = gauge(&client, "switchyard_log_newest_seq").await;
    wait_until("the acked record to be trimmed", PATIENCE, || async {
        (gauge(&client, "switchyard_log_oldest_seq").await == newest).then_some(())
    })
    .await;
    assert_eq!(gauge(&client, "switchyard_log_records").await, 1);
    assert!(gauge(&client, "switchyard_store_file_bytes").await > 0);
    let _: Value = client.get_subscription("acme", "billing").await.unwrap();
}
