//! The embedded backend: one SQLite file in WAL mode.
//!
//! Layout in the data directory: `switchyard.db` (plus SQLite's `-wal` and `-shm` files) and a
//! `LOCK` file held with an exclusive lock for as long as the store is open, so two servers
//! can never write one store (the single-writer design depends on it).
//!
//! Writes go to the writer thread ([`writer`]); reads go to a few reader threads, each with its
//! own read-only connection, so no SQLite call ever runs on a reactor thread.
//! WAL mode lets readers proceed while the writer commits; a reader sees only committed data.
//!
//! Every `LIMIT` takes its bound value as `LIMIT +?N`, never `LIMIT ?N`: SQLite plans a bare
//! bound `LIMIT` with the value bound (for its LIMIT optimisations), which makes every execution
//! of a cached statement with a new binding prepare the statement again — 2.7% of the server's
//! CPU in the log tail's reads alone. The unary plus keeps the value out of the plan. A test
//! below keeps the backend's SQL to it.

mod address_index;
mod checkpoint;
mod endpoints;
mod env;
mod functions;
mod jobs;
mod kv;
mod quotas;
mod rows;
mod schema;
mod subscriptions;
mod tables;
mod triggers;
mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use switchyard_model::{
    BucketRecord, DeadLetter, EndpointRecord, GrantRecord, InstanceKey, InstanceRecord, JobRecord, KvEntry, KvKeyInfo,
    LogRecord, MachineRecord, MachineSummary, MachineVersion, NodeRecord, PrincipalRecord, RoleRecord, Segment, Seq,
    SpaceName, SpaceRecord, SpaceValue, SpaceValueKind, SubscriptionRecord, Timestamp, TokenRecord, TriggerRecord,
};

use crate::error::StoreError;
use crate::jobs::{JobQueueStats, ListJobs};
use crate::machines::MachineCache;
use crate::metrics::StoreMetrics;
use crate::streams::*;
use crate::types::*;
use crate::{
    Durability, FunctionRecord, FunctionSummary, InstanceCount, InvocationRecord, ListInstances, ListInvocations, Store,
};

pub use schema::SCHEMA_VERSION;

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "switchyard.db";

/// Reader threads, each with its own read-only connection: more would only queue inside SQLite
/// on a machine of a few cores.
const READER_THREADS: usize = 4;

/// Reads waiting for a reader thread before callers wait to queue more.
const READ_QUEUE: usize = 1024;

/// How long a connection waits for a lock another connection holds, in milliseconds.
const BUSY_TIMEOUT_MS: u64 = 5_000;

/// The size the WAL file is truncated back to whenever it is reset, in bytes.
const JOURNAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// The writer's page cache (KiB). Small on purpose: SQLite's B-tree balancing renumbers pages
/// through a scratch page number past the end of the file, and every commit after that walks
/// the cache's whole hash table to drop it (`pcache1TruncateUnsafe`), so each commit costs time
/// in proportion to the cache. At 64 MiB that walk was 14% of the writer's time under
/// `bench jobs`; 8 MiB holds the tails of the log and the job indexes, which is what writes
/// touch, and keeps the server's memory flat however many rows the store holds.
const WRITER_CACHE_KIB: u32 = 8 * 1024;

/// Options of [`SqliteStore::open`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The data directory (created if missing).
    pub data_dir: PathBuf,
    /// When writes are durable.
    pub durability: Durability,
    /// Where the writer reads the time it records (once per group).
    pub clock: crate::SharedClock,
}

/// The SQLite store. Cheap to share behind an `Arc`.
pub struct SqliteStore {
    writes: crate::group::WriteQueue,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Arc<ReaderPool>,
    metrics: StoreMetrics,
    failed: crate::group::FailState,
    _lock: File,
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the store in `options.data_dir`.
    pub fn open(options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let dir = &options.data_dir;
        let open_err = |message: String| StoreError::Open { path: dir.display().to_string(), message };
        std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        let lock = File::create(dir.join("LOCK")).map_err(|e| open_err(format!("LOCK file: {e}")))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(open_err("another switchyard process has this data directory open".into()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(open_err(format!("LOCK file: {e}"))),
        }
        let db_path = dir.join(DB_FILE);
        let mut conn = Connection::open(&db_path).map_err(|e| open_err(e.to_string()))?;
        // Incremental auto-vacuum (so retention can give trimmed pages back) takes effect only
        // while the file has no header yet, and switching to WAL writes the header: it comes
        // first. On an existing file it does nothing; `schema::migrate` then VACUUMs once.
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL").map_err(|e| open_err(e.to_string()))?;
        // Under fsync and batch the writer fsyncs the WAL itself (see `writer`), so commits
        // need no sync of their own; NORMAL still syncs around checkpoints.
        let synchronous = match options.durability {
            Durability::Fsync | Durability::Batch { .. } => "NORMAL",
            Durability::None => "OFF",
        };
        // `journal_size_limit` truncates the WAL file back to that size whenever it is reset,
        // so it shrinks after a burst even when no TRUNCATE checkpoint could run.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = {synchronous};
             PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
             PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT};
             PRAGMA cache_size = -{WRITER_CACHE_KIB};
             PRAGMA temp_store = MEMORY;"
        ))
        .map_err(|e| open_err(e.to_string()))?;
        schema::migrate(&mut conn)?;
        // In place of SQLite's automatic checkpoint (see `checkpoint`).
        conn.wal_hook(Some(checkpoint::note_wal_pages));
        let checkpointer = checkpoint::Checkpointer::start(&db_path, synchronous)?;
        let next_seq = next_seq(&conn)?;
        let next_offset: i64 =
            conn.query_row("SELECT coalesce((SELECT end_offset FROM events ORDER BY seq DESC LIMIT 1), 0)", [], |r| {
                r.get(0)
            })?;
        let metrics = StoreMetrics::default();
        let failed = crate::group::FailState::default();
        let addresses = address_index::AddressIndex::load(&conn, next_seq.saturating_sub(1))?;
        let writer = writer::Writer {
            conn,
            next_seq,
            next_offset: next_offset.max(0) as u64,
            machines: MachineCache::default(),
            metrics: metrics.clone(),
            durability: options.durability,
            wal: writer::WalFile::new(dir.join(format!("{DB_FILE}-wal"))),
            failed: failed.clone(),
            clock: options.clock.clone(),
            checkpointer,
            addresses,
        };
        let (tx, rx) = flume::bounded(4096);
        let handle = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| open_err(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            writes: crate::group::WriteQueue(tx),
            writer_thread: Mutex::new(Some(handle)),
            readers: Arc::new(ReaderPool::start(db_path).map_err(|e| open_err(e.to_string()))?),
            metrics,
            failed,
            _lock: lock,
        })
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let _ = reply.send(f(conn));
        });
        self.readers.jobs.send_async(job).await.map_err(|_| StoreError::Closed)?;
        // The reply is dropped unanswered only when the read panicked (logged as a bug).
        answer.await.map_err(|_| StoreError::Internal("a bug stopped this read; see the server log".into()))?
    }
}

fn next_seq(conn: &Connection) -> Result<u64, StoreError> {
    let max_logged: Option<i64> = conn.query_row("SELECT max(seq) FROM events", [], |r| r.get(0))?;
    let recorded: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| r.get(0)).optional()?;
    if recorded.is_none() {
        conn.execute("INSERT INTO meta (key, value) VALUES ('last_seq', '0')", [])?;
    }
    let recorded: u64 = recorded
        .map(|v| v.parse().map_err(|_| StoreError::Corrupt(format!("meta last_seq \"{v}\""))))
        .transpose()?
        .unwrap_or(0);
    Ok(recorded.max(max_logged.unwrap_or(0).max(0) as u64) + 1)
}

/// A read, run on a reader thread with that thread's connection.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// Reader threads draining one queue of reads. A thread that finds more reads queued takes
/// the next one without sleeping, so under load a read costs no thread wake-up of its own
/// (a `spawn_blocking` per read costs two context switches, which dominated point reads).
struct ReaderPool {
    path: PathBuf,
    jobs: flume::Sender<ReadJob>,
}

impl ReaderPool {
    /// Opens every reader's connection (so a failure is reported at open) and starts the
    /// threads; they end when the pool is dropped.
    fn start(path: PathBuf) -> Result<ReaderPool, StoreError> {
        let (jobs, queue) = flume::bounded::<ReadJob>(READ_QUEUE);
        for n in 0..READER_THREADS {
            let conn = open_reader(&path)?;
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{n}"))
                .spawn(move || {
                    while let Ok(job) = queue.recv() {
                        // A panic (a bug) drops the job's reply, which answers its caller.
                        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&conn))) {
                            crate::group::panic_text(&panic);
                        }
                    }
                })
                .map_err(|e| StoreError::Backend(format!("cannot start a reader thread: {e}")))?;
        }
        Ok(ReaderPool { path, jobs })
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.execute_batch(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}; PRAGMA query_only = ON;"))?;
    Ok(conn)
}

/// A space's live instances by machine and status, roots apart: read from `instances_by_status`
/// alone (a covering index: no row is read, a test checks the plan).
const INSTANCE_COUNTS: &str = "SELECT machine, status, sum(parent IS NULL), sum(parent IS NOT NULL)
     FROM instances INDEXED BY instances_by_status
     WHERE space = ?1 AND deleted_at IS NULL GROUP BY machine, status ORDER BY machine, status";

#[async_trait]
impl Store for SqliteStore {
    async fn write(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        let outcome = self.writes.write(op).await;
        self.metrics.unreadable_records.report_outcomes(outcome.iter());
        outcome
    }

    async fn write_atomic(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>, StoreError> {
        let outcomes = self.writes.write_atomic(ops).await;
        self.metrics.unreadable_records.report_outcomes(outcomes.iter().flatten());
        outcomes
    }

    async fn get_machine(
        &self,
        space: &SpaceName,
        name: &Segment,
        version: Option<MachineVersion>,
    ) -> Result<Option<MachineRecord>, StoreError> {
        let (space, name) = (space.clone(), name.clone());
        self.read(move |conn| {
            let row: Option<(u32, String, i64)> = match version {
                Some(v) => conn
                    .prepare_cached("SELECT version, definition, created_at FROM machines WHERE space = ?1 AND name = ?2 AND version = ?3")?
                    .query_row(params![space.as_ref(), name.as_ref(), v.get()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?,
                None => conn
                    .prepare_cached(
                        "SELECT version, definition, created_at FROM machines WHERE space = ?1 AND name = ?2 ORDER BY version DESC LIMIT 1",
                    )?
                    .query_row(params![space.as_ref(), name.as_ref()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?,
            };
            let Some((version, definition, created_at)) = row else { return Ok(None) };
            Ok(Some(MachineRecord {
                space,
                name,
                version: rows::machine_version(version)?,
                definition: serde_json::from_str(&definition)?,
                created_at: Timestamp(created_at),
            }))
        })
        .await
    }

    async fn list_machines(&self, space: &SpaceName) -> Result<Vec<MachineSummary>, StoreError> {
        let space = space.clone();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT m.name, m.version, m.created_at FROM machines m
                 WHERE m.space = ?1 AND m.version = (SELECT max(version) FROM machines WHERE space = m.space AND name = m.name)
                 ORDER BY m.name",
            )?;
            let mut rows = stmt.query(params![space.as_ref()])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(MachineSummary {
                    name: rows::segment(row.get(0)?)?,
                    version: rows::machine_version(row.get::<_, u32>(1)?)?,
                    created_at: Timestamp(row.get(2)?),
                });
            }
            Ok(out)
        })
        .await
    }

    async fn get_instance(&self, key: &InstanceKey) -> Result<Option<InstanceRecord>, StoreError> {
        let key = key.clone();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {} FROM instances WHERE space = ?1 AND machine = ?2 AND id = ?3",
                rows::INSTANCE_COLUMNS
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![key.space.as_ref(), key.machine.as_ref(), key.id.as_ref()])?;
            match rows.next()? {
                Some(row) => Ok(Some(crate::decode::readable_instance(rows::instance(row)?)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list_instances(&self, query: &ListInstances) -> Result<Vec<InstanceRecord>, StoreError> {
        let query = query.clone();
        self.read(move |conn| {
            // One statement per combination of filters: SQLite plans a statement once, so
            // `(?3 IS NULL OR state = ?3)` would stop it from using either index.
            let filters = query.value_filters();
            let mut sql = format!(
                "SELECT {} FROM instances WHERE space = ?1 AND machine = ?2 AND deleted_at IS NULL",
                rows::INSTANCE_COLUMNS
            );
            for (i, (test, _)) in filters.iter().enumerate() {
                sql.push_str(&format!(" AND {test} ?{}", i + 4));
            }
            if query.roots_only {
                sql.push_str(" AND parent IS NULL");
            }
            sql.push_str(if query.newest_first { " ORDER BY id DESC LIMIT +?3" } else { " ORDER BY id LIMIT +?3" });
            let mut stmt = conn.prepare_cached(&sql)?;
            let (space, machine): (&str, &str) = (query.space.as_ref(), query.machine.as_ref());
            let mut params: Vec<&dyn rusqlite::ToSql> = vec![&space, &machine, &query.limit];
            let values: Vec<&str> = filters.iter().map(|(_, v)| *v).collect();
            for value in &values {
                params.push(value);
            }
            let mut rows = stmt.query(params.as_slice())?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(rows::instance(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn history(&self, address: &str, after: Seq, limit: u32) -> Result<Vec<LogRecord>, StoreError> {
        let Ok(after) = i64::try_from(after.0) else { return Ok(Vec::new()) };
        let address = address.to_string();
        self.read(move |conn| {
            // The address's rows of `event_addresses`, then the tail of the log after the mark
            // that applies to it (see `address_index`), in one statement so the rows, the tail
            // and the mark between them come from one snapshot.
            let sql = format!(
                "SELECT {cols} FROM events
                  WHERE seq IN (SELECT seq FROM event_addresses WHERE address = ?1 AND seq > ?2 ORDER BY seq LIMIT +?3)
                 UNION ALL
                 SELECT {cols} FROM events
                  WHERE seq > max(?2, (SELECT CASE WHEN ?1 < done_address THEN pass_through
                                                   WHEN ?1 = done_address THEN done_seq
                                                   ELSE indexed_through END
                                         FROM address_index))
                    AND address = ?1
                 ORDER BY seq LIMIT +?3",
                cols = rows::LOG_COLUMNS,
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![address, after, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(rows::log_record(row)?);
            }
            Ok(out)
        })
        .await
        .map(|rows| self.metrics.unreadable_records.place(rows))
    }

    async fn log_bounds(&self) -> Result<Option<(Seq, Seq)>, StoreError> {
        self.read(|conn| {
            let (oldest, newest): (Option<i64>, Option<i64>) =
                conn.query_row("SELECT min(seq), max(seq) FROM events", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(oldest.zip(newest).map(|(o, n)| (Seq(o as u64), Seq(n as u64))))
        })
        .await
    }

    async fn read_log(&self, after: Seq, limit: u32) -> Result<Vec<LogRecord>, StoreError> {
        let Ok(after) = i64::try_from(after.0) else { return Ok(Vec::new()) };
        self.read(move |conn| {
            let sql = format!("SELECT {} FROM events WHERE seq > ?1 ORDER BY seq LIMIT +?2", rows::LOG_COLUMNS);
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![after, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(rows::log_record(row)?);
            }
            Ok(out)
        })
        .await
        .map(|rows| self.metrics.unreadable_records.place(rows))
    }

    async fn read_log_kinds(&self, after: Seq, kinds: &[&str], limit: u32) -> Result<LogKindsPage, StoreError> {
        let Ok(after_sql) = i64::try_from(after.0) else {
            return Ok(LogKindsPage { records: Vec::new(), through: after });
        };
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        let (rows, head) = self
            .read(move |conn| {
                // The head first: rows committed after it wait for the next read.
                let head: Option<i64> =
                    conn.prepare_cached("SELECT max(seq) FROM events")?.query_row([], |r| r.get(0))?;
                let Some(head) = head.filter(|head| *head > after_sql) else { return Ok((Vec::new(), None)) };
                if kinds.is_empty() {
                    return Ok((Vec::new(), Some(head)));
                }
                let placeholders = (0..kinds.len()).map(|i| format!("?{}", i + 4)).collect::<Vec<_>>().join(", ");
                let sql = format!(
                    "SELECT {} FROM events WHERE seq > ?1 AND seq <= ?2 AND kind IN ({placeholders}) ORDER BY seq LIMIT +?3",
                    rows::LOG_COLUMNS
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut params: Vec<&dyn rusqlite::ToSql> = vec![&after_sql, &head, &limit];
                params.extend(kinds.iter().map(|k| k as &dyn rusqlite::ToSql));
                let mut rows = stmt.query(params.as_slice())?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(rows::log_record(row)?);
                }
                Ok((out, Some(head)))
            })
            .await?;
        let records = self.metrics.unreadable_records.place(rows);
        let through = match head {
            None => after,
            Some(_) if records.len() >= limit as usize => records.last().map_or(after, |r| r.seq),
            Some(head) => Seq(head as u64),
        };
        Ok(LogKindsPage { records, through })
    }

    async fn list_spaces(&self) -> Result<Vec<SpaceRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT name, created_at FROM spaces ORDER BY name")?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(SpaceRecord { name: rows::space(row.get(0)?)?, created_at: Timestamp(row.get(1)?) });
            }
            Ok(out)
        })
        .await
    }

    async fn find_token(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let secret_hash = secret_hash.to_string();
        self.read(move |conn| {
            let sql = format!("SELECT {} FROM tokens WHERE secret_hash = ?1", rows::TOKEN_COLUMNS);
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![secret_hash])?;
            match rows.next()? {
                Some(row) => Ok(Some(rows::token(row)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {} FROM tokens ORDER BY created_at, id", rows::TOKEN_COLUMNS);
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(rows::token(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn get_principal(&self, id: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| {
            let sql = format!("SELECT {} FROM principals WHERE id = ?1", rows::PRINCIPAL_COLUMNS);
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![id])?;
            rows.next()?.map(rows::principal).transpose()
        })
        .await
    }

    async fn find_user(&self, name: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        let name = name.to_string();
        self.read(move |conn| {
            let sql = format!("SELECT {} FROM principals WHERE kind = 'user' AND name = ?1", rows::PRINCIPAL_COLUMNS);
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![name])?;
            rows.next()?.map(rows::principal).transpose()
        })
        .await
    }

    async fn list_orgs(&self) -> Result<Vec<switchyard_model::OrgRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT name, created_at FROM orgs ORDER BY name")?;
            let rows = stmt.query_map([], |r| {
                Ok(switchyard_model::OrgRecord { name: r.get(0)?, created_at: Timestamp(r.get(1)?) })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn list_principals(&self) -> Result<Vec<PrincipalRecord>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {} FROM principals ORDER BY created_at, id", rows::PRINCIPAL_COLUMNS);
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(rows::principal(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn list_grants(&self, principal: Option<&str>) -> Result<Vec<GrantRecord>, StoreError> {
        let principal = principal.map(str::to_string);
        self.read(move |conn| {
            let sql = format!(
                "SELECT {} FROM grants WHERE ?1 IS NULL OR principal = ?1 ORDER BY created_at, id",
                rows::GRANT_COLUMNS
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![principal])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(rows::grant(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn list_roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT name, permissions, updated_at FROM roles ORDER BY name")?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(rows::role(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn list_quotas(&self) -> Result<Vec<(String, switchyard_model::quotas::Quota)>, StoreError> {
        quotas::list_quotas(self).await
    }

    async fn space_holdings(&self, space: &str) -> Result<switchyard_model::quotas::Holdings, StoreError> {
        quotas::space_holdings(self, space).await
    }

    async fn space_meters(&self, space: &str) -> Result<switchyard_model::quotas::Meters, StoreError> {
        quotas::space_meters(self, space).await
    }

    async fn get_bucket(&self, space: &SpaceName, bucket: &Segment) -> Result<Option<BucketRecord>, StoreError> {
        kv::get_bucket(self, space, bucket).await
    }

    async fn space_values(&self, space: &SpaceName, kind: SpaceValueKind) -> Result<Vec<SpaceValue>, StoreError> {
        env::values(self, space, kind, None).await
    }

    async fn space_value(
        &self,
        space: &SpaceName,
        kind: SpaceValueKind,
        name: &Segment,
    ) -> Result<Option<SpaceValue>, StoreError> {
        Ok(env::values(self, space, kind, Some(name)).await?.pop())
    }

    async fn list_buckets(&self, space: &SpaceName) -> Result<Vec<BucketRecord>, StoreError> {
        kv::list_buckets(self, space).await
    }

    async fn kv_get(&self, space: &SpaceName, bucket: &Segment, key: &str) -> Result<Option<KvEntry>, StoreError> {
        kv::get(self, space, bucket, key).await
    }

    async fn kv_history(
        &self,
        space: &SpaceName,
        bucket: &Segment,
        key: &str,
        limit: u32,
    ) -> Result<Vec<KvEntry>, StoreError> {
        kv::history(self, space, bucket, key, limit).await
    }

    async fn list_keys(&self, query: &ListKeys) -> Result<Vec<KvKeyInfo>, StoreError> {
        kv::list_keys(self, query).await
    }

    async fn get_subscription(
        &self,
        space: &SpaceName,
        name: &Segment,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        subscriptions::get(self, space, name).await
    }

    async fn list_subscriptions(&self, space: &SpaceName) -> Result<Vec<SubscriptionRecord>, StoreError> {
        subscriptions::list(self, space).await
    }

    async fn dead_letters(
        &self,
        space: &SpaceName,
        name: &Segment,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        subscriptions::dead_letters(self, space, name, after, limit).await
    }

    async fn get_function(
        &self,
        space: &SpaceName,
        name: &Segment,
        version: Option<u64>,
    ) -> Result<Option<FunctionRecord>, StoreError> {
        functions::get(self, space, name, version).await
    }

    async fn list_functions(&self, space: &SpaceName) -> Result<Vec<FunctionSummary>, StoreError> {
        functions::list(self, space).await
    }

    async fn function_versions(&self, space: &SpaceName, name: &Segment) -> Result<Vec<FunctionSummary>, StoreError> {
        functions::versions(self, space, name).await
    }

    async fn get_invocation(&self, space: &SpaceName, id: &str) -> Result<Option<InvocationRecord>, StoreError> {
        functions::get_invocation(self, space, id).await
    }

    async fn list_invocations(&self, query: &ListInvocations) -> Result<Vec<InvocationRecord>, StoreError> {
        functions::list_invocations(self, query).await
    }

    async fn log_stats(&self) -> Result<LogStats, StoreError> {
        subscriptions::log_stats(self).await
    }
    async fn compact(&self) -> Result<(), StoreError> {
        self.writes.compact().await
    }

    async fn get_job(&self, space: &SpaceName, id: &str) -> Result<Option<JobRecord>, StoreError> {
        jobs::get_job(self, space.as_str(), id).await
    }

    async fn list_jobs(&self, query: &ListJobs) -> Result<Vec<JobRecord>, StoreError> {
        jobs::list_jobs(self, query).await
    }

    async fn trigger_jobs(
        &self,
        space: &SpaceName,
        trigger: &Segment,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        jobs::trigger_jobs(self, space, trigger, before, limit).await
    }

    async fn get_trigger(&self, space: &SpaceName, name: &Segment) -> Result<Option<TriggerRecord>, StoreError> {
        Ok(triggers::triggers(self, space, Some(name)).await?.pop())
    }

    async fn list_triggers(&self, space: &SpaceName) -> Result<Vec<TriggerRecord>, StoreError> {
        triggers::triggers(self, space, None).await
    }

    async fn endpoint_jobs(
        &self,
        space: &SpaceName,
        endpoint: &Segment,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        jobs::endpoint_jobs(self, space, endpoint, before, limit).await
    }

    async fn get_endpoint(&self, space: &SpaceName, name: &Segment) -> Result<Option<EndpointRecord>, StoreError> {
        Ok(endpoints::endpoints(self, space, Some(name)).await?.pop())
    }

    async fn list_endpoints(&self, space: &SpaceName) -> Result<Vec<EndpointRecord>, StoreError> {
        endpoints::endpoints(self, space, None).await
    }

    async fn next_job_wakeup(&self) -> Result<Option<Timestamp>, StoreError> {
        jobs::next_job_wakeup(self).await
    }

    async fn instance_counts(&self, space: &SpaceName) -> Result<Vec<InstanceCount>, StoreError> {
        let space = space.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(INSTANCE_COUNTS)?;
            let rows = stmt.query_map(params![space], |r| {
                Ok(InstanceCount {
                    machine: r.get(0)?,
                    status: crate::decode::instance_status(&r.get::<_, String>(1)?),
                    roots: r.get::<_, i64>(2)?.max(0) as u64,
                    children: r.get::<_, i64>(3)?.max(0) as u64,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn job_queue_stats(&self, now: Timestamp) -> Result<Vec<JobQueueStats>, StoreError> {
        jobs::job_queue_stats(self, now).await
    }

    async fn list_nodes(&self, alive_since: Timestamp) -> Result<Vec<NodeRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, address, started_at, heartbeat_at FROM nodes WHERE heartbeat_at >= ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query(params![alive_since.0])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(NodeRecord {
                    id: row.get(0)?,
                    address: row.get(1)?,
                    started_at: Timestamp(row.get(2)?),
                    heartbeat_at: Timestamp(row.get(3)?),
                });
            }
            Ok(out)
        })
        .await
    }

    fn forget_compiled_machines(&self) {
        // One node and one writer: the writer that deleted a space dropped its machines then.
    }

    fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    fn check_health(&self) -> Result<(), StoreError> {
        if let Some(reason) = self.failed.reason() {
            return Err(StoreError::Failed(reason));
        }
        let thread = self.writer_thread.lock().unwrap_or_else(|p| p.into_inner());
        match thread.as_ref() {
            Some(handle) if !handle.is_finished() => Ok(()),
            _ => Err(StoreError::Closed),
        }
    }

    async fn close(&self) {
        // The writer serves what is queued before the shutdown message, then ends its loop and
        // drops the receiver, so later writes fail with `Closed`.
        self.writes.shutdown_one().await;
        let handle = self.writer_thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    /// See the module docs: a bare bound `LIMIT` re-prepares its statement at every execution.
    #[test]
    fn no_statement_binds_a_bare_limit() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sqlite");
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).expect("the backend's sources") {
            let path = entry.expect("a directory entry").path();
            let text = std::fs::read_to_string(&path).expect("a source file");
            files += 1;
            for (n, line) in text.lines().enumerate() {
                let bare = line
                    .match_indices("LIMIT ?")
                    .any(|(i, _)| line[i + "LIMIT ?".len()..].starts_with(|c: char| c.is_ascii_digit()));
                assert!(!bare, "{}:{}: write LIMIT +?N, not LIMIT ?N", path.display(), n + 1);
            }
        }
        assert!(files > 5, "the backend's sources were not found in {}", dir.display());
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    #[test]
    fn instances_are_counted_from_the_index_alone() {
        let mut conn = Connection::open_in_memory().expect("open");
        schema::migrate(&mut conn).expect("migrate");
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {INSTANCE_COUNTS}"))
            .expect("explain")
            .query_map(["acme"], |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(plan, ["SEARCH instances USING COVERING INDEX instances_by_status (space=?)"], "{plan:?}");
    }
}
