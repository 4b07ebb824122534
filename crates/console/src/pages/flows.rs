//! Flows: the list, a flow's graph and definition, and the editor — YAML checked by the
//! server's validator as it is typed (each error at its line), a live graph preview, a visual
//! builder that edits the same definition, and saving as a new version.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde_json::{Value, json};

use super::{Ctx, Params, flash, param, table, text};
use crate::ConsoleState;
use crate::api::{Send, query, seg};
use crate::forms::Form;
use crate::graph::{Edge, Graph, Node};
use crate::layout::{self, json_block, time};
use crate::session::Session;

/// The node kinds a flow takes, as the builder offers them.
const KINDS: &[&str] = &[
    "transform",
    "function",
    "http",
    "set",
    "condition",
    "switch",
    "delay",
    "wait",
    "subflow",
    "publish",
    "send_event",
    "foreach",
    "parallel",
    "fail",
    "succeed",
];

/// A flow's graph: its nodes in order (coloured by `statuses` when given, `selected` marked),
/// its edges, and the edges its nodes imply (`on_error`, a foreach's body, a parallel's branches).
pub fn flow_graph(
    definition: &Value,
    statuses: Option<&HashMap<String, String>>,
    selected: &str,
    href: &dyn Fn(&str) -> Option<String>,
) -> Graph {
    let specs = definition["nodes"].as_array().map_or(&[][..], Vec::as_slice);
    let ids: Vec<&str> = specs.iter().map(|n| n["id"].as_str().unwrap_or("")).collect();
    let index = |id: &str| ids.iter().position(|i| *i == id);
    let nodes = specs
        .iter()
        .map(|spec| {
            let id = spec["id"].as_str().unwrap_or("").to_owned();
            let mut classes = Vec::new();
            if let Some(statuses) = statuses {
                let status = statuses.get(&id).map_or("pending", String::as_str);
                classes.push(format!("s-{}", layout::css_word(status)));
            }
            if id == selected {
                classes.push("selected".to_owned());
            }
            Node { label: id.clone(), note: spec["kind"].as_str().map(str::to_owned), classes, href: href(&id), id }
        })
        .collect();
    let mut edges = Vec::new();
    for edge in definition["edges"].as_array().map_or(&[][..], Vec::as_slice) {
        let (Some(from), Some(to)) = (index(text(edge, "from")), index(text(edge, "to"))) else { continue };
        let label = match (&edge["branch"], edge["when"].as_str()) {
            (Value::Null, None) => None,
            (Value::Null, Some(when)) => Some(when.to_owned()),
            (branch, _) => Some(layout::json_short(branch, 20)),
        };
        edges.push(Edge { from, to, label, class: None });
    }
    for (from, spec) in specs.iter().enumerate() {
        if let Some(to) = spec["on_error"].as_str().and_then(index) {
            edges.push(Edge { from, to, label: Some("on error".to_owned()), class: Some("e-error".to_owned()) });
        }
        if let Some(to) = spec["do"].as_str().and_then(index) {
            edges.push(Edge { from, to, label: Some("each".to_owned()), class: Some("e-body".to_owned()) });
        }
        for branch in spec["branches"].as_array().map_or(&[][..], Vec::as_slice) {
            if let Some(to) = branch.as_str().and_then(index) {
                edges.push(Edge { from, to, label: Some("branch".to_owned()), class: Some("e-body".to_owned()) });
            }
        }
    }
    Graph { nodes, edges }
}

/// The flows of a space.
pub async fn list(State(state): State<ConsoleState>, session: Session, Path(space): Path<String>) -> Response {
    let cx = Ctx::new(state, session, space);
    let flows = match cx.list("flows", "flows", "flows").await {
        Ok(rows) => rows,
        Err(page) => return page,
    };
    let body = html! {
        h1 { "Flows" }
        (flash(cx.session()))
        (table(&flows, &[
            ("Flow", &|f| html! { a href=(cx.path(&format!("flows/{}", seg(text(f, "name"))))) { (text(f, "name")) } }),
            ("Version", &|f| html! { (f["version"]) }),
            ("Nodes", &|f| html! { (f["nodes"]) }),
            ("Description", &|f| html! { (text(f, "description")) }),
            ("Stored", &|f| time(&f["created_at"])),
            ("", &|f| html! { a href=(format!("{}{}", cx.path("runs"), query([("flow", text(f, "name"))]))) { "runs" } }),
        ]))
        h2 { "New flow" }
        form.inline method="post" action=(cx.path("flows")) {
            (layout::csrf(cx.session()))
            label { "Name " input name="name" required pattern="[a-z][a-z0-9_-]*"; }
            button type="submit" { "Create in the editor" }
        }
    };
    cx.page("flows", "Flows", body)
}

/// Opens the editor on a new flow.
pub async fn create(State(state): State<ConsoleState>, Path(space): Path<String>, form: Form) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let name = form.text("name");
    // A flow that does not exist yet opens with a starter definition to edit and save.
    axum::response::Redirect::to(&cx.path(&format!("flows/{}", seg(name)))).into_response()
}

const STARTER: &str = "nodes:\n  - id: start\n    kind: transform\n    value: input\n";

/// A flow: its graph, its editor, its versions and a form to start a run.
pub async fn show(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, name)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let version = param(&q, "version");
    let record = cx.get(&format!("flows/{}{}", seg(&name), query([("version", version)]))).await;
    let (yaml, definition, current) = match &record {
        Ok(r) => (serde_norway::to_string(&r["definition"]).unwrap_or_default(), r["definition"].clone(), Some(r)),
        Err(f) if f.code == "flow_not_found" || f.code == "machine_not_found" => {
            (format!("name: {name}\n{STARTER}"), Value::Null, None)
        }
        Err(failure) => return cx.fail("flows", failure),
    };
    let here = cx.path(&format!("flows/{}", seg(&name)));
    let graph = flow_graph(&definition, None, "", &|_| None);
    let latest = current.map(|r| r["version"].as_u64().unwrap_or(0)).unwrap_or(0);
    let body = html! {
        p.crumbs { a href=(cx.path("flows")) { "Flows" } " / " (name) }
        h1 { "Flow " (name) @if let Some(r) = current { " " span.muted { "v" (r["version"]) } } }
        (flash(cx.session()))
        @if let Some(r) = current {
            p { "Stored " (time(&r["created_at"])) ". "
                a href=(format!("{}{}", cx.path("runs"), query([("flow", name.as_str())]))) { "Its runs" } "." }
            @if latest > 1 {
                nav.versions aria-label="Versions" { "Versions: "
                    @for v in (1..=latest).rev().take(20) {
                        a href=(format!("{here}{}", query([("version", v.to_string().as_str())]))) { "v" (v) } " "
                    }
                }
            }
        }
        div.editor data-check=(format!("{here}/check")) data-yaml=(format!("{here}/yaml")) {
            section.editor-text {
                h2 { label for="flow-yaml" { "Definition (YAML)" } }
                form #flow-form method="post" action=(here) {
                    (layout::csrf(cx.session()))
                    div.code-area {
                        pre.gutter aria-hidden="true" {}
                        textarea #flow-yaml name="yaml" spellcheck="false" rows="24" aria-describedby="flow-errors" { (yaml) }
                    }
                    ul #flow-errors.errors aria-live="polite" {}
                    button type="submit" { "Save as a new version" }
                }
            }
            section.editor-graph {
                h2 { "Graph" }
                div #flow-preview.preview { (crate::graph::render(&graph, &format!("flow {name}"))) }
                div #builder.builder {
                    h3 { "Build" }
                    p.hint { "Click a node to configure it; add nodes and connect them here. Every change rewrites the YAML." }
                    div.builder-add {
                        label { "Kind " select #b-kind { @for k in KINDS { option value=(k) { (k) } } } }
                        label { "Id " input #b-id size="10" pattern="[a-z][a-z0-9_]*"; }
                        button #b-add type="button" { "Add node" }
                    }
                    div #b-node.builder-node hidden {}
                }
            }
        }
        @if current.is_some() {
            section {
                h2 { "Start a run" }
                form.stack method="post" action=(format!("{here}/start")) {
                    (layout::csrf(cx.session()))
                    label { "Input (JSON) " textarea name="input" rows="3" placeholder="{}" {} }
                    button type="submit" { "Start" }
                }
            }
            details { summary { "Definition as stored (JSON)" } (json_block(&definition)) }
        }
    };
    cx.page("flows", &format!("Flow {name}"), body)
}

/// Saves the editor's YAML as a new version.
pub async fn save(
    State(state): State<ConsoleState>,
    Path((space, name)): Path<(String, String)>,
    form: Form,
) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let here = cx.path(&format!("flows/{}", seg(&name)));
    let outcome = cx
        .call(Method::PUT, &format!("flows/{}", seg(&name)), Send::Text("application/yaml", form.text("yaml")))
        .await
        .map(|a| {
            if a["created"].as_bool() == Some(false) {
                format!("Nothing changed: version {} is the same.", a["version"])
            } else {
                format!("Saved as version {}.", a["version"])
            }
        });
    cx.after(&here, outcome)
}

/// Starts a run with a JSON input.
pub async fn start(
    State(state): State<ConsoleState>,
    Path((space, name)): Path<(String, String)>,
    form: Form,
) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let here = cx.path(&format!("flows/{}", seg(&name)));
    let input = match super::typed_json(form.text("input"), "the input") {
        Ok(i) => i.unwrap_or(json!({})),
        Err(failure) => return cx.after(&here, Err(failure)),
    };
    match cx.post(&format!("flows/{}/runs", seg(&name)), &json!({ "input": input })).await {
        Ok(run) => cx.after(&cx.path(&format!("runs/{}", seg(text(&run, "id")))), Ok("Run started.".to_owned())),
        Err(failure) => cx.after(&here, Err(failure)),
    }
}

/// What checking a definition found: each error with its line, the graph, the definition.
async fn check_yaml(cx: &Ctx, name: &str, yaml: &str) -> Value {
    let answer = cx
        .call(
            Method::PUT,
            &format!("flows/{}{}", seg(name), query([("dry_run", "true")])),
            Send::Text("application/yaml", yaml),
        )
        .await;
    match answer {
        Ok(preview) => {
            let graph = flow_graph(&preview["definition"], None, "", &|_| None);
            json!({
                "ok": true,
                "errors": [],
                "changed": preview["changed"],
                "definition": preview["definition"],
                "svg": crate::graph::render(&graph, &format!("flow {name}")).into_string(),
            })
        }
        Err(failure) => {
            let errors: Vec<Value> = match failure.details["errors"].as_array() {
                Some(list) => list
                    .iter()
                    .map(|e| {
                        let path = text(e, "path");
                        json!({ "path": path, "line": crate::yaml_lines::line_of(yaml, path), "message": text(e, "message") })
                    })
                    .collect(),
                None => vec![json!({ "path": failure.details["path"], "line": failure.details["line"], "message": failure.message, "code": failure.code })],
            };
            json!({ "ok": false, "errors": errors })
        }
    }
}

/// Checks the editor's YAML (the script calls it as the text changes).
pub async fn check(
    State(state): State<ConsoleState>,
    Path((space, name)): Path<(String, String)>,
    form: Form,
) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    axum::Json(check_yaml(&cx, &name, form.text("yaml")).await).into_response()
}

/// Turns the builder's definition (JSON) into YAML, then checks it like typed text.
pub async fn to_yaml(
    State(state): State<ConsoleState>,
    Path((space, name)): Path<(String, String)>,
    form: Form,
) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let definition: Value = match serde_json::from_str(form.text("definition")) {
        Ok(d) => d,
        Err(e) => {
            return axum::Json(json!({ "ok": false, "errors": [{ "line": null, "message": format!("the builder sent a definition that is not JSON: {e}") }] }))
                .into_response();
        }
    };
    let yaml = serde_norway::to_string(&definition).unwrap_or_default();
    let mut answer = check_yaml(&cx, &name, &yaml).await;
    answer["yaml"] = Value::String(yaml);
    axum::Json(answer).into_response()
}
