//! CEL expressions from arbitrary text: compiled with the declarations machine transitions get
//! (`ctx`, `event`, `state`, `now`), then evaluated against a small fixed activation under a
//! cost budget; also compiled without the type check.
//!
//! Properties: nothing panics or overflows a stack; a budget-limited evaluation ends (libFuzzer's
//! `-timeout` catches one that does not); when the checker infers a scalar type, a successful
//! evaluation yields a value of that type.

#![no_main]

use std::sync::LazyLock;

use cel::Value;
use libfuzzer_sys::fuzz_target;
use switchyard_model::expr::{Activation, Declarations, ExprType, Program};

/// Small enough that a run stays fast, large enough that loops over the activation finish.
const COST_LIMIT: u64 = 20_000;

static DECLARATIONS: LazyLock<Declarations> = LazyLock::new(|| {
    Declarations::new()
        .variable("ctx", ExprType::json_object())
        .variable("event", ExprType::json_object())
        .variable("state", ExprType::String)
        .variable("now", ExprType::Timestamp)
});

static ACTIVATION: LazyLock<Activation> = LazyLock::new(|| {
    let ctx = serde_json::json!({
        "amount": 100, "total": 2.5, "name": "Ada", "paid": false, "none": null,
        "items": [{"price": 3, "sku": "a-1"}, {"price": 4, "sku": "b-2"}],
        "tags": ["x", "y", "z"], "nested": {"a": {"b": {"c": [1, 2, 3]}}},
    });
    let event = serde_json::json!({"amount": 100, "card": "4242424242424242", "carrier": "ups", "n": -7});
    let now = chrono::DateTime::from_timestamp_millis(1_700_000_000_123).expect("in range").fixed_offset();
    Activation::new()
        .bind("ctx", to_cel(&ctx))
        .bind("event", to_cel(&event))
        .bind("state", Value::String("cart".to_owned().into()))
        .bind("now", Value::Timestamp(now))
});

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

/// Whether `value` is of the scalar type the checker inferred (`None` for types not compared).
fn matches_type(ty: &ExprType, value: &Value) -> Option<bool> {
    Some(match ty {
        ExprType::Bool => matches!(value, Value::Bool(_)),
        ExprType::Int => matches!(value, Value::Int(_)),
        ExprType::Uint => matches!(value, Value::UInt(_)),
        ExprType::Double => matches!(value, Value::Float(_)),
        ExprType::String => matches!(value, Value::String(_)),
        ExprType::Bytes => matches!(value, Value::Bytes(_)),
        ExprType::Timestamp => matches!(value, Value::Timestamp(_)),
        ExprType::Duration => matches!(value, Value::Duration(_)),
        ExprType::List(_) => matches!(value, Value::List(_)),
        ExprType::Map(..) | ExprType::Object { .. } => matches!(value, Value::Map(_)),
        _ => return None,
    })
}

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    if let Ok(program) = Program::compile(&source, &DECLARATIONS)
        && let Ok(value) = program.evaluate_limited(&ACTIVATION, COST_LIMIT)
        && let Some(same) = matches_type(program.result_type(), &value)
    {
        assert!(same, "{source:?} was typed {:?} but evaluated to {value:?}", program.result_type());
    }
    if let Ok(program) = Program::compile_unchecked(&source) {
        let _ = program.evaluate_limited(&ACTIVATION, COST_LIMIT);
    }
});
