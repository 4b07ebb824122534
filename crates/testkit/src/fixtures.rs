//! Machine definitions shared by tests, so that each exists once and cannot drift between the
//! tests that use it.

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
