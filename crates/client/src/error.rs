//! The client's error type.

use serde::Deserialize;
use serde_json::Value;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status; `code` is its stable error code.
    #[error("{code}: {message}")]
    Api {
        /// HTTP status of the reply.
        status: u16,
        /// Stable error code (`instance_not_found`, …), or `http_<status>` when the body had none.
        code: String,
        /// Human-readable message from the server.
        message: String,
        /// Machine-readable context; `null` when the server gave none.
        details: Value,
    },
    /// The request did not complete: connection refused, reset, timed out.
    #[error("{0}")]
    Transport(String),
    /// The server replied with a success status but a body this client cannot read.
    #[error("unexpected response from the server: {0}")]
    Decode(String),
    /// The server's TLS certificate was refused: issued by a CA the client does not trust,
    /// expired, or for another name.
    #[error("the server's TLS certificate is not trusted: {0}")]
    Certificate(String),
    /// The server address cannot be used.
    #[error("invalid server address: {0}")]
    InvalidServer(String),
    /// A CA certificate given to trust cannot be read or used.
    #[error("invalid CA certificate: {0}")]
    InvalidCaCert(String),
    /// An argument cannot be sent: an empty or dot-only path segment, or a token that is not a
    /// valid header value.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl ClientError {
    /// The stable error code when the server refused the request.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status when the server refused the request.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Builds an [`ClientError::Api`] from a non-2xx reply's status and body.
    pub(crate) fn from_reply(status: u16, reason: Option<&str>, body: &[u8]) -> ClientError {
        #[derive(Deserialize)]
        struct Body {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            code: String,
            message: String,
            #[serde(default)]
            details: Value,
        }
        if let Ok(Body { error }) = serde_json::from_slice::<Body>(body) {
            return ClientError::Api { status, code: error.code, message: error.message, details: error.details };
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let message = if text.is_empty() {
            reason.unwrap_or("no message").to_string()
        } else {
            // A proxy's HTML page or a panic message: keep it short.
            let mut short: String = text.chars().take(200).collect();
            if short.len() < text.len() {
                short.push('…');
            }
            short
        };
        ClientError::Api { status, code: format!("http_{status}"), message, details: Value::Null }
    }

    /// Describes a reqwest failure by its cause chain (the URL is left out; callers know it).
    pub(crate) fn transport(err: reqwest::Error) -> ClientError {
        let err = err.without_url();
        // reqwest's own text ("error sending request") adds nothing when there is a cause.
        let mut next = std::error::Error::source(&err);
        let mut text = if next.is_some() { String::new() } else { err.to_string() };
        while let Some(cause) = next {
            let cause_text = cause.to_string();
            if !text.ends_with(&cause_text) {
                if !text.is_empty() {
                    text.push_str(": ");
                }
                text.push_str(&cause_text);
            }
            next = cause.source();
        }
        if certificate_refused(&err) { ClientError::Certificate(text) } else { ClientError::Transport(text) }
    }
}

/// Whether rustls refused the server's certificate somewhere in `err`'s cause chain.
fn certificate_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(cause) = next {
        // hyper-rustls hands rustls's error up inside io::Errors (nested two deep), and an
        // io::Error's `source` skips the error it wraps: look inside each one.
        let mut inner = Some(cause);
        while let Some(candidate) = inner {
            if let Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented) =
                candidate.downcast_ref::<rustls::Error>()
            {
                return true;
            }
            inner = candidate
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .map(|e| e as &(dyn std::error::Error + 'static));
        }
        next = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_error_is_read_from_the_documented_body() {
        let body = br#"{"error":{"code":"conflict","message":"revision is 3","details":{"actual_revision":3}}}"#;
        match ClientError::from_reply(409, Some("Conflict"), body) {
            ClientError::Api { status, code, message, details } => {
                assert_eq!((status, code.as_str(), message.as_str()), (409, "conflict", "revision is 3"));
                assert_eq!(details, json!({"actual_revision": 3}));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn api_error_without_details_has_null_details() {
        let body = br#"{"error":{"code":"forbidden","message":"no"}}"#;
        let err = ClientError::from_reply(403, None, body);
        assert!(matches!(err, ClientError::Api { details: Value::Null, .. }));
    }

    #[test]
    fn a_refused_certificate_is_found_inside_nested_io_errors() {
        let refused = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        // As hyper-rustls and hyper-util hand it up.
        let nested = std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, refused));
        assert!(certificate_refused(&nested));
        let reset = std::io::Error::other(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(!certificate_refused(&reset));
        let other_tls = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(!certificate_refused(&other_tls));
    }

    #[test]
    fn foreign_error_body_becomes_http_status_code() {
        let table: &[(&[u8], &str)] = &[
            (b"", "Bad Gateway"),
            (b"upstream down\n", "upstream down"),
            (br#"{"message":"nope"}"#, r#"{"message":"nope"}"#),
        ];
        for (body, message) in table {
            match ClientError::from_reply(502, Some("Bad Gateway"), body) {
                ClientError::Api { code, message: m, .. } => {
                    assert_eq!(code, "http_502");
                    assert_eq!(&m, message);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
