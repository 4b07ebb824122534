//! Configuration as code: what putting a definition would do, without doing it — the
//! definition's normalised form beside the current one — so that `switchyard apply --dry-run`
//! shows the change the server would make, in the server's own terms.
//!
//! Invariant: a preview runs every check its put runs (parsing, compiling, names, spaces) and
//! writes nothing; a put of the same definition changes something exactly when the preview's
//! `definition` differs from its `current`.

use serde_json::Value;
use switchyard_model::DefinitionFormat;
use switchyard_model::endpoint::{compile_endpoint, parse_endpoint};
use switchyard_model::trigger::{compile_trigger, parse_trigger};

use crate::{Engine, EngineError, parse_segment, parse_space};

/// What a put would store, beside what is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The current definition (normalised as stored); `None` when the put would create it.
    pub current: Option<Value>,
    /// The definition the put would store (normalised).
    pub definition: Value,
    /// Whether the put would change anything (decided as the put decides it, which may see
    /// more than `current` and `definition` show: a flow's whole compiled machine, a
    /// function's secret values).
    pub changed: bool,
}

impl Preview {
    /// A preview whose change is the difference of the two forms shown.
    pub fn of(current: Option<Value>, definition: Value) -> Preview {
        let changed = current.as_ref() != Some(&definition);
        Preview { current, definition, changed }
    }
}

impl Engine {
    /// What putting a flow would store ([`Engine::put_flow`]'s checks, no write).
    pub async fn preview_flow(
        &self,
        space: &str,
        name: &str,
        body: &[u8],
        format: DefinitionFormat,
    ) -> Result<Preview, EngineError> {
        let (space, name, compiled) = self.compile_flow_put(space, name, body, format).await?;
        crate::check_own_space(&space, &compiled)?;
        let definition = compiled.flow().cloned().unwrap_or(Value::Null);
        let stored = self.store.get_machine(&space, &name, None).await?.map(|m| m.definition);
        // The put compares the whole compiled machine; the flow as written is what is shown.
        let changed = stored.as_ref() != Some(compiled.canonical_json());
        let current = stored.and_then(|d| d.get("flow").cloned());
        Ok(Preview { current, definition, changed })
    }

    /// What putting a trigger would store ([`Engine::put_trigger`]'s checks, no write).
    pub async fn preview_trigger(
        &self,
        space: &str,
        name: &str,
        body: &[u8],
        format: DefinitionFormat,
    ) -> Result<Preview, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("trigger name", name)?;
        let compiled = compile_trigger(parse_trigger(body, format)?, space.as_str(), name.as_ref())?;
        let definition = serde_json::to_value(&compiled.definition)
            .map_err(|e| EngineError::validation(format!("the trigger cannot be stored: {e}")))?;
        let current = self.store.get_trigger(&space, &name).await?.map(|t| t.definition);
        Ok(Preview::of(current, definition))
    }

    /// What putting an endpoint would store ([`Engine::put_endpoint`]'s checks, no write).
    pub async fn preview_endpoint(
        &self,
        space: &str,
        name: &str,
        body: &[u8],
        format: DefinitionFormat,
    ) -> Result<Preview, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("endpoint name", name)?;
        let compiled = compile_endpoint(parse_endpoint(body, format)?, name.as_ref())?;
        let definition = serde_json::to_value(&compiled.definition)
            .map_err(|e| EngineError::validation(format!("the endpoint cannot be stored: {e}")))?;
        let current = self.store.get_endpoint(&space, &name).await?.map(|e| e.definition);
        Ok(Preview::of(current, definition))
    }
}
