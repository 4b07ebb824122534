//! The body of a console POST: form fields, read only after the session and its CSRF token are
//! checked.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;

use crate::ConsoleState;
use crate::session::{Session, refused};

/// The largest form the console reads (a flow's YAML, a JSON input).
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// A checked POST: the session that sent it and its fields, in order.
pub struct Form {
    /// The session.
    pub session: Session,
    /// The fields (a name may repeat: the selected rows of a list).
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// The first value of a field, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first value of a field, trimmed, or "".
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map_or("", str::trim)
    }

    /// Every value of a field.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// Parses `application/x-www-form-urlencoded` text.
pub fn parse_fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).map(|(n, v)| (n.into_owned(), v.into_owned())).collect()
}

/// Whether the request came from a page of this server. A browser says so itself in
/// `Sec-Fetch-Site` (which no page can set); without it, an `Origin` must name the host the
/// request was sent to (`Host`, or the URI's authority under HTTP/2); a request with neither is
/// not a browser's cross-site request (a client that is not a browser, or an old browser's
/// same-origin form).
pub fn same_origin(headers: &HeaderMap, authority: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|s| s.to_str().ok()) {
        return site == "same-origin";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).or(authority);
    let Some(host) = host else { return false };
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    origin_host.eq_ignore_ascii_case(host)
}

/// Compares without stopping at the first difference.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequest<ConsoleState> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &ConsoleState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        if !same_origin(&parts.headers, parts.uri.authority().map(|a| a.as_str())) {
            return Err(refused(StatusCode::FORBIDDEN, "This request came from another site."));
        }
        let header_csrf = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = match http_body_util::Limited::new(body, MAX_FORM_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Err(refused(StatusCode::PAYLOAD_TOO_LARGE, "The form is larger than 2 MiB.")),
        };
        let fields = parse_fields(&bytes);
        let sent = header_csrf.or_else(|| fields.iter().find(|(n, _)| n == "csrf").map(|(_, v)| v.clone()));
        match sent {
            Some(sent) if same_secret(&sent, &session.csrf) => Ok(Form { session, fields }),
            _ => Err(refused(
                StatusCode::FORBIDDEN,
                "This form's CSRF token is missing or does not match your session: reload the page and try again.",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn origins_must_name_the_host() {
        let mut headers = HeaderMap::new();
        assert!(same_origin(&headers, None));
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://127.0.0.1:7400"));
        assert!(same_origin(&headers, Some("127.0.0.1:7400")), "HTTP/2: the authority, no Host");
        assert!(!same_origin(&headers, None), "an Origin and nothing to compare it with");
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:7400"));
        assert!(same_origin(&headers, None));
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&headers, None));
        // The browser's own word wins over a Host a proxy rewrote.
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&headers, None));
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:7400"));
        assert!(!same_origin(&headers, None));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
