//! Watching the event log: one tail per node, any number of watchers.
//!
//! The [`LogTail`] reads the store's log in seq order and broadcasts every record to the
//! node's watchers. It reads as soon as a local write committed (the engine wakes it) and
//! otherwise every poll interval, which is how writes made through other nodes sharing a
//! PostgreSQL database reach this node's watchers: the log is visible in commit order, so
//! tailing it by seq misses nothing.
//!
//! Decoding every record costs the node about a tenth of its CPU under a write load, so the tail
//! reads every record only while something receives them (a watcher, a waiting pull). Otherwise
//! local writes do not wake it, and each poll reads only the records the node's caches act on
//! ([`CACHE_KINDS`], broadcast on a channel of their own to the caches, whatever the mode),
//! moving past the rest without decoding them; a new receiver wakes it.
//! A receiver that subscribes while such a read is under way is not left without the records the
//! read skipped: after each read the tail looks again and, finding one, reads that stretch again
//! in full (receivers drop what they already passed on, so a record broadcast twice is harmless).
//!
//! A watcher never gets a gap or a duplicate:
//! - it subscribes to the broadcast *before* it replays from the store, so every record is
//!   either in the store when the replay reads it, or broadcast after the subscription;
//! - it remembers the last seq it passed on (`last`) and drops anything at or below it;
//! - whenever the broadcast skips ahead (a seq that is not `last + 1`) or reports that this
//!   watcher lagged behind its buffer, it catches up from the store before going on. A slow
//!   consumer therefore falls behind and catches up; it is never handed a gap.
//!
//! A record that cannot be read back never stops the tail or a watcher: the store returns it
//! in its place marked unreadable ([`LogRecord::unreadable`], reported once by the store), the
//! tail broadcasts it like any other, and only watchers of its own space receive it — as a
//! marker, after which they go on. A row that cannot even be placed in a space is left out by
//! the store; the seq it leaves missing is told apart from a trimmed one by the log's bounds.
//!
//! Both run under the engine's [`Supervisor`]: the tail is the long-lived task `log-tail`
//! (restarted if it fails; its position lives in the [`LogTail`], so a restart resumes where it
//! stopped), each watcher is in-flight work that ends when shutdown begins.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use switchyard_model::{AddressFilter, FUNCTION_DEPLOYED, LogFilter, LogRecord, Seq, SpaceName, kinds};
use switchyard_store::Store;
use tokio::sync::{Notify, broadcast, mpsc};

use crate::EngineError;
use crate::supervisor::{CancellationToken, Policy, Supervisor, TaskResult};

/// Records read from the store per query, in replays and catch-ups.
const PAGE: u32 = 500;

/// A log record as watchers receive it, with a slot for its encoded form: a record passed to
/// many watchers is encoded once, by whichever sends it first.
#[derive(Debug)]
pub struct WatchedRecord {
    record: LogRecord,
    encoded: std::sync::OnceLock<Box<str>>,
}

impl WatchedRecord {
    /// Wraps a record.
    pub fn new(record: LogRecord) -> WatchedRecord {
        WatchedRecord { record, encoded: std::sync::OnceLock::new() }
    }

    /// The record encoded by `encode`, which runs at most once per record (every caller must
    /// pass the same encoding).
    pub fn encoded(&self, encode: impl FnOnce(&LogRecord) -> String) -> &str {
        self.encoded.get_or_init(|| encode(&self.record).into_boxed_str())
    }
}

impl std::ops::Deref for WatchedRecord {
    type Target = LogRecord;

    fn deref(&self) -> &LogRecord {
        &self.record
    }
}

/// The kinds of record this node's caches act on, read even while nobody watches:
/// `space.deleted` (a space's compiled machines and functions are dropped),
/// `function.deployed` (the function's compiled component is dropped), `audit.quota_set`
/// (the space's quota is replaced), `audit.role_put` and `audit.role_deleted` (loaded
/// functions are dropped: a role they are granted may have changed).
pub const CACHE_KINDS: &[&str] = &[
    kinds::SPACE_DELETED,
    FUNCTION_DEPLOYED,
    kinds::AUDIT_QUOTA_SET,
    kinds::AUDIT_ROLE_PUT,
    kinds::AUDIT_ROLE_DELETED,
];

/// Records of [`CACHE_KINDS`] kept for a cache that falls behind (it forgets everything then).
const CACHE_BUFFER: usize = 64;

/// Reads the log and broadcasts it to this node's watchers.
pub struct LogTail {
    store: Arc<dyn Store>,
    records: broadcast::Sender<Arc<WatchedRecord>>,
    /// Records of [`CACHE_KINDS`], for the node's caches.
    cache_records: broadcast::Sender<Arc<WatchedRecord>>,
    wake: Notify,
    last: AtomicU64,
    /// Times a watcher on this node fell behind the live stream and went back to the store.
    catch_ups: AtomicU64,
}

impl LogTail {
    /// Starts tailing after the log's current end, as `supervisor`'s task `log-tail`; `buffer`
    /// records are kept for watchers that fall behind before they must catch up from the store.
    pub async fn start(
        store: Arc<dyn Store>,
        buffer: usize,
        poll_every: Duration,
        supervisor: &Supervisor,
    ) -> Result<Arc<LogTail>, EngineError> {
        let last = store.log_bounds().await?.map(|(_, newest)| newest.0).unwrap_or(0);
        let (records, _) = broadcast::channel(buffer.max(1));
        let (cache_records, _) = broadcast::channel(CACHE_BUFFER);
        let tail = Arc::new(LogTail {
            store,
            records,
            cache_records,
            wake: Notify::new(),
            last: AtomicU64::new(last),
            catch_ups: AtomicU64::new(0),
        });
        let task = tail.clone();
        supervisor.spawn_named("log-tail", Policy::Restart, move |cancel| {
            let task = task.clone();
            async move { task.run(poll_every, cancel).await }
        });
        Ok(tail)
    }

    /// Asks the tail to read the log now (a local write committed), if anything receives every
    /// record. The caches need no wake: a local change to what they hold is applied by the
    /// engine call that made it, so the poll only has to bring other nodes' changes.
    pub fn wake(&self) {
        if self.records.receiver_count() > 0 {
            self.wake.notify_one();
        }
    }

    /// Announces every record read from now on (for watchers and waiting pulls). While a
    /// receiver lives, the tail decodes every record; drop it when done waiting.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchedRecord>> {
        let receiver = self.records.subscribe();
        // The tail may be behind by up to a poll while nobody received every record: it catches
        // up now, not at the next write.
        self.wake.notify_one();
        receiver
    }

    /// Announces the records of [`CACHE_KINDS`] read from now on (for the node's caches); a
    /// receiver that lags has missed some.
    pub fn subscribe_cache_kinds(&self) -> broadcast::Receiver<Arc<WatchedRecord>> {
        self.cache_records.subscribe()
    }

    /// The last seq broadcast.
    pub fn last_seq(&self) -> Seq {
        Seq(self.last.load(Ordering::Acquire))
    }

    /// Times since start a watcher fell behind the live stream (it lagged past the buffer or saw a
    /// seq skip) and caught up from the store: a rising count means consumers slower than the log.
    pub fn catch_ups(&self) -> u64 {
        self.catch_ups.load(Ordering::Relaxed)
    }

    /// Reads and broadcasts until cancelled. A failed read is retried at the next poll, not
    /// returned: the supervisor restarts only what panics.
    async fn run(&self, poll_every: Duration, cancel: CancellationToken) -> TaskResult {
        let mut failing = Failing::default();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(poll_every) => {}
            }
            match self.read_to_end().await {
                Ok(()) => failing.recovered(),
                Err(e) => failing.failed(&e),
            }
        }
    }

    /// Reads and broadcasts up to the log's end as it is now.
    async fn read_to_end(&self) -> Result<(), switchyard_store::StoreError> {
        loop {
            let after = self.last_seq();
            if self.records.receiver_count() > 0 {
                if !self.read_every_record(after, after).await? {
                    return Ok(());
                }
                continue;
            }
            let page = self.store.read_log_kinds(after, CACHE_KINDS, PAGE).await?;
            let mut more = page.records.len() == PAGE as usize;
            for record in page.records {
                // No receivers is fine: no cache is running.
                let _ = self.cache_records.send(Arc::new(WatchedRecord::new(record)));
            }
            if self.records.receiver_count() > 0 {
                // Subscribed while this read skipped records: read that stretch again in full
                // (its cache records went out already), then go on as usual.
                let mut at = after;
                while at < page.through && self.read_every_record(at, page.through).await? {
                    at = self.last_seq();
                }
                more = true;
            }
            if self.last_seq() < page.through {
                self.last.store(page.through.0, Ordering::Release);
            }
            if !more {
                return Ok(());
            }
        }
    }

    /// Reads one page of every record after `after` and broadcasts it, the records of
    /// [`CACHE_KINDS`] past `caches_after` to the caches too; `true` when the page was full.
    async fn read_every_record(&self, after: Seq, caches_after: Seq) -> Result<bool, switchyard_store::StoreError> {
        let page = self.store.read_log(after, PAGE).await?;
        let full = page.len() == PAGE as usize;
        for record in page {
            self.last.store(record.seq.0, Ordering::Release);
            let record = Arc::new(WatchedRecord::new(record));
            if record.seq > caches_after && CACHE_KINDS.contains(&record.kind.as_str()) {
                let _ = self.cache_records.send(record.clone());
            }
            // No receivers is fine: the watcher left.
            let _ = self.records.send(record);
        }
        Ok(full)
    }
}

/// How often a failure that lasts is logged again while the tail retries every poll.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(60);

/// The tail's run of failed reads, so a failure that lasts (the database is down) is logged
/// when it starts, once a minute while it lasts and when it ends, not at every poll.
#[derive(Default)]
struct Failing {
    since: Option<std::time::Instant>,
    logged: Option<std::time::Instant>,
    failures: u64,
}

impl Failing {
    fn failed(&mut self, error: &switchyard_store::StoreError) {
        let now = std::time::Instant::now();
        self.failures += 1;
        self.since.get_or_insert(now);
        if self.logged.is_none_or(|at| now.duration_since(at) >= FAILURE_LOG_EVERY) {
            self.logged = Some(now);
            tracing::warn!(error = %error, failures = self.failures, "reading the log for watchers failed; retrying");
        }
    }

    fn recovered(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::info!(
                failures = self.failures,
                after = ?since.elapsed(),
                "reading the log for watchers works again"
            );
            *self = Failing::default();
        }
    }
}

/// What a watch passes on: the store's log filter, shared with durable subscriptions.
pub type WatchFilter = LogFilter;

/// Parses an address pattern (`acme:orders:o-1`, `acme:orders:*`, `*`) for `space`.
pub fn parse_address_pattern(space: &SpaceName, pattern: Option<&str>) -> Result<AddressFilter, EngineError> {
    let Some(pattern) = pattern.filter(|p| !p.is_empty() && *p != "*") else { return Ok(AddressFilter::Any) };
    let in_space = pattern == space.as_ref() as &str || pattern.starts_with(&format!("{space}:"));
    if !in_space {
        return Err(EngineError::validation(format!(
            "address: \"{pattern}\" is not in space \"{space}\" (a pattern is space:name[:name…], optionally ending in *)"
        )));
    }
    Ok(match pattern.strip_suffix('*') {
        Some(prefix) if !prefix.contains('*') => AddressFilter::Prefix(prefix.to_string()),
        Some(_) => return Err(EngineError::validation("address: only a trailing * is allowed")),
        None if pattern.contains('*') => {
            return Err(EngineError::validation("address: only a trailing * is allowed"));
        }
        None => AddressFilter::Exact(pattern.to_string()),
    })
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFrom {
    /// With the first record committed after the watch started.
    Now,
    /// With the first record whose seq is above this one (replaying what is stored).
    After(Seq),
}

/// Streams the records `filter` passes, from `from`, until the receiver is dropped or shutdown
/// begins (the stream then just ends). Errors reading the store end the stream with the error.
pub(crate) async fn watch(
    tail: Arc<LogTail>,
    filter: WatchFilter,
    from: WatchFrom,
    capacity: usize,
    supervisor: &Supervisor,
) -> Result<mpsc::Receiver<Result<Arc<WatchedRecord>, EngineError>>, EngineError> {
    // Subscribed before anything is read: see the module docs.
    let mut live = tail.subscribe();
    let mut last = match from {
        // Everything committed before the watch started is left out: the newest seq is read
        // from the store (after subscribing, so what commits next is still caught).
        WatchFrom::Now => tail.store.log_bounds().await?.map(|(_, newest)| newest).unwrap_or(Seq(0)),
        WatchFrom::After(seq) => {
            if let Some((oldest, _)) = tail.store.log_bounds().await?
                && seq.0.saturating_add(1) < oldest.0
            {
                return Err(EngineError::SeqExpired { oldest });
            }
            seq
        }
    };
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let cancel = supervisor.token();
    let feed = async move {
        let send = |record: Arc<WatchedRecord>| {
            let tx = tx.clone();
            async move { tx.send(Ok(record)).await.is_ok() }
        };
        // Replay, then live; back to the store whenever the live stream skips or lags.
        let mut catching_up = true;
        loop {
            if catching_up {
                loop {
                    let page = match tail.store.read_log(last, PAGE).await {
                        Ok(page) => page,
                        Err(e) => {
                            let _ = tx.send(Err(EngineError::Store(e))).await;
                            return;
                        }
                    };
                    let full = page.len() == PAGE as usize;
                    // Seqs have no holes but the ones retention makes and rows the store
                    // could not place in any space (it leaves those out): a jump past records
                    // the log no longer keeps means the records this watcher still needed were
                    // trimmed while it lagged.
                    if let Some(first) = page.first()
                        && first.seq.0 != last.0 + 1
                    {
                        let trimmed = match tail.store.log_bounds().await {
                            Ok(bounds) => bounds.is_none_or(|(oldest, _)| oldest.0 > last.0 + 1),
                            Err(e) => {
                                let _ = tx.send(Err(EngineError::Store(e))).await;
                                return;
                            }
                        };
                        if trimmed {
                            let oldest = first.seq;
                            let _ = tx.send(Err(EngineError::SeqExpired { oldest })).await;
                            return;
                        }
                    }
                    for record in page {
                        last = record.seq;
                        if filter.matches(&record) && !send(Arc::new(WatchedRecord::new(record))).await {
                            return;
                        }
                    }
                    if !full {
                        break;
                    }
                }
                catching_up = false;
            }
            let received = tokio::select! {
                received = live.recv() => received,
                // The watcher went away while nothing it wants was written.
                _ = tx.closed() => return,
            };
            match received {
                Ok(record) if record.seq <= last => {}
                Ok(record) if record.seq.0 == last.0 + 1 => {
                    last = record.seq;
                    if filter.matches(&record) && !send(record).await {
                        return;
                    }
                }
                // Skipped ahead: what lies between is in the store.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    tail.catch_ups.fetch_add(1, Ordering::Relaxed);
                    catching_up = true;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    };
    supervisor
        .spawn_work("watch", async move {
            cancel.run_until_cancelled(feed).await;
        })
        .map_err(|_| EngineError::ShuttingDown)?;
    Ok(rx)
}
