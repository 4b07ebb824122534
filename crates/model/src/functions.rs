//! Functions as the product knows them: deployed versions and the records of their
//! invocations. A function's configuration and an invocation's context, logs and error are
//! opaque JSON here; the engine and the runtime give them meaning.

use serde_json::Value;

use crate::time::Timestamp;
use crate::{Segment, SpaceName};

/// Log record kind appended when a function version is deployed (`{"version","digest","size",
/// "principal"}`).
pub const FUNCTION_DEPLOYED: &str = "function.deployed";
/// Log record kind appended when an asynchronous invocation finishes.
pub const FUNCTION_COMPLETED: &str = "function.completed";

/// A new function version to store.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// The space.
    pub space: SpaceName,
    /// The function's name.
    pub name: Segment,
    /// The component's bytes (a WebAssembly component already validated by the runtime).
    pub component: Vec<u8>,
    /// The SHA-256 of `component`, lowercase hex.
    pub digest: String,
    /// The version's configuration (limits, grants, config values), as the engine encodes it.
    pub config: Value,
}

/// One stored function version.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionRecord {
    /// The version's metadata.
    pub summary: FunctionSummary,
    /// The component's bytes.
    pub component: Vec<u8>,
}

/// A function version without its component bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSummary {
    /// The space.
    pub space: SpaceName,
    /// The function's name.
    pub name: Segment,
    /// The version: 1 for the first deploy, one more for each deploy that changed something.
    pub version: u64,
    /// The SHA-256 of the component, lowercase hex.
    pub digest: String,
    /// The component's size in bytes.
    pub size: u64,
    /// The version's configuration.
    pub config: Value,
    /// When this version was deployed.
    pub created_at: Timestamp,
}

/// Where an invocation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvocationStatus {
    /// Accepted (asynchronous) and not yet finished.
    Pending,
    /// Finished with an output.
    Succeeded,
    /// Finished with an error (from the guest, or a limit, trap or denial).
    Failed,
}

impl InvocationStatus {
    /// The stable lowercase name (stored and shown by the API).
    pub fn as_str(self) -> &'static str {
        match self {
            InvocationStatus::Pending => "pending",
            InvocationStatus::Succeeded => "succeeded",
            InvocationStatus::Failed => "failed",
        }
    }

    /// Parses [`InvocationStatus::as_str`]'s output.
    pub fn parse(s: &str) -> Option<InvocationStatus> {
        match s {
            "pending" => Some(InvocationStatus::Pending),
            "succeeded" => Some(InvocationStatus::Succeeded),
            "failed" => Some(InvocationStatus::Failed),
            _ => None,
        }
    }
}

/// One invocation of a function version.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationRecord {
    /// Its id (a UUIDv7, so ids sort by creation time).
    pub id: String,
    /// The space.
    pub space: SpaceName,
    /// The function.
    pub function: Segment,
    /// The version invoked.
    pub version: u64,
    /// Where it is.
    pub status: InvocationStatus,
    /// Whether it was invoked asynchronously.
    pub is_async: bool,
    /// The last attempt that ended (0 before the first ends; an asynchronous invocation's
    /// attempts are its job's, whose id is the invocation's).
    pub attempt: u32,
    /// The caller's idempotency key, if any.
    pub idempotency_key: Option<String>,
    /// The invocation's context as the engine encodes it (trace id, the machine that invoked…).
    pub context: Value,
    /// The input (kept for asynchronous invocations, which run later; `None` otherwise).
    pub input: Option<Vec<u8>>,
    /// The input's content type.
    pub input_content_type: String,
    /// The input's size in bytes.
    pub input_size: u64,
    /// The output (kept for finished asynchronous invocations; `None` otherwise).
    pub output: Option<Vec<u8>>,
    /// The output's content type (empty when there is none).
    pub output_content_type: String,
    /// The output's size in bytes (0 when there is none).
    pub output_size: u64,
    /// The error when `status` is failed: `{"code", "message"}`.
    pub error: Option<Value>,
    /// The lines the guest logged (a bounded JSON array).
    pub logs: Value,
    /// When it was accepted.
    pub created_at: Timestamp,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
    /// How long the last attempt ran, in microseconds.
    pub duration_us: Option<u64>,
    /// Position in the store's invocation list, assigned by the store on insert (0 before);
    /// a page of invocations (`after`) is read by it.
    pub seq: u64,
}

/// The error code of an asynchronous invocation whose job died because every attempt's lease
/// ended (its node died or hung): the runtime's `function_abandoned`, which neither this crate nor
/// the store can name from where they sit (an engine test holds the two equal).
pub const INVOCATION_ABANDONED: &str = "function_abandoned";

/// The job kind that runs asynchronous invocations; such a job's id is its invocation's.
pub const INVOCATION_JOB: &str = "invocation";

/// Adds an invocation's output to a JSON object as `output_content_type` and either `output`
/// (JSON output embedded as JSON, other text as a string) or `output_base64`; the log record
/// and the API show outputs the same way.
pub fn insert_output(object: &mut serde_json::Map<String, Value>, output: &[u8], content_type: &str) {
    object.insert("output_content_type".into(), Value::String(content_type.to_owned()));
    let is_json = content_type.split(';').next().is_some_and(|t| t.trim().ends_with("json"));
    let parsed = if is_json { serde_json::from_slice::<Value>(output).ok() } else { None };
    match (parsed, std::str::from_utf8(output)) {
        (Some(value), _) => object.insert("output".into(), value),
        (None, Ok(text)) => object.insert("output".into(), Value::String(text.to_owned())),
        (None, Err(_)) => {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(output);
            object.insert("output_base64".into(), Value::String(encoded))
        }
    };
}
