//! `switchyard auth …`, `user …`, `org …`, `grant …`, `role …` and `audit`: signing in,
//! principals, orgs and their members, what they may do where, and the record of who did what.
//!
//! Passwords are read from standard input only (never from an argument, which `ps` and shell
//! history would show).

use std::io::{IsTerminal, Read};

use serde_json::{Value, json};
use switchyard_client::Client;

use crate::UsageError;
use crate::config::Settings;
use crate::output::{self, fields, table};

/// `auth` commands: sign-in sessions and the caller itself.
#[derive(Debug, clap::Subcommand)]
pub enum AuthCommand {
    /// Signs a user in with the password on standard input; prints the session token
    /// (use it as SWITCHYARD_TOKEN or --token) and when it ends.
    #[command(visible_alias = "login")]
    SignIn {
        /// The user's name.
        #[arg(long, value_name = "NAME")]
        name: String,
    },
    /// Ends the session (or revokes the token) in use.
    #[command(visible_alias = "logout")]
    SignOut,
    /// Shows who the token in use stands for and its grants.
    Whoami,
    /// Changes the signed-in user's password: standard input holds the current password on its
    /// first line and the new one on its second. The user's other sessions end.
    Password,
}

/// `user` commands: users and service accounts (needs a grant on `*`).
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Creates a user, whose password is read from standard input, or with --service a service
    /// account (it signs in with tokens only: `switchyard token create --principal ID`).
    #[command(visible_alias = "add")]
    Create {
        /// The name (a user signs in with it).
        name: String,
        /// A service account, not a person.
        #[arg(long)]
        service: bool,
        /// A first grant as ROLE=PATTERN (repeatable), e.g. space-writer=acme:*.
        #[arg(long = "grant", value_name = "ROLE=PATTERN", value_parser = parse_grant)]
        grants: Vec<(String, String)>,
    },
    /// Lists users and service accounts with their grants.
    #[command(visible_alias = "ls")]
    List,
    /// Shows one principal and its grants.
    #[command(visible_alias = "show")]
    Get {
        /// The principal's id.
        id: String,
    },
    /// Deletes a principal and its grants, and revokes its tokens.
    #[command(visible_aliases = ["rm", "del"])]
    Delete {
        /// The principal's id.
        id: String,
    },
    /// Sets a user's password from standard input (a reset: it also lifts a sign-in lock and
    /// ends the user's sessions).
    Password {
        /// The user's id.
        id: String,
    },
}

/// `org` commands: orgs, their projects (the spaces named `org.project`) and their members.
#[derive(Debug, clap::Subcommand)]
pub enum OrgCommand {
    /// Creates an org (needs a grant on `*`); then grant its admins space-admin on ORG/*:*.
    #[command(visible_alias = "add")]
    Create {
        /// The org's name (a-z, 0-9, "-", "_"; no ".").
        name: String,
    },
    /// Lists the orgs the token reaches a project of, with those projects.
    #[command(visible_alias = "ls")]
    List,
    /// Shows an org and its projects (`acme/orders` is the space `acme.orders`).
    #[command(visible_alias = "show")]
    Get {
        /// The org's name.
        name: String,
    },
    /// Deletes an org that has no members and no projects left, and the grants written on
    /// ORG/… (so an org made again under the name does not inherit them).
    #[command(visible_aliases = ["rm", "del"])]
    Delete {
        /// The org's name.
        name: String,
    },
    /// Lists an org's members with their grants (an org admin's).
    Members {
        /// The org's name.
        org: String,
    },
    /// Creates a member of an org (an org admin's): a user, whose password is read from
    /// standard input, or with --service a service account.
    AddMember {
        /// The org's name.
        org: String,
        /// The member's name (a user signs in with it).
        name: String,
        /// A service account, not a person.
        #[arg(long)]
        service: bool,
        /// A first grant as ROLE=PATTERN (repeatable), e.g. space-writer=acme/orders:*.
        #[arg(long = "grant", value_name = "ROLE=PATTERN", value_parser = parse_grant)]
        grants: Vec<(String, String)>,
    },
    /// Deletes a member of an org and its grants, and revokes its tokens.
    RemoveMember {
        /// The org's name.
        org: String,
        /// The member's id.
        id: String,
    },
    /// Sets a member's password from standard input (a reset: lifts a sign-in lock, ends the
    /// member's sessions and tokens).
    ResetPassword {
        /// The org's name.
        org: String,
        /// The member's id.
        id: String,
    },
}

/// `grant` commands: roles on address patterns.
#[derive(Debug, clap::Subcommand)]
pub enum GrantCommand {
    /// Grants a principal a role on an address pattern (`acme:*`, `acme:orders:*`, `*`).
    #[command(visible_alias = "add")]
    Create {
        /// The principal's id.
        #[arg(long, value_name = "ID")]
        principal: String,
        /// The role (space-reader, space-writer, space-admin, sys-admin, or a custom one).
        #[arg(long)]
        role: String,
        /// Where.
        #[arg(long, value_name = "PATTERN")]
        pattern: String,
    },
    /// Lists the grants the token in use may see.
    #[command(visible_alias = "ls")]
    List {
        /// Only this principal's.
        #[arg(long, value_name = "ID")]
        principal: Option<String>,
    },
    /// Deletes a grant.
    #[command(visible_aliases = ["rm", "del", "revoke"])]
    Delete {
        /// The grant's id.
        id: String,
    },
}

/// `role` commands: built-in and custom roles.
#[derive(Debug, clap::Subcommand)]
pub enum RoleCommand {
    /// Lists the roles and their permissions.
    #[command(visible_alias = "ls")]
    List,
    /// Stores or replaces a custom role; every grant of it follows at once.
    Put {
        /// The role's name (a-z, 0-9, "-", "_").
        name: String,
        /// A permission (repeatable): a level (read, write, execute, admin, system), one such as
        /// functions:deploy, or a family such as jobs:*.
        #[arg(long = "permission", value_name = "PERMISSION", required = true)]
        permissions: Vec<String>,
    },
    /// Deletes a custom role no grant names.
    #[command(visible_aliases = ["rm", "del"])]
    Delete {
        /// The role's name.
        name: String,
    },
}

/// Arguments of `switchyard audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Only records after this seq.
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    pub after: u64,
    /// Only records of this kind (repeatable), e.g. audit.sign_in_failed.
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// At most this many records.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// Parses ROLE=PATTERN.
pub(crate) fn parse_grant(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((role, pattern)) if !role.is_empty() && !pattern.is_empty() => Ok((role.into(), pattern.into())),
        _ => Err(format!("\"{text}\" is not ROLE=PATTERN (e.g. space-writer=acme:*)")),
    }
}

/// The lines of standard input, which must be a pipe or a file (not a terminal).
fn stdin_lines(what: &str) -> anyhow::Result<Vec<String>> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(UsageError(format!("pipe {what} on standard input (never as an argument)")).into());
    }
    let mut text = String::new();
    stdin.read_to_string(&mut text).map_err(|e| UsageError(format!("reading standard input: {e}")))?;
    Ok(text.lines().map(|l| l.trim_end_matches('\r').to_string()).collect())
}

fn first_line(what: &str) -> anyhow::Result<String> {
    stdin_lines(what)?
        .into_iter()
        .next()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| UsageError(format!("standard input holds no {what}")).into())
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    }
}

fn grants_text(v: &Value) -> String {
    let grants = v.get("grants").and_then(Value::as_array).cloned().unwrap_or_default();
    if grants.is_empty() {
        return "-".into();
    }
    grants.iter().map(|g| format!("{}={}", text(g, "role"), text(g, "pattern"))).collect::<Vec<_>>().join(" ")
}

fn principal_text(p: &Value) -> String {
    fields(&[
        ("id", text(p, "id")),
        ("kind", text(p, "kind")),
        ("name", text(p, "name")),
        ("org", text(p, "org")),
        ("created", text(p, "created_at")),
        ("locked until", text(p, "locked_until")),
        ("grants", grants_text(p)),
    ])
}

/// Runs `switchyard auth …`.
pub async fn auth(cmd: AuthCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let out = settings.output;
    match cmd {
        AuthCommand::SignIn { name } => {
            let password = first_line("the password")?;
            let session = client.sign_in(&name, &password).await?;
            output::print(out, &session, |s| {
                let mut t = fields(&[
                    ("token", text(s, "token")),
                    ("session", text(s, "id")),
                    ("user", text(s.get("user").unwrap_or(&Value::Null), "id")),
                    ("expires", text(s, "expires_at")),
                ]);
                t.push_str("\nThe token is shown only this once: use it as SWITCHYARD_TOKEN or --token.\n");
                t
            })
        }
        AuthCommand::SignOut => {
            client.sign_out().await?;
            output::print(out, &json!({ "signed_out": true }), |_| "signed out\n".into())
        }
        AuthCommand::Whoami => {
            let me = client.me().await?;
            output::print(out, &me, |m| {
                let grants = m.get("grants").and_then(Value::as_array).cloned().unwrap_or_default();
                let grants: Vec<String> =
                    grants.iter().map(|g| format!("{}={}", text(g, "role"), text(g, "pattern"))).collect();
                fields(&[
                    ("id", text(m, "id")),
                    ("kind", text(m, "kind")),
                    ("name", text(m, "name")),
                    ("token", text(m, "token")),
                    ("expires", text(m, "expires_at")),
                    ("grants", if grants.is_empty() { "-".into() } else { grants.join(" ") }),
                ])
            })
        }
        AuthCommand::Password => {
            let lines = stdin_lines("the current and the new password (one per line)")?;
            let [current, new, ..] = lines.as_slice() else {
                return Err(UsageError(
                    "standard input needs two lines: the current password, then the new one".into(),
                )
                .into());
            };
            let reply = client.change_password(current, new).await?;
            output::print(out, &reply, |r| {
                let n = r.get("sessions_revoked").and_then(Value::as_array).map_or(0, Vec::len);
                format!("password changed; {n} other session(s) ended\n")
            })
        }
    }
}

/// Runs `switchyard user …`.
pub async fn user(cmd: UserCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let out = settings.output;
    match cmd {
        UserCommand::Create { name, service, grants } => {
            let password = if service { None } else { Some(first_line("the password")?) };
            let kind = if service { "service" } else { "user" };
            let created = client.create_principal(kind, &name, password.as_deref(), &grants).await?;
            output::print(out, &created, principal_text)
        }
        UserCommand::List => {
            let list = client.list_principals().await?;
            output::print(out, &list, |l| {
                let rows: Vec<Vec<String>> = l
                    .get("principals")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|p| vec![text(p, "id"), text(p, "kind"), text(p, "name"), grants_text(p)])
                    .collect();
                table(&["ID", "KIND", "NAME", "GRANTS"], &rows)
            })
        }
        UserCommand::Get { id } => {
            let p = client.get_principal(&id).await?;
            output::print(out, &p, principal_text)
        }
        UserCommand::Delete { id } => {
            let reply = client.delete_principal(&id).await?;
            output::print(out, &reply, |r| {
                let n = r.get("tokens_revoked").and_then(Value::as_array).map_or(0, Vec::len);
                format!("deleted {id}; {n} token(s) revoked\n")
            })
        }
        UserCommand::Password { id } => {
            let password = first_line("the new password")?;
            let reply = client.reset_password(&id, &password).await?;
            output::print(out, &reply, |r| {
                let n = r.get("sessions_revoked").and_then(Value::as_array).map_or(0, Vec::len);
                format!("password set; {n} session(s) and token(s) ended\n")
            })
        }
    }
}

fn org_text(o: &Value) -> String {
    let projects: Vec<String> = o
        .get("projects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| format!("{} (space {})", text(p, "project"), text(p, "space")))
        .collect();
    let projects = if projects.is_empty() { "-".to_string() } else { projects.join(", ") };
    fields(&[("org", text(o, "name")), ("created", text(o, "created_at")), ("projects", projects)])
}

/// Runs `switchyard org …`.
pub async fn org(cmd: OrgCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let out = settings.output;
    let revoked = |r: &Value, key: &str| r.get(key).and_then(Value::as_array).map_or(0, Vec::len);
    match cmd {
        OrgCommand::Create { name } => {
            let org = client.create_org(&name).await?;
            output::print(out, &org, org_text)
        }
        OrgCommand::List => {
            let list = client.list_orgs().await?;
            output::print(out, &list, |l| {
                let rows: Vec<Vec<String>> = l
                    .get("orgs")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|o| {
                        let n = o.get("projects").and_then(Value::as_array).map_or(0, Vec::len);
                        vec![text(o, "name"), n.to_string(), text(o, "created_at")]
                    })
                    .collect();
                table(&["ORG", "PROJECTS", "CREATED"], &rows)
            })
        }
        OrgCommand::Get { name } => {
            let org = client.get_org(&name).await?;
            output::print(out, &org, org_text)
        }
        OrgCommand::Delete { name } => {
            client.delete_org(&name).await?;
            output::print(out, &json!({ "deleted": name }), |_| format!("deleted org {name}\n"))
        }
        OrgCommand::Members { org } => {
            let list = client.list_members(&org).await?;
            output::print(out, &list, |l| {
                let rows: Vec<Vec<String>> = l
                    .get("members")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|p| vec![text(p, "id"), text(p, "kind"), text(p, "name"), grants_text(p)])
                    .collect();
                table(&["ID", "KIND", "NAME", "GRANTS"], &rows)
            })
        }
        OrgCommand::AddMember { org, name, service, grants } => {
            let password = if service { None } else { Some(first_line("the password")?) };
            let kind = if service { "service" } else { "user" };
            let created = client.create_member(&org, kind, &name, password.as_deref(), &grants).await?;
            output::print(out, &created, principal_text)
        }
        OrgCommand::RemoveMember { org, id } => {
            let reply = client.delete_member(&org, &id).await?;
            output::print(out, &reply, |r| format!("deleted {id}; {} token(s) revoked\n", revoked(r, "tokens_revoked")))
        }
        OrgCommand::ResetPassword { org, id } => {
            let password = first_line("the new password")?;
            let reply = client.reset_member_password(&org, &id, &password).await?;
            output::print(out, &reply, |r| {
                format!("password set; {} session(s) and token(s) ended\n", revoked(r, "sessions_revoked"))
            })
        }
    }
}

/// Runs `switchyard grant …`.
pub async fn grant(cmd: GrantCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let out = settings.output;
    match cmd {
        GrantCommand::Create { principal, role, pattern } => {
            let g = client.create_grant(&principal, &role, &pattern).await?;
            output::print(out, &g, |g| {
                fields(&[
                    ("id", text(g, "id")),
                    ("principal", text(g, "principal")),
                    ("role", text(g, "role")),
                    ("pattern", text(g, "pattern")),
                ])
            })
        }
        GrantCommand::List { principal } => {
            let list = client.list_grants(principal.as_deref()).await?;
            output::print(out, &list, |l| {
                let rows: Vec<Vec<String>> = l
                    .get("grants")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|g| vec![text(g, "id"), text(g, "principal"), text(g, "role"), text(g, "pattern")])
                    .collect();
                table(&["ID", "PRINCIPAL", "ROLE", "PATTERN"], &rows)
            })
        }
        GrantCommand::Delete { id } => {
            client.delete_grant(&id).await?;
            output::print(out, &json!({ "deleted": id }), |_| format!("deleted grant {id}\n"))
        }
    }
}

/// Runs `switchyard role …`.
pub async fn role(cmd: RoleCommand, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let out = settings.output;
    match cmd {
        RoleCommand::List => {
            let list = client.list_roles().await?;
            output::print(out, &list, |l| {
                let rows: Vec<Vec<String>> = l
                    .get("roles")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        let permissions: Vec<String> = r
                            .get("permissions")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(|p| p.as_str().map(str::to_string))
                            .collect();
                        let builtin = r.get("builtin").and_then(Value::as_bool).unwrap_or(false);
                        vec![text(r, "name"), if builtin { "yes" } else { "no" }.into(), permissions.join(",")]
                    })
                    .collect();
                table(&["NAME", "BUILT-IN", "PERMISSIONS"], &rows)
            })
        }
        RoleCommand::Put { name, permissions } => {
            let role = client.put_role(&name, &permissions).await?;
            output::print(out, &role, |r| format!("role {} stored\n", text(r, "name")))
        }
        RoleCommand::Delete { name } => {
            client.delete_role(&name).await?;
            output::print(out, &json!({ "deleted": name }), |_| format!("deleted role {name}\n"))
        }
    }
}

/// Runs `switchyard audit`: audit records, oldest first, page by page until the log holds no
/// more.
pub async fn audit(args: AuditArgs, client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let kinds = args.kinds.join(",");
    let mut after = args.after;
    let mut records: Vec<Value> = Vec::new();
    loop {
        let remaining = args.limit.map(|l| l.saturating_sub(records.len()));
        if remaining == Some(0) {
            break;
        }
        let page_limit = remaining.map_or(1000, |r| r.min(1000));
        let page = client.read_audit(after, (!kinds.is_empty()).then_some(kinds.as_str()), page_limit).await?;
        let next = page.get("next_after").and_then(Value::as_u64).unwrap_or(after);
        let got = page.get("records").and_then(Value::as_array).cloned().unwrap_or_default();
        records.extend(got);
        // `next_after` is how far the read covered the log: no further, and it is all read.
        if next <= after {
            break;
        }
        after = next;
    }
    if let Some(limit) = args.limit {
        records.truncate(limit);
    }
    let value = json!({ "records": records });
    output::print(settings.output, &value, |v| {
        let rows: Vec<Vec<String>> = v
            .get("records")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|r| {
                let payload = r.get("payload").cloned().unwrap_or(Value::Null);
                let who = payload.get("principal").map(|p| format!("{} {}", text(p, "kind"), text(p, "name")));
                let mut rest = payload.clone();
                if let Some(obj) = rest.as_object_mut() {
                    obj.remove("principal");
                }
                vec![
                    text(r, "seq"),
                    text(r, "created_at"),
                    text(r, "kind"),
                    who.unwrap_or_else(|| "-".into()),
                    rest.to_string(),
                ]
            })
            .collect();
        table(&["SEQ", "AT", "KIND", "BY", "DETAILS"], &rows)
    })
}
