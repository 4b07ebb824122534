//! Fixtures shared by tests, so that each exists once and cannot drift between the tests that
//! use it: the order, cycle and counter machines, and the exactly-once verifier that checks what
//! a server's log holds against the model.
//!
//! The verifier is pure: it takes what the tests read over HTTP (histories and instance views,
//! as JSON values) and answers with what the log holds per idempotency key, or the first
//! violation as one sentence. The caller fetches, and decides how to fail (a crash test names
//! its seed).

use std::collections::HashMap;

use serde_json::{Map, Value};
use switchyard_model::{CompiledMachine, DefinitionFormat, parse_definition};

/// An order: `pending` → `paid` (when the payment covers `ctx.amount`) → `shipped`, cancellable
/// until shipped. The context must hold `amount`. YAML, as users write definitions.
pub const ORDER_YAML: &str = r#"
name: order
initial: pending
context_schema: { type: object, required: [amount] }
states:
  pending: {}
  paid: {}
  shipped: {}
  cancelled: { final: true }
transitions:
  - { from: pending, event: pay, to: paid, guard: "event.amount >= ctx.amount" }
  - { from: paid, event: ship, to: shipped }
  - { from: [pending, paid], event: cancel, to: cancelled }
"#;

/// Two states, `a` and `b`, that every `next` event swaps: any number of events applies.
pub const CYCLE_JSON: &str = r#"{"name":"cycle","initial":"a","states":["a","b"],"transitions":[
  {"from":"a","event":"next","to":"b"},{"from":"b","event":"next","to":"a"}]}"#;

/// A counter: `next` cycles `s0 → s1 → s2 → s0` adding 1 to `ctx.n`; `add` stays put and adds
/// the payload's `by`. Create instances with `ctx: {"n": 0}`. Its expressions never read
/// `now`, so [`verify_exactly_once`] replays it exactly.
pub const COUNTER_MACHINE: &str = r#"{
  "name": "counter",
  "initial": "s0",
  "states": ["s0", "s1", "s2"],
  "transitions": [
    {"from": "s0", "event": "next", "to": "s1", "assign": {"n": "ctx.n + 1"}},
    {"from": "s1", "event": "next", "to": "s2", "assign": {"n": "ctx.n + 1"}},
    {"from": "s2", "event": "next", "to": "s0", "assign": {"n": "ctx.n + 1"}},
    {"from": "s0", "event": "add", "to": "s0", "assign": {"n": "ctx.n + event.by"}},
    {"from": "s1", "event": "add", "to": "s1", "assign": {"n": "ctx.n + event.by"}},
    {"from": "s2", "event": "add", "to": "s2", "assign": {"n": "ctx.n + event.by"}}
  ]
}"#;

/// One instance as a server reports it.
#[derive(Debug, Clone)]
pub struct InstanceRecords {
    /// The instance id.
    pub id: String,
    /// Its whole history, oldest first (`GET …/instances/{id}/history`, every page).
    pub history: Vec<Value>,
    /// Its current view (`GET …/instances/{id}`).
    pub instance: Value,
}

/// The one log record that carries an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedWrite {
    /// The instance it belongs to.
    pub instance: String,
    /// `instance.created` or `instance.transitioned`.
    pub kind: String,
    /// Its seq.
    pub seq: u64,
    /// The instance's revision right after it (1 for a creation).
    pub revision: u64,
    /// The instance's context right after it, as the replay computed it.
    pub ctx: Value,
}

/// What the verified log holds.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Every idempotency key in the histories, with the one record that carries it.
    pub keyed: HashMap<String, LoggedWrite>,
    /// Records without an idempotency key.
    pub unkeyed: usize,
    /// Records in all (creations included).
    pub records: usize,
}

impl Replayed {
    /// Checks that each acknowledged write — `(instance, idempotency key, seq)` — is logged on
    /// that instance at that seq.
    pub fn check_acknowledged<'a>(
        &self,
        acked: impl IntoIterator<Item = (&'a str, &'a str, u64)>,
    ) -> Result<(), String> {
        for (instance, key, seq) in acked {
            match self.keyed.get(key) {
                None => return Err(format!("acknowledged write {key} (on {instance}, seq {seq}) is not in the log")),
                Some(w) if w.instance != instance || w.seq != seq => {
                    return Err(format!(
                        "acknowledged write {key} was answered as {instance} seq {seq} but is logged as {} seq {}",
                        w.instance, w.seq
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Replays every instance's history through `definition` (the machine's JSON) and checks the
/// log is exactly-once and consistent: each history starts with `instance.created` and goes
/// on with `instance.transitioned` records in rising seq order; each transition is what the
/// model computes from the state and context before it (same `from`, `to` and revision); the
/// instance's state, context and revision equal the replay's end; and no idempotency key is
/// carried by two records, on one instance or across them. Answers with what the log holds
/// per key, or the first violation.
pub fn verify_exactly_once(definition: &str, instances: &[InstanceRecords]) -> Result<Replayed, String> {
    let machine = parse_definition(definition.as_bytes(), DefinitionFormat::Json)
        .map_err(|e| format!("the machine definition does not parse: {e}"))
        .and_then(|d| CompiledMachine::compile(d).map_err(|e| format!("the machine does not compile: {e}")))?;
    let mut out = Replayed::default();
    for InstanceRecords { id, history, instance } in instances {
        let Some((created, transitions)) = history.split_first() else {
            return Err(format!("{id}: the history is empty"));
        };
        if created["kind"] != "instance.created" {
            return Err(format!("{id}: the history starts with {} instead of instance.created", created["kind"]));
        }
        let mut state = text(&created["payload"]["state"], id, "the created record's state")?.to_string();
        let mut ctx: Map<String, Value> = created["payload"]["ctx"]
            .as_object()
            .cloned()
            .ok_or_else(|| format!("{id}: the created record has no ctx object"))?;
        let mut last_seq = 0;
        let mut revision = 1;
        out.records += 1;
        remember(&mut out, created, id, 1, &ctx, &mut last_seq)?;
        for record in transitions {
            if record["kind"] != "instance.transitioned" {
                return Err(format!("{id}: record {} is {}, not instance.transitioned", record["seq"], record["kind"]));
            }
            let payload = &record["payload"];
            let event = text(&payload["event"], id, "a transition's event")?;
            let data = payload["payload"].as_object().cloned().unwrap_or_default();
            let outcome = machine
                .apply(&state, &ctx, event, &data, 0)
                .map_err(|e| format!("{id}: record {} does not replay: {e}", record["seq"]))?;
            revision += 1;
            if payload["from"] != state.as_str()
                || payload["to"] != outcome.to.as_str()
                || payload["revision"] != revision
            {
                return Err(format!(
                    "{id}: record {} says {} → {} at revision {}, the replay {state} → {} at revision {revision}",
                    record["seq"], payload["from"], payload["to"], payload["revision"], outcome.to
                ));
            }
            state = outcome.to;
            ctx = outcome.ctx;
            out.records += 1;
            remember(&mut out, record, id, revision, &ctx, &mut last_seq)?;
        }
        if instance["state"] != state.as_str() || instance["ctx"] != Value::Object(ctx.clone()) {
            return Err(format!(
                "{id}: the instance is {} {}, the replay of its history {state} {}",
                instance["state"],
                instance["ctx"],
                Value::Object(ctx)
            ));
        }
        if instance["revision"] != revision {
            return Err(format!(
                "{id}: the instance is at revision {}, its history has {revision}",
                instance["revision"]
            ));
        }
    }
    Ok(out)
}

fn text<'a>(value: &'a Value, id: &str, what: &str) -> Result<&'a str, String> {
    value.as_str().ok_or_else(|| format!("{id}: {what} is not a string ({value})"))
}

/// Records `record`'s key (refusing a second record with it) and checks seqs rise.
fn remember(
    out: &mut Replayed,
    record: &Value,
    id: &str,
    revision: u64,
    ctx: &Map<String, Value>,
    last_seq: &mut u64,
) -> Result<(), String> {
    let seq = record["seq"].as_u64().ok_or_else(|| format!("{id}: a record without a seq: {record}"))?;
    if seq <= *last_seq {
        return Err(format!("{id}: seq {seq} follows seq {last_seq} in the history"));
    }
    *last_seq = seq;
    let Some(key) = record["idempotency_key"].as_str() else {
        out.unkeyed += 1;
        return Ok(());
    };
    let write = LoggedWrite {
        instance: id.to_string(),
        kind: record["kind"].as_str().unwrap_or_default().to_string(),
        seq,
        revision,
        ctx: Value::Object(ctx.clone()),
    };
    if let Some(first) = out.keyed.insert(key.to_string(), write) {
        return Err(format!(
            "idempotency key {key} was applied twice: {} seq {} and {id} seq {seq}",
            first.instance, first.seq
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn created(seq: u64, key: Option<&str>) -> Value {
        json!({"seq": seq, "kind": "instance.created", "idempotency_key": key,
               "payload": {"machine_version": 1, "state": "s0", "ctx": {"n": 0}}})
    }

    fn moved(seq: u64, key: &str, event: &str, payload: Value, from: &str, to: &str, revision: u64) -> Value {
        json!({"seq": seq, "kind": "instance.transitioned", "idempotency_key": key,
               "payload": {"event": event, "payload": payload, "from": from, "to": to, "revision": revision}})
    }

    fn counter(history: Vec<Value>, state: &str, n: u64, revision: u64) -> InstanceRecords {
        InstanceRecords {
            id: "c".into(),
            history,
            instance: json!({"id": "c", "state": state, "ctx": {"n": n}, "revision": revision}),
        }
    }

    #[test]
    fn a_consistent_history_is_replayed_and_its_keys_reported() {
        let history = vec![
            created(1, Some("k0")),
            moved(4, "k1", "next", json!({}), "s0", "s1", 2),
            moved(9, "k2", "add", json!({"by": 5}), "s1", "s1", 3),
        ];
        let replayed = verify_exactly_once(COUNTER_MACHINE, &[counter(history, "s1", 6, 3)]).expect("consistent");
        assert_eq!((replayed.records, replayed.unkeyed, replayed.keyed.len()), (3, 0, 3));
        assert_eq!(
            replayed.keyed["k2"],
            LoggedWrite {
                instance: "c".into(),
                kind: "instance.transitioned".into(),
                seq: 9,
                revision: 3,
                ctx: json!({"n": 6})
            }
        );
        assert_eq!(replayed.check_acknowledged([("c", "k1", 4)]), Ok(()));
        let wrong_seq = replayed.check_acknowledged([("c", "k1", 5)]).unwrap_err();
        assert!(wrong_seq.contains("answered as c seq 5 but is logged as c seq 4"), "{wrong_seq}");
        let missing = replayed.check_acknowledged([("c", "k9", 5)]).unwrap_err();
        assert!(missing.contains("k9 (on c, seq 5) is not in the log"), "{missing}");
    }

    #[test]
    fn each_violation_is_named() {
        let base = || vec![created(1, Some("k0")), moved(2, "k1", "next", json!({}), "s0", "s1", 2)];
        let cases: Vec<(Vec<Value>, &str, u64, u64, &str)> = vec![
            (vec![], "s0", 0, 1, "the history is empty"),
            (base(), "s0", 1, 2, "the instance is \"s0\""),
            (base(), "s1", 2, 2, "the instance is \"s1\" {\"n\":2}"),
            (base(), "s1", 1, 3, "at revision 3, its history has 2"),
            (
                vec![created(1, Some("k0")), moved(2, "k0", "next", json!({}), "s0", "s1", 2)],
                "s1",
                1,
                2,
                "k0 was applied twice",
            ),
            (
                vec![created(3, None), moved(2, "k1", "next", json!({}), "s0", "s1", 2)],
                "s1",
                1,
                2,
                "seq 2 follows seq 3",
            ),
            (
                vec![created(1, None), moved(2, "k1", "next", json!({}), "s0", "s2", 2)],
                "s2",
                1,
                2,
                "the replay s0 → s1",
            ),
            (vec![moved(2, "k1", "next", json!({}), "s0", "s1", 2)], "s1", 1, 2, "instead of instance.created"),
        ];
        for (history, state, n, revision, expected) in cases {
            let error = verify_exactly_once(COUNTER_MACHINE, &[counter(history, state, n, revision)]).unwrap_err();
            assert!(error.contains(expected), "expected {expected:?} in {error:?}");
        }
    }
}
