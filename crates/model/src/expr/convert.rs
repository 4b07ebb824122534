//! JSON to CEL and back, the variables a machine's expressions see, and readable errors.
//!
//! Invariants this module keeps:
//! - JSON becomes CEL as follows: integers that fit `i64` are `int`, larger ones `uint`, other
//!   numbers `double`, strings `string` (borrowed, not copied), arrays `list`, objects `map`
//!   with string keys, `null` `null`. The variables are converted only when an expression
//!   looks them up, once per [`Scope`].
//! - CEL becomes JSON only for values JSON can hold: timestamps and durations as protobuf's JSON
//!   mapping writes them, a type as its name; non-finite doubles, bytes, functions and optionals
//!   are refused with a message, never replaced silently.
//! - Nothing here panics on user input; nesting deeper than [`MAX_DEPTH`] is refused.

use std::collections::HashMap;
use std::sync::OnceLock;

use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelTimestamp, CelUInt,
};
use cel::common::value::{CowVal, Val};
use cel::objects::Key;
use cel::{ExecutionError, Value};
use serde_json::{Map, Value as Json};

/// Deepest JSON/CEL nesting converted (serde_json's own parser stops at 128).
pub(crate) const MAX_DEPTH: usize = 256;

/// The variables a machine's expressions see: `ctx`, `event` (the payload), `state`, `now`,
/// `env`, and where given `instance` and an action's `result` or `error`.
pub(crate) struct Scope<'a> {
    ctx: &'a Map<String, Json>,
    event: &'a Map<String, Json>,
    state: CelString<'a>,
    state_text: &'a str,
    now: CelTimestamp,
    now_at: chrono::DateTime<chrono::FixedOffset>,
    /// `result` or `error`, with its value.
    outcome: Option<(&'static str, &'a Json)>,
    instance: Option<&'a Json>,
    /// `item` and `index`: one element of a fan-out's list and its position.
    item: Option<(&'a Json, CelInt)>,
    /// `env`: the space's configuration values (an empty map when not given).
    env: Option<&'a Json>,
    ctx_val: OnceLock<Option<Box<dyn Val + 'a>>>,
    event_val: OnceLock<Option<Box<dyn Val + 'a>>>,
    outcome_val: OnceLock<Option<Box<dyn Val + 'a>>>,
    instance_val: OnceLock<Option<Box<dyn Val + 'a>>>,
    item_val: OnceLock<Option<Box<dyn Val + 'a>>>,
    env_val: OnceLock<Option<Box<dyn Val + 'a>>>,
}

impl<'a> Scope<'a> {
    /// Builds a scope; nothing is converted until an expression looks a variable up.
    pub(crate) fn new(
        ctx: &'a Map<String, Json>,
        event: &'a Map<String, Json>,
        state: &'a str,
        now: chrono::DateTime<chrono::FixedOffset>,
    ) -> Self {
        Self {
            ctx,
            event,
            state: CelString::from(state),
            state_text: state,
            now: CelTimestamp::from(now),
            now_at: now,
            outcome: None,
            instance: None,
            item: None,
            env: None,
            ctx_val: OnceLock::new(),
            event_val: OnceLock::new(),
            outcome_val: OnceLock::new(),
            instance_val: OnceLock::new(),
            item_val: OnceLock::new(),
            env_val: OnceLock::new(),
        }
    }

    /// A fresh scope with the same variables (each converted again when looked up), for a
    /// shorter lifetime.
    pub(crate) fn clone_base<'s>(&'s self) -> Scope<'s>
    where
        'a: 's,
    {
        let mut scope = Scope::new(self.ctx, self.event, self.state_text, self.now_at);
        scope.outcome = self.outcome;
        scope.instance = self.instance;
        scope.env = self.env;
        scope
    }

    /// Adds `item` (one element of a list) and `index` (its position).
    pub(crate) fn with_item(mut self, item: &'a Json, index: usize) -> Self {
        self.item = Some((item, CelInt::from(i64::try_from(index).unwrap_or(i64::MAX))));
        self
    }

    /// Adds `env` (the space's configuration values, an object).
    pub(crate) fn with_env(mut self, env: Option<&'a Json>) -> Self {
        self.env = env;
        self
    }

    /// Adds `instance` (an object describing the instance).
    pub(crate) fn with_instance(mut self, instance: &'a Json) -> Self {
        self.instance = Some(instance);
        self
    }

    /// Adds `name` (`result` or `error`) bound to `value`.
    pub(crate) fn with_outcome(mut self, name: &'static str, value: &'a Json) -> Self {
        self.outcome = Some((name, value));
        self
    }

    /// Returns which variable could not be converted (nested too deeply), if any.
    pub(crate) fn conversion_failure(&self) -> Option<&'static str> {
        if matches!(self.ctx_val.get(), Some(None)) {
            Some("ctx")
        } else if matches!(self.event_val.get(), Some(None)) {
            Some("event")
        } else if matches!(self.outcome_val.get(), Some(None)) {
            self.outcome.map(|(name, _)| name)
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
            "now" => &self.now,
            "instance" => {
                let instance = self.instance?;
                self.instance_val.get_or_init(|| json_to_val(instance, 0)).as_deref()?
            }
            "item" => {
                let (item, _) = self.item?;
                self.item_val.get_or_init(|| json_to_val(item, 0)).as_deref()?
            }
            "index" => &self.item.as_ref()?.1,
            "env" => self
                .env_val
                .get_or_init(|| match self.env {
                    Some(env) => json_to_val(env, 0),
                    None => Some(Box::new(CelMap::from(HashMap::new()))),
                })
                .as_deref()?,
            name => {
                let (bound, value) = self.outcome?;
                if bound != name {
                    return None;
                }
                self.outcome_val.get_or_init(|| json_to_val(value, 0)).as_deref()?
            }
        };
        Some(CowVal::Borrowed(val))
    }
}

/// Named JSON variables, each converted to CEL on its first lookup (for expressions outside a
/// machine's step: a trigger's filter and mapping).
pub(crate) struct JsonVars<'a> {
    vars: Vec<(&'a str, &'a Json, Converted<'a>)>,
    /// `now`, a timestamp, when given apart from the JSON variables.
    now: Option<CelTimestamp>,
}

/// A variable's CEL value, converted on first lookup (`None`: nested too deeply).
type Converted<'a> = OnceLock<Option<Box<dyn Val + 'a>>>;

impl<'a> JsonVars<'a> {
    /// The variables `vars`, by name.
    pub(crate) fn new(vars: &[(&'a str, &'a Json)]) -> Self {
        JsonVars { vars: vars.iter().map(|(name, json)| (*name, *json, OnceLock::new())).collect(), now: None }
    }

    /// The same variables, with `now` a timestamp.
    pub(crate) fn at(mut self, now: chrono::DateTime<chrono::FixedOffset>) -> Self {
        self.now = Some(CelTimestamp::from(now));
        self
    }
}

impl cel::context::VariableResolver for JsonVars<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        if variable == "now"
            && let Some(now) = &self.now
        {
            return Some(CowVal::Borrowed(now));
        }
        let (_, json, cell) = self.vars.iter().find(|(name, _, _)| *name == variable)?;
        let val: &'b (dyn Val + 'b) = cell.get_or_init(|| json_to_val(json, 0)).as_deref()?;
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
        // As google.protobuf.Timestamp and Duration are written in JSON.
        Value::Timestamp(t) => Json::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        Value::Duration(d) => Json::String(duration_json(d)),
        Value::Bytes(_) => return Err("a bytes value cannot be stored as JSON".to_owned()),
        other => {
            return Err(format!("a value of type {:?} cannot be stored as JSON", other.type_of()));
        }
    })
}

/// A duration as protobuf's JSON mapping writes it: seconds with up to 9 decimals, then `s`.
fn duration_json(d: &chrono::Duration) -> String {
    let nanos = d.num_nanoseconds().map(i128::from).unwrap_or_else(|| i128::from(d.num_seconds()) * 1_000_000_000);
    let sign = if nanos < 0 { "-" } else { "" };
    let nanos = nanos.unsigned_abs();
    let (secs, frac) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
    if frac == 0 {
        format!("{sign}{secs}s")
    } else {
        let digits = format!("{frac:09}");
        format!("{sign}{secs}.{}s", digits.trim_end_matches('0'))
    }
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

/// Longest evaluation error message kept, in characters (errors can quote whole values).
const MAX_ERROR_LEN: usize = 300;

/// Turns an execution error into a reason a person can act on.
pub(crate) fn describe_error(error: &ExecutionError) -> String {
    let text = describe(error);
    match text.char_indices().nth(MAX_ERROR_LEN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn describe(error: &ExecutionError) -> String {
    match error {
        ExecutionError::UnsupportedBinaryOperator(_, lhs, rhs) if is_int_double_mix(lhs, rhs) => {
            format!(
                "{error} (CEL does not mix int and double in arithmetic; convert one side \
                 with double(x) or int(x))"
            )
        }
        ExecutionError::UndeclaredReference(_) => {
            format!("{error} (guards and assignments can read ctx, event, state and now)")
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
