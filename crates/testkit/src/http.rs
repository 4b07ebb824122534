//! A loopback HTTP server for tests of outgoing HTTP: it answers every request with `200` and
//! a fixed body, and counts the connections it accepted (so a test can check that a refused
//! request reached nothing).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Starts the server on a free loopback port; returns its `host:port` and the connection count.
pub async fn counting_http_server(body: &'static str) -> (String, Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("the bound address").to_string();
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    (addr, accepted)
}
