//! A throwaway PostgreSQL cluster started from the installed binaries (`initdb` + `pg_ctl`),
//! living in a temp dir, listening on 127.0.0.1 on a free port, removed when dropped.
//!
//! initdb and postgres refuse to run as root; when the process runs as root, every PostgreSQL
//! command runs as the `postgres` OS user instead (the same effect as `runuser -u postgres --`,
//! done with `setuid`/`setgid` in the child so util-linux is not needed).
//!
//! A watchdog (`sh`, in its own process group) holds the read end of a pipe whose write end only
//! this process holds: when the process ends for any reason — including SIGKILL, where neither
//! `Drop` nor `atexit` run — the watchdog sees EOF, stops the cluster and deletes the temp dir.

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// How many times a start is retried on a fresh port (another process may take the free port
/// between our probe and postgres binding it).
const START_ATTEMPTS: usize = 3;

/// A directory holding `initdb`, `pg_ctl` and `postgres` of one PostgreSQL version.
#[derive(Debug, Clone)]
pub(crate) struct PgBins {
    dir: PathBuf,
}

impl PgBins {
    fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }

    fn pg_ctl(&self) -> PathBuf {
        self.dir.join("pg_ctl")
    }
}

/// Finds the server binaries: `initdb` on PATH (symlinks resolved, so `pg_ctl` and `postgres`
/// come from the same version), then `/usr/lib/postgresql/*/bin` and `/usr/pgsql-*/bin`,
/// highest version first.
pub(crate) fn find_bins() -> Result<PgBins, String> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if is_executable(&initdb) {
                let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
                if let Some(parent) = real.parent() {
                    candidates.push(parent.to_path_buf());
                }
                candidates.push(dir);
            }
        }
    }
    candidates.extend(versioned_dirs(Path::new("/usr/lib/postgresql"), "", "bin"));
    candidates.extend(versioned_dirs(Path::new("/usr"), "pgsql-", "bin"));
    candidates
        .into_iter()
        .find(|dir| ["initdb", "pg_ctl", "postgres"].iter().all(|b| is_executable(&dir.join(b))))
        .map(|dir| PgBins { dir })
        .ok_or_else(|| {
            "no PostgreSQL server binaries found (looked for initdb, pg_ctl and postgres side by \
             side on PATH, in /usr/lib/postgresql/*/bin and in /usr/pgsql-*/bin)"
                .to_string()
        })
}

/// `<parent>/<prefix><version>/<sub>` for every version found, highest first.
fn versioned_dirs(parent: &Path, prefix: &str, sub: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u64>, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name.strip_prefix(prefix)?;
            let key = version.split('.').map(|part| part.parse::<u64>().ok()).collect::<Option<Vec<u64>>>()?;
            Some((key, entry.path().join(sub)))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, dir)| dir).collect()
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The uid and gid of the `postgres` OS user.
fn postgres_user() -> Result<(u32, u32), String> {
    let name = CString::new("postgres").expect("no NUL in a literal");
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: `passwd` is plain old data; all-zero is a valid (empty) value for it.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and `buf.len()` is the size of `buf`.
    let rc = unsafe { libc::getpwnam_r(name.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return Err("this process runs as root, initdb refuses to run as root, and there is no \
             `postgres` OS user to run it as (create one: `useradd --system postgres`; \
             Debian's `postgresql` package creates it)"
            .to_string());
    }
    Ok((pwd.pw_uid, pwd.pw_gid))
}

/// A running throwaway cluster; dropping it stops the server (`-m immediate`) and deletes its
/// directory.
#[derive(Debug)]
pub(crate) struct TempCluster {
    dir: Option<tempfile::TempDir>,
    data: PathBuf,
    port: u16,
    bins: PgBins,
    /// The `postgres` user's (uid, gid) when this process runs as root.
    run_as: Option<(u32, u32)>,
    watchdog: Option<Child>,
}

/// Starts a throwaway cluster from the installed binaries (see the module docs).
#[cfg(test)]
pub(crate) fn start_temp_cluster() -> Result<TempCluster, String> {
    start_with(find_bins()?)
}

pub(crate) fn start_with(bins: PgBins) -> Result<TempCluster, String> {
    // SAFETY: geteuid has no preconditions.
    let run_as = if unsafe { libc::geteuid() } == 0 { Some(postgres_user()?) } else { None };
    // /tmp rather than $TMPDIR: it is reachable by the `postgres` user when we are root, and short
    // enough for the Unix socket path limit (~107 bytes) postgres also creates there.
    let base = if Path::new("/tmp").is_dir() { PathBuf::from("/tmp") } else { std::env::temp_dir() };
    let dir = tempfile::Builder::new()
        .prefix("switchyard-pg-")
        .tempdir_in(&base)
        .map_err(|e| format!("cannot create a temp dir in {}: {e}", base.display()))?;
    let root = dir.path().to_path_buf();
    if !root.to_string_lossy().chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)) {
        return Err(format!("temp dir path {} has characters pg_ctl -o cannot take", root.display()));
    }
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(&root, Some(uid), Some(gid))
            .map_err(|e| format!("cannot chown {} to the postgres user: {e}", root.display()))?;
    }
    let mut cluster = TempCluster { data: root.join("data"), dir: Some(dir), port: 0, bins, run_as, watchdog: None };
    cluster.watchdog = Some(cluster.spawn_watchdog()?);

    let initdb_log = root.join("initdb.log");
    let status = cluster
        .command(&cluster.bins.initdb())
        .arg("-D")
        .arg(&cluster.data)
        .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"])
        .stdout(log_file(&initdb_log)?)
        .stderr(log_file(&initdb_log)?)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", cluster.bins.initdb().display()))?;
    if !status.success() {
        return Err(format!("initdb failed ({status}):\n{}", tail(&initdb_log)));
    }

    let mut last_error = String::new();
    for _ in 0..START_ATTEMPTS {
        cluster.port = free_port()?;
        match cluster.pg_ctl_start() {
            Ok(()) => return Ok(cluster),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

impl TempCluster {
    /// The server URL, e.g. `postgres://postgres@127.0.0.1:40123`.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// The temp dir holding the data directory, logs and the socket.
    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        self.dir.as_ref().expect("present until drop").path()
    }

    /// The port the server listens on (127.0.0.1).
    #[cfg(test)]
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// A command for a PostgreSQL binary: run as the `postgres` user when we are root, in the temp
    /// dir, with no stdin, the C locale and none of the caller's `PG*` variables.
    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command.stdin(Stdio::null()).env("LC_ALL", "C");
        if let Some(dir) = &self.dir {
            command.current_dir(dir.path());
        }
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                command.env_remove(key);
            }
        }
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid).env("USER", "postgres").env("LOGNAME", "postgres");
            if let Some(dir) = &self.dir {
                command.env("HOME", dir.path());
            }
        }
        command
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let root = self.dir.as_ref().expect("present until drop").path();
        let out = root.join("pg_ctl.log");
        let server_log = root.join("postgres.log");
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on", self.port, root.display());
        let status = self
            .command(&self.bins.pg_ctl())
            .arg("start")
            .args(["-w", "-t", "60", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(&server_log)
            .arg("-o")
            .arg(&options)
            .stdout(log_file(&out)?)
            .stderr(log_file(&out)?)
            .status()
            .map_err(|e| format!("cannot run {}: {e}", self.bins.pg_ctl().display()))?;
        if status.success() {
            return Ok(());
        }
        self.pg_ctl_stop();
        Err(format!("pg_ctl start failed ({status}):\n{}\n--- server log:\n{}", tail(&out), tail(&server_log)))
    }

    fn pg_ctl_stop(&self) {
        if !self.data.join("postmaster.pid").exists() {
            return;
        }
        let _ = self
            .command(&self.bins.pg_ctl())
            .arg("stop")
            .args(["-m", "immediate", "-w", "-t", "30", "-D"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Spawns the watchdog described in the module docs.
    fn spawn_watchdog(&self) -> Result<Child, String> {
        let root = self.dir.as_ref().expect("present until drop").path();
        let script = r#"cat >/dev/null
"$0" stop -m immediate -w -t 30 -D "$1" >/dev/null 2>&1
rm -rf "$2""#;
        let mut command = self.command(Path::new("/bin/sh"));
        command
            .arg("-c")
            .arg(script)
            .arg(self.bins.pg_ctl())
            .arg(&self.data)
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: Ctrl-C on the test run must not kill it before it cleans up.
            .process_group(0);
        command.spawn().map_err(|e| format!("cannot start the cleanup watchdog (/bin/sh): {e}"))
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        self.pg_ctl_stop();
        drop(self.dir.take());
        // Closing the pipe lets the watchdog finish; it finds nothing left to do.
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
        }
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))
}

fn log_file(path: &Path) -> Result<File, String> {
    File::options().create(true).append(true).open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// The last lines of a log file, for error messages.
fn tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
