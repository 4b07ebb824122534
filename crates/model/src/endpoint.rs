//! Outbound webhook endpoints: a URL in a space that receives the log records it asks for as
//! signed [Standard Webhooks](https://www.standardwebhooks.com/) requests.
//!
//! A definition goes through [`parse_endpoint`] (shape) and [`compile_endpoint`] (meaning: an
//! `http(s)` URL, secrets written as references, a `filter` that type-checks over `record`, a
//! valid retry policy); [`CompiledEndpoint::matches`] then decides, purely, whether a record is
//! delivered, and [`message`] builds the body that is sent for it.
//!
//! Invariants:
//! - The signing secret (`whsec_…`) and the optional Ed25519 signing key (`whsk_…`) are
//!   references to space secrets (`{{secrets.NAME}}`), so the definition holds no secret.
//! - A record's message is a pure function of the record: every attempt of a delivery sends
//!   the same body under the same `webhook-id`; only `webhook-timestamp` and the signatures are
//!   fresh.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::address::check_segment;
use crate::definition::{DefinitionError, DefinitionFormat, FieldError, parse_source};
use crate::env::SecretTemplate;
use crate::expr::{Declarations, ExprType, Program};
use crate::jobs::{Jitter, RetryPolicy, millis};

/// The kind of the work-table jobs of an endpoint: its consumer (which reads the log and
/// enqueues deliveries) and each delivery.
pub const DELIVERY_JOB: &str = "delivery";

/// Default consecutive failures that open an endpoint's circuit breaker.
pub const DEFAULT_BREAKER_FAILURES: u32 = 5;

/// Default time an open breaker waits before it lets one probe through: 30 s.
pub const DEFAULT_BREAKER_COOLDOWN_MS: u64 = 30_000;

/// Default time one request may take: 15 s.
pub const DEFAULT_TIMEOUT_MS: u64 = 15_000;

/// The longest one request may take: 5 minutes.
pub const MAX_TIMEOUT_MS: u64 = 300_000;

/// Most custom headers an endpoint sends.
pub const MAX_HEADERS: usize = 32;

/// Headers an endpoint's definition may not set: the signature's and the transport's own.
const RESERVED_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
];

/// An endpoint as stored: its current version's definition and whether it is disabled.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointRecord {
    /// The space.
    pub space: crate::SpaceName,
    /// The name.
    pub name: crate::Segment,
    /// Its version: 1 when first put, one more each time the definition changes.
    pub version: u64,
    /// The definition (normalised, JSON).
    pub definition: Json,
    /// Why it is disabled (by a person, or by a `410 Gone` answer); `None` while enabled.
    pub disabled: Option<String>,
    /// The job that reads the log for it and enqueues its deliveries (none while disabled).
    pub consumer_job: Option<String>,
    /// When it was first put.
    pub created_at: crate::Timestamp,
    /// When its version or state last changed.
    pub updated_at: crate::Timestamp,
}

/// The address of an endpoint's log records and the target of its jobs: `space:endpoints:name`.
pub fn endpoint_address(space: &str, name: &str) -> String {
    format!("{space}:endpoints:{name}")
}

/// An endpoint as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDefinition {
    /// Optional name; when present it must match the name the endpoint is put as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the endpoint is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where deliveries are sent (`http://` or `https://`).
    pub url: String,
    /// The `v1` signing secret: a reference to a space secret holding a `whsec_…` value.
    pub secret: String,
    /// The optional `v1a` signing key: a reference to a space secret holding a `whsk_…` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
    /// Only records of these kinds are read at all (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// CEL (a bool) over `record`: a record it refuses is not delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Headers sent with every request (not secrets: the definition is readable).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// How long one request may take (default 15s, at most 5m).
    #[serde(default, with = "millis::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// How a failed delivery is retried (default: [`default_retry`], about three days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// The circuit breaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerSpec>,
}

/// An endpoint's circuit breaker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Consecutive failed requests that open it (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<u32>,
    /// How long it stays open before one probe goes through (default 30s; doubled after each
    /// failed probe, up to an hour).
    #[serde(default, with = "millis::option", skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<u64>,
}

/// Parses an endpoint definition (YAML or JSON).
pub fn parse_endpoint(body: &[u8], format: DefinitionFormat) -> Result<EndpointDefinition, DefinitionError> {
    parse_source(body, format)
}

/// An endpoint, checked and ready to match records.
#[derive(Debug)]
pub struct CompiledEndpoint {
    /// The definition, normalised (its `name` set).
    pub definition: EndpointDefinition,
    /// The filter, if any.
    filter: Option<Program>,
    /// The retry policy of its deliveries.
    pub retry: RetryPolicy,
    /// Consecutive failures that open the breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open at first, in ms.
    pub breaker_cooldown_ms: u64,
    /// How long one request may take, in ms.
    pub timeout_ms: u64,
}

/// Why a filter could not decide.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("filter: {0}")]
pub struct FilterError(pub String);

impl CompiledEndpoint {
    /// Whether `record` ([`crate::LogRecord::expression_view`]) is delivered.
    pub fn matches(&self, record: &Json, endpoint: &str, now: crate::trigger::Now) -> Result<bool, FilterError> {
        let Some(filter) = &self.filter else { return Ok(true) };
        let name = Json::String(endpoint.to_owned());
        match filter.evaluate_json_at(&[("record", record), ("endpoint", &name)], now) {
            Ok(Json::Bool(b)) => Ok(b),
            Ok(other) => Err(FilterError(format!("must be a bool, not {other}"))),
            Err(e) => Err(FilterError(e.to_string())),
        }
    }
}

/// The body delivered for a record, in the Standard Webhooks shape: `type` (the record's kind),
/// `timestamp` (when it was written) and `data` (the record).
pub fn message(record: &Json) -> Json {
    json!({
        "type": record.get("kind").cloned().unwrap_or(Json::Null),
        "timestamp": record.get("created_at").cloned().unwrap_or(Json::Null),
        "data": record,
    })
}

/// The retry policy of a delivery unless its endpoint says otherwise: 25 attempts, the first
/// retry after up to 5 s, each cap three times the last up to 8 h, full jitter — on average
/// about three days from the first attempt to the last (at most about five and a half).
pub fn default_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 25,
        initial_ms: 5_000,
        multiplier: 3.0,
        max_ms: 8 * 3600 * 1000,
        jitter: Jitter::Full,
        deadline_ms: None,
        non_retryable: Vec::new(),
    }
}

/// Whether `text` is exactly one `{{secrets.NAME}}` reference.
fn is_reference(text: &str) -> bool {
    let trimmed = text.trim();
    matches!(SecretTemplate::parse(text), Ok(t) if t.secrets().count() == 1)
        && trimmed.starts_with("{{")
        && trimmed.ends_with("}}")
}

/// Checks an endpoint put as `space:name`.
pub fn compile_endpoint(def: EndpointDefinition, name: &str) -> Result<CompiledEndpoint, DefinitionError> {
    let mut errors = Vec::new();
    let mut error = |path: &str, message: String| errors.push(FieldError::new(path, message));
    if let Some(own) = &def.name
        && own != name
    {
        error("name", format!("is {own:?} but the endpoint is put as {name:?}"));
    }
    if let Err(problem) = check_segment(name) {
        error("name", format!("{name:?}: {}", problem.segment_text()));
    }
    match url::Url::parse(&def.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            if !url.username().is_empty() || url.password().is_some() {
                error("url", "must not carry credentials; put them in a header or the signing secret".into());
            }
        }
        Ok(_) => error("url", format!("{:?}: an http:// or https:// URL with a host is required", def.url)),
        Err(e) => error("url", format!("{:?}: {e}", def.url)),
    }
    let reference = "must be a reference to a space secret, {{secrets.NAME}} (set it with `switchyard secret set NAME`), so the definition holds no secret";
    if !is_reference(&def.secret) {
        error("secret", reference.into());
    }
    if let Some(key) = &def.signing_key
        && !is_reference(key)
    {
        error("signing_key", reference.into());
    }
    if def.kinds.iter().any(|k| k.trim().is_empty() || k.len() > 128) {
        error("kinds", "each kind is 1 to 128 characters (`instance.transitioned`)".into());
    }
    if def.headers.len() > MAX_HEADERS {
        error("headers", format!("at most {MAX_HEADERS} headers"));
    }
    for (header, value) in &def.headers {
        let path = format!("headers.{header}");
        let valid_name = !header.is_empty() && header.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        if !valid_name {
            error(&path, "a header name is letters, digits, `-` and `_`".into());
        } else if RESERVED_HEADERS.contains(&header.to_ascii_lowercase().as_str()) {
            error(&path, "is set by the delivery itself".into());
        }
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            error(&path, "a header value holds no control characters".into());
        }
    }
    let timeout_ms = def.timeout.unwrap_or(DEFAULT_TIMEOUT_MS);
    if timeout_ms == 0 || timeout_ms > MAX_TIMEOUT_MS {
        error("timeout", "must be between 1ms and 5m".into());
    }
    let retry = def.retry.clone().unwrap_or_else(default_retry);
    if let Err(problems) = retry.validate_at("retry") {
        errors.extend(problems);
    }
    let breaker = def.breaker.clone().unwrap_or_default();
    let breaker_failures = breaker.failures.unwrap_or(DEFAULT_BREAKER_FAILURES);
    if breaker_failures == 0 || breaker_failures > 1000 {
        errors.push(FieldError::new("breaker.failures", "must be between 1 and 1000"));
    }
    let breaker_cooldown_ms = breaker.cooldown.unwrap_or(DEFAULT_BREAKER_COOLDOWN_MS);
    if breaker_cooldown_ms == 0 || breaker_cooldown_ms > 3600 * 1000 {
        errors.push(FieldError::new("breaker.cooldown", "must be between 1ms and 1h"));
    }
    let declarations = Declarations::new()
        .variable("record", ExprType::json_object())
        .variable("endpoint", ExprType::String)
        .variable("now", ExprType::Timestamp);
    let filter = match &def.filter {
        Some(text) => match Program::compile(text, &declarations) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(FieldError::new("filter", e.to_string()));
                None
            }
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(DefinitionError::Invalid(errors));
    }
    let mut definition = def;
    definition.name = Some(name.to_owned());
    Ok(CompiledEndpoint { definition, filter, retry, breaker_failures, breaker_cooldown_ms, timeout_ms })
}
