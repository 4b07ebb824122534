//! What goes into an invocation and what comes out of it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Bytes with their media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The media type (`application/json`, `text/plain`…).
    pub content_type: String,
    /// The bytes.
    pub body: Vec<u8>,
}

/// The machine that invoked a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineContext {
    /// The instance's address.
    pub instance: String,
    /// The state it is in.
    pub state: String,
    /// The event being applied.
    pub event: String,
}

/// Where and why an invocation runs; handed to the guest as its `context`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationContext {
    /// The function's space.
    pub space: String,
    /// The function's name.
    pub function: String,
    /// The version running.
    pub version: u64,
    /// The invocation's id.
    pub invocation_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The caller's idempotency key.
    pub idempotency_key: Option<String>,
    /// The trace the invocation belongs to.
    pub trace_id: String,
    /// The machine that invoked the function, if one did.
    pub machine: Option<MachineContext>,
}

/// Limits on one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall time, host calls included.
    pub timeout: Duration,
    /// Linear memory, in bytes, summed over the component's memories.
    pub memory_bytes: u64,
    /// WebAssembly fuel (roughly, instructions); `None` for no fuel limit.
    pub fuel: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { timeout: Duration::from_secs(10), memory_bytes: 64 * 1024 * 1024, fuel: None }
    }
}

/// What a function version may reach, fixed at deploy time. Its `Debug` form shows secrets by
/// name only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Hosts outgoing HTTP may reach: `host` (any port) or `host:port`. Empty: none.
    pub allowed_hosts: Vec<String>,
    /// What it may do to its space's KV keys, instances and topics: its grants (the engine makes
    /// them from the function's settings, [`switchyard_model::function_grants`]). Empty: nothing.
    pub grants: switchyard_model::GrantSet,
    /// Configuration values.
    pub config: BTreeMap<String, String>,
    /// Secrets.
    pub secrets: BTreeMap<String, String>,
}

impl std::fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capabilities")
            .field("allowed_hosts", &self.allowed_hosts)
            .field("grants", &self.grants)
            .field("config", &self.config)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Capabilities {
    /// Whether outgoing HTTP may reach `host` on `port`.
    pub fn allows_host(&self, host: &str, port: u16) -> bool {
        self.allowed_hosts.iter().any(|allowed| match allowed.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => h.eq_ignore_ascii_case(host) && p.parse() == Ok(port),
            _ => allowed.eq_ignore_ascii_case(host),
        })
    }

    /// Whether `permission` is granted on the address of `segments` (the function's space
    /// first).
    pub fn allows(&self, permission: switchyard_model::Permission, segments: &[&str]) -> bool {
        self.grants.allows(permission, segments)
    }
}

/// One invocation to run.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The input.
    pub input: Payload,
    /// The context.
    pub context: InvocationContext,
    /// The limits.
    pub limits: Limits,
    /// What the function may reach.
    pub capabilities: Arc<Capabilities>,
}

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warn.
    Warn,
    /// Error.
    Error,
}

impl LogLevel {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// A line the guest logged (or wrote to stdout or stderr, which are logged as `info` and
/// `warn` lines with a `stream` field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the invocation started.
    pub at_ms: u64,
    /// The level.
    pub level: LogLevel,
    /// The message.
    pub message: String,
    /// Key-value fields.
    pub fields: Vec<(String, String)>,
}

/// Declares the invocation error codes the host side raises, and [`codes::ALL`] from the same
/// list, so no code can be left out of it.
macro_rules! invocation_codes {
    ($($(#[doc = $doc:literal])+ $name:ident = $code:literal,)+) => {
        /// Stable codes of invocation errors raised by the host side (the runtime or the engine)
        /// rather than chosen by the guest. [`ALL`] lists them for the tests that check the
        /// documented table and the HTTP statuses against them.
        pub mod codes {
            $($(#[doc = $doc])+ pub const $name: &str = $code;)+

            /// Every code above, in the order of the documented table.
            pub const ALL: &[&str] = &[$($name),+];
        }
    };
}

invocation_codes! {
    /// The invocation ran past its wall-time limit.
    TIMEOUT = "function_timeout",
    /// The guest trapped (a panic, an `unreachable`, an out-of-bounds access…).
    TRAPPED = "function_trapped",
    /// The guest asked for more memory than its limit.
    MEMORY_LIMIT = "function_memory_limit",
    /// The guest used up its fuel.
    FUEL_EXHAUSTED = "function_fuel_exhausted",
    /// The guest used a capability it was not granted (the guest SDK reports denials so).
    CAPABILITY_DENIED = "capability_denied",
    /// The runtime could not instantiate the component (pool exhausted, resource limits).
    INSTANTIATION_FAILED = "function_instantiation_failed",
    /// The node had no room for the invocation (slots or memory budget, its own or its
    /// space's) before its wall-time limit, or its memory limit can never fit this node's budget.
    CAPACITY_EXHAUSTED = "function_capacity_exhausted",
    /// The guest's output broke a limit on values (a JSON output nested too deep).
    VALIDATION_FAILED = "validation_failed",
    /// The guest's own error code was empty or not made of letters, digits, `_`, `.` and `-`.
    FUNCTION_ERROR = "function_error",
    /// An asynchronous invocation whose attempts all ended with their node (raised by the
    /// engine, which retries them); only ever in an invocation record.
    ABANDONED = "function_abandoned",
}

/// Why an invocation failed: the guest's own error, or one of [`codes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationError {
    /// A stable, machine-readable code.
    pub code: String,
    /// What happened, for a person.
    pub message: String,
    /// Whether trying again may help.
    pub retryable: bool,
}

impl InvocationError {
    /// An error the runtime raised.
    pub fn runtime(code: &str, message: impl Into<String>, retryable: bool) -> Self {
        InvocationError { code: code.to_owned(), message: message.into(), retryable }
    }
}

/// What came of one invocation.
#[derive(Debug, Clone)]
#[must_use]
pub struct Outcome {
    /// The output, or why there is none.
    pub result: Result<Payload, InvocationError>,
    /// The lines logged, at most [`crate::MAX_LOG_LINES`].
    pub logs: Vec<LogLine>,
    /// Lines dropped because the limit was reached.
    pub logs_dropped: u32,
    /// The whole invocation, instantiation included.
    pub duration: Duration,
    /// Instantiating the pre-linked component.
    pub instantiation: Duration,
}

impl Outcome {
    /// An invocation that failed before the guest ran.
    pub fn failed(error: InvocationError) -> Outcome {
        Outcome {
            result: Err(error),
            logs: Vec::new(),
            logs_dropped: 0,
            duration: Duration::ZERO,
            instantiation: Duration::ZERO,
        }
    }
}
