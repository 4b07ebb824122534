//! Validation and compilation of a [`MachineDefinition`] into a [`CompiledMachine`], and the
//! canonical JSON form.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value as Json};

use super::action::{EffectSpec, HttpSpec, InvokeSpec, Join, OutcomeSpec, PublishSpec, SendSpec};
use super::machine::{
    CompiledAction, CompiledEffect, CompiledInvoke, CompiledMachine, CompiledOutcome, CompiledPublish, CompiledSend,
    CompiledTimer, CompiledTransition, FanOut, StateEntry, StateWork, TimerDelay,
};
use super::{DefinitionError, FieldError, FromStates, MachineDefinition, StateSpec, States, definition_from_json};
use crate::address::check_segment;
use crate::env::check_secret_headers;
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
        if def.flow.as_ref().is_some_and(|flow| !flow.is_object()) {
            errors.push(FieldError::new("flow", "must be a map (the flow the machine was compiled from)"));
        }

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
        let mut reads_env = false;
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
                        reads_env |= program.reads("env");
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
                    if let Err(message) = check_assign_key(key) {
                        errors.push(FieldError::new(format!("{base}.assign"), message));
                        continue;
                    }
                    match Program::compile(source, &declarations) {
                        Ok(program) => {
                            reads_env |= program.reads("env");
                            compiled.push((key.clone(), program))
                        }
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

        let mut works: HashMap<&str, StateWork> = HashMap::new();
        if let States::Map(entries) = &def.states {
            let events_from = |state: &str| -> Vec<&str> {
                checked.iter().filter(|t| t.from.contains(&state)).map(|t| t.event).collect()
            };
            for (name, spec) in entries {
                let is_final = states.get(name.as_str()).copied().unwrap_or(false);
                let mut work = StateCompiler {
                    state: name,
                    states: &states,
                    declarations: &declarations,
                    errors: &mut errors,
                    reads_env: &mut reads_env,
                }
                .compile(spec, is_final, &events_from(name));
                if let Some(work) = work.take() {
                    works.insert(name.as_str(), work);
                }
            }
        }
        let failures: Vec<&str> = match &def.states {
            States::Map(entries) => entries.iter().filter(|(_, s)| s.failure).map(|(n, _)| n.as_str()).collect(),
            States::List(_) => Vec::new(),
        };
        let timeout = def.timeout.as_ref().map(|t| {
            if t.after == 0 || t.after > MAX_TIMER_MS {
                errors.push(FieldError::new("timeout.after", timer_range_message()));
            }
            if !states.contains_key(t.to.as_str()) {
                errors.push(FieldError::new("timeout.to", format!("unknown state {}", quoted(&t.to))));
            }
            (t.after, t.to.clone())
        });

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
        let has_work = !works.is_empty() || timeout.is_some();
        let uses_instance = mentions_instance(&def);
        let mut entries: HashMap<String, StateEntry> = states
            .iter()
            .map(|(name, is_final)| {
                let entry = StateEntry {
                    is_final: *is_final,
                    failure: failures.contains(name),
                    events: HashMap::new(),
                    work: works.remove(name).map(Box::new),
                };
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
            has_work,
            uses_instance,
            reads_env,
            timeout,
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
/// where it declares properties), `event` (the payload), `state`, `now`, `instance` and `env`.
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
        .variable("instance", ExprType::json_object())
        .variable("env", ExprType::json_object())
}

/// Checks an `assign` key: a ctx key, or a dotted path into nested maps (`nodes.a.output`; a
/// key with an empty part, like `a.` or `a..b`, is a plain key, as it always was).
fn check_assign_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("keys must not be empty".to_owned());
    }
    Ok(())
}

/// The longest a timer may wait: a year.
const MAX_TIMER_MS: u64 = 366 * 24 * 3600 * 1000;

fn timer_range_message() -> String {
    "a timer's duration must be more than 0 and at most 366 days".to_owned()
}

/// Whether some expression's source mentions `instance` (then expressions may read it, and
/// each transition builds it; a false positive only costs that).
fn mentions_instance(def: &MachineDefinition) -> bool {
    let json = serde_json::to_string(def).unwrap_or_default();
    json.contains("instance")
}

/// Compiles what one state does, reporting problems under `states.<name>`.
struct StateCompiler<'c, 'd> {
    state: &'d str,
    states: &'c BTreeMap<&'d str, bool>,
    declarations: &'c Declarations,
    errors: &'c mut Vec<FieldError>,
    reads_env: &'c mut bool,
}

impl StateCompiler<'_, '_> {
    fn path(&self, field: &str) -> String {
        format!("states.{}.{field}", self.state)
    }

    fn error(&mut self, field: &str, message: impl Into<String>) {
        let path = self.path(field);
        self.errors.push(FieldError::new(path, message));
    }

    fn check_state(&mut self, field: &str, target: &str) {
        if !self.states.contains_key(target) {
            self.error(field, format!("unknown state {}", quoted(target)));
        }
    }

    fn program(&mut self, field: &str, source: &str, declarations: &Declarations) -> Option<Program> {
        match Program::compile(source, declarations) {
            Ok(program) => {
                *self.reads_env |= program.reads("env");
                Some(program)
            }
            Err(message) => {
                self.error(field, message.to_string());
                None
            }
        }
    }

    fn compile(&mut self, spec: &StateSpec, is_final: bool, events: &[&str]) -> Option<StateWork> {
        if spec.failure && !is_final {
            self.error("failure", "only a final state can be a failure (add `final: true`)");
        }
        if is_final {
            let work_fields = [
                ("invoke", spec.invoke.is_some()),
                ("on_done", spec.on_done.is_some()),
                ("on_error", spec.on_error.is_some()),
                ("after", !spec.after.is_empty()),
                ("after_expr", !spec.after_expr.is_empty()),
                ("wait", spec.wait.is_some()),
                ("on_exit", !spec.on_exit.is_empty()),
                ("always", spec.always.is_some()),
            ];
            for (field, present) in work_fields {
                if present {
                    self.error(field, "a final state is never left, so it cannot have this (only `on_entry`)");
                }
            }
        }
        let action = match &spec.invoke {
            Some(invoke) => self.action(spec, invoke),
            None => {
                for (field, present) in [("on_done", spec.on_done.is_some()), ("on_error", spec.on_error.is_some())] {
                    if present {
                        self.error(field, "only an action state (one with `invoke`) has outcomes");
                    }
                }
                None
            }
        };
        let mut timers = Vec::new();
        let mut seen = BTreeMap::new();
        for (text, to) in &spec.after {
            let field = format!("after.{text}");
            self.check_state(&field, to);
            match crate::jobs::millis::parse(text) {
                Ok(ms) if ms == 0 || ms > MAX_TIMER_MS => self.error(&field, timer_range_message()),
                Ok(ms) => {
                    let name = format!("after:{}", crate::jobs::millis::format(ms));
                    if let Some(other) = seen.insert(ms, text) {
                        self.error(&field, format!("the same duration as after.{other}"));
                    }
                    timers.push(CompiledTimer { name, delay: TimerDelay::Fixed(ms), to: to.clone() });
                }
                Err(message) => self.error(&field, message),
            }
        }
        for (source, to) in &spec.after_expr {
            let field = format!("after_expr.{source}");
            self.check_state(&field, to);
            let declarations = self.declarations.clone();
            if let Some(program) = self.program(&field, source, &declarations) {
                timers.push(CompiledTimer {
                    name: format!("after_expr:{source}"),
                    delay: TimerDelay::Expr(program),
                    to: to.clone(),
                });
            }
        }
        let mut waits = false;
        if let Some(wait) = &spec.wait {
            waits = true;
            if wait.event.0.is_empty() {
                self.error("wait.event", "name at least one event");
            }
            for name in &wait.event.0 {
                if !events.contains(&name.as_str()) {
                    self.error(
                        "wait.event",
                        format!("no transition leaves {} on event {}; add one", quoted(self.state), quoted(name)),
                    );
                }
            }
            match (wait.timeout, &wait.on_timeout) {
                (Some(ms), Some(to)) => {
                    self.check_state("wait.on_timeout", to);
                    if ms == 0 || ms > MAX_TIMER_MS {
                        self.error("wait.timeout", timer_range_message());
                    }
                    timers.push(CompiledTimer {
                        name: "wait.timeout".to_owned(),
                        delay: TimerDelay::Fixed(ms),
                        to: to.clone(),
                    });
                }
                (Some(_), None) => self.error("wait.on_timeout", "missing; name the state the timeout leads to"),
                (None, Some(_)) => self.error("wait.timeout", "missing; `on_timeout` needs a `timeout`"),
                (None, None) => {}
            }
        }
        let on_entry = self.effects("on_entry", &spec.on_entry);
        let on_exit = self.effects("on_exit", &spec.on_exit);
        let always = match &spec.always {
            Some(outcomes) if !is_final => {
                // The state is left in the step that entered it: work it started would be
                // cancelled before it could run.
                let waiting_fields = [
                    ("invoke", spec.invoke.is_some()),
                    ("after", !spec.after.is_empty()),
                    ("after_expr", !spec.after_expr.is_empty()),
                    ("wait", spec.wait.is_some()),
                ];
                for (field, present) in waiting_fields {
                    if present {
                        self.error(
                            field,
                            "a state with `always` is left in the step that enters it, so it cannot have this",
                        );
                    }
                }
                let declarations = self.declarations.clone();
                self.outcomes("always", &outcomes.0, &declarations)
            }
            _ => Vec::new(),
        };
        let work = StateWork { action, timers, waits, on_entry, on_exit, always };
        let idle = work.action.is_none()
            && work.timers.is_empty()
            && !work.waits
            && work.on_entry.is_empty()
            && work.on_exit.is_empty()
            && work.always.is_empty();
        (!idle).then_some(work)
    }

    fn action(&mut self, spec: &StateSpec, invoke: &InvokeSpec) -> Option<CompiledAction> {
        let kinds = [
            invoke.function.is_some(),
            invoke.http.is_some(),
            invoke.publish.is_some(),
            invoke.send.is_some(),
            invoke.machine.is_some(),
        ];
        let count = kinds.iter().filter(|k| **k).count();
        if count != 1 {
            self.error("invoke", "give exactly one of `function`, `http`, `publish`, `send` or `machine`");
            return None;
        }
        if let Some(timeout) = invoke.timeout
            && (timeout == 0 || timeout > 24 * 3600 * 1000)
        {
            self.error("invoke.timeout", "must be more than 0 and at most 24 hours");
        }
        if let Some(retry) = &invoke.retry
            && let Err(problems) = retry.validate_at(&self.path("invoke.retry"))
        {
            self.errors.extend(problems);
        }
        if invoke.version.is_some() && invoke.function.is_none() {
            self.error("invoke.version", "only a function has versions");
        }
        if invoke.input.is_some() && invoke.function.is_none() && invoke.machine.is_none() {
            self.error(
                "invoke.input",
                "only `function` and `machine` take an input (http, publish and send have their own fields)",
            );
        }
        let declarations = self.declarations.clone();
        let input_declarations = match &invoke.for_each {
            Some(_) => declarations.clone().variable("item", ExprType::Dyn).variable("index", ExprType::Int),
            None => declarations.clone(),
        };
        let input = invoke.input.as_ref().and_then(|source| self.program("invoke.input", source, &input_declarations));
        for (field, present) in [
            ("for_each", invoke.for_each.is_some()),
            ("concurrency", invoke.concurrency.is_some()),
            ("join", invoke.join.is_some()),
            ("collect", !invoke.collect.is_empty()),
        ] {
            if present && invoke.machine.is_none() {
                self.error(&format!("invoke.{field}"), "only a machine invoke starts children for a list");
            } else if present && field != "for_each" && invoke.for_each.is_none() {
                self.error(&format!("invoke.{field}"), "only with `for_each` (a list of children)");
            }
        }
        if invoke.concurrency == Some(0) {
            self.error("invoke.concurrency", "must be at least 1");
        }
        if invoke.join == Some(Join::First(0)) {
            self.error("invoke.join", "must be at least 1 (or `all`, `any`)");
        }
        let fan_out = invoke.for_each.as_ref().and_then(|source| {
            let for_each = self.program("invoke.for_each", source, &declarations)?;
            if !matches!(for_each.result_type(), ExprType::List(_) | ExprType::Dyn) {
                self.error(
                    "invoke.for_each",
                    format!("must evaluate to a list, but this one is a {}", for_each.result_type()),
                );
            }
            Some(FanOut {
                for_each,
                concurrency: invoke.concurrency,
                join: invoke.join.unwrap_or(Join::All),
                collect: invoke.collect.clone(),
            })
        });
        let compiled = if let Some(function) = &invoke.function {
            let version = match function_address(function) {
                Ok(Some(_)) if invoke.version.is_some() => {
                    self.error("invoke.function", "gives a version; do not also give `version`");
                    invoke.version
                }
                Ok(version) => version.or(invoke.version),
                Err(message) => {
                    self.error("invoke.function", message);
                    None
                }
            };
            if version == Some(0) {
                self.error("invoke.version", "versions start at 1");
            }
            // Only `space:name:version` carries a version (`space:7` is the function named 7).
            let function = match function.split(':').count() {
                3 => function.rsplit_once(':').map_or(function.as_str(), |(f, _)| f),
                _ => function.as_str(),
            };
            CompiledInvoke::Function { function: function.to_owned(), version, input }
        } else if let Some(http) = &invoke.http {
            let method = http.method.clone().unwrap_or_else(|| "POST".to_owned());
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                self.error(
                    "invoke.http.method",
                    format!("{}: expected GET, POST, PUT, PATCH or DELETE", quoted(&method)),
                );
            }
            let url = self.program("invoke.http.url", &http.url, &declarations);
            let mut headers = Vec::new();
            for (name, source) in &http.headers {
                if let Some(program) = self.program(&format!("invoke.http.headers.{name}"), source, &declarations) {
                    headers.push((name.clone(), program));
                }
            }
            let body = http.body.as_ref().and_then(|b| self.program("invoke.http.body", b, &declarations));
            let secret_headers = self.secret_headers(http);
            CompiledInvoke::Http { method, url: url?, headers, body, secret_headers }
        } else if let Some(publish) = &invoke.publish {
            CompiledInvoke::Publish(self.publish("invoke.publish", publish)?)
        } else if let Some(send) = &invoke.send {
            CompiledInvoke::Send(self.send("invoke.send", send)?)
        } else {
            let machine = invoke.machine.clone().unwrap_or_default();
            if let Err(message) = machine_address(&machine) {
                self.error("invoke.machine", message);
            }
            // A child is an instance, not an attempt: nothing to time out or retry. A state bounds
            // its wait with `after`.
            if invoke.timeout.is_some() {
                self.error(
                    "invoke.timeout",
                    "a child machine has no attempts to time out; bound the wait with `after`",
                );
            }
            if invoke.retry.is_some() {
                self.error("invoke.retry", "a child machine is not retried; handle its error with `on_error`");
            }
            CompiledInvoke::Machine { machine, input, fan_out }
        };
        let done = self.declarations.clone().variable("result", ExprType::Dyn);
        let failed = self.declarations.clone().variable("error", ExprType::json_object());
        let on_done = match &spec.on_done {
            Some(outcomes) => self.outcomes("on_done", &outcomes.0, &done),
            None => {
                self.error("on_done", "missing; an action state needs `on_done` to say where its result leads");
                Vec::new()
            }
        };
        let on_error = match &spec.on_error {
            Some(outcomes) => self.outcomes("on_error", &outcomes.0, &failed),
            None => Vec::new(),
        };
        Some(CompiledAction {
            invoke: compiled,
            timeout_ms: invoke.timeout,
            retry: invoke.retry.clone(),
            on_done,
            on_error,
        })
    }

    fn outcomes(&mut self, field: &str, outcomes: &[OutcomeSpec], declarations: &Declarations) -> Vec<CompiledOutcome> {
        if outcomes.is_empty() {
            self.error(field, "name at least one outcome");
        }
        let mut compiled = Vec::with_capacity(outcomes.len());
        let single = outcomes.len() == 1;
        for (i, outcome) in outcomes.iter().enumerate() {
            let base = if single { field.to_owned() } else { format!("{field}[{i}]") };
            self.check_state(&format!("{base}.to"), &outcome.to);
            if outcome.when.is_none() && i + 1 < outcomes.len() {
                self.error(&base, "has no `when`, so the outcomes after it can never be taken");
            }
            let when = outcome.when.as_ref().and_then(|source| {
                let program = self.program(&format!("{base}.when"), source, declarations)?;
                if !matches!(program.result_type(), ExprType::Bool | ExprType::Dyn) {
                    self.error(
                        &format!("{base}.when"),
                        format!("must evaluate to a bool, but this one is a {}", program.result_type()),
                    );
                }
                Some(program)
            });
            let assign = outcome.assign.as_ref().map(|assign| {
                let mut programs = Vec::with_capacity(assign.len());
                for (key, source) in assign {
                    if let Err(message) = check_assign_key(key) {
                        self.error(&format!("{base}.assign"), message);
                        continue;
                    }
                    if let Some(program) = self.program(&format!("{base}.assign.{key}"), source, declarations) {
                        programs.push((key.clone(), program));
                    }
                }
                programs
            });
            compiled.push(CompiledOutcome { when, to: outcome.to.clone(), assign });
        }
        compiled
    }

    /// Checks an HTTP request's secret templates: valid header names, each template well
    /// formed, no header given both plainly and with a secret.
    fn secret_headers(&mut self, http: &HttpSpec) -> Option<Json> {
        if http.secret_headers.is_empty() {
            return None;
        }
        for (header, problem) in check_secret_headers(&http.secret_headers, http.headers.keys()) {
            self.error(&format!("invoke.http.secret_headers.{header}"), problem);
        }
        let templates = http.secret_headers.iter().map(|(name, t)| (name.clone(), Json::String(t.clone())));
        Some(Json::Object(templates.collect()))
    }

    fn publish(&mut self, field: &str, publish: &PublishSpec) -> Option<CompiledPublish> {
        if let Err(problem) = check_segment(&publish.topic) {
            self.error(
                &format!("{field}.topic"),
                format!("invalid topic {}: {}", quoted(&publish.topic), problem.segment_text()),
            );
        }
        let declarations = self.declarations.clone();
        let message = self.program(&format!("{field}.message"), &publish.message, &declarations);
        let key = publish.key.as_ref().and_then(|k| self.program(&format!("{field}.key"), k, &declarations));
        Some(CompiledPublish { topic: publish.topic.clone(), message: message?, key })
    }

    fn send(&mut self, field: &str, send: &SendSpec) -> Option<CompiledSend> {
        if send.event.trim().is_empty() {
            self.error(&format!("{field}.event"), "must not be empty");
        }
        let declarations = self.declarations.clone();
        let instance = self.program(&format!("{field}.instance"), &send.instance, &declarations);
        let payload = send.payload.as_ref().and_then(|p| self.program(&format!("{field}.payload"), p, &declarations));
        Some(CompiledSend { instance: instance?, event: send.event.clone(), payload })
    }

    fn effects(&mut self, field: &str, effects: &[EffectSpec]) -> Vec<CompiledEffect> {
        let mut compiled = Vec::with_capacity(effects.len());
        for (i, effect) in effects.iter().enumerate() {
            let base = format!("{field}[{i}]");
            match (&effect.publish, &effect.send) {
                (Some(publish), None) => {
                    if let Some(p) = self.publish(&format!("{base}.publish"), publish) {
                        compiled.push(CompiledEffect::Publish(p));
                    }
                }
                (None, Some(send)) => {
                    if let Some(s) = self.send(&format!("{base}.send"), send) {
                        compiled.push(CompiledEffect::Send(s));
                    }
                }
                _ => self.error(&base, "give exactly one of `publish` or `send`"),
            }
        }
        compiled
    }
}

/// Checks a function address (`name`, `space:name` or `space:name:version`); the version when
/// it names one.
fn function_address(text: &str) -> Result<Option<u64>, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let hint = "write `name`, `space:name` or `space:name:version`";
    let (space, name, version) = match parts.as_slice() {
        [name] => (None, *name, None),
        [space, name] => (Some(*space), *name, None),
        [space, name, version] => (Some(*space), *name, Some(*version)),
        _ => return Err(format!("{} is not a function address; {hint}", quoted(text))),
    };
    if let Some(space) = space
        && let Err(problem) = crate::address::SpaceName::new(space)
    {
        return Err(format!("{}: invalid space {}: {problem}; {hint}", quoted(text), quoted(space)));
    }
    if let Err(problem) = check_segment(name) {
        return Err(format!(
            "{}: invalid function name {}: {}; {hint}",
            quoted(text),
            quoted(name),
            problem.segment_text()
        ));
    }
    match version {
        None => Ok(None),
        Some(v) => match v.parse::<u64>() {
            Ok(v) if v > 0 => Ok(Some(v)),
            _ => Err(format!("{}: the version {} must be a number from 1; {hint}", quoted(text), quoted(v))),
        },
    }
}

/// Checks a machine address for a child (`name` or `space:name`).
fn machine_address(text: &str) -> Result<(), String> {
    let hint = "write `name` or `space:name`";
    let (space, name) = match text.split_once(':') {
        None => (None, text),
        Some((space, name)) => (Some(space), name),
    };
    if let Some(space) = space
        && let Err(problem) = crate::address::SpaceName::new(space)
    {
        return Err(format!("{}: invalid space {}: {problem}; {hint}", quoted(text), quoted(space)));
    }
    check_segment(name).map_err(|problem| {
        format!("{}: invalid machine name {}: {}; {hint}", quoted(text), quoted(name), problem.segment_text())
    })
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
    if let Some(timeout) = &def.timeout
        && let Ok(value) = serde_json::to_value(timeout)
    {
        root.insert("timeout".to_owned(), value);
    }
    if let Some(flow) = &def.flow {
        root.insert("flow".to_owned(), sorted(flow));
    }
    let specs: HashMap<&str, &StateSpec> = match &def.states {
        States::Map(entries) => entries.iter().map(|(name, spec)| (name.as_str(), spec)).collect(),
        States::List(_) => HashMap::new(),
    };
    let mut state_map = Map::new();
    for (name, is_final) in states {
        let mut spec = match specs.get(name).map(serde_json::to_value) {
            Some(Ok(Json::Object(map))) => map,
            _ => Map::new(),
        };
        // Timers by their duration, however it was written.
        if let Some(Json::Object(after)) = spec.get_mut("after") {
            let normalised: Map<String, Json> = std::mem::take(after)
                .into_iter()
                .map(|(k, v)| match crate::jobs::millis::parse(&k) {
                    Ok(ms) => (crate::jobs::millis::format(ms), v),
                    Err(_) => (k, v),
                })
                .collect();
            *after = normalised;
        }
        spec.remove("final");
        if *is_final {
            spec.insert("final".to_owned(), Json::Bool(true));
        }
        state_map.insert((*name).to_owned(), sorted(&Json::Object(spec)));
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
