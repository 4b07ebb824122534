//! Conformance cases for a space's `env` values and secrets.
//!
//! What they prove, on every backend: values are set, replaced, listed by name, read one at a
//! time and deleted, per kind (an `env` value and a secret of the same name are two values);
//! every write is logged, a secret's record without its value; a space holds at most
//! `MAX_SPACE_VALUES` of a kind; a machine whose expressions read `env` sees the space's values
//! as they are when it steps; values go with their space.

use serde_json::{Value, json};
use switchyard_model::{
    CompiledMachine, DefinitionFormat, InstanceKey, JsonObject, MAX_SPACE_VALUES, SpaceValueKind, kinds,
    parse_definition,
};

use super::{Case, Harness, seg, space};
use crate::types::*;
use crate::{
    ApplyEvent, CreateInstance, DeleteSpace, DeleteSpaceValue, PutMachine, PutSpaceValue, SpaceValuePut, Store,
    StoreError, StoreExt,
};

/// This module's cases, by name.
pub(super) fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("space_values_set_replace_list_and_delete", |h| Box::pin(set_replace_list_delete(h))),
        ("space_values_are_bounded_per_kind", |h| Box::pin(bounded(h))),
        ("machines_read_env_when_they_step", |h| Box::pin(machines_read_env(h))),
    ]
}

const SPACE: &str = "acme";

fn put(kind: SpaceValueKind, name: &str, value: &str) -> PutSpaceValue {
    PutSpaceValue { space: space(SPACE), kind, name: seg(name), value: value.to_owned() }
}

async fn set_replace_list_delete<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let first = store.execute(put(SpaceValueKind::Env, "region", r#""eu""#)).await.expect("set");
    assert_eq!(first, SpaceValuePut { created: true, space_created: true });
    let again = store.execute(put(SpaceValueKind::Env, "region", r#""us""#)).await.expect("replace");
    assert_eq!(again, SpaceValuePut { created: false, space_created: false });
    store.execute(put(SpaceValueKind::Env, "limits", r#"{"max":3}"#)).await.expect("set");
    store.execute(put(SpaceValueKind::Secret, "region", "s3cr3t")).await.expect("a secret of the same name");

    let env = store.space_values(&space(SPACE), SpaceValueKind::Env).await.expect("list");
    let listed: Vec<(&str, &str)> = env.iter().map(|v| (v.name.as_ref(), v.value.as_str())).collect();
    assert_eq!(listed, [("limits", r#"{"max":3}"#), ("region", r#""us""#)], "by name, replaced");
    let secret = store.space_value(&space(SPACE), SpaceValueKind::Secret, &seg("region")).await.expect("get");
    assert_eq!(secret.map(|s| s.value), Some("s3cr3t".to_owned()));
    assert!(store.space_value(&space("other"), SpaceValueKind::Secret, &seg("region")).await.expect("get").is_none());

    // Every write is logged; a secret's record names it and nothing more.
    let records = store.read_log(switchyard_model::Seq(0), 100).await.expect("log");
    let kinds_written: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds_written, [kinds::ENV_SET, kinds::ENV_SET, kinds::ENV_SET, kinds::SECRET_SET]);
    assert_eq!(records[1].payload, json!({ "name": "region", "value": "us" }));
    assert_eq!(records[3].address, "acme:secrets:region");
    assert_eq!(records[3].payload, json!({ "name": "region" }));
    assert!(!serde_json::to_string(&records).expect("json").contains("s3cr3t"));

    let delete = |kind, name: &str| DeleteSpaceValue { space: space(SPACE), kind, name: seg(name) };
    store.execute(delete(SpaceValueKind::Secret, "region")).await.expect("delete");
    let missing = store.execute(delete(SpaceValueKind::Secret, "region")).await;
    assert!(
        matches!(missing, Err(StoreError::SpaceValueNotFound { kind: SpaceValueKind::Secret, ref name, .. }) if name == "region"),
        "{missing:?}"
    );
    assert_eq!(store.space_values(&space(SPACE), SpaceValueKind::Env).await.expect("list").len(), 2, "env stays");
    let records = store.read_log(switchyard_model::Seq(0), 100).await.expect("log");
    assert_eq!(records.last().map(|r| r.kind.as_str()), Some(kinds::SECRET_DELETED));

    // Values survive a restart and go with their space.
    let store = h.reopen(store).await;
    assert_eq!(store.space_values(&space(SPACE), SpaceValueKind::Env).await.expect("list").len(), 2);
    store.execute(DeleteSpace { space: space(SPACE) }).await.expect("delete space");
    assert!(store.space_values(&space(SPACE), SpaceValueKind::Env).await.expect("list").is_empty());
}

async fn bounded<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let ops: Vec<WriteOp> = (0..MAX_SPACE_VALUES)
        .map(|i| WriteOp::PutSpaceValue(put(SpaceValueKind::Env, &format!("k{i}"), "1")))
        .collect();
    for chunk in ops.chunks(250) {
        store.write_atomic(chunk.to_vec()).await.expect("within the limit");
    }
    let over = store.execute(put(SpaceValueKind::Env, "one-more", "1")).await;
    assert!(matches!(over, Err(StoreError::TooManySpaceValues { limit: MAX_SPACE_VALUES, .. })), "{over:?}");
    // Replacing one is not adding one; the other kind has its own bound.
    store.execute(put(SpaceValueKind::Env, "k0", "2")).await.expect("replace at the limit");
    store.execute(put(SpaceValueKind::Secret, "one-more", "x")).await.expect("a secret");
}

const READS_ENV: &str = r#"
name: greeter
initial: idle
states:
  idle: {}
  greeted: {}
transitions:
  - { from: [idle, greeted], event: greet, to: greeted,
      assign: { greeting: "env.greeting + ', ' + event.name", region: "has(env.region) ? env.region : 'none'" } }
"#;

async fn machines_read_env<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let def = parse_definition(READS_ENV.as_bytes(), DefinitionFormat::Yaml).expect("parses");
    let compiled = CompiledMachine::compile(def).expect("compiles");
    assert!(compiled.reads_env());
    let definition = compiled.canonical_json().clone();
    store.execute(PutMachine { space: space(SPACE), name: seg("greeter"), definition }).await.expect("machine");
    store.execute(put(SpaceValueKind::Env, "greeting", r#""Hello""#)).await.expect("env");
    let key = InstanceKey { space: space(SPACE), machine: seg("greeter"), id: seg("g-1") };
    store
        .execute(CreateInstance { key: key.clone(), ctx: JsonObject::new(), idempotency: None })
        .await
        .expect("create");
    let greet = |name: &str| ApplyEvent {
        key: key.clone(),
        event: "greet".into(),
        payload: match json!({ "name": name }) {
            Value::Object(m) => m,
            _ => JsonObject::new(),
        },
        expected_state: None,
        expected_revision: None,
        idempotency: None,
        max_context_bytes: switchyard_model::json::DEFAULT_MAX_CONTEXT_BYTES,
    };
    store.execute(greet("Ada")).await.expect("greet");
    let ctx = store.get_instance(&key).await.expect("get").expect("exists").ctx;
    assert_eq!((&ctx["greeting"], &ctx["region"]), (&json!("Hello, Ada"), &json!("none")));
    // A changed value is what the next step reads: nothing is cached past a write.
    store.execute(put(SpaceValueKind::Env, "greeting", r#""Hi""#)).await.expect("env");
    store.execute(put(SpaceValueKind::Env, "region", r#""eu""#)).await.expect("env");
    store.execute(greet("Bob")).await.expect("greet");
    let ctx = store.get_instance(&key).await.expect("get").expect("exists").ctx;
    assert_eq!((&ctx["greeting"], &ctx["region"]), (&json!("Hi, Bob"), &json!("eu")));
}
