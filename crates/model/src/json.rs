//! The one depth and size policy for every JSON value that enters Switchyard.
//!
//! HTTP bodies, event payloads, contexts after assignment, published messages, KV values,
//! functions' inputs and outputs and host-call arguments, context schemas and machine
//! definitions all pass through here before anything is stored.
//!
//! Invariants:
//! - Nothing deeper than [`MAX_DEPTH`] containers is accepted anywhere. Every reader
//!   (`serde_json` stops at 128 levels, PostgreSQL's `jsonb` and the envelopes the log and the
//!   API wrap a value in add a few more) reads at least twice that, so nothing can be written
//!   that cannot be read back.
//! - Every check here is iterative: a hostile input cannot overflow the stack of the thread
//!   that checks it, and the checks run before any recursive parser or walker sees the input.

use serde_json::{Map, Value};

/// A JSON object: an instance's context or an event's payload.
pub type JsonObject = Map<String, Value>;

/// The deepest nesting of arrays and objects accepted in any value (`[]` is 1, `[[1]]` is 2).
pub const MAX_DEPTH: usize = 64;

/// The default largest context of an instance, in bytes of compact JSON.
pub const DEFAULT_MAX_CONTEXT_BYTES: usize = 1024 * 1024;

/// A value outside the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonLimitError {
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("the value is nested deeper than the limit of {limit} levels of arrays and objects")]
    TooDeep {
        /// The limit, [`MAX_DEPTH`].
        limit: usize,
    },
    /// Larger than a size limit.
    #[error("the value is larger than the limit of {limit} bytes (at least {size} bytes as compact JSON)")]
    TooLarge {
        /// The size found (compact JSON), or a lower bound of it.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl JsonLimitError {
    /// The limit that was crossed.
    pub fn limit(&self) -> usize {
        match self {
            JsonLimitError::TooDeep { limit } | JsonLimitError::TooLarge { limit, .. } => *limit,
        }
    }
}

/// The nesting depth of a parsed value (a scalar is 0).
pub fn depth(value: &Value) -> usize {
    // Hot path (every assigned value): scalars and flat containers need no stack.
    match value {
        Value::Array(items) if !items.iter().any(is_container) => return 1,
        Value::Object(fields) if !fields.values().any(is_container) => return 1,
        Value::Array(_) | Value::Object(_) => {}
        _ => return 0,
    }
    let mut deepest = 0;
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((v, level)) = stack.pop() {
        match v {
            Value::Array(items) => {
                deepest = deepest.max(level + 1);
                stack.extend(items.iter().map(|item| (item, level + 1)));
            }
            Value::Object(fields) => {
                deepest = deepest.max(level + 1);
                stack.extend(fields.values().map(|item| (item, level + 1)));
            }
            _ => {}
        }
    }
    deepest
}

fn is_container(value: &Value) -> bool {
    matches!(value, Value::Array(_) | Value::Object(_))
}

/// Refuses a parsed value nested deeper than [`MAX_DEPTH`].
pub fn check_depth(value: &Value) -> Result<(), JsonLimitError> {
    if depth(value) > MAX_DEPTH { Err(JsonLimitError::TooDeep { limit: MAX_DEPTH }) } else { Ok(()) }
}

/// Refuses JSON text nested deeper than [`MAX_DEPTH`], without parsing it.
///
/// Brackets inside strings do not count. Malformed text is not refused here: the parser that
/// runs next reports it with its position.
pub fn scan_depth(text: &[u8]) -> Result<(), JsonLimitError> {
    let mut level = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                level += 1;
                if level > MAX_DEPTH {
                    return Err(JsonLimitError::TooDeep { limit: MAX_DEPTH });
                }
            }
            b']' | b'}' => level = level.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The size of a value as compact JSON, counting no further than `limit + 1` bytes.
pub fn encoded_len_up_to<T: serde::Serialize + ?Sized>(value: &T, limit: usize) -> usize {
    struct Counter {
        len: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.len += buf.len();
            if self.len > self.limit {
                // Stops the serializer early: the value is too large whatever follows.
                return Err(std::io::Error::other("over the limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { len: 0, limit };
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.len,
        Err(_) => counter.len.max(limit.saturating_add(1)),
    }
}

/// Refuses a value deeper than [`MAX_DEPTH`] or larger than `max_bytes` as compact JSON.
pub fn check_value(value: &Value, max_bytes: usize) -> Result<(), JsonLimitError> {
    check_depth(value)?;
    let size = encoded_len_up_to(value, max_bytes);
    if size > max_bytes { Err(JsonLimitError::TooLarge { size, limit: max_bytes }) } else { Ok(()) }
}

/// Parses JSON text after checking its depth, so that the parser never nests past the policy.
pub fn from_slice<T: serde::de::DeserializeOwned>(text: &[u8]) -> Result<T, JsonParseError> {
    scan_depth(text)?;
    Ok(serde_json::from_slice(text)?)
}

/// Why [`from_slice`] refused a text.
#[derive(Debug, thiserror::Error)]
pub enum JsonParseError {
    /// Outside the policy.
    #[error(transparent)]
    Limit(#[from] JsonLimitError),
    /// Not JSON, or not the expected shape.
    #[error(transparent)]
    Syntax(#[from] serde_json::Error),
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!([])), 1);
        assert_eq!(depth(&json!({"a": [1, {"b": []}]})), 4);
    }

    #[test]
    fn scan_agrees_with_the_parsed_depth_at_the_limit() {
        assert!(scan_depth(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(scan_depth(nested(MAX_DEPTH + 1).as_bytes()), Err(JsonLimitError::TooDeep { limit: MAX_DEPTH }));
        let at_limit: Value = serde_json::from_str(&nested(MAX_DEPTH)).unwrap();
        assert!(check_depth(&at_limit).is_ok());
        let over: Value = serde_json::from_str(&nested(MAX_DEPTH + 1)).unwrap();
        assert!(check_depth(&over).is_err());
    }

    #[test]
    fn brackets_in_strings_do_not_count() {
        let text = format!("{{\"a\": \"{}\\\"{}\"}}", "[".repeat(500), "{".repeat(500));
        assert!(scan_depth(text.as_bytes()).is_ok());
        assert!(from_slice::<Value>(text.as_bytes()).is_ok());
    }

    #[test]
    fn a_deep_value_far_past_the_parser_limit_is_refused_without_recursing() {
        let text = nested(1_000_000);
        assert!(matches!(from_slice::<Value>(text.as_bytes()), Err(JsonParseError::Limit(_))));
        // A value built in memory, deeper than any recursive walk could survive.
        let mut v = json!(1);
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        assert!(check_depth(&v).is_err());
        // serde_json drops nested arrays recursively; forget it instead of overflowing here.
        std::mem::forget(v);
    }

    #[test]
    fn size_is_counted_as_compact_json_and_stops_early() {
        let v = json!({"a": "x".repeat(100)});
        let exact = serde_json::to_vec(&v).unwrap().len();
        assert_eq!(encoded_len_up_to(&v, 10_000), exact);
        assert!(check_value(&v, exact).is_ok());
        assert!(
            matches!(check_value(&v, exact - 1), Err(JsonLimitError::TooLarge { limit, .. }) if limit == exact - 1)
        );
        assert!(encoded_len_up_to(&v, 10) > 10);
    }
}
