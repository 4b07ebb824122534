//! A cache of compiled machine versions, owned by the code that writes.
//!
//! Machine versions are immutable once committed, so a committed entry never goes stale. An
//! entry may however be filled inside a transaction that later rolls back (a version put and
//! used in the same group), so the owner clears the cache whenever a transaction fails.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_model::CompiledMachine;

use crate::error::StoreError;
use crate::types::MachineVersion;

/// space -> machine name -> version -> compiled; nested so lookups by `&str` allocate nothing.
type Entries = HashMap<String, HashMap<String, HashMap<u32, Arc<CompiledMachine>>>>;

/// Compiled machine versions by (space, name, version).
#[derive(Debug, Default)]
pub struct MachineCache {
    entries: Entries,
}

impl MachineCache {
    /// The compiled version, if cached.
    pub fn get(&self, space: &str, name: &str, version: MachineVersion) -> Option<Arc<CompiledMachine>> {
        self.entries.get(space)?.get(name)?.get(&version.get()).cloned()
    }

    /// The compiled version, compiling `definition` (canonical JSON) on a miss.
    pub fn get_or_compile(
        &mut self,
        space: &str,
        name: &str,
        version: MachineVersion,
        definition: impl FnOnce() -> Result<serde_json::Value, StoreError>,
    ) -> Result<Arc<CompiledMachine>, StoreError> {
        if let Some(m) = self.get(space, name, version) {
            return Ok(m);
        }
        let definition = definition()?;
        let compiled = CompiledMachine::from_canonical_json(&definition).map_err(|e| StoreError::BadDefinition {
            address: format!("{space}:{name}:{version}"),
            message: e.to_string(),
        })?;
        let compiled = Arc::new(compiled);
        self.entries
            .entry(space.to_string())
            .or_default()
            .entry(name.to_string())
            .or_default()
            .insert(version.get(), compiled.clone());
        Ok(compiled)
    }

    /// Forgets everything (after a rollback, entries may describe versions that never committed).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
