//! Decoding of stored values into typed records, shared by every backend: a value that does
//! not decode is `StoreError::Corrupt`, never a panic.

use std::fmt::Display;

use switchyard_model::{Segment, SpaceName};

use crate::error::StoreError;
use crate::types::{MachineVersion, Revision, SpaceGrant};

/// A stored machine version (any integer width the backend stores it in).
pub(crate) fn machine_version<T: TryInto<u32> + Copy + Display>(v: T) -> Result<MachineVersion, StoreError> {
    v.try_into().ok().and_then(MachineVersion::new).ok_or_else(|| StoreError::Corrupt(format!("machine version {v}")))
}

/// A stored revision (any integer width the backend stores it in).
pub(crate) fn revision<T: TryInto<u64> + Copy + Display>(v: T) -> Result<Revision, StoreError> {
    v.try_into().ok().and_then(Revision::new).ok_or_else(|| StoreError::Corrupt(format!("revision {v}")))
}

/// A stored space name.
pub(crate) fn space(s: String) -> Result<SpaceName, StoreError> {
    s.parse().map_err(|e| StoreError::Corrupt(format!("stored space name: {e}")))
}

/// A stored machine name, instance id or other name segment.
pub(crate) fn segment(s: String) -> Result<Segment, StoreError> {
    s.parse().map_err(|e| StoreError::Corrupt(format!("stored name: {e}")))
}

/// A token's stored spaces: the JSON list that `SpaceGrant::to_names` wrote.
pub(crate) fn space_grant(json: &str) -> Result<SpaceGrant, StoreError> {
    let names: Vec<String> = serde_json::from_str(json)?;
    if names.iter().any(|n| n == "*") {
        return Ok(SpaceGrant::All);
    }
    Ok(SpaceGrant::Only(names.into_iter().map(space).collect::<Result<_, _>>()?))
}
