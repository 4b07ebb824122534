//! Validation and compilation of a [`MachineDefinition`] into a [`CompiledMachine`], and the
//! canonical JSON form.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value as Json};

use super::machine::{CompiledMachine, CompiledTransition, StateEntry};
use super::{DefinitionError, FieldError, FromStates, MachineDefinition, States, definition_from_json};
use crate::address::check_segment;
use crate::expr::{Declarations, ExprType, Program};

/// Quotes a name for a message, shortening very long ones.
fn quoted(value: &str) -> String {
    const SHOWN: usize = 64;
    match value.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
        None => format!("{value:?}"),
    }
}

/// A transition that passed validation, kept until every check has run.
struct Checked<'d> {
    from: Vec<&'d str>,
    event: &'d str,
    to: &'d str,
    guard: Option<Program>,
    assign: Option<Vec<(String, Program)>>,
}

impl CompiledMachine {
    /// Validates `def` (collecting every problem) and compiles its expressions and schema.
    pub fn compile(def: MachineDefinition) -> Result<CompiledMachine, DefinitionError> {
        // First, and alone: every later step (typing ctx, compiling the schema, the canonical
        // form, storing and reading it back) walks the schema recursively.
        if let Some(schema) = &def.context_schema
            && crate::json::depth(schema) >= crate::json::MAX_DEPTH
        {
            return Err(DefinitionError::Invalid(vec![FieldError::new(
                "context_schema",
                format!(
                    "nests deeper than {} levels of arrays and objects (the definition holding it may nest {} in all)",
                    crate::json::MAX_DEPTH - 1,
                    crate::json::MAX_DEPTH
                ),
            )]));
        }
        let mut errors = Vec::new();

        if let Some(name) = &def.name
            && let Err(problem) = check_segment(name)
        {
            errors.push(FieldError::new(
                "name",
                format!("invalid machine name {}: {}", quoted(name), problem.segment_text()),
            ));
        }

        // States: name -> is_final. Invalid names are reported once and still count as
        // declared, so references to them do not add "unknown state" noise.
        let declared: Vec<(String, &str, bool)> = match &def.states {
            States::List(names) => {
                names.iter().enumerate().map(|(i, name)| (format!("states[{i}]"), name.as_str(), false)).collect()
            }
            States::Map(entries) => {
                entries.iter().map(|(name, spec)| (format!("states.{name}"), name.as_str(), spec.is_final)).collect()
            }
        };
        if declared.is_empty() {
            errors.push(FieldError::new("states", "must declare at least one state"));
        }
        let mut states: BTreeMap<&str, bool> = BTreeMap::new();
        for (path, name, is_final) in declared {
            if let Err(problem) = check_segment(name) {
                errors.push(FieldError::new(
                    &path,
                    format!("invalid state name {}: {}", quoted(name), problem.segment_text()),
                ));
            }
            if states.insert(name, is_final).is_some() {
                errors.push(FieldError::new(path, format!("duplicate state {}", quoted(name))));
            }
        }
        for (i, name) in def.final_states.iter().enumerate() {
            match states.get_mut(name.as_str()) {
                Some(is_final) => *is_final = true,
                None => errors.push(FieldError::new(format!("final[{i}]"), format!("unknown state {}", quoted(name)))),
            }
        }

        match &def.initial {
            None => errors.push(FieldError::new("initial", "missing; name the state new instances start in")),
            Some(initial) if !states.contains_key(initial.as_str()) => {
                errors.push(FieldError::new("initial", format!("unknown state {}", quoted(initial))))
            }
            Some(_) => {}
        }

        let declarations = machine_declarations(def.context_schema.as_ref());
        let mut checked = Vec::with_capacity(def.transitions.len());
        for (i, t) in def.transitions.iter().enumerate() {
            let base = format!("transitions[{i}]");
            let names = t.from.as_slice();
            if names.is_empty() {
                errors.push(FieldError::new(format!("{base}.from"), "must name at least one state"));
            }
            let mut from = Vec::with_capacity(names.len());
            for (j, name) in names.iter().enumerate() {
                let path = match &t.from {
                    FromStates::One(_) => format!("{base}.from"),
                    FromStates::Many(_) => format!("{base}.from[{j}]"),
                };
                match states.get(name.as_str()) {
                    None => errors.push(FieldError::new(path, format!("unknown state {}", quoted(name)))),
                    Some(true) => errors.push(FieldError::new(
                        path,
                        format!("state {} is final; no transition may leave a final state", quoted(name)),
                    )),
                    Some(false) if from.contains(&name.as_str()) => {
                        errors.push(FieldError::new(path, format!("state {} is listed twice", quoted(name))))
                    }
                    Some(false) => from.push(name.as_str()),
                }
            }
            if t.event.trim().is_empty() {
                errors.push(FieldError::new(format!("{base}.event"), "must not be empty"));
            }
            if !states.contains_key(t.to.as_str()) {
                errors.push(FieldError::new(format!("{base}.to"), format!("unknown state {}", quoted(&t.to))));
            }
            let guard = match &t.guard {
                None => None,
                Some(source) => match Program::compile(source, &declarations) {
                    Ok(program) => {
                        if !matches!(program.result_type(), ExprType::Bool | ExprType::Dyn) {
                            errors.push(FieldError::new(
                                format!("{base}.guard"),
                                format!("a guard must evaluate to a bool, but this one is a {}", program.result_type()),
                            ));
                        }
                        Some(program)
                    }
                    Err(message) => {
                        errors.push(FieldError::new(format!("{base}.guard"), message.to_string()));
                        None
                    }
                },
            };
            let assign = t.assign.as_ref().map(|assign| {
                let mut compiled = Vec::with_capacity(assign.len());
                for (key, source) in assign {
                    if key.is_empty() {
                        errors.push(FieldError::new(format!("{base}.assign"), "keys must not be empty"));
                        continue;
                    }
                    match Program::compile(source, &declarations) {
                        Ok(program) => compiled.push((key.clone(), program)),
                        Err(message) => {
                            errors.push(FieldError::new(format!("{base}.assign.{key}"), message.to_string()));
                        }
                    }
                }
                compiled
            });
            checked.push(Checked { from, event: t.event.as_str(), to: t.to.as_str(), guard, assign });
        }

        check_ambiguity(&def, &checked, &mut errors);

        let schema = match &def.context_schema {
            None => None,
            Some(schema) if !schema.is_object() => {
                errors.push(FieldError::new("context_schema", "must be a JSON object (a JSON Schema)"));
                None
            }
            Some(schema) => match jsonschema::validator_for(schema) {
                Ok(validator) => Some(validator),
                Err(e) => {
                    errors.push(FieldError::new("context_schema", format!("invalid JSON Schema: {e}")));
                    None
                }
            },
        };

        if !errors.is_empty() {
            return Err(DefinitionError::Invalid(errors));
        }

        let canonical = canonical_json(&def, &states);
        let mut entries: HashMap<String, StateEntry> = states
            .iter()
            .map(|(name, is_final)| {
                let entry = StateEntry { is_final: *is_final, events: HashMap::new() };
                ((*name).to_owned(), entry)
            })
            .collect();
        let mut candidates: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        for (i, t) in checked.iter().enumerate() {
            for state in &t.from {
                candidates.entry((state, t.event)).or_default().push(i);
            }
        }
        for ((state, event), indices) in candidates {
            if let Some(entry) = entries.get_mut(state) {
                entry.events.insert(event.to_owned(), indices.into_boxed_slice());
            }
        }
        let transitions = checked
            .into_iter()
            .map(|t| CompiledTransition { to: t.to.to_owned(), guard: t.guard, assign: t.assign })
            .collect();

        Ok(CompiledMachine {
            name: def.name,
            initial: def.initial.unwrap_or_default(),
            state_names: states.keys().map(|s| (*s).to_owned()).collect(),
            states: entries,
            transitions,
            schema,
            canonical,
        })
    }

    /// Loads a machine from the value [`CompiledMachine::canonical_json`] produced (any valid
    /// definition in JSON form is accepted).
    pub fn from_canonical_json(v: &Json) -> Result<CompiledMachine, DefinitionError> {
        Self::compile(definition_from_json(v)?)
    }
}

/// The variables a machine's guards and assignments see: `ctx` (typed by `context_schema`
/// where it declares properties), `event` (the payload), `state` and `now`.
pub(crate) fn machine_declarations(context_schema: Option<&Json>) -> Declarations {
    let ctx = match context_schema {
        Some(schema) => match schema_type(schema, 0) {
            ty @ ExprType::Object { .. } => ty,
            _ => ExprType::json_object(),
        },
        None => ExprType::json_object(),
    };
    Declarations::new()
        .variable("ctx", ctx)
        .variable("event", ExprType::json_object())
        .variable("state", ExprType::String)
        .variable("now", ExprType::Timestamp)
}

/// The CEL type of values a JSON Schema accepts; `dyn` where it cannot tell.
fn schema_type(schema: &Json, depth: usize) -> ExprType {
    // Schemas nest as deep as JSON does; types past this depth are left open.
    const DEEPEST: usize = 32;
    let Some(object) = schema.as_object() else {
        return ExprType::Dyn;
    };
    if depth > DEEPEST || ["$ref", "allOf", "anyOf", "oneOf", "not", "if"].iter().any(|k| object.contains_key(*k)) {
        return ExprType::Dyn;
    }
    match object.get("type").and_then(Json::as_str) {
        Some("string") => ExprType::String,
        Some("integer") => ExprType::Int,
        Some("boolean") => ExprType::Bool,
        Some("null") => ExprType::Null,
        Some("array") => {
            let items = object.get("items").map_or(ExprType::Dyn, |items| schema_type(items, depth + 1));
            ExprType::List(Box::new(items))
        }
        Some("object") => {
            let fields = object
                .get("properties")
                .and_then(Json::as_object)
                .map(|properties| {
                    properties.iter().map(|(name, property)| (name.clone(), schema_type(property, depth + 1))).collect()
                })
                .unwrap_or_default();
            let open = !matches!(object.get("additionalProperties"), Some(Json::Bool(false)))
                || object.contains_key("patternProperties");
            ExprType::Object { fields, open }
        }
        // "number" holds ints and doubles alike; a list of types is any of them.
        _ => ExprType::Dyn,
    }
}

/// Reports transitions that share a (from, event) pair with an earlier one and can never be
/// told apart from it: the earlier one has no guard, or both have the same guard.
fn check_ambiguity(def: &MachineDefinition, checked: &[Checked<'_>], errors: &mut Vec<FieldError>) {
    let mut seen: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (j, later) in checked.iter().enumerate() {
        let mut reported = false;
        for state in &later.from {
            let earlier = seen.entry((state, later.event)).or_default();
            if !reported {
                for &i in earlier.iter() {
                    let Some(reason) = conflict(def, i, j) else {
                        continue;
                    };
                    errors.push(FieldError::new(
                        format!("transitions[{j}]"),
                        format!(
                            "same from {} and event {} as transitions[{i}] and cannot be told \
                             apart ({reason})",
                            quoted(state),
                            quoted(later.event)
                        ),
                    ));
                    reported = true;
                    break;
                }
            }
            earlier.push(j);
        }
    }
}

/// Explains why transition `j` cannot be told apart from the earlier transition `i`, if so.
fn conflict(def: &MachineDefinition, i: usize, j: usize) -> Option<String> {
    let guard = |k: usize| def.transitions.get(k).and_then(|t| t.guard.as_deref()).map(str::trim);
    match (guard(i), guard(j)) {
        (None, None) => Some("neither has a guard".to_owned()),
        (None, Some(_)) => Some(format!("transitions[{i}] has no guard, so this one can never fire")),
        (Some(a), Some(b)) if a == b => Some(format!("both have the guard {}", quoted(a))),
        _ => None,
    }
}

/// Builds the canonical JSON form: keys sorted, states as a map, `from` always a sorted list.
fn canonical_json(def: &MachineDefinition, states: &BTreeMap<&str, bool>) -> Json {
    let mut root = Map::new();
    if let Some(schema) = &def.context_schema {
        root.insert("context_schema".to_owned(), sorted(schema));
    }
    if let Some(initial) = &def.initial {
        root.insert("initial".to_owned(), Json::String(initial.clone()));
    }
    if let Some(name) = &def.name {
        root.insert("name".to_owned(), Json::String(name.clone()));
    }
    let mut state_map = Map::new();
    for (name, is_final) in states {
        let mut spec = Map::new();
        if *is_final {
            spec.insert("final".to_owned(), Json::Bool(true));
        }
        state_map.insert((*name).to_owned(), Json::Object(spec));
    }
    root.insert("states".to_owned(), Json::Object(state_map));
    let transitions = def
        .transitions
        .iter()
        .map(|t| {
            let mut out = Map::new();
            if let Some(assign) = &t.assign {
                // A BTreeMap iterates in key order.
                let assign: Map<String, Json> =
                    assign.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect();
                out.insert("assign".to_owned(), Json::Object(assign));
            }
            out.insert("event".to_owned(), Json::String(t.event.clone()));
            let mut from: Vec<&String> = t.from.as_slice().iter().collect();
            from.sort();
            out.insert("from".to_owned(), Json::Array(from.into_iter().map(|s| Json::String(s.clone())).collect()));
            if let Some(guard) = &t.guard {
                out.insert("guard".to_owned(), Json::String(guard.clone()));
            }
            out.insert("to".to_owned(), Json::String(t.to.clone()));
            Json::Object(out)
        })
        .collect();
    root.insert("transitions".to_owned(), Json::Array(transitions));
    Json::Object(root)
}

/// Returns a copy of `value` with every object's keys in sorted order.
fn sorted(value: &Json) -> Json {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Json::Object(keys.into_iter().filter_map(|k| map.get(k).map(|v| (k.clone(), sorted(v)))).collect())
        }
        Json::Array(items) => Json::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}
