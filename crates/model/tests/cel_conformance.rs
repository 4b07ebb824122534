//! CEL conformance: runs the official "simple" conformance tests of google/cel-spec
//! (`tests/simple/testdata/*.textproto`, vendored in `tests/cel-spec/`, Apache-2.0) against our CEL
//! implementation.
//!
//! Every `test` of every file is one case. A case is skipped (counted apart, out of the pass rate)
//! when it needs what this suite cannot give: protobuf test messages (`TestAllTypes`, the
//! `cel.expr.conformance.proto2/3` packages), unknown results, declared functions, enum values,
//! or a deduced type `ExprType` cannot express. Every other case counts: an expected value must be
//! equal (same kind; maps order-agnostic; NaN matches NaN), an expected error must be an error
//! (compile or evaluation, any message), and a `typed_result`'s deduced type must be the checker's
//! `Program::result_type` (for `check_only` cases, compiled but not evaluated). `disable_macros`
//! is ignored (no vendored case uses it); `container` too (only `com.example` ones are not skipped).
//!
//! `cargo test -p switchyard-model --test cel_conformance -- --nocapture` prints, per file, the passed,
//! failed and skipped cases and each failure. `MIN_PASSED` is a ratchet: the test fails when a file
//! passes fewer cases than its minimum. Raise the minimums as support grows. With
//! `CEL_CONFORMANCE_VERBOSE=1`, it also prints the error each passed expected-error case got, to see
//! whether it failed for the right reason.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Once};
use std::time::Instant;

use cel::Value;
use cel::objects::{Key, Map};
use switchyard_model::expr::{Activation, Declarations, ExprType, Program};

// ---------------------------------------------------------------------------------------------------
// Adapter: the one place that calls the CEL implementation.
// ---------------------------------------------------------------------------------------------------

/// A declared or deduced type; mirrors `switchyard_model::expr::ExprType` (a JSON `Object` is a
/// `Map(String, Dyn)` here).
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Timestamp,
    Duration,
    Type,
    List(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
    Optional(Box<Ty>),
}

/// Why `run` produced no value.
#[derive(Debug)]
enum RunError {
    /// Parsing, limits or type checking rejected the expression.
    Compile(String),
    /// Evaluation failed.
    Eval(String),
}

/// Compiles `expr` (type-checked against `decls` when `check`) and evaluates it with `bindings`;
/// returns the value and, when checked, the deduced result type.
fn run(
    expr: &str,
    bindings: &[(String, Value)],
    decls: &[(String, Ty)],
    check: bool,
) -> Result<(Value, Option<Ty>), RunError> {
    let program = compile(expr, decls, check)?;
    let activation = bindings.iter().fold(Activation::new(), |a, (name, value)| a.bind(name, value.clone()));
    let value = program.evaluate(&activation).map_err(|e| RunError::Eval(e.to_string()))?;
    Ok((value, check.then(|| ty_from(program.result_type()))))
}

/// Compiles and type-checks `expr` without evaluating it, for `check_only` cases: the deduced
/// result type (`None` if the implementation exposed none).
fn deduce(expr: &str, decls: &[(String, Ty)]) -> Option<Result<Ty, RunError>> {
    Some(compile(expr, decls, true).map(|program| ty_from(program.result_type())))
}

fn compile(expr: &str, decls: &[(String, Ty)], check: bool) -> Result<Program, RunError> {
    let compiled = if check {
        let declarations = decls.iter().fold(Declarations::new(), |d, (name, ty)| d.variable(name, expr_type(ty)));
        Program::compile(expr, &declarations)
    } else {
        Program::compile_unchecked(expr)
    };
    compiled.map_err(|e| RunError::Compile(e.to_string()))
}

fn expr_type(ty: &Ty) -> ExprType {
    let boxed = |t: &Ty| Box::new(expr_type(t));
    match ty {
        Ty::Dyn => ExprType::Dyn,
        Ty::Null => ExprType::Null,
        Ty::Bool => ExprType::Bool,
        Ty::Int => ExprType::Int,
        Ty::Uint => ExprType::Uint,
        Ty::Double => ExprType::Double,
        Ty::String => ExprType::String,
        Ty::Bytes => ExprType::Bytes,
        Ty::Timestamp => ExprType::Timestamp,
        Ty::Duration => ExprType::Duration,
        Ty::Type => ExprType::Type,
        Ty::List(t) => ExprType::List(boxed(t)),
        Ty::Map(k, v) => ExprType::Map(boxed(k), boxed(v)),
        Ty::Optional(t) => ExprType::Optional(boxed(t)),
    }
}

fn ty_from(ty: &ExprType) -> Ty {
    let boxed = |t: &ExprType| Box::new(ty_from(t));
    match ty {
        ExprType::Dyn => Ty::Dyn,
        ExprType::Null => Ty::Null,
        ExprType::Bool => Ty::Bool,
        ExprType::Int => Ty::Int,
        ExprType::Uint => Ty::Uint,
        ExprType::Double => Ty::Double,
        ExprType::String => Ty::String,
        ExprType::Bytes => Ty::Bytes,
        ExprType::Timestamp => Ty::Timestamp,
        ExprType::Duration => Ty::Duration,
        ExprType::Type => Ty::Type,
        ExprType::List(t) => Ty::List(boxed(t)),
        ExprType::Map(k, v) => Ty::Map(boxed(k), boxed(v)),
        ExprType::Optional(t) => Ty::Optional(boxed(t)),
        // A JSON object with a schema is a `map(string, dyn)` to CEL.
        ExprType::Object { .. } => Ty::Map(Box::new(Ty::String), Box::new(Ty::Dyn)),
    }
}

/// The value a `type_value` stands for: `cel::Value` has no type variant, and the `cel` crate turns
/// type values into their names (so a string with a type's name matches too: a known leniency).
fn type_value(name: &str) -> Value {
    Value::String(Arc::new(name.to_owned()))
}

// ---------------------------------------------------------------------------------------------------
// The files, and the ratchet.
// ---------------------------------------------------------------------------------------------------

/// The vendored files (`tests/cel-spec/<name>.textproto`), each with the number of cases that must
/// pass: raise these as support grows, never lower them.
const MIN_PASSED: &[(&str, usize)] = &[
    ("basic", 43),
    ("comparisons", 362),
    ("conversions", 109),
    ("fields", 60),
    ("fp_math", 30),
    ("integer_math", 64),
    ("lists", 39),
    ("logic", 30),
    ("macros", 44),
    ("macros2", 46),
    ("parse", 193),
    ("plumbing", 5),
    ("string", 51),
    ("timestamps", 78),
    ("type_deduction", 17),
    ("string_ext", 213),
    ("math_ext", 199),
    ("encoders_ext", 4),
    ("optionals", 59),
    ("bindings_ext", 8),
];

#[test]
fn cel_spec_conformance() {
    // Deeply nested expressions (parse.textproto) need more than the default test thread's stack.
    let reports = std::thread::Builder::new()
        .name("cel-conformance".into())
        .stack_size(64 << 20)
        .spawn(|| MIN_PASSED.iter().map(|&(file, _)| run_file(file)).collect::<Vec<_>>())
        .expect("spawn the conformance thread")
        .join()
        .unwrap_or_else(|e| panic::resume_unwind(e));

    println!("{}", render(&reports));

    let below: Vec<String> = reports
        .iter()
        .zip(MIN_PASSED)
        .filter(|(r, (_, min))| r.passed < *min)
        .map(|(r, (file, min))| format!("{file}: {} passed, minimum {min}", r.passed))
        .collect();
    assert!(
        below.is_empty(),
        "CEL conformance below MIN_PASSED (run with --nocapture for details):\n  {}",
        below.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------------
// Running a file.
// ---------------------------------------------------------------------------------------------------

struct FileReport {
    file: &'static str,
    passed: usize,
    /// Of `passed`: expected errors that came from compiling rather than evaluating.
    passed_by_compile_error: usize,
    /// (case, reason)
    failed: Vec<(String, String)>,
    /// Passed expected errors: (case, "wanted: ... got: ..."), printed with `CEL_CONFORMANCE_VERBOSE=1`.
    error_passes: Vec<(String, String)>,
    /// reason -> count
    skipped: BTreeMap<String, usize>,
    millis: u128,
}

enum Outcome {
    Pass { by_compile_error: bool, error: Option<String> },
    Fail(String),
    Skip(String),
}

/// Why a case cannot be set up.
enum Prep {
    Skip(String),
    Fail(String),
}

fn skip<T>(reason: impl Into<String>) -> Result<T, Prep> {
    Err(Prep::Skip(reason.into()))
}

fn run_file(file: &'static str) -> FileReport {
    let path = format!("{}/tests/cel-spec/{file}.textproto", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let root = textproto::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let start = Instant::now();
    let mut report = FileReport {
        file,
        passed: 0,
        passed_by_compile_error: 0,
        failed: Vec::new(),
        error_passes: Vec::new(),
        skipped: BTreeMap::new(),
        millis: 0,
    };
    for section in root.msgs("section") {
        let section_name = section.string("name").unwrap_or_default();
        for test in section.msgs("test") {
            let name = format!("{section_name}/{}", test.string("name").unwrap_or_default());
            match run_case_quietly(test) {
                Outcome::Pass { by_compile_error, error } => {
                    report.passed += 1;
                    report.passed_by_compile_error += usize::from(by_compile_error);
                    if let Some(error) = error {
                        report.error_passes.push((name, error));
                    }
                }
                Outcome::Fail(reason) => {
                    let expr = test.string("expr").unwrap_or_default();
                    report.failed.push((name, format!("`{}`: {reason}", clip(&expr, 160))));
                }
                Outcome::Skip(reason) => *report.skipped.entry(reason).or_default() += 1,
            }
        }
    }
    report.millis = start.elapsed().as_millis();
    report
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs a case, a panic included (as a failure), without printing panic messages.
fn run_case_quietly(test: &textproto::Msg) -> Outcome {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                default(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| run_case(test)));
    QUIET.with(|q| q.set(false));
    outcome.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        Outcome::Fail(format!("PANIC: {}", clip(&message, 300)))
    })
}

enum Expect {
    Value(Value),
    Error,
}

fn run_case(test: &textproto::Msg) -> Outcome {
    match prepare(test) {
        Err(Prep::Skip(reason)) => Outcome::Skip(reason),
        Err(Prep::Fail(reason)) => Outcome::Fail(reason),
        Ok(case) if case.check_only => match (deduce(&case.expr, &case.decls), &case.want_type) {
            (None, _) => Outcome::Skip("check_only (the implementation exposes no deduced type)".into()),
            (Some(_), None) => Outcome::Skip("check_only with a deduced type not expressible as ExprType".into()),
            (Some(Ok(got)), Some(want)) if got == *want => Outcome::Pass { by_compile_error: false, error: None },
            (Some(Ok(got)), Some(want)) => Outcome::Fail(format!("deduced type: expected {want:?}, got {got:?}")),
            (Some(Err(e)), Some(want)) => {
                Outcome::Fail(format!("deduced type: expected {want:?}, got {}", show_err(&e)))
            }
        },
        Ok(case) => {
            let result = run(&case.expr, &case.bindings, &case.decls, case.check);
            match (case.expect, result) {
                (Expect::Value(want), Ok((got, deduced))) if same(&want, &got) => match (&case.want_type, deduced) {
                    (Some(want), Some(got)) if *want != got => {
                        Outcome::Fail(format!("deduced type: expected {want:?}, got {got:?}"))
                    }
                    _ => Outcome::Pass { by_compile_error: false, error: None },
                },
                (Expect::Value(want), Ok((got, _))) => {
                    Outcome::Fail(format!("expected {}, got {}", show(&want), show(&got)))
                }
                (Expect::Value(want), Err(e)) => {
                    Outcome::Fail(format!("expected {}, got {}", show(&want), show_err(&e)))
                }
                (Expect::Error, Err(e)) => Outcome::Pass {
                    by_compile_error: matches!(e, RunError::Compile(_)),
                    error: Some(format!("wanted error ({}), got {}", wanted_error(test), show_err(&e))),
                },
                (Expect::Error, Ok((got, _))) => {
                    Outcome::Fail(format!("expected error ({}), got {}", wanted_error(test), show(&got)))
                }
            }
        }
    }
}

/// The message the test file gives for an expected error.
fn wanted_error(test: &textproto::Msg) -> String {
    let message = test.msg("eval_error").and_then(|e| e.msg("errors")).and_then(|e| e.string("message"));
    message.unwrap_or_else(|| "any".into())
}

struct Case {
    expr: String,
    check: bool,
    /// Type-check only, comparing `want_type`.
    check_only: bool,
    /// The deduced result type a `typed_result` expects, when expressible as a `Ty`.
    want_type: Option<Ty>,
    decls: Vec<(String, Ty)>,
    bindings: Vec<(String, Value)>,
    expect: Expect,
}

/// Names that only make sense with the conformance protobuf messages.
const PROTO_TEST_NAMES: &[&str] =
    &["TestAllTypes", "NestedTestAllTypes", "google.expr.proto", "cel.expr.conformance", "proto2", "proto3"];

fn prepare(test: &textproto::Msg) -> Result<Case, Prep> {
    let expr = match test.get("expr") {
        Some(textproto::Val::Str(bytes)) => match String::from_utf8(bytes.clone()) {
            Ok(expr) => expr,
            Err(_) => return skip("expression is not UTF-8"),
        },
        _ => return Err(Prep::Fail("no expr".into())),
    };
    if PROTO_TEST_NAMES.iter().any(|n| expr.contains(n)) {
        return skip("protobuf test messages (expr)");
    }
    let container = test.string("container").unwrap_or_default();
    if PROTO_TEST_NAMES.iter().any(|n| container.contains(n)) {
        return skip("protobuf test messages (container)");
    }

    let mut decls = Vec::new();
    for decl in test.msgs("type_env") {
        let name = decl.string("name").unwrap_or_default();
        if decl.msg("function").is_some() {
            return skip("declares a function");
        }
        let ty = match decl.msg("ident").and_then(|i| i.msg("type")) {
            Some(t) => ty_of(t)?,
            None => Ty::Dyn,
        };
        decls.push((name, ty));
    }

    let mut bindings = Vec::new();
    for binding in test.msgs("bindings") {
        let name = binding.string("key").unwrap_or_default();
        let Some(expr_value) = binding.msg("value") else {
            return Err(Prep::Fail(format!("binding {name}: no value")));
        };
        let Some(value) = expr_value.msg("value") else { return skip("binding to an error or unknown") };
        bindings.push((name, value_of(value)?));
    }

    let check_only = test.bool("check_only");
    let want_type = test.msg("typed_result").and_then(|t| t.msg("deduced_type")).and_then(deduced_ty);
    let expect = if let Some(v) = test.msg("value") {
        Expect::Value(value_of(v)?)
    } else if let Some(t) = test.msg("typed_result") {
        match t.msg("result") {
            Some(v) => Expect::Value(value_of(v)?),
            None if check_only => Expect::Value(Value::Null), // not evaluated
            None => return skip("typed_result without a result"),
        }
    } else if test.msg("eval_error").is_some() || test.msg("any_eval_errors").is_some() {
        Expect::Error
    } else if test.get("unknown").is_some() || test.get("any_unknowns").is_some() {
        return skip("unknown results");
    } else {
        // "An unspecified result defaults to a matcher for the true boolean value."
        Expect::Value(Value::Bool(true))
    };

    // `disable_macros` (no case in the vendored files uses it) is ignored: compiled as usual.
    Ok(Case { expr, check: !test.bool("disable_check"), check_only, want_type, decls, bindings, expect })
}

/// A `cel.expr.Type`.
fn ty_of(t: &textproto::Msg) -> Result<Ty, Prep> {
    let Some((field, value)) = t.fields.first() else { return Ok(Ty::Dyn) };
    let scalar = || value.scalar().unwrap_or_default();
    Ok(match field.as_str() {
        "dyn" | "type_param" | "error" => Ty::Dyn,
        "null" => Ty::Null,
        "primitive" => match scalar() {
            "BOOL" => Ty::Bool,
            "INT64" => Ty::Int,
            "UINT64" => Ty::Uint,
            "DOUBLE" => Ty::Double,
            "STRING" => Ty::String,
            "BYTES" => Ty::Bytes,
            _ => Ty::Dyn,
        },
        // A wrapper is its primitive or null: no ExprType says that.
        "wrapper" => Ty::Dyn,
        "well_known" => match scalar() {
            "TIMESTAMP" => Ty::Timestamp,
            "DURATION" => Ty::Duration,
            _ => Ty::Dyn,
        },
        "list_type" => Ty::List(Box::new(sub_ty(value, "elem_type")?)),
        "map_type" => Ty::Map(Box::new(sub_ty(value, "key_type")?), Box::new(sub_ty(value, "value_type")?)),
        "type" => Ty::Type,
        "message_type" => match value.as_string().as_deref() {
            Some("google.protobuf.Timestamp") => Ty::Timestamp,
            Some("google.protobuf.Duration") => Ty::Duration,
            Some("google.protobuf.Value" | "google.protobuf.Any") => Ty::Dyn,
            Some("google.protobuf.Struct") => Ty::Map(Box::new(Ty::String), Box::new(Ty::Dyn)),
            Some("google.protobuf.ListValue") => Ty::List(Box::new(Ty::Dyn)),
            other => return skip(format!("declares a protobuf message variable ({})", other.unwrap_or("?"))),
        },
        "abstract_type" => {
            let m = value.as_msg().ok_or_else(|| Prep::Fail("abstract_type is not a message".into()))?;
            match m.string("name").as_deref() {
                Some("optional_type") => {
                    let param = m.msgs("parameter_types").next().map(ty_of).transpose()?.unwrap_or(Ty::Dyn);
                    Ty::Optional(Box::new(param))
                }
                _ => Ty::Dyn,
            }
        }
        _ => Ty::Dyn,
    })
}

/// A `typed_result`'s `deduced_type` as a `Ty`; `None` when no `Ty` says it exactly (wrappers,
/// messages, type parameters, `Any`, abstract types other than `optional_type`).
fn deduced_ty(t: &textproto::Msg) -> Option<Ty> {
    let (field, value) = t.fields.first()?;
    let sub = |name: &str| value.as_msg().and_then(|m| m.msg(name)).map_or(Some(Ty::Dyn), deduced_ty);
    Some(match field.as_str() {
        "dyn" => Ty::Dyn,
        "null" => Ty::Null,
        "primitive" | "well_known" | "message_type" | "list_type" | "map_type" => match ty_of(t) {
            Ok(Ty::List(_)) => Ty::List(Box::new(sub("elem_type")?)),
            Ok(Ty::Map(..)) if field == "map_type" => Ty::Map(Box::new(sub("key_type")?), Box::new(sub("value_type")?)),
            Ok(Ty::Dyn) | Ok(Ty::Map(..)) | Err(_) => return None, // unknown enums, Any, Value, Struct, messages
            Ok(ty) => ty,
        },
        "type" => Ty::Type,
        "abstract_type" => {
            let m = value.as_msg()?;
            if m.string("name").as_deref() != Some("optional_type") {
                return None;
            }
            Ty::Optional(Box::new(m.msgs("parameter_types").next().map_or(Some(Ty::Dyn), deduced_ty)?))
        }
        _ => return None,
    })
}

fn sub_ty(value: &textproto::Val, field: &str) -> Result<Ty, Prep> {
    value.as_msg().and_then(|m| m.msg(field)).map_or(Ok(Ty::Dyn), ty_of)
}

/// A `cel.expr.Value`.
fn value_of(v: &textproto::Msg) -> Result<Value, Prep> {
    let Some((field, value)) = v.fields.first() else { return Err(Prep::Fail("empty cel.expr.Value".into())) };
    let bad = || Prep::Fail(format!("bad {field} in the test file"));
    Ok(match field.as_str() {
        "null_value" => Value::Null,
        "bool_value" => Value::Bool(value.scalar() == Some("true")),
        "int64_value" => Value::Int(value.scalar().and_then(textproto::int::<i64>).ok_or_else(bad)?),
        "uint64_value" => Value::UInt(value.scalar().and_then(textproto::int::<u64>).ok_or_else(bad)?),
        "double_value" => Value::Float(value.scalar().and_then(textproto::float).ok_or_else(bad)?),
        "string_value" => Value::String(Arc::new(value.as_string().ok_or_else(bad)?)),
        "bytes_value" => Value::Bytes(Arc::new(value.as_bytes().ok_or_else(bad)?.to_vec())),
        "type_value" => type_value(&value.as_string().ok_or_else(bad)?),
        "enum_value" => return skip("enum values"),
        "list_value" => {
            let list = value.as_msg().ok_or_else(bad)?;
            Value::List(Arc::new(list.msgs("values").map(value_of).collect::<Result<_, _>>()?))
        }
        "map_value" => {
            let map = value.as_msg().ok_or_else(bad)?;
            let mut entries = HashMap::new();
            for entry in map.msgs("entries") {
                let key = entry.msg("key").ok_or_else(bad).and_then(value_of)?;
                let key = match key {
                    Value::Int(i) => Key::Int(i),
                    Value::UInt(u) => Key::Uint(u),
                    Value::Bool(b) => Key::Bool(b),
                    Value::String(s) => Key::String(s),
                    other => return Err(Prep::Fail(format!("map key {other:?}"))),
                };
                entries.insert(key, entry.msg("value").ok_or_else(bad).and_then(value_of)?);
            }
            Value::Map(Map { map: Arc::new(entries) })
        }
        "object_value" => {
            let any = value.as_msg().ok_or_else(bad)?;
            match any.fields.first() {
                Some((name, textproto::Val::Msg(m))) if name.starts_with("type.googleapis.com/") => {
                    message_value(&name["type.googleapis.com/".len()..], m)?
                }
                _ => return skip("object_value not in expanded Any form"),
            }
        }
        other => return Err(Prep::Fail(format!("unknown cel.expr.Value field {other}"))),
    })
}

/// A protobuf message as CEL sees it: well-known types only.
fn message_value(type_name: &str, m: &textproto::Msg) -> Result<Value, Prep> {
    let int = |field| m.scalar(field).map_or(Some(0), textproto::int::<i64>);
    let bad = || Prep::Fail(format!("bad {type_name} in the test file"));
    Ok(match type_name {
        "google.protobuf.Duration" => {
            let (s, n) = (int("seconds").ok_or_else(bad)?, int("nanos").ok_or_else(bad)?);
            constant(&format!("duration('{s}s') + duration('{n}ns')"))?
        }
        "google.protobuf.Timestamp" => {
            let (s, n) = (int("seconds").ok_or_else(bad)?, int("nanos").ok_or_else(bad)?);
            constant(&format!("timestamp('1970-01-01T00:00:00Z') + duration('{s}s') + duration('{n}ns')"))?
        }
        "google.protobuf.Int32Value" | "google.protobuf.Int64Value" => Value::Int(int("value").ok_or_else(bad)?),
        "google.protobuf.UInt32Value" | "google.protobuf.UInt64Value" => {
            Value::UInt(m.scalar("value").map_or(Some(0), textproto::int::<u64>).ok_or_else(bad)?)
        }
        "google.protobuf.FloatValue" | "google.protobuf.DoubleValue" => {
            Value::Float(m.scalar("value").map_or(Some(0.0), textproto::float).ok_or_else(bad)?)
        }
        "google.protobuf.BoolValue" => Value::Bool(m.scalar("value") == Some("true")),
        "google.protobuf.StringValue" => Value::String(Arc::new(m.string("value").unwrap_or_default())),
        "google.protobuf.BytesValue" => Value::Bytes(Arc::new(m.bytes("value").unwrap_or_default().to_vec())),
        "google.protobuf.Value" => json_value(m)?,
        "google.protobuf.Struct" => json_struct(m)?,
        "google.protobuf.ListValue" => {
            Value::List(Arc::new(m.msgs("values").map(json_value).collect::<Result<_, _>>()?))
        }
        other => return skip(format!("protobuf message value ({other})")),
    })
}

fn json_value(m: &textproto::Msg) -> Result<Value, Prep> {
    let Some((field, value)) = m.fields.first() else { return Ok(Value::Null) };
    let bad = || Prep::Fail(format!("bad google.protobuf.Value.{field}"));
    Ok(match field.as_str() {
        "null_value" => Value::Null,
        "number_value" => Value::Float(value.scalar().and_then(textproto::float).ok_or_else(bad)?),
        "string_value" => Value::String(Arc::new(value.as_string().ok_or_else(bad)?)),
        "bool_value" => Value::Bool(value.scalar() == Some("true")),
        "struct_value" => json_struct(value.as_msg().ok_or_else(bad)?)?,
        "list_value" => message_value("google.protobuf.ListValue", value.as_msg().ok_or_else(bad)?)?,
        _ => return Err(bad()),
    })
}

fn json_struct(m: &textproto::Msg) -> Result<Value, Prep> {
    let mut entries = HashMap::new();
    for field in m.msgs("fields") {
        let key = field.string("key").unwrap_or_default();
        let value = field.msg("value").map_or(Ok(Value::Null), json_value)?;
        entries.insert(Key::String(Arc::new(key)), value);
    }
    Ok(Value::Map(Map { map: Arc::new(entries) }))
}

/// A value only the implementation can build (timestamps, durations), from a constant expression.
fn constant(expr: &str) -> Result<Value, Prep> {
    run(expr, &[], &[], false)
        .map(|(value, _)| value)
        .map_err(|e| Prep::Fail(format!("cannot build the expected value `{expr}`: {}", show_err(&e))))
}

/// Equality for the test: same kind (an int is not a uint), maps order-agnostic, NaN matches NaN.
fn same(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::UInt(a), Value::UInt(b)) => a == b,
        (Value::Float(a), Value::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bytes(a), Value::Bytes(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Null, Value::Null) => true,
        (Value::List(a), Value::List(b)) => a.len() == b.len() && a.iter().zip(b.iter()).all(|(a, b)| same(a, b)),
        (Value::Map(a), Value::Map(b)) => {
            a.map.len() == b.map.len() && a.map.iter().all(|(k, v)| b.map.get(k).is_some_and(|w| same(v, w)))
        }
        // Timestamps, durations, optionals, ...: variants this file cannot name without the `cel`
        // crate's features.
        _ => want.type_of().to_string() == got.type_of().to_string() && want == got,
    }
}

// ---------------------------------------------------------------------------------------------------
// Output.
// ---------------------------------------------------------------------------------------------------

fn render(reports: &[FileReport]) -> String {
    let mut out = String::from("\nCEL conformance (google/cel-spec tests/simple/testdata)\n\n");
    let _ = writeln!(
        out,
        "{:<16} {:>7} {:>7} {:>8} {:>10} {:>8} {:>12} {:>6}",
        "file", "passed", "failed", "skipped", "pass rate", "minimum", "err@compile", "ms"
    );
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (r, (_, min)) in reports.iter().zip(MIN_PASSED) {
        let s: usize = r.skipped.values().sum();
        let _ = writeln!(
            out,
            "{:<16} {:>7} {:>7} {:>8} {:>10} {:>8} {:>12} {:>6}",
            r.file,
            r.passed,
            r.failed.len(),
            s,
            rate(r.passed, r.failed.len()),
            min,
            r.passed_by_compile_error,
            r.millis
        );
        (passed, failed, skipped) = (passed + r.passed, failed + r.failed.len(), skipped + s);
    }
    let _ = writeln!(out, "{:<16} {:>7} {:>7} {:>8} {:>10}", "total", passed, failed, skipped, rate(passed, failed));
    let _ = writeln!(out, "\n(err@compile: expected errors passed by a compile error, not an evaluation error)");

    let verbose = std::env::var_os("CEL_CONFORMANCE_VERBOSE").is_some_and(|v| v != "0");
    for r in reports {
        if r.failed.is_empty() && r.skipped.is_empty() && (!verbose || r.error_passes.is_empty()) {
            continue;
        }
        let _ = writeln!(out, "\n== {}", r.file);
        for (reason, count) in &r.skipped {
            let _ = writeln!(out, "  skipped {count:>3}: {reason}");
        }
        for (name, reason) in &r.failed {
            let _ = writeln!(out, "  FAIL {name}: {reason}");
        }
        if verbose {
            for (name, errors) in &r.error_passes {
                let _ = writeln!(out, "  pass {name}: {errors}");
            }
        }
    }
    out
}

fn rate(passed: usize, failed: usize) -> String {
    if passed + failed == 0 { "-".into() } else { format!("{:.1}%", 100.0 * passed as f64 / (passed + failed) as f64) }
}

fn show(v: &Value) -> String {
    clip(&format!("{v:?}"), 200)
}

fn show_err(e: &RunError) -> String {
    match e {
        RunError::Compile(m) => format!("compile error: {}", clip(m, 200)),
        RunError::Eval(m) => format!("eval error: {}", clip(m, 200)),
    }
}

fn clip(s: &str, max: usize) -> String {
    let one_line = s.replace('\n', "\\n");
    match one_line.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &one_line[..i]),
        None => one_line,
    }
}

// ---------------------------------------------------------------------------------------------------
// Protobuf text format, without descriptors.
// ---------------------------------------------------------------------------------------------------

mod textproto {
    //! A generic protobuf text-format parser: messages (`name { ... }`, `name: { ... }`, `< ... >`),
    //! scalar fields (`name: value`: strings with C escapes and adjacent-literal concatenation,
    //! numbers, identifiers such as enums, `true`, `inf`), list syntax for repeated fields
    //! (`name: [a, b]`), expanded `Any` and extension names (`[type.googleapis.com/x.Y] { ... }`),
    //! `,`/`;` separators and `#` comments. Without descriptors, every field may repeat; scalars
    //! stay as written and are interpreted by the reader.

    /// A field's value.
    #[derive(Clone, Debug, PartialEq)]
    pub enum Val {
        /// A string or bytes literal, unescaped (adjacent literals concatenated).
        Str(Vec<u8>),
        /// A number or an identifier, as written (`-12`, `1e3`, `-inf`, `NULL_VALUE`, `true`).
        Scalar(String),
        Msg(Msg),
    }

    impl Val {
        pub fn scalar(&self) -> Option<&str> {
            match self {
                Val::Scalar(s) => Some(s),
                _ => None,
            }
        }
        pub fn as_bytes(&self) -> Option<&[u8]> {
            match self {
                Val::Str(b) => Some(b),
                _ => None,
            }
        }
        pub fn as_string(&self) -> Option<String> {
            self.as_bytes().and_then(|b| String::from_utf8(b.to_vec()).ok())
        }
        pub fn as_msg(&self) -> Option<&Msg> {
            match self {
                Val::Msg(m) => Some(m),
                _ => None,
            }
        }
    }

    /// A message: its fields in order; a repeated field occurs several times.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct Msg {
        pub fields: Vec<(String, Val)>,
    }

    impl Msg {
        /// The last occurrence of `name`, as for a singular field.
        pub fn get(&self, name: &str) -> Option<&Val> {
            self.fields.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
        }
        pub fn msg(&self, name: &str) -> Option<&Msg> {
            self.get(name).and_then(Val::as_msg)
        }
        /// Every occurrence of `name` that is a message.
        pub fn msgs<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Msg> + 'a {
            self.fields.iter().filter(move |(n, _)| n == name).filter_map(|(_, v)| v.as_msg())
        }
        pub fn scalar(&self, name: &str) -> Option<&str> {
            self.get(name).and_then(Val::scalar)
        }
        pub fn string(&self, name: &str) -> Option<String> {
            self.get(name).and_then(Val::as_string)
        }
        pub fn bytes(&self, name: &str) -> Option<&[u8]> {
            self.get(name).and_then(Val::as_bytes)
        }
        pub fn bool(&self, name: &str) -> bool {
            matches!(self.scalar(name), Some("true" | "True" | "t" | "1"))
        }
    }

    /// An integer scalar: decimal, `0x` hexadecimal or `0` octal, with an optional `-`.
    pub fn int<T: TryFrom<i128>>(s: &str) -> Option<T> {
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let magnitude = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
            i128::from_str_radix(hex, 16).ok()?
        } else if digits.len() > 1 && digits.starts_with('0') {
            i128::from_str_radix(&digits[1..], 8).ok()?
        } else {
            digits.parse::<i128>().ok()?
        };
        T::try_from(if negative { -magnitude } else { magnitude }).ok()
    }

    /// A floating-point scalar: any number, `inf`/`infinity`/`nan` (any case, optionally signed), an
    /// `f` suffix.
    pub fn float(s: &str) -> Option<f64> {
        let lower = s.to_ascii_lowercase();
        let (negative, body) = match lower.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        let magnitude = match body {
            "inf" | "infinity" => f64::INFINITY,
            "nan" => f64::NAN,
            _ => {
                let body = body.strip_suffix('f').unwrap_or(body);
                match body.parse::<f64>() {
                    Ok(f) => f,
                    Err(_) => int::<i128>(body)? as f64,
                }
            }
        };
        Some(if negative { -magnitude } else { magnitude })
    }

    pub fn parse(text: &str) -> Result<Msg, String> {
        let mut p = Parser { src: text.as_bytes(), pos: 0 };
        let msg = p.fields(None)?;
        p.skip_space();
        if p.pos < p.src.len() {
            return Err(p.error("unexpected input"));
        }
        Ok(msg)
    }

    struct Parser<'a> {
        src: &'a [u8],
        pos: usize,
    }

    impl Parser<'_> {
        fn error(&self, what: &str) -> String {
            let line = 1 + self.src[..self.pos.min(self.src.len())].iter().filter(|&&b| b == b'\n').count();
            let near: String =
                String::from_utf8_lossy(&self.src[self.pos.min(self.src.len())..]).chars().take(30).collect();
            format!("line {line}: {what} near {near:?}")
        }

        fn peek(&self) -> Option<u8> {
            self.src.get(self.pos).copied()
        }

        fn skip_space(&mut self) {
            while let Some(c) = self.peek() {
                if c == b'#' {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.pos += 1;
                    }
                } else if c.is_ascii_whitespace() {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }

        fn eat(&mut self, c: u8) -> bool {
            self.skip_space();
            if self.peek() == Some(c) {
                self.pos += 1;
                true
            } else {
                false
            }
        }

        /// Fields up to `close` (or the end of the input).
        fn fields(&mut self, close: Option<u8>) -> Result<Msg, String> {
            let mut msg = Msg::default();
            loop {
                self.skip_space();
                match (self.peek(), close) {
                    (None, None) => return Ok(msg),
                    (None, Some(_)) => return Err(self.error("unterminated message")),
                    (Some(c), Some(close)) if c == close => {
                        self.pos += 1;
                        return Ok(msg);
                    }
                    _ => {}
                }
                let name = self.field_name()?;
                let colon = self.eat(b':');
                self.skip_space();
                match self.peek() {
                    Some(b'{' | b'<') => msg.fields.push((name, Val::Msg(self.message()?))),
                    Some(b'[') if colon => {
                        self.pos += 1;
                        if !self.eat(b']') {
                            loop {
                                let value = self.value()?;
                                msg.fields.push((name.clone(), value));
                                if self.eat(b']') {
                                    break;
                                }
                                if !self.eat(b',') {
                                    return Err(self.error("expected ',' or ']'"));
                                }
                            }
                        }
                    }
                    _ if colon => {
                        let value = self.value()?;
                        msg.fields.push((name, value));
                    }
                    _ => return Err(self.error("expected ':' or a message")),
                }
                if !self.eat(b',') {
                    self.eat(b';');
                }
            }
        }

        fn message(&mut self) -> Result<Msg, String> {
            let close = match self.peek() {
                Some(b'{') => b'}',
                Some(b'<') => b'>',
                _ => return Err(self.error("expected a message")),
            };
            self.pos += 1;
            self.fields(Some(close))
        }

        fn field_name(&mut self) -> Result<String, String> {
            if self.peek() == Some(b'[') {
                // An extension or an expanded Any: `[type.googleapis.com/pkg.Type]`.
                let start = self.pos + 1;
                let end = start
                    + self.src[start..]
                        .iter()
                        .position(|&c| c == b']')
                        .ok_or_else(|| self.error("unterminated '['"))?;
                self.pos = end + 1;
                let name: String = String::from_utf8_lossy(&self.src[start..end]).split_whitespace().collect();
                return Ok(name);
            }
            let name = self.word();
            if name.is_empty() { Err(self.error("expected a field name")) } else { Ok(name) }
        }

        fn word(&mut self) -> String {
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-')) {
                // `+`/`-` only inside a number's exponent, `-` also leading: keep it simple and let the
                // reader reject what is not a number.
                if matches!(self.peek(), Some(b'+' | b'-'))
                    && self.pos > start
                    && !matches!(self.src[self.pos - 1], b'e' | b'E')
                {
                    break;
                }
                self.pos += 1;
            }
            String::from_utf8_lossy(&self.src[start..self.pos]).into_owned()
        }

        fn value(&mut self) -> Result<Val, String> {
            self.skip_space();
            match self.peek() {
                Some(b'"' | b'\'') => {
                    let mut bytes = Vec::new();
                    while matches!(self.peek(), Some(b'"' | b'\'')) {
                        self.string(&mut bytes)?;
                        self.skip_space();
                    }
                    Ok(Val::Str(bytes))
                }
                Some(b'{' | b'<') => Ok(Val::Msg(self.message()?)),
                Some(_) => {
                    let mut word = String::new();
                    if self.peek() == Some(b'-') {
                        // `- inf` is allowed: a sign, then the number or identifier.
                        self.pos += 1;
                        self.skip_space();
                        word.push('-');
                    }
                    let rest = self.word();
                    if rest.is_empty() || rest.starts_with('-') {
                        return Err(self.error("expected a value"));
                    }
                    word.push_str(&rest);
                    Ok(Val::Scalar(word))
                }
                None => Err(self.error("expected a value")),
            }
        }

        /// One quoted literal, unescaped onto `out`.
        fn string(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
            let quote = self.src[self.pos];
            self.pos += 1;
            loop {
                let Some(c) = self.peek() else { return Err(self.error("unterminated string")) };
                self.pos += 1;
                match c {
                    _ if c == quote => return Ok(()),
                    b'\n' => return Err(self.error("newline in string")),
                    b'\\' => self.escape(out)?,
                    _ => out.push(c),
                }
            }
        }

        fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
            let Some(c) = self.peek() else { return Err(self.error("unterminated escape")) };
            self.pos += 1;
            match c {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'a' => out.push(0x07),
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'v' => out.push(0x0b),
                b'\\' | b'\'' | b'"' | b'?' => out.push(c),
                b'0'..=b'7' => {
                    let mut value = u32::from(c - b'0');
                    for _ in 0..2 {
                        match self.peek() {
                            Some(d @ b'0'..=b'7') => {
                                value = value * 8 + u32::from(d - b'0');
                                self.pos += 1;
                            }
                            _ => break,
                        }
                    }
                    out.push(u8::try_from(value).map_err(|_| self.error("octal escape above \\377"))?);
                }
                b'x' | b'X' => {
                    let value = self.hex_digits(1, 2)?;
                    out.push(value as u8);
                }
                b'u' | b'U' => {
                    let n = if c == b'u' { 4 } else { 8 };
                    let code = self.hex_digits(n, n)?;
                    let ch = char::from_u32(code).ok_or_else(|| self.error("invalid code point"))?;
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => return Err(self.error("unknown escape")),
            }
            Ok(())
        }

        fn hex_digits(&mut self, min: usize, max: usize) -> Result<u32, String> {
            let mut value = 0;
            let mut n = 0;
            while n < max {
                match self.peek().and_then(|c| (c as char).to_digit(16)) {
                    Some(d) => {
                        value = value * 16 + d;
                        self.pos += 1;
                        n += 1;
                    }
                    None => break,
                }
            }
            if n < min { Err(self.error("expected hex digits")) } else { Ok(value) }
        }
    }
}

#[test]
fn textproto_parses_the_conformance_syntax() {
    use textproto::{Msg, Val, float, int, parse};

    let text = r#"
        # a comment
        name: "x" # trailing comment
        section {
          test: { name: "a", expr: '1 + \'2\'' ; value: { int64_value: -3 } }
          test < name: "b" >
        }
        s: "\a\b\f\n\r\t\v\\\'\"\?" 'x' "y"
        oct: "\0\12\123\377"
        hex: "\x0\xff\x41"
        uni: "\u00e9\U0001F431"
        raw: "é"
        list: [1, -2, 0x10, 017]
        msgs: [{ a: 1 }, { a: 2 }]
        empty: []
        floats: [inf, -inf, nan, -Infinity, 1.5, -2e-3, 1E+3, 2.5f, - inf]
        enum: NULL_VALUE
        any { [type.googleapis.com/google.protobuf.Duration] { seconds: 123 nanos: 5 } }
    "#;
    let m = parse(text).unwrap();
    assert_eq!(m.string("name").as_deref(), Some("x"));
    let tests: Vec<&Msg> = m.msg("section").unwrap().msgs("test").collect();
    assert_eq!(tests.len(), 2);
    assert_eq!(tests[0].string("expr").as_deref(), Some("1 + '2'"));
    assert_eq!(tests[0].msg("value").unwrap().scalar("int64_value"), Some("-3"));
    assert_eq!(tests[1].string("name").as_deref(), Some("b"));
    assert_eq!(m.bytes("s"), Some(&b"\x07\x08\x0c\n\r\t\x0b\\'\"?xy"[..]));
    assert_eq!(m.bytes("oct"), Some(&[0, 0o12, 0o123, 0o377][..]));
    assert_eq!(m.bytes("hex"), Some(&[0, 0xff, 0x41][..]));
    assert_eq!(m.string("uni").as_deref(), Some("é🐱"));
    assert_eq!(m.string("raw").as_deref(), Some("é"));
    let list: Vec<i64> =
        m.fields.iter().filter(|(n, _)| n == "list").map(|(_, v)| int(v.scalar().unwrap()).unwrap()).collect();
    assert_eq!(list, [1, -2, 16, 15]);
    assert_eq!(m.msgs("msgs").map(|m| m.scalar("a").unwrap()).collect::<Vec<_>>(), ["1", "2"]);
    assert!(m.get("empty").is_none());
    let floats: Vec<f64> =
        m.fields.iter().filter(|(n, _)| n == "floats").map(|(_, v)| float(v.scalar().unwrap()).unwrap()).collect();
    assert_eq!(floats.len(), 9);
    assert_eq!(floats[0], f64::INFINITY);
    assert_eq!(floats[1], f64::NEG_INFINITY);
    assert!(floats[2].is_nan());
    assert_eq!(floats[3..], [f64::NEG_INFINITY, 1.5, -2e-3, 1e3, 2.5, f64::NEG_INFINITY]);
    assert_eq!(m.get("enum"), Some(&Val::Scalar("NULL_VALUE".into())));
    let duration = m.msg("any").unwrap().msg("type.googleapis.com/google.protobuf.Duration").unwrap();
    assert_eq!((duration.scalar("seconds"), duration.scalar("nanos")), (Some("123"), Some("5")));
    assert_eq!(int::<u64>("18446744073709551615"), Some(u64::MAX));
    assert_eq!(int::<i64>("-9223372036854775808"), Some(i64::MIN));
    assert!(parse("a { b: 1").is_err());
    assert!(parse("a: \"\\q\"").is_err());
}

#[test]
fn expected_values_compare_strictly() {
    let map = |entries: &[(i64, Value)]| {
        Value::Map(Map { map: Arc::new(entries.iter().map(|(k, v)| (Key::Int(*k), v.clone())).collect()) })
    };
    assert!(same(&Value::Int(1), &Value::Int(1)));
    assert!(!same(&Value::Int(1), &Value::UInt(1)));
    assert!(!same(&Value::Float(1.0), &Value::Int(1)));
    assert!(same(&Value::Float(f64::NAN), &Value::Float(f64::NAN)));
    assert!(!same(&Value::Float(f64::NAN), &Value::Float(1.0)));
    assert!(same(&Value::Float(0.0), &Value::Float(-0.0)));
    assert!(!same(&Value::List(Arc::new(vec![Value::Int(1)])), &Value::List(Arc::new(vec![Value::UInt(1)]))));
    assert!(same(&map(&[(1, Value::Null), (2, Value::Bool(true))]), &map(&[(2, Value::Bool(true)), (1, Value::Null)])));
    assert!(!same(&map(&[(1, Value::Null)]), &map(&[(1, Value::Null), (2, Value::Null)])));
    assert!(!same(&map(&[(1, Value::Int(1))]), &map(&[(1, Value::Float(1.0))])));
    assert!(!same(&Value::Null, &Value::Bool(false)));
}
