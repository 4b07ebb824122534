//! Validation of a [`FlowDefinition`] and its compilation to a machine.
//!
//! Every node `X` becomes the state `X`, entered by the edges that lead to it. `X` is left in
//! the step that enters it (eventless transitions): it records the node's start in
//! `nodes.X` and either computes the node's output at once (`transform`, `set`, `condition`,
//! `switch`, `publish`, `send_event`, `succeed`, `fail`) or goes on to `X.run`, the state that
//! does the node's work (an action, a wait, a timer). When the node is done, `X.out` follows
//! its edges, in order, the first that passes; when none does, the run succeeds with the
//! node's output. Node ids have no dots, so they never collide with these states, nor with
//! `flow.start`, `flow.succeeded` and `flow.failed`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value as Json;

use super::{EdgeSpec, FlowDefinition, NodeSpec};
use crate::definition::{
    CompiledMachine, DefinitionError, EffectSpec, FieldError, FromStates, HttpSpec, InvokeSpec, Join,
    MachineDefinition, OutcomeSpec, Outcomes, PublishSpec, SendSpec, StateSpec, States, TransitionSpec, WaitSpec,
};
use crate::expr::{Declarations, ExprType, Program, prefix_variables};

/// The state a run starts in.
pub const START_STATE: &str = "flow.start";
/// The state a flow with several start nodes runs them from, at once.
pub const STARTS_STATE: &str = "flow.starts";
/// The state a retried run passes through to the node it resumes at (`ctx.resume`).
pub const RESUME_STATE: &str = "flow.resume";
/// The final state of a run that succeeded.
pub const SUCCEEDED_STATE: &str = "flow.succeeded";
/// The final state of a run that failed.
pub const FAILED_STATE: &str = "flow.failed";
/// How many times one node may run in one run unless the flow says otherwise.
pub const DEFAULT_MAX_ITERATIONS: u32 = 100;
/// The most `max_iterations` may be.
pub const MAX_ITERATIONS: u32 = 1_000;
/// The most nodes a flow may have.
pub const MAX_NODES: usize = 500;

/// The variables a flow's expressions read, and what they read in the machine.
const FLOW_VARIABLES: [&str; 5] = ["input", "vars", "nodes", "item", "index"];

/// The kinds of node, with the fields each takes beyond `id`, `kind` and `input`.
const KINDS: &[(&str, &[&str])] = &[
    ("function", &["function", "version", "retry", "timeout", "on_error"]),
    ("http", &["method", "url", "headers", "secret_headers", "body", "retry", "timeout", "on_error"]),
    ("transform", &["value"]),
    ("set", &["vars"]),
    ("condition", &["if"]),
    ("switch", &["value"]),
    ("delay", &["duration", "until"]),
    ("wait", &["event", "approval", "timeout", "on_error"]),
    ("subflow", &["flow", "timeout", "on_error"]),
    ("publish", &["topic", "message", "key"]),
    ("send_event", &["instance", "event", "payload"]),
    ("fail", &["code", "message"]),
    ("succeed", &["value"]),
    ("foreach", &["items", "do", "concurrency", "on_error"]),
    ("parallel", &["branches", "join", "on_error"]),
];

/// Validates `flow` (collecting every problem) and compiles it to a machine whose canonical
/// JSON keeps the flow's own canonical form under `flow`.
pub fn compile_flow(flow: FlowDefinition, name: &str) -> Result<CompiledMachine, DefinitionError> {
    let mut cx = FlowCompiler::new(&flow, name);
    cx.check_top();
    let ids = cx.check_nodes();
    let outgoing = cx.check_edges(&ids);
    let starts = cx.start_nodes(&ids);
    if !cx.errors.is_empty() {
        return Err(DefinitionError::Invalid(cx.errors));
    }
    let cyclic = cyclic_nodes(&flow, &ids);
    let mut states: Vec<(String, StateSpec)> = Vec::new();
    let mut transitions = Vec::new();
    // A retried run names the node to resume at; every other run begins at the start node.
    let resume = OutcomeSpec {
        when: Some("has(ctx.resume) && ctx.resume != null".to_owned()),
        to: RESUME_STATE.to_owned(),
        assign: None,
    };
    let begin = match starts.as_slice() {
        [only] => (*only).to_owned(),
        _ => {
            // Several start nodes run at once, as the branches of a parallel that ends the run.
            let (spec, ..) = cx.fan_out_state(None, &starts, Join::All);
            states.push((STARTS_STATE.to_owned(), spec));
            STARTS_STATE.to_owned()
        }
    };
    states.push((START_STATE.to_owned(), always(vec![resume, goto(&begin, None)])));
    let mut at_node: Vec<OutcomeSpec> = flow
        .nodes
        .iter()
        .map(|node| OutcomeSpec {
            when: Some(format!("ctx.resume == '{}'", node.id)),
            to: node.id.clone(),
            assign: Some(BTreeMap::from([("resume".to_owned(), "null".to_owned())])),
        })
        .collect();
    // A node this version does not have (a retry after the flow changed): the run fails, saying
    // so, rather than start over and repeat what ran.
    let missing = "{'code': 'resume_failed', 'message': 'node ' + string(ctx.resume) + \
                   ' is not in this version of the flow; rerun the run instead'}";
    at_node.push(goto(FAILED_STATE, Some(BTreeMap::from([("error".to_owned(), missing.to_owned())]))));
    states.push((RESUME_STATE.to_owned(), always(at_node)));
    for node in &flow.nodes {
        let edges = outgoing.get(node.id.as_str()).map(Vec::as_slice).unwrap_or_default();
        cx.node_states(node, edges, cyclic.contains(node.id.as_str()), &mut states, &mut transitions);
    }
    states.push((SUCCEEDED_STATE.to_owned(), StateSpec { is_final: true, ..StateSpec::default() }));
    states.push((FAILED_STATE.to_owned(), StateSpec { is_final: true, failure: true, ..StateSpec::default() }));
    if !cx.errors.is_empty() {
        return Err(DefinitionError::Invalid(cx.errors));
    }
    let context_schema = flow.input_schema.as_ref().map(
        |schema| serde_json::json!({ "type": "object", "required": ["input"], "properties": { "input": schema } }),
    );
    let canonical = serde_json::to_value(&flow).unwrap_or(Json::Null);
    let machine = MachineDefinition {
        name: flow.name.clone(),
        initial: Some(START_STATE.to_owned()),
        states: States::Map(states),
        final_states: Vec::new(),
        transitions,
        context_schema,
        timeout: None,
        flow: Some(canonical),
    };
    CompiledMachine::compile(machine).map_err(|e| match e {
        // A valid flow compiles to a valid machine, but for what only the machine checks
        // (a topic's name, a function's address): named by the node it came from.
        DefinitionError::Invalid(errors) => DefinitionError::Invalid(errors.into_iter().map(machine_error).collect()),
        other => other,
    })
}

/// Names a machine's field error by the node whose state it is about.
fn machine_error(error: FieldError) -> FieldError {
    let node = error.path.strip_prefix("states.").and_then(|rest| rest.split('.').next());
    match node {
        Some(node) if !node.is_empty() && node != "flow" => FieldError::new(
            format!("nodes.{node}"),
            format!("{} (in the compiled machine: {})", error.message, error.path),
        ),
        _ => error,
    }
}

struct FlowCompiler<'f> {
    flow: &'f FlowDefinition,
    /// The machine's name: children of foreach and parallel nodes are runs of it.
    name: &'f str,
    declarations: Declarations,
    errors: Vec<FieldError>,
    max_iterations: u32,
}

impl<'f> FlowCompiler<'f> {
    fn new(flow: &'f FlowDefinition, name: &'f str) -> Self {
        let declarations = Declarations::new()
            .variable("input", ExprType::Dyn)
            .variable("vars", ExprType::json_object())
            .variable("nodes", ExprType::json_object())
            .variable("item", ExprType::Dyn)
            .variable("index", ExprType::Dyn)
            .variable("now", ExprType::Timestamp)
            .variable("env", ExprType::json_object());
        Self {
            flow,
            name,
            declarations,
            errors: Vec::new(),
            max_iterations: flow.max_iterations.unwrap_or(DEFAULT_MAX_ITERATIONS),
        }
    }

    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(path, message));
    }

    fn check_top(&mut self) {
        if let Some(name) = &self.flow.name
            && let Err(problem) = crate::address::check_segment(name)
        {
            self.error("name", format!("invalid flow name {name:?}: {}", problem.segment_text()));
        }
        if let Some(n) = self.flow.max_iterations
            && !(1..=MAX_ITERATIONS).contains(&n)
        {
            self.error("max_iterations", format!("must be between 1 and {MAX_ITERATIONS}"));
        }
        if let Some(schema) = &self.flow.input_schema {
            if !schema.is_object() {
                self.error("input_schema", "must be a JSON object (a JSON Schema)");
            } else if let Err(e) = jsonschema::validator_for(schema) {
                self.error("input_schema", format!("invalid JSON Schema: {e}"));
            }
        }
        if self.flow.nodes.is_empty() {
            self.error("nodes", "a flow needs at least one node");
        }
        if self.flow.nodes.len() > MAX_NODES {
            self.error("nodes", format!("a flow has at most {MAX_NODES} nodes"));
        }
    }

    /// Checks every node's id, kind and fields; returns the valid ids.
    fn check_nodes(&mut self) -> BTreeSet<&'f str> {
        let mut ids = BTreeSet::new();
        for (i, node) in self.flow.nodes.iter().enumerate() {
            let at = if valid_id(&node.id) { format!("nodes.{}", node.id) } else { format!("nodes[{i}]") };
            if !valid_id(&node.id) {
                self.error(
                    format!("{at}.id"),
                    format!(
                        "invalid node id {:?}: use a-z, 0-9 and _, starting with a letter, at most 64 characters, not a CEL keyword \
                         (it is read as nodes.<id> in expressions)",
                        node.id
                    ),
                );
            } else if !ids.insert(node.id.as_str()) {
                self.error(format!("{at}.id"), format!("duplicate node id {:?}", node.id));
            }
            let Some((_, allowed)) = KINDS.iter().find(|(kind, _)| *kind == node.kind) else {
                let known: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
                self.error(
                    format!("{at}.kind"),
                    format!("unknown kind {:?}; expected one of {}", node.kind, known.join(", ")),
                );
                continue;
            };
            for field in present_fields(node) {
                if !allowed.contains(&field) {
                    self.error(format!("{at}.{field}"), format!("not a field of a {} node", node.kind));
                }
            }
            self.check_kind(&at, node);
            for (field, source) in expressions(node) {
                self.check_expression(&format!("{at}.{field}"), source);
            }
        }
        ids
    }

    /// The required fields of each kind, and the values only a kind can check.
    fn check_kind(&mut self, at: &str, node: &NodeSpec) {
        let require = |cx: &mut Self, field: &str, present: bool| {
            if !present {
                cx.error(format!("{at}.{field}"), format!("missing; a {} node needs it", node.kind));
            }
        };
        match node.kind.as_str() {
            "function" => require(self, "function", node.function.is_some()),
            "http" => require(self, "url", node.url.is_some()),
            "transform" | "switch" => require(self, "value", node.value.is_some()),
            "set" => {
                require(self, "vars", !node.vars.is_empty());
                for name in node.vars.keys() {
                    if !valid_variable(name) {
                        self.error(
                            format!("{at}.vars.{name}"),
                            "a variable name uses letters, digits and _, starting with a letter or _",
                        );
                    }
                }
            }
            "condition" => require(self, "if", node.condition.is_some()),
            "delay" => {
                if node.duration.is_some() == node.until.is_some() {
                    self.error(format!("{at}.duration"), "give exactly one of `duration` or `until`");
                }
                if let Some(ms) = node.duration
                    && (ms == 0 || ms > 366 * 24 * 3600 * 1000)
                {
                    self.error(format!("{at}.duration"), "must be more than 0 and at most 366 days");
                }
            }
            "wait" => {
                if node.event.is_some() == node.approval {
                    self.error(format!("{at}.event"), "give exactly one of `event` or `approval: true`");
                }
                if let Some(event) = &node.event
                    && !valid_event(event)
                {
                    self.error(
                        format!("{at}.event"),
                        format!(
                            "invalid event name {event:?}: use letters, digits, '_', '-' and '.', not `done.`/`error.`"
                        ),
                    );
                }
            }
            "subflow" => {
                require(self, "flow", node.flow.is_some());
                if let Some(flow) = &node.flow
                    && let Err(problem) = crate::address::check_segment(flow)
                {
                    self.error(format!("{at}.flow"), format!("invalid flow name {flow:?}: {}", problem.segment_text()));
                }
            }
            "publish" => {
                require(self, "topic", node.topic.is_some());
                require(self, "message", node.message.is_some());
            }
            "send_event" => {
                require(self, "instance", node.instance.is_some());
                require(self, "event", node.event.is_some());
                if let Some(event) = &node.event
                    && !valid_event(event)
                {
                    self.error(format!("{at}.event"), format!("invalid event name {event:?}"));
                }
            }
            "foreach" => {
                require(self, "items", node.items.is_some());
                require(self, "do", node.do_node.is_some());
                if let Some(body) = &node.do_node {
                    self.check_entered(&format!("{at}.do"), body, &node.id);
                }
                if node.concurrency == Some(0) {
                    self.error(format!("{at}.concurrency"), "must be at least 1");
                }
            }
            "parallel" => {
                require(self, "branches", !node.branches.is_empty());
                for (i, branch) in node.branches.iter().enumerate() {
                    self.check_entered(&format!("{at}.branches[{i}]"), branch, &node.id);
                    if node.branches[..i].contains(branch) {
                        self.error(format!("{at}.branches[{i}]"), format!("{branch:?} is already a branch"));
                    }
                }
                match node.join {
                    Some(Join::First(0)) => self.error(format!("{at}.join"), "must be at least 1 (or `all`, `any`)"),
                    Some(Join::First(n)) if n as usize > node.branches.len() => self.error(
                        format!("{at}.join"),
                        format!("{n} branches cannot complete out of {}", node.branches.len()),
                    ),
                    _ => {}
                }
            }
            "fail" => {
                if let Some(code) = &node.code
                    && (code.is_empty() || code.len() > 128 || code.chars().any(char::is_whitespace))
                {
                    self.error(format!("{at}.code"), "an error code is 1 to 128 characters without whitespace");
                }
            }
            _ => {}
        }
        if let Some(on_error) = &node.on_error
            && !matches!(on_error.as_str(), "fail" | "continue")
            && !self.flow.nodes.iter().any(|n| &n.id == on_error)
        {
            self.error(
                format!("{at}.on_error"),
                format!("{on_error:?} is neither `fail`, `continue` nor the id of a node"),
            );
        }
        if let Some(timeout) = node.timeout {
            // An attempt is bounded by a day; a wait or a subflow by a timer's year.
            let (max, words) = match node.kind.as_str() {
                "wait" | "subflow" => (366 * 24 * 3600 * 1000, "366 days"),
                _ => (24 * 3600 * 1000, "24 hours"),
            };
            if timeout == 0 || timeout > max {
                self.error(format!("{at}.timeout"), format!("must be more than 0 and at most {words}"));
            }
        }
        if let Some(retry) = &node.retry
            && let Err(problems) = retry.validate_at(&format!("{at}.retry"))
        {
            self.errors.extend(problems);
        }
    }

    fn check_expression(&mut self, path: &str, source: &str) -> Option<Program> {
        match Program::compile(source, &self.declarations) {
            Ok(program) => Some(program),
            Err(e) => {
                self.error(path, e.to_string());
                None
            }
        }
    }

    /// Checks the edges; returns, per node, the edges leaving it in document order.
    fn check_edges(&mut self, ids: &BTreeSet<&'f str>) -> HashMap<&'f str, Vec<&'f EdgeSpec>> {
        let kinds: HashMap<&str, &str> = self.flow.nodes.iter().map(|n| (n.id.as_str(), n.kind.as_str())).collect();
        let mut outgoing: HashMap<&str, Vec<&EdgeSpec>> = HashMap::new();
        for (i, edge) in self.flow.edges.iter().enumerate() {
            let at = format!("edges[{i}]");
            for (field, node) in [("from", &edge.from), ("to", &edge.to)] {
                if !ids.contains(node.as_str()) {
                    self.error(format!("{at}.{field}"), format!("unknown node {node:?}"));
                }
            }
            let kind = kinds.get(edge.from.as_str()).copied().unwrap_or("");
            if matches!(kind, "succeed" | "fail") {
                self.error(format!("{at}.from"), format!("a {kind} node ends the run; no edge can leave it"));
            }
            if let Some(branch) = &edge.branch {
                match kind {
                    "condition" if !matches!(branch.as_str(), "true" | "false") => {
                        self.error(format!("{at}.branch"), "a condition's branches are `true` and `false`");
                    }
                    "condition" | "switch" => {}
                    _ => self.error(format!("{at}.branch"), "only edges from a condition or a switch have a branch"),
                }
            }
            if let Some(when) = &edge.when {
                self.check_expression(&format!("{at}.when"), when);
            }
            outgoing.entry(edge.from.as_str()).or_default().push(edge);
        }
        for (from, edges) in &outgoing {
            let unguarded = |e: &&EdgeSpec| e.when.is_none() && e.branch.as_deref().is_none_or(|b| b == "default");
            if let Some(first) = edges.iter().position(unguarded)
                && first + 1 < edges.len()
            {
                self.error(
                    format!("nodes.{from}"),
                    "an edge without `when` (or a default branch) leaves this node before others, so they can never be \
                     taken; put it last (to run branches at once, use a parallel node)",
                );
            }
        }
        outgoing
    }

    /// The nodes no edge (nor an `on_error`) leads to; a flow has one, for now.
    fn start_nodes(&mut self, ids: &BTreeSet<&'f str>) -> Vec<&'f str> {
        let mut entered: BTreeSet<&str> = self.flow.edges.iter().map(|e| e.to.as_str()).collect();
        entered.extend(self.flow.nodes.iter().filter_map(|n| n.on_error.as_deref()));
        // A foreach's body and a parallel's branches start where their node says.
        entered.extend(self.flow.nodes.iter().filter_map(|n| n.do_node.as_deref()));
        entered.extend(self.flow.nodes.iter().flat_map(|n| n.branches.iter().map(String::as_str)));
        let starts: Vec<&str> = self
            .flow
            .nodes
            .iter()
            .map(|n| n.id.as_str())
            .filter(|id| ids.contains(id) && !entered.contains(id))
            .collect();
        match starts.as_slice() {
            [] if !ids.is_empty() => self.error(
                "edges",
                "every node has an edge leading to it, so the run has nowhere to start; a start node is one no edge \
                 leads to",
            ),
            _ => {}
        }
        starts
    }

    /// Checks a node a foreach or parallel starts: it exists, and no edge leads to it (it is
    /// entered by its fan-out only).
    fn check_entered(&mut self, path: &str, target: &str, by: &str) {
        if target == by {
            self.error(path, "a node cannot start its own body");
        } else if !self.flow.nodes.iter().any(|n| n.id == target) {
            self.error(path, format!("unknown node {target:?}"));
        } else if self.flow.edges.iter().any(|e| e.to == target) {
            self.error(
                path,
                format!("an edge leads to {target:?}; a node that starts a body or a branch is entered by {by} only"),
            );
        }
    }

    /// The state that runs `starts` at once as children of this flow (a foreach's body once
    /// per item, else one child per start node), joined by `join`; the records of every node a
    /// branch reaches are merged back (not a foreach's: its items all run the same nodes).
    fn fan_out_state(
        &mut self,
        node: Option<&NodeSpec>,
        starts: &[&str],
        join: Join,
    ) -> (StateSpec, BTreeMap<String, String>) {
        let carried = "'input': ctx.input, 'vars': ctx.vars, 'nodes': ctx.nodes";
        let output_of = "result.map(r, type(r) == map && has(r.output) ? r.output : null)".to_owned();
        let mut assign = BTreeMap::new();
        let (for_each, input) = match node.filter(|n| n.kind == "foreach") {
            Some(node) => {
                let items = self.rewrite(&format!("nodes.{}.items", node.id), node.items.as_deref().unwrap_or("[]"));
                let input = format!(
                    "{{{carried}, 'output': item, 'item': item, 'index': index, 'resume': {}}}",
                    cel_string(starts.first().copied().unwrap_or(""))
                );
                (items, input)
            }
            None => {
                let list: Vec<String> = starts.iter().map(|s| cel_string(s)).collect();
                let given = match node {
                    Some(node) => format!("ctx.nodes.{}.input", node.id),
                    None => "ctx.input".to_owned(),
                };
                let input = format!("{{{carried}, 'output': {given}, 'branch': index, 'resume': item}}");
                // Every node a branch reaches, recorded by the first branch that reaches it.
                let mut claimed = BTreeSet::new();
                for (i, start) in starts.iter().enumerate() {
                    for reached in reachable(self.flow, start) {
                        if claimed.insert(reached) {
                            assign.insert(
                                format!("nodes.{reached}"),
                                format!(
                                    "type(result[{i}]) == map && has(result[{i}].nodes.{reached}) ? \
                                     result[{i}].nodes.{reached} : (has(ctx.nodes.{reached}) ? \
                                     ctx.nodes.{reached} : null)"
                                ),
                            );
                        }
                    }
                }
                (format!("[{}]", list.join(", ")), input)
            }
        };
        let invoke = InvokeSpec {
            machine: Some(self.name.to_owned()),
            input: Some(input),
            for_each: Some(for_each),
            concurrency: node.and_then(|n| n.concurrency),
            join: Some(join),
            // Only what the run reads back: a foreach's items can be many.
            collect: if node.is_some_and(|n| n.kind == "foreach") {
                vec!["output".to_owned()]
            } else {
                vec!["output".to_owned(), "nodes".to_owned()]
            },
            ..InvokeSpec::default()
        };
        let (on_done, on_error) = match node {
            Some(node) => {
                let mut done = done(&node.id, &output_of);
                done.extend(assign.clone());
                let on_error = self.error_path(node, "error", "string(error.code)", "string(error.message)");
                (goto_with(&format!("{}.out", node.id), done), on_error)
            }
            None => {
                let mut done = assign.clone();
                done.insert("output".to_owned(), output_of);
                let failed = BTreeMap::from([(
                    "error".to_owned(),
                    "{'code': string(error.code), 'message': string(error.message)}".to_owned(),
                )]);
                (goto_with(SUCCEEDED_STATE, done), goto_with(FAILED_STATE, failed))
            }
        };
        let spec = StateSpec {
            invoke: Some(invoke),
            on_done: Some(outcomes(vec![on_done])),
            on_error: Some(outcomes(vec![on_error])),
            ..StateSpec::default()
        };
        (spec, assign)
    }

    /// Rewrites a checked expression to read the run's ctx.
    fn rewrite(&mut self, path: &str, source: &str) -> String {
        match prefix_variables(source, &FLOW_VARIABLES, "ctx") {
            Ok(text) => text,
            Err(e) => {
                self.error(path, e.to_string());
                "null".to_owned()
            }
        }
    }

    /// The states (and wait transitions) of one node.
    fn node_states(
        &mut self,
        node: &NodeSpec,
        edges: &[&EdgeSpec],
        cyclic: bool,
        states: &mut Vec<(String, StateSpec)>,
        transitions: &mut Vec<TransitionSpec>,
    ) {
        let id = node.id.as_str();
        let at = format!("nodes.{id}");
        let field = |name: &str| format!("{at}.{name}");
        let input = match &node.input {
            Some(source) => format!("({})", self.rewrite(&field("input"), source)),
            None => "(has(ctx.output) ? ctx.output : ctx.input)".to_owned(),
        };
        let runs = format!("(has(ctx.nodes.{id}) && type(ctx.nodes.{id}) == map ? ctx.nodes.{id}.runs : 0) + 1");
        let run_state = format!("{id}.run");
        let out_state = format!("{id}.out");
        let mut entry = Vec::new();
        if cyclic {
            let message = format!(
                "node {id} ran {} times, the flow's max_iterations; a loop through it needs a condition that ends it",
                self.max_iterations
            );
            entry.push(OutcomeSpec {
                when: Some(format!(
                    "has(ctx.nodes.{id}) && type(ctx.nodes.{id}) == map && ctx.nodes.{id}.runs >= {}",
                    self.max_iterations
                )),
                to: FAILED_STATE.to_owned(),
                assign: Some(BTreeMap::from([(
                    "error".to_owned(),
                    format!("{{'code': 'loop_limit', 'message': {}, 'node': '{id}'}}", cel_string(&message)),
                )])),
            });
        }
        // The record of a node that computes its output in the step that enters it.
        let computed = |output: &str| {
            BTreeMap::from([(
                format!("nodes.{id}"),
                format!(
                    "{{'status': 'succeeded', 'input': {input}, 'output': {output}, 'runs': {runs}, \
                     'started_at': now, 'ended_at': now}}"
                ),
            )])
        };
        let running = BTreeMap::from([(
            format!("nodes.{id}"),
            format!("{{'status': 'running', 'input': {input}, 'runs': {runs}, 'started_at': now}}"),
        )]);
        let mut out_effects = Vec::new();
        let mut out_assign = BTreeMap::from([("output".to_owned(), format!("ctx.nodes.{id}.output"))]);
        let mut ends = false;
        // The states after `X` (the work, its timers), and what `X.out` does instead of following
        // edges, for a node that ends the run in failure.
        let mut extra: Vec<(String, StateSpec)> = Vec::new();
        let mut out_override = None;
        match node.kind.as_str() {
            "transform" | "switch" => {
                let value = self.rewrite(&field("value"), node.value.as_deref().unwrap_or("null"));
                entry.push(goto_with(&out_state, computed(&value)));
            }
            "succeed" => {
                let value = match &node.value {
                    Some(source) => self.rewrite(&field("value"), source),
                    None => input.clone(),
                };
                entry.push(goto_with(&out_state, computed(&value)));
                ends = true;
            }
            "condition" => {
                let test = self.rewrite(&field("if"), node.condition.as_deref().unwrap_or("false"));
                entry.push(goto_with(&out_state, computed(&format!("({test}) == true"))));
            }
            "set" => {
                let mut entries = Vec::new();
                for (name, source) in &node.vars {
                    let value = self.rewrite(&field(&format!("vars.{name}")), source);
                    entries.push(format!("{}: {value}", cel_string(name)));
                    out_assign.insert(format!("vars.{name}"), format!("ctx.nodes.{id}.output[{}]", cel_string(name)));
                }
                entry.push(goto_with(&out_state, computed(&format!("{{{}}}", entries.join(", ")))));
            }
            "publish" => {
                let message = self.rewrite(&field("message"), node.message.as_deref().unwrap_or("null"));
                let key = node.key.as_deref().map(|k| self.rewrite(&field("key"), k));
                entry.push(goto_with(&out_state, computed(&message)));
                out_effects.push(EffectSpec {
                    publish: Some(PublishSpec {
                        topic: node.topic.clone().unwrap_or_default(),
                        message: format!("ctx.nodes.{id}.output"),
                        key,
                    }),
                    send: None,
                });
            }
            "send_event" => {
                let payload = match &node.payload {
                    Some(source) => self.rewrite(&field("payload"), source),
                    None => "{}".to_owned(),
                };
                let instance = self.rewrite(&field("instance"), node.instance.as_deref().unwrap_or("''"));
                entry.push(goto_with(&out_state, computed(&payload)));
                out_effects.push(EffectSpec {
                    publish: None,
                    send: Some(SendSpec {
                        instance,
                        event: node.event.clone().unwrap_or_default(),
                        payload: Some(format!("ctx.nodes.{id}.output")),
                    }),
                });
            }
            "fail" => {
                let message = match &node.message {
                    Some(source) => format!("string({})", self.rewrite(&field("message"), source)),
                    None => cel_string(&format!("the run failed at node {id}")),
                };
                let code = cel_string(node.code.as_deref().unwrap_or("failed"));
                let record = format!(
                    "{{'status': 'failed', 'input': {input}, 'error': {{'code': {code}, 'message': {message}}}, \
                     'runs': {runs}, 'started_at': now, 'ended_at': now}}"
                );
                entry.push(goto_with(&out_state, BTreeMap::from([(format!("nodes.{id}"), record)])));
                let error = format!("ctx.nodes.{id}.error");
                let assign = BTreeMap::from([(
                    "error".to_owned(),
                    format!("{{'code': {error}.code, 'message': {error}.message, 'node': '{id}'}}"),
                )]);
                out_override = Some(always(vec![goto_with(FAILED_STATE, assign)]));
            }
            "function" | "http" | "subflow" => {
                entry.push(goto_with(&run_state, running));
                let mut invoke = InvokeSpec::default();
                let mut after = BTreeMap::new();
                let mut result = "result".to_owned();
                match node.kind.as_str() {
                    "function" => {
                        invoke.function = node.function.clone();
                        invoke.version = node.version;
                        invoke.input = Some(format!("ctx.nodes.{id}.input"));
                        invoke.timeout = node.timeout;
                        invoke.retry = node.retry.clone();
                    }
                    "http" => {
                        let url = self.rewrite(&field("url"), node.url.as_deref().unwrap_or("''"));
                        let mut headers = BTreeMap::new();
                        for (name, source) in &node.headers {
                            headers.insert(name.clone(), self.rewrite(&field(&format!("headers.{name}")), source));
                        }
                        let body = node.body.as_deref().map(|b| self.rewrite(&field("body"), b));
                        let problems = crate::env::check_secret_headers(&node.secret_headers, node.headers.keys());
                        for (header, problem) in problems {
                            self.error(field(&format!("secret_headers.{header}")), problem);
                        }
                        let secret_headers = node.secret_headers.clone();
                        invoke.http =
                            Some(HttpSpec { method: node.method.clone(), url, headers, body, secret_headers });
                        invoke.timeout = node.timeout;
                        invoke.retry = node.retry.clone();
                    }
                    _ => {
                        invoke.machine = node.flow.clone();
                        invoke.input = Some(format!("{{'input': ctx.nodes.{id}.input, 'vars': {{}}, 'nodes': {{}}}}"));
                        result = "(has(result.output) ? result.output : null)".to_owned();
                        if let Some(ms) = node.timeout {
                            after.insert(crate::jobs::millis::format(ms), format!("{id}.timeout"));
                        }
                    }
                }
                let mut on_error = self.error_path(node, "error", "string(error.code)", "string(error.message)");
                let mut on_done = done(id, &result);
                if node.kind != "subflow" {
                    // The attempt that succeeded, or the last one made.
                    let attempts = (format!("nodes.{id}.attempts"), "instance.attempt".to_owned());
                    on_done.insert(attempts.0.clone(), attempts.1.clone());
                    if let Some(assign) = on_error.assign.as_mut() {
                        assign.insert(attempts.0, attempts.1);
                    }
                }
                extra.push((
                    run_state,
                    StateSpec {
                        invoke: Some(invoke),
                        on_done: Some(outcomes(vec![goto_with(&out_state, on_done)])),
                        on_error: Some(outcomes(vec![on_error])),
                        after,
                        ..StateSpec::default()
                    },
                ));
                if let Some(ms) = node.timeout.filter(|_| node.kind == "subflow") {
                    let message = format!("the subflow did not finish within {}", crate::jobs::millis::format(ms));
                    let timed_out = self.literal_error(node, "timeout", &message);
                    extra.push((format!("{id}.timeout"), always(vec![timed_out])));
                }
            }
            "foreach" | "parallel" => {
                entry.push(goto_with(&run_state, running));
                let starts: Vec<&str> = match node.kind.as_str() {
                    "foreach" => node.do_node.as_deref().into_iter().collect(),
                    _ => node.branches.iter().map(String::as_str).collect(),
                };
                let join = if node.kind == "foreach" { Join::All } else { node.join.unwrap_or(Join::All) };
                let (spec, _) = self.fan_out_state(Some(node), &starts, join);
                extra.push((run_state, spec));
            }
            "delay" => {
                entry.push(goto_with(&run_state, running));
                let mut spec = StateSpec::default();
                let done_state = format!("{id}.done");
                if let Some(ms) = node.duration {
                    spec.after.insert(crate::jobs::millis::format(ms), done_state.clone());
                }
                if let Some(until) = &node.until {
                    let until = self.rewrite(&field("until"), until);
                    spec.after_expr.insert(until, done_state.clone());
                }
                extra.push((run_state, spec));
                let passed = done(id, &format!("ctx.nodes.{id}.input"));
                extra.push((done_state, always(vec![goto_with(&out_state, passed)])));
            }
            "wait" => {
                entry.push(goto_with(&run_state, running));
                let events: Vec<String> = match &node.event {
                    Some(event) => vec![event.clone()],
                    None => vec!["approve".to_owned(), "reject".to_owned()],
                };
                let timeout_state = format!("{id}.timeout");
                let wait = WaitSpec {
                    event: crate::definition::action::EventNames(events.clone()),
                    timeout: node.timeout,
                    on_timeout: node.timeout.map(|_| timeout_state.clone()),
                };
                let received = done(id, "event");
                transitions.push(TransitionSpec {
                    from: FromStates::One(run_state.clone()),
                    event: events[0].clone(),
                    to: out_state.clone(),
                    guard: None,
                    assign: Some(received),
                });
                if node.approval {
                    let rejected = self.error_path(
                        node,
                        "{'code': 'rejected', 'message': has(event.reason) ? string(event.reason) : 'rejected', \
                         'payload': event}",
                        "'rejected'",
                        "has(event.reason) ? string(event.reason) : 'rejected'",
                    );
                    transitions.push(TransitionSpec {
                        from: FromStates::One(run_state.clone()),
                        event: "reject".to_owned(),
                        to: rejected.to,
                        guard: None,
                        assign: rejected.assign,
                    });
                }
                extra.push((run_state, StateSpec { wait: Some(wait), ..StateSpec::default() }));
                if let Some(ms) = node.timeout {
                    let message = format!("no {} within {}", events.join(" or "), crate::jobs::millis::format(ms));
                    let timed_out = self.literal_error(node, "timeout", &message);
                    extra.push((timeout_state, always(vec![timed_out])));
                }
            }
            _ => {}
        }
        states.push((id.to_owned(), always(entry)));
        states.extend(extra);
        if let Some(spec) = out_override {
            states.push((out_state, spec));
            return;
        }
        // Where the node's completion leads: the first edge that passes, else the run's end.
        let mut next = Vec::new();
        if !ends {
            for edge in edges {
                let mut guards = Vec::new();
                match (node.kind.as_str(), edge.branch.as_deref()) {
                    (_, None | Some("default")) => {}
                    ("condition", Some(branch)) => guards.push(format!("ctx.nodes.{id}.output == {branch}")),
                    (_, Some(branch)) => guards.push(format!(
                        "type(ctx.nodes.{id}.output) in [string, int, uint, double, bool] && \
                             string(ctx.nodes.{id}.output) == {}",
                        cel_string(branch)
                    )),
                }
                if let Some(when) = &edge.when {
                    let path = format!("edges.{}->{}.when", edge.from, edge.to);
                    guards.push(format!("({})", self.rewrite(&path, when)));
                }
                let when = (!guards.is_empty()).then(|| guards.join(" && "));
                next.push(OutcomeSpec { when, to: edge.to.clone(), assign: Some(out_assign.clone()) });
            }
        }
        if next.last().is_none_or(|last| last.when.is_some()) {
            next.push(goto_with(SUCCEEDED_STATE, out_assign));
        }
        states.push((
            out_state,
            StateSpec { always: Some(outcomes(next)), on_entry: out_effects, ..StateSpec::default() },
        ));
    }

    /// Where a node's failure leads, per its `on_error`, with the error `error` (a CEL
    /// expression) and its code and message.
    fn error_path(&mut self, node: &NodeSpec, error: &str, code: &str, message: &str) -> OutcomeSpec {
        let id = node.id.as_str();
        let mut assign = BTreeMap::from([
            (format!("nodes.{id}.status"), "'failed'".to_owned()),
            (format!("nodes.{id}.error"), error.to_owned()),
            (format!("nodes.{id}.ended_at"), "now".to_owned()),
        ]);
        let to = match node.on_error.as_deref() {
            None | Some("fail") => {
                assign.insert("error".to_owned(), format!("{{'code': {code}, 'message': {message}, 'node': '{id}'}}"));
                FAILED_STATE.to_owned()
            }
            Some("continue") => {
                assign.insert(format!("nodes.{id}.output"), error.to_owned());
                format!("{id}.out")
            }
            Some(target) => {
                assign.insert("output".to_owned(), error.to_owned());
                target.to_owned()
            }
        };
        OutcomeSpec { when: None, to, assign: Some(assign) }
    }

    /// [`FlowCompiler::error_path`] for an error the flow makes itself (a timeout).
    fn literal_error(&mut self, node: &NodeSpec, code: &str, message: &str) -> OutcomeSpec {
        let (code, message) = (cel_string(code), cel_string(message));
        let error = format!("{{'code': {code}, 'message': {message}}}");
        self.error_path(node, &error, &code, &message)
    }
}

/// The assignments of a node that finished with `output`.
fn done(id: &str, output: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (format!("nodes.{id}.status"), "'succeeded'".to_owned()),
        (format!("nodes.{id}.output"), output.to_owned()),
        (format!("nodes.{id}.ended_at"), "now".to_owned()),
    ])
}

fn goto(to: &str, assign: Option<BTreeMap<String, String>>) -> OutcomeSpec {
    OutcomeSpec { when: None, to: to.to_owned(), assign }
}

fn goto_with(to: &str, assign: BTreeMap<String, String>) -> OutcomeSpec {
    goto(to, Some(assign))
}

fn outcomes(list: Vec<OutcomeSpec>) -> Outcomes {
    Outcomes(list)
}

fn always(list: Vec<OutcomeSpec>) -> StateSpec {
    StateSpec { always: Some(outcomes(list)), ..StateSpec::default() }
}

/// A CEL string literal holding `text`.
fn cel_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Words CEL reserves: an id like these could not be read as `nodes.<id>`.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// A node id: `[a-z][a-z0-9_]*`, at most 64 characters, not a word CEL reserves.
fn valid_id(id: &str) -> bool {
    !RESERVED.contains(&id)
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn valid_variable(name: &str) -> bool {
    !RESERVED.contains(&name)
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn valid_event(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with("done.")
        && !name.starts_with("error.")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The optional fields a node gives, by their names in the source.
fn present_fields(node: &NodeSpec) -> Vec<&'static str> {
    let fields = [
        ("retry", node.retry.is_some()),
        ("timeout", node.timeout.is_some()),
        ("on_error", node.on_error.is_some()),
        ("function", node.function.is_some()),
        ("version", node.version.is_some()),
        ("method", node.method.is_some()),
        ("url", node.url.is_some()),
        ("headers", !node.headers.is_empty()),
        ("secret_headers", !node.secret_headers.is_empty()),
        ("body", node.body.is_some()),
        ("value", node.value.is_some()),
        ("vars", !node.vars.is_empty()),
        ("if", node.condition.is_some()),
        ("duration", node.duration.is_some()),
        ("until", node.until.is_some()),
        ("event", node.event.is_some()),
        ("approval", node.approval),
        ("flow", node.flow.is_some()),
        ("topic", node.topic.is_some()),
        ("message", node.message.is_some()),
        ("key", node.key.is_some()),
        ("instance", node.instance.is_some()),
        ("payload", node.payload.is_some()),
        ("code", node.code.is_some()),
        ("items", node.items.is_some()),
        ("do", node.do_node.is_some()),
        ("concurrency", node.concurrency.is_some()),
        ("branches", !node.branches.is_empty()),
        ("join", node.join.is_some()),
    ];
    fields.into_iter().filter(|(_, present)| *present).map(|(name, _)| name).collect()
}

/// The CEL expressions a node gives, with their field names.
fn expressions(node: &NodeSpec) -> Vec<(String, &str)> {
    let mut out: Vec<(String, &str)> = Vec::new();
    let singles = [
        ("input", &node.input),
        ("url", &node.url),
        ("body", &node.body),
        ("value", &node.value),
        ("if", &node.condition),
        ("until", &node.until),
        ("message", &node.message),
        ("key", &node.key),
        ("instance", &node.instance),
        ("payload", &node.payload),
        ("items", &node.items),
    ];
    for (field, source) in singles {
        if let Some(source) = source {
            out.push((field.to_owned(), source));
        }
    }
    for (name, source) in &node.headers {
        out.push((format!("headers.{name}"), source));
    }
    for (name, source) in &node.vars {
        out.push((format!("vars.{name}"), source));
    }
    out
}

/// Every node reachable from `start` through edges and `on_error` (itself included).
fn reachable<'f>(flow: &'f FlowDefinition, start: &'f str) -> Vec<&'f str> {
    let mut seen: Vec<&str> = vec![start];
    let mut next = 0;
    while next < seen.len() {
        let node = seen[next];
        let targets = flow
            .edges
            .iter()
            .filter(|e| e.from == node)
            .map(|e| e.to.as_str())
            .chain(flow.nodes.iter().filter(|n| n.id == node).filter_map(|n| n.on_error.as_deref()));
        for target in targets {
            if !seen.contains(&target) && flow.nodes.iter().any(|n| n.id == target) {
                seen.push(target);
            }
        }
        next += 1;
    }
    seen
}

/// The nodes that can be reached again from themselves (through edges or `on_error`): only
/// they need the loop bound checked.
fn cyclic_nodes<'f>(flow: &'f FlowDefinition, ids: &BTreeSet<&'f str>) -> BTreeSet<&'f str> {
    let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
    for edge in &flow.edges {
        next.entry(edge.from.as_str()).or_default().push(edge.to.as_str());
    }
    for node in &flow.nodes {
        if let Some(target) = node.on_error.as_deref().filter(|t| ids.contains(t)) {
            next.entry(node.id.as_str()).or_default().push(target);
        }
    }
    let mut cyclic = BTreeSet::new();
    for &start in ids {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&str> = next.get(start).cloned().unwrap_or_default();
        while let Some(node) = stack.pop() {
            if node == start {
                cyclic.insert(start);
                break;
            }
            if seen.insert(node) {
                stack.extend(next.get(node).into_iter().flatten().copied());
            }
        }
    }
    cyclic
}
