//! Who may do what: tokens, users and service accounts, sign-ins, grants, custom roles and
//! orgs.
//!
//! Invariants:
//! - Every change here appends one audit record (`audit.*`) to the system space in the same
//!   transaction, naming who acted (`principal`): nothing security-relevant changes without
//!   its record, and no record is written for a change that did not happen.
//! - Secrets never reach the log: a token's record names its id, a password change names the
//!   user. The rules of what a principal may hand out are the engine's; these commands keep
//!   the rows consistent (a grant names an existing principal and role; a role in use is not
//!   deleted; a user's name is unique).
//! - A sign-in's failure count is read and written under the principal's row lock, so
//!   concurrent failures each count.
//! - A principal is a member of an org only while the org exists: a member is created under
//!   the org's row lock, and an org is deleted under it only when it has no member and no
//!   project (no space named `org.project`). A project written while the org is deleted may
//!   land after the count: nothing about a space needs its org.

use serde_json::json;
use switchyard_model::{
    Actor, GrantRecord, OrgRecord, PrincipalKind, PrincipalRecord, RoleRecord, SYSTEM_SPACE, Timestamp, TokenRecord,
    builtin_role, kinds, sign_in_lock_ms,
};

use super::{Command, Cx, Locking};
use crate::error::StoreError;
use crate::tables::{Locks, Tables, TxResult};

/// Appends an audit record about `address` to the system space.
async fn audit<T: Tables>(
    tx: &mut T,
    cx: &mut Cx<'_>,
    kind: &'static str,
    address: String,
    payload: serde_json::Value,
) -> TxResult<()> {
    cx.touch_space(SYSTEM_SPACE);
    cx.append(tx, SYSTEM_SPACE, kind, address, &payload, None, false).await
}

fn token_address(id: &str) -> String {
    format!("{SYSTEM_SPACE}:tokens:{id}")
}

fn principal_address(id: &str) -> String {
    format!("{SYSTEM_SPACE}:principals:{id}")
}

fn token_audit(by: &Actor, token: &TokenRecord) -> serde_json::Value {
    json!({
        "principal": by,
        "token": token.id,
        "name": token.name,
        "owner": token.principal,
        "role": token.role.as_str(),
        "spaces": token.spaces.to_names(),
        "expires_at": token.expires_at,
        "session": token.session,
    })
}

/// Stores a new token; appends `audit.token_created`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateToken {
    /// The token.
    pub token: TokenRecord,
    /// Who creates it.
    pub by: Actor,
}

request!(CreateToken => TokenCreated(bool));

impl Locking for CreateToken {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(SYSTEM_SPACE);
        if let Some(owner) = &self.token.principal {
            locks.exclusive(format!("principal:{owner}"));
        }
    }
}

impl Command for CreateToken {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        if let Some(owner) = &self.token.principal
            && tx.principal_for_update(owner).await?.is_none()
        {
            return Err(StoreError::PrincipalNotFound { id: owner.clone() }.into());
        }
        tx.insert_token(&self.token).await?;
        audit(tx, cx, kinds::AUDIT_TOKEN_CREATED, token_address(&self.token.id), token_audit(&self.by, &self.token))
            .await?;
        Ok(true)
    }
}

/// Stores the first admin token, unless one was bootstrapped before.
#[derive(Debug, Clone, PartialEq)]
pub struct BootstrapAdminToken {
    /// The admin token.
    pub token: TokenRecord,
}

request!(BootstrapAdminToken => TokenCreated(bool));

impl Locking for BootstrapAdminToken {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.exclusive("bootstrap".to_string());
        locks.writes_into(SYSTEM_SPACE);
    }
}

impl Command for BootstrapAdminToken {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        if !tx.claim_admin_bootstrap(&self.token.id).await? {
            return Ok(false);
        }
        tx.insert_token(&self.token).await?;
        let payload = token_audit(&Actor::system(), &self.token);
        audit(tx, cx, kinds::AUDIT_TOKEN_CREATED, token_address(&self.token.id), payload).await?;
        Ok(true)
    }
}

/// Revokes a token; appends `audit.token_revoked` (or `audit.sign_out` for a session its user
/// ends) when it was not revoked before.
#[derive(Debug, Clone, PartialEq)]
pub struct RevokeToken {
    /// The token's id.
    pub id: String,
    /// Who revokes it.
    pub by: Actor,
    /// Whether this is its user signing out.
    pub sign_out: bool,
}

request!(RevokeToken => TokenRevoked);

impl Locking for RevokeToken {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.exclusive(format!("token:{}", self.id));
        locks.writes_into(SYSTEM_SPACE);
    }
}

impl Command for RevokeToken {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        match tx.token_revoked_at_for_update(&self.id).await? {
            None => Err(StoreError::TokenNotFound { id: self.id.to_string() }.into()),
            Some(Some(_)) => Ok(()),
            Some(None) => {
                tx.revoke_token(&self.id, cx.now).await?;
                let kind = if self.sign_out { kinds::AUDIT_SIGN_OUT } else { kinds::AUDIT_TOKEN_REVOKED };
                let payload = json!({ "principal": self.by, "token": self.id });
                audit(tx, cx, kind, token_address(&self.id), payload).await?;
                Ok(())
            }
        }
    }
}

/// Creates a user or service account with its first grants; appends
/// `audit.principal_created`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatePrincipal {
    /// The principal.
    pub principal: PrincipalRecord,
    /// Its grants (their `principal` is its id).
    pub grants: Vec<GrantRecord>,
    /// Who creates it.
    pub by: Actor,
}

request!(CreatePrincipal => PrincipalCreated);

impl Locking for CreatePrincipal {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(SYSTEM_SPACE);
        locks.exclusive(format!("user:{}", self.principal.name));
        if let Some(org) = &self.principal.org {
            locks.exclusive(format!("org:{org}"));
        }
        for grant in &self.grants {
            locks.exclusive(format!("role:{}", grant.role));
        }
    }
}

impl Command for CreatePrincipal {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let p = &self.principal;
        if p.kind == PrincipalKind::User && tx.user_exists(&p.name).await? {
            return Err(StoreError::UserNameTaken { name: p.name.clone() }.into());
        }
        if let Some(org) = &p.org
            && tx.org_for_update(org).await?.is_none()
        {
            return Err(StoreError::OrgNotFound { name: org.clone() }.into());
        }
        for grant in &self.grants {
            require_role(tx, &grant.role).await?;
        }
        tx.insert_principal(p).await?;
        for grant in &self.grants {
            if !tx.insert_grant(grant).await? {
                return Err(StoreError::GrantExists { role: grant.role.clone(), pattern: grant.pattern.clone() }.into());
            }
        }
        let grants: Vec<_> =
            self.grants.iter().map(|g| json!({"id": g.id, "role": g.role, "pattern": g.pattern})).collect();
        let payload = json!({
            "principal": self.by, "id": p.id, "kind": p.kind.as_str(), "name": p.name, "org": p.org, "grants": grants,
        });
        audit(tx, cx, kinds::AUDIT_PRINCIPAL_CREATED, principal_address(&p.id), payload).await
    }
}

/// Fails unless `role` is built in or a stored custom role.
async fn require_role<T: Tables>(tx: &mut T, role: &str) -> TxResult<()> {
    if builtin_role(role).is_some() || tx.role_exists(role).await? {
        Ok(())
    } else {
        Err(StoreError::RoleNotFound { name: role.to_string() }.into())
    }
}

/// Deletes a user or service account, its grants, and revokes its tokens; appends
/// `audit.principal_deleted`. Answers the revoked tokens' ids.
#[derive(Debug, Clone, PartialEq)]
pub struct DeletePrincipal {
    /// The principal's id.
    pub id: String,
    /// Who deletes it.
    pub by: Actor,
}

request!(DeletePrincipal => PrincipalDeleted(Vec<String>));

impl Locking for DeletePrincipal {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(SYSTEM_SPACE);
        locks.exclusive(format!("principal:{}", self.id));
    }
}

impl Command for DeletePrincipal {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        if tx.principal_for_update(&self.id).await?.is_none() {
            return Err(StoreError::PrincipalNotFound { id: self.id.clone() }.into());
        }
        let revoked = tx.revoke_tokens_of(&self.id, cx.now, None, false).await?;
        tx.delete_principal(&self.id).await?;
        let payload = json!({ "principal": self.by, "id": self.id, "tokens_revoked": revoked });
        audit(tx, cx, kinds::AUDIT_PRINCIPAL_DELETED, principal_address(&self.id), payload).await?;
        Ok(revoked)
    }
}

/// What a sign-in attempt was, as the engine found it.
#[derive(Clone, PartialEq)]
pub enum SignInAttempt {
    /// Refused before any password was checked: sign-in is locked.
    Locked,
    /// The password did not match.
    WrongPassword,
    /// The password matched `verified_hash`; `session` opens if nothing changed meanwhile.
    RightPassword {
        /// The session to store.
        session: TokenRecord,
        /// The hash the password was checked against.
        verified_hash: String,
    },
}

impl std::fmt::Debug for SignInAttempt {
    // The hash must not reach a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignInAttempt::Locked => f.write_str("Locked"),
            SignInAttempt::WrongPassword => f.write_str("WrongPassword"),
            SignInAttempt::RightPassword { session, .. } => write!(f, "RightPassword({})", session.id),
        }
    }
}

/// How a recorded sign-in ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SignInOutcome {
    /// The session was stored.
    Opened,
    /// Refused; sign-in is locked until then, if it is.
    Refused {
        /// The lock's end.
        locked_until: Option<Timestamp>,
    },
}

/// Records a sign-in attempt the engine checked, deciding under the user's row lock: a right
/// password opens the session only if sign-in is not locked and the password was not changed
/// since it was checked (a lock set or a reset made by a concurrent request wins); a wrong one
/// counts, and the count locks sign-in ([`sign_in_lock_ms`], never shortening a lock already
/// set); a refusal while locked is recorded without counting. Appends `audit.sign_in` or
/// `audit.sign_in_failed`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordSignIn {
    /// The user's id; none when the name is no user's (only the record is written).
    pub user: Option<String>,
    /// The name given.
    pub name: String,
    /// What the attempt was.
    pub attempt: SignInAttempt,
}

request!(RecordSignIn => SignInRecorded(SignInOutcome));

impl Locking for RecordSignIn {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(SYSTEM_SPACE);
        if let Some(user) = &self.user {
            locks.exclusive(format!("principal:{user}"));
        }
    }
}

impl Command for RecordSignIn {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let address = format!("{SYSTEM_SPACE}:users:{}", self.name);
        let Some(user_id) = &self.user else {
            let reason = if self.attempt == SignInAttempt::Locked { "locked" } else { "invalid_credentials" };
            let payload = json!({ "name": self.name, "reason": reason });
            audit(tx, cx, kinds::AUDIT_SIGN_IN_FAILED, address, payload).await?;
            return Ok(SignInOutcome::Refused { locked_until: None });
        };
        let Some(user) = tx.principal_for_update(user_id).await? else {
            return Err(StoreError::PrincipalNotFound { id: user_id.clone() }.into());
        };
        let actor = Actor { id: user.id.clone(), kind: user.kind.as_str().into(), name: user.name.clone() };
        let locked = user.locked_until.filter(|until| cx.now < *until);
        let refusal = |reason: &str, failures: u32, locked_until: Option<Timestamp>| {
            json!({
                "principal": actor, "name": self.name, "reason": reason,
                "failures": failures, "locked_until": locked_until,
            })
        };
        match &self.attempt {
            SignInAttempt::RightPassword { session, verified_hash } => {
                if locked.is_some() {
                    let payload = refusal("locked", user.failed_sign_ins, locked);
                    audit(tx, cx, kinds::AUDIT_SIGN_IN_FAILED, address, payload).await?;
                    return Ok(SignInOutcome::Refused { locked_until: locked });
                }
                if user.password_hash.as_deref() != Some(verified_hash.as_str()) {
                    let payload = refusal("password_changed", user.failed_sign_ins, None);
                    audit(tx, cx, kinds::AUDIT_SIGN_IN_FAILED, address, payload).await?;
                    return Ok(SignInOutcome::Refused { locked_until: None });
                }
                tx.update_sign_in(&user.id, 0, None).await?;
                tx.insert_token(session).await?;
                let payload = json!({ "principal": actor, "session": session.id, "expires_at": session.expires_at });
                audit(tx, cx, kinds::AUDIT_SIGN_IN, address, payload).await?;
                Ok(SignInOutcome::Opened)
            }
            SignInAttempt::Locked => {
                // Nothing was checked: it does not count, so knocking cannot keep a user out
                // for ever; the lock is the answer.
                let payload = refusal("locked", user.failed_sign_ins, locked);
                audit(tx, cx, kinds::AUDIT_SIGN_IN_FAILED, address, payload).await?;
                Ok(SignInOutcome::Refused { locked_until: locked })
            }
            SignInAttempt::WrongPassword => {
                // Every password actually checked counts, those admitted before a lock began
                // included, and a lock only grows.
                let failed = user.failed_sign_ins.saturating_add(1);
                let new_lock = sign_in_lock_ms(failed).map(|ms| Timestamp(cx.now.0.saturating_add(ms as i64)));
                let locked_until = match (user.locked_until, new_lock) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => b.or(a),
                };
                tx.update_sign_in(&user.id, failed, locked_until).await?;
                let locked_until = locked_until.filter(|until| cx.now < *until);
                let payload = refusal("invalid_credentials", failed, locked_until);
                audit(tx, cx, kinds::AUDIT_SIGN_IN_FAILED, address, payload).await?;
                Ok(SignInOutcome::Refused { locked_until })
            }
        }
    }
}

/// Replaces a user's password hash, lifts a sign-in lock, and revokes the user's sessions but
/// `keep` (a password change ends every other sign-in) — its tokens too with `revoke_tokens`
/// (a reset, when the password may have leaked); appends `audit.password_changed`. Answers the
/// revoked ids.
#[derive(Clone, PartialEq)]
pub struct SetPassword {
    /// The user's id.
    pub user: String,
    /// The new argon2id hash (PHC string).
    pub hash: String,
    /// The session to keep (the one changing the password).
    pub keep: Option<String>,
    /// Whether the user's tokens end too, not only its sessions (a reset).
    pub revoke_tokens: bool,
    /// Who changes it.
    pub by: Actor,
}

impl std::fmt::Debug for SetPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetPassword")
            .field("user", &self.user)
            .field("keep", &self.keep)
            .field("revoke_tokens", &self.revoke_tokens)
            .finish_non_exhaustive()
    }
}

request!(SetPassword => PasswordSet(Vec<String>));

impl Locking for SetPassword {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(SYSTEM_SPACE);
        locks.exclusive(format!("principal:{}", self.user));
    }
}

impl Command for SetPassword {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        match tx.principal_for_update(&self.user).await? {
            Some(p) if p.kind == PrincipalKind::User => {}
            _ => return Err(StoreError::PrincipalNotFound { id: self.user.clone() }.into()),
        }
        tx.set_password(&self.user, &self.hash).await?;
        tx.update_sign_in(&self.user, 0, None).await?;
        let revoked = tx.revoke_tokens_of(&self.user, cx.now, self.keep.as_deref(), !self.revoke_tokens).await?;
        let payload = json!({ "principal": self.by, "user": self.user, "revoked": revoked });
        audit(tx, cx, kinds::AUDIT_PASSWORD_CHANGED, principal_address(&self.user), payload).await?;
        Ok(revoked)
    }
}

/// Grants a principal a role on a pattern; appends `audit.grant_created`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateGrant {
    /// The grant.
    pub grant: GrantRecord,
    /// Who grants it.
    pub by: Actor,
}

request!(CreateGrant => GrantCreated);

impl Locking for CreateGrant {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(SYSTEM_SPACE);
        locks.exclusive(format!("principal:{}", self.grant.principal));
        locks.exclusive(format!("role:{}", self.grant.role));
    }
}

impl Command for CreateGrant {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let g = &self.grant;
        if tx.principal_for_update(&g.principal).await?.is_none() {
            return Err(StoreError::PrincipalNotFound { id: g.principal.clone() }.into());
        }
        require_role(tx, &g.role).await?;
        if !tx.insert_grant(g).await? {
            return Err(StoreError::GrantExists { role: g.role.clone(), pattern: g.pattern.clone() }.into());
        }
        let payload =
            json!({ "principal": self.by, "grant": g.id, "to": g.principal, "role": g.role, "pattern": g.pattern });
        audit(tx, cx, kinds::AUDIT_GRANT_CREATED, principal_address(&g.principal), payload).await
    }
}

/// Deletes a grant; appends `audit.grant_deleted`. Answers the grant deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteGrant {
    /// The grant's id.
    pub id: String,
    /// Who deletes it.
    pub by: Actor,
}

request!(DeleteGrant => GrantDeleted(GrantRecord));

impl Locking for DeleteGrant {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(SYSTEM_SPACE);
        locks.exclusive(format!("grant:{}", self.id));
    }
}

impl Command for DeleteGrant {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let Some(g) = tx.grant_for_update(&self.id).await? else {
            return Err(StoreError::GrantNotFound { id: self.id.clone() }.into());
        };
        tx.delete_grant(&self.id).await?;
        let payload =
            json!({ "principal": self.by, "grant": g.id, "to": g.principal, "role": g.role, "pattern": g.pattern });
        audit(tx, cx, kinds::AUDIT_GRANT_DELETED, principal_address(&g.principal), payload).await?;
        Ok(g)
    }
}

/// Stores or replaces a custom role (validated by the caller); appends `audit.role_put`.
/// Answers whether it was new.
#[derive(Debug, Clone, PartialEq)]
pub struct PutRole {
    /// The role.
    pub role: RoleRecord,
    /// Who puts it.
    pub by: Actor,
}

request!(PutRole => RolePut(bool));

impl Locking for PutRole {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(SYSTEM_SPACE);
        locks.exclusive(format!("role:{}", self.role.name));
    }
}

impl Command for PutRole {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        let created = tx.put_role(&self.role).await?;
        let payload = json!({
            "principal": self.by, "role": self.role.name, "permissions": self.role.permissions, "created": created,
        });
        audit(tx, cx, kinds::AUDIT_ROLE_PUT, format!("{SYSTEM_SPACE}:roles:{}", self.role.name), payload).await?;
        Ok(created)
    }
}

/// Deletes a custom role no grant names; appends `audit.role_deleted`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteRole {
    /// The role's name.
    pub name: String,
    /// Who deletes it.
    pub by: Actor,
}

request!(DeleteRole => RoleDeleted);

impl Locking for DeleteRole {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(SYSTEM_SPACE);
        locks.exclusive(format!("role:{}", self.name));
    }
}

impl Command for DeleteRole {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        if !tx.role_exists(&self.name).await? {
            return Err(StoreError::RoleNotFound { name: self.name.clone() }.into());
        }
        let grants = tx.grants_of_role(&self.name).await?;
        if grants > 0 {
            return Err(StoreError::RoleInUse { name: self.name.clone(), grants }.into());
        }
        tx.delete_role(&self.name).await?;
        let payload = json!({ "principal": self.by, "role": self.name });
        audit(tx, cx, kinds::AUDIT_ROLE_DELETED, format!("{SYSTEM_SPACE}:roles:{}", self.name), payload).await
    }
}

fn org_address(name: &str) -> String {
    format!("{SYSTEM_SPACE}:orgs:{name}")
}

/// Creates an org; appends `audit.org_created`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateOrg {
    /// The org (its name validated by the caller).
    pub org: OrgRecord,
    /// Who creates it.
    pub by: Actor,
}

request!(CreateOrg => OrgCreated);

impl Locking for CreateOrg {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(SYSTEM_SPACE);
        locks.exclusive(format!("org:{}", self.org.name));
    }
}

impl Command for CreateOrg {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        if !tx.insert_org(&self.org).await? {
            return Err(StoreError::OrgExists { name: self.org.name.clone() }.into());
        }
        let payload = json!({ "principal": self.by, "org": self.org.name });
        audit(tx, cx, kinds::AUDIT_ORG_CREATED, org_address(&self.org.name), payload).await
    }
}

/// Deletes an org that has no member and no project, with the grants on its projects written
/// `org/…` (so an org made again under the name does not inherit them); appends
/// `audit.org_deleted`. Answers the grants deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteOrg {
    /// The org's name.
    pub name: String,
    /// Who deletes it.
    pub by: Actor,
}

request!(DeleteOrg => OrgDeleted(Vec<String>));

impl Locking for DeleteOrg {
    fn locks<'a>(&'a self, locks: &mut Locks<'a>) {
        locks.writes_into(SYSTEM_SPACE);
        locks.exclusive(format!("org:{}", self.name));
    }
}

impl Command for DeleteOrg {
    async fn apply<T: Tables>(&self, tx: &mut T, cx: &mut Cx<'_>) -> TxResult<Self::Output> {
        if tx.org_for_update(&self.name).await?.is_none() {
            return Err(StoreError::OrgNotFound { name: self.name.clone() }.into());
        }
        let (members, projects) = tx.org_holdings(&self.name).await?;
        if members > 0 || projects > 0 {
            return Err(StoreError::OrgInUse { name: self.name.clone(), members, projects }.into());
        }
        let grants = tx.delete_org(&self.name).await?;
        let payload = json!({ "principal": self.by, "org": self.name, "grants_deleted": grants });
        audit(tx, cx, kinds::AUDIT_ORG_DELETED, org_address(&self.name), payload).await?;
        Ok(grants)
    }
}
