//! A space's configuration: `env` values (JSON that every machine and flow expression reads as
//! `env.<name>`) and secrets (text that no expression sees; an HTTP request names one in a
//! `secret_headers` template and gets it at send time).
//!
//! Invariants:
//! - A secret's value leaves the node only in the request that names it: no answer, log
//!   record, job payload, run or error message carries it.
//! - A value is checked here (name, size, JSON) before the store sees it.

use serde_json::Value;
use switchyard_model::{MAX_ENV_VALUE_BYTES, MAX_SECRET_BYTES, SecretTemplate, SpaceValue, SpaceValueKind, Timestamp};
use switchyard_store::{DeleteSpaceValue, PutSpaceValue, StoreError};

use crate::{Engine, EngineError, parse_segment, parse_space};

/// An `env` value as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvValue {
    /// Its name.
    pub name: String,
    /// The value.
    pub value: Value,
    /// When it was last set.
    pub updated_at: Timestamp,
}

/// A secret as the API shows it: its name, never its value.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretInfo {
    /// Its name.
    pub name: String,
    /// When it was last set.
    pub updated_at: Timestamp,
}

fn env_value(v: SpaceValue) -> Result<EnvValue, EngineError> {
    let value = serde_json::from_str(&v.value)
        .map_err(|e| StoreError::Corrupt(format!("env value {:?}: {e}", v.name.as_ref())))?;
    Ok(EnvValue { name: v.name.to_string(), value, updated_at: v.updated_at })
}

impl Engine {
    /// Sets an `env` value; whether it is new.
    pub async fn set_env(&self, space: &str, name: &str, value: &Value) -> Result<bool, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("name", name)?;
        let text = serde_json::to_string(value).map_err(|e| EngineError::validation(format!("value: {e}")))?;
        if text.len() > MAX_ENV_VALUE_BYTES {
            return Err(EngineError::validation(format!(
                "value: {} bytes of JSON; an env value is at most {MAX_ENV_VALUE_BYTES}",
                text.len()
            )));
        }
        let put = PutSpaceValue { space, kind: SpaceValueKind::Env, name, value: text };
        Ok(self.execute(put).await?.created)
    }

    /// One `env` value.
    pub async fn get_env(&self, space: &str, name: &str) -> Result<EnvValue, EngineError> {
        let (space, name) = (parse_space(space)?, parse_segment("name", name)?);
        match self.store.space_value(&space, SpaceValueKind::Env, &name).await? {
            Some(value) => env_value(value),
            None => Err(not_found(&space, SpaceValueKind::Env, &name)),
        }
    }

    /// Every `env` value of a space, by name.
    pub async fn list_env(&self, space: &str) -> Result<Vec<EnvValue>, EngineError> {
        let values = self.store.space_values(&parse_space(space)?, SpaceValueKind::Env).await?;
        values.into_iter().map(env_value).collect()
    }

    /// Deletes an `env` value.
    pub async fn delete_env(&self, space: &str, name: &str) -> Result<(), EngineError> {
        self.delete_space_value(space, SpaceValueKind::Env, name).await
    }

    /// Sets a secret; whether it is new.
    pub async fn set_secret(&self, space: &str, name: &str, value: String) -> Result<bool, EngineError> {
        let space = parse_space(space)?;
        let name = parse_segment("name", name)?;
        if value.is_empty() || value.len() > MAX_SECRET_BYTES {
            return Err(EngineError::validation(format!(
                "value: a secret is 1-{MAX_SECRET_BYTES} bytes, not {}",
                value.len()
            )));
        }
        // A header value cannot carry line breaks; refusing them here beats a failed send later.
        if value.contains(['\r', '\n', '\0']) {
            return Err(EngineError::validation("value: a secret must not contain line breaks or NUL"));
        }
        let put = PutSpaceValue { space, kind: SpaceValueKind::Secret, name, value };
        Ok(self.execute(put).await?.created)
    }

    /// One secret's name and when it was set.
    pub async fn get_secret_info(&self, space: &str, name: &str) -> Result<SecretInfo, EngineError> {
        let (space, name) = (parse_space(space)?, parse_segment("name", name)?);
        match self.store.space_value(&space, SpaceValueKind::Secret, &name).await? {
            Some(v) => Ok(SecretInfo { name: v.name.to_string(), updated_at: v.updated_at }),
            None => Err(not_found(&space, SpaceValueKind::Secret, &name)),
        }
    }

    /// Every secret of a space, by name (names only).
    pub async fn list_secrets(&self, space: &str) -> Result<Vec<SecretInfo>, EngineError> {
        let values = self.store.space_values(&parse_space(space)?, SpaceValueKind::Secret).await?;
        Ok(values.into_iter().map(|v| SecretInfo { name: v.name.to_string(), updated_at: v.updated_at }).collect())
    }

    /// Deletes a secret.
    pub async fn delete_secret(&self, space: &str, name: &str) -> Result<(), EngineError> {
        self.delete_space_value(space, SpaceValueKind::Secret, name).await
    }

    async fn delete_space_value(&self, space: &str, kind: SpaceValueKind, name: &str) -> Result<(), EngineError> {
        let (space, name) = (parse_space(space)?, parse_segment("name", name)?);
        Ok(self.execute(DeleteSpaceValue { space, kind, name }).await?)
    }

    /// Renders a request's secret headers (header → template) with the space's secrets, read
    /// now: the first secret that is not set is the error.
    pub(crate) async fn render_secret_headers(
        &self,
        space: &switchyard_model::SpaceName,
        templates: &serde_json::Map<String, Value>,
    ) -> Result<Vec<(String, String)>, EngineError> {
        let mut secrets: Vec<SpaceValue> = Vec::new();
        let mut out = Vec::with_capacity(templates.len());
        for (header, template) in templates {
            let text = template.as_str().ok_or_else(|| {
                EngineError::validation(format!("payload.secret_headers.{header}: a string template is required"))
            })?;
            let template = SecretTemplate::parse(text)
                .map_err(|e| EngineError::validation(format!("payload.secret_headers.{header}: {e}")))?;
            for name in template.secrets() {
                if !secrets.iter().any(|s| &s.name == name) {
                    match self.store.space_value(space, SpaceValueKind::Secret, name).await? {
                        Some(secret) => secrets.push(secret),
                        None => return Err(not_found(space, SpaceValueKind::Secret, name)),
                    }
                }
            }
            let rendered = template
                .render(|name| secrets.iter().find(|s| &s.name == name).map(|s| s.value.as_str()))
                .map_err(|name| not_found(space, SpaceValueKind::Secret, name))?;
            out.push((header.clone(), rendered));
        }
        Ok(out)
    }
}

fn not_found(
    space: &switchyard_model::SpaceName,
    kind: SpaceValueKind,
    name: &switchyard_model::Segment,
) -> EngineError {
    StoreError::SpaceValueNotFound { space: space.to_string(), kind, name: name.to_string() }.into()
}
