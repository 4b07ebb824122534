//! The console's pages, one module per section of a space. Each handler reads what it shows
//! through the API with the session's token ([`Ctx`]) and renders it; each action POSTs through
//! the API, then redirects to the page that shows its effect (with a notice, or the API's error).

pub mod endpoints;
pub mod flows;
pub mod functions;
pub mod instances;
pub mod jobs;
pub mod live;
pub mod machines;
pub mod overview;
pub mod runs;
pub mod streams;
pub mod triggers;

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::Value;

use crate::ConsoleState;
use crate::api::{ApiFailure, ApiResult, seg};
use crate::layout::{self, Shell};
use crate::session::{Flash, Session};

/// A page's query parameters.
pub type Params = Query<HashMap<String, String>>;

/// What a handler of a space's page works with.
pub struct Ctx {
    state: ConsoleState,
    session: Session,
    space: String,
}

impl Ctx {
    /// The context of a page of `space`.
    pub fn new(state: ConsoleState, session: Session, space: String) -> Ctx {
        Ctx { state, session, space }
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The space.
    pub fn space(&self) -> &str {
        &self.space
    }

    /// GETs `rest` under `/v1/spaces/{space}/`.
    pub async fn get(&self, rest: &str) -> ApiResult {
        self.state.api.get(&self.session.token, &self.api_path(rest)).await
    }

    /// POSTs JSON to `rest` under `/v1/spaces/{space}/`.
    pub async fn post(&self, rest: &str, body: &Value) -> ApiResult {
        self.state.api.post(&self.session.token, &self.api_path(rest), body).await
    }

    /// Calls the API with any method and body.
    pub async fn call(&self, method: axum::http::Method, rest: &str, body: crate::api::Send<'_>) -> ApiResult {
        self.state.api.call(&self.session.token, method, &self.api_path(rest), body).await
    }

    /// The raw answer of a call (a stream, or a body that is not JSON).
    pub async fn raw_call(&self, method: axum::http::Method, rest: &str, body: crate::api::Send<'_>) -> Response {
        self.state.api.raw(&self.session.token, method, &self.api_path(rest), body).await
    }

    fn api_path(&self, rest: &str) -> String {
        format!("/v1/spaces/{}/{rest}", seg(&self.space))
    }

    /// The console path of `rest` in this space.
    pub fn path(&self, rest: &str) -> String {
        layout::space_path(&self.space, rest)
    }

    fn shell<'a>(&'a self, section: &'a str) -> Shell<'a> {
        Shell { session: &self.session, space: Some(&self.space), section }
    }

    /// A page of `section`.
    pub fn page(&self, section: &str, title: &str, body: Markup) -> Response {
        layout::page(&self.shell(section), title, body)
    }

    /// The records of a listing (`field` of the answer to `rest`), or the page saying why it
    /// cannot be read (a list page's first call).
    pub async fn list(&self, section: &str, rest: &str, field: &str) -> Result<Vec<Value>, Response> {
        match self.get(rest).await {
            Ok(answer) => Ok(answer[field].as_array().cloned().unwrap_or_default()),
            Err(failure) => Err(self.fail(section, &failure)),
        }
    }

    /// The answer for a failed read.
    pub fn fail(&self, section: &str, failure: &ApiFailure) -> Response {
        layout::failure_page(&self.shell(section), failure)
    }

    /// After an action: back to `to`, saying what happened (or what the API refused) in a
    /// cookie the next page shows once — not in the URL, which history and logs keep.
    pub fn after(&self, to: &str, outcome: Result<String, ApiFailure>) -> Response {
        let flash = match outcome {
            Ok(notice) => Flash::Notice(notice),
            Err(failure) if failure.status == StatusCode::UNAUTHORIZED => {
                return Redirect::to("/console/sign-in").into_response();
            }
            Err(failure) => Flash::Error(format!("{}: {}", failure.code, failure.message)),
        };
        let mut response = Redirect::to(to).into_response();
        response.headers_mut().append(header::SET_COOKIE, flash.cookie(self.state.config.secure_cookie));
        response
    }
}

/// The notice or error the last action left for this page.
pub fn flash(session: &Session) -> Markup {
    match &session.flash {
        Some(Flash::Notice(text)) => layout::notice(Some(text)),
        Some(Flash::Error(text)) => html! { div.failure role="alert" { (text) } },
        None => html! {},
    }
}

/// A filter value of a page, or "".
pub fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> &'a str {
    params.get(name).map_or("", |v| v.trim())
}

/// The console's home: the spaces the token may see.
pub async fn home(State(state): State<ConsoleState>, session: Session) -> Response {
    let spaces = match state.api.get(&session.token, "/v1/spaces").await {
        Ok(answer) => answer,
        Err(failure) => {
            return layout::failure_page(&Shell { session: &session, space: None, section: "" }, &failure);
        }
    };
    let list = spaces["spaces"].as_array().cloned().unwrap_or_default();
    let body = html! {
        h1 { "Spaces" }
        @if list.is_empty() {
            p.empty { "No space holds anything yet, or this token sees none. A space is created by its first write." }
        } @else {
            ul.cards {
                @for space in &list {
                    @let name = space["name"].as_str().unwrap_or("");
                    li { a href=(layout::space_path(name, "")) { strong { (name) } } " " span.muted { "since " (layout::time(&space["created_at"])) } }
                }
            }
        }
        form.go method="get" action="/console/go" {
            label for="go-space" { "Open a space by name" }
            input #go-space name="space" required pattern="[a-z0-9][a-z0-9_-]*" placeholder="acme";
            button type="submit" { "Open" }
        }
    };
    layout::page(&Shell { session: &session, space: None, section: "" }, "Spaces", body)
}

/// Opens a space named in the home page's form.
pub async fn go(Query(q): Params) -> Response {
    let space = q.get("space").map_or("", |s| s.trim());
    if space.is_empty() {
        return Redirect::to("/console").into_response();
    }
    Redirect::to(&layout::space_path(space, "")).into_response()
}

/// A JSON text a person typed: empty is `None`, anything else must parse.
pub fn typed_json(text: &str, what: &str) -> Result<Option<Value>, ApiFailure> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text).map(Some).map_err(|e| ApiFailure {
        status: StatusCode::BAD_REQUEST,
        code: "bad_request".to_owned(),
        message: format!("{what} is not JSON: {e}"),
        details: Value::Null,
    })
}

/// What makes one cell of a [`table`] from its row's record.
pub type Cell<'a> = &'a dyn Fn(&Value) -> Markup;

/// A table of records, with `columns` of (heading, cell maker).
pub fn table(rows: &[Value], columns: &[(&str, Cell<'_>)]) -> Markup {
    html! {
        @if rows.is_empty() {
            p.empty { "Nothing here." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr { @for (heading, _) in columns { th scope="col" { (heading) } } } }
                    tbody {
                        @for row in rows {
                            tr { @for (_, cell) in columns { td { (cell(row)) } } }
                        }
                    }
                }
            }
        }
    }
}

/// A record's text field.
pub fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or("")
}
