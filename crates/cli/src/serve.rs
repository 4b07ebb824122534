//! `switchyard serve`: opens the store, starts the engine and the HTTP API.
//!
//! Start-up order matters: the store is opened and migrated, the admin token is bootstrapped,
//! and only then does the listener bind and print `listening on http://ADDR` (tests and
//! scripts wait for that line). Shutdown on SIGINT/SIGTERM: stop accepting, finish in-flight
//! requests, then close the store so its writer flushes.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use switchyard_api::{ApiConfig, AppState, HttpMetrics};
use switchyard_engine::{Engine, EngineConfig, FunctionsConfig};
use switchyard_runtime::{FunctionRuntime, RuntimeConfig};
use switchyard_store::postgres::{PgOptions, PgStore};
use switchyard_store::sqlite::{SqliteOptions, SqliteStore};
use switchyard_store::{Durability, Store};

/// Arguments of `switchyard serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Directory holding the embedded store (unless --store names another) and the admin token.
    #[arg(long, env = "SWITCHYARD_DATA_DIR", default_value = "./switchyard-data")]
    pub data_dir: PathBuf,
    /// Store on PostgreSQL instead of the embedded SQLite file: postgres://USER[:PASSWORD]@HOST[:PORT]/DB.
    /// Several nodes given the same database serve as one.
    #[arg(long, env = "SWITCHYARD_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// The URL other nodes and clients reach this node at, as listed by /v1/cluster/nodes
    /// [default: http://<the address it listens on>].
    #[arg(long, env = "SWITCHYARD_ADVERTISE", value_name = "URL")]
    pub advertise: Option<String>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SWITCHYARD_LISTEN", default_value = "127.0.0.1:7400")]
    pub listen: String,
    /// When a write is durable: `fsync` (before the reply), `batch:<ms>` (flushed every <ms>;
    /// survives a process crash, a power loss may lose the last interval) or `none`. Embedded
    /// store only: on PostgreSQL a write is acknowledged once the server committed it.
    #[arg(long, env = "SWITCHYARD_DURABILITY", default_value = "fsync")]
    pub durability: Durability,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "SWITCHYARD_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
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
    /// How long idempotency keys are remembered (e.g. 24h, 30m).
    #[arg(long, env = "SWITCHYARD_IDEMPOTENCY_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub idempotency_retention: Duration,
    /// Log records older than this are trimmed (e.g. 7d, 12h), except those a durable
    /// subscription has not acked yet.
    #[arg(long, env = "SWITCHYARD_LOG_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub log_retention: Duration,
    /// The oldest log records are trimmed while the log holds more than this many bytes of
    /// addresses and payloads (e.g. 1GiB, 500MB; 0 for no limit), except those a durable
    /// subscription has not acked yet.
    #[arg(long, env = "SWITCHYARD_LOG_RETENTION_BYTES", default_value = "1GiB", value_parser = parse_bytes)]
    pub log_retention_bytes: u64,
    /// How often retention runs (log trimming, idempotency keys); KV TTLs are swept every
    /// second whatever this says.
    #[arg(long, env = "SWITCHYARD_MAINTENANCE_INTERVAL", default_value = "1m", value_parser = humantime::parse_duration)]
    pub maintenance_interval: Duration,
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
    /// How long past its timeout an asynchronous invocation stays leased to the node running
    /// it; when a node dies, its invocations run again (as the next attempt) once this passed.
    #[arg(long, env = "SWITCHYARD_INVOCATION_LEASE_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub invocation_lease_grace: Duration,
    /// Function invocations running at once on this node (more wait for a slot).
    #[arg(long, env = "SWITCHYARD_FUNCTION_SLOTS", default_value_t = 256)]
    pub function_slots: u32,
    /// The largest memory limit a function may be deployed with (e.g. 1GiB).
    #[arg(long, env = "SWITCHYARD_FUNCTION_MAX_MEMORY", default_value = "1GiB", value_parser = parse_bytes)]
    pub function_max_memory: u64,
    /// Let functions' outgoing HTTP reach loopback, private and link-local addresses (by
    /// default an allow-listed host that resolves to one is refused, so that a function cannot
    /// reach this machine's or its network's internal services).
    #[arg(long, env = "SWITCHYARD_FUNCTION_ALLOW_PRIVATE_NETWORKS")]
    pub function_allow_private_networks: bool,
    /// Create a new admin token for every space before serving (and replace admin.token):
    /// the way back in when every admin token was lost or revoked.
    #[arg(long)]
    pub reset_admin_token: bool,
}

/// Runs the server until SIGINT/SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // The data dir holds the admin token whatever the store is.
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create the data directory {}", args.data_dir.display()))?;
    let store = open_store(&args).await?;
    let config = EngineConfig {
        idempotency_retention: args.idempotency_retention,
        log_retention_age: args.log_retention,
        log_retention_bytes: (args.log_retention_bytes > 0).then_some(args.log_retention_bytes),
    };
    let engine = Arc::new(Engine::new(store.clone(), config));
    if let Some(secret) = engine.bootstrap_admin_token(&args.data_dir).await? {
        let path = args.data_dir.join("admin.token");
        eprintln!(
            "Created the admin token (shown once; also saved to {}, mode 0600):\n\n    {secret}\n",
            path.display()
        );
    }
    engine.start_log_tail(args.watch_buffer, Duration::from_millis(args.watch_poll_ms.max(1))).await?;
    // Compiled functions are cached beside the admin token: a restart loads them instead of
    // compiling again (each node keeps its own, also on PostgreSQL).
    let mut runtime_config = RuntimeConfig::new(args.data_dir.join("functions-cache"));
    runtime_config.max_concurrent = args.function_slots.max(1);
    runtime_config.allow_private_networks = args.function_allow_private_networks;
    runtime_config.max_memory_bytes = args.function_max_memory.max(switchyard_engine::functions::MIN_MEMORY_BYTES);
    let runtime = FunctionRuntime::new(runtime_config).context("cannot start the function runtime")?;
    let functions = FunctionsConfig { retention: args.invocation_retention, lease_grace: args.invocation_lease_grace };
    engine.enable_functions(Arc::new(runtime), functions);
    let maintenance = engine.spawn_maintenance(args.maintenance_interval, Duration::from_secs(1));

    let metrics = Arc::new(HttpMetrics::new(store.metrics()));
    let ready = Arc::new(AtomicBool::new(false));
    let state = AppState {
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
    };
    let app = switchyard_api::router(state);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        // Small request/response pairs: Nagle's algorithm would only add latency.
        let _ = tcp.set_nodelay(true);
    });
    // Registered before announced: whoever reads the announcement finds this node listed.
    let advertise = args.advertise.clone().unwrap_or_else(|| format!("http://{addr}"));
    let (node_id, heartbeat) = engine.join_cluster(advertise, switchyard_engine::NODE_HEARTBEAT).await?;
    tracing::info!(%addr, node = %node_id, durability = ?args.durability, data_dir = %args.data_dir.display(), "switchyard serving");
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
    }
    ready.store(true, Ordering::Release);
    let shutdown_ready = ready.clone();
    // The peer's address rides on every request (`ConnectInfo`): `--metrics-access auto` tells
    // loopback from the rest by it.
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            shutdown_ready.store(false, Ordering::Release);
            tracing::info!("shutting down: finishing in-flight requests");
        })
        .await
        .context("serving HTTP")?;
    maintenance.abort();
    heartbeat.abort();
    if let Err(e) = engine.leave_cluster(&node_id).await {
        tracing::warn!(error = %e, "could not remove this node from the cluster's list");
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The store `--store` names, or the embedded one in `--data-dir`.
async fn open_store(args: &ServeArgs) -> anyhow::Result<Arc<dyn Store>> {
    match args.store.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = PgStore::connect(PgOptions::new(url)).await.context("cannot open the PostgreSQL store")?;
            tracing::info!("store: PostgreSQL");
            Ok(Arc::new(store))
        }
        Some(other) => anyhow::bail!(
            "--store {other:?}: expected a postgres://USER@HOST:PORT/DB URL (omit --store for the embedded store in --data-dir)"
        ),
        None => {
            let options = SqliteOptions { data_dir: args.data_dir.clone(), durability: args.durability };
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(options))
                .await
                .context("opening the store")?
                .with_context(|| format!("cannot open the store in {}", args.data_dir.display()))?;
            Ok(Arc::new(store))
        }
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
