//! Users, service accounts, sign-in, grants, roles, orgs and quotas (`docs/security.md`). Answers are JSON
//! values: the shapes are in the OpenAPI document and tolerate fields this client does not know.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{Client, ClientError};

impl Client {
    /// Signs a user in; the reply's `token` is the session's secret, shown this once.
    pub async fn sign_in(&self, name: &str, password: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "auth", "sign-in"], &[])?;
        self.json(self.request(Method::POST, url).json(&json!({ "name": name, "password": password }))).await
    }

    /// Ends the session (or revokes the token) this client uses.
    pub async fn sign_out(&self) -> Result<(), ClientError> {
        let url = self.url(&["v1", "auth", "sign-out"], &[])?;
        self.empty(self.request(Method::POST, url)).await
    }

    /// Who this client's token stands for, and its grants.
    pub async fn me(&self) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "auth", "me"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Changes the signed-in user's password; the user's other sessions end.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "auth", "password"], &[])?;
        self.json(self.request(Method::POST, url).json(&json!({ "current": current, "new": new }))).await
    }

    /// Creates a user (`kind` "user", with a password) or a service account ("service").
    pub async fn create_principal(
        &self,
        kind: &str,
        name: &str,
        password: Option<&str>,
        grants: &[(String, String)],
    ) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "principals"], &[])?;
        self.json(self.request(Method::POST, url).json(&principal_body(kind, name, password, grants))).await
    }

    /// Creates an org; its projects are the spaces named `org.project`.
    pub async fn create_org(&self, name: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "orgs"], &[])?;
        self.json(self.request(Method::POST, url).json(&json!({ "name": name }))).await
    }

    /// The orgs this client reaches a project of, with those projects.
    pub async fn list_orgs(&self) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "orgs"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// One org and the projects of it this client reaches.
    pub async fn get_org(&self, org: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "orgs", org], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Deletes an org without members or projects.
    pub async fn delete_org(&self, org: &str) -> Result<(), ClientError> {
        let url = self.url(&["v1", "orgs", org], &[])?;
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// An org's members with their grants.
    pub async fn list_members(&self, org: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "orgs", org, "members"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Creates a member of an org: a user (`kind` "user", with a password) or a service account.
    pub async fn create_member(
        &self,
        org: &str,
        kind: &str,
        name: &str,
        password: Option<&str>,
        grants: &[(String, String)],
    ) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "orgs", org, "members"], &[])?;
        self.json(self.request(Method::POST, url).json(&principal_body(kind, name, password, grants))).await
    }

    /// Deletes a member of an org and its grants, and revokes its tokens.
    pub async fn delete_member(&self, org: &str, id: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "orgs", org, "members", id], &[])?;
        self.json(self.request(Method::DELETE, url)).await
    }

    /// Resets a member's password (by an admin of its org).
    pub async fn reset_member_password(&self, org: &str, id: &str, password: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "orgs", org, "members", id, "password"], &[])?;
        self.json(self.request(Method::PUT, url).json(&json!({ "password": password }))).await
    }

    /// Every user and service account.
    pub async fn list_principals(&self) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "principals"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// One principal with its grants.
    pub async fn get_principal(&self, id: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "principals", id], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Deletes a principal and its grants, and revokes its tokens.
    pub async fn delete_principal(&self, id: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "principals", id], &[])?;
        self.json(self.request(Method::DELETE, url)).await
    }

    /// Sets a user's password (a reset by a system admin).
    pub async fn reset_password(&self, id: &str, password: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "principals", id, "password"], &[])?;
        self.json(self.request(Method::PUT, url).json(&json!({ "password": password }))).await
    }

    /// Grants a principal a role on an address pattern.
    pub async fn create_grant(&self, principal: &str, role: &str, pattern: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "grants"], &[])?;
        let body = json!({ "principal": principal, "role": role, "pattern": pattern });
        self.json(self.request(Method::POST, url).json(&body)).await
    }

    /// The grants this client may see, of one principal or all.
    pub async fn list_grants(&self, principal: Option<&str>) -> Result<Value, ClientError> {
        let query: Vec<(&str, &str)> = principal.map(|p| ("principal", p)).into_iter().collect();
        let url = self.url(&["v1", "grants"], &query)?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Deletes a grant.
    pub async fn delete_grant(&self, id: &str) -> Result<(), ClientError> {
        let url = self.url(&["v1", "grants", id], &[])?;
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// Every role, built-in and custom.
    pub async fn list_roles(&self) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "roles"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Stores or replaces a custom role.
    pub async fn put_role(&self, name: &str, permissions: &[String]) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "roles", name], &[])?;
        self.json(self.request(Method::PUT, url).json(&json!({ "permissions": permissions }))).await
    }

    /// Deletes a custom role no grant names.
    pub async fn delete_role(&self, name: &str) -> Result<(), ClientError> {
        let url = self.url(&["v1", "roles", name], &[])?;
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// Audit records after `after` (of `kinds`, comma-separated, when given), at most `limit`;
    /// the reply's `next_after` is where the next page starts.
    pub async fn read_audit(&self, after: u64, kinds: Option<&str>, limit: usize) -> Result<Value, ClientError> {
        let after = after.to_string();
        let limit = limit.to_string();
        let mut query: Vec<(&str, &str)> = vec![("after", &after), ("limit", &limit)];
        if let Some(kinds) = kinds {
            query.push(("kind", kinds));
        }
        let url = self.url(&["v1", "audit"], &query)?;
        self.json(self.request(Method::GET, url)).await
    }

    /// A space's quota: `{"space", "quota"}`, the quota `{}` when it has none.
    pub async fn get_quota(&self, space: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, "quota"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }

    /// Replaces a space's quota (`quota` is an object of limits; one left out is no limit);
    /// answers `{"space", "quota", "changed"}`. Needs `quotas:write`, which only the system's
    /// roles hold.
    pub async fn set_quota(&self, space: &str, quota: &Value) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, "quota"], &[])?;
        self.json(self.request(Method::PUT, url).json(quota)).await
    }

    /// Removes every limit of a space.
    pub async fn delete_quota(&self, space: &str) -> Result<(), ClientError> {
        let url = self.url(&["v1", "spaces", space, "quota"], &[])?;
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// What a space may hold and do, holds, and did (`GET /v1/spaces/{space}/usage`).
    pub async fn space_usage(&self, space: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "spaces", space, "usage"], &[])?;
        self.json(self.request(Method::GET, url)).await
    }
}

/// The body creating a principal: its kind, name, a user's password, first grants.
fn principal_body(kind: &str, name: &str, password: Option<&str>, grants: &[(String, String)]) -> Value {
    let grants: Vec<Value> = grants.iter().map(|(role, pattern)| json!({ "role": role, "pattern": pattern })).collect();
    let mut body = json!({ "kind": kind, "name": name, "grants": grants });
    if let Some(password) = password {
        body["password"] = json!(password);
    }
    body
}
