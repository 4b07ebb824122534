//! Outbound webhook endpoints (`docs/triggers.md`): put, read, disable, enable, deliveries,
//! re-drive.

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Client, ClientError};

/// An endpoint as the server shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Its name.
    pub name: String,
    /// Its version (one more each time the definition changes).
    pub version: u64,
    /// Whether it is enabled.
    pub enabled: bool,
    /// Why it is disabled (a person's reason, or the `410 Gone` that disabled it).
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// The definition, normalised.
    pub definition: Value,
    /// Its last delivery, last failure, breaker and slow-down (on the node that answered).
    #[serde(default)]
    pub health: Value,
    /// When it was first put.
    pub created_at: String,
    /// When its version or state last changed.
    pub updated_at: String,
    /// On a put: whether it is new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
    /// On a put: whether this made a new version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
}

/// One delivery: a log record on its way to an endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its id (the job's).
    pub id: String,
    /// The `webhook-id` it is sent under, the same on every attempt.
    pub webhook_id: String,
    /// The log record it carries.
    #[serde(default)]
    pub seq: Option<u64>,
    /// The record's kind (the message's `type`).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// `pending`, `running`, `succeeded`, `dead` or `cancelled`.
    pub status: String,
    /// The status code of the answer that delivered it.
    #[serde(default)]
    pub response_status: Option<u16>,
    /// How long that answer took, in milliseconds.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Attempts so far.
    pub attempt: u32,
    /// Attempts its policy allows.
    pub max_attempts: u32,
    /// The last attempt's error (`http_503`: "… answered 503 Service Unavailable in 12 ms").
    #[serde(default)]
    pub error: Option<Value>,
    /// Each attempt: when, and its error.
    #[serde(default)]
    pub attempts: Vec<Value>,
    /// When it was enqueued.
    pub created_at: String,
    /// When it is or was due.
    pub run_at: String,
    /// When it finished.
    #[serde(default)]
    pub finished_at: Option<String>,
}

/// A page of deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryPage {
    /// The deliveries.
    pub deliveries: Vec<Delivery>,
    /// Pass as `before` for the next page; `None` at the end.
    pub next_before: Option<String>,
}

#[derive(Deserialize)]
struct EndpointList {
    endpoints: Vec<Endpoint>,
}

#[derive(Deserialize)]
struct Redriven {
    redriven: u64,
}

impl Client {
    /// Puts an endpoint (JSON or YAML, per `content_type`).
    pub async fn put_endpoint(
        &self,
        space: &str,
        name: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Endpoint, ClientError> {
        let url = self.url(&["v1", "spaces", space, "endpoints", name], &[])?;
        let content_type = HeaderValue::try_from(content_type)
            .map_err(|_| ClientError::InvalidArgument(format!("content type \"{content_type}\"")))?;
        self.json(self.request(Method::PUT, url).header(CONTENT_TYPE, content_type).body(body)).await
    }

    /// One endpoint, with its health.
    pub async fn get_endpoint(&self, space: &str, name: &str) -> Result<Endpoint, ClientError> {
        let url = self.url(&["v1", "spaces", space, "endpoints", name], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// A space's endpoints, by name.
    pub async fn list_endpoints(&self, space: &str) -> Result<Vec<Endpoint>, ClientError> {
        let url = self.url(&["v1", "spaces", space, "endpoints"], &[])?;
        Ok(self.json::<EndpointList>(self.request(Method::GET, url)).await?.endpoints)
    }

    /// Deletes an endpoint.
    pub async fn delete_endpoint(&self, space: &str, name: &str) -> Result<(), ClientError> {
        let url = self.url(&["v1", "spaces", space, "endpoints", name], &[])?;
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// Disables an endpoint (with a reason) or, with `None`, enables it.
    pub async fn set_endpoint_disabled(
        &self,
        space: &str,
        name: &str,
        reason: Option<&str>,
    ) -> Result<Endpoint, ClientError> {
        let verb = if reason.is_some() { "disable" } else { "enable" };
        let url = self.url(&["v1", "spaces", space, "endpoints", name, verb], &[])?;
        let request = self.request(Method::POST, url);
        let request = match reason {
            Some(reason) => request.json(&json!({ "reason": reason })),
            None => request,
        };
        self.json(request).await
    }

    /// A page of an endpoint's deliveries, newest first.
    pub async fn endpoint_deliveries(
        &self,
        space: &str,
        name: &str,
        before: Option<&str>,
        limit: Option<u32>,
    ) -> Result<DeliveryPage, ClientError> {
        let limit = limit.map(|l| l.to_string());
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(before) = before {
            query.push(("before", before));
        }
        if let Some(limit) = &limit {
            query.push(("limit", limit));
        }
        let url = self.url(&["v1", "spaces", space, "endpoints", name, "deliveries"], &query)?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Re-drives one dead delivery (same `webhook-id`).
    pub async fn redrive_delivery(&self, space: &str, name: &str, id: &str) -> Result<Delivery, ClientError> {
        let url = self.url(&["v1", "spaces", space, "endpoints", name, "deliveries", id, "redrive"], &[])?;
        self.json(self.request(Method::POST, url)).await
    }

    /// Re-drives an endpoint's dead deliveries created in `[from, to]` (RFC 3339, each
    /// optional); how many.
    pub async fn redrive_deliveries(
        &self,
        space: &str,
        name: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<u64, ClientError> {
        let url = self.url(&["v1", "spaces", space, "endpoints", name, "redrive"], &[])?;
        let mut body = serde_json::Map::new();
        if let Some(from) = from {
            body.insert("from".into(), json!(from));
        }
        if let Some(to) = to {
            body.insert("to".into(), json!(to));
        }
        Ok(self.json::<Redriven>(self.request(Method::POST, url).json(&body)).await?.redriven)
    }
}
