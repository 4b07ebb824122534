//! The compiled machine and the transition logic (`apply`), which runs on the store's single
//! writer thread for every event: lookups are by precomputed maps, the context is converted to
//! CEL only when a guard or assignment reads it, and nothing is logged or awaited.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::expr::convert::{Scope, cel_to_json, render};
use crate::expr::{DEFAULT_COST_LIMIT, EvalError, Program};
use crate::instances::InstanceStatus;
use crate::jobs::RetryPolicy;

use super::action::Join;

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
    /// Whether any state does work or the machine has a timeout.
    pub(super) has_work: bool,
    /// Whether some expression may read `instance` (its source mentions the name).
    pub(super) uses_instance: bool,
    /// Whether some expression reads `env`: the store loads the space's values only then.
    pub(super) reads_env: bool,
    /// The machine-wide timeout: after this many ms from creation, go to the state.
    pub(super) timeout: Option<(u64, String)>,
    pub(super) canonical: Json,
}

/// One state: whether it is final, per event the transitions to try in order, and what it does.
#[derive(Debug, Default)]
pub(super) struct StateEntry {
    pub(super) is_final: bool,
    pub(super) failure: bool,
    pub(super) events: HashMap<String, Box<[usize]>>,
    /// `None` for a state that does nothing on its own (the common case, kept small).
    pub(super) work: Option<Box<StateWork>>,
}

/// What a state does on its own: an action, timers, a wait, entry and exit effects.
#[derive(Debug, Default)]
pub(super) struct StateWork {
    pub(super) action: Option<CompiledAction>,
    pub(super) timers: Vec<CompiledTimer>,
    pub(super) waits: bool,
    pub(super) on_entry: Vec<CompiledEffect>,
    pub(super) on_exit: Vec<CompiledEffect>,
    /// Eventless transitions, tried on entry (empty for most states).
    pub(super) always: Vec<CompiledOutcome>,
}

/// An action state's invoke and where its outcomes lead.
#[derive(Debug)]
pub(super) struct CompiledAction {
    pub(super) invoke: CompiledInvoke,
    pub(super) timeout_ms: Option<u64>,
    pub(super) retry: Option<RetryPolicy>,
    pub(super) on_done: Vec<CompiledOutcome>,
    pub(super) on_error: Vec<CompiledOutcome>,
}

/// What an action invokes, with its expressions compiled.
#[derive(Debug)]
pub(super) enum CompiledInvoke {
    Function {
        function: String,
        version: Option<u64>,
        input: Option<Program>,
    },
    Http {
        method: String,
        url: Program,
        headers: Vec<(String, Program)>,
        body: Option<Program>,
        /// The secret templates, copied into the payload as written.
        secret_headers: Option<Json>,
    },
    Publish(CompiledPublish),
    Send(CompiledSend),
    Machine {
        machine: String,
        input: Option<Program>,
        fan_out: Option<FanOut>,
    },
}

/// How a state's children for a list join ([`CompiledMachine::fan_out`]).
#[derive(Debug, Clone, Copy)]
pub struct FanOutSettings<'m> {
    /// How many must complete.
    pub join: Join,
    /// How many may run at once (all when `None`).
    pub concurrency: Option<u32>,
    /// The keys of each child's final ctx the result keeps (all when empty).
    pub collect: &'m [String],
}

/// A machine invoke that starts one child per element of a list.
#[derive(Debug)]
pub(super) struct FanOut {
    pub(super) for_each: Program,
    pub(super) concurrency: Option<u32>,
    pub(super) join: Join,
    pub(super) collect: Vec<String>,
}

#[derive(Debug)]
pub(super) struct CompiledPublish {
    pub(super) topic: String,
    pub(super) message: Program,
    pub(super) key: Option<Program>,
}

#[derive(Debug)]
pub(super) struct CompiledSend {
    pub(super) instance: Program,
    pub(super) event: String,
    pub(super) payload: Option<Program>,
}

/// A fire-and-forget effect.
#[derive(Debug)]
pub(super) enum CompiledEffect {
    Publish(CompiledPublish),
    Send(CompiledSend),
}

/// One branch of `on_done` or `on_error`.
#[derive(Debug)]
pub(super) struct CompiledOutcome {
    pub(super) when: Option<Program>,
    pub(super) to: String,
    pub(super) assign: Option<Vec<(String, Program)>>,
}

/// A timer of a state: its name (what fires it), when, and where it leads.
#[derive(Debug)]
pub(super) struct CompiledTimer {
    pub(super) name: String,
    pub(super) delay: TimerDelay,
    pub(super) to: String,
}

#[derive(Debug)]
pub(super) enum TimerDelay {
    /// This many ms after entry.
    Fixed(u64),
    /// CEL: a timestamp, or a duration from entry.
    Expr(Program),
}

/// The name of the internal event an action's result is applied as.
pub const DONE_EVENT: &str = "done.invoke";
/// The name of the internal event an action's final error is applied as.
pub const ERROR_EVENT: &str = "error.invoke";
/// The name of the machine-wide timeout's timer.
pub const MACHINE_TIMEOUT: &str = "timeout";
/// Most children one state may start for a list (`invoke.for_each`).
pub const MAX_FAN_OUT: usize = 10_000;
/// Most eventless (`always`) transitions one input may take before it must come to rest: a
/// loop of them without a guard that ends it fails the step instead of spinning.
pub const MAX_ALWAYS_STEPS: u32 = 10_000;

/// What moves an instance: an outside event, or one of the internal inputs its own work
/// reports (an action's result or error, a timer).
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// An event with its payload.
    Event {
        /// The event's name.
        name: &'a str,
        /// Its payload.
        payload: &'a Map<String, Json>,
    },
    /// The state's action succeeded with this result.
    Done(&'a Json),
    /// The state's action failed for good with this error (`{code, message}`).
    Failed(&'a Json),
    /// The timer of this name fired (`after:15m`, `after_expr:…`, `wait.timeout`, `timeout`).
    Timer(&'a str),
}

impl Input<'_> {
    /// The name the input is recorded under: the event's, `done.invoke`, `error.invoke`, or
    /// the timer's.
    pub fn name(&self) -> &str {
        match self {
            Input::Event { name, .. } => name,
            Input::Done(_) => DONE_EVENT,
            Input::Failed(_) => ERROR_EVENT,
            Input::Timer(name) => name,
        }
    }
}

/// What an instance's expressions may read of the instance itself, as `instance`.
#[derive(Debug, Clone, Copy)]
pub struct InstanceInfo<'a> {
    /// `space:machine:id`.
    pub address: &'a str,
    /// The revision the transition produces.
    pub revision: u64,
    /// The attempt of the work whose end the step applies (an action's result or error; 0
    /// for anything else).
    pub attempt: u32,
    /// The space's `env` values (an object), for a machine that reads them
    /// ([`CompiledMachine::reads_env`]); `None` reads as an empty map.
    pub env: Option<&'a Json>,
}

/// Something a transition causes, written by the store in the same transaction (the outbox).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Run the entered state's action; its result comes back as [`Input::Done`] or
    /// [`Input::Failed`].
    Invoke {
        /// What to run.
        kind: InvokeKind,
        /// The job's payload, every expression evaluated (the shape the kind's job takes).
        payload: Json,
        /// Longest one attempt may take.
        timeout_ms: Option<u64>,
        /// How failed attempts are retried (`None`: the jobs' default).
        retry: Option<RetryPolicy>,
    },
    /// Arm a timer; it comes back as [`Input::Timer`] with its name.
    Timer {
        /// The timer's name.
        name: String,
        /// When it fires (ms since the Unix epoch).
        at_ms: i64,
    },
    /// Fire and forget (an `on_entry`/`on_exit` effect).
    Emit {
        /// `Publish` or `Send`.
        kind: InvokeKind,
        /// The job's payload.
        payload: Json,
    },
}

/// The kinds of work a state can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeKind {
    /// A deployed function (`{function, version?, input}`).
    Function,
    /// An HTTP request (`{url, method, headers, body?}`).
    Http,
    /// Publish a message (`{topic, message, key?}`).
    Publish,
    /// Send an event to an instance (`{instance, event, payload}`).
    Send,
    /// Create a child instance and wait for it to be final (`{machine, input}`).
    Machine,
}

impl InvokeKind {
    /// The kind's name: `function`, `http`, `publish`, `send` or `machine`.
    pub fn as_str(self) -> &'static str {
        match self {
            InvokeKind::Function => "function",
            InvokeKind::Http => "http",
            InvokeKind::Publish => "publish",
            InvokeKind::Send => "send",
            InvokeKind::Machine => "machine",
        }
    }
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

/// The result of applying an event: the next state, the new context, and what it causes.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionOutcome {
    /// The state the instance moves to.
    pub to: String,
    /// The context after the transition (already checked against `context_schema`).
    pub ctx: Map<String, Json>,
    /// What the transition causes: the left state's exit effects, then the entered state's
    /// action, timers and entry effects. The left state's pending work is cancelled by the
    /// caller (every transition leaves its state and enters the next, itself included).
    pub effects: Vec<Effect>,
}

/// Where a new instance starts and what its creation causes ([`CompiledMachine::start`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// The state it starts in: the initial state, or where its eventless transitions led.
    pub state: String,
    /// Its context when eventless transitions assigned to it (`None`: the given context).
    pub ctx: Option<Map<String, Json>>,
    /// What creating it causes.
    pub effects: Vec<Effect>,
}

/// What every scope of one step shares: the input's payload, the time, `instance`.
struct Moment<'a> {
    payload: &'a Map<String, Json>,
    now: chrono::DateTime<chrono::FixedOffset>,
    instance: Option<&'a Json>,
    env: Option<&'a Json>,
    at_ms: i64,
}

impl<'a> Moment<'a> {
    fn scope<'s>(&'s self, ctx: &'s Map<String, Json>, state: &'s str) -> Scope<'s>
    where
        'a: 's,
    {
        let scope = Scope::new(ctx, self.payload, state, self.now).with_env(self.env);
        match self.instance {
            Some(json) => scope.with_instance(json),
            None => scope,
        }
    }
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
    /// An expression of the entered (or left) state's work failed: an invoke's input, an
    /// effect's message, a timer's time.
    #[error("{expression} failed: {message}")]
    EffectFailed {
        /// Which expression, like `states.charging.invoke.input`.
        expression: String,
        /// Why it failed.
        message: String,
    },
    /// Eventless transitions kept moving the instance without coming to rest.
    #[error(
        "eventless transitions (`always`) took {limit} steps without coming to rest (the last from state {state:?}); \
         a loop of them needs a `when` that ends it"
    )]
    TooManySteps {
        /// The state the last step left.
        state: String,
        /// The bound, [`MAX_ALWAYS_STEPS`].
        limit: u32,
    },
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

    /// Whether some expression reads `env`, so a step needs the space's `env` values
    /// ([`InstanceInfo::env`]).
    pub fn reads_env(&self) -> bool {
        self.reads_env
    }

    /// Returns the flow the machine was compiled from (its canonical form), if it was.
    pub fn flow(&self) -> Option<&Json> {
        self.canonical.get("flow")
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
        let instance = InstanceInfo { address: "", revision: 0, attempt: 0, env: None };
        self.step(state, ctx, Input::Event { name: event, payload }, instance, applied_at_ms)
    }

    /// Moves an instance in `state` with context `ctx` by `input`: an event (see
    /// [`CompiledMachine::apply`]), an action's result (the first `on_done` branch whose
    /// `when` passes; `result` is in scope), its error (`on_error`, with `error`), or a timer
    /// (the state's timer of that name, or the machine's timeout). The outcome carries the
    /// effects of leaving `state` and entering the next one.
    pub fn step(
        &self,
        state: &str,
        ctx: &Map<String, Json>,
        input: Input<'_>,
        instance: InstanceInfo<'_>,
        applied_at_ms: i64,
    ) -> Result<TransitionOutcome, TransitionError> {
        let event = input.name();
        let no_transition = || TransitionError::NoTransition { state: state.to_owned(), event: event.to_owned() };
        let entry = self.states.get(state).ok_or_else(no_transition)?;
        if entry.is_final {
            return Err(TransitionError::FinalState { state: state.to_owned(), event: event.to_owned() });
        }
        let empty = Map::new();
        let payload = match input {
            Input::Event { payload, .. } => payload,
            _ => &empty,
        };
        let now = chrono::DateTime::from_timestamp_millis(applied_at_ms).unwrap_or_default().fixed_offset();
        // `instance` is built only for machines whose expressions may read it.
        let instance_json = self.uses_instance.then(|| instance_json(instance));
        let mut scope = Scope::new(ctx, payload, state, now).with_env(instance.env);
        if let Some(json) = &instance_json {
            scope = scope.with_instance(json);
        }
        let (to, assign, merge) = match input {
            Input::Event { .. } => {
                let transition = self.pick_transition(entry, state, event, &scope)?;
                (transition.to.as_str(), transition.assign.as_ref(), transition.assign.is_none())
            }
            Input::Done(value) | Input::Failed(value) => {
                let (name, outcomes) = match (input, entry.work.as_deref().and_then(|w| w.action.as_ref())) {
                    (_, None) => return Err(no_transition()),
                    (Input::Done(_), Some(action)) => ("result", &action.on_done),
                    (_, Some(action)) => ("error", &action.on_error),
                };
                if outcomes.is_empty() {
                    return Err(no_transition());
                }
                scope = scope.with_outcome(name, value);
                let outcome = pick_outcome(outcomes, state, event, &scope)?;
                (outcome.to.as_str(), outcome.assign.as_ref(), false)
            }
            Input::Timer(name) => {
                let timer = entry.work.as_deref().and_then(|w| w.timers.iter().find(|t| t.name == name));
                match (timer, &self.timeout) {
                    (Some(timer), _) => (timer.to.as_str(), None, false),
                    (None, Some((_, to))) if name == MACHINE_TIMEOUT => (to.as_str(), None, false),
                    _ => return Err(no_transition()),
                }
            }
        };

        let ctx = self.assigned(ctx, assign.map(Vec::as_slice), merge.then_some(payload), &scope)?;

        let mut effects = Vec::new();
        if let Some(work) = entry.work.as_deref() {
            // Exit effects see the state being left and the context before the transition.
            emit_all(&work.on_exit, state, "on_exit", &scope, &mut effects)?;
        }
        drop(scope);
        let at = Moment { payload, now, instance: instance_json.as_ref(), env: instance.env, at_ms: applied_at_ms };
        if let Some(work) = self.states.get(to).and_then(|e| e.work.as_deref()) {
            enter(work, to, &at.scope(&ctx, to), applied_at_ms, &mut effects)?;
        }
        let (to, ctx) = self.settle(to, ctx, &at, &mut effects)?;
        Ok(TransitionOutcome { to: to.to_owned(), ctx, effects })
    }

    /// `ctx` after a transition's assignments (each a ctx key or a dotted path, all evaluated
    /// against the old `ctx`) or, with `merge`, with the payload's keys merged in; checked
    /// against `context_schema`.
    fn assigned(
        &self,
        ctx: &Map<String, Json>,
        assign: Option<&[(String, Program)]>,
        merge: Option<&Map<String, Json>>,
        scope: &Scope<'_>,
    ) -> Result<Map<String, Json>, TransitionError> {
        let mut next = ctx.clone();
        if let Some(assignments) = assign {
            // Evaluated first, set after: every expression sees the context before the step.
            let mut values = Vec::with_capacity(assignments.len());
            for (key, expr) in assignments {
                let failed = |message: String| TransitionError::AssignFailed { key: key.clone(), message };
                let value = match expr.evaluate_with(scope, DEFAULT_COST_LIMIT) {
                    Ok(value) => value,
                    Err(EvalError::CostExceeded { limit }) => {
                        return Err(TransitionError::CostExceeded { expression: format!("assign.{key}"), limit });
                    }
                    Err(EvalError::Failed(reason)) => {
                        return Err(failed(format!("evaluation failed: {}", failure(scope, reason))));
                    }
                };
                let value = cel_to_json(&value).map_err(failed)?;
                check_context_value(&value)?;
                values.push((key, value));
            }
            for (key, value) in values {
                set_path(&mut next, key, value)?;
            }
        } else if let Some(payload) = merge {
            for (key, value) in payload {
                check_context_value(value)?;
                next.insert(key.clone(), value.clone());
            }
        }
        match &self.schema {
            None => Ok(next),
            Some(schema) => {
                let value = Json::Object(next);
                check_against(schema, &value).map_err(TransitionError::ContextInvalid)?;
                match value {
                    Json::Object(map) => Ok(map),
                    _ => Ok(Map::new()),
                }
            }
        }
    }

    /// Follows eventless transitions from `state` (just entered with `ctx`) until a state has
    /// none that passes: returns where the instance rests and its context, adding each step's
    /// exit and entry effects.
    fn settle<'m>(
        &'m self,
        mut state: &'m str,
        mut ctx: Map<String, Json>,
        at: &Moment<'_>,
        effects: &mut Vec<Effect>,
    ) -> Result<(&'m str, Map<String, Json>), TransitionError> {
        let mut steps = 0;
        while let Some(work) = self.states.get(state).and_then(|e| e.work.as_deref()) {
            if work.always.is_empty() {
                break;
            }
            let scope = at.scope(&ctx, state);
            let Some(outcome) = pick_always(&work.always, state, &scope)? else { break };
            steps += 1;
            if steps > MAX_ALWAYS_STEPS {
                return Err(TransitionError::TooManySteps { state: state.to_owned(), limit: MAX_ALWAYS_STEPS });
            }
            let next = self.assigned(&ctx, outcome.assign.as_deref(), None, &scope)?;
            emit_all(&work.on_exit, state, "on_exit", &scope, effects)?;
            drop(scope);
            ctx = next;
            state = outcome.to.as_str();
            if let Some(work) = self.states.get(state).and_then(|e| e.work.as_deref()) {
                enter(work, state, &at.scope(&ctx, state), at.at_ms, effects)?;
            }
        }
        Ok((state, ctx))
    }

    /// What creating an instance with `ctx` causes: the machine-wide timeout, the initial
    /// state's action, timers and entry effects, and, when the initial state has eventless
    /// transitions, the steps they take (so the instance may start in another state).
    pub fn start(
        &self,
        ctx: &Map<String, Json>,
        instance: InstanceInfo<'_>,
        created_at_ms: i64,
    ) -> Result<Started, TransitionError> {
        let mut effects = Vec::new();
        if let Some((after, _)) = &self.timeout {
            let at_ms = created_at_ms.saturating_add(i64::try_from(*after).unwrap_or(i64::MAX));
            effects.push(Effect::Timer { name: MACHINE_TIMEOUT.to_owned(), at_ms });
        }
        let Some(work) = self.states.get(&self.initial).and_then(|e| e.work.as_deref()) else {
            return Ok(Started { state: self.initial.clone(), ctx: None, effects });
        };
        let now = chrono::DateTime::from_timestamp_millis(created_at_ms).unwrap_or_default().fixed_offset();
        let empty = Map::new();
        let json = self.uses_instance.then(|| instance_json(instance));
        let at = Moment { payload: &empty, now, instance: json.as_ref(), env: instance.env, at_ms: created_at_ms };
        enter(work, &self.initial, &at.scope(ctx, &self.initial), created_at_ms, &mut effects)?;
        if work.always.is_empty() {
            return Ok(Started { state: self.initial.clone(), ctx: None, effects });
        }
        let (state, ctx) = self.settle(&self.initial, ctx.clone(), &at, &mut effects)?;
        Ok(Started { state: state.to_owned(), ctx: Some(ctx), effects })
    }

    /// The status an instance in `state` has: `completed` or `failed` in a final state,
    /// `running` in an action state, `waiting` in a wait state, `active` otherwise.
    pub fn status_in(&self, state: &str) -> InstanceStatus {
        match self.states.get(state) {
            Some(entry) if entry.is_final && entry.failure => InstanceStatus::Failed,
            Some(entry) if entry.is_final => InstanceStatus::Completed,
            Some(StateEntry { work: Some(work), .. }) if work.action.is_some() => InstanceStatus::Running,
            Some(StateEntry { work: Some(work), .. }) if work.waits => InstanceStatus::Waiting,
            _ => InstanceStatus::Active,
        }
    }

    /// The functions the machine's states invoke, as written (`name`, `space:name`), with the
    /// path of the field: for checks that need to know where the machine lives.
    pub fn invoked_functions(&self) -> Vec<(String, &str)> {
        self.invoked(|invoke| match invoke {
            CompiledInvoke::Function { function, .. } => Some(("function", function)),
            _ => None,
        })
    }

    /// The machines the states start as children, with the field naming each
    /// (`states.S.invoke.machine`), as written (`name` or `space:name`).
    pub fn invoked_machines(&self) -> Vec<(String, &str)> {
        self.invoked(|invoke| match invoke {
            CompiledInvoke::Machine { machine, .. } => Some(("machine", machine)),
            _ => None,
        })
    }

    fn invoked<'a>(
        &'a self,
        pick: impl Fn(&'a CompiledInvoke) -> Option<(&'static str, &'a String)>,
    ) -> Vec<(String, &'a str)> {
        let mut out: Vec<(String, &str)> = self
            .states
            .iter()
            .filter_map(|(state, entry)| {
                let (field, name) = pick(&entry.work.as_deref()?.action.as_ref()?.invoke)?;
                Some((format!("states.{state}.invoke.{field}"), name.as_str()))
            })
            .collect();
        out.sort();
        out
    }

    /// How a state's children for a list join (`invoke.for_each`): how many must complete and
    /// how many may run at once; `None` for a state that does not start children for a list.
    pub fn fan_out(&self, state: &str) -> Option<FanOutSettings<'_>> {
        match &self.states.get(state)?.work.as_deref()?.action.as_ref()?.invoke {
            CompiledInvoke::Machine { fan_out: Some(fan_out), .. } => {
                Some(FanOutSettings { join: fan_out.join, concurrency: fan_out.concurrency, collect: &fan_out.collect })
            }
            _ => None,
        }
    }

    /// Whether some state does work (an action, timers, a wait, effects) or the machine has a
    /// timeout: only then do its instances need the work bookkeeping.
    pub fn does_work(&self) -> bool {
        self.has_work
    }

    fn pick_transition(
        &self,
        entry: &StateEntry,
        state: &str,
        event: &str,
        scope: &Scope<'_>,
    ) -> Result<&CompiledTransition, TransitionError> {
        let no_transition = || TransitionError::NoTransition { state: state.to_owned(), event: event.to_owned() };
        let candidates = entry.events.get(event).ok_or_else(no_transition)?;
        let mut failures = Vec::new();
        for transition in candidates.iter().filter_map(|&i| self.transitions.get(i)) {
            let Some(guard) = &transition.guard else {
                return Ok(transition);
            };
            match check_guard(guard, scope)? {
                None => return Ok(transition),
                Some(reason) => failures.push(GuardFailure { guard: guard.source().to_owned(), reason }),
            }
        }
        Err(TransitionError::GuardRejected { state: state.to_owned(), event: event.to_owned(), guards: failures })
    }
}

/// `None` when the guard passes, else why not.
fn check_guard(guard: &Program, scope: &Scope<'_>) -> Result<Option<String>, TransitionError> {
    Ok(Some(match guard.evaluate_with(scope, DEFAULT_COST_LIMIT) {
        Ok(cel::Value::Bool(true)) => return Ok(None),
        Ok(cel::Value::Bool(false)) => "evaluated to false".to_owned(),
        Ok(other) => format!("evaluated to {}, not a bool", render(&other)),
        Err(EvalError::CostExceeded { limit }) => {
            return Err(TransitionError::CostExceeded { expression: format!("guard {:?}", guard.source()), limit });
        }
        Err(EvalError::Failed(reason)) => format!("evaluation failed: {}", failure(scope, reason)),
    }))
}

fn pick_outcome<'m>(
    outcomes: &'m [CompiledOutcome],
    state: &str,
    event: &str,
    scope: &Scope<'_>,
) -> Result<&'m CompiledOutcome, TransitionError> {
    let mut failures = Vec::new();
    for outcome in outcomes {
        let Some(when) = &outcome.when else { return Ok(outcome) };
        match check_guard(when, scope)? {
            None => return Ok(outcome),
            Some(reason) => failures.push(GuardFailure { guard: when.source().to_owned(), reason }),
        }
    }
    Err(TransitionError::GuardRejected { state: state.to_owned(), event: event.to_owned(), guards: failures })
}

/// The first eventless transition whose `when` passes; `None` when none does (the instance
/// stays). A `when` that cannot be evaluated fails the step: staying would hide the error.
fn pick_always<'m>(
    outcomes: &'m [CompiledOutcome],
    state: &str,
    scope: &Scope<'_>,
) -> Result<Option<&'m CompiledOutcome>, TransitionError> {
    for (i, outcome) in outcomes.iter().enumerate() {
        let Some(when) = &outcome.when else { return Ok(Some(outcome)) };
        let expression = || format!("states.{state}.always[{i}].when");
        match when.evaluate_with(scope, DEFAULT_COST_LIMIT) {
            Ok(cel::Value::Bool(true)) => return Ok(Some(outcome)),
            Ok(cel::Value::Bool(false)) => {}
            Ok(other) => {
                return Err(TransitionError::EffectFailed {
                    expression: expression(),
                    message: format!("evaluated to {}, not a bool", render(&other)),
                });
            }
            Err(EvalError::CostExceeded { limit }) => {
                return Err(TransitionError::CostExceeded { expression: expression(), limit });
            }
            Err(EvalError::Failed(reason)) => {
                return Err(TransitionError::EffectFailed {
                    expression: expression(),
                    message: failure(scope, reason),
                });
            }
        }
    }
    Ok(None)
}

/// Sets `value` at `key` in `ctx`: a plain key, or a dotted path whose missing (or `null`)
/// parts become maps. A part that holds something other than a map refuses.
fn set_path(ctx: &mut Map<String, Json>, key: &str, value: Json) -> Result<(), TransitionError> {
    // A key with an empty part is not a path (definitions stored before paths existed).
    let path = key.split_once('.').filter(|_| !key.split('.').any(str::is_empty));
    let Some((head, rest)) = path else {
        ctx.insert(key.to_owned(), value);
        return Ok(());
    };
    let mut map = ctx;
    let mut walked = head;
    let mut part = head;
    let mut rest = rest;
    loop {
        let slot = map.entry(part.to_owned()).or_insert_with(|| Json::Object(Map::new()));
        if slot.is_null() {
            *slot = Json::Object(Map::new());
        }
        let Json::Object(inner) = slot else {
            return Err(TransitionError::AssignFailed {
                key: key.to_owned(),
                message: format!("ctx.{walked} is {}, not a map", kind_of(slot)),
            });
        };
        map = inner;
        match rest.split_once('.') {
            Some((next, tail)) => {
                part = next;
                rest = tail;
                walked = &key[..walked.len() + 1 + next.len()];
            }
            None => {
                map.insert(rest.to_owned(), value);
                return Ok(());
            }
        }
    }
}

fn kind_of(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a map",
    }
}

/// `instance` as expressions see it.
fn instance_json(instance: InstanceInfo<'_>) -> Json {
    let mut parts = instance.address.splitn(3, ':');
    let (space, machine, id) = (parts.next(), parts.next(), parts.next());
    serde_json::json!({
        "address": instance.address,
        "space": space.unwrap_or(""),
        "machine": machine.unwrap_or(""),
        "id": id.unwrap_or(""),
        "revision": instance.revision,
        "attempt": instance.attempt,
    })
}

/// The effects of entering a state: its action, its timers, its entry effects.
fn enter(
    work: &StateWork,
    state: &str,
    scope: &Scope<'_>,
    at_ms: i64,
    effects: &mut Vec<Effect>,
) -> Result<(), TransitionError> {
    if let Some(action) = &work.action {
        let at = |field: &str| format!("states.{state}.invoke.{field}");
        let (kind, payload) = match &action.invoke {
            CompiledInvoke::Function { function, version, input } => {
                let input = match input {
                    Some(program) => evaluate(program, &at("input"), scope)?,
                    None => Json::Object(Map::new()),
                };
                let mut payload = serde_json::json!({ "function": function, "input": input });
                if let Some(version) = version {
                    payload["version"] = Json::from(*version);
                }
                (InvokeKind::Function, payload)
            }
            CompiledInvoke::Http { method, url, headers, body, secret_headers } => {
                let url = evaluate_string(url, &at("http.url"), scope)?;
                let mut values = Map::new();
                for (name, program) in headers {
                    let value = evaluate_string(program, &at(&format!("http.headers.{name}")), scope)?;
                    values.insert(name.clone(), Json::String(value));
                }
                let mut payload = serde_json::json!({ "url": url, "method": method, "headers": values });
                if let Some(body) = body {
                    payload["body"] = evaluate(body, &at("http.body"), scope)?;
                }
                if let Some(secret_headers) = secret_headers {
                    payload["secret_headers"] = secret_headers.clone();
                }
                if let Some(timeout) = action.timeout_ms {
                    payload["timeout_ms"] = Json::from(timeout);
                }
                (InvokeKind::Http, payload)
            }
            CompiledInvoke::Publish(publish) => {
                (InvokeKind::Publish, publish_payload(publish, &format!("states.{state}.invoke.publish"), scope)?)
            }
            CompiledInvoke::Send(send) => {
                (InvokeKind::Send, send_payload(send, &format!("states.{state}.invoke.send"), scope)?)
            }
            CompiledInvoke::Machine { machine, input, fan_out: None } => {
                let input = match input {
                    Some(program) => evaluate(program, &at("input"), scope)?,
                    None => Json::Object(Map::new()),
                };
                if !input.is_object() {
                    return Err(TransitionError::EffectFailed {
                        expression: at("input"),
                        message: "a child machine's input must be a map (its initial ctx)".to_owned(),
                    });
                }
                (InvokeKind::Machine, serde_json::json!({ "machine": machine, "input": input }))
            }
            CompiledInvoke::Machine { machine, input, fan_out: Some(fan_out) } => {
                let items = match evaluate(&fan_out.for_each, &at("for_each"), scope)? {
                    Json::Array(items) => items,
                    other => {
                        return Err(TransitionError::EffectFailed {
                            expression: at("for_each"),
                            message: format!("evaluated to {}, not a list", kind_of(&other)),
                        });
                    }
                };
                if items.len() > MAX_FAN_OUT {
                    return Err(TransitionError::EffectFailed {
                        expression: at("for_each"),
                        message: format!("{} elements; a state starts at most {MAX_FAN_OUT} children", items.len()),
                    });
                }
                let mut inputs = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let input = match input {
                        Some(program) => {
                            let each = at_item(scope, item, index);
                            evaluate(program, &at("input"), &each)?
                        }
                        None => serde_json::json!({ "item": item, "index": index }),
                    };
                    if !input.is_object() {
                        return Err(TransitionError::EffectFailed {
                            expression: at("input"),
                            message: format!(
                                "element {index}: a child machine's input must be a map (its initial ctx)"
                            ),
                        });
                    }
                    inputs.push(input);
                }
                let mut payload = serde_json::json!({ "machine": machine, "inputs": inputs, "join": fan_out.join });
                if let Some(concurrency) = fan_out.concurrency {
                    payload["concurrency"] = Json::from(concurrency);
                }
                if !fan_out.collect.is_empty() {
                    payload["collect"] = Json::from(fan_out.collect.clone());
                }
                (InvokeKind::Machine, payload)
            }
        };
        effects.push(Effect::Invoke { kind, payload, timeout_ms: action.timeout_ms, retry: action.retry.clone() });
    }
    for timer in &work.timers {
        let at_ms = match &timer.delay {
            TimerDelay::Fixed(ms) => at_ms.saturating_add(i64::try_from(*ms).unwrap_or(i64::MAX)),
            TimerDelay::Expr(program) => {
                let expression = format!("states.{state}.after_expr[{:?}]", program.source());
                let failed =
                    |message: String| TransitionError::EffectFailed { expression: expression.clone(), message };
                match program.evaluate_with(scope, DEFAULT_COST_LIMIT) {
                    Ok(cel::Value::Timestamp(ts)) => ts.timestamp_millis(),
                    Ok(cel::Value::Duration(d)) => at_ms.saturating_add(d.num_milliseconds()),
                    Ok(other) => {
                        return Err(failed(format!("evaluated to {}, not a timestamp or a duration", render(&other))));
                    }
                    Err(EvalError::CostExceeded { limit }) => {
                        return Err(TransitionError::CostExceeded { expression, limit });
                    }
                    Err(EvalError::Failed(reason)) => return Err(failed(failure(scope, reason))),
                }
            }
        };
        effects.push(Effect::Timer { name: timer.name.clone(), at_ms });
    }
    emit_all(&work.on_entry, state, "on_entry", scope, effects)
}

fn emit_all(
    list: &[CompiledEffect],
    state: &str,
    field: &str,
    scope: &Scope<'_>,
    effects: &mut Vec<Effect>,
) -> Result<(), TransitionError> {
    for (i, effect) in list.iter().enumerate() {
        let (kind, payload) = match effect {
            CompiledEffect::Publish(publish) => {
                (InvokeKind::Publish, publish_payload(publish, &format!("states.{state}.{field}[{i}].publish"), scope)?)
            }
            CompiledEffect::Send(send) => {
                (InvokeKind::Send, send_payload(send, &format!("states.{state}.{field}[{i}].send"), scope)?)
            }
        };
        effects.push(Effect::Emit { kind, payload });
    }
    Ok(())
}

fn publish_payload(publish: &CompiledPublish, at: &str, scope: &Scope<'_>) -> Result<Json, TransitionError> {
    let message = evaluate(&publish.message, &format!("{at}.message"), scope)?;
    let mut payload = serde_json::json!({ "topic": publish.topic, "message": message });
    if let Some(key) = &publish.key {
        payload["key"] = Json::String(evaluate_string(key, &format!("{at}.key"), scope)?);
    }
    Ok(payload)
}

fn send_payload(send: &CompiledSend, at: &str, scope: &Scope<'_>) -> Result<Json, TransitionError> {
    let instance = evaluate_string(&send.instance, &format!("{at}.instance"), scope)?;
    let payload = match &send.payload {
        Some(program) => evaluate(program, &format!("{at}.payload"), scope)?,
        None => Json::Object(Map::new()),
    };
    if !payload.is_object() {
        return Err(TransitionError::EffectFailed {
            expression: format!("{at}.payload"),
            message: "an event's payload must be a map".to_owned(),
        });
    }
    Ok(serde_json::json!({ "instance": instance, "event": send.event, "payload": payload }))
}

/// A scope like `scope` with `item` and `index` bound.
fn at_item<'s, 'a: 's>(scope: &'s Scope<'a>, item: &'s Json, index: usize) -> Scope<'s> {
    scope.clone_base().with_item(item, index)
}

/// Evaluates an effect's expression to JSON.
fn evaluate(program: &Program, expression: &str, scope: &Scope<'_>) -> Result<Json, TransitionError> {
    let failed = |message: String| TransitionError::EffectFailed { expression: expression.to_owned(), message };
    let value = match program.evaluate_with(scope, DEFAULT_COST_LIMIT) {
        Ok(value) => value,
        Err(EvalError::CostExceeded { limit }) => {
            return Err(TransitionError::CostExceeded { expression: expression.to_owned(), limit });
        }
        Err(EvalError::Failed(reason)) => return Err(failed(failure(scope, reason))),
    };
    let json = cel_to_json(&value).map_err(failed)?;
    if crate::json::depth(&json) >= crate::json::MAX_DEPTH {
        return Err(failed(format!("the value nests deeper than {} levels", crate::json::MAX_DEPTH)));
    }
    Ok(json)
}

fn evaluate_string(program: &Program, expression: &str, scope: &Scope<'_>) -> Result<String, TransitionError> {
    match evaluate(program, expression, scope)? {
        Json::String(text) => Ok(text),
        other => Err(TransitionError::EffectFailed {
            expression: expression.to_owned(),
            message: format!("evaluated to {other}, not a string"),
        }),
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
