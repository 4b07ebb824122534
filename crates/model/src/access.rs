//! Who may do what where: permissions, roles, address patterns, grants and principals.
//!
//! A request needs one [`Permission`] on one address (its space, its resource's family and
//! names — `acme:machines:order:o-1` —, the space alone for a definition that reaches the whole
//! space, or the system address — no segment at all — for what belongs to no space). A
//! principal holds [`Grant`]s: a role (a set of permissions) on an [`AddressPattern`]. The
//! request is allowed when one grant's role grants the permission and its pattern matches the
//! address ([`GrantSet::allows`]).
//!
//! Invariants:
//! - A permission is granted by its own name, by `<family>:*`, or by its level's name (`read`,
//!   `write`, `execute`, `admin`, `system`); levels do not imply one another — a role lists
//!   each level it has.
//! - Only a pattern that is `*` alone matches the system address, so only a grant on every
//!   address can reach users, roles, the cluster and the audit space.
//! - Everything here is pure and total: a malformed pattern, role or permission is a typed
//!   refusal, never a panic.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// The space audit records are written to, read-only for every principal; only `audit:read` on
/// the system address (a grant on `*`) can read it.
pub const SYSTEM_SPACE: &str = "system";

/// The general permission a specific one belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Reading.
    Read,
    /// Changing data and definitions.
    Write,
    /// Running things: invoking functions, starting runs, firing triggers.
    Execute,
    /// Managing access to a space: its tokens, grants and secrets, deleting it.
    Admin,
    /// Managing the node and its principals: users, roles, the cluster, the audit.
    System,
}

impl Level {
    /// Every level, in order.
    pub const ALL: [Level; 5] = [Level::Read, Level::Write, Level::Execute, Level::Admin, Level::System];

    /// The level's name, as roles list it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::Execute => "execute",
            Level::Admin => "admin",
            Level::System => "system",
        }
    }
}

/// A specific permission: `<family>:<action>`, belonging to a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permission {
    /// The resource family (`functions`).
    pub family: &'static str,
    /// The action (`deploy`).
    pub action: &'static str,
    /// The general permission that includes it.
    pub level: Level,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.family, self.action)
    }
}

/// Every permission a route or an operation can need.
pub mod permissions {
    use super::{Level, Permission};

    macro_rules! permissions {
        ($($name:ident = $family:literal : $action:literal ($level:ident);)*) => {
            $(
                #[doc = concat!("`", $family, ":", $action, "`.")]
                pub const $name: Permission = Permission { family: $family, action: $action, level: Level::$level };
            )*
            /// Every permission, in declaration order.
            pub const ALL: &[Permission] = &[$($name),*];
        };
    }

    permissions! {
        SPACES_READ = "spaces":"read" (Read);
        SPACES_DELETE = "spaces":"delete" (Admin);
        MACHINES_READ = "machines":"read" (Read);
        MACHINES_WRITE = "machines":"write" (Write);
        INSTANCES_READ = "instances":"read" (Read);
        INSTANCES_WRITE = "instances":"write" (Write);
        EVENTS_SEND = "events":"send" (Write);
        LOG_READ = "log":"read" (Read);
        TOPICS_PUBLISH = "topics":"publish" (Write);
        KV_READ = "kv":"read" (Read);
        KV_WRITE = "kv":"write" (Write);
        SUBSCRIPTIONS_READ = "subscriptions":"read" (Read);
        SUBSCRIPTIONS_WRITE = "subscriptions":"write" (Write);
        SUBSCRIPTIONS_CONSUME = "subscriptions":"consume" (Write);
        SUBSCRIPTIONS_REDRIVE = "subscriptions":"redrive" (Write);
        FLOWS_READ = "flows":"read" (Read);
        FLOWS_WRITE = "flows":"write" (Write);
        RUNS_READ = "runs":"read" (Read);
        RUNS_START = "runs":"start" (Execute);
        RUNS_WRITE = "runs":"write" (Write);
        ENV_READ = "env":"read" (Read);
        ENV_WRITE = "env":"write" (Write);
        SECRETS_READ = "secrets":"read" (Read);
        SECRETS_WRITE = "secrets":"write" (Admin);
        FUNCTIONS_READ = "functions":"read" (Read);
        FUNCTIONS_DEPLOY = "functions":"deploy" (Write);
        FUNCTIONS_INVOKE = "functions":"invoke" (Execute);
        JOBS_READ = "jobs":"read" (Read);
        JOBS_WRITE = "jobs":"write" (Write);
        JOBS_REDRIVE = "jobs":"redrive" (Write);
        TRIGGERS_READ = "triggers":"read" (Read);
        TRIGGERS_WRITE = "triggers":"write" (Write);
        TRIGGERS_FIRE = "triggers":"fire" (Execute);
        ENDPOINTS_READ = "endpoints":"read" (Read);
        ENDPOINTS_WRITE = "endpoints":"write" (Write);
        ENDPOINTS_REDRIVE = "endpoints":"redrive" (Write);
        TOKENS_READ = "tokens":"read" (Admin);
        TOKENS_WRITE = "tokens":"write" (Admin);
        GRANTS_READ = "grants":"read" (Admin);
        GRANTS_WRITE = "grants":"write" (Admin);
        PRINCIPALS_READ = "principals":"read" (System);
        PRINCIPALS_WRITE = "principals":"write" (System);
        ROLES_WRITE = "roles":"write" (System);
        CLUSTER_READ = "cluster":"read" (System);
        METRICS_READ = "metrics":"read" (System);
        AUDIT_READ = "audit":"read" (System);
        QUOTAS_READ = "quotas":"read" (Read);
        QUOTAS_WRITE = "quotas":"write" (System);
        USAGE_READ = "usage":"read" (Read);
        ORGS_WRITE = "orgs":"write" (System);
        MEMBERS_READ = "members":"read" (Admin);
        MEMBERS_WRITE = "members":"write" (Admin);
    }
}

/// Why a role, permission or pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// A role lists something that is neither a level, a permission nor `<family>:*`.
    #[error(
        "\"{0}\" is not a permission: use a level (read, write, execute, admin, system), a permission such as \"functions:deploy\", or \"<family>:*\""
    )]
    UnknownPermission(String),
    /// A role lists no permission.
    #[error("a role needs at least one permission")]
    NoPermissions,
    /// A pattern is malformed.
    #[error(
        "\"{value}\" is not an address pattern: {problem} (a pattern is segments separated by \":\", each a name or \"*\"; a last \"*\" matches any rest, as in \"acme:orders:*\")"
    )]
    Pattern {
        /// The pattern given.
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A role name is malformed.
    #[error("\"{0}\" is not a role name: 1 to 64 characters of a-z, 0-9, \"-\" and \"_\", starting with a letter")]
    RoleName(String),
}

/// One entry of a role: a level, a permission, or every permission of a family.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PermissionEntry {
    /// Every permission of this level.
    Level(Level),
    /// This permission.
    One(Permission),
    /// Every permission of this family.
    Family(&'static str),
}

impl PermissionEntry {
    /// Parses `read`, `functions:deploy` or `functions:*`.
    pub fn parse(s: &str) -> Result<PermissionEntry, AccessError> {
        if let Some(level) = Level::ALL.into_iter().find(|l| l.as_str() == s) {
            return Ok(PermissionEntry::Level(level));
        }
        let unknown = || AccessError::UnknownPermission(s.to_string());
        let (family, action) = s.split_once(':').ok_or_else(unknown)?;
        if action == "*" {
            let known = permissions::ALL.iter().find(|p| p.family == family).ok_or_else(unknown)?;
            return Ok(PermissionEntry::Family(known.family));
        }
        permissions::ALL
            .iter()
            .find(|p| p.family == family && p.action == action)
            .map(|p| PermissionEntry::One(*p))
            .ok_or_else(unknown)
    }

    /// Whether this entry grants `permission`.
    pub fn grants(&self, permission: Permission) -> bool {
        match self {
            PermissionEntry::Level(level) => permission.level == *level,
            PermissionEntry::One(p) => *p == permission,
            PermissionEntry::Family(family) => permission.family == *family,
        }
    }
}

impl fmt::Display for PermissionEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PermissionEntry::Level(level) => f.write_str(level.as_str()),
            PermissionEntry::One(p) => p.fmt(f),
            PermissionEntry::Family(family) => write!(f, "{family}:*"),
        }
    }
}

/// A role: a name and the permissions it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDef {
    /// Its name.
    pub name: String,
    /// What it grants.
    pub permissions: Vec<PermissionEntry>,
    /// Whether it is built in (cannot be changed or deleted).
    pub builtin: bool,
}

impl RoleDef {
    /// A custom role from its name and permission names, validated.
    pub fn custom(name: &str, permissions: &[String]) -> Result<RoleDef, AccessError> {
        check_role_name(name)?;
        if builtin_role(name).is_some() {
            return Err(AccessError::RoleName(name.to_string()));
        }
        if permissions.is_empty() {
            return Err(AccessError::NoPermissions);
        }
        let mut entries = Vec::with_capacity(permissions.len());
        for p in permissions {
            let entry = PermissionEntry::parse(p)?;
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
        Ok(RoleDef { name: name.to_string(), permissions: entries, builtin: false })
    }

    /// Whether the role grants `permission`.
    pub fn grants(&self, permission: Permission) -> bool {
        self.permissions.iter().any(|e| e.grants(permission))
    }

    /// Every specific permission the role grants.
    pub fn expanded(&self) -> impl Iterator<Item = Permission> + '_ {
        permissions::ALL.iter().copied().filter(|p| self.grants(*p))
    }

    /// The permission names, as stored and shown.
    pub fn permission_names(&self) -> Vec<String> {
        self.permissions.iter().map(|p| p.to_string()).collect()
    }
}

fn check_role_name(name: &str) -> Result<(), AccessError> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err(AccessError::RoleName(name.to_string())) }
}

/// The built-in roles' names, in order of power.
pub const BUILTIN_ROLES: [&str; 4] = ["space-reader", "space-writer", "space-admin", "sys-admin"];

/// A built-in role by name.
pub fn builtin_role(name: &str) -> Option<RoleDef> {
    use Level::*;
    let levels: &[Level] = match name {
        "space-reader" => &[Read],
        "space-writer" => &[Read, Write, Execute],
        "space-admin" => &[Read, Write, Execute, Admin],
        "sys-admin" => &[Read, Write, Execute, Admin, System],
        _ => return None,
    };
    Some(RoleDef {
        name: name.to_string(),
        permissions: levels.iter().map(|l| PermissionEntry::Level(*l)).collect(),
        builtin: true,
    })
}

/// The built-in role a token role of before grants stands for.
pub fn builtin_for(role: crate::Role) -> &'static str {
    match role {
        crate::Role::Reader => "space-reader",
        crate::Role::Writer => "space-writer",
        crate::Role::Admin => "space-admin",
    }
}

/// Which addresses a grant covers: segments separated by `:`, each a name or `*`. A `*` that
/// is the last segment matches any rest (none included: `acme:*` matches `acme` itself);
/// elsewhere it matches one segment. `*` alone matches every address, the system's included.
/// The first segment may name a project as `org/project` (the space `org.project`) or every
/// project of an org as `org/*` (every space named `org.…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddressPattern {
    text: String,
    segments: Vec<PatternSegment>,
    rest: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PatternSegment {
    Name(String),
    Any,
    /// Every project of this org: a space named `org.<project>`.
    Projects(String),
}

impl PatternSegment {
    fn matches(&self, segment: &str) -> bool {
        match self {
            PatternSegment::Any => true,
            PatternSegment::Name(n) => n == segment,
            PatternSegment::Projects(org) => crate::orgs::split_project(segment).is_some_and(|(o, _)| o == org),
        }
    }
}

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 512;

impl AddressPattern {
    /// Parses a pattern.
    pub fn parse(s: &str) -> Result<AddressPattern, AccessError> {
        let refuse = |problem| AccessError::Pattern { value: s.to_string(), problem };
        if s.is_empty() {
            return Err(refuse("it is empty"));
        }
        if s.len() > MAX_PATTERN_LEN {
            return Err(refuse("it is longer than 512 bytes"));
        }
        let parts: Vec<&str> = s.split(':').collect();
        let rest = parts.last() == Some(&"*");
        let fixed = if rest { &parts[..parts.len() - 1] } else { &parts[..] };
        let mut segments = Vec::with_capacity(fixed.len());
        for (i, part) in fixed.iter().enumerate() {
            if *part == "*" {
                segments.push(PatternSegment::Any);
                continue;
            }
            if part.is_empty() {
                return Err(refuse("a segment is empty"));
            }
            if i == 0
                && let Some((org, project)) = part.split_once('/')
            {
                let org = crate::orgs::OrgName::new(org)
                    .map_err(|_| refuse("\"org/project\" needs an org name (a-z, 0-9, \"-\", \"_\") before \"/\""))?;
                if project == "*" {
                    segments.push(PatternSegment::Projects(org.as_str().to_string()));
                } else {
                    let space = crate::orgs::project_space(&org, project).map_err(|_| {
                        refuse("\"org/project\" needs a project name (a-z, 0-9, \"-\", \"_\") or \"*\" after \"/\"")
                    })?;
                    segments.push(PatternSegment::Name(space.into_string()));
                }
                continue;
            }
            if part.contains('*') {
                return Err(refuse("\"*\" must be a whole segment"));
            }
            if i == 0 && crate::SpaceName::new(part).is_err() {
                return Err(refuse(
                    "its first segment is not a space name (lowercase letters, digits, \".\", \"_\", \"-\")",
                ));
            }
            segments.push(PatternSegment::Name((*part).to_string()));
        }
        Ok(AddressPattern { text: s.to_string(), segments, rest })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern matches the address made of `segments` (its space first; none for
    /// the system address).
    pub fn matches<S: AsRef<str>>(&self, segments: &[S]) -> bool {
        if segments.is_empty() {
            return self.segments.is_empty() && self.rest;
        }
        if segments.len() < self.segments.len() || (!self.rest && segments.len() != self.segments.len()) {
            return false;
        }
        self.segments.iter().zip(segments).all(|(p, s)| p.matches(s.as_ref()))
    }

    /// Whether every address `other` matches, this matches too.
    pub fn covers(&self, other: &AddressPattern) -> bool {
        if self.segments.is_empty() && self.rest {
            return true;
        }
        if other.segments.is_empty() {
            // `other` is `*`: every address, the system's included.
            return false;
        }
        if other.segments.len() < self.segments.len() {
            return false;
        }
        if !self.rest && (other.rest || other.segments.len() != self.segments.len()) {
            return false;
        }
        self.segments.iter().zip(&other.segments).all(|(mine, theirs)| match (mine, theirs) {
            (PatternSegment::Any, _) => true,
            (mine, PatternSegment::Name(b)) => mine.matches(b),
            (PatternSegment::Projects(a), PatternSegment::Projects(b)) => a == b,
            (_, PatternSegment::Any | PatternSegment::Projects(_)) => false,
        })
    }

    /// The one space every address it matches is in, if there is one.
    pub fn space(&self) -> Option<&str> {
        match self.segments.first() {
            Some(PatternSegment::Name(space)) => Some(space),
            _ => None,
        }
    }

    /// Whether it matches some address in `space` (the space itself or anything in it).
    pub fn reaches_space(&self, space: &str) -> bool {
        match self.segments.first() {
            None => self.rest,
            Some(first) => first.matches(space),
        }
    }

    /// Whether it matches some address in a project of `org`.
    pub fn reaches_org(&self, org: &str) -> bool {
        match self.segments.first() {
            None => self.rest,
            Some(PatternSegment::Any) => true,
            Some(PatternSegment::Projects(o)) => o == org,
            Some(PatternSegment::Name(space)) => crate::orgs::split_project(space).is_some_and(|(o, _)| o == org),
        }
    }

    /// The pattern of every address in every project of `org`: `org/*:*`.
    pub fn org_projects(org: &crate::orgs::OrgName) -> AddressPattern {
        AddressPattern {
            text: format!("{org}/*:*"),
            segments: vec![PatternSegment::Projects(org.as_str().to_string())],
            rest: true,
        }
    }
}

impl fmt::Display for AddressPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A role on a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The role.
    pub role: RoleDef,
    /// Where.
    pub pattern: AddressPattern,
}

/// A principal's grants, indexed by the one space a grant's pattern names, so that checking a
/// request looks only at the grants on its space and those on no one space (`*`, `org/*`): a
/// principal's hundred grants on other spaces cost it nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GrantSet {
    grants: Vec<Grant>,
    /// Indexes into `grants` of those whose pattern names one space, by that space.
    by_space: std::collections::HashMap<String, Vec<usize>>,
    /// Indexes of the others: a first segment `*` or `org/*`, or `*` alone.
    unindexed: Vec<usize>,
}

impl GrantSet {
    /// A set of these grants.
    pub fn new(grants: Vec<Grant>) -> GrantSet {
        let mut by_space: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
        let mut unindexed = Vec::new();
        for (i, grant) in grants.iter().enumerate() {
            match grant.pattern.space() {
                Some(space) => by_space.entry(space.to_string()).or_default().push(i),
                None => unindexed.push(i),
            }
        }
        GrantSet { grants, by_space, unindexed }
    }

    /// The grants.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// The grants that may match an address in `space` (none: the system address).
    fn candidates(&self, space: Option<&str>) -> impl Iterator<Item = &Grant> {
        let named = space.and_then(|s| self.by_space.get(s)).map(Vec::as_slice).unwrap_or_default();
        named.iter().chain(&self.unindexed).map(|&i| &self.grants[i])
    }

    /// Whether some grant gives `permission` on the address of `segments`.
    pub fn allows<S: AsRef<str>>(&self, permission: Permission, segments: &[S]) -> bool {
        self.candidates(segments.first().map(AsRef::as_ref))
            .any(|g| g.role.grants(permission) && g.pattern.matches(segments))
    }

    /// Whether some grant gives `permission` anywhere.
    pub fn allows_somewhere(&self, permission: Permission) -> bool {
        self.grants.iter().any(|g| g.role.grants(permission))
    }

    /// Whether some grant reaches something in `space`.
    pub fn reaches_space(&self, space: &str) -> bool {
        self.candidates(Some(space)).any(|g| g.pattern.reaches_space(space))
    }

    /// Whether some grant reaches something in a project of `org`.
    pub fn reaches_org(&self, org: &str) -> bool {
        self.grants.iter().any(|g| g.pattern.reaches_org(org))
    }

    /// Whether `permission` is granted on every address `pattern` matches.
    pub fn allows_everywhere(&self, permission: Permission, pattern: &AddressPattern) -> bool {
        self.grants.iter().any(|g| g.role.grants(permission) && g.pattern.covers(pattern))
    }

    /// Whether everything `role` grants on `pattern` is granted here too, so a principal
    /// holding this set may pass `role` on `pattern` on (no one hands out more than they hold).
    pub fn covers(&self, role: &RoleDef, pattern: &AddressPattern) -> bool {
        role.expanded().all(|p| self.allows_everywhere(p, pattern))
    }
}

/// The role a function holds on each KV bucket its settings name (`kv_buckets`).
pub const FUNCTION_KV_ROLE: &str = "kv-bucket";

/// The role a function deployed without `grants` holds on its space's instances and topics:
/// sending events and publishing, what every function could do before functions had grants.
pub const FUNCTION_DEFAULT_ROLE: &str = "function-default";

/// The grants a function acts with in its host calls: read and write on each KV bucket of
/// `kv_buckets` (`space:kv:bucket:*`), then the grants it was deployed with — or, deployed
/// without any, [`FUNCTION_DEFAULT_ROLE`] on `space:machines:*` and `space:topics:*`.
pub fn function_grants(space: &str, kv_buckets: &[String], granted: Option<Vec<Grant>>) -> GrantSet {
    let role = |name: &str, permissions: &[Permission]| RoleDef {
        name: name.to_string(),
        permissions: permissions.iter().map(|p| PermissionEntry::One(*p)).collect(),
        builtin: true,
    };
    let on = |pattern: String| AddressPattern::parse(&pattern).ok();
    let mut grants = Vec::with_capacity(kv_buckets.len() + 2);
    for bucket in kv_buckets {
        if let Some(pattern) = on(format!("{space}:kv:{bucket}:*")) {
            grants
                .push(Grant { role: role(FUNCTION_KV_ROLE, &[permissions::KV_READ, permissions::KV_WRITE]), pattern });
        }
    }
    match granted {
        Some(granted) => grants.extend(granted),
        None => {
            let default = role(FUNCTION_DEFAULT_ROLE, &[permissions::EVENTS_SEND, permissions::TOPICS_PUBLISH]);
            for family in ["machines", "topics"] {
                if let Some(pattern) = on(format!("{space}:{family}:*")) {
                    grants.push(Grant { role: default.clone(), pattern });
                }
            }
        }
    }
    GrantSet::new(grants)
}

/// What kind of principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A person who signs in with a name and password.
    User,
    /// A program: it has tokens only.
    Service,
}

impl PrincipalKind {
    /// The kind's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Service => "service",
        }
    }

    /// Parses a kind's name.
    pub fn parse(s: &str) -> Option<PrincipalKind> {
        match s {
            "user" => Some(PrincipalKind::User),
            "service" => Some(PrincipalKind::Service),
            _ => None,
        }
    }
}

/// A user or service account, as stored.
#[derive(Clone, PartialEq)]
pub struct PrincipalRecord {
    /// Its id (`usr_…`, `svc_…`).
    pub id: String,
    /// User or service account.
    pub kind: PrincipalKind,
    /// Its name: a user's sign-in name (unique among users).
    pub name: String,
    /// The argon2id hash of a user's password (PHC string); none for a service account.
    pub password_hash: Option<String>,
    /// Failed sign-ins since the last success.
    pub failed_sign_ins: u32,
    /// Sign-in is refused until then, after repeated failures.
    pub locked_until: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
    /// The org it is a member of, whose admins manage it; none for a principal of the system.
    pub org: Option<String>,
}

impl fmt::Debug for PrincipalRecord {
    // The password hash must not reach a log line through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrincipalRecord")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("failed_sign_ins", &self.failed_sign_ins)
            .field("locked_until", &self.locked_until)
            .field("org", &self.org)
            .finish()
    }
}

/// Who did something, as audit records name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The principal's id (a standalone token's id for one).
    pub id: String,
    /// `user`, `service`, `token` (a standalone token) or `system` (the server itself).
    pub kind: String,
    /// Its name.
    pub name: String,
}

impl Actor {
    /// The server acting on its own (the admin token's bootstrap).
    pub fn system() -> Actor {
        Actor { id: "system".into(), kind: "system".into(), name: "switchyard".into() }
    }
}

/// A grant as stored: a role bound to a principal on a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// Its id (`grt_…`).
    pub id: String,
    /// The principal's id.
    pub principal: String,
    /// The role's name.
    pub role: String,
    /// The pattern, as written.
    pub pattern: String,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A custom role as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    /// Its name.
    pub name: String,
    /// Its permissions, as written.
    pub permissions: Vec<String>,
    /// When it was last put.
    pub updated_at: Timestamp,
}

/// Consecutive failed sign-ins a user may make before sign-in is locked.
pub const FREE_SIGN_IN_FAILURES: u32 = 5;

/// How long sign-in stays locked after `failures` consecutive failures: none for the first
/// [`FREE_SIGN_IN_FAILURES`], then 1 s doubling with each further failure, at most 15 minutes.
pub fn sign_in_lock_ms(failures: u32) -> Option<u64> {
    let over = failures.checked_sub(FREE_SIGN_IN_FAILURES)?;
    Some(1000u64.saturating_mul(1u64 << over.min(20)).min(15 * 60 * 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> AddressPattern {
        AddressPattern::parse(s).expect(s)
    }

    #[test]
    fn patterns_match_what_they_say() {
        let orders = pattern("acme:orders:*");
        assert!(orders.matches(&["acme", "orders"]));
        assert!(orders.matches(&["acme", "orders", "o-1"]));
        assert!(!orders.matches(&["acme", "payments", "p-1"]));
        assert!(!orders.matches(&["acme"]));
        assert!(!orders.matches::<&str>(&[]));
        let everything = pattern("*");
        assert!(everything.matches::<&str>(&[]));
        assert!(everything.matches(&["acme", "x"]));
        let exact = pattern("acme:orders");
        assert!(exact.matches(&["acme", "orders"]));
        assert!(!exact.matches(&["acme", "orders", "o-1"]));
        let middle = pattern("acme:*:o-1");
        assert!(middle.matches(&["acme", "orders", "o-1"]));
        assert!(!middle.matches(&["acme", "o-1"]));
        let any_space = pattern("*:orders:*");
        assert!(any_space.matches(&["beta", "orders", "x"]));
        assert!(!any_space.matches::<&str>(&[]));
    }

    #[test]
    fn project_patterns_name_an_orgs_spaces() {
        let org = pattern("acme/*:*");
        assert!(org.matches(&["acme.orders"]));
        assert!(org.matches(&["acme.billing", "machines", "order", "o-1"]));
        assert!(!org.matches(&["acme"]), "the space acme is no project of acme");
        assert!(!org.matches(&["acmeco.orders"]));
        assert!(!org.matches(&["beta.orders"]));
        assert!(!org.matches::<&str>(&[]));
        let one = pattern("acme/orders:machines:*");
        assert!(one.matches(&["acme.orders", "machines", "order"]));
        assert!(!one.matches(&["acme.billing", "machines", "order"]));
        assert_eq!(one.space(), Some("acme.orders"));
        assert!(org.reaches_space("acme.orders") && !org.reaches_space("acme"));
        assert!(org.reaches_org("acme") && !org.reaches_org("beta"));
        assert!(pattern("acme.orders:*").reaches_org("acme"));
        assert!(pattern("*").reaches_org("acme") && pattern("*:x").reaches_org("acme"));
        assert!(!pattern("acme:*").reaches_org("acme"));
        let cases = [
            ("acme/*:*", "acme/orders:*", true),
            ("acme/*:*", "acme.orders:x", true),
            ("acme/*:*", "acme/*:machines:*", true),
            ("acme/orders:*", "acme/*:*", false),
            ("acme/*:*", "beta/*:*", false),
            ("acme/*:*", "*:x", false),
            ("*:*", "acme/*:*", true),
            ("acme/*:*", "acme:*", false),
        ];
        for (mine, theirs, expected) in cases {
            assert_eq!(pattern(mine).covers(&pattern(theirs)), expected, "{mine} covers {theirs}");
        }
        let acme = crate::orgs::OrgName::new("acme").expect("valid");
        assert_eq!(AddressPattern::org_projects(&acme), pattern("acme/*:*"));
        for bad in ["acme/:*", "Acme/*:*", "acme/or.ders:*", "a.b/*:*", "acme/*x:*"] {
            assert!(AddressPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in ["", "acme::x", "acme:ord*", "Acme:*", ":x", &"a:".repeat(300)] {
            assert!(AddressPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn covering_is_matching_every_address() {
        let cases = [
            ("*", "acme:*", true),
            ("acme:*", "*", false),
            ("acme:*", "acme:orders:*", true),
            ("acme:orders:*", "acme:*", false),
            ("acme:orders:*", "acme:payments:*", false),
            ("acme:*:x", "acme:orders:x", true),
            ("acme:orders:x", "acme:*:x", false),
            ("acme:orders", "acme:orders:*", false),
            ("acme:orders:*", "acme:orders", true),
            ("*:orders:*", "acme:orders:x", true),
        ];
        for (mine, theirs, expected) in cases {
            assert_eq!(pattern(mine).covers(&pattern(theirs)), expected, "{mine} covers {theirs}");
        }
    }

    #[test]
    fn roles_grant_by_level_family_or_name() {
        let writer = builtin_role("space-writer").expect("built in");
        assert!(writer.grants(permissions::FUNCTIONS_DEPLOY));
        assert!(writer.grants(permissions::FUNCTIONS_INVOKE));
        assert!(!writer.grants(permissions::SECRETS_WRITE));
        let deployer = RoleDef::custom("deployer", &["functions:deploy".into(), "jobs:*".into()]).expect("valid");
        assert!(deployer.grants(permissions::FUNCTIONS_DEPLOY));
        assert!(!deployer.grants(permissions::FUNCTIONS_INVOKE));
        assert!(deployer.grants(permissions::JOBS_REDRIVE));
        for bad in ["functions:fly", "nothing:*", "root", "functions"] {
            assert!(RoleDef::custom("r", &[bad.to_string()]).is_err(), "{bad}");
        }
        assert!(RoleDef::custom("sys-admin", &["read".into()]).is_err(), "built-in names are taken");
        assert!(RoleDef::custom("Bad Name", &["read".into()]).is_err());
        assert_eq!(RoleDef::custom("r", &[]), Err(AccessError::NoPermissions));
    }

    #[test]
    fn grant_sets_allow_and_cover() {
        let set = GrantSet::new(vec![
            Grant { role: builtin_role("space-admin").expect("built in"), pattern: pattern("acme:*") },
            Grant { role: builtin_role("space-reader").expect("built in"), pattern: pattern("beta:orders:*") },
        ]);
        assert!(set.allows(permissions::SECRETS_WRITE, &["acme"]));
        assert!(set.allows(permissions::INSTANCES_READ, &["beta", "orders", "o-1"]));
        assert!(!set.allows(permissions::INSTANCES_WRITE, &["beta", "orders", "o-1"]));
        assert!(!set.allows(permissions::INSTANCES_READ, &["beta", "payments", "p-1"]));
        assert!(!set.allows(permissions::CLUSTER_READ, &[] as &[&str]));
        let writer = builtin_role("space-writer").expect("built in");
        assert!(set.covers(&writer, &pattern("acme:orders:*")));
        assert!(!set.covers(&writer, &pattern("beta:orders:*")));
        assert!(!set.covers(&writer, &pattern("*")));
        assert!(set.reaches_space("beta") && !set.reaches_space("gamma"));
    }

    #[test]
    fn a_functions_grants_are_its_buckets_and_what_it_was_given() {
        let defaults = function_grants("acme", &["cache".to_string()], None);
        assert!(defaults.allows(permissions::KV_WRITE, &["acme", "kv", "cache", "k"]));
        assert!(!defaults.allows(permissions::KV_READ, &["acme", "kv", "other", "k"]));
        assert!(defaults.allows(permissions::EVENTS_SEND, &["acme", "machines", "order", "o-1"]));
        assert!(defaults.allows(permissions::TOPICS_PUBLISH, &["acme", "topics", "news"]));
        assert!(!defaults.allows(permissions::EVENTS_SEND, &["beta", "machines", "order", "o-1"]));
        let narrow = Grant {
            role: RoleDef::custom("order-sender", &["events:send".into()]).expect("valid"),
            pattern: pattern("acme:machines:order:*"),
        };
        let given = function_grants("acme", &[], Some(vec![narrow]));
        assert!(given.allows(permissions::EVENTS_SEND, &["acme", "machines", "order", "o-1"]));
        assert!(!given.allows(permissions::EVENTS_SEND, &["acme", "machines", "payment", "p-1"]));
        assert!(!given.allows(permissions::TOPICS_PUBLISH, &["acme", "topics", "news"]), "no defaults once given");
    }

    #[test]
    fn the_index_by_space_answers_as_a_scan_would() {
        let writer = builtin_role("space-writer").expect("built in");
        let patterns = ["acme:*", "acme:orders:*", "beta", "*:orders:*", "acme/*:*", "*", "gamma:kv:c:*"];
        let set = GrantSet::new(patterns.iter().map(|p| Grant { role: writer.clone(), pattern: pattern(p) }).collect());
        let addresses: [&[&str]; 8] = [
            &[],
            &["acme"],
            &["acme", "orders", "o-1"],
            &["beta"],
            &["beta", "x"],
            &["zeta", "orders", "z"],
            &["acme.shop", "kv", "k"],
            &["gamma", "kv", "c", "k"],
        ];
        for (i, _) in patterns.iter().enumerate() {
            let one = GrantSet::new(vec![set.grants()[i].clone()]);
            for address in addresses {
                let scan = one.grants().iter().any(|g| g.pattern.matches(address));
                assert_eq!(one.allows(permissions::INSTANCES_READ, address), scan, "{} on {address:?}", patterns[i]);
            }
        }
        for address in addresses {
            let scan = set.grants().iter().any(|g| g.pattern.matches(address));
            assert_eq!(set.allows(permissions::INSTANCES_READ, address), scan, "{address:?}");
        }
        assert!(set.reaches_space("acme.shop") && set.reaches_space("anything"));
    }

    #[test]
    fn sign_in_locks_after_the_free_failures_and_backs_off() {
        assert_eq!(sign_in_lock_ms(4), None);
        assert_eq!(sign_in_lock_ms(5), Some(1000));
        assert_eq!(sign_in_lock_ms(6), Some(2000));
        assert_eq!(sign_in_lock_ms(14), Some(512_000));
        assert_eq!(sign_in_lock_ms(15), Some(900_000));
        assert_eq!(sign_in_lock_ms(u32::MAX), Some(900_000));
    }
}
