//! Durations in the user-facing form: a humantime string (`"200ms"`, `"30s"`, `"1h 30m"`) or a
//! plain integer meaning milliseconds. Written back as one number and the largest unit that
//! divides it exactly (`"30s"`, `"1500ms"`, `"1h"`), which reads back to the same value.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

const UNITS: [(u64, &str); 5] = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s"), (1, "ms")];

/// Formats `ms` as one number and the largest unit that divides it exactly.
pub(crate) fn format(ms: u64) -> String {
    if ms == 0 {
        return "0ms".to_owned();
    }
    let (unit_ms, unit) = UNITS.iter().copied().find(|(unit_ms, _)| ms.is_multiple_of(*unit_ms)).unwrap_or((1, "ms"));
    format!("{}{unit}", ms / unit_ms)
}

/// Parses a humantime string into whole milliseconds.
pub(crate) fn parse(text: &str) -> Result<u64, String> {
    let hint = r#"write it like "200ms", "30s" or "1h 30m", or as a whole number of milliseconds"#;
    let duration = humantime::parse_duration(text).map_err(|e| format!("invalid duration \"{text}\": {e}; {hint}"))?;
    if !duration.subsec_nanos().is_multiple_of(1_000_000) {
        return Err(format!("invalid duration \"{text}\": durations are whole milliseconds; {hint}"));
    }
    // A value past u64 milliseconds (585 million years) saturates; validation refuses it anyway.
    Ok(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn serialize<S: Serializer>(ms: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*ms))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(MillisVisitor)
}

pub(crate) mod option {
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(ms: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => serializer.serialize_str(&super::format(*ms)),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
        deserializer.deserialize_option(OptionVisitor)
    }

    struct OptionVisitor;

    impl<'de> serde::de::Visitor<'de> for OptionVisitor {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a duration or null")
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            super::deserialize(deserializer).map(Some)
        }
    }
}

struct MillisVisitor;

impl Visitor<'_> for MillisVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a duration like "200ms", "30s" or "1h", or a whole number of milliseconds"#)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("invalid duration {v}: must not be negative")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        parse(v).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_picks_the_largest_exact_unit() {
        let cases = [
            (0, "0ms"),
            (1, "1ms"),
            (200, "200ms"),
            (1_000, "1s"),
            (1_500, "1500ms"),
            (30_000, "30s"),
            (90_000, "90s"),
            (120_000, "2m"),
            (3_600_000, "1h"),
            (5_400_000, "90m"),
            (86_400_000, "1d"),
            (2_592_000_000, "30d"),
        ];
        for (ms, text) in cases {
            assert_eq!(format(ms), text, "{ms}");
            assert_eq!(parse(text), Ok(ms), "{text}");
        }
    }

    #[test]
    fn parse_refuses_what_is_not_whole_milliseconds() {
        for (text, message) in [
            ("1500us", "durations are whole milliseconds"),
            ("5", "time unit needed"),
            ("", "value was empty"),
            ("soon", "expected number"),
            ("-1s", "expected number"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(message), "{text}: {err}");
        }
        assert_eq!(parse("2000us"), Ok(2));
        assert_eq!(parse("1h 30m"), Ok(5_400_000));
    }
}
