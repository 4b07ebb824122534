//! What both backends' KV tables share besides SQL: decoding a stored bucket history and the
//! index range of a key listing. The rules of KV writes are the commands'
//! (`crate::commands::kv`).

use switchyard_model::MAX_KV_HISTORY;

use crate::error::StoreError;

/// A stored bucket history (any integer width the backend stores it in).
pub(crate) fn stored_history<T: TryInto<u32> + Copy + std::fmt::Display>(h: T) -> Result<u32, StoreError> {
    h.try_into()
        .ok()
        .filter(|h| (1..=MAX_KV_HISTORY).contains(h))
        .ok_or_else(|| StoreError::Corrupt(format!("KV bucket history {h}")))
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
}
