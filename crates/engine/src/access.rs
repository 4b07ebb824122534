//! Principals and what they may do: authenticating a token, authorising a request against the
//! caller's grants, users and their sign-in, service accounts, grants and custom roles.
//!
//! Invariants:
//! - Every request is authorised here ([`Engine::authorise`], [`Principal::require`]): the API
//!   names the permission and the address, the grants decide. The system space (audit records)
//!   is read-only for everyone.
//! - No one hands out more than they hold: a token's scope, a grant and a new principal's grants
//!   must be covered by the creator's own grants ([`GrantSet::covers`]), and giving needs the
//!   `tokens:write` or `grants:write` permission on the whole pattern given.
//! - A token that belongs to a principal works with its principal's grants, limited by the
//!   token's own scope (its role on its spaces). A standalone token is a principal of its own
//!   whose grants are that scope. Either is cached for [`TOKEN_CACHE_TTL`]; a change made on
//!   this node (revoke, grant, role, password, deletion) evicts at once, one made on another
//!   node sharing the store takes effect within the TTL.
//! - Passwords are hashed with argon2id ([`PASSWORD_PARAMS`]) on blocking threads, at most
//!   [`MAX_CONCURRENT_HASHES`] at a time, so sign-ins can neither stall the async threads nor
//!   take the node's memory. A sign-in with an unknown name hashes too, so timing does not
//!   tell which names are users.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use switchyard_model::{
    AddressPattern, Grant, GrantRecord, GrantSet, Level, Permission, PrincipalKind, PrincipalRecord, Role, RoleDef,
    RoleRecord, SYSTEM_SPACE, SpaceGrant, Timestamp, TokenRecord, builtin_role, permissions,
};
use switchyard_store::{
    CreateGrant, CreatePrincipal, CreateToken, DeleteGrant, DeletePrincipal, DeleteRole, PutRole, RecordSignIn,
    RevokeToken, SetPassword, SignInAttempt, SignInOutcome,
};

use crate::auth::{hash_secret, mint};
use crate::{Engine, EngineError, parse_space};

pub use crate::auth::TOKEN_CACHE_TTL;
pub use switchyard_model::Actor;

/// argon2id's parameters: 19 MiB of memory, 2 passes, 1 lane — OWASP's first recommended
/// setting. A sign-in takes about 17 ms on one core of a small server (`switchyard bench
/// sign-in`), about 100 a second on two cores: slow enough that a stolen hash costs a guesser
/// dearly, fast enough that signing in does not feel slow.
pub const PASSWORD_PARAMS: (u32, u32, u32) = (19 * 1024, 2, 1);

/// Passwords hashed at once; more wait. Each hash holds 19 MiB.
pub const MAX_CONCURRENT_HASHES: usize = 4;

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// The longest password accepted, in bytes (hashing cost does not grow with it, but a body of
/// megabytes has no business here).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// How long a sign-in session lasts unless the server says otherwise.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

fn argon2() -> Argon2<'static> {
    let (m, t, p) = PASSWORD_PARAMS;
    // The parameters are constants within argon2's bounds.
    let params = Params::new(m, t, p, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of no one's password, verified against when the name given is no user's.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2().hash_password(b"switchyard decoy password", &salt).map(|h| h.to_string()).unwrap_or_default()
});

/// Failed sign-ins of names that are no user's, on this node: they lock like a user's, so a
/// lock does not tell a user from a stranger. Bounded: past [`UnknownNames::MAX`] names it
/// starts afresh (a flood of names only resets strangers' counts, never a user's).
#[derive(Default)]
pub(crate) struct UnknownNames {
    failures: std::sync::Mutex<std::collections::HashMap<String, (u32, Option<Timestamp>)>>,
}

impl UnknownNames {
    const MAX: usize = 10_000;

    /// Until when sign-in for `name` is locked, if it is.
    fn locked_until(&self, name: &str, now: Timestamp) -> Option<Timestamp> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.get(name).and_then(|(_, until)| *until).filter(|until| now < *until)
    }

    /// Counts a failure for `name`; the lock it sets, if it does.
    fn fail(&self, name: &str, now: Timestamp) -> Option<Timestamp> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= Self::MAX && !failures.contains_key(name) {
            failures.clear();
        }
        let entry = failures.entry(name.to_string()).or_insert((0, None));
        entry.0 = entry.0.saturating_add(1);
        let until = switchyard_model::sign_in_lock_ms(entry.0).map(|ms| Timestamp(now.0.saturating_add(ms as i64)));
        entry.1 = until.max(entry.1);
        until
    }
}

/// Who is calling: an authenticated token, live, and the grants it acts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The principal's id: a user's or service account's, or a standalone token's own.
    pub id: String,
    /// `user`, `service`, or `token` for a standalone token.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// The token's id.
    pub token_id: String,
    /// Whether the token is a sign-in session.
    pub session: bool,
    /// When the token stops working, if it does.
    pub expires_at: Option<Timestamp>,
    /// The grants it acts with.
    pub grants: GrantSet,
    /// The token's own scope, when it belongs to a principal and narrows its grants.
    pub scope: Option<GrantSet>,
}

impl Principal {
    /// Whether `permission` is granted on the address of `segments` (space first; none for the
    /// system address).
    pub fn allows<S: AsRef<str>>(&self, permission: Permission, segments: &[S]) -> bool {
        self.grants.allows(permission, segments) && self.scope.as_ref().is_none_or(|s| s.allows(permission, segments))
    }

    /// Whether `permission` is granted on every address `pattern` matches.
    pub fn allows_everywhere(&self, permission: Permission, pattern: &AddressPattern) -> bool {
        self.grants.allows_everywhere(permission, pattern)
            && self.scope.as_ref().is_none_or(|s| s.allows_everywhere(permission, pattern))
    }

    /// Whether everything `role` grants on `pattern` is granted to this principal.
    pub fn covers(&self, role: &RoleDef, pattern: &AddressPattern) -> bool {
        self.grants.covers(role, pattern) && self.scope.as_ref().is_none_or(|s| s.covers(role, pattern))
    }

    /// Whether `permission` is granted anywhere.
    pub fn allows_somewhere(&self, permission: Permission) -> bool {
        self.grants.allows_somewhere(permission) && self.scope.as_ref().is_none_or(|s| s.allows_somewhere(permission))
    }

    /// Whether something in `space` is granted.
    pub fn reaches_space(&self, space: &str) -> bool {
        self.grants.reaches_space(space) && self.scope.as_ref().is_none_or(|s| s.reaches_space(space))
    }

    /// Whether something in a project of `org` is granted.
    pub fn reaches_org(&self, org: &str) -> bool {
        self.grants.reaches_org(org) && self.scope.as_ref().is_none_or(|s| s.reaches_org(org))
    }

    /// Ok when `permission` is granted on the address of `segments`; a refusal names what is
    /// missing where. The system space is read-only, whatever the grants.
    pub fn require<S: AsRef<str>>(&self, permission: Permission, segments: &[S]) -> Result<(), EngineError> {
        if segments.first().is_some_and(|s| s.as_ref() == SYSTEM_SPACE) {
            // The audit records: read-only for everyone, and read only with audit:read on
            // the system (a grant on `*:*` reaches every space, not this one).
            if permission.level != Level::Read {
                return Err(EngineError::Forbidden(format!(
                    "space \"{SYSTEM_SPACE}\" holds the audit records and is read-only; {permission} is refused there"
                )));
            }
            if !self.allows(permissions::AUDIT_READ, &[] as &[&str]) {
                return Err(EngineError::Forbidden(format!(
                    "{} \"{}\" has no grant of audit:read on the system (a grant on \"*\"); space \"{SYSTEM_SPACE}\" holds the audit records",
                    self.kind, self.name
                )));
            }
        }
        if self.allows(permission, segments) {
            return Ok(());
        }
        let address = if segments.is_empty() {
            "the system (a grant on \"*\")".to_string()
        } else {
            format!("\"{}\"", segments.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(":"))
        };
        Err(EngineError::Forbidden(format!(
            "{} \"{}\" has no grant of {permission} on {address}",
            self.kind, self.name
        )))
    }

    /// Ok when `permission` is granted somewhere (what a route names in its body is checked
    /// once it is read).
    pub fn require_somewhere(&self, permission: Permission) -> Result<(), EngineError> {
        if self.allows_somewhere(permission) {
            Ok(())
        } else {
            Err(EngineError::Forbidden(format!("{} \"{}\" has no grant of {permission}", self.kind, self.name)))
        }
    }

    /// Who this is, as audit records name them.
    pub fn actor(&self) -> Actor {
        Actor { id: self.id.clone(), kind: self.kind.to_string(), name: self.name.clone() }
    }

    /// Whether this principal manages every principal (holds `principals:write` on `*`).
    fn is_system_admin(&self) -> bool {
        self.allows(permissions::PRINCIPALS_WRITE, &[] as &[&str])
    }
}

/// The grants a token's role on its spaces stands for: the role's built-in counterpart on
/// each space (`acme:*`); an admin's on every space is `sys-admin` on `*`.
pub fn scope_grants(role: Role, spaces: &SpaceGrant) -> GrantSet {
    let role_name = match (role, spaces) {
        (Role::Admin, SpaceGrant::All) => "sys-admin",
        _ => switchyard_model::access::builtin_for(role),
    };
    let Some(role_def) = builtin_role(role_name) else {
        return GrantSet::default();
    };
    let patterns: Vec<String> = match spaces {
        SpaceGrant::All => vec!["*".to_string()],
        SpaceGrant::Only(names) => names.iter().map(|s| format!("{s}:*")).collect(),
    };
    GrantSet::new(
        patterns
            .iter()
            .filter_map(|p| AddressPattern::parse(p).ok())
            .map(|pattern| Grant { role: role_def.clone(), pattern })
            .collect(),
    )
}

/// The role named, built in or custom (from `custom`).
pub(crate) fn resolve_role(name: &str, custom: &[RoleRecord]) -> Option<RoleDef> {
    if let Some(role) = builtin_role(name) {
        return Some(role);
    }
    let record = custom.iter().find(|r| r.name == name)?;
    // A stored role was validated when it was put; one this build no longer reads grants nothing.
    RoleDef::custom(&record.name, &record.permissions).ok()
}

fn grant_set(records: &[GrantRecord], custom: &[RoleRecord]) -> GrantSet {
    GrantSet::new(
        records
            .iter()
            .filter_map(|g| {
                Some(Grant { role: resolve_role(&g.role, custom)?, pattern: AddressPattern::parse(&g.pattern).ok()? })
            })
            .collect(),
    )
}

/// A new id with a prefix: `usr_…`, `svc_…`, `grt_…`.
fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

fn check_name(name: &str, what: &str) -> Result<(), EngineError> {
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) || name.trim() != name {
        return Err(EngineError::validation(format!(
            "{what} must be 1-128 characters, without control characters or surrounding spaces"
        )));
    }
    Ok(())
}

fn check_password(password: &str) -> Result<(), EngineError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(EngineError::validation(format!("a password is at most {MAX_PASSWORD_BYTES} bytes")));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(EngineError::validation(format!("a password needs at least {MIN_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

/// A user's view: the record without its password hash, and its grants.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalView {
    /// The record.
    pub record: PrincipalRecord,
    /// Its grants.
    pub grants: Vec<GrantRecord>,
}

/// A new principal.
#[derive(Debug, Clone)]
pub struct NewPrincipal {
    /// User or service account.
    pub kind: PrincipalKind,
    /// Its name.
    pub name: String,
    /// A user's password.
    pub password: Option<String>,
    /// Its first grants: (role, pattern).
    pub grants: Vec<(String, String)>,
}

/// What signing in gives: the session and its secret, shown once.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session token's record.
    pub session: TokenRecord,
    /// Its secret.
    pub secret: String,
    /// The user.
    pub user: PrincipalRecord,
}

/// A role as listed: built in or custom.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleView {
    /// Its name.
    pub name: String,
    /// Its permissions, as written.
    pub permissions: Vec<String>,
    /// Whether it is built in.
    pub builtin: bool,
    /// When a custom role was last put.
    pub updated_at: Option<Timestamp>,
}

impl Engine {
    /// The principal a bearer secret stands for: an unknown, revoked or expired token is
    /// refused.
    pub async fn authenticate(&self, secret: &str) -> Result<Arc<Principal>, EngineError> {
        let hash = hash_secret(secret);
        let now = self.now();
        if let Some(p) = self.tokens.get(&hash) {
            return match p.expires_at {
                Some(end) if now >= end => {
                    Err(EngineError::Unauthorized("this session has expired; sign in again".into()))
                }
                _ => Ok(p),
            };
        }
        let generation = self.tokens.generation();
        let token = match self.store.find_token(&hash).await? {
            None => return Err(EngineError::Unauthorized("unknown token".into())),
            Some(t) if t.revoked_at.is_some() => {
                let what = if t.session { "this session was ended" } else { "this token was revoked" };
                return Err(EngineError::Unauthorized(what.into()));
            }
            Some(t) if !t.live_at(now) => {
                return Err(EngineError::Unauthorized("this session has expired; sign in again".into()));
            }
            Some(t) => t,
        };
        let principal = Arc::new(self.principal_of(&token).await?);
        self.tokens.insert(hash, principal.clone(), generation);
        Ok(principal)
    }

    /// The principal a verified client certificate stands for: the one whose id is the
    /// certificate's subject common name, else the user of that name. It acts with its grants,
    /// as a token of it without a scope would.
    pub async fn authenticate_certificate(&self, subject: &str) -> Result<Arc<Principal>, EngineError> {
        // Cached beside tokens, under a key no token's digest can be.
        let key = format!("certificate:{subject}");
        if let Some(p) = self.tokens.get(&key) {
            return Ok(p);
        }
        let generation = self.tokens.generation();
        let record = match self.store.get_principal(subject).await? {
            Some(record) => record,
            None => self.store.find_user(subject).await?.ok_or_else(|| {
                EngineError::Unauthorized(format!(
                    "the client certificate's subject \"{subject}\" is no principal's id and no user's name"
                ))
            })?,
        };
        let principal = Arc::new(self.acting_as(record, key.clone(), None).await?);
        self.tokens.insert(key, principal.clone(), generation);
        Ok(principal)
    }

    /// The principal a live token acts as.
    async fn principal_of(&self, token: &TokenRecord) -> Result<Principal, EngineError> {
        let scope = scope_grants(token.role, &token.spaces);
        let Some(owner) = &token.principal else {
            return Ok(Principal {
                id: token.id.clone(),
                kind: "token",
                name: token.name.clone(),
                token_id: token.id.clone(),
                session: token.session,
                expires_at: token.expires_at,
                grants: scope,
                scope: None,
            });
        };
        let Some(record) = self.store.get_principal(owner).await? else {
            return Err(EngineError::Unauthorized("this token's principal was deleted".into()));
        };
        let unscoped = token.role == Role::Admin && token.spaces == SpaceGrant::All;
        let mut principal = self.acting_as(record, token.id.clone(), (!unscoped).then_some(scope)).await?;
        principal.session = token.session;
        principal.expires_at = token.expires_at;
        Ok(principal)
    }

    /// `record` with its grants (custom roles resolved), acting through `token_id`, narrowed to
    /// `scope` if given.
    async fn acting_as(
        &self,
        record: PrincipalRecord,
        token_id: String,
        scope: Option<GrantSet>,
    ) -> Result<Principal, EngineError> {
        let (grants, custom) = tokio::try_join!(self.store.list_grants(Some(&record.id)), self.store.list_roles())?;
        Ok(Principal {
            id: record.id,
            kind: record.kind.as_str(),
            name: record.name,
            token_id,
            session: false,
            expires_at: None,
            grants: grant_set(&grants, &custom),
            scope,
        })
    }

    /// Ok when `principal` may have `permission` on the address of `segments`: the one check
    /// every route goes through.
    pub fn authorise<S: AsRef<str>>(
        &self,
        principal: &Principal,
        permission: Permission,
        segments: &[S],
    ) -> Result<(), EngineError> {
        principal.require(permission, segments)
    }

    /// Creates a token; returns it with its secret, which is not stored and cannot be shown
    /// again. Without `owner` it is a standalone token whose grants are `role` on `spaces`;
    /// with one, it acts with the owner's grants narrowed to `role` on `spaces`.
    pub async fn create_token(
        &self,
        by: &Principal,
        name: &str,
        role: Role,
        spaces: &[String],
        owner: Option<&str>,
    ) -> Result<(TokenRecord, String), EngineError> {
        check_name(name, "name")?;
        if spaces.is_empty() {
            return Err(EngineError::validation("spaces must name at least one space, or \"*\""));
        }
        let grant = if spaces.iter().any(|s| s == "*") {
            SpaceGrant::All
        } else {
            SpaceGrant::Only(spaces.iter().map(|s| parse_space(s)).collect::<Result<_, _>>()?)
        };
        match owner {
            // A principal's token can do nothing its owner cannot: minting one for oneself
            // needs nothing more than the door's tokens:write somewhere, for another principal
            // the system's. A token that is itself narrowed can only mint tokens within its own
            // scope — never an unscoped one.
            Some(owner) if owner == by.id && by.kind != "token" => {
                if let Some(scope) = &by.scope {
                    let unscoped = role == Role::Admin && grant == SpaceGrant::All;
                    let within = scope_grants(role, &grant).grants().iter().all(|g| scope.covers(&g.role, &g.pattern));
                    if unscoped || !within {
                        return Err(EngineError::Forbidden(
                            "a narrowed token can only mint tokens within its own role and spaces".into(),
                        ));
                    }
                }
            }
            // An org's admin mints tokens for the members it manages (its service accounts).
            Some(owner) if !by.is_system_admin() && self.manages_member(by, owner).await? => {}
            Some(_) => by.require(permissions::PRINCIPALS_WRITE, &[] as &[&str])?,
            None => {
                let role_def = scope_grants(role, &grant);
                for g in role_def.grants() {
                    if !by.allows_everywhere(permissions::TOKENS_WRITE, &g.pattern) || !by.covers(&g.role, &g.pattern) {
                        return Err(EngineError::Forbidden(
                            "a token can only be granted spaces and a role its creator has (with tokens:write there)"
                                .into(),
                        ));
                    }
                }
            }
        }
        let (secret, id) = mint();
        let record = TokenRecord {
            id,
            name: name.to_string(),
            secret_hash: hash_secret(&secret),
            role,
            spaces: grant,
            created_at: self.now(),
            revoked_at: None,
            principal: owner.map(str::to_string),
            expires_at: None,
            session: false,
        };
        self.execute(CreateToken { token: record.clone(), by: by.actor() }).await?;
        Ok((record, secret))
    }

    /// Whether `by` administers `token`: its own, any for a system admin, a standalone one
    /// whose whole scope `by` holds with `permission`.
    fn administers(&self, by: &Principal, token: &TokenRecord, permission: Permission) -> bool {
        if token.id == by.token_id || by.is_system_admin() {
            return true;
        }
        // Its owner's other tokens and sessions are the owner's, not a narrowed token's.
        if token.principal.as_deref() == Some(by.id.as_str()) {
            return by.scope.is_none();
        }
        if token.principal.is_some() {
            return false;
        }
        let scope = scope_grants(token.role, &token.spaces);
        scope.grants().iter().all(|g| by.allows_everywhere(permission, &g.pattern) && by.covers(&g.role, &g.pattern))
    }

    /// The tokens `by` administers.
    pub async fn list_tokens(&self, by: &Principal) -> Result<Vec<TokenRecord>, EngineError> {
        let tokens = self.store.list_tokens().await?;
        Ok(tokens.into_iter().filter(|t| self.administers(by, t, permissions::TOKENS_READ)).collect())
    }

    /// Revokes a token `by` administers.
    pub async fn revoke_token(&self, by: &Principal, id: &str) -> Result<(), EngineError> {
        let tokens = self.store.list_tokens().await?;
        let Some(token) = tokens.iter().find(|t| t.id == id) else {
            return Err(EngineError::TokenNotFound(id.to_string()));
        };
        if !self.administers(by, token, permissions::TOKENS_WRITE) {
            return Err(EngineError::Forbidden(
                "this token may not revoke a token with spaces or a role it does not have".into(),
            ));
        }
        self.execute(RevokeToken { id: id.to_string(), by: by.actor(), sign_out: false }).await?;
        self.tokens.evict_token(id);
        Ok(())
    }

    /// Ends the session (or revokes the token) the caller used.
    pub async fn sign_out(&self, by: &Principal) -> Result<(), EngineError> {
        self.execute(RevokeToken { id: by.token_id.clone(), by: by.actor(), sign_out: by.session }).await?;
        self.tokens.evict_token(&by.token_id);
        Ok(())
    }

    /// Hashes a password with argon2id on a blocking thread.
    pub async fn hash_password(&self, password: &str) -> Result<String, EngineError> {
        let _permit = self.password_hashes.acquire().await.map_err(|_| EngineError::ShuttingDown)?;
        let password = password.to_string();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await
        .map_err(|e| EngineError::Internal(format!("password hashing stopped: {e}")))?
        .map_err(|e| EngineError::Internal(format!("password hashing failed: {e}")))
    }

    /// Whether `password` matches the PHC `hash`, checked on a blocking thread.
    async fn verify_password(&self, password: &str, hash: &str) -> Result<bool, EngineError> {
        let _permit = self.password_hashes.acquire().await.map_err(|_| EngineError::ShuttingDown)?;
        let (password, hash) = (password.to_string(), hash.to_string());
        tokio::task::spawn_blocking(move || match PasswordHash::new(&hash) {
            // A stored hash that does not parse matches nothing.
            Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        })
        .await
        .map_err(|e| EngineError::Internal(format!("password check stopped: {e}")))
    }

    /// Signs a user in: a session of [`crate::EngineConfig::session_ttl`] when the password is
    /// right and sign-in is not locked. Every attempt is recorded; repeated failures lock
    /// sign-in with a growing delay. A name that is no user's is answered as a user's would
    /// be — the same refusal after the same hashing, and the same lock after as many failures
    /// (counted on this node) — so the answers do not tell which names exist.
    pub async fn sign_in(&self, name: &str, password: &str) -> Result<SignedIn, EngineError> {
        let now = self.now();
        let locked = |until: Timestamp| EngineError::SignInLocked { retry_after_ms: (until.0 - now.0).max(1) as u64 };
        // A name no user can have, or a password over the limit: refused like a wrong password,
        // after as much work, and not recorded (an anonymous caller could fill the log with them).
        if check_name(name, "name").is_err() || password.len() > MAX_PASSWORD_BYTES {
            let _ = self.verify_password("", &DECOY_HASH).await?;
            return Err(EngineError::InvalidCredentials);
        }
        let Some(user) = self.store.find_user(name).await? else {
            let attempt = match self.unknown_names.locked_until(name, now) {
                Some(until) => {
                    self.execute(RecordSignIn { user: None, name: name.to_string(), attempt: SignInAttempt::Locked })
                        .await?;
                    return Err(locked(until));
                }
                None => {
                    let _ = self.verify_password(password, &DECOY_HASH).await?;
                    SignInAttempt::WrongPassword
                }
            };
            self.execute(RecordSignIn { user: None, name: name.to_string(), attempt }).await?;
            return match self.unknown_names.fail(name, self.now()) {
                Some(until) => Err(locked(until)),
                None => Err(EngineError::InvalidCredentials),
            };
        };
        let record = |attempt| RecordSignIn { user: Some(user.id.clone()), name: name.to_string(), attempt };
        if let Some(until) = user.locked_until.filter(|until| now < *until) {
            self.execute(record(SignInAttempt::Locked)).await?;
            return Err(locked(until));
        }
        let hash = user.password_hash.clone().unwrap_or_default();
        if !self.verify_password(password, &hash).await? {
            return match self.execute(record(SignInAttempt::WrongPassword)).await? {
                SignInOutcome::Refused { locked_until: Some(until) } => Err(locked(until)),
                _ => Err(EngineError::InvalidCredentials),
            };
        }
        let (secret, id) = mint();
        let ttl_ms = i64::try_from(self.config.session_ttl.as_millis()).unwrap_or(i64::MAX);
        let now = self.now();
        let session = TokenRecord {
            id,
            name: "session".into(),
            secret_hash: hash_secret(&secret),
            role: Role::Admin,
            spaces: SpaceGrant::All,
            created_at: now,
            revoked_at: None,
            principal: Some(user.id.clone()),
            expires_at: Some(Timestamp(now.0.saturating_add(ttl_ms))),
            session: true,
        };
        // The store decides under the user's lock: a lock set or a password changed by a
        // concurrent request since the check above wins over this success.
        let attempt = SignInAttempt::RightPassword { session: session.clone(), verified_hash: hash };
        match self.execute(record(attempt)).await? {
            SignInOutcome::Opened => Ok(SignedIn { session, secret, user }),
            SignInOutcome::Refused { locked_until: Some(until) } => Err(locked(until)),
            SignInOutcome::Refused { locked_until: None } => Err(EngineError::InvalidCredentials),
        }
    }

    /// Changes the caller's password (a user's): the current one must be given, and a wrong
    /// one counts as a failed sign-in. Every other session of the user ends.
    pub async fn change_password(&self, by: &Principal, current: &str, new: &str) -> Result<Vec<String>, EngineError> {
        if by.kind != "user" {
            return Err(EngineError::Forbidden("only a user has a password; sign in as one".into()));
        }
        check_password(new)?;
        let Some(user) = self.store.get_principal(&by.id).await? else {
            return Err(EngineError::Unauthorized("this token's principal was deleted".into()));
        };
        let now = self.now();
        if let Some(until) = user.locked_until.filter(|until| now < *until) {
            return Err(EngineError::SignInLocked { retry_after_ms: (until.0 - now.0).max(1) as u64 });
        }
        let hash = user.password_hash.clone().unwrap_or_default();
        if !self.verify_password(current, &hash).await? {
            let op = RecordSignIn {
                user: Some(user.id.clone()),
                name: user.name.clone(),
                attempt: SignInAttempt::WrongPassword,
            };
            return match self.execute(op).await? {
                SignInOutcome::Refused { locked_until: Some(until) } => {
                    Err(EngineError::SignInLocked { retry_after_ms: (until.0 - now.0).max(1) as u64 })
                }
                _ => Err(EngineError::InvalidCredentials),
            };
        }
        let hash = self.hash_password(new).await?;
        let keep = Some(by.token_id.clone());
        let op = SetPassword { user: user.id.clone(), hash, keep, revoke_tokens: false, by: by.actor() };
        let revoked = self.execute(op).await?;
        for id in &revoked {
            self.tokens.evict_token(id);
        }
        Ok(revoked)
    }

    /// Sets a user's password as a system admin (a reset, for a password that may have leaked):
    /// it also clears a lock and ends every session and token of the user.
    pub async fn reset_password(&self, by: &Principal, user: &str, new: &str) -> Result<Vec<String>, EngineError> {
        by.require(permissions::PRINCIPALS_WRITE, &[] as &[&str])?;
        self.set_password_of(by, user, new).await
    }

    /// Resets `user`'s password; the caller checked `by` may.
    pub(crate) async fn set_password_of(
        &self,
        by: &Principal,
        user: &str,
        new: &str,
    ) -> Result<Vec<String>, EngineError> {
        check_password(new)?;
        let hash = self.hash_password(new).await?;
        let op = SetPassword { user: user.to_string(), hash, keep: None, revoke_tokens: true, by: by.actor() };
        let revoked = self.execute(op).await?;
        for id in &revoked {
            self.tokens.evict_token(id);
        }
        Ok(revoked)
    }

    /// Creates a user or service account of the system (of no org) with its first grants.
    pub async fn create_principal(&self, by: &Principal, new: NewPrincipal) -> Result<PrincipalView, EngineError> {
        by.require(permissions::PRINCIPALS_WRITE, &[] as &[&str])?;
        self.insert_principal(by, new, None).await
    }

    /// Creates a principal, a member of `org` if given; the caller checked `by` may.
    pub(crate) async fn insert_principal(
        &self,
        by: &Principal,
        new: NewPrincipal,
        org: Option<&str>,
    ) -> Result<PrincipalView, EngineError> {
        check_name(&new.name, "name")?;
        // A client certificate names a principal by id, else by a user's name: a user may not
        // be named like an id.
        if new.kind == PrincipalKind::User && ["usr_", "svc_", "tok_", "grt_"].iter().any(|p| new.name.starts_with(p)) {
            return Err(EngineError::validation(
                "a user's name may not start like an id (usr_, svc_, tok_, grt_)".to_string(),
            ));
        }
        let password_hash = match (new.kind, &new.password) {
            (PrincipalKind::User, Some(password)) => {
                check_password(password)?;
                Some(self.hash_password(password).await?)
            }
            (PrincipalKind::User, None) => return Err(EngineError::validation("a user needs a password")),
            (PrincipalKind::Service, Some(_)) => {
                return Err(EngineError::validation("a service account has no password: create a token for it"));
            }
            (PrincipalKind::Service, None) => None,
        };
        let now = self.now();
        let id = new_id(match new.kind {
            PrincipalKind::User => "usr",
            PrincipalKind::Service => "svc",
        });
        let custom = self.store.list_roles().await?;
        let mut grants = Vec::with_capacity(new.grants.len());
        for (role, pattern) in &new.grants {
            self.check_grant(by, role, pattern, &custom)?;
            grants.push(GrantRecord {
                id: new_id("grt"),
                principal: id.clone(),
                role: role.clone(),
                pattern: pattern.clone(),
                created_at: now,
            });
        }
        let record = PrincipalRecord {
            id,
            kind: new.kind,
            name: new.name,
            password_hash,
            failed_sign_ins: 0,
            locked_until: None,
            created_at: now,
            org: org.map(str::to_string),
        };
        self.execute(CreatePrincipal { principal: record.clone(), grants: grants.clone(), by: by.actor() }).await?;
        Ok(PrincipalView { record, grants })
    }

    /// Checks `by` may grant `role` on `pattern`.
    pub(crate) fn check_grant(
        &self,
        by: &Principal,
        role: &str,
        pattern: &str,
        custom: &[RoleRecord],
    ) -> Result<(), EngineError> {
        let pattern = AddressPattern::parse(pattern).map_err(|e| EngineError::validation(e.to_string()))?;
        let Some(role_def) = resolve_role(role, custom) else {
            return Err(EngineError::NotFound(format!("role \"{role}\" not found")));
        };
        if !by.allows_everywhere(permissions::GRANTS_WRITE, &pattern) {
            return Err(EngineError::Forbidden(format!("granting on \"{pattern}\" needs grants:write on all of it")));
        }
        if !by.covers(&role_def, &pattern) {
            return Err(EngineError::Forbidden(format!(
                "role \"{role}\" on \"{pattern}\" grants more than the granter holds there"
            )));
        }
        Ok(())
    }

    /// Every user and service account, with grants; `by` needs `principals:read`.
    pub async fn list_principals(&self, by: &Principal) -> Result<Vec<PrincipalView>, EngineError> {
        by.require(permissions::PRINCIPALS_READ, &[] as &[&str])?;
        let (principals, grants) = tokio::try_join!(self.store.list_principals(), self.store.list_grants(None))?;
        Ok(principals
            .into_iter()
            .map(|record| {
                let grants = grants.iter().filter(|g| g.principal == record.id).cloned().collect();
                PrincipalView { record, grants }
            })
            .collect())
    }

    /// One principal with its grants: oneself, or anyone for `principals:read`.
    pub async fn get_principal(&self, by: &Principal, id: &str) -> Result<PrincipalView, EngineError> {
        if id != by.id {
            by.require(permissions::PRINCIPALS_READ, &[] as &[&str])?;
        }
        let Some(record) = self.store.get_principal(id).await? else {
            return Err(EngineError::NotFound(format!("principal \"{id}\" not found")));
        };
        let grants = self.store.list_grants(Some(id)).await?;
        Ok(PrincipalView { record, grants })
    }

    /// Deletes a principal, its grants, and revokes its tokens; answers the tokens revoked.
    pub async fn delete_principal(&self, by: &Principal, id: &str) -> Result<Vec<String>, EngineError> {
        by.require(permissions::PRINCIPALS_WRITE, &[] as &[&str])?;
        self.remove_principal(by, id).await
    }

    /// Deletes a principal; the caller checked `by` may.
    pub(crate) async fn remove_principal(&self, by: &Principal, id: &str) -> Result<Vec<String>, EngineError> {
        let revoked = self.execute(DeletePrincipal { id: id.to_string(), by: by.actor() }).await?;
        self.tokens.evict_principal(id);
        Ok(revoked)
    }

    /// Grants `principal` `role` on `pattern`.
    pub async fn create_grant(
        &self,
        by: &Principal,
        principal: &str,
        role: &str,
        pattern: &str,
    ) -> Result<GrantRecord, EngineError> {
        let custom = self.store.list_roles().await?;
        self.check_grant(by, role, pattern, &custom)?;
        let grant = GrantRecord {
            id: new_id("grt"),
            principal: principal.to_string(),
            role: role.to_string(),
            pattern: pattern.to_string(),
            created_at: self.now(),
        };
        self.execute(CreateGrant { grant: grant.clone(), by: by.actor() }).await?;
        self.tokens.evict_principal(principal);
        Ok(grant)
    }

    /// The grants `by` may see: its own, and those on patterns it holds `grants:read` on.
    pub async fn list_grants(&self, by: &Principal, principal: Option<&str>) -> Result<Vec<GrantRecord>, EngineError> {
        let grants = self.store.list_grants(principal).await?;
        Ok(grants
            .into_iter()
            .filter(|g| {
                g.principal == by.id
                    || AddressPattern::parse(&g.pattern)
                        .is_ok_and(|p| by.allows_everywhere(permissions::GRANTS_READ, &p))
            })
            .collect())
    }

    /// Deletes a grant `by` could have made.
    pub async fn delete_grant(&self, by: &Principal, id: &str) -> Result<GrantRecord, EngineError> {
        let grants = self.store.list_grants(None).await?;
        let Some(grant) = grants.into_iter().find(|g| g.id == id) else {
            return Err(EngineError::NotFound(format!("grant \"{id}\" not found")));
        };
        let custom = self.store.list_roles().await?;
        self.check_grant(by, &grant.role, &grant.pattern, &custom)?;
        let deleted = self.execute(DeleteGrant { id: id.to_string(), by: by.actor() }).await?;
        self.tokens.evict_principal(&deleted.principal);
        Ok(deleted)
    }

    /// Every role, built-in ones first.
    pub async fn list_roles(&self) -> Result<Vec<RoleView>, EngineError> {
        let mut roles: Vec<RoleView> = switchyard_model::BUILTIN_ROLES
            .iter()
            .filter_map(|name| builtin_role(name))
            .map(|r| RoleView { permissions: r.permission_names(), name: r.name, builtin: true, updated_at: None })
            .collect();
        for r in self.store.list_roles().await? {
            roles.push(RoleView {
                name: r.name,
                permissions: r.permissions,
                builtin: false,
                updated_at: Some(r.updated_at),
            });
        }
        Ok(roles)
    }

    /// Stores or replaces a custom role; answers whether it was new. A change applies to every
    /// grant of the role.
    pub async fn put_role(
        &self,
        by: &Principal,
        name: &str,
        permissions: &[String],
    ) -> Result<(RoleView, bool), EngineError> {
        by.require(permissions::ROLES_WRITE, &[] as &[&str])?;
        let role = RoleDef::custom(name, permissions).map_err(|e| EngineError::validation(e.to_string()))?;
        let record =
            RoleRecord { name: role.name.clone(), permissions: role.permission_names(), updated_at: self.now() };
        let created = self.execute(PutRole { role: record.clone(), by: by.actor() }).await?;
        self.tokens.evict_all();
        let view = RoleView {
            name: record.name,
            permissions: record.permissions,
            builtin: false,
            updated_at: Some(record.updated_at),
        };
        Ok((view, created))
    }

    /// Deletes a custom role no grant names.
    pub async fn delete_role(&self, by: &Principal, name: &str) -> Result<(), EngineError> {
        by.require(permissions::ROLES_WRITE, &[] as &[&str])?;
        if builtin_role(name).is_some() {
            return Err(EngineError::Conflict(format!("role \"{name}\" is built in")));
        }
        self.execute(DeleteRole { name: name.to_string(), by: by.actor() }).await?;
        Ok(())
    }

    /// Audit records after `after`, at most `limit`, of the `kinds` asked (every audit kind by
    /// default); and how far the read covered the log, where the next page starts.
    pub async fn read_audit(
        &self,
        by: &Principal,
        after: switchyard_model::Seq,
        kinds: &[String],
        limit: u32,
    ) -> Result<(Vec<switchyard_model::LogRecord>, switchyard_model::Seq), EngineError> {
        by.require(permissions::AUDIT_READ, &[] as &[&str])?;
        let all = switchyard_model::kinds::AUDIT;
        let asked: Vec<&str> = if kinds.is_empty() {
            all.to_vec()
        } else {
            let mut asked = Vec::with_capacity(kinds.len());
            for k in kinds {
                let Some(known) = all.iter().find(|a| **a == k.as_str()) else {
                    return Err(EngineError::validation(format!(
                        "\"{k}\" is not an audit kind; expected one of {}",
                        all.join(", ")
                    )));
                };
                asked.push(*known);
            }
            asked
        };
        let page = self.store.read_log_kinds(after, &asked, limit.clamp(1, 1000)).await?;
        let records = page.records.into_iter().filter(|r| r.space.as_str() == SYSTEM_SPACE).collect();
        Ok((records, page.through))
    }

    /// The spaces `principal` may see something in.
    pub async fn list_spaces(&self, principal: &Principal) -> Result<Vec<switchyard_model::SpaceRecord>, EngineError> {
        let spaces = self.store.list_spaces().await?;
        let audit = principal.allows(permissions::AUDIT_READ, &[] as &[&str]);
        Ok(spaces
            .into_iter()
            .filter(|s| principal.reaches_space(s.name.as_str()) && (s.name.as_str() != SYSTEM_SPACE || audit))
            .collect())
    }
}
