//! Definition parsing and validation: tables of bad definitions with the expected first error.

use serde_json::json;
use switchyard_model::{
    CompiledMachine, DefinitionError, DefinitionFormat, MachineDefinition, definition_from_json, parse_definition,
};

fn load(body: &str, format: DefinitionFormat) -> Result<CompiledMachine, DefinitionError> {
    CompiledMachine::compile(parse_definition(body.as_bytes(), format)?)
}

fn load_json(v: serde_json::Value) -> Result<CompiledMachine, DefinitionError> {
    load(&v.to_string(), DefinitionFormat::Json)
}

/// (definition as JSON, expected Display of the error, i.e. the first error plus "(and N more)")
fn invalid_cases() -> Vec<(serde_json::Value, &'static str)> {
    let t = |from: serde_json::Value, event: &str, to: &str| json!({"from": from, "event": event, "to": to});
    vec![
        (json!({"states": ["a"], "transitions": []}), "initial: missing; name the state new instances start in"),
        (json!({"initial": "x", "states": ["a"]}), r#"initial: unknown state "x""#),
        (json!({"initial": "a", "states": []}), "states: must declare at least one state (and 1 more)"),
        (json!({"initial": "a"}), "states: must declare at least one state (and 1 more)"),
        (json!({"initial": "a", "states": ["a", "b", "a"]}), r#"states[2]: duplicate state "a""#),
        (
            json!({"initial": "a", "states": ["a", "bad name"]}),
            r#"states[1]: invalid state name "bad name": character ' ' is not allowed (use A-Z, a-z, 0-9, '.', '_', '-')"#,
        ),
        (
            json!({"initial": "a", "states": {"a": {}, "-b": null}}),
            r#"states.-b: invalid state name "-b": must start with a letter or digit"#,
        ),
        (
            json!({"name": "my machine", "initial": "a", "states": ["a"]}),
            r#"name: invalid machine name "my machine": character ' ' is not allowed (use A-Z, a-z, 0-9, '.', '_', '-')"#,
        ),
        (json!({"initial": "a", "states": ["a"], "final": ["z"]}), r#"final[0]: unknown state "z""#),
        (
            json!({"initial": "created", "states": ["created", "paid", "shipped"], "transitions": [
                t(json!("created"), "PAY", "paid"), t(json!("paid"), "SHIP", "shiped"),
            ]}),
            r#"transitions[1].to: unknown state "shiped""#,
        ),
        (
            json!({"initial": "a", "states": ["a", "b"], "transitions": [
                t(json!("a"), "go", "b"), t(json!(["a", "zz"]), "go2", "b"),
            ]}),
            r#"transitions[1].from[1]: unknown state "zz""#,
        ),
        (
            json!({"initial": "a", "states": ["a", "b"], "transitions": [t(json!("q"), "go", "b")]}),
            r#"transitions[0].from: unknown state "q""#,
        ),
        (
            json!({"initial": "a", "states": ["a", "b"], "transitions": [t(json!([]), "go", "b")]}),
            "transitions[0].from: must name at least one state",
        ),
        (
            json!({"initial": "a", "states": ["a", "b"], "transitions": [t(json!(["a", "a"]), "go", "b")]}),
            r#"transitions[0].from[1]: state "a" is listed twice"#,
        ),
        (
            json!({"initial": "a", "states": {"a": {}, "done": {"final": true}}, "transitions": [
                t(json!("a"), "finish", "done"), t(json!("done"), "reopen", "a"),
            ]}),
            r#"transitions[1].from: state "done" is final; no transition may leave a final state"#,
        ),
        (
            json!({"initial": "a", "states": ["a", "done"], "final": ["done"], "transitions": [
                t(json!(["a", "done"]), "x", "a"),
            ]}),
            r#"transitions[0].from[1]: state "done" is final; no transition may leave a final state"#,
        ),
        (
            json!({"initial": "a", "states": ["a", "b"], "transitions": [t(json!("a"), "", "b")]}),
            "transitions[0].event: must not be empty",
        ),
        (
            json!({"initial": "a", "states": ["a", "b"], "transitions": [
                {"from": "a", "event": "go", "to": "b", "guard": "ctx.a &&& b"},
            ]}),
            "transitions[0].guard: CEL syntax error at 1:9: Syntax error: token recognition error at: '& '",
        ),
        (
            json!({"initial": "a", "states": ["a", "b"], "transitions": [
                {"from": "a", "event": "go", "to": "b", "guard": "  "},
            ]}),
            "transitions[0].guard: must not be empty",
        ),
        (
            json!({"initial": "a", "states": ["a", "b"], "transitions": [
                {"from": "a", "event": "go", "to": "b", "guard": format!("1 == 1 {}", "&& true ".repeat(600))},
            ]}),
            "transitions[0].guard: is 4807 bytes long; expressions are limited to 4096 bytes",
        ),
        (
            json!({"initial": "a", "states": ["a", "b"], "transitions": [
                {"from": "a", "event": "go", "to": "b", "assign": {"total": "ctx.total +"}},
            ]}),
            "transitions[0].assign.total: CEL syntax error at 1:12: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}",
        ),
        (
            json!({"initial": "a", "states": ["a", "b"], "transitions": [
                {"from": "a", "event": "go", "to": "b", "assign": {"": "1"}},
            ]}),
            "transitions[0].assign: keys must not be empty",
        ),
        (
            json!({"initial": "pending", "states": ["pending", "paid", "x", "y", "z"], "transitions": [
                t(json!("x"), "a", "y"),
                t(json!("pending"), "pay", "paid"),
                t(json!("y"), "b", "z"),
                t(json!("z"), "c", "x"),
                t(json!("pending"), "pay", "x"),
            ]}),
            r#"transitions[4]: same from "pending" and event "pay" as transitions[1] and cannot be told apart (neither has a guard)"#,
        ),
        (
            json!({"initial": "p", "states": ["p", "q"], "transitions": [
                t(json!(["q", "p"]), "go", "q"),
                {"from": "p", "event": "go", "to": "p", "guard": "ctx.ok"},
            ]}),
            r#"transitions[1]: same from "p" and event "go" as transitions[0] and cannot be told apart (transitions[0] has no guard, so this one can never fire)"#,
        ),
        (
            json!({"initial": "p", "states": ["p", "q"], "transitions": [
                {"from": "p", "event": "go", "to": "q", "guard": "ctx.ok"},
                {"from": "p", "event": "go", "to": "p", "guard": " ctx.ok "},
            ]}),
            r#"transitions[1]: same from "p" and event "go" as transitions[0] and cannot be told apart (both have the guard "ctx.ok")"#,
        ),
        (
            json!({"initial": "a", "states": ["a"], "context_schema": "object"}),
            "context_schema: must be a JSON object (a JSON Schema)",
        ),
        (
            json!({"initial": "a", "states": ["a"], "context_schema": {"type": "objekt"}}),
            r#"context_schema: invalid JSON Schema: "objekt" is not valid under any of the schemas listed in the 'anyOf' keyword"#,
        ),
        (
            json!({"initial": "a", "states": ["a"], "context_schema": {"$ref": "https://example.com/schema.json"}}),
            "context_schema: invalid JSON Schema: ",
        ),
        (
            json!({"initial": "x", "states": ["a", "a"], "transitions": [t(json!("b"), "", "c")]}),
            r#"states[1]: duplicate state "a" (and 4 more)"#,
        ),
    ]
}

#[test]
fn invalid_definitions_report_the_first_problem() {
    for (definition, expected) in invalid_cases() {
        let err = load_json(definition.clone()).expect_err(&definition.to_string());
        assert!(matches!(err, DefinitionError::Invalid(_)), "{definition}: {err:?}");
        let shown = err.to_string();
        if expected.ends_with(": ") {
            assert!(shown.starts_with(expected), "{definition}\n got: {shown}\nwant: {expected}…");
        } else {
            assert_eq!(shown, expected, "{definition}");
        }
    }
}

#[test]
fn every_problem_is_collected() {
    let err = load_json(json!({
        "initial": "nope",
        "states": ["created", "paid", "created"],
        "transitions": [
            {"from": "created", "event": "PAY", "to": "payed"},
            {"from": ["created", "ghost"], "event": "", "to": "paid", "guard": "ctx.(", "assign": {"n": "1 +"}},
        ],
    }))
    .unwrap_err();
    let shown: Vec<String> = err.field_errors().iter().map(ToString::to_string).collect();
    let paths: Vec<&str> = err.field_errors().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "states[2]",
            "initial",
            "transitions[0].to",
            "transitions[1].from[1]",
            "transitions[1].event",
            "transitions[1].guard",
            "transitions[1].assign.n",
        ],
        "{shown:#?}"
    );
    assert_eq!(err.to_string(), r#"states[2]: duplicate state "created" (and 6 more)"#);
}

/// (format, body, expected Display)
const SYNTAX_CASES: &[(DefinitionFormat, &str, &str)] = &[
    (
        DefinitionFormat::Json,
        r#"{"initial":"a","states":["a"],"transitions":[{"frm":"a","event":"e","to":"a"}]}"#,
        r#"transitions[0].frm: unknown field "frm", expected one of "from", "event", "to", "guard", "assign" (JSON line 1, column 51)"#,
    ),
    (
        DefinitionFormat::Yaml,
        "initial: a\nstates: [a]\ntransitions:\n  - frm: a\n    event: e\n    to: a\n",
        r#"transitions[0].frm: unknown field "frm", expected one of "from", "event", "to", "guard", "assign" (YAML line 4, column 5)"#,
    ),
    (
        DefinitionFormat::Json,
        r#"{"initial":"a","states":["a"],"colour":"red"}"#,
        r#"colour: unknown field "colour", expected one of "name", "initial", "states", "final", "transitions", "context_schema", "timeout", "flow" (JSON line 1, column 38)"#,
    ),
    (
        DefinitionFormat::Json,
        r#"{"initial":"a","states":["a"],"transitions":[{"from":"a","event":"e"}]}"#,
        r#"transitions[0]: missing field "to" (JSON line 1, column 69)"#,
    ),
    (
        DefinitionFormat::Json,
        r#"{"initial":"a","states":["a"],"transitions":[{"from":"a","event":"e","to":"a"}"#,
        "invalid JSON: EOF while parsing a list (JSON line 1, column 78)",
    ),
    (
        DefinitionFormat::Json,
        r#"{"initial":"a","states":["a"]} trailing"#,
        "invalid JSON: trailing characters (JSON line 1, column 32)",
    ),
    (
        DefinitionFormat::Json,
        r#"{"initial":5,"states":["a"]}"#,
        r#"initial: invalid type: integer "5", expected a string (JSON line 1, column 12)"#,
    ),
    (
        DefinitionFormat::Json,
        r#"["a"]"#,
        r#"invalid JSON: invalid type: sequence, expected a machine definition (a map with "initial", "states" and "transitions") (JSON line 1)"#,
    ),
    (
        DefinitionFormat::Json,
        r#"{"initial":"a","states":"a"}"#,
        r#"states: invalid type: string "a", expected a list of state names or a map from state name to state spec (JSON line 1, column 27)"#,
    ),
    (DefinitionFormat::Json, r#"{"initial":"a","states":{"a":{"fnal":true}}}"#, ""),
    (
        DefinitionFormat::Yaml,
        "initial: a\nstates:\n  a: {}\n  charging:\n    invoke: { functon: \"acme:charge-card\" }\n",
        "",
    ),
    (
        DefinitionFormat::Yaml,
        "initial: a\nstates: [a\n",
        "invalid YAML: did not find expected ',' or ']' at line 3 column 1, while parsing a flow sequence at line 2 column 9",
    ),
    (
        DefinitionFormat::Yaml,
        "initial: a\nstates: [a]\ntransitions:\n  - from: a\n    event: e\n    to: [a]\n",
        "transitions[0].to: invalid type: sequence, expected a string (YAML line 6, column 9)",
    ),
    (DefinitionFormat::Yaml, "\u{feff}\u{0}", ""),
];

#[test]
fn syntax_and_shape_errors_name_the_field_and_position() {
    let mut mismatches = Vec::new();
    for (format, body, expected) in SYNTAX_CASES {
        let err = parse_definition(body.as_bytes(), *format).expect_err(body);
        assert!(matches!(err, DefinitionError::Syntax { .. }), "{body}: {err:?}");
        if !expected.is_empty() && &err.to_string() != expected {
            mismatches.push(format!("{body:?}\n got: {err}\nwant: {expected}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn syntax_error_fields_are_structured() {
    let err = parse_definition(SYNTAX_CASES[1].1.as_bytes(), DefinitionFormat::Yaml).unwrap_err();
    let DefinitionError::Syntax { format, line, column, path, message } = err else {
        panic!("not a syntax error");
    };
    assert_eq!(format, "YAML");
    assert_eq!((line, column), (Some(4), Some(5)));
    assert_eq!(path.as_deref(), Some("transitions[0].frm"));
    assert!(message.starts_with(r#"unknown field "frm""#), "{message}");
}

#[test]
fn arbitrary_bytes_never_panic() {
    let samples: &[&[u8]] =
        &[b"", b"\xff\xfe", b"{", b"[[[[", b"- - -", b"~", b"null", b"{states: {a: }}", b"initial: a\n---\nx: 1\n"];
    for body in samples {
        for format in [DefinitionFormat::Json, DefinitionFormat::Yaml] {
            if let Ok(def) = parse_definition(body, format) {
                let _ = CompiledMachine::compile(def);
            }
        }
    }
}

const ORDER_YAML: &str = r#"
name: order
initial: pending
context_schema: { type: object, required: [amount] }   # optional JSON Schema
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

#[test]
fn design_order_machine_loads_from_yaml() {
    let m = load(ORDER_YAML, DefinitionFormat::Yaml).unwrap();
    assert_eq!(m.name(), Some("order"));
    assert_eq!(m.initial_state(), "pending");
    assert!(m.is_final("cancelled"));
    assert!(!m.is_final("paid"));
    assert!(m.has_state("shipped"));
    assert!(!m.has_state("charging"));
    assert_eq!(m.state_names().collect::<Vec<_>>(), ["cancelled", "paid", "pending", "shipped"]);
    assert_eq!(m.events_from("pending"), ["cancel", "pay"]);
    assert!(m.events_from("cancelled").is_empty());
    assert_eq!(
        m.canonical_json(),
        &json!({
            "context_schema": {"required": ["amount"], "type": "object"},
            "initial": "pending",
            "name": "order",
            "states": {"cancelled": {"final": true}, "paid": {}, "pending": {}, "shipped": {}},
            "transitions": [
                {"event": "pay", "from": ["pending"], "guard": "event.amount >= ctx.amount", "to": "paid"},
                {"event": "ship", "from": ["paid"], "to": "shipped"},
                {"event": "cancel", "from": ["paid", "pending"], "to": "cancelled"},
            ],
        })
    );
}

#[test]
fn same_definition_in_any_form_has_the_same_canonical_json() {
    let yaml = load(ORDER_YAML, DefinitionFormat::Yaml).unwrap();
    let json_list_form = load_json(json!({
        "transitions": [
            {"to": "paid", "guard": "event.amount >= ctx.amount", "event": "pay", "from": "pending"},
            {"from": ["paid"], "event": "ship", "to": "shipped"},
            {"from": ["paid", "pending"], "event": "cancel", "to": "cancelled"},
        ],
        "states": ["pending", "paid", "shipped", "cancelled"],
        "final": ["cancelled"],
        "initial": "pending",
        "name": "order",
        "context_schema": {"type": "object", "required": ["amount"]},
    }))
    .unwrap();
    assert_eq!(yaml.canonical_json(), json_list_form.canonical_json());
    let reloaded = CompiledMachine::from_canonical_json(yaml.canonical_json()).unwrap();
    assert_eq!(reloaded.canonical_json(), yaml.canonical_json());
}

#[test]
fn from_canonical_json_reports_shape_errors_with_a_path() {
    let err =
        CompiledMachine::from_canonical_json(&json!({"initial": "a", "states": {"a": {"final": "yes"}}})).unwrap_err();
    assert_eq!(err.to_string(), r#"states.a.final: invalid type: string "yes", expected a boolean"#);
}

#[test]
fn source_form_round_trips_through_yaml_and_json() {
    let def = parse_definition(ORDER_YAML.as_bytes(), DefinitionFormat::Yaml).unwrap();
    let yaml = serde_norway::to_string(&def).unwrap();
    assert_eq!(parse_definition(yaml.as_bytes(), DefinitionFormat::Yaml).unwrap(), def);
    let json = serde_json::to_vec(&def).unwrap();
    let back: MachineDefinition = parse_definition(&json, DefinitionFormat::Json).unwrap();
    assert_eq!(back, def);
}

#[test]
fn compiled_machine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<CompiledMachine>();
    assert_send_sync::<DefinitionError>();
    assert_send_sync::<switchyard_model::TransitionError>();
}

/// rstmdb's guard parser ignored trailing input (`ctx.ready garbage` meant `ctx.ready`); a
/// guard here is one whole CEL expression or an error that points past the valid prefix.
#[test]
fn guard_with_trailing_input_is_refused_not_truncated() {
    for guard in ["ctx.ready garbage", "ctx.amount <= 1000 1000", "ctx.ready)", "ctx.ready; true"] {
        let def = json!({"initial": "a", "states": ["a", "b"], "transitions": [
            {"from": "a", "event": "go", "to": "b", "guard": guard},
        ]});
        let err = CompiledMachine::compile(definition_from_json(&def).expect("shape is valid"))
            .err()
            .unwrap_or_else(|| panic!("guard {guard:?} compiled; trailing input was ignored"));
        let text = err.to_string();
        assert!(text.starts_with("transitions[0].guard: CEL syntax error at 1:"), "{guard:?}: {text}");
    }
}

fn too_deep(result: Result<CompiledMachine, DefinitionError>) -> bool {
    matches!(&result, Err(DefinitionError::Syntax { message, .. }) if message.contains("deeper than the limit of 64"))
}

#[test]
fn definitions_nested_past_the_limit_are_refused_before_parsing() {
    use switchyard_model::json::MAX_DEPTH;
    let flow = |levels: usize| format!("initial: a\nstates: {}a{}\n", "[".repeat(levels), "]".repeat(levels));
    // `states` is one level inside the root map; the flow brackets are the rest.
    assert!(!too_deep(load(&flow(MAX_DEPTH - 1), DefinitionFormat::Yaml)));
    assert!(too_deep(load(&flow(MAX_DEPTH), DefinitionFormat::Yaml)));
    assert!(too_deep(load(&flow(1_000_000), DefinitionFormat::Yaml)));
    let dashes = format!("initial: a\nstates:\n  {}a\n", "- ".repeat(100_000));
    assert!(too_deep(load(&dashes, DefinitionFormat::Yaml)));
    let mut block = String::from("initial: a\nstates:\n");
    for level in 0..200 {
        block.push_str(&format!("{}- \n", " ".repeat(level + 2)));
    }
    assert!(too_deep(load(&block, DefinitionFormat::Yaml)));
    let json_text = format!(r#"{{"initial":"a","states":{}a{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    assert!(too_deep(load(&json_text, DefinitionFormat::Json)));
    assert!(too_deep(load(&json_text, DefinitionFormat::Yaml)));
}

#[test]
fn brackets_in_quotes_and_comments_do_not_count_towards_the_yaml_limit() {
    let brackets = "[".repeat(200);
    let yaml = format!(
        "# {brackets}\ninitial: a\nstates: [a, b]\ntransitions:\n  - {{ from: a, event: \"{brackets}\", to: b }}\n  - {{ from: b, event: '{brackets}', to: a, guard: \"event.s != '{brackets}'\" }}\n"
    );
    let machine = load(&yaml, DefinitionFormat::Yaml);
    assert!(machine.is_ok(), "{machine:?}");
}

#[test]
fn a_context_schema_nested_past_the_limit_is_refused() {
    let mut schema = json!({"type": "object"});
    for _ in 0..63 {
        schema = json!({ "not": schema });
    }
    let def = json!({"initial": "a", "states": ["a"], "context_schema": schema});
    // As text, the definition around it is one level too deep already.
    assert!(too_deep(load_json(def.clone())));
    // Loaded from a value (as a batch or a stored definition is), compiling refuses it alone.
    let parsed = definition_from_json(&def).expect("the shape is right");
    match CompiledMachine::compile(parsed) {
        Err(DefinitionError::Invalid(errors)) => {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].path, "context_schema");
        }
        other => panic!("expected the schema refused, got {other:?}"),
    }
}
