//! Flows and their runs (`docs/http-api.md`, "Flows"): store and read flows, start runs, read,
//! list, cancel, retry, rerun and answer them.
//!
//! A flow's definition and its compiled machine stay JSON values; a run is typed, with its
//! inputs and outputs as JSON. Answers tolerate fields this client does not know.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Client, ClientError, JsonObject};

/// Reply to `PUT /v1/spaces/{space}/flows/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PutFlow {
    /// The flow's name.
    pub name: String,
    /// The version now current.
    pub version: u64,
    /// False when the flow equalled the latest version, which was returned unchanged.
    pub created: bool,
}

/// One version of a flow, from `GET /v1/spaces/{space}/flows/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    /// The flow's name.
    pub name: String,
    /// This version's number.
    pub version: u64,
    /// The flow as written, in its normalised JSON form (`{name?, description?, nodes, edges}`).
    pub definition: Value,
    /// The machine the flow compiled to, when asked for with `compiled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiled: Option<Value>,
    /// When this version was stored.
    pub created_at: String,
}

/// A flow's latest version in a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowSummary {
    /// The flow's name.
    pub name: String,
    /// Its latest version.
    pub version: u64,
    /// What the flow is for, when it says.
    #[serde(default)]
    pub description: Option<String>,
    /// How many nodes it has.
    pub nodes: u64,
    /// When that version was stored.
    pub created_at: String,
}

/// Reply to `GET /v1/spaces/{space}/flows`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowList {
    /// Latest version of each flow, by name.
    pub flows: Vec<FlowSummary>,
}

/// Body of `POST /v1/spaces/{space}/flows/{name}/runs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StartRun {
    /// The run's input (any JSON); `null` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Makes a repeat return the original run instead of starting another.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// Why a run failed: the flow's own error, or the machine's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunError {
    /// Stable error code (`rejected`, `loop_limit`, a node's code, …).
    #[serde(default)]
    pub code: String,
    /// For people.
    #[serde(default)]
    pub message: String,
    /// The node the run failed at, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Any other fields the server sent.
    #[serde(flatten)]
    pub other: JsonObject,
}

/// A subflow run the current node waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSubflow {
    /// The subflow run's id.
    pub run: String,
    /// The subflow's name.
    pub flow: String,
    /// Its status.
    pub status: String,
}

/// What one node of a run recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunNode {
    /// The node's id.
    pub id: String,
    /// Its kind (`transform`, `http`, …); on a read of one run only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// The input it was given.
    #[serde(default)]
    pub input: Value,
    /// Its output, once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Its error, when it failed: `{code, message, …}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// How many times it ran in this run.
    #[serde(default)]
    pub runs: u64,
    /// Attempts its action made (function and HTTP nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u64>,
    /// When it last started (RFC 3339).
    #[serde(default)]
    pub started_at: Option<String>,
    /// When it last ended (RFC 3339), once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
}

/// A run of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The run's id (a UUIDv7).
    pub id: String,
    /// The flow's name.
    pub flow: String,
    /// The flow version it runs.
    pub flow_version: u64,
    /// `running`, `waiting`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// The machine state it is in (`flow.start`, `fetch.run`, `flow.succeeded`, …).
    #[serde(default)]
    pub state: String,
    /// The run's input.
    #[serde(default)]
    pub input: Value,
    /// The output of the node that ran last: the run's output once it succeeded.
    #[serde(default)]
    pub output: Value,
    /// Why it failed or was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
    /// What `set` nodes wrote.
    #[serde(default)]
    pub vars: Value,
    /// Every node that ran (in the flow's order on a read of one run).
    #[serde(default)]
    pub nodes: Vec<RunNode>,
    /// The attempt of the running node's action, when one is running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u64>,
    /// The subflow run the current node waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subflow: Option<RunSubflow>,
    /// The run this one retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    /// The run this one reruns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<String>,
    /// When it started (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: String,
}

impl Run {
    /// Whether the run has ended: succeeded, failed or cancelled.
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "failed" | "cancelled")
    }
}

/// A run as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's id.
    pub id: String,
    /// The flow's name.
    pub flow: String,
    /// The flow version it runs.
    pub flow_version: u64,
    /// Its status.
    pub status: String,
    /// Why it failed or was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
    /// When it started.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// Reply to `GET /v1/spaces/{space}/runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPage {
    /// This page, newest first.
    pub runs: Vec<RunSummary>,
    /// Cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which runs a listing or a bulk cancel or retry selects; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFilter {
    /// Runs of this flow only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// Runs with this status only (`running`, `waiting`, `succeeded`, `failed`, `cancelled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Runs started at or after this time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Runs started before this time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// Query of `GET /v1/spaces/{space}/runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRuns {
    /// Which runs.
    pub filter: RunFilter,
    /// Page size, 1–1000 (server default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Body of `POST /v1/spaces/{space}/runs/{id}/events`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    /// The event: `approve`, `reject`, or the event a `wait` node waits for.
    pub event: String,
    /// The event's payload (the waiting node's output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// Makes a repeat return the original result instead of applying twice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl RunEvent {
    /// An event with no payload.
    pub fn new(event: impl Into<String>) -> RunEvent {
        RunEvent { event: event.into(), ..RunEvent::default() }
    }
}

/// A run a bulk cancel or retry left alone, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedRun {
    /// The run's id.
    pub run: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Reply to `POST /v1/spaces/{space}/runs/cancel` and `…/runs/retry`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BulkRuns {
    /// The runs cancelled (a bulk cancel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<Vec<String>>,
    /// The new runs started (a bulk retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Vec<String>>,
    /// The runs left alone.
    #[serde(default)]
    pub skipped: Vec<SkippedRun>,
}

impl Client {
    /// Stores a flow (JSON or YAML, per `content_type`) as its next version.
    pub async fn put_flow(
        &self,
        space: &str,
        name: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<PutFlow, ClientError> {
        let url = self.url(&["v1", "spaces", space, "flows", name], &[])?;
        let content_type = HeaderValue::try_from(content_type)
            .map_err(|_| ClientError::InvalidArgument(format!("content type \"{content_type}\"")))?;
        self.json(self.request(Method::PUT, url).header(CONTENT_TYPE, content_type).body(body)).await
    }

    /// Reads a flow's `version` (or its latest), with the compiled machine when `compiled`.
    pub async fn get_flow(
        &self,
        space: &str,
        name: &str,
        version: Option<u64>,
        compiled: bool,
    ) -> Result<Flow, ClientError> {
        let version = version.map(|v| v.to_string());
        let mut query: Vec<(&str, &str)> = version.iter().map(|v| ("version", v.as_str())).collect();
        if compiled {
            query.push(("compiled", "true"));
        }
        let url = self.url(&["v1", "spaces", space, "flows", name], &query)?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Lists the latest version of each flow in `space`.
    pub async fn list_flows(&self, space: &str) -> Result<FlowList, ClientError> {
        let url = self.url(&["v1", "spaces", space, "flows"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Starts a run of a flow's latest version; with `wait` (at most 60 s), the server answers
    /// when the run ends or the wait is over, whichever comes first.
    pub async fn start_run(
        &self,
        space: &str,
        flow: &str,
        body: &StartRun,
        wait: Option<Duration>,
    ) -> Result<Run, ClientError> {
        let wait = wait.map(|w| format!("{}ms", w.as_millis()));
        let query: Vec<(&str, &str)> = wait.iter().map(|w| ("wait", w.as_str())).collect();
        let url = self.url(&["v1", "spaces", space, "flows", flow, "runs"], &query)?;
        self.json(self.request(Method::POST, url).json(body)).await
    }

    /// Lists a page of runs, newest first.
    pub async fn list_runs(&self, space: &str, query: &ListRuns) -> Result<RunPage, ClientError> {
        let limit = query.limit.map(|l| l.to_string());
        let filter = &query.filter;
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for (name, value) in [
            ("flow", filter.flow.as_deref()),
            ("status", filter.status.as_deref()),
            ("since", filter.since.as_deref()),
            ("until", filter.until.as_deref()),
            ("limit", limit.as_deref()),
            ("cursor", query.cursor.as_deref()),
        ] {
            if let Some(value) = value {
                pairs.push((name, value));
            }
        }
        let url = self.url(&["v1", "spaces", space, "runs"], &pairs)?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Reads a run with every node it ran.
    pub async fn get_run(&self, space: &str, id: &str) -> Result<Run, ClientError> {
        let url = self.url(&["v1", "spaces", space, "runs", id], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Cancels a run (its running node's work and its subflows with it).
    pub async fn cancel_run(&self, space: &str, id: &str, reason: Option<&str>) -> Result<Run, ClientError> {
        let url = self.url(&["v1", "spaces", space, "runs", id, "cancel"], &[])?;
        let body = match reason {
            Some(reason) => json!({ "reason": reason }),
            None => json!({}),
        };
        self.json(self.request(Method::POST, url).json(&body)).await
    }

    /// Starts a new run that resumes a failed or cancelled one at the node it stopped at.
    pub async fn retry_run(&self, space: &str, id: &str) -> Result<Run, ClientError> {
        let url = self.url(&["v1", "spaces", space, "runs", id, "retry"], &[])?;
        self.json(self.request(Method::POST, url)).await
    }

    /// Starts a new run of the same flow with the same input.
    pub async fn rerun_run(&self, space: &str, id: &str) -> Result<Run, ClientError> {
        let url = self.url(&["v1", "spaces", space, "runs", id, "rerun"], &[])?;
        self.json(self.request(Method::POST, url)).await
    }

    /// Sends an event to a run (answers a `wait` node); returns the run after it.
    pub async fn send_run_event(&self, space: &str, id: &str, event: &RunEvent) -> Result<Run, ClientError> {
        let url = self.url(&["v1", "spaces", space, "runs", id, "events"], &[])?;
        self.json(self.request(Method::POST, url).json(event)).await
    }

    /// Cancels every run `filter` selects that has not ended.
    pub async fn cancel_runs(&self, space: &str, filter: &RunFilter) -> Result<BulkRuns, ClientError> {
        let url = self.url(&["v1", "spaces", space, "runs", "cancel"], &[])?;
        self.json(self.request(Method::POST, url).json(filter)).await
    }

    /// Retries every failed or cancelled run `filter` selects.
    pub async fn retry_runs(&self, space: &str, filter: &RunFilter) -> Result<BulkRuns, ClientError> {
        let url = self.url(&["v1", "spaces", space, "runs", "retry"], &[])?;
        self.json(self.request(Method::POST, url).json(filter)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_reads_with_unknown_and_absent_fields() {
        let run: Run = serde_json::from_value(json!({
            "id": "r-1", "flow": "double", "flow_version": 1, "status": "failed", "state": "flow.failed",
            "input": {"x": 1}, "output": null, "vars": {}, "future": true,
            "error": {"code": "boom", "message": "it broke", "node": "stop", "payload": {"a": 1}},
            "nodes": [{"id": "stop", "status": "failed", "input": 1, "runs": 1, "started_at": "T"}],
            "created_at": "T", "updated_at": "T",
        }))
        .unwrap();
        let error = run.error.as_ref().unwrap();
        assert_eq!((error.code.as_str(), error.node.as_deref()), ("boom", Some("stop")));
        assert_eq!(error.other.get("payload"), Some(&json!({"a": 1})));
        assert_eq!((run.nodes[0].kind.as_deref(), run.nodes[0].output.as_ref()), (None, None));
        assert!(run.is_finished());
    }

    #[test]
    fn filters_and_bodies_serialize_without_absent_fields() {
        let filter = RunFilter { flow: Some("double".into()), ..RunFilter::default() };
        assert_eq!(serde_json::to_value(&filter).unwrap(), json!({"flow": "double"}));
        assert_eq!(serde_json::to_value(StartRun::default()).unwrap(), json!({}));
        assert_eq!(serde_json::to_value(RunEvent::new("approve")).unwrap(), json!({"event": "approve"}));
    }
}
