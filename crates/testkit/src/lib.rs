//! Test support: a throwaway PostgreSQL database per test, on whatever PostgreSQL can be had,
//! the example functions built for wasm32-wasip2 ([`example_function`]), waiting for a
//! condition instead of sleeping ([`wait_until`], [`within`]), the fixtures the real-binary
//! tests share ([`fixtures`]: the order, cycle and counter machines, the exactly-once verifier),
//! and the documented error tables ([`error_tables`]).
//!
//! What this crate guarantees:
//! - [`TestDatabase::create`] returns a new, empty database `switchyard_test_<16 hex digits>`
//!   (UTF-8, C collation) that nothing else uses. It is dropped (`DROP DATABASE … WITH (FORCE)`)
//!   when the value drops; databases still alive when the process exits (e.g. held in statics,
//!   which Rust never drops) are dropped at exit.
//! - The server is chosen once per process, in this order: the URL in `SWITCHYARD_TEST_POSTGRES`;
//!   a server on 127.0.0.1:5432 where user `postgres` can log in without a password; a throwaway
//!   cluster started from the installed PostgreSQL binaries (`initdb` + `pg_ctl`, in a temp dir,
//!   on a free port — as root it runs as the `postgres` OS user), stopped and deleted when the
//!   process exits, even when it is killed.
//! - When no PostgreSQL can be had, the test panics with a message saying how to get one. Tests
//!   are never silently skipped.
//! - Everything is blocking and may be called from plain code and from inside any tokio runtime:
//!   client work runs on a private current-thread runtime on its own thread. Connections use no
//!   TLS.

mod cluster;
mod docs;
pub mod fixtures;
mod functions;
mod http;
mod wait;

pub use docs::{ErrorRow, error_tables};
pub use fixtures::{COUNTER_MACHINE, InstanceRecords, verify_exactly_once};
pub use functions::{example_function, example_function_bytes};
pub use http::counting_http_server;
pub use wait::{PATIENCE, wait_for, wait_until, wait_until_blocking, within};

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, SystemTime};

use tokio_postgres::{Client, Config, NoTls};

use cluster::{PgBins, TempCluster};

/// The environment variable naming the PostgreSQL server tests use.
pub const ENV_VAR: &str = "SWITCHYARD_TEST_POSTGRES";

/// The address probed when [`ENV_VAR`] is unset.
const LOCAL_SERVER: &str = "127.0.0.1:5432";

/// Upper bound for one administrative round trip (connect + statement).
const ADMIN_TIMEOUT: Duration = Duration::from_secs(60);

const HOW_TO_GET_ONE: &str = "set SWITCHYARD_TEST_POSTGRES=postgres://USER@HOST:PORT, or run a \
    server on 127.0.0.1:5432 where user postgres logs in without a password (trust), or install \
    PostgreSQL (Debian: apt-get install postgresql) so the tests can start a throwaway one";

/// A database created for one test (or one test binary), dropped when this value drops.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin: Config,
}

impl TestDatabase {
    /// Creates `switchyard_test_<random>` on the server and returns it. Panics with an actionable message when no PostgreSQL can be had.
    pub fn create() -> TestDatabase {
        let server = server().unwrap_or_else(|message| panic!("{message}"));
        TestDatabase::create_on(server).unwrap_or_else(|message| panic!("{message}"))
    }

    /// Connection URL, e.g. `postgres://postgres@127.0.0.1:5432/switchyard_test_ab12cd` (the form `switchyard serve --store URL` takes).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Ends every session connected to this database (`pg_terminate_backend`), as a database
    /// restart or a network cut would, and returns how many there were.
    pub fn terminate_connections(&self) -> u64 {
        let name = self.name.clone();
        let admin = self.admin.clone();
        let terminated = block_on(async move {
            tokio::time::timeout(ADMIN_TIMEOUT, async {
                let client = connect(&admin).await?;
                let row = client
                    .query_one(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
                         WHERE datname = $1 AND pid <> pg_backend_pid()",
                        &[&name],
                    )
                    .await
                    .map_err(|e| error_text(&e))?;
                Ok::<i64, String>(row.get(0))
            })
            .await
            .map_err(|_| format!("no answer within {ADMIN_TIMEOUT:?}"))?
        });
        match terminated.and_then(|r| r) {
            Ok(n) => u64::try_from(n).unwrap_or_default(),
            Err(e) => panic!("could not terminate the connections to {}: {e}", self.name),
        }
    }

    /// Runs `sql` (one or more statements) on the server's administrative database, as the
    /// superuser the database was created by: for a test that acts on this database from
    /// outside, e.g. `ALTER DATABASE` or `pg_terminate_backend` on its connections.
    pub fn execute_as_admin(&self, sql: &str) -> Result<(), String> {
        execute(&self.admin, sql)
    }

    /// Runs `sql` (statements separated by `;`, no psql meta-commands) in this database, e.g. to
    /// load a dump; panics with the server's error.
    pub fn batch_execute(&self, sql: &str) {
        let config = self.config();
        execute_first_that_works(&config, &[sql.to_string()])
            .unwrap_or_else(|e| panic!("running SQL in {}: {e}", self.name));
    }

    /// The first column of each row `query` answers, as text (`NULL` as `None`); panics with the
    /// server's error.
    pub fn query_text(&self, query: &str) -> Vec<Option<String>> {
        let config = self.config();
        let rows = block_on(async move {
            tokio::time::timeout(ADMIN_TIMEOUT, async {
                let client = connect(&config).await?;
                let rows = client.simple_query(query).await.map_err(|e| error_text(&e))?;
                Ok::<_, String>(
                    rows.into_iter()
                        .filter_map(|message| match message {
                            tokio_postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_owned)),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .await
            .map_err(|_| format!("no answer within {ADMIN_TIMEOUT:?}"))?
        });
        rows.and_then(|r| r).unwrap_or_else(|e| panic!("querying {}: {e}", self.name))
    }

    /// The admin connection's settings aimed at this database.
    fn config(&self) -> Config {
        let mut config = self.admin.clone();
        config.dbname(&self.name);
        config
    }

    fn create_on(server: &Server) -> Result<TestDatabase, String> {
        let name = random_name();
        let url = format!("{}/{}{}", server.base, name, server.query);
        // template0: nobody is ever connected to it, so concurrent creates cannot collide on
        // "source database is being accessed by other users"; C collation keeps ordering
        // deterministic. The plain form is the fallback for servers where that combination fails.
        let statements = [
            format!(
                "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' \
                 LC_COLLATE 'C' LC_CTYPE 'C'"
            ),
            format!("CREATE DATABASE \"{name}\""),
        ];
        execute_first_that_works(&server.admin, &statements).map_err(|e| {
            format!(
                "could not create test database {name} on {} ({}): {e}\n\
                 PostgreSQL is needed for this test: {HOW_TO_GET_ONE}",
                redact(&server.url),
                server.origin
            )
        })?;
        live_databases().push((name.clone(), server.admin.clone()));
        register_exit_handler();
        Ok(TestDatabase { name, url, admin: server.admin.clone() })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|(name, _)| *name != self.name);
        }
        if let Err(e) = drop_database(&self.admin, &self.name) {
            let _ = writeln!(std::io::stderr(), "warning: could not drop {}: {e}", self.name);
        }
    }
}

/// The server URL without a database (for admin statements), resolving as below; cached per process.
///
/// Order: `SWITCHYARD_TEST_POSTGRES`; else 127.0.0.1:5432 as user `postgres`; else a throwaway
/// cluster from the installed binaries. Panics with an actionable message when none works.
pub fn server_url() -> &'static str {
    match server() {
        Ok(server) => &server.url,
        Err(message) => panic!("{message}"),
    }
}

/// The resolved server.
#[derive(Debug)]
struct Server {
    /// `scheme://authority`, no path, no query.
    base: String,
    /// `""` or `?…`, carried over to database URLs.
    query: String,
    /// `base + query`: what [`server_url`] returns.
    url: String,
    /// Where admin statements connect: the database given in the URL, else `postgres`.
    admin: Config,
    /// Which resolution step chose this server, for messages.
    origin: &'static str,
}

impl Server {
    fn from_url(url: &str, origin: &'static str) -> Result<Server, String> {
        let rest = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://")).ok_or_else(|| {
            format!("{} is not a postgres:// URL (e.g. postgres://postgres@127.0.0.1:5432)", redact(url))
        })?;
        let authority_end = url.len() - rest.len() + rest.find(['/', '?']).unwrap_or(rest.len());
        let base = url[..authority_end].to_string();
        let query = url[authority_end..].find('?').map_or("", |i| &url[authority_end + i..]);
        let mut admin: Config = url.parse().map_err(|e| format!("cannot parse {}: {e}", redact(url)))?;
        if admin.get_user().is_none() {
            return Err(format!("{} names no user; use e.g. postgres://postgres@127.0.0.1:5432", redact(url)));
        }
        if admin.get_dbname().is_none() {
            admin.dbname("postgres");
        }
        admin.connect_timeout(Duration::from_secs(10));
        admin.application_name("switchyard-testkit");
        Ok(Server { url: format!("{base}{query}"), base, query: query.to_string(), admin, origin })
    }
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
/// The throwaway cluster behind [`SERVER`], if one was started; stopped by the exit handler.
static CLUSTER: Mutex<Option<TempCluster>> = Mutex::new(None);
/// Databases created and not yet dropped, with where to drop them from.
static LIVE: Mutex<Vec<(String, Config)>> = Mutex::new(Vec::new());

fn server() -> Result<&'static Server, &'static str> {
    SERVER
        .get_or_init(|| {
            let env = std::env::var(ENV_VAR).ok().filter(|v| !v.trim().is_empty());
            let local: SocketAddr = LOCAL_SERVER.parse().expect("a valid socket address");
            let (server, cluster) = resolve(env, Some(local), cluster::find_bins)?;
            if let Some(cluster) = cluster {
                *CLUSTER.lock().unwrap_or_else(|e| e.into_inner()) = Some(cluster);
                register_exit_handler();
            }
            Ok(server)
        })
        .as_ref()
        .map_err(String::as_str)
}

/// The resolution steps, with their inputs explicit so tests can force each one.
fn resolve(
    env: Option<String>,
    local: Option<SocketAddr>,
    find_bins: impl FnOnce() -> Result<PgBins, String>,
) -> Result<(Server, Option<TempCluster>), String> {
    if let Some(url) = env {
        let url = url.trim();
        return Server::from_url(url, "from SWITCHYARD_TEST_POSTGRES")
            .map(|server| (server, None))
            .map_err(|e| format!("SWITCHYARD_TEST_POSTGRES is unusable: {e}"));
    }
    let mut tried = vec![format!("{ENV_VAR} is not set")];
    if let Some(addr) = local {
        match probe_local(addr) {
            Ok(server) => return Ok((server, None)),
            Err(e) => tried.push(e),
        }
    }
    match find_bins().and_then(cluster::start_with) {
        Ok(cluster) => {
            let server = Server::from_url(&cluster.url(), "a throwaway cluster started for this test process")?;
            match execute(&server.admin, "SELECT 1") {
                Ok(()) => return Ok((server, Some(cluster))),
                Err(e) => tried.push(format!("throwaway cluster started but does not answer: {e}")),
            }
        }
        Err(e) => tried.push(format!("throwaway cluster: {e}")),
    }
    Err(format!(
        "PostgreSQL is needed for this test and none could be had:\n  - {}\nTo fix: {HOW_TO_GET_ONE}.",
        tried.join("\n  - ")
    ))
}

/// Step 2: a server on `addr` where `postgres` logs in without a password.
fn probe_local(addr: SocketAddr) -> Result<Server, String> {
    TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("nothing answers on {addr} ({e})"))?;
    let server = Server::from_url(&format!("postgres://postgres@{addr}"), "the server on 127.0.0.1:5432")?;
    execute(&server.admin, "SELECT 1")
        .map_err(|e| format!("a server answers on {addr}, but `SELECT 1` as user postgres failed: {e}"))?;
    Ok(server)
}

/// `switchyard_test_` + 16 hex digits from a randomly keyed hash of time, pid and a counter.
fn random_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("switchyard_test_{:016x}", hasher.finish())
}

/// Hides the password of a URL for messages.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_end = url[scheme_end..].find(['/', '?']).map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!("{}{}:***{}", &url[..scheme_end], &authority[..colon], &url[scheme_end + at..])
        }
        _ => url.to_string(),
    }
}

fn live_databases() -> std::sync::MutexGuard<'static, Vec<(String, Config)>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers (once) the `atexit` handler that drops leftover databases and stops the cluster.
fn register_exit_handler() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `at_exit` is an `extern "C" fn()` that never unwinds.
        unsafe {
            libc::atexit(at_exit);
        }
    });
}

extern "C" fn at_exit() {
    let _ = std::panic::catch_unwind(|| {
        // try_lock: a thread that still holds a lock while the process exits must not hang exit.
        let leftovers = LIVE.try_lock().map(|mut live| std::mem::take(&mut *live)).unwrap_or_default();
        for (name, admin) in leftovers {
            let _ = drop_database(&admin, &name);
        }
        if let Ok(mut cluster) = CLUSTER.try_lock() {
            drop(cluster.take());
        }
    });
}

fn drop_database(admin: &Config, name: &str) -> Result<(), String> {
    execute_first_that_works(
        admin,
        &[
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            // Before PostgreSQL 13 there is no FORCE.
            format!("DROP DATABASE IF EXISTS \"{name}\""),
        ],
    )
}

/// Runs `future` to completion on a private current-thread runtime on a fresh thread, so it
/// works whether or not the caller is inside a tokio runtime.
fn block_on<F>(future: F) -> Result<F::Output, String>
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot build a tokio runtime: {e}"))?;
                Ok(runtime.block_on(future))
            })
            .join()
            .unwrap_or_else(|_| Err("the PostgreSQL client thread panicked".to_string()))
    })
}

async fn connect(config: &Config) -> Result<Client, String> {
    let (client, connection) = config.connect(NoTls).await.map_err(|e| error_text(&e))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Connects with `config` and runs the statements in order until one succeeds.
fn execute_first_that_works(config: &Config, statements: &[String]) -> Result<(), String> {
    // The timeout is created inside the async block: it needs the private runtime.
    block_on(async {
        tokio::time::timeout(ADMIN_TIMEOUT, async {
            let client = connect(config).await?;
            let mut first_error = None;
            for statement in statements {
                match client.batch_execute(statement).await {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        first_error.get_or_insert_with(|| error_text(&e));
                    }
                }
            }
            Err(first_error.unwrap_or_default())
        })
        .await
    })?
    .map_err(|_| format!("no answer within {ADMIN_TIMEOUT:?}"))?
}

/// An error with its causes (tokio-postgres' own text is often just "db error").
fn error_text(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return db.to_string();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn execute(config: &Config, statement: &str) -> Result<(), String> {
    execute_first_that_works(config, &[statement.to_string()])
}

#[cfg(test)]
mod tests;
