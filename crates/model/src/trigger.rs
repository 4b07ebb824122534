//! Triggers: a source (a webhook, a cron schedule, an interval, a one-off time, a pattern over
//! the event log), an optional CEL `filter`, and a target (start a flow run or an instance, send
//! an event to an instance, invoke a function, publish to a topic) with a CEL mapping from what
//! the source delivered to the target's input.
//!
//! A definition goes through [`parse_trigger`] (shape) and [`compile_trigger`] (meaning: exactly
//! one source and one target, a valid schedule, CEL that type-checks over the source's
//! variables); [`CompiledTrigger::fire`] then decides, purely, what one delivery does.
//!
//! Invariants:
//! - The variables an expression sees depend only on the source: a webhook's `body`, `headers`,
//!   `query` and `delivery_id`; a schedule's `fire_time`; an event pattern's `record`; and, for
//!   every source, `trigger` (its name), `now` and `env`.
//! - A webhook's secret is written as a reference to a space secret (`{{secrets.NAME}}`), so the
//!   definition, which anyone who reads the space may read, never holds a secret.
//! - Firing is deterministic: the same delivery gives the same target and input on every node.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::address::check_segment;
use crate::definition::{DefinitionError, DefinitionFormat, FieldError, parse_source};
use crate::env::SecretTemplate;
use crate::expr::{Declarations, ExprType, Program};
use crate::jobs::millis;
use crate::schedule::Schedule;

/// The kind of the work-table job that is one execution of a trigger: a webhook delivery
/// accepted, or one fire time of a schedule.
pub const TRIGGER_JOB: &str = "trigger";

/// A trigger as stored: its current version's definition and whether it is paused.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerRecord {
    /// The space.
    pub space: crate::SpaceName,
    /// The name.
    pub name: crate::Segment,
    /// Its version: 1 when first put, one more each time the definition changes.
    pub version: u64,
    /// The definition (normalised, JSON).
    pub definition: Json,
    /// Whether it is paused (fires nothing; a webhook answers `503`).
    pub paused: bool,
    /// A schedule's pending fire-time job: the head of its chain.
    pub schedule_job: Option<String>,
    /// When it was first put.
    pub created_at: crate::Timestamp,
    /// When its version or pause last changed.
    pub updated_at: crate::Timestamp,
}

/// The address of a trigger's log records and the target of its jobs: `space:triggers:name`.
pub fn trigger_address(space: &str, name: &str) -> String {
    format!("{space}:triggers:{name}")
}

/// The time a trigger's expressions see as `now`.
pub type Now = chrono::DateTime<chrono::FixedOffset>;

/// A trigger as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerDefinition {
    /// Optional name; when present it must match the name the trigger is put as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the trigger is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where firings come from: exactly one of the source's fields.
    pub source: SourceSpec,
    /// CEL (a bool): a delivery it refuses fires nothing (and is recorded as filtered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// What a firing does: exactly one kind.
    pub target: TargetSpec,
}

/// The source: exactly one field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// `POST /hooks/{space}/{trigger}`, verified by a scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSpec>,
    /// A cron pattern in a time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<CronSpec>,
    /// A fixed interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IntervalSpec>,
    /// One time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<AtSpec>,
    /// Log records that match a condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventSpec>,
}

/// A webhook source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// `standard-webhooks`, `github`, `stripe` or `hmac`.
    pub scheme: String,
    /// The secrets, each a reference to a space secret: `{{secrets.NAME}}` (several while a key
    /// rotates). Standard Webhooks `v1`, GitHub, Stripe and generic HMAC need at least one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Standard Webhooks `v1a`: trusted Ed25519 public keys (`whpk_…`; public, so inline).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_keys: Vec<String>,
    /// How far a signed timestamp may be from now, either way (default 5m).
    #[serde(default, with = "millis::option", skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<u64>,
    /// Most requests a second this trigger accepts on each node (a token bucket with bursts
    /// of as many); over it, `429`. Default: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    /// `hmac`: the header carrying the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// `hmac`: `sha256` (default) or `sha512`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// `hmac`: `hex` (default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// `hmac`: text before the signature (`sha256=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `hmac`: the header carrying a delivery id, for deduplication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_header: Option<String>,
}

/// A cron source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronSpec {
    /// The pattern (five fields, or six with seconds; `L`, `W`, `#`, names, `@daily`…).
    pub schedule: String,
    /// The IANA zone its fields are read in (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// What a fire time does while the previous firing's run is still going (default `skip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<Overlap>,
    /// After downtime, fire the missed times this recent (`0`, the default: only the latest).
    #[serde(default, with = "millis::option", skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<u64>,
}

/// An interval source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalSpec {
    /// The period (at least 1s).
    #[serde(with = "millis")]
    pub every: u64,
    /// As for cron.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<Overlap>,
    /// As for cron.
    #[serde(default, with = "millis::option", skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<u64>,
}

/// A one-off source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtSpec {
    /// The time (RFC 3339).
    pub time: String,
}

/// An event-pattern source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// CEL (a bool) over `record` (`seq`, `kind`, `address`, `payload`, `state`, `created_at`).
    pub when: String,
    /// Only records of these kinds are read at all (all when empty): a cheaper first cut than
    /// `when`, applied by the trigger's subscription.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
}

/// What a schedule does when a fire time comes while the previous firing's run is going.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Skip the fire time (recorded as skipped).
    #[default]
    Skip,
    /// Keep one fire time waiting; fire it when the run ends.
    BufferOne,
    /// Fire anyway.
    AllowAll,
    /// Cancel the running one, then fire.
    CancelPrevious,
}

/// The target: exactly one of `flow`, `machine`, `instance` (with `event`), `function`, `topic`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Start a run of this flow (a name in the trigger's space, or `space:name` of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// Start an instance of this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// `machine`: CEL, the new instance's id (default: generated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// CEL, `machine:id`: the instance to send `event` to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// `instance`: the event's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// `instance`: create the instance (with `input` as its context) when it does not exist.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create: bool,
    /// Invoke this function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Publish to this topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// `topic`: CEL, the message's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// CEL: the target's input (a run's input, an instance's context, an event's payload, a
    /// function's input, a message). Default: what the source delivered (`body`, `record`, or
    /// `{"fire_time": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

/// A source, checked.
#[derive(Debug)]
pub enum Source {
    /// A webhook (its spec, checked; the engine builds the verifier from it).
    Webhook(WebhookSpec),
    /// A cron, interval or one-off schedule.
    Schedule {
        /// When it fires.
        schedule: Schedule,
        /// What an overlap does.
        overlap: Overlap,
        /// The catch-up window (0: only the latest missed time).
        catch_up_ms: u64,
    },
    /// A pattern over the log.
    Event(Program),
}

/// What a firing does, its expressions evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum Firing {
    /// Start a run of the flow with `input`.
    Flow {
        /// The flow.
        flow: String,
        /// The run's input.
        input: Json,
    },
    /// Start an instance of the machine.
    Machine {
        /// The machine.
        machine: String,
        /// Its id, when the trigger computes one.
        id: Option<String>,
        /// Its context.
        ctx: Json,
    },
    /// Send an event to an instance.
    Event {
        /// `machine:id`.
        instance: String,
        /// The event.
        event: String,
        /// Its payload.
        payload: Json,
        /// Create the instance (payload as context) when it does not exist.
        create: bool,
    },
    /// Invoke a function.
    Function {
        /// The function.
        function: String,
        /// Its input.
        input: Json,
    },
    /// Publish a message.
    Publish {
        /// The topic.
        topic: String,
        /// The message.
        message: Json,
        /// Its key.
        key: Option<String>,
    },
}

/// Why a firing could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FireError {
    /// The field whose expression failed (`filter`, `target.input`…).
    pub field: &'static str,
    /// Why.
    pub message: String,
}

/// A trigger, checked (immutable; share it in an `Arc`).
#[derive(Debug)]
pub struct CompiledTrigger {
    /// Its name.
    pub name: String,
    /// Where firings come from.
    pub source: Source,
    /// The definition, normalised (what the API shows).
    pub definition: TriggerDefinition,
    filter: Option<Program>,
    input: Option<Program>,
    target: CompiledTarget,
}

#[derive(Debug)]
enum CompiledTarget {
    Flow(String),
    Machine { machine: String, id: Option<Program> },
    Event { instance: Program, event: String, create: bool },
    Function(String),
    Publish { topic: String, key: Option<Program> },
}

/// Parses a trigger (YAML or JSON), checking its shape.
pub fn parse_trigger(body: &[u8], format: DefinitionFormat) -> Result<TriggerDefinition, DefinitionError> {
    parse_source(body, format)
}

/// The webhook schemes.
pub const WEBHOOK_SCHEMES: &[&str] = &["standard-webhooks", "github", "stripe", "hmac"];

/// Checks a trigger put as `space:name`: one source, one target, expressions that type-check.
pub fn compile_trigger(def: TriggerDefinition, space: &str, name: &str) -> Result<CompiledTrigger, DefinitionError> {
    let mut errors = Vec::new();
    let mut error = |path: &str, message: String| errors.push(FieldError::new(path, message));
    if let Some(own) = &def.name
        && own != name
    {
        error("name", format!("is {own:?} but the trigger is put as {name:?}"));
    }
    let s = &def.source;
    let given = [s.webhook.is_some(), s.cron.is_some(), s.interval.is_some(), s.at.is_some(), s.event.is_some()];
    let (mut source, mut declarations) = (None, base_declarations());
    match given.iter().filter(|g| **g).count() {
        1 => {}
        0 => error("source", "give one of webhook, cron, interval, at or event".into()),
        _ => error("source", "give exactly one of webhook, cron, interval, at or event".into()),
    }
    if let Some(w) = &s.webhook {
        check_webhook(w, &mut error);
        declarations = declarations
            .variable("body", ExprType::Dyn)
            .variable("headers", ExprType::json_object())
            .variable("query", ExprType::json_object())
            .variable("delivery_id", ExprType::Dyn);
        source = Some(Source::Webhook(w.clone()));
    }
    let schedule_declarations = |d: Declarations| d.variable("fire_time", ExprType::String);
    if let Some(c) = &s.cron {
        declarations = schedule_declarations(declarations);
        match Schedule::cron(&c.schedule, c.timezone.as_deref()) {
            Ok(schedule) => {
                let (overlap, catch_up_ms) = (c.overlap.unwrap_or_default(), c.catch_up.unwrap_or(0));
                source = Some(Source::Schedule { schedule, overlap, catch_up_ms });
            }
            Err(e) => error("source.cron", e.to_string()),
        }
    }
    if let Some(i) = &s.interval {
        declarations = schedule_declarations(declarations);
        match Schedule::interval(i.every, 0) {
            Ok(schedule) => {
                let (overlap, catch_up_ms) = (i.overlap.unwrap_or_default(), i.catch_up.unwrap_or(0));
                source = Some(Source::Schedule { schedule, overlap, catch_up_ms });
            }
            Err(e) => error("source.interval.every", e.to_string()),
        }
    }
    if let Some(a) = &s.at {
        declarations = schedule_declarations(declarations);
        match chrono::DateTime::parse_from_rfc3339(&a.time) {
            Ok(at) => {
                let schedule = Schedule::Once { at_ms: at.timestamp_millis() };
                source = Some(Source::Schedule { schedule, overlap: Overlap::AllowAll, catch_up_ms: u64::MAX });
            }
            Err(e) => error("source.at.time", format!("{:?} is not an RFC 3339 time: {e}", a.time)),
        }
    }
    if let Some(e) = &s.event {
        if e.kinds.iter().any(|k| k.trim().is_empty() || k.len() > 128) {
            error("source.event.kinds", "each kind is 1 to 128 characters (`instance.transitioned`)".into());
        }
        declarations = declarations.variable("record", ExprType::json_object());
        match Program::compile(&e.when, &declarations) {
            Ok(program) => source = Some(Source::Event(program)),
            Err(problem) => error("source.event.when", problem.to_string()),
        }
    }
    let program = |path: &str, text: &Option<String>, errors: &mut Vec<FieldError>| -> Option<Program> {
        let text = text.as_ref()?;
        match Program::compile(text, &declarations) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(FieldError::new(path, e.to_string()));
                None
            }
        }
    };
    let filter = program("filter", &def.filter, &mut errors);
    let t = &def.target;
    let mut target = None;
    let kinds = [t.flow.is_some(), t.machine.is_some(), t.instance.is_some(), t.function.is_some(), t.topic.is_some()];
    match kinds.iter().filter(|k| **k).count() {
        1 => {}
        0 => errors.push(FieldError::new("target", "give one of flow, machine, instance, function or topic")),
        _ => errors.push(FieldError::new("target", "give exactly one of flow, machine, instance, function or topic")),
    }
    let local = |path: &str, value: &str, errors: &mut Vec<FieldError>| -> String {
        // `space:name` of the trigger's own space, or a name.
        let name = match value.split_once(':') {
            Some((other, name)) if other == space => name,
            Some(_) => {
                errors.push(FieldError::new(
                    path,
                    format!("{value:?} is in another space; a trigger targets its own space"),
                ));
                return value.to_owned();
            }
            None => value,
        };
        if let Err(problem) = check_segment(name) {
            errors.push(FieldError::new(path, format!("{name:?}: {}", problem.segment_text())));
        }
        name.to_owned()
    };
    let input = program("target.input", &t.input, &mut errors);
    if let Some(flow) = &t.flow {
        target = Some(CompiledTarget::Flow(local("target.flow", flow, &mut errors)));
    }
    if let Some(machine) = &t.machine {
        let id = program("target.id", &t.id, &mut errors);
        target = Some(CompiledTarget::Machine { machine: local("target.machine", machine, &mut errors), id });
    }
    if t.instance.is_some() {
        let event = t.event.clone().unwrap_or_default();
        if event.trim().is_empty() {
            errors.push(FieldError::new("target.event", "missing; name the event to send to the instance"));
        }
        if let Some(instance) = program("target.instance", &t.instance, &mut errors) {
            target = Some(CompiledTarget::Event { instance, event, create: t.create });
        }
    } else if t.event.is_some() || t.create {
        errors.push(FieldError::new("target.event", "goes with `instance` (the instance to send it to)"));
    }
    if let Some(function) = &t.function {
        target = Some(CompiledTarget::Function(local("target.function", function, &mut errors)));
    }
    if let Some(topic) = &t.topic {
        let key = program("target.key", &t.key, &mut errors);
        target = Some(CompiledTarget::Publish { topic: local("target.topic", topic, &mut errors), key });
    }
    if t.id.is_some() && t.machine.is_none() {
        errors.push(FieldError::new("target.id", "goes with `machine`"));
    }
    if t.key.is_some() && t.topic.is_none() {
        errors.push(FieldError::new("target.key", "goes with `topic`"));
    }
    if !errors.is_empty() {
        return Err(DefinitionError::Invalid(errors));
    }
    let (Some(source), Some(target)) = (source, target) else {
        return Err(DefinitionError::Invalid(vec![FieldError::new("", "the trigger has no usable source or target")]));
    };
    let mut definition = def;
    definition.name = Some(name.to_owned());
    Ok(CompiledTrigger { name: name.to_owned(), source, definition, filter, input, target })
}

/// The variables every trigger expression sees.
fn base_declarations() -> Declarations {
    Declarations::new()
        .variable("trigger", ExprType::String)
        .variable("now", ExprType::Timestamp)
        .variable("env", ExprType::json_object())
}

fn check_webhook(w: &WebhookSpec, error: &mut impl FnMut(&str, String)) {
    if !WEBHOOK_SCHEMES.contains(&w.scheme.as_str()) {
        error("source.webhook.scheme", format!("{:?}: expected one of {}", w.scheme, WEBHOOK_SCHEMES.join(", ")));
    }
    for (i, secret) in w.secrets.iter().enumerate() {
        let path = format!("source.webhook.secrets[{i}]");
        match SecretTemplate::parse(secret) {
            Ok(t) if t.secrets().count() == 1 && secret.trim().starts_with("{{") && secret.trim().ends_with("}}") => {}
            _ => error(
                &path,
                "must be a reference to a space secret, {{secrets.NAME}} (set it with `switchyard secret set NAME`), so the definition holds no secret".into(),
            ),
        }
    }
    let needs_secret = w.scheme != "standard-webhooks" || w.public_keys.is_empty();
    if needs_secret && w.secrets.is_empty() {
        error(
            "source.webhook.secrets",
            "missing; give at least one {{secrets.NAME}} (or, for standard-webhooks, public_keys)".into(),
        );
    }
    if w.scheme != "standard-webhooks" && !w.public_keys.is_empty() {
        error("source.webhook.public_keys", "only standard-webhooks (v1a) verifies with public keys".into());
    }
    let hmac_only = [
        ("header", w.header.is_some()),
        ("algorithm", w.algorithm.is_some()),
        ("encoding", w.encoding.is_some()),
        ("prefix", w.prefix.is_some()),
        ("id_header", w.id_header.is_some()),
    ];
    if w.scheme == "hmac" {
        if w.header.as_deref().is_none_or(|h| !crate::env::is_header_name(h)) {
            error("source.webhook.header", "hmac needs the header carrying the signature (a valid header name)".into());
        }
        if let Some(a) = &w.algorithm
            && !["sha256", "sha512"].contains(&a.as_str())
        {
            error("source.webhook.algorithm", format!("{a:?}: expected sha256 or sha512"));
        }
        if let Some(e) = &w.encoding
            && !["hex", "base64"].contains(&e.as_str())
        {
            error("source.webhook.encoding", format!("{e:?}: expected hex or base64"));
        }
    } else {
        for (field, given) in hmac_only {
            if given {
                error(&format!("source.webhook.{field}"), "only the hmac scheme takes it".into());
            }
        }
    }
    if w.rate_limit == Some(0) {
        error("source.webhook.rate_limit", "at least 1 request a second (leave it out for no limit)".into());
    }
    if w.tolerance.is_some_and(|t| t == 0 || t > 86_400_000) {
        error("source.webhook.tolerance", "between 1s and 24h".into());
    }
}

impl CompiledTrigger {
    /// What one delivery does, given the source's variables (`body`, `fire_time`, `record`…)
    /// and `env`, at `now`: `None` when the filter refuses it.
    pub fn fire(&self, vars: &[(&str, &Json)], now: Now) -> Result<Option<Firing>, FireError> {
        let name = Json::String(self.name.clone());
        let mut all: Vec<(&str, &Json)> = Vec::with_capacity(vars.len() + 1);
        all.push(("trigger", &name));
        all.extend_from_slice(vars);
        let eval = |field: &'static str, program: &Program| {
            program.evaluate_json_at(&all, now).map_err(|e| FireError { field, message: e.to_string() })
        };
        if let Some(filter) = &self.filter {
            match eval("filter", filter)? {
                Json::Bool(true) => {}
                Json::Bool(false) => return Ok(None),
                other => {
                    return Err(FireError { field: "filter", message: format!("must be a bool, not {other}") });
                }
            }
        }
        let input = match &self.input {
            Some(program) => eval("target.input", program)?,
            None => self.default_input(vars),
        };
        let text = |field: &'static str, program: &Program| match eval(field, program)? {
            Json::String(s) => Ok(s),
            other => Err(FireError { field, message: format!("must be a string, not {other}") }),
        };
        Ok(Some(match &self.target {
            CompiledTarget::Flow(flow) => Firing::Flow { flow: flow.clone(), input },
            CompiledTarget::Machine { machine, id } => Firing::Machine {
                machine: machine.clone(),
                id: id.as_ref().map(|p| text("target.id", p)).transpose()?,
                ctx: input,
            },
            CompiledTarget::Event { instance, event, create } => Firing::Event {
                instance: text("target.instance", instance)?,
                event: event.clone(),
                payload: input,
                create: *create,
            },
            CompiledTarget::Function(function) => Firing::Function { function: function.clone(), input },
            CompiledTarget::Publish { topic, key } => Firing::Publish {
                topic: topic.clone(),
                message: input,
                key: key.as_ref().map(|p| text("target.key", p)).transpose()?,
            },
        }))
    }

    /// Whether any of its expressions reads `env` (only then does a firing load the space's
    /// values).
    pub fn reads_env(&self) -> bool {
        let mut programs: Vec<&Program> = self.filter.iter().chain(self.input.iter()).collect();
        match &self.target {
            CompiledTarget::Machine { id: Some(p), .. } | CompiledTarget::Publish { key: Some(p), .. } => {
                programs.push(p)
            }
            CompiledTarget::Event { instance, .. } => programs.push(instance),
            _ => {}
        }
        if let Source::Event(when) = &self.source {
            programs.push(when);
        }
        programs.iter().any(|p| p.reads("env"))
    }

    /// Whether a firing starts something that runs on (a flow run or an instance), which an
    /// overlap policy can find still going.
    pub fn starts_a_run(&self) -> bool {
        matches!(self.target, CompiledTarget::Flow(_) | CompiledTarget::Machine { .. })
    }

    /// The input without a mapping: the webhook's body, the log record, or the fire time.
    fn default_input(&self, vars: &[(&str, &Json)]) -> Json {
        let get = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).clone());
        match &self.source {
            Source::Webhook(_) => get("body").unwrap_or(Json::Null),
            Source::Event(_) => get("record").unwrap_or(Json::Null),
            Source::Schedule { .. } => serde_json::json!({ "fire_time": get("fire_time").unwrap_or(Json::Null) }),
        }
    }

    /// Whether a log record matches an event-pattern source (`false` for other sources).
    pub fn matches_record(&self, vars: &[(&str, &Json)], now: Now) -> Result<bool, FireError> {
        let Source::Event(when) = &self.source else { return Ok(false) };
        let name = Json::String(self.name.clone());
        let mut all: Vec<(&str, &Json)> = vec![("trigger", &name)];
        all.extend_from_slice(vars);
        match when.evaluate_json_at(&all, now) {
            Ok(Json::Bool(b)) => Ok(b),
            Ok(other) => Err(FireError { field: "source.event.when", message: format!("must be a bool, not {other}") }),
            Err(e) => Err(FireError { field: "source.event.when", message: e.to_string() }),
        }
    }
}
