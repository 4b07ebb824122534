//! Calls to the HTTP API in process: a request goes through the API's own router (its
//! authorisation, validation and handlers), with the signed-in person's token, and never
//! through a socket.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The most bytes of an API answer the console reads (an answer is at most a page of records).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// The API, reached in process.
#[derive(Clone)]
pub struct Api {
    router: Router,
}

/// An API answer that is not a success: its status and its error body's code and message.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable error code (`run_not_found`…).
    pub code: String,
    /// The message.
    pub message: String,
    /// The error's details.
    pub details: Value,
}

impl ApiFailure {
    fn of(status: StatusCode, body: &Value) -> ApiFailure {
        let error = &body["error"];
        ApiFailure {
            status,
            code: error["code"].as_str().unwrap_or("unknown").to_owned(),
            message: error["message"].as_str().unwrap_or("the API gave no message").to_owned(),
            details: error["details"].clone(),
        }
    }

    /// The failure an API answer that is not a success carries in its (JSON error) body.
    pub fn from_body(status: StatusCode, body: &[u8]) -> ApiFailure {
        let value: Value = serde_json::from_slice(body).unwrap_or_default();
        let mut failure = ApiFailure::of(status, &value);
        if value["error"]["message"].is_null() {
            failure.message = String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned();
        }
        failure
    }

    /// A failure the console itself reports (an answer it could not read).
    pub fn internal(message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal".to_owned(),
            message: message.into(),
            details: Value::Null,
        }
    }
}

/// What a call gives: the JSON answer of a success, or why not.
pub type ApiResult = Result<Value, ApiFailure>;

/// A body to send.
pub enum Send<'a> {
    /// Nothing.
    Empty,
    /// JSON.
    Json(&'a Value),
    /// Text of a media type (a YAML definition).
    Text(&'static str, &'a str),
}

impl Api {
    /// The API behind `router`.
    pub fn new(router: Router) -> Api {
        Api { router }
    }

    /// Sends a request and answers the raw response (a stream's, passed on as it comes).
    pub async fn raw(&self, token: &str, method: Method, path: &str, body: Send<'_>) -> Response {
        self.raw_with(token, method, path, body, None).await
    }

    /// [`Api::raw`], resuming a watch after `last_event_id` when given.
    pub async fn raw_with(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Send<'_>,
        last_event_id: Option<&str>,
    ) -> Response {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        let body = match body {
            Send::Empty => Body::empty(),
            Send::Json(value) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(value).unwrap_or_default())
            }
            Send::Text(media_type, text) => {
                request = request.header(header::CONTENT_TYPE, media_type);
                Body::from(text.to_owned())
            }
        };
        let request = match request.body(body) {
            Ok(request) => request,
            // Only a path that is not a URI gets here; the caller encodes every segment.
            Err(e) => {
                let mut response = Response::new(Body::from(format!(
                    "{{\"error\":{{\"code\":\"bad_request\",\"message\":\"invalid request: {e}\"}}}}"
                )));
                *response.status_mut() = StatusCode::BAD_REQUEST;
                return response;
            }
        };
        match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// Sends a request and reads its JSON answer.
    pub async fn call(&self, token: &str, method: Method, path: &str, body: Send<'_>) -> ApiResult {
        let response = self.raw(token, method, path, body).await;
        let status = response.status();
        let bytes = read_limited(response.into_body()).await?;
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                ApiFailure::internal(format!("the API answered {status} with a body that is not JSON: {e}"))
            })?
        };
        if status.is_success() { Ok(value) } else { Err(ApiFailure::of(status, &value)) }
    }

    /// GETs `path`.
    pub async fn get(&self, token: &str, path: &str) -> ApiResult {
        self.call(token, Method::GET, path, Send::Empty).await
    }

    /// POSTs JSON to `path`.
    pub async fn post(&self, token: &str, path: &str, body: &Value) -> ApiResult {
        self.call(token, Method::POST, path, Send::Json(body)).await
    }
}

/// An answer's body, at most [`MAX_ANSWER_BYTES`] of it.
pub async fn read_limited(body: Body) -> Result<Bytes, ApiFailure> {
    let limited = http_body_util::Limited::new(body, MAX_ANSWER_BYTES);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(ApiFailure::internal(format!("cannot read the API's answer: {e}"))),
    }
}

/// A path segment, percent-encoded: everything but RFC 3986's unreserved characters.
pub fn seg(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A query string (`?a=1&b=2`, or nothing) of the pairs whose value is not empty.
pub fn query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (name, value) in pairs {
        if !value.is_empty() {
            serializer.append_pair(name, value);
            any = true;
        }
    }
    if any { format!("?{}", serializer.finish()) } else { String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_queries_are_encoded() {
        assert_eq!(seg("a b/c%"), "a%20b%2Fc%25");
        assert_eq!(seg("orders-1.x_~"), "orders-1.x_~");
        assert_eq!(query([("status", "failed"), ("flow", "")]), "?status=failed");
        assert_eq!(query([("flow", "")]), "");
        assert_eq!(query([("q", "a&b")]), "?q=a%26b");
    }
}
