//! Tokens and the scope they carry: a role and the spaces it is granted on.

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
    /// The user or service account it belongs to; none for a standalone token, which is a
    /// principal of its own whose grants are its role on its spaces.
    pub principal: Option<String>,
    /// When it stops working, if it does (a sign-in session's end).
    pub expires_at: Option<Timestamp>,
    /// Whether a person's sign-in made it.
    pub session: bool,
}

impl TokenRecord {
    /// Whether it works at `now`: not revoked and not expired.
    pub fn live_at(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|end| now < end)
    }
}
