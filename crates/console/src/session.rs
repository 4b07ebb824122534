//! Signing in and out, and the session a signed-in browser carries.
//!
//! Invariants:
//! - The session is the token itself, in a cookie the page's scripts cannot read (HttpOnly),
//!   that the browser sends to `/console` only (Path), and only on requests this site started
//!   (SameSite=Strict); `Secure` when the server speaks HTTPS. Revoking the token ends every
//!   session made with it, on every node, at the next request.
//! - Every POST carries the session's CSRF token (a form field or the `X-CSRF-Token` header), a
//!   hash of the session token that another site cannot compute; a POST without it, with
//!   another, or without a session is refused before anything is done ([`crate::forms`]).
//! - A sign-in's `next` is followed only to a path of the console (no open redirect).

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::ConsoleState;
use crate::forms::Form;
use crate::layout;

/// The session cookie's name.
pub const COOKIE: &str = "switchyard_console";

/// The cookie carrying what an action did to the page it redirects to (read once).
pub const FLASH_COOKIE: &str = "switchyard_console_flash";

/// A signed-in browser's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token the person signed in with.
    pub token: String,
    /// The CSRF token every POST of this session carries.
    pub csrf: String,
    /// What the last action did, if the request carries it.
    pub flash: Option<Flash>,
}

impl Session {
    /// The session of `token`.
    pub fn of(token: String) -> Session {
        let csrf = csrf_of(&token);
        Session { token, csrf, flash: None }
    }
}

/// What an action did, shown once by the page it redirects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flash {
    /// It was done.
    Notice(String),
    /// The API refused it.
    Error(String),
}

/// The longest flash kept (a cookie is at most about 4 KB).
const MAX_FLASH_CHARS: usize = 600;

impl Flash {
    /// The flash as a cookie value (base64url, so any text travels).
    fn encode(&self) -> String {
        use base64::Engine as _;
        let (tag, text) = match self {
            Flash::Notice(t) => ('n', t),
            Flash::Error(t) => ('e', t),
        };
        let mut cut: String = text.chars().take(MAX_FLASH_CHARS).collect();
        if cut.len() < text.len() {
            cut.push('…');
        }
        format!("{tag}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cut))
    }

    /// A flash from its cookie value; anything else is none.
    fn decode(value: &str) -> Option<Flash> {
        use base64::Engine as _;
        let mut chars = value.chars();
        let tag = chars.next()?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(chars.as_str()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        match tag {
            'n' => Some(Flash::Notice(text)),
            'e' => Some(Flash::Error(text)),
            _ => None,
        }
    }

    /// The `Set-Cookie` value carrying this flash to the next page.
    pub fn cookie(&self, secure: bool) -> HeaderValue {
        let secure = if secure { "; Secure" } else { "" };
        let cookie =
            format!("{FLASH_COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=60{secure}", self.encode());
        HeaderValue::from_str(&cookie)
            .unwrap_or_else(|_| HeaderValue::from_static("switchyard_console_flash=; Path=/console"))
    }
}

/// The `Set-Cookie` value that drops a shown flash.
pub fn clear_flash() -> HeaderValue {
    HeaderValue::from_static("switchyard_console_flash=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Whether the request arrived over HTTPS: served with TLS, or through a proxy that says so
/// (`X-Forwarded-Proto: https`; a client that lies only makes its own cookie stricter).
pub fn over_https(state: &ConsoleState, headers: &HeaderMap) -> bool {
    state.config.secure_cookie
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The CSRF token of a session token: a hash another site cannot compute without the token.
pub fn csrf_of(token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"switchyard-console-csrf\n");
    hasher.update(token.as_bytes());
    hex::encode(&hasher.finalize()[..16])
}

/// A cookie's value, if the request carries it (and it is not empty).
pub fn cookie_value(headers: &HeaderMap, wanted: &str) -> Option<String> {
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else { continue };
            if name == wanted && !value.is_empty() {
                return Some(value.to_owned());
            }
        }
    }
    None
}

/// The session cookie's token, if the request carries one.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE)
}

/// Where a GET without a session goes: the sign-in page, then back.
fn to_sign_in(parts: &Parts) -> Response {
    let next = parts.uri.path_and_query().map_or("/console", |p| p.as_str());
    Redirect::to(&format!("/console/sign-in{}", crate::api::query([("next", next)]))).into_response()
}

impl FromRequestParts<ConsoleState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &ConsoleState) -> Result<Self, Self::Rejection> {
        match cookie_token(&parts.headers) {
            Some(token) => {
                let mut session = Session::of(token);
                session.flash = cookie_value(&parts.headers, FLASH_COOKIE).as_deref().and_then(Flash::decode);
                Ok(session)
            }
            None if parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD => {
                Err(to_sign_in(parts))
            }
            None => Err(refused(StatusCode::UNAUTHORIZED, "You are not signed in: sign in, then try again.")),
        }
    }
}

/// A refusal as a page of its own.
pub fn refused(status: StatusCode, message: &str) -> Response {
    let body = html! {
        h1 { "Refused" }
        p.error { (message) }
        p { a href="/console/sign-in" { "Sign in" } }
    };
    (status, layout::bare("Refused", body)).into_response()
}

/// Whether a token can travel in the cookie as it is (tokens are printable ASCII without
/// separators; anything else is not a token of ours).
fn cookie_safe(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 512
        && token.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'"' | b'\\'))
}

fn session_cookie(state: &ConsoleState, headers: &HeaderMap, token: &str, max_age: Option<u32>) -> HeaderValue {
    let mut cookie = format!("{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict");
    if over_https(state, headers) {
        cookie.push_str("; Secure");
    }
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("switchyard_console=; Path=/console"))
}

/// A console path to go to after signing in; anything else goes to the console's home.
fn local_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if is_console_path(n) => n,
        _ => "/console",
    }
}

/// Whether `path` is a path of the console: `/console` or under `/console/`, with no `..`
/// segment, backslash or control character (a redirect to it stays in the console).
pub fn is_console_path(path: &str) -> bool {
    let path_only = path.split(['?', '#']).next().unwrap_or("");
    (path_only == "/console" || path_only.starts_with("/console/"))
        && !path_only.split('/').any(|s| s == ".." || s == "." || s.eq_ignore_ascii_case("%2e%2e"))
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
}

/// The sign-in form.
pub async fn sign_in_page(Query(q): Query<SignInQuery>) -> Response {
    sign_in_form(StatusCode::OK, local_next(q.next.as_deref()), None)
}

fn sign_in_form(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let body = html! {
        main.sign-in {
            h1 { "Switchyard" }
            form method="post" action="/console/sign-in" {
                label for="name" { "Name" }
                input #name type="text" name="name" autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                input type="hidden" name="next" value=(next);
                @if let Some(error) = error { p.error role="alert" { (error) } }
                button type="submit" { "Sign in" }
            }
            form method="post" action="/console/sign-in" {
                label for="token" { "Or a token" }
                input #token type="password" name="token" autocomplete="off" required;
                input type="hidden" name="next" value=(next);
                button #token-sign-in type="submit" { "Sign in with the token" }
            }
            p.hint { "The admin token is in the data directory's " code { "admin.token" } "; "
                code { "switchyard user create" } " makes a user, " code { "switchyard token create" }
                " a token scoped to spaces." }
        }
    };
    (status, layout::bare("Sign in", body)).into_response()
}

/// Signs in with a user's name and password (a session of the API's, which ends on its own),
/// or with a token; checks it against the API, then sets the session cookie.
pub async fn sign_in(
    State(state): State<ConsoleState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !crate::forms::same_origin(&headers, uri.authority().map(|a| a.as_str())) {
        return refused(StatusCode::FORBIDDEN, "This sign-in came from another site.");
    }
    let fields = crate::forms::parse_fields(&body);
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.to_owned());
    let next = field("next");
    let next = local_next(next.as_deref()).to_owned();
    let token = match (field("name"), field("password")) {
        (Some(name), Some(password)) => {
            let credentials = serde_json::json!({ "name": name.trim(), "password": password });
            match state.api.post("", "/v1/auth/sign-in", &credentials).await {
                Ok(session) => session["token"].as_str().unwrap_or_default().to_owned(),
                Err(failure) => return sign_in_form(failure.status, &next, Some(&failure.message)),
            }
        }
        _ => field("token").map(|t| t.trim().to_owned()).unwrap_or_default(),
    };
    if !cookie_safe(&token) {
        return sign_in_form(StatusCode::UNAUTHORIZED, &next, Some("That is not a Switchyard token."));
    }
    match state.api.get(&token, "/v1/spaces").await {
        Ok(_) => {
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, &headers, &token, None));
            response
        }
        Err(failure) if failure.status == StatusCode::UNAUTHORIZED => {
            sign_in_form(StatusCode::UNAUTHORIZED, &next, Some(&failure.message))
        }
        Err(failure) => sign_in_form(failure.status, &next, Some(&failure.message)),
    }
}

/// Signs out: the cookie is cleared, and a user's session ends at the API too (a token the
/// console was given is left alone: it may be in use elsewhere).
pub async fn sign_out(State(state): State<ConsoleState>, headers: HeaderMap, _form: Form) -> Response {
    if let Some(token) = cookie_token(&headers)
        && let Ok(me) = state.api.get(&token, "/v1/auth/me").await
        && me["session"].as_bool() == Some(true)
    {
        let _ = state.api.post(&token, "/v1/auth/sign-out", &serde_json::Value::Null).await;
    }
    let mut response = Redirect::to("/console/sign-in").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, &headers, "", Some(0)));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; switchyard_console=sy_abc; b=2"));
        assert_eq!(cookie_token(&headers).as_deref(), Some("sy_abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("switchyard_console="));
        assert_eq!(cookie_token(&headers), None);
    }

    #[test]
    fn the_csrf_token_depends_on_the_session() {
        assert_ne!(csrf_of("a"), csrf_of("b"));
        assert_eq!(csrf_of("a"), csrf_of("a"));
        assert_eq!(csrf_of("a").len(), 32);
    }

    #[test]
    fn next_stays_in_the_console() {
        assert_eq!(local_next(Some("/console/s/acme/runs?status=failed")), "/console/s/acme/runs?status=failed");
        for outside in [
            "https://evil.example/console",
            "//evil.example",
            "/consoleX",
            "/console/../v1/spaces",
            "/console/a\nb",
            "/console\\x",
            "/v1",
        ] {
            assert_eq!(local_next(Some(outside)), "/console", "{outside}");
        }
        assert_eq!(local_next(None), "/console");
    }

    #[test]
    fn flashes_round_trip_through_their_cookie() {
        for flash in
            [Flash::Notice("Saved as version 2.".into()), Flash::Error("bad_request: a; b=c \"quoted\" ☃".into())]
        {
            let cookie = flash.cookie(false);
            let text = cookie.to_str().expect("ascii");
            let value = text.split_once('=').and_then(|(_, v)| v.split(';').next()).expect("value");
            assert_eq!(Flash::decode(value), Some(flash.clone()), "{text}");
        }
        assert_eq!(Flash::decode("x!!"), None);
        let long = Flash::Notice("x".repeat(5000)).encode();
        assert!(long.len() < 1000, "a long flash is cut");
    }

    #[test]
    fn only_printable_tokens_go_in_the_cookie() {
        assert!(cookie_safe("sy_0123abc"));
        assert!(!cookie_safe("a;b"));
        assert!(!cookie_safe("a b"));
        assert!(!cookie_safe(""));
    }
}
