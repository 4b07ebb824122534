//! Orgs, their projects and their members.
//!
//! An org groups spaces: its projects are the spaces named `org.project`
//! ([`switchyard_model::orgs`]). Its admins are whoever holds `members:write` on every address
//! of every project (`org/*:*` — the built-in `space-admin` there does): they create and
//! delete the org's members, reset their passwords, and grant them roles within what they
//! hold themselves, without any permission on the system.
//!
//! Invariants:
//! - Making or deleting an org is the system's (`orgs:write` on `*`); an org with a member or a
//!   project is not deleted, and deleting one deletes the grants on `org/…` patterns.
//! - A member is managed only through its own org: an org admin cannot reach a principal of
//!   another org, or of the system, by naming its id; and only by an admin who holds every
//!   grant the member holds, so a member given more than its admin (by a system admin) is out
//!   of that admin's reach — no one takes over an account that can do more than they can.
//! - An org is shown only to a principal some grant of which reaches one of its projects.

use switchyard_model::{AddressPattern, OrgName, OrgRecord, Permission, SpaceRecord, permissions, split_project};
use switchyard_store::{CreateOrg, DeleteOrg};

use crate::access::{NewPrincipal, Principal, PrincipalView};
use crate::{Engine, EngineError};

/// An org as shown: its record and the projects the caller reaches.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgView {
    /// The org.
    pub record: OrgRecord,
    /// Its projects (spaces) the caller reaches, by name.
    pub projects: Vec<ProjectView>,
}

/// A project of an org.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectView {
    /// Its name within the org (`orders`).
    pub name: String,
    /// Its space (`acme.orders`).
    pub space: SpaceRecord,
}

/// Parses an org name from outside.
pub fn parse_org(s: &str) -> Result<OrgName, EngineError> {
    OrgName::new(s).map_err(|e| EngineError::validation(e.to_string()))
}

impl Engine {
    /// Ok when `principal` holds `permission` on every address of every project of `org`: the
    /// check of an org's routes.
    pub fn authorise_org(&self, principal: &Principal, permission: Permission, org: &str) -> Result<(), EngineError> {
        let org = parse_org(org)?;
        if principal.allows_everywhere(permission, &AddressPattern::org_projects(&org)) {
            return Ok(());
        }
        Err(EngineError::Forbidden(format!(
            "{} \"{}\" has no grant of {permission} on \"{org}/*:*\" (every project of org \"{org}\")",
            principal.kind, principal.name
        )))
    }

    /// Makes an org.
    pub async fn create_org(&self, by: &Principal, name: &str) -> Result<OrgRecord, EngineError> {
        by.require(permissions::ORGS_WRITE, &[] as &[&str])?;
        let name = parse_org(name)?;
        let org = OrgRecord { name: name.as_str().to_string(), created_at: self.now() };
        self.execute(CreateOrg { org: org.clone(), by: by.actor() }).await?;
        Ok(org)
    }

    /// Deletes an org that has no member and no project.
    pub async fn delete_org(&self, by: &Principal, name: &str) -> Result<(), EngineError> {
        by.require(permissions::ORGS_WRITE, &[] as &[&str])?;
        let name = parse_org(name)?;
        let grants = self.execute(DeleteOrg { name: name.as_str().to_string(), by: by.actor() }).await?;
        if !grants.is_empty() {
            // Whose grants went is not known here: every principal reads its grants again.
            self.tokens.evict_all();
        }
        Ok(())
    }

    /// The orgs `by` reaches a project of, with the projects it reaches.
    pub async fn list_orgs(&self, by: &Principal) -> Result<Vec<OrgView>, EngineError> {
        let (orgs, spaces) = tokio::try_join!(self.store.list_orgs(), self.store.list_spaces())?;
        Ok(orgs
            .into_iter()
            .filter(|org| by.reaches_org(&org.name))
            .map(|record| {
                let projects = projects_of(&record.name, &spaces, by);
                OrgView { record, projects }
            })
            .collect())
    }

    /// One org `by` reaches a project of.
    pub async fn get_org(&self, by: &Principal, name: &str) -> Result<OrgView, EngineError> {
        let name = parse_org(name)?;
        let (orgs, spaces) = tokio::try_join!(self.store.list_orgs(), self.store.list_spaces())?;
        let not_found = || EngineError::NotFound(format!("org \"{name}\" not found"));
        let record = orgs.into_iter().find(|o| o.name == name.as_str()).ok_or_else(not_found)?;
        // An org the caller reaches nothing of is not shown, not even as existing.
        if !by.reaches_org(&record.name) {
            return Err(not_found());
        }
        let projects = projects_of(&record.name, &spaces, by);
        Ok(OrgView { record, projects })
    }

    /// The members of `org`, with the grants of theirs `by` may see.
    pub async fn list_members(&self, by: &Principal, org: &str) -> Result<Vec<PrincipalView>, EngineError> {
        self.authorise_org(by, permissions::MEMBERS_READ, org)?;
        self.require_org(org).await?;
        // Two reads, whatever the org's size: the principals, and the grants `by` may see.
        let (principals, visible) =
            tokio::try_join!(async { Ok(self.store.list_principals().await?) }, self.list_grants(by, None))?;
        Ok(principals
            .into_iter()
            .filter(|p| p.org.as_deref() == Some(org))
            .map(|record| {
                let grants = visible.iter().filter(|g| g.principal == record.id).cloned().collect();
                PrincipalView { record, grants }
            })
            .collect())
    }

    /// Creates a member of `org` with its first grants, each within what `by` holds.
    pub async fn create_member(
        &self,
        by: &Principal,
        org: &str,
        new: NewPrincipal,
    ) -> Result<PrincipalView, EngineError> {
        self.authorise_org(by, permissions::MEMBERS_WRITE, org)?;
        self.insert_principal(by, new, Some(org)).await
    }

    /// Deletes a member of `org` (its grants go, its tokens are revoked).
    pub async fn delete_member(&self, by: &Principal, org: &str, id: &str) -> Result<Vec<String>, EngineError> {
        self.authorise_org(by, permissions::MEMBERS_WRITE, org)?;
        self.require_manages(by, org, id).await?;
        self.remove_principal(by, id).await
    }

    /// Resets a member's password: its lock lifts, its sessions and tokens end.
    pub async fn reset_member_password(
        &self,
        by: &Principal,
        org: &str,
        id: &str,
        new: &str,
    ) -> Result<Vec<String>, EngineError> {
        self.authorise_org(by, permissions::MEMBERS_WRITE, org)?;
        self.require_manages(by, org, id).await?;
        self.set_password_of(by, id, new).await
    }

    async fn require_org(&self, org: &str) -> Result<(), EngineError> {
        if self.store.list_orgs().await?.iter().any(|o| o.name == org) {
            Ok(())
        } else {
            Err(EngineError::NotFound(format!("org \"{org}\" not found")))
        }
    }

    /// Fails unless `id` is a member of `org` whose every grant `by` holds too: a principal
    /// of another org, or of none, is answered as not found, so an org admin learns nothing of
    /// it; one that holds more than `by` is refused.
    async fn require_manages(&self, by: &Principal, org: &str, id: &str) -> Result<(), EngineError> {
        match self.store.get_principal(id).await? {
            Some(p) if p.org.as_deref() == Some(org) => {}
            _ => return Err(EngineError::NotFound(format!("org \"{org}\" has no member \"{id}\""))),
        }
        let (grants, custom) = tokio::try_join!(self.store.list_grants(Some(id)), self.store.list_roles())?;
        for g in &grants {
            let Some(role) = crate::access::resolve_role(&g.role, &custom) else { continue };
            let Ok(pattern) = AddressPattern::parse(&g.pattern) else { continue };
            if !by.covers(&role, &pattern) {
                return Err(EngineError::Forbidden(format!(
                    "member \"{id}\" holds role \"{}\" on \"{}\", more than {} \"{}\" holds there; only an admin \
                     who holds every grant of a member manages it",
                    g.role, g.pattern, by.kind, by.name
                )));
            }
        }
        Ok(())
    }

    /// Whether `by` manages principal `id` as an admin of its org (see [`Engine::delete_member`]):
    /// what lets an org admin mint tokens for the org's service accounts.
    pub(crate) async fn manages_member(&self, by: &Principal, id: &str) -> Result<bool, EngineError> {
        let Some(org) = self.store.get_principal(id).await?.and_then(|p| p.org) else {
            return Ok(false);
        };
        if self.authorise_org(by, permissions::MEMBERS_WRITE, &org).is_err() {
            return Ok(false);
        }
        Ok(self.require_manages(by, &org, id).await.is_ok())
    }
}

/// The projects of `org` among `spaces` that `by` reaches.
fn projects_of(org: &str, spaces: &[SpaceRecord], by: &Principal) -> Vec<ProjectView> {
    spaces
        .iter()
        .filter_map(|space| {
            let (o, project) = split_project(space.name.as_str())?;
            (o == org && by.reaches_space(space.name.as_str()))
                .then(|| ProjectView { name: project.to_string(), space: space.clone() })
        })
        .collect()
}
