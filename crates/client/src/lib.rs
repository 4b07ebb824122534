//! Rust client for Switchyard's HTTP API (`docs/http-api.md`).
//!
//! One [`Client`] per server: it is cheap to clone and shares one connection pool, so clones can
//! be handed to concurrent tasks. Every route has one typed method; a refusal from the server
//! is a [`ClientError::Api`] carrying the stable error code.
//!
//! [`grpc::GrpcClient`] ([`ClientBuilder::build_grpc`]) speaks the gRPC API on the same port
//! (`docs/grpc.md`), for many writes in flight on one connection.
//!
//! `https://` servers are reached over rustls with the ring crypto provider. Their certificate
//! must chain to a root the platform trusts (the operating system's store, through
//! `rustls-platform-verifier`) or to a CA added with [`ClientBuilder::ca_cert_file`].

mod access;
mod config;
mod endpoints;
mod env;
mod error;
mod flows;
mod functions;
pub mod grpc;
mod jobs;
mod streams;
mod triggers;
mod types;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, RequestBuilder, Url};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use endpoints::{Delivery, DeliveryPage, Endpoint};
pub use env::{EnvValue, SecretInfo};
pub use error::ClientError;
pub use flows::{
    BulkRuns, Flow, FlowList, FlowSummary, ListRuns, PutFlow, Run, RunError, RunEvent, RunFilter, RunNode, RunPage,
    RunSubflow, RunSummary, SkippedRun, StartRun,
};
pub use functions::{FunctionInfo, FunctionSettings, InvocationPage, InvokeOptions, InvokeOutput};
pub use jobs::{Enqueued, JobQuery};
pub use streams::{
    Acked, Bucket, Delivered, KeyInfo, KeyList, KvCondition, KvPutOptions, KvValue, KvWritten, Lease, PullOptions,
    Pulled, Released,
};
pub use triggers::{Backfill, Execution, ExecutionPage, Trigger};
pub use types::{
    CancelInstance, ChildInstance, CreateInstance, CreateToken, CreatedToken, History, HistoryEvent, Instance,
    InstanceList, JsonObject, ListInstances, Machine, MachineList, MachineSummary, ParentInstance, PendingWork,
    Publish, Published, PutMachine, Role, SendEvent, Space, SpaceDeleted, SpaceDeletion, SpaceList, TokenInfo,
    TokenList, Transition, WatchQuery,
};

/// A client of one Switchyard server.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    auth: Option<HeaderValue>,
    /// Spaces the server said a write created ([`SPACE_CREATED_HEADER`]), not yet taken.
    spaces_created: std::sync::Mutex<Vec<String>>,
}

/// The response header naming the space a write created.
pub const SPACE_CREATED_HEADER: &str = "x-switchyard-space-created";

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.base.as_str())
            .field("token", &self.inner.auth.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Parses a server address: a URL (`http://127.0.0.1:7400` or `https://…`, optionally with a
/// path prefix) or a bare `host:port`, which means plain HTTP.
pub fn server_url(server: &str) -> Result<Url, ClientError> {
    let server = server.trim();
    if server.is_empty() {
        return Err(ClientError::InvalidServer("the address is empty".into()));
    }
    let text = if server.contains("://") { server.to_string() } else { format!("http://{server}") };
    let url = Url::parse(&text).map_err(|e| ClientError::InvalidServer(format!("\"{server}\": {e}")))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(ClientError::InvalidServer(format!("\"{server}\": unsupported scheme \"{other}\""))),
    }
    if url.host_str().is_none_or(str::is_empty) || url.cannot_be_a_base() {
        return Err(ClientError::InvalidServer(format!("\"{server}\": no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::InvalidServer(format!("\"{server}\": must not have a query or fragment")));
    }
    Ok(url)
}

/// Installs ring as this process's default rustls crypto provider unless one is installed.
///
/// reqwest is built here without a provider of its own, so building any `reqwest::Client`
/// (this crate's or another one in the same process) panics until a provider is installed.
/// [`ClientBuilder::build`] calls this; a process that builds reqwest clients of its own calls
/// it first.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another thread installing one is fine: any provider will do.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Settings of a [`Client`] beyond its server and token: which private CAs to trust.
/// Cloning it is cheap; one builder can make clients of several servers ([`Self::server`]).
#[derive(Clone)]
pub struct ClientBuilder {
    server: String,
    token: Option<String>,
    ca_certs: Vec<reqwest::Certificate>,
    /// The same CAs as PEM, for the gRPC transport.
    ca_pems: Vec<Vec<u8>>,
    /// A client certificate and its key (PEM: the certificate chain, then the key), presented
    /// to a server that verifies client certificates.
    identity_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("ca_certs", &self.ca_certs.len())
            .field("identity", &self.identity_pem.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ClientBuilder {
    /// Sets the server (`http://host:port`, `https://host:port` or `host:port`).
    pub fn server(mut self, server: &str) -> ClientBuilder {
        self.server = server.to_string();
        self
    }

    /// The server address as given.
    pub fn server_address(&self) -> &str {
        &self.server
    }

    /// Sets the bearer token sent with every request.
    pub fn token(mut self, token: Option<String>) -> ClientBuilder {
        self.token = token;
        self
    }

    /// Also trusts the CA certificates in `pem` (one or more `BEGIN CERTIFICATE` blocks) for
    /// `https://` servers, besides the platform's roots: the way to reach a server whose
    /// certificate a private CA issued.
    pub fn ca_cert_pem(mut self, pem: &[u8]) -> Result<ClientBuilder, ClientError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut found = 0;
        for (n, der) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let der = der.map_err(|e| ClientError::InvalidCaCert(format!("not PEM: {e}")))?;
            // Checked here, so that a bad file is named rather than failing the client's build.
            rustls::RootCertStore::empty().add(der.clone()).map_err(|e| {
                ClientError::InvalidCaCert(format!("certificate {} cannot be a trust anchor: {e}", n + 1))
            })?;
            let cert = reqwest::Certificate::from_der(&der)
                .map_err(|e| ClientError::InvalidCaCert(format!("certificate {}: {e}", n + 1)))?;
            self.ca_certs.push(cert);
            found += 1;
        }
        if found == 0 {
            return Err(ClientError::InvalidCaCert(
                "no certificate in it (expected -----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        self.ca_pems.push(pem.to_vec());
        Ok(self)
    }

    /// Presents the client certificate in `cert_pem` (the certificate, then any
    /// intermediates) with the private key in `key_pem` to a server that verifies client
    /// certificates (`serve --tls-client-ca`): a request without a token then acts as the
    /// principal the certificate's subject names.
    pub fn client_identity_pem(mut self, cert_pem: &[u8], key_pem: &[u8]) -> Result<ClientBuilder, ClientError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClientError::Certificate(format!("the client certificate is not PEM: {e}")))?;
        if certs.is_empty() {
            return Err(ClientError::Certificate(
                "the client certificate file holds no certificate (expected -----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| ClientError::Certificate(format!("the client key holds no usable private key: {e}")))?;
        let mut pem = cert_pem.to_vec();
        if !pem.ends_with(b"\n") {
            pem.push(b'\n');
        }
        pem.extend_from_slice(key_pem);
        reqwest::Identity::from_pem(&pem)
            .map_err(|e| ClientError::Certificate(format!("the client certificate: {e}")))?;
        self.identity_pem = Some(pem);
        Ok(self)
    }

    /// [`Self::client_identity_pem`] with the certificate and key read from files.
    pub fn client_identity_files(
        self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<ClientBuilder, ClientError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| ClientError::Certificate(format!("cannot read {}: {e}", path.display())))
        };
        let (cert, key) = (read(cert.as_ref())?, read(key.as_ref())?);
        self.client_identity_pem(&cert, &key)
    }

    /// [`Self::ca_cert_pem`] with the PEM read from `path`.
    pub fn ca_cert_file(self, path: impl AsRef<Path>) -> Result<ClientBuilder, ClientError> {
        let path = path.as_ref();
        let pem = std::fs::read(path)
            .map_err(|e| ClientError::InvalidCaCert(format!("cannot read {}: {e}", path.display())))?;
        self.ca_cert_pem(&pem).map_err(|e| match e {
            ClientError::InvalidCaCert(why) => ClientError::InvalidCaCert(format!("{}: {why}", path.display())),
            other => other,
        })
    }

    /// A reqwest builder that trusts what this builder's clients trust, for requests made
    /// beside the typed methods (raw event streams in benchmarks).
    pub fn reqwest_builder(&self) -> reqwest::ClientBuilder {
        install_crypto_provider();
        let builder = reqwest::Client::builder().tls_certs_merge(self.ca_certs.iter().cloned());
        // Checked when it was set: it parses.
        match self.identity_pem.as_deref().map(reqwest::Identity::from_pem) {
            Some(Ok(identity)) => builder.identity(identity),
            _ => builder,
        }
    }

    /// Builds the client.
    pub fn build(&self) -> Result<Client, ClientError> {
        let base = server_url(&self.server)?;
        let auth = match &self.token {
            Some(token) => {
                let mut value = HeaderValue::try_from(format!("Bearer {}", token.trim())).map_err(|_| {
                    ClientError::InvalidArgument("the token contains characters not allowed in a header".into())
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let http = self
            .reqwest_builder()
            .user_agent(concat!("switchyard-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .no_proxy()
            .build()
            .map_err(ClientError::transport)?;
        Ok(Client { inner: Arc::new(Inner { http, base, auth, spaces_created: Default::default() }) })
    }
}

impl Client {
    /// A client of `server` (`http://host:port`, `https://host:port` or `host:port`) sending
    /// `token` as a bearer token, trusting the platform's roots.
    pub fn new(server: &str, token: Option<String>) -> Result<Client, ClientError> {
        Client::builder(server).token(token).build()
    }

    /// A builder of a client of `server`, for settings beyond [`Client::new`]'s.
    pub fn builder(server: &str) -> ClientBuilder {
        ClientBuilder {
            server: server.to_string(),
            token: None,
            ca_certs: Vec::new(),
            ca_pems: Vec::new(),
            identity_pem: None,
        }
    }

    /// The server's base URL.
    pub fn server(&self) -> &Url {
        &self.inner.base
    }

    /// The spaces that writes through this client (and its clones) created since the last
    /// call, in the order created: a space comes into being with the first write into it, so
    /// a name here that was not meant to be new is likely a typo.
    pub fn take_spaces_created(&self) -> Vec<String> {
        std::mem::take(&mut *self.inner.spaces_created.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Deletes a space and everything in it; needs an admin token granted the space.
    pub async fn delete_space(&self, space: &str) -> Result<SpaceDeleted, ClientError> {
        let url = self.url(&["v1", "spaces", space], &[])?;
        self.json(self.request(Method::DELETE, url)).await
    }

    /// Stores a definition (JSON or YAML, per `content_type`) as the machine's next version.
    pub async fn put_machine(
        &self,
        space: &str,
        name: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<PutMachine, ClientError> {
        let url = self.url(&["v1", "spaces", space, "machines", name], &[])?;
        let content_type = HeaderValue::try_from(content_type)
            .map_err(|_| ClientError::InvalidArgument(format!("content type \"{content_type}\"")))?;
        self.json(self.request(Method::PUT, url).header(CONTENT_TYPE, content_type).body(body)).await
    }

    /// Reads a machine's `version`, or its latest version.
    pub async fn get_machine(&self, space: &str, name: &str, version: Option<u64>) -> Result<Machine, ClientError> {
        let version = version.map(|v| v.to_string());
        let query: Vec<(&str, &str)> = version.iter().map(|v| ("version", v.as_str())).collect();
        let url = self.url(&["v1", "spaces", space, "machines", name], &query)?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Lists the latest version of each machine in `space`.
    pub async fn list_machines(&self, space: &str) -> Result<MachineList, ClientError> {
        let url = self.url(&["v1", "spaces", space, "machines"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Creates an instance (or returns the original one when the idempotency key repeats).
    pub async fn create_instance(
        &self,
        space: &str,
        machine: &str,
        body: &CreateInstance,
    ) -> Result<Instance, ClientError> {
        let url = self.url(&["v1", "spaces", space, "machines", machine, "instances"], &[])?;
        self.json(self.request(Method::POST, url).json(body)).await
    }

    /// Reads an instance.
    pub async fn get_instance(&self, space: &str, machine: &str, id: &str) -> Result<Instance, ClientError> {
        let url = self.url(&["v1", "spaces", space, "machines", machine, "instances", id], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Lists a page of a machine's live instances, ordered by id.
    pub async fn list_instances(
        &self,
        space: &str,
        machine: &str,
        query: &ListInstances,
    ) -> Result<InstanceList, ClientError> {
        let limit = query.limit.map(|l| l.to_string());
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(state) = &query.state {
            pairs.push(("state", state));
        }
        if let Some(limit) = &limit {
            pairs.push(("limit", limit));
        }
        if let Some(cursor) = &query.cursor {
            pairs.push(("cursor", cursor));
        }
        let url = self.url(&["v1", "spaces", space, "machines", machine, "instances"], &pairs)?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Cancels an instance: its pending and running work is cancelled, it accepts no more events.
    pub async fn cancel_instance(
        &self,
        space: &str,
        machine: &str,
        id: &str,
        body: &CancelInstance,
    ) -> Result<Instance, ClientError> {
        let url = self.url(&["v1", "spaces", space, "machines", machine, "instances", id, "cancel"], &[])?;
        self.json(self.request(Method::POST, url).json(body)).await
    }

    /// Moves an instance to another version of its machine (its state must exist there).
    pub async fn migrate_instance(
        &self,
        space: &str,
        machine: &str,
        id: &str,
        version: u64,
    ) -> Result<Instance, ClientError> {
        let url = self.url(&["v1", "spaces", space, "machines", machine, "instances", id, "migrate"], &[])?;
        self.json(self.request(Method::POST, url).json(&json!({ "version": version }))).await
    }

    /// Soft-deletes an instance: its history stays, its id is not reused.
    pub async fn delete_instance(&self, space: &str, machine: &str, id: &str) -> Result<(), ClientError> {
        let url = self.url(&["v1", "spaces", space, "machines", machine, "instances", id], &[])?;
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// Reads a page of an instance's history: records with `seq` greater than `after`.
    pub async fn history(
        &self,
        space: &str,
        machine: &str,
        id: &str,
        after: Option<u64>,
        limit: Option<u32>,
    ) -> Result<History, ClientError> {
        let after = after.map(|a| a.to_string());
        let limit = limit.map(|l| l.to_string());
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(after) = &after {
            pairs.push(("after", after));
        }
        if let Some(limit) = &limit {
            pairs.push(("limit", limit));
        }
        let url = self.url(&["v1", "spaces", space, "machines", machine, "instances", id, "history"], &pairs)?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Applies an event to an instance.
    pub async fn send_event(
        &self,
        space: &str,
        machine: &str,
        id: &str,
        event: &SendEvent,
    ) -> Result<Transition, ClientError> {
        let url = self.url(&["v1", "spaces", space, "machines", machine, "instances", id, "events"], &[])?;
        self.json(self.request(Method::POST, url).json(event)).await
    }

    /// Runs operations atomically; returns the reply body, `{"results":[…]}`.
    pub async fn batch(&self, operations: &[Value]) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "batch"], &[])?;
        self.json(self.request(Method::POST, url).json(&json!({ "operations": operations }))).await
    }

    /// Publishes a message to a topic.
    pub async fn publish(&self, space: &str, topic: &str, message: &Publish) -> Result<Published, ClientError> {
        let url = self.url(&["v1", "spaces", space, "topics", topic, "messages"], &[])?;
        self.json(self.request(Method::POST, url).json(message)).await
    }

    /// Opens a watch of the event log (server-sent events); read it with [`Watch::next`].
    pub async fn watch(&self, space: &str, query: &WatchQuery) -> Result<Watch, ClientError> {
        let mut params: Vec<(&str, &str)> = Vec::new();
        for (name, value) in [
            ("from", &query.from),
            ("address", &query.address),
            ("kind", &query.kind),
            ("state", &query.state),
            ("event", &query.event),
        ] {
            if let Some(v) = value {
                params.push((name, v));
            }
        }
        let url = self.url(&["v1", "spaces", space, "watch"], &params)?;
        let response = self.request(Method::GET, url).send().await.map_err(ClientError::transport)?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await.map_err(ClientError::transport)?;
            return Err(ClientError::from_reply(status.as_u16(), status.canonical_reason(), &bytes));
        }
        Ok(Watch { response, buffer: String::new() })
    }

    /// Lists the spaces this token may see.
    pub async fn list_spaces(&self) -> Result<SpaceList, ClientError> {
        let url = self.url(&["v1", "spaces"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Creates a token; the reply holds its secret, shown only this once.
    pub async fn create_token(&self, body: &CreateToken) -> Result<CreatedToken, ClientError> {
        let url = self.url(&["v1", "tokens"], &[])?;
        self.json(self.request(Method::POST, url).json(body)).await
    }

    /// Lists the tokens the caller's grant covers (without secrets).
    pub async fn list_tokens(&self) -> Result<TokenList, ClientError> {
        let url = self.url(&["v1", "tokens"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Revokes a token by id.
    pub async fn revoke_token(&self, id: &str) -> Result<(), ClientError> {
        let url = self.url(&["v1", "tokens", id], &[])?;
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// Succeeds while the server process runs (`GET /healthz`).
    pub async fn healthz(&self) -> Result<(), ClientError> {
        let url = self.url(&["healthz"], &[])?;
        self.empty(self.inner.http.get(url)).await
    }

    /// Succeeds once the store is open and migrated (`GET /readyz`).
    pub async fn readyz(&self) -> Result<(), ClientError> {
        let url = self.url(&["readyz"], &[])?;
        self.empty(self.inner.http.get(url)).await
    }

    /// Reads the Prometheus metrics text (`GET /metrics`).
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let url = self.url(&["metrics"], &[])?;
        let bytes = self.body(self.request(Method::GET, url)).await?;
        String::from_utf8(bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// Reads the OpenAPI description (`GET /v1/openapi.json`).
    pub async fn openapi(&self) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "openapi.json"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// The base URL with `segments` appended, each percent-encoded as one path segment.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, ClientError> {
        let mut url = self.inner.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| ClientError::InvalidServer(format!("\"{}\" cannot be a base", self.inner.base)))?;
            path.pop_if_empty();
            for segment in segments {
                // `Url` drops `.` and `..` segments and an empty one changes the route: refuse
                // rather than send the request somewhere else.
                if matches!(*segment, "" | "." | "..") {
                    return Err(ClientError::InvalidArgument(format!(
                        "\"{segment}\" cannot be used as a name in a path"
                    )));
                }
                path.push(segment);
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let request = self.inner.http.request(method, url);
        match &self.inner.auth {
            Some(auth) => request.header(AUTHORIZATION, auth.clone()),
            None => request,
        }
    }

    /// Sends `request`; returns the body of a 2xx reply, or the server's error.
    async fn body(&self, request: RequestBuilder) -> Result<Vec<u8>, ClientError> {
        let response = request.send().await.map_err(ClientError::transport)?;
        let status = response.status();
        if let Some(space) = response.headers().get(SPACE_CREATED_HEADER).and_then(|v| v.to_str().ok()) {
            self.inner.spaces_created.lock().unwrap_or_else(|p| p.into_inner()).push(space.to_owned());
        }
        let bytes = response.bytes().await.map_err(ClientError::transport)?;
        if status.is_success() {
            Ok(bytes.to_vec())
        } else {
            Err(ClientError::from_reply(status.as_u16(), status.canonical_reason(), &bytes))
        }
    }

    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        let bytes = self.body(request).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn empty(&self, request: RequestBuilder) -> Result<(), ClientError> {
        self.body(request).await.map(drop)
    }
}

/// An open watch: records as the server sends them.
pub struct Watch {
    response: reqwest::Response,
    buffer: String,
}

impl Watch {
    /// The next record; `None` when the server ended the stream. An error the server reports
    /// in the stream (such as `seq_expired`) comes back as [`ClientError::Api`].
    pub async fn next(&mut self) -> Result<Option<HistoryEvent>, ClientError> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                if event.as_deref() == Some("error") {
                    return Err(ClientError::from_reply(200, None, data.as_bytes()));
                }
                return serde_json::from_str(&data).map(Some).map_err(|e| ClientError::Decode(e.to_string()));
            }
            match self.response.chunk().await.map_err(ClientError::transport)? {
                Some(chunk) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_parse_or_explain() {
        let table: &[(&str, Result<&str, &str>)] = &[
            ("http://127.0.0.1:7400", Ok("http://127.0.0.1:7400/")),
            ("127.0.0.1:7400", Ok("http://127.0.0.1:7400/")),
            ("localhost:7400", Ok("http://localhost:7400/")),
            ("[::1]:7400", Ok("http://[::1]:7400/")),
            (" http://example.com/prefix/ ", Ok("http://example.com/prefix/")),
            ("", Err("empty")),
            ("https://example.com", Ok("https://example.com/")),
            ("https://127.0.0.1:7400/prefix", Ok("https://127.0.0.1:7400/prefix")),
            ("ftp://example.com", Err("unsupported scheme")),
            ("http://example.com/?a=b", Err("query")),
            ("http://", Err("")),
        ];
        for (input, expected) in table {
            match (server_url(input), expected) {
                (Ok(url), Ok(want)) => assert_eq!(url.as_str(), *want, "{input}"),
                (Err(err), Err(want)) => assert!(err.to_string().contains(want), "{input}: {err}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn path_segments_are_percent_encoded_one_segment_each() {
        let client = Client::new("http://h:1/base", None).unwrap();
        let url = client.url(&["v1", "spaces", "a/b", "machines", "x?y#z %"], &[("state", "a&b")]).unwrap();
        assert_eq!(url.as_str(), "http://h:1/base/v1/spaces/a%2Fb/machines/x%3Fy%23z%20%25?state=a%26b");
    }

    #[test]
    fn dot_and_empty_segments_are_refused() {
        let client = Client::new("h:1", None).unwrap();
        for bad in ["", ".", ".."] {
            let err = client.url(&["v1", "spaces", bad, "machines"], &[]).unwrap_err();
            assert!(matches!(err, ClientError::InvalidArgument(_)), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn debug_output_hides_the_token() {
        let client = Client::new("h:1", Some("sy_secret".into())).unwrap();
        assert!(!format!("{client:?}").contains("sy_secret"));
    }

    #[test]
    fn bodies_serialize_without_absent_fields() {
        let body = serde_json::to_value(SendEvent::new("pay")).unwrap();
        assert_eq!(body, json!({"event": "pay"}));
        let body = serde_json::to_value(CreateInstance { id: Some("o-1".into()), ..Default::default() }).unwrap();
        assert_eq!(body, json!({"id": "o-1"}));
        let body = serde_json::to_value(CreateToken {
            name: "ci".into(),
            role: Role::Reader,
            spaces: vec!["acme".into()],
            principal: None,
        })
        .unwrap();
        assert_eq!(body, json!({"name": "ci", "role": "reader", "spaces": ["acme"]}));
    }
}
