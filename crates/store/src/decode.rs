//! Decoding of stored values into typed records, shared by every backend: a value that does
//! not decode is `StoreError::Corrupt`, never a panic — except in log records, which are never
//! refused whole: a log row decodes to a record marked unreadable (see [`log_row`]), because
//! one record that fails would otherwise fail every page of the log that holds it.

use std::fmt::Display;

use serde_json::Value;
use switchyard_model::auth::SpaceGrant;
use switchyard_model::instances::{InstanceRecord, MachineVersion, Revision};
use switchyard_model::json::JsonObject;
use switchyard_model::log::{LogRecord, Seq};
use switchyard_model::time::Timestamp;
use switchyard_model::{Segment, SpaceName};

use crate::error::StoreError;

/// A stored machine version (any integer width the backend stores it in).
pub(crate) fn machine_version<T: TryInto<u32> + Copy + Display>(v: T) -> Result<MachineVersion, StoreError> {
    v.try_into().ok().and_then(MachineVersion::new).ok_or_else(|| StoreError::Corrupt(format!("machine version {v}")))
}

/// A stored revision (any integer width the backend stores it in).
pub(crate) fn revision<T: TryInto<u64> + Copy + Display>(v: T) -> Result<Revision, StoreError> {
    v.try_into().ok().and_then(Revision::new).ok_or_else(|| StoreError::Corrupt(format!("revision {v}")))
}

/// A stored quota.
pub(crate) fn quota(text: &str) -> Result<switchyard_model::quotas::Quota, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("quota: {e}")))
}

/// A meter as stored: a signed 64-bit column, kept at `i64::MAX` past it.
pub(crate) fn meter_column(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A meter or a sum read back (negative only if hand-edited: read as zero).
pub(crate) fn meter(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A stored space name.
pub(crate) fn space(s: String) -> Result<SpaceName, StoreError> {
    s.parse().map_err(|e| StoreError::Corrupt(format!("stored space name: {e}")))
}

/// A stored machine name, instance id or other name segment.
pub(crate) fn segment(s: String) -> Result<Segment, StoreError> {
    s.parse().map_err(|e| StoreError::Corrupt(format!("stored name: {e}")))
}

/// A token's stored spaces: the JSON list that `SpaceGrant::to_names` wrote.
pub(crate) fn space_grant(json: &str) -> Result<SpaceGrant, StoreError> {
    let names: Vec<String> = serde_json::from_str(json)?;
    if names.iter().any(|n| n == "*") {
        return Ok(SpaceGrant::All);
    }
    Ok(SpaceGrant::Only(names.into_iter().map(space).collect::<Result<_, _>>()?))
}

/// A stored principal kind.
pub(crate) fn principal_kind(kind: &str) -> Result<switchyard_model::PrincipalKind, StoreError> {
    switchyard_model::PrincipalKind::parse(kind)
        .ok_or_else(|| StoreError::Corrupt(format!("principal kind \"{kind}\"")))
}

/// The instance, or `StoreError::Corrupt` naming it when its context cannot be read back: what
/// reads one instance must not go on with an empty context in its place (a listing returns such
/// a record instead, so one damaged instance does not hide its neighbours).
pub(crate) fn readable_instance(instance: InstanceRecord) -> Result<InstanceRecord, StoreError> {
    match &instance.unreadable {
        None => Ok(instance),
        Some(reason) => {
            Err(StoreError::Corrupt(format!("instance \"{}\" cannot be read back: {reason}", instance.key().address())))
        }
    }
}

/// A stored context: `(ctx, None)`, or an empty context and why the stored one cannot be read
/// back (the same reading limits as log payloads; see [`log_row`]).
pub(crate) fn ctx(text: Result<&str, String>) -> (JsonObject, Option<String>) {
    match text.and_then(|text| serde_json::from_str(text).map_err(|e| e.to_string())) {
        Ok(ctx) => (ctx, None),
        Err(e) => (JsonObject::new(), Some(format!("ctx: {e}"))),
    }
}

/// One text column of a stored row, as far as it could be read: `value` is the text (with
/// replacement characters where it was not UTF-8, empty where it could not be read at all) and
/// `problem` says what was wrong, if anything.
#[derive(Debug, Default)]
pub(crate) struct Text {
    pub value: String,
    pub problem: Option<String>,
}

impl Text {
    /// Text read without a problem.
    pub fn ok(value: impl Into<String>) -> Text {
        Text { value: value.into(), problem: None }
    }

    /// A column that could not be read.
    pub fn failed(problem: impl Into<String>) -> Text {
        Text { value: String::new(), problem: Some(problem.into()) }
    }
}

/// The columns of one stored log row (`LOG_COLUMNS` of either backend) as the backend read
/// them, before anything is decoded.
#[derive(Debug)]
pub(crate) struct RawLogRow {
    pub seq: i64,
    pub space: Text,
    pub kind: Text,
    pub address: Text,
    pub payload: Text,
    /// `None` for SQL NULL.
    pub idempotency_key: Option<Text>,
    pub created_at: Result<i64, String>,
}

/// A stored log row, decoded as far as it goes.
#[derive(Debug)]
pub(crate) enum LogRow {
    /// A record in its space; [`LogRecord::unreadable`] says whether all of it was read.
    Record(LogRecord),
    /// A row whose seq or space cannot be read: it belongs to no space, so no reader is given
    /// it (no watch or subscription filter could pass it); it is only reported.
    Unplaced {
        /// Its seq (as stored).
        seq: i64,
        /// Why it cannot be placed.
        reason: String,
    },
}

/// Decodes a log row. Never fails: whatever part does not decode is named in the record's
/// `unreadable` (or, for the seq and space, makes the row [`LogRow::Unplaced`]), so one bad
/// record cannot fail a page of the log for every reader.
///
/// The payload is parsed with `serde_json`'s recursion limit (128 levels) kept on purpose: the
/// values read here go on to recursive encoders, evaluators and destructors, and nothing
/// deeper than [`switchyard_model::json::MAX_DEPTH`] is written any more, so a deeper stored
/// value (written by an older build, or tampered with) is reported as unreadable rather than
/// read with an unbounded stack.
pub(crate) fn log_row(raw: RawLogRow) -> LogRow {
    let Ok(seq) = u64::try_from(raw.seq) else {
        return LogRow::Unplaced { seq: raw.seq, reason: format!("seq {} is not a log position", raw.seq) };
    };
    if let Some(problem) = raw.space.problem {
        return LogRow::Unplaced { seq: raw.seq, reason: format!("space: {problem}") };
    }
    let space = match raw.space.value.parse::<SpaceName>() {
        Ok(space) => space,
        Err(e) => return LogRow::Unplaced { seq: raw.seq, reason: format!("space: {e}") },
    };
    let mut problems: Vec<String> = Vec::new();
    let mut text = |what: &str, column: Text| {
        if let Some(problem) = column.problem {
            problems.push(format!("{what}: {problem}"));
        }
        column.value
    };
    let kind = text("kind", raw.kind);
    let address = text("address", raw.address);
    let idempotency_key = raw.idempotency_key.map(|key| text("idempotency_key", key));
    let payload = match raw.payload.problem {
        Some(problem) => {
            problems.push(format!("payload: {problem}"));
            Value::Null
        }
        None => match serde_json::from_str::<Value>(&raw.payload.value) {
            Ok(payload) => payload,
            Err(e) => {
                problems.push(format!("payload: {e}"));
                Value::Null
            }
        },
    };
    let created_at = raw.created_at.unwrap_or_else(|problem| {
        problems.push(format!("created_at: {problem}"));
        0
    });
    let unreadable = if problems.is_empty() { None } else { Some(problems.join("; ")) };
    LogRow::Record(LogRecord {
        seq: Seq(seq),
        space,
        kind,
        address,
        payload,
        idempotency_key,
        created_at: Timestamp(created_at),
        unreadable,
    })
}

/// An instance's persisted status; an unknown spelling (a newer build's) reads as `active`.
pub(crate) fn instance_status(text: &str) -> switchyard_model::InstanceStatus {
    switchyard_model::InstanceStatus::parse(text).unwrap_or_default()
}

/// An instance's work column: the ids of its current state's jobs (none when unreadable).
pub(crate) fn instance_work(text: Option<&str>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}

/// An instance's parent column: the instance that started it as its child (none when absent
/// or unreadable, which only a damaged row can be).
pub(crate) fn instance_parent(text: Option<&str>) -> Option<switchyard_model::ParentLink> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// An instance's error column, as JSON (the raw text as a string when it is not JSON).
pub(crate) fn instance_error(text: Option<&str>) -> Option<serde_json::Value> {
    text.map(|t| serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::String(t.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(payload: &str) -> RawLogRow {
        RawLogRow {
            seq: 7,
            space: Text::ok("acme"),
            kind: Text::ok("topic.message"),
            address: Text::ok("acme:news"),
            payload: Text::ok(payload),
            idempotency_key: None,
            created_at: Ok(1_000),
        }
    }

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn a_readable_row_decodes_whole() {
        let LogRow::Record(record) = log_row(raw(r#"{"payload":1}"#)) else { panic!("placed") };
        assert_eq!(record.payload, serde_json::json!({ "payload": 1 }));
        assert!(record.is_readable());
        assert_eq!(record.created_at, Timestamp(1_000));
    }

    /// Table: what is wrong with a row, and what its `unreadable` reason names.
    #[test]
    fn an_unreadable_part_is_named_and_the_rest_kept() {
        let cases: Vec<(RawLogRow, &str)> = vec![
            (raw("{not json"), "payload: key must be a string"),
            (raw(&nested(130)), "payload: recursion limit exceeded"),
            (RawLogRow { payload: Text::failed("not UTF-8"), ..raw("{}") }, "payload: not UTF-8"),
            (RawLogRow { created_at: Err("text \"x\"".into()), ..raw("{}") }, "created_at: text \"x\""),
            (
                RawLogRow { kind: Text { value: "k\u{fffd}".into(), problem: Some("not UTF-8".into()) }, ..raw("{}") },
                "kind: not UTF-8",
            ),
        ];
        for (row, reason) in cases {
            let LogRow::Record(record) = log_row(row) else { panic!("{reason}: placed") };
            let why = record.unreadable.as_deref().unwrap_or_else(|| panic!("{reason}: marked"));
            assert!(why.starts_with(reason), "{why:?} should start with {reason:?}");
            assert_eq!((record.seq, record.space.as_str(), record.address.as_str()), (Seq(7), "acme", "acme:news"));
        }
    }

    #[test]
    fn a_value_within_the_policy_reads_back() {
        let LogRow::Record(record) = log_row(raw(&nested(switchyard_model::json::MAX_DEPTH + 2))) else {
            panic!("placed")
        };
        assert!(record.is_readable(), "{:?}", record.unreadable);
    }

    #[test]
    fn a_row_without_a_space_is_unplaced() {
        for space in [Text::ok("Not A Space"), Text::failed("not UTF-8")] {
            match log_row(RawLogRow { space, ..raw("{}") }) {
                LogRow::Unplaced { seq: 7, reason } => assert!(reason.starts_with("space: "), "{reason}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
