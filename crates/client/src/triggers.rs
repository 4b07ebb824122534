//! Triggers (`docs/triggers.md`): put, read, pause, resume, fire, backfill, executions.

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Client, ClientError};

/// A trigger as the server shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// Its name.
    pub name: String,
    /// Its version (one more each time the definition changes).
    pub version: u64,
    /// Whether it is paused.
    pub paused: bool,
    /// The definition, normalised.
    pub definition: Value,
    /// A webhook source's path (`/hooks/{space}/{name}`).
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// A schedule's next fire times (RFC 3339).
    #[serde(default)]
    pub next_fire_times: Vec<String>,
    /// Its last execution, last failure and refused requests.
    #[serde(default)]
    pub health: Value,
    /// When it was first put.
    pub created_at: String,
    /// When its version or pause last changed.
    pub updated_at: String,
    /// On a put: whether it is new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
    /// On a put: whether this made a new version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
}

/// One execution of a trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// Its id (the job's).
    pub id: String,
    /// `webhook`, `schedule`, `catch_up`, `backfill`, `manual`, `event` (a record an event
    /// pattern matched) or `events` (the pattern's consumer).
    pub source: Option<String>,
    /// The job's status: `pending`, `running`, `succeeded`, `dead`, `cancelled`.
    pub status: String,
    /// `fired`, `filtered`, `skipped`, `missed`, `paused`, `trigger_deleted` once it ran.
    #[serde(default)]
    pub outcome: Option<String>,
    /// What it started (`run`, `instance`, `invocation`, `topic`…).
    #[serde(default)]
    pub started: Option<Value>,
    /// Why it was skipped or missed.
    #[serde(default)]
    pub reason: Option<String>,
    /// A schedule's fire time.
    #[serde(default)]
    pub fire_time: Option<String>,
    /// A webhook's delivery id.
    #[serde(default)]
    pub delivery_id: Option<String>,
    /// An event pattern's log record (its seq).
    #[serde(default)]
    pub seq: Option<u64>,
    /// The last attempt's error.
    #[serde(default)]
    pub error: Option<Value>,
    /// Attempts so far.
    pub attempt: u32,
    /// When it was accepted (enqueued).
    pub accepted_at: String,
    /// When it is or was due.
    pub run_at: String,
    /// When it finished.
    #[serde(default)]
    pub finished_at: Option<String>,
}

/// A page of executions, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionPage {
    /// The executions.
    pub executions: Vec<Execution>,
    /// Pass as `before` for the next page; `None` at the end.
    pub next_before: Option<String>,
}

/// A backfill's fire times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backfill {
    /// How many fire times the range holds.
    pub count: usize,
    /// How many were enqueued now (the others were backfilled before).
    pub enqueued: usize,
    /// The fire times (RFC 3339).
    pub fire_times: Vec<String>,
}

#[derive(Deserialize)]
struct TriggerList {
    triggers: Vec<Trigger>,
}

impl Client {
    /// Puts a trigger (JSON or YAML, per `content_type`).
    pub async fn put_trigger(
        &self,
        space: &str,
        name: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Trigger, ClientError> {
        let url = self.url(&["v1", "spaces", space, "triggers", name], &[])?;
        let content_type = HeaderValue::try_from(content_type)
            .map_err(|_| ClientError::InvalidArgument(format!("content type \"{content_type}\"")))?;
        self.json(self.request(Method::PUT, url).header(CONTENT_TYPE, content_type).body(body)).await
    }

    /// One trigger, with its next fire times and health.
    pub async fn get_trigger(&self, space: &str, name: &str) -> Result<Trigger, ClientError> {
        let url = self.url(&["v1", "spaces", space, "triggers", name], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// A space's triggers, by name.
    pub async fn list_triggers(&self, space: &str) -> Result<Vec<Trigger>, ClientError> {
        let url = self.url(&["v1", "spaces", space, "triggers"], &[])?;
        Ok(self.json::<TriggerList>(self.request(Method::GET, url)).await?.triggers)
    }

    /// Deletes a trigger.
    pub async fn delete_trigger(&self, space: &str, name: &str) -> Result<(), ClientError> {
        let url = self.url(&["v1", "spaces", space, "triggers", name], &[])?;
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// Pauses (`true`) or resumes a trigger.
    pub async fn pause_trigger(&self, space: &str, name: &str, paused: bool) -> Result<Trigger, ClientError> {
        let verb = if paused { "pause" } else { "resume" };
        let url = self.url(&["v1", "spaces", space, "triggers", name, verb], &[])?;
        self.json(self.request(Method::POST, url)).await
    }

    /// Fires a trigger now (`body`: a webhook's body or an event pattern's record).
    pub async fn fire_trigger(&self, space: &str, name: &str, body: Option<Value>) -> Result<Execution, ClientError> {
        let url = self.url(&["v1", "spaces", space, "triggers", name, "fire"], &[])?;
        let request = self.request(Method::POST, url);
        let request = match body {
            Some(body) => request.json(&json!({ "body": body })),
            None => request,
        };
        self.json(request).await
    }

    /// Backfills a schedule's fire times in `[from, to]` (RFC 3339).
    pub async fn backfill_trigger(
        &self,
        space: &str,
        name: &str,
        from: &str,
        to: &str,
    ) -> Result<Backfill, ClientError> {
        let url = self.url(&["v1", "spaces", space, "triggers", name, "backfill"], &[])?;
        self.json(self.request(Method::POST, url).json(&json!({ "from": from, "to": to }))).await
    }

    /// A page of a trigger's executions, newest first.
    pub async fn trigger_executions(
        &self,
        space: &str,
        name: &str,
        before: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ExecutionPage, ClientError> {
        let limit = limit.map(|l| l.to_string());
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(before) = before {
            query.push(("before", before));
        }
        if let Some(limit) = &limit {
            query.push(("limit", limit));
        }
        let url = self.url(&["v1", "spaces", space, "triggers", name, "executions"], &query)?;
        self.json(self.request(Method::GET, url)).await
    }
}
