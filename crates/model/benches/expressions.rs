//! Compile and evaluation time of a typical guard and assignment (criterion).
//!
//! Run: `cargo bench -p switchyard-model --bench expressions`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use switchyard_model::expr::{Activation, Declarations, ExprType, Program};
use switchyard_model::{CompiledMachine, DefinitionFormat, parse_definition};

const GUARD: &str = "event.amount >= ctx.amount && state == 'pending'";

fn declarations() -> Declarations {
    Declarations::new()
        .variable("ctx", ExprType::json_object())
        .variable("event", ExprType::json_object())
        .variable("state", ExprType::String)
        .variable("now", ExprType::Timestamp)
}

fn benches(c: &mut Criterion) {
    c.bench_function("compile typical guard", |b| {
        b.iter(|| Program::compile(black_box(GUARD), &declarations()).expect("compiles"))
    });

    // The guard and an assignment inside a transition, as the writer thread runs them.
    let definition = json!({
        "initial": "pending",
        "states": ["pending", "paid"],
        "transitions": [{"from": "pending", "event": "pay", "to": "paid", "guard": GUARD,
                         "assign": {"paid": "event.amount", "at": "string(now)"}}]
    });
    let text = definition.to_string();
    let machine = CompiledMachine::compile(parse_definition(text.as_bytes(), DefinitionFormat::Json).expect("parses"))
        .expect("compiles");
    let ctx = json!({"amount": 100, "customer": "c-1"}).as_object().cloned().unwrap_or_default();
    let payload = json!({"amount": 120}).as_object().cloned().unwrap_or_default();
    c.bench_function("apply with guard and assignment", |b| {
        b.iter(|| {
            machine.apply("pending", black_box(&ctx), "pay", black_box(&payload), 1_700_000_000_000).expect("applies")
        })
    });

    let plain = json!({"initial": "pending", "states": ["pending", "paid"],
                       "transitions": [{"from": "pending", "event": "pay", "to": "paid"}]})
    .to_string();
    let plain = CompiledMachine::compile(parse_definition(plain.as_bytes(), DefinitionFormat::Json).expect("parses"))
        .expect("compiles");
    c.bench_function("apply without expressions", |b| {
        b.iter(|| {
            plain.apply("pending", black_box(&ctx), "pay", black_box(&payload), 1_700_000_000_000).expect("applies")
        })
    });

    let program = Program::compile(
        "x >= 100 && s == 'pending'",
        &Declarations::new().variable("x", ExprType::Int).variable("s", ExprType::String),
    )
    .expect("compiles");
    let activation =
        Activation::new().bind("x", cel::Value::Int(120)).bind("s", cel::Value::String("pending".to_owned().into()));
    c.bench_function("evaluate typical guard", |b| {
        b.iter(|| program.evaluate(black_box(&activation)).expect("evaluates"))
    });
}

criterion_group!(expressions, benches);
criterion_main!(expressions);
