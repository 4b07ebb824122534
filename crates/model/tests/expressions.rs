//! CEL expressions: structural limits, the type check, the cost budget, stack safety and the
//! functions written here.

use proptest::prelude::*;
use switchyard_model::expr::{
    Activation, CompileError, Declarations, EvalError, ExprType, MAX_AST_DEPTH, MAX_EXPRESSION_LEN, Program,
};

fn decls() -> Declarations {
    Declarations::new()
        .variable("ctx", ExprType::json_object())
        .variable("event", ExprType::json_object())
        .variable("state", ExprType::String)
        .variable("now", ExprType::Timestamp)
}

fn compile(source: &str) -> Result<Program, CompileError> {
    Program::compile(source, &decls())
}

fn eval_with(source: &str, activation: &Activation) -> Result<cel::Value, EvalError> {
    compile(source).unwrap_or_else(|e| panic!("{source}: {e}")).evaluate(activation)
}

fn eval(source: &str) -> Result<cel::Value, EvalError> {
    eval_with(source, &Activation::new())
}

fn ints(n: i64) -> cel::Value {
    cel::Value::List(std::sync::Arc::new((0..n).map(cel::Value::Int).collect()))
}

#[test]
fn long_chains_are_refused_when_compiled_not_when_evaluated() {
    let selections = format!("{{}}{} == 1", ".a".repeat(1400));
    let sums = format!("{} > 0", vec!["1"; 2000].join("+"));
    let products = format!("{} > 0", vec!["1"; 2000].join("*"));
    let has = format!("has({{}}{})", ".a".repeat(2000));
    for source in [&selections, &sums, &products, &has] {
        assert!(source.len() <= MAX_EXPRESSION_LEN, "{} bytes", source.len());
        match compile(source) {
            Err(CompileError::TooComplex(message)) => assert!(message.contains("levels"), "{message}"),
            other => panic!("expected a depth refusal for {} bytes, got {other:?}", source.len()),
        }
    }
    // Just under the limit compiles and evaluates.
    let ok = format!("{} > 0", vec!["1"; MAX_AST_DEPTH / 2].join("+"));
    assert_eq!(eval(&ok), Ok(cel::Value::Bool(true)));
}

#[test]
fn type_errors_name_the_position() {
    let table: &[(&str, &str)] = &[
        ("1 + 'a' == 2", "type error at 1:3: found no matching overload for '_+_' applied to '(int, string)'"),
        ("undeclared_var == 1", "type error at 1:1: undeclared reference to 'undeclared_var'"),
        ("ctx.a && nosuch(1)", "undeclared function 'nosuch'"),
        ("'a'.noSuchMember()", "undeclared function 'noSuchMember'"),
        ("state.size() > 'a'", "found no matching overload for '_>_' applied to '(int, string)'"),
        ("1 + 1.0 > 0", "CEL does not mix int and double"),
        ("size(1) == 1", "found no matching overload for 'size'"),
        ("now.x == 1", "cannot select field 'x' from a timestamp"),
        ("[1, 2].all(x, x.y)", "cannot select field 'y' from a int"),
    ];
    for (source, expected) in table {
        let message = match compile(source) {
            Ok(_) => panic!("{source} compiled"),
            Err(e) => e.to_string(),
        };
        assert!(message.contains(expected), "{source}: {message}");
    }
    // dyn passes the check and the evaluation decides.
    assert!(compile("ctx.a + event.b == 1").is_ok());
    assert!(compile("ctx.items.all(i, i.price > 0)").is_ok());
}

#[test]
fn declared_types_from_a_schema_are_checked() {
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("amount".to_owned(), ExprType::Int);
    fields.insert("name".to_owned(), ExprType::String);
    let declarations = decls().variable("ctx", ExprType::Object { fields: fields.clone(), open: true });
    assert!(Program::compile("ctx.amount + 1 > 2", &declarations).is_ok());
    assert!(Program::compile("ctx.amount + 'x' == ''", &declarations).is_err());
    assert!(Program::compile("ctx.other == 1", &declarations).is_ok());
    let closed = decls().variable("ctx", ExprType::Object { fields, open: false });
    let message = Program::compile("ctx.other == 1", &closed).map(|_| ()).unwrap_err().to_string();
    assert!(message.contains("no field 'other'"), "{message}");
}

#[test]
fn nested_comprehensions_stop_at_the_budget() {
    let activation = Activation::new().bind("l", ints(250));
    let declarations = Declarations::new().variable("l", ExprType::List(Box::new(ExprType::Int)));
    let program = Program::compile("l.all(x, l.all(y, l.all(z, x + y + z >= 0)))", &declarations).unwrap();
    assert_eq!(program.evaluate(&activation), Err(EvalError::CostExceeded { limit: 1_000_000 }));
    // A small loop fits.
    let program = Program::compile("l.all(x, x >= 0)", &declarations).unwrap();
    assert_eq!(program.evaluate(&activation), Ok(cel::Value::Bool(true)));
    // The budget is what is charged: the same loop with a smaller one is refused.
    assert_eq!(program.evaluate_limited(&activation, 100), Err(EvalError::CostExceeded { limit: 100 }));
}

#[test]
fn values_that_double_are_stopped_before_they_exhaust_memory() {
    // Each level doubles the value; without metering the 40th holds 2^40 elements.
    let mut lists = String::from("[1, 1]");
    let mut strings = String::from("'xxxxxxxx'");
    for _ in 0..11 {
        lists = format!("cel.bind(a, {lists}, [a, a, a, a, a, a, a, a])");
        strings = format!("cel.bind(s, {strings}, s + s + s + s + s + s + s + s)");
    }
    for source in [format!("size({lists}) > 0"), format!("size({strings}) > 0"), format!("{lists} == {lists}")] {
        assert_eq!(eval(&source), Err(EvalError::CostExceeded { limit: 1_000_000 }), "{source}");
    }
    // Replacing the empty string between every character: charged before it is built.
    let big = "x".repeat(100_000);
    let activation = Activation::new().bind("s", cel::Value::String(big.into()));
    let declarations = Declarations::new().variable("s", ExprType::String);
    let program = Program::compile("s.replace('', s).size() > 0", &declarations).unwrap();
    assert_eq!(program.evaluate(&activation), Err(EvalError::CostExceeded { limit: 1_000_000 }));
}

#[test]
fn comparing_large_inputs_in_a_loop_is_charged_per_step() {
    // Outside a loop an input is read once and not charged; inside, every step pays its size.
    let big = cel::Value::String("x".repeat(1 << 20).into());
    let activation = Activation::new().bind("big", big).bind("l", ints(250));
    let declarations =
        Declarations::new().variable("big", ExprType::String).variable("l", ExprType::List(Box::new(ExprType::Int)));
    let once = Program::compile("big == big", &declarations).unwrap();
    assert_eq!(once.evaluate(&activation), Ok(cel::Value::Bool(true)));
    let looped = Program::compile("l.all(x, l.all(y, big == big))", &declarations).unwrap();
    assert_eq!(looped.evaluate(&activation), Err(EvalError::CostExceeded { limit: 1_000_000 }));
}

#[test]
fn reviewed_ways_around_the_meter_are_charged() {
    let mut doubling = String::from("([0] + ['xxxxxxxxxxxxxxxx'])[1]");
    for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"] {
        doubling = format!(
            "cel.bind({name}, {doubling}, {name} + {name} + {name} + {name} + {name} + {name} + {name} + {name})"
        );
    }
    let cases = [
        // A wrongly inferred element type must not switch metering off.
        format!("size({doubling}) > 0"),
        "lists.range(90000).all(i, size(lists.range(1000000)) > 0)".to_owned(),
        "size(lists.range(300000).distinct()) > 0".to_owned(),
        "size(lists.range(37000).transformMap(i, v, v)) > 0".to_owned(),
        "lists.range(80000).exists(i, 'a'.matches('[a-z]{500}'))".to_owned(),
        "lists.range(100000).all(i, optional.of(event).hasValue())".to_owned(),
    ];
    let payload = cel::Value::Map(std::collections::HashMap::from([("l".to_string(), ints(20_000))]).into());
    let activation = Activation::new().bind("event", payload);
    for source in &cases {
        assert_eq!(eval_with(source, &activation), Err(EvalError::CostExceeded { limit: 1_000_000 }), "{source}");
    }
    // has() on a closed schema is false, not a type error.
    let closed = decls().variable("ctx", ExprType::Object { fields: Default::default(), open: false });
    assert!(Program::compile("has(ctx.y)", &closed).is_ok());
}

#[test]
fn a_spent_budget_is_not_absorbed_by_error_semantics() {
    let activation = Activation::new().bind("l", ints(400));
    let declarations = Declarations::new().variable("l", ExprType::List(Box::new(ExprType::Int)));
    // `||` absorbs an error on one side when the other is true; the overrun still counts.
    let program = Program::compile("l.all(x, l.all(y, l.all(z, true))) || true", &declarations).unwrap();
    assert_eq!(program.evaluate(&activation), Err(EvalError::CostExceeded { limit: 1_000_000 }));
}

#[test]
fn evaluation_is_safe_on_a_small_stack() {
    // The deepest accepted expression, evaluated on a thread with 256 KiB of stack: the
    // evaluation moves to a stack of its own.
    let deep = format!("{} > 0", vec!["1"; MAX_AST_DEPTH - 2].join("+"));
    // The parser allows 96 levels of brackets.
    let nested = format!("{}1{}", "[".repeat(90), "]".repeat(90));
    let handle = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            let program = compile(&deep).expect("compiles");
            assert_eq!(program.evaluate(&Activation::new()), Ok(cel::Value::Bool(true)));
            let program = compile(&format!("size({nested}) == 1")).expect("compiles");
            assert_eq!(program.evaluate(&Activation::new()), Ok(cel::Value::Bool(true)));
            // Refused expressions are parsed and dropped on the compile stack too.
            assert!(compile(&format!("{{}}{} == 1", ".a".repeat(2000))).is_err());
        })
        .expect("spawns");
    handle.join().expect("no stack overflow");
}

#[test]
fn standard_functions_and_extensions() {
    let table: &[(&str, cel::Value)] = &[
        ("cel.bind(a, 'x', a + a)", "xx".into()),
        ("[10, 20].all(i, v, v == (i + 1) * 10)", true.into()),
        ("[1, 2, 3].transformList(i, v, i * v)", cel::Value::List(vec![0.into(), 2.into(), 6.into()].into())),
        ("[1, 2, 3].transformList(i, v, i > 0, v)", cel::Value::List(vec![2.into(), 3.into()].into())),
        ("{'a': 1, 'b': 2}.transformMap(k, v, v * 2)['b']", 4.into()),
        ("{'a': 1, 'b': 2}.exists(k, v, k == 'b' && v == 2)", true.into()),
        ("[1, 2, 2].existsOne(i, v, v == 2)", false.into()),
        ("'a,b,c'.split(',').size()", 3.into()),
        ("'a,b,c'.split(',', 2)[1]", "b,c".into()),
        ("'hello'.replace('l', 'L', 1)", "heLlo".into()),
        ("string(timestamp('2024-01-01T00:00:00Z') + duration('90m'))", "2024-01-01T01:30:00Z".into()),
        ("timestamp('2024-01-01T23:30:00Z').getHours('Europe/Paris')", 0.into()),
        ("math.greatest(1, 5, 3)", 5.into()),
        ("{'a': 1}.?b.orValue(7)", 7.into()),
        ("base64.encode(b'hi')", "aGk=".into()),
        ("'%s-%d'.format(['a', 1])", "a-1".into()),
        ("{'my-key': 3}.`my-key`", 3.into()),
    ];
    for (source, expected) in table {
        assert_eq!(eval(source).as_ref(), Ok(expected), "{source}");
    }
}

/// Sources built from a small grammar, nested up to a few levels.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("1".to_owned()),
        Just("2.5".to_owned()),
        Just("'s'".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("ctx".to_owned()),
        Just("event.l".to_owned()),
        Just("[1, 'a']".to_owned()),
        Just("{'k': 1}".to_owned()),
        Just("now".to_owned()),
    ];
    leaf.prop_recursive(6, 64, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/", "%", "==", "<", "&&", "||", "in"])
            )
                .prop_map(|(a, b, op)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("size({a})")),
            inner.clone().prop_map(|a| format!("{a}.k")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}.all(x, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}.map(x, [x, {b}])")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("cel.bind(v, {a}, [v, v, {b}])")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("string({a}) + string({b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a}.exists(i, v, {b})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the source and input, compiling and evaluating returns; it never panics or
    /// overflows the stack.
    #[test]
    fn random_expressions_never_panic(source in expression(), n in 0i64..300) {
        let activation = Activation::new()
            .bind("ctx", cel::Value::Map(std::collections::HashMap::from([("k".to_string(), cel::Value::Int(1))]).into()))
            .bind("event", cel::Value::Map(std::collections::HashMap::from([("l".to_string(), ints(n))]).into()));
        let checked = Program::compile(&source, &decls());
        if let Ok(program) = &checked {
            let _ = program.evaluate(&activation);
        }
        if let Ok(program) = Program::compile_unchecked(&source) {
            let _ = program.evaluate(&activation);
        }
    }

    /// Arbitrary text never panics the parser or the passes after it.
    #[test]
    fn arbitrary_text_never_panics(source in "[a-z0-9 .()\\[\\]{}+*,'?:!<=>&|-]{0,200}") {
        let _ = Program::compile(&source, &decls());
    }
}
