//! WebAssembly functions on SQLite: the tables the function commands write through
//! (`crate::commands::functions`, on the writer thread inside the group's transaction) and the
//! reads (on the reader pool). SQL only; the rules and invariants are the commands'.
//!
//! A function version is a row of `functions`; an invocation a row of `invocations`, whose
//! `seq` (AUTOINCREMENT) orders and pages the list and is never reused. The writer is alone, so
//! the `…_for_update` reads lock nothing and skip nothing.

use rusqlite::{OptionalExtension, Row, params};
use switchyard_model::{
    FunctionRecord, FunctionSpec, FunctionSummary, InvocationRecord, Segment, SpaceName, Timestamp,
};

use crate::error::StoreError;
use crate::function_rules::*;
use crate::functions::*;
use crate::sqlite::SqliteStore;
use crate::sqlite::tables::SqliteTx;
use crate::tables::{FunctionTable, InvocationTable, TxResult};

// ---------------------------------------------------------------------------------------------
// Writes

impl FunctionTable for SqliteTx<'_> {
    async fn latest_function(&mut self, space: &str, name: &str) -> TxResult<Option<FunctionSummary>> {
        let sql = format!(
            "SELECT {FUNCTION_COLUMNS} FROM functions WHERE space = ?1 AND name = ?2 ORDER BY version DESC LIMIT 1"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![space, name])?;
        Ok(rows.next()?.map(raw_function).transpose()?.map(RawFunction::decode).transpose()?)
    }

    async fn insert_function(&mut self, spec: &FunctionSpec, stored: &StoredFunction) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO functions (space, name, version, digest, size, config, created_at, component)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                spec.space.as_str(),
                spec.name.as_str(),
                stored.version,
                spec.digest,
                stored.size,
                stored.config,
                stored.summary.created_at.0,
                spec.component
            ])?;
        Ok(())
    }
}

impl InvocationTable for SqliteTx<'_> {
    async fn stored_invocation_id(&mut self, ids: &[&str]) -> TxResult<Option<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT seq FROM invocations WHERE id = ?1")?;
        for id in ids {
            if stmt.query_row(params![id], |r| r.get::<_, i64>(0)).optional()?.is_some() {
                return Ok(Some(id.to_string()));
            }
        }
        Ok(None)
    }

    async fn async_invocation_key_taken(&mut self, space: &str, function: &str, key: &str) -> TxResult<bool> {
        // The terms repeat `invocations_by_key`'s predicate so SQLite can use it.
        let taken: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT seq FROM invocations
                 WHERE space = ?1 AND function = ?2 AND idempotency_key = ?3 AND idempotency_key IS NOT NULL AND is_async",
            )?
            .query_row(params![space, function, key], |r| r.get(0))
            .optional()?;
        Ok(taken.is_some())
    }

    async fn async_invocation_by_key(
        &mut self,
        space: &str,
        function: &str,
        key: &str,
    ) -> TxResult<Option<InvocationRecord>> {
        let sql = format!(
            "SELECT {INVOCATION_COLUMNS} FROM invocations
             WHERE space = ?1 AND function = ?2 AND idempotency_key = ?3 AND idempotency_key IS NOT NULL AND is_async"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![space, function, key])?;
        Ok(rows.next()?.map(invocation).transpose()?)
    }

    async fn insert_invocation(&mut self, invocation: &StoredInvocation<'_>) -> TxResult<u64> {
        let record = invocation.record;
        let seq: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO invocations (id, space, function, version, status, is_async, attempt, idempotency_key,
                   context, input_content_type, input_size, output_content_type, output_size, error, logs, created_at,
                   finished_at, duration_us, input, output)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
                 RETURNING seq",
            )?
            .query_row(
                params![
                    record.id,
                    record.space.as_str(),
                    record.function.as_str(),
                    invocation.version,
                    invocation.status(),
                    record.is_async,
                    invocation.attempt,
                    record.idempotency_key,
                    invocation.context,
                    record.input_content_type,
                    invocation.input_size,
                    record.output_content_type,
                    invocation.output_size,
                    invocation.error,
                    invocation.logs,
                    record.created_at.0,
                    invocation.finished_at,
                    invocation.duration_us,
                    record.input,
                    record.output,
                ],
                |r| r.get(0),
            )?;
        // An AUTOINCREMENT seq is never negative.
        Ok(seq.max(0) as u64)
    }

    async fn insert_invocations(&mut self, invocations: &[StoredInvocation<'_>]) -> TxResult<u64> {
        // A statement costs no round trip here.
        for invocation in invocations {
            self.insert_invocation(invocation).await?;
        }
        Ok(invocations.len() as u64)
    }

    async fn invocation_for_update(&mut self, space: &str, id: &str) -> TxResult<Option<InvocationRecord>> {
        let sql = format!("SELECT {INVOCATION_COLUMNS_NO_INPUT} FROM invocations WHERE id = ?1 AND space = ?2");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![id, space])?;
        Ok(rows.next()?.map(invocation).transpose()?)
    }

    async fn update_invocation(&mut self, invocation: &StoredInvocation<'_>) -> TxResult<bool> {
        let record = invocation.record;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE invocations SET status = ?1, attempt = ?2, output = ?3, output_content_type = ?4,
                   output_size = ?5, error = ?6, logs = ?7, finished_at = ?8, duration_us = ?9
                 WHERE id = ?10 AND space = ?11 AND function = ?12",
            )?
            .execute(params![
                invocation.status(),
                invocation.attempt,
                record.output,
                record.output_content_type,
                invocation.output_size,
                invocation.error,
                invocation.logs,
                invocation.finished_at,
                invocation.duration_us,
                record.id,
                record.space.as_str(),
                record.function.as_str(),
            ])?;
        Ok(changed > 0)
    }

    async fn purge_invocations(&mut self, before: Timestamp, limit: u32) -> TxResult<u64> {
        // The predicate `finished_at < ?1` lets SQLite use `invocations_by_finish`.
        let n = self
            .conn
            .prepare_cached(
                "DELETE FROM invocations WHERE seq IN
                   (SELECT seq FROM invocations WHERE finished_at < ?1 AND status <> 'pending'
                    ORDER BY finished_at LIMIT +?2)",
            )?
            .execute(params![before.0, limit])?;
        Ok(n as u64)
    }
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Decodes the columns of [`FUNCTION_COLUMNS`].
fn raw_function(row: &Row<'_>) -> Result<RawFunction, StoreError> {
    Ok(RawFunction {
        space: row.get(0)?,
        name: row.get(1)?,
        version: row.get(2)?,
        digest: row.get(3)?,
        size: row.get(4)?,
        config: row.get(5)?,
        created_at: row.get(6)?,
    })
}

/// Decodes a row of [`INVOCATION_COLUMNS`].
fn invocation(row: &Row<'_>) -> Result<InvocationRecord, StoreError> {
    RawInvocation {
        seq: row.get(0)?,
        id: row.get(1)?,
        space: row.get(2)?,
        function: row.get(3)?,
        version: row.get(4)?,
        status: row.get(5)?,
        is_async: row.get(6)?,
        attempt: row.get(7)?,
        idempotency_key: row.get(8)?,
        context: row.get(9)?,
        input_content_type: row.get(10)?,
        input_size: row.get(11)?,
        output_content_type: row.get(12)?,
        output_size: row.get(13)?,
        error: row.get(14)?,
        logs: row.get(15)?,
        created_at: row.get(16)?,
        finished_at: row.get(17)?,
        duration_us: row.get(18)?,
        input: row.get(19)?,
        output: row.get(20)?,
    }
    .decode()
}

/// One version of a function with its component (the latest when `version` is `None`).
pub(super) async fn get(
    store: &SqliteStore,
    space: &SpaceName,
    name: &Segment,
    version: Option<u64>,
) -> Result<Option<FunctionRecord>, StoreError> {
    let version = match version.map(i64::try_from) {
        None => None,
        Some(Ok(v)) => Some(v),
        // No version that large was ever stored.
        Some(Err(_)) => return Ok(None),
    };
    let (space, name) = (space.clone(), name.clone());
    store
        .read(move |conn| {
            let (space, name) = (space.as_str(), name.as_str());
            let mut stmt;
            let mut rows = match version {
                Some(v) => {
                    let sql = format!(
                        "SELECT {FUNCTION_COLUMNS}, component FROM functions
                         WHERE space = ?1 AND name = ?2 AND version = ?3"
                    );
                    stmt = conn.prepare_cached(&sql)?;
                    stmt.query(params![space, name, v])?
                }
                None => {
                    let sql = format!(
                        "SELECT {FUNCTION_COLUMNS}, component FROM functions
                         WHERE space = ?1 AND name = ?2 ORDER BY version DESC LIMIT 1"
                    );
                    stmt = conn.prepare_cached(&sql)?;
                    stmt.query(params![space, name])?
                }
            };
            let Some(row) = rows.next()? else { return Ok(None) };
            let summary = raw_function(row)?.decode()?;
            Ok(Some(FunctionRecord { summary, component: row.get(7)? }))
        })
        .await
}

/// The latest version of every function of a space, by name, without their components.
pub(super) async fn list(store: &SqliteStore, space: &SpaceName) -> Result<Vec<FunctionSummary>, StoreError> {
    let space = space.clone();
    store
        .read(move |conn| {
            let sql = format!(
                "SELECT {FUNCTION_COLUMNS} FROM functions f
                 WHERE f.space = ?1 AND f.version = (SELECT max(version) FROM functions WHERE space = f.space AND name = f.name)
                 ORDER BY f.name"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![space.as_str()])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(raw_function(row)?.decode()?);
            }
            Ok(out)
        })
        .await
}

/// Every version of a function, oldest first, without their components.
pub(super) async fn versions(
    store: &SqliteStore,
    space: &SpaceName,
    name: &Segment,
) -> Result<Vec<FunctionSummary>, StoreError> {
    let (space, name) = (space.clone(), name.clone());
    store
        .read(move |conn| {
            let sql =
                format!("SELECT {FUNCTION_COLUMNS} FROM functions WHERE space = ?1 AND name = ?2 ORDER BY version");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![space.as_str(), name.as_str()])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(raw_function(row)?.decode()?);
            }
            Ok(out)
        })
        .await
}

/// An invocation record of a space.
pub(super) async fn get_invocation(
    store: &SqliteStore,
    space: &SpaceName,
    id: &str,
) -> Result<Option<InvocationRecord>, StoreError> {
    let (space, id) = (space.clone(), id.to_string());
    store
        .read(move |conn| {
            let sql = format!("SELECT {INVOCATION_COLUMNS} FROM invocations WHERE id = ?1 AND space = ?2");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![id, space.as_str()])?;
            rows.next()?.map(invocation).transpose()
        })
        .await
}

/// A page of invocation records, oldest first: after a seq, or the newest `limit`.
pub(super) async fn list_invocations(
    store: &SqliteStore,
    query: &ListInvocations,
) -> Result<Vec<InvocationRecord>, StoreError> {
    let after = match query.after.map(i64::try_from) {
        None => None,
        Some(Ok(after)) => Some(after),
        // No record has a seq that large.
        Some(Err(_)) => return Ok(Vec::new()),
    };
    let query = query.clone();
    store
        .read(move |conn| {
            // One statement per combination of filters: SQLite plans a statement once, so an
            // optional filter written as `(? IS NULL OR ...)` would keep it from using an index.
            let function = if query.function.is_some() { "AND function = :function" } else { "" };
            let (cursor, order) = if after.is_some() { ("AND seq > :after", "ASC") } else { ("", "DESC") };
            let sql = format!(
                "SELECT {INVOCATION_COLUMNS_NO_INPUT} FROM invocations WHERE space = :space {function} {cursor}
                 ORDER BY seq {order} LIMIT :limit"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let space: &str = query.space.as_str();
            let mut params: Vec<(&str, &dyn rusqlite::ToSql)> = vec![(":space", &space), (":limit", &query.limit)];
            let function_name = query.function.as_ref().map(|f| f.as_str());
            if let Some(function) = &function_name {
                params.push((":function", function));
            }
            if let Some(after) = &after {
                params.push((":after", after));
            }
            let mut rows = stmt.query(params.as_slice())?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(invocation(row)?);
            }
            if after.is_none() {
                out.reverse();
            }
            Ok(out)
        })
        .await
}
