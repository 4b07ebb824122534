//! Configuration as code (`switchyard apply`, `switchyard export`): the space's resources by
//! collection and name, put (optionally as a dry run) and read back as the server stores them.

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::Value;

use crate::{Client, ClientError};

impl Client {
    /// Puts `collection/name` of a space (`machines`, `flows`, `triggers`, `endpoints`,
    /// `functions`, `kv`) with a JSON or YAML body; with `dry_run`, only asks what the put would
    /// change (`{created, changed, current, definition}`; supported by machines, flows,
    /// triggers and endpoints).
    pub async fn put_resource(
        &self,
        space: &str,
        collection: &str,
        name: &str,
        body: Vec<u8>,
        content_type: &str,
        dry_run: bool,
    ) -> Result<Value, ClientError> {
        let query: &[(&str, &str)] = if dry_run { &[("dry_run", "true")] } else { &[] };
        let url = self.url(&["v1", "spaces", space, collection, name], query)?;
        let content_type = HeaderValue::try_from(content_type)
            .map_err(|_| ClientError::InvalidArgument(format!("content type \"{content_type}\"")))?;
        self.json(self.request(Method::PUT, url).header(CONTENT_TYPE, content_type).body(body)).await
    }

    /// `collection/name` of a space as the server shows it; `None` when there is none.
    pub async fn get_resource(&self, space: &str, collection: &str, name: &str) -> Result<Option<Value>, ClientError> {
        let url = self.url(&["v1", "spaces", space, collection, name], &[])?;
        match self.json(self.request(Method::GET, url)).await {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A space's `collection` listing as the server answers it.
    pub async fn list_resources(&self, space: &str, collection: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, collection], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// The component (WebAssembly bytes) of a function's latest version.
    pub async fn function_component(&self, space: &str, name: &str) -> Result<Vec<u8>, ClientError> {
        let url = self.url(&["v1", "spaces", space, "functions", name, "component"], &[])?;
        self.body(self.request(Method::GET, url)).await
    }
}
