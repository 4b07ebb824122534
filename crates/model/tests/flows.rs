//! Flows compiled to machines, driven step by step through the model (no store): every node
//! kind, the run's context, and every validation error.

use serde_json::{Map, Value, json};
use switchyard_model::definition::{DefinitionFormat, Effect, InvokeKind, MAX_ALWAYS_STEPS};
use switchyard_model::flow::{FAILED_STATE, SUCCEEDED_STATE, compile_flow, parse_flow};
use switchyard_model::{CompiledMachine, Input, InstanceInfo, TransitionError, parse_definition};

fn flow(yaml: &str) -> CompiledMachine {
    compile_flow(parse_flow(yaml.as_bytes(), DefinitionFormat::Yaml).expect("parses"), "f").expect("compiles")
}

fn refused(yaml: &str) -> Vec<String> {
    let parsed = match parse_flow(yaml.as_bytes(), DefinitionFormat::Yaml) {
        Ok(parsed) => parsed,
        Err(e) => return vec![e.to_string()],
    };
    match compile_flow(parsed, "f") {
        Ok(_) => panic!("compiled: {yaml}"),
        Err(e) => e.field_errors().iter().map(ToString::to_string).collect(),
    }
}

fn info() -> InstanceInfo<'static> {
    InstanceInfo { address: "s:f:r1", revision: 1, attempt: 0, env: None }
}

fn run_ctx(input: Value) -> Map<String, Value> {
    let Value::Object(map) = json!({ "input": input, "vars": {}, "nodes": {} }) else { unreachable!() };
    map
}

/// A run as the model sees it: where it is, its ctx, and the effects of the last step.
struct Run<'m> {
    machine: &'m CompiledMachine,
    state: String,
    ctx: Map<String, Value>,
    effects: Vec<Effect>,
}

impl<'m> Run<'m> {
    fn start(machine: &'m CompiledMachine, input: Value) -> Self {
        let ctx = run_ctx(input);
        let started = machine.start(&ctx, info(), 1_000).expect("starts");
        Run { machine, state: started.state, ctx: started.ctx.unwrap_or(ctx), effects: started.effects }
    }

    fn step(&mut self, input: Input<'_>) {
        let info = InstanceInfo { attempt: 2, ..info() };
        let outcome = self.machine.step(&self.state, &self.ctx, input, info, 2_000).expect("steps");
        self.state = outcome.to;
        self.ctx = outcome.ctx;
        self.effects = outcome.effects;
    }

    fn node(&self, id: &str) -> &Value {
        &self.ctx["nodes"][id]
    }

    fn invoked(&self) -> (InvokeKind, &Value) {
        self.effects
            .iter()
            .find_map(|e| match e {
                Effect::Invoke { kind, payload, .. } => Some((*kind, payload)),
                _ => None,
            })
            .expect("an invoke")
    }
}

#[test]
fn the_double_flow_of_the_issue_succeeds_with_41() {
    let machine = flow(
        "name: double
nodes:
  - { id: a, kind: transform, value: 'input.x * 2' }
  - { id: b, kind: transform, value: 'nodes.a.output + 1' }
edges:
  - { from: a, to: b }
",
    );
    let run = Run::start(&machine, json!({ "x": 20 }));
    assert_eq!(run.state, SUCCEEDED_STATE);
    assert_eq!(run.ctx["output"], json!(41));
    assert_eq!(run.node("a")["output"], json!(40));
    assert_eq!(run.node("a")["status"], json!("succeeded"));
    assert_eq!(run.node("a")["input"], json!({ "x": 20 }), "a start node's input is the run's input");
    assert_eq!(run.node("b")["input"], json!(40), "a node's input is the previous node's output");
    assert_eq!(run.node("b")["runs"], json!(1));
    assert!(run.node("b")["started_at"].is_string());
    assert_eq!(machine.flow().and_then(|f| f.get("name")), Some(&json!("double")));
    // The compiled machine reads back as the same machine.
    let again = CompiledMachine::from_canonical_json(machine.canonical_json()).expect("reloads");
    assert_eq!(again.canonical_json(), machine.canonical_json());
}

#[test]
fn a_function_node_invokes_with_its_input_and_records_result_and_error() {
    let yaml = "
nodes:
  - { id: fetch, kind: function, function: get-user, input: '{\"id\": input.user}', timeout: 5s,
      retry: { max_attempts: 3 } }
  - { id: shape, kind: transform, value: 'nodes.fetch.output.name' }
edges:
  - { from: fetch, to: shape }
";
    let machine = flow(yaml);
    let mut run = Run::start(&machine, json!({ "user": 7 }));
    assert_eq!(run.state, "fetch.run");
    let (kind, payload) = run.invoked();
    assert_eq!(kind, InvokeKind::Function);
    assert_eq!(payload["function"], json!("get-user"));
    assert_eq!(payload["input"], json!({ "id": 7 }));
    assert_eq!(run.node("fetch")["status"], json!("running"));
    run.step(Input::Done(&json!({ "name": "Ada" })));
    assert_eq!(run.state, SUCCEEDED_STATE);
    assert_eq!(run.ctx["output"], json!("Ada"));
    assert_eq!(run.node("fetch")["attempts"], json!(2), "the attempt the step reports");
    assert_eq!(run.node("fetch")["status"], json!("succeeded"));

    // Without on_error, a failure fails the run, naming the node.
    let mut run = Run::start(&machine, json!({ "user": 7 }));
    run.step(Input::Failed(&json!({ "code": "not_found", "message": "no user 7" })));
    assert_eq!(run.state, FAILED_STATE);
    assert_eq!(run.ctx["error"], json!({ "code": "not_found", "message": "no user 7", "node": "fetch" }));
    assert_eq!(run.node("fetch")["status"], json!("failed"));

    // `continue`: the error is the output and the edges are followed.
    let machine = flow(
        &yaml
            .replace("timeout: 5s,", "timeout: 5s, on_error: continue,")
            .replace("value: 'nodes.fetch.output.name'", "value: 'nodes.fetch.output.code'"),
    );
    let mut run = Run::start(&machine, json!({ "user": 7 }));
    run.step(Input::Failed(&json!({ "code": "not_found", "message": "no user 7" })));
    assert_eq!(run.state, SUCCEEDED_STATE);
    assert_eq!(run.ctx["output"], json!("not_found"));
}

#[test]
fn on_error_can_lead_to_a_fallback_node() {
    let machine = flow(
        "
nodes:
  - { id: primary, kind: http, url: \"'http://primary/' + string(input.id)\", on_error: fallback }
  - { id: fallback, kind: http, method: GET, url: \"'http://fallback/' + string(input.id)\" }
  - { id: answer, kind: transform, value: 'nodes.primary.status == \"failed\" ? \"fallback\" : \"primary\"' }
edges:
  - { from: primary, to: answer }
  - { from: fallback, to: answer }
",
    );
    let mut run = Run::start(&machine, json!({ "id": 3 }));
    assert_eq!(run.invoked().1["url"], json!("http://primary/3"));
    run.step(Input::Failed(&json!({ "code": "http_503", "message": "unavailable" })));
    assert_eq!(run.state, "fallback.run");
    assert_eq!(run.invoked().1["url"], json!("http://fallback/3"));
    assert_eq!(run.invoked().1["method"], json!("GET"));
    run.step(Input::Done(&json!({ "status": 200, "body": "ok" })));
    assert_eq!(run.state, SUCCEEDED_STATE);
    assert_eq!(run.ctx["output"], json!("fallback"));
}

#[test]
fn conditions_switches_sets_and_loops() {
    let machine = flow(
        "
max_iterations: 5
nodes:
  - { id: init, kind: set, vars: { n: '0' } }
  - { id: bump, kind: set, vars: { n: 'vars.n + 1' } }
  - { id: more, kind: condition, if: 'vars.n < input.times' }
  - { id: size, kind: switch, value: 'vars.n > 2 ? \"big\" : \"small\"' }
  - { id: big, kind: succeed, value: '\"big:\" + string(vars.n)' }
  - { id: small, kind: transform, value: '\"small:\" + string(vars.n)' }
edges:
  - { from: init, to: bump }
  - { from: bump, to: more }
  - { from: more, to: bump, branch: true }
  - { from: more, to: size, branch: false }
  - { from: size, to: big, branch: big }
  - { from: size, to: small, branch: default }
",
    );
    let run = Run::start(&machine, json!({ "times": 3 }));
    assert_eq!(run.state, SUCCEEDED_STATE);
    assert_eq!(run.ctx["output"], json!("big:3"));
    assert_eq!(run.ctx["vars"], json!({ "n": 3 }));
    assert_eq!(run.node("bump")["runs"], json!(3));
    let run = Run::start(&machine, json!({ "times": 1 }));
    assert_eq!(run.ctx["output"], json!("small:1"));

    // Past max_iterations the run fails instead of spinning.
    let run = Run::start(&machine, json!({ "times": 100 }));
    assert_eq!(run.state, FAILED_STATE);
    assert_eq!(run.ctx["error"]["code"], json!("loop_limit"));
    assert_eq!(run.ctx["error"]["node"], json!("bump"));
}

#[test]
fn waits_approvals_delays_and_timeouts() {
    let machine = flow(
        "
nodes:
  - { id: ask, kind: wait, approval: true, timeout: 1h }
  - { id: pause, kind: delay, duration: 5m }
  - { id: done, kind: transform, value: 'nodes.ask.output.by' }
edges:
  - { from: ask, to: pause }
  - { from: pause, to: done }
",
    );
    let mut run = Run::start(&machine, json!({}));
    assert_eq!(run.state, "ask.run");
    assert!(run.effects.iter().any(|e| matches!(e, Effect::Timer { name, .. } if name == "wait.timeout")));
    let payload = json!({ "by": "ops" });
    run.step(Input::Event { name: "approve", payload: payload.as_object().unwrap() });
    assert_eq!(run.state, "pause.run");
    assert!(run.effects.iter().any(|e| matches!(e, Effect::Timer { name, .. } if name == "after:5m")));
    run.step(Input::Timer("after:5m"));
    assert_eq!(run.state, SUCCEEDED_STATE);
    assert_eq!(run.ctx["output"], json!("ops"));

    let mut run = Run::start(&machine, json!({}));
    let payload = json!({ "reason": "too expensive" });
    run.step(Input::Event { name: "reject", payload: payload.as_object().unwrap() });
    assert_eq!(run.state, FAILED_STATE);
    assert_eq!(run.ctx["error"]["code"], json!("rejected"));
    assert_eq!(run.ctx["error"]["message"], json!("too expensive"));

    let mut run = Run::start(&machine, json!({}));
    run.step(Input::Timer("wait.timeout"));
    assert_eq!(run.state, FAILED_STATE);
    assert_eq!(run.ctx["error"]["code"], json!("timeout"));
}

#[test]
fn subflows_publish_send_and_fail() {
    let machine = flow(
        "
nodes:
  - { id: child, kind: subflow, flow: pricing, input: 'input.order', timeout: 10m }
  - { id: tell, kind: publish, topic: prices, message: '{\"price\": nodes.child.output}' }
  - { id: poke, kind: send_event, instance: '\"order:\" + input.id', event: priced, payload: '{\"p\": 1}' }
  - { id: stop, kind: fail, code: too_low, message: '\"price \" + string(nodes.child.output)' }
edges:
  - { from: child, to: tell }
  - { from: tell, to: poke }
  - { from: poke, to: stop, when: 'nodes.child.output < 10' }
",
    );
    let mut run = Run::start(&machine, json!({ "order": { "n": 2 }, "id": "o-1" }));
    let (kind, payload) = run.invoked();
    assert_eq!(kind, InvokeKind::Machine);
    assert_eq!(payload["machine"], json!("pricing"));
    assert_eq!(payload["input"], json!({ "input": { "n": 2 }, "vars": {}, "nodes": {} }));
    run.step(Input::Done(&json!({ "output": 5, "input": {} })));
    assert_eq!(run.state, FAILED_STATE);
    assert_eq!(run.ctx["error"], json!({ "code": "too_low", "message": "price 5", "node": "stop" }));
    let emitted: Vec<(InvokeKind, &Value)> = run
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Emit { kind, payload } => Some((*kind, payload)),
            _ => None,
        })
        .collect();
    assert_eq!(emitted.len(), 2, "{emitted:?}");
    assert_eq!(emitted[0].1, &json!({ "topic": "prices", "message": { "price": 5 } }));
    assert_eq!(emitted[1].1, &json!({ "instance": "order:o-1", "event": "priced", "payload": { "p": 1 } }));
}

#[test]
fn an_input_schema_refuses_a_bad_input() {
    let machine = flow(
        "
input_schema: { type: object, required: [x], properties: { x: { type: integer } } }
nodes:
  - { id: a, kind: transform, value: 'input.x' }
",
    );
    assert!(machine.validate_context(&run_ctx(json!({ "x": 1 }))).is_ok());
    assert!(machine.validate_context(&run_ctx(json!({ "x": "one" }))).is_err());
}

#[test]
fn every_broken_flow_is_refused_naming_the_node_and_field() {
    let cases: &[(&str, &str)] = &[
        ("nodes: []", "nodes: a flow needs at least one node"),
        ("nodes: [{ id: A, kind: transform, value: '1' }]", "nodes[0].id: invalid node id"),
        ("nodes: [{ id: 'null', kind: transform, value: '1' }]", "nodes[0].id: invalid node id"),
        (
            "nodes: [{ id: a, kind: transform, value: '1' }, { id: a, kind: transform, value: '2' }]",
            "duplicate node id",
        ),
        ("nodes: [{ id: a, kind: teleport }]", "nodes.a.kind: unknown kind \"teleport\""),
        ("nodes: [{ id: a, kind: transform }]", "nodes.a.value: missing"),
        ("nodes: [{ id: a, kind: transform, value: '1', url: 'x' }]", "nodes.a.url: not a field of a transform node"),
        ("nodes: [{ id: a, kind: transform, value: '1 +' }]", "nodes.a.value: "),
        ("nodes: [{ id: a, kind: transform, value: 'ctx.x' }]", "nodes.a.value: "),
        ("nodes: [{ id: a, kind: function, function: f, on_error: nowhere }]", "nodes.a.on_error: \"nowhere\""),
        ("nodes: [{ id: a, kind: delay }]", "nodes.a.duration: give exactly one"),
        ("nodes: [{ id: a, kind: wait }]", "nodes.a.event: give exactly one"),
        ("nodes: [{ id: a, kind: set, vars: { 'a-b': '1' } }]", "nodes.a.vars.a-b"),
        ("nodes: [{ id: a, kind: function, function: f, timeout: 0 }]", "nodes.a.timeout"),
        (
            "nodes: [{ id: a, kind: transform, value: '1' }]\nedges: [{ from: a, to: b }]",
            "edges[0].to: unknown node \"b\"",
        ),
        (
            "nodes: [{ id: a, kind: succeed }, { id: b, kind: succeed }]\nedges: [{ from: a, to: b }]",
            "edges[0].from: a succeed node ends the run",
        ),
        (
            "nodes: [{ id: a, kind: transform, value: '1' }, { id: b, kind: transform, value: '1' }]\nedges: [{ from: a, to: b, branch: x }]",
            "edges[0].branch: only edges from a condition or a switch",
        ),
        (
            "nodes: [{ id: a, kind: transform, value: '1' }, { id: b, kind: transform, value: '1' }, { id: c, kind: transform, value: '1' }]\nedges: [{ from: a, to: b }, { from: a, to: c }]",
            "nodes.a: an edge without `when`",
        ),
        (
            "nodes: [{ id: a, kind: transform, value: '1' }]\nedges: [{ from: a, to: a }]",
            "edges: every node has an edge leading to it",
        ),
        ("max_iterations: 0\nnodes: [{ id: a, kind: transform, value: '1' }]", "max_iterations: must be between"),
        ("nodes: [{ id: a, kind: publish, topic: 'Bad Topic', message: '1' }]", "nodes.a: "),
    ];
    for (yaml, expected) in cases {
        let errors = refused(yaml);
        assert!(errors.iter().any(|e| e.contains(expected)), "{yaml}\nexpected {expected:?} in {errors:#?}");
    }
    // Shape errors name the field too.
    let errors = refused("nodes: [{ id: a, kind: transform, value: '1', colour: red }]");
    assert!(errors[0].contains("nodes[0].colour: unknown field \"colour\""), "{errors:?}");
}

#[test]
fn eventless_transitions_are_validated_and_bounded() {
    let def = |yaml: &str| parse_definition(yaml.as_bytes(), DefinitionFormat::Yaml).expect("parses");
    let refused = CompiledMachine::compile(def("initial: a
states:
  a: { always: { to: b }, invoke: { function: f }, on_done: { to: b } }
  b: { final: true, always: { to: a } }
"))
    .expect_err("refused");
    let text: Vec<String> = refused.field_errors().iter().map(ToString::to_string).collect();
    let text = text.join("\n");
    assert!(text.contains("states.a.invoke: a state with `always`"), "{text}");
    assert!(text.contains("states.b.always: a final state"), "{text}");

    // A loop without a way out stops at the bound instead of spinning.
    let machine = CompiledMachine::compile(def("initial: a
states:
  a: { always: { to: b, assign: { n: 'has(ctx.n) ? ctx.n + 1 : 1' } } }
  b: { always: { to: a } }
"))
    .expect("compiles");
    let err = machine.start(&Map::new(), info(), 0).expect_err("bounded");
    assert!(matches!(err, TransitionError::TooManySteps { limit, .. } if limit == MAX_ALWAYS_STEPS), "{err}");

    // Dotted assignments build nested maps and refuse to walk through a non-map.
    let machine = CompiledMachine::compile(def("initial: a
states:
  a: { always: { when: 'ctx.go', to: b, assign: { 'x.y.z': '1', 'x.w': '2' } } }
  b: {}
"))
    .expect("compiles");
    let started = machine.start(json!({ "go": true }).as_object().unwrap(), info(), 0).expect("starts");
    assert_eq!(started.state, "b");
    assert_eq!(started.ctx.unwrap()["x"], json!({ "y": { "z": 1 }, "w": 2 }));
    let stays = machine.start(json!({ "go": false }).as_object().unwrap(), info(), 0).expect("starts");
    assert_eq!(stays.state, "a", "no `when` passes: the instance stays");
    let err = machine.start(json!({ "go": true, "x": 3 }).as_object().unwrap(), info(), 0).expect_err("refused");
    assert!(err.to_string().contains("ctx.x is a number, not a map"), "{err}");
}

#[test]
fn a_foreach_starts_a_run_of_the_flow_per_item_at_its_body() {
    let machine = flow(
        "
nodes:
  - { id: each, kind: foreach, items: 'input.list', do: twice, concurrency: 2 }
  - { id: twice, kind: transform, value: 'item * 2' }
  - { id: total, kind: transform, value: 'nodes.each.output' }
edges:
  - { from: each, to: total }
",
    );
    let mut run = Run::start(&machine, json!({ "list": [1, 2, 3] }));
    assert_eq!(run.state, "each.run");
    let (kind, payload) = run.invoked();
    assert_eq!(kind, InvokeKind::Machine);
    assert_eq!(
        (&payload["machine"], &payload["concurrency"], &payload["join"]),
        (&json!("f"), &json!(2), &json!("all"))
    );
    let inputs = payload["inputs"].as_array().expect("one input per item");
    assert_eq!(inputs.len(), 3);
    assert_eq!(
        (&inputs[1]["item"], &inputs[1]["index"], &inputs[1]["resume"]),
        (&json!(2), &json!(1), &json!("twice"))
    );

    // Each child is a run of the same machine that resumes at the body and ends there.
    let Value::Object(child_ctx) = inputs[2].clone() else { panic!("a map") };
    let child = machine.start(&child_ctx, info(), 1_000).expect("starts");
    assert_eq!(child.state, SUCCEEDED_STATE);
    assert_eq!(child.ctx.as_ref().unwrap()["output"], json!(6));

    // The results come back in the list's order; a child that did not complete is null.
    run.step(Input::Done(&json!([{ "output": 2 }, { "output": 4 }, null])));
    assert_eq!(run.state, SUCCEEDED_STATE);
    assert_eq!(run.ctx["output"], json!([2, 4, null]));
}

#[test]
fn parallel_branches_and_several_start_nodes_merge_what_their_nodes_recorded() {
    let machine = flow(
        "
nodes:
  - { id: split, kind: parallel, branches: [left, right], join: any }
  - { id: left, kind: transform, value: 'input.x + 1' }
  - { id: right, kind: wait, event: go }
  - { id: after, kind: transform, value: 'nodes.left.output' }
edges:
  - { from: split, to: after }
",
    );
    let mut run = Run::start(&machine, json!({ "x": 1 }));
    let payload = run.invoked().1.clone();
    assert_eq!(payload["join"], json!("any"));
    let inputs = payload["inputs"].as_array().unwrap();
    assert_eq!((&inputs[0]["resume"], &inputs[1]["resume"]), (&json!("left"), &json!("right")));
    let Value::Object(left) = inputs[0].clone() else { panic!("a map") };
    let left = machine.start(&left, info(), 1_000).expect("starts");
    assert_eq!(left.state, SUCCEEDED_STATE);
    run.step(Input::Done(&json!([left.ctx.unwrap(), null])));
    assert_eq!(run.state, SUCCEEDED_STATE);
    assert_eq!(run.ctx["output"], json!(2), "the branch's node record came back to the run");
    assert_eq!(run.node("right"), &Value::Null);

    let machine = flow(
        "
nodes:
  - { id: a, kind: transform, value: 'input.x' }
  - { id: b, kind: transform, value: 'input.x * 10' }
",
    );
    let run = Run::start(&machine, json!({ "x": 3 }));
    assert_eq!(run.state, "flow.starts");
    assert_eq!(run.invoked().1["inputs"].as_array().map(Vec::len), Some(2));
}

#[test]
fn broken_foreach_and_parallel_nodes_are_refused() {
    let cases: &[(&str, &str)] = &[
        ("nodes: [{ id: e, kind: foreach, do: b }, { id: b, kind: transform, value: '1' }]", "nodes.e.items: missing"),
        ("nodes: [{ id: e, kind: foreach, items: '[1]', do: nope }]", "nodes.e.do: unknown node \"nope\""),
        ("nodes: [{ id: e, kind: foreach, items: '[1]', do: e }]", "nodes.e.do: a node cannot start its own body"),
        (
            "nodes: [{ id: e, kind: foreach, items: '[1]', do: b }, { id: b, kind: transform, value: '1' }, { id: c, kind: transform, value: '1' }]\nedges: [{ from: c, to: b }]",
            "nodes.e.do: an edge leads to \"b\"",
        ),
        (
            "nodes: [{ id: p, kind: parallel, branches: [a, a] }, { id: a, kind: transform, value: '1' }]",
            "nodes.p.branches[1]: \"a\" is already a branch",
        ),
        (
            "nodes: [{ id: p, kind: parallel, branches: [a], join: 2 }, { id: a, kind: transform, value: '1' }]",
            "nodes.p.join: 2 branches cannot complete out of 1",
        ),
        ("nodes: [{ id: p, kind: parallel, branches: [] }]", "nodes.p.branches: missing"),
    ];
    for (yaml, expected) in cases {
        let errors = refused(yaml);
        assert!(errors.iter().any(|e| e.contains(expected)), "{yaml}\nexpected {expected:?} in {errors:#?}");
    }
}

#[test]
fn every_example_flow_compiles() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/flows");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/flows") {
        let path = entry.expect("entry").path();
        let text = std::fs::read(&path).expect("read");
        let parsed = parse_flow(&text, DefinitionFormat::Yaml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = parsed.name.clone().expect("every example names itself");
        compile_flow(parsed, &name).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        seen += 1;
    }
    assert_eq!(seen, 4);
}

#[test]
fn a_delay_until_a_computed_time_arms_its_timer_then() {
    let machine = flow(
        "
nodes:
  - { id: later, kind: delay, until: 'timestamp(input.at)' }
  - { id: done, kind: transform, value: 'nodes.later.output' }
edges:
  - { from: later, to: done }
",
    );
    let mut run = Run::start(&machine, json!({ "at": "2030-01-01T00:00:00Z" }));
    assert_eq!(run.state, "later.run");
    let (name, at_ms) = run
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Timer { name, at_ms } => Some((name.clone(), *at_ms)),
            _ => None,
        })
        .expect("a timer");
    assert_eq!(at_ms, 1_893_456_000_000, "2030-01-01");
    run.step(Input::Timer(&name));
    assert_eq!(run.state, SUCCEEDED_STATE);
    assert_eq!(run.ctx["output"], json!({ "at": "2030-01-01T00:00:00Z" }), "a delay passes its input on");
}

#[test]
fn env_values_are_read_and_secrets_travel_only_as_templates() {
    let machine = flow(
        "
nodes:
  - { id: call, kind: http, method: GET, url: 'env.base_url + \"/items/\" + string(input.id)',
      secret_headers: { Authorization: 'Bearer {{secrets.api_token}}' } }
  - { id: pick, kind: transform, value: 'nodes.call.output.body[env.field]' }
edges:
  - { from: call, to: pick }
",
    );
    assert!(machine.reads_env());
    let env = json!({ "base_url": "https://api.example.com", "field": "name" });
    let ctx = run_ctx(json!({ "id": 7 }));
    let with_env = InstanceInfo { env: Some(&env), ..info() };
    let started = machine.start(&ctx, with_env, 1_000).expect("starts");
    let payload = started
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Invoke { payload, .. } => Some(payload.clone()),
            _ => None,
        })
        .expect("an invoke");
    assert_eq!(payload["url"], json!("https://api.example.com/items/7"));
    assert_eq!(payload["secret_headers"], json!({ "Authorization": "Bearer {{secrets.api_token}}" }));
    assert!(payload["headers"].get("Authorization").is_none(), "the template is not a plain header");
    let ctx = started.ctx.unwrap_or(ctx);
    let done = json!({ "status": 200, "body": { "name": "Ada" } });
    let outcome = machine.step(&started.state, &ctx, Input::Done(&done), with_env, 2_000).expect("steps");
    assert_eq!(outcome.to, SUCCEEDED_STATE);
    assert_eq!(outcome.ctx["output"], json!("Ada"));

    // Without values, `env` is an empty map: a missing key is an error, `has` is false.
    let machine = flow("nodes:\n  - { id: a, kind: transform, value: 'has(env.region) ? env.region : \"eu\"' }\n");
    assert_eq!(Run::start(&machine, json!({})).ctx["output"], json!("eu"));

    // A flow that never names `env` does not make the store load it.
    let machine = flow("nodes:\n  - { id: a, kind: transform, value: '[1].map(env, env + 1)' }\n");
    assert!(!machine.reads_env(), "a comprehension's own `env` is not the variable");
}

#[test]
fn bad_secret_headers_are_refused_naming_the_node() {
    let errors = refused(
        "
nodes:
  - { id: call, kind: http, url: '\"https://x\"', headers: { Authorization: '\"a\"' },
      secret_headers: { Authorization: 'Bearer {{secrets.t}}', 'X Bad': '{{secrets.t}}',
                        X-Plain: 'no secret', X-Open: '{{secrets.t', X-Env: '{{env.t}}' } }
",
    );
    let joined = errors.join("\n");
    for needle in [
        "nodes.call.secret_headers.Authorization: is also in `headers`",
        "nodes.call.secret_headers.X Bad: is not a valid HTTP header name",
        "nodes.call.secret_headers.X-Plain: names no secret",
        "nodes.call.secret_headers.X-Open: a `{{` at byte 0 has no closing `}}`",
        "nodes.call.secret_headers.X-Env: `{{env.t}}` is not a secret reference",
    ] {
        assert!(joined.contains(needle), "{needle:?} not in\n{joined}");
    }
}
