//! Users, sessions, grants and roles through the engine on a real SQLite store, with time moved
//! by hand: password hashing, lockout and its backoff, session expiry, sign-out and password
//! change, grants on address patterns, and no one handing out more than they hold.

use std::sync::Arc;
use std::time::Duration;

use switchyard_engine::{Engine, EngineConfig, EngineError, NewPrincipal, Principal};
use switchyard_model::permissions::*;
use switchyard_model::{FREE_SIGN_IN_FAILURES, PrincipalKind, Role, Seq, Timestamp, kinds};
use switchyard_store::sqlite::{SqliteOptions, SqliteStore};
use switchyard_store::{Durability, ManualClock, Store};

const PASSWORD: &str = "correct horse battery";

struct Setup {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    clock: ManualClock,
    admin: Arc<Principal>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Timestamp(1_700_000_000_000));
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(SqliteOptions {
            data_dir: dir.path().join("db"),
            durability: Durability::Fsync,
            clock: clock.shared(),
        })
        .unwrap(),
    );
    let config =
        EngineConfig { clock: clock.shared(), session_ttl: Duration::from_secs(3600), ..EngineConfig::default() };
    let engine = Arc::new(Engine::new(store.clone(), config));
    let secret = engine.bootstrap_admin_token(dir.path()).await.unwrap().unwrap();
    let admin = engine.authenticate(&secret).await.unwrap();
    Setup { engine, store, clock, admin, _dir: dir }
}

async fn user(s: &Setup, name: &str, grants: &[(&str, &str)]) -> String {
    let new = NewPrincipal {
        kind: PrincipalKind::User,
        name: name.into(),
        password: Some(PASSWORD.into()),
        grants: grants.iter().map(|(r, p)| (r.to_string(), p.to_string())).collect(),
    };
    s.engine.create_principal(&s.admin, new).await.unwrap().record.id
}

async fn audit_kinds(store: &dyn Store) -> Vec<String> {
    store.read_log_kinds(Seq(0), kinds::AUDIT, 1000).await.unwrap().records.into_iter().map(|r| r.kind).collect()
}

#[tokio::test]
async fn passwords_are_argon2id_with_the_chosen_parameters_and_never_stored_plain() {
    let s = setup().await;
    let id = user(&s, "alice", &[]).await;
    let stored = s.store.get_principal(&id).await.unwrap().unwrap();
    let hash = stored.password_hash.expect("a user has a hash");
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    // Too short and too long are refused before anything is hashed or stored.
    for bad in ["short".to_string(), "x".repeat(2000)] {
        let new = NewPrincipal { kind: PrincipalKind::User, name: "bob".into(), password: Some(bad), grants: vec![] };
        let err = s.engine.create_principal(&s.admin, new).await.unwrap_err();
        assert_eq!(err.code(), "validation_failed", "{err}");
    }
    assert!(s.store.find_user("bob").await.unwrap().is_none());
}

#[tokio::test]
async fn failed_sign_ins_lock_with_a_growing_delay_that_time_lifts() {
    let s = setup().await;
    user(&s, "alice", &[]).await;
    for _ in 1..FREE_SIGN_IN_FAILURES {
        let err = s.engine.sign_in("alice", "wrong password!").await.unwrap_err();
        assert!(matches!(err, EngineError::InvalidCredentials), "{err}");
    }
    // The failure that uses up the free ones locks for a second.
    let err = s.engine.sign_in("alice", "wrong password!").await.unwrap_err();
    assert!(matches!(err, EngineError::SignInLocked { retry_after_ms: 1000 }), "{err}");
    // While locked even the right password is refused, and the refusal does not count.
    let err = s.engine.sign_in("alice", PASSWORD).await.unwrap_err();
    assert!(matches!(err, EngineError::SignInLocked { .. }), "{err}");
    s.clock.advance(1_000);
    // The next failure doubles the lock.
    let err = s.engine.sign_in("alice", "wrong again!!").await.unwrap_err();
    assert!(matches!(err, EngineError::SignInLocked { retry_after_ms: 2000 }), "{err}");
    s.clock.advance(2_000);
    let signed_in = s.engine.sign_in("alice", PASSWORD).await.expect("the lock has passed");
    let record = s.store.get_principal(&signed_in.user.id).await.unwrap().unwrap();
    assert_eq!((record.failed_sign_ins, record.locked_until), (0, None), "success resets the count");
    // An unknown name is the same refusal as a wrong password.
    let err = s.engine.sign_in("nobody", PASSWORD).await.unwrap_err();
    assert!(matches!(err, EngineError::InvalidCredentials), "{err}");
    let audit = audit_kinds(&*s.store).await;
    let failed = audit.iter().filter(|k| *k == kinds::AUDIT_SIGN_IN_FAILED).count() as u32;
    assert_eq!(failed, FREE_SIGN_IN_FAILURES + 3, "{audit:?}");
}

#[tokio::test]
async fn sessions_expire_by_the_clock_and_end_at_sign_out_or_password_change() {
    let s = setup().await;
    user(&s, "alice", &[("space-reader", "acme:*")]).await;
    let first = s.engine.sign_in("alice", PASSWORD).await.unwrap();
    let session = s.engine.authenticate(&first.secret).await.unwrap();
    assert!(session.session && session.kind == "user" && session.name == "alice");
    // Cached or not, an expired session is refused.
    s.clock.advance(3_600_000);
    let err = s.engine.authenticate(&first.secret).await.unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");

    let a = s.engine.sign_in("alice", PASSWORD).await.unwrap();
    let b = s.engine.sign_in("alice", PASSWORD).await.unwrap();
    let by_a = s.engine.authenticate(&a.secret).await.unwrap();
    s.engine.authenticate(&b.secret).await.unwrap();
    let err = s.engine.change_password(&by_a, "not the password", "a new long password").await.unwrap_err();
    assert!(matches!(err, EngineError::InvalidCredentials), "{err}");
    let revoked = s.engine.change_password(&by_a, PASSWORD, "a new long password").await.unwrap();
    assert_eq!(revoked, vec![b.session.id.clone()]);
    assert!(s.engine.authenticate(&b.secret).await.is_err(), "the other session ended at once");
    s.engine.authenticate(&a.secret).await.expect("the session that changed it goes on");
    s.engine.sign_out(&by_a).await.unwrap();
    assert!(s.engine.authenticate(&a.secret).await.is_err());
    assert!(s.engine.sign_in("alice", PASSWORD).await.is_err(), "the old password no longer works");
    s.engine.sign_in("alice", "a new long password").await.expect("the new one does");
    let audit = audit_kinds(&*s.store).await;
    for kind in [kinds::AUDIT_PASSWORD_CHANGED, kinds::AUDIT_SIGN_OUT, kinds::AUDIT_SIGN_IN] {
        assert!(audit.iter().any(|k| k == kind), "{kind} missing from {audit:?}");
    }
}

#[tokio::test]
async fn grants_on_patterns_allow_what_they_say_and_nothing_beside() {
    let s = setup().await;
    user(&s, "alice", &[("space-writer", "acme:orders:*")]).await;
    let alice = s.engine.authenticate(&s.engine.sign_in("alice", PASSWORD).await.unwrap().secret).await.unwrap();
    assert!(s.engine.authorise(&alice, INSTANCES_WRITE, &["acme", "orders", "o-1"]).is_ok());
    assert!(s.engine.authorise(&alice, FUNCTIONS_DEPLOY, &["acme", "orders"]).is_ok());
    for (permission, address) in [
        (INSTANCES_WRITE, vec!["acme", "payments", "p-1"]),
        (MACHINES_READ, vec!["acme"]),
        (SECRETS_WRITE, vec!["acme", "orders"]),
        (CLUSTER_READ, vec![]),
        (INSTANCES_READ, vec!["beta", "orders", "o-1"]),
    ] {
        let err = s.engine.authorise(&alice, permission, &address).unwrap_err();
        assert_eq!(err.code(), "forbidden", "{permission} on {address:?}");
    }
    // The system space is read-only, even for the system admin.
    let err = s.engine.authorise(&s.admin, MACHINES_WRITE, &["system", "x"]).unwrap_err();
    assert_eq!(err.code(), "forbidden");
    assert!(s.engine.authorise(&s.admin, LOG_READ, &["system"]).is_ok());

    // A custom role, granted: exactly its permissions, and a change to it applies at once.
    s.engine.put_role(&s.admin, "deployer", &["functions:deploy".into()]).await.unwrap();
    let bob_id = user(&s, "bob", &[("deployer", "acme:*")]).await;
    let bob = s.engine.authenticate(&s.engine.sign_in("bob", PASSWORD).await.unwrap().secret).await.unwrap();
    assert!(s.engine.authorise(&bob, FUNCTIONS_DEPLOY, &["acme", "charge"]).is_ok());
    assert!(s.engine.authorise(&bob, FUNCTIONS_INVOKE, &["acme", "charge"]).is_err());
    let session = s.engine.sign_in("bob", PASSWORD).await.unwrap().secret;
    s.engine.put_role(&s.admin, "deployer", &["functions:*".into()]).await.unwrap();
    let bob = s.engine.authenticate(&session).await.unwrap();
    assert!(s.engine.authorise(&bob, FUNCTIONS_INVOKE, &["acme", "charge"]).is_ok(), "the role's change applies");
    let err = s.engine.delete_role(&s.admin, "deployer").await.unwrap_err();
    assert_eq!(err.code(), "conflict", "a granted role stays: {err}");
    let grants = s.engine.list_grants(&s.admin, Some(&bob_id)).await.unwrap();
    s.engine.delete_grant(&s.admin, &grants[0].id).await.unwrap();
    let bob = s.engine.authenticate(&session).await.unwrap();
    assert!(s.engine.authorise(&bob, FUNCTIONS_DEPLOY, &["acme", "charge"]).is_err(), "the grant is gone at once");
    s.engine.delete_role(&s.admin, "deployer").await.unwrap();
}

#[tokio::test]
async fn no_one_hands_out_more_than_they_hold() {
    let s = setup().await;
    let carol_id = user(&s, "carol", &[("space-admin", "acme:*")]).await;
    let dave_id = user(&s, "dave", &[]).await;
    let carol = s.engine.authenticate(&s.engine.sign_in("carol", PASSWORD).await.unwrap().secret).await.unwrap();
    // Within acme, anything up to space-admin.
    s.engine.create_grant(&carol, &dave_id, "space-writer", "acme:orders:*").await.unwrap();
    for (role, pattern) in [("space-writer", "beta:*"), ("space-writer", "*"), ("sys-admin", "acme:*")] {
        let err = s.engine.create_grant(&carol, &dave_id, role, pattern).await.unwrap_err();
        assert_eq!(err.code(), "forbidden", "{role} on {pattern}: {err}");
    }
    // Tokens: a standalone one within acme; not for another space.
    s.engine.create_token(&carol, "ci", Role::Writer, &["acme".into()], None).await.unwrap();
    let err = s.engine.create_token(&carol, "ci", Role::Writer, &["beta".into()], None).await.unwrap_err();
    assert_eq!(err.code(), "forbidden");
    // Her own token is narrowed by its scope and can do nothing she cannot.
    let (_, secret) =
        s.engine.create_token(&carol, "mine", Role::Reader, &["acme".into()], Some(&carol_id)).await.unwrap();
    let mine = s.engine.authenticate(&secret).await.unwrap();
    assert!(s.engine.authorise(&mine, MACHINES_READ, &["acme"]).is_ok());
    assert!(s.engine.authorise(&mine, MACHINES_WRITE, &["acme", "m"]).is_err(), "the scope is reader");
    // A token for someone else needs the system's permission.
    let err = s.engine.create_token(&carol, "x", Role::Reader, &["acme".into()], Some(&dave_id)).await.unwrap_err();
    assert_eq!(err.code(), "forbidden");
    // Users are the system admin's to make.
    let new = NewPrincipal { kind: PrincipalKind::Service, name: "bot".into(), password: None, grants: vec![] };
    assert_eq!(s.engine.create_principal(&carol, new).await.unwrap_err().code(), "forbidden");
    // Deleting a principal ends its sessions and tokens at once.
    let revoked = s.engine.delete_principal(&s.admin, &carol_id).await.unwrap();
    assert_eq!(revoked.len(), 2, "the session and her own token: {revoked:?}");
    assert!(s.engine.authenticate(&secret).await.is_err());
}
