//! Durable jobs (`docs/http-api.md`, "Jobs"). Jobs are answered as JSON values: the record has
//! many optional parts (lease, last error, result, attempts) that callers read as they need.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{Client, ClientError};

/// Which jobs a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobQuery {
    /// Only jobs with this status (`pending`, `running`, `succeeded`, `dead`, `cancelled`).
    pub status: Option<String>,
    /// Only jobs of this kind.
    pub kind: Option<String>,
    /// Only jobs with an id after this one (the previous page's `next_after`).
    pub after: Option<String>,
    /// At most this many (1–1000).
    pub limit: Option<u32>,
}

/// The answer to an enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The job (with `"replayed"`).
    pub job: Value,
    /// Whether an idempotency key returned an earlier job.
    pub replayed: bool,
}

impl Client {
    /// Enqueues a job; `request` is the body of `POST /v1/spaces/{space}/jobs`
    /// (`{"kind","payload",…}`).
    pub async fn enqueue_job(&self, space: &str, request: &Value) -> Result<Enqueued, ClientError> {
        let url = self.url(&["v1", "spaces", space, "jobs"], &[])?;
        let job: Value = self.json(self.request(Method::POST, url).json(request)).await?;
        let replayed = job["replayed"].as_bool().unwrap_or(false);
        Ok(Enqueued { job, replayed })
    }

    /// A job, with its attempts.
    pub async fn get_job(&self, space: &str, id: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, "jobs", id], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// A page of a space's jobs: `{"jobs":[…],"next_after":…}`.
    pub async fn list_jobs(&self, space: &str, query: &JobQuery) -> Result<Value, ClientError> {
        let limit = query.limit.map(|l| l.to_string());
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for (name, value) in [
            ("status", query.status.as_deref()),
            ("kind", query.kind.as_deref()),
            ("after", query.after.as_deref()),
            ("limit", limit.as_deref()),
        ] {
            if let Some(value) = value {
                pairs.push((name, value));
            }
        }
        let url = self.url(&["v1", "spaces", space, "jobs"], &pairs)?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Re-drives a dead or cancelled job, with a new payload if given.
    pub async fn retry_job(&self, space: &str, id: &str, payload: Option<&Value>) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, "jobs", id, "retry"], &[])?;
        let body = match payload {
            Some(payload) => json!({ "payload": payload }),
            None => json!({}),
        };
        self.json(self.request(Method::POST, url).json(&body)).await
    }

    /// Re-drives a space's dead jobs (of one kind, at most `limit`); returns how many.
    pub async fn redrive_jobs(&self, space: &str, kind: Option<&str>, limit: Option<u32>) -> Result<u64, ClientError> {
        let url = self.url(&["v1", "spaces", space, "jobs", "retry"], &[])?;
        let mut body = json!({});
        if let Some(kind) = kind {
            body["kind"] = json!(kind);
        }
        if let Some(limit) = limit {
            body["limit"] = json!(limit);
        }
        let reply: Value = self.json(self.request(Method::POST, url).json(&body)).await?;
        Ok(reply["redriven"].as_u64().unwrap_or(0))
    }

    /// Cancels a job that has not finished.
    pub async fn cancel_job(&self, space: &str, id: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, "jobs", id, "cancel"], &[])?;
        self.json(self.request(Method::POST, url)).await
    }

    /// Deletes a job that is not running.
    pub async fn delete_job(&self, space: &str, id: &str) -> Result<(), ClientError> {
        let url = self.url(&["v1", "spaces", space, "jobs", id], &[])?;
        self.empty(self.request(Method::DELETE, url)).await
    }
}
