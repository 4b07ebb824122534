//! A space's `env` values and secrets (`docs/http-api.md`, "Env values and secrets"). A
//! secret's value is sent, never received.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Client, ClientError};

/// An `env` value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvValue {
    /// Its name.
    pub name: String,
    /// The value.
    pub value: Value,
    /// When it was last set (RFC 3339).
    pub updated_at: String,
}

/// A secret: its name and when it was set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretInfo {
    /// Its name.
    pub name: String,
    /// When it was last set (RFC 3339).
    pub updated_at: String,
}

#[derive(Deserialize)]
struct EnvList {
    env: Vec<EnvValue>,
}

#[derive(Deserialize)]
struct SecretList {
    secrets: Vec<SecretInfo>,
}

impl Client {
    /// Sets an `env` value.
    pub async fn set_env(&self, space: &str, name: &str, value: &Value) -> Result<EnvValue, ClientError> {
        let url = self.url(&["v1", "spaces", space, "env", name], &[])?;
        self.json(self.request(Method::PUT, url).json(&json!({ "value": value }))).await
    }

    /// One `env` value.
    pub async fn get_env(&self, space: &str, name: &str) -> Result<EnvValue, ClientError> {
        let url = self.url(&["v1", "spaces", space, "env", name], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Every `env` value of a space, by name.
    pub async fn list_env(&self, space: &str) -> Result<Vec<EnvValue>, ClientError> {
        let url = self.url(&["v1", "spaces", space, "env"], &[])?;
        Ok(self.json::<EnvList>(self.request(Method::GET, url)).await?.env)
    }

    /// Deletes an `env` value.
    pub async fn delete_env(&self, space: &str, name: &str) -> Result<(), ClientError> {
        let url = self.url(&["v1", "spaces", space, "env", name], &[])?;
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// Sets a secret (a space admin's call).
    pub async fn set_secret(&self, space: &str, name: &str, value: &str) -> Result<SecretInfo, ClientError> {
        let url = self.url(&["v1", "spaces", space, "secrets", name], &[])?;
        self.json(self.request(Method::PUT, url).json(&json!({ "value": value }))).await
    }

    /// Whether a secret is set, and when.
    pub async fn get_secret(&self, space: &str, name: &str) -> Result<SecretInfo, ClientError> {
        let url = self.url(&["v1", "spaces", space, "secrets", name], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Every secret of a space, by name.
    pub async fn list_secrets(&self, space: &str) -> Result<Vec<SecretInfo>, ClientError> {
        let url = self.url(&["v1", "spaces", space, "secrets"], &[])?;
        Ok(self.json::<SecretList>(self.request(Method::GET, url)).await?.secrets)
    }

    /// Deletes a secret (a space admin's call).
    pub async fn delete_secret(&self, space: &str, name: &str) -> Result<(), ClientError> {
        let url = self.url(&["v1", "spaces", space, "secrets", name], &[])?;
        self.empty(self.request(Method::DELETE, url)).await
    }
}
