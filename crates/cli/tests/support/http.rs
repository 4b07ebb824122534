//! A small HTTP client bound to one server and token, answering `(status, JSON body)`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::TestServer;

/// Requests to one server with one token (or none).
#[derive(Clone)]
pub struct Http {
    base: String,
    token: Option<String>,
    client: reqwest::Client,
}

impl Http {
    /// With the server's admin token.
    pub fn new(server: &TestServer) -> Http {
        Http::with_token(server, Some(&server.admin_token))
    }

    /// With `token`, or without one.
    pub fn with_token(server: &TestServer, token: Option<&str>) -> Http {
        Http { base: server.url.clone(), token: token.map(str::to_string), client: reqwest::Client::new() }
    }

    /// The token it sends, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Sends a request; a body that is not JSON comes back as a JSON string, an empty one as null.
    pub async fn send(&self, method: Method, path: &str, body: Option<(&str, Vec<u8>)>) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).timeout(Duration::from_secs(60));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some((ct, bytes)) = body {
            req = req.header("content-type", ct).body(bytes);
        }
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    /// Sends a request with extra request headers; answers with the response's headers too.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).timeout(Duration::from_secs(60));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body.to_string());
        }
        let resp = req.send().await.expect("request reaches the server");
        let (status, response_headers) = (resp.status(), resp.headers().clone());
        let text = resp.text().await.expect("body");
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, response_headers, value)
    }

    /// GET.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(("application/json", body.to_string().into_bytes()))).await
    }

    /// POST raw JSON text.
    pub async fn post_text(&self, path: &str, body: String) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(("application/json", body.into_bytes()))).await
    }

    /// PUT a JSON body.
    pub async fn put_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(("application/json", body.to_string().into_bytes()))).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }

    /// PUT a YAML body.
    pub async fn put_yaml(&self, path: &str, yaml: &str) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(("application/yaml", yaml.as_bytes().to_vec()))).await
    }
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}
