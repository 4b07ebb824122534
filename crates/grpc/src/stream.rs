//! `ApplyEvents`: many events in flight on one stream, each answered once, in order per instance.
//!
//! One task per stream reads the client's events and runs them: events to an instance that has
//! one running wait in that instance's queue and start, in arrival order, when it is answered;
//! events to other instances run at once, concurrently (the store's group commit makes one
//! fsync of many of them). At most [`MAX_HELD_EVENTS`] are running or queued per stream, and
//! [`MAX_NODE_HELD_EVENTS`] across every stream of the node (a permit each, taken before the
//! event is read); past either the task stops reading, and HTTP/2 flow control holds the client
//! back. So what a node holds in memory for streams is bounded whatever the clients send.
//!
//! Invariants:
//! - Every event read is answered exactly once: with its transition once durable, or with its
//!   refusal (a bad message, a space the token is not granted, the engine's error).
//! - An event is started only after every earlier event to its instance was answered.
//! - When the client's side ends (half-close, or a broken stream) or the node starts shutting
//!   down, no more events are read; those already read are still run and answered, then the
//!   stream ends (with `unavailable` at shutdown, so the client knows to resend the rest).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::stream::FuturesUnordered;
use futures_util::{Stream, StreamExt};
use switchyard_api::metrics::StreamEventLabels;
use switchyard_api::{ApiError, AppState, ErrorCode};
use switchyard_engine::{Engine, Principal, parse_space};
use switchyard_model::TransitionApplied;
use switchyard_proto::v1;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Status, Streaming};

use crate::convert::{self, EventRequest};
use crate::services::event_answer;

/// Events one stream may have running or queued; past it the server stops reading that stream.
pub const MAX_HELD_EVENTS: usize = 16_384;

/// Events every stream of the node together may have running or queued.
pub const MAX_NODE_HELD_EVENTS: usize = 65_536;

/// Permits of events held by one stream, given back when answered or when the stream's task
/// ends (whatever way it ends).
struct Held {
    node: Arc<Semaphore>,
    count: usize,
}

impl Held {
    /// An event was admitted with `permit`.
    fn admit(&mut self, permit: OwnedSemaphorePermit) {
        permit.forget();
        self.count += 1;
    }

    /// An admitted event was answered.
    fn release(&mut self) {
        self.count -= 1;
        self.node.add_permits(1);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.node.add_permits(self.count);
    }
}

/// Answers buffered for a client that reads slowly, before the stream's task waits for it.
const ANSWER_BUFFER: usize = 1024;

type Running = Pin<Box<dyn Future<Output = (Arc<str>, u64, Result<(TransitionApplied, bool), ApiError>)> + Send>>;

/// Starts running the events of `inbound`; the answers are the returned stream.
pub fn apply_events(
    state: AppState,
    node: Arc<Semaphore>,
    principal: Arc<Principal>,
    inbound: Streaming<v1::ApplyEventsRequest>,
) -> Pin<Box<dyn Stream<Item = Result<v1::ApplyEventsResponse, Status>> + Send>> {
    let (tx, rx) = tokio::sync::mpsc::channel(ANSWER_BUFFER);
    tokio::spawn(drive(state, node, principal, inbound, tx));
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

/// One instance's events after the one running.
type Queues = HashMap<Arc<str>, VecDeque<(u64, EventRequest)>>;

async fn drive(
    state: AppState,
    node: Arc<Semaphore>,
    principal: Arc<Principal>,
    mut inbound: Streaming<v1::ApplyEventsRequest>,
    out: tokio::sync::mpsc::Sender<Result<v1::ApplyEventsResponse, Status>>,
) {
    let mut running: FuturesUnordered<Running> = FuturesUnordered::new();
    // An instance with an entry has an event running; its queue holds the ones after it.
    let mut queues: Queues = HashMap::new();
    let mut held = Held { node: node.clone(), count: 0 };
    // The node's permit for the next event to read, taken before reading it.
    let mut permit: Option<OwnedSemaphorePermit> = None;
    let mut reading = true;
    let mut shutting_down = false;
    let mut failure: Option<Status> = None;
    let ok_events = state.metrics.grpc_stream_events.get_or_create(&StreamEventLabels { code: "ok" }).clone();
    let shutdown = state.shutdown.clone();
    let mut stopping = std::pin::pin!(shutdown.stopping());
    loop {
        tokio::select! {
            // Answers first: they free room and unblock queued events.
            Some((instance, correlation_id, result)) = running.next(), if !running.is_empty() => {
                held.release();
                if !answer(&state, &ok_events, &out, correlation_id, result).await {
                    return; // The client is gone; what runs is dropped with this task.
                }
                if let Some(queue) = queues.get_mut(&instance) {
                    match queue.pop_front() {
                        Some((next_id, next)) => running.push(run(&state, instance, next_id, next)),
                        None => {
                            queues.remove(&instance);
                        }
                    }
                }
            }
            taken = node.clone().acquire_owned(), if reading && permit.is_none() && held.count < MAX_HELD_EVENTS => {
                // The semaphore is never closed.
                permit = taken.ok();
            }
            message = inbound.message(), if reading && permit.is_some() => match message {
                Ok(Some(message)) => {
                    let correlation_id = message.correlation_id;
                    match admit(&state.engine, &principal, message) {
                        Ok(event) => {
                            if let Some(permit) = permit.take() {
                                held.admit(permit);
                            }
                            let instance: Arc<str> =
                                format!("{}\u{0}{}\u{0}{}", event.space, event.machine, event.instance).into();
                            match queues.get_mut(&instance) {
                                Some(queue) => queue.push_back((correlation_id, event)),
                                None => {
                                    queues.insert(instance.clone(), VecDeque::new());
                                    running.push(run(&state, instance, correlation_id, event));
                                }
                            }
                        }
                        Err(e) => {
                            if !answer(&state, &ok_events, &out, correlation_id, Err(e)).await {
                                return;
                            }
                        }
                    }
                }
                Ok(None) => reading = false,
                Err(status) => {
                    // A broken client stream (reset, a message that does not decode): run
                    // what was read, answer it, then end with the reason.
                    tracing::debug!(error = %status, "an ApplyEvents stream's client side failed");
                    reading = false;
                    failure = Some(status);
                }
            },
            () = &mut stopping, if reading && !shutting_down => {
                reading = false;
                shutting_down = true;
            }
            else => break,
        }
    }
    if shutting_down {
        let e = ApiError::new(
            ErrorCode::Unavailable,
            "the server is shutting down: every event read before this was answered; send the rest again",
        );
        failure = Some(crate::status(e));
    }
    if let Some(status) = failure {
        let _ = out.send(Err(status)).await;
    }
}

/// Decodes an event and checks the caller may write its space.
fn admit(engine: &Engine, principal: &Principal, message: v1::ApplyEventsRequest) -> Result<EventRequest, ApiError> {
    let event =
        message.event.ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "each ApplyEventsRequest needs an event"))?;
    let event = convert::event(event)?;
    parse_space(&event.space)?;
    let segments = [event.space.as_str(), "machines", event.machine.as_str(), event.instance.as_str()];
    principal.require(switchyard_model::permissions::EVENTS_SEND, &segments)?;
    // Each event of the stream is a request of its space, and an event of it.
    engine.admit_request(&event.space)?;
    engine.admit_events(&event.space, 1)?;
    Ok(event)
}

/// Applies one event.
fn run(state: &AppState, instance: Arc<str>, correlation_id: u64, event: EventRequest) -> Running {
    let engine = state.engine.clone();
    Box::pin(async move {
        let result = engine.apply_event(&event.space, &event.machine, &event.instance, event.send).await;
        (instance, correlation_id, result.map_err(ApiError::from))
    })
}

/// Sends an event's answer; `false` when the client is gone.
async fn answer(
    state: &AppState,
    ok_events: &prometheus_client::metrics::counter::Counter,
    out: &tokio::sync::mpsc::Sender<Result<v1::ApplyEventsResponse, Status>>,
    correlation_id: u64,
    result: Result<(TransitionApplied, bool), ApiError>,
) -> bool {
    match &result {
        Ok(_) => ok_events.inc(),
        Err(e) => state.metrics.grpc_stream_events.get_or_create(&StreamEventLabels { code: e.code.as_str() }).inc(),
    };
    out.send(Ok(event_answer(correlation_id, result))).await.is_ok()
}
