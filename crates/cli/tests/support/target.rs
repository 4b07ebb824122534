//! A loopback HTTP server for HTTP jobs: it answers from a script (the last answer repeats),
//! records every request's method, path and headers, counts connections, and can hold requests
//! until the test releases them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One canned answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: &'static str,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer { status, headers: Vec::new(), body: "{}" }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    /// The body (as long as `content-length` says).
    pub body: Vec<u8>,
}

/// The server; stops when dropped (with the test's runtime).
pub struct Target {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicU64>,
    open: tokio::sync::watch::Sender<bool>,
}

impl Target {
    /// Answers at once, from `script`.
    pub async fn start(script: Vec<Answer>) -> Target {
        let target = Target::held(script).await;
        target.release();
        target
    }

    /// Holds every request (after recording it) until [`Target::release`].
    pub async fn held(script: Vec<Answer>) -> Target {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        assert!(!script.is_empty(), "a script needs an answer");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("address").to_string();
        let (open, is_open) = tokio::sync::watch::channel(false);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicU64::new(0));
        let (log, count) = (seen.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (mut is_open, log, script) = (is_open.clone(), log.clone(), script.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(head.len()) + 4;
                    let mut body = head.split_off(end.min(head.len()));
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let mut lines = text.split("\r\n");
                    let mut request_line = lines.next().unwrap_or_default().split(' ');
                    let method = request_line.next().unwrap_or_default().to_string();
                    let path = request_line.next().unwrap_or_default().to_string();
                    let headers = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect::<BTreeMap<String, String>>();
                    let length = headers.get("content-length").and_then(|l| l.parse::<usize>().ok()).unwrap_or(0);
                    while body.len() < length {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => body.extend_from_slice(&buf[..n]),
                        }
                    }
                    let n = {
                        let mut log = log.lock().expect("requests");
                        log.push(Seen { method, path, headers, body });
                        log.len()
                    };
                    if is_open.wait_for(|open| *open).await.is_err() {
                        return;
                    }
                    let answer = &script[(n - 1).min(script.len() - 1)];
                    let mut reply = format!(
                        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                        answer.status,
                        answer.body.len()
                    );
                    for (name, value) in &answer.headers {
                        reply.push_str(&format!("{name}: {value}\r\n"));
                    }
                    reply.push_str("\r\n");
                    reply.push_str(answer.body);
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        Target { addr, seen, connections, open }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Lets every held request, and every later one, through.
    pub fn release(&self) {
        self.open.send_replace(true);
    }

    /// Every request received so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("requests").clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}
