//! The function host-call boundary, fuzzed from a real guest.
//!
//! What a guest hands the host is decoded in `switchyard_runtime`'s `host.rs` (bucket grants,
//! instance addresses, payload and message JSON, outgoing HTTP requests, log lines) and then
//! in the engine's host implementation (KV keys, event names, topic names, JSON values), both
//! private. The narrowest public way in is the one a tenant has: a deployed function. The
//! `misbehave` example relays its input to a host call — `kv` (bucket, key), `send` (instance,
//! event), `publish` (topic, message), `http` (url), `config` (secret), `log` (lines), `fail`
//! (error code) — so fuzzing its input fuzzes each call's arguments through the real router,
//! engine, runtime and store.
//!
//! Properties, per call: the answer is the function's output or the API's error body with a
//! code (5xx only for the runtime's `function_*` codes, never `internal`); the server keeps
//! serving its fixtures; and at the end the log, everything published included, reads back.

mod fuzz_support;

use axum::http::Method;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use fuzz_support::{JSON, Server, any_json, check_answer, deep_json, path};

/// Text that names things: valid names, near misses, other spaces, odd characters.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(&[
            "b", "k", "order:o-1", "acme:order:o-1", "other:order:o-1", "order:nope", "order", "a:b:c:d", "pay",
            "cancel", "t", "", " ", "..", "../b", "b/../c", "*", "http://127.0.0.1:9/", "https://127.0.0.1:9/x",
            "http://[::1]:9/", "http://0x7f.1:9/", "http://localhost:9/", "http://example.com/", "file:///etc/passwd",
            "function_timeout", "capability_denied", "internal", "token", "greeting",
        ][..])
        .prop_map(str::to_owned),
        2 => "[a-zA-Z0-9:/._-]{0,24}",
        1 => "\\PC{0,24}",
        1 => (0usize..2).prop_map(|k| "n".repeat([300, 5000][k])),
    ]
}

/// Mostly valid topic names, so that messages of every shape get past the name check.
fn topic() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[a-z][a-z0-9._-]{0,10}", 1 => name()]
}

/// An input for `misbehave` that makes exactly one kind of host call.
fn input() -> impl Strategy<Value = Value> {
    prop_oneof![
        (name(), name()).prop_map(|(bucket, key)| json!({"do": "kv", "bucket": bucket, "key": key})),
        (name(), name()).prop_map(|(instance, event)| json!({"do": "send", "instance": instance, "event": event})),
        (topic(), prop_oneof![any_json(), deep_json()])
            .prop_map(|(topic, message)| json!({"do": "publish", "topic": topic, "message": message})),
        name().prop_map(|url| json!({"do": "http", "url": url})),
        name().prop_map(|secret| json!({"do": "config", "secret": secret})),
        (0u64..300).prop_map(|lines| json!({"do": "log", "lines": lines})),
        name().prop_map(|code| json!({"do": "fail", "code": code})),
    ]
}

fn cases() -> u32 {
    std::env::var("FUZZ_HOST_CALLS_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1024)
}

#[test]
fn host_calls_with_arbitrary_arguments_answer_cleanly_and_the_log_stays_readable() {
    let server = Server::start();
    let invoke = path("/functions/f/invoke");
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let calls = std::cell::Cell::new(0u64);
    // What the calls did, by kind and status: printed, so a run shows what it reached.
    let outcomes = std::cell::RefCell::new(std::collections::BTreeMap::<(String, u16), u64>::new());
    let deepest_published = std::cell::Cell::new(0usize);
    let result = runner.run(&input(), |input| {
        let body = serde_json::to_vec(&input).expect("serialises");
        let answer = server.send(Method::POST, &invoke, Some(body), Some(JSON));
        calls.set(calls.get() + 1);
        let kind = input["do"].as_str().unwrap_or_default().to_owned();
        if kind == "publish" && answer.status.is_success() {
            deepest_published.set(deepest_published.get().max(switchyard_model::json::depth(&input["message"])));
        }
        *outcomes.borrow_mut().entry((kind, answer.status.as_u16())).or_default() += 1;
        let what = format!(
            "invoke with {}",
            String::from_utf8_lossy(&serde_json::to_vec(&input).unwrap_or_default())
                .chars()
                .take(300)
                .collect::<String>()
        );
        check_answer(&what, &answer, true)?;
        server.check_still_serving()
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(calls.get() >= u64::from(cases()));
    eprintln!("host calls by kind and status: {:?}", outcomes.borrow());
    eprintln!("deepest message published: {} levels", deepest_published.get());
    // Everything the calls wrote reads back: the subscription seeded "from earliest" walks the
    // whole log, published messages and events included.
    loop {
        let pulled = server.send(Method::POST, &path("/subscriptions/s/pull?max=100"), None, None);
        assert!(pulled.status.is_success(), "pulling the log after the calls: {pulled:?}");
        let records = pulled.json()["records"].as_array().cloned().unwrap_or_default();
        if records.is_empty() {
            break;
        }
        let seqs: Vec<Value> = records.iter().map(|r| r["seq"].clone()).collect();
        let acked = server.send(
            Method::POST,
            &path("/subscriptions/s/ack"),
            Some(serde_json::to_vec(&json!({"seqs": seqs})).unwrap()),
            Some(JSON),
        );
        assert!(acked.status.is_success(), "acking: {acked:?}");
    }
    let history = server.send(Method::GET, &path("/machines/order/instances/o-1/history"), None, None);
    assert!(history.status.is_success(), "history after the calls: {history:?}");
}

/// A denied host call reaches nothing and says why: the baseline the fuzzing relies on.
#[test]
fn host_calls_outside_the_grants_are_denied_with_a_code() {
    let server = Server::start();
    let invoke = path("/functions/f/invoke");
    let denied_bucket =
        server.send(Method::POST, &invoke, Some(br#"{"do":"kv","bucket":"other","key":"k"}"#.to_vec()), Some(JSON));
    assert!(!denied_bucket.status.is_success(), "{denied_bucket:?}");
    check_answer("kv other", &denied_bucket, true).unwrap();
    let other_space = server.send(
        Method::POST,
        &invoke,
        Some(br#"{"do":"send","instance":"other:order:o-1","event":"pay"}"#.to_vec()),
        Some(JSON),
    );
    assert!(!other_space.status.is_success(), "{other_space:?}");
    let granted =
        server.send(Method::POST, &invoke, Some(br#"{"do":"kv","bucket":"b","key":"k"}"#.to_vec()), Some(JSON));
    assert_eq!(granted.json(), json!({"value": "v"}), "{granted:?}");
}
