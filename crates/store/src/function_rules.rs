//! What both backends' function tables and reads share besides SQL: the conversions between
//! function versions and invocation records and their stored columns. The rules are the
//! commands' (`crate::commands::functions`).
//!
//! A command converts a record into columns ([`StoredFunction`], [`StoredInvocation`]) before
//! its first write, so a value that cannot be stored refuses the op cleanly — which PostgreSQL
//! needs, since a single op runs without a savepoint.

use serde_json::Value;
use switchyard_model::{FunctionSpec, FunctionSummary, InvocationRecord, InvocationStatus, Timestamp};

use crate::error::StoreError;

/// The columns of an invocation, in the order [`RawInvocation`] takes them. Both backends'
/// `invocations` tables have these names; the blobs come last so the row's other columns are
/// read without them.
pub(crate) const INVOCATION_COLUMNS: &str = "seq, id, space, function, version, status, is_async, attempt,
    idempotency_key, context, input_content_type, input_size, output_content_type, output_size, error, logs,
    created_at, finished_at, duration_us, input, output";

/// [`INVOCATION_COLUMNS`] without the input (up to megabytes each), for listings, which return
/// `input: None`.
pub(crate) const INVOCATION_COLUMNS_NO_INPUT: &str = "seq, id, space, function, version, status, is_async, attempt,
    idempotency_key, context, input_content_type, input_size, output_content_type, output_size, error, logs,
    created_at, finished_at, duration_us, NULL, output";

/// The columns of a function version without its component, in the order [`RawFunction`]
/// takes them.
pub(crate) const FUNCTION_COLUMNS: &str = "space, name, version, digest, size, config, created_at";

/// A function version about to be stored: its columns, converted before anything is written.
pub(crate) struct StoredFunction {
    /// The new version.
    pub version: i64,
    /// The component's size.
    pub size: i64,
    /// The configuration as JSON text.
    pub config: String,
    /// The version as the outcome reports it.
    pub summary: FunctionSummary,
}

impl StoredFunction {
    /// The columns of `spec` stored as `version`, deployed at `now`.
    pub(crate) fn new(spec: &FunctionSpec, version: u64, now: Timestamp) -> Result<StoredFunction, StoreError> {
        let size = spec.component.len() as u64;
        Ok(StoredFunction {
            version: to_i64("function version", version)?,
            size: to_i64("component size", size)?,
            config: serde_json::to_string(&spec.config)?,
            summary: FunctionSummary {
                space: spec.space.clone(),
                name: spec.name.clone(),
                version,
                digest: spec.digest.clone(),
                size,
                config: spec.config.clone(),
                created_at: now,
            },
        })
    }
}

/// A function version's columns as read, decoded by [`RawFunction::decode`].
pub(crate) struct RawFunction {
    pub space: String,
    pub name: String,
    pub version: i64,
    pub digest: String,
    pub size: i64,
    pub config: String,
    pub created_at: i64,
}

impl RawFunction {
    /// The stored version.
    pub(crate) fn decode(self) -> Result<FunctionSummary, StoreError> {
        Ok(FunctionSummary {
            space: crate::decode::space(self.space)?,
            name: crate::decode::segment(self.name)?,
            version: to_u64("function version", self.version)?,
            digest: self.digest,
            size: to_u64("component size", self.size)?,
            config: serde_json::from_str(&self.config)?,
            created_at: Timestamp(self.created_at),
        })
    }
}

/// An invocation's columns about to be written, converted from the record before anything is
/// written. `seq` is not among them: the store assigns it.
pub(crate) struct StoredInvocation<'a> {
    pub record: &'a InvocationRecord,
    pub version: i64,
    pub attempt: i64,
    pub context: String,
    pub input_size: i64,
    pub output_size: i64,
    pub error: Option<String>,
    pub logs: String,
    pub finished_at: Option<i64>,
    pub duration_us: Option<i64>,
}

impl<'a> StoredInvocation<'a> {
    /// The columns of `record`.
    pub(crate) fn new(record: &'a InvocationRecord) -> Result<StoredInvocation<'a>, StoreError> {
        Ok(StoredInvocation {
            record,
            version: to_i64("invocation version", record.version)?,
            attempt: i64::from(record.attempt),
            context: serde_json::to_string(&record.context)?,
            input_size: to_i64("invocation input size", record.input_size)?,
            output_size: to_i64("invocation output size", record.output_size)?,
            error: record.error.as_ref().map(serde_json::to_string).transpose()?,
            logs: serde_json::to_string(&record.logs)?,
            finished_at: record.finished_at.map(|t| t.0),
            duration_us: record.duration_us.map(|d| to_i64("invocation duration", d)).transpose()?,
        })
    }

    /// The status as stored.
    pub(crate) fn status(&self) -> &'static str {
        self.record.status.as_str()
    }
}

/// An invocation's columns as read ([`INVOCATION_COLUMNS`]), decoded by
/// [`RawInvocation::decode`].
pub(crate) struct RawInvocation {
    pub seq: i64,
    pub id: String,
    pub space: String,
    pub function: String,
    pub version: i64,
    pub status: String,
    pub is_async: bool,
    pub attempt: i64,
    pub idempotency_key: Option<String>,
    pub context: String,
    pub input_content_type: String,
    pub input_size: i64,
    pub output_content_type: String,
    pub output_size: i64,
    pub error: Option<String>,
    pub logs: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub duration_us: Option<i64>,
    pub input: Option<Vec<u8>>,
    pub output: Option<Vec<u8>>,
}

impl RawInvocation {
    /// The stored record.
    pub(crate) fn decode(self) -> Result<InvocationRecord, StoreError> {
        let status = InvocationStatus::parse(&self.status)
            .ok_or_else(|| StoreError::Corrupt(format!("invocation status \"{}\"", self.status)))?;
        let attempt = u32::try_from(self.attempt)
            .map_err(|_| StoreError::Corrupt(format!("invocation attempt {}", self.attempt)))?;
        Ok(InvocationRecord {
            id: self.id,
            space: crate::decode::space(self.space)?,
            function: crate::decode::segment(self.function)?,
            version: to_u64("invocation version", self.version)?,
            status,
            is_async: self.is_async,
            attempt,
            idempotency_key: self.idempotency_key,
            context: serde_json::from_str(&self.context)?,
            input: self.input,
            input_content_type: self.input_content_type,
            input_size: to_u64("invocation input size", self.input_size)?,
            output: self.output,
            output_content_type: self.output_content_type,
            output_size: to_u64("invocation output size", self.output_size)?,
            error: self.error.as_deref().map(serde_json::from_str::<Value>).transpose()?,
            logs: serde_json::from_str(&self.logs)?,
            created_at: Timestamp(self.created_at),
            finished_at: self.finished_at.map(Timestamp),
            duration_us: self.duration_us.map(|d| to_u64("invocation duration", d)).transpose()?,
            seq: to_u64("invocation seq", self.seq)?,
        })
    }
}

/// A number the caller gave, as stored (a value beyond `i64` is a caller's bug).
pub(crate) fn to_i64(what: &str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Internal(format!("{what} {v} is too large to store")))
}

/// A stored number that is never negative.
pub(crate) fn to_u64(what: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v}")))
}
