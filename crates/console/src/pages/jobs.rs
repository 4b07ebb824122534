//! Jobs and their dead letters (jobs that ran out of attempts): inspect, re-drive one, the
//! selected ones or all that a filter selects, cancel and delete.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use maud::html;
use serde_json::json;

use super::{Ctx, Params, flash, param, text};
use crate::ConsoleState;
use crate::api::{Send, query, seg};
use crate::forms::Form;
use crate::layout::{self, badge, json_block, json_short, time};
use crate::session::Session;

const STATUSES: &[&str] = &["pending", "running", "succeeded", "dead", "cancelled"];

/// The jobs of a space.
pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Path(space): Path<String>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let filters: Vec<(&str, &str)> = ["status", "kind", "after"].iter().map(|n| (*n, param(&q, n))).collect();
    let answer = cx.get(&format!("jobs{}", query(filters.iter().copied().chain([("limit", "50")])))).await;
    let jobs = answer.as_ref().ok().and_then(|a| a["jobs"].as_array().cloned()).unwrap_or_default();
    let here = cx.path("jobs");
    let back = format!("{here}{}", query(filters.iter().copied()));
    let body = html! {
        h1 { "Jobs" }
        (flash(cx.session()))
        form.filters method="get" action=(here) {
            label { "Status "
                select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES { option value=(s) selected[param(&q, "status") == *s] { (s) @if *s == "dead" { " (dead letters)" } } }
                }
            }
            label { "Kind " input name="kind" value=(param(&q, "kind")) size="14" placeholder="function, http, webhook…"; }
            button type="submit" { "Filter" }
        }
        @if let Err(failure) = &answer { (layout::failure_panel(failure)) }
        @if jobs.is_empty() { p.empty { "No jobs match." } } @else {
            form #jobs-form method="post" action=(here) {
                (layout::csrf(cx.session()))
                input type="hidden" name="back" value=(back);
                div.table-wrap { table {
                    thead { tr {
                        th scope="col" { input type="checkbox" data-select-all="id" aria-label="Select all"; }
                        th scope="col" { "Job" } th scope="col" { "Kind" } th scope="col" { "Target" }
                        th scope="col" { "Status" } th scope="col" { "Attempt" } th scope="col" { "Run at" } th scope="col" { "Last error" }
                    } }
                    tbody { @for j in &jobs { tr {
                        td { input type="checkbox" name="id" value=(text(j, "id")) aria-label=(format!("Select {}", text(j, "id"))); }
                        td { a href=(cx.path(&format!("jobs/{}", seg(text(j, "id"))))) { code { (text(j, "id")) } } }
                        td { (text(j, "kind")) }
                        td { code { (json_short(&j["target"], 48)) } }
                        td { (badge(text(j, "status"))) }
                        td { (j["attempt"]) }
                        td { (time(&j["run_at"])) }
                        td { @if let Some(code) = j["last_error"]["code"].as_str() { code.err { (code) } " " (json_short(&j["last_error"]["message"], 60)) } }
                    } } }
                } }
                div.actions {
                    button type="submit" name="op" value="retry" { "Re-drive selected" }
                    button type="submit" name="op" value="cancel" { "Cancel selected" }
                    button type="submit" name="op" value="delete" data-confirm="Delete the selected jobs?" { "Delete selected" }
                }
            }
            @if let Some(next) = answer.as_ref().ok().and_then(|a| a["next_after"].as_str()) {
                p.pager { a rel="next" href=(format!("{here}{}", query([("status", param(&q, "status")), ("kind", param(&q, "kind")), ("after", next)]))) { "Next page →" } }
            }
        }
        section {
            h2 { "Re-drive dead letters by filter" }
            form.inline method="post" action=(here) {
                (layout::csrf(cx.session()))
                input type="hidden" name="back" value=(back);
                label { "Kind " input name="kind" value=(param(&q, "kind")) size="14" placeholder="every kind"; }
                label { "At most " input name="limit" type="number" min="1" value="1000" size="6"; }
                button type="submit" name="op" value="redrive-filter" { "Re-drive dead jobs" }
            }
        }
    };
    cx.page("jobs", "Jobs", body)
}

/// Acts on the selected jobs, or re-drives every dead job a filter selects.
pub async fn bulk(State(state): State<ConsoleState>, Path(space): Path<String>, form: Form) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let back = form.text("back");
    let back = if crate::session::is_console_path(back) { back.to_owned() } else { cx.path("jobs") };
    let op = form.text("op");
    if op == "redrive-filter" {
        let mut body = json!({});
        if !form.text("kind").is_empty() {
            body["kind"] = json!(form.text("kind"));
        }
        if let Ok(limit) = form.text("limit").parse::<u32>() {
            body["limit"] = json!(limit);
        }
        let outcome = cx.post("jobs/retry", &body).await.map(|a| format!("Re-drove {} dead jobs.", a["redriven"]));
        return cx.after(&back, outcome);
    }
    let ids = form.all("id");
    if ids.is_empty() {
        return cx.after(&back, Ok("Nothing was selected.".to_owned()));
    }
    let mut done = 0;
    let mut failures = Vec::new();
    for id in &ids {
        let path = format!("jobs/{}", seg(id));
        let answer = match op {
            "retry" => cx.post(&format!("{path}/retry"), &json!({})).await,
            "cancel" => cx.post(&format!("{path}/cancel"), &json!({})).await,
            "delete" => cx.call(Method::DELETE, &path, Send::Empty).await,
            _ => return crate::session::refused(axum::http::StatusCode::BAD_REQUEST, "No such action."),
        };
        match answer {
            Ok(_) => done += 1,
            Err(f) => failures.push(format!("{id}: {}", f.message)),
        }
    }
    let verb = match op {
        "retry" => "Re-drove",
        "cancel" => "Cancelled",
        _ => "Deleted",
    };
    let mut notice = format!("{verb} {done} of {} jobs.", ids.len());
    if !failures.is_empty() {
        notice.push_str(&format!(" Refused: {}", failures.join("; ")));
    }
    cx.after(&back, Ok(notice))
}

/// One job: every field, its attempts, its actions.
pub async fn show(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, id)): Path<(String, String)>,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let job = match cx.get(&format!("jobs/{}", seg(&id))).await {
        Ok(j) => j,
        Err(failure) => return cx.fail("jobs", &failure),
    };
    let here = cx.path(&format!("jobs/{}", seg(&id)));
    let status = text(&job, "status");
    let attempts = job["attempts"].as_array().cloned().unwrap_or_default();
    let body = html! {
        p.crumbs { a href=(cx.path("jobs")) { "Jobs" } " / " code { (id) } }
        h1 { "Job " code { (id) } " " (badge(status)) }
        (flash(cx.session()))
        div.actions {
            @if matches!(status, "dead" | "cancelled") { (layout::action_button(cx.session(), &format!("{here}/retry"), "Re-drive", None)) }
            @if matches!(status, "pending" | "running") { (layout::action_button(cx.session(), &format!("{here}/cancel"), "Cancel", Some("Cancel this job?"))) }
            (layout::action_button(cx.session(), &format!("{here}/delete"), "Delete", Some("Delete this job?")))
        }
        @if !job["last_error"].is_null() { div.failure role="alert" { strong { "Last error" } (json_block(&job["last_error"])) } }
        h2 { "Attempts" }
        @if attempts.is_empty() { p.empty { "No attempt yet." } }
        ol.timeline { @for a in &attempts { li {
            strong { "attempt " (a["attempt"]) } " "
            (time(&a["started_at"])) " "
            @if let Some(code) = a["error"]["code"].as_str() { code.err { (code) } " " (json_short(&a["error"]["message"], 200)) }
            @else { (badge("succeeded")) }
            details { summary { "details" } (json_block(a)) }
        } } }
        h2 { "Job" }
        (json_block(&job))
    };
    cx.page("jobs", &format!("Job {id}"), body)
}

/// Re-drive, cancel or delete one job.
pub async fn act(
    State(state): State<ConsoleState>,
    Path((space, id, action)): Path<(String, String, String)>,
    form: Form,
) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let path = format!("jobs/{}", seg(&id));
    let here = cx.path(&path);
    let outcome: Result<String, _> = match action.as_str() {
        "retry" => cx.post(&format!("{path}/retry"), &json!({})).await.map(|_| "Re-driven: it is due now.".to_owned()),
        "cancel" => cx.post(&format!("{path}/cancel"), &json!({})).await.map(|_| "Cancelled.".to_owned()),
        "delete" => {
            return match cx.call(Method::DELETE, &path, Send::Empty).await {
                Ok(_) => cx.after(&cx.path("jobs"), Ok(format!("Deleted job {id}."))),
                Err(f) => cx.after(&here, Err(f)),
            };
        }
        _ => return crate::session::refused(axum::http::StatusCode::NOT_FOUND, "No such action."),
    };
    cx.after(&here, outcome)
}
