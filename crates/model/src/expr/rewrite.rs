//! Rewriting an expression's source: free variables read through a map (`input` → `ctx.input`).
//!
//! Flows are written over `input`, `vars` and `nodes` and compile to machines whose expressions
//! read `ctx`: the rewrite keeps the expression as written and only prefixes the variables it
//! names, found in the parsed tree (so names in strings, field names and comprehension
//! variables that shadow them are left alone).

use cel::common::ast::{EntryExpr, Expr, IdedExpr};

use super::{COMPILE_STACK, CompileError, ENV};

/// Returns `source` with every free identifier in `names` prefixed by `prefix` and a dot
/// (`input.x` → `ctx.input.x` with prefix `ctx`); a syntax error is reported as compiling
/// would report it.
pub fn prefix_variables(source: &str, names: &[&str], prefix: &str) -> Result<String, CompileError> {
    if source.trim().is_empty() {
        return Err(CompileError::Empty);
    }
    if source.len() > super::MAX_EXPRESSION_LEN {
        return Err(CompileError::TooLong { len: source.len() });
    }
    stacker::grow(COMPILE_STACK, || {
        let (expr, info) = ENV.parser().enable_ident_escape_syntax(true).parse_with_source_info(source).map_err(
            |errors| match errors.errors.first() {
                Some(first) => CompileError::Syntax {
                    line: first.pos.0.max(1) as usize,
                    column: first.pos.1.max(1) as usize,
                    message: first.msg.clone(),
                },
                None => CompileError::Syntax { line: 1, column: 1, message: "cannot parse".to_owned() },
            },
        )?;
        super::limits::check(&expr)?;
        let mut offsets = Vec::new();
        collect(&expr, names, &mut Vec::new(), &mut |id| {
            if let Some((start, _)) = info.offset_for(id) {
                offsets.push(start as usize);
            }
        });
        offsets.sort_unstable();
        offsets.dedup();
        let mut out = String::with_capacity(source.len() + offsets.len() * (prefix.len() + 1));
        let mut last = 0;
        for at in offsets {
            if at < last || !source.is_char_boundary(at) {
                continue;
            }
            // A macro's synthetic nodes may share an offset with their call; only an identifier
            // written here is prefixed.
            if !names.iter().any(|name| source[at..].starts_with(name)) {
                continue;
            }
            out.push_str(&source[last..at]);
            out.push_str(prefix);
            out.push('.');
            last = at;
        }
        out.push_str(&source[last..]);
        Ok(out)
    })
}

/// Sets `found` when `expr` reads the free variable `name`.
pub(crate) fn reads(expr: &IdedExpr, name: &str, found: &mut bool) {
    collect(expr, &[name], &mut Vec::new(), &mut |_| *found = true);
}

/// Calls `found` with the id of every identifier in `names` that no comprehension binds.
fn collect(expr: &IdedExpr, names: &[&str], bound: &mut Vec<String>, found: &mut impl FnMut(u64)) {
    match &expr.expr {
        Expr::Ident(name) => {
            if names.contains(&name.as_str()) && !bound.iter().any(|b| b == name) {
                found(expr.id);
            }
        }
        Expr::Unspecified | Expr::Literal(_) => {}
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                collect(target, names, bound, found);
            }
            for arg in &call.args {
                collect(arg, names, bound, found);
            }
        }
        Expr::Select(select) => collect(&select.operand, names, bound, found),
        Expr::List(list) => {
            for element in &list.elements {
                collect(element, names, bound, found);
            }
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(entry) = &entry.expr {
                    collect(&entry.key, names, bound, found);
                    collect(&entry.value, names, bound, found);
                }
            }
        }
        Expr::Struct(strct) => {
            for entry in &strct.entries {
                match &entry.expr {
                    EntryExpr::StructField(field) => collect(&field.value, names, bound, found),
                    EntryExpr::MapEntry(entry) => {
                        collect(&entry.key, names, bound, found);
                        collect(&entry.value, names, bound, found);
                    }
                }
            }
        }
        Expr::Comprehension(c) => {
            collect(&c.iter_range, names, bound, found);
            collect(&c.accu_init, names, bound, found);
            let depth = bound.len();
            bound.push(c.iter_var.clone());
            if let Some(second) = &c.iter_var2 {
                bound.push(second.clone());
            }
            bound.push(c.accu_var.clone());
            collect(&c.loop_cond, names, bound, found);
            collect(&c.loop_step, names, bound, found);
            collect(&c.result, names, bound, found);
            bound.truncate(depth);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_variables;

    fn rewrite(source: &str) -> String {
        prefix_variables(source, &["input", "vars", "nodes"], "ctx").unwrap()
    }

    #[test]
    fn free_variables_are_prefixed_and_nothing_else_is() {
        assert_eq!(rewrite("input.x * 2"), "ctx.input.x * 2");
        assert_eq!(rewrite("nodes.a.output + vars.n"), "ctx.nodes.a.output + ctx.vars.n");
        assert_eq!(rewrite("'input' + x.input"), "'input' + x.input");
        assert_eq!(rewrite("input.items.map(input, input * 2)"), "ctx.input.items.map(input, input * 2)");
        assert_eq!(rewrite("[1].map(x, x + input.k)"), "[1].map(x, x + ctx.input.k)");
        assert_eq!(rewrite("{'a': nodes}"), "{'a': ctx.nodes}");
        assert_eq!(rewrite("has(input.x) ? 'é' + input.y : ''"), "has(ctx.input.x) ? 'é' + ctx.input.y : ''");
        assert_eq!(rewrite("inputs + 1"), "inputs + 1");
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(prefix_variables("input +", &["input"], "ctx").is_err());
        assert!(prefix_variables(" ", &["input"], "ctx").is_err());
    }
}
