//! Conformance cases for WebAssembly functions and their invocation records.
//!
//! What they prove, on every backend: a function's versions count 1, 2, 3… and a deploy equal
//! to the latest version (digest and configuration, compared as JSON values) stores nothing;
//! each new version is logged once; invocation records round-trip every field and list by seq
//! in pages; an asynchronous invocation's idempotency key finds the original even under
//! concurrent enqueues; an enqueue writes the invocation's job in the same transaction, and the
//! record follows its job through every change (a reported attempt, a retry, a lease that
//! ended, death, re-drive, cancellation, deletion), logging each end once; a worker that no
//! longer holds the job changes nothing; purging forgets only finished records older than the
//! cut-off; and all of it survives a restart.

use std::collections::HashSet;

use serde_json::{Value, json};
use switchyard_model::jobs::{FairCursor, Jitter, JobStatus, RetryPolicy, SpaceLimits};
use switchyard_model::{
    FUNCTION_COMPLETED, FUNCTION_DEPLOYED, FunctionSpec, FunctionSummary, INVOCATION_JOB, InvocationRecord,
    InvocationStatus, JobError, JobRecord, Seq, Timestamp, job_kinds,
};

use super::{Case, Harness, seg, space};
use crate::clock::ManualClock;
use crate::functions::*;
use crate::types::*;
use crate::{
    AttemptOutcome, CancelJob, Clock, DeleteJob, EnqueueInvocation, FinishJob, FunctionPut, InvocationEnqueued,
    JobFinished, JobReport, LeaseJobs, PurgeInvocations, PutFunction, RecordInvocations, RetryJob, Store, StoreError,
    SystemClock,
};

/// This module's cases, by name.
pub(super) fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("functions_count_versions_that_change_something", |h| Box::pin(versions(h))),
        ("invocation_records_round_trip_and_list_in_pages", |h| Box::pin(records(h))),
        ("enqueue_is_idempotent_per_function_and_key", |h| Box::pin(enqueue_idempotency(h))),
        ("an_enqueue_writes_the_invocations_job_leased_by_one_worker", |h| Box::pin(invocation_jobs(h))),
        ("an_invocation_follows_its_job_through_every_change", |h| Box::pin(follows_its_job(h))),
        ("purge_forgets_finished_invocations_before_the_cutoff", |h| Box::pin(purge(h))),
        ("functions_and_invocations_survive_reopen", |h| Box::pin(survive_reopen(h))),
    ]
}

const SPACE: &str = "acme";

/// A stand-in for the component's SHA-256: the store only compares digests.
fn digest(component: &[u8]) -> String {
    component.iter().map(|b| format!("{b:02x}")).collect()
}

/// A deploy of `component` with `config`.
/// Who the cases deploy as.
fn deployer() -> switchyard_model::Actor {
    switchyard_model::Actor { id: "usr_dev".into(), kind: "user".into(), name: "dev".into() }
}

fn spec(sp: &str, name: &str, component: &[u8], config: Value) -> FunctionSpec {
    FunctionSpec { space: space(sp), name: seg(name), component: component.to_vec(), digest: digest(component), config }
}

/// Deploys, expecting `FunctionPut`; returns (summary, created).
async fn deploy<S: Store>(store: &S, spec: FunctionSpec) -> (FunctionSummary, bool) {
    match store.write(WriteOp::PutFunction(PutFunction { spec, by: deployer() })).await.expect("put function") {
        WriteOutcome::FunctionPut(FunctionPut { summary, created, .. }) => (summary, created),
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// A finished synchronous invocation with every field set.
fn finished(id: &str, function: &str, created_at: i64) -> InvocationRecord {
    InvocationRecord {
        id: id.to_string(),
        space: space(SPACE),
        function: seg(function),
        version: 3,
        status: InvocationStatus::Succeeded,
        is_async: false,
        attempt: 1,
        idempotency_key: Some(format!("key-{id}")),
        context: json!({ "trace_id": format!("trace-{id}"), "caller": { "machine": "order", "instance": "o-1" } }),
        input: Some(vec![0xff, 0x00, b'{', 0x80]),
        input_content_type: "application/octet-stream".to_string(),
        input_size: 4,
        output: Some(br#"{"ok":true}"#.to_vec()),
        output_content_type: "application/json".to_string(),
        output_size: 11,
        error: None,
        logs: json!([{ "level": "info", "message": format!("ran {id}") }]),
        created_at: Timestamp(created_at),
        finished_at: Some(Timestamp(created_at + 7)),
        duration_us: Some(6_543),
        seq: 0,
    }
}

/// A failed synchronous invocation with the optional fields left out.
fn failed(id: &str, function: &str, created_at: i64) -> InvocationRecord {
    InvocationRecord {
        status: InvocationStatus::Failed,
        idempotency_key: None,
        input: None,
        output: None,
        output_content_type: String::new(),
        output_size: 0,
        error: Some(json!({ "code": "trap", "message": "unreachable executed" })),
        logs: json!([]),
        duration_us: None,
        ..finished(id, function, created_at)
    }
}

/// A pending asynchronous invocation, as an enqueue writes it.
fn pending(id: &str, function: &str, key: Option<&str>) -> InvocationRecord {
    InvocationRecord {
        status: InvocationStatus::Pending,
        is_async: true,
        attempt: 0,
        idempotency_key: key.map(str::to_string),
        input: Some(br#"{"width":100}"#.to_vec()),
        input_content_type: "application/json".to_string(),
        input_size: 13,
        output: None,
        output_content_type: String::new(),
        output_size: 0,
        error: None,
        logs: json!([]),
        finished_at: None,
        duration_us: None,
        ..finished(id, function, SystemClock.now().0)
    }
}

/// Records invocations, expecting `InvocationsRecorded`.
async fn record<S: Store>(store: &S, records: Vec<InvocationRecord>) -> u64 {
    match store.write(WriteOp::RecordInvocations(RecordInvocations { records })).await.expect("record invocations") {
        WriteOutcome::InvocationsRecorded(n) => n,
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// The retry policy of the cases' invocations: 2 attempts, 1 s apart.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        initial_ms: 1_000,
        multiplier: 2.0,
        max_ms: 60_000,
        jitter: Jitter::None,
        deadline_ms: None,
        non_retryable: Vec::new(),
    }
}

/// The enqueue of a pending record.
fn enqueue_op(record: InvocationRecord) -> WriteOp {
    WriteOp::EnqueueInvocation(EnqueueInvocation { record, retry: policy() })
}

/// Enqueues, expecting `InvocationEnqueued`; returns (record as stored, replayed).
async fn enqueue<S: Store>(store: &S, record: InvocationRecord) -> (InvocationRecord, bool) {
    match store.write(enqueue_op(record)).await.expect("enqueue") {
        WriteOutcome::InvocationEnqueued(InvocationEnqueued { record, replayed }) => (record, replayed),
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// Leases up to `max` due jobs for `owner` (for a minute); returns the jobs and how many ended
/// leases were taken back.
async fn lease<S: Store>(store: &S, owner: &str, max: u32) -> (Vec<JobRecord>, u32) {
    let request = LeaseJobs {
        owner: owner.into(),
        max,
        lease_ms: 60_000,
        limits: SpaceLimits::new(1_000),
        cursor: FairCursor::default(),
        random: 0.5,
    };
    match store.write(WriteOp::LeaseJobs(request)).await.expect("lease") {
        WriteOutcome::JobsLeased(leased) => (leased.jobs, leased.expired),
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// Ends `job`'s attempt as `owner` with `outcome`, reporting `record` for its invocation.
async fn report<S: Store>(
    store: &S,
    job: &JobRecord,
    owner: &str,
    outcome: AttemptOutcome,
    record: InvocationRecord,
) -> JobFinished {
    let finish = FinishJob {
        instance: None,
        space: job.space.clone(),
        id: job.id.clone(),
        owner: owner.into(),
        attempt: job.attempt,
        outcome,
        report: Some(JobReport::Invocation(Box::new(record))),
    };
    match store.write(WriteOp::FinishJob(finish)).await.expect("finish") {
        WriteOutcome::JobFinished(finished) => finished,
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// A failed attempt's outcome.
fn failure(code: &str) -> AttemptOutcome {
    AttemptOutcome::Failed {
        error: JobError { code: code.into(), message: format!("{code} happened") },
        retry_after_ms: None,
        permanent: false,
        random: 0.5,
    }
}

/// What a worker reports for an attempt that returned `output`.
fn succeeded(record: &InvocationRecord, output: &[u8]) -> InvocationRecord {
    InvocationRecord {
        status: InvocationStatus::Succeeded,
        output: Some(output.to_vec()),
        output_size: output.len() as u64,
        output_content_type: "application/json; charset=utf-8".into(),
        logs: json!([{ "level": "info", "message": "resized" }]),
        duration_us: Some(1_234),
        ..record.clone()
    }
}

/// What a worker reports for an attempt that failed with `code`.
fn failed_with(record: &InvocationRecord, code: &str) -> InvocationRecord {
    InvocationRecord {
        status: InvocationStatus::Failed,
        error: Some(json!({ "code": code, "message": format!("{code} happened") })),
        logs: json!([{ "level": "error", "message": code }]),
        duration_us: Some(10),
        ..record.clone()
    }
}

/// The kinds and payloads of `acme:resize`'s `function.completed` records after `after`.
async fn completions<S: Store>(store: &S, after: Seq) -> Vec<Value> {
    let log = store.history("acme:resize", after, 100).await.expect("history");
    assert!(log.iter().all(|r| r.kind == FUNCTION_COMPLETED), "{log:?}");
    log.into_iter().map(|r| r.payload).collect()
}

/// Purges, expecting `InvocationsPurged`.
async fn purge_op<S: Store>(store: &S, before: i64, limit: u32) -> u64 {
    match store
        .write(WriteOp::PurgeInvocations(PurgeInvocations { before: Timestamp(before), limit }))
        .await
        .expect("purge")
    {
        WriteOutcome::InvocationsPurged(n) => n,
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// A page of the test space's invocations.
async fn list<S: Store>(store: &S, function: Option<&str>, after: Option<u64>, limit: u32) -> Vec<InvocationRecord> {
    let query = ListInvocations { space: space(SPACE), function: function.map(seg), after, limit };
    store.list_invocations(&query).await.expect("list invocations")
}

/// The ids of records.
fn ids(records: &[InvocationRecord]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

/// An invocation of the test space, which must exist.
async fn stored<S: Store>(store: &S, id: &str) -> InvocationRecord {
    store.get_invocation(&space(SPACE), id).await.expect("get invocation").unwrap_or_else(|| panic!("{id} is stored"))
}

/// Versions count 1, 2, 3 for deploys that change the digest or the configuration; listing
/// shows each function's latest; only new versions are logged.
async fn versions<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let before = SystemClock.now();
    let (c1, c2) = (b"\0asm\x0d\0\x01\0 one".to_vec(), b"\0asm\x0d\0\x01\0 two!".to_vec());
    let config1 = json!({ "limits": { "memory_mb": 64, "timeout_ms": 500 }, "grants": ["kv:read"] });
    let (v1, created) = deploy(&*store, spec(SPACE, "resize", &c1, config1.clone())).await;
    assert!(created, "the first deploy creates version 1");
    assert_eq!((v1.space.as_str(), v1.name.as_str(), v1.version), (SPACE, "resize", 1));
    assert_eq!((v1.digest.as_str(), v1.size, &v1.config), (digest(&c1).as_str(), c1.len() as u64, &config1));
    assert!(v1.created_at >= before);

    let (again, created) = deploy(&*store, spec(SPACE, "resize", &c1, config1.clone())).await;
    assert!(!created, "the same component and configuration create nothing");
    assert_eq!(again, v1, "the latest version is returned as stored");
    // The same configuration written with its keys in another order is the same value.
    let reordered = json!({ "grants": ["kv:read"], "limits": { "timeout_ms": 500, "memory_mb": 64 } });
    let (again, created) = deploy(&*store, spec(SPACE, "resize", &c1, reordered)).await;
    assert!(!created && again.version == 1, "configurations are compared as values, not text");

    let config2 = json!({ "limits": { "memory_mb": 128, "timeout_ms": 500 }, "grants": ["kv:read"] });
    let (v2, created) = deploy(&*store, spec(SPACE, "resize", &c1, config2.clone())).await;
    assert!(created && v2.version == 2, "a changed configuration is version 2: {v2:?}");
    let (v3, created) = deploy(&*store, spec(SPACE, "resize", &c2, config2.clone())).await;
    assert!(created && v3.version == 3, "a changed component is version 3: {v3:?}");
    assert_eq!((v3.digest.as_str(), v3.size), (digest(&c2).as_str(), c2.len() as u64));

    let latest = store.get_function(&space(SPACE), &seg("resize"), None).await.expect("get").expect("deployed");
    assert_eq!(latest.summary, v3);
    assert_eq!(latest.component, c2, "the latest version's bytes");
    let first = store.get_function(&space(SPACE), &seg("resize"), Some(1)).await.expect("get").expect("v1");
    assert_eq!((first.summary, first.component), (v1.clone(), c1.clone()), "version 1 keeps its bytes");
    assert!(store.get_function(&space(SPACE), &seg("resize"), Some(4)).await.expect("get").is_none());
    assert!(store.get_function(&space(SPACE), &seg("resize"), Some(u64::MAX)).await.expect("get").is_none());
    assert!(store.get_function(&space(SPACE), &seg("nope"), None).await.expect("get").is_none());
    assert!(store.get_function(&space("other"), &seg("resize"), None).await.expect("get").is_none());
    let all = store.function_versions(&space(SPACE), &seg("resize")).await.expect("versions");
    assert_eq!(all, vec![v1.clone(), v2.clone(), v3.clone()], "every version, oldest first");
    assert!(store.function_versions(&space(SPACE), &seg("nope")).await.expect("versions").is_empty());

    let (alpha, _) = deploy(&*store, spec(SPACE, "alpha", b"alpha", json!({}))).await;
    let (zeta, _) = deploy(&*store, spec("other", "zeta", b"zeta", json!(null))).await;
    let listed = store.list_functions(&space(SPACE)).await.expect("list");
    assert_eq!(listed, vec![alpha, v3.clone()], "each function's latest version, by name");
    assert_eq!(store.list_functions(&space("other")).await.expect("list"), vec![zeta]);
    assert!(store.list_functions(&space("empty")).await.expect("list").is_empty());
    let spaces: Vec<String> = store.list_spaces().await.expect("spaces").iter().map(|s| s.name.to_string()).collect();
    assert_eq!(spaces, vec![SPACE, "other"], "a deploy registers its space");

    // One `function.deployed` record per created version, naming who deployed it, none for the
    // deploys that changed nothing.
    let log = store.history("acme:resize", Seq(0), 100).await.expect("history");
    assert!(log.iter().all(|r| r.kind == FUNCTION_DEPLOYED && r.space.as_str() == SPACE), "{log:?}");
    let payloads: Vec<&Value> = log.iter().map(|r| &r.payload).collect();
    assert_eq!(
        payloads,
        vec![
            &json!({ "version": 1, "digest": digest(&c1), "size": c1.len(), "principal": deployer() }),
            &json!({ "version": 2, "digest": digest(&c1), "size": c1.len(), "principal": deployer() }),
            &json!({ "version": 3, "digest": digest(&c2), "size": c2.len(), "principal": deployer() }),
        ]
    );
    assert_eq!(store.read_log(Seq(0), 100).await.expect("log").len(), 5, "3 resize versions, alpha and zeta");

    // A deploy in a batch that fails is undone with its log record.
    let batch = vec![
        WriteOp::PutFunction(PutFunction { spec: spec(SPACE, "batched", b"batched", json!({})), by: deployer() }),
        enqueue_op(finished("not-pending", "batched", 0)),
    ];
    match store.write_atomic(batch).await {
        Err(StoreError::BatchFailed { index: 1, .. }) => {}
        other => panic!("expected the enqueue to refuse the batch: {other:?}"),
    }
    assert!(store.get_function(&space(SPACE), &seg("batched"), None).await.expect("get").is_none());
    assert_eq!(store.read_log(Seq(0), 100).await.expect("log").len(), 5, "the batch appended nothing");
}

/// Recorded invocations come back with every field as written, list by seq in both
/// directions, and append nothing to the log; an id is never stored twice.
async fn records<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let t = SystemClock.now().0;
    let written: Vec<InvocationRecord> = (0..6)
        .map(|i| {
            let (id, function) = (format!("inv-{i}"), if i % 2 == 0 { "a" } else { "b" });
            if i == 5 { failed(&id, function, t + i) } else { finished(&id, function, t + i) }
        })
        .collect();
    assert_eq!(record(&*store, written.clone()).await, 6);
    let mut elsewhere = finished("inv-elsewhere", "a", t);
    elsewhere.space = space("other");
    assert_eq!(record(&*store, vec![elsewhere]).await, 1);

    let listed = list(&*store, None, Some(0), 100).await;
    assert!(listed.iter().all(|r| r.input.is_none()), "a listing leaves the inputs out");
    let mut last = 0;
    for w in &written {
        let got = stored(&*store, &w.id).await;
        assert_eq!(got, InvocationRecord { seq: got.seq, ..w.clone() }, "every field round-trips");
        assert!(got.seq > last, "seqs follow the records' order");
        last = got.seq;
    }
    assert!(store.get_invocation(&space(SPACE), "unknown").await.expect("get").is_none());
    assert!(store.get_invocation(&space(SPACE), "inv-elsewhere").await.expect("get").is_none(), "another space's");
    assert!(store.get_invocation(&space("other"), "inv-0").await.expect("get").is_none(), "another space's");

    // Pages after a seq, ascending, filtered by function or not.
    let page = list(&*store, Some("a"), Some(0), 2).await;
    assert_eq!(ids(&page), vec!["inv-0", "inv-2"]);
    let page = list(&*store, Some("a"), Some(page[1].seq), 2).await;
    assert_eq!(ids(&page), vec!["inv-4"]);
    assert!(list(&*store, Some("a"), Some(page[0].seq), 2).await.is_empty());
    let all = list(&*store, None, Some(0), 100).await;
    assert_eq!(ids(&all), vec!["inv-0", "inv-1", "inv-2", "inv-3", "inv-4", "inv-5"], "the space's only");
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(ids(&list(&*store, None, Some(all[3].seq), 2).await), vec!["inv-4", "inv-5"]);
    assert!(list(&*store, None, Some(u64::MAX), 10).await.is_empty());
    // Without `after`: the newest `limit`, still oldest first.
    assert_eq!(ids(&list(&*store, None, None, 3).await), vec!["inv-3", "inv-4", "inv-5"]);
    assert_eq!(ids(&list(&*store, Some("b"), None, 2).await), vec!["inv-3", "inv-5"]);
    assert_eq!(ids(&list(&*store, Some("b"), None, 100).await), vec!["inv-1", "inv-3", "inv-5"]);
    assert!(list(&*store, Some("d"), None, 10).await.is_empty());

    // A stored id, or one named twice, refuses the whole write, and only that write.
    let neighbour = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write(WriteOp::RecordInvocations(RecordInvocations { records: vec![finished("inv-n", "c", t)] }))
                .await
        })
    };
    let dup = store
        .write(WriteOp::RecordInvocations(RecordInvocations {
            records: vec![finished("inv-6", "a", t), finished("inv-0", "a", t)],
        }))
        .await;
    assert!(refused_as_internal(&dup, "an invocation with id \"inv-0\" is already stored"), "{dup:?}");
    let neighbour = neighbour.await.expect("task");
    assert!(matches!(neighbour, Ok(WriteOutcome::InvocationsRecorded(1))), "a neighbour is not failed: {neighbour:?}");
    let twice = store
        .write(WriteOp::RecordInvocations(RecordInvocations {
            records: vec![finished("inv-7", "a", t), finished("inv-7", "b", t)],
        }))
        .await;
    assert!(refused_as_internal(&twice, "inv-7"), "{twice:?}");
    assert!(store.get_invocation(&space(SPACE), "inv-6").await.expect("get").is_none(), "nothing was recorded");
    assert!(store.get_invocation(&space(SPACE), "inv-7").await.expect("get").is_none(), "nothing was recorded");
    let unchanged = InvocationRecord { input: None, ..stored(&*store, "inv-0").await };
    assert_eq!(unchanged, all[0], "the stored record is unchanged");
    assert_eq!(record(&*store, Vec::new()).await, 0);
    assert!(store.read_log(Seq(0), 10).await.expect("log").is_empty(), "recording appends no log record");
}

/// An asynchronous invocation's idempotency key returns the first invocation, even to
/// concurrent enqueues; it is per function, and only asynchronous invocations hold one.
async fn enqueue_idempotency<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let request = pending("e-1", "resize", Some("k"));
    let (first, replayed) = enqueue(&*store, request.clone()).await;
    assert!(!replayed);
    assert!(first.seq > 0, "the store assigns a seq");
    assert_eq!(first, InvocationRecord { seq: first.seq, ..request }, "returned as stored");
    assert_eq!(stored(&*store, "e-1").await, first);
    let (second, replayed) = enqueue(&*store, pending("e-2", "resize", Some("k"))).await;
    assert!(replayed, "the same key finds the first invocation");
    assert_eq!(second, first);
    assert!(store.get_invocation(&space(SPACE), "e-2").await.expect("get").is_none(), "nothing new was stored");

    // Concurrent enqueues with one key and different ids, in rounds (so that on a backend
    // with several writers some land in different transactions): one is stored, all return it.
    const ROUNDS: usize = 16;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut results = Vec::new();
                for round in 0..ROUNDS {
                    let key = format!("race-{round}");
                    let (record, replayed) =
                        enqueue(&*store, pending(&format!("{key}-{i}"), "resize", Some(&key))).await;
                    results.push((round, record, replayed));
                }
                results
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await.expect("task"));
    }
    let stored_keys: Vec<(String, String)> = list(&*store, Some("resize"), Some(0), 1_000)
        .await
        .into_iter()
        .filter_map(|r| r.idempotency_key.filter(|k| k.starts_with("race-")).map(|k| (k, r.id)))
        .collect();
    assert_eq!(stored_keys.len(), ROUNDS, "one invocation stored per key: {stored_keys:?}");
    for round in 0..ROUNDS {
        let of_round: Vec<&(usize, InvocationRecord, bool)> = results.iter().filter(|(r, ..)| *r == round).collect();
        let winners: HashSet<&str> = of_round.iter().map(|(_, record, _)| record.id.as_str()).collect();
        assert_eq!(winners.len(), 1, "every enqueue of round {round} returned the same invocation: {winners:?}");
        assert_eq!(of_round.iter().filter(|(.., replayed)| !replayed).count(), 1, "exactly one was new");
        let key = format!("race-{round}");
        let stored_id = stored_keys.iter().find(|(k, _)| *k == key).map(|(_, id)| id.as_str());
        assert_eq!(stored_id, winners.into_iter().next(), "the one returned is the one stored");
    }

    // The key is per function.
    let (other, replayed) = enqueue(&*store, pending("e-3", "thumbnail", Some("k"))).await;
    assert!(!replayed && other.id == "e-3", "another function's key is another key");
    // Without a key every enqueue is new.
    let (a, replayed_a) = enqueue(&*store, pending("e-4", "resize", None)).await;
    let (b, replayed_b) = enqueue(&*store, pending("e-5", "resize", None)).await;
    assert!(!replayed_a && !replayed_b && a.id == "e-4" && b.id == "e-5" && a.seq < b.seq);
    // A synchronous invocation's key does not count.
    let mut sync = finished("s-1", "resize", SystemClock.now().0);
    sync.idempotency_key = Some("sync-key".into());
    record(&*store, vec![sync]).await;
    let (c, replayed) = enqueue(&*store, pending("e-6", "resize", Some("sync-key"))).await;
    assert!(!replayed && c.id == "e-6", "only asynchronous invocations hold a key");
    // A new id with a key already taken, or an id already stored, is refused.
    let taken = store
        .write(WriteOp::RecordInvocations(RecordInvocations { records: vec![pending("e-7", "resize", Some("k"))] }))
        .await;
    assert!(refused_as_internal(&taken, "with idempotency key \"k\" is already stored"), "{taken:?}");
    let twice = vec![pending("e-7", "resize", Some("twice")), pending("e-9", "resize", Some("twice"))];
    let twice = store.write(WriteOp::RecordInvocations(RecordInvocations { records: twice })).await;
    assert!(refused_as_internal(&twice, "twice"), "{twice:?}");
    let reused = store.write(enqueue_op(pending("e-1", "resize", Some("fresh")))).await;
    assert!(refused_as_internal(&reused, "an invocation with id \"e-1\" is already stored"), "{reused:?}");
    // Only pending asynchronous invocations are enqueued.
    let not_pending = store.write(enqueue_op(finished("e-8", "resize", 0))).await;
    assert!(matches!(not_pending, Err(StoreError::Internal(_))), "{not_pending:?}");
    for id in ["e-7", "e-8", "e-9"] {
        assert!(store.get_invocation(&space(SPACE), id).await.expect("get").is_none(), "{id} was refused");
    }
    // Each new enqueue logged its job's `job.enqueued`, and nothing else; a replay nothing.
    let log = store.read_log(Seq(0), 1_000).await.expect("log");
    assert!(log.iter().all(|r| r.kind == job_kinds::ENQUEUED), "{log:?}");
    let stored_count = list(&*store, None, Some(0), 1_000).await.into_iter().filter(|r| r.is_async).count();
    assert_eq!(log.len(), stored_count, "one job per stored asynchronous invocation");
    assert!(store.get_job(&space(SPACE), "e-2").await.expect("get").is_none(), "a replay enqueued no job");
}

/// An enqueue writes the invocation's job (the same id, kind `invocation`, the invocation's
/// policy) in its transaction; concurrent workers lease each job once; a lease that ends shows
/// on the record as the attempt's error.
async fn invocation_jobs<H: Harness>(h: &H) {
    let clock = ManualClock::new(Timestamp(1_000_000));
    let store = h.fresh_with_clock(clock.shared()).await;
    let (record, _) = enqueue(&*store, pending("j-1", "resize", Some("k"))).await;
    let job = store.get_job(&space(SPACE), "j-1").await.expect("get").expect("the job is stored with it");
    assert_eq!((job.kind.as_str(), job.target.as_str()), (INVOCATION_JOB, "acme:resize"));
    assert_eq!((job.status, job.attempt, job.run_at), (JobStatus::Pending, 0, Timestamp(1_000_000)));
    assert_eq!((job.retry.clone(), job.payload.clone()), (policy(), json!({ "function": "resize", "version": 3 })));
    assert_eq!(job.idempotency_key, None, "the invocation's key is the invocation's, per function");
    let (again, replayed) = enqueue(&*store, pending("j-2", "resize", Some("k"))).await;
    assert!(replayed && again == record);
    assert!(store.get_job(&space(SPACE), "j-2").await.expect("get").is_none(), "a replay enqueues no job");
    // A refused enqueue leaves no job behind.
    let refused = store.write(enqueue_op(pending("j-1", "resize", None))).await;
    assert!(refused_as_internal(&refused, "already stored"), "{refused:?}");

    // 40 invocations leased by 4 concurrent workers: each exactly once, all of them.
    let batch: Vec<WriteOp> = (0..40).map(|i| enqueue_op(pending(&format!("q-{i:02}"), "resize", None))).collect();
    assert_eq!(store.write_atomic(batch).await.expect("enqueue 40").len(), 40);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let (got, _) = lease(&*store, &format!("node-{w}"), 5).await;
                    if got.is_empty() {
                        break mine;
                    }
                    mine.extend(got);
                }
            })
        })
        .collect();
    let mut leased = Vec::new();
    for worker in workers {
        leased.extend(worker.await.expect("worker"));
    }
    let unique: HashSet<String> = leased.iter().map(|j| j.id.clone()).collect();
    assert_eq!(leased.len(), unique.len(), "no job was leased twice");
    let mut want: HashSet<String> = (0..40).map(|i| format!("q-{i:02}")).collect();
    want.insert("j-1".into());
    assert_eq!(unique, want, "together they leased all");
    assert_eq!(stored(&*store, "q-00").await.status, InvocationStatus::Pending, "running is pending to its record");

    // Every lease ends unrenewed: each attempt failed with `lease_expired`, to run again 1 s on.
    clock.advance(60_000);
    let (got, expired) = lease(&*store, "node-9", 0).await;
    assert!(got.is_empty());
    assert_eq!(expired, 41);
    let j1 = stored(&*store, "j-1").await;
    assert_eq!((j1.status, j1.attempt, j1.finished_at), (InvocationStatus::Pending, 1, None));
    assert_eq!(j1.error.as_ref().and_then(|e| e.get("code")), Some(&json!("lease_expired")), "{j1:?}");
    assert!(completions(&*store, Seq(0)).await.is_empty(), "nothing ended");
}

/// The record follows its job: a success, a retried failure, the last failure, a worker that
/// no longer holds the job, re-drive, cancellation and deletion; each end is logged once.
async fn follows_its_job<H: Harness>(h: &H) {
    let clock = ManualClock::new(Timestamp(2_000_000));
    let store = h.fresh_with_clock(clock.shared()).await;
    let (f1, _) = enqueue(&*store, pending("f-1", "resize", Some("k-1"))).await;
    let (job, _) = lease(&*store, "node-a", 1).await;
    let output = br#"{"width": 100, "format": "png"}"#;
    let finished = report(&*store, &job[0], "node-a", AttemptOutcome::Succeeded(None), succeeded(&f1, output)).await;
    assert_eq!(finished, JobFinished::Succeeded);
    let want = InvocationRecord { attempt: 1, finished_at: Some(Timestamp(2_000_000)), ..succeeded(&f1, output) };
    assert_eq!(stored(&*store, "f-1").await, want, "status, output, logs and times as reported; its input kept");
    let done = completions(&*store, Seq(0)).await;
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!((done[0]["invocation_id"].clone(), done[0]["status"].clone()), (json!("f-1"), json!("succeeded")));
    assert_eq!((done[0]["version"].clone(), done[0]["attempt"].clone()), (json!(3), json!(1)));
    assert_eq!(done[0]["duration_us"], 1_234);
    assert_eq!(done[0]["output"], json!({ "width": 100, "format": "png" }), "JSON output is embedded");
    let (mark, _) = store.read_log(Seq(0), 1_000).await.expect("log").last().map(|r| (r.seq, ())).expect("records");
    // A second report of the same attempt changes nothing.
    let again = report(&*store, &job[0], "node-a", failure("late"), failed_with(&f1, "late")).await;
    assert_eq!(again, JobFinished::NotHeld);
    assert_eq!(stored(&*store, "f-1").await, want, "unchanged");

    // A failed attempt the policy retries: pending, showing the attempt's error, nothing logged.
    let (f2, _) = enqueue(&*store, pending("f-2", "resize", None)).await;
    let (first, _) = lease(&*store, "node-a", 1).await;
    let retried = report(&*store, &first[0], "node-a", failure("guest_error"), failed_with(&f2, "guest_error")).await;
    assert_eq!(retried, JobFinished::Retrying(Timestamp(2_001_000)));
    let after_first = stored(&*store, "f-2").await;
    assert_eq!(
        (after_first.status, after_first.attempt, after_first.finished_at),
        (InvocationStatus::Pending, 1, None)
    );
    assert_eq!(after_first.error.as_ref().and_then(|e| e.get("code")), Some(&json!("guest_error")));
    assert!(completions(&*store, mark).await.is_empty(), "a retried attempt ends nothing");
    // The second attempt, on another node; the first worker's late report changes nothing.
    clock.advance(1_000);
    let (second, _) = lease(&*store, "node-b", 1).await;
    assert_eq!(second[0].attempt, 2);
    let stale = report(&*store, &first[0], "node-a", AttemptOutcome::Succeeded(None), succeeded(&f2, b"{}")).await;
    assert_eq!(stale, JobFinished::NotHeld);
    assert_eq!(stored(&*store, "f-2").await, after_first, "a stale worker changes nothing");
    let dead = report(&*store, &second[0], "node-b", failure("bad_input"), failed_with(&f2, "bad_input")).await;
    assert_eq!(dead, JobFinished::Dead);
    let failed_record = stored(&*store, "f-2").await;
    assert_eq!((failed_record.status, failed_record.attempt), (InvocationStatus::Failed, 2));
    assert_eq!(failed_record.finished_at, Some(Timestamp(2_001_000)));
    assert_eq!(failed_record.error, Some(json!({ "code": "bad_input", "message": "bad_input happened" })));
    let done = completions(&*store, mark).await;
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!((done[0]["status"].clone(), done[0]["attempt"].clone()), (json!("failed"), json!(2)));
    assert_eq!(done[0]["error"], json!({ "code": "bad_input", "message": "bad_input happened" }));
    assert!(done[0].get("output").is_none(), "{:?}", done[0]);

    // Re-driven: pending again from scratch; cancelled: failed, logged.
    let retry = WriteOp::RetryJob(RetryJob { space: space(SPACE), id: "f-2".into(), payload: None });
    store.write(retry).await.expect("re-drive");
    let redriven = stored(&*store, "f-2").await;
    assert_eq!(
        (redriven.status, redriven.attempt, redriven.error, redriven.finished_at),
        (InvocationStatus::Pending, 0, None, None)
    );
    store
        .write(WriteOp::CancelJob(CancelJob { space: space(SPACE), id: "f-2".into(), instance: None }))
        .await
        .expect("cancel");
    let cancelled = stored(&*store, "f-2").await;
    assert_eq!(cancelled.status, InvocationStatus::Failed);
    assert_eq!(cancelled.error.as_ref().and_then(|e| e.get("code")), Some(&json!("cancelled")));
    // Deleting a pending invocation's job fails the invocation; a finished one's leaves it.
    enqueue(&*store, pending("f-3", "resize", None)).await;
    store
        .write(WriteOp::DeleteJob(DeleteJob { space: space(SPACE), id: "f-3".into(), instance: None }))
        .await
        .expect("delete");
    let deleted = stored(&*store, "f-3").await;
    assert_eq!(deleted.status, InvocationStatus::Failed);
    assert_eq!(deleted.error.as_ref().and_then(|e| e.get("code")), Some(&json!("job_deleted")));
    store
        .write(WriteOp::DeleteJob(DeleteJob { space: space(SPACE), id: "f-1".into(), instance: None }))
        .await
        .expect("delete");
    assert_eq!(stored(&*store, "f-1").await, want, "a finished invocation is left as it is");
    let statuses: Vec<Value> = completions(&*store, mark).await.iter().map(|p| p["status"].clone()).collect();
    assert_eq!(statuses, vec![json!("failed"), json!("failed"), json!("failed")], "dead, cancelled, deleted");
}

/// A purge forgets up to `limit` finished records that finished before the cut-off, oldest
/// first, and never a pending one; seqs of forgotten records are not handed out again.
async fn purge<H: Harness>(h: &H) {
    let t = SystemClock.now().0;
    // The store's clock is 25 s behind, so the invocation finished through its job sorts
    // between the recorded ones.
    let clock = ManualClock::new(Timestamp(t - 25_000));
    let store = h.fresh_with_clock(clock.shared()).await;
    let old = |id: &str, finished_at: i64| InvocationRecord {
        finished_at: Some(Timestamp(finished_at)),
        ..failed(id, "resize", finished_at - 10)
    };
    record(&*store, vec![old("old-1", t - 30_000), old("old-2", t - 20_000), old("old-3", t - 10_000)]).await;
    let (first, _) = enqueue(&*store, pending("pending", "resize", None)).await;
    let (job, _) = lease(&*store, "node-a", 1).await;
    assert_eq!(job[0].id, "pending");
    let outcome = AttemptOutcome::Succeeded(None);
    assert_eq!(report(&*store, &job[0], "node-a", outcome, succeeded(&first, b"{}")).await, JobFinished::Succeeded);
    let (queued, _) = enqueue(&*store, pending("queued", "resize", None)).await;
    record(&*store, vec![old("new", t)]).await;
    let newest = stored(&*store, "new").await.seq;

    // Finished before t - 5 s: old-1, pending (finished at t - 25 s), old-2, old-3.
    assert_eq!(purge_op(&*store, t - 5_000, 3).await, 3, "at most `limit`");
    assert_eq!(ids(&list(&*store, None, Some(0), 100).await), vec!["old-3", "queued", "new"], "the earliest finished");
    assert_eq!(purge_op(&*store, t - 5_000, 10).await, 1);
    assert_eq!(purge_op(&*store, t - 5_000, 10).await, 0, "nothing else finished before the cut-off");
    assert_eq!(ids(&list(&*store, None, Some(0), 100).await), vec!["queued", "new"]);
    assert_eq!(purge_op(&*store, t + 1, 10).await, 1, "finished at t: before t + 1");
    assert_eq!(stored(&*store, "queued").await, queued, "a pending invocation is never purged");
    assert_eq!(purge_op(&*store, i64::MAX, 10).await, 0);

    record(&*store, vec![finished("after", "resize", t)]).await;
    assert!(stored(&*store, "after").await.seq > newest, "the seq of a purged record is not reused");
}

/// Versions, invocations, leases and seqs survive a restart.
async fn survive_reopen<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let t = SystemClock.now().0;
    deploy(&*store, spec(SPACE, "resize", b"v1", json!({ "n": 1 }))).await;
    let (v2, _) = deploy(&*store, spec(SPACE, "resize", b"v2", json!({ "n": 2 }))).await;
    record(&*store, vec![finished("sync", "resize", t), failed("sync-failed", "resize", t)]).await;
    enqueue(&*store, pending("leased", "resize", Some("k"))).await;
    assert_eq!(lease(&*store, "node-a", 1).await.0.len(), 1);
    enqueue(&*store, pending("queued", "resize", None)).await;
    let function = store.get_function(&space(SPACE), &seg("resize"), None).await.expect("get");
    let versions = store.function_versions(&space(SPACE), &seg("resize")).await.expect("versions");
    let invocations = list(&*store, None, Some(0), 100).await;
    assert_eq!(invocations.len(), 4);
    let log = store.read_log(Seq(0), 100).await.expect("log");

    let store = h.reopen(store).await;
    assert_eq!(store.get_function(&space(SPACE), &seg("resize"), None).await.expect("get"), function);
    assert_eq!(store.function_versions(&space(SPACE), &seg("resize")).await.expect("versions"), versions);
    assert_eq!(list(&*store, None, Some(0), 100).await, invocations);
    assert_eq!(store.read_log(Seq(0), 100).await.expect("log"), log);

    let (again, created) = deploy(&*store, spec(SPACE, "resize", b"v2", json!({ "n": 2 }))).await;
    assert_eq!((again, created), (v2, false), "the latest version is still found");
    let (v3, created) = deploy(&*store, spec(SPACE, "resize", b"v3", json!({ "n": 2 }))).await;
    assert!(created && v3.version == 3);
    let (replayed, was_replayed) = enqueue(&*store, pending("leased-2", "resize", Some("k"))).await;
    assert!(was_replayed && replayed.id == "leased", "the key still finds the first invocation");
    let (due, _) = lease(&*store, "node-b", 10).await;
    assert_eq!(due.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), vec!["queued"], "the lease is kept");
    let (fresh, _) = enqueue(&*store, pending("fresh", "resize", None)).await;
    assert!(invocations.iter().all(|r| r.seq < fresh.seq), "seqs continue after a restart");
}

/// Whether `result` is the refusal of a caller's bug (`StoreError::Internal`) whose message
/// holds `needle`: these writes must fail for the reason the case names, not for any reason.
fn refused_as_internal(result: &Result<WriteOutcome, StoreError>, needle: &str) -> bool {
    matches!(result, Err(StoreError::Internal(message)) if message.contains(needle))
}
