//! The page shell and the pieces every page uses: navigation, status badges, JSON blocks,
//! paging, action buttons and error panels.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use crate::api::{ApiFailure, seg};
use crate::session::Session;

/// The sections of a space, in the navigation's order: (path under the space, label).
const SECTIONS: &[(&str, &str)] = &[
    ("", "Overview"),
    ("live", "Live log"),
    ("machines", "Machines"),
    ("runs", "Runs"),
    ("flows", "Flows"),
    ("functions", "Functions"),
    ("jobs", "Jobs"),
    ("triggers", "Triggers"),
    ("endpoints", "Endpoints"),
    ("subscriptions", "Subscriptions"),
    ("topics", "Topics"),
    ("kv", "KV"),
];

/// What the shell of a page needs to know.
pub struct Shell<'a> {
    /// The session (for the sign-out form's CSRF token).
    pub session: &'a Session,
    /// The space shown, if any.
    pub space: Option<&'a str>,
    /// The section highlighted (a [`SECTIONS`] path).
    pub section: &'a str,
}

fn head(title: &str) -> Markup {
    html! {
        (DOCTYPE)
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        meta name="color-scheme" content="light dark";
        title { (title) " · Switchyard" }
        link rel="stylesheet" href=(crate::assets::url("console.css"));
        script src=(crate::assets::url("console.js")) defer {}
    }
}

/// A page without navigation (sign-in, refusals).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        html lang="en" {
            head { (head(title)) }
            body.bare { (body) }
        }
    }
}

/// A full page: navigation of the space, then `body`.
pub fn page(shell: &Shell<'_>, title: &str, body: Markup) -> Response {
    let markup = html! {
        html lang="en" {
            head { (head(title)) }
            body data-csrf=(shell.session.csrf) {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console" { "Switchyard" }
                    @if let Some(space) = shell.space {
                        a.space href="/console" title="Switch space" { "space: " strong { (space) } }
                    }
                    form.sign-out method="post" action="/console/sign-out" {
                        (csrf(shell.session))
                        button type="submit" { "Sign out" }
                    }
                }
                div.frame {
                    @if let Some(space) = shell.space {
                        nav aria-label="Sections" {
                            ul {
                                @for (path, label) in SECTIONS {
                                    @let href = space_path(space, path);
                                    li { a href=(href) aria-current=[(*path == shell.section).then_some("page")] { (label) } }
                                }
                            }
                        }
                    }
                    main #main tabindex="-1" {
                        (body)
                    }
                }
            }
        }
    };
    markup.into_response()
}

/// The console path of a section of a space.
pub fn space_path(space: &str, rest: &str) -> String {
    if rest.is_empty() { format!("/console/s/{}", seg(space)) } else { format!("/console/s/{}/{rest}", seg(space)) }
}

/// The hidden CSRF field of a form.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A one-button form posting to `action` (with `confirm` asked first by the script).
pub fn action_button(session: &Session, action: &str, label: &str, confirm: Option<&str>) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf(session))
            button type="submit" data-confirm=[confirm] { (label) }
        }
    }
}

/// A status as a coloured badge.
pub fn badge(status: &str) -> Markup {
    html! { span class=(format!("badge s-{}", css_word(status))) { (status) } }
}

/// A word safe in a class name.
pub fn css_word(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '_' }).collect()
}

/// JSON, pretty-printed in a block.
pub fn json_block(value: &Value) -> Markup {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    html! { pre.json { (text) } }
}

/// JSON on one line, cut to `max` characters.
pub fn json_short(value: &Value, max: usize) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > max {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// A time as the API gives it (RFC 3339), shown without its fraction.
pub fn time(value: &Value) -> Markup {
    let text = value.as_str().unwrap_or("");
    let shown = text.split('.').next().unwrap_or(text).replace('T', " ").trim_end_matches('Z').to_owned();
    html! { time datetime=(text) { (shown) } }
}

/// A "Next page" link keeping the page's filters, when there is a next page.
pub fn pager(base: &str, filters: &[(&str, &str)], next_cursor: &Value) -> Markup {
    let Some(cursor) = next_cursor.as_str() else { return html! {} };
    let mut pairs: Vec<(&str, &str)> = filters.iter().filter(|(n, _)| *n != "cursor").copied().collect();
    pairs.push(("cursor", cursor));
    let href = format!("{base}{}", crate::api::query(pairs));
    html! { p.pager { a href=(href) rel="next" { "Next page →" } } }
}

/// A notice carried by a redirect after an action (`?notice=`).
pub fn notice(text: Option<&str>) -> Markup {
    match text {
        Some(text) if !text.is_empty() => html! { p.notice role="status" { (text) } },
        _ => html! {},
    }
}

/// An API failure as a panel inside a page.
pub fn failure_panel(failure: &ApiFailure) -> Markup {
    html! {
        div.failure role="alert" {
            strong { (failure.code) } " — " (failure.message)
        }
    }
}

/// An API failure as the whole answer: a sign-in for a token the API no longer takes, a page
/// saying what went wrong otherwise.
pub fn failure_page(shell: &Shell<'_>, failure: &ApiFailure) -> Response {
    if failure.status == StatusCode::UNAUTHORIZED {
        return Redirect::to("/console/sign-in").into_response();
    }
    let status = failure.status;
    let mut response = page(shell, "Error", html! { h1 { "Cannot show this" } (failure_panel(failure)) });
    *response.status_mut() = status;
    response
}
