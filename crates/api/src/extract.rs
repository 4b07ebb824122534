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
use switchyard_engine::Principal;

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
                "payload_too_large",
                format!("the body is larger than the limit of {} bytes", state.config.max_body_bytes),
            )
            .with_details(json!({ "limit": state.config.max_body_bytes }))),
            Err(e) => Err(ApiError::new("bad_request", format!("cannot read the body: {e}"))),
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
            "unsupported_media_type",
            format!("expected Content-Type application/json, got \"{mt}\""),
        )),
        _ => Ok(()),
    }
}

/// Decodes JSON, answering `bad_request` with the line and column of the first problem, and
/// `validation_failed` for text nested past the JSON policy (checked before parsing).
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Err(e) = switchyard_model::json::scan_depth(bytes) {
        return Err(ApiError::new("validation_failed", format!("the body: {e}"))
            .with_details(json!({ "max_depth": e.limit() })));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new("bad_request", format!("invalid JSON body: {e}"))
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
            Err(e) => Err(ApiError::new("bad_request", format!("invalid query string: {}", e.body_text()))),
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
            Err(e) => Err(ApiError::new("bad_request", format!("invalid path: {}", e.body_text()))),
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
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(&i64::from(*n)))
            .ok_or_else(|| ApiError::new("validation_failed", format!("limit must be between 1 and {MAX_LIMIT}"))),
    }
}

/// The principal [`crate::access::authorise`] authenticated for this request.
#[derive(Clone)]
pub(crate) struct Authenticated(pub std::sync::Arc<Principal>);

/// The authenticated caller.
pub struct Caller(pub std::sync::Arc<Principal>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // The door already authenticated every route that takes a caller; asking the engine
        // again is only for a router assembled without it.
        if let Some(Authenticated(principal)) = parts.extensions.get::<Authenticated>() {
            return Ok(Caller(principal.clone()));
        }
        let secret = bearer(&parts.headers)?;
        Ok(Caller(state.engine.authenticate(secret).await?))
    }
}

/// The bearer token of `Authorization`, or `unauthorized` saying what is wrong with it.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let header = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::new("unauthorized", "this route needs a token: send Authorization: Bearer <token>"))?;
    let value =
        header.to_str().map_err(|_| ApiError::new("unauthorized", "the Authorization header is not valid text"))?;
    let mut split = value.splitn(2, ' ');
    match (split.next(), split.next()) {
        (Some(scheme), Some(token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(token.trim())
        }
        _ => Err(ApiError::new("unauthorized", "the Authorization header must be \"Bearer <token>\"")),
    }
}
