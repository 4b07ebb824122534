//! Subscriptions and their dead letters, topics (publish, follow), and KV buckets (keys,
//! values, revisions).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::html;
use serde_json::{Value, json};

use super::{Ctx, Params, flash, param, table, text};
use crate::ConsoleState;
use crate::api::{query, seg};
use crate::forms::Form;
use crate::layout::{self, json_block, json_short, time};
use crate::session::Session;

/// The durable subscriptions of a space.
pub async fn subscriptions(State(state): State<ConsoleState>, session: Session, Path(space): Path<String>) -> Response {
    let cx = Ctx::new(state, session, space);
    let subs = match cx.list("subscriptions", "subscriptions", "subscriptions").await {
        Ok(rows) => rows,
        Err(page) => return page,
    };
    let body = html! {
        h1 { "Subscriptions" }
        (flash(cx.session()))
        (table(&subs, &[
            ("Subscription", &|s| html! { a href=(cx.path(&format!("subscriptions/{}", seg(text(s, "name"))))) { (text(s, "name")) } }),
            ("Address", &|s| html! { code { (json_short(&s["address"], 40)) } }),
            ("Pending", &|s| html! { (s["pending"]) }),
            ("Leased", &|s| html! { (s["leased"]) }),
            ("Dead letters", &|s| { let n = s["dead_letters"].as_u64().unwrap_or(0); html! { @if n > 0 { strong.err { (n) } } @else { "0" } } }),
        ]))
    };
    cx.page("subscriptions", "Subscriptions", body)
}

/// A subscription: its settings and its dead letters.
pub async fn subscription(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, name)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let base = format!("subscriptions/{}", seg(&name));
    let sub = match cx.get(&base).await {
        Ok(s) => s,
        Err(failure) => return cx.fail("subscriptions", &failure),
    };
    let letters =
        cx.get(&format!("{base}/dead-letters{}", query([("after", param(&q, "after")), ("limit", "100")]))).await;
    let rows = letters.as_ref().ok().and_then(|l| l["dead_letters"].as_array().cloned()).unwrap_or_default();
    let here = cx.path(&base);
    let body = html! {
        p.crumbs { a href=(cx.path("subscriptions")) { "Subscriptions" } " / " (name) }
        h1 { "Subscription " (name) }
        (flash(cx.session()))
        details { summary { "Settings and counts" } (json_block(&sub)) }
        h2 { "Dead letters" }
        @if let Err(failure) = &letters { (layout::failure_panel(failure)) }
        @if rows.is_empty() { p.empty { "No dead letters." } } @else {
            form method="post" action=(format!("{here}/selected")) {
                (layout::csrf(cx.session()))
                div.table-wrap { table {
                    thead { tr {
                        th scope="col" { input type="checkbox" data-select-all="seq" aria-label="Select all"; }
                        th scope="col" { "Seq" } th scope="col" { "Address" } th scope="col" { "Deliveries" } th scope="col" { "Dead since" } th scope="col" { "Record" }
                    } }
                    tbody { @for d in &rows { tr {
                        td { input type="checkbox" name="seq" value=(d["seq"]) aria-label=(format!("Select {}", d["seq"])); }
                        td { (d["seq"]) }
                        td { code { (json_short(&d["record"]["address"], 50)) } }
                        td { (d["deliveries"]) }
                        td { (time(&d["dead_at"])) }
                        td { details { summary { (json_short(&d["record"]["payload"], 40)) } (json_block(d)) } }
                    } } }
                } }
                div.actions {
                    button type="submit" name="op" value="redrive" { "Re-drive selected" }
                    button type="submit" name="op" value="discard" data-confirm="Discard the selected dead letters?" { "Discard selected" }
                }
            }
            @if let Some(next) = letters.as_ref().ok().and_then(|l| l["next_cursor"].as_u64()) {
                p.pager { a rel="next" href=(format!("{here}{}", query([("after", next.to_string().as_str())]))) { "Next page →" } }
            }
            div.actions {
                (layout::action_button(cx.session(), &format!("{here}/redrive-all"), "Re-drive all dead letters", None))
                (layout::action_button(cx.session(), &format!("{here}/discard-all"), "Discard all", Some("Discard every dead letter of this subscription?")))
            }
        }
    };
    cx.page("subscriptions", &format!("Subscription {name}"), body)
}

/// Re-drives or discards dead letters (the selected ones, or all).
pub async fn dead_letter_act(
    State(state): State<ConsoleState>,
    Path((space, name, action)): Path<(String, String, String)>,
    form: Form,
) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let base = format!("subscriptions/{}", seg(&name));
    let here = cx.path(&base);
    let (op, body) = match action.as_str() {
        "redrive-all" => ("redrive", json!({})),
        "discard-all" => ("discard", json!({})),
        "selected" => {
            let seqs: Vec<u64> = form.all("seq").iter().filter_map(|s| s.parse().ok()).collect();
            if seqs.is_empty() {
                return cx.after(&here, Ok("Nothing was selected.".to_owned()));
            }
            let op = if form.text("op") == "discard" { "discard" } else { "redrive" };
            (op, json!({ "seqs": seqs }))
        }
        _ => return crate::session::refused(axum::http::StatusCode::NOT_FOUND, "No such action."),
    };
    let path =
        if op == "redrive" { format!("{base}/dead-letters/redrive") } else { format!("{base}/dead-letters/discard") };
    let outcome = cx.post(&path, &body).await.map(|a| match op {
        "redrive" => format!("Re-drove {} dead letters.", a["redriven"]),
        _ => format!("Discarded {} dead letters.", a["discarded"]),
    });
    cx.after(&here, outcome)
}

/// Topics: publish a message, follow a topic in the live log.
pub async fn topics(
    State(state): State<ConsoleState>,
    session: Session,
    Path(space): Path<String>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let topic = param(&q, "topic");
    let body = html! {
        h1 { "Topics" }
        (flash(cx.session()))
        p { "A topic exists by being published to. Follow one in the "
            a href=(live_link(&cx, topic)) { "live log" } "." }
        h2 { "Publish a message" }
        form.stack method="post" action=(cx.path("topics")) {
            (layout::csrf(cx.session()))
            label { "Topic " input name="topic" required value=(topic) pattern="[a-z0-9][a-z0-9_.-]*"; }
            label { "Key (optional) " input name="key"; }
            label { "Message (JSON) " textarea name="payload" rows="4" required placeholder="{\"order\": 42}" {} }
            button type="submit" { "Publish" }
        }
    };
    cx.page("topics", "Topics", body)
}

/// The live log of one topic (its address is `space:topic`), or of every topic's messages.
fn live_link(cx: &Ctx, topic: &str) -> String {
    if topic.is_empty() {
        format!("{}{}", cx.path("live"), query([("kind", "topic.message")]))
    } else {
        format!("{}{}", cx.path("live"), query([("address", format!("{}:{topic}", cx.space()).as_str())]))
    }
}

/// Publishes a message.
pub async fn publish(State(state): State<ConsoleState>, Path(space): Path<String>, form: Form) -> Response {
    let cx = Ctx::new(state, form.session.clone(), space);
    let topic = form.text("topic");
    let back = format!("{}{}", cx.path("topics"), query([("topic", topic)]));
    let payload = match super::typed_json(form.text("payload"), "the message") {
        Ok(p) => p.unwrap_or(Value::Null),
        Err(failure) => return cx.after(&back, Err(failure)),
    };
    let mut body = json!({ "payload": payload });
    if !form.text("key").is_empty() {
        body["key"] = json!(form.text("key"));
    }
    let outcome = cx
        .post(&format!("topics/{}/messages", seg(topic)), &body)
        .await
        .map(|a| format!("Published as seq {}.", a["seq"]));
    cx.after(&back, outcome)
}

/// The KV buckets of a space.
pub async fn buckets(State(state): State<ConsoleState>, session: Session, Path(space): Path<String>) -> Response {
    let cx = Ctx::new(state, session, space);
    let rows = match cx.list("kv", "kv", "buckets").await {
        Ok(rows) => rows,
        Err(page) => return page,
    };
    let body = html! {
        h1 { "KV buckets" }
        (flash(cx.session()))
        (table(&rows, &[
            ("Bucket", &|b| html! { a href=(cx.path(&format!("kv/{}", seg(text(b, "name"))))) { (text(b, "name")) } }),
            ("History kept", &|b| html! { (b["history"]) }),
            ("Created", &|b| time(&b["created_at"])),
        ]))
    };
    cx.page("kv", "KV buckets", body)
}

/// A bucket's keys, by prefix, a page at a time.
pub async fn bucket(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, bucket)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let base = format!("kv/{}", seg(&bucket));
    let filters: Vec<(&str, &str)> = ["prefix", "after"].iter().map(|n| (*n, param(&q, n))).collect();
    let answer = cx.get(&format!("{base}/keys{}", query(filters.iter().copied().chain([("limit", "100")])))).await;
    let keys = answer.as_ref().ok().and_then(|a| a["keys"].as_array().cloned()).unwrap_or_default();
    let here = cx.path(&base);
    let entry = |k: &Value| format!("{here}/entry{}", query([("key", text(k, "key"))]));
    let body = html! {
        p.crumbs { a href=(cx.path("kv")) { "KV" } " / " (bucket) }
        h1 { "Bucket " (bucket) }
        form.filters method="get" action=(here) {
            label { "Prefix " input name="prefix" value=(param(&q, "prefix")); }
            button type="submit" { "Filter" }
        }
        @if let Err(failure) = &answer { (layout::failure_panel(failure)) }
        (table(&keys, &[
            ("Key", &|k| html! { a href=(entry(k)) { code { (text(k, "key")) } } }),
            ("Revision", &|k| html! { (k["revision"]) }),
            ("Updated", &|k| time(&k["updated_at"])),
        ]))
        @if let Some(next) = answer.as_ref().ok().and_then(|a| a["next_after"].as_str().or(a["next_cursor"].as_str())) {
            p.pager { a rel="next" href=(format!("{here}{}", query([("prefix", param(&q, "prefix")), ("after", next)]))) { "Next page →" } }
        }
    };
    cx.page("kv", &format!("Bucket {bucket}"), body)
}

/// A key's current value as the API answers it (its bytes, not JSON): its content type, its
/// revision and its text (base64 when it is not UTF-8).
async fn read_value(cx: &Ctx, path: &str) -> Result<(String, String, String), crate::api::ApiFailure> {
    use base64::Engine as _;
    let response = cx.raw_call(axum::http::Method::GET, path, crate::api::Send::Empty).await;
    let status = response.status();
    // Owned before the body is read: a borrow of the response cannot live across an await.
    let (content_type, revision) = {
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        (header("content-type"), header("x-switchyard-revision"))
    };
    let bytes = crate::api::read_limited(response.into_body()).await?;
    if !status.is_success() {
        return Err(crate::api::ApiFailure::from_body(status, &bytes));
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => format!("(not UTF-8; base64) {}", base64::engine::general_purpose::STANDARD.encode(&bytes)),
    };
    Ok((content_type, revision, text))
}

/// A key: its value and its revisions.
pub async fn entry(
    State(state): State<ConsoleState>,
    session: Session,
    Path((space, bucket)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    // The key as given: a key may begin or end with spaces.
    let key = q.get("key").map_or("", String::as_str);
    let key_path: Vec<String> = key.split('/').map(seg).collect();
    let key_path = key_path.join("/");
    let base = format!("kv/{}", seg(&bucket));
    let value = read_value(&cx, &format!("{base}/keys/{key_path}")).await;
    let history = cx.get(&format!("{base}/history/{key_path}{}", query([("limit", "100")]))).await;
    let revisions = history
        .as_ref()
        .ok()
        .and_then(|h| h["history"].as_array().or(h["revisions"].as_array()).cloned())
        .unwrap_or_default();
    let body = html! {
        p.crumbs { a href=(cx.path("kv")) { "KV" } " / " a href=(cx.path(&base)) { (bucket) } " / " code { (key) } }
        h1 { "Key " code { (key) } }
        @match &value {
            Ok((content_type, revision, text)) => {
                p.muted { "revision " (revision) " · " code { (content_type) } }
                pre.json { (text) }
            },
            Err(failure) => { (layout::failure_panel(failure)) },
        }
        h2 { "Revisions" }
        @if let Err(failure) = &history { (layout::failure_panel(failure)) }
        (table(&revisions, &[
            ("Revision", &|r| html! { (r["revision"]) }),
            ("Operation", &|r| html! { (text(r, "operation")) }),
            ("At", &|r| time(&r["updated_at"])),
            ("Value", &|r| html! { details { summary { (json_short(if r["value"].is_null() { &r["value_base64"] } else { &r["value"] }, 60)) } (json_block(r)) } }),
        ]))
    };
    cx.page("kv", &format!("Key {key}"), body)
}
