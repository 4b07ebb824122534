//! Quotas, meters and what a space holds, on PostgreSQL.

use switchyard_model::Timestamp;
use switchyard_model::quotas::{Holdings, Meters, Quota, StoredBytes};

use super::PgStore;
use super::tables::PgTx;
use crate::decode::{self, meter, meter_column};
use crate::error::StoreError;
use crate::tables::{QuotaTable, TxResult};

impl QuotaTable for PgTx<'_, '_> {
    async fn quota(&mut self, space: &str) -> TxResult<Option<Quota>> {
        let stmt = self.tx.prepare_cached("SELECT quota FROM quotas WHERE space = $1").await?;
        let row = self.tx.query_opt(&stmt, &[&space]).await?;
        Ok(row.map(|r| decode::quota(r.get(0))).transpose()?)
    }

    async fn put_quota(&mut self, space: &str, quota: &Quota, now: Timestamp) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO quotas (space, quota, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (space) DO UPDATE SET quota = excluded.quota, updated_at = excluded.updated_at",
            )
            .await?;
        let text = serde_json::to_string(quota)?;
        self.tx.execute(&stmt, &[&space, &text, &now.0]).await?;
        Ok(())
    }

    async fn delete_quota(&mut self, space: &str) -> TxResult<()> {
        let stmt = self.tx.prepare_cached("DELETE FROM quotas WHERE space = $1").await?;
        self.tx.execute(&stmt, &[&space]).await?;
        Ok(())
    }

    async fn add_meters(&mut self, space: &str, counts: &Meters) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO space_meters AS m (space, requests, events, refused, invocations, function_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (space) DO UPDATE SET
                   requests = m.requests + excluded.requests, events = m.events + excluded.events,
                   refused = m.refused + excluded.refused, invocations = m.invocations + excluded.invocations,
                   function_ms = m.function_ms + excluded.function_ms",
            )
            .await?;
        let values = [
            meter_column(counts.requests),
            meter_column(counts.events),
            meter_column(counts.refused),
            meter_column(counts.invocations),
            meter_column(counts.function_ms),
        ];
        self.tx.execute(&stmt, &[&space, &values[0], &values[1], &values[2], &values[3], &values[4]]).await?;
        Ok(())
    }
}

/// Every space's quota, by space.
pub(super) async fn list_quotas(store: &PgStore) -> Result<Vec<(String, Quota)>, StoreError> {
    let rows = store.query("SELECT space, quota FROM quotas ORDER BY space", &[]).await?;
    rows.iter().map(|row| Ok((row.get(0), decode::quota(row.get(1))?))).collect()
}

/// A space's meters (zero when it never counted anything).
pub(super) async fn space_meters(store: &PgStore, space: &str) -> Result<Meters, StoreError> {
    let rows = store
        .query(
            "SELECT requests, events, refused, invocations, function_ms FROM space_meters WHERE space = $1",
            &[&space],
        )
        .await?;
    Ok(rows
        .first()
        .map(|r| Meters {
            requests: meter(r.get(0)),
            events: meter(r.get(1)),
            refused: meter(r.get(2)),
            invocations: meter(r.get(3)),
            function_ms: meter(r.get(4)),
        })
        .unwrap_or_default())
}

/// What a space holds, summed from its rows (a scan of the space's rows in each table).
pub(super) async fn space_holdings(store: &PgStore, space: &str) -> Result<Holdings, StoreError> {
    let rows = store
        .query(
            "SELECT
               (SELECT coalesce(sum(octet_length(address) + octet_length(payload)), 0)::bigint
                  FROM events WHERE space = $1),
               (SELECT coalesce(sum(octet_length(ctx)), 0)::bigint FROM instances WHERE space = $1),
               (SELECT coalesce(sum(octet_length(value)), 0)::bigint FROM kv_keys WHERE space = $1)
                 + (SELECT coalesce(sum(octet_length(value)), 0)::bigint FROM kv_history WHERE space = $1),
               (SELECT coalesce(sum(size), 0)::bigint FROM functions WHERE space = $1),
               (SELECT coalesce(sum(input_size + output_size + octet_length(logs) + octet_length(context)), 0)::bigint
                  FROM invocations WHERE space = $1),
               (SELECT count(*) FROM instances WHERE space = $1 AND deleted_at IS NULL)",
            &[&space],
        )
        .await?;
    let row = rows.first().ok_or_else(|| StoreError::Backend("the holdings query answered no row".into()))?;
    Ok(Holdings {
        stored_bytes: StoredBytes {
            log: meter(row.get(0)),
            instances: meter(row.get(1)),
            kv: meter(row.get(2)),
            functions: meter(row.get(3)),
            invocations: meter(row.get(4)),
        },
        instances: meter(row.get(5)),
    })
}
