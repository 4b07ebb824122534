//! Tokens through the engine on a real SQLite store: the admin token's bootstrap and its
//! crash recovery, the reset path, and revocation through the authentication cache.

use std::path::Path;
use std::sync::Arc;

use switchyard_engine::auth::hash_secret;
use switchyard_engine::{Engine, EngineConfig, EngineError, Principal};
use switchyard_model::{Role, SpaceGrant, TokenRecord};
use switchyard_store::sqlite::{SqliteOptions, SqliteStore};
use switchyard_store::{BootstrapAdminToken, Clock, Durability, Store, SystemClock, WriteOp};

fn engine(dir: &Path) -> (Arc<Engine>, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(SqliteOptions {
            data_dir: dir.join("db"),
            durability: Durability::Fsync,
            clock: switchyard_store::SystemClock::shared(),
        })
        .unwrap(),
    );
    (Arc::new(Engine::new(store.clone(), EngineConfig::default())), store)
}

fn is_system_admin(p: &Principal) -> bool {
    p.allows(switchyard_model::permissions::PRINCIPALS_WRITE, &[] as &[&str])
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

#[tokio::test]
async fn bootstrap_creates_one_private_admin_token_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = engine(dir.path());
    let secret = engine.bootstrap_admin_token(dir.path()).await.unwrap().expect("first start creates a token");
    let file = dir.path().join("admin.token");
    assert_eq!(read(&file), secret);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let principal = engine.authenticate(&secret).await.unwrap();
    assert!(is_system_admin(&principal), "the admin token is sys-admin on *: {principal:?}");

    assert_eq!(engine.bootstrap_admin_token(dir.path()).await.unwrap(), None, "later starts create nothing");
    assert_eq!(read(&file), secret, "and leave the file alone");
    assert!(!dir.path().join("admin.token.new").exists());
}

#[tokio::test]
async fn bootstrap_recovers_a_secret_stored_but_not_yet_renamed() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, store) = engine(dir.path());
    // The state a crash between the store's commit and the rename leaves: the store knows the
    // pending secret; admin.token holds something stale.
    let secret = "sy_pending";
    let record = TokenRecord {
        id: "tok_1".into(),
        name: "admin".into(),
        secret_hash: hash_secret(secret),
        role: Role::Admin,
        spaces: SpaceGrant::All,
        created_at: SystemClock.now(),
        revoked_at: None,
        principal: None,
        expires_at: None,
        session: false,
    };
    store.write(WriteOp::BootstrapAdminToken(BootstrapAdminToken { token: record })).await.unwrap();
    std::fs::write(dir.path().join("admin.token.new"), secret).unwrap();
    std::fs::write(dir.path().join("admin.token"), "sy_stale").unwrap();
    assert_eq!(engine.bootstrap_admin_token(dir.path()).await.unwrap(), None);
    assert_eq!(read(&dir.path().join("admin.token")), secret, "the stored secret is installed");
    engine.authenticate(secret).await.unwrap();
}

#[tokio::test]
async fn bootstrap_discards_a_pending_secret_the_store_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = engine(dir.path());
    let first = engine.bootstrap_admin_token(dir.path()).await.unwrap().unwrap();
    std::fs::write(dir.path().join("admin.token.new"), "sy_never_stored").unwrap();
    engine.bootstrap_admin_token(dir.path()).await.unwrap();
    assert!(!dir.path().join("admin.token.new").exists());
    assert_eq!(read(&dir.path().join("admin.token")), first);
}

#[tokio::test]
async fn reset_mints_a_working_admin_token_after_all_were_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = engine(dir.path());
    let first = engine.bootstrap_admin_token(dir.path()).await.unwrap().unwrap();
    let admin = engine.authenticate(&first).await.unwrap();
    engine.revoke_token(&admin, &admin.token_id).await.unwrap();
    assert!(matches!(engine.authenticate(&first).await, Err(EngineError::Unauthorized(_))));
    let (second, revoked) = engine.reset_admin_token(dir.path()).await.unwrap();
    assert!(revoked.is_empty(), "the only earlier admin token was already revoked: {revoked:?}");
    assert_eq!(read(&dir.path().join("admin.token")), second);
    assert!(is_system_admin(&engine.authenticate(&second).await.unwrap()));
}

#[tokio::test]
async fn revoked_token_is_refused_at_once_even_when_cached() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = engine(dir.path());
    let admin_secret = engine.bootstrap_admin_token(dir.path()).await.unwrap().unwrap();
    let admin = engine.authenticate(&admin_secret).await.unwrap();
    let (token, secret) = engine.create_token(&admin, "r", Role::Reader, &["acme".into()], None).await.unwrap();
    engine.authenticate(&secret).await.unwrap(); // now cached
    engine.revoke_token(&admin, &token.id).await.unwrap();
    match engine.authenticate(&secret).await {
        Err(e) => assert_eq!(e.code(), "unauthorized"),
        Ok(_) => panic!("a revoked token was accepted from the cache"),
    }
}

#[tokio::test]
async fn reset_revokes_the_minted_admin_tokens_and_keeps_the_ones_users_made() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = engine(dir.path());
    let first = engine.bootstrap_admin_token(dir.path()).await.unwrap().unwrap();
    let admin = engine.authenticate(&first).await.unwrap();
    // Made by a user: an admin of every space under another name, and one named "admin" that
    // is limited to one space. Neither is the server's own.
    let (_, ops) = engine.create_token(&admin, "ops", Role::Admin, &["*".into()], None).await.unwrap();
    let (_, scoped) = engine.create_token(&admin, "admin", Role::Admin, &["acme".into()], None).await.unwrap();
    let (second, revoked) = engine.reset_admin_token(dir.path()).await.unwrap();
    assert_eq!(revoked, vec![admin.token_id.clone()]);
    match engine.authenticate(&first).await {
        Err(e) => assert_eq!(e.code(), "unauthorized"),
        Ok(_) => panic!("the earlier admin token still works after a reset (it was cached)"),
    }
    assert!(is_system_admin(&engine.authenticate(&second).await.unwrap()));
    engine.authenticate(&ops).await.expect("a token a user made was revoked");
    engine.authenticate(&scoped).await.expect("a scoped token named admin was revoked");
    // A second reset revokes the token the first one minted.
    let (third, revoked) = engine.reset_admin_token(dir.path()).await.unwrap();
    let second_id = engine.list_tokens(&engine.authenticate(&third).await.unwrap()).await.unwrap();
    assert_eq!(revoked.len(), 1);
    assert!(second_id.iter().any(|t| t.id == revoked[0] && t.revoked_at.is_some()));
    assert!(engine.authenticate(&second).await.is_err());
}
