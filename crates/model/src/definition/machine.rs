//! The compiled machine and the transition logic (`apply`), which runs on the store's single
//! writer thread for every event: lookups are by precomputed maps, the context is converted to
//! CEL only when a guard or assignment reads it, and nothing is logged or awaited.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::expr::convert::{Scope, cel_to_json, render};
use crate::expr::{DEFAULT_COST_LIMIT, EvalError, Program};

/// Most schema violations kept in a [`ContextError`].
const MAX_CONTEXT_ERRORS: usize = 20;
/// Longest schema violation message kept, in characters.
const MAX_CONTEXT_ERROR_LEN: usize = 300;
/// Violations shown by [`ContextError`]'s `Display`.
const SHOWN_CONTEXT_ERRORS: usize = 3;

/// A validated, compiled machine definition; immutable and shared across threads.
pub struct CompiledMachine {
    pub(super) name: Option<String>,
    pub(super) initial: String,
    /// Every state, by name.
    pub(super) states: HashMap<String, StateEntry>,
    /// State names, sorted.
    pub(super) state_names: Vec<String>,
    pub(super) transitions: Vec<CompiledTransition>,
    pub(super) schema: Option<jsonschema::Validator>,
    pub(super) canonical: Json,
}

/// One state: whether it is final and, per event, the transitions to try in order.
#[derive(Debug, Default)]
pub(super) struct StateEntry {
    pub(super) is_final: bool,
    pub(super) events: HashMap<String, Box<[usize]>>,
}

/// The parts of a transition `apply` needs once the candidates are known.
#[derive(Debug)]
pub(super) struct CompiledTransition {
    pub(super) to: String,
    pub(super) guard: Option<Program>,
    pub(super) assign: Option<Vec<(String, Program)>>,
}

impl fmt::Debug for CompiledMachine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledMachine")
            .field("name", &self.name)
            .field("canonical", &self.canonical)
            .finish_non_exhaustive()
    }
}

/// The result of applying an event: the next state and the new context.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionOutcome {
    /// The state the instance moves to.
    pub to: String,
    /// The context after the transition (already checked against `context_schema`).
    pub ctx: Map<String, Json>,
}

/// Why an event could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransitionError {
    /// No transition leaves `state` on `event` (also returned for a state the machine lacks).
    #[error("no transition from state {state:?} on event {event:?}")]
    NoTransition {
        /// The instance's current state.
        state: String,
        /// The event applied.
        event: String,
    },
    /// The instance is in a final state and accepts no event.
    #[error("state {state:?} is final; event {event:?} cannot be applied")]
    FinalState {
        /// The instance's current (final) state.
        state: String,
        /// The event applied.
        event: String,
    },
    /// Every candidate transition had a guard and none passed.
    #[error("{}", fmt_rejected(state, event, guards))]
    GuardRejected {
        /// The instance's current state.
        state: String,
        /// The event applied.
        event: String,
        /// Every guard tried, in order, with why it did not pass.
        guards: Vec<GuardFailure>,
    },
    /// An `assign` expression failed or produced a value JSON cannot hold.
    #[error("cannot assign ctx.{key}: {message}")]
    AssignFailed {
        /// The context key being assigned.
        key: String,
        /// Why it failed.
        message: String,
    },
    /// The context after the transition does not satisfy `context_schema`.
    #[error(transparent)]
    ContextInvalid(ContextError),
    /// The context after the transition is outside the JSON policy ([`crate::json`]): nested
    /// too deep, or (checked by the store, which knows the node's limit) too large.
    #[error("the context after this transition is refused: {0}")]
    ContextLimit(crate::json::JsonLimitError),
    /// A guard or assignment exceeded its cost budget.
    #[error("{expression} exceeded its cost budget of {limit} units; simplify it or work on less data")]
    CostExceeded {
        /// Which expression: `guard "..."` or `assign.key`.
        expression: String,
        /// The budget, in cost units.
        limit: u64,
    },
}

fn fmt_rejected(state: &str, event: &str, guards: &[GuardFailure]) -> String {
    match guards {
        [] => format!("event {event:?} in state {state:?} was rejected by its guards"),
        [only] => format!("event {event:?} in state {state:?} was rejected by {only}"),
        [first, rest @ ..] => {
            format!("event {event:?} in state {state:?} was rejected by {first} (and {} more guards)", rest.len())
        }
    }
}

/// One guard that did not pass, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardFailure {
    /// The guard's CEL source text.
    pub guard: String,
    /// `evaluated to false`, `evaluation failed: ...` or `evaluated to 3, not a bool`.
    pub reason: String,
}

impl fmt::Display for GuardFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "guard {:?}: {}", self.guard, self.reason)
    }
}

impl std::error::Error for GuardFailure {}

/// A context that does not satisfy the machine's `context_schema`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextError {
    /// The violations, each like `/amount: "x" is not of type "integer"` (at most 20).
    pub errors: Vec<String>,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("context does not match context_schema: ")?;
        for (i, error) in self.errors.iter().take(SHOWN_CONTEXT_ERRORS).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(error)?;
        }
        if self.errors.len() > SHOWN_CONTEXT_ERRORS {
            write!(f, " (and {} more)", self.errors.len() - SHOWN_CONTEXT_ERRORS)?;
        }
        Ok(())
    }
}

impl std::error::Error for ContextError {}

impl CompiledMachine {
    /// Returns the machine's name, if the definition gave one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Returns the normalised definition (see the module docs); store this, load it with
    /// [`CompiledMachine::from_canonical_json`].
    pub fn canonical_json(&self) -> &Json {
        &self.canonical
    }

    /// Returns the state new instances start in.
    pub fn initial_state(&self) -> &str {
        &self.initial
    }

    /// Returns whether `state` is a final state (false for unknown states).
    pub fn is_final(&self, state: &str) -> bool {
        self.states.get(state).is_some_and(|s| s.is_final)
    }

    /// Returns whether the machine has a state named `state`.
    pub fn has_state(&self, state: &str) -> bool {
        self.states.contains_key(state)
    }

    /// Returns every state name, sorted.
    pub fn state_names(&self) -> impl Iterator<Item = &str> {
        self.state_names.iter().map(String::as_str)
    }

    /// Returns the events some transition accepts in `state`, sorted (empty for final or
    /// unknown states).
    pub fn events_from(&self, state: &str) -> Vec<&str> {
        let mut events: Vec<&str> =
            self.states.get(state).map(|s| s.events.keys().map(String::as_str).collect()).unwrap_or_default();
        events.sort_unstable();
        events
    }

    /// Checks a context against `context_schema`; always `Ok` without a schema.
    pub fn validate_context(&self, ctx: &Map<String, Json>) -> Result<(), ContextError> {
        match &self.schema {
            None => Ok(()),
            Some(schema) => check_against(schema, &Json::Object(ctx.clone())),
        }
    }

    /// Applies `event` (with its `payload`) to an instance in `state` with context `ctx`.
    ///
    /// Candidates are the transitions from `state` on `event`, tried in definition order; the
    /// first without a guard, or whose guard evaluates to `true`, is taken. The new context is
    /// `ctx` with every `assign` expression's value (all evaluated against the old `ctx`,
    /// `event` and `state`), or, without `assign`, `ctx` with the payload's keys merged in.
    /// It must satisfy `context_schema`.
    ///
    /// `applied_at_ms` is the time the event is applied, in milliseconds since the Unix epoch:
    /// the time recorded with it, so a replay sees the same value. Expressions read it as `now`.
    pub fn apply(
        &self,
        state: &str,
        ctx: &Map<String, Json>,
        event: &str,
        payload: &Map<String, Json>,
        applied_at_ms: i64,
    ) -> Result<TransitionOutcome, TransitionError> {
        let no_transition = || TransitionError::NoTransition { state: state.to_owned(), event: event.to_owned() };
        let entry = self.states.get(state).ok_or_else(no_transition)?;
        if entry.is_final {
            return Err(TransitionError::FinalState { state: state.to_owned(), event: event.to_owned() });
        }
        let candidates = entry.events.get(event).ok_or_else(no_transition)?;

        let now = chrono::DateTime::from_timestamp_millis(applied_at_ms).unwrap_or_default().fixed_offset();
        let scope = Scope::new(ctx, payload, state, now);
        let mut failures = Vec::new();
        let mut taken = None;
        for transition in candidates.iter().filter_map(|&i| self.transitions.get(i)) {
            let Some(guard) = &transition.guard else {
                taken = Some(transition);
                break;
            };
            let reason = match guard.evaluate_with(&scope, DEFAULT_COST_LIMIT) {
                Ok(cel::Value::Bool(true)) => {
                    taken = Some(transition);
                    break;
                }
                Ok(cel::Value::Bool(false)) => "evaluated to false".to_owned(),
                Ok(other) => format!("evaluated to {}, not a bool", render(&other)),
                Err(EvalError::CostExceeded { limit }) => {
                    return Err(TransitionError::CostExceeded {
                        expression: format!("guard {:?}", guard.source()),
                        limit,
                    });
                }
                Err(EvalError::Failed(reason)) => format!("evaluation failed: {}", failure(&scope, reason)),
            };
            failures.push(GuardFailure { guard: guard.source().to_owned(), reason });
        }
        let Some(transition) = taken else {
            return Err(TransitionError::GuardRejected {
                state: state.to_owned(),
                event: event.to_owned(),
                guards: failures,
            });
        };

        let mut next = ctx.clone();
        match &transition.assign {
            Some(assignments) => {
                for (key, expr) in assignments {
                    let failed = |message: String| TransitionError::AssignFailed { key: key.clone(), message };
                    let value = match expr.evaluate_with(&scope, DEFAULT_COST_LIMIT) {
                        Ok(value) => value,
                        Err(EvalError::CostExceeded { limit }) => {
                            return Err(TransitionError::CostExceeded { expression: format!("assign.{key}"), limit });
                        }
                        Err(EvalError::Failed(reason)) => {
                            return Err(failed(format!("evaluation failed: {}", failure(&scope, reason))));
                        }
                    };
                    let value = cel_to_json(&value).map_err(failed)?;
                    check_context_value(&value)?;
                    next.insert(key.clone(), value);
                }
            }
            None => {
                for (key, value) in payload {
                    check_context_value(value)?;
                    next.insert(key.clone(), value.clone());
                }
            }
        }

        let ctx = match &self.schema {
            None => next,
            Some(schema) => {
                let value = Json::Object(next);
                check_against(schema, &value).map_err(TransitionError::ContextInvalid)?;
                match value {
                    Json::Object(map) => map,
                    _ => Map::new(),
                }
            }
        };
        Ok(TransitionOutcome { to: transition.to.clone(), ctx })
    }
}

/// Refuses a value that would nest the context (one level above it) past the JSON policy.
fn check_context_value(value: &Json) -> Result<(), TransitionError> {
    if crate::json::depth(value) >= crate::json::MAX_DEPTH {
        return Err(TransitionError::ContextLimit(crate::json::JsonLimitError::TooDeep {
            limit: crate::json::MAX_DEPTH,
        }));
    }
    Ok(())
}

/// The reason an evaluation failed, naming a variable that could not be converted if any.
fn failure(scope: &Scope<'_>, reason: String) -> String {
    match scope.conversion_failure() {
        Some(variable) => format!("{variable} nests deeper than {} levels", crate::expr::convert::MAX_DEPTH),
        None => reason,
    }
}

/// Validates `value` against `schema`, collecting the violations (fast path: `is_valid`).
fn check_against(schema: &jsonschema::Validator, value: &Json) -> Result<(), ContextError> {
    if schema.is_valid(value) {
        return Ok(());
    }
    let errors: Vec<String> = schema
        .iter_errors(value)
        .take(MAX_CONTEXT_ERRORS)
        .map(|e| {
            let path = e.instance_path().to_string();
            let text = if path.is_empty() { e.to_string() } else { format!("{path}: {e}") };
            match text.char_indices().nth(MAX_CONTEXT_ERROR_LEN) {
                Some((cut, _)) => format!("{}…", &text[..cut]),
                None => text,
            }
        })
        .collect();
    if errors.is_empty() {
        // `is_valid` and `iter_errors` disagreeing would be a jsonschema bug; still refuse.
        return Err(ContextError { errors: vec!["does not match the schema".to_owned()] });
    }
    Err(ContextError { errors })
}
