//! WAL checkpoints off the writer's thread.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold, so the
//! writer, and every request queued behind it, waits while the WAL's pages are copied into the
//! database file and that file is fsynced: the longer the WAL, the cheaper a checkpoint is per
//! write (a page rewritten a hundred times is copied once) but the longer that stall. Here a
//! thread of its own, with a connection of its own, copies the bulk (`PRAGMA
//! wal_checkpoint(PASSIVE)`, which runs beside the writer: WAL mode allows one checkpoint and one
//! writer at once), and the writer only finishes what was appended meanwhile.
//!
//! Why the writer finishes: SQLite starts the WAL over from its beginning (instead of growing it)
//! only when a write begins after every frame was copied, and a background pass under a steady
//! load never copies the frames written while it ran. So when a pass ends, the writer (between
//! groups, after the last group's replies went out) runs a passive checkpoint of its own, which
//! copies only that tail — or asks for another background pass while the tail is still long.
//!
//! Invariants:
//! - At most one background pass runs at a time; the writer never waits for one.
//! - The writer learns the WAL's length from SQLite's WAL hook (set on its connection in place
//!   of the automatic checkpoint, which it therefore disables), recorded in a thread-local
//!   since the hook takes no state and runs on the thread that commits.
//! - A failed pass is logged and retried by a later commit; the WAL keeps every frame until some
//!   checkpoint copies it, so a failure costs WAL length, never data.

use std::cell::Cell;
use std::ffi::c_int;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::thread::JoinHandle;

use rusqlite::Connection;
use rusqlite::hooks::Wal;

use crate::error::StoreError;

/// WAL pages past which a background pass starts (8 MiB of 4 KiB pages; SQLite's automatic
/// threshold is 1,000). Longer passes copy less per write (the pages writes touch are rewritten
/// constantly), but on two cores a pass's burst of copying competes with the requests: under
/// `bench events` 8,192 pages cost a p999 of 18 ms against 14 ms at 2,048, for the same CPU.
pub(super) const CHECKPOINT_PAGES: i32 = 2048;

/// Pages appended during a background pass that the writer copies itself; a longer tail gets
/// another background pass first.
const WRITER_TAIL_PAGES: i32 = 1024;

thread_local! {
    /// Pages in the WAL after the last commit on this thread's connection.
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

/// The WAL hook of the writer's connection: records the WAL's length after each commit.
pub(super) fn note_wal_pages(_: &Wal, pages: c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|p| p.set(pages));
    Ok(())
}

/// Pages in the WAL after the last commit made on this thread.
pub(super) fn wal_pages() -> i32 {
    WAL_PAGES.with(Cell::get)
}

/// What the writer and the checkpoint thread share.
struct Shared {
    /// A background pass is under way.
    running: AtomicBool,
    /// WAL pages the last finished pass copied up to; -1 when the writer has seen it already.
    finished: AtomicI64,
}

/// The checkpoint thread, as the writer drives it.
pub(super) struct Checkpointer {
    requests: Option<flume::Sender<()>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens the thread's connection to the database at `path` (with the writer's
    /// `synchronous`, so a checkpoint syncs as the writer's would) and starts the thread.
    pub fn start(path: &Path, synchronous: &str) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = {};",
            super::BUSY_TIMEOUT_MS
        ))?;
        let shared = Arc::new(Shared { running: AtomicBool::new(false), finished: AtomicI64::new(-1) });
        let (requests, queue) = flume::bounded::<()>(1);
        let state = shared.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while queue.recv().is_ok() {
                    let covered = match checkpoint(&conn) {
                        Ok(covered) => covered,
                        Err(e) => {
                            tracing::warn!(error = %e, "a WAL checkpoint failed; a later commit retries it");
                            -1
                        }
                    };
                    state.finished.store(covered, Ordering::Release);
                    state.running.store(false, Ordering::Release);
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { requests: Some(requests), shared, thread: Some(thread) })
    }

    /// Called by the writer after a commit left `pages` in the WAL: starts a background pass
    /// when one is due, and answers whether the writer should copy the tail itself now.
    pub fn after_commit(&self, pages: i32) -> bool {
        if self.shared.running.load(Ordering::Acquire) {
            return false;
        }
        let finished = self.shared.finished.swap(-1, Ordering::AcqRel);
        if finished >= 0 && i64::from(pages) - finished <= i64::from(WRITER_TAIL_PAGES) {
            return true;
        }
        if (finished >= 0 || pages >= CHECKPOINT_PAGES)
            && let Some(requests) = &self.requests
        {
            self.shared.running.store(true, Ordering::Release);
            if requests.try_send(()).is_err() {
                self.shared.running.store(false, Ordering::Release);
            }
        }
        false
    }

    /// Stops the thread, waiting for a pass under way to end.
    pub fn stop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One passive checkpoint on `conn`; answers the WAL pages it copied up to (all of them but
/// those a reader still needed, which a later pass copies).
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        let (_busy, _log, copied): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        Ok(copied)
    })
}

/// The writer's own passive checkpoint of the tail a background pass left (see the module
/// docs); a failure is logged, as a background pass's is.
pub(super) fn finish_on_writer(conn: &Connection) {
    if let Err(e) = checkpoint(conn) {
        tracing::warn!(error = %e, "a WAL checkpoint failed; a later commit retries it");
    }
}
