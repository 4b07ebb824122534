//! Triggers on PostgreSQL: SQL only. A write locks the trigger's row (`FOR UPDATE`) besides the
//! advisory lock its command declares.

use switchyard_model::{Segment, SpaceName, Timestamp, TriggerRecord};
use tokio_postgres::Row;

use crate::error::StoreError;
use crate::postgres::PgStore;
use crate::postgres::tables::PgTx;
use crate::tables::{TriggerTable, TxResult};

const COLUMNS: &str = "space, name, version, definition, paused, schedule_job, created_at, updated_at";

fn decode(row: &Row) -> Result<TriggerRecord, StoreError> {
    let version: i64 = row.get(2);
    let definition: String = row.get(3);
    Ok(TriggerRecord {
        space: crate::decode::space(row.get(0))?,
        name: crate::decode::segment(row.get(1))?,
        version: u64::try_from(version).map_err(|_| StoreError::Corrupt(format!("trigger version {version}")))?,
        definition: serde_json::from_str(&definition)?,
        paused: row.get(4),
        schedule_job: row.get(5),
        created_at: Timestamp(row.get(6)),
        updated_at: Timestamp(row.get(7)),
    })
}

impl TriggerTable for PgTx<'_, '_> {
    async fn trigger_for_update(&mut self, space: &str, name: &str) -> TxResult<Option<TriggerRecord>> {
        let stmt = self
            .tx
            .prepare_cached(&format!("SELECT {COLUMNS} FROM triggers WHERE space = $1 AND name = $2 FOR UPDATE"))
            .await?;
        Ok(self.tx.query_opt(&stmt, &[&space, &name]).await?.as_ref().map(decode).transpose()?)
    }

    async fn upsert_trigger(&mut self, t: &TriggerRecord) -> TxResult<()> {
        let definition = serde_json::to_string(&t.definition)?;
        let version = i64::try_from(t.version).unwrap_or(i64::MAX);
        let stmt = self
            .tx
            .prepare_cached(&format!(
                "INSERT INTO triggers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (space, name) DO UPDATE SET version = excluded.version,
                   definition = excluded.definition, paused = excluded.paused,
                   schedule_job = excluded.schedule_job, updated_at = excluded.updated_at"
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
                    &t.paused,
                    &t.schedule_job,
                    &t.created_at.0,
                    &t.updated_at.0,
                ],
            )
            .await?;
        Ok(())
    }

    async fn delete_trigger(&mut self, space: &str, name: &str) -> TxResult<bool> {
        let stmt = self.tx.prepare_cached("DELETE FROM triggers WHERE space = $1 AND name = $2").await?;
        Ok(self.tx.execute(&stmt, &[&space, &name]).await? == 1)
    }
}

/// A space's triggers by name; only `name` when given.
pub(super) async fn triggers(
    store: &PgStore,
    space: &SpaceName,
    name: Option<&Segment>,
) -> Result<Vec<TriggerRecord>, StoreError> {
    let n: Option<&str> = name.map(|n| n.as_ref());
    // Two statements, not `($2 IS NULL OR name = $2)`: a cached statement's generic plan
    // scans the space's triggers for the point lookup as well.
    let by_name = if n.is_some() { "name = $2" } else { "$2::text IS NULL" };
    let rows = store
        .query(
            &format!("SELECT {COLUMNS} FROM triggers WHERE space = $1 AND {by_name} ORDER BY name"),
            &[&space.as_str(), &n],
        )
        .await?;
    rows.iter().map(decode).collect()
}
