//! Quotas, meters and what a space holds, on SQLite.

use rusqlite::{Connection, OptionalExtension, params};
use switchyard_model::Timestamp;
use switchyard_model::quotas::{Holdings, Meters, Quota, StoredBytes};

use super::SqliteStore;
use super::tables::SqliteTx;
use crate::decode::{self, meter, meter_column};
use crate::error::StoreError;
use crate::tables::{QuotaTable, TxResult};

impl QuotaTable for SqliteTx<'_> {
    async fn quota(&mut self, space: &str) -> TxResult<Option<Quota>> {
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT quota FROM quotas WHERE space = ?1")?
            .query_row(params![space], |r| r.get(0))
            .optional()?;
        Ok(text.map(|t| decode::quota(&t)).transpose()?)
    }

    async fn put_quota(&mut self, space: &str, quota: &Quota, now: Timestamp) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO quotas (space, quota, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (space) DO UPDATE SET quota = excluded.quota, updated_at = excluded.updated_at",
            )?
            .execute(params![space, serde_json::to_string(quota)?, now.0])?;
        Ok(())
    }

    async fn delete_quota(&mut self, space: &str) -> TxResult<()> {
        self.conn.prepare_cached("DELETE FROM quotas WHERE space = ?1")?.execute(params![space])?;
        Ok(())
    }

    async fn add_meters(&mut self, space: &str, counts: &Meters) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO space_meters (space, requests, events, refused, invocations, function_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (space) DO UPDATE SET
                   requests = requests + excluded.requests, events = events + excluded.events,
                   refused = refused + excluded.refused, invocations = invocations + excluded.invocations,
                   function_ms = function_ms + excluded.function_ms",
            )?
            .execute(params![
                space,
                meter_column(counts.requests),
                meter_column(counts.events),
                meter_column(counts.refused),
                meter_column(counts.invocations),
                meter_column(counts.function_ms)
            ])?;
        Ok(())
    }
}

/// Every space's quota, by space.
pub(crate) async fn list_quotas(store: &SqliteStore) -> Result<Vec<(String, Quota)>, StoreError> {
    store
        .read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT space, quota FROM quotas ORDER BY space")?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let text: String = row.get(1)?;
                out.push((row.get(0)?, decode::quota(&text)?));
            }
            Ok(out)
        })
        .await
}

/// A space's meters (zero when it never counted anything).
pub(crate) async fn space_meters(store: &SqliteStore, space: &str) -> Result<Meters, StoreError> {
    let space = space.to_owned();
    store
        .read(move |conn| {
            let meters = conn
                .prepare_cached(
                    "SELECT requests, events, refused, invocations, function_ms FROM space_meters WHERE space = ?1",
                )?
                .query_row(params![space], |r| {
                    Ok(Meters {
                        requests: meter(r.get(0)?),
                        events: meter(r.get(1)?),
                        refused: meter(r.get(2)?),
                        invocations: meter(r.get(3)?),
                        function_ms: meter(r.get(4)?),
                    })
                })
                .optional()?;
            Ok(meters.unwrap_or_default())
        })
        .await
}

/// What a space holds, summed from its rows (a scan of the space's rows in each table).
pub(crate) async fn space_holdings(store: &SqliteStore, space: &str) -> Result<Holdings, StoreError> {
    let space = space.to_owned();
    store.read(move |conn| holdings(conn, &space)).await
}

fn holdings(conn: &Connection, space: &str) -> Result<Holdings, StoreError> {
    let sum = |sql: &str| -> Result<u64, StoreError> {
        let n: i64 = conn.prepare_cached(sql)?.query_row(params![space], |r| r.get(0))?;
        Ok(meter(n))
    };
    let stored_bytes = StoredBytes {
        log: sum("SELECT coalesce(sum(length(CAST(address AS BLOB)) + length(CAST(payload AS BLOB))), 0)
             FROM events WHERE space = ?1")?,
        instances: sum("SELECT coalesce(sum(length(CAST(ctx AS BLOB))), 0) FROM instances WHERE space = ?1")?,
        kv: sum("SELECT coalesce(sum(length(value)), 0) FROM kv_keys WHERE space = ?1")?
            .saturating_add(sum("SELECT coalesce(sum(length(value)), 0) FROM kv_history WHERE space = ?1")?),
        functions: sum("SELECT coalesce(sum(size), 0) FROM functions WHERE space = ?1")?,
        invocations: sum("SELECT coalesce(sum(input_size + output_size + length(CAST(logs AS BLOB))
                                 + length(CAST(context AS BLOB))), 0)
             FROM invocations WHERE space = ?1")?,
    };
    let instances = sum("SELECT count(*) FROM instances WHERE space = ?1 AND deleted_at IS NULL")?;
    Ok(Holdings { stored_bytes, instances })
}
