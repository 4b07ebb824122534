//! Starts the real `switchyard` binary for integration tests.
//!
//! Each `TestServer` owns a fresh data directory (unless given one) and listens on a port the
//! OS picked (`--listen 127.0.0.1:0`); the server prints `listening on http://ADDR` (or
//! `https://ADDR`) on stdout once it accepts connections, which is how the harness learns the
//! address. A server started with `--tls-cert` is reached through [`TestServer::ca_cert`].
#![allow(dead_code)]

pub mod http;
pub mod net;
pub mod run;
pub mod sse;
pub mod target;

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `switchyard serve` process; SIGKILLed on drop.
pub struct TestServer {
    child: Option<Child>,
    /// Base URL, e.g. `http://127.0.0.1:41234` (`https://…` with `--tls-cert`).
    pub url: String,
    /// The CA the clients of [`TestServer::client`] trust besides the system's (set it for a
    /// server started with `--tls-cert`).
    pub ca_cert: Option<PathBuf>,
    /// The data directory the server uses.
    pub data_dir: PathBuf,
    /// The admin token the server created on first start.
    pub admin_token: String,
    _temp: Option<tempfile::TempDir>,
}

/// Path of the binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_switchyard")
}

/// The binary under test as a command with only PATH, HOME and TMPDIR of the environment: a
/// developer's SWITCHYARD_STORE, SWITCHYARD_LISTEN or RUST_LOG must not change what a test runs
/// against. Every test that starts the binary starts it through this (or [`TestServer`]).
pub fn command() -> Command {
    let mut command = Command::new(binary());
    command.env_clear();
    for kept in ["PATH", "HOME", "TMPDIR"] {
        if let Some(value) = std::env::var_os(kept) {
            command.env(kept, value);
        }
    }
    command
}

impl TestServer {
    /// Starts a server on a fresh data directory.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    /// Starts a server on a fresh data directory with extra `serve` arguments.
    pub fn start_with(extra_args: &[&str]) -> TestServer {
        let temp = tempfile::tempdir().expect("create temp dir");
        let mut server = TestServer::start_in(temp.path(), extra_args);
        server._temp = Some(temp);
        server
    }

    /// Starts a server on `data_dir` with extra `serve` arguments.
    pub fn start_in(data_dir: &Path, extra_args: &[&str]) -> TestServer {
        TestServer::spawn(data_dir, extra_args, None, &[])
    }

    /// Starts a server on `data_dir` with extra `serve` arguments and extra environment
    /// variables on top of the cleared environment (e.g. `LD_PRELOAD` for a fault-injecting shim).
    pub fn start_in_with_env(data_dir: &Path, extra_args: &[&str], env: &[(String, OsString)]) -> TestServer {
        TestServer::spawn(data_dir, extra_args, None, env)
    }

    /// Starts another node of a cluster whose admin token is already known (only the first
    /// node to bootstrap a shared store writes `admin.token`).
    pub fn start_node(data_dir: &Path, extra_args: &[&str], admin_token: &str) -> TestServer {
        TestServer::spawn(data_dir, extra_args, Some(admin_token.to_string()), &[])
    }

    fn spawn(
        data_dir: &Path,
        extra_args: &[&str],
        admin_token: Option<String>,
        env: &[(String, OsString)],
    ) -> TestServer {
        let mut command = command();
        command.envs(env.iter().map(|(name, value)| (name, value)));
        let mut child = command
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn switchyard serve");
        let url = listening_url(&mut child);
        let token_path = data_dir.join("admin.token");
        let admin_token = admin_token.unwrap_or_else(|| {
            let what = format!("the admin token at {}", token_path.display());
            switchyard_testkit::wait_until_blocking(&what, switchyard_testkit::PATIENCE, || {
                std::fs::read_to_string(&token_path).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
            })
        });
        TestServer {
            child: Some(child),
            url,
            ca_cert: None,
            data_dir: data_dir.to_path_buf(),
            admin_token,
            _temp: None,
        }
    }

    /// Sends SIGKILL and waits for the process to go.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        let pid = i32::try_from(child.id()).expect("pid fits in i32");
        // SAFETY: kill(2) with a pid we spawned and still own (not yet waited for).
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        child.wait().expect("wait for the server")
    }

    /// A client authenticated with the admin token.
    pub fn client(&self) -> switchyard_client::Client {
        self.client_with(&self.admin_token)
    }

    /// A client with `token`.
    pub fn client_with(&self, token: &str) -> switchyard_client::Client {
        let builder = switchyard_client::Client::builder(&self.url).token(Some(token.to_string()));
        match &self.ca_cert {
            Some(ca) => builder.ca_cert_file(ca).expect("CA certificate"),
            None => builder,
        }
        .build()
        .expect("client")
    }

    /// A gRPC client authenticated with the admin token (the same port as HTTP).
    pub fn grpc(&self) -> switchyard_client::grpc::GrpcClient {
        self.grpc_with(Some(&self.admin_token))
    }

    /// A gRPC client with `token`, or with none.
    pub fn grpc_with(&self, token: Option<&str>) -> switchyard_client::grpc::GrpcClient {
        let builder = switchyard_client::Client::builder(&self.url).token(token.map(str::to_string));
        match &self.ca_cert {
            Some(ca) => builder.ca_cert_file(ca).expect("CA certificate"),
            None => builder,
        }
        .build_grpc()
        .expect("gRPC client")
    }

    /// A `switchyard` CLI command aimed at this server with the admin token, isolated from the
    /// user's config file and environment.
    pub fn cli(&self) -> Command {
        let mut cmd = Command::new(binary());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.data_dir)
            .env("SWITCHYARD_SERVER", &self.url)
            .env("SWITCHYARD_TOKEN", &self.admin_token)
            .stdin(Stdio::null());
        cmd
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The URL a spawned `switchyard serve` (stdout piped) announces on its `listening on` line;
/// fails the test after 60 s without it.
pub fn listening_url(child: &mut Child) -> String {
    // Every test starts a server first: from here on a plain `reqwest::Client::new()` works
    // (reqwest is built without a crypto provider of its own).
    switchyard_client::install_crypto_provider();
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent && let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send(url.trim().to_string());
                sent = true;
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("server did not print its address within 60 s")
}

/// One unlabelled gauge or counter from a server's `/metrics`.
pub async fn gauge(client: &switchyard_client::Client, name: &str) -> f64 {
    series(client, name).await.unwrap_or_else(|| panic!("no gauge {name} in /metrics"))
}

/// One series from a server's `/metrics`, named as exported (`name` or `name{label="v",…}`);
/// `None` while it does not exist (a labelled series appears on first use).
pub async fn series(client: &switchyard_client::Client, series: &str) -> Option<f64> {
    let text = client.metrics().await.expect("metrics");
    text.lines().find_map(|l| {
        l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())
    })
}
