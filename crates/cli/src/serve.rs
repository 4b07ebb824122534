//! `switchyard serve`: opens the store, starts the engine and the HTTP API.
//!
//! Start-up order matters: the store is opened and migrated, the admin token is bootstrapped,
//! and only then does the listener bind and print `listening on http://ADDR` (`https://ADDR`
//! with `--tls-cert`; tests and scripts wait for that line). The TLS files are read before
//! anything else, so a bad one stops the start-up before the store is touched. Shutdown on
//! SIGINT/SIGTERM: stop accepting, finish in-flight requests (event streams end at once,
//! WebSockets get a 1001 close frame; whatever is still open after `--shutdown-grace` is
//! closed), then shut the engine's supervisor down: its long-lived tasks stop and in-flight
//! work (asynchronous invocations) finishes within what is left of the same grace, counted from
//! the signal, or is aborted (logged at WARN; an aborted invocation stays pending and runs
//! again once its lease ends). Only then is the node removed from the cluster's list and the
//! store closed, so its writer flushes and nothing the supervisor started writes after it.
//! Connection limits and timeouts live in `http_server`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use switchyard_api::{ApiConfig, AppParts, AppState, HttpMetrics, Shutdown};
use switchyard_engine::{Engine, EngineConfig, FunctionsConfig};
use switchyard_runtime::{FunctionRuntime, RuntimeConfig};
use switchyard_store::postgres::{PgOptions, PgStore};
use switchyard_store::sqlite::{SqliteOptions, SqliteStore};
use switchyard_store::{Durability, Store, SystemClock};

use crate::http_server::{self, ServerConfig};

/// How long shutdown waits, after the HTTP connections are done, for WebSockets to send their
/// close frames.
const WEBSOCKET_CLOSE_TIME: Duration = Duration::from_secs(2);

/// Arguments of `switchyard serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: crate::serve_config::ConfigFileArgs,
    /// Log level: error, warn, info, debug or trace; debug and trace apply to Switchyard's own
    /// modules (its dependencies stay at info). RUST_LOG, when set, overrides it with tracing
    /// filter directives (e.g. RUST_LOG=info,switchyard_store=trace).
    #[arg(long, env = "SWITCHYARD_LOG_LEVEL", value_enum, default_value_t, value_name = "LEVEL")]
    pub log_level: crate::config::LogLevel,
    /// Directory holding the embedded store (unless --store names another) and the admin token.
    #[arg(long, env = "SWITCHYARD_DATA_DIR", default_value = "./switchyard-data")]
    pub data_dir: PathBuf,
    /// Store on PostgreSQL instead of the embedded SQLite file: postgres://USER[:PASSWORD]@HOST[:PORT]/DB.
    /// Several nodes given the same database serve as one.
    #[arg(long, env = "SWITCHYARD_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// The URL other nodes and clients reach this node at, as listed by /v1/cluster/nodes
    /// [default: http://<the address it listens on>, https:// with --tls-cert].
    #[arg(long, env = "SWITCHYARD_ADVERTISE", value_name = "URL")]
    pub advertise: Option<String>,
    /// Address to listen on (port 0 picks a free port): the HTTP/JSON API and, over HTTP/2, the
    /// gRPC API (docs/grpc.md) share it.
    #[arg(long, env = "SWITCHYARD_LISTEN", default_value = "127.0.0.1:7400")]
    pub listen: String,
    /// Serve HTTPS: PEM file with the server's certificate, then any intermediate CA
    /// certificates (needs --tls-key). TLS 1.2 and 1.3, ALPN h2 and http/1.1; the handshake must
    /// complete within --header-read-timeout of connecting. The files are read again when they
    /// change (checked every 2 s): new connections get the new certificate, without a restart.
    #[arg(long, env = "SWITCHYARD_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM file with the private key of --tls-cert's certificate: PKCS#8, PKCS#1 (RSA) or SEC1
    /// (EC) (needs --tls-cert).
    #[arg(long, env = "SWITCHYARD_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM file of the CA certificates client certificates must chain to (needs --tls-cert): a
    /// client may then present a certificate (the CLI's --client-cert), and a request without a
    /// token authenticates as the principal its subject's common name names (a principal's id,
    /// or a user's name). A certificate that does not verify fails the handshake; a client
    /// without one still connects and uses a token.
    #[arg(long, env = "SWITCHYARD_TLS_CLIENT_CA", value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// When a write is durable: `fsync` (before the reply), `batch:<ms>` (flushed every <ms>;
    /// survives a process crash, a power loss may lose the last interval) or `none`. Embedded
    /// store only: on PostgreSQL a write is acknowledged once the server committed it.
    #[arg(long, env = "SWITCHYARD_DURABILITY", default_value = "fsync")]
    pub durability: Durability,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "SWITCHYARD_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// The largest context an instance may have, in bytes of compact JSON (e.g. 1MiB, 256KiB):
    /// creating an instance with a larger one, or an event whose assignments would grow it
    /// past this, is refused with `context_too_large`.
    #[arg(long, env = "SWITCHYARD_MAX_CONTEXT_BYTES", default_value = "1MiB", value_parser = parse_bytes)]
    pub max_context_bytes: u64,
    /// Who may read /metrics: `auto` (without a token from a loopback address, with any valid
    /// token from elsewhere; behind a proxy on the same machine every request is local, so pick
    /// another), `public` (anyone), `token` (any valid token) or `admin` (an admin token granted
    /// every space).
    #[arg(long, env = "SWITCHYARD_METRICS_ACCESS", value_name = "MODE", default_value = "auto",
          value_parser = |s: &str| s.parse::<switchyard_api::MetricsAccess>())]
    pub metrics_access: switchyard_api::MetricsAccess,
    /// Deprecated: the same as --metrics-access public.
    #[arg(long, env = "SWITCHYARD_METRICS_PUBLIC", conflicts_with = "metrics_access")]
    pub metrics_public: bool,
    /// Do not serve the web console at /console (it is served by default; it signs in with a
    /// token and sees what that token may see).
    #[arg(long, env = "SWITCHYARD_NO_CONSOLE")]
    pub no_console: bool,
    /// How long a user's sign-in session lasts (e.g. 12h, 30m); it cannot be extended, only
    /// ended earlier (sign-out, password change, deletion).
    #[arg(long, env = "SWITCHYARD_SESSION_TTL", default_value = "12h", value_parser = parse_session_ttl)]
    pub session_ttl: Duration,
    /// How long idempotency keys are remembered (e.g. 24h, 30m).
    #[arg(long, env = "SWITCHYARD_IDEMPOTENCY_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub idempotency_retention: Duration,
    /// Log records older than this are trimmed (e.g. 7d, 12h), except those a durable
    /// subscription has not acked yet.
    #[arg(long, env = "SWITCHYARD_LOG_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub log_retention: Duration,
    /// The oldest log records are trimmed as long as the records left hold at least this many
    /// bytes of addresses and payloads, so the log keeps between this and one record more (e.g.
    /// 1GiB, 500MB; 0 for no limit), except those a durable subscription has not acked yet.
    #[arg(long, env = "SWITCHYARD_LOG_RETENTION_BYTES", default_value = "1GiB", value_parser = parse_bytes)]
    pub log_retention_bytes: u64,
    /// How often retention runs (log trimming, idempotency keys); KV TTLs are swept every
    /// second whatever this says.
    #[arg(long, env = "SWITCHYARD_MAINTENANCE_INTERVAL", default_value = "1m", value_parser = humantime::parse_duration)]
    pub maintenance_interval: Duration,
    /// How often this node measures what spaces with a quota on stored bytes or instances
    /// hold (a space over such a limit is refused writes from the next measurement on), counts
    /// the live nodes rates are shared among, and adds its usage meters to the store's.
    #[arg(long, env = "SWITCHYARD_QUOTA_INTERVAL", default_value = "10s", value_parser = parse_interval)]
    pub quota_interval: Duration,
    /// Log records kept in memory for watchers that fall behind (they catch up from the store
    /// beyond it).
    #[arg(long, env = "SWITCHYARD_WATCH_BUFFER", default_value_t = 4096)]
    pub watch_buffer: usize,
    /// How often, in milliseconds, the log is read for writes made through other nodes (local
    /// writes reach watchers at once).
    #[arg(long, env = "SWITCHYARD_WATCH_POLL_MS", default_value_t = 20)]
    pub watch_poll_ms: u64,
    /// How long invocation records of functions are kept (e.g. 7d, 12h).
    #[arg(long, env = "SWITCHYARD_INVOCATION_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub invocation_retention: Duration,
    /// Function invocations running at once on this node (more wait for a slot, at most until
    /// their timeout, then fail with function_capacity_exhausted).
    #[arg(long, env = "SWITCHYARD_FUNCTION_SLOTS", default_value_t = 256)]
    pub function_slots: u32,
    /// Function invocations one space may run at once on this node; a space may also reserve
    /// at most the same share (this / --function-slots) of --function-memory-budget, or
    /// --function-max-memory if that is more. Waiting invocations are served round-robin
    /// across spaces [default: a quarter of --function-slots, at least 1].
    #[arg(long, env = "SWITCHYARD_FUNCTION_SLOTS_PER_SPACE", value_name = "N")]
    pub function_slots_per_space: Option<u32>,
    /// The memory limits of the function invocations running at once on this node add up to
    /// at most this (e.g. 8GiB); an invocation that does not fit waits, at most until its
    /// timeout, then fails with function_capacity_exhausted, and a function whose memory limit
    /// is larger is refused at deploy [default: half of the smaller of the machine's physical
    /// memory (MemTotal in /proc/meminfo) and the cgroup limit (/sys/fs/cgroup/memory.max),
    /// read at start-up; 4GiB when neither can be read].
    #[arg(long, env = "SWITCHYARD_FUNCTION_MEMORY_BUDGET", value_name = "BYTES", value_parser = parse_bytes)]
    pub function_memory_budget: Option<u64>,
    /// The largest memory limit a function may be deployed with (e.g. 1GiB).
    #[arg(long, env = "SWITCHYARD_FUNCTION_MAX_MEMORY", default_value = "1GiB", value_parser = parse_bytes)]
    pub function_max_memory: u64,
    /// Let functions' outgoing HTTP reach loopback, private and link-local addresses (by
    /// default an allow-listed host that resolves to one is refused, so that a function cannot
    /// reach this machine's or its network's internal services).
    #[arg(long, env = "SWITCHYARD_FUNCTION_ALLOW_PRIVATE_NETWORKS")]
    pub function_allow_private_networks: bool,
    /// Jobs this node runs at once (HTTP calls, function invocations, timers, messages): the
    /// slots its scheduler leases due jobs into.
    #[arg(long, env = "SWITCHYARD_JOB_SLOTS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub job_slots: u32,
    /// Jobs of one space running at once, across every node sharing the store, so that one
    /// space's backlog cannot take every slot.
    #[arg(long, env = "SWITCHYARD_JOB_SPACE_LIMIT", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub job_space_limit: u32,
    /// How long a node holds a job it runs (HTTP call, asynchronous invocation, timer…) without
    /// renewing its lease (a live node renews every third of it): when a node dies, its jobs
    /// run again, as their next attempt, once this has passed (e.g. 30s).
    #[arg(long, env = "SWITCHYARD_JOB_LEASE", default_value = "30s", value_parser = parse_job_lease)]
    pub job_lease: Duration,
    /// How long succeeded and cancelled jobs are kept after they finished (e.g. 7d, 12h); dead
    /// ones stay until re-driven or deleted.
    #[arg(long, env = "SWITCHYARD_JOB_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub job_retention: Duration,
    /// Let HTTP jobs reach loopback, private and link-local addresses (by default a URL whose
    /// host is, or resolves to, one is refused, as for functions).
    #[arg(long, env = "SWITCHYARD_JOBS_ALLOW_PRIVATE_NETWORKS")]
    pub jobs_allow_private_networks: bool,
    /// Once the first byte of a request arrived, how long its whole head (request line and
    /// headers) may take (e.g. 10s). A real client sends a head in one packet; the bound closes
    /// connections that trickle header bytes to stay open (slowloris). With --tls-cert, the TLS
    /// handshake must also complete within this of connecting.
    #[arg(long, env = "SWITCHYARD_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_timeout)]
    pub header_read_timeout: Duration,
    /// How long a connection may wait for the first byte of its next request, fresh or kept
    /// alive, before it is closed (e.g. 60s). Long enough for clients that reuse connections
    /// between bursts, short enough that abandoned connections do not pile up.
    #[arg(long, env = "SWITCHYARD_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_timeout)]
    pub idle_timeout: Duration,
    /// How long a request body may take to arrive, counted from when the route starts reading
    /// it (e.g. 60s); past it the answer is 408 `request_timeout`. 60 s lets a 1 MiB body
    /// through at 17 KiB/s; raise it to deploy large functions over slow links. Responses,
    /// event streams and WebSockets have no such limit.
    #[arg(long, env = "SWITCHYARD_BODY_READ_TIMEOUT", default_value = "60s", value_parser = parse_timeout)]
    pub body_read_timeout: Duration,
    /// Connections served at once; past it a new connection is answered 503 `unavailable` and
    /// closed. Each costs an open file and a few KiB: the default leaves room for many
    /// thousands of long-lived watchers. The soft open-files limit is raised to the hard one at
    /// start-up when the cap needs it, and the cap lowered (with a warning) if even the hard
    /// limit cannot fit it.
    #[arg(long, env = "SWITCHYARD_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// On SIGINT/SIGTERM, how long in-flight requests and asynchronous function invocations may
    /// take to finish, counted from the signal, before they are cut (e.g. 8s; event streams end
    /// at once; a cut invocation runs again once its lease ends). Below the 10 s Docker waits
    /// before SIGKILL, so the store still closes cleanly.
    #[arg(long, env = "SWITCHYARD_SHUTDOWN_GRACE", default_value = "8s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// Create a new admin token for every space before serving, replace admin.token with it,
    /// and revoke the admin tokens the server minted before (those named `admin` that
    /// administer every space; tokens made with `token create` are kept): the way back in when
    /// admin.token was lost, or the way out when it leaked.
    #[arg(long)]
    pub reset_admin_token: bool,
}

/// Runs the server until SIGINT/SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let (tls, certificate) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let (config, certificate) = crate::tls::server_config(cert, key, args.tls_client_ca.as_deref())?;
            (Some(config), Some(certificate))
        }
        _ => (None, None),
    };
    // Watches the certificate files for as long as the server runs (aborted when this returns).
    let _reload = certificate.map(|c| ReloadTask(tokio::spawn(c.watch())));
    let scheme = if tls.is_some() { "https" } else { "http" };
    // The data dir holds the admin token whatever the store is.
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create the data directory {}", args.data_dir.display()))?;
    // `_data_dir_lock` is held until the process exits (PostgreSQL; SQLite holds its own).
    let (store, _data_dir_lock) = open_store(&args).await?;
    let config = EngineConfig {
        idempotency_retention: args.idempotency_retention,
        log_retention_age: args.log_retention,
        log_retention_bytes: (args.log_retention_bytes > 0).then_some(args.log_retention_bytes),
        max_context_bytes: usize::try_from(args.max_context_bytes).unwrap_or(usize::MAX),
        clock: SystemClock::shared(),
        session_ttl: args.session_ttl,
    };
    let engine = Arc::new(Engine::new(store.clone(), config));
    if let Some(secret) = engine.bootstrap_admin_token(&args.data_dir).await? {
        let path = args.data_dir.join("admin.token");
        eprintln!(
            "Created the admin token (shown once; also saved to {}, mode 0600):\n\n    {secret}\n",
            path.display()
        );
    }
    if args.reset_admin_token {
        let (secret, revoked) = engine.reset_admin_token(&args.data_dir).await?;
        let path = args.data_dir.join("admin.token");
        eprintln!(
            "Created a new admin token for every space (--reset-admin-token; shown once; also saved to {}, mode 0600):\n\n    {secret}\n",
            path.display()
        );
        if revoked.is_empty() {
            eprintln!("No earlier admin token was live: nothing revoked.\n");
        } else {
            eprintln!("Revoked the earlier admin token(s): {}\n", revoked.join(", "));
        }
    }
    engine.start_log_tail(args.watch_buffer, Duration::from_millis(args.watch_poll_ms.max(1))).await?;
    // After the tail started: a quota changed since is read from the log, so none is missed.
    engine.load_quotas().await?;
    // Compiled functions are cached beside the admin token: a restart loads them instead of
    // compiling again (each node keeps its own, also on PostgreSQL).
    let mut runtime_config = RuntimeConfig::new(args.data_dir.join("functions-cache"));
    runtime_config.max_concurrent = args.function_slots.max(1);
    runtime_config.max_concurrent_per_space = args
        .function_slots_per_space
        .unwrap_or_else(|| switchyard_runtime::default_slots_per_space(runtime_config.max_concurrent));
    if let Some(budget) = args.function_memory_budget {
        anyhow::ensure!(budget > 0, "--function-memory-budget must be positive");
        runtime_config.memory_budget_bytes = budget;
    }
    runtime_config.allow_private_networks = args.function_allow_private_networks;
    runtime_config.max_memory_bytes = args.function_max_memory.max(switchyard_engine::functions::MIN_MEMORY_BYTES);
    let runtime = FunctionRuntime::new(runtime_config).context("cannot start the function runtime")?;
    let functions = FunctionsConfig { retention: args.invocation_retention };
    engine.enable_functions(Arc::new(runtime), functions);
    engine.spawn_maintenance(args.maintenance_interval, Duration::from_secs(1));
    engine.spawn_quota_measurement(args.quota_interval);

    let metrics = Arc::new(HttpMetrics::new(store.metrics()));
    let ready = Arc::new(AtomicBool::new(false));
    let shutdown = Shutdown::new();
    let state = AppState::new(AppParts {
        engine: engine.clone(),
        metrics,
        config: Arc::new(ApiConfig {
            max_body_bytes: args.max_body_bytes,
            metrics_access: if args.metrics_public {
                switchyard_api::MetricsAccess::Public
            } else {
                args.metrics_access
            },
        }),
        ready: ready.clone(),
        shutdown: shutdown.clone(),
    });
    let grpc = switchyard_grpc::GrpcApi::new(state.clone()).routes();
    let mut app = switchyard_api::router(state);
    if !args.no_console {
        let console = switchyard_console::ConsoleConfig { secure_cookie: tls.is_some() };
        app = app.clone().merge(switchyard_console::router(app, console));
    }
    let server = ServerConfig {
        header_read_timeout: args.header_read_timeout,
        idle_timeout: args.idle_timeout,
        body_read_timeout: args.body_read_timeout,
        max_connections: http_server::fit_connection_cap(args.max_connections as usize),
        shutdown_grace: args.shutdown_grace,
        tls,
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Registered before announced: whoever reads the announcement finds this node listed.
    let advertise = args.advertise.clone().unwrap_or_else(|| format!("{scheme}://{addr}"));
    let node_id = engine.join_cluster(advertise, switchyard_engine::NODE_HEARTBEAT).await?;
    let jobs = switchyard_engine::JobsConfig {
        slots: args.job_slots as usize,
        space_limit: args.job_space_limit,
        allow_private_networks: args.jobs_allow_private_networks,
        lease: args.job_lease,
        retention: args.job_retention,
        ..switchyard_engine::JobsConfig::default()
    };
    engine.start_jobs(jobs, node_id.clone())?;
    tracing::info!(%addr, %scheme, node = %node_id, durability = ?args.durability, data_dir = %args.data_dir.display(), "switchyard serving");
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {scheme}://{addr}")?;
        out.flush()?;
    }
    ready.store(true, Ordering::Release);
    let shutdown_ready = ready.clone();
    let shutdown_sockets = shutdown.clone();
    let signalled = Arc::new(std::sync::OnceLock::<Instant>::new());
    let signalled_at = signalled.clone();
    http_server::serve(listener, app, grpc, server, async move {
        shutdown_signal().await;
        let _ = signalled_at.set(Instant::now());
        shutdown_ready.store(false, Ordering::Release);
        shutdown_sockets.begin();
        tracing::info!("shutting down: finishing in-flight requests");
    })
    .await
    .context("serving HTTP")?;
    // WebSockets got their close frame when shutdown began; a peer that stopped reading
    // cannot hold the process past this.
    if tokio::time::timeout(WEBSOCKET_CLOSE_TIME, shutdown.sockets_closed()).await.is_err() {
        tracing::warn!(open = shutdown.open_sockets(), "WebSockets still open after shutdown: dropping them");
    }
    // One grace for the whole shutdown, counted from the signal: asynchronous invocations ran
    // on while the connections drained.
    let grace = match signalled.get() {
        Some(at) => args.shutdown_grace.saturating_sub(at.elapsed()),
        None => args.shutdown_grace,
    };
    let report = engine.supervisor().shutdown(grace).await;
    if !report.is_clean() {
        tracing::warn!(
            aborted_work = report.aborted_work.len(),
            aborted_tasks = ?report.aborted_tasks,
            "shutdown grace elapsed: background work was aborted (its jobs are released to run again)"
        );
    }
    match engine.release_held_jobs().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(jobs = n, "released the leases of the jobs whose attempts shutdown cut"),
        Err(e) => tracing::warn!(error = %e, "could not release this node's job leases; they end by themselves"),
    }
    if let Err(e) = engine.leave_cluster(&node_id).await {
        tracing::warn!(error = %e, "could not remove this node from the cluster's list");
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The store `--store` names, or the embedded one in `--data-dir`; with PostgreSQL, also the
/// lock on the data dir, to hold while serving.
async fn open_store(args: &ServeArgs) -> anyhow::Result<(Arc<dyn Store>, Option<std::fs::File>)> {
    match args.store.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            // The data dir still holds this node's admin token and function cache: hold the
            // same lock the embedded store holds, so that a PostgreSQL node started in another
            // server's data dir is refused before it writes anything there.
            let lock = lock_data_dir(&args.data_dir)?;
            let store = PgStore::connect(PgOptions::new(url)).await.context("cannot open the PostgreSQL store")?;
            tracing::info!("store: PostgreSQL");
            Ok((Arc::new(store), Some(lock)))
        }
        Some(other) => anyhow::bail!(
            "--store {other:?}: expected a postgres://USER@HOST:PORT/DB URL (omit --store for the embedded store in --data-dir)"
        ),
        None => {
            let options = SqliteOptions {
                data_dir: args.data_dir.clone(),
                durability: args.durability,
                clock: switchyard_store::SystemClock::shared(),
            };
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(options))
                .await
                .context("opening the store")?
                .with_context(|| format!("cannot open the store in {}", args.data_dir.display()))?;
            Ok((Arc::new(store), None))
        }
    }
}

/// Takes the exclusive lock on `<data_dir>/LOCK` that the embedded store takes, refusing a data
/// dir another switchyard process holds.
fn lock_data_dir(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = data_dir.join("LOCK");
    let lock = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another switchyard process has the data directory {} open; give this node its own --data-dir (it keeps the node's admin.token and function cache)",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Parses a connection timeout: a duration such as 10s or 2m, not zero (a zero timeout would
/// close every connection at once).
/// A job lease: at least a second (a shorter one could end between two renewals of a busy
/// node), at most a day.
fn parse_job_lease(text: &str) -> Result<Duration, String> {
    let lease = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if !(Duration::from_secs(1)..=Duration::from_secs(86_400)).contains(&lease) {
        return Err(format!("{text}: a job lease is between 1s and 24h"));
    }
    Ok(lease)
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("a timeout must be longer than zero".to_string()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("\"{text}\" is not a duration such as 10s or 2m: {e}")),
    }
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("an interval must be longer than zero".to_string()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("\"{text}\" is not a duration such as 10s or 2m: {e}")),
    }
}

/// Parses a byte size: a number with an optional unit (B, KB, MB, GB, KiB, MiB, GiB).
pub(crate) fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("\"{text}\" is not a size such as 512MiB or 1GB"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "gb" => 1000 * 1000 * 1000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => return Err(format!("unknown size unit \"{other}\" (use B, KB, MB, GB, KiB, MiB or GiB)")),
    };
    number.checked_mul(multiplier).ok_or_else(|| format!("\"{text}\" is too large"))
}

/// A session's length: at least a second, at most a year.
fn parse_session_ttl(text: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if ttl < Duration::from_secs(1) || ttl > Duration::from_secs(366 * 24 * 3600) {
        return Err(format!("{text} is not between 1s and 366d"));
    }
    Ok(ttl)
}

/// The certificate reload task, aborted when the server's run ends.
struct ReloadTask(tokio::task::JoinHandle<()>);

impl Drop for ReloadTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}
