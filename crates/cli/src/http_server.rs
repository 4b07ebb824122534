//! The HTTP server: our own accept loop around hyper's connections, with the hygiene
//! `axum::serve` lacks (timeouts, a connection cap, JSON bodies on hyper's own error answers).
//! One port serves HTTP/1.1 (the JSON API) and HTTP/2 (gRPC, and the JSON API too): a
//! plain-text connection that opens with the HTTP/2 preface, or a TLS one that negotiated `h2`
//! by ALPN, is HTTP/2, and its requests go to gRPC when their content type is
//! `application/grpc…`, to the JSON API otherwise.
//!
//! Invariants:
//! - At most `max_connections` sockets are served at once, counted from accept until the socket
//!   closes: the permit lives in the IO object, so an upgraded WebSocket keeps holding it after
//!   hyper let go of the connection. Past the cap an accepted socket is answered 503
//!   `unavailable` once its request starts to arrive, and closed (all within `REFUSAL_TIME`);
//!   refusals under way are bounded too (`MAX_REFUSALS`), past that a socket is closed at once. Failing accepts (EMFILE and the like) back off instead of
//!   spinning; they never block the connections already served (each runs in its own task).
//! - A connection waiting for the first byte of a request is closed after `idle_timeout`; once
//!   that byte arrived, the whole head must arrive within `header_read_timeout`. A request in
//!   progress (its body, the handler, a streaming response, an upgraded socket) has no
//!   connection deadline: a watcher streams for as long as it likes.
//! - A request body must arrive within `body_read_timeout` of the route starting to read it;
//!   otherwise reading fails and the answer is 408 `request_timeout`, then the connection closes.
//! - Every error answer carries the JSON error body, including those hyper writes itself when a
//!   request head does not parse (see [`rewrite_parse_error`]).
//! - Shutdown: stop accepting; idle connections close; in-flight requests finish; event streams
//!   end at an event boundary; whatever is still open after `shutdown_grace` is closed. Upgraded
//!   WebSockets are no longer this module's: they close themselves with code 1001 when shutdown
//!   begins (`switchyard_api::Shutdown`), and `serve` waits briefly for them.
//! - An HTTP/2 connection has no idle or head deadline (a gRPC channel stays open between
//!   calls): it is kept while its peer answers keep-alive pings, sent after `idle_timeout` of
//!   silence, and closed when one goes unanswered for `header_read_timeout`. Request bodies
//!   keep their `body_read_timeout` on both protocols' JSON routes; a gRPC stream has none.
//!   The connection cap counts HTTP/2 connections like any other.
//! - With TLS (`tls` set), every socket, a refused one included, first completes a TLS handshake
//!   (ALPN `h2` and `http/1.1`), which must be over within `header_read_timeout` of the accept, like a
//!   request head: a client that opens TCP and sends no hello is closed then. The permit is held
//!   from accept, through the handshake, for the connection's life; the idle, head and body
//!   clocks start once the handshake is done and count decrypted bytes. A failed handshake (plain
//!   HTTP sent to the port, an unknown CA on the client's side) closes the socket without an HTTP
//!   answer and is logged at DEBUG only: anyone can cause it.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use futures_util::future::BoxFuture;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use switchyard_api::{ApiError, ErrorCode, code_status};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// Refusals (503 written, then a short drain) under way at once; past it an extra socket is
/// closed without an answer, so that a flood cannot turn refusals into the new exhaustion.
pub const MAX_REFUSALS: usize = 64;

/// Open files kept for everything but client connections (store, function cache, outgoing
/// HTTP of functions, PostgreSQL pool, logs) when fitting the cap under the open-files limit.
pub const FD_RESERVE: usize = 512;

/// Header fields a request may carry (hyper's default, set explicitly so the 431 message can
/// name it).
const MAX_HEADERS: usize = 100;

/// Bytes a request head may take before hyper answers 431 (hyper's default read buffer cap,
/// set explicitly so the message can name it).
const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;

/// The longest request target hyper accepts before answering 414 (a constant inside hyper).
const MAX_URI_BYTES: usize = u16::MAX as usize - 1;

/// The client connection preface of HTTP/2 (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Streams one HTTP/2 connection may have open at once (each an event stream, a watch or a
/// call).
const MAX_H2_STREAMS: u32 = 1024;

/// How long a refused socket may take to receive its 503 and close.
const REFUSAL_TIME: Duration = Duration::from_secs(2);

/// The first pause after a failing accept; doubled on each further failure up to
/// `ACCEPT_BACKOFF_MAX`.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);

/// The longest pause between failing accepts.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Connection limits and timeouts of the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// How long a request head may take once its first byte arrived.
    pub header_read_timeout: Duration,
    /// How long a connection may wait for the first byte of its next request.
    pub idle_timeout: Duration,
    /// How long a request body may take to arrive once the route reads it.
    pub body_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Serves HTTPS with this configuration instead of plain HTTP.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

/// Serves `app` on `listener` until `shutdown` resolves, then shuts down as the module
/// documentation says.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    grpc: tonic::service::Routes,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let tls = config.tls.clone().map(TlsAcceptor::from);
    let config = Arc::new(config);
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let refusal: Bytes = refusal_response(config.max_connections).into();
    let (stop_tx, stop_rx) = watch::channel(false);
    let app = TowerToHyperService::new(app);
    let grpc = TowerToHyperService::new(grpc);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    let mut backoff = ACCEPT_BACKOFF_MIN;
    let mut failed_accepts: u64 = 0;
    loop {
        // Reap finished connection tasks so the set holds only live ones.
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok((tcp, peer)) => (tcp, peer),
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                // Out of files or memory: the listener stays readable, so accepting again at
                // once would spin. Back off; served connections run in their own tasks.
                if failed_accepts == 0 {
                    tracing::warn!(error = %e, "cannot accept connections; backing off until it works again");
                }
                failed_accepts += 1;
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        if failed_accepts > 0 {
            tracing::warn!(failed_accepts, "accepting connections again");
            failed_accepts = 0;
            backoff = ACCEPT_BACKOFF_MIN;
        }
        // Small request/response pairs: Nagle's algorithm would only add latency.
        let _ = tcp.set_nodelay(true);
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let services = Services { app: app.clone(), grpc: grpc.clone() };
                let (config, stop) = (config.clone(), stop_rx.clone());
                connections.spawn(serve_connection(tcp, peer, permit, services, config, stop, tls.clone()));
            }
            Err(_) => refuse(tcp, &refusals, refusal.clone(), tls.clone()),
        }
    }
    // Stop accepting: from here the kernel refuses new connections.
    drop(listener);
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(config.shutdown_grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            grace = %humantime::format_duration(config.shutdown_grace),
            "shutdown grace elapsed: closing the connections still open"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Whether an accept error concerns only the connection being accepted (accept again at once).
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// The 503 a connection past the cap gets, written straight to its socket.
fn refusal_response(limit: usize) -> Vec<u8> {
    let body = json!({ "error": {
        "code": ErrorCode::Unavailable.as_str(),
        "message": format!("the server has too many connections open (limit {limit}); try again shortly"),
        "details": { "limit": limit },
    }})
    .to_string();
    let status = code_status(ErrorCode::Unavailable);
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}

/// Answers a socket past the cap with the 503 (after a TLS handshake, with TLS), then closes it.
fn refuse(tcp: TcpStream, refusals: &Arc<Semaphore>, response: Bytes, tls: Option<TlsAcceptor>) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return; // Dropping the socket closes it.
    };
    tokio::spawn(async move {
        let _permit = permit;
        // The handshake counts against the same bound as the answer.
        let _ = tokio::time::timeout(REFUSAL_TIME, async {
            match tls {
                None => write_refusal(tcp, &response).await,
                Some(acceptor) => write_refusal(acceptor.accept(tcp).await?, &response).await,
            }
        })
        .await;
    });
}

/// Once the client started its request, writes `response` to `socket`, closes its sending side
/// and drains what the client sent.
async fn write_refusal<S: AsyncRead + AsyncWrite + Unpin>(mut socket: S, response: &[u8]) -> io::Result<()> {
    let mut sink = [0u8; 4096];
    // An answer that arrives before the request is, to an HTTP client, a stray message on an
    // idle connection rather than the answer to its request: over TLS, where the server can
    // write before the client finished its handshake, reqwest then fails with "unexpected
    // message". So wait for the request's first bytes.
    if socket.read(&mut sink).await? == 0 {
        return Ok(());
    }
    socket.write_all(response).await?;
    socket.shutdown().await?;
    // Read what the client sent before closing: closing with unread bytes sends a reset, which
    // can make the client lose the answer.
    let mut drained = 0;
    while drained < 64 * 1024 {
        match socket.read(&mut sink).await? {
            0 => break,
            n => drained += n,
        }
    }
    Ok(())
}

/// What a connection serves: the JSON API and gRPC.
#[derive(Clone)]
struct Services {
    app: TowerToHyperService<Router>,
    grpc: TowerToHyperService<tonic::service::Routes>,
}

/// Serves one connection (after its TLS handshake, with TLS), as HTTP/2 or HTTP/1.1.
async fn serve_connection(
    tcp: TcpStream,
    peer: std::net::SocketAddr,
    permit: OwnedSemaphorePermit,
    services: Services,
    config: Arc<ServerConfig>,
    mut stop: watch::Receiver<bool>,
    tls: Option<TlsAcceptor>,
) {
    let Some(acceptor) = tls else {
        // Waiting for the first bytes is waiting for the first request: the idle deadline.
        let sniffed = tokio::select! {
            sniffed = tokio::time::timeout(config.idle_timeout, opens_with_h2_preface(&tcp, config.header_read_timeout)) => sniffed,
            _ = stop.wait_for(|stopped| *stopped) => return,
        };
        return match sniffed {
            Ok(Ok(true)) => serve_h2(tcp, peer, None, permit, services, config, stop).await,
            Ok(Ok(false)) => serve_http(tcp, peer, None, permit, services.app, config, stop).await,
            Ok(Err(e)) => tracing::debug!(error = %e, "closing a connection before its first request"),
            Err(_) => tracing::debug!("closing a connection: idle timeout"),
        };
    };
    // Bounded like a request head: a real client sends its hello as soon as it connected.
    let handshake = tokio::time::timeout(config.header_read_timeout, acceptor.accept(tcp));
    let stream = tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed; closing the connection");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "closing a connection: the TLS handshake did not complete in time");
                return;
            }
        },
        _ = stop.wait_for(|stopped| *stopped) => return,
    };
    // A certificate the handshake verified (against --tls-client-ca) names who is calling.
    let client = stream.get_ref().1.peer_certificates().and_then(|chain| chain.first()).and_then(|cert| {
        let subject = crate::tls::subject_common_name(cert);
        if subject.is_none() {
            tracing::debug!(%peer, "a client certificate without a subject common name names no principal");
        }
        subject.map(|subject| switchyard_api::ClientCertificate { subject })
    });
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        serve_h2(stream, peer, client, permit, services, config, stop).await;
    } else {
        serve_http(stream, peer, client, permit, services.app, config, stop).await;
    }
}

/// Whether a plain-text connection opens with the HTTP/2 preface, read without consuming it:
/// decided at the first byte that differs from it, or once all of it arrived. `false` for a
/// connection closed before. Once its first bytes arrived, the rest must arrive within
/// `head_time`, like a request head.
async fn opens_with_h2_preface(tcp: &TcpStream, head_time: Duration) -> io::Result<bool> {
    let mut buf = [0u8; H2_PREFACE.len()];
    let mut first_bytes: Option<Instant> = None;
    loop {
        let n = tcp.peek(&mut buf).await?;
        if n == 0 {
            return Ok(false);
        }
        if buf[..n] != H2_PREFACE[..n] {
            return Ok(false);
        }
        if n == H2_PREFACE.len() {
            return Ok(true);
        }
        // Part of the preface arrived (a client writes it whole, so this is rare): peeking
        // again would answer at once with the same bytes, so wait a little for the rest.
        let since = *first_bytes.get_or_insert_with(Instant::now);
        if since.elapsed() > head_time {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the request head did not arrive in time"));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Serves HTTP/2 on one connection: gRPC calls to the gRPC services, the rest to the JSON API.
async fn serve_h2<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    socket: S,
    peer: std::net::SocketAddr,
    client: Option<switchyard_api::ClientCertificate>,
    permit: OwnedSemaphorePermit,
    services: Services,
    config: Arc<ServerConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let _permit = permit;
    let service = H2Service {
        grpc: services.grpc,
        client: client.clone(),
        http: ConnService {
            app: services.app,
            // Only the per-request parts of the service apply; the connection's phase is
            // HTTP/1.1's and is not read here.
            state: Arc::new(ConnState::new()),
            body_read_timeout: config.body_read_timeout,
            stop: stop.clone(),
            peer,
            client,
        },
    };
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(config.idle_timeout))
        .keep_alive_timeout(config.header_read_timeout)
        .max_concurrent_streams(MAX_H2_STREAMS)
        .max_header_list_size(u32::try_from(MAX_HEAD_BYTES).unwrap_or(u32::MAX))
        // Many small messages in flight on one stream: larger windows than the 64 KiB default
        // keep a busy stream from waiting on window updates.
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(4 << 20);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(socket), service));
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "HTTP/2 connection ended with an error");
                }
                return;
            }
            _ = stop.wait_for(|stopped| *stopped), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// One HTTP/2 connection's service: routes by content type.
#[derive(Clone)]
struct H2Service {
    grpc: TowerToHyperService<tonic::service::Routes>,
    /// The connection's verified client certificate, given to every gRPC call.
    client: Option<switchyard_api::ClientCertificate>,
    http: ConnService,
}

impl hyper::service::Service<Request<Incoming>> for H2Service {
    type Response = Response<axum::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let grpc = request
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc"));
        if grpc {
            if let Some(client) = &self.client {
                request.extensions_mut().insert(client.clone());
            }
            let answer = hyper::service::Service::call(&self.grpc, request);
            Box::pin(async move {
                let response = answer.await.unwrap_or_else(|never| match never {});
                Ok(response.map(axum::body::Body::new))
            })
        } else {
            let answer = hyper::service::Service::call(&self.http, request);
            Box::pin(async move { Ok(answer.await?.map(axum::body::Body::new)) })
        }
    }
}

/// Serves HTTP/1.1 on one connection, closing it when its idle or head deadline passes.
async fn serve_http<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    socket: S,
    peer: std::net::SocketAddr,
    client: Option<switchyard_api::ClientCertificate>,
    permit: OwnedSemaphorePermit,
    app: TowerToHyperService<Router>,
    config: Arc<ServerConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let state = Arc::new(ConnState::new());
    let io = ConnIo { socket, state: state.clone(), pending: None, _permit: permit };
    let service = ConnService {
        app,
        state: state.clone(),
        body_read_timeout: config.body_read_timeout,
        stop: stop.clone(),
        peer,
        client,
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // Our own deadlines below tell an idle connection from a slow head; hyper's timer,
        // which runs from when it starts waiting for a head, is only a backstop for the sum.
        .header_read_timeout(config.idle_timeout.saturating_add(config.header_read_timeout))
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEAD_BYTES);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(io), service).with_upgrades());
    let mut stopping = false;
    loop {
        let deadline = state.deadline(&config);
        let expiry = async {
            match deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = expiry => {
                if let Some((at, why)) = state.deadline(&config)
                    && at <= Instant::now()
                {
                    tracing::debug!("closing a connection: {why}");
                    return; // Dropping the connection closes the socket.
                }
            }
            () = state.changed.notified() => {}
            _ = stop.wait_for(|stopped| *stopped), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Where a connection stands, as far as its deadlines are concerned.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for the first byte of a request, since then.
    Idle(Instant),
    /// A request head is arriving, since its first byte.
    Head(Instant),
    /// A request is being served (body, handler, response).
    Busy,
    /// The connection was upgraded (WebSocket): no HTTP any more.
    Upgraded,
}

/// A connection's phase, shared by its IO, its service and its task.
struct ConnState {
    phase: Mutex<Phase>,
    /// Woken on every change of phase, so the task can move its deadline.
    changed: Notify,
}

impl ConnState {
    fn new() -> ConnState {
        ConnState { phase: Mutex::new(Phase::Idle(Instant::now())), changed: Notify::new() }
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(&self, change: impl FnOnce(Phase) -> Option<Phase>) {
        let mut phase = self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(next) = change(*phase) {
            *phase = next;
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: an idle connection starts receiving a head.
    fn bytes_read(&self) {
        self.set(|phase| matches!(phase, Phase::Idle(_)).then(|| Phase::Head(Instant::now())));
    }

    /// A request head was parsed and handed to the service.
    fn begin_request(&self) {
        self.set(|phase| (!matches!(phase, Phase::Upgraded)).then_some(Phase::Busy));
    }

    /// The response was sent (or given up): wait for the next request.
    fn end_request(&self) {
        self.set(|phase| matches!(phase, Phase::Busy).then(|| Phase::Idle(Instant::now())));
    }

    fn upgraded(&self) {
        self.set(|_| Some(Phase::Upgraded));
    }

    /// When the connection is to be closed, and why; `None` while a request is served.
    fn deadline(&self, config: &ServerConfig) -> Option<(Instant, &'static str)> {
        match self.phase() {
            Phase::Idle(since) => Some((since + config.idle_timeout, "idle timeout")),
            Phase::Head(since) => Some((since + config.header_read_timeout, "the request head did not arrive in time")),
            Phase::Busy | Phase::Upgraded => None,
        }
    }

    /// Whether what hyper writes now can only be its own answer to an unparsable head: no
    /// request is being served, so no response of ours is under way.
    fn between_requests(&self) -> bool {
        matches!(self.phase(), Phase::Idle(_) | Phase::Head(_))
    }
}

/// The socket (TCP, or the TLS stream over it) as hyper sees it: notes when bytes arrive, holds
/// the connection's permit for as long as the socket lives (upgraded or not), and gives hyper's
/// own error answers a JSON body.
struct ConnIo<S> {
    socket: S,
    state: Arc<ConnState>,
    /// A rewritten answer still to be written, and how much of it was.
    pending: Option<(Vec<u8>, usize)>,
    _permit: OwnedSemaphorePermit,
}

impl<S: AsyncWrite + Unpin> ConnIo<S> {
    /// Writes out a rewritten answer before anything else.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.socket).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `buf` as hyper's own parse-error answer if it is one; returns whether it did.
    fn take_parse_error(&mut self, buf: &[u8]) -> bool {
        if !self.state.between_requests() {
            return false;
        }
        match rewrite_parse_error(buf) {
            Some(rewritten) => {
                self.pending = Some((rewritten, 0));
                true
            }
            None => false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ConnIo<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.socket).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.state.bytes_read();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ConnIo<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if self.take_parse_error(buf) {
            // Taken whole; flush and shutdown write it out.
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.socket).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next())
            && self.take_parse_error(only)
        {
            return Poll::Ready(Ok(only.len()));
        }
        Pin::new(&mut self.socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.socket).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.socket).poll_shutdown(cx)
    }
}

/// hyper's own answer to a request head it cannot parse (400, 414 or 431 with an empty body),
/// rewritten with the JSON error body; `None` for anything else.
///
/// hyper answers an unparsable head itself, from inside its parser, with no hook to shape the
/// answer. Two ways lead to a JSON body: parse every head ourselves before hyper does (a second
/// HTTP/1.1 parser that must track request framing to find each head on a keep-alive
/// connection, and agree with hyper's on every edge case), or recognise hyper's answer on its
/// way out. We do the latter: it is written only between requests (hyper parses a head only
/// once the previous exchange is over), as one complete head with `content-length: 0` and one
/// of these statuses, and the connection closes right after. Our routes never answer an error
/// without a body, and the check runs only while no request is being served, so no response of
/// ours can be mistaken for it.
fn rewrite_parse_error(buf: &[u8]) -> Option<Vec<u8>> {
    if !(buf.starts_with(b"HTTP/1.1 ") || buf.starts_with(b"HTTP/1.0 ")) || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let head = std::str::from_utf8(buf).ok()?;
    // Exactly one head: its blank line is the end of the buffer.
    if head.find("\r\n\r\n")? != head.len() - 4 {
        return None;
    }
    let mut lines = head[..head.len() - 4].split("\r\n");
    let status_line = lines.next()?;
    let (code, message, details) = match status_line.get(9..12)? {
        "400" => (
            ErrorCode::BadRequest,
            "the request is not valid HTTP/1.1: its request line or a header is malformed (for example a control character in a header)".to_string(),
            serde_json::Value::Null,
        ),
        "414" => (
            ErrorCode::UriTooLong,
            format!("the request target is longer than the limit of {MAX_URI_BYTES} bytes"),
            json!({ "limit": MAX_URI_BYTES }),
        ),
        "431" => (
            ErrorCode::HeadersTooLarge,
            format!(
                "the request head is too large: more than {MAX_HEADERS} header fields or more than {MAX_HEAD_BYTES} bytes"
            ),
            json!({ "max_headers": MAX_HEADERS, "max_bytes": MAX_HEAD_BYTES }),
        ),
        _ => return None,
    };
    let mut kept = Vec::new();
    let mut empty_body = false;
    for line in lines {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") {
            empty_body = value.trim() == "0";
        } else if !name.eq_ignore_ascii_case("connection") {
            kept.push(line);
        }
    }
    if !empty_body {
        return None;
    }
    let body = json!({ "error": { "code": code, "message": message, "details": details } }).to_string();
    let mut out = String::with_capacity(status_line.len() + body.len() + 160);
    out.push_str(status_line);
    out.push_str("\r\n");
    for line in kept {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    Some(out.into_bytes())
}

/// The API as one connection's service: marks the connection busy while a request is served,
/// bounds the time its body may take, and lets event streams end on shutdown.
#[derive(Clone)]
struct ConnService {
    app: TowerToHyperService<Router>,
    state: Arc<ConnState>,
    body_read_timeout: Duration,
    stop: watch::Receiver<bool>,
    /// The client's address, given to every request as axum's `ConnectInfo` (`/metrics`
    /// access tells loopback from the rest by it).
    peer: std::net::SocketAddr,
    /// The connection's verified client certificate, given to every request.
    client: Option<switchyard_api::ClientCertificate>,
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.state.begin_request();
        let timed_out = Arc::new(AtomicBool::new(false));
        let limit = self.body_read_timeout;
        let mut request = request.map(|body| axum::body::Body::new(TimedBody::new(body, limit, timed_out.clone())));
        request.extensions_mut().insert(axum::extract::ConnectInfo(self.peer));
        if let Some(client) = &self.client {
            request.extensions_mut().insert(client.clone());
        }
        let answer = hyper::service::Service::call(&self.app, request);
        let state = self.state.clone();
        let mut stop = self.stop.clone();
        Box::pin(async move {
            let mut response = answer.await?;
            // The route saw a failed read and answered with some error; the cause was the
            // clock, and the client deserves to know it.
            if timed_out.load(Ordering::Acquire)
                && (response.status().is_client_error() || response.status().is_server_error())
            {
                response = request_timeout(limit);
            }
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                state.upgraded();
            }
            let streaming = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|ct| ct.as_bytes().starts_with(b"text/event-stream"));
            let stop: Option<BoxFuture<'static, ()>> = streaming.then(|| {
                Box::pin(async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                }) as BoxFuture<'static, ()>
            });
            Ok(response.map(|body| TrackedBody { inner: body, state, stop, ended: false }))
        })
    }
}

/// The answer to a request whose body did not arrive in time.
fn request_timeout(limit: Duration) -> Response<axum::body::Body> {
    let mut response = ApiError::new(
        ErrorCode::RequestTimeout,
        format!("the request body did not arrive within {}", humantime::format_duration(limit)),
    )
    .with_details(json!({ "timeout_ms": u64::try_from(limit.as_millis()).unwrap_or(u64::MAX) }))
    .into_response();
    // The rest of the body may still be on its way: this connection cannot carry another request.
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The error a body read fails with once its time is up.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {}", humantime::format_duration(*.0))]
struct BodyReadTimeout(Duration);

/// A request body that fails once it took longer than its limit to arrive, counted from the
/// route's first read (a route may authorise before it reads).
struct TimedBody {
    inner: Incoming,
    limit: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    timed_out: Arc<AtomicBool>,
}

impl TimedBody {
    fn new(inner: Incoming, limit: Duration, timed_out: Arc<AtomicBool>) -> TimedBody {
        TimedBody { inner, limit, deadline: None, timed_out }
    }
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.timed_out.load(Ordering::Acquire) {
            return Poll::Ready(Some(Err(BodyReadTimeout(self.limit).into())));
        }
        let limit = self.limit;
        let deadline = self.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit))).as_mut();
        if deadline.poll(cx).is_ready() {
            self.timed_out.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(BodyReadTimeout(limit).into())));
        }
        Pin::new(&mut self.inner).poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells the connection when the response is over (so its idle clock
/// starts), and for an event stream, ends at the next event boundary on shutdown.
struct TrackedBody {
    inner: axum::body::Body,
    state: Arc<ConnState>,
    /// Resolves on shutdown; set for event streams only (other responses finish on their own).
    stop: Option<BoxFuture<'static, ()>>,
    ended: bool,
}

impl TrackedBody {
    fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            self.state.end_request();
        }
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        // Frames of an event stream are whole events, so ending between two is clean; a
        // client reconnects with Last-Event-ID.
        if let Some(stop) = self.stop.as_mut()
            && stop.as_mut().poll(cx).is_ready()
        {
            self.end();
            return Poll::Ready(None);
        }
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if frame.is_none() {
            self.end();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.ended { SizeHint::with_exact(0) } else { self.inner.size_hint() }
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        // hyper drops a body once it wrote it (or without polling it, for HEAD or an empty body).
        self.end();
    }
}

/// Raises the soft open-files limit to the hard one when `max_connections` needs more, and
/// returns the connection cap that fits under the limit in effect (logged either way).
pub fn fit_connection_cap(max_connections: usize) -> usize {
    let needed = max_connections.saturating_add(MAX_REFUSALS + FD_RESERVE);
    let Some((soft, hard)) = raise_open_files_limit(needed) else {
        return max_connections;
    };
    tracing::info!(soft, hard, max_connections, "open-files limit");
    if soft >= needed {
        return max_connections;
    }
    let cap = soft.saturating_sub(MAX_REFUSALS + FD_RESERVE).max(soft / 4).max(1);
    tracing::warn!(
        max_connections,
        needed,
        open_files_limit = soft,
        cap,
        "the open-files limit cannot fit --max-connections (raise the hard limit, e.g. LimitNOFILE or ulimit -Hn): serving at most {cap} connections"
    );
    cap
}

/// The soft and hard open-files limits after raising the soft one to the hard one if it is
/// below `needed`; `None` where there is no such limit (or it cannot be read).
#[cfg(unix)]
fn raise_open_files_limit(needed: usize) -> Option<(usize, usize)> {
    let as_usize =
        |v: libc::rlim_t| if v == libc::RLIM_INFINITY { usize::MAX } else { usize::try_from(v).unwrap_or(usize::MAX) };
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass and keeps no pointer to it.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        tracing::warn!(error = %io::Error::last_os_error(), "cannot read the open-files limit");
        return None;
    }
    let (soft, hard) = (as_usize(limit.rlim_cur), as_usize(limit.rlim_max));
    if soft >= needed || hard <= soft {
        return Some((soft, hard));
    }
    let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
    // SAFETY: setrlimit reads the struct we pass; raising the soft limit up to the hard one
    // needs no privilege.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        tracing::warn!(error = %io::Error::last_os_error(), soft, hard, "cannot raise the open-files limit");
        return Some((soft, hard));
    }
    Some((hard, hard))
}

/// Elsewhere there is no open-files limit to fit.
#[cfg(not(unix))]
fn raise_open_files_limit(_needed: usize) -> Option<(usize, usize)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_parse_error_answers_get_a_json_body() {
        let hyper = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 08:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(rewrite_parse_error(hyper).expect("rewritten")).expect("text");
        let (head, body) = out.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(head.contains("\r\ndate: Thu, 03 Dec 2026 08:00:00 GMT"));
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        assert!(head.contains("\r\nconnection: close"));
        let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(body["error"]["code"], "uri_too_long");
        for (status, code) in
            [("400 Bad Request", "bad_request"), ("431 Request Header Fields Too Large", "headers_too_large")]
        {
            let hyper = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
            let out = String::from_utf8(rewrite_parse_error(hyper.as_bytes()).expect("rewritten")).expect("text");
            assert!(out.contains(&format!("\"code\":\"{code}\"")), "{out}");
            assert_eq!(switchyard_api::status_of(code).as_u16(), status[..3].parse::<u16>().expect("a status"));
        }
    }

    #[test]
    fn anything_but_an_empty_parse_error_answer_passes_unchanged() {
        for bytes in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            b"HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"{\"error\":{}}",
            b"HTTP/1.1 400",
        ] {
            assert!(rewrite_parse_error(bytes).is_none(), "{}", String::from_utf8_lossy(bytes));
        }
    }
}
