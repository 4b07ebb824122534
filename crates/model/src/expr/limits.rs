//! Structural limits checked on the parsed tree before anything else walks it.
//!
//! Invariant: [`check`] itself never recurses (it walks with an explicit stack), so it is safe
//! on a tree of any depth; every other pass (type check, instrumentation, evaluation, drop)
//! recurses and runs only on trees [`check`] accepted.

use cel::common::ast::{EntryExpr, Expr, IdedExpr};

use super::CompileError;

/// Deepest tree accepted: each selection (`a.b`), index, call, operator and literal nesting
/// adds a level, so `a.b.c` is 3 levels and `1 + 1 + 1` is 3. The CEL specification asks for
/// at least 32 (chained `||`, parentheses) and 12 (selections, indices, calls).
pub const MAX_AST_DEPTH: usize = 100;

/// Most nodes in one expression (every identifier, literal, operator and call counts one;
/// macros count what they expand to).
pub const MAX_AST_NODES: usize = 1500;

/// Deepest nesting of comprehensions (`all`, `exists`, `map`, `filter`, `cel.bind`, ...).
pub const MAX_COMPREHENSION_NESTING: usize = 12;

/// Refuses a tree that is too deep, too large or nests comprehensions too deeply.
pub(super) fn check(root: &IdedExpr) -> Result<(), CompileError> {
    let mut nodes = 0usize;
    // (node, depth, comprehensions enclosing it)
    let mut stack: Vec<(&IdedExpr, usize, usize)> = vec![(root, 1, 0)];
    while let Some((node, depth, nesting)) = stack.pop() {
        nodes += 1;
        if depth > MAX_AST_DEPTH {
            return Err(CompileError::TooComplex(format!(
                "nests more than {MAX_AST_DEPTH} levels deep (each selection, index, call and operator in a \
                 chain counts a level); split it or use fewer chained operations"
            )));
        }
        if nodes > MAX_AST_NODES {
            return Err(CompileError::TooComplex(format!(
                "has more than {MAX_AST_NODES} operations, values and names; expressions are limited to \
                 {MAX_AST_NODES}"
            )));
        }
        let next = depth + 1;
        match &node.expr {
            Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => {}
            Expr::Call(call) => {
                if let Some(target) = &call.target {
                    stack.push((target, next, nesting));
                }
                stack.extend(call.args.iter().map(|arg| (arg, next, nesting)));
            }
            Expr::Select(select) => stack.push((&select.operand, next, nesting)),
            Expr::List(list) => stack.extend(list.elements.iter().map(|e| (e, next, nesting))),
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(entry) = &entry.expr {
                        stack.push((&entry.key, next, nesting));
                        stack.push((&entry.value, next, nesting));
                    }
                }
            }
            Expr::Struct(strct) => {
                for entry in &strct.entries {
                    match &entry.expr {
                        EntryExpr::StructField(field) => stack.push((&field.value, next, nesting)),
                        EntryExpr::MapEntry(entry) => {
                            stack.push((&entry.key, next, nesting));
                            stack.push((&entry.value, next, nesting));
                        }
                    }
                }
            }
            Expr::Comprehension(c) => {
                let inner = nesting + 1;
                if inner > MAX_COMPREHENSION_NESTING {
                    return Err(CompileError::TooComplex(format!(
                        "nests comprehensions (all, exists, map, filter, cel.bind, ...) more than \
                         {MAX_COMPREHENSION_NESTING} deep"
                    )));
                }
                // The range and the initial accumulator are evaluated outside the loop.
                stack.push((&c.iter_range, next, nesting));
                stack.push((&c.accu_init, next, nesting));
                stack.push((&c.loop_cond, next, inner));
                stack.push((&c.loop_step, next, inner));
                stack.push((&c.result, next, inner));
            }
        }
    }
    Ok(())
}
