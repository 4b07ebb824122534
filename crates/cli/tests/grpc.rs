//! The gRPC API (`switchyard.v1`) against the real binary, on the HTTP port: every service,
//! the same bad-input answers and authorisation as HTTP, and `ApplyEvents` streams (many in
//! flight, order per instance, a stream cut mid-way).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Value, json};
use support::TestServer;
use support::http::Http;
use switchyard_client::grpc::{GrpcClient, status_error, v1};
use switchyard_client::{ClientError, CreateToken, FunctionSettings, Role};
use switchyard_testkit::{PATIENCE, example_function_bytes, within};
use tonic::Code;

/// Counts `tick`s, refusing one that comes out of order: event `i` applies only to an instance
/// that has counted `i` (so a reordered event is refused with `guard_rejected`).
const ORDERED: &str = r#"{
  "name": "ordered",
  "initial": "open",
  "states": ["open", "closed"],
  "transitions": [
    {"from": "open", "event": "tick", "to": "open", "guard": "event.i == ctx.count", "assign": {"count": "ctx.count + 1"}},
    {"from": "open", "event": "close", "to": "closed"}
  ]
}"#;

fn event(instance: &str, i: u64, key: Option<String>) -> v1::ApplyEventRequest {
    v1::ApplyEventRequest {
        space: "acme".into(),
        machine: "ordered".into(),
        instance: instance.into(),
        event: "tick".into(),
        payload_json: json!({ "i": i }).to_string(),
        idempotency_key: key.unwrap_or_default(),
        ..Default::default()
    }
}

/// Puts the machine and creates `count` instances (`i0`, `i1`, …) over gRPC.
async fn setup(grpc: &GrpcClient, count: usize) -> Vec<String> {
    let put = grpc
        .machines()
        .put_machine(v1::PutMachineRequest {
            space: "acme".into(),
            name: "ordered".into(),
            definition: ORDERED.into(),
            dry_run: false,
        })
        .await
        .expect("put machine")
        .into_inner();
    assert_eq!(put.version, 1);
    let mut ids = Vec::new();
    for n in 0..count {
        let id = format!("i{n}");
        let created = grpc
            .instances()
            .create_instance(v1::CreateInstanceRequest {
                space: "acme".into(),
                machine: "ordered".into(),
                id: id.clone(),
                ctx_json: r#"{"count": 0}"#.into(),
                idempotency_key: String::new(),
            })
            .await
            .expect("create instance")
            .into_inner();
        assert_eq!(created.instance.expect("instance").state, "open");
        ids.push(id);
    }
    ids
}

/// An instance's count, read over gRPC.
async fn count(grpc: &GrpcClient, id: &str) -> (u64, u64) {
    let instance = grpc
        .instances()
        .get_instance(v1::GetInstanceRequest { space: "acme".into(), machine: "ordered".into(), id: id.into() })
        .await
        .expect("get instance")
        .into_inner();
    let ctx: Value = serde_json::from_str(&instance.ctx_json).expect("ctx is JSON");
    (ctx["count"].as_u64().expect("count"), instance.revision)
}

/// The stable code of a failed call, checked to be carried both ways (`ErrorInfo` and trailer).
fn code_of(status: &tonic::Status) -> String {
    let trailer = status.metadata().get("switchyard-error-code").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(ClientError::Api { code, .. }) = Some(status_error(status.clone())) else {
        panic!("no stable code in {status:?}")
    };
    assert_eq!(trailer.as_deref(), Some(code.as_str()), "the trailer and the ErrorInfo disagree: {status:?}");
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_answers_on_the_http_port() {
    let server = TestServer::start();
    let grpc = server.grpc();
    let client = server.client();
    let ids = setup(&grpc, 2).await;

    // Machines.
    let machines = grpc.machines().list_machines(v1::ListMachinesRequest { space: "acme".into() }).await;
    let machines = machines.expect("list machines").into_inner().machines;
    assert_eq!(machines.iter().map(|m| (m.name.as_str(), m.version)).collect::<Vec<_>>(), [("ordered", 1)]);
    let machine = grpc
        .machines()
        .get_machine(v1::GetMachineRequest { space: "acme".into(), name: "ordered".into(), version: 0 })
        .await
        .expect("get machine")
        .into_inner();
    let definition: Value = serde_json::from_str(&machine.definition_json).expect("definition JSON");
    assert_eq!(definition["initial"], "open");
    let dry = grpc
        .machines()
        .put_machine(v1::PutMachineRequest {
            space: "acme".into(),
            name: "ordered".into(),
            definition: ORDERED.replace("\"closed\"]", "\"closed\", \"gone\"]"),
            dry_run: true,
        })
        .await
        .expect("dry run")
        .into_inner();
    assert!(dry.changed && !dry.created, "{dry:?}");
    assert!(dry.definition_json.contains("gone"), "{dry:?}");
    // A dry run stored nothing.
    assert_eq!(client.get_machine("acme", "ordered", None).await.expect("machine").version, 1);

    // Events, and the HTTP API sees them.
    let applied = grpc.apply_event(event(&ids[0], 0, Some("k0".into()))).await.expect("apply");
    let transition = applied.transition.expect("transition");
    assert_eq!((transition.from.as_str(), transition.to.as_str(), transition.revision), ("open", "open", 2));
    assert!(!applied.replayed);
    let replay = grpc.apply_event(event(&ids[0], 0, Some("k0".into()))).await.expect("replay");
    assert!(replay.replayed, "the same key replays");
    assert_eq!(replay.transition.expect("transition").seq, transition.seq);
    let over_http = client.get_instance("acme", "ordered", &ids[0]).await.expect("instance over HTTP");
    assert_eq!((over_http.revision, over_http.ctx["count"].clone()), (2, json!(1)));

    // A batch is atomic: a failing operation applies nothing and names its index.
    let op = |op| v1::BatchOperation { op: Some(op) };
    let failing = grpc
        .events()
        .batch(v1::BatchRequest {
            operations: vec![
                op(v1::batch_operation::Op::ApplyEvent(event(&ids[1], 0, None))),
                op(v1::batch_operation::Op::ApplyEvent(event(&ids[1], 5, None))),
            ],
        })
        .await
        .expect_err("a guard refuses the second");
    assert_eq!(failing.code(), Code::FailedPrecondition);
    assert_eq!(code_of(&failing), "guard_rejected");
    assert_eq!(count(&grpc, &ids[1]).await, (0, 1), "nothing of the failed batch applied");
    let batch = grpc
        .events()
        .batch(v1::BatchRequest {
            operations: vec![
                op(v1::batch_operation::Op::ApplyEvent(event(&ids[1], 0, None))),
                op(v1::batch_operation::Op::CreateInstance(v1::CreateInstanceRequest {
                    space: "acme".into(),
                    machine: "ordered".into(),
                    id: "from-batch".into(),
                    ctx_json: r#"{"count": 7}"#.into(),
                    idempotency_key: String::new(),
                })),
                op(v1::batch_operation::Op::DeleteInstance(v1::DeleteInstanceRequest {
                    space: "acme".into(),
                    machine: "ordered".into(),
                    id: ids[0].clone(),
                })),
            ],
        })
        .await
        .expect("batch")
        .into_inner();
    use v1::batch_result::Result as R;
    match batch.results.iter().map(|r| r.result.clone()).collect::<Vec<_>>().as_slice() {
        [Some(R::Applied(t)), Some(R::Created(i)), Some(R::Deleted(_))] => {
            assert_eq!(t.revision, 2);
            assert_eq!(i.id, "from-batch");
        }
        other => panic!("unexpected batch results {other:?}"),
    }
    let gone = grpc
        .instances()
        .get_instance(v1::GetInstanceRequest { space: "acme".into(), machine: "ordered".into(), id: ids[0].clone() })
        .await
        .expect_err("deleted");
    assert_eq!((gone.code(), code_of(&gone).as_str()), (Code::NotFound, "instance_not_found"));
    let page = grpc
        .instances()
        .list_instances(v1::ListInstancesRequest {
            space: "acme".into(),
            machine: "ordered".into(),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("list instances")
        .into_inner();
    assert_eq!(page.instances.len(), 1);
    assert!(!page.next_cursor.is_empty(), "a second page");

    // Watch sees a published message and a transition; topics and KV.
    let mut watch = grpc
        .watch()
        .watch(v1::WatchRequest { space: "acme".into(), kinds: vec!["topic.message".into()], ..Default::default() })
        .await
        .expect("watch")
        .into_inner();
    let published = grpc
        .topics()
        .publish(v1::PublishRequest {
            space: "acme".into(),
            topic: "orders".into(),
            payload_json: r#"{"id": 1}"#.into(),
            headers: BTreeMap::from([("source".to_owned(), "test".to_owned())]).into_iter().collect(),
            ..Default::default()
        })
        .await
        .expect("publish")
        .into_inner();
    let record =
        within("the watch's first record", PATIENCE, watch.message()).await.expect("watch answers").expect("a record");
    let record = record.record.expect("record");
    assert_eq!((record.seq, record.kind.as_str()), (published.seq, "topic.message"));
    assert!(record.payload_json.contains("\"id\":1"), "{record:?}");

    client.put_bucket("acme", "settings", None).await.expect("bucket");
    let put = grpc
        .kv()
        .put_key(v1::PutKeyRequest {
            space: "acme".into(),
            bucket: "settings".into(),
            key: "colour".into(),
            value: b"blue".to_vec(),
            content_type: "text/plain".into(),
            ..Default::default()
        })
        .await
        .expect("put key")
        .into_inner();
    assert_eq!(put.revision, 1);
    let stale = grpc
        .kv()
        .put_key(v1::PutKeyRequest {
            space: "acme".into(),
            bucket: "settings".into(),
            key: "colour".into(),
            value: b"red".to_vec(),
            expected_revision: Some(7),
            ..Default::default()
        })
        .await
        .expect_err("a stale revision");
    assert_eq!((stale.code(), code_of(&stale).as_str()), (Code::Aborted, "conflict"));
    let got = grpc
        .kv()
        .get_key(v1::GetKeyRequest { space: "acme".into(), bucket: "settings".into(), key: "colour".into() })
        .await
        .expect("get key")
        .into_inner();
    assert_eq!((got.value.as_slice(), got.content_type.as_str(), got.revision), (&b"blue"[..], "text/plain", 1));
    let deleted = grpc
        .kv()
        .delete_key(v1::DeleteKeyRequest {
            space: "acme".into(),
            bucket: "settings".into(),
            key: "colour".into(),
            expected_revision: Some(1),
        })
        .await
        .expect("delete key")
        .into_inner();
    assert_eq!(deleted.revision, 2);

    // Functions.
    client
        .deploy_function("acme", "hello", &example_function_bytes("hello"), &FunctionSettings::default())
        .await
        .expect("deploy");
    let invoked = grpc
        .functions()
        .invoke(v1::InvokeRequest {
            space: "acme".into(),
            function: "hello".into(),
            input: br#"{"name": "grpc"}"#.to_vec(),
            ..Default::default()
        })
        .await
        .expect("invoke")
        .into_inner();
    match invoked.result {
        Some(v1::invoke_response::Result::Output(out)) => {
            let out: Value = serde_json::from_slice(&out.body).expect("JSON output");
            assert_eq!(out, json!({"greeting": "Hello, grpc!"}));
        }
        other => panic!("unexpected invocation result {other:?}"),
    }
    assert!(!invoked.invocation_id.is_empty() && invoked.version == 1);

    // Every call is counted.
    let calls = support::series(&client, "switchyard_grpc_calls_total{method=\"Events/ApplyEvent\",code=\"ok\"}").await;
    assert_eq!(calls, Some(2.0));
}

/// One bad request, sent over both transports: the same stable code must come back.
struct Case {
    name: &'static str,
    grpc: v1::ApplyEventRequest,
    code: &'static str,
    status: Code,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_as_over_http() {
    let server = TestServer::start();
    let grpc = server.grpc();
    setup(&grpc, 1).await;
    let base = event("i0", 0, None);
    let with = |f: &dyn Fn(&mut v1::ApplyEventRequest)| {
        let mut e = base.clone();
        f(&mut e);
        e
    };
    let cases = [
        Case {
            name: "bad space",
            grpc: with(&|e| e.space = "Not A Space".into()),
            code: "validation_failed",
            status: Code::InvalidArgument,
        },
        Case {
            name: "empty event",
            grpc: with(&|e| e.event = String::new()),
            code: "validation_failed",
            status: Code::InvalidArgument,
        },
        Case {
            name: "payload not JSON",
            grpc: with(&|e| e.payload_json = "{nope".into()),
            code: "bad_request",
            status: Code::InvalidArgument,
        },
        Case {
            name: "payload not an object",
            grpc: with(&|e| e.payload_json = "[1]".into()),
            code: "validation_failed",
            status: Code::InvalidArgument,
        },
        Case {
            name: "payload too deep",
            grpc: with(&|e| e.payload_json = format!("{}{}", "[".repeat(100), "]".repeat(100))),
            code: "validation_failed",
            status: Code::InvalidArgument,
        },
        Case {
            name: "unknown machine",
            grpc: with(&|e| e.machine = "nope".into()),
            code: "instance_not_found",
            status: Code::NotFound,
        },
        Case {
            name: "unknown instance",
            grpc: with(&|e| e.instance = "nope".into()),
            code: "instance_not_found",
            status: Code::NotFound,
        },
        Case {
            name: "no transition",
            grpc: with(&|e| e.event = "fly".into()),
            code: "invalid_transition",
            status: Code::FailedPrecondition,
        },
        Case {
            name: "guard",
            grpc: with(&|e| e.payload_json = r#"{"i": 9}"#.into()),
            code: "guard_rejected",
            status: Code::FailedPrecondition,
        },
        Case {
            name: "stale revision",
            grpc: with(&|e| e.expected_revision = Some(9)),
            code: "conflict",
            status: Code::Aborted,
        },
        Case {
            name: "wrong state",
            grpc: with(&|e| e.expected_state = "closed".into()),
            code: "conflict",
            status: Code::Aborted,
        },
        Case {
            name: "long key",
            grpc: with(&|e| e.idempotency_key = "k".repeat(300)),
            code: "validation_failed",
            status: Code::InvalidArgument,
        },
    ];
    let http = Http::new(&server);
    for case in cases {
        let status = grpc.events().apply_event(case.grpc.clone()).await.expect_err(case.name);
        assert_eq!((status.code(), code_of(&status).as_str()), (case.status, case.code), "{}: {status:?}", case.name);
        assert!(!status.message().is_empty(), "{}", case.name);
        // The same request over HTTP answers the same code (a payload that is not JSON cannot
        // be written into a JSON body, so it goes as the body's text).
        let e = &case.grpc;
        let path = format!("/v1/spaces/{}/machines/{}/instances/{}/events", e.space, e.machine, e.instance);
        let mut body = json!({ "event": e.event });
        if !e.idempotency_key.is_empty() {
            body["idempotency_key"] = json!(e.idempotency_key);
        }
        if !e.expected_state.is_empty() {
            body["expected_state"] = json!(e.expected_state);
        }
        if let Some(r) = e.expected_revision {
            body["expected_revision"] = json!(r);
        }
        let text = match serde_json::from_str::<Value>(&e.payload_json) {
            Ok(payload) => {
                body["payload"] = payload;
                body.to_string()
            }
            Err(_) => {
                let mut text = body.to_string();
                text.pop();
                format!("{text},\"payload\":{}}}", e.payload_json)
            }
        };
        let (_, answer) = http.post_text(&path, text).await;
        assert_eq!(support::http::code(&answer), case.code, "{} over HTTP: {answer}", case.name);
    }
    // Nothing of it applied.
    assert_eq!(count(&grpc, "i0").await, (0, 1));

    // A message over --max-body-bytes is refused before it is decoded.
    let huge = with(&|e| e.payload_json = format!(r#"{{"i": 0, "pad": "{}"}}"#, "x".repeat(2 * 1024 * 1024)));
    let status = grpc.events().apply_event(huge).await.expect_err("too large");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    // A stream message without an event is answered with its error, and the stream goes on.
    let requests = vec![
        v1::ApplyEventsRequest { correlation_id: 1, event: None },
        v1::ApplyEventsRequest { correlation_id: 2, event: Some(event("i0", 0, None)) },
    ];
    let mut answers = grpc.apply_events(futures_util::stream::iter(requests)).await.expect("stream");
    let mut by_id = HashMap::new();
    while let Some(answer) = answers.message().await.expect("answer") {
        by_id.insert(answer.correlation_id, answer.result);
    }
    match (&by_id[&1], &by_id[&2]) {
        (Some(v1::apply_events_response::Result::Error(e)), Some(v1::apply_events_response::Result::Applied(_))) => {
            assert_eq!(e.code, "bad_request");
        }
        other => panic!("unexpected answers {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_authorised_like_its_http_route() {
    let server = TestServer::start();
    let admin = server.client();
    let grpc = server.grpc();
    setup(&grpc, 1).await;
    let token = |role: Role, spaces: &[&str]| {
        let admin = admin.clone();
        let body = CreateToken {
            name: "t".into(),
            role,
            spaces: spaces.iter().map(|s| s.to_string()).collect(),
            principal: None,
        };
        async move { admin.create_token(&body).await.expect("token").token }
    };
    let reader = token(Role::Reader, &["acme"]).await;
    let writer = token(Role::Writer, &["acme"]).await;
    let elsewhere = token(Role::Admin, &["other"]).await;

    let read = |grpc: GrpcClient| async move {
        grpc.instances()
            .get_instance(v1::GetInstanceRequest { space: "acme".into(), machine: "ordered".into(), id: "i0".into() })
            .await
            .map(|_| ())
    };
    let write = |grpc: GrpcClient| async move { grpc.events().apply_event(event("i0", 0, None)).await.map(|_| ()) };
    let stream = |grpc: GrpcClient| async move {
        let requests = vec![v1::ApplyEventsRequest { correlation_id: 1, event: Some(event("i0", 0, None)) }];
        let mut answers = match grpc.events().apply_events(futures_util::stream::iter(requests)).await {
            Ok(answers) => answers.into_inner(),
            Err(status) => return Err(code_of(&status)),
        };
        match answers.message().await.map_err(|s| code_of(&s))?.and_then(|a| a.result) {
            Some(v1::apply_events_response::Result::Applied(_)) => Ok(()),
            Some(v1::apply_events_response::Result::Error(e)) => Err(e.code),
            None => panic!("no answer"),
        }
    };
    // (token, read allowed, write allowed); a stream's refusal of one event is its answer.
    type Row<'a> = (&'a str, Option<&'a str>, Result<(), &'a str>, Result<(), &'a str>);
    let matrix: [Row; 5] = [
        ("no token", None, Err("unauthorized"), Err("unauthorized")),
        ("bad token", Some("sy_nope"), Err("unauthorized"), Err("unauthorized")),
        ("reader", Some(&reader), Ok(()), Err("forbidden")),
        ("other space", Some(&elsewhere), Err("forbidden"), Err("forbidden")),
        ("writer", Some(&writer), Ok(()), Ok(())),
    ];
    for (name, secret, can_read, can_write) in matrix {
        let client = server.grpc_with(secret);
        let got = read(client.clone()).await.map_err(|s| code_of(&s));
        assert_eq!(got, can_read.map_err(str::to_owned), "{name} reading");
        let got = write(client.clone()).await.map_err(|s| code_of(&s));
        // The writer's event applied; the stream's would then be refused by the guard.
        assert_eq!(got, can_write.map_err(str::to_owned), "{name} writing");
        let got = stream(client).await;
        let expected = match can_write {
            Ok(()) => Err("guard_rejected".to_owned()),
            Err(code) => Err(code.to_owned()),
        };
        assert_eq!(got, expected, "{name} streaming");
    }
    let status = server.grpc_with(None).events().apply_event(event("i0", 1, None)).await.expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(count(&grpc, "i0").await, (1, 2), "only the writer's event applied");

    // Every other service, with a reader and with a token of another space: reads are a
    // reader's, writes a writer's, and nothing of a space is another space's.
    admin.put_bucket("acme", "b", None).await.expect("bucket");
    for (name, secret) in [("reader", &reader), ("other space", &elsewhere), ("writer", &writer)] {
        let c = server.grpc_with(Some(secret));
        let reads: Vec<(&str, Result<(), tonic::Status>)> = vec![
            (
                "ListMachines",
                c.machines().list_machines(v1::ListMachinesRequest { space: "acme".into() }).await.map(drop),
            ),
            (
                "ListInstances",
                c.instances()
                    .list_instances(v1::ListInstancesRequest {
                        space: "acme".into(),
                        machine: "ordered".into(),
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            ),
            ("Watch", c.watch().watch(v1::WatchRequest { space: "acme".into(), ..Default::default() }).await.map(drop)),
            (
                "GetKey",
                // No key yet: a reader gets as far as "not found".
                match c
                    .kv()
                    .get_key(v1::GetKeyRequest { space: "acme".into(), bucket: "b".into(), key: "k".into() })
                    .await
                {
                    Err(s) if code_of(&s) == "key_not_found" => Ok(()),
                    other => other.map(drop),
                },
            ),
        ];
        for (call, result) in reads {
            let expected = if name == "other space" { Err("forbidden".to_owned()) } else { Ok(()) };
            assert_eq!(result.map_err(|s| code_of(&s)), expected, "{name} calling {call}");
        }
        let writes: Vec<(&str, Result<(), tonic::Status>)> = vec![
            (
                "PutMachine",
                c.machines()
                    .put_machine(v1::PutMachineRequest {
                        space: "acme".into(),
                        name: "ordered".into(),
                        definition: ORDERED.into(),
                        dry_run: true,
                    })
                    .await
                    .map(drop),
            ),
            (
                "Publish",
                c.topics()
                    .publish(v1::PublishRequest {
                        space: "acme".into(),
                        topic: "t".into(),
                        payload_json: "{}".into(),
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            ),
            (
                "PutKey",
                c.kv()
                    .put_key(v1::PutKeyRequest {
                        space: "acme".into(),
                        bucket: "b".into(),
                        key: format!("k-{name}"),
                        value: b"v".to_vec(),
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            ),
            (
                "Batch",
                c.events()
                    .batch(v1::BatchRequest {
                        operations: vec![v1::BatchOperation {
                            op: Some(v1::batch_operation::Op::CreateInstance(v1::CreateInstanceRequest {
                                space: "acme".into(),
                                machine: "ordered".into(),
                                ctx_json: r#"{"count": 0}"#.into(),
                                ..Default::default()
                            })),
                        }],
                    })
                    .await
                    .map(drop),
            ),
            (
                "Invoke",
                // No function: a writer gets as far as "not found".
                match c
                    .functions()
                    .invoke(v1::InvokeRequest { space: "acme".into(), function: "nope".into(), ..Default::default() })
                    .await
                {
                    Err(s) if code_of(&s) == "function_not_found" => Ok(()),
                    other => other.map(drop),
                },
            ),
        ];
        for (call, result) in writes {
            let expected = if name == "writer" { Ok(()) } else { Err("forbidden".to_owned()) };
            assert_eq!(result.map_err(|s| code_of(&s)), expected, "{name} calling {call}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_in_flight_apply_once_each_in_order_per_instance() {
    const INSTANCES: u64 = 100;
    const PER_INSTANCE: u64 = 100;
    let server = TestServer::start();
    let grpc = server.grpc();
    let ids = setup(&grpc, INSTANCES as usize).await;
    // Every event is sent before any answer is read: all 10,000 are in flight at once. Event
    // n of instance m is correlation id m·100 + n, sent round-robin across instances.
    let requests: Vec<v1::ApplyEventsRequest> = (0..PER_INSTANCE)
        .flat_map(|n| {
            let ids = &ids;
            (0..INSTANCES).map(move |m| v1::ApplyEventsRequest {
                correlation_id: m * PER_INSTANCE + n,
                event: Some(event(&ids[m as usize], n, None)),
            })
        })
        .collect();
    let mut answers = grpc.apply_events(futures_util::stream::iter(requests)).await.expect("stream");
    let mut seen: HashMap<u64, v1::Transition> = HashMap::new();
    let mut last_revision: HashMap<u64, u64> = HashMap::new();
    while let Some(answer) = within("the next answer", PATIENCE, answers.message()).await.expect("answers arrive") {
        let id = answer.correlation_id;
        let transition = match answer.result {
            Some(v1::apply_events_response::Result::Applied(applied)) => applied.transition.expect("transition"),
            other => panic!("event {id} was refused: {other:?}"),
        };
        // Answers of one instance come in its order: each revision one more than the last.
        let instance = id / PER_INSTANCE;
        let previous = last_revision.insert(instance, transition.revision).unwrap_or(1);
        assert_eq!(transition.revision, previous + 1, "instance {instance} answered out of order");
        assert!(seen.insert(id, transition).is_none(), "event {id} answered twice");
    }
    assert_eq!(seen.len() as u64, INSTANCES * PER_INSTANCE, "every event answered");
    for id in &ids {
        assert_eq!(count(&grpc, id).await, (PER_INSTANCE, PER_INSTANCE + 1), "{id}");
    }
    let history = server.client().history("acme", "ordered", &ids[0], None, Some(1000)).await.expect("history");
    assert_eq!(history.events.len() as u64, PER_INSTANCE + 1, "one record per event, plus the creation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_mid_way_applies_each_event_once_or_not_at_all() {
    const INSTANCES: usize = 20;
    const PER_INSTANCE: u64 = 50;
    let server = TestServer::start();
    let grpc = server.grpc();
    let ids = setup(&grpc, INSTANCES).await;
    let key = |m: usize, n: u64| format!("cut-{m}-{n}");
    let requests: Vec<v1::ApplyEventsRequest> = (0..PER_INSTANCE)
        .flat_map(|n| {
            let ids = &ids;
            (0..INSTANCES).map(move |m| v1::ApplyEventsRequest {
                correlation_id: m as u64 * PER_INSTANCE + n,
                event: Some(event(&ids[m], n, Some(key(m, n)))),
            })
        })
        .collect();
    // The client sends everything, reads a third of the answers, then drops the stream: the
    // connection's stream is reset with events read and not yet answered, and events not read.
    let mut answers = grpc.apply_events(futures_util::stream::iter(requests)).await.expect("stream");
    let mut answered: HashMap<u64, u64> = HashMap::new();
    while answered.len() < (INSTANCES as u64 * PER_INSTANCE / 3) as usize {
        let answer = within("the next answer", PATIENCE, answers.message())
            .await
            .expect("answer")
            .expect("an answer before the cut");
        match answer.result {
            Some(v1::apply_events_response::Result::Applied(a)) => {
                answered.insert(answer.correlation_id, a.transition.expect("transition").seq);
            }
            other => panic!("refused: {other:?}"),
        }
    }
    drop(answers);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Every answered event is durable, with the seq it was answered with.
    let client = server.client();
    let mut recorded: HashMap<String, u64> = HashMap::new();
    for id in &ids {
        let history = client.history("acme", "ordered", id, None, Some(1000)).await.expect("history");
        for record in history.events {
            if let Some(key) = record.idempotency_key {
                assert!(recorded.insert(key.clone(), record.seq).is_none(), "{key} applied twice");
            }
        }
    }
    for (&id, &seq) in &answered {
        let (m, n) = ((id / PER_INSTANCE) as usize, id % PER_INSTANCE);
        assert_eq!(recorded.get(&key(m, n)), Some(&seq), "answered event {id} is not durable as answered");
    }
    // The rest are applied once or not at all: retried in order under their keys, each either
    // replays (it was applied) or applies now, and every instance ends at the full count.
    let mut replayed = 0;
    for (m, instance) in ids.iter().enumerate() {
        for n in 0..PER_INSTANCE {
            let id = m as u64 * PER_INSTANCE + n;
            if answered.contains_key(&id) {
                continue;
            }
            let again = grpc.apply_event(event(instance, n, Some(key(m, n)))).await.expect("retry");
            if again.replayed {
                replayed += 1;
                assert_eq!(recorded.get(&key(m, n)), Some(&again.transition.expect("t").seq));
            } else {
                assert!(!recorded.contains_key(&key(m, n)), "{id} was applied but did not replay");
            }
        }
    }
    eprintln!(
        "{} answered before the cut, {replayed} applied but unanswered, the rest applied on retry",
        answered.len()
    );
    for id in &ids {
        assert_eq!(count(&grpc, id).await.0, PER_INSTANCE, "{id}");
    }
}

/// More events than a stream may hold, all to one instance: they queue behind it, the server
/// stops reading at its limit and reads on as answers free room, and every one is applied in
/// order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_past_its_limit_is_read_as_answers_free_room() {
    const EVENTS: u64 = switchyard_grpc_limit() + 2_000;
    // One instance's events commit one at a time: without fsync the test takes seconds.
    let server = TestServer::start_with(&["--durability", "none"]);
    let grpc = server.grpc();
    setup(&grpc, 1).await;
    let requests: Vec<v1::ApplyEventsRequest> =
        (0..EVENTS).map(|n| v1::ApplyEventsRequest { correlation_id: n, event: Some(event("i0", n, None)) }).collect();
    let mut answers = grpc.apply_events(futures_util::stream::iter(requests)).await.expect("stream");
    let mut next = 0;
    while let Some(answer) = within("the next answer", PATIENCE, answers.message()).await.expect("answer") {
        assert_eq!(answer.correlation_id, next, "answers of one instance come in order");
        assert!(
            matches!(answer.result, Some(v1::apply_events_response::Result::Applied(_))),
            "event {next}: {:?}",
            answer.result
        );
        next += 1;
    }
    assert_eq!(next, EVENTS);
    assert_eq!(count(&grpc, "i0").await, (EVENTS, EVENTS + 1));
}

/// The per-stream limit, as the server's crate states it.
const fn switchyard_grpc_limit() -> u64 {
    switchyard_grpc::MAX_HELD_EVENTS as u64
}
