//! Extractors that answer malformed requests with the API's error body instead of axum's
//! plain-text rejections.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::json;
use switchyard_engine::{ErrorCode, Principal};

use crate::AppState;
use crate::error::ApiError;

/// The request body, read up to the configured limit.
pub struct Body(pub Bytes);

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body is larger than the limit of {} bytes", state.config.max_body_bytes),
            )
            .with_details(json!({ "limit": state.config.max_body_bytes }))),
            Err(e) => Err(ApiError::new(ErrorCode::BadRequest, format!("cannot read the body: {e}"))),
        }
    }
}

/// A JSON body decoded into `T`; syntax and type errors name their position.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        require_json(req.headers())?;
        let Body(bytes) = Body::from_request(req, state).await?;
        decode_json(&bytes).map(Json)
    }
}

/// The request's media type (`application/json` of `application/json; charset=utf-8`),
/// lower-cased; `None` without a Content-Type.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(CONTENT_TYPE)?;
    let ct = ct.to_str().unwrap_or("");
    Some(ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// Refuses a body declared as anything but JSON (no Content-Type is taken as JSON).
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match media_type(headers) {
        Some(mt) if mt != "application/json" && !mt.ends_with("+json") => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("expected Content-Type application/json, got \"{mt}\""),
        )),
        _ => Ok(()),
    }
}

/// Decodes JSON, answering `bad_request` with the line and column of the first problem, and
/// `validation_failed` for text nested past the JSON policy (checked before parsing).
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Err(e) = switchyard_model::json::scan_depth(bytes) {
        return Err(ApiError::new(ErrorCode::ValidationFailed, format!("the body: {e}"))
            .with_details(json!({ "max_depth": e.limit() })));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(ErrorCode::BadRequest, format!("invalid JSON body: {e}"))
            .with_details(json!({ "line": e.line(), "column": e.column() }))
    })
}

/// Query parameters decoded into `T`.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(q)) => Ok(Query(q)),
            Err(e) => Err(ApiError::new(ErrorCode::BadRequest, format!("invalid query string: {}", e.body_text()))),
        }
    }
}

/// Path parameters decoded into `T` (a segment that is not valid UTF-8 is a bad request).
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(p)) => Ok(Path(p)),
            Err(e) => Err(ApiError::new(ErrorCode::BadRequest, format!("invalid path: {}", e.body_text()))),
        }
    }
}

/// The most a `limit` query parameter may ask for, on every route that takes one.
pub const MAX_LIMIT: i64 = 1000;

/// The page size of a list route without a `limit`.
pub const DEFAULT_LIMIT: u32 = 100;

/// A `limit` query parameter, or `default` without one; out of 1..=[`MAX_LIMIT`] it is
/// refused, never clamped, so a client learns its page is not what it asked for.
pub fn page_limit(limit: Option<i64>, default: u32) -> Result<u32, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) => u32::try_from(n).ok().filter(|n| (1..=MAX_LIMIT).contains(&i64::from(*n))).ok_or_else(|| {
            ApiError::new(ErrorCode::ValidationFailed, format!("limit must be between 1 and {MAX_LIMIT}"))
        }),
    }
}

/// The verified client certificate of the connection a request came on (mutual TLS): its
/// subject's common name names the principal a request without a token acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The subject's common name.
    pub subject: String,
}

/// The principal [`crate::access::authorise`] authenticated for this request.
#[derive(Clone)]
pub(crate) struct Authenticated(pub std::sync::Arc<Principal>);

/// The authenticated caller.
pub struct Caller(pub std::sync::Arc<Principal>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // The door authenticated and authorised every route that takes a caller. Without it
        // nothing was authorised, so fail closed rather than let a handler act unchecked.
        let _ = state;
        match parts.extensions.get::<Authenticated>() {
            Some(Authenticated(principal)) => Ok(Caller(principal.clone())),
            None => Err(ApiError::new(ErrorCode::Internal, "this route was reached without its authorisation")),
        }
    }
}

/// The bearer token of `Authorization`, or `unauthorized` saying what is wrong with it.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    bearer_token(headers.get(AUTHORIZATION).map(axum::http::HeaderValue::as_bytes))
}

/// The token of an `Authorization` value (an HTTP header or gRPC metadata): `Bearer <token>`.
pub fn bearer_token(value: Option<&[u8]>) -> Result<&str, ApiError> {
    let value = value.ok_or_else(|| {
        ApiError::new(ErrorCode::Unauthorized, "this route needs a token: send Authorization: Bearer <token>")
    })?;
    let value = std::str::from_utf8(value)
        .map_err(|_| ApiError::new(ErrorCode::Unauthorized, "the Authorization header is not valid text"))?;
    let mut split = value.splitn(2, ' ');
    match (split.next(), split.next()) {
        (Some(scheme), Some(token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(token.trim())
        }
        _ => Err(ApiError::new(ErrorCode::Unauthorized, "the Authorization header must be \"Bearer <token>\"")),
    }
}

/// The `Idempotency-Key` request header (draft-ietf-httpapi-idempotency-key-header): the one
/// place every route that takes an idempotency key reads it, and merges it with the body's
/// `idempotency_key` field where the route has one ([`IdempotencyKey::merge`]).
///
/// The draft makes the value a structured-field string (`"8e03…"`, RFC 8941); a bare token, as
/// many clients send, is taken as it is. Whether the key itself is acceptable (length,
/// characters) is the engine's rule, the same however the key arrived.
pub struct IdempotencyKey(pub Option<String>);

/// The header's name.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY).iter();
        let Some(value) = values.next() else { return Ok(IdempotencyKey(None)) };
        if values.next().is_some() {
            return Err(ApiError::new(ErrorCode::BadRequest, "send one Idempotency-Key header, not several"));
        }
        let text = value
            .to_str()
            .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the Idempotency-Key header is not visible ASCII"))?;
        Ok(IdempotencyKey(Some(unquote(text.trim())?)))
    }
}

impl IdempotencyKey {
    /// The request's key, from the header or the body's `idempotency_key`: either may be given,
    /// or both when they are equal; two different keys are refused (`validation_failed`, naming
    /// both), since nobody can tell which one the caller meant.
    pub fn merge(self, body: Option<String>) -> Result<Option<String>, ApiError> {
        match (self.0, body) {
            (Some(header), Some(body)) if header != body => Err(ApiError::new(
                ErrorCode::ValidationFailed,
                format!(
                    "the Idempotency-Key header (\"{header}\") and the body's idempotency_key (\"{body}\") differ; \
                     send the key once, or the same key in both"
                ),
            )
            .with_details(json!({ "header": header, "body": body }))),
            (header, body) => Ok(header.or(body)),
        }
    }
}

/// A structured-field string's content (`"a\"b"` is `a"b`); anything not in quotes as it is.
fn unquote(text: &str) -> Result<String, ApiError> {
    let Some(inner) = text.strip_prefix('"') else { return Ok(text.to_owned()) };
    let malformed = || {
        ApiError::new(
            ErrorCode::BadRequest,
            "the Idempotency-Key header opens a quoted string that is not well-formed (RFC 8941: a closing quote, \
             and \\ only before \" or \\)",
        )
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('"' | '\\')) => out.push(escaped),
                _ => return Err(malformed()),
            },
            '"' if chars.as_str().is_empty() => return Ok(out),
            '"' => return Err(malformed()),
            c => out.push(c),
        }
    }
    Err(malformed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_key_header_values() {
        let table: &[(&str, Result<&str, &str>)] = &[
            ("abc-123", Ok("abc-123")),
            ("\"abc-123\"", Ok("abc-123")),
            ("\"a \\\"quoted\\\" \\\\ key\"", Ok("a \"quoted\" \\ key")),
            ("\"\"", Ok("")),
            ("\"open", Err("not well-formed")),
            ("\"a\"b\"", Err("not well-formed")),
            ("\"bad \\n escape\"", Err("not well-formed")),
            ("plain\"quote", Ok("plain\"quote")),
        ];
        for (input, expected) in table {
            match (unquote(input), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{input}"),
                (Err(e), Err(want)) => assert!(e.message.contains(want), "{input}: {}", e.message),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn header_and_body_keys_merge_or_conflict() {
        let merge = |header: Option<&str>, body: Option<&str>| {
            IdempotencyKey(header.map(str::to_owned)).merge(body.map(str::to_owned))
        };
        assert_eq!(merge(None, None).unwrap(), None);
        assert_eq!(merge(Some("h"), None).unwrap().as_deref(), Some("h"));
        assert_eq!(merge(None, Some("b")).unwrap().as_deref(), Some("b"));
        assert_eq!(merge(Some("k"), Some("k")).unwrap().as_deref(), Some("k"));
        let conflict = merge(Some("h"), Some("b")).unwrap_err();
        assert_eq!(conflict.code, "validation_failed");
        assert_eq!(conflict.details, json!({ "header": "h", "body": "b" }));
    }
}
