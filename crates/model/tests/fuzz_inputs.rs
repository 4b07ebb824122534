//! Fuzz-style property tests of everything the model parses from outside: definitions (YAML
//! and JSON), CEL expressions, addresses and the JSON depth policy.
//!
//! They run the properties of the cargo-fuzz targets in `fuzz/` (see docs/fuzzing.md) inside
//! `cargo test`, with a bounded number of cases, on two kinds of input: arbitrary bytes, and
//! valid seeds (the same ones as the fuzz corpus) mutated by inserting, deleting, replacing
//! and repeating bytes — which reaches far more of a parser than random bytes do.

use proptest::prelude::*;
use serde_json::{Map, Value};
use switchyard_model::expr::{Activation, Declarations, ExprType, Program};
use switchyard_model::json::{self, MAX_DEPTH};
use switchyard_model::{
    Address, CompiledMachine, DefinitionFormat, Segment, SpaceName, definition_from_json, parse_definition,
};

/// One edit of a byte string; positions are fractions of its length so they shrink well.
#[derive(Debug, Clone)]
enum Mutation {
    Insert(f64, Vec<u8>),
    Delete(f64, usize),
    Replace(f64, u8),
    /// Repeats a slice in place `n` times: deepens nesting, lengthens lists.
    Repeat(f64, usize, usize),
}

fn mutation(alphabet: &'static [u8]) -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![3 => proptest::sample::select(alphabet), 1 => any::<u8>()];
    prop_oneof![
        (0.0..1.0, proptest::collection::vec(byte.clone(), 1..8)).prop_map(|(at, b)| Mutation::Insert(at, b)),
        (0.0..1.0, 1usize..16).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (0.0..1.0, byte).prop_map(|(at, b)| Mutation::Replace(at, b)),
        (0.0..1.0, 1usize..24, 1usize..40).prop_map(|(at, len, n)| Mutation::Repeat(at, len, n)),
    ]
}

fn apply(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for m in mutations {
        let at = |f: f64, len: usize| ((f * len as f64) as usize).min(len);
        match m {
            Mutation::Insert(f, b) => {
                let i = at(*f, bytes.len());
                bytes.splice(i..i, b.iter().copied());
            }
            Mutation::Delete(f, n) => {
                let i = at(*f, bytes.len());
                let end = (i + n).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Replace(f, b) => {
                if !bytes.is_empty() {
                    let i = at(*f, bytes.len() - 1);
                    bytes[i] = *b;
                }
            }
            Mutation::Repeat(f, len, n) => {
                let i = at(*f, bytes.len());
                let end = (i + len).min(bytes.len());
                let slice = bytes[i..end].to_vec();
                let repeated: Vec<u8> = slice.iter().copied().cycle().take(slice.len() * n).collect();
                bytes.splice(end..end, repeated);
            }
        }
    }
    bytes
}

/// Valid seeds, also in `fuzz/corpus/definition`.
const DEFINITIONS: &[&str] = &[
    include_str!("../../../fuzz/corpus/definition/order.yaml"),
    include_str!("../../../fuzz/corpus/definition/cart.yaml"),
    include_str!("../../../fuzz/corpus/definition/order.json"),
    include_str!("../../../fuzz/corpus/definition/list-states.json"),
];
const DEFINITION_BYTES: &[u8] = b"{}[]:-,\"' \n#&*!|>?%@`abcdefinitalstrnsomtgu0123456789.";

/// Valid seeds, also in `fuzz/corpus/expression`.
const EXPRESSIONS: &[&str] = &[
    "event.amount >= ctx.amount && state == 'cart'",
    "ctx.items.all(i, i.price > 0) ? size(ctx.items) : -1",
    "cel.bind(t, ctx.tags, t.map(x, x + '!').filter(y, y.startsWith('x')))",
    "now.getHours('Europe/Paris') < 22 && duration('1h') > duration('30m')",
    "event.card.substring(0, 4) + string(ctx.amount * 2) + ctx.name.upperAscii()",
    "has(ctx.nested.a.b) && ctx.nested.a.b.c.exists_one(v, v == 2)",
    "[1, 2, 3].transformMap(i, v, v * i) == {1: 2, 2: 6}",
    "math.greatest([1.0, 2.5, -3.0]) > 0.0 || size(b'abc') == 3",
    "ctx.?missing.orValue('none') == 'none' && type(event.n) == int",
    "base64.encode(b'x') == 'eA==' && 'a,b,c'.split(',').join('-') == 'a-b-c'",
];
const EXPRESSION_BYTES: &[u8] = b"()[]{}.,:?!<=>&|+-*/%'\"\\ abcdefghijklmnopqrstuvwxyz_0123456789";

/// Valid seeds, also in `fuzz/corpus/address`.
const ADDRESSES: &[&str] =
    &["acme:orders", "acme:orders:o-1001", "acme:site:/index.html", "a.b_c-1:Machine.V2:id_9:/dir/file.txt"];
const ADDRESS_BYTES: &[u8] = b":/.-_azAZ09 \x00\xc3\xa9";

const JSON_BYTES: &[u8] = b"[]{}\",:\\ 0123456789.eE+-truefalsnl";

fn decls() -> Declarations {
    Declarations::new()
        .variable("ctx", ExprType::json_object())
        .variable("event", ExprType::json_object())
        .variable("state", ExprType::String)
        .variable("now", ExprType::Timestamp)
}

fn activation() -> Activation {
    let ctx = serde_json::json!({
        "amount": 100, "total": 2.5, "name": "Ada", "paid": false, "none": null,
        "items": [{"price": 3, "sku": "a-1"}, {"price": 4, "sku": "b-2"}],
        "tags": ["x", "y", "z"], "nested": {"a": {"b": {"c": [1, 2, 3]}}},
    });
    let event = serde_json::json!({"amount": 100, "card": "4242424242424242", "carrier": "ups", "n": -7});
    let now = chrono::DateTime::from_timestamp_millis(1_700_000_000_123).unwrap().fixed_offset();
    Activation::new()
        .bind("ctx", to_cel(&ctx))
        .bind("event", to_cel(&event))
        .bind("state", cel::Value::String("cart".to_owned().into()))
        .bind("now", cel::Value::Timestamp(now))
}

/// JSON as CEL values the way the engine converts them: integers are `int` (not `uint`).
fn to_cel(value: &serde_json::Value) -> cel::Value {
    use serde_json::Value as J;
    match value {
        J::Null => cel::Value::Null,
        J::Bool(b) => cel::Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or_default()),
        },
        J::String(s) => cel::Value::String(s.clone().into()),
        J::Array(items) => cel::Value::List(std::sync::Arc::new(items.iter().map(to_cel).collect())),
        J::Object(fields) => cel::Value::Map(
            fields.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect::<std::collections::HashMap<_, _>>().into(),
        ),
    }
}

/// The definition target's properties: nothing panics; what compiles has a stable canonical
/// form and applies an event without panicking.
fn check_definition(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut machines = Vec::new();
    for format in [DefinitionFormat::Yaml, DefinitionFormat::Json] {
        if let Ok(def) = parse_definition(bytes, format) {
            machines.extend(CompiledMachine::compile(def).ok());
        }
    }
    if let Ok(value) = json::from_slice::<Value>(bytes)
        && let Ok(def) = definition_from_json(&value)
    {
        machines.extend(CompiledMachine::compile(def).ok());
    }
    for machine in &machines {
        let canonical = machine.canonical_json();
        let again = CompiledMachine::from_canonical_json(canonical);
        let again = match again {
            Ok(again) => again,
            Err(e) => return Err(TestCaseError::fail(format!("the canonical form does not load: {e}"))),
        };
        prop_assert_eq!(again.canonical_json(), canonical);
        let state = machine.initial_state().to_owned();
        let payload: Map<String, Value> = [("amount".to_owned(), Value::from(100))].into_iter().collect();
        for event in machine.events_from(&state) {
            let _ = machine.apply(&state, &Map::new(), event, &payload, 1_700_000_000_000);
        }
    }
    Ok(())
}

/// Whether `value` has the scalar type the checker inferred (`None`: not compared).
fn matches_type(ty: &ExprType, value: &cel::Value) -> Option<bool> {
    use cel::Value as V;
    Some(match ty {
        ExprType::Bool => matches!(value, V::Bool(_)),
        ExprType::Int => matches!(value, V::Int(_)),
        ExprType::Uint => matches!(value, V::UInt(_)),
        ExprType::Double => matches!(value, V::Float(_)),
        ExprType::String => matches!(value, V::String(_)),
        ExprType::Bytes => matches!(value, V::Bytes(_)),
        ExprType::Timestamp => matches!(value, V::Timestamp(_)),
        ExprType::Duration => matches!(value, V::Duration(_)),
        ExprType::List(_) => matches!(value, V::List(_)),
        ExprType::Map(..) | ExprType::Object { .. } => matches!(value, V::Map(_)),
        _ => return None,
    })
}

/// The expression target's properties: nothing panics, a budget-limited evaluation returns, and
/// a successful evaluation has the type the checker inferred.
fn check_expression(source: &str, activation: &Activation) -> Result<(), TestCaseError> {
    if let Ok(program) = Program::compile(source, &decls())
        && let Ok(value) = program.evaluate_limited(activation, 20_000)
        && let Some(same) = matches_type(program.result_type(), &value)
    {
        prop_assert!(same, "{:?} was typed {:?} but evaluated to {:?}", source, program.result_type(), value);
    }
    if let Ok(program) = Program::compile_unchecked(source) {
        let _ = program.evaluate_limited(activation, 20_000);
    }
    Ok(())
}

/// The address target's properties: whatever parses prints back to an equal value.
fn check_address(text: &str) -> Result<(), TestCaseError> {
    if let Ok(address) = text.parse::<Address>() {
        prop_assert_eq!(address.to_string().parse::<Address>(), Ok(address.clone()));
        let json = serde_json::to_string(&address).unwrap();
        prop_assert_eq!(serde_json::from_str::<Address>(&json).ok(), Some(address.clone()));
        let mut rebuilt = Address::new(address.space().clone(), address.segments().to_vec()).unwrap();
        if let Some(path) = address.file_path() {
            rebuilt = rebuilt.with_file_path(path).unwrap();
        }
        prop_assert_eq!(rebuilt, address);
    }
    if let Ok(space) = SpaceName::new(text) {
        prop_assert_eq!(space.to_string().parse::<SpaceName>(), Ok(space.clone()));
    }
    if let Ok(segment) = Segment::new(text) {
        prop_assert_eq!(segment.to_string().parse::<Segment>(), Ok(segment.clone()));
        let address = format!("acme:{text}").parse::<Address>();
        prop_assert!(address.is_ok(), "acme:{} does not parse: {:?}", text, address);
    }
    Ok(())
}

/// The JSON policy target's properties: the text scan and the value check agree on whatever
/// `serde_json` parses, and `from_slice` returns nothing outside the policy.
fn check_json(bytes: &[u8]) -> Result<(), TestCaseError> {
    let scanned = json::scan_depth(bytes);
    if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        let checked = json::check_depth(&value);
        prop_assert_eq!(scanned.is_ok(), checked.is_ok(), "scan {:?} vs check {:?}", scanned, checked);
        let exact = serde_json::to_vec(&value).unwrap().len();
        prop_assert_eq!(json::encoded_len_up_to(&value, usize::MAX - 1), exact);
        if checked.is_ok() {
            prop_assert!(json::check_value(&value, exact).is_ok());
            prop_assert!(json::check_value(&value, exact - 1).is_err());
        }
    }
    match json::from_slice::<Value>(bytes) {
        Ok(value) => prop_assert!(json::depth(&value) <= MAX_DEPTH),
        Err(json::JsonParseError::Limit(_)) => prop_assert!(scanned.is_err()),
        Err(json::JsonParseError::Syntax(_)) => {}
    }
    Ok(())
}

/// JSON text nested around the policy's limit and the parser's, with brackets in strings.
fn nested_json() -> impl Strategy<Value = Vec<u8>> {
    let opener = prop_oneof![Just("["), Just("{\"k\":"), Just("[\"]\","), Just("{\"\\\"[\":")];
    (proptest::collection::vec(opener, 0..140), prop_oneof![Just("1"), Just("\"{[\""), Just("[]"), Just("{}")])
        .prop_map(|(openers, core)| {
            let mut text = String::new();
            let mut closers = Vec::new();
            for o in &openers {
                text.push_str(o);
                closers.push(if o.starts_with('[') { "]" } else { "}" });
            }
            text.push_str(core);
            for c in closers.iter().rev() {
                text.push_str(c);
            }
            text.into_bytes()
        })
}

/// Cases per property: `FUZZ_INPUTS_CASES`, default 1024.
fn cases() -> u32 {
    std::env::var("FUZZ_INPUTS_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1024)
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases()) })]

    #[test]
    fn arbitrary_bytes_are_refused_or_loaded_as_definitions(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_definition(&bytes)?;
    }

    #[test]
    fn mutated_definitions_are_refused_or_loaded(
        seed in proptest::sample::select(DEFINITIONS),
        mutations in proptest::collection::vec(mutation(DEFINITION_BYTES), 1..6),
    ) {
        check_definition(&apply(seed.as_bytes(), &mutations))?;
    }

    #[test]
    fn mutated_expressions_compile_or_are_refused_and_evaluate_within_budget(
        seed in proptest::sample::select(EXPRESSIONS),
        mutations in proptest::collection::vec(mutation(EXPRESSION_BYTES), 1..6),
    ) {
        let bytes = apply(seed.as_bytes(), &mutations);
        check_expression(&String::from_utf8_lossy(&bytes), &activation())?;
    }

    #[test]
    fn arbitrary_text_as_an_expression(source in "\\PC{0,120}") {
        check_expression(&source, &activation())?;
    }

    #[test]
    fn mutated_addresses_round_trip_when_they_parse(
        seed in proptest::sample::select(ADDRESSES),
        mutations in proptest::collection::vec(mutation(ADDRESS_BYTES), 1..6),
    ) {
        check_address(&String::from_utf8_lossy(&apply(seed.as_bytes(), &mutations)))?;
    }

    #[test]
    fn arbitrary_text_as_an_address(text in "[a-zA-Z0-9:/._ -]{0,40}|\\PC{0,40}") {
        check_address(&text)?;
    }

    #[test]
    fn json_scan_and_check_agree_on_nested_text(bytes in nested_json()) {
        check_json(&bytes)?;
    }

    #[test]
    fn json_scan_and_check_agree_on_mutated_text(
        seed in nested_json(),
        mutations in proptest::collection::vec(mutation(JSON_BYTES), 1..6),
    ) {
        check_json(&apply(&seed, &mutations))?;
    }
}

/// The mutator itself: a test that could not change its seed would prove nothing.
#[test]
fn mutations_change_their_seed() {
    let seed = b"abcdef";
    assert_eq!(apply(seed, &[Mutation::Insert(0.5, b"X".to_vec())]), b"abcXdef");
    assert_eq!(apply(seed, &[Mutation::Delete(0.0, 2)]), b"cdef");
    assert_eq!(apply(seed, &[Mutation::Replace(1.0, b'Z')]), b"abcdeZ");
    assert_eq!(apply(seed, &[Mutation::Repeat(0.0, 2, 3)]), b"ababababcdef");
    // Every seed is valid as it stands, so a mutation starts from a real input.
    for seed in DEFINITIONS {
        let format = if seed.trim_start().starts_with('{') { DefinitionFormat::Json } else { DefinitionFormat::Yaml };
        let def = parse_definition(seed.as_bytes(), format).unwrap();
        CompiledMachine::compile(def).unwrap_or_else(|e| panic!("{e}"));
    }
    for seed in EXPRESSIONS {
        let program = Program::compile(seed, &decls()).unwrap_or_else(|e| panic!("{seed}: {e}"));
        program.evaluate(&activation()).unwrap_or_else(|e| panic!("{seed}: {e}"));
    }
    for seed in ADDRESSES {
        seed.parse::<Address>().unwrap();
    }
}
