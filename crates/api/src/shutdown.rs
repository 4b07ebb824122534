//! Shutdown as the handlers that outlive their request see it.
//!
//! An upgraded WebSocket is no longer an HTTP request: the server's connection tracking lets go
//! of it, so it must end itself. Invariant: every socket task holds a [`SocketGuard`] for its
//! whole life, so [`Shutdown::sockets_closed`] resolves only when each has sent its close frame
//! (or found its peer gone).

use std::sync::Arc;

use tokio::sync::watch;

/// Tells long-lived handlers that the server is stopping, and lets the server wait for them.
#[derive(Debug)]
pub struct Shutdown {
    stopping: watch::Sender<bool>,
    open_sockets: watch::Sender<usize>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown { stopping: watch::Sender::new(false), open_sockets: watch::Sender::new(0) }
    }
}

impl Shutdown {
    /// A signal that has not fired, with no socket open.
    pub fn new() -> Arc<Shutdown> {
        Arc::new(Shutdown::default())
    }

    /// Fires the signal: every socket task closes its socket.
    pub fn begin(&self) {
        self.stopping.send_replace(true);
    }

    /// Resolves once [`Shutdown::begin`] was called (at once if it was).
    pub async fn stopping(&self) {
        let mut rx = self.stopping.subscribe();
        // The sender lives in `self`, so the channel cannot close while this borrows it.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// Counts a socket task as open until the guard drops.
    pub fn socket_guard(self: &Arc<Self>) -> SocketGuard {
        self.open_sockets.send_modify(|n| *n += 1);
        SocketGuard { shutdown: self.clone() }
    }

    /// Sockets open now.
    pub fn open_sockets(&self) -> usize {
        *self.open_sockets.borrow()
    }

    /// Resolves once no socket task is open.
    pub async fn sockets_closed(&self) {
        let mut rx = self.open_sockets.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

/// Keeps a socket task counted as open; see [`Shutdown::socket_guard`].
#[derive(Debug)]
pub struct SocketGuard {
    shutdown: Arc<Shutdown>,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.shutdown.open_sockets.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sockets_closed_waits_for_every_guard() {
        let shutdown = Shutdown::new();
        let a = shutdown.socket_guard();
        let b = shutdown.socket_guard();
        assert_eq!(shutdown.open_sockets(), 2);
        drop(a);
        let waiting = tokio::time::timeout(Duration::from_millis(50), shutdown.sockets_closed()).await;
        assert!(waiting.is_err(), "resolved with a socket still open");
        drop(b);
        tokio::time::timeout(Duration::from_secs(5), shutdown.sockets_closed()).await.expect("all closed");
    }

    #[tokio::test]
    async fn stopping_resolves_after_begin_even_for_late_waiters() {
        let shutdown = Shutdown::new();
        let early = tokio::time::timeout(Duration::from_millis(50), shutdown.stopping()).await;
        assert!(early.is_err(), "resolved before begin");
        shutdown.begin();
        tokio::time::timeout(Duration::from_secs(5), shutdown.stopping()).await.expect("resolves after begin");
    }
}
