//! Transition logic: guards, assignments, payload merge, final states and the context schema.

use serde_json::{Map, Value, json};
use switchyard_model::{CompiledMachine, DefinitionFormat, GuardFailure, TransitionError, parse_definition};

/// rstmdb's README definitions, verbatim.
const RSTMDB_ORDER: &str = r#"{"states":["created","paid","shipped"],"initial":"created","transitions":[{"from":"created","event":"PAY","to":"paid"},{"from":"paid","event":"SHIP","to":"shipped","guard":"ctx.ready"}]}"#;
const RSTMDB_APPROVAL: &str = r#"{"states":["pending","approved","rejected"],"initial":"pending","transitions":[{"from":"pending","event":"APPROVE","to":"approved","guard":"ctx.amount <= 1000"},{"from":"pending","event":"REJECT","to":"rejected"}]}"#;

fn machine(body: &str) -> CompiledMachine {
    let format = if body.trim_start().starts_with('{') { DefinitionFormat::Json } else { DefinitionFormat::Yaml };
    CompiledMachine::compile(parse_definition(body.as_bytes(), format).unwrap()).unwrap()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn rstmdb_readme_order_machine_behaves_the_same() {
    let m = machine(RSTMDB_ORDER);
    assert_eq!(m.initial_state(), "created");
    let ctx = obj(json!({"ready": false}));
    m.validate_context(&ctx).unwrap();
    let paid = m.apply("created", &ctx, "PAY", &obj(json!({"amount": 99.99})), 0).unwrap();
    assert_eq!(paid.to, "paid");
    assert_eq!(Value::Object(paid.ctx.clone()), json!({"ready": false, "amount": 99.99}));
    let err = m.apply("paid", &paid.ctx, "SHIP", &Map::new(), 0).unwrap_err();
    assert_eq!(
        err,
        TransitionError::GuardRejected {
            state: "paid".into(),
            event: "SHIP".into(),
            guards: vec![GuardFailure { guard: "ctx.ready".into(), reason: "evaluated to false".into() }],
        }
    );
    assert_eq!(
        err.to_string(),
        r#"event "SHIP" in state "paid" was rejected by guard "ctx.ready": evaluated to false"#
    );
    let ready = m.apply("paid", &paid.ctx, "READY", &Map::new(), 0);
    assert!(matches!(ready, Err(TransitionError::NoTransition { .. })));
    let mut ctx = paid.ctx.clone();
    ctx.insert("ready".into(), json!(true));
    assert_eq!(m.apply("paid", &ctx, "SHIP", &Map::new(), 0).unwrap().to, "shipped");
}

#[test]
fn rstmdb_readme_approval_machine_behaves_the_same() {
    let m = machine(RSTMDB_APPROVAL);
    let small = obj(json!({"amount": 99.99}));
    assert_eq!(m.apply("pending", &small, "APPROVE", &Map::new(), 0).unwrap().to, "approved");
    let big = obj(json!({"amount": 5000}));
    assert!(matches!(m.apply("pending", &big, "APPROVE", &Map::new(), 0), Err(TransitionError::GuardRejected { .. })));
    assert_eq!(m.apply("pending", &big, "REJECT", &Map::new(), 0).unwrap().to, "rejected");
}

const ORDER_YAML: &str = r#"
name: order
initial: pending
context_schema: { type: object, required: [amount], properties: { amount: { type: number } } }
states:
  pending: {}
  paid: {}
  shipped:
  cancelled: { final: true }
transitions:
  - { from: pending, event: pay, to: paid, guard: "event.amount >= ctx.amount" }
  - { from: paid, event: ship, to: shipped }
  - { from: [pending, paid], event: cancel, to: cancelled }
"#;

const COUNTER_YAML: &str = r#"
initial: idle
states: [idle, busy, over]
final: [over]
transitions:
  - from: idle
    event: start
    to: busy
    assign: { count: "ctx.count + 1", last: "event.who", from_state: "state", seen: "[ctx.count, event.who]" }
  - from: busy
    event: stop
    to: idle
    assign: {}
  - { from: busy, event: add, to: busy, guard: "has(event.n) && event.n > 0", assign: { total: "ctx.total + event.n" } }
  - { from: busy, event: add, to: over, guard: "event.n == 0" }
  - { from: busy, event: bad, to: idle, assign: { x: "1 / 0" } }
  - { from: busy, event: bytes, to: idle, assign: { x: "b'abc'" } }
  - { from: busy, event: nan, to: idle, assign: { x: "0.0 / 0.0" } }
  - { from: busy, event: map, to: idle, assign: { x: "{1: 'one', 'b': [true, null, 2u, 1.5]}" } }
  - { from: [idle, busy], event: weird, to: over, guard: "ctx.count" }
  - { from: [idle, busy], event: weird, to: over, guard: "ctx.nosuch > 1" }
  - { from: [idle, busy], event: weird, to: over, guard: "dyn('text')" }
"#;

/// (machine, state, ctx, event, payload, Ok((to, new ctx)) | Err(Display))
type Case = (&'static str, &'static str, Value, &'static str, Value, Result<(&'static str, Value), &'static str>);

fn cases() -> Vec<Case> {
    vec![
        // Guards see ctx and event; int and double compare either way.
        (
            ORDER_YAML,
            "pending",
            json!({"amount": 100}),
            "pay",
            json!({"amount": 100}),
            Ok(("paid", json!({"amount": 100}))),
        ),
        (
            ORDER_YAML,
            "pending",
            json!({"amount": 100}),
            "pay",
            json!({"amount": 100.5}),
            Ok(("paid", json!({"amount": 100.5}))),
        ),
        (
            ORDER_YAML,
            "pending",
            json!({"amount": 99.5}),
            "pay",
            json!({"amount": 100}),
            Ok(("paid", json!({"amount": 100}))),
        ),
        (
            ORDER_YAML,
            "pending",
            json!({"amount": 100}),
            "pay",
            json!({"amount": 100.0}),
            Ok(("paid", json!({"amount": 100.0}))),
        ),
        (
            ORDER_YAML,
            "pending",
            json!({"amount": 100}),
            "pay",
            json!({"amount": 18446744073709551615u64}),
            Ok(("paid", json!({"amount": 18446744073709551615u64}))),
        ),
        (
            ORDER_YAML,
            "pending",
            json!({"amount": 100}),
            "pay",
            json!({"amount": 99.99}),
            Err(
                r#"event "pay" in state "pending" was rejected by guard "event.amount >= ctx.amount": evaluated to false"#,
            ),
        ),
        (
            ORDER_YAML,
            "pending",
            json!({"amount": 100}),
            "pay",
            json!({}),
            Err(
                r#"event "pay" in state "pending" was rejected by guard "event.amount >= ctx.amount": evaluation failed: No such key: amount"#,
            ),
        ),
        (
            ORDER_YAML,
            "pending",
            json!({"amount": 100}),
            "pay",
            json!({"amount": "lots"}),
            Err(
                r#"event "pay" in state "pending" was rejected by guard "event.amount >= ctx.amount": evaluation failed: found no matching overload for '_>=_' applied to '(string, int)'"#,
            ),
        ),
        // Without assign the payload is merged; the result must satisfy the schema.
        (
            ORDER_YAML,
            "paid",
            json!({"amount": 1}),
            "ship",
            json!({"carrier": "ups"}),
            Ok(("shipped", json!({"amount": 1, "carrier": "ups"}))),
        ),
        (
            ORDER_YAML,
            "paid",
            json!({"amount": 1}),
            "ship",
            json!({"amount": "x"}),
            Err(r#"context does not match context_schema: /amount: "x" is not of type "number""#),
        ),
        (ORDER_YAML, "paid", json!({"amount": 1}), "cancel", json!({}), Ok(("cancelled", json!({"amount": 1})))),
        (
            ORDER_YAML,
            "cancelled",
            json!({"amount": 1}),
            "pay",
            json!({}),
            Err(r#"state "cancelled" is final; event "pay" cannot be applied"#),
        ),
        (
            ORDER_YAML,
            "shipped",
            json!({"amount": 1}),
            "pay",
            json!({}),
            Err(r#"no transition from state "shipped" on event "pay""#),
        ),
        (
            ORDER_YAML,
            "nowhere",
            json!({"amount": 1}),
            "pay",
            json!({}),
            Err(r#"no transition from state "nowhere" on event "pay""#),
        ),
        // Assign evaluates against the old ctx, event and state; the payload is not merged.
        (
            COUNTER_YAML,
            "idle",
            json!({"count": 1, "keep": true}),
            "start",
            json!({"who": "ann", "extra": 1}),
            Ok(("busy", json!({"count": 2, "keep": true, "last": "ann", "from_state": "idle", "seen": [1, "ann"]}))),
        ),
        (COUNTER_YAML, "busy", json!({"count": 2}), "stop", json!({"x": 1}), Ok(("idle", json!({"count": 2})))),
        (COUNTER_YAML, "busy", json!({"total": 1}), "add", json!({"n": 2}), Ok(("busy", json!({"total": 3})))),
        (COUNTER_YAML, "busy", json!({"total": 1.5}), "add", json!({"n": 2.5}), Ok(("busy", json!({"total": 4.0})))),
        (
            COUNTER_YAML,
            "busy",
            json!({"total": 1}),
            "add",
            json!({"n": 2.5}),
            Err(
                "cannot assign ctx.total: evaluation failed: Unsupported binary operator 'add': Int(1), Float(2.5) (CEL does not mix int and double in arithmetic; convert one side with double(x) or int(x))",
            ),
        ),
        (COUNTER_YAML, "busy", json!({"total": 1}), "add", json!({"n": 0}), Ok(("over", json!({"total": 1, "n": 0})))),
        (
            COUNTER_YAML,
            "busy",
            json!({"total": 1}),
            "add",
            json!({"n": -1}),
            Err(
                r#"event "add" in state "busy" was rejected by guard "has(event.n) && event.n > 0": evaluated to false (and 1 more guards)"#,
            ),
        ),
        (
            COUNTER_YAML,
            "busy",
            json!({}),
            "bad",
            json!({}),
            Err("cannot assign ctx.x: evaluation failed: Division by zero of Int(1)"),
        ),
        (
            COUNTER_YAML,
            "busy",
            json!({}),
            "bytes",
            json!({}),
            Err("cannot assign ctx.x: a bytes value cannot be stored as JSON"),
        ),
        (
            COUNTER_YAML,
            "busy",
            json!({}),
            "nan",
            json!({}),
            Err("cannot assign ctx.x: the double NaN cannot be stored as JSON"),
        ),
        (
            COUNTER_YAML,
            "busy",
            json!({}),
            "map",
            json!({}),
            Ok(("idle", json!({"x": {"1": "one", "b": [true, null, 2, 1.5]}}))),
        ),
        (
            COUNTER_YAML,
            "over",
            json!({}),
            "weird",
            json!({}),
            Err(r#"state "over" is final; event "weird" cannot be applied"#),
        ),
    ]
}

#[test]
fn apply_table() {
    let mut failures = Vec::new();
    for (i, (def, state, ctx, event, payload, expected)) in cases().into_iter().enumerate() {
        let m = machine(def);
        let got = m.apply(state, &obj(ctx), event, &obj(payload), 0);
        let ok = match (&got, &expected) {
            (Ok(outcome), Ok((to, new_ctx))) => outcome.to == *to && Value::Object(outcome.ctx.clone()) == *new_ctx,
            (Err(e), Err(message)) => e.to_string() == *message,
            _ => false,
        };
        if !ok {
            let shown = got.map(|o| (o.to, Value::Object(o.ctx))).map_err(|e| e.to_string());
            failures.push(format!("case {i} ({state} --{event}-->)\n got: {shown:?}\nwant: {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_failing_guard_is_reported_in_order() {
    let m = machine(COUNTER_YAML);
    let err = m.apply("idle", &obj(json!({"count": 3})), "weird", &Map::new(), 0).unwrap_err();
    let TransitionError::GuardRejected { guards, .. } = err else { panic!("{err:?}") };
    let reasons: Vec<(&str, &str)> = guards.iter().map(|g| (g.guard.as_str(), g.reason.as_str())).collect();
    assert_eq!(
        reasons,
        [
            ("ctx.count", "evaluated to 3, not a bool"),
            ("ctx.nosuch > 1", "evaluation failed: No such key: nosuch"),
            ("dyn('text')", "evaluated to \"text\", not a bool"),
        ]
    );
    assert_eq!(
        serde_json::to_value(&guards[0]).unwrap(),
        json!({"guard": "ctx.count", "reason": "evaluated to 3, not a bool"})
    );
}

#[test]
fn validate_context_checks_the_schema() {
    let m = machine(ORDER_YAML);
    assert!(m.validate_context(&obj(json!({"amount": 3}))).is_ok());
    let err = m.validate_context(&obj(json!({"amount": "x"}))).unwrap_err();
    assert_eq!(err.errors, [r#"/amount: "x" is not of type "number""#]);
    let err = m.validate_context(&Map::new()).unwrap_err();
    assert_eq!(err.to_string(), r#"context does not match context_schema: "amount" is a required property"#);
    // Without a schema every context is accepted.
    assert!(machine(RSTMDB_ORDER).validate_context(&obj(json!({"anything": [1]}))).is_ok());
}

#[test]
fn context_error_display_shows_the_first_three() {
    let m = machine(
        r#"{"initial":"a","states":["a"],"context_schema":{"type":"object","properties":{
            "a":{"type":"string"},"b":{"type":"string"},"c":{"type":"string"},"d":{"type":"string"},"e":{"type":"string"}}}}"#,
    );
    let err = m.validate_context(&obj(json!({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}))).unwrap_err();
    assert_eq!(err.errors.len(), 5);
    assert!(err.to_string().ends_with(" (and 2 more)"), "{err}");
}

#[test]
fn deeply_nested_context_is_refused_not_overflowed() {
    let m = machine(RSTMDB_ORDER);
    let mut deep = json!(true);
    for _ in 0..300 {
        deep = json!({ "x": deep });
    }
    let ctx = obj(json!({ "ready": deep }));
    let err = m.apply("paid", &ctx, "SHIP", &Map::new(), 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"event "SHIP" in state "paid" was rejected by guard "ctx.ready": evaluation failed: ctx nests deeper than 256 levels"#
    );
    // Transitions that read nothing still work.
    assert_eq!(m.apply("created", &ctx, "PAY", &Map::new(), 0).unwrap().to, "paid");
}

#[test]
fn compiled_machine_is_shared_across_threads() {
    let m = std::sync::Arc::new(machine(RSTMDB_APPROVAL));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let m = std::sync::Arc::clone(&m);
            std::thread::spawn(move || {
                let ctx = obj(json!({"amount": i * 500}));
                m.apply("pending", &ctx, "APPROVE", &Map::new(), 0).is_ok()
            })
        })
        .collect();
    let results: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results, [true, true, true, false]);
}

#[test]
fn awkward_expressions_fail_cleanly() {
    let deep_parens = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    let sources: Vec<String> = [
        "9223372036854775807 + 1",
        "-9223372036854775808",
        "99999999999999999999999",
        "1e999",
        "'\\ud800'",
        "b'\\xff'",
        "int('x')",
        "'abc'[5]",
        "[1, 2][3]",
        "{'a': 1}['b']",
        "size(ctx)",
        "'a'.matches('[')",
        "double('nan')",
        "type(1)",
        "optional.of(1)",
        "[1, 2].map(x, x * 2)",
        "timestamp('2020-01-01T00:00:00Z')",
        "ctx.missing.deeper",
        "event",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([deep_parens])
    .collect();
    for source in sources {
        let def = json!({
            "initial": "a",
            "states": ["a", "b"],
            "transitions": [
                {"from": "a", "event": "guard", "to": "b", "guard": source},
                {"from": "a", "event": "assign", "to": "b", "assign": {"x": source}},
            ],
        });
        let Ok(m) = CompiledMachine::from_canonical_json(&def) else {
            continue;
        };
        let ctx = obj(json!({"n": 1}));
        assert!(m.apply("a", &ctx, "guard", &ctx, 0).is_err(), "{source}");
        let _ = m.apply("a", &ctx, "assign", &ctx, 0);
    }
    let m = CompiledMachine::from_canonical_json(&json!({
        "initial": "a", "states": ["a", "b"],
        "transitions": [{"from": "a", "event": "t", "to": "b", "assign": {"x": "optional.of(1)"}}],
    }))
    .unwrap();
    let err = m.apply("a", &Map::new(), "t", &Map::new(), 0).unwrap_err();
    assert_eq!(err.to_string(), "cannot assign ctx.x: a value of type Opaque cannot be stored as JSON");
}

/// JSON numbers become CEL `int` when they fit i64, `uint` when only u64 holds them, else
/// `double`; int and double compare with each other but do not mix in arithmetic.
#[test]
fn json_values_get_the_documented_cel_types() {
    let m = CompiledMachine::from_canonical_json(&json!({
        "initial": "a", "states": ["a"],
        "transitions": [{"from": "a", "event": "t", "to": "a", "assign": {"t": "type(event.v)"}}],
    }))
    .unwrap();
    let table = [
        (json!(1), "int"),
        (json!(-1), "int"),
        (json!(9223372036854775807i64), "int"),
        (json!(9223372036854775808u64), "uint"),
        (json!(1.0), "double"),
        (json!(99.99), "double"),
        (json!("x"), "string"),
        (json!(true), "bool"),
        (json!(null), "null_type"),
        (json!([1]), "list"),
        (json!({"k": 1}), "map"),
    ];
    for (value, expected) in table {
        let out = m.apply("a", &Map::new(), "t", &obj(json!({"v": value})), 0).unwrap();
        assert_eq!(out.ctx.get("t"), Some(&json!(expected)), "{value}");
    }

    let compare = CompiledMachine::from_canonical_json(&json!({
        "initial": "a", "states": ["a", "b"],
        "transitions": [{"from": "a", "event": "t", "to": "b", "guard": "event.x == ctx.y && event.x <= ctx.y && ctx.y >= event.x"}],
    }))
    .unwrap();
    for (x, y) in [(json!(1), json!(1.0)), (json!(1.0), json!(1)), (json!(7), json!(7u64)), (json!(2.5), json!(2.5))] {
        let ok = compare.apply("a", &obj(json!({"y": y})), "t", &obj(json!({"x": x})), 0);
        assert!(ok.is_ok(), "{x} vs {y}: {ok:?}");
    }
}
