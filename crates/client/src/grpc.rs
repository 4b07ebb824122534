//! The gRPC transport (`switchyard.v1`): the generated clients of every service over one
//! HTTP/2 channel, sending the builder's token, and [`GrpcClient::apply_events`] for many
//! events in flight on one stream.
//!
//! The channel connects lazily and reconnects by itself; calls are multiplexed on it, so one
//! [`GrpcClient`] (cheap to clone) serves a whole program.

use futures_util::Stream;
use tonic::codegen::InterceptedService;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic_types::StatusExt;

pub use switchyard_proto::v1;

use crate::{ClientBuilder, ClientError, server_url};

/// The largest message a client accepts (a list of instances, a big KV value).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Adds the bearer token to every call.
#[derive(Clone)]
pub struct Auth(Option<MetadataValue<Ascii>>);

impl Interceptor for Auth {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// The channel with the token added to every call.
pub type AuthChannel = InterceptedService<Channel, Auth>;

/// A gRPC client of one Switchyard server.
#[derive(Clone)]
pub struct GrpcClient {
    channel: Channel,
    auth: Auth,
}

impl std::fmt::Debug for GrpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcClient").finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A gRPC client of the builder's server, token and trusted CAs (the same port as HTTP).
    /// Connects on first use.
    pub fn build_grpc(&self) -> Result<GrpcClient, ClientError> {
        let url = server_url(&self.server)?;
        let auth = match &self.token {
            Some(token) => {
                let mut value: MetadataValue<Ascii> = format!("Bearer {}", token.trim()).parse().map_err(|_| {
                    ClientError::InvalidArgument("the token contains characters not allowed in a header".into())
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let origin = format!("{}://{}", url.scheme(), url.authority());
        let mut endpoint = Endpoint::from_shared(origin.clone())
            .map_err(|e| ClientError::InvalidServer(format!("\"{origin}\": {e}")))?
            .tcp_nodelay(true)
            .connect_timeout(std::time::Duration::from_secs(10))
            .http2_keep_alive_interval(std::time::Duration::from_secs(30))
            .keep_alive_while_idle(true)
            .initial_stream_window_size(1 << 20)
            .initial_connection_window_size(4 << 20)
            .user_agent(concat!("switchyard-client/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        if url.scheme() == "https" {
            crate::install_crypto_provider();
            let mut tls = ClientTlsConfig::new().with_native_roots();
            for pem in &self.ca_pems {
                tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            if let Some(pem) = &self.identity_pem {
                // The chain and the key in one PEM: each reader takes its own blocks.
                tls = tls.identity(tonic::transport::Identity::from_pem(pem, pem));
            }
            endpoint = endpoint.tls_config(tls).map_err(|e| ClientError::Certificate(e.to_string()))?;
        }
        Ok(GrpcClient { channel: endpoint.connect_lazy(), auth: Auth(auth) })
    }
}

impl GrpcClient {
    fn channel(&self) -> AuthChannel {
        InterceptedService::new(self.channel.clone(), self.auth.clone())
    }

    /// The `Machines` service.
    pub fn machines(&self) -> v1::machines_client::MachinesClient<AuthChannel> {
        v1::machines_client::MachinesClient::new(self.channel()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The `Instances` service.
    pub fn instances(&self) -> v1::instances_client::InstancesClient<AuthChannel> {
        v1::instances_client::InstancesClient::new(self.channel()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The `Events` service.
    pub fn events(&self) -> v1::events_client::EventsClient<AuthChannel> {
        v1::events_client::EventsClient::new(self.channel()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The `Watch` service.
    pub fn watch(&self) -> v1::watch_client::WatchClient<AuthChannel> {
        v1::watch_client::WatchClient::new(self.channel()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The `Topics` service.
    pub fn topics(&self) -> v1::topics_client::TopicsClient<AuthChannel> {
        v1::topics_client::TopicsClient::new(self.channel())
    }

    /// The `Kv` service.
    pub fn kv(&self) -> v1::kv_client::KvClient<AuthChannel> {
        v1::kv_client::KvClient::new(self.channel()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The `Functions` service.
    pub fn functions(&self) -> v1::functions_client::FunctionsClient<AuthChannel> {
        v1::functions_client::FunctionsClient::new(self.channel()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Applies one event, answered once durable.
    pub async fn apply_event(&self, request: v1::ApplyEventRequest) -> Result<v1::ApplyEventResponse, ClientError> {
        Ok(self.events().apply_event(request).await.map_err(status_error)?.into_inner())
    }

    /// Opens an `ApplyEvents` stream sending `events`; each answer names its request's
    /// correlation id. The stream of answers ends after the last event's answer once `events`
    /// ends.
    pub async fn apply_events(
        &self,
        events: impl Stream<Item = v1::ApplyEventsRequest> + Send + 'static,
    ) -> Result<tonic::Streaming<v1::ApplyEventsResponse>, ClientError> {
        Ok(self.events().apply_events(events).await.map_err(status_error)?.into_inner())
    }
}

/// A call's failure as a [`ClientError`]: the server's stable code (from the status's
/// `ErrorInfo`, else its `switchyard-error-code` trailer) and details; a status without one
/// (the connection failed, the server is not Switchyard) is a transport error.
pub fn status_error(status: tonic::Status) -> ClientError {
    let info = status.get_details_error_info();
    let code = info
        .as_ref()
        .map(|i| i.reason.clone())
        .or_else(|| status.metadata().get("switchyard-error-code").and_then(|v| v.to_str().ok()).map(str::to_owned));
    match code {
        Some(code) => ClientError::Api {
            status: http_status(status.code()),
            code,
            message: status.message().to_owned(),
            details: info
                .and_then(|i| i.metadata.get("details").and_then(|d| serde_json::from_str(d).ok()))
                .unwrap_or(serde_json::Value::Null),
        },
        None => ClientError::Transport(format!("{:?}: {}", status.code(), status.message())),
    }
}

/// The HTTP status the HTTP API answers for an error of this gRPC code (the nearest one; the
/// stable code says exactly what happened).
fn http_status(code: tonic::Code) -> u16 {
    use tonic::Code;
    match code {
        Code::Ok => 200,
        Code::InvalidArgument | Code::OutOfRange => 400,
        Code::Unauthenticated => 401,
        Code::PermissionDenied => 403,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted | Code::FailedPrecondition => 409,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 405,
        Code::Unavailable => 503,
        Code::DeadlineExceeded => 504,
        Code::Cancelled | Code::Unknown | Code::Internal | Code::DataLoss => 500,
    }
}
