//! Conformance cases for principals, grants, custom roles, sign-ins and their audit records.
//!
//! What they prove, on every backend: a principal is stored with its first grants and read
//! back (by id, by a user's name, in the list), a user's name is unique, a grant is unique per
//! role and pattern and needs an existing principal and role, a role in use is not deleted;
//! failed sign-ins count under the row lock and lock after the free ones; a right password
//! opens nothing while locked or once the password changed; a success resets them and stores
//! the session; a password change ends the other sessions (a reset, the tokens too); deleting a
//! principal revokes its tokens and drops its grants; an org's name is unique, a member needs
//! its org, and an org with a member or a project (a space named `org.…`) is not deleted; and
//! every one of these acts appends its audit record to the system space, with who acted, and
//! nothing else does.

use switchyard_model::{
    Actor, FREE_SIGN_IN_FAILURES, GrantRecord, OrgRecord, PrincipalKind, PrincipalRecord, Role, RoleRecord,
    SYSTEM_SPACE, Seq, SpaceGrant, Timestamp, TokenRecord, kinds,
};

use super::{Case, Harness, order_definition, seg, space};
use crate::{
    CreateGrant, CreateOrg, CreatePrincipal, CreateToken, DeleteGrant, DeleteOrg, DeletePrincipal, DeleteRole,
    DeleteSpace, PutMachine, PutRole, RecordSignIn, SetPassword, SignInAttempt, SignInOutcome, Store, StoreError,
    StoreExt,
};

/// This module's cases, by name.
pub(super) fn cases<H: Harness>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("principals_grants_and_roles_are_kept_consistent", |h| Box::pin(principals_grants_roles(h))),
        ("sign_ins_count_lock_and_open_sessions", |h| Box::pin(sign_ins(h))),
        ("orgs_keep_their_members_and_projects", |h| Box::pin(orgs(h))),
    ]
}

fn admin() -> Actor {
    Actor { id: "tok_admin".into(), kind: "token".into(), name: "admin".into() }
}

fn user(id: &str, name: &str) -> PrincipalRecord {
    PrincipalRecord {
        id: id.into(),
        kind: PrincipalKind::User,
        name: name.into(),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into()),
        failed_sign_ins: 0,
        locked_until: None,
        created_at: Timestamp(1_000),
        org: None,
    }
}

fn grant(id: &str, principal: &str, role: &str, pattern: &str) -> GrantRecord {
    GrantRecord {
        id: id.into(),
        principal: principal.into(),
        role: role.into(),
        pattern: pattern.into(),
        created_at: Timestamp(1_000),
    }
}

fn token_of(id: &str, principal: &str, session: bool) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        name: id.into(),
        secret_hash: format!("hash-{id}"),
        role: Role::Admin,
        spaces: SpaceGrant::All,
        created_at: Timestamp(1_000),
        revoked_at: None,
        principal: Some(principal.into()),
        expires_at: session.then_some(Timestamp(i64::MAX / 2)),
        session,
    }
}

/// The audit records' kinds, in order.
async fn audit_kinds(store: &dyn Store) -> Vec<String> {
    let page = store.read_log_kinds(Seq(0), kinds::AUDIT, 1000).await.expect("read audit");
    for r in &page.records {
        assert_eq!(r.space.as_str(), SYSTEM_SPACE, "{r:?}");
    }
    page.records.into_iter().map(|r| r.kind).collect()
}

async fn principals_grants_roles<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let alice = user("usr_a", "alice");
    let first = grant("grt_1", "usr_a", "space-writer", "acme:*");
    store
        .execute(CreatePrincipal { principal: alice.clone(), grants: vec![first.clone()], by: admin() })
        .await
        .expect("create alice");
    assert_eq!(store.get_principal("usr_a").await.expect("get"), Some(alice.clone()));
    assert_eq!(store.find_user("alice").await.expect("find"), Some(alice.clone()));
    assert_eq!(store.find_user("bob").await.expect("find"), None);
    assert_eq!(store.list_grants(Some("usr_a")).await.expect("grants"), vec![first.clone()]);

    // A user's name is unique; a service account may share it.
    let again = store.execute(CreatePrincipal { principal: user("usr_b", "alice"), grants: vec![], by: admin() }).await;
    assert!(matches!(again, Err(StoreError::UserNameTaken { .. })), "{again:?}");
    let service = PrincipalRecord {
        id: "svc_a".into(),
        kind: PrincipalKind::Service,
        password_hash: None,
        ..user("svc_a", "alice")
    };
    store.execute(CreatePrincipal { principal: service, grants: vec![], by: admin() }).await.expect("service");
    assert_eq!(store.list_principals().await.expect("list").len(), 2);

    // A grant names an existing principal and role, once per role and pattern.
    let unknown_role =
        store.execute(CreateGrant { grant: grant("grt_2", "usr_a", "deployer", "acme:*"), by: admin() }).await;
    assert!(matches!(unknown_role, Err(StoreError::RoleNotFound { .. })), "{unknown_role:?}");
    let role =
        RoleRecord { name: "deployer".into(), permissions: vec!["functions:deploy".into()], updated_at: Timestamp(2) };
    assert!(store.execute(PutRole { role: role.clone(), by: admin() }).await.expect("put role"));
    assert!(!store.execute(PutRole { role: role.clone(), by: admin() }).await.expect("replace role"), "a replacement");
    assert_eq!(store.list_roles().await.expect("roles"), vec![role]);
    store
        .execute(CreateGrant { grant: grant("grt_2", "usr_a", "deployer", "acme:*"), by: admin() })
        .await
        .expect("grant");
    let twice = store.execute(CreateGrant { grant: grant("grt_3", "usr_a", "deployer", "acme:*"), by: admin() }).await;
    assert!(matches!(twice, Err(StoreError::GrantExists { .. })), "{twice:?}");
    let nobody = store.execute(CreateGrant { grant: grant("grt_4", "usr_x", "deployer", "acme:*"), by: admin() }).await;
    assert!(matches!(nobody, Err(StoreError::PrincipalNotFound { .. })), "{nobody:?}");

    // A role in use stays; once its grant goes, it can go.
    let in_use = store.execute(DeleteRole { name: "deployer".into(), by: admin() }).await;
    assert!(matches!(in_use, Err(StoreError::RoleInUse { grants: 1, .. })), "{in_use:?}");
    let deleted = store.execute(DeleteGrant { id: "grt_2".into(), by: admin() }).await.expect("delete grant");
    assert_eq!(deleted.role, "deployer");
    store.execute(DeleteRole { name: "deployer".into(), by: admin() }).await.expect("delete role");
    assert!(store.list_roles().await.expect("roles").is_empty());

    // Deleting a principal revokes its tokens and drops its grants.
    store.execute(CreateToken { token: token_of("tok_1", "usr_a", false), by: admin() }).await.expect("token");
    let revoked = store.execute(DeletePrincipal { id: "usr_a".into(), by: admin() }).await.expect("delete");
    assert_eq!(revoked, vec!["tok_1".to_string()]);
    assert!(store.find_token("hash-tok_1").await.expect("find").expect("kept").revoked_at.is_some());
    assert!(store.list_grants(Some("usr_a")).await.expect("grants").is_empty());
    assert_eq!(store.get_principal("usr_a").await.expect("get"), None);

    let store = h.reopen(store).await;
    assert_eq!(
        audit_kinds(&*store).await,
        [
            kinds::AUDIT_PRINCIPAL_CREATED,
            kinds::AUDIT_PRINCIPAL_CREATED,
            kinds::AUDIT_ROLE_PUT,
            kinds::AUDIT_ROLE_PUT,
            kinds::AUDIT_GRANT_CREATED,
            kinds::AUDIT_GRANT_DELETED,
            kinds::AUDIT_ROLE_DELETED,
            kinds::AUDIT_TOKEN_CREATED,
            kinds::AUDIT_PRINCIPAL_DELETED,
        ],
        "one record per act, none for a refusal"
    );
    let page = store.read_log_kinds(Seq(0), &[kinds::AUDIT_GRANT_CREATED], 10).await.expect("read");
    let payload = &page.records[0].payload;
    assert_eq!(payload["principal"]["id"], "tok_admin", "{payload}");
    assert_eq!(payload["pattern"], "acme:*");
}

async fn sign_ins<H: Harness>(h: &H) {
    let store = h.fresh().await;
    store
        .execute(CreatePrincipal { principal: user("usr_a", "alice"), grants: vec![], by: admin() })
        .await
        .expect("alice");
    let hash = user("usr_a", "alice").password_hash.expect("a hash");
    let attempt = |attempt: SignInAttempt| RecordSignIn { user: Some("usr_a".into()), name: "alice".into(), attempt };
    let right = |id: &str, verified: &str| {
        attempt(SignInAttempt::RightPassword { session: token_of(id, "usr_a", true), verified_hash: verified.into() })
    };
    let refused = |until| SignInOutcome::Refused { locked_until: until };
    for n in 1..FREE_SIGN_IN_FAILURES {
        let outcome = store.execute(attempt(SignInAttempt::WrongPassword)).await.expect("failure");
        assert_eq!(outcome, refused(None), "failure {n} does not lock");
    }
    let SignInOutcome::Refused { locked_until: Some(locked) } =
        store.execute(attempt(SignInAttempt::WrongPassword)).await.expect("failure")
    else {
        panic!("the last free failure locks");
    };
    let record = store.get_principal("usr_a").await.expect("get").expect("alice");
    assert_eq!((record.failed_sign_ins, record.locked_until), (FREE_SIGN_IN_FAILURES, Some(locked)));
    // While locked: a refusal before any check does not count or move the lock, and a right
    // password checked meanwhile opens nothing.
    assert_eq!(store.execute(attempt(SignInAttempt::Locked)).await.expect("locked"), refused(Some(locked)));
    assert_eq!(store.execute(right("ses_0", &hash)).await.expect("right while locked"), refused(Some(locked)));
    assert!(store.find_token("hash-ses_0").await.expect("find").is_none());
    let record = store.get_principal("usr_a").await.expect("get").expect("alice");
    assert_eq!(record.failed_sign_ins, FREE_SIGN_IN_FAILURES);
    // A wrong password checked while locked still counts and the lock only grows.
    let SignInOutcome::Refused { locked_until: Some(longer) } =
        store.execute(attempt(SignInAttempt::WrongPassword)).await.expect("failure")
    else {
        panic!("still locked");
    };
    assert!(longer >= locked);

    // An unknown name writes its record only.
    let unknown = RecordSignIn { user: None, name: "mallory".into(), attempt: SignInAttempt::WrongPassword };
    assert_eq!(store.execute(unknown).await.expect("unknown"), refused(None));

    // The lock lifted (a reset clears it), a right password checked against a hash that is no
    // longer the user's opens nothing; against the current one it opens the session and resets
    // the count.
    store
        .execute(SetPassword {
            user: "usr_a".into(),
            hash: "new".into(),
            keep: None,
            revoke_tokens: false,
            by: admin(),
        })
        .await
        .expect("reset");
    assert_eq!(store.execute(right("ses_0", &hash)).await.expect("stale"), refused(None));
    assert_eq!(store.execute(right("ses_1", "new")).await.expect("success"), SignInOutcome::Opened);
    let record = store.get_principal("usr_a").await.expect("get").expect("alice");
    assert_eq!((record.failed_sign_ins, record.locked_until), (0, None));
    assert_eq!(store.find_token("hash-ses_1").await.expect("find"), Some(token_of("ses_1", "usr_a", true)));

    // A password change ends the user's other sessions, not its tokens or the one kept; a reset
    // may end its tokens too.
    assert_eq!(store.execute(right("ses_2", "new")).await.expect("second session"), SignInOutcome::Opened);
    store.execute(CreateToken { token: token_of("tok_1", "usr_a", false), by: admin() }).await.expect("token");
    let revoked = store
        .execute(SetPassword {
            user: "usr_a".into(),
            hash: "newer".into(),
            keep: Some("ses_2".into()),
            revoke_tokens: false,
            by: admin(),
        })
        .await
        .expect("set password");
    assert_eq!(revoked, vec!["ses_1".to_string()]);
    assert!(store.find_token("hash-ses_2").await.expect("find").expect("kept").revoked_at.is_none());
    assert!(store.find_token("hash-tok_1").await.expect("find").expect("kept").revoked_at.is_none());
    let revoked = store
        .execute(SetPassword {
            user: "usr_a".into(),
            hash: "newest".into(),
            keep: None,
            revoke_tokens: true,
            by: admin(),
        })
        .await
        .expect("reset");
    assert_eq!(revoked, vec!["ses_2".to_string(), "tok_1".to_string()]);
    let stored = store.get_principal("usr_a").await.expect("get").expect("alice");
    assert_eq!(stored.password_hash.as_deref(), Some("newest"));

    let kinds_seen = audit_kinds(&*store).await;
    let failed = kinds_seen.iter().filter(|k| *k == kinds::AUDIT_SIGN_IN_FAILED).count() as u32;
    assert_eq!(failed, FREE_SIGN_IN_FAILURES + 5, "every refusal is recorded: {kinds_seen:?}");
    assert_eq!(kinds_seen.iter().filter(|k| *k == kinds::AUDIT_SIGN_IN).count(), 2);
    assert_eq!(kinds_seen.last().map(String::as_str), Some(kinds::AUDIT_PASSWORD_CHANGED));
}

async fn orgs<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let acme = OrgRecord { name: "acme".into(), created_at: Timestamp(1_000) };
    store.execute(CreateOrg { org: acme.clone(), by: admin() }).await.expect("create org");
    let again = store.execute(CreateOrg { org: acme.clone(), by: admin() }).await;
    assert!(matches!(again, Err(StoreError::OrgExists { .. })), "{again:?}");
    assert_eq!(store.list_orgs().await.expect("orgs"), vec![acme]);

    // A member needs its org.
    let stray = PrincipalRecord { org: Some("beta".into()), ..user("usr_s", "stray") };
    let refused = store.execute(CreatePrincipal { principal: stray, grants: vec![], by: admin() }).await;
    assert!(matches!(refused, Err(StoreError::OrgNotFound { .. })), "{refused:?}");
    let member = PrincipalRecord { org: Some("acme".into()), ..user("usr_m", "mia") };
    store.execute(CreatePrincipal { principal: member.clone(), grants: vec![], by: admin() }).await.expect("member");
    assert_eq!(store.get_principal("usr_m").await.expect("get"), Some(member));

    // Spaces that only look alike are no project of acme; `acme.orders` is.
    let machine = |sp: &str| PutMachine { space: space(sp), name: seg("order"), definition: order_definition() };
    for sp in ["acme", "acmeco", "acme-eu.x", "acme.orders.eu", "acme.orders"] {
        store.execute(machine(sp)).await.expect("machine");
    }
    let in_use = store.execute(DeleteOrg { name: "acme".into(), by: admin() }).await;
    assert!(matches!(in_use, Err(StoreError::OrgInUse { members: 1, projects: 1, .. })), "{in_use:?}");
    store.execute(DeletePrincipal { id: "usr_m".into(), by: admin() }).await.expect("delete member");
    let in_use = store.execute(DeleteOrg { name: "acme".into(), by: admin() }).await;
    assert!(matches!(in_use, Err(StoreError::OrgInUse { members: 0, projects: 1, .. })), "{in_use:?}");
    let outsider = user("usr_o", "otto");
    let on_org = grant("grt_o1", "usr_o", "space-admin", "acme/*:*");
    let on_space = grant("grt_o2", "usr_o", "space-reader", "acme.orders:*");
    let on_other = grant("grt_o3", "usr_o", "space-reader", "acmeco/*:*");
    let grants = vec![on_org, on_space.clone(), on_other.clone()];
    store.execute(CreatePrincipal { principal: outsider, grants, by: admin() }).await.expect("outsider");
    store.execute(DeleteSpace { space: space("acme.orders") }).await.expect("delete project");
    // `acme.orders.eu` is no project (a project's name has no dot): it does not hold the org.
    let deleted = store.execute(DeleteOrg { name: "acme".into(), by: admin() }).await.expect("delete org");
    assert_eq!(deleted, vec!["grt_o1".to_string()], "the grants written acme/… go with the org");
    assert_eq!(store.list_grants(Some("usr_o")).await.expect("grants"), vec![on_space, on_other]);
    assert!(store.list_orgs().await.expect("orgs").is_empty());
    let gone = store.execute(DeleteOrg { name: "acme".into(), by: admin() }).await;
    assert!(matches!(gone, Err(StoreError::OrgNotFound { .. })), "{gone:?}");

    let store = h.reopen(store).await;
    assert_eq!(
        audit_kinds(&*store).await,
        [
            kinds::AUDIT_ORG_CREATED,
            kinds::AUDIT_PRINCIPAL_CREATED,
            kinds::AUDIT_PRINCIPAL_DELETED,
            kinds::AUDIT_PRINCIPAL_CREATED,
            kinds::AUDIT_ORG_DELETED,
        ],
        "one record per act, none for a refusal"
    );
    let page = store.read_log_kinds(Seq(0), &[kinds::AUDIT_PRINCIPAL_CREATED], 10).await.expect("read");
    assert_eq!(page.records[0].payload["org"], "acme");
}
