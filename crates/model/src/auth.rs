//! Tokens and what they may do: roles and the spaces they are granted.

use serde::{Deserialize, Serialize};

use crate::SpaceName;
use crate::time::Timestamp;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads.
    Reader,
    /// Reads and writes.
    Writer,
    /// Reads, writes and manages tokens.
    Admin,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "reader" => Some(Role::Reader),
            "writer" => Some(Role::Writer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The spaces a token may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpaceGrant {
    /// Every space, present and future (`*`).
    All,
    /// Exactly these spaces.
    Only(Vec<SpaceName>),
}

impl SpaceGrant {
    /// Whether `space` is granted.
    pub fn allows(&self, space: &SpaceName) -> bool {
        match self {
            SpaceGrant::All => true,
            SpaceGrant::Only(spaces) => spaces.contains(space),
        }
    }

    /// Whether everything `other` grants is granted here too.
    pub fn covers(&self, other: &SpaceGrant) -> bool {
        match (self, other) {
            (SpaceGrant::All, _) => true,
            (SpaceGrant::Only(_), SpaceGrant::All) => false,
            (SpaceGrant::Only(mine), SpaceGrant::Only(theirs)) => theirs.iter().all(|s| mine.contains(s)),
        }
    }

    /// The grant as a list of names, `["*"]` for all.
    pub fn to_names(&self) -> Vec<String> {
        match self {
            SpaceGrant::All => vec!["*".to_string()],
            SpaceGrant::Only(spaces) => spaces.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// A token as stored: its secret only as a SHA-256 digest.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// Public identifier, used to list and revoke.
    pub id: String,
    /// A person's label for it.
    pub name: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// What it may do.
    pub role: Role,
    /// Where it may do it.
    pub spaces: SpaceGrant,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}
