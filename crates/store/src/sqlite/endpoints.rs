//! Endpoints on SQLite: SQL only. The writer thread serialises every write, so a "locked" read
//! needs no locking.

use rusqlite::{OptionalExtension, Row, params};
use switchyard_model::{EndpointRecord, Segment, SpaceName, Timestamp};

use crate::error::StoreError;
use crate::sqlite::SqliteStore;
use crate::sqlite::tables::SqliteTx;
use crate::tables::{EndpointTable, TxResult};

const COLUMNS: &str = "space, name, version, definition, disabled, consumer_job, created_at, updated_at";

type RawEndpoint = (String, String, i64, String, Option<String>, Option<String>, i64, i64);

fn raw(row: &Row<'_>) -> rusqlite::Result<RawEndpoint> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?))
}

fn decode(
    (space, name, version, definition, disabled, consumer_job, created, updated): RawEndpoint,
) -> Result<EndpointRecord, StoreError> {
    Ok(EndpointRecord {
        space: crate::decode::space(space)?,
        name: crate::decode::segment(name)?,
        version: u64::try_from(version).map_err(|_| StoreError::Corrupt(format!("endpoint version {version}")))?,
        definition: serde_json::from_str(&definition)?,
        disabled,
        consumer_job,
        created_at: Timestamp(created),
        updated_at: Timestamp(updated),
    })
}

impl EndpointTable for SqliteTx<'_> {
    async fn endpoint_for_update(&mut self, space: &str, name: &str) -> TxResult<Option<EndpointRecord>> {
        let row = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM endpoints WHERE space = ?1 AND name = ?2"))?
            .query_row(params![space, name], raw)
            .optional()?;
        Ok(row.map(decode).transpose()?)
    }

    async fn upsert_endpoint(&mut self, t: &EndpointRecord) -> TxResult<()> {
        let definition = serde_json::to_string(&t.definition)?;
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO endpoints ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (space, name) DO UPDATE SET version = excluded.version,
                   definition = excluded.definition, disabled = excluded.disabled,
                   consumer_job = excluded.consumer_job, updated_at = excluded.updated_at"
            ))?
            .execute(params![
                t.space.as_str(),
                t.name.as_ref(),
                i64::try_from(t.version).unwrap_or(i64::MAX),
                definition,
                t.disabled,
                t.consumer_job,
                t.created_at.0,
                t.updated_at.0
            ])?;
        Ok(())
    }

    async fn delete_endpoint(&mut self, space: &str, name: &str) -> TxResult<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM endpoints WHERE space = ?1 AND name = ?2")?
            .execute(params![space, name])?;
        Ok(n == 1)
    }
}

/// A space's endpoints by name; only `name` when given.
pub(super) async fn endpoints(
    store: &SqliteStore,
    space: &SpaceName,
    name: Option<&Segment>,
) -> Result<Vec<EndpointRecord>, StoreError> {
    let space = space.clone();
    let name = name.cloned();
    store
        .read(move |conn| {
            // Two statements, not `(?2 IS NULL OR name = ?2)`: SQLite plans that once, as a scan
            // of the space's endpoints, for the point lookup as well.
            let by_name = if name.is_some() { "name = ?2" } else { "?2 IS NULL" };
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM endpoints WHERE space = ?1 AND {by_name} ORDER BY name"
            ))?;
            let mut rows = stmt.query(params![space.as_str(), name.as_ref().map(|n| n.as_ref())])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(decode(raw(row)?)?);
            }
            Ok(out)
        })
        .await
}
