//! Network helpers for tests: an address of this machine that is not loopback, and a loopback
//! HTTP server that holds requests until the test opens it.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// An IPv4 address of this machine that is not loopback.
pub fn non_loopback_ipv4() -> Option<Ipv4Addr> {
    let mut found = None;
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we only read, then free once.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return None;
        }
        let mut cursor = list;
        while !cursor.is_null() {
            let addr = (*cursor).ifa_addr;
            if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET {
                let sin = &*(addr as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                if !ip.is_loopback() && !ip.is_unspecified() {
                    found = Some(ip);
                    break;
                }
            }
            cursor = (*cursor).ifa_next;
        }
        libc::freeifaddrs(list);
    }
    found
}

/// A loopback HTTP server that holds every request until it is opened, and records the path
/// of each: a function fetching from it stays running, without using CPU, for as long as a test
/// needs.
pub struct Gate {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    open: tokio::sync::watch::Sender<bool>,
    paths: Arc<Mutex<Vec<String>>>,
}

impl Gate {
    /// Starts the server on a free loopback port.
    pub async fn start() -> Gate {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("address").to_string();
        let (open, is_open) = tokio::sync::watch::channel(false);
        let paths = Arc::new(Mutex::new(Vec::new()));
        let seen = paths.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (mut is_open, seen) = (is_open.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_string();
                    let path = line.split(' ').nth(1).unwrap_or_default().to_string();
                    seen.lock().expect("paths").push(path);
                    if is_open.wait_for(|open| *open).await.is_err() {
                        return;
                    }
                    let reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        Gate { addr, open, paths }
    }

    /// Lets every held request, and every later one, through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// The path of every request received so far, in order.
    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().expect("paths").clone()
    }
}
