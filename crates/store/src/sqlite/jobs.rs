//! The work table on SQLite: SQL only. The writer thread serialises every job op, so "locked"
//! reads need no locking and "skip rows others hold" has no one else to skip.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
use switchyard_model::{JobRecord, Segment, SpaceName, Timestamp, endpoint_address, trigger_address};

use crate::error::StoreError;
use crate::jobs::*;
use crate::sqlite::SqliteStore;
use crate::sqlite::tables::SqliteTx;
use crate::tables::{JobTable, TxResult};

fn raw(row: &Row<'_>) -> rusqlite::Result<RawJob> {
    Ok(RawJob {
        id: row.get(0)?,
        space: row.get(1)?,
        kind: row.get(2)?,
        target: row.get(3)?,
        payload: row.get(4)?,
        status: row.get(5)?,
        priority: row.get(6)?,
        concurrency_key: row.get(7)?,
        idempotency_key: row.get(8)?,
        run_at: row.get(9)?,
        attempt: row.get(10)?,
        lease_until: row.get(11)?,
        lease_owner: row.get(12)?,
        retry: row.get(13)?,
        created_at: row.get(14)?,
        updated_at: row.get(15)?,
        finished_at: row.get(16)?,
        last_error: row.get(17)?,
        result: row.get(18)?,
        attempts: row.get(19)?,
    })
}

fn query_jobs(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<JobRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(raw(row)?.decode()?);
    }
    Ok(out)
}

fn one_job(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Option<JobRecord>, StoreError> {
    let row = conn.prepare_cached(sql)?.query_row(params, raw).optional()?;
    row.map(RawJob::decode).transpose()
}

/// Keeps a refusal a refusal and a database error a storage failure.
fn tx_err(e: StoreError) -> crate::tables::TxError {
    match e {
        StoreError::Backend(_) => crate::tables::TxError::Storage { error: e, retry: false },
        other => crate::tables::TxError::Refused(other),
    }
}

impl JobTable for SqliteTx<'_> {
    async fn job_by_key(&mut self, space: &str, key: &str) -> TxResult<Option<JobRecord>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE space = ?1 AND idempotency_key = ?2");
        one_job(self.conn, &sql, params![space, key]).map_err(tx_err)
    }

    async fn job_for_update(&mut self, space: &str, id: &str) -> TxResult<Option<JobRecord>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND space = ?2");
        one_job(self.conn, &sql, params![id, space]).map_err(tx_err)
    }

    async fn insert_job(&mut self, job: &JobRecord) -> TxResult<()> {
        let c = JobColumns::of(job)?;
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            ))?
            .execute(params![
                job.id,
                job.space.as_str(),
                job.kind.as_str(),
                job.target,
                c.payload,
                job.status.as_str(),
                job.priority,
                job.concurrency_key,
                job.idempotency_key,
                job.run_at.0,
                job.attempt,
                job.lease_until.map(|t| t.0),
                job.lease_owner,
                c.retry,
                job.created_at.0,
                job.updated_at.0,
                job.finished_at.map(|t| t.0),
                c.last_error,
                c.result,
                c.attempts,
            ])?;
        Ok(())
    }

    async fn update_job(&mut self, job: &JobRecord) -> TxResult<()> {
        let c = JobColumns::of(job)?;
        self.conn
            .prepare_cached(
                "UPDATE jobs SET payload = ?1, status = ?2, run_at = ?3, attempt = ?4, lease_until = ?5,
                   lease_owner = ?6, updated_at = ?7, finished_at = ?8, last_error = ?9, result = ?10, attempts = ?11
                 WHERE id = ?12 AND space = ?13",
            )?
            .execute(params![
                c.payload,
                job.status.as_str(),
                job.run_at.0,
                job.attempt,
                job.lease_until.map(|t| t.0),
                job.lease_owner,
                job.updated_at.0,
                job.finished_at.map(|t| t.0),
                c.last_error,
                c.result,
                c.attempts,
                job.id,
                job.space.as_str(),
            ])?;
        Ok(())
    }

    async fn update_jobs(&mut self, jobs: &[JobRecord]) -> TxResult<()> {
        for job in jobs {
            self.update_job(job).await?;
        }
        Ok(())
    }

    async fn delete_job(&mut self, space: &str, id: &str) -> TxResult<()> {
        self.conn.prepare_cached("DELETE FROM jobs WHERE id = ?1 AND space = ?2")?.execute(params![id, space])?;
        Ok(())
    }

    async fn held_jobs_for_update(&mut self, owner: &str, ids: &[String]) -> TxResult<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs
             WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'running' AND lease_owner = ?2 ORDER BY id"
        );
        let ids = serde_json::to_string(ids)?;
        query_jobs(self.conn, &sql, params![ids, owner]).map_err(tx_err)
    }

    async fn purge_jobs(&mut self, before: Timestamp, limit: u32) -> TxResult<u64> {
        // The predicate repeats `jobs_finished`'s, so SQLite walks that index.
        let n = self
            .conn
            .prepare_cached(
                "DELETE FROM jobs WHERE id IN
                   (SELECT id FROM jobs INDEXED BY jobs_finished
                    WHERE status IN ('succeeded', 'cancelled') AND finished_at < ?1
                    ORDER BY finished_at LIMIT +?2)",
            )?
            .execute(params![before.0, limit])?;
        Ok(n as u64)
    }

    async fn expired_jobs_for_update(&mut self, now: Timestamp, limit: u32) -> TxResult<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'running' AND lease_until <= ?1 ORDER BY lease_until LIMIT +?2"
        );
        query_jobs(self.conn, &sql, params![now.0, limit]).map_err(tx_err)
    }

    async fn spaces_with_pending_jobs(&mut self) -> TxResult<Vec<String>> {
        // A skip scan of `jobs_queue`: one probe per space, however many jobs each has. Named,
        // because the planner would otherwise walk `jobs_by_space`, through every finished job.
        let mut stmt = self.conn.prepare_cached(
            "WITH RECURSIVE s(space) AS (
               SELECT (SELECT min(space) FROM jobs INDEXED BY jobs_queue WHERE status = 'pending')
               UNION ALL
               SELECT (SELECT min(space) FROM jobs INDEXED BY jobs_queue WHERE status = 'pending' AND space > s.space)
               FROM s WHERE s.space IS NOT NULL
             ) SELECT space FROM s WHERE space IS NOT NULL",
        )?;
        let spaces = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(spaces)
    }

    async fn due_jobs_for_update(&mut self, space: &str, now: Timestamp, limit: u32) -> TxResult<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs
             WHERE space = ?1 AND status = 'pending' AND run_at <= ?2 ORDER BY priority DESC, run_at LIMIT +?3"
        );
        query_jobs(self.conn, &sql, params![space, now.0, limit]).map_err(tx_err)
    }

    async fn running_jobs(&mut self, now: Timestamp) -> TxResult<BTreeMap<String, u32>> {
        // Named: for the GROUP BY the planner prefers `jobs_by_space`, a walk through every
        // finished job of every space, on every lease round.
        let mut stmt = self.conn.prepare_cached(
            "SELECT space, count(*) FROM jobs INDEXED BY jobs_running
             WHERE status = 'running' AND lease_until > ?1 AND coalesce(concurrency_key, '') <> 'log-consumer'
             GROUP BY space",
        )?;
        let rows = stmt.query_map(params![now.0], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (space, n) = row?;
            out.insert(space, u32::try_from(n).unwrap_or(u32::MAX));
        }
        Ok(out)
    }

    async fn extend_job_leases(&mut self, owner: &str, ids: &[String], until: Timestamp) -> TxResult<u64> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE jobs SET lease_until = ?1 WHERE id = ?2 AND status = 'running' AND lease_owner = ?3",
        )?;
        let mut n = 0;
        for id in ids {
            n += stmt.execute(params![until.0, id, owner])? as u64;
        }
        Ok(n)
    }

    async fn dead_jobs_for_update(&mut self, space: &str, kind: Option<&str>, limit: u32) -> TxResult<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE space = ?1 AND status = 'dead' AND (?2 IS NULL OR kind = ?2)
             ORDER BY id LIMIT +?3"
        );
        query_jobs(self.conn, &sql, params![space, kind, limit]).map_err(tx_err)
    }
}

/// [`crate::Store::get_job`].
pub(crate) async fn get_job(store: &SqliteStore, space: &str, id: &str) -> Result<Option<JobRecord>, StoreError> {
    let (space, id) = (space.to_string(), id.to_string());
    store
        .read(move |conn| {
            let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND space = ?2");
            one_job(conn, &sql, params![id, space])
        })
        .await
}

/// [`crate::Store::list_jobs`].
pub(crate) async fn list_jobs(store: &SqliteStore, query: &ListJobs) -> Result<Vec<JobRecord>, StoreError> {
    let query = query.clone();
    store
        .read(move |conn| {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs
                 WHERE space = ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR kind = ?3) AND id > ?4
                 ORDER BY id LIMIT +?5"
            );
            query_jobs(
                conn,
                &sql,
                params![
                    query.space.as_str(),
                    query.status.map(|s| s.as_str()),
                    query.kind,
                    query.after_id.unwrap_or_default(),
                    query.limit
                ],
            )
        })
        .await
}

/// [`crate::Store::trigger_jobs`].
pub(crate) async fn trigger_jobs(
    store: &SqliteStore,
    space: &SpaceName,
    trigger: &Segment,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<JobRecord>, StoreError> {
    let (space, target) = (space.to_string(), trigger_address(space.as_str(), trigger.as_ref()));
    let before = before.map(str::to_string);
    store
        .read(move |conn| {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs
                 WHERE space = ?1 AND kind = 'trigger' AND target = ?2 AND (?3 IS NULL OR id < ?3)
                 ORDER BY id DESC LIMIT +?4"
            );
            query_jobs(conn, &sql, params![space, target, before, limit])
        })
        .await
}

/// [`crate::Store::endpoint_jobs`].
pub(crate) async fn endpoint_jobs(
    store: &SqliteStore,
    space: &SpaceName,
    endpoint: &Segment,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<JobRecord>, StoreError> {
    let (space, target) = (space.to_string(), endpoint_address(space.as_str(), endpoint.as_ref()));
    let before = before.map(str::to_string);
    store
        .read(move |conn| {
            // `kind` is written out so that the partial index `jobs_by_endpoint` applies.
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs
                 WHERE space = ?1 AND kind = 'delivery' AND target = ?2 AND (?3 IS NULL OR id < ?3)
                 ORDER BY id DESC LIMIT +?4"
            );
            query_jobs(conn, &sql, params![space, target, before, limit])
        })
        .await
}

/// [`crate::Store::next_job_wakeup`].
pub(crate) async fn next_job_wakeup(store: &SqliteStore) -> Result<Option<Timestamp>, StoreError> {
    store
        .read(|conn| {
            let at: Option<i64> = conn
                .prepare_cached(
                    "SELECT min(t) FROM (SELECT min(run_at) AS t FROM jobs WHERE status = 'pending'
                     UNION ALL SELECT min(lease_until) FROM jobs WHERE status = 'running')",
                )?
                .query_row([], |r| r.get(0))?;
            Ok(at.map(Timestamp))
        })
        .await
}

/// [`crate::Store::job_queue_stats`].
pub(crate) async fn job_queue_stats(store: &SqliteStore, now: Timestamp) -> Result<Vec<JobQueueStats>, StoreError> {
    store
        .read(move |conn| {
            // Each status from its own partial index: finished jobs, however many, are not read.
            let mut stmt = conn.prepare_cached(
                "SELECT space, sum(pending), sum(due), sum(running), sum(dead), min(oldest_due) FROM (
                   SELECT space, count(*) AS pending, sum(run_at <= ?1) AS due, 0 AS running, 0 AS dead,
                     min(CASE WHEN run_at <= ?1 THEN run_at END) AS oldest_due
                   FROM jobs INDEXED BY jobs_queue WHERE status = 'pending' GROUP BY space
                   UNION ALL
                   SELECT space, 0, 0, count(*), 0, NULL FROM jobs INDEXED BY jobs_running
                   WHERE status = 'running' GROUP BY space
                   UNION ALL
                   SELECT space, 0, 0, 0, count(*), NULL FROM jobs INDEXED BY jobs_dead
                   WHERE status = 'dead' GROUP BY space
                 ) GROUP BY space ORDER BY space",
            )?;
            let rows = stmt.query_map(params![now.0], |r| {
                Ok(JobQueueStats {
                    space: r.get(0)?,
                    pending: r.get::<_, i64>(1)? as u64,
                    due: r.get::<_, i64>(2)? as u64,
                    running: r.get::<_, i64>(3)? as u64,
                    dead: r.get::<_, i64>(4)? as u64,
                    oldest_due: r.get::<_, Option<i64>>(5)?.map(Timestamp),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
}
