//! A space's configuration: `env` values every machine and flow expression can read, and
//! secrets, which expressions never see and HTTP requests name by reference.
//!
//! Invariants:
//! - A secret's value never enters an expression's scope, an instance's context, a job's payload
//!   or the log: what travels is a [`SecretTemplate`] (literal text and secret names), resolved
//!   into the request only at send time.
//! - A template is literal text written in a definition, not computed by an expression, so
//!   nothing a run receives (its input, an event, a response) can name a secret.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::Segment;
use crate::time::Timestamp;

/// Largest `env` value, serialised as JSON.
pub const MAX_ENV_VALUE_BYTES: usize = 64 * 1024;

/// Largest secret value.
pub const MAX_SECRET_BYTES: usize = 16 * 1024;

/// Most values of one kind (`env` values, secrets) a space holds.
pub const MAX_SPACE_VALUES: usize = 1_000;

/// Which of a space's configuration values a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpaceValueKind {
    /// A configuration value expressions read as `env.<name>` (JSON).
    Env,
    /// A secret, sent only where a request names it (text).
    Secret,
}

impl SpaceValueKind {
    /// The stored name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            SpaceValueKind::Env => "env",
            SpaceValueKind::Secret => "secret",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "env" => Some(SpaceValueKind::Env),
            "secret" => Some(SpaceValueKind::Secret),
            _ => None,
        }
    }

    /// The largest value of this kind, in bytes.
    pub fn max_bytes(self) -> usize {
        match self {
            SpaceValueKind::Env => MAX_ENV_VALUE_BYTES,
            SpaceValueKind::Secret => MAX_SECRET_BYTES,
        }
    }
}

impl fmt::Display for SpaceValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored configuration value of a space: the JSON text of an `env` value, or a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SpaceValue {
    /// Its name.
    pub name: Segment,
    /// The JSON text (`env`) or the secret itself.
    pub value: String,
    /// When it was last set.
    pub updated_at: Timestamp,
}

impl fmt::Debug for SpaceValue {
    // A secret must not reach a log line through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpaceValue")
            .field("name", &self.name)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// A piece of a [`SecretTemplate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Text sent as written.
    Text(String),
    /// The value of the space's secret of this name.
    Secret(Segment),
}

/// Literal text with `{{secrets.NAME}}` references, resolved when a request is sent
/// (`"Bearer {{secrets.api_token}}"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretTemplate {
    parts: Vec<TemplatePart>,
}

/// Why a secret template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `{{` without its `}}`.
    #[error("a `{{{{` at byte {at} has no closing `}}}}`")]
    Unclosed {
        /// Where the reference starts.
        at: usize,
    },
    /// A reference that is not `secrets.NAME`.
    #[error("`{{{{{found}}}}}` is not a secret reference; write `{{{{secrets.NAME}}}}`")]
    NotASecret {
        /// What was between the braces.
        found: String,
    },
    /// A reference whose name is not a valid name.
    #[error("secret name {name:?}: {problem}")]
    BadName {
        /// The name.
        name: String,
        /// Why it is not valid.
        problem: String,
    },
    /// A template naming no secret (an ordinary header belongs in `headers`).
    #[error("names no secret; write `{{{{secrets.NAME}}}}` where the secret goes, or use `headers` for plain values")]
    NoSecret,
}

impl SecretTemplate {
    /// Parses `text`: literal text and `{{secrets.NAME}}` references (spaces inside the braces
    /// are allowed); at least one reference.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(TemplatePart::Text(rest[..open].to_owned()));
            }
            let inner_start = open + 2;
            let Some(close) = rest[inner_start..].find("}}") else {
                return Err(TemplateError::Unclosed { at: offset + open });
            };
            let inner = rest[inner_start..inner_start + close].trim();
            let Some(name) = inner.strip_prefix("secrets.") else {
                return Err(TemplateError::NotASecret { found: inner.to_owned() });
            };
            let name = Segment::new(name)
                .map_err(|e| TemplateError::BadName { name: name.to_owned(), problem: e.to_string() })?;
            parts.push(TemplatePart::Secret(name));
            let consumed = inner_start + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Text(rest.to_owned()));
        }
        if !parts.iter().any(|p| matches!(p, TemplatePart::Secret(_))) {
            return Err(TemplateError::NoSecret);
        }
        Ok(SecretTemplate { parts })
    }

    /// The secrets it names, in order (a name may repeat).
    pub fn secrets(&self) -> impl Iterator<Item = &Segment> {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Secret(name) => Some(name),
            TemplatePart::Text(_) => None,
        })
    }

    /// The text with every reference replaced by `lookup(name)`; the first name `lookup`
    /// does not know is the error.
    pub fn render<'a>(&'a self, mut lookup: impl FnMut(&Segment) -> Option<&'a str>) -> Result<String, &'a Segment> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text(text) => out.push_str(text),
                TemplatePart::Secret(name) => out.push_str(lookup(name).ok_or(name)?),
            }
        }
        Ok(out)
    }
}

/// Header name to secret template: the headers an HTTP request carries with secrets in them.
pub type SecretHeaders = BTreeMap<String, String>;

/// Whether `name` is a valid HTTP header name (an RFC 9110 token).
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-!#$%&'*+.^_`|~".contains(&b))
}

/// Checks a request's secret headers beside its plain ones: each name is a valid header name
/// not also among `plain` (case-insensitively), each template is well formed. Every problem,
/// as `(header, why)`, in header order.
pub fn check_secret_headers<'a>(
    secret: &SecretHeaders,
    plain: impl Iterator<Item = &'a String> + Clone,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (name, template) in secret {
        if !is_header_name(name) {
            problems.push((
                name.clone(),
                "is not a valid HTTP header name (letters, digits and -!#$%&'*+.^_`|~)".to_owned(),
            ));
        } else if plain.clone().any(|p| p.eq_ignore_ascii_case(name)) {
            problems.push((name.clone(), "is also in `headers`; give each header once".to_owned()));
        } else if let Err(e) = SecretTemplate::parse(template) {
            problems.push((name.clone(), e.to_string()));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_render() {
        let t = SecretTemplate::parse("Bearer {{secrets.api_token}}").unwrap();
        assert_eq!(t.secrets().map(|s| s.as_ref()).collect::<Vec<_>>(), ["api_token"]);
        assert_eq!(t.render(|_| Some("xyz")).unwrap(), "Bearer xyz");
        let t = SecretTemplate::parse("{{ secrets.a }}:{{secrets.b}}").unwrap();
        let rendered = t.render(|n| Some(if n.as_ref() == "a" { "user" } else { "pass" })).unwrap();
        assert_eq!(rendered, "user:pass");
        assert_eq!(t.render(|n| (n.as_ref() == "a").then_some("user")).unwrap_err().as_ref(), "b");
    }

    #[test]
    fn bad_templates_are_refused() {
        assert_eq!(SecretTemplate::parse("Bearer token"), Err(TemplateError::NoSecret));
        assert_eq!(SecretTemplate::parse("x {{secrets.a"), Err(TemplateError::Unclosed { at: 2 }));
        assert!(matches!(SecretTemplate::parse("{{env.a}}"), Err(TemplateError::NotASecret { .. })));
        assert!(matches!(SecretTemplate::parse("{{secrets.}}"), Err(TemplateError::BadName { .. })));
        assert!(matches!(SecretTemplate::parse("{{secrets.a b}}"), Err(TemplateError::BadName { .. })));
    }

    #[test]
    fn debug_hides_the_value() {
        let v = SpaceValue { name: Segment::new("k").unwrap(), value: "hunter2".into(), updated_at: Timestamp(0) };
        assert!(!format!("{v:?}").contains("hunter2"));
    }
}
