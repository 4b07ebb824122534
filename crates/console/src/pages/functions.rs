//! Functions: the list, a function's versions, settings and invocations (with logs and errors),
//! invoking it with a JSON input, and one invocation.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use maud::html;

use super::{Ctx, Params, flash, param, table, text};
use crate::ConsoleState;
use crate::api::{Send, query, seg};
use crate::forms::Form;
use crate::layout::{self, badge, json_block, json_short, time};
use crate::session::Session;

/// The functions of a space.
pub async fn list(State(state): State<ConsoleState>, session: Session, Path(space): Path<String>) -> Response {
    let cx = Ctx::new(state, session, space);
    let rows = match cx.list("functions", "functions", "functions").await {
        Ok(rows) => rows,
        Err(page) => return page,
    };
    let body = html! {
        h1 { "Functions" }
        (flash(cx.session()))
        (table(&rows, &[
            ("Function", &|f| html! { a href=(cx.path(&format!("functions/{}", seg(text(f, "name"))))) { (text(f, "name")) } }),
            ("Version", &|f| html! { (f["version"]) }),
            ("Deployed", &|f| time(&f["created_at"])),
        ]))
    };
    cx.page("functions", "Functions", body)
}

/// A function: settings, versions, invocations, and a form to invoke it.
pub async fn show(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, name)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let base = format!("functions/{}", seg(&name));
    let function = match cx.get(&base).await {
        Ok(f) => f,
        Err(failure) => return cx.fail("functions", &failure),
    };
    let versions = cx.get(&format!("{base}/versions")).await;
    let invocations =
        cx.get(&format!("{base}/invocations{}", query([("after", param(&q, "after")), ("limit", "50")]))).await;
    let inv_rows = invocations.as_ref().ok().and_then(|a| a["invocations"].as_array().cloned()).unwrap_or_default();
    let version_rows = versions.as_ref().ok().and_then(|a| a["versions"].as_array().cloned()).unwrap_or_default();
    let here = cx.path(&base);
    let body = html! {
        p.crumbs { a href=(cx.path("functions")) { "Functions" } " / " (name) }
        h1 { "Function " (name) " " span.muted { "v" (function["version"]) } }
        (flash(cx.session()))
        section {
            h2 { "Invoke" }
            form.stack method="post" action=(format!("{here}/invoke")) {
                (layout::csrf(cx.session()))
                label { "Input (JSON) " textarea name="input" rows="4" placeholder="{\"name\": \"world\"}" {} }
                button type="submit" { "Invoke" }
            }
        }
        h2 { "Invocations" }
        @if let Err(failure) = &invocations { (layout::failure_panel(failure)) }
        (table(&inv_rows, &[
            ("Invocation", &|i| html! { a href=(cx.path(&format!("invocations/{}", seg(text(i, "id"))))) { code { (text(i, "id")) } } }),
            ("Version", &|i| html! { (i["version"]) }),
            ("Status", &|i| badge(text(i, "status"))),
            ("Started", &|i| time(&i["created_at"])),
            ("Duration", &|i| html! { @if let Some(us) = i["duration_us"].as_u64() { (format!("{:.1} ms", us as f64 / 1000.0)) } }),
            ("Error", &|i| html! { @if let Some(code) = i["error"]["code"].as_str() { code.err { (code) } } }),
        ]))
        @if let Some(next) = invocations.as_ref().ok().and_then(|a| a["next_after"].as_u64().map(|n| n.to_string()).or(a["next_after"].as_str().map(str::to_owned))) {
            p.pager { a rel="next" href=(format!("{here}{}", query([("after", next.as_str())]))) { "Older →" } }
        }
        h2 { "Settings" }
        (json_block(&function))
        h2 { "Versions" }
        (table(&version_rows, &[
            ("Version", &|v| html! { (v["version"]) }),
            ("Deployed", &|v| time(&v["created_at"])),
            ("Digest", &|v| html! { code { (json_short(&v["digest"], 20)) } }),
        ]))
    };
    cx.page("functions", &format!("Function {name}"), body)
}

/// Invokes a function with a JSON input; shows the invocation it made.
pub async fn invoke(
    State(state): State<ConsoleState>,
    Path((space, name)): Path<(String, String)>,
    form: Form,
) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let here = cx.path(&format!("functions/{}", seg(&name)));
    let input = form.text("input");
    let input = if input.is_empty() { "{}" } else { input };
    if let Err(failure) = super::typed_json(input, "the input") {
        return cx.after(&here, Err(failure));
    }
    let response = cx
        .raw_call(Method::POST, &format!("functions/{}/invoke", seg(&name)), Send::Text("application/json", input))
        .await;
    let status = response.status();
    let invocation =
        response.headers().get("x-switchyard-invocation-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = crate::api::read_limited(response.into_body()).await.unwrap_or_default();
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(2000)]).into_owned();
    match invocation {
        Some(id) => {
            // A synchronous invocation's record is written just after its answer: wait for it
            // (briefly) so its page has it; failing that, the output is shown here.
            if !record_written(&cx, &id).await {
                let notice = format!("Invoked ({status}), as {id}: {}", shown.chars().take(400).collect::<String>());
                return cx.after(&here, Ok(notice));
            }
            let to = cx.path(&format!("invocations/{}", seg(&id)));
            let notice = if status.is_success() {
                "Invoked: its output is in the record below.".to_owned()
            } else {
                format!("The invocation failed ({status}): {}", shown.chars().take(200).collect::<String>())
            };
            cx.after(&to, Ok(notice))
        }
        None => cx.after(&here, Err(crate::api::ApiFailure::from_body(status, &bytes))),
    }
}

/// Whether an invocation's record can be read, waiting up to two seconds for it.
async fn record_written(cx: &Ctx, id: &str) -> bool {
    for _ in 0..40 {
        match cx.get(&format!("invocations/{}", seg(id))).await {
            Ok(_) => return true,
            Err(failure) if failure.code == "invocation_not_found" => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(_) => return false,
        }
    }
    false
}

/// One invocation: input, output, error, logs.
pub async fn invocation(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, id)): Path<(String, String)>,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let record = match cx.get(&format!("invocations/{}", seg(&id))).await {
        Ok(r) => r,
        Err(failure) => return cx.fail("functions", &failure),
    };
    let function = text(&record, "function").to_owned();
    let body = html! {
        p.crumbs { a href=(cx.path("functions")) { "Functions" } " / "
            a href=(cx.path(&format!("functions/{}", seg(&function)))) { (function) } " / " code { (id) } }
        h1 { "Invocation " code { (id) } " " (badge(text(&record, "status"))) }
        (flash(cx.session()))
        @if !record["error"].is_null() { div.failure role="alert" { strong { "Error" } (json_block(&record["error"])) } }
        @if let Some(logs) = record["logs"].as_array().filter(|l| !l.is_empty()) {
            h2 { "Logs" }
            pre.logs { @for line in logs { (json_short(line, 10_000)) "\n" } }
        } @else if let Some(logs) = record["logs"].as_str() {
            h2 { "Logs" } pre.logs { (logs) }
        }
        h2 { "Record" }
        (json_block(&record))
    };
    cx.page("functions", &format!("Invocation {id}"), body)
}
