//! A machine's instances: the list (by state, paged), and an instance with its state on the
//! diagram, its context, pending work, timeline, and actions (send an event, cancel).

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

/// The instances of a machine.
pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, name)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let base = format!("machines/{}/instances", seg(&name));
    let filters: Vec<(&str, &str)> = ["state", "cursor"].iter().map(|n| (*n, param(&q, n))).collect();
    let answer = cx.get(&format!("{base}{}", query(filters.iter().copied().chain([("limit", "50")])))).await;
    let rows = answer.as_ref().ok().and_then(|a| a["instances"].as_array().cloned()).unwrap_or_default();
    let here = cx.path(&base);
    let body = html! {
        p.crumbs { a href=(cx.path("machines")) { "Machines" } " / " a href=(cx.path(&format!("machines/{}", seg(&name)))) { (name) } " / instances" }
        h1 { "Instances of " (name) }
        (flash(cx.session()))
        form.filters method="get" action=(here) {
            label { "State " input name="state" value=(param(&q, "state")); }
            button type="submit" { "Filter" }
        }
        @if let Err(failure) = &answer { (layout::failure_panel(failure)) }
        (table(&rows, &[
            ("Instance", &|i| html! { a href=(format!("{here}/{}", seg(text(i, "id")))) { code { (text(i, "id")) } } }),
            ("State", &|i| html! { code { (text(i, "state")) } }),
            ("Status", &|i| badge(text(i, "status"))),
            ("Revision", &|i| html! { (i["revision"]) }),
            ("Updated", &|i| time(&i["updated_at"])),
        ]))
        @if let Ok(a) = &answer { (layout::pager(&here, &filters, &a["next_cursor"])) }
    };
    cx.page("machines", &format!("Instances of {name}"), body)
}

/// One instance.
pub async fn show(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, name, id)): Path<(String, String, String)>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let base = format!("machines/{}/instances/{}", seg(&name), seg(&id));
    let instance = match cx.get(&base).await {
        Ok(i) => i,
        Err(failure) => return cx.fail("machines", &failure),
    };
    let version = instance["machine_version"].to_string();
    let machine = cx.get(&format!("machines/{}{}", seg(&name), query([("version", version.as_str())]))).await;
    let history = cx.get(&format!("{base}/history{}", query([("after", param(&q, "after")), ("limit", "200")]))).await;
    let here = cx.path(&base);
    let status = text(&instance, "status");
    let finished = matches!(status, "completed" | "failed" | "cancelled");
    let body = html! {
        p.crumbs { a href=(cx.path("machines")) { "Machines" } " / " a href=(cx.path(&format!("machines/{}", seg(&name)))) { (name) } " / " a href=(cx.path(&format!("machines/{}/instances", seg(&name)))) { "instances" } " / " code { (id) } }
        h1 { code { (name) ":" (id) } " " (badge(status)) }
        (flash(cx.session()))
        dl.facts {
            dt { "State" } dd { code { (text(&instance, "state")) } }
            dt { "Version" } dd { (version) }
            dt { "Revision" } dd { (instance["revision"]) }
            dt { "Created" } dd { (time(&instance["created_at"])) }
            dt { "Updated" } dd { (time(&instance["updated_at"])) }
        }
        @if !instance["error"].is_null() { div.failure role="alert" { strong { "Error" } (json_block(&instance["error"])) } }
        @if !finished {
            div.actions { (layout::action_button(cx.session(), &format!("{here}/cancel"), "Cancel instance", Some("Cancel this instance and its work?"))) }
        }
        div.side-by-side {
            section {
                h2 { "Diagram" }
                @match &machine {
                    Ok(m) => (super::machines::diagram(&m["definition"], instance["state"].as_str(), &format!("state diagram of {name}"))),
                    Err(failure) => (layout::failure_panel(failure)),
                }
            }
            section {
                h2 { "Context" }
                (json_block(&instance["ctx"]))
                @if let Some(pending) = instance["pending"].as_array().filter(|p| !p.is_empty()) {
                    h3 { "Pending work" }
                    ul { @for p in pending { li {
                        @if let Some(job) = p["job"].as_str().or(p["id"].as_str()) { a href=(cx.path(&format!("jobs/{}", seg(job)))) { code { (job) } } " " }
                        (layout::json_short(p, 160))
                    } } }
                }
            }
        }
        @if !finished {
            section {
                h2 { "Send an event" }
                form.stack method="post" action=(format!("{here}/event")) {
                    (layout::csrf(cx.session()))
                    label { "Event " input name="event" required; }
                    label { "Payload (JSON) " textarea name="payload" rows="3" {} }
                    button type="submit" { "Send" }
                }
            }
        }
        section {
            h2 { "Timeline" }
            @match &history {
                Ok(h) => {
                    (super::runs::timeline(h["events"].as_array().map_or(&[][..], Vec::as_slice)))
                    @if let Some(next) = h["next_cursor"].as_str() {
                        p.pager { a rel="next" href=(format!("{here}{}", query([("after", next)]))) { "Later history →" } }
                    }
                }
                Err(failure) => (layout::failure_panel(failure)),
            }
        }
    };
    cx.page("machines", &format!("Instance {name}:{id}"), body)
}

/// Send an event to an instance, or cancel it.
pub async fn act(
    State(state): State<ConsoleState>,
    Path((space, name, id, action)): Path<(String, String, String, String)>,
    form: Form,
) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let base = format!("machines/{}/instances/{}", seg(&name), seg(&id));
    let here = cx.path(&base);
    let outcome = match action.as_str() {
        "cancel" => cx.post(&format!("{base}/cancel"), &json!({})).await.map(|_| "Cancelled.".to_owned()),
        "event" => {
            let payload = match super::typed_json(form.text("payload"), "the payload") {
                Ok(p) => p,
                Err(failure) => return cx.after(&here, Err(failure)),
            };
            let mut body = json!({ "event": form.text("event") });
            if let Some(p) = payload {
                body["payload"] = p;
            }
            cx.post(&format!("{base}/events"), &body)
                .await
                .map(|a| format!("Applied: {} → {}.", json_short(&a["from"], 80), json_short(&a["to"], 80)))
        }
        _ => return crate::session::refused(axum::http::StatusCode::NOT_FOUND, "No such action."),
    };
    cx.after(&here, outcome)
}
