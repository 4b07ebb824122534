//! What a guest can reach: the `switchyard:function` imports, WASI with nothing behind it but
//! clocks and randomness, and outgoing HTTP filtered by the allow-list.
//!
//! Every capability is checked here, on the host side of the call, before anything is reached:
//! a KV bucket must be granted, an HTTP request's host must be on the allow-list, events and
//! topics stay in the function's own space. A denial is an error value the guest sees, never a
//! trap. The guest gets no files, no environment, no sockets and no name lookups.
//!
//! JSON a guest hands over (event payloads, topic messages, KV values whose content type is
//! JSON) is checked against `switchyard_model::json` on the text, before any parser recurses
//! into it: a guest can never get a value stored that is nested deeper than the policy allows.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::bindings::switchyard::function::{config, events, kv, log};
use crate::output::CapturedOutput;
use crate::types::{Capabilities, LogLevel, LogLine};
use crate::{MAX_LOG_BYTES, MAX_LOG_FIELD_BYTES, MAX_LOG_LINES, MAX_LOG_MESSAGE_BYTES};

/// The largest KV value, event payload or topic message a guest may write (what the HTTP API
/// accepts by default).
pub const MAX_HOST_PAYLOAD_BYTES: usize = 1024 * 1024;

fn too_large(what: &str, len: usize) -> String {
    format!("{what} is {len} bytes; at most {MAX_HOST_PAYLOAD_BYTES} are accepted")
}

/// Whether a media type says JSON (`application/json`, `application/cloudevents+json`,
/// `text/json; charset=utf-8`…).
fn is_json_type(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|t| t.trim().to_ascii_lowercase().ends_with("json"))
}

/// Refuses bytes labelled JSON that nest deeper than the JSON policy allows (bytes of other
/// types are the guest's own business).
pub(crate) fn check_json_bytes(content_type: &str, body: &[u8]) -> Result<(), switchyard_model::json::JsonLimitError> {
    if is_json_type(content_type) { switchyard_model::json::scan_depth(body) } else { Ok(()) }
}

/// Parses JSON a guest handed over, depth checked first; the error names the limit.
fn parse_guest_json(what: &str, text: &str) -> Result<serde_json::Value, String> {
    switchyard_model::json::from_slice(text.as_bytes()).map_err(|e| match e {
        switchyard_model::json::JsonParseError::Limit(limit) => format!("{what} was refused: {limit}"),
        switchyard_model::json::JsonParseError::Syntax(e) => format!("{what} is not JSON: {e}"),
    })
}

/// Resources (streams, HTTP requests and fields…) one invocation may hold at once.
const MAX_RESOURCES: usize = 4096;
/// Bytes one set of HTTP headers may take.
const MAX_HTTP_FIELDS_BYTES: usize = 64 * 1024;

/// A KV value as the host's store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvValue {
    /// The value.
    pub value: Vec<u8>,
    /// Its content type.
    pub content_type: String,
    /// Its revision.
    pub revision: u64,
}

/// The condition of a KV write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvWriteCondition {
    /// Always write.
    None,
    /// Only when the key has no value.
    Absent,
    /// Only when the key is at this revision.
    Revision(u64),
}

/// Why a host call failed, as the guest will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostCallError {
    /// A compare-and-set lost: the current revision (`None`: the key has no value).
    Conflict(Option<u64>),
    /// The target does not exist.
    NotFound(String),
    /// The target refused (an event with no transition, a guard, a schema).
    Rejected(String),
    /// The argument is not acceptable.
    Invalid(String),
    /// The store could not answer.
    Unavailable(String),
}

/// The services a guest's imports are backed by, implemented by the engine. Capability checks
/// are done before these are called; `space` is always the function's own.
#[async_trait]
pub trait FunctionHost: Send + Sync + 'static {
    /// A KV key's current value.
    async fn kv_get(&self, space: &str, bucket: &str, key: &str) -> Result<Option<KvValue>, HostCallError>;
    /// Writes a KV key; returns its new revision.
    async fn kv_put(
        &self,
        space: &str,
        bucket: &str,
        key: &str,
        value: Vec<u8>,
        content_type: String,
        condition: KvWriteCondition,
    ) -> Result<u64, HostCallError>;
    /// Deletes a KV key; returns whether it had a value.
    async fn kv_delete(&self, space: &str, bucket: &str, key: &str) -> Result<bool, HostCallError>;
    /// Applies an event to an instance (`machine:id`, within `space`); returns its new state.
    async fn send_event(
        &self,
        space: &str,
        instance: &str,
        event: &str,
        payload: serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, HostCallError>;
    /// Publishes to a topic of `space`; returns the message's seq.
    async fn publish(&self, space: &str, topic: &str, message: serde_json::Value) -> Result<u64, HostCallError>;
}

/// The outgoing-HTTP policy: only allow-listed hosts, over http or https.
pub(crate) struct HttpPolicy {
    capabilities: Arc<Capabilities>,
    /// Whether hosts on private, loopback and link-local addresses may be reached.
    allow_private_networks: bool,
}

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        drop(fut);
        let uri = request.uri();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host = uri.host().map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned());
        let allowed = host.as_deref().is_some_and(|host| self.capabilities.allows_host(host, port));
        let allow_private = self.allow_private_networks;
        Box::new(async move {
            use http_body_util::BodyExt;
            let Some(host) = host.filter(|_| allowed) else {
                return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
            };
            // An allow-listed name must still not lead into the server's own networks (cloud
            // metadata, the database, the admin API on loopback) unless the operator allows it.
            if !allow_private {
                let addrs = tokio::net::lookup_host((host.as_str(), port))
                    .await
                    .map_err(|_| wasmtime_wasi_http::Error::DestinationNotFound)?;
                for addr in addrs {
                    if is_private(addr.ip()) {
                        return Err(wasmtime_wasi_http::Error::DestinationIpProhibited);
                    }
                }
            }
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
            ))
        })
    }
}

/// Whether an address is anything but globally reachable unicast: the IANA special-purpose
/// ranges that are not global, multicast, reserved and broadcast, and every IPv6 address outside
/// global unicast `2000::/3` (loopback, unspecified, unique-local, link-local, site-local,
/// multicast, discard-only, SRv6…). IPv6 forms that embed an IPv4 address (IPv4-mapped,
/// NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that address; IPv4-compatible
/// `::a.b.c.d` is refused whole.
pub(crate) fn is_private(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => !is_global_v4(v4),
        std::net::IpAddr::V6(v6) => !is_global_v6(v6),
    }
}

fn is_global_v4(v4: std::net::Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    let special = a == 0 // "this network" 0.0.0.0/8
        || a == 10 // private
        || a == 127 // loopback
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast 255.255.255.255
        || (a == 100 && (b & 0xc0) == 64) // shared address space 100.64/10
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (b & 0xf0) == 16) // private 172.16/12
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0/24
        || (a == 192 && b == 0 && c == 2) // documentation TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168) // private
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100) // documentation TEST-NET-2
        || (a == 203 && b == 0 && c == 113); // documentation TEST-NET-3
    !special
}

fn is_global_v6(v6: std::net::Ipv6Addr) -> bool {
    let s = v6.segments();
    let embedded = |hi: u16, lo: u16| std::net::Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_global_v4(v4);
    }
    // NAT64 well-known prefix: the translator reaches the embedded IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_global_v4(embedded(s[6], s[7]));
    }
    // Only global unicast 2000::/3 is reachable on the internet; this also refuses ::/8
    // (unspecified, loopback, IPv4-compatible), 64:ff9b:1::/48, 100::/64, 5f00::/16,
    // fc00::/7, fe80::/10, fec0::/10 and ff00::/8.
    if s[0] & 0xe000 != 0x2000 {
        return false;
    }
    match s[0] {
        // 6to4: the relay reaches the embedded IPv4 address.
        0x2002 => is_global_v4(embedded(s[1], s[2])),
        // IETF protocol assignments 2001::/23 (Teredo, ORCHID, benchmarking 2001:2::/48…)
        // and documentation 2001:db8::/32.
        0x2001 => s[1] >= 0x0200 && s[1] != 0x0db8,
        // Documentation 3fff::/20.
        0x3fff => s[1] & 0xf000 != 0,
        _ => true,
    }
}

/// Refuses memory growth past the function's limit, remembering that it did.
pub(crate) struct MemoryLimiter {
    limit: usize,
    /// Bytes of all the instance's memories together.
    used: usize,
    pub(crate) exceeded: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.used.saturating_sub(current).saturating_add(desired);
        if total > self.limit {
            self.exceeded = true;
            return Ok(false);
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= crate::MAX_TABLE_ELEMENTS)
    }
}

/// The bounded log of one invocation.
#[derive(Default)]
pub(crate) struct LogBuffer {
    pub(crate) lines: Vec<LogLine>,
    pub(crate) dropped: u32,
    bytes: usize,
}

impl LogBuffer {
    pub(crate) fn push(&mut self, line: LogLine) {
        let size = line.message.len() + line.fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        if self.lines.len() < MAX_LOG_LINES && self.bytes + size <= MAX_LOG_BYTES {
            self.bytes += size;
            self.lines.push(line);
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }
}

/// The state of one invocation's store.
pub(crate) struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) http: WasiHttpCtx,
    pub(crate) http_policy: HttpPolicy,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) logs: LogBuffer,
    pub(crate) stdout: CapturedOutput,
    pub(crate) stderr: CapturedOutput,
    pub(crate) started: Instant,
    pub(crate) space: String,
    pub(crate) function: String,
    pub(crate) invocation_id: String,
    pub(crate) capabilities: Arc<Capabilities>,
    pub(crate) host: Arc<dyn FunctionHost>,
}

impl HostState {
    pub(crate) fn new(
        space: String,
        function: String,
        invocation_id: String,
        capabilities: Arc<Capabilities>,
        memory_bytes: u64,
        allow_private_networks: bool,
        host: Arc<dyn FunctionHost>,
    ) -> HostState {
        let stdout = CapturedOutput::new();
        let stderr = CapturedOutput::new();
        let mut wasi = WasiCtx::builder();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        // Resources (HTTP fields, streams…) live in host memory the memory limit does not see:
        // bound how many a guest may hold and how large a header set may grow.
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(MAX_HTTP_FIELDS_BYTES);
        HostState {
            wasi: wasi.build(),
            table,
            http,
            http_policy: HttpPolicy { capabilities: capabilities.clone(), allow_private_networks },
            limiter: MemoryLimiter {
                limit: usize::try_from(memory_bytes).unwrap_or(usize::MAX),
                used: 0,
                exceeded: false,
            },
            logs: LogBuffer::default(),
            stdout,
            stderr,
            started: Instant::now(),
            space,
            function,
            invocation_id,
            capabilities,
            host,
        }
    }

    /// The last line the guest wrote to stderr (where a Rust guest's panic message goes).
    pub(crate) fn stderr_tail(&self) -> Option<String> {
        self.stderr.summary(512)
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn check_bucket(&mut self, bucket: &str) -> Result<(), kv::KvError> {
        if self.capabilities.allows_bucket(bucket) {
            return Ok(());
        }
        Err(kv::KvError::Denied(format!(
            "bucket {bucket:?} is not granted to function {}:{} (grant it with `fn deploy --kv {bucket}`)",
            self.space, self.function
        )))
    }

    /// The instance address within the function's space, or a denial for another space.
    fn own_space_instance<'a>(&mut self, instance: &'a str) -> Result<&'a str, events::EventError> {
        let parts: Vec<&str> = instance.split(':').collect();
        match parts.as_slice() {
            [_, _] => Ok(instance),
            [space, _, _] if *space == self.space => Ok(&instance[space.len() + 1..]),
            [space, _, _] => Err(events::EventError::Denied(format!(
                "instance {instance} is in space {space}; function {}:{} may only reach its own space",
                self.space, self.function
            ))),
            _ => Err(events::EventError::Invalid(format!(
                "instance address {instance:?}: expected machine:id or space:machine:id"
            ))),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.http_policy }
    }
}

fn kv_error(error: HostCallError) -> kv::KvError {
    match error {
        HostCallError::Conflict(current) => kv::KvError::Conflict(current),
        HostCallError::NotFound(m) | HostCallError::Rejected(m) | HostCallError::Invalid(m) => kv::KvError::Invalid(m),
        HostCallError::Unavailable(m) => kv::KvError::Unavailable(m),
    }
}

fn event_error(error: HostCallError) -> events::EventError {
    match error {
        HostCallError::NotFound(m) => events::EventError::NotFound(m),
        HostCallError::Rejected(m) => events::EventError::Rejected(m),
        HostCallError::Conflict(_) => events::EventError::Rejected("the instance changed concurrently".into()),
        HostCallError::Invalid(m) => events::EventError::Invalid(m),
        HostCallError::Unavailable(m) => events::EventError::Unavailable(m),
    }
}

impl kv::Host for HostState {
    async fn get(&mut self, bucket: String, key: String) -> Result<Option<kv::Entry>, kv::KvError> {
        self.check_bucket(&bucket)?;
        let host = self.host.clone();
        let value = host.kv_get(&self.space, &bucket, &key).await.map_err(kv_error)?;
        Ok(value.map(|v| kv::Entry { value: v.value, content_type: v.content_type, revision: v.revision }))
    }

    async fn set(
        &mut self,
        bucket: String,
        key: String,
        value: Vec<u8>,
        content_type: String,
    ) -> Result<u64, kv::KvError> {
        self.check_bucket(&bucket)?;
        if value.len() > MAX_HOST_PAYLOAD_BYTES {
            return Err(kv::KvError::Invalid(too_large("the value", value.len())));
        }
        check_json_bytes(&content_type, &value)
            .map_err(|e| kv::KvError::Invalid(format!("the value was refused: {e}")))?;
        let host = self.host.clone();
        host.kv_put(&self.space, &bucket, &key, value, content_type, KvWriteCondition::None).await.map_err(kv_error)
    }

    async fn delete(&mut self, bucket: String, key: String) -> Result<bool, kv::KvError> {
        self.check_bucket(&bucket)?;
        let host = self.host.clone();
        host.kv_delete(&self.space, &bucket, &key).await.map_err(kv_error)
    }

    async fn compare_and_set(
        &mut self,
        bucket: String,
        key: String,
        expected: Option<u64>,
        value: Vec<u8>,
        content_type: String,
    ) -> Result<u64, kv::KvError> {
        self.check_bucket(&bucket)?;
        if value.len() > MAX_HOST_PAYLOAD_BYTES {
            return Err(kv::KvError::Invalid(too_large("the value", value.len())));
        }
        check_json_bytes(&content_type, &value)
            .map_err(|e| kv::KvError::Invalid(format!("the value was refused: {e}")))?;
        let condition = match expected {
            Some(revision) => KvWriteCondition::Revision(revision),
            None => KvWriteCondition::Absent,
        };
        let host = self.host.clone();
        host.kv_put(&self.space, &bucket, &key, value, content_type, condition).await.map_err(kv_error)
    }
}

impl events::Host for HostState {
    async fn send(
        &mut self,
        instance: String,
        event: String,
        payload_json: String,
    ) -> Result<String, events::EventError> {
        let instance = self.own_space_instance(&instance)?.to_owned();
        if payload_json.len() > MAX_HOST_PAYLOAD_BYTES {
            return Err(events::EventError::Invalid(too_large("the payload", payload_json.len())));
        }
        let payload = match parse_guest_json("the event's payload", &payload_json) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => return Err(events::EventError::Invalid("an event's payload must be a JSON object".into())),
            Err(message) => return Err(events::EventError::Invalid(message)),
        };
        let host = self.host.clone();
        host.send_event(&self.space, &instance, &event, payload).await.map_err(event_error)
    }

    async fn publish(&mut self, topic: String, message_json: String) -> Result<u64, events::EventError> {
        if message_json.len() > MAX_HOST_PAYLOAD_BYTES {
            return Err(events::EventError::Invalid(too_large("the message", message_json.len())));
        }
        let message = parse_guest_json("the message", &message_json).map_err(events::EventError::Invalid)?;
        let host = self.host.clone();
        host.publish(&self.space, &topic, message).await.map_err(event_error)
    }
}

impl log::Host for HostState {
    async fn log(&mut self, level: log::Level, message: String, fields: Vec<(String, String)>) {
        let level = match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        let message = truncate(message, MAX_LOG_MESSAGE_BYTES);
        let fields: Vec<(String, String)> =
            fields.into_iter().take(32).map(|(k, v)| (truncate(k, 128), truncate(v, MAX_LOG_FIELD_BYTES))).collect();
        // The server log gets guest lines at debug level: a guest must not be able to flood it.
        tracing::debug!(
            target: "switchyard::function",
            space = %self.space,
            function = %self.function,
            invocation = %self.invocation_id,
            level = level.as_str(),
            "{message}"
        );
        let at_ms = self.elapsed_ms();
        self.logs.push(LogLine { at_ms, level, message, fields });
    }
}

impl config::Host for HostState {
    async fn get(&mut self, key: String) -> Option<String> {
        self.capabilities.config.get(&key).cloned()
    }

    async fn get_secret(&mut self, key: String) -> Option<String> {
        self.capabilities.secrets.get(&key).cloned()
    }

    async fn keys(&mut self) -> Vec<String> {
        self.capabilities.config.keys().cloned().collect()
    }
}

impl crate::bindings::switchyard::function::types::Host for HostState {}

/// Cuts a string to at most `max` bytes, on a character boundary.
pub(crate) fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(text: &str) -> bool {
        is_private(text.parse().unwrap_or_else(|e| panic!("{text}: {e}")))
    }

    #[test]
    fn every_non_global_ipv4_range_is_refused() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(private(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn global_ipv4_addresses_pass() {
        for ip in ["1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.1", "172.32.0.1", "198.20.0.1", "223.255.255.254"]
        {
            assert!(!private(ip), "{ip} is global");
        }
    }

    #[test]
    fn every_non_global_ipv6_range_and_notation_is_refused() {
        for ip in [
            "::",
            "::1",
            "0:0:0:0:0:0:0:1",
            "::ffff:127.0.0.1",
            "::ffff:7f00:1",
            "0:0:0:0:0:ffff:a00:1",
            "::ffff:224.0.0.1",
            "::ffff:198.18.0.1",
            "::127.0.0.1",
            "::8.8.8.8",
            "64:ff9b::7f00:1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:2::1",
            "2001:1ff::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "3fff::1",
            "3fff:fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "feff::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(private(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn global_ipv6_addresses_pass() {
        for ip in
            ["2606:4700:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]
        {
            assert!(!private(ip), "{ip} is global");
        }
    }

    #[test]
    fn guest_json_is_held_to_the_depth_policy() {
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let limit = switchyard_model::json::MAX_DEPTH;
        assert!(parse_guest_json("the message", &deep(limit)).is_ok());
        let refused = parse_guest_json("the message", &deep(limit + 1)).expect_err("too deep");
        assert!(refused.contains("the message was refused") && refused.contains("64"), "{refused}");
        let refused = parse_guest_json("the message", &deep(100_000)).expect_err("far too deep");
        assert!(refused.contains("64"), "{refused}");
        assert!(parse_guest_json("the message", "{").expect_err("not JSON").contains("not JSON"));
        assert!(check_json_bytes("application/json", deep(limit + 1).as_bytes()).is_err());
        assert!(check_json_bytes("Application/Problem+JSON; charset=utf-8", deep(limit + 1).as_bytes()).is_err());
        assert!(check_json_bytes("application/octet-stream", deep(limit + 1).as_bytes()).is_ok());
        assert!(check_json_bytes("application/json", deep(limit).as_bytes()).is_ok());
    }
}
