//! Flows: graphs of nodes and edges, the authoring form of workflows (DESIGN.md §3: "Workflows
//! are machines"). A flow compiles to a [`MachineDefinition`] whose states run the nodes and
//! whose transitions follow their results; its runs are that machine's instances.
//!
//! A definition goes through [`parse_flow`] (shape: unknown fields, wrong types, with the
//! field path) and [`compile_flow`] (meaning: node kinds and their fields, edges, CEL that
//! type-checks, then the machine, compiled). Every problem is reported with a path that names
//! the node by id, like `nodes.fetch.url`.
//!
//! Invariants this module keeps:
//! - A run's context has the same shape whatever the flow: `input` (the run's input), `vars`
//!   (what `set` nodes wrote), `nodes.<id>` (each node's record: `status`, `input`, `output`,
//!   `error`, `runs`, `started_at`, `ended_at`), `output` (the output of the node that ran
//!   last, which is the run's output once it ends) and, when it failed, `error`.
//! - Expressions are written over `input`, `vars`, `nodes` and `now`; they are type-checked in
//!   those terms before the machine is compiled, so a mistake is reported at the node's field.
//! - Compiling depends only on the flow: the same flow gives the same machine, whose
//!   canonical JSON carries the flow's own canonical form (`flow`).

mod compile;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::definition::{DefinitionError, DefinitionFormat, parse_source};
use crate::jobs::RetryPolicy;
use crate::jobs::millis;

pub use compile::{
    DEFAULT_MAX_ITERATIONS, FAILED_STATE, MAX_ITERATIONS, MAX_NODES, RESUME_STATE, START_STATE, STARTS_STATE,
    SUCCEEDED_STATE, compile_flow,
};

/// A flow as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowDefinition {
    /// Optional name; when present it must match the name the flow is put as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the flow is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Optional JSON Schema a run's input must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<serde_json::Value>,
    /// How many times one node may run in one run (default 100): a loop past it fails the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    /// The nodes, in document order.
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    /// The edges; those leaving one node are tried in document order.
    #[serde(default)]
    pub edges: Vec<EdgeSpec>,
}

/// One node: an id, a kind, the fields every node has, and its kind's own fields (a field
/// another kind owns is refused with the kind's name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Unique in the flow: `a-z`, `0-9` and `_`, starting with a letter (`nodes.<id>` in CEL).
    pub id: String,
    /// What the node does (see `docs/flows.md`).
    pub kind: String,
    /// CEL: the node's input (default: the previous node's output, or the run's input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// How failed attempts are retried (`function`, `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Longest one attempt (`function`, `http`) or the whole node (`subflow`) may take.
    #[serde(default, with = "millis::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// What a failure leads to: `fail` (the default: the run fails), `continue` (the error is
    /// the node's output and its edges are followed), or the id of a node to go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,

    /// `function`: the function (`name`, `space:name`, `space:name:version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// `function`: the version to pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// `http`: `GET`, `POST` (default), `PUT`, `PATCH` or `DELETE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `http`: CEL producing the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `http`: header name to CEL producing its value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// `http`: header name to a secret template (`"Bearer {{secrets.token}}"`), resolved when
    /// the request is sent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_headers: BTreeMap<String, String>,
    /// `http`: CEL producing the JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `transform`, `switch`, `succeed`: CEL producing the node's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `set`: variable name to CEL producing its value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
    /// `condition`: CEL producing a bool.
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// `delay`: how long to wait.
    #[serde(default, with = "millis::option", skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// `delay`: CEL producing the time to wait until (a timestamp, or a duration from now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// `wait`: the event the run waits for; `send_event`: the event to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// `wait`: wait for `approve` or `reject` instead of one event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approval: bool,
    /// `subflow`: the flow to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// `publish`: the topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// `publish`: CEL producing the message; `fail`: CEL producing the error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `publish`: CEL producing the message key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `send_event`: CEL producing the instance (`machine:id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// `send_event`: CEL producing the payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// `fail`: the error code (default `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `foreach`: CEL producing the list to run the body for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
    /// `foreach`: the node the body starts at (run once per item, as a run of its own).
    #[serde(rename = "do", default, skip_serializing_if = "Option::is_none")]
    pub do_node: Option<String>,
    /// `foreach`: at most this many items run at once (all of them when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// `parallel`: the nodes the branches start at, all run at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<String>,
    /// `parallel`: how many branches must complete: `all` (default), `any`, or a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<crate::definition::Join>,
}

/// An edge: after `from` completes, go to `to` (when `when` passes, or on `branch`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    /// The node it leaves.
    pub from: String,
    /// The node it enters.
    pub to: String,
    /// CEL guard over `input`, `vars`, `nodes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// For a `condition`: `"true"` or `"false"`; for a `switch`: the value (as a string) or
    /// `default`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "branch_text")]
    pub branch: Option<String>,
}

/// `branch: true` and `branch: "true"` are the same branch.
fn branch_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    match value {
        serde_json::Value::String(s) => Ok(Some(s)),
        serde_json::Value::Bool(b) => Ok(Some(b.to_string())),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(serde::de::Error::custom(format!("a branch is a string, a bool or a number, not {other}"))),
    }
}

/// Parses a flow's source form from YAML or JSON bytes (shape only).
pub fn parse_flow(body: &[u8], format: DefinitionFormat) -> Result<FlowDefinition, DefinitionError> {
    parse_source(body, format)
}

/// Loads a flow's source form from a parsed JSON value (the `flow` a compiled machine keeps).
pub fn flow_from_json(value: &serde_json::Value) -> Result<FlowDefinition, DefinitionError> {
    serde_json::from_value(value.clone()).map_err(|e| DefinitionError::Syntax {
        format: "JSON",
        message: e.to_string(),
        line: None,
        column: None,
        path: None,
    })
}
