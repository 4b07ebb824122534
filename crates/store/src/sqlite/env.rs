//! A space's `env` values and secrets on SQLite: the reads (on the reader pool). The writes go
//! through `SpaceTable` (`sqlite::tables`).

use rusqlite::params;
use switchyard_model::{Segment, SpaceName, SpaceValue, SpaceValueKind, Timestamp};

use crate::error::StoreError;
use crate::sqlite::SqliteStore;

/// A space's values of one kind, by name; only `name` when given.
pub(super) async fn values(
    store: &SqliteStore,
    space: &SpaceName,
    kind: SpaceValueKind,
    name: Option<&Segment>,
) -> Result<Vec<SpaceValue>, StoreError> {
    let space = space.clone();
    let name = name.cloned();
    store
        .read(move |conn| {
            // Two statements, not `(?3 IS NULL OR name = ?3)`: SQLite plans that once, as a scan
            // of the space's values, for the point lookup as well.
            let by_name = if name.is_some() { "name = ?3" } else { "?3 IS NULL" };
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT name, value, updated_at FROM space_values
                 WHERE space = ?1 AND kind = ?2 AND {by_name} ORDER BY name",
            ))?;
            let mut rows = stmt.query(params![space.as_ref(), kind.as_str(), name.as_ref().map(|n| n.as_ref())])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(SpaceValue {
                    name: crate::decode::segment(row.get(0)?)?,
                    value: row.get(1)?,
                    updated_at: Timestamp(row.get(2)?),
                });
            }
            Ok(out)
        })
        .await
}
