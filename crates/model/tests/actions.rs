//! Action states, timers, waits and effects in the model: what a definition may say (every
//! problem refused with its field path) and what a transition causes (effects as data).

use serde_json::{Map, Value, json};
use switchyard_model::definition::{DONE_EVENT, MACHINE_TIMEOUT};
use switchyard_model::{
    CompiledMachine, DefinitionError, DefinitionFormat, Effect, Input, InstanceInfo, InstanceStatus, InvokeKind,
    TransitionError, parse_definition,
};

fn compile(yaml: &str) -> Result<CompiledMachine, DefinitionError> {
    parse_definition(yaml.as_bytes(), DefinitionFormat::Yaml).and_then(CompiledMachine::compile)
}

/// The paths of the field errors `yaml` is refused with.
fn refused(yaml: &str) -> Vec<String> {
    match compile(yaml) {
        Ok(_) => panic!("accepted: {yaml}"),
        Err(DefinitionError::Invalid(errors)) => errors.into_iter().map(|e| e.path).collect(),
        Err(e @ DefinitionError::Syntax { .. }) => vec![format!("syntax: {e}")],
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

const AT: i64 = 1_700_000_000_000;

fn info(revision: u64) -> InstanceInfo<'static> {
    InstanceInfo { address: "acme:order:o-1", revision, attempt: 0, env: None }
}

const ORDER: &str = include_str!("../../../examples/machines/order.yaml");

#[test]
fn the_example_order_machine_compiles_and_its_canonical_form_round_trips() {
    let machine = compile(ORDER).expect("order compiles");
    let again = CompiledMachine::from_canonical_json(machine.canonical_json()).expect("canonical compiles");
    assert_eq!(again.canonical_json(), machine.canonical_json());
    // The same timer written as 900s has the same canonical form.
    let other = compile(&ORDER.replace("15m: expired", "900s: expired")).expect("compiles");
    assert_eq!(other.canonical_json(), machine.canonical_json());
    assert_eq!(machine.status_in("pending"), InstanceStatus::Active);
    assert_eq!(machine.status_in("charging"), InstanceStatus::Running);
    assert_eq!(machine.status_in("declined"), InstanceStatus::Failed);
    assert_eq!(machine.status_in("shipped"), InstanceStatus::Completed);
}

#[test]
fn entering_an_action_state_returns_its_invoke_and_timers_as_effects() {
    let machine = compile(ORDER).expect("order compiles");
    let ctx = object(json!({ "amount": 1250 }));
    let payload = object(json!({ "amount": 1250 }));
    let outcome =
        machine.step("pending", &ctx, Input::Event { name: "pay", payload: &payload }, info(2), AT).expect("pay");
    assert_eq!(outcome.to, "charging");
    assert_eq!(outcome.effects.len(), 2, "{:?}", outcome.effects);
    let Effect::Invoke { kind, payload, timeout_ms, retry } = &outcome.effects[0] else {
        panic!("not an invoke: {:?}", outcome.effects[0]);
    };
    assert_eq!(*kind, InvokeKind::Function);
    assert_eq!(payload["function"], "acme:charge-card");
    assert_eq!(payload["input"], json!({ "amount": 1250, "card": "", "fail": null }));
    assert_eq!(*timeout_ms, Some(10_000));
    let retry = retry.as_ref().expect("a retry policy");
    assert_eq!((retry.max_attempts, retry.initial_ms, retry.max_ms), (5, 200, 30_000));
    assert_eq!(retry.non_retryable, vec!["card_declined".to_string()]);
    assert_eq!(outcome.effects[1], Effect::Timer { name: "after:15m".into(), at_ms: AT + 15 * 60_000 });
    // The payload is merged into ctx (no `assign` on that transition).
    assert_eq!(outcome.ctx["amount"], 1250);
}

const FULFILMENT: &str = include_str!("../../../examples/machines/fulfilment.yaml");
const SHIPMENT: &str = include_str!("../../../examples/machines/shipment.yaml");

#[test]
fn a_state_that_invokes_a_machine_starts_a_child_with_its_input_as_ctx() {
    let parent = compile(FULFILMENT).expect("fulfilment compiles");
    compile(SHIPMENT).expect("shipment compiles");
    assert_eq!(parent.invoked_machines(), vec![("states.shipping.invoke.machine".to_string(), "shipment")]);
    assert!(parent.invoked_functions().is_empty());
    assert_eq!(parent.status_in("shipping"), InstanceStatus::Running);
    let effects = parent.start(&object(json!({ "order": "o-1" })), info(1), AT).expect("starts").effects;
    assert_eq!(effects.len(), 2, "{effects:?}");
    assert_eq!(
        effects[0],
        Effect::Invoke {
            kind: InvokeKind::Machine,
            payload: json!({ "machine": "shipment", "input": { "order": "o-1" } }),
            timeout_ms: None,
            retry: None
        }
    );
    // The child's final ctx is `result`; its failure is `error`, with the code the store gives.
    let result = json!({ "order": "o-1", "tracking": "T-9" });
    let ctx = object(json!({ "order": "o-1" }));
    let done = parent.step("shipping", &ctx, Input::Done(&result), info(2), AT).expect("done");
    assert_eq!((done.to.as_str(), &done.ctx["tracking"]), ("delivered", &json!("T-9")));
    let error = json!({ "code": "child_failed", "message": "lost" });
    let failed = parent.step("shipping", &ctx, Input::Failed(&error), info(2), AT).expect("failed");
    assert_eq!(failed.to, "reship");
    let error = json!({ "code": "child_cancelled", "message": "no stock" });
    let failed = parent.step("shipping", &ctx, Input::Failed(&error), info(2), AT).expect("failed");
    assert_eq!(failed.to, "abandoned");
    // A child's input that is not a map cannot be its ctx.
    let odd = compile("initial: a\nstates:\n  a: { invoke: { machine: s, input: \"[1]\" }, on_done: { to: b } }\n  b: { final: true }")
        .expect("compiles");
    let refused = odd.start(&Map::new(), info(1), AT).expect_err("a list is not a ctx");
    assert!(matches!(refused, TransitionError::EffectFailed { .. }), "{refused}");
}

#[test]
fn results_errors_and_timers_pick_their_outcome() {
    let machine = compile(ORDER).expect("order compiles");
    let ctx = object(json!({ "amount": 1250 }));
    let result = json!({ "charge_id": "ch_1" });
    let done = machine.step("charging", &ctx, Input::Done(&result), info(3), AT).expect("done");
    assert_eq!((done.to.as_str(), &done.ctx["receipt"]), ("paid", &json!("ch_1")));
    assert!(done.effects.is_empty());

    let declined = json!({ "code": "card_declined", "message": "no" });
    assert_eq!(machine.step("charging", &ctx, Input::Failed(&declined), info(3), AT).expect("error").to, "declined");
    let other = json!({ "code": "processor_unavailable", "message": "down" });
    let failed = machine.step("charging", &ctx, Input::Failed(&other), info(3), AT).expect("error");
    assert_eq!((failed.to.as_str(), &failed.ctx["reason"]), ("payment_failed", &json!("down")));

    let expired = machine.step("charging", &ctx, Input::Timer("after:15m"), info(3), AT).expect("timer");
    assert_eq!(expired.to, "expired");
    // A result for a state without an action, or a timer the state does not have, is refused.
    let err = machine.step("pending", &ctx, Input::Done(&result), info(3), AT).unwrap_err();
    assert!(matches!(err, TransitionError::NoTransition { ref event, .. } if event == DONE_EVENT), "{err:?}");
    assert!(machine.step("charging", &ctx, Input::Timer("after:1m"), info(3), AT).is_err());
    assert!(machine.step("charging", &ctx, Input::Timer(MACHINE_TIMEOUT), info(3), AT).is_err());
}

#[test]
fn an_action_without_on_error_refuses_the_error_and_a_failing_input_refuses_the_event() {
    let machine = compile(
        "initial: a\nstates:\n  a: {}\n  b: { invoke: { function: f, input: 'ctx.missing' }, on_done: { to: c } }\n  c: {}\n\
         transitions:\n  - { from: a, event: go, to: b }\n",
    )
    .expect("compiles");
    let ctx = Map::new();
    let error = json!({ "code": "x", "message": "y" });
    assert!(matches!(
        machine.step("b", &ctx, Input::Failed(&error), info(2), AT),
        Err(TransitionError::NoTransition { .. })
    ));
    let payload = Map::new();
    let err = machine.step("a", &ctx, Input::Event { name: "go", payload: &payload }, info(2), AT).unwrap_err();
    assert!(
        matches!(err, TransitionError::EffectFailed { ref expression, .. } if expression == "states.b.invoke.input")
    );
}

#[test]
fn waits_exit_effects_timeouts_and_computed_timers() {
    let machine = compile(
        r#"
initial: requested
timeout: { after: 1h, to: expired }
states:
  requested:
    wait: { event: approve, timeout: 48h, on_timeout: expired }
    after_expr: { "duration('30m')": reminded, "timestamp(ctx.deadline)": expired }
    on_exit: [ { publish: { topic: approvals, message: "{'id': instance.id}" } } ]
  reminded: {}
  approved: { final: true, on_entry: [ { send: { instance: "'shipment:' + instance.id", event: start } } ] }
  expired: { final: true, failure: true }
transitions:
  - { from: requested, event: approve, to: approved }
"#,
    )
    .expect("compiles");
    assert_eq!(machine.status_in("requested"), InstanceStatus::Waiting);
    let ctx = object(json!({ "deadline": "2030-01-01T00:00:00Z" }));
    let started = machine.start(&ctx, info(1), AT).expect("start").effects;
    let names: Vec<(&str, i64)> = started
        .iter()
        .map(|e| match e {
            Effect::Timer { name, at_ms } => (name.as_str(), *at_ms),
            other => panic!("not a timer: {other:?}"),
        })
        .collect();
    assert!(names.contains(&(MACHINE_TIMEOUT, AT + 3_600_000)), "{names:?}");
    assert!(names.contains(&("wait.timeout", AT + 48 * 3_600_000)), "{names:?}");
    assert!(names.contains(&("after_expr:duration('30m')", AT + 30 * 60_000)), "{names:?}");
    assert!(names.contains(&("after_expr:timestamp(ctx.deadline)", 1_893_456_000_000)), "{names:?}");

    let payload = Map::new();
    let approved = machine
        .step("requested", &ctx, Input::Event { name: "approve", payload: &payload }, info(2), AT)
        .expect("approve");
    assert_eq!(
        approved.effects,
        vec![
            Effect::Emit {
                kind: InvokeKind::Publish,
                payload: json!({ "topic": "approvals", "message": { "id": "o-1" } })
            },
            Effect::Emit {
                kind: InvokeKind::Send,
                payload: json!({ "instance": "shipment:o-1", "event": "start", "payload": {} })
            },
        ]
    );
    assert_eq!(
        machine.step("reminded", &ctx, Input::Timer(MACHINE_TIMEOUT), info(3), AT).expect("timeout").to,
        "expired"
    );
}

#[test]
fn every_broken_action_state_is_refused_naming_the_field() {
    let cases: &[(&str, &str)] = &[
        // An invoke needs on_done.
        ("initial: a\nstates:\n  a: { invoke: { function: f } }", "states.a.on_done"),
        // Function addresses: name, space:name or space:name:version.
        (
            "initial: a\nstates:\n  a: { invoke: { function: 'a:b:c:d' }, on_done: { to: a } }",
            "states.a.invoke.function",
        ),
        (
            "initial: a\nstates:\n  a: { invoke: { function: 'Acme:f' }, on_done: { to: a } }",
            "states.a.invoke.function",
        ),
        (
            "initial: a\nstates:\n  a: { invoke: { function: 'acme:f:0' }, on_done: { to: a } }",
            "states.a.invoke.function",
        ),
        (
            "initial: a\nstates:\n  a: { invoke: { function: 'acme:f:2', version: 3 }, on_done: { to: a } }",
            "states.a.invoke.function",
        ),
        // Exactly one kind.
        ("initial: a\nstates:\n  a: { invoke: {}, on_done: { to: a } }", "states.a.invoke"),
        (
            "initial: a\nstates:\n  a: { invoke: { function: f, publish: { topic: t, message: '1' } }, on_done: { to: a } }",
            "states.a.invoke",
        ),
        // Durations.
        ("initial: a\nstates:\n  a: { after: { 10x: a } }", "states.a.after.10x"),
        ("initial: a\nstates:\n  a: { after: { 0s: a } }", "states.a.after.0s"),
        ("initial: a\nstates:\n  a: { after: { 400d: a } }", "states.a.after.400d"),
        ("initial: a\nstates:\n  a: { after: { 1m: a, 60s: a } }", "states.a.after.60s"),
        (
            "initial: a\nstates:\n  a: { invoke: { function: f, timeout: 0ms }, on_done: { to: a } }",
            "states.a.invoke.timeout",
        ),
        // Timers and outcomes to unknown states.
        ("initial: a\nstates:\n  a: { after: { 1s: nowhere } }", "states.a.after.1s"),
        (
            "initial: a\nstates:\n  a: { after_expr: { 'duration(\"1s\")': nowhere } }",
            "states.a.after_expr.duration(\"1s\")",
        ),
        ("initial: a\nstates:\n  a: { invoke: { function: f }, on_done: { to: nowhere } }", "states.a.on_done.to"),
        ("initial: a\ntimeout: { after: 1h, to: nowhere }\nstates:\n  a: {}", "timeout.to"),
        // `result` only in on_done, `error` only in on_error.
        (
            "initial: a\nstates:\n  a: { invoke: { function: f }, on_done: { to: a }, on_error: { to: a, assign: { r: 'result.x' } } }",
            "states.a.on_error.assign.r",
        ),
        (
            "initial: a\nstates:\n  a: { invoke: { function: f }, on_done: { to: a, when: 'error.code == \"x\"' } }",
            "states.a.on_done.when",
        ),
        (
            "initial: a\nstates:\n  a: {}\ntransitions:\n  - { from: a, event: e, to: a, assign: { r: 'result' } }",
            "transitions[0].assign.r",
        ),
        // Outcomes without an action; an outcome without `when` before others.
        ("initial: a\nstates:\n  a: { on_done: { to: a } }", "states.a.on_done"),
        (
            "initial: a\nstates:\n  a: { invoke: { function: f }, on_done: [ { to: a }, { to: a } ] }",
            "states.a.on_done[0]",
        ),
        // Final states do no work; only final states are failures.
        ("initial: a\nstates:\n  a: { final: true, after: { 1s: a } }", "states.a.after"),
        ("initial: a\nstates:\n  a: { failure: true }", "states.a.failure"),
        // Waits.
        ("initial: a\nstates:\n  a: { wait: { event: go } }", "states.a.wait.event"),
        (
            "initial: a\nstates:\n  a: { wait: { event: go, timeout: 1h } }\ntransitions:\n  - { from: a, event: go, to: a }",
            "states.a.wait.on_timeout",
        ),
        // Effects.
        ("initial: a\nstates:\n  a: { on_entry: [ {} ] }", "states.a.on_entry[0]"),
        (
            "initial: a\nstates:\n  a: { on_entry: [ { publish: { topic: 'a b', message: '1' } } ] }",
            "states.a.on_entry[0].publish.topic",
        ),
        (
            "initial: a\nstates:\n  a: { invoke: { http: { url: '1 +' } }, on_done: { to: a } }",
            "states.a.invoke.http.url",
        ),
        (
            "initial: a\nstates:\n  a: { invoke: { http: { url: \"'x'\", method: TRACE } }, on_done: { to: a } }",
            "states.a.invoke.http.method",
        ),
        // Retry policies are checked like jobs'.
        (
            "initial: a\nstates:\n  a: { invoke: { function: f, retry: { max_attempts: 0 } }, on_done: { to: a } }",
            "states.a.invoke.retry.max_attempts",
        ),
        // A child machine is named `name` or `space:name`.
        ("initial: a\nstates:\n  a: { invoke: { machine: 'no good' }, on_done: { to: a } }", "states.a.invoke.machine"),
        ("initial: a\nstates:\n  a: { invoke: { machine: 'a:b:c' }, on_done: { to: a } }", "states.a.invoke.machine"),
        (
            "initial: a\nstates:\n  a: { invoke: { machine: m, timeout: 1h }, on_done: { to: a } }",
            "states.a.invoke.timeout",
        ),
        (
            "initial: a\nstates:\n  a: { invoke: { machine: m, retry: { max_attempts: 2 } }, on_done: { to: a } }",
            "states.a.invoke.retry",
        ),
    ];
    let mut wrong = Vec::new();
    for (yaml, path) in cases {
        let paths = refused(yaml);
        if !paths.iter().any(|p| p == path) {
            wrong.push(format!("{yaml}\n  want {path} in {paths:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_function_address_carries_a_version_only_in_three_parts() {
    let invoke = |function: &str| {
        let yaml = format!(
            "initial: a\nstates:\n  a: {{}}\n  b: {{ invoke: {{ function: '{function}' }}, on_done: {{ to: a }} }}\ntransitions:\n  - {{ from: a, event: go, to: b }}"
        );
        let machine = compile(&yaml).expect("compiles");
        let payload = Map::new();
        let outcome =
            machine.step("a", &Map::new(), Input::Event { name: "go", payload: &payload }, info(2), AT).expect("go");
        match &outcome.effects[0] {
            Effect::Invoke { payload, .. } => (payload["function"].clone(), payload.get("version").cloned()),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(invoke("billing:7"), (json!("billing:7"), None));
    assert_eq!(invoke("acme:charge:3"), (json!("acme:charge"), Some(json!(3))));
    assert_eq!(invoke("charge"), (json!("charge"), None));
}

#[test]
fn durations_that_are_not_durations_are_shape_errors() {
    let err = compile("initial: a\nstates:\n  a: { invoke: { function: f, timeout: soon }, on_done: { to: a } }")
        .unwrap_err();
    assert!(
        matches!(err, DefinitionError::Syntax { ref path, .. } if path.as_deref() == Some("states.a.invoke.timeout")),
        "{err:?}"
    );
}

#[test]
fn every_example_machine_compiles() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/machines");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/machines") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        compile(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        seen += 1;
    }
    assert!(seen >= 2, "the examples are there");
}
