//! Machine definitions: the source form, parsing from YAML or JSON, and the errors both report.
//!
//! A definition goes through two steps:
//! 1. [`parse_definition`] turns YAML or JSON bytes into a [`MachineDefinition`] (the source
//!    form, as written). It only checks the *shape*: unknown fields, wrong types and syntax
//!    errors are reported as [`DefinitionError::Syntax`] with the field path and, where the
//!    parser knows it, the line and column.
//! 2. [`CompiledMachine::compile`] checks the *meaning* (unknown states, final states with
//!    outgoing transitions, CEL syntax, ambiguous transitions, the context schema), collects
//!    every problem into [`DefinitionError::Invalid`], and compiles guards, assignments and the
//!    schema once.
//!
//! Invariants this module keeps:
//! - Parsing never panics, whatever the bytes; every error names the field it is about.
//! - A [`CompiledMachine`] only exists for a definition without a single [`FieldError`]: every
//!   state a transition names exists, no transition leaves a final state, every CEL expression
//!   parsed, and no transition is shadowed by an earlier one on the same (state, event).
//! - [`CompiledMachine::canonical_json`] depends only on the definition's meaning, not on how
//!   it was written (YAML or JSON, states as a list or a map, `from` as a name or a list, key
//!   order), and loading it back gives the same canonical JSON.
//! - Transition logic ([`CompiledMachine::apply`]) is deterministic and does no I/O.

pub mod action;
mod compile;
pub mod graph;
mod machine;

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

pub use action::{
    EffectSpec, HttpSpec, InvokeSpec, Join, MachineTimeout, OutcomeSpec, Outcomes, PublishSpec, SendSpec, WaitSpec,
};
pub use machine::{
    CompiledMachine, ContextError, DONE_EVENT, ERROR_EVENT, Effect, FanOutSettings, GuardFailure, Input, InstanceInfo,
    InvokeKind, MACHINE_TIMEOUT, MAX_ALWAYS_STEPS, Started, TransitionError, TransitionOutcome,
};

pub use crate::expr::MAX_EXPRESSION_LEN;

/// The text format a definition is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefinitionFormat {
    /// JSON (`application/json`).
    Json,
    /// YAML (`application/yaml`); JSON is also valid YAML.
    Yaml,
}

impl DefinitionFormat {
    /// Returns the name used in error messages: `"JSON"` or `"YAML"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DefinitionFormat::Json => "JSON",
            DefinitionFormat::Yaml => "YAML",
        }
    }
}

impl fmt::Display for DefinitionFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A machine definition as written (the source form); see DESIGN.md §3.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct MachineDefinition {
    /// Optional machine name; when present it must be a valid address segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The state new instances start in (required; `None` only so that a missing value is
    /// reported together with every other problem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<String>,
    /// The states, as a list of names (rstmdb form) or a map from name to [`StateSpec`].
    #[serde(default)]
    pub states: States,
    /// Optional top-level list of final states (an alternative to `final: true` per state).
    #[serde(rename = "final", default, skip_serializing_if = "Vec::is_empty")]
    pub final_states: Vec<String>,
    /// The transitions, tried in this order for a given (state, event).
    #[serde(default)]
    pub transitions: Vec<TransitionSpec>,
    /// Optional JSON Schema every instance context must satisfy (a JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_schema: Option<serde_json::Value>,
    /// Optional machine-wide timeout, armed when an instance is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<MachineTimeout>,
    /// The flow this machine was compiled from (its canonical form), when it was: set by the
    /// flow compiler only, and kept so the flow reads back as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<serde_json::Value>,
}

/// The `states` field: a list of names or a map from name to [`StateSpec`].
#[derive(Debug, Clone, PartialEq)]
pub enum States {
    /// The rstmdb form: `["created", "paid"]`.
    List(Vec<String>),
    /// The map form, in document order (duplicates are kept so they can be reported).
    Map(Vec<(String, StateSpec)>),
}

impl Default for States {
    fn default() -> Self {
        States::List(Vec::new())
    }
}

impl States {
    /// Returns the number of declared states (duplicates included).
    pub fn len(&self) -> usize {
        match self {
            States::List(names) => names.len(),
            States::Map(entries) => entries.len(),
        }
    }

    /// Returns whether no state is declared.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The specification of one state in the map form of `states`: whether it is final, and what
/// it does (see [`action`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct StateSpec {
    /// Whether the state is final (no event is accepted in it).
    #[serde(rename = "final", default, skip_serializing_if = "std::ops::Not::not")]
    pub is_final: bool,
    /// A final state that means the instance failed (its status is `failed`, and a parent
    /// waiting on it sees an `error`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failure: bool,
    /// What the state invokes on entry (an action state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoke: Option<InvokeSpec>,
    /// Where the invoke's result leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_done: Option<Outcomes>,
    /// Where the invoke's error (after its retries) leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<Outcomes>,
    /// Timers armed on entry and cancelled on exit: duration (`15m`) to state.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub after: BTreeMap<String, String>,
    /// Timers at a computed time: CEL (a timestamp, or a duration from now) to state.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub after_expr: BTreeMap<String, String>,
    /// Wait for an outside event, with an optional timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitSpec>,
    /// Fire-and-forget effects run on entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_entry: Vec<EffectSpec>,
    /// Fire-and-forget effects run on exit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_exit: Vec<EffectSpec>,
    /// Eventless transitions, tried in order as soon as the state is entered: the first whose
    /// `when` passes is taken in the same step; when none passes the instance stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always: Option<Outcomes>,
}

/// One transition: on `event` in one of the `from` states, go to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct TransitionSpec {
    /// The state or states the transition leaves.
    pub from: FromStates,
    /// The event name.
    pub event: String,
    /// The state the transition enters.
    pub to: String,
    /// Optional CEL guard; the transition is taken only when it evaluates to `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<String>,
    /// Optional CEL assignments `ctx key -> expression`; without it the payload is merged into ctx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<BTreeMap<String, String>>,
}

/// The `from` field of a transition: one state name or a list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromStates {
    /// `from: pending`.
    One(String),
    /// `from: [pending, paid]`.
    Many(Vec<String>),
}

impl FromStates {
    /// Returns the state names as a slice.
    pub fn as_slice(&self) -> &[String] {
        match self {
            FromStates::One(name) => std::slice::from_ref(name),
            FromStates::Many(names) => names,
        }
    }
}

/// One problem found while validating a definition, with the path of the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path of the offending field, like `transitions[3].to` (empty for the whole definition).
    pub path: String,
    /// What is wrong, in words a person can act on.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

impl std::error::Error for FieldError {}

/// Why a definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// The text is not valid JSON/YAML, or its shape is wrong (unknown field, wrong type).
    #[error("{}", fmt_syntax(format, message, *line, *column, path.as_deref()))]
    Syntax {
        /// `"JSON"` or `"YAML"`.
        format: &'static str,
        /// The parser's message, without position or path.
        message: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// Path of the offending field, like `transitions[0].frm`, when below the top level.
        path: Option<String>,
    },
    /// The definition parsed but is not a valid machine; every problem found is listed.
    #[error("{}", fmt_invalid(.0))]
    Invalid(Vec<FieldError>),
}

impl DefinitionError {
    /// Returns the field errors of an [`DefinitionError::Invalid`] (empty for syntax errors).
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            DefinitionError::Invalid(errors) => errors,
            DefinitionError::Syntax { .. } => &[],
        }
    }
}

fn fmt_syntax(format: &str, message: &str, line: Option<usize>, column: Option<usize>, path: Option<&str>) -> String {
    // libyaml's own messages already say where ("... at line 3 column 1, while parsing ...").
    let at = match (line, column) {
        _ if message.contains(" at line ") => String::new(),
        (Some(l), Some(c)) => format!(" ({format} line {l}, column {c})"),
        (Some(l), None) => format!(" ({format} line {l})"),
        _ => String::new(),
    };
    match path {
        Some(path) => format!("{path}: {message}{at}"),
        None => format!("invalid {format}: {message}{at}"),
    }
}

fn fmt_invalid(errors: &[FieldError]) -> String {
    match errors {
        [] => "invalid definition".to_owned(),
        [only] => only.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
    }
}

/// Parses a definition's source form from YAML or JSON bytes (shape only; see the module docs).
///
/// Text nested deeper than [`crate::json::MAX_DEPTH`] is refused before a parser sees it, so
/// that no input makes a parser recurse (or spin) on it.
pub fn parse_definition(body: &[u8], format: DefinitionFormat) -> Result<MachineDefinition, DefinitionError> {
    parse_source(body, format)
}

/// Parses any definition's source form (a machine's, a flow's) from YAML or JSON bytes, with
/// the same depth bound and the same errors as [`parse_definition`].
pub(crate) fn parse_source<D: de::DeserializeOwned>(
    body: &[u8],
    format: DefinitionFormat,
) -> Result<D, DefinitionError> {
    let too_deep = |line: Option<usize>| DefinitionError::Syntax {
        format: format.as_str(),
        message: format!(
            "the definition nests deeper than the limit of {} levels of lists and maps",
            crate::json::MAX_DEPTH
        ),
        line,
        column: None,
        path: None,
    };
    match format {
        DefinitionFormat::Json => crate::json::scan_depth(body).map_err(|_| too_deep(None))?,
        DefinitionFormat::Yaml => {
            if let Some(line) = yaml_too_deep(body, crate::json::MAX_DEPTH) {
                return Err(too_deep(Some(line)));
            }
        }
    }
    match format {
        DefinitionFormat::Json => {
            let mut de = serde_json::Deserializer::from_slice(body);
            let def: D = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = path_of(e.path());
                json_error(e.inner(), path)
            })?;
            de.end().map_err(|e| json_error(&e, None))?;
            Ok(def)
        }
        DefinitionFormat::Yaml => {
            let de = serde_norway::Deserializer::from_slice(body);
            serde_path_to_error::deserialize(de).map_err(|e| {
                // A syntax error is one that also stops a parse that accepts any shape.
                match serde_norway::from_slice::<de::IgnoredAny>(body) {
                    Err(syntax) => yaml_error(&syntax, None),
                    Ok(_) => yaml_error(e.inner(), path_of(e.path())),
                }
            })
        }
    }
}

/// The 1-based line where YAML text first nests deeper than `limit`, counting without parsing:
/// block nesting by indentation and `- ` entries, flow nesting by brackets outside quotes and
/// comments. It errs towards counting too much, never too little: a quote only hides brackets
/// up to the end of its line, and brackets in block scalars count (text no definition needs).
fn yaml_too_deep(text: &[u8], limit: usize) -> Option<usize> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    for (number, line) in text.split(|&b| b == b'\n').enumerate() {
        let mut i = 0;
        if flow == 0 {
            let indent = line.iter().take_while(|&&b| b == b' ').count();
            let rest = &line[indent..];
            let blank = rest.iter().all(|b| b.is_ascii_whitespace()) || rest.first() == Some(&b'#');
            if !blank {
                while indents.last().is_some_and(|&top| top > indent) {
                    indents.pop();
                }
                if indents.last() != Some(&indent) {
                    indents.push(indent);
                }
                // `- - - x` nests a level per dash on one line.
                let mut dashes = 0;
                i = indent;
                while line.get(i) == Some(&b'-') && matches!(line.get(i + 1), None | Some(b' ' | b'\r')) {
                    dashes += 1;
                    i += 1;
                    while line.get(i) == Some(&b' ') {
                        i += 1;
                    }
                }
                if indents.len() + dashes > limit {
                    return Some(number + 1);
                }
            }
        }
        let block_depth = indents.len();
        let mut quote: Option<u8> = None;
        let mut previous = b' ';
        while let Some(&b) = line.get(i) {
            i += 1;
            match quote {
                Some(b'"') if b == b'\\' => i += 1,
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None => match b {
                    b'#' if previous.is_ascii_whitespace() => break,
                    // A quote opens a quoted scalar only where a scalar can start.
                    b'\'' | b'"' if matches!(previous, b' ' | b'\t' | b'[' | b'{' | b',' | b':') => quote = Some(b),
                    b'[' | b'{' => {
                        flow += 1;
                        if block_depth + flow > limit {
                            return Some(number + 1);
                        }
                    }
                    b']' | b'}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            previous = b;
        }
    }
    None
}

/// Loads a definition's source form from an already-parsed JSON value.
pub fn definition_from_json(value: &serde_json::Value) -> Result<MachineDefinition, DefinitionError> {
    serde_path_to_error::deserialize(value).map_err(|e| DefinitionError::Syntax {
        format: "JSON",
        message: clean_message(&e.inner().to_string(), None),
        line: None,
        column: None,
        path: path_of(e.path()),
    })
}

fn path_of(path: &serde_path_to_error::Path) -> Option<String> {
    let text = path.to_string();
    (text != "." && !text.is_empty()).then_some(text)
}

fn json_error(e: &serde_json::Error, path: Option<String>) -> DefinitionError {
    let line = (e.line() > 0).then_some(e.line());
    let column = (e.line() > 0 && e.column() > 0).then_some(e.column());
    let message = clean_message(&e.to_string(), Some((e.line(), e.column())));
    // Only errors about the data's shape have a meaningful path.
    let path = match e.classify() {
        serde_json::error::Category::Data => path,
        _ => None,
    };
    DefinitionError::Syntax { format: "JSON", message, line, column, path }
}

fn yaml_error(e: &serde_norway::Error, path: Option<String>) -> DefinitionError {
    let position = e.location().map(|l| (l.line(), l.column()));
    let mut message = clean_message(&e.to_string(), position);
    // serde_norway prefixes its own path ("transitions[1]: ..."); the path is reported apart.
    if let Some((prefix, rest)) = message.split_once(": ") {
        let is_path_prefix = path.as_deref().is_some_and(|p| {
            p.strip_prefix(prefix).is_some_and(|tail| tail.is_empty() || tail.starts_with(['.', '[']))
        });
        if is_path_prefix {
            message = rest.to_owned();
        }
    }
    DefinitionError::Syntax {
        format: "YAML",
        message,
        line: position.map(|p| p.0),
        column: position.map(|p| p.1),
        path,
    }
}

/// Removes the parser's " at line L column C" suffix and turns serde's backticks into quotes.
fn clean_message(message: &str, position: Option<(usize, usize)>) -> String {
    let mut text = message;
    if let Some((line, column)) = position {
        let suffix = format!(" at line {line} column {column}");
        text = text.strip_suffix(suffix.as_str()).unwrap_or(text);
    }
    text.replace('`', "\"")
}

// --- serde for the hand-written source types -------------------------------------------------

/// Implements serde for a struct whose derived impls are generated with `remote = "Self"`,
/// accepting only maps (serde's derive would also take a positional list of field values).
macro_rules! map_only_serde {
    ($ty:ident, $expecting:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $ty::serialize(self, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct MapOnly;

                impl<'de> Visitor<'de> for MapOnly {
                    type Value = $ty;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$ty, A::Error> {
                        $ty::deserialize(de::value::MapAccessDeserializer::new(map))
                    }
                }

                deserializer.deserialize_map(MapOnly)
            }
        }
    };
}

map_only_serde!(MachineDefinition, "a machine definition (a map with `initial`, `states` and `transitions`)");
map_only_serde!(TransitionSpec, "a transition (a map with `from`, `event`, `to` and optional `guard` and `assign`)");
map_only_serde!(StateSpec, "a state spec (a map, like `{ final: true }` or `{}`)");

impl Serialize for States {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            States::List(names) => {
                let mut seq = serializer.serialize_seq(Some(names.len()))?;
                for name in names {
                    seq.serialize_element(name)?;
                }
                seq.end()
            }
            States::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (name, spec) in entries {
                    map.serialize_entry(name, spec)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for States {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatesVisitor;

        impl<'de> Visitor<'de> for StatesVisitor {
            type Value = States;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of state names or a map from state name to state spec")
            }

            fn visit_unit<E: de::Error>(self) -> Result<States, E> {
                Ok(States::default())
            }

            fn visit_none<E: de::Error>(self) -> Result<States, E> {
                Ok(States::default())
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<States, A::Error> {
                let mut names = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(name) = seq.next_element::<StateName>()? {
                    names.push(name.0);
                }
                Ok(States::List(names))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<States, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
                while let Some(name) = map.next_key::<StateName>()? {
                    let spec = map.next_value::<Option<StateSpec>>()?.unwrap_or_default();
                    entries.push((name.0, spec));
                }
                Ok(States::Map(entries))
            }
        }

        deserializer.deserialize_any(StatesVisitor)
    }
}

/// A state name as written; YAML scalars such as `404` are accepted as names.
struct StateName(String);

impl<'de> Deserialize<'de> for StateName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;

        impl Visitor<'_> for NameVisitor {
            type Value = StateName;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a state name")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<StateName, E> {
                Ok(StateName(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<StateName, E> {
                Ok(StateName(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StateName, E> {
                Ok(StateName(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StateName, E> {
                Ok(StateName(v.to_string()))
            }
        }

        deserializer.deserialize_string(NameVisitor)
    }
}

impl Serialize for FromStates {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FromStates::One(name) => serializer.serialize_str(name),
            FromStates::Many(names) => {
                let mut seq = serializer.serialize_seq(Some(names.len()))?;
                for name in names {
                    seq.serialize_element(name)?;
                }
                seq.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for FromStates {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FromVisitor;

        impl<'de> Visitor<'de> for FromVisitor {
            type Value = FromStates;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a state name or a list of state names")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<FromStates, E> {
                Ok(FromStates::One(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<FromStates, E> {
                Ok(FromStates::One(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FromStates, E> {
                Ok(FromStates::One(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FromStates, E> {
                Ok(FromStates::One(v.to_string()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FromStates, A::Error> {
                let mut names = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(name) = seq.next_element::<StateName>()? {
                    names.push(name.0);
                }
                Ok(FromStates::Many(names))
            }
        }

        deserializer.deserialize_any(FromVisitor)
    }
}
