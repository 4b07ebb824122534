//! Property tests: a generated definition survives YAML, JSON and canonical round trips with
//! the same canonical JSON, whichever way its states are written.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;
use switchyard_model::{
    CompiledMachine, DefinitionFormat, FromStates, MachineDefinition, StateSpec, States, TransitionSpec,
    parse_definition,
};

const GUARDS: &[&str] = &[
    "ctx.ready",
    "event.amount >= ctx.amount",
    "state == 'paid' && has(ctx.x)",
    "size(event) > 0 || ctx.note == 'a: b # c'",
    "\"quoted\" in ctx.tags",
];
const ASSIGNS: &[&str] = &["ctx.count + 1", "event.who", "state", "[1, 2.5, 'x']", "{'k': true}"];
const SCHEMAS: &[&str] = &[
    r#"{"type": "object"}"#,
    r#"{"type": "object", "required": ["amount"], "properties": {"amount": {"type": "number", "minimum": 0}}}"#,
];

fn definition() -> impl Strategy<Value = MachineDefinition> {
    let names = proptest::collection::btree_set("[a-zA-Z0-9][a-zA-Z0-9._-]{0,8}", 1..6)
        .prop_map(|set| set.into_iter().collect::<Vec<_>>())
        .prop_shuffle();
    (
        names,
        any::<u64>(),
        proptest::option::of("[a-z][a-z0-9-]{0,10}"),
        any::<bool>(),
        proptest::option::of(0..SCHEMAS.len()),
    )
        .prop_flat_map(|(names, seed, name, as_map, schema)| {
            let n = names.len();
            let finals = proptest::collection::vec(any::<bool>(), n);
            let transitions = proptest::collection::vec(
                (
                    proptest::collection::vec(0..n, 1..4),
                    0..n,
                    "[A-Za-z][A-Za-z_.]{0,6}",
                    proptest::option::of(0..GUARDS.len()),
                    proptest::option::of(proptest::collection::btree_map("[a-z]{1,4}", 0..ASSIGNS.len(), 0..3)),
                    any::<bool>(),
                ),
                0..8,
            );
            (Just(names), Just(seed), Just(name), Just(as_map), Just(schema), finals, transitions)
        })
        .prop_map(|(names, seed, name, as_map, schema, mut finals, raw)| {
            let n = names.len();
            let initial = names[(seed as usize) % n].clone();
            // Keep at least one state non-final so transitions have somewhere to start.
            finals[(seed as usize / 7) % n] = false;
            let open: Vec<usize> = (0..n).filter(|&i| !finals[i]).collect();
            let transitions = raw
                .into_iter()
                .enumerate()
                .map(|(i, (from, to, event, guard, assign, single))| {
                    let mut from: Vec<String> = from.iter().map(|&k| names[open[k % open.len()]].clone()).collect();
                    from.dedup();
                    from.sort();
                    from.dedup();
                    TransitionSpec {
                        from: if single && from.len() == 1 {
                            FromStates::One(from[0].clone())
                        } else {
                            FromStates::Many(from)
                        },
                        // Distinct events keep every transition unambiguous.
                        event: format!("{event}{i}"),
                        to: names[to].clone(),
                        guard: guard.map(|g| GUARDS[g].to_owned()),
                        assign: assign.map(|a| {
                            a.into_iter().map(|(k, v)| (k, ASSIGNS[v].to_owned())).collect::<BTreeMap<_, _>>()
                        }),
                    }
                })
                .collect();
            let (states, final_states) = if as_map {
                let entries = names
                    .iter()
                    .zip(&finals)
                    .map(|(s, f)| (s.clone(), StateSpec { is_final: *f, ..StateSpec::default() }))
                    .collect();
                (States::Map(entries), Vec::new())
            } else {
                let finals = names.iter().zip(&finals).filter(|(_, f)| **f).map(|(s, _)| s.clone()).collect();
                (States::List(names.clone()), finals)
            };
            MachineDefinition {
                name,
                initial: Some(initial),
                states,
                final_states,
                transitions,
                context_schema: schema.map(|i| serde_json::from_str(SCHEMAS[i]).unwrap()),
                timeout: None,
                flow: None,
            }
        })
}

/// The same definition with its states written the other way (list + `final` list <-> map).
fn other_form(def: &MachineDefinition) -> MachineDefinition {
    let mut out = def.clone();
    match &def.states {
        States::List(names) => {
            out.states = States::Map(
                names
                    .iter()
                    .map(|s| (s.clone(), StateSpec { is_final: def.final_states.contains(s), ..StateSpec::default() }))
                    .collect(),
            );
            out.final_states = Vec::new();
        }
        States::Map(entries) => {
            out.states = States::List(entries.iter().map(|(s, _)| s.clone()).collect());
            out.final_states = entries.iter().filter(|(_, spec)| spec.is_final).map(|(s, _)| s.clone()).collect();
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn canonical_json_reloads_to_the_same_canonical_json(def in definition()) {
        let compiled = CompiledMachine::compile(def).unwrap();
        let reloaded = CompiledMachine::from_canonical_json(compiled.canonical_json()).unwrap();
        prop_assert_eq!(reloaded.canonical_json(), compiled.canonical_json());
    }

    #[test]
    fn yaml_and_json_forms_compile_to_the_same_canonical_json(def in definition()) {
        let canonical = CompiledMachine::compile(def.clone()).unwrap().canonical_json().clone();

        let yaml = serde_norway::to_string(&def).unwrap();
        let from_yaml = parse_definition(yaml.as_bytes(), DefinitionFormat::Yaml).unwrap();
        prop_assert_eq!(&from_yaml, &def, "YAML:\n{}", yaml);
        prop_assert_eq!(CompiledMachine::compile(from_yaml).unwrap().canonical_json().clone(), canonical.clone());

        let json = serde_json::to_vec(&def).unwrap();
        let from_json = parse_definition(&json, DefinitionFormat::Json).unwrap();
        prop_assert_eq!(CompiledMachine::compile(from_json).unwrap().canonical_json().clone(), canonical);
    }

    #[test]
    fn states_as_list_or_map_give_the_same_canonical_json(def in definition()) {
        let a = CompiledMachine::compile(def.clone()).unwrap();
        let b = CompiledMachine::compile(other_form(&def)).unwrap();
        prop_assert_eq!(a.canonical_json(), b.canonical_json());
    }

    #[test]
    fn apply_never_panics_on_arbitrary_contexts(
        def in definition(),
        ctx in arbitrary_object(),
        payload in arbitrary_object(),
    ) {
        let m = CompiledMachine::compile(def).unwrap();
        let states: Vec<String> = m.state_names().map(str::to_owned).collect();
        for state in &states {
            for event in m.events_from(state) {
                let _ = m.apply(state, &ctx, event, &payload, 0);
            }
        }
    }
}

fn arbitrary_object() -> impl Strategy<Value = serde_json::Map<String, serde_json::Value>> {
    let leaf = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "[a-z ]{0,6}".prop_map(|s| json!(s)),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    proptest::collection::btree_map(
        prop_oneof![Just("ready".to_owned()), Just("amount".to_owned()), Just("count".to_owned()), "[a-z]{1,6}"],
        value,
        0..5,
    )
    .prop_map(|m| m.into_iter().collect())
}

mod cel_input {
    use super::*;

    proptest! {
        #[test]
        fn compiling_arbitrary_guards_never_panics(guard in "\\PC{0,60}") {
            let def = json!({
                "initial": "a",
                "states": ["a", "b"],
                "transitions": [{"from": "a", "event": "e", "to": "b", "guard": guard}],
            });
            let _ = CompiledMachine::from_canonical_json(&def);
        }

        #[test]
        fn compiling_cel_like_guards_never_panics(guard in "[a-z0-9 .()\\[\\]{}'\"<>=!&|+*/%?:,-]{0,40}") {
            let def = json!({
                "initial": "a",
                "states": ["a", "b"],
                "transitions": [{"from": "a", "event": "e", "to": "b", "guard": guard}],
            });
            if let Ok(m) = CompiledMachine::from_canonical_json(&def) {
                let ctx = serde_json::Map::new();
                let _ = m.apply("a", &ctx, "e", &ctx, 0);
            }
        }
    }
}
