//! SDK for writing Switchyard functions in Rust.
//!
//! A function is a WebAssembly component implementing the `switchyard:function@0.1.0` world.
//! Build it with `cargo build --target wasm32-wasip2 --release` as a `cdylib`:
//!
//! ```ignore
//! use switchyard_guest::{Error, Function, Request, Response};
//!
//! struct Hello;
//!
//! impl Function for Hello {
//!     fn handle(request: Request) -> Result<Response, Error> {
//!         let name = request.text()?;
//!         Ok(Response::text(format!("Hello, {name}!")))
//!     }
//! }
//!
//! switchyard_guest::export!(Hello);
//! ```
//!
//! The host grants capabilities at deploy time: [`kv`] reaches only granted buckets, [`http`]
//! only allow-listed hosts, [`events`] only the function's own space. A refusal is an error
//! value whose [`Error`] conversion has the code `capability_denied`.

// The generated code names this crate by its path, from inside it too.
extern crate self as switchyard_guest;

/// Bindings generated from `wit/function.wit` (and the WASI interfaces it uses).
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "switchyard:function/function",
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "switchyard_guest::bindings",
        runtime_path: "switchyard_guest::__wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// Re-exported so a function needs no dependency of its own for JSON.
pub use serde_json;

pub use bindings::Guest as Function;
/// Exports a type implementing [`Function`] as the component's `handle`.
pub use bindings::export;
pub use bindings::switchyard::function::types::{Context, Error, MachineContext, Payload, Request, Response};

/// The media type of JSON.
pub const JSON: &str = "application/json";
/// The media type of plain UTF-8 text.
pub const TEXT: &str = "text/plain; charset=utf-8";

impl Request {
    /// The input as UTF-8 text; a JSON string input gives its contents.
    pub fn text(&self) -> Result<String, Error> {
        let text = std::str::from_utf8(&self.input.body)
            .map_err(|_| Error::new("invalid_input", "the input is not UTF-8 text"))?;
        if is_json(&self.input.content_type)
            && let Ok(serde_json::Value::String(s)) = serde_json::from_str(text)
        {
            return Ok(s);
        }
        Ok(text.to_owned())
    }

    /// The input parsed as JSON into `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.input.body)
            .map_err(|e| Error::new("invalid_input", format!("the input is not the JSON expected: {e}")))
    }
}

impl Response {
    /// A plain-text output.
    pub fn text(text: impl Into<String>) -> Response {
        Response { output: Payload { content_type: TEXT.into(), body: text.into().into_bytes() } }
    }

    /// A JSON output.
    pub fn json<T: serde::Serialize>(value: &T) -> Result<Response, Error> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::new("invalid_output", format!("the output could not be encoded as JSON: {e}")))?;
        Ok(Response { output: Payload { content_type: JSON.into(), body } })
    }

    /// An output of any media type.
    pub fn bytes(content_type: impl Into<String>, body: Vec<u8>) -> Response {
        Response { output: Payload { content_type: content_type.into(), body } }
    }
}

impl Error {
    /// An error that trying again will not fix.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Error {
        Error { code: code.into(), message: message.into(), retryable: false }
    }

    /// An error that trying again may fix.
    pub fn retryable(code: impl Into<String>, message: impl Into<String>) -> Error {
        Error { code: code.into(), message: message.into(), retryable: true }
    }
}

fn is_json(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|t| t.trim().ends_with("json"))
}

#[cfg(test)]
mod tests;

/// Key-value buckets granted to the function.
pub mod kv {
    use crate::Error;
    pub use crate::bindings::switchyard::function::kv::{Entry, KvError, compare_and_set, delete, get, set};

    impl From<KvError> for Error {
        fn from(e: KvError) -> Error {
            match e {
                KvError::Denied(m) => Error::new(crate::CAPABILITY_DENIED, m),
                KvError::Conflict(current) => Error::retryable(
                    "kv_conflict",
                    match current {
                        Some(revision) => format!("the key changed; it is now at revision {revision}"),
                        None => "the key has no value".to_owned(),
                    },
                ),
                KvError::Invalid(m) => Error::new("kv_invalid", m),
                KvError::Unavailable(m) => Error::retryable("kv_unavailable", m),
            }
        }
    }
}

/// The code of a capability the host refused.
pub const CAPABILITY_DENIED: &str = "capability_denied";

/// Events to instances and messages to topics, in the function's own space.
pub mod events {
    use crate::Error;
    pub use crate::bindings::switchyard::function::events::{EventError, publish, send};

    /// Applies an event with a JSON payload to an instance (`machine:id`); returns its new state.
    pub fn send_json<T: serde::Serialize>(instance: &str, event: &str, payload: &T) -> Result<String, Error> {
        let payload = serde_json::to_string(payload)
            .map_err(|e| Error::new("invalid_payload", format!("the payload could not be encoded: {e}")))?;
        Ok(send(instance, event, &payload)?)
    }

    /// Publishes a JSON message to a topic; returns its seq in the event log.
    pub fn publish_json<T: serde::Serialize>(topic: &str, message: &T) -> Result<u64, Error> {
        let message = serde_json::to_string(message)
            .map_err(|e| Error::new("invalid_payload", format!("the message could not be encoded: {e}")))?;
        Ok(publish(topic, &message)?)
    }

    impl From<EventError> for Error {
        fn from(e: EventError) -> Error {
            match e {
                EventError::Denied(m) => Error::new(crate::CAPABILITY_DENIED, m),
                EventError::NotFound(m) => Error::new("instance_not_found", m),
                EventError::Rejected(m) => Error::new("event_rejected", m),
                EventError::Invalid(m) => Error::new("event_invalid", m),
                EventError::Unavailable(m) => Error::retryable("events_unavailable", m),
            }
        }
    }
}

/// Structured log lines, kept with the invocation's record.
pub mod log {
    pub use crate::bindings::switchyard::function::log::{Level, log};

    /// Logs at info level.
    pub fn info(message: &str) {
        log(Level::Info, message, &[]);
    }

    /// Logs at warn level.
    pub fn warn(message: &str) {
        log(Level::Warn, message, &[]);
    }

    /// Logs at error level.
    pub fn error(message: &str) {
        log(Level::Error, message, &[]);
    }

    /// Logs at debug level.
    pub fn debug(message: &str) {
        log(Level::Debug, message, &[]);
    }
}

/// Configuration values and secrets given at deploy time.
pub mod config {
    pub use crate::bindings::switchyard::function::config::{get, get_secret, keys};
}

/// Outgoing HTTP to allow-listed hosts (`wasi:http`), as simple blocking calls.
pub mod http {
    use crate::Error;
    use crate::bindings::wasi::http::outgoing_handler;
    use crate::bindings::wasi::http::types::{
        ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
    };
    use crate::bindings::wasi::io::streams::StreamError;

    /// A response.
    #[derive(Debug, Clone)]
    pub struct HttpResponse {
        /// The status code.
        pub status: u16,
        /// The headers, names lowercase.
        pub headers: Vec<(String, String)>,
        /// The body.
        pub body: Vec<u8>,
    }

    impl HttpResponse {
        /// The body as text (invalid UTF-8 replaced).
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }
    }

    /// `GET url`.
    pub fn get(url: &str) -> Result<HttpResponse, Error> {
        request("GET", url, &[], &[])
    }

    /// Sends a request and reads the whole response.
    pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<HttpResponse, Error> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(Error::new("http_invalid_url", format!("{url}: only http:// and https:// URLs are supported")));
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        };
        let entries: Vec<(String, Vec<u8>)> =
            headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())).collect();
        let fields = Fields::from_list(&entries)
            .map_err(|e| Error::new("http_invalid_header", format!("a request header is not acceptable: {e:?}")))?;
        let outgoing = OutgoingRequest::new(fields);
        let invalid =
            |what: &str| Error::new("http_invalid_request", format!("the request's {what} is not acceptable"));
        outgoing.set_method(&method).map_err(|()| invalid("method"))?;
        outgoing.set_scheme(Some(&scheme)).map_err(|()| invalid("scheme"))?;
        outgoing.set_authority(Some(authority)).map_err(|()| invalid("host"))?;
        outgoing.set_path_with_query(Some(&path)).map_err(|()| invalid("path"))?;
        let outgoing_body = outgoing.body().map_err(|()| invalid("body"))?;
        if !body.is_empty() {
            let stream = outgoing_body.write().map_err(|()| invalid("body"))?;
            for chunk in body.chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|e| Error::retryable("http_failed", format!("writing the request body: {e:?}")))?;
            }
        }
        OutgoingBody::finish(outgoing_body, None).map_err(http_error)?;

        let future = outgoing_handler::handle(outgoing, None).map_err(http_error)?;
        let response = loop {
            match future.get() {
                Some(Ok(Ok(response))) => break response,
                Some(Ok(Err(code))) => return Err(http_error(code)),
                Some(Err(())) => return Err(Error::new("http_failed", "the response was already taken")),
                None => future.subscribe().block(),
            }
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming = response.consume().map_err(|()| Error::new("http_failed", "the response body was taken"))?;
        let mut body = Vec::new();
        {
            let stream = incoming.stream().map_err(|()| Error::new("http_failed", "the response body was taken"))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => body.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        return Err(Error::retryable(
                            "http_failed",
                            format!("reading the response: {}", e.to_debug_string()),
                        ));
                    }
                }
            }
        }
        IncomingBody::finish(incoming);
        Ok(HttpResponse { status, headers, body })
    }

    fn http_error(code: ErrorCode) -> Error {
        match code {
            ErrorCode::HttpRequestDenied => Error::new(
                crate::CAPABILITY_DENIED,
                "outgoing HTTP to this host is not allowed (deploy with `--allow-host HOST`)",
            ),
            ErrorCode::DestinationIpProhibited => Error::new(
                crate::CAPABILITY_DENIED,
                "outgoing HTTP to private, loopback and link-local addresses is not allowed on this server",
            ),
            ErrorCode::ConnectionRefused => {
                Error::retryable("http_connection_refused", "the server refused the connection")
            }
            ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::ConnectionWriteTimeout => {
                Error::retryable("http_timeout", format!("{code:?}"))
            }
            other => Error::retryable("http_failed", format!("{other:?}")),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn refusals_of_the_host_become_errors_saying_what_to_do() {
            let table = [
                (
                    ErrorCode::HttpRequestDenied,
                    "capability_denied",
                    "outgoing HTTP to this host is not allowed (deploy with `--allow-host HOST`)",
                    false,
                ),
                (
                    ErrorCode::DestinationIpProhibited,
                    "capability_denied",
                    "outgoing HTTP to private, loopback and link-local addresses is not allowed on this server",
                    false,
                ),
                (ErrorCode::ConnectionRefused, "http_connection_refused", "the server refused the connection", true),
                (ErrorCode::ConnectionTimeout, "http_timeout", "ErrorCode::ConnectionTimeout", true),
                (ErrorCode::ConnectionReadTimeout, "http_timeout", "ErrorCode::ConnectionReadTimeout", true),
                (ErrorCode::ConnectionWriteTimeout, "http_timeout", "ErrorCode::ConnectionWriteTimeout", true),
                (ErrorCode::DnsTimeout, "http_failed", "ErrorCode::DnsTimeout", true),
                (ErrorCode::HttpResponseIncomplete, "http_failed", "ErrorCode::HttpResponseIncomplete", true),
            ];
            for (code, want_code, want_message, retryable) in table {
                let name = format!("{code:?}");
                let error = http_error(code);
                assert_eq!((error.code.as_str(), error.message.as_str()), (want_code, want_message), "{name}");
                assert_eq!(error.retryable, retryable, "{name}");
            }
        }

        #[test]
        fn only_http_and_https_urls_are_requested() {
            // Refused before anything reaches the host (which a host-side test could not answer).
            for url in ["ftp://example.com/file", "example.com", "HTTP://example.com/", "", "//example.com"] {
                let error = request("GET", url, &[], &[]).expect_err(url);
                assert_eq!(error.code, "http_invalid_url", "{url}");
                assert_eq!(error.message, format!("{url}: only http:// and https:// URLs are supported"));
                assert!(!error.retryable);
            }
        }
    }
}
