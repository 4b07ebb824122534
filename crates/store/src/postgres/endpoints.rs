//! Endpoints on PostgreSQL: SQL only. A write locks the endpoint's row (`FOR UPDATE`) besides the
//! advisory lock its command declares.

use switchyard_model::{EndpointRecord, Segment, SpaceName, Timestamp};
use tokio_postgres::Row;

use crate::error::StoreError;
use crate::postgres::PgStore;
use crate::postgres::tables::PgTx;
use crate::tables::{EndpointTable, TxResult};

const COLUMNS: &str = "space, name, version, definition, disabled, consumer_job, created_at, updated_at";

fn decode(row: &Row) -> Result<EndpointRecord, StoreError> {
    let version: i64 = row.get(2);
    let definition: String = row.get(3);
    Ok(EndpointRecord {
        space: crate::decode::space(row.get(0))?,
        name: crate::decode::segment(row.get(1))?,
        version: u64::try_from(version).map_err(|_| StoreError::Corrupt(format!("endpoint version {version}")))?,
        definition: serde_json::from_str(&definition)?,
        disabled: row.get(4),
        consumer_job: row.get(5),
        created_at: Timestamp(row.get(6)),
        updated_at: Timestamp(row.get(7)),
    })
}

impl EndpointTable for PgTx<'_, '_> {
    async fn endpoint_for_update(&mut self, space: &str, name: &str) -> TxResult<Option<EndpointRecord>> {
        let stmt = self
            .tx
            .prepare_cached(&format!("SELECT {COLUMNS} FROM endpoints WHERE space = $1 AND name = $2 FOR UPDATE"))
            .await?;
        Ok(self.tx.query_opt(&stmt, &[&space, &name]).await?.as_ref().map(decode).transpose()?)
    }

    async fn upsert_endpoint(&mut self, t: &EndpointRecord) -> TxResult<()> {
        let definition = serde_json::to_string(&t.definition)?;
        let version = i64::try_from(t.version).unwrap_or(i64::MAX);
        let stmt = self
            .tx
            .prepare_cached(&format!(
                "INSERT INTO endpoints ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (space, name) DO UPDATE SET version = excluded.version,
                   definition = excluded.definition, disabled = excluded.disabled,
                   consumer_job = excluded.consumer_job, updated_at = excluded.updated_at"
            ))
            .await?;
        self.tx
            .execute(
                &stmt,
                &[
                    &t.space.as_str(),
                    &t.name.as_ref(),
                    &version,
                    &definition,
                    &t.disabled,
                    &t.consumer_job,
                    &t.created_at.0,
                    &t.updated_at.0,
                ],
            )
            .await?;
        Ok(())
    }

    async fn delete_endpoint(&mut self, space: &str, name: &str) -> TxResult<bool> {
        let stmt = self.tx.prepare_cached("DELETE FROM endpoints WHERE space = $1 AND name = $2").await?;
        Ok(self.tx.execute(&stmt, &[&space, &name]).await? == 1)
    }
}

/// A space's endpoints by name; only `name` when given.
pub(super) async fn endpoints(
    store: &PgStore,
    space: &SpaceName,
    name: Option<&Segment>,
) -> Result<Vec<EndpointRecord>, StoreError> {
    let n: Option<&str> = name.map(|n| n.as_ref());
    // Two statements, not `($2 IS NULL OR name = $2)`: a cached statement's generic plan
    // scans the space's endpoints for the point lookup as well.
    let by_name = if n.is_some() { "name = $2" } else { "$2::text IS NULL" };
    let rows = store
        .query(
            &format!("SELECT {COLUMNS} FROM endpoints WHERE space = $1 AND {by_name} ORDER BY name"),
            &[&space.as_str(), &n],
        )
        .await?;
    rows.iter().map(decode).collect()
}
