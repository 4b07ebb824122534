//! A space's `env` values and secrets on PostgreSQL: the reads. The writes go through
//! `SpaceTable` (`postgres::tables`).

use switchyard_model::{Segment, SpaceName, SpaceValue, SpaceValueKind, Timestamp};

use crate::error::StoreError;
use crate::postgres::PgStore;

/// A space's values of one kind, by name; only `name` when given.
pub(super) async fn values(
    store: &PgStore,
    space: &SpaceName,
    kind: SpaceValueKind,
    name: Option<&Segment>,
) -> Result<Vec<SpaceValue>, StoreError> {
    let (s, k): (&str, &str) = (space.as_ref(), kind.as_str());
    let n: Option<&str> = name.map(|n| n.as_ref());
    // Two statements, not `($3 IS NULL OR name = $3)`: a cached statement's generic plan
    // scans the space's values for the point lookup as well.
    let by_name = if n.is_some() { "name = $3" } else { "$3::text IS NULL" };
    let rows = store
        .query(
            &format!(
                "SELECT name, value, updated_at FROM space_values
                 WHERE space = $1 AND kind = $2 AND {by_name} ORDER BY name"
            ),
            &[&s, &k, &n],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(SpaceValue {
                name: crate::decode::segment(row.get(0))?,
                value: row.get(1),
                updated_at: Timestamp(row.get(2)),
            })
        })
        .collect()
}
