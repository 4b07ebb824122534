use super::*;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// Set (to a mode) in the child processes the exit-path tests spawn.
const CHILD_MODE: &str = "SWITCHYARD_TESTKIT_CHILD";

fn database_exists(admin: &Config, name: &str) -> bool {
    let name = name.to_string();
    block_on(async move {
        let client = connect(admin).await.expect("admin connection");
        let row = client
            .query_one("SELECT count(*) FROM pg_database WHERE datname = $1", &[&name])
            .await
            .expect("query pg_database");
        row.get::<_, i64>(0) == 1
    })
    .expect("runtime")
}

fn current_database(url: &str) -> Result<String, String> {
    let config: Config = url.parse().map_err(|e| format!("{e}"))?;
    block_on(async move {
        let client = connect(&config).await?;
        let row = client.query_one("SELECT current_database()", &[]).await.map_err(|e| e.to_string())?;
        Ok(row.get::<_, String>(0))
    })?
}

fn answers(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(1)).is_ok()
}

/// Whether `SWITCHYARD_TEST_POSTGRES` names the server to use: then the tests of the throwaway
/// cluster start none (the developer said which PostgreSQL tests may use, and may have no
/// server binaries at all), and say so on stderr. CI never sets it, so they always run there.
fn named_server_given() -> bool {
    let given = std::env::var(ENV_VAR).is_ok_and(|v| !v.trim().is_empty());
    if given {
        eprintln!("{ENV_VAR} names the server: this test of the throwaway cluster starts none");
    }
    given
}

fn admin_config() -> Config {
    server().expect("a server").admin.clone()
}

#[test]
fn two_databases_are_distinct_usable_and_dropped() {
    let a = TestDatabase::create();
    let b = TestDatabase::create();
    assert_ne!(a.name(), b.name());
    for db in [&a, &b] {
        let config: Config = db.url().parse().unwrap();
        assert_eq!(config.get_dbname(), Some(db.name()), "{}", db.url());
        assert_eq!(current_database(db.url()).unwrap(), db.name());
    }
    let admin = admin_config();
    let names = [a.name().to_string(), b.name().to_string()];
    assert!(names.iter().all(|n| database_exists(&admin, n)));
    // A live connection does not keep a database from being dropped (WITH (FORCE)).
    let config: Config = a.url().parse().unwrap();
    let (client_runtime, client) = {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = runtime.block_on(async {
            let (client, connection) = config.connect(NoTls).await.unwrap();
            tokio::spawn(connection);
            client
        });
        (runtime, client)
    };
    drop(a);
    drop(b);
    assert!(names.iter().all(|n| !database_exists(&admin, n)));
    drop(client);
    drop(client_runtime);
}

#[test]
fn server_url_is_stable() {
    let first = server_url();
    assert!(std::ptr::eq(first, server_url()));
    assert_eq!(first, server_url());
    assert!(first.starts_with("postgres://") || first.starts_with("postgresql://"), "{first}");
    let authority = &first[first.find("://").unwrap() + 3..];
    assert!(!authority.contains('/'), "no database in {first}");
}

#[tokio::test]
async fn works_inside_a_tokio_runtime() {
    let db = TestDatabase::create();
    let (client, connection) = tokio_postgres::connect(db.url(), NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute("CREATE TABLE t (v jsonb); INSERT INTO t VALUES ('{\"ü\": 1}')").await.unwrap();
    let n: i64 = client.query_one("SELECT count(*) FROM t", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
    drop(db); // dropping inside the runtime must neither panic nor deadlock
}

#[test]
fn names_are_safe_identifiers_and_unique() {
    let names: std::collections::HashSet<String> = (0..10_000).map(|_| random_name()).collect();
    assert_eq!(names.len(), 10_000);
    for name in &names {
        assert!(name.len() < 64 && name.starts_with("switchyard_test_"), "{name}");
        assert!(name.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_')), "{name}");
    }
}

#[test]
fn env_url_is_split_into_server_and_admin_database() {
    let (server, cluster) =
        resolve(Some(" postgres://alice:s3cret@db.example:6543/app?sslmode=disable ".into()), None, || {
            unreachable!("an explicit server is never second-guessed")
        })
        .unwrap();
    assert!(cluster.is_none());
    assert_eq!(server.url, "postgres://alice:s3cret@db.example:6543?sslmode=disable");
    assert_eq!(server.admin.get_dbname(), Some("app"));
    assert_eq!(server.admin.get_user(), Some("alice"));

    let server = Server::from_url("postgresql://postgres@127.0.0.1:5432", "test").unwrap();
    assert_eq!(server.url, "postgresql://postgres@127.0.0.1:5432");
    assert_eq!(server.admin.get_dbname(), Some("postgres"));

    for bad in ["host=localhost user=postgres", "postgres://127.0.0.1:5432", "postgres://u@h:notaport"] {
        let err = resolve(Some(bad.into()), None, || unreachable!()).unwrap_err();
        assert!(err.contains("SWITCHYARD_TEST_POSTGRES is unusable"), "{err}");
    }
    assert_eq!(redact("postgres://alice:s3cret@h:1/db"), "postgres://alice:***@h:1/db");
    assert_eq!(redact("postgres://alice@h:1/db"), "postgres://alice@h:1/db");
}

#[test]
fn without_any_postgres_the_message_says_how_to_get_one() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let err = resolve(None, Some(closed), || Err("no PostgreSQL server binaries found".into())).unwrap_err();
    for needle in [
        "PostgreSQL is needed for this test",
        "SWITCHYARD_TEST_POSTGRES is not set",
        &format!("nothing answers on {closed}"),
        "no PostgreSQL server binaries found",
        "set SWITCHYARD_TEST_POSTGRES=postgres://USER@HOST:PORT",
        "apt-get install postgresql",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

#[test]
fn the_fallback_cluster_starts_serves_and_is_removed() {
    if named_server_given() {
        return;
    }
    let started = Instant::now();
    let cluster = cluster::start_temp_cluster().unwrap_or_else(|e| panic!("{e}"));
    let (dir, port) = (cluster.dir().to_path_buf(), cluster.port());
    eprintln!("throwaway cluster on port {port} in {:?}", started.elapsed());
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(dir.join("data")).unwrap().uid();
        assert_ne!(owner, 0, "as root, the cluster must belong to the postgres user");
    }
    let server = Server::from_url(&cluster.url(), "test").unwrap();
    let db = TestDatabase::create_on(&server).unwrap();
    assert_eq!(db.url(), format!("postgres://postgres@127.0.0.1:{port}/{}", db.name()));
    assert_eq!(current_database(db.url()).unwrap(), db.name());
    let name = db.name().to_string();
    drop(db);
    assert!(!database_exists(&server.admin, &name));
    drop(cluster);
    assert!(!answers(port), "server still answers on {port}");
    assert!(!dir.exists(), "{} still exists", dir.display());
}

/// Runs this test binary again with only [`child_helper`] and `mode`; returns its stdout lines
/// of the form `key=value`.
fn run_child(mode: &str) -> (std::process::ExitStatus, std::collections::HashMap<String, String>) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "tests::child_helper", "--nocapture", "--test-threads=1"])
        .env(CHILD_MODE, mode)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let values = stdout
        .lines()
        // libtest may print `test tests::child_helper ... ` before the first line.
        .filter_map(|line| line.split_once("child: ").map(|(_, kv)| kv))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    eprintln!("child {mode}: {}\n{stdout}{}", output.status, String::from_utf8_lossy(&output.stderr));
    (output.status, values)
}

/// Not a test on its own: the body of the child processes [`run_child`] spawns (a no-op
/// otherwise).
#[test]
fn child_helper() {
    let Ok(mode) = std::env::var(CHILD_MODE) else { return };
    if mode != "leak-database" {
        // Force the fallback, as if nothing ran on 127.0.0.1:5432.
        let resolved = resolve(None, None, cluster::find_bins).map(|(server, cluster)| {
            let cluster = cluster.expect("fallback starts a cluster");
            println!("child: port={}", cluster.port());
            println!("child: dir={}", cluster.dir().display());
            *CLUSTER.lock().unwrap() = Some(cluster);
            register_exit_handler();
            server
        });
        SERVER.set(resolved).expect("first resolution in this process");
    }
    let db = TestDatabase::create();
    println!("child: database={}", db.name());
    std::mem::forget(db); // as if held in a static: Drop never runs
    if mode == "kill" {
        std::io::stdout().flush().unwrap();
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}

#[test]
fn databases_left_at_exit_are_dropped() {
    let (status, values) = run_child("leak-database");
    assert!(status.success());
    let name = &values["database"];
    assert!(!database_exists(&admin_config(), name), "{name} survived its process");
}

#[test]
fn the_fallback_cluster_is_stopped_at_exit() {
    if named_server_given() {
        return;
    }
    let (status, values) = run_child("exit");
    assert!(status.success());
    let port: u16 = values["port"].parse().unwrap();
    assert!(!answers(port), "server still answers on {port}");
    assert!(!PathBuf::from(&values["dir"]).exists());
}

#[test]
fn the_fallback_cluster_is_stopped_when_its_process_is_killed() {
    if named_server_given() {
        return;
    }
    let (status, values) = run_child("kill");
    assert!(!status.success());
    let port: u16 = values["port"].parse().unwrap();
    let dir = PathBuf::from(&values["dir"]);
    let what = format!("the orphaned cluster on port {port} to stop and {} to go", dir.display());
    crate::wait_until_blocking(&what, crate::PATIENCE, || (!answers(port) && !dir.exists()).then_some(()));
}
