//! CEL expressions: compiled once when a definition is saved, evaluated under a cost budget.
//!
//! An expression goes through four steps in [`Program::compile`]:
//! 1. **Parse** with the `cel` crate's parser (standard macros, the two-variable macros,
//!    `cel.bind`, optional syntax and backtick-quoted field names).
//! 2. **Bound** ([`limits`]): depth (selection chains, calls and operator chains count a level
//!    each), node count and comprehension nesting, so no later pass and no evaluation can
//!    exhaust a stack.
//! 3. **Check** ([`check`]): every identifier, function and operator overload against the
//!    [`Declarations`] the expression may see; `dyn` where a schema is open.
//! 4. **Instrument** ([`meter`]): the tree is rewritten so that evaluation charges a cost
//!    budget for what it builds, compares and iterates over.
//!
//! Invariants this module keeps:
//! - A [`Program`] holds a tree within [`MAX_AST_DEPTH`], [`MAX_AST_NODES`] and
//!   [`MAX_COMPREHENSION_NESTING`]; parsing and the passes above run on a stack of their own
//!   ([`COMPILE_STACK`]), so even a refused expression cannot overflow the caller's stack.
//! - Evaluation runs with at least [`EVAL_RED_ZONE`] bytes of stack (growing onto a fresh
//!   stack when the calling thread has less) and stops with [`EvalError::CostExceeded`] once
//!   it has charged more than its budget; a spent budget stays spent, even where CEL's error
//!   semantics would otherwise absorb the refusal (`x || true`).
//! - Nothing here panics on user input, and nothing here does I/O.

mod check;
pub(crate) mod convert;
mod functions;
mod limits;
mod meter;
mod rewrite;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use cel::common::ast::IdedExpr;
use cel::context::VariableResolver;
use cel::{Context, Value};

pub use check::ExprType;
pub use limits::{MAX_AST_DEPTH, MAX_AST_NODES, MAX_COMPREHENSION_NESTING};
pub use rewrite::prefix_variables;

/// Longest expression accepted, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 4096;

/// Cost budget of one evaluation, in cost units (see `docs/expressions.md`): one unit per
/// operation, per comprehension step and per 8 bytes of string or bytes processed.
pub const DEFAULT_COST_LIMIT: u64 = 1_000_000;

/// Stack that compiling runs on: enough for the parser on the longest accepted source.
pub const COMPILE_STACK: usize = 64 << 20;

/// Stack an evaluation is guaranteed; measured need at the depth limits is far below it.
pub const EVAL_RED_ZONE: usize = 1 << 20;

/// Stack allocated for an evaluation when the calling thread has less than [`EVAL_RED_ZONE`].
const EVAL_STACK: usize = 4 << 20;

/// The environment every expression compiles and evaluates with, built once per process.
static ENV: LazyLock<Arc<cel::Env>> = LazyLock::new(|| Arc::new(functions::environment()));

/// The variables an expression may read, with their types.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Declarations {
    variables: BTreeMap<String, ExprType>,
}

impl Declarations {
    /// Returns an empty set of declarations.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares `name` with type `ty`.
    pub fn variable(mut self, name: impl Into<String>, ty: ExprType) -> Self {
        self.variables.insert(name.into(), ty);
        self
    }

    /// Returns the declared type of `name`.
    pub fn get(&self, name: &str) -> Option<&ExprType> {
        self.variables.get(name)
    }

    /// Returns the declared names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.variables.keys().map(String::as_str)
    }
}

/// Why an expression was refused when compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The source is empty or blank.
    #[error("must not be empty")]
    Empty,
    /// The source is longer than [`MAX_EXPRESSION_LEN`].
    #[error("is {len} bytes long; expressions are limited to {MAX_EXPRESSION_LEN} bytes")]
    TooLong {
        /// The source's length in bytes.
        len: usize,
    },
    /// The source does not parse.
    #[error("CEL syntax error at {line}:{column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The expression exceeds a structural limit (depth, size, comprehension nesting).
    #[error("{0}")]
    TooComplex(String),
    /// The expression uses an unknown variable or function, or an operator on types it does not
    /// apply to.
    #[error("type error at {line}:{column}: {message}")]
    Type {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// Why an evaluation did not produce a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The evaluation charged more than its cost budget.
    #[error("the expression exceeded its cost budget of {limit} units")]
    CostExceeded {
        /// The budget, in cost units.
        limit: u64,
    },
    /// The evaluation failed (no such key, no matching overload, division by zero, ...).
    #[error("{0}")]
    Failed(String),
}

/// A compiled, bounded, instrumented expression; immutable and shareable across threads.
pub struct Program {
    source: String,
    expr: IdedExpr,
    result_type: ExprType,
}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Program({:?})", self.source)
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // Dropping a tree recurses once per level; the tree is within MAX_AST_DEPTH, but the
        // owner may be a thread with little stack left.
        let expr = std::mem::take(&mut self.expr);
        stacker::maybe_grow(EVAL_RED_ZONE, EVAL_STACK, move || drop(expr));
    }
}

impl Program {
    /// Parses, bounds, type-checks against `declarations` and instruments `source`.
    pub fn compile(source: &str, declarations: &Declarations) -> Result<Self, CompileError> {
        Self::build(source, Some(declarations))
    }

    /// Like [`Program::compile`] without the type check (every identifier is `dyn`; unknown ones
    /// fail when evaluated).
    pub fn compile_unchecked(source: &str) -> Result<Self, CompileError> {
        Self::build(source, None)
    }

    fn build(source: &str, declarations: Option<&Declarations>) -> Result<Self, CompileError> {
        if source.trim().is_empty() {
            return Err(CompileError::Empty);
        }
        if source.len() > MAX_EXPRESSION_LEN {
            return Err(CompileError::TooLong { len: source.len() });
        }
        let env = &*ENV;
        // Parsing recurses once per nesting level of the source, and so do dropping and
        // walking the tree: all of it happens on a stack sized for the longest source.
        stacker::grow(COMPILE_STACK, || {
            let (expr, source_info) =
                env.parser().enable_ident_escape_syntax(true).parse_with_source_info(source).map_err(|errors| {
                    match errors.errors.first() {
                        // Only the first syntax error is reported: the rest usually follow from it.
                        Some(first) if first.msg.contains("Recursion limit") => CompileError::TooComplex(
                            "nests parentheses, lists, maps or calls more than 96 levels deep".to_owned(),
                        ),
                        Some(first) => CompileError::Syntax {
                            line: first.pos.0.max(1) as usize,
                            column: first.pos.1.max(1) as usize,
                            message: first.msg.clone(),
                        },
                        None => CompileError::Syntax { line: 1, column: 1, message: "cannot parse".to_owned() },
                    }
                })?;
            limits::check(&expr)?;
            let expr = functions::well_known_types(expr);
            let position = |id: u64| match source_info.offset_for(id) {
                Some((start, _)) => line_and_column(source, start as usize),
                None => (1, 1),
            };
            let checked = match declarations {
                Some(declarations) => Some(check::check(&expr, declarations).map_err(|error| {
                    let (line, column) = position(error.id);
                    CompileError::Type { line, column, message: error.message }
                })?),
                None => None,
            };
            let expr = meter::instrument(expr, declarations, checked.as_ref().map(|c| &c.scalars));
            let result_type = checked.map_or(ExprType::Dyn, |c| c.result);
            Ok(Self { source: source.to_owned(), expr, result_type })
        })
    }

    /// Returns the source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the expression reads the variable `name` (free, not a comprehension's own).
    pub fn reads(&self, name: &str) -> bool {
        let mut found = false;
        stacker::maybe_grow(EVAL_RED_ZONE, EVAL_STACK, || rewrite::reads(&self.expr, name, &mut found));
        found
    }

    /// Returns the type the checker inferred for the result (`dyn` when it cannot tell).
    pub fn result_type(&self) -> &ExprType {
        &self.result_type
    }

    /// Evaluates with the variables of `activation` and the default cost budget.
    pub fn evaluate(&self, activation: &Activation) -> Result<Value, EvalError> {
        self.evaluate_limited(activation, DEFAULT_COST_LIMIT)
    }

    /// Evaluates with the variables of `activation` and a budget of `limit` cost units.
    pub fn evaluate_limited(&self, activation: &Activation, limit: u64) -> Result<Value, EvalError> {
        self.run(limit, |context| {
            for (name, value) in &activation.values {
                context.add_variable_from_value(name.as_str(), value.clone());
            }
        })
    }

    /// Evaluates with JSON variables (each converted when first read) under the default cost
    /// budget, and converts the result to JSON.
    pub fn evaluate_json(&self, vars: &[(&str, &serde_json::Value)]) -> Result<serde_json::Value, EvalError> {
        let resolver = convert::JsonVars::new(vars);
        let value = self.evaluate_with(&resolver, DEFAULT_COST_LIMIT)?;
        convert::cel_to_json(&value).map_err(EvalError::Failed)
    }

    /// [`Program::evaluate_json`] with `now` a timestamp (as a machine's expressions see it).
    pub fn evaluate_json_at(
        &self,
        vars: &[(&str, &serde_json::Value)],
        now: chrono::DateTime<chrono::FixedOffset>,
    ) -> Result<serde_json::Value, EvalError> {
        let resolver = convert::JsonVars::new(vars).at(now);
        let value = self.evaluate_with(&resolver, DEFAULT_COST_LIMIT)?;
        convert::cel_to_json(&value).map_err(EvalError::Failed)
    }

    /// Evaluates with the variables `resolver` provides and a budget of `limit` cost units.
    pub(crate) fn evaluate_with(&self, resolver: &dyn VariableResolver, limit: u64) -> Result<Value, EvalError> {
        self.run(limit, |context| context.set_variable_resolver(resolver))
    }

    fn run<'v>(&self, limit: u64, setup: impl FnOnce(&mut Context<'_, 'v>)) -> Result<Value, EvalError> {
        stacker::maybe_grow(EVAL_RED_ZONE, EVAL_STACK, || {
            let mut context = Context::with_env(Arc::clone(&ENV));
            setup(&mut context);
            let budget = meter::Budget::start(limit);
            let result = Value::resolve(&self.expr, &context);
            let exceeded = budget.finish();
            match result {
                _ if exceeded => Err(EvalError::CostExceeded { limit }),
                Ok(value) => Ok(value),
                Err(error) => Err(EvalError::Failed(convert::describe_error(&error))),
            }
        })
    }
}

/// Returns the 1-based line and column (in characters) of byte `offset` in `source`.
fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Variables for [`Program::evaluate`], as CEL values.
#[derive(Debug, Clone, Default)]
pub struct Activation {
    values: Vec<(String, Value)>,
}

impl Activation {
    /// Returns an activation without variables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `name` to `value`.
    pub fn bind(mut self, name: impl Into<String>, value: Value) -> Self {
        self.values.push((name.into(), value));
        self
    }
}
