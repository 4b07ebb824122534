//! A cache of compiled machine versions, shared by a store's writer and its users.
//!
//! Machine versions are immutable, so an entry never goes stale; a miss is filled by the caller
//! from its own view of the store (inside its transaction when it writes).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use switchyard_model::CompiledMachine;

use crate::error::StoreError;
use crate::types::MachineVersion;

/// space -> machine name -> version -> compiled; nested so lookups by `&str` allocate nothing.
type Entries = HashMap<String, HashMap<String, HashMap<u32, Arc<CompiledMachine>>>>;

/// Compiled machine versions by (space, name, version).
#[derive(Debug, Default)]
pub struct MachineCache {
    entries: RwLock<Entries>,
}

impl MachineCache {
    /// The compiled version, if cached.
    pub fn get(&self, space: &str, name: &str, version: MachineVersion) -> Option<Arc<CompiledMachine>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(space)?.get(name)?.get(&version.get()).cloned()
    }

    /// The compiled version, compiling `definition` (canonical JSON) on a miss.
    pub fn get_or_compile(
        &self,
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
        self.insert(space, name, version, compiled.clone());
        Ok(compiled)
    }

    /// Caches a compiled version.
    pub fn insert(&self, space: &str, name: &str, version: MachineVersion, machine: Arc<CompiledMachine>) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries
            .entry(space.to_string())
            .or_default()
            .entry(name.to_string())
            .or_default()
            .insert(version.get(), machine);
    }
}
