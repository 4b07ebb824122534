//! The PostgreSQL backend: several Switchyard nodes share one database.
//!
//! Nodes are stateless; everything they share lives in the database. Writes go through a few
//! group-commit writers per node ([`writer`], which explains the locking and the commit-order
//! log); reads use a connection pool. Statements are prepared once per connection and reused
//! (`prepare_cached`). Durability is the server's: a write is acknowledged after its COMMIT
//! returned, so with PostgreSQL's default `synchronous_commit = on` it is on disk first; the
//! `--durability` setting of SQLite does not apply here.

mod endpoints;
mod env;
mod functions;
mod jobs;
mod kv;
mod quotas;
mod schema;
mod subscriptions;
mod tables;
mod triggers;
mod writer;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use switchyard_model::{
    BucketRecord, DeadLetter, EndpointRecord, GrantRecord, InstanceKey, InstanceRecord, JobRecord, KvEntry, KvKeyInfo,
    LogRecord, MachineRecord, MachineSummary, MachineVersion, NodeRecord, PrincipalRecord, Role, RoleRecord, Segment,
    Seq, SpaceName, SpaceRecord, SpaceValue, SpaceValueKind, SubscriptionRecord, Timestamp, TokenRecord, TriggerRecord,
};
use tokio_postgres::NoTls;
use tokio_postgres::Row;

use crate::decode::{LogRow, RawLogRow, Text, segment, space};
use crate::error::StoreError;
use crate::group::{FailState, WriteQueue};
use crate::jobs::{JobQueueStats, ListJobs};
use crate::machines::MachineCache;
use crate::metrics::StoreMetrics;
use crate::streams::*;
use crate::types::*;
use crate::{FunctionRecord, FunctionSummary, InstanceCount, InvocationRecord, ListInstances, ListInvocations, Store};

pub use schema::SCHEMA_VERSION;

/// Options of [`PgStore::connect`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    pub url: String,
    /// Group-commit writers (each holds one connection).
    pub writers: usize,
    /// Connections for reads.
    pub readers: usize,
    /// Where the writers read the time they record (once per group).
    pub clock: crate::SharedClock,
}

impl PgOptions {
    /// Options with the default writer and reader counts.
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions { url: url.into(), writers: 4, readers: 8, clock: crate::SystemClock::shared() }
    }
}

/// The PostgreSQL store. Cheap to share behind an `Arc`.
pub struct PgStore {
    pool: Pool,
    writes: WriteQueue,
    writers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    metrics: StoreMetrics,
    failed: FailState,
    /// Bumped to make every writer drop its compiled machines before its next group.
    machines_epoch: Arc<AtomicU64>,
    /// How to open a connection of its own (for `LISTEN`, which a pooled one cannot hold).
    config: tokio_postgres::Config,
}

/// The URL without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl PgStore {
    /// Connects, migrates (under an advisory lock) and starts the writers.
    pub async fn connect(options: PgOptions) -> Result<PgStore, StoreError> {
        let shown = redacted(&options.url);
        let open_err = |message: String| StoreError::Open { path: shown.clone(), message };
        let mut config: tokio_postgres::Config =
            options.url.parse().map_err(|e| open_err(format!("not a PostgreSQL URL: {e}")))?;
        // A node that stalls inside a transaction holds row locks (log_head above all) that
        // every node waits on: the server ends such a transaction after 10 s, and dead peers
        // are noticed by TCP keepalives within a minute rather than hours.
        config
            .options("-c idle_in_transaction_session_timeout=10000")
            .connect_timeout(Duration::from_secs(10))
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .application_name("switchyard");
        let manager =
            Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.writers.max(1) + options.readers.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .recycle_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| open_err(e.to_string()))?;
        let mut client = pool.get().await.map_err(|e| open_err(format!("cannot connect: {e}")))?;
        schema::migrate(&mut client).await?;
        drop(client);

        let metrics = StoreMetrics::default();
        let failed = FailState::default();
        let (tx, rx) = flume::bounded(4096);
        let machines_epoch = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::new();
        for _ in 0..options.writers.max(1) {
            let writer = writer::Writer {
                pool: pool.clone(),
                connection: None,
                machines: MachineCache::default(),
                machines_epoch: machines_epoch.clone(),
                machines_seen: 0,
                metrics: metrics.clone(),
                failed: failed.clone(),
                carried: VecDeque::new(),
                clock: options.clock.clone(),
            };
            handles.push(tokio::spawn(writer.run(rx.clone())));
        }
        Ok(PgStore {
            pool,
            writes: WriteQueue(tx),
            writers: Mutex::new(handles),
            metrics,
            failed,
            machines_epoch,
            config,
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| StoreError::Unreachable(format!("no database connection: {e}")))
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query(&stmt, params).await?)
    }
}

const INSTANCE_COLUMNS: &str = "space, machine, id, machine_version, state, ctx, revision, created_at, updated_at, deleted_at, status, work, error, parent";

/// An instance; a context that cannot be read back marks it (see [`InstanceRecord::unreadable`]).
fn instance(row: &Row) -> Result<InstanceRecord, StoreError> {
    let (ctx, unreadable) = crate::decode::ctx(row.try_get::<_, &str>(5).map_err(|e| e.to_string()));
    Ok(InstanceRecord {
        space: space(row.get(0))?,
        machine: segment(row.get(1))?,
        id: segment(row.get(2))?,
        machine_version: crate::decode::machine_version(row.get::<_, i32>(3))?,
        state: row.get(4),
        ctx,
        revision: crate::decode::revision(row.get::<_, i64>(6))?,
        created_at: Timestamp(row.get(7)),
        updated_at: Timestamp(row.get(8)),
        deleted_at: row.get::<_, Option<i64>>(9).map(Timestamp),
        status: crate::decode::instance_status(row.get::<_, &str>(10)),
        work: crate::decode::instance_work(row.get::<_, Option<&str>>(11)),
        error: crate::decode::instance_error(row.get::<_, Option<&str>>(12)),
        parent: crate::decode::instance_parent(row.get::<_, Option<&str>>(13)),
        unreadable,
    })
}

pub(crate) const LOG_COLUMNS: &str = "seq, space, kind, address, payload, idempotency_key, created_at";

/// Reads a row of [`LOG_COLUMNS`] (at the same positions) and decodes it as far as it goes;
/// fails only when the row's seq cannot be read.
pub(crate) fn log_record(row: &Row) -> Result<LogRow, StoreError> {
    Ok(crate::decode::log_row(raw_log_row(row)?))
}

/// Reads the columns of a row of [`LOG_COLUMNS`] (at the same positions) without decoding them
/// (see `crate::decode::log_row`); fails only when the row's seq cannot be read.
pub(crate) fn raw_log_row(row: &Row) -> Result<RawLogRow, StoreError> {
    let text = |index: usize| match row.try_get::<_, &str>(index) {
        Ok(text) => Text::ok(text),
        Err(e) => Text::failed(e.to_string()),
    };
    let idempotency_key = match row.try_get::<_, Option<&str>>(5) {
        Ok(key) => key.map(Text::ok),
        Err(e) => Some(Text::failed(e.to_string())),
    };
    Ok(RawLogRow {
        seq: row.try_get(0)?,
        space: text(1),
        kind: text(2),
        address: text(3),
        payload: text(4),
        idempotency_key,
        created_at: row.try_get(6).map_err(|e| e.to_string()),
    })
}

const TOKEN_COLUMNS: &str =
    "id, name, secret_hash, role, spaces, created_at, revoked_at, principal, expires_at, session";

fn token(row: &Row) -> Result<TokenRecord, StoreError> {
    let role: &str = row.get(3);
    let spaces = crate::decode::space_grant(row.get::<_, &str>(4))?;
    Ok(TokenRecord {
        id: row.get(0),
        name: row.get(1),
        secret_hash: row.get(2),
        role: Role::parse(role).ok_or_else(|| StoreError::Corrupt(format!("token role \"{role}\"")))?,
        spaces,
        created_at: Timestamp(row.get(5)),
        revoked_at: row.get::<_, Option<i64>>(6).map(Timestamp),
        principal: row.get(7),
        expires_at: row.get::<_, Option<i64>>(8).map(Timestamp),
        session: row.get(9),
    })
}

/// Columns: id, kind, name, password_hash, failed_sign_ins, locked_until, created_at, org.
pub(super) const PRINCIPAL_COLUMNS: &str =
    "id, kind, name, password_hash, failed_sign_ins, locked_until, created_at, org";

pub(super) fn principal(row: &Row) -> Result<PrincipalRecord, StoreError> {
    Ok(PrincipalRecord {
        id: row.get(0),
        kind: crate::decode::principal_kind(row.get::<_, &str>(1))?,
        name: row.get(2),
        password_hash: row.get(3),
        failed_sign_ins: u32::try_from(row.get::<_, i32>(4)).unwrap_or(0),
        locked_until: row.get::<_, Option<i64>>(5).map(Timestamp),
        created_at: Timestamp(row.get(6)),
        org: row.get(7),
    })
}

/// Columns: id, principal, role, pattern, created_at.
pub(super) const GRANT_COLUMNS: &str = "id, principal, role, pattern, created_at";

pub(super) fn grant(row: &Row) -> Result<GrantRecord, StoreError> {
    Ok(GrantRecord {
        id: row.get(0),
        principal: row.get(1),
        role: row.get(2),
        pattern: row.get(3),
        created_at: Timestamp(row.get(4)),
    })
}

fn role(row: &Row) -> Result<RoleRecord, StoreError> {
    Ok(RoleRecord {
        name: row.get(0),
        permissions: serde_json::from_str(row.get::<_, &str>(1))
            .map_err(|e| StoreError::Corrupt(format!("role permissions: {e}")))?,
        updated_at: Timestamp(row.get(2)),
    })
}

fn decode_all<T>(rows: Vec<Row>, decode: fn(&Row) -> Result<T, StoreError>) -> Result<Vec<T>, StoreError> {
    rows.iter().map(decode).collect()
}

#[async_trait]
impl Store for PgStore {
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
        space_name: &SpaceName,
        name: &Segment,
        version: Option<MachineVersion>,
    ) -> Result<Option<MachineRecord>, StoreError> {
        let (s, n): (&str, &str) = (space_name.as_ref(), name.as_ref());
        let rows = match version {
            Some(v) => {
                self.query(
                    "SELECT version, definition, created_at FROM machines WHERE space = $1 AND name = $2 AND version = $3",
                    &[&s, &n, &(v.get() as i32)],
                )
                .await?
            }
            None => {
                self.query(
                    "SELECT version, definition, created_at FROM machines WHERE space = $1 AND name = $2
                     ORDER BY version DESC LIMIT 1",
                    &[&s, &n],
                )
                .await?
            }
        };
        let Some(row) = rows.first() else { return Ok(None) };
        Ok(Some(MachineRecord {
            space: space_name.clone(),
            name: name.clone(),
            version: crate::decode::machine_version(row.get::<_, i32>(0))?,
            definition: serde_json::from_str(row.get::<_, &str>(1))?,
            created_at: Timestamp(row.get(2)),
        }))
    }

    async fn list_machines(&self, space_name: &SpaceName) -> Result<Vec<MachineSummary>, StoreError> {
        let s: &str = space_name.as_ref();
        let rows = self
            .query(
                "SELECT DISTINCT ON (name) name, version, created_at FROM machines WHERE space = $1
                 ORDER BY name, version DESC",
                &[&s],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(MachineSummary {
                    name: segment(row.get(0))?,
                    version: crate::decode::machine_version(row.get::<_, i32>(1))?,
                    created_at: Timestamp(row.get(2)),
                })
            })
            .collect()
    }

    async fn get_instance(&self, key: &InstanceKey) -> Result<Option<InstanceRecord>, StoreError> {
        let sql = format!("SELECT {INSTANCE_COLUMNS} FROM instances WHERE space = $1 AND machine = $2 AND id = $3");
        let (s, m, i): (&str, &str, &str) = (key.space.as_ref(), key.machine.as_ref(), key.id.as_ref());
        let rows = self.query(&sql, &[&s, &m, &i]).await?;
        rows.first().map(|row| crate::decode::readable_instance(instance(row)?)).transpose()
    }

    async fn list_instances(&self, query: &ListInstances) -> Result<Vec<InstanceRecord>, StoreError> {
        // One statement per combination of filters, so the planner can use the indexes.
        let (s, m): (&str, &str) = (query.space.as_ref(), query.machine.as_ref());
        let limit = i64::from(query.limit);
        let filters = query.value_filters();
        let mut sql = format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances WHERE space = $1 AND machine = $2 AND deleted_at IS NULL"
        );
        for (i, (test, _)) in filters.iter().enumerate() {
            sql.push_str(&format!(" AND {test} ${}", i + 4));
        }
        if query.roots_only {
            sql.push_str(" AND parent IS NULL");
        }
        sql.push_str(if query.newest_first { " ORDER BY id DESC LIMIT $3" } else { " ORDER BY id LIMIT $3" });
        let values: Vec<&str> = filters.iter().map(|(_, v)| *v).collect();
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&s, &m, &limit];
        for value in &values {
            params.push(value);
        }
        let rows = self.query(&sql, &params).await?;
        decode_all(rows, instance)
    }

    async fn history(&self, address: &str, after: Seq, limit: u32) -> Result<Vec<LogRecord>, StoreError> {
        let Ok(after) = i64::try_from(after.0) else { return Ok(Vec::new()) };
        let sql = format!("SELECT {LOG_COLUMNS} FROM events WHERE address = $1 AND seq > $2 ORDER BY seq LIMIT $3");
        let rows = self.query(&sql, &[&address, &after, &i64::from(limit)]).await?;
        Ok(self.metrics.unreadable_records.place(decode_all(rows, log_record)?))
    }

    async fn log_bounds(&self) -> Result<Option<(Seq, Seq)>, StoreError> {
        let rows = self.query("SELECT min(seq), max(seq) FROM events", &[]).await?;
        let Some(row) = rows.first() else { return Ok(None) };
        let (oldest, newest): (Option<i64>, Option<i64>) = (row.get(0), row.get(1));
        Ok(oldest.zip(newest).map(|(o, n)| (Seq(o as u64), Seq(n as u64))))
    }

    async fn read_log(&self, after: Seq, limit: u32) -> Result<Vec<LogRecord>, StoreError> {
        // No reader-side filtering is needed: seqs become visible in commit order (see writer).
        let Ok(after) = i64::try_from(after.0) else { return Ok(Vec::new()) };
        let sql = format!("SELECT {LOG_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows = self.query(&sql, &[&after, &i64::from(limit)]).await?;
        Ok(self.metrics.unreadable_records.place(decode_all(rows, log_record)?))
    }

    async fn read_log_kinds(&self, after: Seq, kinds: &[&str], limit: u32) -> Result<LogKindsPage, StoreError> {
        let Ok(after_sql) = i64::try_from(after.0) else {
            return Ok(LogKindsPage { records: Vec::new(), through: after });
        };
        // The head first: rows committed after it wait for the next read (seqs become visible
        // in commit order, so nothing below the head can still appear).
        let head: Option<i64> =
            self.query("SELECT max(seq) FROM events", &[]).await?.first().and_then(|r| r.get::<_, Option<i64>>(0));
        let Some(head) = head.filter(|head| *head > after_sql) else {
            return Ok(LogKindsPage { records: Vec::new(), through: after });
        };
        let kinds: Vec<&str> = kinds.to_vec();
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM events WHERE seq > $1 AND seq <= $2 AND kind = ANY($3) ORDER BY seq LIMIT $4"
        );
        let rows = self.query(&sql, &[&after_sql, &head, &kinds, &i64::from(limit)]).await?;
        let records = self.metrics.unreadable_records.place(decode_all(rows, log_record)?);
        let through =
            if records.len() >= limit as usize { records.last().map_or(after, |r| r.seq) } else { Seq(head as u64) };
        Ok(LogKindsPage { records, through })
    }

    async fn list_spaces(&self) -> Result<Vec<SpaceRecord>, StoreError> {
        let rows = self.query("SELECT name, created_at FROM spaces ORDER BY name", &[]).await?;
        rows.iter().map(|row| Ok(SpaceRecord { name: space(row.get(0))?, created_at: Timestamp(row.get(1)) })).collect()
    }

    async fn find_token(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE secret_hash = $1");
        let rows = self.query(&sql, &[&secret_hash]).await?;
        rows.first().map(token).transpose()
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id");
        decode_all(self.query(&sql, &[]).await?, token)
    }

    async fn get_principal(&self, id: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        let sql = format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE id = $1");
        self.query(&sql, &[&id]).await?.first().map(principal).transpose()
    }

    async fn find_user(&self, name: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        let sql = format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE kind = 'user' AND name = $1");
        self.query(&sql, &[&name]).await?.first().map(principal).transpose()
    }

    async fn list_orgs(&self) -> Result<Vec<switchyard_model::OrgRecord>, StoreError> {
        let rows = self.query("SELECT name, created_at FROM orgs ORDER BY name", &[]).await?;
        Ok(rows
            .iter()
            .map(|r| switchyard_model::OrgRecord { name: r.get(0), created_at: Timestamp(r.get(1)) })
            .collect())
    }

    async fn list_principals(&self) -> Result<Vec<PrincipalRecord>, StoreError> {
        let sql = format!("SELECT {PRINCIPAL_COLUMNS} FROM principals ORDER BY created_at, id");
        decode_all(self.query(&sql, &[]).await?, principal)
    }

    async fn list_grants(&self, principal: Option<&str>) -> Result<Vec<GrantRecord>, StoreError> {
        let sql = format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE $1::text IS NULL OR principal = $1 ORDER BY created_at, id"
        );
        decode_all(self.query(&sql, &[&principal]).await?, grant)
    }

    async fn list_roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        decode_all(self.query("SELECT name, permissions, updated_at FROM roles ORDER BY name", &[]).await?, role)
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
        // PostgreSQL's autovacuum reclaims what retention deletes.
        Ok(())
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

    async fn listen_for_jobs(&self, wake: &(dyn Fn() + Send + Sync)) -> Result<(), StoreError> {
        jobs::listen(&self.config, wake).await
    }

    async fn instance_counts(&self, space: &SpaceName) -> Result<Vec<InstanceCount>, StoreError> {
        let rows = self
            .query(
                "SELECT machine, status, count(*) FILTER (WHERE parent IS NULL), count(*) FILTER (WHERE parent IS NOT NULL)
                 FROM instances WHERE space = $1 AND deleted_at IS NULL GROUP BY machine, status ORDER BY machine, status",
                &[&(space.as_ref() as &str)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| InstanceCount {
                machine: r.get(0),
                status: crate::decode::instance_status(r.get::<_, &str>(1)),
                roots: r.get::<_, i64>(2).max(0) as u64,
                children: r.get::<_, i64>(3).max(0) as u64,
            })
            .collect())
    }

    async fn job_queue_stats(&self, now: Timestamp) -> Result<Vec<JobQueueStats>, StoreError> {
        jobs::job_queue_stats(self, now).await
    }

    async fn list_nodes(&self, alive_since: Timestamp) -> Result<Vec<NodeRecord>, StoreError> {
        let rows = self
            .query(
                "SELECT id, address, started_at, heartbeat_at FROM nodes WHERE heartbeat_at >= $1 ORDER BY id",
                &[&alive_since.0],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| NodeRecord {
                id: row.get(0),
                address: row.get(1),
                started_at: Timestamp(row.get(2)),
                heartbeat_at: Timestamp(row.get(3)),
            })
            .collect())
    }

    fn forget_compiled_machines(&self) {
        // Each writer compares the epoch before every group; deletions are rare, so dropping
        // every writer's whole cache is cheaper than telling them which space went.
        self.machines_epoch.fetch_add(1, Ordering::SeqCst);
    }

    fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    fn check_health(&self) -> Result<(), StoreError> {
        if let Some(reason) = self.failed.reason() {
            return Err(StoreError::Failed(reason));
        }
        let writers = self.writers.lock().unwrap_or_else(|p| p.into_inner());
        if writers.is_empty() || writers.iter().any(|w| w.is_finished()) {
            return Err(StoreError::Closed);
        }
        Ok(())
    }

    async fn close(&self) {
        let handles = std::mem::take(&mut *self.writers.lock().unwrap_or_else(|p| p.into_inner()));
        // One shutdown message per writer: each serves what is queued before it, then stops.
        for _ in 0..handles.len() {
            self.writes.shutdown_one().await;
        }
        for handle in handles {
            // A writer stuck on an unresponsive database must not hold shutdown forever.
            if tokio::time::timeout(Duration::from_secs(30), handle).await.is_err() {
                tracing::warn!("a writer did not finish within 30 s of shutdown");
            }
        }
        self.pool.close();
    }
}
