//! What used to pass in silence, against the real binary: a space is deleted with everything
//! in it (and only it), a space's creation is announced, an ack of records that were not
//! pending says so, and the `Idempotency-Key` header counts like the body's key.

mod support;

use switchyard_testkit::fixtures::ORDER_YAML;

use reqwest::Method;
use serde_json::{Value, json};
use support::TestServer;
use support::http::{Http, code};
use support::run::run;
use switchyard_client::{CreateToken, FunctionSettings, InvokeOptions, KvPutOptions, Publish, Role};
use switchyard_testkit::example_function_bytes;

/// The header naming the space a write created.
const CREATED: &str = "x-switchyard-space-created";

/// The note the CLI prints when a write created a space.
fn note(space: &str) -> String {
    format!(
        "note: space \"{space}\" did not exist and was created; if that was a typo: switchyard space delete {space} --yes"
    )
}

/// Writes the order machine to a file in `dir`; its path.
fn order_file(dir: &std::path::Path) -> String {
    let path = dir.join("order.yaml");
    std::fs::write(&path, ORDER_YAML).expect("write the definition");
    path.to_str().expect("a UTF-8 path").to_string()
}

/// A machine, an instance moved by an event, a KV key and a published message in `space`.
async fn populate(http: &Http, space: &str) {
    let (status, _) = http.put_yaml(&format!("/v1/spaces/{space}/machines/order"), ORDER_YAML).await;
    assert_eq!(status, 200);
    let instances = format!("/v1/spaces/{space}/machines/order/instances");
    let (status, body) = http.post(&instances, json!({ "id": "o-1", "ctx": { "amount": 5 } })).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) =
        http.post(&format!("{instances}/o-1/events"), json!({ "event": "pay", "payload": { "amount": 5 } })).await;
    assert_eq!(status, 200, "{body}");
    let key = format!("/v1/spaces/{space}/kv/config/keys/colour");
    let (status, _, body) = http.send_with(Method::PUT, &key, &[], Some(json!("blue"))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http.post(&format!("/v1/spaces/{space}/topics/news/messages"), json!({ "payload": 1 })).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_space_removes_its_data_and_functions_and_nothing_else() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let client = server.client();
    populate(&http, "acme").await;
    populate(&http, "beta").await;
    let (hello, settings) = (example_function_bytes("hello"), FunctionSettings::default());
    for space in ["acme", "beta"] {
        client.deploy_function(space, "hello", &hello, &settings).await.expect("deploy");
        let out = client.invoke(space, "hello", br#"{"name":"x"}"#.to_vec(), &InvokeOptions::default()).await;
        out.expect("the function answers before the deletion");
    }

    // A writer of the space may not delete it; an admin granted only that space may.
    let token = |role| CreateToken { name: "acme".into(), role, spaces: vec!["acme".into()], principal: None };
    let writer = client.create_token(&token(Role::Writer)).await.expect("writer token").token;
    let admin = client.create_token(&token(Role::Admin)).await.expect("admin token").token;
    let refused = run(server.cli().env("SWITCHYARD_TOKEN", &writer), &["space", "delete", "acme", "--yes"]).exits(1);
    assert!(refused.stderr.contains("forbidden"), "{}", refused.stderr);
    let deleted =
        run(server.cli().env("SWITCHYARD_TOKEN", &admin), &["--output", "json", "space", "delete", "acme", "--yes"])
            .exits(0);
    let deleted: Value = serde_json::from_str(&deleted.stdout).expect("JSON");
    assert_eq!(deleted["space"], "acme");
    let counts = &deleted["deleted"];
    for (kind, n) in [("machines", 1), ("instances", 1), ("kv_buckets", 1), ("kv_keys", 1), ("functions", 1)] {
        assert_eq!(counts[kind], n, "{kind}: {deleted}");
    }
    assert!(counts["log_records"].as_u64().unwrap_or(0) >= 6, "{deleted}");

    // Nothing of it answers any more, the function included (no node still runs it).
    for (path, expected) in [
        ("/v1/spaces/acme/machines/order", "machine_not_found"),
        ("/v1/spaces/acme/machines/order/instances/o-1", "instance_not_found"),
        ("/v1/spaces/acme/kv/config", "bucket_not_found"),
        ("/v1/spaces/acme/kv/config/keys/colour", "key_not_found"),
        ("/v1/spaces/acme/functions/hello", "function_not_found"),
    ] {
        let (status, body) = http.get(path).await;
        assert_eq!((status.as_u16(), code(&body)), (404, expected), "{path}: {body}");
    }
    let invoked = client.invoke("acme", "hello", b"{}".to_vec(), &InvokeOptions::default()).await;
    assert_eq!(invoked.expect_err("a deleted function does not run").code(), Some("function_not_found"));
    let (_, spaces) = http.get("/v1/spaces").await;
    let names: Vec<&str> =
        spaces["spaces"].as_array().expect("spaces").iter().filter_map(|s| s["name"].as_str()).collect();
    // `system` holds the audit records (the admin token's creation at the first start).
    assert_eq!(names, ["beta", "system"]);
    let (status, body) = http.send(Method::DELETE, "/v1/spaces/acme", None).await;
    assert_eq!((status.as_u16(), code(&body)), (404, "space_not_found"), "{body}");
    let again = run(&mut server.cli(), &["space", "delete", "acme", "--yes"]).exits(1);
    assert!(again.stderr.contains("space_not_found"), "{}", again.stderr);

    // The other space is untouched.
    let (status, body) = http.get("/v1/spaces/beta/machines/order/instances/o-1").await;
    assert_eq!((status.as_u16(), body["state"].as_str()), (200, Some("paid")), "{body}");
    let value = client.kv_get("beta", "config", "colour").await.expect("beta's key");
    assert_eq!(value.value, b"\"blue\"");
    let out = client.invoke("beta", "hello", br#"{"name":"b"}"#.to_vec(), &InvokeOptions::default()).await;
    let out: Value = serde_json::from_slice(&out.expect("beta's function").body).expect("JSON output");
    assert_eq!(out, json!({ "greeting": "Hello, b!" }));
}

#[test]
fn space_delete_without_yes_is_a_usage_error_and_deletes_nothing() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    run(&mut server.cli(), &["--space", "acme", "machine", "put", "-f", &order_file(dir.path())]).exits(0);
    let refused = run(&mut server.cli(), &["space", "delete", "acme"]).exits(2);
    assert!(
        refused.stderr.contains("space \"acme\"") && refused.stderr.contains("pass --yes"),
        "the refusal says what would go and how to confirm: {}",
        refused.stderr
    );
    assert!(refused.stderr.contains("machines") && refused.stderr.contains("event log"), "{}", refused.stderr);
    run(&mut server.cli(), &["--space", "acme", "machine", "get", "order"]).exits(0);
}

#[test]
fn the_first_write_into_a_space_is_noted_and_later_ones_are_not() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = order_file(dir.path());
    let first = run(&mut server.cli(), &["--space", "acmee", "machine", "put", "-f", &file]).exits(0);
    assert!(first.stderr.contains(&note("acmee")), "{}", first.stderr);
    let second =
        run(&mut server.cli(), &["--space", "acmee", "instance", "create", "order", "--ctx", r#"{"amount":1}"#])
            .exits(0);
    assert!(!second.stderr.contains("note:"), "{}", second.stderr);
    let put = run(&mut server.cli(), &["--space", "acmee", "machine", "put", "-f", &file]).exits(0);
    assert!(!put.stderr.contains("note:"), "{}", put.stderr);

    // Every way into a new space announces it once: a KV put, a message, a subscription.
    for (space, args) in [
        ("kvspace", vec!["kv", "put", "config", "k", "v"]),
        ("topicspace", vec!["publish", "news", "--payload", "{}"]),
        ("subspace", vec!["sub", "create", "s1", "*"]),
    ] {
        let mut full = vec!["--space", space];
        full.extend(&args);
        let created = run(&mut server.cli(), &full).exits(0);
        assert!(created.stderr.contains(&note(space)), "{args:?}: {}", created.stderr);
        if args[0] != "sub" {
            let again = run(&mut server.cli(), &full).exits(0);
            assert!(!again.stderr.contains("note:"), "{args:?} again: {}", again.stderr);
        }
    }

    // Deleted and written into again, the space is new again.
    run(&mut server.cli(), &["space", "delete", "acmee", "--yes"]).exits(0);
    let recreated = run(&mut server.cli(), &["--space", "acmee", "machine", "put", "-f", &file]).exits(0);
    assert!(recreated.stderr.contains(&note("acmee")), "{}", recreated.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_space_created_header_comes_with_the_creating_write_only() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let client = server.client();
    let put = |space: &'static str| {
        let http = &http;
        async move {
            let path = format!("/v1/spaces/{space}/kv/b/keys/k");
            let (status, headers, body) = http.send_with(Method::PUT, &path, &[], Some(json!(1))).await;
            assert_eq!(status, 200, "{body}");
            headers.get(CREATED).map(|v| v.to_str().expect("ASCII").to_string())
        }
    };
    assert_eq!(put("fresh").await.as_deref(), Some("fresh"));
    assert_eq!(put("fresh").await, None);
    // The client library collects them for its caller.
    client.kv_put("other", "b", "k", b"1".to_vec(), &KvPutOptions::default()).await.expect("put");
    let message = Publish { payload: json!(1), ..Default::default() };
    client.publish("other", "news", &message).await.expect("publish");
    assert_eq!(client.take_spaces_created(), ["other"]);
    assert!(client.take_spaces_created().is_empty());
    // A refused write creates nothing.
    let (status, headers, _) =
        http.send_with(Method::POST, "/v1/spaces/nothing/machines/order/instances", &[], Some(json!({}))).await;
    assert_eq!((status.as_u16(), headers.get(CREATED)), (404, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acking_seqs_that_were_not_pending_names_them() {
    let server = TestServer::start();
    let client = server.client();
    run(&mut server.cli(), &["--space", "acme", "sub", "create", "workers", "acme:news", "--from", "earliest"])
        .exits(0);
    let message = Publish { payload: json!({ "n": 1 }), ..Default::default() };
    let seq = client.publish("acme", "news", &message).await.expect("publish").seq;
    let pulled = client.pull("acme", "workers", &Default::default()).await.expect("pull");
    assert_eq!(pulled.records.iter().map(|r| r.record.seq).collect::<Vec<_>>(), [seq]);

    let (pending, unknown) = (seq.to_string(), (seq + 1000).to_string());
    let partly = run(&mut server.cli(), &["--space", "acme", "sub", "ack", "workers", &pending, &unknown]).exits(1);
    assert!(partly.stdout.contains("acked") && partly.stdout.contains('1'), "{}", partly.stdout);
    // The message ends with the list of those not pending: the unknown one only.
    assert!(partly.stderr.contains("not pending"), "{}", partly.stderr);
    assert!(partly.stderr.trim_end().ends_with(&format!("nothing was done to it: {unknown}")), "{}", partly.stderr);
    // Acked already: not pending either, and said so.
    let again = run(&mut server.cli(), &["--space", "acme", "sub", "ack", "workers", &pending]).exits(1);
    assert!(again.stderr.trim_end().ends_with(&format!("nothing was done to it: {pending}")), "{}", again.stderr);

    // Over HTTP it is 200 with the details, so a retried ack is not an error.
    let http = Http::new(&server);
    let (status, body) = http.post("/v1/spaces/acme/subscriptions/workers/ack", json!({ "seqs": [seq] })).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "acked": 0, "acked_seqs": [], "not_pending": [seq] }));
    // A nack of a lease that is not current names it too.
    let leases = json!({ "leases": [{ "seq": seq, "deliveries": 1 }] });
    let (status, body) = http.post("/v1/spaces/acme/subscriptions/workers/nack", leases).await;
    assert_eq!(status, 200);
    assert_eq!(body["not_released"], json!([{ "seq": seq, "deliveries": 1 }]), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idempotency_key_header_counts_like_the_body_field() {
    let server = TestServer::start();
    let http = Http::new(&server);
    let (status, _) = http.put_yaml("/v1/spaces/acme/machines/order", ORDER_YAML).await;
    assert_eq!(status, 200);
    let instances = "/v1/spaces/acme/machines/order/instances";
    for id in ["o-1", "o-2"] {
        let (status, body) = http.post(instances, json!({ "id": id, "ctx": { "amount": 5 } })).await;
        assert_eq!(status, 201, "{body}");
    }
    let events = "/v1/spaces/acme/machines/order/instances/o-1/events";
    let pay = json!({ "event": "pay", "payload": { "amount": 5 } });
    let send = |headers: &'static [(&'static str, &'static str)], body: Value| {
        let http = &http;
        async move { http.send_with(Method::POST, events, headers, Some(body)).await }
    };

    // The header alone: applied once, the repeat answers the same.
    let (status, _, first) = send(&[("Idempotency-Key", "pay-1")], pay.clone()).await;
    assert_eq!(status, 200, "{first}");
    let (status, _, repeat) = send(&[("Idempotency-Key", "pay-1")], pay.clone()).await;
    assert_eq!((status.as_u16(), &repeat), (200, &first), "a repeat returns the original answer");
    // The same key in the body, or quoted as the draft writes it, is the same key.
    let mut keyed = pay.clone();
    keyed["idempotency_key"] = json!("pay-1");
    let (status, _, body) = send(&[("Idempotency-Key", "pay-1")], keyed.clone()).await;
    assert_eq!((status.as_u16(), &body), (200, &first));
    let (status, _, body) = send(&[("Idempotency-Key", "\"pay-1\"")], pay.clone()).await;
    assert_eq!((status.as_u16(), &body), (200, &first));
    let (status, _, body) = send(&[], keyed).await;
    assert_eq!((status.as_u16(), &body), (200, &first));
    let (_, history) = http.get("/v1/spaces/acme/machines/order/instances/o-1/history").await;
    let transitions =
        history["events"].as_array().expect("events").iter().filter(|e| e["kind"] == "instance.transitioned");
    assert_eq!(transitions.count(), 1, "applied once: {history}");

    // Two different keys: refused, naming both, and nothing applied.
    let mut other = pay.clone();
    other["idempotency_key"] = json!("pay-2");
    let path = "/v1/spaces/acme/machines/order/instances/o-2/events";
    let (status, _, body) = http.send_with(Method::POST, path, &[("Idempotency-Key", "pay-3")], Some(other)).await;
    assert_eq!((status.as_u16(), code(&body)), (422, "validation_failed"), "{body}");
    assert_eq!(body["error"]["details"], json!({ "header": "pay-3", "body": "pay-2" }));
    let (_, instance) = http.get("/v1/spaces/acme/machines/order/instances/o-2").await;
    assert_eq!(instance["state"], "pending");

    // Instance creation and publishing take it too; a batch refuses it.
    let create = json!({ "id": "o-3", "ctx": { "amount": 1 } });
    let (status, _, created) =
        http.send_with(Method::POST, instances, &[("Idempotency-Key", "c-3")], Some(create)).await;
    assert_eq!(status, 201, "{created}");
    let create = json!({ "id": "o-3", "ctx": { "amount": 1 } });
    let (status, _, again) = http.send_with(Method::POST, instances, &[("Idempotency-Key", "c-3")], Some(create)).await;
    assert_eq!((status.as_u16(), &again), (200, &created));
    let topic = "/v1/spaces/acme/topics/news/messages";
    let (status, _, published) =
        http.send_with(Method::POST, topic, &[("Idempotency-Key", "m-1")], Some(json!({ "payload": 1 }))).await;
    assert_eq!(status, 201, "{published}");
    let (status, _, repeat) =
        http.send_with(Method::POST, topic, &[("Idempotency-Key", "m-1")], Some(json!({ "payload": 1 }))).await;
    assert_eq!((status.as_u16(), &repeat), (200, &published));
    let batch =
        json!({ "operations": [{ "op": "delete_instance", "space": "acme", "machine": "order", "instance": "o-3" }] });
    let (status, _, body) = http.send_with(Method::POST, "/v1/batch", &[("Idempotency-Key", "b-1")], Some(batch)).await;
    assert_eq!((status.as_u16(), code(&body)), (422, "validation_failed"), "{body}");
    let (status, _) = http.get("/v1/spaces/acme/machines/order/instances/o-3").await;
    assert_eq!(status, 200, "the refused batch deleted nothing");
}
