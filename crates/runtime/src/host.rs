//! What a guest can reach: the `switchyard:function` imports, WASI with nothing behind it but
//! clocks and randomness, and outgoing HTTP filtered by the allow-list.
//!
//! Every capability is checked here, on the host side of the call, before anything is reached:
//! a KV read or write, an event sent and a message published each need a grant of the function
//! on the address reached (`kv:read` on `space:kv:bucket:key`, `events:send` on
//! `space:machines:machine:id`, `topics:publish` on `space:topics:topic`), an HTTP request's
//! host must be on the allow-list, and events and topics stay in the function's own space. A denial is an error value the guest sees, never a
//! trap. The guest gets no files, no environment, no sockets and no name lookups.
//!
//! JSON a guest hands over (event payloads, topic messages, KV values whose content type is
//! JSON) is checked against `switchyard_model::json` on the text, before any parser recurses
//! into it: a guest can never get a value stored that is nested deeper than the policy allows.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use switchyard_model::{Permission, permissions};
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
    /// `call` names this call within its invocation ([`EffectCall`]): applied once per name.
    async fn send_event(
        &self,
        space: &str,
        instance: &str,
        event: &str,
        payload: serde_json::Map<String, serde_json::Value>,
        call: &EffectCall,
    ) -> Result<String, HostCallError>;
    /// Publishes to a topic of `space`; returns the message's seq. `call` as for `send_event`.
    async fn publish(
        &self,
        space: &str,
        topic: &str,
        message: serde_json::Value,
        call: &EffectCall,
    ) -> Result<u64, HostCallError>;
}

/// The name of one effectful host call (an event sent, a message published): the invocation's
/// effect key (its idempotency key, or its id) and the call's index among the invocation's
/// effectful calls. Another attempt of the same invocation that makes its calls in the same order
/// names them alike, so the host can apply each once (as an idempotency key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectCall {
    /// The invocation's idempotency key, or its id when it has none.
    pub effect_key: String,
    /// 0 for the invocation's first effectful call, then 1, 2, …
    pub index: u32,
}

impl EffectCall {
    /// `effect_key:index`, the call's name.
    pub fn key(&self) -> String {
        format!("{}:{}", self.effect_key, self.index)
    }
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

/// Whether a function's outgoing HTTP must not reach `ip` (unless the operator allows private
/// networks): anything but unicast that is globally reachable and reaches the intended host.
///
/// The rule, range by range, is in [`REFUSED_V4`] and [`is_global_v6`]: every IANA
/// special-purpose range that is not globally reachable, multicast, reserved and broadcast, and
/// every IPv6 address outside global unicast `2000::/3`. Two choices go beyond IANA's "globally
/// reachable" column, both towards refusing:
/// - special-purpose *anycast* ranges IANA lists as global (AS112, AMT, PCP, TURN…) are refused:
///   anycast reaches the nearest instance, which operators are encouraged to run inside their own
///   networks, and none of them serves anything a function needs over HTTP. Refusing a global
///   address costs a function nothing it needs; reaching a private one is the hole this closes.
/// - IPv6 forms that embed an IPv4 address and deliver to it (IPv4-mapped `::ffff:0:0/96`, NAT64
///   `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address; the local-use NAT64
///   prefix `64:ff9b:1::/48` and deprecated IPv4-compatible `::a.b.c.d` are refused whole.
pub fn is_private(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => !is_global_v4(v4),
        std::net::IpAddr::V6(v6) => !is_global_v6(v6),
    }
}

/// The IPv4 ranges refused, as (network, prefix length), with why.
const REFUSED_V4: &[([u8; 4], u32)] = &[
    // "This network" (RFC 791): 0.0.0.0 reaches this host on Linux.
    ([0, 0, 0, 0], 8),
    // Private use (RFC 1918).
    ([10, 0, 0, 0], 8),
    // Shared address space (RFC 6598): the inside of a carrier-grade NAT.
    ([100, 64, 0, 0], 10),
    // Loopback: the server itself, its admin API and any sidecar.
    ([127, 0, 0, 0], 8),
    // Link-local: cloud metadata services (169.254.169.254) live here.
    ([169, 254, 0, 0], 16),
    // Private use.
    ([172, 16, 0, 0], 12),
    // IETF protocol assignments (RFC 6890), with the DS-Lite /29 (RFC 7335), the dummy address
    // 192.0.0.8 and NAT64 discovery 192.0.0.170-171. Its anycast addresses IANA lists as global
    // (192.0.0.9 PCP, 192.0.0.10 TURN) are refused too: PCP's nearest server is the site's own
    // gateway.
    ([192, 0, 0, 0], 24),
    // Documentation, TEST-NET-1 (RFC 5737): never a real host.
    ([192, 0, 2, 0], 24),
    // AS112 DNS sinks (RFC 7535): global per IANA, but anycast, and run inside networks.
    ([192, 31, 196, 0], 24),
    // AMT relay anycast (RFC 7450): global per IANA, but anycast, the nearest relay.
    ([192, 52, 193, 0], 24),
    // 6to4 relay anycast, deprecated (RFC 7526): the nearest relay.
    ([192, 88, 99, 0], 24),
    // Private use.
    ([192, 168, 0, 0], 16),
    // AS112 direct delegation (RFC 7534): as 192.31.196.0/24.
    ([192, 175, 48, 0], 24),
    // Benchmarking (RFC 2544): lab networks.
    ([198, 18, 0, 0], 15),
    // Documentation, TEST-NET-2 and TEST-NET-3.
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
    // Multicast: no single host answers.
    ([224, 0, 0, 0], 4),
    // Reserved (RFC 1112), with the limited broadcast 255.255.255.255.
    ([240, 0, 0, 0], 4),
];

/// The ranges inside global unicast `2000::/3` refused, as (network, prefix length), with why.
const REFUSED_IN_GLOBAL_V6: &[(u128, u32)] = &[
    // IETF protocol assignments (RFC 2928): Teredo 2001::/32 (a tunnel to an obfuscated IPv4
    // address), benchmarking 2001:2::/48, ORCHID identifiers (not locators), DRIP, and anycast
    // services IANA lists as global (2001:1::1-3 PCP/TURN/SRP, AMT 2001:3::/32, AS112
    // 2001:4:112::/48), refused as their IPv4 counterparts are.
    (0x2001_0000 << 96, 23),
    // Documentation (RFC 3849, RFC 9637).
    (0x2001_0db8 << 96, 32),
    (0x3fff << 112, 20),
    // AS112 direct delegation (RFC 7534): anycast, as 192.175.48.0/24.
    (0x2620_004f_8000 << 80, 48),
];

fn is_global_v4(v4: std::net::Ipv4Addr) -> bool {
    let ip = u32::from(v4);
    !REFUSED_V4.iter().any(|&(net, len)| (ip ^ u32::from_be_bytes(net)).checked_shr(32 - len).unwrap_or(0) == 0)
}

fn in_v6(ip: u128, net: u128, len: u32) -> bool {
    (ip ^ net).checked_shr(128 - len).unwrap_or(0) == 0
}

fn is_global_v6(v6: std::net::Ipv6Addr) -> bool {
    let ip = u128::from(v6);
    let embedded = |shift: u32| std::net::Ipv4Addr::from((ip >> shift) as u32);
    // IPv4-mapped ::ffff:0:0/96: a dual-stack socket sends it to the IPv4 address.
    if in_v6(ip, 0xffff << 32, 96) {
        return is_global_v4(embedded(0));
    }
    // NAT64 well-known prefix (RFC 6052): the translator delivers to the embedded address.
    if in_v6(ip, 0x0064_ff9b << 96, 96) {
        return is_global_v4(embedded(0));
    }
    // 6to4 (RFC 3056): the relay delivers to the IPv4 address in bits 16-48.
    if in_v6(ip, 0x2002 << 112, 16) {
        return is_global_v4(embedded(80));
    }
    // Outside global unicast nothing is globally reachable: ::/8 (unspecified, loopback,
    // IPv4-compatible), the local-use NAT64 prefix 64:ff9b:1::/48 (a translator of the site's),
    // discard-only 100::/64, SRv6 5f00::/16, unique-local fc00::/7, link-local fe80::/10,
    // site-local fec0::/10, multicast ff00::/8, and the unassigned rest.
    in_v6(ip, 0x2 << 124, 3) && !REFUSED_IN_GLOBAL_V6.iter().any(|&(net, len)| in_v6(ip, net, len))
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
    /// Names the invocation's effectful calls (see [`EffectCall`]).
    pub(crate) effect_key: String,
    /// Effectful calls made so far.
    pub(crate) effect_calls: u32,
    pub(crate) capabilities: Arc<Capabilities>,
    pub(crate) host: Arc<dyn FunctionHost>,
}

impl HostState {
    pub(crate) fn new(
        context: &crate::InvocationContext,
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
            space: context.space.clone(),
            function: context.function.clone(),
            invocation_id: context.invocation_id.clone(),
            effect_key: context.idempotency_key.clone().unwrap_or_else(|| context.invocation_id.clone()),
            effect_calls: 0,
            capabilities,
            host,
        }
    }

    /// Names the next effectful call.
    fn next_effect_call(&mut self) -> EffectCall {
        let call = EffectCall { effect_key: self.effect_key.clone(), index: self.effect_calls };
        self.effect_calls = self.effect_calls.saturating_add(1);
        call
    }

    /// The last line the guest wrote to stderr (where a Rust guest's panic message goes).
    pub(crate) fn stderr_tail(&self) -> Option<String> {
        self.stderr.summary(512)
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Ok when the function's grants give `permission` on `space:<segments…>`; else why not.
    fn check_grant(&self, permission: Permission, segments: &[&str]) -> Result<(), String> {
        let mut address = Vec::with_capacity(segments.len() + 1);
        address.push(self.space.as_str());
        address.extend_from_slice(segments);
        if self.capabilities.allows(permission, &address) {
            return Ok(());
        }
        Err(format!(
            "function {}:{} has no grant of {permission} on \"{}\" (deploy it with --kv BUCKET for a bucket, \
             or --grant ROLE=PATTERN)",
            self.space,
            self.function,
            address.join(":")
        ))
    }

    fn check_bucket(&mut self, permission: Permission, bucket: &str, key: &str) -> Result<(), kv::KvError> {
        self.check_grant(permission, &["kv", bucket, key]).map_err(kv::KvError::Denied)
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
        self.check_bucket(permissions::KV_READ, &bucket, &key)?;
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
        self.check_bucket(permissions::KV_WRITE, &bucket, &key)?;
        if value.len() > MAX_HOST_PAYLOAD_BYTES {
            return Err(kv::KvError::Invalid(too_large("the value", value.len())));
        }
        check_json_bytes(&content_type, &value)
            .map_err(|e| kv::KvError::Invalid(format!("the value was refused: {e}")))?;
        let host = self.host.clone();
        host.kv_put(&self.space, &bucket, &key, value, content_type, KvWriteCondition::None).await.map_err(kv_error)
    }

    async fn delete(&mut self, bucket: String, key: String) -> Result<bool, kv::KvError> {
        self.check_bucket(permissions::KV_WRITE, &bucket, &key)?;
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
        self.check_bucket(permissions::KV_WRITE, &bucket, &key)?;
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
        let (machine, id) = instance.split_once(':').unwrap_or((instance.as_str(), ""));
        self.check_grant(permissions::EVENTS_SEND, &["machines", machine, id]).map_err(events::EventError::Denied)?;
        if payload_json.len() > MAX_HOST_PAYLOAD_BYTES {
            return Err(events::EventError::Invalid(too_large("the payload", payload_json.len())));
        }
        let payload = match parse_guest_json("the event's payload", &payload_json) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => return Err(events::EventError::Invalid("an event's payload must be a JSON object".into())),
            Err(message) => return Err(events::EventError::Invalid(message)),
        };
        let host = self.host.clone();
        let call = self.next_effect_call();
        host.send_event(&self.space, &instance, &event, payload, &call).await.map_err(event_error)
    }

    async fn publish(&mut self, topic: String, message_json: String) -> Result<u64, events::EventError> {
        self.check_grant(permissions::TOPICS_PUBLISH, &["topics", &topic]).map_err(events::EventError::Denied)?;
        if message_json.len() > MAX_HOST_PAYLOAD_BYTES {
            return Err(events::EventError::Invalid(too_large("the message", message_json.len())));
        }
        let message = parse_guest_json("the message", &message_json).map_err(events::EventError::Invalid)?;
        let host = self.host.clone();
        let call = self.next_effect_call();
        host.publish(&self.space, &topic, message, &call).await.map_err(event_error)
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

    /// One special-purpose range: its first and last address, and whether they are refused.
    struct Range {
        range: &'static str,
        first: &'static str,
        last: &'static str,
        refused: bool,
    }

    const fn range(range: &'static str, first: &'static str, last: &'static str, refused: bool) -> Range {
        Range { range, first, last, refused }
    }

    fn check(ranges: &[Range], public_neighbours: &[(&str, &str)]) {
        let mut wrong = Vec::new();
        for r in ranges {
            for ip in [r.first, r.last] {
                if private(ip) != r.refused {
                    wrong.push(format!("{ip} ({}) must be {}", r.range, if r.refused { "refused" } else { "allowed" }));
                }
            }
        }
        for (ip, beside) in public_neighbours {
            if private(ip) {
                wrong.push(format!("{ip}, just outside {beside}, is global and must be allowed"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// The IANA IPv4 special-purpose registry (RFC 6890 and later), range by range, plus
    /// multicast; the reasons for each verdict are at [`REFUSED_V4`].
    #[test]
    fn every_ipv4_special_purpose_range_is_judged_at_both_ends() {
        let ranges = [
            range("0.0.0.0/8 this network", "0.0.0.0", "0.255.255.255", true),
            range("10.0.0.0/8 private", "10.0.0.0", "10.255.255.255", true),
            range("100.64.0.0/10 shared", "100.64.0.0", "100.127.255.255", true),
            range("127.0.0.0/8 loopback", "127.0.0.0", "127.255.255.255", true),
            range("169.254.0.0/16 link-local", "169.254.0.0", "169.254.255.255", true),
            range("172.16.0.0/12 private", "172.16.0.0", "172.31.255.255", true),
            range("192.0.0.0/24 IETF protocol assignments", "192.0.0.0", "192.0.0.255", true),
            range("192.0.0.0/29 DS-Lite", "192.0.0.0", "192.0.0.7", true),
            range("192.0.0.8/32 dummy", "192.0.0.8", "192.0.0.8", true),
            range("192.0.0.9/32 PCP anycast (global per IANA)", "192.0.0.9", "192.0.0.9", true),
            range("192.0.0.10/32 TURN anycast (global per IANA)", "192.0.0.10", "192.0.0.10", true),
            range("192.0.0.170/31 NAT64 discovery", "192.0.0.170", "192.0.0.171", true),
            range("192.0.2.0/24 TEST-NET-1", "192.0.2.0", "192.0.2.255", true),
            range("192.31.196.0/24 AS112 (global per IANA)", "192.31.196.0", "192.31.196.255", true),
            range("192.52.193.0/24 AMT (global per IANA)", "192.52.193.0", "192.52.193.255", true),
            range("192.88.99.0/24 6to4 relay anycast", "192.88.99.0", "192.88.99.255", true),
            range("192.168.0.0/16 private", "192.168.0.0", "192.168.255.255", true),
            range("192.175.48.0/24 AS112 (global per IANA)", "192.175.48.0", "192.175.48.255", true),
            range("198.18.0.0/15 benchmarking", "198.18.0.0", "198.19.255.255", true),
            range("198.51.100.0/24 TEST-NET-2", "198.51.100.0", "198.51.100.255", true),
            range("203.0.113.0/24 TEST-NET-3", "203.0.113.0", "203.0.113.255", true),
            range("224.0.0.0/4 multicast", "224.0.0.0", "239.255.255.255", true),
            range("240.0.0.0/4 reserved", "240.0.0.0", "255.255.255.254", true),
            range("255.255.255.255/32 broadcast", "255.255.255.255", "255.255.255.255", true),
            range("global unicast", "1.0.0.0", "223.255.255.255", false),
            range("well-known public resolvers", "1.1.1.1", "8.8.8.8", false),
        ];
        let neighbours = [
            ("1.0.0.0", "0.0.0.0/8"),
            ("9.255.255.255", "10.0.0.0/8"),
            ("11.0.0.0", "10.0.0.0/8"),
            ("100.63.255.255", "100.64.0.0/10"),
            ("100.128.0.0", "100.64.0.0/10"),
            ("126.255.255.255", "127.0.0.0/8"),
            ("128.0.0.0", "127.0.0.0/8"),
            ("169.253.255.255", "169.254.0.0/16"),
            ("169.255.0.0", "169.254.0.0/16"),
            ("172.15.255.255", "172.16.0.0/12"),
            ("172.32.0.0", "172.16.0.0/12"),
            ("191.255.255.255", "192.0.0.0/24"),
            ("192.0.1.0", "192.0.0.0/24"),
            ("192.0.3.0", "192.0.2.0/24"),
            ("192.31.195.255", "192.31.196.0/24"),
            ("192.31.197.0", "192.31.196.0/24"),
            ("192.52.192.255", "192.52.193.0/24"),
            ("192.52.194.0", "192.52.193.0/24"),
            ("192.88.98.255", "192.88.99.0/24"),
            ("192.88.100.0", "192.88.99.0/24"),
            ("192.167.255.255", "192.168.0.0/16"),
            ("192.169.0.0", "192.168.0.0/16"),
            ("192.175.47.255", "192.175.48.0/24"),
            ("192.175.49.0", "192.175.48.0/24"),
            ("198.17.255.255", "198.18.0.0/15"),
            ("198.20.0.0", "198.18.0.0/15"),
            ("198.51.99.255", "198.51.100.0/24"),
            ("198.51.101.0", "198.51.100.0/24"),
            ("203.0.112.255", "203.0.113.0/24"),
            ("203.0.114.0", "203.0.113.0/24"),
            ("223.255.255.255", "224.0.0.0/4"),
        ];
        check(&ranges, &neighbours);
    }

    /// The IANA IPv6 special-purpose registry, plus what lies outside global unicast; the
    /// reasons for each verdict are at [`is_global_v6`] and [`REFUSED_IN_GLOBAL_V6`].
    #[test]
    fn every_ipv6_special_purpose_range_is_judged_at_both_ends() {
        let ranges = [
            range("::1/128 loopback", "::1", "0:0:0:0:0:0:0:1", true),
            range("::/128 unspecified", "::", "::", true),
            range("::/96 IPv4-compatible (deprecated)", "::0.0.0.2", "::255.255.255.255", true),
            range("::/96 IPv4-compatible, even of a global address", "::8.8.8.8", "::8.8.8.8", true),
            range("::ffff:0:0/96 mapped, of non-global IPv4", "::ffff:0.0.0.0", "::ffff:255.255.255.255", true),
            range("::ffff:0:0/96 mapped, of loopback and private", "::ffff:127.0.0.1", "::ffff:a00:1", true),
            range("::ffff:0:0/96 mapped, of global IPv4", "::ffff:8.8.8.8", "::ffff:1.1.1.1", false),
            range("::ffff:0:0:0/96 IPv4-translated (SIIT)", "::ffff:0:0:0", "::ffff:0:ffff:ffff", true),
            range("64:ff9b::/96 NAT64, of non-global IPv4", "64:ff9b::", "64:ff9b::ffff:ffff", true),
            range("64:ff9b::/96 NAT64, of link-local", "64:ff9b::a9fe:a9fe", "64:ff9b::169.254.169.254", true),
            range("64:ff9b::/96 NAT64, of global IPv4", "64:ff9b::808:808", "64:ff9b::1.1.1.1", false),
            range("64:ff9b:1::/48 local-use NAT64", "64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", true),
            range("64:ff9b:1::/48 local-use NAT64, of global IPv4", "64:ff9b:1::808:808", "64:ff9b:1::808:808", true),
            range("100::/64 discard-only", "100::", "100::ffff:ffff:ffff:ffff", true),
            range("100:0:0:1::/64 dummy prefix", "100:0:0:1::", "100::1:ffff:ffff:ffff:ffff", true),
            range("2001::/23 IETF protocol assignments", "2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("2001::/32 Teredo", "2001::", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("2001:1::1/128 PCP anycast (global per IANA)", "2001:1::1", "2001:1::1", true),
            range("2001:1::2/128 TURN anycast (global per IANA)", "2001:1::2", "2001:1::2", true),
            range("2001:1::3/128 DNS-SD SRP anycast (global per IANA)", "2001:1::3", "2001:1::3", true),
            range("2001:2::/48 benchmarking", "2001:2::", "2001:2:0:ffff:ffff:ffff:ffff:ffff", true),
            range("2001:3::/32 AMT (global per IANA)", "2001:3::", "2001:3:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range(
                "2001:4:112::/48 AS112 (global per IANA)",
                "2001:4:112::",
                "2001:4:112:ffff:ffff:ffff:ffff:ffff",
                true,
            ),
            range("2001:10::/28 ORCHID (deprecated)", "2001:10::", "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("2001:20::/28 ORCHIDv2", "2001:20::", "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("2001:30::/28 DRIP DETs", "2001:30::", "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("2001:db8::/32 documentation", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("2002::/16 6to4, of non-global IPv4", "2002::", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("2002::/16 6to4, of loopback and link-local", "2002:7f00:1::1", "2002:a9fe:a9fe::1", true),
            range("2002::/16 6to4, of global IPv4", "2002:808:808::", "2002:808:808:ffff:ffff:ffff:ffff:ffff", false),
            range(
                "2620:4f:8000::/48 AS112 (global per IANA)",
                "2620:4f:8000::",
                "2620:4f:8000:ffff:ffff:ffff:ffff:ffff",
                true,
            ),
            range("3fff::/20 documentation", "3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("5f00::/16 SRv6 SIDs", "5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("fc00::/7 unique-local", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("fe80::/10 link-local", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("fec0::/10 site-local (deprecated)", "fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("ff00::/8 multicast", "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("outside 2000::/3 below", "::2:0:0:0", "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("outside 2000::/3 above", "4000::", "5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            range("global unicast", "2606:4700:4700::1111", "2001:4860:4860::8888", false),
        ];
        let neighbours = [
            ("2000::", "2000::/3 (its first address)"),
            ("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23"),
            ("2001:200::", "2001::/23"),
            ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32"),
            ("2001:db9::", "2001:db8::/32"),
            ("2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2002::/16"),
            ("2003::", "2002::/16"),
            ("2620:4f:7fff:ffff:ffff:ffff:ffff:ffff", "2620:4f:8000::/48"),
            ("2620:4f:8001::", "2620:4f:8000::/48"),
            ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::/20"),
            ("3fff:1000::", "3fff::/20"),
            ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2000::/3 (its last address)"),
        ];
        check(&ranges, &neighbours);
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
