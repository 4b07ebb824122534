//! The live event log: the space's watch stream, filtered by address pattern and kind, shown as
//! it comes (the script reads the stream with `fetch` and resumes after a dropped connection
//! from the last record it saw, with `Last-Event-ID`).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::html;

use super::{Ctx, Params, param};
use crate::ConsoleState;
use crate::api::{Send, query, seg};
use crate::session::Session;

/// The live log page.
pub async fn page(
    State(state): State<ConsoleState>,
    session: Session,
    Path(space): Path<String>,
    Query(q): Params,
) -> Response {
    let cx = Ctx::new(state, session, space);
    let filters: Vec<(&str, &str)> = ["address", "kind"].iter().map(|n| (*n, param(&q, n))).collect();
    let stream = format!("{}{}", cx.path("live/stream"), query(filters.iter().copied()));
    let body = html! {
        h1 { "Live log" }
        form.filters method="get" action=(cx.path("live")) {
            label { "Address " input name="address" value=(param(&q, "address")) placeholder=(format!("{0}:orders:* or {0}:payments", cx.space())); }
            label { "Kind " input name="kind" value=(param(&q, "kind")) placeholder="instance.transitioned"; }
            button type="submit" { "Follow" }
        }
        p.hint { "Records appear as they are written; the newest is at the top (at most 500 are kept on the page)." }
        p #live-state.muted aria-live="polite" { "connecting…" }
        ol #live.timeline data-stream=(stream) data-space=(cx.space()) {}
    };
    cx.page("live", "Live log", body)
}

/// The watch stream, passed on from the API (same filters, same resume).
pub async fn stream(
    State(state): State<ConsoleState>,
    session: Session,
    Path(space): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let path = format!(
        "/v1/spaces/{}/watch{}",
        seg(&space),
        query([("address", param(&q, "address")), ("kind", param(&q, "kind"))])
    );
    state.api.raw_with(&session.token, axum::http::Method::GET, &path, Send::Empty, last).await
}
