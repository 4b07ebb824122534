//! Flow runs: the list (filters, paging), and a run with its graph coloured by node status, the
//! chosen node's input, output, error and attempts, the timeline of its history and its actions.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Ctx, Params, flash, param, table, text};
use crate::ConsoleState;
use crate::api::{query, seg};
use crate::forms::Form;
use crate::layout::{self, badge, json_block, time};
use crate::session::Session;

const STATUSES: &[&str] = &["running", "waiting", "succeeded", "failed", "cancelled"];

/// The runs of a space.
pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Path(space): Path<String>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let filters: Vec<(&str, &str)> =
        ["flow", "status", "since", "until", "cursor"].iter().map(|n| (*n, param(&q, n))).collect();
    let answer = match cx.get(&format!("runs{}", query(filters.iter().copied().chain([("limit", "50")])))).await {
        Ok(answer) => answer,
        Err(failure) => {
            return cx.page(
                "runs",
                "Runs",
                html! { h1 { "Runs" } (filter_form(&cx, &q)) (layout::failure_panel(&failure)) },
            );
        }
    };
    let runs = answer["runs"].as_array().cloned().unwrap_or_default();
    let link = |r: &Value| cx.path(&format!("runs/{}", seg(text(r, "id"))));
    let body = html! {
        h1 { "Runs" }
        (flash(cx.session()))
        (filter_form(&cx, &q))
        (table(&runs, &[
            ("Run", &|r| html! { a href=(link(r)) { code { (text(r, "id")) } } }),
            ("Flow", &|r| html! { a href=(cx.path(&format!("flows/{}", seg(text(r, "flow"))))) { (text(r, "flow")) } " v" (r["flow_version"]) }),
            ("Status", &|r| badge(text(r, "status"))),
            ("Started", &|r| time(&r["created_at"])),
            ("Updated", &|r| time(&r["updated_at"])),
            ("Error", &|r| html! { @if let Some(code) = r["error"]["code"].as_str() { code.err { (code) } } }),
        ]))
        (layout::pager(&cx.path("runs"), &filters, &answer["next_cursor"]))
        @if param(&q, "status") == "failed" && !runs.is_empty() {
            form.inline method="post" action=(cx.path("runs")) {
                (layout::csrf(cx.session()))
                input type="hidden" name="flow" value=(param(&q, "flow"));
                input type="hidden" name="since" value=(param(&q, "since"));
                input type="hidden" name="until" value=(param(&q, "until"));
                button type="submit" data-confirm="Retry every failed run this filter selects (at most 1000)?" { "Retry all that match" }
            }
        }
    };
    cx.page("runs", "Runs", body)
}

fn filter_form(cx: &Ctx, q: &HashMap<String, String>) -> Markup {
    html! {
        form.filters method="get" action=(cx.path("runs")) {
            label { "Flow " input name="flow" value=(param(q, "flow")) size="14"; }
            label { "Status "
                select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES { option value=(s) selected[param(q, "status") == *s] { (s) } }
                }
            }
            label { "Since " input name="since" value=(param(q, "since")) placeholder="2026-12-04T10:00:00Z" size="22"; }
            label { "Until " input name="until" value=(param(q, "until")) size="22"; }
            button type="submit" { "Filter" }
        }
    }
}

/// One run.
pub async fn show(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, id)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let run = match cx.get(&format!("runs/{}", seg(&id))).await {
        Ok(run) => run,
        Err(failure) => return cx.fail("runs", &failure),
    };
    let flow_name = text(&run, "flow").to_owned();
    let version = run["flow_version"].to_string();
    let flow = cx.get(&format!("flows/{}{}", seg(&flow_name), query([("version", version.as_str())]))).await.ok();
    let history = cx
        .get(&format!("machines/{}/instances/{}/history{}", seg(&flow_name), seg(&id), query([("limit", "500")])))
        .await;
    let nodes: Vec<Value> = run["nodes"].as_array().cloned().unwrap_or_default();
    let statuses: HashMap<String, String> =
        nodes.iter().map(|n| (text(n, "id").to_owned(), text(n, "status").to_owned())).collect();
    let here = cx.path(&format!("runs/{}", seg(&id)));
    let selected = param(&q, "node");
    let graph = flow.as_ref().map(|f| {
        super::flows::flow_graph(&f["definition"], Some(&statuses), selected, &|node| {
            Some(format!("{here}{}#node", query([("node", node)])))
        })
    });
    let status = text(&run, "status");
    let terminal = matches!(status, "succeeded" | "failed" | "cancelled");
    let act = |action: &str| format!("{here}/{action}");
    let body = html! {
        p.crumbs { a href=(cx.path("runs")) { "Runs" } " / " code { (id) } }
        h1 { "Run of " a href=(cx.path(&format!("flows/{}", seg(&flow_name)))) { (flow_name) } " " (badge_big(status)) }
        (flash(cx.session()))
        dl.facts {
            dt { "Flow version" } dd { (version) }
            dt { "State" } dd { code { (text(&run, "state")) } }
            dt { "Started" } dd { (time(&run["created_at"])) }
            dt { "Updated" } dd { (time(&run["updated_at"])) }
            @if let Some(attempt) = run["attempt"].as_u64() { dt { "Attempt" } dd { (attempt) } }
            @if let Some(of) = run["retry_of"].as_str() { dt { "Retry of" } dd { a href=(cx.path(&format!("runs/{}", seg(of)))) { code { (of) } } } }
            @if let Some(of) = run["rerun_of"].as_str() { dt { "Rerun of" } dd { a href=(cx.path(&format!("runs/{}", seg(of)))) { code { (of) } } } }
            @if let Some(sub) = run["subflow"]["run"].as_str() { dt { "Waiting for subflow" } dd { a href=(cx.path(&format!("runs/{}", seg(sub)))) { code { (sub) } } } }
        }
        @if !run["error"].is_null() {
            div.failure role="alert" { strong { "Error" } (json_block(&run["error"])) }
        }
        div.actions {
            @if !terminal { (layout::action_button(cx.session(), &act("cancel"), "Cancel run", Some("Cancel this run and all it started?"))) }
            @if matches!(status, "failed" | "cancelled") { (layout::action_button(cx.session(), &act("retry"), "Retry from the failed node", None)) }
            (layout::action_button(cx.session(), &act("rerun"), "Re-run with the same input", None))
        }
        section.graph-panel {
            h2 { "Graph" }
            @match &graph { Some(g) => (crate::graph::render(g, &format!("flow {flow_name}"))), None => p.empty { "The flow's definition cannot be read." } }
            p.legend { @for s in ["succeeded", "running", "failed", "cancelled", "pending"] { (badge(s)) " " } }
        }
        @if !selected.is_empty() {
            section #node { (node_detail(&nodes, selected)) }
        }
        details {
            summary { "Input, output and variables" }
            h3 { "Input" } (json_block(&run["input"]))
            h3 { "Output" } (json_block(&run["output"]))
            h3 { "Variables" } (json_block(&run["vars"]))
        }
        @if !terminal {
            section {
                h2 { "Send an event" }
                form.stack method="post" action=(act("event")) {
                    (layout::csrf(cx.session()))
                    label { "Event " input name="event" required placeholder="approve"; }
                    label { "Payload (JSON) " textarea name="payload" rows="3" placeholder="{\"by\": \"ops\"}" {} }
                    button type="submit" { "Send" }
                }
            }
        }
        section {
            h2 { "Timeline" }
            @match &history {
                Ok(h) => (timeline(h["events"].as_array().map_or(&[][..], Vec::as_slice))),
                Err(failure) => (layout::failure_panel(failure)),
            }
        }
    };
    cx.page("runs", &format!("Run {id}"), body)
}

fn badge_big(status: &str) -> Markup {
    html! { span class=(format!("badge big s-{}", layout::css_word(status))) { (status) } }
}

fn node_detail(nodes: &[Value], id: &str) -> Markup {
    let Some(node) = nodes.iter().find(|n| text(n, "id") == id) else {
        return html! { h2 { "Node " code { (id) } } p.empty { "This node has not run." } };
    };
    html! {
        h2 { "Node " code { (id) } " " (badge(text(node, "status"))) }
        dl.facts {
            @if let Some(kind) = node["kind"].as_str() { dt { "Kind" } dd { (kind) } }
            @if !node["runs"].is_null() { dt { "Runs" } dd { (node["runs"]) } }
            @if !node["attempts"].is_null() { dt { "Attempts" } dd { (node["attempts"]) } }
            @if !node["started_at"].is_null() { dt { "Started" } dd { (time(&node["started_at"])) } }
            @if !node["ended_at"].is_null() { dt { "Ended" } dd { (time(&node["ended_at"])) } }
        }
        @if !node["error"].is_null() { h3 { "Error" } div.failure { (json_block(&node["error"])) } }
        h3 { "Input" } (json_block(&node["input"]))
        h3 { "Output" } (json_block(&node["output"]))
    }
}

/// An instance's history as a timeline: every record, its kind, what changed and its payload.
pub fn timeline(events: &[Value]) -> Markup {
    html! {
        @if events.is_empty() { p.empty { "No history." } }
        ol.timeline {
            @for e in events {
                @let kind = text(e, "kind");
                @let p = &e["payload"];
                li class=(format!("k-{}", layout::css_word(kind))) {
                    span.seq { "#" (e["seq"]) } " "
                    (time(&e["created_at"])) " "
                    strong { (kind) } " "
                    @if let Some(event) = p["event"].as_str() { "event " code { (event) } " " }
                    @if let (Some(from), Some(to)) = (p["from"].as_str(), p["to"].as_str()) { code { (from) } " → " code { (to) } " " }
                    @if let Some(state) = p["state"].as_str() { "in " code { (state) } " " }
                    @if let Some(code) = p["error"]["code"].as_str() { code.err { (code) } " " }
                    details { summary { "payload" } (json_block(p)) }
                }
            }
        }
    }
}

/// Retries every failed run a filter selects (at most 1000, as the API does).
pub async fn retry_matching(State(state): State<ConsoleState>, Path(space): Path<String>, form: Form) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let body = json!({
        "status": "failed",
        "flow": Some(form.text("flow")).filter(|s| !s.is_empty()),
        "since": Some(form.text("since")).filter(|s| !s.is_empty()),
        "until": Some(form.text("until")).filter(|s| !s.is_empty()),
    });
    let outcome = cx.post("runs/retry", &body).await.map(|a| {
        format!(
            "Started {} retries; skipped {}.",
            a["started"].as_array().map_or(0, Vec::len),
            a["skipped"].as_array().map_or(0, Vec::len)
        )
    });
    cx.after(&format!("{}{}", cx.path("runs"), query([("status", "failed")])), outcome)
}

/// Cancel, retry, rerun or send an event to a run.
pub async fn act(
    State(state): State<ConsoleState>,
    Path((space, id, action)): Path<(String, String, String)>,
    form: Form,
) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let here = cx.path(&format!("runs/{}", seg(&id)));
    let base = format!("runs/{}", seg(&id));
    match action.as_str() {
        "cancel" => {
            let outcome = cx.post(&format!("{base}/cancel"), &json!({})).await.map(|_| "Cancelled.".to_owned());
            cx.after(&here, outcome)
        }
        "retry" | "rerun" => match cx.post(&format!("{base}/{action}"), &json!({})).await {
            Ok(new) => {
                let to = cx.path(&format!("runs/{}", seg(text(&new, "id"))));
                let what = if action == "retry" { "Retried" } else { "Re-ran" };
                cx.after(&to, Ok(format!("{what} run {id}: this is the new run.")))
            }
            Err(failure) => cx.after(&here, Err(failure)),
        },
        "event" => {
            let payload = match super::typed_json(form.text("payload"), "the payload") {
                Ok(p) => p,
                Err(failure) => return cx.after(&here, Err(failure)),
            };
            let mut body = json!({ "event": form.text("event") });
            if let Some(p) = payload {
                body["payload"] = p;
            }
            let outcome = cx.post(&format!("{base}/events"), &body).await.map(|_| "Event sent.".to_owned());
            cx.after(&here, outcome)
        }
        _ => crate::session::refused(axum::http::StatusCode::NOT_FOUND, "No such action."),
    }
}

use axum::extract::Query;
