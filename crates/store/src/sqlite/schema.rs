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
    // 3: log sizes for retention, KV buckets, durable subscriptions.
    r#"
    -- Bytes of the log (addresses and payloads) up to and including this record; the log's
    -- size is a difference of two of these, so retention by size reads two rows, not the log.
    ALTER TABLE events ADD COLUMN end_offset INTEGER NOT NULL DEFAULT 0;
    UPDATE events SET end_offset = running.total
    FROM (SELECT seq, sum(length(CAST(address AS BLOB)) + length(CAST(payload AS BLOB))) OVER (ORDER BY seq) AS total
          FROM events) AS running
    WHERE running.seq = events.seq;
    -- A pull scans its own space's records only.
    CREATE INDEX events_by_space ON events (space, seq);

    CREATE TABLE kv_buckets (
        space      TEXT NOT NULL,
        name       TEXT NOT NULL,
        history    INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (space, name)
    ) WITHOUT ROWID;

    -- A key's current revision (a tombstone when deleted); values may be large, so a rowid
    -- table keeps them out of the key index.
    CREATE TABLE kv_keys (
        space        TEXT NOT NULL,
        bucket       TEXT NOT NULL,
        key          TEXT NOT NULL,
        revision     INTEGER NOT NULL,
        value        BLOB NOT NULL,
        content_type TEXT NOT NULL,
        updated_at   INTEGER NOT NULL,
        expires_at   INTEGER,
        deleted      INTEGER NOT NULL,
        PRIMARY KEY (space, bucket, key)
    );
    CREATE INDEX kv_keys_by_expiry ON kv_keys (expires_at) WHERE expires_at IS NOT NULL AND deleted = 0;

    -- Past revisions, kept while they are among the bucket's `history` newest.
    CREATE TABLE kv_history (
        space        TEXT NOT NULL,
        bucket       TEXT NOT NULL,
        key          TEXT NOT NULL,
        revision     INTEGER NOT NULL,
        value        BLOB NOT NULL,
        content_type TEXT NOT NULL,
        updated_at   INTEGER NOT NULL,
        expires_at   INTEGER,
        deleted      INTEGER NOT NULL,
        PRIMARY KEY (space, bucket, key, revision)
    );

    CREATE TABLE subscriptions (
        space          TEXT NOT NULL,
        name           TEXT NOT NULL,
        filter         TEXT NOT NULL,
        start_after    INTEGER NOT NULL,
        cursor         INTEGER NOT NULL,
        max_deliveries INTEGER NOT NULL,
        ack_wait_ms    INTEGER NOT NULL,
        allow_loss     INTEGER NOT NULL,
        created_at     INTEGER NOT NULL,
        PRIMARY KEY (space, name)
    ) WITHOUT ROWID;

    -- Records a subscription delivered and no consumer acked yet: leased until `lease_until`,
    -- due again after it, or dead letters (`dead_at` set).
    CREATE TABLE subscription_records (
        space       TEXT NOT NULL,
        name        TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        deliveries  INTEGER NOT NULL,
        lease_until INTEGER NOT NULL,
        dead_at     INTEGER,
        PRIMARY KEY (space, name, seq)
    ) WITHOUT ROWID;
    CREATE INDEX subscription_records_due ON subscription_records (space, name, lease_until, seq) WHERE dead_at IS NULL;
    "#,
    // 4: WebAssembly functions (their deployed versions) and invocation records.
    r#"
    -- Components may be large, so a rowid table keeps them out of the key index, and the
    -- component is the last column: reading a version's other columns never loads it.
    CREATE TABLE functions (
        space      TEXT NOT NULL,
        name       TEXT NOT NULL,
        version    INTEGER NOT NULL,
        digest     TEXT NOT NULL,
        size       INTEGER NOT NULL,
        config     TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        component  BLOB NOT NULL,
        PRIMARY KEY (space, name, version)
    );

    -- `seq` orders the list and pages it; AUTOINCREMENT never hands out a seq again, even after
    -- the newest records were purged, so a reader paging by seq never misses a later record.
    CREATE TABLE invocations (
        seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
        id                  TEXT NOT NULL UNIQUE,
        space               TEXT NOT NULL,
        function            TEXT NOT NULL,
        version             INTEGER NOT NULL,
        status              TEXT NOT NULL,
        is_async            INTEGER NOT NULL,
        attempt             INTEGER NOT NULL,
        idempotency_key     TEXT,
        context             TEXT NOT NULL,
        input_content_type  TEXT NOT NULL,
        input_size          INTEGER NOT NULL,
        output_content_type TEXT NOT NULL,
        output_size         INTEGER NOT NULL,
        error               TEXT,
        logs                TEXT NOT NULL,
        created_at          INTEGER NOT NULL,
        finished_at         INTEGER,
        duration_us         INTEGER,
        lease_until         INTEGER,
        input               BLOB,
        output              BLOB
    );
    CREATE INDEX invocations_by_function ON invocations (space, function, seq);
    CREATE INDEX invocations_by_space ON invocations (space, seq);
    -- An asynchronous invocation's idempotency key, unique per function.
    CREATE UNIQUE INDEX invocations_by_key ON invocations (space, function, idempotency_key)
        WHERE idempotency_key IS NOT NULL AND is_async;
    -- The queue: pending invocations, oldest first, with their lease (a claim walks this and
    -- skips the leased ones without reading their rows).
    CREATE INDEX invocations_pending ON invocations (seq, lease_until) WHERE status = 'pending';
    -- Purging finished records by age.
    CREATE INDEX invocations_by_finish ON invocations (finished_at) WHERE finished_at IS NOT NULL;
    "#,
    // 5: the work table: every kind of durable work (see `commands::jobs`).
    r#"
    CREATE TABLE jobs (
        id              TEXT PRIMARY KEY,
        space           TEXT NOT NULL,
        kind            TEXT NOT NULL,
        target          TEXT NOT NULL,
        payload         TEXT NOT NULL,
        status          TEXT NOT NULL,
        priority        INTEGER NOT NULL,
        concurrency_key TEXT,
        idempotency_key TEXT,
        run_at          INTEGER NOT NULL,
        attempt         INTEGER NOT NULL,
        lease_until     INTEGER,
        lease_owner     TEXT,
        retry           TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        finished_at     INTEGER,
        last_error      TEXT,
        result          TEXT,
        attempts        TEXT NOT NULL
    ) WITHOUT ROWID;
    -- The queue of each space, in the order a space's jobs are started: a lease round probes
    -- each space with pending jobs once, then reads its first due jobs from here.
    CREATE INDEX jobs_queue ON jobs (space, priority DESC, run_at) WHERE status = 'pending';
    -- The next due time, for a scheduler that sleeps until then.
    CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'pending';
    -- Leases that may have ended, and the running count per space.
    CREATE INDEX jobs_running ON jobs (lease_until) WHERE status = 'running';
    CREATE INDEX jobs_by_space ON jobs (space, status, id);
    CREATE UNIQUE INDEX jobs_by_key ON jobs (space, idempotency_key) WHERE idempotency_key IS NOT NULL;
    "#,
    // 6: asynchronous invocations run as jobs (kind `invocation`, the invocation's id): each one
    // an earlier build left pending gets its job, due when its lease ends, its attempts so far
    // counted; the invocations' own lease is no longer read. Finished jobs get a retention.
    r#"
    INSERT OR IGNORE INTO jobs (id, space, kind, target, payload, status, priority, concurrency_key,
        idempotency_key, run_at, attempt, lease_until, lease_owner, retry, created_at, updated_at, finished_at,
        last_error, result, attempts)
    SELECT id, space, 'invocation', space || ':' || function, json_object('function', function, 'version', version),
        'pending', 0, NULL, NULL, COALESCE(lease_until, created_at), attempt, NULL, NULL, '{}', created_at,
        created_at, NULL, NULL, NULL, '[]'
    FROM invocations WHERE status = 'pending' AND is_async;
    DROP INDEX invocations_pending;
    -- Retention forgets finished jobs by age (dead ones stay until a person acts).
    CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status IN ('succeeded', 'cancelled');
    -- Dead letters per space, for the queue metrics.
    CREATE INDEX jobs_dead ON jobs (space) WHERE status = 'dead';
    "#,
    // 7: machines that do work: an instance's status, the jobs of its current state (action,
    // timers) and why it failed or was cancelled.
    r#"
    ALTER TABLE instances ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
    ALTER TABLE instances ADD COLUMN work TEXT;
    ALTER TABLE instances ADD COLUMN error TEXT;
    "#,
    // 8: child machines: the parent whose state started the instance and waits for its end.
    r#"
    ALTER TABLE instances ADD COLUMN parent TEXT;
    "#,
    // 9: a space's configuration: `env` values (JSON text) and secrets.
    r#"
    CREATE TABLE space_values (
        space      TEXT NOT NULL,
        kind       TEXT NOT NULL,
        name       TEXT NOT NULL,
        value      TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (space, kind, name)
    ) WITHOUT ROWID;
    "#,
    // 10: triggers (the current version of each, its pause and its schedule's pending job); a
    // trigger's executions are its jobs, listed newest first through `jobs_by_trigger`.
    r#"
    CREATE TABLE triggers (
        space        TEXT NOT NULL,
        name         TEXT NOT NULL,
        version      INTEGER NOT NULL,
        definition   TEXT NOT NULL,
        paused       INTEGER NOT NULL DEFAULT 0,
        schedule_job TEXT,
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL,
        PRIMARY KEY (space, name)
    ) WITHOUT ROWID;
    CREATE INDEX jobs_by_trigger ON jobs (space, target, id) WHERE kind = 'trigger';
    "#,
    // 11: outbound webhook endpoints (the current version of each, why it is disabled, and the
    // job that reads the log for it); an endpoint's deliveries are its jobs, listed newest first
    // through `jobs_by_endpoint`.
    r#"
    CREATE TABLE endpoints (
        space        TEXT NOT NULL,
        name         TEXT NOT NULL,
        version      INTEGER NOT NULL,
        definition   TEXT NOT NULL,
        disabled     TEXT,
        consumer_job TEXT,
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL,
        PRIMARY KEY (space, name)
    ) WITHOUT ROWID;
    CREATE INDEX jobs_by_endpoint ON jobs (space, target, id) WHERE kind = 'delivery';
    "#,
    // 12: the log's per-address index becomes a table the writer fills in sorted passes (see
    // `address_index`): an index kept row by row dirtied one page per event, since the records
    // of a group go to many addresses. `address_index` is its mark: every record up to
    // `indexed_through` is in it, and of those up to `pass_through`, the ones up to
    // `(done_address, done_seq)` in (address, seq) order (a pass under way); reads scan the
    // log after the mark.
    r#"
    CREATE TABLE event_addresses (
        address TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        PRIMARY KEY (address, seq)
    ) WITHOUT ROWID;
    INSERT INTO event_addresses (address, seq) SELECT address, seq FROM events ORDER BY address, seq;
    DROP INDEX events_by_address;
    CREATE TABLE address_index (
        indexed_through INTEGER NOT NULL,
        pass_through    INTEGER NOT NULL,
        done_address    TEXT,
        done_seq        INTEGER
    );
    INSERT INTO address_index (indexed_through, pass_through)
        SELECT coalesce(max(seq), 0), coalesce(max(seq), 0) FROM events;
    "#,
    // 13: a space's instances by machine and status, roots apart (the console's overview counts
    // them from this index alone — `deleted_at`, always NULL here, is in it so that no count
    // reads a row; a flow's runs by status are its roots, newest first).
    r#"
    CREATE INDEX instances_by_status ON instances (space, machine, status, parent, deleted_at, id) WHERE deleted_at IS NULL;
    "#,
    // 14: users and service accounts, their grants, custom roles; a token may belong to a
    // principal and expire (a sign-in session).
    r#"
    CREATE TABLE principals (
        id              TEXT PRIMARY KEY,
        kind            TEXT NOT NULL,
        name            TEXT NOT NULL,
        password_hash   TEXT,
        failed_sign_ins INTEGER NOT NULL DEFAULT 0,
        locked_until    INTEGER,
        created_at      INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX users_by_name ON principals (name) WHERE kind = 'user';

    CREATE TABLE grants (
        id         TEXT PRIMARY KEY,
        principal  TEXT NOT NULL,
        role       TEXT NOT NULL,
        pattern    TEXT NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX grants_by_principal ON grants (principal, role, pattern);
    CREATE INDEX grants_by_role ON grants (role);

    CREATE TABLE roles (
        name        TEXT PRIMARY KEY,
        permissions TEXT NOT NULL,
        updated_at  INTEGER NOT NULL
    ) WITHOUT ROWID;

    ALTER TABLE tokens ADD COLUMN principal TEXT;
    ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
    ALTER TABLE tokens ADD COLUMN session INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX tokens_by_principal ON tokens (principal) WHERE principal IS NOT NULL;
    "#,
    // 15: spaces' quotas, and the meters of what spaces did (added to by every node).
    r#"
    CREATE TABLE quotas (
        space      TEXT PRIMARY KEY,
        quota      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE space_meters (
        space       TEXT PRIMARY KEY,
        requests    INTEGER NOT NULL DEFAULT 0,
        events      INTEGER NOT NULL DEFAULT 0,
        refused     INTEGER NOT NULL DEFAULT 0,
        invocations INTEGER NOT NULL DEFAULT 0,
        function_ms INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    "#,
    // 16: organisations; a principal may be a member of one.
    r#"
    CREATE TABLE orgs (
        name       TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    ALTER TABLE principals ADD COLUMN org TEXT;
    CREATE INDEX principals_by_org ON principals (org) WHERE org IS NOT NULL;
    "#,
];

/// `PRAGMA auto_vacuum`'s value for incremental auto-vacuum.
const INCREMENTAL: i64 = 2;

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the schema up to [`SCHEMA_VERSION`], refusing a store from a newer build.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    // Incremental auto-vacuum lets retention give trimmed pages back to the file system. It
    // can only be switched on before the file has a header (`SqliteStore::open` does that for a
    // new store) or by a VACUUM, which a store made by an earlier build gets once, here; the
    // VACUUM copies the whole database through the WAL, which the checkpoint then empties.
    let auto_vacuum: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if auto_vacuum != INCREMENTAL && found == 0 {
        tracing::warn!(auto_vacuum, "a new store without incremental auto-vacuum: its file will not shrink");
    } else if auto_vacuum != INCREMENTAL {
        tracing::info!("switching the store to incremental vacuum (a one-time VACUUM)");
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        let auto_vacuum: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
        if busy != 0 || auto_vacuum != INCREMENTAL {
            tracing::warn!(busy, auto_vacuum, "switching the store to incremental vacuum did not complete");
        }
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
