//! The CEL environment Switchyard evaluates with, and the functions and macros written here
//! because the `cel` crate lacks them or because its versions cannot be metered.
//!
//! From the crate: the standard library (timestamps and durations with time zones included),
//! optional types, and the strings, math, lists and encoders extensions.
//! Written here:
//! - `cel.bind(name, init, body)`, as cel-go expands it: a comprehension over an empty range
//!   whose accumulator is the bound name.
//! - The two-variable comprehensions `all(i, v, p)`, `exists(i, v, p)`, `existsOne(i, v, p)`,
//!   `transformList(i, v, [filter,] e)` and `transformMap(k, v, [filter,] e)`: the crate's
//!   interpreter has no second iteration variable, so they iterate over `@entries(range)` (the
//!   `[index or key, value]` pairs) and bind both names per step.
//! - `@replace` and `@split`, the strings extension's `replace` and `split` with the same
//!   results, charging the meter for what they build before building it.
//! - `@matches`: `matches` with a bounded compiled size and a charge per compile.
//! - `@getMilliseconds`: `getMilliseconds` with the spec's result for a duration.
//! - The metering functions `@in` and `@iter` ([`super::meter`]).

use std::collections::HashMap;

use cel::Env;
use cel::ExecutionError;
use cel::common::ast::{CallExpr, ComprehensionExpr, Expr, IdedExpr, ListExpr, LiteralValue, operators};
use cel::common::types::{
    CelDuration, CelInt, CelList, CelMap, CelMapKey, CelString, CelTimestamp, DURATION_TYPE, DYN_TYPE, INT_TYPE,
    LIST_TYPE, MAP_TYPE, STRING_TYPE, TIMESTAMP_TYPE,
};
use cel::common::value::{CowVal, Val};
use cel::parser::{Macro, MacroExprHelper, ParseError};

use super::meter::{self, IN, ITER, QUADRATIC};

/// `replace`, metered.
pub(super) const REPLACE: &str = "@replace";
/// `split`, metered.
pub(super) const SPLIT: &str = "@split";
/// `getMilliseconds`, with the component (not the total) for a duration, as the spec says.
pub(super) const GET_MILLISECONDS: &str = "@getMilliseconds";
/// `matches`, with a bounded regex size and a charge per compile.
pub(super) const MATCHES: &str = "@matches";
/// Units one regular-expression compile costs (it runs on every call, and its time grows with
/// the compiled program, which is bounded by [`REGEX_SIZE_LIMIT`]).
const REGEX_COMPILE_COST: u64 = 1_000;
/// Largest compiled regular expression, in bytes (the regex crate's default is 10 MiB).
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// `[index or key, value]` pairs of a list or map.
const ENTRIES: &str = "@entries";
/// A map from a list of `[key, value]` pairs.
const PAIRS_TO_MAP: &str = "@pairs_to_map";

/// The accumulator of the comprehensions built here.
const RESULT: &str = "@result";
/// The loop variable of the two-variable comprehensions built here.
const ENTRY: &str = "@entry";

/// Builds the environment (once per process; see `ENV` in the parent module).
pub(super) fn environment() -> Env {
    let mut env = Env::stdlib();
    let added = add_everything(&mut env);
    // Every name below is fixed and distinct from the crate's: a failure here is a bug in this
    // file, caught by every test that compiles an expression.
    if let Err(error) = added {
        panic!("the CEL environment could not be built: {error}");
    }
    env
}

fn add_everything(env: &mut Env) -> Result<(), Box<dyn std::error::Error>> {
    env.add_extension(cel::extensions::strings)?;
    env.add_extension(cel::extensions::math)?;
    env.add_extension(cel::extensions::lists)?;
    env.add_extension(cel::extensions::encoders)?;

    env.add_overload(IN, "@in", vec![DYN_TYPE], meter::meter_in)?;
    env.add_overload(ITER, "@iter", vec![DYN_TYPE, INT_TYPE], meter::meter_iter)?;
    env.add_overload(QUADRATIC, "@quadratic", vec![DYN_TYPE], meter::meter_quadratic)?;
    env.add_member_overload(REPLACE, "@replace", STRING_TYPE, vec![STRING_TYPE, STRING_TYPE], replace_all)?;
    env.add_member_overload(REPLACE, "@replace_n", STRING_TYPE, vec![STRING_TYPE, STRING_TYPE, INT_TYPE], replace_n)?;
    env.add_member_overload(SPLIT, "@split", STRING_TYPE, vec![STRING_TYPE], split_all)?;
    env.add_member_overload(SPLIT, "@split_n", STRING_TYPE, vec![STRING_TYPE, INT_TYPE], split_n)?;
    env.add_member_overload(GET_MILLISECONDS, "@ms_timestamp", TIMESTAMP_TYPE, vec![], milliseconds)?;
    env.add_member_overload(GET_MILLISECONDS, "@ms_timestamp_tz", TIMESTAMP_TYPE, vec![STRING_TYPE], milliseconds)?;
    env.add_member_overload(GET_MILLISECONDS, "@ms_duration", DURATION_TYPE, vec![], milliseconds)?;
    env.add_overload(MATCHES, "@matches", vec![STRING_TYPE, STRING_TYPE], regex_matches)?;
    env.add_member_overload(MATCHES, "@matches_member", STRING_TYPE, vec![STRING_TYPE], regex_matches)?;
    env.add_overload(ENTRIES, "@entries_list", vec![LIST_TYPE], entries)?;
    env.add_overload(ENTRIES, "@entries_map", vec![MAP_TYPE], entries)?;
    env.add_overload(PAIRS_TO_MAP, "@pairs_to_map", vec![LIST_TYPE], pairs_to_map)?;

    env.add_macro(Macro::receiver("bind", 3, bind_macro))?;
    env.add_macro(Macro::receiver(operators::ALL, 3, |h, t, a| two_var(h, t, a, TwoVar::All)))?;
    env.add_macro(Macro::receiver(operators::EXISTS, 3, |h, t, a| two_var(h, t, a, TwoVar::Exists)))?;
    env.add_macro(Macro::receiver("existsOne", 3, |h, t, a| two_var(h, t, a, TwoVar::ExistsOne)))?;
    env.add_macro(Macro::receiver(operators::EXISTS_ONE, 3, |h, t, a| two_var(h, t, a, TwoVar::ExistsOne)))?;
    env.add_macro(Macro::receiver("transformList", 3, |h, t, a| two_var(h, t, a, TwoVar::TransformList)))?;
    env.add_macro(Macro::receiver("transformList", 4, |h, t, a| two_var(h, t, a, TwoVar::TransformList)))?;
    env.add_macro(Macro::receiver("transformMap", 3, |h, t, a| two_var(h, t, a, TwoVar::TransformMap)))?;
    env.add_macro(Macro::receiver("transformMap", 4, |h, t, a| two_var(h, t, a, TwoVar::TransformMap)))?;
    Ok(())
}

// ---- metered strings ------------------------------------------------------------------------

fn string_arg<'a, 'b, 'v>(args: &'a [CowVal<'b, 'v>], i: usize, function: &str) -> Result<&'a str, ExecutionError> {
    args.get(i)
        .and_then(|a| a.downcast_ref::<CelString>())
        .map(|s| s.inner())
        .ok_or_else(|| ExecutionError::function_error(function, "expected a string argument"))
}

fn int_arg(args: &[CowVal<'_, '_>], i: usize, function: &str) -> Result<i64, ExecutionError> {
    args.get(i)
        .and_then(|a| a.downcast_ref::<CelInt>())
        .map(|n| *n.inner())
        .ok_or_else(|| ExecutionError::function_error(function, "expected an int argument"))
}

fn replace_all<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    replace(&args, -1)
}

fn replace_n<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let n = int_arg(&args, 3, "replace")?;
    replace(&args, n)
}

/// `s.replace(from, to[, n])`: the first `n` occurrences, or all when `n` is negative.
fn replace<'b, 'v>(args: &[CowVal<'b, 'v>], n: i64) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let this = string_arg(args, 0, "replace")?;
    let from = string_arg(args, 1, "replace")?;
    let to = string_arg(args, 2, "replace")?;
    let occurrences = if from.is_empty() { this.chars().count() + 1 } else { this.matches(from).count() };
    let replaced = match usize::try_from(n) {
        Ok(n) => occurrences.min(n),
        Err(_) => occurrences,
    };
    let size = this.len().saturating_add(replaced.saturating_mul(to.len()));
    meter::charge(meter::bytes_cost(size))?;
    let out = match usize::try_from(n) {
        Ok(n) => this.replacen(from, to, n),
        Err(_) => this.replace(from, to),
    };
    Ok(CowVal::owned(CelString::from(out)))
}

fn split_all<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    split(&args, -1)
}

fn split_n<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let n = int_arg(&args, 2, "split")?;
    split(&args, n)
}

/// `s.split(sep[, n])`: at most `n` parts, the last holding the rest; none when `n` is zero,
/// all when negative. An empty separator splits between code points.
fn split<'b, 'v>(args: &[CowVal<'b, 'v>], n: i64) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let this = string_arg(args, 0, "split")?;
    let sep = string_arg(args, 1, "split")?;
    let pieces = if sep.is_empty() { this.chars().count() } else { this.matches(sep).count() + 1 };
    let pieces = match usize::try_from(n) {
        Ok(n) => pieces.min(n),
        Err(_) => pieces,
    };
    meter::charge((pieces as u64).saturating_add(meter::bytes_cost(this.len())))?;
    let parts: Vec<&str> = match (usize::try_from(n), sep.is_empty()) {
        (Ok(0), _) => Vec::new(),
        (Ok(n), true) => {
            let mut parts = Vec::new();
            let mut rest = this;
            while let Some(c) = rest.chars().next() {
                if parts.len() + 1 == n {
                    break;
                }
                let (head, tail) = rest.split_at(c.len_utf8());
                parts.push(head);
                rest = tail;
            }
            if !rest.is_empty() {
                parts.push(rest);
            }
            parts
        }
        (Ok(n), false) => this.splitn(n, sep).collect(),
        (Err(_), true) => this.char_indices().map(|(i, c)| &this[i..i + c.len_utf8()]).collect(),
        (Err(_), false) => this.split(sep).collect(),
    };
    let list: Vec<Box<dyn Val + 'v>> =
        parts.into_iter().map(|p| Box::new(CelString::from(p.to_owned())) as Box<dyn Val + 'v>).collect();
    Ok(CowVal::owned(CelList::from(list)))
}

/// `t.getMilliseconds([tz])` and `d.getMilliseconds()`: the milliseconds within the second (a
/// time zone does not change them). The crate returns a duration's total milliseconds.
fn milliseconds<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let this = args.first().ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))?;
    let millis = if let Some(t) = this.downcast_ref::<CelTimestamp>() {
        i64::from(t.inner().timestamp_subsec_millis())
    } else if let Some(d) = this.downcast_ref::<CelDuration>() {
        d.inner().num_milliseconds() % 1000
    } else {
        return Err(ExecutionError::function_error("getMilliseconds", "expected a timestamp or a duration"));
    };
    Ok(CowVal::owned(CelInt::from(millis)))
}

/// `matches(s, re)` and `s.matches(re)`: RE2 syntax (the regex crate), compiled with a size
/// limit, charged per compile and per byte searched.
fn regex_matches<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let text = string_arg(&args, 0, "matches")?;
    let pattern = string_arg(&args, 1, "matches")?;
    meter::charge(REGEX_COMPILE_COST.saturating_add(meter::bytes_cost(text.len())))?;
    let regex = regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| ExecutionError::function_error("matches", format!("invalid regular expression: {e}")))?;
    Ok(CowVal::owned(cel::common::types::CelBool::from(regex.is_match(text))))
}

// ---- two-variable comprehension support -----------------------------------------------------

/// `@entries(x)`: `[[0, x[0]], [1, x[1]], ...]` for a list, `[[k, v], ...]` for a map.
fn entries<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let range = args.pop().ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))?;
    let pair =
        |a: Box<dyn Val + 'v>, b: Box<dyn Val + 'v>| -> Box<dyn Val + 'v> { Box::new(CelList::from(vec![a, b])) };
    let mut out: Vec<Box<dyn Val + 'v>> = Vec::new();
    if let Some(map) = range.downcast_ref::<CelMap>() {
        // A map's iteration order is unspecified in CEL; sort by key so results are stable.
        let mut items: Vec<(&CelMapKey, &Box<dyn Val + 'v>)> = map.inner().iter().collect();
        items.sort_by(|a, b| a.0.cmp(b.0));
        for (key, value) in items {
            out.push(pair(key.inner().clone_as_boxed(), value.clone()));
        }
    } else if let Some(iterable) = range.as_iterable() {
        let mut items = iterable.iter();
        let mut index = 0i64;
        while let Some(item) = items.next() {
            out.push(pair(Box::new(CelInt::from(index)), item.clone_as_boxed()));
            index += 1;
        }
    } else {
        return Err(ExecutionError::function_error("comprehension", "the range must be a list or a map"));
    }
    Ok(CowVal::owned(CelList::from(out)))
}

/// `@pairs_to_map([[k, v], ...])`: the map `transformMap` builds; a repeated key keeps the last.
fn pairs_to_map<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let pairs = args.pop().ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))?;
    let iterable = pairs
        .as_iterable()
        .ok_or_else(|| ExecutionError::function_error("transformMap", "expected a list of pairs"))?;
    let mut map: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = HashMap::new();
    let mut items = iterable.iter();
    while let Some(item) = items.next() {
        let pair = item
            .downcast_ref::<CelList>()
            .filter(|l| l.inner().len() == 2)
            .ok_or_else(|| ExecutionError::function_error("transformMap", "expected a [key, value] pair"))?;
        let (key, value) = (&pair.inner()[0], &pair.inner()[1]);
        let key: CelMapKey<'v> = CelMapKey::try_from(key.clone())?;
        map.insert(key, value.clone());
    }
    Ok(CowVal::owned(CelMap::from(map)))
}

// ---- protobuf well-known types -------------------------------------------------------------

/// Rewrites the protobuf well-known types that have a JSON meaning into plain values:
/// `google.protobuf.Int64Value{value: 2}` is `2`, an empty wrapper its zero value,
/// `google.protobuf.Value{}` `null`, `Struct{fields: m}` `m` and `ListValue{values: l}` `l`.
/// Other messages are left for the type check to refuse. Runs on trees within the limits.
pub(super) fn well_known_types(mut expr: IdedExpr) -> IdedExpr {
    use cel::common::ast::EntryExpr;
    let replacement = match &mut expr.expr {
        Expr::Struct(strct) => {
            let name = strct.type_name.trim_start_matches('.');
            let field = |wanted: &str| {
                strct.entries.iter().find_map(|entry| match &entry.expr {
                    EntryExpr::StructField(f) if f.field == wanted => Some(f.value.clone()),
                    _ => None,
                })
            };
            let zero = match name {
                "google.protobuf.BoolValue" => Some(Expr::Literal(LiteralValue::Boolean(false.into()))),
                "google.protobuf.BytesValue" => Some(Expr::Literal(LiteralValue::Bytes(Vec::<u8>::new().into()))),
                "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => {
                    Some(Expr::Literal(LiteralValue::Double(0.0.into())))
                }
                "google.protobuf.Int32Value" | "google.protobuf.Int64Value" => {
                    Some(Expr::Literal(LiteralValue::Int(0.into())))
                }
                "google.protobuf.UInt32Value" | "google.protobuf.UInt64Value" => {
                    Some(Expr::Literal(LiteralValue::UInt(0u64.into())))
                }
                "google.protobuf.StringValue" => Some(Expr::Literal(LiteralValue::String(String::new().into()))),
                "google.protobuf.Value" => Some(Expr::Literal(LiteralValue::Null)),
                "google.protobuf.Struct" => Some(Expr::Map(Default::default())),
                "google.protobuf.ListValue" => Some(Expr::List(ListExpr::new(Vec::new()))),
                _ => None,
            };
            let given = match name {
                "google.protobuf.Struct" => field("fields"),
                "google.protobuf.ListValue" => field("values"),
                "google.protobuf.Value" => {
                    ["null_value", "number_value", "string_value", "bool_value", "struct_value", "list_value"]
                        .into_iter()
                        .find_map(&field)
                }
                _ => field("value"),
            };
            match (zero, given) {
                (Some(_), Some(value)) => Some(value),
                (Some(zero), None) => Some(IdedExpr { id: expr.id, expr: zero }),
                (None, _) => None,
            }
        }
        _ => None,
    };
    if let Some(replacement) = replacement {
        return well_known_types(replacement);
    }
    match &mut expr.expr {
        Expr::Call(call) => {
            if let Some(target) = call.target.take() {
                call.target = Some(Box::new(well_known_types(*target)));
            }
            call.args = std::mem::take(&mut call.args).into_iter().map(well_known_types).collect();
        }
        Expr::Select(select) => {
            let operand = std::mem::take(&mut *select.operand);
            *select.operand = well_known_types(operand);
        }
        Expr::List(list) => {
            list.elements = std::mem::take(&mut list.elements).into_iter().map(well_known_types).collect();
        }
        Expr::Map(map) => {
            for entry in &mut map.entries {
                if let cel::common::ast::EntryExpr::MapEntry(e) = &mut entry.expr {
                    e.key = well_known_types(std::mem::take(&mut e.key));
                    e.value = well_known_types(std::mem::take(&mut e.value));
                }
            }
        }
        Expr::Struct(strct) => {
            for entry in &mut strct.entries {
                match &mut entry.expr {
                    cel::common::ast::EntryExpr::StructField(f) => {
                        f.value = well_known_types(std::mem::take(&mut f.value))
                    }
                    cel::common::ast::EntryExpr::MapEntry(e) => {
                        e.key = well_known_types(std::mem::take(&mut e.key));
                        e.value = well_known_types(std::mem::take(&mut e.value));
                    }
                }
            }
        }
        Expr::Comprehension(c) => {
            c.iter_range = well_known_types(std::mem::take(&mut c.iter_range));
            c.accu_init = well_known_types(std::mem::take(&mut c.accu_init));
            c.loop_cond = well_known_types(std::mem::take(&mut c.loop_cond));
            c.loop_step = well_known_types(std::mem::take(&mut c.loop_step));
            c.result = well_known_types(std::mem::take(&mut c.result));
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
    expr
}

// ---- macros --------------------------------------------------------------------------------

fn ident(helper: &mut MacroExprHelper<'_>, name: &str) -> IdedExpr {
    helper.next_expr(Expr::Ident(name.to_owned()))
}

fn call(helper: &mut MacroExprHelper<'_>, name: &str, args: Vec<IdedExpr>) -> IdedExpr {
    helper.next_expr(Expr::Call(CallExpr { func_name: name.to_owned(), target: None, args }))
}

fn literal(helper: &mut MacroExprHelper<'_>, value: LiteralValue) -> IdedExpr {
    helper.next_expr(Expr::Literal(value))
}

fn simple_name(helper: &MacroExprHelper<'_>, expr: &IdedExpr, what: &str) -> Result<String, ParseError> {
    match &expr.expr {
        Expr::Ident(name) if !name.starts_with('@') => Ok(name.clone()),
        _ => Err(helper.new_error(expr.id, format!("{what} must be a simple name"))),
    }
}

/// `name` bound to `init` while evaluating `body` (cel-go's expansion of `cel.bind`).
fn bound(helper: &mut MacroExprHelper<'_>, name: String, init: IdedExpr, body: IdedExpr) -> IdedExpr {
    let iter_range = helper.next_expr(Expr::List(ListExpr::new(Vec::new())));
    let loop_cond = literal(helper, LiteralValue::Boolean(false.into()));
    let loop_step = ident(helper, &name);
    helper.next_expr(Expr::Comprehension(Box::new(ComprehensionExpr {
        iter_range,
        iter_var: "#unused".to_owned(),
        iter_var2: None,
        accu_var: name,
        accu_init: init,
        loop_cond,
        loop_step,
        result: body,
    })))
}

fn bind_macro(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<Option<IdedExpr>, ParseError> {
    // Only `cel.bind(...)` is the macro; `x.bind(...)` on anything else stays a call.
    if !matches!(target, Some(IdedExpr { expr: Expr::Ident(name), .. }) if name == "cel") {
        return Ok(None);
    }
    let (Some(body), Some(init), Some(name)) = (args.pop(), args.pop(), args.pop()) else {
        return Ok(None);
    };
    let name = simple_name(helper, &name, "the first argument of cel.bind")?;
    Ok(Some(bound(helper, name, init, body)))
}

#[derive(Clone, Copy, PartialEq)]
enum TwoVar {
    All,
    Exists,
    ExistsOne,
    TransformList,
    TransformMap,
}

/// Expands a two-variable comprehension over `@entries(target)`.
fn two_var(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
    kind: TwoVar,
) -> Result<Option<IdedExpr>, ParseError> {
    let Some(range) = target.take() else {
        return Ok(None);
    };
    let mut args = std::mem::take(args).into_iter();
    let (Some(first), Some(second)) = (args.next(), args.next()) else {
        return Ok(None);
    };
    let rest: Vec<IdedExpr> = args.collect();
    let first = simple_name(helper, &first, "the first variable")?;
    let second = simple_name(helper, &second, "the second variable")?;
    if first == second {
        return Err(helper.new_error(0, format!("the two variables must differ, both are {first:?}")));
    }
    // Each expression sees both names: first = entry[0], second = entry[1].
    let with_names = |helper: &mut MacroExprHelper<'_>, body: IdedExpr| {
        let entry = ident(helper, ENTRY);
        let zero = literal(helper, LiteralValue::Int(0.into()));
        let key = call(helper, operators::INDEX, vec![entry, zero]);
        let entry = ident(helper, ENTRY);
        let one = literal(helper, LiteralValue::Int(1.into()));
        let value = call(helper, operators::INDEX, vec![entry, one]);
        let inner = bound(helper, second.clone(), value, body);
        bound(helper, first.clone(), key, inner)
    };
    let (filter, body) = match rest.len() {
        1 => (None, rest.into_iter().next()),
        2 => {
            let mut rest = rest.into_iter();
            (rest.next(), rest.next())
        }
        _ => return Ok(None),
    };
    let Some(body) = body else {
        return Ok(None);
    };
    let body = with_names(helper, body);
    let filter = filter.map(|f| with_names(helper, f));
    let accu = |helper: &mut MacroExprHelper<'_>| ident(helper, RESULT);
    let (init, cond, step, result) = match kind {
        TwoVar::All | TwoVar::Exists => {
            let (start, op) =
                if kind == TwoVar::All { (true, operators::LOGICAL_AND) } else { (false, operators::LOGICAL_OR) };
            let init = literal(helper, LiteralValue::Boolean(start.into()));
            let a = accu(helper);
            let cond_arg = if kind == TwoVar::All { a } else { call(helper, operators::LOGICAL_NOT, vec![a]) };
            let cond = call(helper, operators::NOT_STRICTLY_FALSE, vec![cond_arg]);
            let a = accu(helper);
            let step = call(helper, op, vec![a, body]);
            (init, cond, step, accu(helper))
        }
        TwoVar::ExistsOne => {
            let init = literal(helper, LiteralValue::Int(0.into()));
            let cond = literal(helper, LiteralValue::Boolean(true.into()));
            let a = accu(helper);
            let one = literal(helper, LiteralValue::Int(1.into()));
            let plus = call(helper, operators::ADD, vec![a, one]);
            let a = accu(helper);
            let step = call(helper, operators::CONDITIONAL, vec![body, plus, a]);
            let a = accu(helper);
            let one = literal(helper, LiteralValue::Int(1.into()));
            (init, cond, step, call(helper, operators::EQUALS, vec![a, one]))
        }
        TwoVar::TransformList | TwoVar::TransformMap => {
            let init = helper.next_expr(Expr::List(ListExpr::new(Vec::new())));
            let cond = literal(helper, LiteralValue::Boolean(true.into()));
            let element = if kind == TwoVar::TransformList {
                body
            } else {
                // [key, value]: the key is the entry's first element.
                let entry = ident(helper, ENTRY);
                let zero = literal(helper, LiteralValue::Int(0.into()));
                let key = call(helper, operators::INDEX, vec![entry, zero]);
                helper.next_expr(Expr::List(ListExpr::new(vec![key, body])))
            };
            let a = accu(helper);
            let item = helper.next_expr(Expr::List(ListExpr::new(vec![element])));
            let append = call(helper, operators::ADD, vec![a, item]);
            let step = match filter {
                Some(filter) => {
                    let a = accu(helper);
                    call(helper, operators::CONDITIONAL, vec![filter, append, a])
                }
                None => append,
            };
            (init, cond, step, accu(helper))
        }
    };
    let iter_range = call(helper, ENTRIES, vec![range]);
    let comprehension = helper.next_expr(Expr::Comprehension(Box::new(ComprehensionExpr {
        iter_range,
        iter_var: ENTRY.to_owned(),
        iter_var2: None,
        accu_var: RESULT.to_owned(),
        accu_init: init,
        loop_cond: cond,
        loop_step: step,
        result,
    })));
    // The pairs are collected in a list (appended in place) and made a map once, at the end.
    Ok(Some(if kind == TwoVar::TransformMap { call(helper, PAIRS_TO_MAP, vec![comprehension]) } else { comprehension }))
}
