//! Organisations and their projects: an org groups spaces, and project `orders` of org `acme`
//! — written `acme/orders` — is the space `acme.orders`, so every address, route and tool that
//! takes a space takes a project as it is.
//!
//! Invariants:
//! - An [`OrgName`] is 1–63 characters of `[a-z0-9_-]` starting with a lowercase letter or a
//!   digit: no `.`, so the org of a project's space is everything before its first `.`.
//! - A project's name follows the same rule, so `org/project` and the space `org.project` map
//!   one to one ([`project_space`], [`split_project`]).
//! - A space belongs to the org its name says, whether or not it was written before the org
//!   was made: grants on `acme/*` reach every space named `acme.…`.

use std::fmt;

use crate::SpaceName;
use crate::time::Timestamp;

/// Longest org or project name, in characters.
pub const MAX_ORG_NAME_LEN: usize = 63;

/// Why an org or project name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    /// An org name is malformed.
    #[error(
        "\"{0}\" is not an org name: 1 to 63 characters of a-z, 0-9, \"-\" and \"_\", starting with a letter or digit"
    )]
    OrgName(String),
    /// A project name is malformed.
    #[error(
        "\"{0}\" is not a project name: 1 to 63 characters of a-z, 0-9, \"-\" and \"_\", starting with a letter or digit"
    )]
    ProjectName(String),
}

fn is_org_like(s: &str) -> bool {
    (1..=MAX_ORG_NAME_LEN).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A valid org name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgName(String);

impl OrgName {
    /// Validates `s` as an org name.
    pub fn new(s: &str) -> Result<OrgName, OrgError> {
        if is_org_like(s) { Ok(OrgName(s.to_string())) } else { Err(OrgError::OrgName(s.to_string())) }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The space of project `project` of `org`: `org.project`.
pub fn project_space(org: &OrgName, project: &str) -> Result<SpaceName, OrgError> {
    if !is_org_like(project) {
        return Err(OrgError::ProjectName(project.to_string()));
    }
    // Two names of at most 63 characters of the space alphabet and a dot: a valid space name.
    SpaceName::new(&format!("{}.{project}", org.as_str())).map_err(|_| OrgError::ProjectName(project.to_string()))
}

/// The org and project a space is, when its name is `org.project` with both valid names.
pub fn split_project(space: &str) -> Option<(&str, &str)> {
    let (org, project) = space.split_once('.')?;
    (is_org_like(org) && is_org_like(project)).then_some((org, project))
}

/// The space `acme/orders` names, or the space itself when it holds no `/`: how a person may
/// write a project wherever a space is asked for.
pub fn resolve_space_ref(s: &str) -> Result<String, OrgError> {
    match s.split_once('/') {
        None => Ok(s.to_string()),
        Some((org, project)) => Ok(project_space(&OrgName::new(org)?, project)?.into_string()),
    }
}

/// An org, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRecord {
    /// Its name.
    pub name: String,
    /// When it was made.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_map_onto_spaces_and_back() {
        let acme = OrgName::new("acme").expect("valid");
        let space = project_space(&acme, "orders").expect("valid");
        assert_eq!(space.as_str(), "acme.orders");
        assert_eq!(split_project(space.as_str()), Some(("acme", "orders")));
        assert_eq!(split_project("acme"), None);
        assert_eq!(split_project("acme.orders.eu"), None, "a project name has no dot");
        assert_eq!(resolve_space_ref("acme/orders").as_deref(), Ok("acme.orders"));
        assert_eq!(resolve_space_ref("beta").as_deref(), Ok("beta"));
        assert!(resolve_space_ref("acme/").is_err());
        assert!(resolve_space_ref("Acme/x").is_err());
        assert!(resolve_space_ref("acme/x/y").is_err());
    }

    #[test]
    fn names_are_checked() {
        for good in ["acme", "a", "0rg", "big-co_2", &"a".repeat(63)] {
            assert!(OrgName::new(good).is_ok(), "{good}");
        }
        for bad in ["", "Acme", "a.b", "-a", "_a", "a/b", "a b", &"a".repeat(64)] {
            assert!(OrgName::new(bad).is_err(), "{bad:?}");
        }
        let acme = OrgName::new("acme").expect("valid");
        assert!(project_space(&acme, "a.b").is_err());
        assert!(project_space(&acme, "").is_err());
    }
}
