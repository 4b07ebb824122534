//! KV buckets and durable subscriptions (`docs/http-api.md`, "KV buckets" and "Durable
//! subscriptions").

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Client, ClientError, HistoryEvent};

/// A precondition on a KV write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KvCondition {
    /// None.
    #[default]
    Always,
    /// The key is live at this revision (`If-Match`).
    Revision(u64),
    /// The key is not live (`If-None-Match: *`).
    Absent,
}

/// How a KV put is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvPutOptions {
    /// The value's content type (the server's default, `application/octet-stream`, when absent).
    pub content_type: Option<String>,
    /// The value expires after this long, e.g. `30s`.
    pub ttl: Option<String>,
    /// The precondition.
    pub condition: KvCondition,
}

impl KvPutOptions {
    /// A put under `condition`, with no content type or TTL.
    pub fn when(condition: KvCondition) -> KvPutOptions {
        KvPutOptions { condition, ..KvPutOptions::default() }
    }
}

/// The answer to a KV put or delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvWritten {
    /// The key's new revision.
    pub revision: u64,
    /// The seq of the write's log record.
    pub seq: u64,
}

/// A key's live value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvValue {
    /// The bytes.
    pub value: Vec<u8>,
    /// Their content type.
    pub content_type: String,
    /// The key's revision.
    pub revision: u64,
}

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Its name.
    pub name: String,
    /// Revisions kept per key.
    pub history: u32,
    /// When it was created.
    pub created_at: String,
}

/// A key as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The key.
    pub key: String,
    /// Its revision.
    pub revision: u64,
    /// The value's size in bytes.
    pub size: u64,
    /// The value's content type.
    pub content_type: String,
    /// When it was last written.
    pub updated_at: String,
    /// When it expires, if it has a TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A page of keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    /// The keys.
    pub keys: Vec<KeyInfo>,
    /// Pass as `after` for the next page.
    pub next_cursor: Option<String>,
}

/// A record a pull leased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivered {
    /// The log record.
    #[serde(flatten)]
    pub record: HistoryEvent,
    /// How many times it has been leased, this time included.
    pub deliveries: u32,
    /// When the lease ends.
    pub lease_expires_at: String,
}

/// The answer to a pull.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pulled {
    /// The leased records, by seq.
    pub records: Vec<Delivered>,
}

/// The answer to an ack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acked {
    /// How many records were acked.
    pub acked: u64,
    /// Their seqs.
    pub acked_seqs: Vec<u64>,
    /// The seqs named that were not pending (never delivered, already acked, dead letters):
    /// nothing happened to them.
    pub not_pending: Vec<u64>,
}

/// A lease as a nack names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The record's seq.
    pub seq: u64,
    /// The delivery count its pull reported.
    pub deliveries: u32,
}

/// The answer to a nack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    /// How many leases ended.
    pub released: u64,
    /// Those leases.
    pub released_leases: Vec<Lease>,
    /// The leases named that were not current (the record is not pending, or was leased again
    /// since): nothing happened to them.
    pub not_released: Vec<Lease>,
}

/// Options of a pull.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullOptions {
    /// At most this many records (server default 10).
    pub max: Option<u32>,
    /// The lease, e.g. `30s` (default: the subscription's `ack_wait`).
    pub lease: Option<String>,
    /// How long to wait for records when none is ready, e.g. `5s`.
    pub wait: Option<String>,
}

impl Client {
    /// Creates a bucket or changes its history.
    pub async fn put_bucket(&self, space: &str, bucket: &str, history: Option<u32>) -> Result<Bucket, ClientError> {
        let url = self.url(&["v1", "spaces", space, "kv", bucket], &[])?;
        self.json(self.request(Method::PUT, url).json(&json!({ "history": history }))).await
    }

    /// A bucket.
    pub async fn get_bucket(&self, space: &str, bucket: &str) -> Result<Bucket, ClientError> {
        let url = self.url(&["v1", "spaces", space, "kv", bucket], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Writes a key.
    pub async fn kv_put(
        &self,
        space: &str,
        bucket: &str,
        key: &str,
        value: Vec<u8>,
        options: &KvPutOptions,
    ) -> Result<KvWritten, ClientError> {
        let query: Vec<(&str, &str)> = options.ttl.as_deref().map(|t| ("ttl", t)).into_iter().collect();
        let url = self.url(&["v1", "spaces", space, "kv", bucket, "keys", key], &query)?;
        let mut request = self.request(Method::PUT, url).body(value);
        if let Some(ct) = &options.content_type {
            request = request.header(CONTENT_TYPE, ct);
        }
        request = with_condition(request, options.condition);
        self.json(request).await
    }

    /// A key's live value.
    pub async fn kv_get(&self, space: &str, bucket: &str, key: &str) -> Result<KvValue, ClientError> {
        let url = self.url(&["v1", "spaces", space, "kv", bucket, "keys", key], &[])?;
        let response = self.request(Method::GET, url).send().await.map_err(ClientError::transport)?;
        let status = response.status();
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let content_type = header(CONTENT_TYPE).unwrap_or_default();
        let revision = header(ETAG).and_then(|t| t.trim_matches('"').parse().ok()).unwrap_or(0);
        let bytes = response.bytes().await.map_err(ClientError::transport)?;
        if !status.is_success() {
            return Err(ClientError::from_reply(status.as_u16(), status.canonical_reason(), &bytes));
        }
        Ok(KvValue { value: bytes.to_vec(), content_type, revision })
    }

    /// Deletes a key.
    pub async fn kv_delete(
        &self,
        space: &str,
        bucket: &str,
        key: &str,
        condition: KvCondition,
    ) -> Result<KvWritten, ClientError> {
        let url = self.url(&["v1", "spaces", space, "kv", bucket, "keys", key], &[])?;
        self.json(with_condition(self.request(Method::DELETE, url), condition)).await
    }

    /// A page of a bucket's live keys.
    pub async fn kv_list(
        &self,
        space: &str,
        bucket: &str,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<KeyList, ClientError> {
        let limit = limit.map(|l| l.to_string());
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(p) = prefix {
            query.push(("prefix", p));
        }
        if let Some(a) = after {
            query.push(("after", a));
        }
        if let Some(l) = &limit {
            query.push(("limit", l));
        }
        let url = self.url(&["v1", "spaces", space, "kv", bucket, "keys"], &query)?;
        self.json(self.request(Method::GET, url)).await
    }

    /// A key's kept revisions, newest first: `{"history":[…]}`.
    pub async fn kv_history(&self, space: &str, bucket: &str, key: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, "kv", bucket, "history", key], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Creates or updates a durable subscription; `body` as docs/http-api.md describes.
    pub async fn put_subscription(&self, space: &str, name: &str, body: &Value) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, "subscriptions", name], &[])?;
        self.json(self.request(Method::PUT, url).json(body)).await
    }

    /// A subscription with its lag.
    pub async fn get_subscription(&self, space: &str, name: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, "subscriptions", name], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Every subscription of a space: `{"subscriptions":[…]}`.
    pub async fn list_subscriptions(&self, space: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, "subscriptions"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Deletes a subscription.
    pub async fn delete_subscription(&self, space: &str, name: &str) -> Result<(), ClientError> {
        let url = self.url(&["v1", "spaces", space, "subscriptions", name], &[])?;
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// Leases records of a subscription.
    pub async fn pull(&self, space: &str, name: &str, options: &PullOptions) -> Result<Pulled, ClientError> {
        let max = options.max.map(|m| m.to_string());
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(m) = &max {
            query.push(("max", m));
        }
        if let Some(l) = &options.lease {
            query.push(("lease", l));
        }
        if let Some(w) = &options.wait {
            query.push(("wait", w));
        }
        let url = self.url(&["v1", "spaces", space, "subscriptions", name, "pull"], &query)?;
        self.json(self.request(Method::POST, url)).await
    }

    /// Acknowledges records: which were pending (now acked) and which were not.
    pub async fn ack(&self, space: &str, name: &str, seqs: &[u64]) -> Result<Acked, ClientError> {
        let url = self.url(&["v1", "spaces", space, "subscriptions", name, "ack"], &[])?;
        self.json(self.request(Method::POST, url).json(&json!({ "seqs": seqs }))).await
    }

    /// Ends leases now so their records are delivered again; a lease is the seq and the
    /// delivery count its pull reported (`Delivered::deliveries`). Says which ended.
    pub async fn nack(&self, space: &str, name: &str, leases: &[(u64, u32)]) -> Result<Released, ClientError> {
        let url = self.url(&["v1", "spaces", space, "subscriptions", name, "nack"], &[])?;
        let leases: Vec<Value> = leases.iter().map(|(seq, d)| json!({ "seq": seq, "deliveries": d })).collect();
        self.json(self.request(Method::POST, url).json(&json!({ "leases": leases }))).await
    }

    /// A page of dead letters: `{"dead_letters":[…],"next_cursor":…}`.
    pub async fn dead_letters(&self, space: &str, name: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, "subscriptions", name, "dead-letters"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Makes dead letters deliverable again (all when `seqs` is `None`); returns how many.
    pub async fn redrive(&self, space: &str, name: &str, seqs: Option<&[u64]>) -> Result<u64, ClientError> {
        let url = self.url(&["v1", "spaces", space, "subscriptions", name, "dead-letters", "redrive"], &[])?;
        let reply: Value = self.json(self.request(Method::POST, url).json(&json!({ "seqs": seqs }))).await?;
        Ok(reply["redriven"].as_u64().unwrap_or(0))
    }
}

fn with_condition(request: reqwest::RequestBuilder, condition: KvCondition) -> reqwest::RequestBuilder {
    match condition {
        KvCondition::Always => request,
        KvCondition::Revision(r) => request.header(IF_MATCH, format!("\"{r}\"")),
        KvCondition::Absent => request.header(IF_NONE_MATCH, "*"),
    }
}
