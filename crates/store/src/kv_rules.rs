//! The KV rules both backends share: key liveness and write conditions, history windows, the
//! log payloads of KV writes, and key-prefix ranges. Each backend's `kv` module applies them
//! with its own SQL, so both answer every KV operation alike (the conformance suite checks it).

use base64::Engine as _;
use serde::Serialize;

use crate::error::StoreError;
use crate::streams::*;
use crate::types::*;

/// A key's current row, as far as a condition is concerned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyState {
    /// Its revision (a tombstone's too).
    pub revision: u64,
    /// Whether it is a value that has not expired.
    pub live: bool,
}

impl KeyState {
    /// Decodes a stored row's revision and decides liveness at `now`.
    pub(crate) fn new(
        revision: i64,
        deleted: bool,
        expires_at: Option<i64>,
        now: Timestamp,
    ) -> Result<Self, StoreError> {
        let revision = crate::decode::revision(revision)?.get();
        Ok(KeyState { revision, live: !deleted && expires_at.is_none_or(|at| at > now.0) })
    }

    /// The revision the next write of this key gets: one more than any it ever had.
    pub(crate) fn next_revision(self) -> Result<u64, StoreError> {
        self.revision.checked_add(1).ok_or_else(|| StoreError::Corrupt(format!("KV revision {}", self.revision)))
    }
}

/// The address of a key: `space:bucket:key`.
pub(crate) fn address(space: &str, bucket: &str, key: &str) -> String {
    format!("{space}:{bucket}:{key}")
}

/// Checks a put's condition against the key's current row (`None`: never written).
pub(crate) fn check_put(condition: KvCondition, current: Option<KeyState>, address: &str) -> Result<(), StoreError> {
    let live = current.filter(|c| c.live).map(|c| c.revision);
    let holds = match condition {
        KvCondition::Always => true,
        KvCondition::Revision(r) => live == Some(r),
        KvCondition::Absent => live.is_none(),
    };
    if holds { Ok(()) } else { Err(StoreError::KvConflict { address: address.to_string(), current: live }) }
}

/// Checks a delete's condition: the key must be live (else `KvNotFound`) and, under
/// `Revision`, at that revision. Returns the live revision. `Absent` cannot hold for a live key.
pub(crate) fn check_delete(
    condition: KvCondition,
    current: Option<KeyState>,
    address: &str,
) -> Result<KeyState, StoreError> {
    let Some(current) = current.filter(|c| c.live) else {
        return Err(StoreError::KvNotFound { address: address.to_string() });
    };
    match condition {
        KvCondition::Always => Ok(current),
        KvCondition::Revision(r) if r == current.revision => Ok(current),
        KvCondition::Revision(_) | KvCondition::Absent => {
            Err(StoreError::KvConflict { address: address.to_string(), current: Some(current.revision) })
        }
    }
}

/// A bucket's history as asked for, clamped to 1..=[`MAX_KV_HISTORY`].
pub(crate) fn clamp_history(history: u32) -> u32 {
    history.clamp(1, MAX_KV_HISTORY)
}

/// A stored bucket history (any integer width the backend stores it in).
pub(crate) fn stored_history<T: TryInto<u32> + Copy + std::fmt::Display>(h: T) -> Result<u32, StoreError> {
    h.try_into()
        .ok()
        .filter(|h| (1..=MAX_KV_HISTORY).contains(h))
        .ok_or_else(|| StoreError::Corrupt(format!("KV bucket history {h}")))
}

/// When a value written at `now` with this TTL expires.
pub(crate) fn expiry(now: Timestamp, ttl_ms: Option<u64>) -> Option<Timestamp> {
    ttl_ms.map(|ttl| Timestamp(now.0.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX))))
}

/// Past revisions at or below this one fall outside the window of a key at `revision` in a
/// bucket keeping `history` revisions (`None`: nothing does).
pub(crate) fn history_cutoff(revision: u64, history: u32) -> Option<i64> {
    revision.checked_sub(u64::from(history)).filter(|c| *c > 0).and_then(|c| i64::try_from(c).ok())
}

/// The payload of a `kv.put` record, serialised from borrowed parts (this is a hot path: the
/// value is not copied unless it needs base64).
#[derive(Serialize)]
pub(crate) struct KvPutRecord<'a> {
    /// The bucket.
    bucket: &'a str,
    /// The key.
    key: &'a str,
    /// The new revision.
    revision: u64,
    /// The value's content type.
    content_type: &'a str,
    /// The value, when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    /// The value in standard base64, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    value_base64: Option<String>,
    /// RFC 3339 with milliseconds, when the value has a TTL.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

impl<'a> KvPutRecord<'a> {
    /// The record of a put of `value` at `revision`.
    pub(crate) fn new(
        bucket: &'a str,
        key: &'a str,
        revision: u64,
        value: &'a [u8],
        content_type: &'a str,
        expires_at: Option<Timestamp>,
    ) -> Self {
        let (value, value_base64) = match std::str::from_utf8(value) {
            Ok(text) => (Some(text), None),
            Err(_) => (None, Some(base64::engine::general_purpose::STANDARD.encode(value))),
        };
        KvPutRecord {
            bucket,
            key,
            revision,
            content_type,
            value,
            value_base64,
            expires_at: expires_at.map(Timestamp::to_rfc3339),
        }
    }
}

/// Why a key was deleted, as its `kv.deleted` record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DeleteReason {
    /// A `KvDelete`.
    Deleted,
    /// Its TTL ended (`ExpireKv`).
    Expired,
}

/// The payload of a `kv.deleted` record.
#[derive(Serialize)]
pub(crate) struct KvDeletedRecord<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The key.
    pub key: &'a str,
    /// The tombstone's revision.
    pub revision: u64,
    /// Deleted or expired.
    pub reason: DeleteReason,
}

/// The smallest string greater than every string starting with `prefix` (`None` when there is
/// none, or for an empty prefix): with it, "starts with `prefix`" is the index range
/// `prefix <= key < successor`. Byte order of UTF-8 is code point order, so incrementing the
/// last character that can be incremented gives it.
pub(crate) fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // Skips the surrogate gap, which no `char` can hold.
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The index range of a key listing: keys starting with a prefix and after a cursor.
pub(crate) struct KeyRange<'a> {
    /// The lower bound and whether it is inclusive.
    pub lower: Option<(bool, &'a str)>,
    /// The exclusive upper bound.
    pub upper: Option<String>,
}

impl<'a> KeyRange<'a> {
    /// The index range of keys starting with `prefix` and after `after`.
    pub(crate) fn new(prefix: &'a str, after: Option<&'a str>) -> Self {
        let lower = match after {
            Some(a) if a >= prefix => Some((false, a)),
            _ if prefix.is_empty() => None,
            _ => Some((true, prefix)),
        };
        KeyRange { lower, upper: prefix_successor(prefix) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StoreError;

    #[test]
    fn prefix_successor_bounds_exactly_the_keys_with_the_prefix() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", None),
            ("a", Some("b")),
            ("a/", Some("a0")),
            ("a_", Some("a`")),
            ("z", Some("{")),
            ("a\u{D7FF}", Some("a\u{E000}")),
            ("a\u{10FFFF}", Some("b")),
            ("\u{10FFFF}", None),
        ];
        for (prefix, want) in cases {
            assert_eq!(prefix_successor(prefix).as_deref(), *want, "prefix {prefix:?}");
        }
    }

    #[test]
    fn conditions_decide_as_documented() {
        let live = Some(KeyState { revision: 3, live: true });
        let dead = Some(KeyState { revision: 3, live: false });
        let conflict = |r: Result<(), StoreError>| match r {
            Err(StoreError::KvConflict { current, .. }) => Some(current),
            Ok(()) => None,
            Err(other) => panic!("unexpected {other}"),
        };
        assert_eq!(conflict(check_put(KvCondition::Revision(3), live, "a")), None);
        assert_eq!(conflict(check_put(KvCondition::Revision(2), live, "a")), Some(Some(3)));
        assert_eq!(conflict(check_put(KvCondition::Revision(3), dead, "a")), Some(None));
        assert_eq!(conflict(check_put(KvCondition::Absent, dead, "a")), None);
        assert_eq!(conflict(check_put(KvCondition::Absent, None, "a")), None);
        assert_eq!(conflict(check_put(KvCondition::Absent, live, "a")), Some(Some(3)));
        assert!(matches!(check_delete(KvCondition::Always, dead, "a"), Err(StoreError::KvNotFound { .. })));
        assert!(matches!(check_delete(KvCondition::Revision(3), live, "a"), Ok(KeyState { revision: 3, .. })));
        assert!(matches!(check_delete(KvCondition::Absent, live, "a"), Err(StoreError::KvConflict { .. })));
    }

    #[test]
    fn history_window_keeps_history_revisions_in_total() {
        assert_eq!(history_cutoff(3, 3), None);
        assert_eq!(history_cutoff(4, 3), Some(1));
        assert_eq!(history_cutoff(10, 1), Some(9));
    }
}
