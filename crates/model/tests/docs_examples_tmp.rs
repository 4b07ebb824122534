//! TEMPORARY: verifies the examples of docs/expressions.md. Delete when done.

use serde_json::{Map, Value, json};
use switchyard_model::expr::{Activation, Declarations, ExprType, Program};
use switchyard_model::{CompiledMachine, definition_from_json};

fn decls() -> Declarations {
    Declarations::new()
        .variable("ctx", ExprType::json_object())
        .variable("event", ExprType::json_object())
        .variable("state", ExprType::String)
        .variable("now", ExprType::Timestamp)
}

fn activation(ctx: Value, event: Value) -> Activation {
    Activation::new()
        .bind("ctx", cel::to_value(ctx).unwrap())
        .bind("event", cel::to_value(event).unwrap())
        .bind("state", cel::Value::String("open".to_string().into()))
        .bind("now", cel::Value::Timestamp(chrono::DateTime::parse_from_rfc3339("2024-06-15T10:00:00Z").unwrap()))
}

fn eval_with(src: &str, act: &Activation) -> String {
    match Program::compile(src, &decls()) {
        Err(e) => format!("COMPILE ERROR: {e}"),
        Ok(p) => match p.evaluate(act) {
            Ok(v) => format!("{v:?}   [type {}]", p.result_type()),
            Err(e) => format!("EVAL ERROR: {e}   [type {}]", p.result_type()),
        },
    }
}

fn eval(src: &str) -> String {
    eval_with(src, &activation(json!({"amount": 150, "tags": ["a", "b"]}), json!({"qty": 3})))
}

fn min_cost(src: &str, act: &Activation) -> String {
    let p = match Program::compile(src, &decls()) {
        Ok(p) => p,
        Err(e) => return format!("COMPILE ERROR: {e}"),
    };
    if let Err(e) = p.evaluate(act) {
        return format!("fails at default limit: {e}");
    }
    let (mut lo, mut hi) = (0u64, 1_000_000u64);
    // smallest limit that succeeds
    while lo < hi {
        let mid = (lo + hi) / 2;
        if p.evaluate_limited(act, mid).is_ok() { hi = mid } else { lo = mid + 1 }
    }
    format!("{lo}")
}

fn machine_def(schema: Option<Value>, guard: Option<&str>, assign: &[(&str, &str)]) -> Value {
    let mut t = json!({"from": "a", "event": "go", "to": "b"});
    if let Some(g) = guard {
        t["guard"] = json!(g);
    }
    if !assign.is_empty() {
        let m: Map<String, Value> = assign.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        t["assign"] = Value::Object(m);
    }
    let mut d = json!({"states": ["a", "b"], "initial": "a", "transitions": [t]});
    if let Some(s) = schema {
        d["context_schema"] = s;
    }
    d
}

fn compile_machine(
    schema: Option<Value>,
    guard: Option<&str>,
    assign: &[(&str, &str)],
) -> Result<CompiledMachine, String> {
    let d = machine_def(schema, guard, assign);
    let def = definition_from_json(&d).map_err(|e| format!("syntax: {e}"))?;
    CompiledMachine::compile(def).map_err(|e| {
        e.field_errors()
            .iter()
            .map(|f| format!("path={} message={}", f.path, f.message))
            .collect::<Vec<_>>()
            .join("\n      ")
    })
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!(),
    }
}

const T0: i64 = 1_718_445_600_000; // 2024-06-15T10:00:00Z

fn apply(schema: Option<Value>, guard: Option<&str>, assign: &[(&str, &str)], ctx: Value, payload: Value) -> String {
    let m = match compile_machine(schema, guard, assign) {
        Ok(m) => m,
        Err(e) => return format!("DEFINITION ERROR: {e}"),
    };
    match m.apply("a", &obj(ctx), "go", &obj(payload), T0) {
        Ok(o) => format!("-> {} ctx={}", o.to, Value::Object(o.ctx)),
        Err(e) => format!("TRANSITION ERROR: {e} // {e:?}"),
    }
}

#[test]
fn docs_examples() {
    println!("\n===== section 1: variables (machine) =====");
    let schema = json!({
        "type": "object",
        "properties": {
            "amount": {"type": "integer"},
            "price": {"type": "number"},
            "name": {"type": "string"},
            "vip": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "address": {"type": "object", "properties": {"city": {"type": "string"}}}
        }
    });
    let closed =
        json!({"type": "object", "properties": {"amount": {"type": "integer"}}, "additionalProperties": false});
    let ctx =
        json!({"amount": 150, "price": 9.5, "name": "x", "vip": true, "tags": ["a"], "address": {"city": "Paris"}});
    for g in [
        "ctx.amount > 100",
        "ctx.amount > 100.0",
        "ctx.price > 9",
        "ctx.price > 9.0",
        "ctx.name.startsWith('x') && ctx.vip",
        "'a' in ctx.tags",
        "ctx.address.city == 'Paris'",
        "ctx.address.zip == '75001'",
        "ctx.amount.value > 1",
        "ctx.other == 1",
        "event.qty > 2",
        "state == 'a'",
        "now.getHours('Europe/Paris') == 12",
        "now.getHours() == 10",
        "ctx.amount + 1",
        "ctx.name",
        "event.flag",
        "result == 1",
        "ctx.amount",
    ] {
        println!(
            "guard {g:45} => {}",
            apply(Some(schema.clone()), Some(g), &[], ctx.clone(), json!({"qty": 3, "flag": "yes"}))
        );
    }
    for g in ["ctx.other == 1", "ctx.amount > 1"] {
        println!(
            "closed guard {g:38} => {}",
            apply(Some(closed.clone()), Some(g), &[], json!({"amount": 2}), json!({}))
        );
    }
    println!(
        "no schema guard ctx.anything.deep == 1 => {}",
        apply(None, Some("ctx.anything.deep == 1"), &[], json!({"anything": {"deep": 1}}), json!({}))
    );
    println!(
        "no schema ctx.amount > 100.0 with int => {}",
        apply(None, Some("ctx.amount > 100.0"), &[], json!({"amount": 150}), json!({}))
    );
    println!(
        "no schema ctx.amount + 1.5 => {}",
        apply(None, None, &[("x", "ctx.amount + 1.5")], json!({"amount": 150}), json!({}))
    );
    println!(
        "assign now => {}",
        apply(None, None, &[("seen_at", "now"), ("deadline", "now + duration('36h')")], json!({}), json!({}))
    );
    println!(
        "assign uses old ctx => {}",
        apply(None, None, &[("a", "1"), ("b", "has(ctx.a) ? ctx.a + 1 : 0")], json!({"a": 10}), json!({"z": 1}))
    );
    println!("no assign merge => {}", apply(None, None, &[], json!({"a": 10}), json!({"a": 11, "z": 1})));
    println!("guard eval failure => {}", apply(None, Some("ctx.missing > 1"), &[], json!({}), json!({})));

    println!("\n===== section 2: errors at PUT =====");
    for (g, a) in [
        (Some("ctx.amount >"), vec![]),
        (Some("ctx.amount > 1.5"), vec![]),
        (Some("amount > 1"), vec![]),
        (Some("ctx.amount + 1"), vec![]),
        (Some("ctx.amount >= 100 &&\n  ctx.name.size() > 'x'"), vec![]),
        (None, vec![("total", "ctx.price * 'x'")]),
        (None, vec![("total", "ctx.amount * 1.2")]),
        (Some("ctx.nme == 'x'"), vec![]),
        (Some("lenght(ctx.name) > 1"), vec![]),
        (Some("ctx.name.lenght() > 1"), vec![]),
        (Some(""), vec![]),
        (Some("  "), vec![]),
    ] {
        match compile_machine(Some(schema.clone()), g, &a) {
            Ok(_) => println!("{g:?} {a:?} => OK"),
            Err(e) => println!("{g:?} {a:?} =>\n      {e}"),
        }
    }
    match compile_machine(Some(closed.clone()), Some("ctx.nme == 1"), &[]) {
        Ok(_) => println!("closed nme => OK"),
        Err(e) => println!("closed nme =>\n      {e}"),
    }

    println!("\n===== section 3: language =====");
    for src in [
        // operators
        "1 + 2 * 3 - 4 / 2 % 3",
        "2u + 3u",
        "7 / 2",
        "7.0 / 2.0",
        "1 / 0",
        "'ab' + 'cd'",
        "[1, 2] + [3]",
        "1 == 1.0",
        "1 < 2.5",
        "ctx.amount > 100 ? 'big' : 'small'",
        "!(1 > 2) && (true || false)",
        "'b' in ['a', 'b']",
        "'amount' in ctx",
        "ctx.tags[1]",
        "ctx['amount']",
        "size(ctx.tags)",
        "ctx.tags.size()",
        "'abc'.size()",
        "'hello'.contains('ell')",
        "'hello'.startsWith('he') && 'hello'.endsWith('lo')",
        "'abc123'.matches('^[a-z]+[0-9]+$')",
        "matches('abc', 'b')",
        "type(1) == int",
        "type(ctx) == map",
        "dyn(1) + 2",
        // macros
        "has(ctx.amount)",
        "has(ctx.missing)",
        "[1, 2, 3].all(x, x > 0)",
        "[1, 2, 3].exists(x, x > 2)",
        "[1, 2, 3].exists_one(x, x > 2)",
        "[1, 2, 3].existsOne(x, x > 2)",
        "[1, 2, 3].map(x, x * 2)",
        "[1, 2, 3].map(x, x > 1, x * 10)",
        "[1, 2, 3].filter(x, x % 2 == 1)",
        "{'a': 1, 'b': 2}.all(k, k.size() == 1)",
        "{'a': 1, 'b': 2}.map(k, k + '!')",
        // timestamps, durations
        "timestamp('2024-06-15T10:00:00Z') + duration('90m')",
        "timestamp('2024-06-15T10:00:00Z') - duration('1h')",
        "timestamp('2024-06-15T12:00:00Z') - timestamp('2024-06-15T10:00:00Z')",
        "duration('1h') + duration('30m')",
        "duration('1h30m') > duration('90m')",
        "now > timestamp('2024-01-01T00:00:00Z')",
        "now.getHours('Europe/Paris')",
        "now.getHours('+05:30')",
        "now.getMinutes('+05:30')",
        "now.getFullYear()",
        "now.getMonth()",
        "now.getDate()",
        "now.getDayOfMonth()",
        "now.getDayOfWeek()",
        "now.getDayOfYear()",
        "now.getSeconds()",
        "now.getMilliseconds()",
        "timestamp('2024-06-15T10:00:00.123Z').getMilliseconds()",
        "duration('1h30m').getHours()",
        "duration('1h30m').getMinutes()",
        "duration('90s').getSeconds()",
        "duration('1.5s').getMilliseconds()",
        "duration('3723s').getMilliseconds()",
        "int(now)",
        "timestamp(1718445600)",
        "string(now)",
        "string(duration('1.5s'))",
        "now - duration('24h') < now",
        "duration('-1.5s')",
        // conversions
        "int('42')",
        "int(3.9)",
        "int(-3.9)",
        "uint(42)",
        "double('1.5')",
        "double(3)",
        "string(3.5)",
        "string(42)",
        "string(true)",
        "string(b'abc')",
        "bytes('abc')",
        "bool('true')",
        "int('x')",
        "uint(-1)",
        // strings ext
        "'hello'.charAt(1)",
        "'hello'.indexOf('l')",
        "'hello'.indexOf('l', 3)",
        "'hello'.lastIndexOf('l')",
        "'Hello'.lowerAscii()",
        "'Hello'.upperAscii()",
        "'a-b-c'.replace('-', '+')",
        "'a-b-c'.replace('-', '+', 1)",
        "'a,b,c'.split(',')",
        "'a,b,c'.split(',', 2)",
        "'hello'.substring(1)",
        "'hello'.substring(1, 3)",
        "'  hi  '.trim()",
        "['a', 'b'].join()",
        "['a', 'b'].join('-')",
        "'%s has %d items (%.2f)'.format(['cart', 3, 1.5])",
        "'%x %o %b %e %s'.format([255, 8, 5, 1234.5, [1, 'a']])",
        "strings.quote('a\"b')",
        "'abc'.reverse()",
        "'héllo'.charAt(1)",
        // math ext
        "math.greatest(1, 5, 3)",
        "math.greatest([1, 5, 3])",
        "math.least(2.5, 1.5)",
        "math.greatest(1, 2.5)",
        "math.ceil(1.2)",
        "math.floor(1.8)",
        "math.round(2.5)",
        "math.round(-2.5)",
        "math.trunc(-1.7)",
        "math.abs(-3)",
        "math.sign(-2.5)",
        "math.isInf(1.0 / 0.0)",
        "math.isNaN(0.0 / 0.0)",
        "math.isFinite(1.0)",
        "math.sqrt(16)",
        "math.sqrt(2.0)",
        "math.bitAnd(6, 3)",
        "math.bitOr(6, 3)",
        "math.bitXor(6, 3)",
        "math.bitNot(0)",
        "math.bitShiftLeft(1, 4)",
        "math.bitShiftRight(256, 4)",
        "math.abs(1.5)",
        // lists ext
        "[1, 2, 3, 4].slice(1, 3)",
        "[[1, 2], [3, [4]]].flatten()",
        "[[1, 2], [3, [4]]].flatten(2)",
        "[1, 2, 1, 3, 2].distinct()",
        "[1, 2, 3].reverse()",
        "[3, 1, 2].sort()",
        "['b', 'a'].sort()",
        "[{'n': 'b', 'p': 2}, {'n': 'a', 'p': 1}].sortBy(e, e.p).map(e, e.n)",
        "lists.range(4)",
        "[1, 2, 3].first()",
        "[1, 2, 3].last()",
        "[].first()",
        // encoders
        "base64.encode(b'hello')",
        "base64.encode(bytes('hello'))",
        "base64.decode('aGVsbG8=')",
        "string(base64.decode('aGVsbG8='))",
        "base64.decode('aGVsbG8')",
        // optionals
        "ctx.?amount",
        "ctx.?missing",
        "ctx.?missing.orValue(0)",
        "ctx.?amount.orValue(0)",
        "ctx.?address.?city.orValue('unknown')",
        "ctx.tags[?5].orValue('none')",
        "ctx[?'amount'].hasValue()",
        "{'a': 1, ?'b': ctx.?missing}",
        "{'a': 1, ?'b': ctx.?amount}",
        "[1, ?ctx.?missing, ?optional.of(3)]",
        "optional.of(1).value()",
        "optional.none().hasValue()",
        "optional.none().or(optional.of(2)).value()",
        "optional.ofNonZeroValue(0).hasValue()",
        "optional.of(41).optMap(v, v + 1).value()",
        "ctx.?amount.optMap(v, v * 2).orValue(0)",
        "ctx.?missing.optMap(v, v * 2).orValue(0)",
        "ctx.?address.optFlatMap(a, a.?city).orValue('?')",
        "optional.none().value()",
        // two-variable macros
        "[10, 20].all(i, v, v == (i + 1) * 10)",
        "[10, 20].exists(i, v, i == 1 && v == 20)",
        "[10, 20].existsOne(i, v, v > 15)",
        "[10, 20].exists_one(i, v, v > 15)",
        "['a', 'b'].transformList(i, v, v + string(i))",
        "[1, 2, 3, 4].transformList(i, v, v % 2 == 0, v * 10)",
        "{'a': 1, 'b': 2}.transformMap(k, v, v * 10)",
        "{'a': 1, 'b': 2}.transformMap(k, v, v > 1, v * 10)",
        "{'a': 1, 'b': 2}.all(k, v, v > 0)",
        "{'a': 1, 'b': 2}.transformList(k, v, k + '=' + string(v))",
        // bind
        "cel.bind(t, ctx.amount * 2, t > 100 && t < 1000)",
        "cel.bind(a, 1, cel.bind(b, a + 1, a + b))",
        // backticks
        "{'content-type': 'json'}.`content-type`",
        "event.`order-id`",
        "has(event.`order-id`)",
        "event.?`order-id`.orValue('none')",
        // unsupported
        "google.protobuf.Int64Value{value: 1}",
        "Foo{a: 1}",
        "ip('10.0.0.1')",
        "cidr('10.0.0.0/8')",
        "sets.contains([1], [1])",
        // looser types
        "[1, 2].map(x, x * 2)",
        "lists.range(3)",
        "[[1], ['a']]",
        "[?optional.of(1)]",
        "[1, ?optional.none()]",
        "optional.none()",
        "{'a': [1]}.a",
        "[1, 2].filter(x, x > 1)",
    ] {
        println!("{src:60} => {}", eval(src));
    }
    // event with dashed key
    let act = activation(json!({}), json!({"order-id": "A1"}));
    for src in ["event.`order-id`", "event.?`order-id`.orValue('none')", "event['order-id']"] {
        println!("{src:60} => {}", eval_with(src, &act));
    }

    println!("\n===== section 4: JSON =====");
    let payload = json!({
        "i": 42, "neg": -7, "big": 18446744073709551615u64, "d": 1.0, "e": 1e3, "f": 2.5,
        "s": "x", "b": true, "n": null, "arr": [1, "a"], "o": {"k": 1}
    });
    for a in [
        "type(event.i) == int",
        "type(event.big) == uint",
        "type(event.d) == double",
        "type(event.e) == double",
        "type(event.n) == null_type",
        "type(event.o) == map",
        "type(event.arr) == list",
        "event.d == 1",
        "event.i == 42.0",
        "event.i + 1",
        "event.f + 1",
        "event.f + 1.0",
        "event.big + 1u",
    ] {
        println!("assign {a:40} => {}", apply(None, None, &[("out", a)], json!({}), payload.clone()));
    }
    for a in [
        "now",
        "timestamp('2024-06-15T10:00:00.123Z')",
        "timestamp('2024-06-15T12:00:00+02:00')",
        "duration('1500ms')",
        "duration('90m')",
        "duration('-0.25s')",
        "b'abc'",
        "0.0 / 0.0",
        "1.0 / 0.0",
        "{1: 'a', 2: 'b'}",
        "{true: 1}",
        "optional.of(1)",
        "int",
        "18446744073709551615u",
        "3.0",
        "1.5",
        "null",
        "[1, 'a', [true]]",
        "{'z': 1, 'a': 2}",
        "ctx.missing",
    ] {
        println!("assign {a:40} => {}", apply(None, None, &[("out", a)], json!({}), json!({})));
    }

    println!("\n===== section 5: limits =====");
    let long = format!("'{}' == ''", "a".repeat(4100));
    let deep = (0..101).map(|_| "1").collect::<Vec<_>>().join(" + ");
    let deep_ok = (0..100).map(|_| "1").collect::<Vec<_>>().join(" + ");
    let many = format!("[{}]", (0..1500).map(|i| i.to_string()).collect::<Vec<_>>().join(", "));
    let mut nested = "true".to_string();
    for i in 0..13 {
        nested = format!("[1].all(x{i}, {nested})");
    }
    let mut nested12 = "true".to_string();
    for i in 0..12 {
        nested12 = format!("[1].all(x{i}, {nested12})");
    }
    let mut parens = "1".to_string();
    for _ in 0..150 {
        parens = format!("({parens})");
    }
    let chain = format!("ctx{}", ".a".repeat(100));
    for (label, src) in [
        ("long", long.as_str()),
        ("deep 101", deep.as_str()),
        ("deep 100", deep_ok.as_str()),
        ("many", many.as_str()),
        ("nested13", nested.as_str()),
        ("nested12", nested12.as_str()),
        ("parens150", parens.as_str()),
        ("chain100", chain.as_str()),
    ] {
        match compile_machine(None, Some(src), &[]) {
            Ok(_) => println!("{label}: OK"),
            Err(e) => println!("{label}: {e}"),
        }
    }
    let act = activation(
        json!({"amount": 150, "name": "abcdefghijklmnop", "items": [{"qty": 1}, {"qty": 2}, {"qty": 3}]}),
        json!({}),
    );
    for src in [
        "true",
        "1",
        "1 + 1",
        "ctx.amount > 100",
        "ctx.amount",
        "ctx.name",
        "ctx.name == 'x'",
        "ctx.items",
        "ctx.items.all(i, i.qty > 0)",
        "ctx.items.map(i, i.qty)",
        "size(ctx.items)",
        "[1, 2, 3]",
        "lists.range(1000).size()",
        "lists.range(100000).map(x, x).size()",
        "lists.range(1000).all(i, lists.range(1000).all(j, true))",
        "lists.range(1000).all(i, true)",
        "'x'.replace('x', 'yyyyyyyy')",
    ] {
        println!("cost {src:60} => {}", min_cost(src, &act));
    }
    let p = Program::compile("lists.range(1000).all(i, lists.range(1000).all(j, true)) || true", &decls()).unwrap();
    println!("|| true => {:?}", p.evaluate(&act));
    let p = Program::compile("lists.range(10).all(i, true)", &decls()).unwrap();
    println!("limited 10 => {:?}", p.evaluate_limited(&act, 10));
    for (g, a) in [
        (Some("lists.range(1000).all(i, lists.range(1000).all(j, i + j >= 0))"), vec![]),
        (None, vec![("big", "lists.range(1000).map(i, lists.range(1000).map(j, i * j))")]),
        (
            None,
            vec![(
                "s",
                "'ab'.replace('', 'xxxxxxxxxxxxxxxxxxxxxxx').replace('', 'xxxxxxxxxxxxxxxxxxxxxxxxx').replace('', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')",
            )],
        ),
    ] {
        println!("{g:?} {a:?} => {}", apply(None, g, &a, json!({}), json!({})));
    }
}
