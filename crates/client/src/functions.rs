//! Functions: deploy, read, invoke and invocation records (`docs/http-api.md`, "Functions").

use base64::Engine as _;
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Client, ClientError};

/// A function version's settings, as deployed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FunctionSettings {
    /// Wall-time limit in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Memory limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Fuel limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    /// Hosts outgoing HTTP may reach.
    pub allowed_hosts: Vec<String>,
    /// KV buckets the function may use.
    pub kv_buckets: Vec<String>,
    /// Configuration values.
    pub config: std::collections::BTreeMap<String, String>,
    /// Secrets.
    pub secrets: std::collections::BTreeMap<String, String>,
    /// How failed asynchronous invocations are retried (a retry policy, as jobs take it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<serde_json::Value>,
    /// Roles on patterns of the function's space its host calls act with, as (role, pattern);
    /// none: events and publishing anywhere in the space.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "grant_objects")]
    pub grants: Option<Vec<(String, String)>>,
}

fn grant_objects<S: serde::Serializer>(grants: &Option<Vec<(String, String)>>, s: S) -> Result<S::Ok, S::Error> {
    let objects: Option<Vec<Value>> = grants
        .as_ref()
        .map(|g| g.iter().map(|(role, pattern)| serde_json::json!({ "role": role, "pattern": pattern })).collect());
    objects.serialize(s)
}

/// A deployed function version.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct FunctionInfo {
    /// The function's name.
    pub name: String,
    /// `space:name`.
    pub address: String,
    /// The version.
    pub version: u64,
    /// The component's SHA-256.
    pub digest: String,
    /// The component's size in bytes.
    pub size: u64,
    /// When the version was deployed.
    pub created_at: String,
    /// Its settings (secrets by name only).
    pub settings: Value,
    /// Whether the deploy created this version (deploys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
    /// The grants it acts with: `{"role","permissions","pattern"}` (deploys and reads of one
    /// function).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Value>,
}

/// The answer of a synchronous invocation that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeOutput {
    /// The invocation's id.
    pub invocation_id: String,
    /// The version that answered.
    pub version: u64,
    /// The output's content type.
    pub content_type: String,
    /// The output.
    pub body: Vec<u8>,
}

/// How an invocation is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvokeOptions {
    /// The input's content type (`application/json` when absent).
    pub content_type: Option<String>,
    /// A specific version.
    pub version: Option<u64>,
    /// An idempotency key.
    pub idempotency_key: Option<String>,
}

#[derive(Deserialize)]
struct Functions {
    functions: Vec<FunctionInfo>,
}

#[derive(Deserialize)]
struct Versions {
    versions: Vec<FunctionInfo>,
}

/// A page of invocation records.
#[derive(Debug, Clone, Deserialize)]
pub struct InvocationPage {
    /// The records, oldest first.
    pub invocations: Vec<Value>,
    /// Pass as `after` for the next page.
    pub next_after: Option<u64>,
}

impl Client {
    /// Deploys a component with its settings.
    pub async fn deploy_function(
        &self,
        space: &str,
        name: &str,
        component: &[u8],
        settings: &FunctionSettings,
    ) -> Result<FunctionInfo, ClientError> {
        let url = self.url(&["v1", "spaces", space, "functions", name], &[])?;
        let mut body = serde_json::to_value(settings).map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        if let Value::Object(map) = &mut body {
            map.insert(
                "component_base64".into(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(component)),
            );
        }
        self.json(self.request(Method::PUT, url).json(&body)).await
    }

    /// A function version (the latest without `version`).
    pub async fn get_function(
        &self,
        space: &str,
        name: &str,
        version: Option<u64>,
    ) -> Result<FunctionInfo, ClientError> {
        let version = version.map(|v| v.to_string());
        let query: Vec<(&str, &str)> = version.as_deref().map(|v| ("version", v)).into_iter().collect();
        let url = self.url(&["v1", "spaces", space, "functions", name], &query)?;
        self.json(self.request(Method::GET, url)).await
    }

    /// The latest version of every function of a space.
    pub async fn list_functions(&self, space: &str) -> Result<Vec<FunctionInfo>, ClientError> {
        let url = self.url(&["v1", "spaces", space, "functions"], &[])?;
        Ok(self.json::<Functions>(self.request(Method::GET, url)).await?.functions)
    }

    /// Every version of a function.
    pub async fn function_versions(&self, space: &str, name: &str) -> Result<Vec<FunctionInfo>, ClientError> {
        let url = self.url(&["v1", "spaces", space, "functions", name, "versions"], &[])?;
        Ok(self.json::<Versions>(self.request(Method::GET, url)).await?.versions)
    }

    /// Invokes a function and waits for its output. A failure of the function comes back as
    /// [`ClientError::Api`] with the function's error code and the invocation id in `details`.
    pub async fn invoke(
        &self,
        space: &str,
        name: &str,
        input: Vec<u8>,
        options: &InvokeOptions,
    ) -> Result<InvokeOutput, ClientError> {
        let version = options.version.map(|v| v.to_string());
        let query: Vec<(&str, &str)> = version.as_deref().map(|v| ("version", v)).into_iter().collect();
        let url = self.url(&["v1", "spaces", space, "functions", name, "invoke"], &query)?;
        let request = self.invoke_request(url, input, options);
        let response = request.send().await.map_err(ClientError::transport)?;
        let status = response.status();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let content_type = header(CONTENT_TYPE.as_str()).unwrap_or_default();
        let invocation_id = header("x-switchyard-invocation-id").unwrap_or_default();
        let version = header("x-switchyard-function-version").and_then(|v| v.parse().ok()).unwrap_or(0);
        let bytes = response.bytes().await.map_err(ClientError::transport)?;
        if !status.is_success() {
            return Err(ClientError::from_reply(status.as_u16(), status.canonical_reason(), &bytes));
        }
        Ok(InvokeOutput { invocation_id, version, content_type, body: bytes.to_vec() })
    }

    /// Starts an asynchronous invocation; returns its record (pending, or the original one for
    /// a repeated idempotency key).
    pub async fn invoke_async(
        &self,
        space: &str,
        name: &str,
        input: Vec<u8>,
        options: &InvokeOptions,
    ) -> Result<Value, ClientError> {
        let version = options.version.map(|v| v.to_string());
        let mut query: Vec<(&str, &str)> = vec![("async", "true")];
        if let Some(v) = version.as_deref() {
            query.push(("version", v));
        }
        let url = self.url(&["v1", "spaces", space, "functions", name, "invoke"], &query)?;
        self.json(self.invoke_request(url, input, options)).await
    }

    fn invoke_request(&self, url: reqwest::Url, input: Vec<u8>, options: &InvokeOptions) -> reqwest::RequestBuilder {
        let content_type = options.content_type.as_deref().unwrap_or("application/json");
        let mut request = self.request(Method::POST, url).header(CONTENT_TYPE, content_type).body(input);
        if let Some(key) = &options.idempotency_key {
            request = request.header("idempotency-key", key);
        }
        request
    }

    /// An invocation record.
    pub async fn get_invocation(&self, space: &str, id: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, "invocations", id], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// A page of a function's invocation records: after `after`, or the newest `limit`.
    pub async fn list_invocations(
        &self,
        space: &str,
        name: &str,
        after: Option<u64>,
        limit: Option<u32>,
    ) -> Result<InvocationPage, ClientError> {
        let after = after.map(|a| a.to_string());
        let limit = limit.map(|l| l.to_string());
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = after.as_deref() {
            query.push(("after", a));
        }
        if let Some(l) = limit.as_deref() {
            query.push(("limit", l));
        }
        let url = self.url(&["v1", "spaces", space, "functions", name, "invocations"], &query)?;
        self.json(self.request(Method::GET, url)).await
    }
}
