//! Outbound webhook endpoints: the list, an endpoint's deliveries, re-driving failed ones,
//! disabling and enabling.

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

/// The endpoints of a space.
pub async fn list(State(state): State<ConsoleState>, session: Session, Path(space): Path<String>) -> Response {
    let cx = Ctx::new(state, session, space);
    let rows = match cx.list("endpoints", "endpoints", "endpoints").await {
        Ok(rows) => rows,
        Err(page) => return page,
    };
    let body = html! {
        h1 { "Endpoints" }
        (flash(cx.session()))
        (table(&rows, &[
            ("Endpoint", &|e| html! { a href=(cx.path(&format!("endpoints/{}", seg(text(e, "name"))))) { (text(e, "name")) } }),
            ("State", &|e| badge(if e["enabled"].as_bool() == Some(false) { "disabled" } else { "enabled" })),
            ("URL", &|e| html! { code { (json_short(&e["definition"]["url"], 60)) } }),
            ("Last delivery", &|e| html! { @if let Some(s) = e["health"]["last_delivery"]["status"].as_str() { (badge(s)) " " (time(&e["health"]["last_delivery"]["created_at"])) } }),
            ("Failing", &|e| html! { (health(e)) }),
        ]))
    };
    cx.page("endpoints", "Endpoints", body)
}

/// An endpoint: definition, deliveries, actions.
pub async fn show(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, name)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let base = format!("endpoints/{}", seg(&name));
    let endpoint = match cx.get(&base).await {
        Ok(e) => e,
        Err(failure) => return cx.fail("endpoints", &failure),
    };
    let deliveries =
        cx.get(&format!("{base}/deliveries{}", query([("before", param(&q, "before")), ("limit", "50")]))).await;
    let rows = deliveries.as_ref().ok().and_then(|d| d["deliveries"].as_array().cloned()).unwrap_or_default();
    let here = cx.path(&base);
    let disabled = endpoint["enabled"].as_bool() == Some(false);
    let body = html! {
        p.crumbs { a href=(cx.path("endpoints")) { "Endpoints" } " / " (name) }
        h1 { "Endpoint " (name) " " (badge(if disabled { "disabled" } else { "enabled" })) }
        (flash(cx.session()))
        div.actions {
            @if disabled { (layout::action_button(cx.session(), &format!("{here}/enable"), "Enable", None)) }
            @else { (layout::action_button(cx.session(), &format!("{here}/disable"), "Disable", Some("Disable this endpoint? Its pending deliveries end."))) }
            (layout::action_button(cx.session(), &format!("{here}/redrive"), "Re-drive failed deliveries", None))
        }
        p { "Health: " (health(&endpoint)) }
        @if let Some(reason) = endpoint["disabled_reason"].as_str() { p { "Disabled: " (reason) } }
        h2 { "Deliveries" }
        @if let Err(failure) = &deliveries { (layout::failure_panel(failure)) }
        (table(&rows, &[
            ("Delivery", &|d| html! { a href=(cx.path(&format!("jobs/{}", seg(text(d, "id"))))) { code { (text(d, "id")) } } }),
            ("Status", &|d| badge(text(d, "status"))),
            ("Record", &|d| html! { "#" (json_short(&d["seq"], 12)) " " (json_short(&d["type"], 30)) }),
            ("Answer", &|d| html! { (json_short(&d["response_status"], 5)) @if let Some(ms) = d["latency_ms"].as_u64() { " in " (ms) " ms" } }),
            ("Attempt", &|d| html! { (d["attempt"]) " of " (d["max_attempts"]) }),
            ("Created", &|d| time(&d["created_at"])),
            ("Error", &|d| html! { @if let Some(c) = d["error"]["code"].as_str() { code.err { (c) } " " (json_short(&d["error"]["message"], 60)) } }),
            ("", &|d| html! { @if matches!(text(d, "status"), "dead" | "cancelled") {
                (layout::action_button(cx.session(), &format!("{here}/redrive-one?id={}", seg(text(d, "id"))), "Re-drive", None))
            } }),
        ]))
        @if let Some(next) = deliveries.as_ref().ok().and_then(|d| d["next_before"].as_str()) {
            p.pager { a rel="next" href=(format!("{here}{}", query([("before", next)]))) { "Older →" } }
        }
        h2 { "Endpoint" }
        (json_block(&endpoint))
    };
    cx.page("endpoints", &format!("Endpoint {name}"), body)
}

/// Enable, disable, re-drive one or all failed deliveries.
pub async fn act(
    State(state): State<ConsoleState>,
    Path((space, name, action)): Path<(String, String, String)>,
    Query(q): Params,
    form: Form,
) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let base = format!("endpoints/{}", seg(&name));
    let here = cx.path(&base);
    let outcome = match action.as_str() {
        "enable" => cx.post(&format!("{base}/enable"), &json!({})).await.map(|_| "Enabled.".to_owned()),
        "disable" => cx
            .post(&format!("{base}/disable"), &json!({ "reason": "disabled in the console" }))
            .await
            .map(|_| "Disabled.".to_owned()),
        "redrive" => cx
            .post(&format!("{base}/redrive"), &json!({}))
            .await
            .map(|a| format!("Re-drove {} deliveries.", json_short(&a["redriven"], 12))),
        "redrive-one" => {
            let id = param(&q, "id");
            cx.post(&format!("{base}/deliveries/{}/redrive", seg(id)), &json!({}))
                .await
                .map(|_| format!("Re-drove delivery {id}."))
        }
        _ => return crate::session::refused(axum::http::StatusCode::NOT_FOUND, "No such action."),
    };
    cx.after(&here, outcome)
}

/// An endpoint's health in words: its breaker and its run of failures.
pub fn health(endpoint: &serde_json::Value) -> maud::Markup {
    let h = &endpoint["health"];
    let failures = h["consecutive_failures"].as_u64().unwrap_or(0);
    html! {
        @if failures > 0 { span.err { (failures) " failures in a row" } " " }
        @if let Some(b) = h["breaker"].as_str() { "breaker " (b) " " }
        @if !h["open_until"].is_null() { "open until " (time(&h["open_until"])) }
        @if failures == 0 && h["open_until"].is_null() { "ok" }
    }
}
