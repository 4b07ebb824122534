//! Versioned schema migrations of the SQLite store.
//!
//! `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`; the applied version is kept in
//! `PRAGMA user_version`. A store whose version is above `MIGRATIONS.len()` was written by a
//! newer Switchyard and is refused rather than guessed at. Migrations are append-only: a
//! released one is never edited.

use rusqlite::Connection;

use crate::error::StoreError;

/// Each entry migrates from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: machines, instances, the event log, idempotency records, tokens, spaces.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE spaces (
        name       TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE machines (
        space      TEXT NOT NULL,
        name       TEXT NOT NULL,
        version    INTEGER NOT NULL,
        definition TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (space, name, version)
    ) WITHOUT ROWID;

    CREATE TABLE instances (
        space           TEXT NOT NULL,
        machine         TEXT NOT NULL,
        id              TEXT NOT NULL,
        machine_version INTEGER NOT NULL,
        state           TEXT NOT NULL,
        ctx             TEXT NOT NULL,
        revision        INTEGER NOT NULL,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        deleted_at      INTEGER,
        PRIMARY KEY (space, machine, id)
    ) WITHOUT ROWID;
    CREATE INDEX instances_by_state ON instances (space, machine, state, id) WHERE deleted_at IS NULL;

    CREATE TABLE events (
        seq             INTEGER PRIMARY KEY,
        space           TEXT NOT NULL,
        kind            TEXT NOT NULL,
        address         TEXT NOT NULL,
        payload         TEXT NOT NULL,
        idempotency_key TEXT,
        created_at      INTEGER NOT NULL
    );
    CREATE INDEX events_by_address ON events (address, seq);

    CREATE TABLE idempotency (
        space       TEXT NOT NULL,
        key         TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        response    TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (space, key)
    ) WITHOUT ROWID;
    CREATE INDEX idempotency_by_age ON idempotency (created_at);

    CREATE TABLE tokens (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        role        TEXT NOT NULL,
        spaces      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        revoked_at  INTEGER
    ) WITHOUT ROWID;
    "#,
    // 2: the nodes serving from this store.
    r#"
    CREATE TABLE nodes (
        id           TEXT PRIMARY KEY,
        address      TEXT NOT NULL,
        started_at   INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the schema up to [`SCHEMA_VERSION`], refusing a store from a newer build.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", from as u32 + 1)?;
        tx.commit()?;
        tracing::info!(version = from + 1, "store schema migrated");
    }
    Ok(())
}
