//! The function rules both backends share: when a deploy creates a version, what an enqueue and
//! a finish accept, the log payload of a deploy, and the conversions between records and their
//! stored columns. Each backend's `functions` module applies them with its own SQL, so both
//! answer every function operation alike (the conformance suite checks it).
//!
//! Every conversion of a record into columns happens before an op's first write (see
//! [`StoredInvocation`]), so a value that cannot be stored refuses the op cleanly — which
//! PostgreSQL needs, since a single op runs without a savepoint.

use serde::Serialize;
use serde_json::Value;

use crate::error::StoreError;
use crate::functions::*;
use crate::types::*;

/// The columns of an invocation, in the order [`RawInvocation`] takes them. Both backends'
/// `invocations` tables have these names; the blobs come last so the row's other columns are
/// read without them.
pub(crate) const INVOCATION_COLUMNS: &str = "seq, id, space, function, version, status, is_async, attempt,
    idempotency_key, context, input_content_type, input_size, output_content_type, output_size, error, logs,
    created_at, finished_at, duration_us, lease_until, input, output";

/// [`INVOCATION_COLUMNS`] without the input (up to megabytes each), for listings, which return
/// `input: None`.
pub(crate) const INVOCATION_COLUMNS_NO_INPUT: &str = "seq, id, space, function, version, status, is_async, attempt,
    idempotency_key, context, input_content_type, input_size, output_content_type, output_size, error, logs,
    created_at, finished_at, duration_us, lease_until, NULL, output";

/// The columns of a function version without its component, in the order [`RawFunction`]
/// takes them.
pub(crate) const FUNCTION_COLUMNS: &str = "space, name, version, digest, size, config, created_at";

/// The address of a function's log records: `space:name`.
pub(crate) fn address(space: &str, name: &str) -> String {
    format!("{space}:{name}")
}

/// Whether a deploy of `spec` changes nothing against the latest version: the same component
/// (by digest) and the same configuration (compared as JSON values, not as text).
pub(crate) fn unchanged(latest: &FunctionSummary, spec: &FunctionSpec) -> bool {
    latest.digest == spec.digest && latest.config == spec.config
}

/// The version a deploy creates after `latest` (1 for the first).
pub(crate) fn next_version(latest: Option<&FunctionSummary>) -> Result<u64, StoreError> {
    match latest {
        None => Ok(1),
        Some(latest) => latest
            .version
            .checked_add(1)
            .filter(|v| i64::try_from(*v).is_ok())
            .ok_or_else(|| StoreError::Corrupt(format!("function version {}", latest.version))),
    }
}

/// The payload of a `function.deployed` record.
#[derive(Serialize)]
pub(crate) struct DeployedRecord<'a> {
    pub version: u64,
    pub digest: &'a str,
    pub size: u64,
}

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

impl StoredFunction {
    /// The payload of the version's `function.deployed` record.
    pub(crate) fn record(&self) -> DeployedRecord<'_> {
        DeployedRecord { version: self.summary.version, digest: &self.summary.digest, size: self.summary.size }
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

/// Refuses an enqueue of anything but a pending asynchronous invocation (a caller's bug: the
/// idempotency lookup only finds asynchronous records, and only pending ones are claimed).
pub(crate) fn check_enqueue(record: &InvocationRecord) -> Result<(), StoreError> {
    if record.status != InvocationStatus::Pending || !record.is_async {
        return Err(StoreError::Internal(format!(
            "only a pending asynchronous invocation can be enqueued; \"{}\" is {} and {}",
            record.id,
            record.status.as_str(),
            if record.is_async { "asynchronous" } else { "synchronous" }
        )));
    }
    Ok(())
}

/// Refuses a finish that leaves the invocation pending (a caller's bug: a finish ends the
/// invocation and reports it as completed).
pub(crate) fn check_finish(record: &InvocationRecord) -> Result<(), StoreError> {
    if record.status == InvocationStatus::Pending {
        return Err(StoreError::Internal(format!(
            "invocation \"{}\" cannot be finished as pending; finish it as succeeded or failed",
            record.id
        )));
    }
    Ok(())
}

/// The refusal for an invocation id that is already stored (ids are generated, so a repeat is
/// a caller's bug, not a condition to report to a client).
pub(crate) fn duplicate_id(id: &str) -> StoreError {
    StoreError::Internal(format!("an invocation with id \"{id}\" is already stored"))
}

/// The refusal for an asynchronous invocation recorded with an idempotency key another
/// asynchronous invocation of its function already has (only an enqueue looks keys up).
pub(crate) fn duplicate_key(record: &InvocationRecord) -> StoreError {
    StoreError::Internal(format!(
        "an asynchronous invocation of \"{}:{}\" with idempotency key {:?} is already stored; enqueue it instead",
        record.space,
        record.function,
        record.idempotency_key.as_deref().unwrap_or_default()
    ))
}

/// Refuses a list of records that names one id twice, or one asynchronous idempotency key of
/// a function twice (the second insert would fail, and with it the whole group).
pub(crate) fn check_distinct(records: &[InvocationRecord]) -> Result<(), StoreError> {
    let mut ids = std::collections::HashSet::with_capacity(records.len());
    let mut keys = std::collections::HashSet::new();
    for record in records {
        if !ids.insert(record.id.as_str()) {
            return Err(duplicate_id(&record.id));
        }
        if let Some(key) = record.idempotency_key.as_deref().filter(|_| record.is_async)
            && !keys.insert((record.space.as_str(), record.function.as_str(), key))
        {
            return Err(duplicate_key(record));
        }
    }
    Ok(())
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
    pub lease_until: Option<i64>,
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
            lease_until: record.lease_until.map(|t| t.0),
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
    pub lease_until: Option<i64>,
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
            lease_until: self.lease_until.map(Timestamp),
            seq: to_u64("invocation seq", self.seq)?,
        })
    }
}

/// A claimed record as the claim leaves it: one more attempt, leased until `lease_until`.
pub(crate) fn claimed(mut record: InvocationRecord, lease_until: Timestamp) -> Result<InvocationRecord, StoreError> {
    record.attempt = record
        .attempt
        .checked_add(1)
        .ok_or_else(|| StoreError::Corrupt(format!("invocation \"{}\" attempt {}", record.id, record.attempt)))?;
    record.lease_until = Some(lease_until);
    Ok(record)
}

/// A number the caller gave, as stored (a value beyond `i64` is a caller's bug).
pub(crate) fn to_i64(what: &str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Internal(format!("{what} {v} is too large to store")))
}

/// A stored number that is never negative.
pub(crate) fn to_u64(what: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v}")))
}
