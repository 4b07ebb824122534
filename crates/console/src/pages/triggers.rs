//! Triggers: the list with next fire times and health, a trigger's executions, pause, resume
//! and fire now.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::html;
use serde_json::json;

use super::{Ctx, Params, flash, param, table, text};
use crate::ConsoleState;
use crate::api::{query, seg};
use crate::forms::Form;
use crate::layout::{self, badge, json_block, json_short, time};
use crate::session::Session;

/// The triggers of a space.
pub async fn list(State(state): State<ConsoleState>, session: Session, Path(space): Path<String>) -> Response {
    let cx = Ctx::new(state, session, space);
    let rows = match cx.list("triggers", "triggers", "triggers").await {
        Ok(rows) => rows,
        Err(page) => return page,
    };
    let body = html! {
        h1 { "Triggers" }
        (flash(cx.session()))
        (table(&rows, &[
            ("Trigger", &|t| html! { a href=(cx.path(&format!("triggers/{}", seg(text(t, "name"))))) { (text(t, "name")) } }),
            ("State", &|t| badge(if t["paused"].as_bool() == Some(true) { "paused" } else { "active" })),
            ("Next fire", &|t| time(&t["next_fire_times"][0])),
            ("Last execution", &|t| html! { @if let Some(s) = t["health"]["last_execution"]["status"].as_str() { (badge(s)) " " (time(&t["health"]["last_execution"]["accepted_at"])) } }),
            ("Last failure", &|t| html! { @if !t["health"]["last_failure"].is_null() { span.err { (json_short(&t["health"]["last_failure"]["error"]["code"], 30)) } " " (time(&t["health"]["last_failure"]["accepted_at"])) } }),
            ("Rejected webhooks", &|t| html! { (t["health"]["rejected"]) }),
        ]))
    };
    cx.page("triggers", "Triggers", body)
}

/// A trigger: its definition, next fire times, executions and actions.
pub async fn show(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, name)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let base = format!("triggers/{}", seg(&name));
    let trigger = match cx.get(&base).await {
        Ok(t) => t,
        Err(failure) => return cx.fail("triggers", &failure),
    };
    let executions =
        cx.get(&format!("{base}/executions{}", query([("before", param(&q, "before")), ("limit", "50")]))).await;
    let rows = executions.as_ref().ok().and_then(|e| e["executions"].as_array().cloned()).unwrap_or_default();
    let here = cx.path(&base);
    let paused = trigger["paused"].as_bool() == Some(true);
    let body = html! {
        p.crumbs { a href=(cx.path("triggers")) { "Triggers" } " / " (name) }
        h1 { "Trigger " (name) " " (badge(if paused { "paused" } else { "active" })) }
        (flash(cx.session()))
        div.actions {
            @if paused { (layout::action_button(cx.session(), &format!("{here}/resume"), "Resume", None)) }
            @else { (layout::action_button(cx.session(), &format!("{here}/pause"), "Pause", None)) }
            (layout::action_button(cx.session(), &format!("{here}/fire"), "Fire now", None))
        }
        @if let Some(times) = trigger["next_fire_times"].as_array().filter(|t| !t.is_empty()) {
            h2 { "Next fire times" }
            ul { @for t in times { li { (time(t)) } } }
        }
        @if let Some(url) = trigger["webhook_url"].as_str() { p { "Webhook: " code { (url) } } }
        h2 { "Executions" }
        @if let Err(failure) = &executions { (layout::failure_panel(failure)) }
        (table(&rows, &[
            ("Execution", &|e| html! { a href=(cx.path(&format!("jobs/{}", seg(text(e, "id"))))) { code { (text(e, "id")) } } }),
            ("Source", &|e| html! { (json_short(&e["source"], 20)) }),
            ("Status", &|e| badge(text(e, "status"))),
            ("Fire time", &|e| time(&e["fire_time"])),
            ("Outcome", &|e| html! { (json_short(&e["outcome"], 20)) " " (json_short(&e["started"], 60)) }),
            ("Error", &|e| html! { @if let Some(c) = e["error"]["code"].as_str() { code.err { (c) } " " (json_short(&e["error"]["message"], 60)) } }),
        ]))
        @if let Some(next) = executions.as_ref().ok().and_then(|e| e["next_before"].as_str()) {
            p.pager { a rel="next" href=(format!("{here}{}", query([("before", next)]))) { "Older →" } }
        }
        h2 { "Definition" }
        (json_block(&trigger["definition"]))
    };
    cx.page("triggers", &format!("Trigger {name}"), body)
}

/// Pause, resume or fire a trigger.
pub async fn act(
    State(state): State<ConsoleState>,
    Path((space, name, action)): Path<(String, String, String)>,
    form: Form,
) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let base = format!("triggers/{}", seg(&name));
    let here = cx.path(&base);
    let outcome = match action.as_str() {
        "pause" => cx.post(&format!("{base}/pause"), &json!({})).await.map(|_| "Paused.".to_owned()),
        "resume" => cx.post(&format!("{base}/resume"), &json!({})).await.map(|_| "Resumed.".to_owned()),
        "fire" => cx
            .post(&format!("{base}/fire"), &json!({}))
            .await
            .map(|a| format!("Fired: execution {}.", json_short(&a["id"], 60))),
        _ => return crate::session::refused(axum::http::StatusCode::NOT_FOUND, "No such action."),
    };
    cx.after(&here, outcome)
}
