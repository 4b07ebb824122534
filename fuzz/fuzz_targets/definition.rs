//! Machine definitions from arbitrary bytes: parsed as YAML and as JSON, loaded from any JSON
//! value, compiled, and when they compile, their canonical form reloaded and one event applied.
//!
//! Properties: nothing panics or overflows a stack; a compiled machine's canonical JSON loads
//! back to the same canonical JSON (the invariant the store relies on to compare versions).

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use switchyard_model::{CompiledMachine, DefinitionFormat, definition_from_json, parse_definition};

fn check(machine: &CompiledMachine) {
    let canonical = machine.canonical_json();
    let again = match CompiledMachine::from_canonical_json(canonical) {
        Ok(again) => again,
        Err(e) => panic!("the canonical form of a compiled machine does not load: {e}\n{canonical}"),
    };
    assert_eq!(again.canonical_json(), canonical, "the canonical form is not stable");
    // One event from the initial state: runs guards, assignments and the schema check.
    let state = machine.initial_state().to_owned();
    let payload: Map<String, Value> =
        [("amount".to_owned(), Value::from(100)), ("note".to_owned(), Value::from("x"))].into_iter().collect();
    for event in machine.events_from(&state) {
        let _ = machine.apply(&state, &Map::new(), event, &payload, 1_700_000_000_000);
    }
}

fuzz_target!(|data: &[u8]| {
    for format in [DefinitionFormat::Yaml, DefinitionFormat::Json] {
        if let Ok(definition) = parse_definition(data, format)
            && let Ok(machine) = CompiledMachine::compile(definition)
        {
            check(&machine);
        }
    }
    if let Ok(value) = switchyard_model::json::from_slice::<Value>(data)
        && let Ok(definition) = definition_from_json(&value)
        && let Ok(machine) = CompiledMachine::compile(definition)
    {
        check(&machine);
    }
});
