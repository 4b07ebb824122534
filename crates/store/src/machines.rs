//! A cache of compiled machine versions, owned by the code that writes.
//!
//! Machine versions are immutable once committed, so a committed entry goes stale only when its
//! space is deleted (a re-created space may put another definition under the same name and
//! version): the deletion drops the space's entries. An entry may also be filled inside a
//! transaction that later rolls back (a version put and used in the same group), so the owner
//! clears the cache whenever a transaction fails.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_model::{CompiledMachine, MachineVersion};

use crate::error::StoreError;

/// space -> machine name -> version -> compiled; nested so lookups by `&str` allocate nothing.
type Entries = HashMap<String, HashMap<String, HashMap<u32, Result<Arc<CompiledMachine>, Arc<str>>>>>;

/// Compiled machine versions by (space, name, version).
#[derive(Debug, Default)]
pub struct MachineCache {
    entries: Entries,
}

impl MachineCache {
    /// The compiled version, or why it does not compile, if cached.
    pub fn get(
        &self,
        space: &str,
        name: &str,
        version: MachineVersion,
    ) -> Option<Result<Arc<CompiledMachine>, StoreError>> {
        let entry = self.entries.get(space)?.get(name)?.get(&version.get())?;
        Some(entry.clone().map_err(|message| StoreError::BadDefinition {
            address: format!("{space}:{name}:{version}"),
            message: message.to_string(),
        }))
    }

    /// The compiled version, compiling `definition` (canonical JSON) on a miss.
    pub fn get_or_compile(
        &mut self,
        space: &str,
        name: &str,
        version: MachineVersion,
        definition: impl FnOnce() -> Result<serde_json::Value, StoreError>,
    ) -> Result<Arc<CompiledMachine>, StoreError> {
        if let Some(cached) = self.get(space, name, version) {
            return cached;
        }
        let definition = definition()?;
        let compiled = match CompiledMachine::from_canonical_json(&definition) {
            Ok(compiled) => Ok(Arc::new(compiled)),
            Err(e) => {
                tracing::warn!(
                    machine = %format!("{space}:{name}:{version}"),
                    error = %e,
                    "a stored machine definition does not compile with this version; its instances refuse events"
                );
                Err(Arc::<str>::from(e.to_string()))
            }
        };
        self.entries
            .entry(space.to_string())
            .or_default()
            .entry(name.to_string())
            .or_default()
            .insert(version.get(), compiled.clone());
        self.get(space, name, version).unwrap_or_else(|| {
            compiled.map_err(|m| StoreError::BadDefinition {
                address: format!("{space}:{name}:{version}"),
                message: m.to_string(),
            })
        })
    }

    /// Forgets everything (after a rollback, entries may describe versions that never committed).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Forgets the machines of a deleted space.
    pub fn forget_space(&mut self, space: &str) {
        self.entries.remove(space);
    }
}

/// Refuses a context whose compact JSON (`text`, as it is about to be stored) is larger than
/// `limit` bytes. Checked on the text the store writes anyway, so it costs nothing more.
pub(crate) fn check_context_size(text: &str, limit: usize) -> Result<(), StoreError> {
    if text.len() > limit {
        return Err(StoreError::Transition(switchyard_model::TransitionError::ContextLimit(
            switchyard_model::json::JsonLimitError::TooLarge { size: text.len(), limit },
        )));
    }
    Ok(())
}
