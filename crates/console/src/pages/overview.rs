//! A space's overview: runs by status over time, dead jobs, dead letters, failing triggers and
//! endpoints, and the latest errors — each a link to the page that explains it.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;

use super::{Ctx, flash, text};
use crate::ConsoleState;
use crate::api::{query, seg};
use crate::layout::{badge, json_short, time};
use crate::session::Session;

/// How many of the latest runs the overview counts.
const RECENT_RUNS: usize = 200;
const RUN_STATUSES: &[&str] = &["succeeded", "failed", "running", "waiting", "cancelled"];
const INSTANCE_STATUSES: &[&str] = &["active", "waiting", "running", "completed", "failed", "cancelled"];

/// The run status of an instance status (as the API's runs say it).
fn layout_run_status(status: &str) -> &str {
    match status {
        "active" | "waiting" => "waiting",
        "completed" => "succeeded",
        other => other,
    }
}

/// The overview of a space.
pub async fn page(State(state): State<ConsoleState>, session: Session, Path(space): Path<String>) -> Response {
    let cx = Ctx::new(state, session, space);
    let limit = RECENT_RUNS.to_string();
    let (recent, failing, dead_jobs) = (
        format!("runs{}", query([("limit", limit.as_str())])),
        format!("runs{}", query([("status", "failed"), ("limit", "10")])),
        format!("jobs{}", query([("status", "dead"), ("limit", "10")])),
    );
    let (stats, runs, failed, dead, subs, triggers, endpoints, flows) = tokio::join!(
        cx.get("stats"),
        cx.get(&recent),
        cx.get(&failing),
        cx.get(&dead_jobs),
        cx.get("subscriptions"),
        cx.get("triggers"),
        cx.get("endpoints"),
        cx.get("flows"),
    );
    // A token that may not read the space sees that and nothing else.
    let stats = match stats {
        Ok(stats) => stats,
        Err(failure) => return cx.fail("", &failure),
    };
    let list = |r: &Result<Value, _>, field: &str| -> Vec<Value> {
        r.as_ref().ok().and_then(|v: &Value| v[field].as_array().cloned()).unwrap_or_default()
    };
    let runs = list(&runs, "runs");
    let failed = list(&failed, "runs");
    let dead = list(&dead, "jobs");
    let subs: Vec<Value> =
        list(&subs, "subscriptions").into_iter().filter(|s| s["dead_letters"].as_u64().unwrap_or(0) > 0).collect();
    let failing_triggers: Vec<Value> =
        list(&triggers, "triggers").into_iter().filter(|t| !t["health"]["last_failure"].is_null()).collect();
    let endpoints: Vec<Value> = list(&endpoints, "endpoints")
        .into_iter()
        .filter(|e| {
            e["health"]["consecutive_failures"].as_u64().unwrap_or(0) > 0 || !e["health"]["open_until"].is_null()
        })
        .collect();
    let flow_names: Vec<String> = list(&flows, "flows").iter().map(|f| text(f, "name").to_owned()).collect();
    let counts = stats["instances"].as_array().cloned().unwrap_or_default();
    // Instances by machine (flows' runs apart: a run is a root instance of its flow's machine).
    let mut by_machine: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut runs_by_status: BTreeMap<String, u64> = BTreeMap::new();
    for c in &counts {
        let machine = text(c, "machine");
        let (roots, children) = (c["roots"].as_u64().unwrap_or(0), c["children"].as_u64().unwrap_or(0));
        if flow_names.iter().any(|f| f == machine) {
            *runs_by_status.entry(layout_run_status(text(c, "status")).to_owned()).or_default() += roots;
        } else {
            *by_machine.entry(machine.to_owned()).or_default().entry(text(c, "status").to_owned()).or_default() +=
                roots + children;
        }
    }
    let jobs = &stats["jobs"];
    let dead_jobs = jobs["dead"].as_u64().unwrap_or(0);
    let failed_runs = runs_by_status.get("failed").copied().unwrap_or(0);
    let body = html! {
        h1 { "Overview of " (cx.space()) }
        (flash(cx.session()))
        div.cards {
            a.card href=(cx.path("machines")) { span.big { (by_machine.values().map(|s| s.values().sum::<u64>()).sum::<u64>()) } " instances" }
            a.card href=(cx.path("runs")) { span.big { (runs_by_status.values().sum::<u64>()) } " runs" }
            a.card.bad[failed_runs > 0] href=(format!("{}{}", cx.path("runs"), query([("status", "failed")]))) { span.big { (failed_runs) } " failed runs" }
            a.card href=(format!("{}{}", cx.path("jobs"), query([("status", "pending")]))) {
                span.big { (jobs["pending"]) } " jobs queued, " (jobs["due"]) " due"
                @if !jobs["oldest_due"].is_null() { br; span.muted { "oldest due " (time(&jobs["oldest_due"])) } }
            }
            a.card.bad[dead_jobs > 0] href=(format!("{}{}", cx.path("jobs"), query([("status", "dead")]))) { span.big { (dead_jobs) } " dead jobs" }
            a.card.bad[!subs.is_empty()] href=(cx.path("subscriptions")) { span.big { (subs.iter().map(|s| s["dead_letters"].as_u64().unwrap_or(0)).sum::<u64>()) } " dead letters" }
            a.card.bad[!failing_triggers.is_empty()] href=(cx.path("triggers")) { span.big { (failing_triggers.len()) } " triggers with failures" }
        }
        section {
            h2 { "Runs by status" }
            p { @for s in RUN_STATUSES {
                a href=(format!("{}{}", cx.path("runs"), query([("status", *s)]))) { (badge(s)) } " " (runs_by_status.get(*s).copied().unwrap_or(0)) "  "
            } }
            h3 { "The latest " (runs.len()) " runs, by hour" }
            (runs_over_time(&runs))
        }
        section {
            h2 { "Instances by status" }
            @if by_machine.is_empty() { p.empty { "No instances." } } @else {
                div.table-wrap { table {
                    thead { tr { th scope="col" { "Machine" } @for s in INSTANCE_STATUSES { th scope="col" { (s) } } } }
                    tbody { @for (machine, statuses) in &by_machine { tr {
                        td { a href=(cx.path(&format!("machines/{}/instances", seg(machine)))) { (machine) } }
                        @for s in INSTANCE_STATUSES { td { (statuses.get(*s).copied().unwrap_or(0)) } }
                    } } }
                } }
            }
        }
        section {
            h2 { "Recent errors" }
            @if failed.is_empty() && dead.is_empty() { p.empty { "No failed run and no dead job." } }
            ul.errors-list {
                @for r in &failed { li {
                    a href=(cx.path(&format!("runs/{}", seg(text(r, "id"))))) { "run " code { (text(r, "id")) } } " of " (text(r, "flow")) " "
                    code.err { (json_short(&r["error"]["code"], 40)) } " " (json_short(&r["error"]["message"], 120)) " " (time(&r["updated_at"]))
                } }
                @for j in &dead { li {
                    a href=(cx.path(&format!("jobs/{}", seg(text(j, "id"))))) { "job " code { (text(j, "id")) } } " (" (text(j, "kind")) ") "
                    code.err { (json_short(&j["last_error"]["code"], 40)) } " " (json_short(&j["last_error"]["message"], 120))
                } }
            }
        }
        @if !failing_triggers.is_empty() || !endpoints.is_empty() {
            section {
                h2 { "Failing triggers and endpoints" }
                ul {
                    @for t in &failing_triggers { li {
                        a href=(cx.path(&format!("triggers/{}", seg(text(t, "name"))))) { "trigger " (text(t, "name")) } " last failed "
                        (time(&t["health"]["last_failure"]["accepted_at"]))
                    } }
                    @for e in &endpoints { li {
                        a href=(cx.path(&format!("endpoints/{}", seg(text(e, "name"))))) { "endpoint " (text(e, "name")) } " "
                        (super::endpoints::health(e))
                    } }
                }
            }
        }
    };
    cx.page("", &format!("Overview of {}", cx.space()), body)
}

/// The runs by hour and status, as a stacked bar chart (SVG, coloured by the stylesheet).
fn runs_over_time(runs: &[Value]) -> Markup {
    let mut hours: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for run in runs {
        let created = text(run, "created_at");
        let hour = created.get(..13).unwrap_or(created).to_owned();
        *hours.entry(hour).or_default().entry(text(run, "status").to_owned()).or_default() += 1;
    }
    if hours.is_empty() {
        return html! {};
    }
    let most = hours.values().map(|c| c.values().sum::<usize>()).max().unwrap_or(1).max(1) as f64;
    let bar = 28.0;
    let width = hours.len() as f64 * (bar + 8.0) + 8.0;
    let height = 120.0;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {width} {}", height + 30.0)) width=(width) height=(height + 30.0) role="img" aria-label="runs per hour by status" {
            @for (i, (hour, by_status)) in hours.iter().enumerate() {
                @let x = 8.0 + i as f64 * (bar + 8.0);
                @let mut y = height;
                g {
                    title { (hour.replace('T', " ")) ":00 — " (by_status.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ")) }
                    @for (status, n) in by_status {
                        @let h = *n as f64 / most * (height - 10.0);
                        @let top = { y -= h; y };
                        rect class=(format!("s-{status}")) x=(x) y=(top) width=(bar) height=(h) {}
                    }
                    text x=(x + bar / 2.0) y=(height + 16.0) class="axis" { (hour.get(11..13).unwrap_or("")) "h" }
                }
            }
        }
    }
}
