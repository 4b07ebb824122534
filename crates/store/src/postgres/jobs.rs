//! The work table on PostgreSQL: SQL only. Leasing reads rows `FOR UPDATE SKIP LOCKED`, so
//! workers on several nodes never take the same job and never wait on each other's rows.

use std::collections::BTreeMap;

use switchyard_model::jobs::JobStatus;
use switchyard_model::{JobRecord, Segment, SpaceName, Timestamp, endpoint_address, trigger_address};
use tokio_postgres::Row;

use crate::error::StoreError;
use crate::jobs::*;
use crate::postgres::PgStore;
use crate::postgres::tables::PgTx;
use crate::tables::{JobTable, TxResult};

fn raw(row: &Row) -> RawJob {
    RawJob {
        id: row.get(0),
        space: row.get(1),
        kind: row.get(2),
        target: row.get(3),
        payload: row.get(4),
        status: row.get(5),
        priority: i64::from(row.get::<_, i32>(6)),
        concurrency_key: row.get(7),
        idempotency_key: row.get(8),
        run_at: row.get(9),
        attempt: row.get(10),
        lease_until: row.get(11),
        lease_owner: row.get(12),
        retry: row.get(13),
        created_at: row.get(14),
        updated_at: row.get(15),
        finished_at: row.get(16),
        last_error: row.get(17),
        result: row.get(18),
        attempts: row.get(19),
    }
}

fn decode(rows: &[Row]) -> Result<Vec<JobRecord>, StoreError> {
    rows.iter().map(|row| raw(row).decode()).collect()
}

impl JobTable for PgTx<'_, '_> {
    async fn job_by_key(&mut self, space: &str, key: &str) -> TxResult<Option<JobRecord>> {
        let stmt = self
            .tx
            .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE space = $1 AND idempotency_key = $2"))
            .await?;
        Ok(self.tx.query_opt(&stmt, &[&space, &key]).await?.map(|row| raw(&row).decode()).transpose()?)
    }

    async fn job_for_update(&mut self, space: &str, id: &str) -> TxResult<Option<JobRecord>> {
        let stmt = self
            .tx
            .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND space = $2 FOR UPDATE"))
            .await?;
        Ok(self.tx.query_opt(&stmt, &[&id, &space]).await?.map(|row| raw(&row).decode()).transpose()?)
    }

    async fn insert_job(&mut self, job: &JobRecord) -> TxResult<()> {
        let c = JobColumns::of(job)?;
        self.jobs_due |= job.status == JobStatus::Pending;
        let stmt = self
            .tx
            .prepare_cached(&format!(
                "INSERT INTO jobs ({JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
            ))
            .await?;
        self.tx
            .execute(
                &stmt,
                &[
                    &job.id,
                    &job.space.as_str(),
                    &job.kind.as_str(),
                    &job.target,
                    &c.payload,
                    &job.status.as_str(),
                    &job.priority,
                    &job.concurrency_key,
                    &job.idempotency_key,
                    &job.run_at.0,
                    &i64::from(job.attempt),
                    &job.lease_until.map(|t| t.0),
                    &job.lease_owner,
                    &c.retry,
                    &job.created_at.0,
                    &job.updated_at.0,
                    &job.finished_at.map(|t| t.0),
                    &c.last_error,
                    &c.result,
                    &c.attempts,
                ],
            )
            .await?;
        Ok(())
    }

    async fn update_job(&mut self, job: &JobRecord) -> TxResult<()> {
        let c = JobColumns::of(job)?;
        self.jobs_due |= job.status == JobStatus::Pending;
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE jobs SET payload = $1, status = $2, run_at = $3, attempt = $4, lease_until = $5,
                   lease_owner = $6, updated_at = $7, finished_at = $8, last_error = $9, result = $10, attempts = $11
                 WHERE id = $12 AND space = $13",
            )
            .await?;
        self.tx
            .execute(
                &stmt,
                &[
                    &c.payload,
                    &job.status.as_str(),
                    &job.run_at.0,
                    &i64::from(job.attempt),
                    &job.lease_until.map(|t| t.0),
                    &job.lease_owner,
                    &job.updated_at.0,
                    &job.finished_at.map(|t| t.0),
                    &c.last_error,
                    &c.result,
                    &c.attempts,
                    &job.id,
                    &job.space.as_str(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn update_jobs(&mut self, jobs: &[JobRecord]) -> TxResult<()> {
        if jobs.len() < 2 {
            for job in jobs {
                self.update_job(job).await?;
            }
            return Ok(());
        }
        let columns: Vec<JobColumns> = jobs.iter().map(JobColumns::of).collect::<Result<_, _>>()?;
        self.jobs_due |= jobs.iter().any(|j| j.status == JobStatus::Pending);
        let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        let spaces: Vec<&str> = jobs.iter().map(|j| j.space.as_str()).collect();
        let statuses: Vec<&str> = jobs.iter().map(|j| j.status.as_str()).collect();
        let run_ats: Vec<i64> = jobs.iter().map(|j| j.run_at.0).collect();
        let attempts: Vec<i64> = jobs.iter().map(|j| i64::from(j.attempt)).collect();
        let lease_untils: Vec<Option<i64>> = jobs.iter().map(|j| j.lease_until.map(|t| t.0)).collect();
        let owners: Vec<Option<&str>> = jobs.iter().map(|j| j.lease_owner.as_deref()).collect();
        let updated: Vec<i64> = jobs.iter().map(|j| j.updated_at.0).collect();
        let finished: Vec<Option<i64>> = jobs.iter().map(|j| j.finished_at.map(|t| t.0)).collect();
        let payloads: Vec<&str> = columns.iter().map(|c| c.payload.as_str()).collect();
        let errors: Vec<Option<&str>> = columns.iter().map(|c| c.last_error.as_deref()).collect();
        let results: Vec<Option<&str>> = columns.iter().map(|c| c.result.as_deref()).collect();
        let histories: Vec<&str> = columns.iter().map(|c| c.attempts.as_str()).collect();
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE jobs SET payload = u.payload, status = u.status, run_at = u.run_at, attempt = u.attempt,
                   lease_until = u.lease_until, lease_owner = u.lease_owner, updated_at = u.updated_at,
                   finished_at = u.finished_at, last_error = u.last_error, result = u.result, attempts = u.attempts
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
                             $8::text[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[])
                   AS u(id, space, payload, status, run_at, attempt, lease_until, lease_owner, updated_at, finished_at,
                        last_error, result, attempts)
                 WHERE jobs.id = u.id AND jobs.space = u.space",
            )
            .await?;
        self.tx
            .execute(
                &stmt,
                &[
                    &ids,
                    &spaces,
                    &payloads,
                    &statuses,
                    &run_ats,
                    &attempts,
                    &lease_untils,
                    &owners,
                    &updated,
                    &finished,
                    &errors,
                    &results,
                    &histories,
                ],
            )
            .await?;
        Ok(())
    }

    async fn delete_job(&mut self, space: &str, id: &str) -> TxResult<()> {
        let stmt = self.tx.prepare_cached("DELETE FROM jobs WHERE id = $1 AND space = $2").await?;
        self.tx.execute(&stmt, &[&id, &space]).await?;
        Ok(())
    }

    async fn held_jobs_for_update(&mut self, owner: &str, ids: &[String]) -> TxResult<Vec<JobRecord>> {
        let stmt = self
            .tx
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ANY($1) AND status = 'running' AND lease_owner = $2
                 ORDER BY id FOR UPDATE"
            ))
            .await?;
        Ok(decode(&self.tx.query(&stmt, &[&ids, &owner]).await?)?)
    }

    async fn purge_jobs(&mut self, before: Timestamp, limit: u32) -> TxResult<u64> {
        let stmt = self
            .tx
            .prepare_cached(
                "DELETE FROM jobs WHERE id IN
                   (SELECT id FROM jobs WHERE status IN ('succeeded', 'cancelled') AND finished_at < $1
                    ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            )
            .await?;
        Ok(self.tx.execute(&stmt, &[&before.0, &i64::from(limit)]).await?)
    }

    async fn expired_jobs_for_update(&mut self, now: Timestamp, limit: u32) -> TxResult<Vec<JobRecord>> {
        let stmt = self
            .tx
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'running' AND lease_until <= $1
                 ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED"
            ))
            .await?;
        Ok(decode(&self.tx.query(&stmt, &[&now.0, &i64::from(limit)]).await?)?)
    }

    async fn spaces_with_pending_jobs(&mut self) -> TxResult<Vec<String>> {
        // A skip scan of `jobs_queue`: one probe per space, however many jobs each has.
        let stmt = self
            .tx
            .prepare_cached(
                "WITH RECURSIVE s(space) AS (
                   SELECT (SELECT min(space) FROM jobs WHERE status = 'pending')
                   UNION ALL
                   SELECT (SELECT min(space) FROM jobs WHERE status = 'pending' AND space > s.space) FROM s
                   WHERE s.space IS NOT NULL
                 ) SELECT space FROM s WHERE space IS NOT NULL",
            )
            .await?;
        Ok(self.tx.query(&stmt, &[]).await?.iter().map(|row| row.get(0)).collect())
    }

    async fn due_jobs_for_update(&mut self, space: &str, now: Timestamp, limit: u32) -> TxResult<Vec<JobRecord>> {
        let stmt = self
            .tx
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE space = $1 AND status = 'pending' AND run_at <= $2
                 ORDER BY priority DESC, run_at LIMIT $3 FOR UPDATE SKIP LOCKED"
            ))
            .await?;
        Ok(decode(&self.tx.query(&stmt, &[&space, &now.0, &i64::from(limit)]).await?)?)
    }

    async fn running_jobs(&mut self, now: Timestamp) -> TxResult<BTreeMap<String, u32>> {
        let stmt = self
            .tx
            .prepare_cached(
                "SELECT space, count(*) FROM jobs WHERE status = 'running' AND lease_until > $1
                   AND coalesce(concurrency_key, '') <> 'log-consumer' GROUP BY space",
            )
            .await?;
        Ok(self
            .tx
            .query(&stmt, &[&now.0])
            .await?
            .iter()
            .map(|row| (row.get::<_, String>(0), u32::try_from(row.get::<_, i64>(1)).unwrap_or(u32::MAX)))
            .collect())
    }

    async fn extend_job_leases(&mut self, owner: &str, ids: &[String], until: Timestamp) -> TxResult<u64> {
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE jobs SET lease_until = $1 WHERE id = ANY($2) AND status = 'running' AND lease_owner = $3",
            )
            .await?;
        Ok(self.tx.execute(&stmt, &[&until.0, &ids, &owner]).await?)
    }

    async fn dead_jobs_for_update(&mut self, space: &str, kind: Option<&str>, limit: u32) -> TxResult<Vec<JobRecord>> {
        let stmt = self
            .tx
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE space = $1 AND status = 'dead' AND ($2::text IS NULL OR kind = $2)
                 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED"
            ))
            .await?;
        Ok(decode(&self.tx.query(&stmt, &[&space, &kind, &i64::from(limit)]).await?)?)
    }
}

/// [`crate::Store::get_job`].
pub(crate) async fn get_job(store: &PgStore, space: &str, id: &str) -> Result<Option<JobRecord>, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND space = $2");
    let rows = store.query(&sql, &[&id, &space]).await?;
    rows.first().map(|row| raw(row).decode()).transpose()
}

/// [`crate::Store::list_jobs`].
pub(crate) async fn list_jobs(store: &PgStore, query: &ListJobs) -> Result<Vec<JobRecord>, StoreError> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs
         WHERE space = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR kind = $3) AND id > $4
         ORDER BY id LIMIT $5"
    );
    let after = query.after_id.clone().unwrap_or_default();
    let rows = store
        .query(
            &sql,
            &[&query.space.as_str(), &query.status.map(|s| s.as_str()), &query.kind, &after, &i64::from(query.limit)],
        )
        .await?;
    decode(&rows)
}

/// [`crate::Store::trigger_jobs`].
pub(crate) async fn trigger_jobs(
    store: &PgStore,
    space: &SpaceName,
    trigger: &Segment,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<JobRecord>, StoreError> {
    let target = trigger_address(space.as_str(), trigger.as_ref());
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs
         WHERE space = $1 AND kind = 'trigger' AND target = $2 AND ($3::text IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4"
    );
    let rows = store.query(&sql, &[&space.as_str(), &target, &before, &i64::from(limit)]).await?;
    decode(&rows)
}

/// [`crate::Store::endpoint_jobs`].
pub(crate) async fn endpoint_jobs(
    store: &PgStore,
    space: &SpaceName,
    endpoint: &Segment,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<JobRecord>, StoreError> {
    let target = endpoint_address(space.as_str(), endpoint.as_ref());
    // `kind` is written out so that the partial index `jobs_by_endpoint` applies.
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs
         WHERE space = $1 AND kind = 'delivery' AND target = $2 AND ($3::text IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4"
    );
    let rows = store.query(&sql, &[&space.as_str(), &target, &before, &i64::from(limit)]).await?;
    decode(&rows)
}

/// [`crate::Store::next_job_wakeup`].
pub(crate) async fn next_job_wakeup(store: &PgStore) -> Result<Option<Timestamp>, StoreError> {
    let rows = store
        .query(
            "SELECT least((SELECT min(run_at) FROM jobs WHERE status = 'pending'),
                          (SELECT min(lease_until) FROM jobs WHERE status = 'running'))",
            &[],
        )
        .await?;
    Ok(rows.first().and_then(|row| row.get::<_, Option<i64>>(0)).map(Timestamp))
}

/// [`crate::Store::job_queue_stats`].
pub(crate) async fn job_queue_stats(store: &PgStore, now: Timestamp) -> Result<Vec<JobQueueStats>, StoreError> {
    let rows = store
        .query(
            "SELECT space,
               count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'pending' AND run_at <= $1),
               count(*) FILTER (WHERE status = 'running'), count(*) FILTER (WHERE status = 'dead'),
               min(run_at) FILTER (WHERE status = 'pending' AND run_at <= $1)
             FROM jobs WHERE status IN ('pending', 'running', 'dead') GROUP BY space ORDER BY space",
            &[&now.0],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| JobQueueStats {
            space: r.get(0),
            pending: r.get::<_, i64>(1) as u64,
            due: r.get::<_, i64>(2) as u64,
            running: r.get::<_, i64>(3) as u64,
            dead: r.get::<_, i64>(4) as u64,
            oldest_due: r.get::<_, Option<i64>>(5).map(Timestamp),
        })
        .collect())
}

/// Listens on [`super::tables::JOBS_CHANNEL`] on a connection of its own, calling `wake` for
/// every notification, until the connection fails.
pub(super) async fn listen(config: &tokio_postgres::Config, wake: &(dyn Fn() + Send + Sync)) -> Result<(), StoreError> {
    use futures_util::StreamExt as _;
    let (client, mut connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| StoreError::Unreachable(format!("cannot connect to listen for jobs: {e}")))?;
    let (heard, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    // The connection delivers notifications only while it is polled, so it is driven here.
    let drive = async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                    let _ = heard.send(());
                }
                Ok(_) => {}
                Err(e) => return Err(StoreError::Unreachable(format!("the job listener's connection failed: {e}"))),
            }
        }
        Err(StoreError::Unreachable("the job listener's connection closed".into()))
    };
    let listen = async {
        client.batch_execute(&format!("LISTEN {}", super::tables::JOBS_CHANNEL)).await?;
        while notifications.recv().await.is_some() {
            // Many notifications at once wake the scheduler once.
            while notifications.try_recv().is_ok() {}
            wake();
        }
        Ok::<(), StoreError>(())
    };
    tokio::select! {
        ended = drive => ended,
        ended = listen => ended,
    }
}
