//! CEL expressions: compile once, evaluate against `ctx`, `event` and `state`.
//!
//! Invariants this module keeps:
//! - An [`Expr`] always holds a program that parsed; it is evaluated with one shared standard
//!   environment, built once per process.
//! - JSON becomes CEL as follows: integers that fit `i64` are `int`, larger ones `uint`, other
//!   numbers `double`, strings `string` (borrowed, not copied), arrays `list`, objects `map`
//!   with string keys, `null` `null`. The variables are converted only when an expression
//!   looks them up, once per [`Scope`].
//! - CEL becomes JSON only for values JSON can hold: non-finite doubles, bytes, types,
//!   functions and optionals are refused with a message, never replaced silently.
//! - Nothing here panics on user input; nesting deeper than [`MAX_DEPTH`] is refused.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock};

use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt};
use cel::common::value::{CowVal, Val};
use cel::objects::Key;
use cel::{ExecutionError, Value};
use serde_json::{Map, Value as Json};

use super::MAX_EXPRESSION_LEN;

/// Deepest JSON/CEL nesting converted (serde_json's own parser stops at 128).
pub(crate) const MAX_DEPTH: usize = 256;

/// The standard CEL environment, shared by every evaluation.
static ENV: LazyLock<Arc<cel::Env>> = LazyLock::new(|| Arc::new(cel::Env::stdlib()));

/// A compiled CEL expression with its source text.
pub(crate) struct Expr {
    source: String,
    program: cel::Program,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

impl Expr {
    /// Compiles `source`; the error is a message such as `CEL syntax error at 1:9: ...`.
    pub(crate) fn compile(source: &str) -> Result<Self, String> {
        if source.trim().is_empty() {
            return Err("must not be empty".to_owned());
        }
        if source.len() > MAX_EXPRESSION_LEN {
            return Err(format!(
                "is {} bytes long; expressions are limited to {MAX_EXPRESSION_LEN} bytes",
                source.len()
            ));
        }
        // Build the shared environment now, so the first event does not pay for it.
        LazyLock::force(&ENV);
        match cel::Program::compile(source) {
            Ok(program) => Ok(Self { source: source.to_owned(), program }),
            // Only the first syntax error is reported: the rest usually follow from it.
            Err(errors) => Err(match errors.errors.first() {
                Some(first) => format!("CEL syntax error at {}:{}: {}", first.pos.0, first.pos.1, first.msg),
                None => "CEL syntax error".to_owned(),
            }),
        }
    }

    /// Returns the source text.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression; the error is a readable reason.
    pub(crate) fn eval(&self, scope: &Scope<'_>) -> Result<Value, String> {
        let mut context = cel::Context::with_env(Arc::clone(&ENV));
        context.set_variable_resolver(scope);
        self.program.execute(&context).map_err(|e| describe_error(&e, scope))
    }
}

/// The variables an evaluation sees: `ctx`, `event` (the payload) and `state`.
pub(crate) struct Scope<'a> {
    ctx: &'a Map<String, Json>,
    event: &'a Map<String, Json>,
    state: CelString<'a>,
    ctx_val: OnceLock<Option<Box<dyn Val + 'a>>>,
    event_val: OnceLock<Option<Box<dyn Val + 'a>>>,
}

impl<'a> Scope<'a> {
    /// Builds a scope; nothing is converted until an expression looks a variable up.
    pub(crate) fn new(ctx: &'a Map<String, Json>, event: &'a Map<String, Json>, state: &'a str) -> Self {
        Self { ctx, event, state: CelString::from(state), ctx_val: OnceLock::new(), event_val: OnceLock::new() }
    }

    /// Returns which variable could not be converted (nested too deeply), if any.
    fn conversion_failure(&self) -> Option<&'static str> {
        if matches!(self.ctx_val.get(), Some(None)) {
            Some("ctx")
        } else if matches!(self.event_val.get(), Some(None)) {
            Some("event")
        } else {
            None
        }
    }
}

impl cel::context::VariableResolver for Scope<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        let val: &'b (dyn Val + 'b) = match variable {
            "ctx" => self.ctx_val.get_or_init(|| map_to_val(self.ctx, 0)).as_deref()?,
            "event" => self.event_val.get_or_init(|| map_to_val(self.event, 0)).as_deref()?,
            "state" => &self.state,
            _ => return None,
        };
        Some(CowVal::Borrowed(val))
    }
}

/// Converts a JSON object to a CEL map that borrows its strings; `None` when nested too deeply.
fn map_to_val<'a>(map: &'a Map<String, Json>, depth: usize) -> Option<Box<dyn Val + 'a>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut entries: HashMap<CelMapKey<'a>, Box<dyn Val + 'a>> = HashMap::with_capacity(map.len());
    for (key, value) in map {
        entries.insert(CelMapKey::from(key.as_str()), json_to_val(value, depth + 1)?);
    }
    Some(Box::new(CelMap::from(entries)))
}

/// Converts a JSON value to CEL (see the module docs for the mapping).
fn json_to_val(value: &Json, depth: usize) -> Option<Box<dyn Val + '_>> {
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match value {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => Box::new(CelBool::from(*b)),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Box::new(CelInt::from(i))
            } else if let Some(u) = n.as_u64() {
                Box::new(CelUInt::from(u))
            } else {
                // Without serde_json's arbitrary_precision every other number is an f64.
                Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN)))
            }
        }
        Json::String(s) => Box::new(CelString::from(s.as_str())),
        Json::Array(items) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                list.push(json_to_val(item, depth + 1)?);
            }
            Box::new(CelList::from(list))
        }
        Json::Object(map) => return map_to_val(map, depth),
    })
}

/// Converts a CEL value to JSON; fails for values JSON cannot hold.
pub(crate) fn cel_to_json(value: &Value) -> Result<Json, String> {
    cel_to_json_at(value, 0)
}

fn cel_to_json_at(value: &Value, depth: usize) -> Result<Json, String> {
    if depth > MAX_DEPTH {
        return Err(format!("the value nests deeper than {MAX_DEPTH} levels"));
    }
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => Json::Number(n),
            None => return Err(format!("the double {f} cannot be stored as JSON")),
        },
        Value::String(s) => Json::String(s.as_str().to_owned()),
        Value::List(items) => {
            Json::Array(items.iter().map(|item| cel_to_json_at(item, depth + 1)).collect::<Result<_, _>>()?)
        }
        Value::Map(map) => {
            let mut entries = map
                .map
                .iter()
                .map(|(key, item)| Ok((key_to_string(key), cel_to_json_at(item, depth + 1)?)))
                .collect::<Result<Vec<_>, String>>()?;
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().collect())
        }
        Value::Bytes(_) => return Err("a bytes value cannot be stored as JSON".to_owned()),
        other => {
            return Err(format!("a value of type {:?} cannot be stored as JSON", other.type_of()));
        }
    })
}

fn key_to_string(key: &Key) -> String {
    match key {
        Key::String(s) => s.as_str().to_owned(),
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
    }
}

/// Renders a CEL value for a message, like `3` or `"text"`, shortened when long.
pub(crate) fn render(value: &Value) -> String {
    const SHOWN: usize = 80;
    let text = match cel_to_json(value) {
        Ok(json) => json.to_string(),
        Err(_) => format!("{value:?}"),
    };
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Turns an execution error into a reason a person can act on.
fn describe_error(error: &ExecutionError, scope: &Scope<'_>) -> String {
    if let Some(variable) = scope.conversion_failure() {
        return format!("{variable} nests deeper than {MAX_DEPTH} levels");
    }
    match error {
        ExecutionError::UnsupportedBinaryOperator(_, lhs, rhs) if is_int_double_mix(lhs, rhs) => {
            format!(
                "{error} (CEL does not mix int and double in arithmetic; convert one side \
                 with double(x) or int(x))"
            )
        }
        ExecutionError::UndeclaredReference(_) => {
            format!("{error} (guards and assignments can read ctx, event and state)")
        }
        _ => error.to_string(),
    }
}

fn is_int_double_mix(lhs: &Value, rhs: &Value) -> bool {
    let numeric_kind = |v: &Value| match v {
        Value::Int(_) | Value::UInt(_) => Some(false),
        Value::Float(_) => Some(true),
        _ => None,
    };
    matches!(
        (numeric_kind(lhs), numeric_kind(rhs)),
        (Some(a), Some(b)) if a != b
    )
}
