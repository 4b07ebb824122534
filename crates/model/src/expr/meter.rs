//! The cost budget: a per-thread meter, the functions that charge it, and the rewrite that
//! puts those functions into a compiled tree.
//!
//! The `cel` crate's interpreter has no cost hook, so the compiled tree carries its own:
//! - `@in(x)` wraps an argument of every call and operator whose work or result grows with
//!   its arguments (`+`, `==`, `in`, `contains`, `matches`, `string`, ...), every element of a
//!   list or map literal (the interpreter copies them), a `cel.bind` initialiser, and the
//!   whole expression (its result is copied out). It charges the argument's *deep* size: one
//!   unit per value, entry and element, plus one per 8 bytes of string or bytes. Arguments the
//!   type check proved scalar (numbers, bools, timestamps, ...) are not wrapped, nor are reads of
//!   declared variables outside any loop body: those run once per evaluation on input the caller
//!   already bounds, and leaving them out keeps a typical guard as cheap as the bare interpreter.
//! - `@iter(range, w)` wraps a comprehension's range. It charges the range's deep size (each
//!   item is copied into the loop variable) plus `w` units per item, `w` being the size of the
//!   loop body: evaluating one step costs at most that many operations.
//! - `replace` and `split`, whose result can be far larger than their arguments, become
//!   `@replace` and `@split`, which charge for the result before building it.
//!
//! Names starting with `@` cannot be written in CEL source, so an expression cannot call or
//! shadow these functions.
//!
//! Invariants: charging is exact-or-over, never under, for everything the interpreter copies,
//! compares or iterates over; a deep size is measured with a walk that stops as soon as it
//! passes the remaining budget, so measuring costs no more than the budget. Once a charge is
//! refused the meter stays exhausted until the evaluation ends, so later operations are
//! refused too and the evaluation reports the overrun even if CEL's error absorption
//! (`e || true`, `all` over errors) would have hidden the refusal.

use std::cell::Cell;
use std::collections::HashSet;

use cel::ExecutionError;
use cel::common::ast::{CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, LiteralValue, operators};
use cel::common::types::{CelBytes, CelInt, CelMap, CelOptional, CelString};
use cel::common::value::{CowVal, Val};

use super::Declarations;

/// Name of the function charging for its argument's deep size.
pub(super) const IN: &str = "@in";
/// Name of the function charging for a comprehension's range.
pub(super) const ITER: &str = "@iter";

/// Name of the function charging the square of its argument's size (`distinct`).
pub(super) const QUADRATIC: &str = "@quadratic";

/// Bytes of string or bytes that cost one unit.
const BYTES_PER_UNIT: u64 = 8;

#[derive(Clone, Copy)]
struct Meter {
    active: bool,
    remaining: u64,
    exhausted: bool,
}

thread_local! {
    static METER: Cell<Meter> = const { Cell::new(Meter { active: false, remaining: 0, exhausted: false }) };
}

/// An evaluation's budget, active on this thread until [`Budget::finish`].
pub(super) struct Budget {
    previous: Meter,
}

impl Budget {
    /// Starts metering this thread with `limit` units (an enclosing budget is restored after).
    pub(super) fn start(limit: u64) -> Self {
        let previous = METER.with(|m| m.replace(Meter { active: true, remaining: limit, exhausted: false }));
        Self { previous }
    }

    /// Ends metering; returns whether the budget was exceeded.
    pub(super) fn finish(self) -> bool {
        METER.with(|m| m.replace(self.previous)).exhausted
    }
}

/// Charges `units`; refuses (and stays exhausted) when they exceed what remains.
pub(super) fn charge(units: u64) -> Result<(), ExecutionError> {
    METER.with(|cell| {
        let mut meter = cell.get();
        if !meter.active {
            return Ok(());
        }
        if meter.exhausted || units > meter.remaining {
            meter.exhausted = true;
            meter.remaining = 0;
            cell.set(meter);
            return Err(exceeded());
        }
        meter.remaining -= units;
        cell.set(meter);
        Ok(())
    })
}

/// Units left in the active budget (`u64::MAX` when none is active).
fn remaining() -> u64 {
    METER.with(|cell| {
        let meter = cell.get();
        if meter.active { meter.remaining } else { u64::MAX }
    })
}

fn exceeded() -> ExecutionError {
    ExecutionError::function_error("cost", "the expression exceeded its cost budget")
}

/// Units for `bytes` bytes of string or bytes data.
pub(super) fn bytes_cost(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(BYTES_PER_UNIT)
}

/// Returns the deep size of `value` in units, or `None` once it passes `cap`.
fn deep_size(value: &dyn Val, cap: u64) -> Option<u64> {
    let mut total = 0u64;
    let mut stack: Vec<&dyn Val> = vec![value];
    while let Some(value) = stack.pop() {
        total += 1;
        if let Some(s) = value.downcast_ref::<CelString>() {
            total += bytes_cost(s.inner().len());
        } else if let Some(b) = value.downcast_ref::<CelBytes>() {
            total += bytes_cost(b.inner().len());
        } else if let Some(map) = value.downcast_ref::<CelMap>() {
            for (key, item) in map.inner() {
                stack.push(key.inner());
                stack.push(item.as_ref());
                if total + stack.len() as u64 > cap {
                    return None;
                }
            }
        } else if let Some(optional) = value.downcast_ref::<CelOptional>() {
            if let Some(inner) = optional.inner() {
                stack.push(inner);
            }
        } else if let Some(iterable) = value.as_iterable() {
            let mut items = iterable.iter();
            while let Some(item) = items.next() {
                stack.push(item);
                if total + stack.len() as u64 > cap {
                    return None;
                }
            }
        }
        if total > cap {
            return None;
        }
    }
    Some(total)
}

/// Charges the deep size of `value`.
fn charge_deep(value: &dyn Val) -> Result<(), ExecutionError> {
    let cap = remaining();
    match deep_size(value, cap) {
        Some(units) => charge(units),
        None => charge(cap.saturating_add(1)),
    }
}

/// `@in(x)`: charges `x`'s deep size and returns `x`.
pub(super) fn meter_in<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = args.pop().ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))?;
    charge_deep(value.as_ref())?;
    Ok(value)
}

/// `@quadratic(x)`: charges the square of `x`'s size (`distinct` compares every pair) and returns
/// `x`.
pub(super) fn meter_quadratic<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = args.pop().ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))?;
    let cap = remaining();
    let size = deep_size(value.as_ref(), cap).unwrap_or(cap.saturating_add(1));
    charge(size.saturating_mul(size))?;
    Ok(value)
}

/// `@iter(range, w)`: charges `range`'s deep size plus `w` per item and returns `range`.
pub(super) fn meter_iter<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let weight = args.pop().ok_or_else(|| ExecutionError::invalid_argument_count(2, 0))?;
    let range = args.pop().ok_or_else(|| ExecutionError::invalid_argument_count(2, 1))?;
    let weight = weight.downcast_ref::<CelInt>().map_or(1, |w| (*w.inner()).max(1) as u64);
    let items = match range.as_ref().as_sizer() {
        Some(sizer) => (*sizer.size().inner()).max(0) as u64,
        None => 0,
    };
    charge(items.saturating_mul(weight))?;
    charge_deep(range.as_ref())?;
    Ok(range)
}

/// Calls and operators whose work does not grow with their arguments: nothing is charged
/// for their arguments (the arguments' own operations are charged where they happen).
fn is_constant_cost(name: &str) -> bool {
    matches!(
        name,
        operators::LOGICAL_AND
            | operators::LOGICAL_OR
            | operators::LOGICAL_NOT
            | operators::CONDITIONAL
            | operators::NOT_STRICTLY_FALSE
            | operators::INDEX
            | operators::NEGATE
            | "size"
            | "type"
            | "dyn"
            | "hasValue"
            | "optional.none"
    )
}

/// Rewrites `root` so that evaluating it charges the meter (see the module docs). `scalars`
/// (from the type check) are nodes whose values cost the same whatever the input.
pub(super) fn instrument(
    root: IdedExpr,
    declarations: Option<&Declarations>,
    scalars: Option<&HashSet<u64>>,
) -> IdedExpr {
    let empty = HashSet::new();
    let scalars = scalars.unwrap_or(&empty);
    let mut rewriter = Rewriter { next_id: max_id(&root) + 1, declarations, scalars, bound: Vec::new(), loops: 0 };
    let root = rewriter.rewrite(root);
    rewriter.charged(root)
}

fn max_id(expr: &IdedExpr) -> u64 {
    let mut max = 0;
    walk(expr, |e| max = max.max(e.id));
    max
}

/// Counts the nodes of a tree (bounded by the structural limits).
fn count_nodes(expr: &IdedExpr) -> u64 {
    let mut count = 0;
    walk(expr, |_| count += 1);
    count
}

/// Calls `visit` on every node of `expr`, without recursion.
fn walk(expr: &IdedExpr, mut visit: impl FnMut(&IdedExpr)) {
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        visit(e);
        match &e.expr {
            Expr::Call(call) => {
                stack.extend(call.target.as_deref());
                stack.extend(call.args.iter());
            }
            Expr::Comprehension(c) => {
                stack.extend([&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result]);
            }
            Expr::List(list) => stack.extend(list.elements.iter()),
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(entry) = &entry.expr {
                        stack.extend([&entry.key, &entry.value]);
                    }
                }
            }
            Expr::Struct(s) => {
                for entry in &s.entries {
                    match &entry.expr {
                        EntryExpr::StructField(field) => stack.push(&field.value),
                        EntryExpr::MapEntry(entry) => stack.extend([&entry.key, &entry.value]),
                    }
                }
            }
            Expr::Select(select) => stack.push(&select.operand),
            Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
}

struct Rewriter<'d> {
    next_id: u64,
    declarations: Option<&'d Declarations>,
    scalars: &'d HashSet<u64>,
    /// Comprehension variables in scope.
    bound: Vec<String>,
    /// Comprehension loop bodies enclosing the node being rewritten.
    loops: usize,
}

impl Rewriter<'_> {
    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn call(&mut self, name: &str, args: Vec<IdedExpr>) -> IdedExpr {
        IdedExpr { id: self.id(), expr: Expr::Call(CallExpr { func_name: name.to_owned(), target: None, args }) }
    }

    /// Wraps `expr` in `@in(...)` unless it cannot be costly: a scalar (by literal or by its
    /// checked type), or a read of a declared variable outside any loop. Such a read runs once
    /// per evaluation and its size is the input's, which the caller bounds; in a loop body it
    /// would run once per step and is charged.
    fn charged(&mut self, expr: IdedExpr) -> IdedExpr {
        if self.scalars.contains(&expr.id) {
            return expr;
        }
        match &expr.expr {
            Expr::Literal(LiteralValue::String(_) | LiteralValue::Bytes(_)) => self.call(IN, vec![expr]),
            Expr::Literal(_) => expr,
            _ if self.loops == 0 && self.is_input_read(&expr) => expr,
            _ => self.call(IN, vec![expr]),
        }
    }

    /// Whether `expr` reads a declared variable (`event`, `ctx.items`), not a comprehension's.
    fn is_input_read(&self, expr: &IdedExpr) -> bool {
        let mut e = expr;
        loop {
            match &e.expr {
                Expr::Ident(name) => {
                    return !self.bound.iter().any(|b| b == name)
                        && self.declarations.is_some_and(|d| d.get(name).is_some());
                }
                Expr::Select(select) if !select.test => e = &select.operand,
                _ => return false,
            }
        }
    }

    /// Whether an identifier names a variable (declared or bound by a comprehension), as
    /// opposed to a namespace such as `math` or `optional`.
    fn is_variable(&self, name: &str) -> bool {
        if self.bound.iter().any(|b| b == name) {
            return true;
        }
        match self.declarations {
            Some(declarations) => declarations.get(name).is_some(),
            None => !matches!(name, "math" | "strings" | "base64" | "optional" | "lists" | "sets" | "cel" | "google"),
        }
    }

    /// Whether `expr` is a qualified name (`a.b.c`) whose root is not a variable.
    fn is_namespace(&self, expr: &IdedExpr) -> bool {
        let mut e = expr;
        loop {
            match &e.expr {
                Expr::Ident(name) => return !self.is_variable(name),
                Expr::Select(select) if !select.test => e = &select.operand,
                _ => return false,
            }
        }
    }

    fn rewrite(&mut self, expr: IdedExpr) -> IdedExpr {
        let id = expr.id;
        let expr = match expr.expr {
            Expr::Call(call) => self.rewrite_call(call),
            Expr::Comprehension(c) => Expr::Comprehension(Box::new(self.rewrite_comprehension(*c))),
            Expr::Select(mut select) => {
                let operand = std::mem::take(&mut *select.operand);
                *select.operand = self.rewrite(operand);
                Expr::Select(select)
            }
            Expr::List(mut list) => {
                list.elements = std::mem::take(&mut list.elements)
                    .into_iter()
                    .map(|e| {
                        let e = self.rewrite(e);
                        self.charged(e)
                    })
                    .collect();
                Expr::List(list)
            }
            Expr::Map(mut map) => {
                for entry in &mut map.entries {
                    if let EntryExpr::MapEntry(entry) = &mut entry.expr {
                        let key = std::mem::take(&mut entry.key);
                        entry.key = self.rewrite(key);
                        let value = std::mem::take(&mut entry.value);
                        let value = self.rewrite(value);
                        entry.value = self.charged(value);
                    }
                }
                Expr::Map(map)
            }
            Expr::Struct(mut strct) => {
                for entry in &mut strct.entries {
                    match &mut entry.expr {
                        EntryExpr::StructField(field) => {
                            let value = std::mem::take(&mut field.value);
                            let value = self.rewrite(value);
                            field.value = self.charged(value);
                        }
                        EntryExpr::MapEntry(entry) => {
                            let key = std::mem::take(&mut entry.key);
                            entry.key = self.rewrite(key);
                            let value = std::mem::take(&mut entry.value);
                            let value = self.rewrite(value);
                            entry.value = self.charged(value);
                        }
                    }
                }
                Expr::Struct(strct)
            }
            other @ (Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified) => other,
        };
        IdedExpr { id, expr }
    }

    fn rewrite_call(&mut self, mut call: CallExpr) -> Expr {
        let args: Vec<IdedExpr> = std::mem::take(&mut call.args).into_iter().map(|a| self.rewrite(a)).collect();
        // `@result + [x]` and `@result + 1` are the accumulator steps of `map`, `filter` and
        // `exists_one`; the interpreter recognises their shape, and the accumulator was
        // already charged for as it was built.
        let accumulates = call.func_name == operators::ADD
            && matches!(args.first(), Some(IdedExpr { expr: Expr::Ident(name), .. }) if name.starts_with('@'));
        if is_constant_cost(&call.func_name) || accumulates {
            call.args = args;
            if let Some(target) = call.target.take() {
                call.target = Some(Box::new(self.rewrite(*target)));
            }
            return Expr::Call(call);
        }
        // Work that grows faster than the arguments: charged before it is done.
        let quadratic = call.target.is_some() && call.func_name == "distinct";
        call.args = args.into_iter().map(|a| self.charged(a)).collect();
        if let Some(target) = call.target.take() {
            let namespace = self.is_namespace(&target);
            let target = self.rewrite(*target);
            let target = if namespace { target } else { self.charged(target) };
            let target = if quadratic { self.call(QUADRATIC, vec![target]) } else { target };
            call.target = Some(Box::new(target));
            if !namespace {
                match call.func_name.as_str() {
                    "replace" => call.func_name = super::functions::REPLACE.to_owned(),
                    "split" => call.func_name = super::functions::SPLIT.to_owned(),
                    "getMilliseconds" => call.func_name = super::functions::GET_MILLISECONDS.to_owned(),
                    "matches" => call.func_name = super::functions::MATCHES.to_owned(),
                    _ => {}
                }
            }
        }
        // A result larger than its charged arguments (`lists.range(n)`) is charged once built.
        if call.func_name == "matches" && call.target.is_none() {
            call.func_name = super::functions::MATCHES.to_owned();
        }
        if (call.target.is_some() && call.func_name == "range") || call.func_name == "lists.range" {
            let id = self.id();
            return self.call(IN, vec![IdedExpr { id, expr: Expr::Call(call) }]).expr;
        }
        Expr::Call(call)
    }

    fn rewrite_comprehension(&mut self, c: ComprehensionExpr) -> ComprehensionExpr {
        let weight = count_nodes(&c.loop_cond) + count_nodes(&c.loop_step) + 1;
        let range = self.rewrite(c.iter_range);
        let weight = IdedExpr { id: self.id(), expr: Expr::Literal(LiteralValue::Int((weight as i64).into())) };
        let iter_range = self.call(ITER, vec![range, weight]);
        let accu_init = self.rewrite(c.accu_init);
        // The standard macros start from a literal; `cel.bind` starts from the bound value,
        // which the interpreter copies.
        let accu_init = match &accu_init.expr {
            Expr::Literal(_) => accu_init,
            Expr::List(list) if list.elements.is_empty() => accu_init,
            _ => self.charged(accu_init),
        };
        let bound = self.bound.len();
        self.bound.push(c.iter_var.clone());
        if let Some(second) = &c.iter_var2 {
            self.bound.push(second.clone());
        }
        self.bound.push(c.accu_var.clone());
        self.loops += 1;
        let loop_cond = self.rewrite(c.loop_cond);
        let loop_step = self.rewrite(c.loop_step);
        self.loops -= 1;
        let result = self.rewrite(c.result);
        self.bound.truncate(bound);
        ComprehensionExpr {
            iter_range,
            iter_var: c.iter_var,
            iter_var2: c.iter_var2,
            accu_var: c.accu_var,
            accu_init,
            loop_cond,
            loop_step,
            result,
        }
    }
}
