//! Addresses: the one name every Switchyard resource has.
//!
//! An address is `space:name[:name…]`, optionally followed by a file path after `:/`
//! (`acme:orders`, `acme:orders:o-1001`, `acme:site:/index.html`).
//!
//! Invariants this module keeps:
//! - A [`SpaceName`] is 1–128 characters of `[a-z0-9._-]` and starts with a lowercase letter or
//!   a digit.
//! - A [`Segment`] is 1–128 characters of `[A-Za-z0-9._-]` and starts with a letter or a digit.
//! - An [`Address`] has a valid space, at least one valid segment, and, if it has a file path,
//!   the path starts with `/`, has no empty, `.` or `..` components and no control characters.
//! - For every address `a`, `a.to_string().parse::<Address>() == Ok(a)`; every value of these
//!   types, however it was built (constructor, `FromStr`, serde), passed the same checks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest space name or segment, in characters.
pub const MAX_NAME_LEN: usize = 128;
/// Longest file path (after `:`), in bytes.
pub const MAX_FILE_PATH_LEN: usize = 1024;

/// What is wrong with a space name or a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    /// Empty or longer than 128 characters.
    Length,
    /// A space name containing an uppercase letter.
    Uppercase,
    /// The first character is not a letter or digit (lowercase for space names).
    Start,
    /// A character outside the allowed set.
    Char(char),
}

/// Why a string is not a valid space name, segment, file path or address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The space name (the part before the first `:`) is invalid.
    #[error("space name {}: {}", quoted(value), space_problem(*problem))]
    SpaceName {
        /// The offending text (truncated for display only).
        value: String,
        /// What is wrong with it.
        problem: NameProblem,
    },
    /// A segment (machine name, instance id, …) is invalid.
    #[error("segment {}: {}", quoted(value), segment_problem(*problem))]
    Segment {
        /// The offending text.
        value: String,
        /// What is wrong with it.
        problem: NameProblem,
    },
    /// The address has a space but no segment after it.
    #[error("address {}: needs a space and at least one name after it, like \"acme:orders\"", quoted(value))]
    NoSegments {
        /// The offending address text.
        value: String,
    },
    /// The file path after `:/` is invalid.
    #[error("file path {}: {problem}", quoted(value))]
    FilePath {
        /// The offending path (with its leading `/`).
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// Quotes a user-supplied value for an error message, truncating very long ones.
fn quoted(value: &str) -> String {
    const SHOWN: usize = 64;
    match value.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
        None => format!("{value:?}"),
    }
}

fn space_problem(problem: NameProblem) -> String {
    match problem {
        NameProblem::Length => format!("must be 1-{MAX_NAME_LEN} characters"),
        NameProblem::Uppercase => "must be lowercase".to_owned(),
        NameProblem::Start => "must start with a lowercase letter or digit".to_owned(),
        NameProblem::Char(c) => {
            format!("character {c:?} is not allowed (use a-z, 0-9, '.', '_', '-')")
        }
    }
}

fn segment_problem(problem: NameProblem) -> String {
    match problem {
        NameProblem::Length => format!("must be 1-{MAX_NAME_LEN} characters"),
        NameProblem::Uppercase => "must be lowercase".to_owned(),
        NameProblem::Start => "must start with a letter or digit".to_owned(),
        NameProblem::Char(c) => {
            format!("character {c:?} is not allowed (use A-Z, a-z, 0-9, '.', '_', '-')")
        }
    }
}

impl NameProblem {
    /// Describes the problem for a segment-like name (machine, state or instance name).
    pub fn segment_text(self) -> String {
        segment_problem(self)
    }
}

/// Checks a space name; returns the first problem found.
fn check_space(s: &str) -> Result<(), NameProblem> {
    let len = s.chars().count();
    if len == 0 || len > MAX_NAME_LEN {
        return Err(NameProblem::Length);
    }
    if s.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(NameProblem::Uppercase);
    }
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(NameProblem::Char(c));
    }
    match s.as_bytes().first() {
        Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit() => Ok(()),
        _ => Err(NameProblem::Start),
    }
}

/// Checks a segment; returns the first problem found.
pub(crate) fn check_segment(s: &str) -> Result<(), NameProblem> {
    let len = s.chars().count();
    if len == 0 || len > MAX_NAME_LEN {
        return Err(NameProblem::Length);
    }
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(NameProblem::Char(c));
    }
    match s.as_bytes().first() {
        Some(b) if b.is_ascii_alphanumeric() => Ok(()),
        _ => Err(NameProblem::Start),
    }
}

/// Checks a file path (including its leading `/`).
fn check_file_path(p: &str) -> Result<(), &'static str> {
    if p.len() > MAX_FILE_PATH_LEN {
        return Err("must be at most 1024 bytes");
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err("must start with '/'");
    };
    if rest.is_empty() {
        return Err("must name a file after '/'");
    }
    for component in rest.split('/') {
        match component {
            "" => return Err("must not contain empty components ('//' or a trailing '/')"),
            "." | ".." => return Err("must not contain '.' or '..' components"),
            _ => {}
        }
        if component.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $check:ident, $variant:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates `s` and wraps it.
            pub fn new(s: &str) -> Result<Self, AddressError> {
                match $check(s) {
                    Ok(()) => Ok(Self(s.to_owned())),
                    Err(problem) => Err(AddressError::$variant { value: s.to_owned(), problem }),
                }
            }

            /// Returns the name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Returns the owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = AddressError;
            fn from_str(s: &str) -> Result<Self, AddressError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = AddressError;
            fn try_from(s: String) -> Result<Self, AddressError> {
                match $check(&s) {
                    Ok(()) => Ok(Self(s)),
                    Err(problem) => Err(AddressError::$variant { value: s, problem }),
                }
            }
        }

        impl TryFrom<&str> for $name {
            type Error = AddressError;
            fn try_from(s: &str) -> Result<Self, AddressError> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                Self::try_from(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// A space (tenant) name: 1–128 characters of `[a-z0-9._-]`, starting with a lowercase letter or digit.
    SpaceName,
    check_space,
    SpaceName
);

name_type!(
    /// One `:`-separated name in an address (machine name, instance id, …): 1–128 characters of
    /// `[A-Za-z0-9._-]`, starting with a letter or digit.
    Segment,
    check_segment,
    Segment
);

/// A parsed resource address: a space, one or more segments, and an optional file path.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    space: SpaceName,
    segments: Vec<Segment>,
    file_path: Option<String>,
}

impl Address {
    /// Builds an address from a space and its segments; fails when `segments` is empty.
    pub fn new(space: SpaceName, segments: Vec<Segment>) -> Result<Self, AddressError> {
        if segments.is_empty() {
            return Err(AddressError::NoSegments { value: space.into_string() });
        }
        Ok(Self { space, segments, file_path: None })
    }

    /// Returns the address of instance `id` of machine `machine` in `space` (`space:machine:id`).
    pub fn instance(space: SpaceName, machine: Segment, id: Segment) -> Self {
        Self { space, segments: vec![machine, id], file_path: None }
    }

    /// Returns this address with a file path (which must start with `/`) attached.
    pub fn with_file_path(mut self, path: &str) -> Result<Self, AddressError> {
        check_file_path(path).map_err(|problem| AddressError::FilePath { value: path.to_owned(), problem })?;
        self.file_path = Some(path.to_owned());
        Ok(self)
    }

    /// Returns the address one level down (`self:segment`), without a file path.
    pub fn child(&self, segment: Segment) -> Self {
        let mut segments = Vec::with_capacity(self.segments.len() + 1);
        segments.extend(self.segments.iter().cloned());
        segments.push(segment);
        Self { space: self.space.clone(), segments, file_path: None }
    }

    /// Returns the space the resource lives in.
    pub fn space(&self) -> &SpaceName {
        &self.space
    }

    /// Returns the segments after the space (never empty).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Returns the file path after `:` (it starts with `/`), if any.
    pub fn file_path(&self) -> Option<&str> {
        self.file_path.as_deref()
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, AddressError> {
        let (head, file_path) = match s.find(":/") {
            Some(at) => (&s[..at], Some(&s[at + 1..])),
            None => (s, None),
        };
        let mut parts = head.split(':');
        let space = SpaceName::new(parts.next().unwrap_or_default())?;
        let segments = parts.map(Segment::new).collect::<Result<Vec<_>, _>>()?;
        if segments.is_empty() {
            return Err(AddressError::NoSegments { value: s.to_owned() });
        }
        let address = Self { space, segments, file_path: None };
        match file_path {
            Some(path) => address.with_file_path(path),
            None => Ok(address),
        }
    }
}

impl TryFrom<String> for Address {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, AddressError> {
        s.parse()
    }
}

impl TryFrom<&str> for Address {
    type Error = AddressError;
    fn try_from(s: &str) -> Result<Self, AddressError> {
        s.parse()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.space.as_str())?;
        for segment in &self.segments {
            write!(f, ":{segment}")?;
        }
        if let Some(path) = &self.file_path {
            write!(f, ":{path}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({:?})", self.to_string())
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.to_string()
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
