//! Machines: the list, and a machine's definition with its state diagram, any two versions side
//! by side.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;
use switchyard_model::definition::graph::EdgeKind;
use switchyard_model::{CompiledMachine, InstanceStatus};

use super::{Ctx, Params, flash, param, table, text};
use crate::ConsoleState;
use crate::api::{query, seg};
use crate::graph::{Edge, Graph, Node};
use crate::layout::{json_block, time};
use crate::session::Session;

/// A machine's state diagram from its stored definition, `current` marked; `None` when the
/// definition does not compile (a store that holds one is damaged: the page says so).
pub fn state_diagram(definition: &Value, current: Option<&str>) -> Option<Graph> {
    let machine = CompiledMachine::from_canonical_json(definition).ok()?;
    let names: Vec<&str> = machine.state_names().collect();
    let index = |name: &str| names.iter().position(|n| *n == name);
    let nodes = names
        .iter()
        .map(|name| {
            let mut classes = Vec::new();
            if machine.is_final(name) {
                classes.push("final".to_owned());
            }
            if machine.status_in(name) == InstanceStatus::Failed {
                classes.push("failure".to_owned());
            }
            if *name == machine.initial_state() {
                classes.push("initial".to_owned());
            }
            if Some(*name) == current {
                classes.push("current".to_owned());
            }
            Node { id: (*name).to_owned(), label: (*name).to_owned(), note: None, classes, href: None }
        })
        .collect();
    let edges = machine
        .graph_edges()
        .into_iter()
        .filter_map(|e| {
            let class = match e.kind {
                EdgeKind::Event => None,
                EdgeKind::Done => Some("e-done"),
                EdgeKind::Error => Some("e-error"),
                EdgeKind::Timer => Some("e-timer"),
            };
            Some(Edge {
                from: index(&e.from)?,
                to: index(&e.to)?,
                label: Some(e.label),
                class: class.map(str::to_owned),
            })
        })
        .collect();
    Some(Graph { nodes, edges })
}

/// A diagram, or a note that there is none. A flow's machine is drawn as its flow (its states
/// are the flow's nodes' steps, moved by eventless transitions the diagram does not show).
pub fn diagram(definition: &Value, current: Option<&str>, title: &str) -> Markup {
    if definition["flow"].is_object() {
        let node = current.and_then(|state| state.split('.').next()).unwrap_or("");
        let graph = super::flows::flow_graph(&definition["flow"], None, node, &|_| None);
        return html! {
            p.hint { "This machine is a flow: its graph is drawn"
                @if current.is_some() { ", the current node marked" } "." }
            (crate::graph::render(&graph, title))
        };
    }
    match state_diagram(definition, current) {
        Some(graph) => crate::graph::render(&graph, title),
        None => html! { p.empty { "This definition cannot be drawn." } },
    }
}

/// The machines of a space.
pub async fn list(State(state): State<ConsoleState>, session: Session, Path(space): Path<String>) -> Response {
    let cx = Ctx::new(state, session, space);
    let rows = match cx.list("machines", "machines", "machines").await {
        Ok(rows) => rows,
        Err(page) => return page,
    };
    let body = html! {
        h1 { "Machines" }
        (flash(cx.session()))
        (table(&rows, &[
            ("Machine", &|m| html! { a href=(cx.path(&format!("machines/{}", seg(text(m, "name"))))) { (text(m, "name")) } }),
            ("Version", &|m| html! { (m["version"]) }),
            ("Stored", &|m| time(&m["created_at"])),
            ("", &|m| html! { a href=(cx.path(&format!("machines/{}/instances", seg(text(m, "name"))))) { "instances" } }),
        ]))
    };
    cx.page("machines", "Machines", body)
}

/// A machine: definition and diagram; with `compare`, two versions side by side.
pub async fn show(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, name)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let base = format!("machines/{}", seg(&name));
    let machine = match cx.get(&format!("{base}{}", query([("version", param(&q, "version"))]))).await {
        Ok(m) => m,
        Err(failure) => return cx.fail("machines", &failure),
    };
    let compare = param(&q, "compare");
    let other =
        if compare.is_empty() { None } else { cx.get(&format!("{base}{}", query([("version", compare)]))).await.ok() };
    let latest = machine["version"].as_u64().unwrap_or(1);
    let here = cx.path(&base);
    let body = html! {
        p.crumbs { a href=(cx.path("machines")) { "Machines" } " / " (name) }
        h1 { "Machine " (name) " " span.muted { "v" (latest) } }
        (flash(cx.session()))
        p { a href=(cx.path(&format!("{base}/instances"))) { "Its instances" } }
        form.filters method="get" action=(here) {
            label { "Version " input name="version" type="number" min="1" value=(param(&q, "version")) size="4"; }
            label { "Side by side with " input name="compare" type="number" min="1" value=(compare) size="4"; }
            button type="submit" { "Show" }
        }
        div.side-by-side {
            section {
                h2 { "Version " (machine["version"]) " " span.muted { (time(&machine["created_at"])) } }
                (diagram(&machine["definition"], None, &format!("state diagram of {name}")))
                details open[other.is_some()] { summary { "Definition" } (json_block(&machine["definition"])) }
            }
            @if let Some(o) = &other {
                section {
                    h2 { "Version " (o["version"]) " " span.muted { (time(&o["created_at"])) } }
                    (diagram(&o["definition"], None, &format!("state diagram of {name} v{}", o["version"])))
                    details open { summary { "Definition" } (json_block(&o["definition"])) }
                }
            }
        }
    };
    cx.page("machines", &format!("Machine {name}"), body)
}
