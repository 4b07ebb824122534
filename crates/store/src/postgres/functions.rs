//! WebAssembly functions on PostgreSQL: the tables the function commands write through
//! (`crate::commands::functions`, inside a group's transaction, with the function's or the
//! idempotency key's advisory lock and the finished invocation's row lock already held) and
//! the reads. SQL only; the rules and invariants are the commands'.
//!
//! Purges lock the rows they change with `FOR UPDATE SKIP LOCKED`, so they never wait on a row
//! another transaction holds. Many records are inserted in one statement.

use switchyard_model::{
    FunctionRecord, FunctionSpec, FunctionSummary, InvocationRecord, Segment, SpaceName, Timestamp,
};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::error::StoreError;
use crate::function_rules::*;
use crate::functions::*;
use crate::postgres::PgStore;
use crate::postgres::tables::PgTx;
use crate::tables::{FunctionTable, InvocationTable, TxResult};

/// [`INVOCATION_COLUMNS_NO_INPUT`] with the missing input typed, as PostgreSQL needs.
const PG_INVOCATION_COLUMNS_NO_INPUT: &str = "seq, id, space, function, version, status, is_async, attempt,
    idempotency_key, context, input_content_type, input_size, output_content_type, output_size, error, logs,
    created_at, finished_at, duration_us, NULL::bytea, output";

// ---------------------------------------------------------------------------------------------
// Writes

impl FunctionTable for PgTx<'_, '_> {
    async fn latest_function(&mut self, space: &str, name: &str) -> TxResult<Option<FunctionSummary>> {
        let sql = format!(
            "SELECT {FUNCTION_COLUMNS} FROM functions WHERE space = $1 AND name = $2 ORDER BY version DESC LIMIT 1"
        );
        let stmt = self.tx.prepare_cached(&sql).await?;
        match self.tx.query_opt(&stmt, &[&space, &name]).await? {
            Some(row) => Ok(Some(raw_function(&row)?.decode()?)),
            None => Ok(None),
        }
    }

    async fn insert_function(&mut self, spec: &FunctionSpec, stored: &StoredFunction) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO functions (space, name, version, digest, size, config, created_at, component)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .await?;
        self.tx
            .execute(
                &stmt,
                &[
                    &spec.space.as_str(),
                    &spec.name.as_str(),
                    &stored.version,
                    &spec.digest,
                    &stored.size,
                    &stored.config,
                    &stored.summary.created_at.0,
                    &spec.component,
                ],
            )
            .await?;
        Ok(())
    }
}

impl InvocationTable for PgTx<'_, '_> {
    async fn stored_invocation_id(&mut self, ids: &[&str]) -> TxResult<Option<String>> {
        let stmt = self.tx.prepare_cached("SELECT id FROM invocations WHERE id = ANY($1) LIMIT 1").await?;
        match self.tx.query_opt(&stmt, &[&ids]).await? {
            Some(row) => Ok(Some(col::<String>(&row, 0)?)),
            None => Ok(None),
        }
    }

    async fn async_invocation_key_taken(&mut self, space: &str, function: &str, key: &str) -> TxResult<bool> {
        let stmt = self
            .tx
            .prepare_cached(
                "SELECT 1 FROM invocations
                 WHERE space = $1 AND function = $2 AND idempotency_key = $3 AND is_async",
            )
            .await?;
        Ok(self.tx.query_opt(&stmt, &[&space, &function, &key]).await?.is_some())
    }

    async fn async_invocation_by_key(
        &mut self,
        space: &str,
        function: &str,
        key: &str,
    ) -> TxResult<Option<InvocationRecord>> {
        let sql = format!(
            "SELECT {INVOCATION_COLUMNS} FROM invocations
             WHERE space = $1 AND function = $2 AND idempotency_key = $3 AND is_async"
        );
        let stmt = self.tx.prepare_cached(&sql).await?;
        match self.tx.query_opt(&stmt, &[&space, &function, &key]).await? {
            Some(row) => Ok(Some(invocation(&row)?)),
            None => Ok(None),
        }
    }

    async fn insert_invocation(&mut self, invocation: &StoredInvocation<'_>) -> TxResult<u64> {
        let record = invocation.record;
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO invocations (id, space, function, version, status, is_async, attempt, idempotency_key,
                   context, input_content_type, input_size, output_content_type, output_size, error, logs, created_at,
                   finished_at, duration_us, input, output)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
                 RETURNING seq",
            )
            .await?;
        let row = self
            .tx
            .query_one(
                &stmt,
                &[
                    &record.id,
                    &record.space.as_str(),
                    &record.function.as_str(),
                    &invocation.version,
                    &invocation.status(),
                    &record.is_async,
                    &invocation.attempt,
                    &record.idempotency_key,
                    &invocation.context,
                    &record.input_content_type,
                    &invocation.input_size,
                    &record.output_content_type,
                    &invocation.output_size,
                    &invocation.error,
                    &invocation.logs,
                    &record.created_at.0,
                    &invocation.finished_at,
                    &invocation.duration_us,
                    &record.input,
                    &record.output,
                ],
            )
            .await?;
        // The row is written: a seq that cannot be read fails the whole group (a database
        // error), never refuses. A bigserial is never negative.
        Ok(row.try_get::<_, i64>(0)?.max(0) as u64)
    }

    async fn insert_invocations(&mut self, invocations: &[StoredInvocation<'_>]) -> TxResult<u64> {
        let stored = invocations;
        let ids: Vec<&str> = stored.iter().map(|s| s.record.id.as_str()).collect();
        let spaces: Vec<&str> = stored.iter().map(|s| s.record.space.as_str()).collect();
        let functions: Vec<&str> = stored.iter().map(|s| s.record.function.as_str()).collect();
        let versions: Vec<i64> = stored.iter().map(|s| s.version).collect();
        let statuses: Vec<&str> = stored.iter().map(|s| s.status()).collect();
        let is_async: Vec<bool> = stored.iter().map(|s| s.record.is_async).collect();
        let attempts: Vec<i64> = stored.iter().map(|s| s.attempt).collect();
        let keys: Vec<Option<&str>> = stored.iter().map(|s| s.record.idempotency_key.as_deref()).collect();
        let contexts: Vec<&str> = stored.iter().map(|s| s.context.as_str()).collect();
        let input_types: Vec<&str> = stored.iter().map(|s| s.record.input_content_type.as_str()).collect();
        let input_sizes: Vec<i64> = stored.iter().map(|s| s.input_size).collect();
        let output_types: Vec<&str> = stored.iter().map(|s| s.record.output_content_type.as_str()).collect();
        let output_sizes: Vec<i64> = stored.iter().map(|s| s.output_size).collect();
        let errors: Vec<Option<&str>> = stored.iter().map(|s| s.error.as_deref()).collect();
        let logs: Vec<&str> = stored.iter().map(|s| s.logs.as_str()).collect();
        let created: Vec<i64> = stored.iter().map(|s| s.record.created_at.0).collect();
        let finished: Vec<Option<i64>> = stored.iter().map(|s| s.finished_at).collect();
        let durations: Vec<Option<i64>> = stored.iter().map(|s| s.duration_us).collect();
        let inputs: Vec<Option<&[u8]>> = stored.iter().map(|s| s.record.input.as_deref()).collect();
        let outputs: Vec<Option<&[u8]>> = stored.iter().map(|s| s.record.output.as_deref()).collect();
        // WITH ORDINALITY keeps the records' order, so their seqs follow it.
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO invocations (id, space, function, version, status, is_async, attempt, idempotency_key,
                   context, input_content_type, input_size, output_content_type, output_size, error, logs, created_at,
                   finished_at, duration_us, input, output)
                 SELECT id, space, function, version, status, is_async, attempt, idempotency_key, context,
                   input_content_type, input_size, output_content_type, output_size, error, logs, created_at,
                   finished_at, duration_us, input, output
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::boolean[],
                   $7::bigint[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[], $13::bigint[],
                   $14::text[], $15::text[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bytea[],
                   $20::bytea[])
                   WITH ORDINALITY AS r(id, space, function, version, status, is_async, attempt, idempotency_key,
                     context, input_content_type, input_size, output_content_type, output_size, error, logs,
                     created_at, finished_at, duration_us, input, output, n)
                 ORDER BY n",
            )
            .await?;
        let inserted = self
            .tx
            .execute(
                &stmt,
                &[
                    &ids,
                    &spaces,
                    &functions,
                    &versions,
                    &statuses,
                    &is_async,
                    &attempts,
                    &keys,
                    &contexts,
                    &input_types,
                    &input_sizes,
                    &output_types,
                    &output_sizes,
                    &errors,
                    &logs,
                    &created,
                    &finished,
                    &durations,
                    &inputs,
                    &outputs,
                ],
            )
            .await?;
        Ok(inserted)
    }

    async fn invocation_for_update(&mut self, space: &str, id: &str) -> TxResult<Option<InvocationRecord>> {
        let sql =
            format!("SELECT {PG_INVOCATION_COLUMNS_NO_INPUT} FROM invocations WHERE id = $1 AND space = $2 FOR UPDATE");
        let stmt = self.tx.prepare_cached(&sql).await?;
        match self.tx.query_opt(&stmt, &[&id, &space]).await? {
            Some(row) => Ok(Some(invocation(&row)?)),
            None => Ok(None),
        }
    }

    async fn update_invocation(&mut self, invocation: &StoredInvocation<'_>) -> TxResult<bool> {
        let record = invocation.record;
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE invocations SET status = $1, attempt = $2, output = $3, output_content_type = $4,
                   output_size = $5, error = $6, logs = $7, finished_at = $8, duration_us = $9
                 WHERE id = $10 AND space = $11 AND function = $12",
            )
            .await?;
        let changed = self
            .tx
            .execute(
                &stmt,
                &[
                    &invocation.status(),
                    &invocation.attempt,
                    &record.output,
                    &record.output_content_type,
                    &invocation.output_size,
                    &invocation.error,
                    &invocation.logs,
                    &invocation.finished_at,
                    &invocation.duration_us,
                    &record.id,
                    &record.space.as_str(),
                    &record.function.as_str(),
                ],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn purge_invocations(&mut self, before: Timestamp, limit: u32) -> TxResult<u64> {
        let stmt = self
            .tx
            .prepare_cached(
                "DELETE FROM invocations WHERE seq IN
                   (SELECT seq FROM invocations WHERE finished_at < $1 AND status <> 'pending'
                    ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            )
            .await?;
        Ok(self.tx.execute(&stmt, &[&before.0, &i64::from(limit)]).await?)
    }
}

// ---------------------------------------------------------------------------------------------
// Reads

/// A column of a row; a value of another type than expected is corrupt data, not a panic.
fn col<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, StoreError> {
    row.try_get(index).map_err(|e| StoreError::Corrupt(format!("column {index}: {e}")))
}

/// Decodes the columns of [`FUNCTION_COLUMNS`].
fn raw_function(row: &Row) -> Result<RawFunction, StoreError> {
    Ok(RawFunction {
        space: col(row, 0)?,
        name: col(row, 1)?,
        version: col(row, 2)?,
        digest: col(row, 3)?,
        size: col(row, 4)?,
        config: col(row, 5)?,
        created_at: col(row, 6)?,
    })
}

/// Decodes a row of [`INVOCATION_COLUMNS`].
fn invocation(row: &Row) -> Result<InvocationRecord, StoreError> {
    RawInvocation {
        seq: col(row, 0)?,
        id: col(row, 1)?,
        space: col(row, 2)?,
        function: col(row, 3)?,
        version: col(row, 4)?,
        status: col(row, 5)?,
        is_async: col(row, 6)?,
        attempt: col(row, 7)?,
        idempotency_key: col(row, 8)?,
        context: col(row, 9)?,
        input_content_type: col(row, 10)?,
        input_size: col(row, 11)?,
        output_content_type: col(row, 12)?,
        output_size: col(row, 13)?,
        error: col(row, 14)?,
        logs: col(row, 15)?,
        created_at: col(row, 16)?,
        finished_at: col(row, 17)?,
        duration_us: col(row, 18)?,
        input: col(row, 19)?,
        output: col(row, 20)?,
    }
    .decode()
}

/// One version of a function with its component (the latest when `version` is `None`).
pub(super) async fn get(
    store: &PgStore,
    space: &SpaceName,
    name: &Segment,
    version: Option<u64>,
) -> Result<Option<FunctionRecord>, StoreError> {
    let (s, n) = (space.as_str(), name.as_str());
    let rows = match version.map(i64::try_from) {
        None => {
            let sql = format!(
                "SELECT {FUNCTION_COLUMNS}, component FROM functions WHERE space = $1 AND name = $2
                 ORDER BY version DESC LIMIT 1"
            );
            store.query(&sql, &[&s, &n]).await?
        }
        Some(Ok(v)) => {
            let sql = format!(
                "SELECT {FUNCTION_COLUMNS}, component FROM functions WHERE space = $1 AND name = $2 AND version = $3"
            );
            store.query(&sql, &[&s, &n, &v]).await?
        }
        // No version that large was ever stored.
        Some(Err(_)) => return Ok(None),
    };
    let Some(row) = rows.first() else { return Ok(None) };
    Ok(Some(FunctionRecord { summary: raw_function(row)?.decode()?, component: col(row, 7)? }))
}

/// The latest version of every function of a space, by name, without their components.
pub(super) async fn list(store: &PgStore, space: &SpaceName) -> Result<Vec<FunctionSummary>, StoreError> {
    let sql = format!(
        "SELECT DISTINCT ON (name) {FUNCTION_COLUMNS} FROM functions WHERE space = $1 ORDER BY name, version DESC"
    );
    let rows = store.query(&sql, &[&space.as_str()]).await?;
    rows.iter().map(|row| raw_function(row)?.decode()).collect()
}

/// Every version of a function, oldest first, without their components.
pub(super) async fn versions(
    store: &PgStore,
    space: &SpaceName,
    name: &Segment,
) -> Result<Vec<FunctionSummary>, StoreError> {
    let sql = format!("SELECT {FUNCTION_COLUMNS} FROM functions WHERE space = $1 AND name = $2 ORDER BY version");
    let rows = store.query(&sql, &[&space.as_str(), &name.as_str()]).await?;
    rows.iter().map(|row| raw_function(row)?.decode()).collect()
}

/// An invocation record of a space.
pub(super) async fn get_invocation(
    store: &PgStore,
    space: &SpaceName,
    id: &str,
) -> Result<Option<InvocationRecord>, StoreError> {
    let sql = format!("SELECT {INVOCATION_COLUMNS} FROM invocations WHERE id = $1 AND space = $2");
    let rows = store.query(&sql, &[&id, &space.as_str()]).await?;
    rows.first().map(invocation).transpose()
}

/// A page of invocation records, oldest first: after a seq, or the newest `limit`.
pub(super) async fn list_invocations(
    store: &PgStore,
    query: &ListInvocations,
) -> Result<Vec<InvocationRecord>, StoreError> {
    let after = match query.after.map(i64::try_from) {
        None => None,
        Some(Ok(after)) => Some(after),
        // No record has a seq that large.
        Some(Err(_)) => return Ok(Vec::new()),
    };
    let space = query.space.as_str();
    let limit = i64::from(query.limit);
    let function = query.function.as_ref().map(|f| f.as_str());
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&space, &limit];
    // One statement per combination of filters, so the planner can use the indexes.
    let function_filter = match &function {
        Some(function) => {
            params.push(function);
            format!("AND function = ${}", params.len())
        }
        None => String::new(),
    };
    let (cursor, order) = match &after {
        Some(after) => {
            params.push(after);
            (format!("AND seq > ${}", params.len()), "ASC")
        }
        None => (String::new(), "DESC"),
    };
    let sql = format!(
        "SELECT {PG_INVOCATION_COLUMNS_NO_INPUT} FROM invocations WHERE space = $1 {function_filter} {cursor}
         ORDER BY seq {order} LIMIT $2"
    );
    let rows = store.query(&sql, &params).await?;
    let mut out = rows.iter().map(invocation).collect::<Result<Vec<_>, _>>()?;
    if after.is_none() {
        out.reverse();
    }
    Ok(out)
}
