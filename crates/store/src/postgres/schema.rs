//! Versioned schema migrations of the PostgreSQL store.
//!
//! `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`; the applied version is kept in
//! `switchyard_schema`. Migrations run under a session advisory lock, so nodes starting
//! together apply each migration exactly once, and each migration runs in its own transaction.
//! A database migrated by a newer Switchyard is refused. Migrations are append-only.

use deadpool_postgres::Object;

use crate::error::StoreError;

/// The advisory lock key that serialises migrations ("Switchyd" in ASCII).
const MIGRATION_LOCK: i64 = 0x5377_6974_6368_7964;

const MIGRATIONS: &[&str] = &[
    // 1: the whole schema of the first release on PostgreSQL.
    r#"
    -- Names are compared and ordered byte by byte (COLLATE "C"), as on SQLite, whatever the
    -- database's default collation: listing order and cursors mean the same on both backends.
    CREATE TABLE switchyard_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    -- The event log's high-water mark. Every transaction that appends to the log bumps this
    -- one row just before it commits; its row lock, held until commit, is what makes seq
    -- order equal commit order across connections and nodes.
    CREATE TABLE log_head (
        id       INT PRIMARY KEY CHECK (id = 1),
        last_seq BIGINT NOT NULL
    );
    INSERT INTO log_head (id, last_seq) VALUES (1, 0);

    CREATE TABLE spaces (
        name       TEXT COLLATE "C" PRIMARY KEY,
        created_at BIGINT NOT NULL
    );

    CREATE TABLE machines (
        space      TEXT COLLATE "C" NOT NULL,
        name       TEXT COLLATE "C" NOT NULL,
        version    INT NOT NULL,
        definition TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (space, name, version)
    );

    CREATE TABLE instances (
        space           TEXT COLLATE "C" NOT NULL,
        machine         TEXT COLLATE "C" NOT NULL,
        id              TEXT COLLATE "C" NOT NULL,
        machine_version INT NOT NULL,
        state           TEXT NOT NULL,
        ctx             TEXT NOT NULL,
        revision        BIGINT NOT NULL,
        created_at      BIGINT NOT NULL,
        updated_at      BIGINT NOT NULL,
        deleted_at      BIGINT,
        PRIMARY KEY (space, machine, id)
    );
    CREATE INDEX instances_by_state ON instances (space, machine, state, id) WHERE deleted_at IS NULL;

    CREATE TABLE events (
        seq             BIGINT PRIMARY KEY,
        space           TEXT NOT NULL,
        kind            TEXT NOT NULL,
        address         TEXT NOT NULL,
        payload         TEXT NOT NULL,
        idempotency_key TEXT,
        created_at      BIGINT NOT NULL
    );
    CREATE INDEX events_by_address ON events (address, seq);

    CREATE TABLE idempotency (
        space       TEXT NOT NULL,
        key         TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        response    TEXT NOT NULL,
        created_at  BIGINT NOT NULL,
        PRIMARY KEY (space, key)
    );
    CREATE INDEX idempotency_by_age ON idempotency (created_at);

    CREATE TABLE tokens (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        role        TEXT NOT NULL,
        spaces      TEXT NOT NULL,
        created_at  BIGINT NOT NULL,
        revoked_at  BIGINT
    );

    CREATE TABLE nodes (
        id           TEXT PRIMARY KEY,
        address      TEXT NOT NULL,
        started_at   BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL
    );
    "#,
    // 2: log sizes for retention, KV buckets, durable subscriptions.
    r#"
    -- Bytes of the log (addresses and payloads) up to and including this record; the log's
    -- size is a difference of two of these. `log_head.last_offset` is the running total.
    ALTER TABLE events ADD COLUMN end_offset BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE log_head ADD COLUMN last_offset BIGINT NOT NULL DEFAULT 0;
    UPDATE events SET end_offset = running.total
    FROM (SELECT seq, sum(octet_length(address) + octet_length(payload)) OVER (ORDER BY seq) AS total FROM events) AS running
    WHERE running.seq = events.seq;
    UPDATE log_head SET last_offset = coalesce((SELECT max(end_offset) FROM events), 0);
    -- The default only served the backfill: a node still running an earlier build (which does
    -- not write the column) now fails its inserts loudly instead of logging offset 0, which
    -- would break retention by size.
    ALTER TABLE events ALTER COLUMN end_offset DROP DEFAULT;
    -- A pull scans its own space's records only.
    CREATE INDEX events_by_space ON events (space, seq);

    CREATE TABLE kv_buckets (
        space      TEXT COLLATE "C" NOT NULL,
        name       TEXT COLLATE "C" NOT NULL,
        history    INT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (space, name)
    );

    CREATE TABLE kv_keys (
        space        TEXT COLLATE "C" NOT NULL,
        bucket       TEXT COLLATE "C" NOT NULL,
        key          TEXT COLLATE "C" NOT NULL,
        revision     BIGINT NOT NULL,
        value        BYTEA NOT NULL,
        content_type TEXT NOT NULL,
        updated_at   BIGINT NOT NULL,
        expires_at   BIGINT,
        deleted      BOOLEAN NOT NULL,
        PRIMARY KEY (space, bucket, key)
    );
    CREATE INDEX kv_keys_by_expiry ON kv_keys (expires_at) WHERE expires_at IS NOT NULL AND NOT deleted;

    CREATE TABLE kv_history (
        space        TEXT COLLATE "C" NOT NULL,
        bucket       TEXT COLLATE "C" NOT NULL,
        key          TEXT COLLATE "C" NOT NULL,
        revision     BIGINT NOT NULL,
        value        BYTEA NOT NULL,
        content_type TEXT NOT NULL,
        updated_at   BIGINT NOT NULL,
        expires_at   BIGINT,
        deleted      BOOLEAN NOT NULL,
        PRIMARY KEY (space, bucket, key, revision)
    );

    CREATE TABLE subscriptions (
        space          TEXT COLLATE "C" NOT NULL,
        name           TEXT COLLATE "C" NOT NULL,
        filter         TEXT NOT NULL,
        start_after    BIGINT NOT NULL,
        cursor         BIGINT NOT NULL,
        max_deliveries INT NOT NULL,
        ack_wait_ms    BIGINT NOT NULL,
        allow_loss     BOOLEAN NOT NULL,
        created_at     BIGINT NOT NULL,
        PRIMARY KEY (space, name)
    );

    CREATE TABLE subscription_records (
        space       TEXT COLLATE "C" NOT NULL,
        name        TEXT COLLATE "C" NOT NULL,
        seq         BIGINT NOT NULL,
        deliveries  INT NOT NULL,
        lease_until BIGINT NOT NULL,
        dead_at     BIGINT,
        PRIMARY KEY (space, name, seq)
    );
    CREATE INDEX subscription_records_due ON subscription_records (space, name, lease_until, seq) WHERE dead_at IS NULL;
    "#,
    // 3: WebAssembly functions (their deployed versions) and invocation records.
    r#"
    -- JSON columns are text, as everywhere in this schema: what is read back is exactly what
    -- was written (jsonb would reorder keys and respell numbers).
    CREATE TABLE functions (
        space      TEXT COLLATE "C" NOT NULL,
        name       TEXT COLLATE "C" NOT NULL,
        version    BIGINT NOT NULL,
        digest     TEXT NOT NULL,
        size       BIGINT NOT NULL,
        config     TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        component  BYTEA NOT NULL,
        PRIMARY KEY (space, name, version)
    );

    -- `seq` orders the list and pages it. A sequence never hands out a number twice, but a
    -- transaction that took a lower one may commit after one that took a higher one: paging by
    -- seq is for listing, not for tailing.
    CREATE TABLE invocations (
        seq                 BIGSERIAL PRIMARY KEY,
        id                  TEXT COLLATE "C" NOT NULL UNIQUE,
        space               TEXT COLLATE "C" NOT NULL,
        function            TEXT COLLATE "C" NOT NULL,
        version             BIGINT NOT NULL,
        status              TEXT NOT NULL,
        is_async            BOOLEAN NOT NULL,
        attempt             BIGINT NOT NULL,
        idempotency_key     TEXT,
        context             TEXT NOT NULL,
        input_content_type  TEXT NOT NULL,
        input_size          BIGINT NOT NULL,
        output_content_type TEXT NOT NULL,
        output_size         BIGINT NOT NULL,
        error               TEXT,
        logs                TEXT NOT NULL,
        created_at          BIGINT NOT NULL,
        finished_at         BIGINT,
        duration_us         BIGINT,
        lease_until         BIGINT,
        input               BYTEA,
        output              BYTEA
    );
    CREATE INDEX invocations_by_function ON invocations (space, function, seq);
    CREATE INDEX invocations_by_space ON invocations (space, seq);
    -- An asynchronous invocation's idempotency key, unique per function.
    CREATE UNIQUE INDEX invocations_by_key ON invocations (space, function, idempotency_key)
        WHERE idempotency_key IS NOT NULL AND is_async;
    -- The queue: pending invocations, oldest first, with their lease.
    CREATE INDEX invocations_pending ON invocations (seq) INCLUDE (lease_until) WHERE status = 'pending';
    -- Purging finished records by age.
    CREATE INDEX invocations_by_finish ON invocations (finished_at) WHERE finished_at IS NOT NULL;
    "#,
    // 4: the work table: every kind of durable work (see `commands::jobs`).
    r#"
    CREATE TABLE jobs (
        id              TEXT COLLATE "C" PRIMARY KEY,
        space           TEXT COLLATE "C" NOT NULL,
        kind            TEXT NOT NULL,
        target          TEXT NOT NULL,
        payload         TEXT NOT NULL,
        status          TEXT NOT NULL,
        priority        INTEGER NOT NULL,
        concurrency_key TEXT,
        idempotency_key TEXT,
        run_at          BIGINT NOT NULL,
        attempt         BIGINT NOT NULL,
        lease_until     BIGINT,
        lease_owner     TEXT,
        retry           TEXT NOT NULL,
        created_at      BIGINT NOT NULL,
        updated_at      BIGINT NOT NULL,
        finished_at     BIGINT,
        last_error      TEXT,
        result          TEXT,
        attempts        TEXT NOT NULL
    );
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
    // 5: asynchronous invocations run as jobs (kind `invocation`, the invocation's id): each one
    // an earlier build left pending gets its job, due when its lease ends, its attempts so far
    // counted; the invocations' own lease is no longer read. Finished jobs get a retention.
    r#"
    INSERT INTO jobs (id, space, kind, target, payload, status, priority, concurrency_key, idempotency_key, run_at,
        attempt, lease_until, lease_owner, retry, created_at, updated_at, finished_at, last_error, result, attempts)
    SELECT id, space, 'invocation', space || ':' || function,
        json_build_object('function', function, 'version', version)::text, 'pending', 0, NULL, NULL,
        COALESCE(lease_until, created_at), attempt, NULL, NULL, '{}', created_at, created_at, NULL, NULL, NULL, '[]'
    FROM invocations WHERE status = 'pending' AND is_async
    ON CONFLICT DO NOTHING;
    DROP INDEX invocations_pending;
    -- Retention forgets finished jobs by age (dead ones stay until a person acts).
    CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status IN ('succeeded', 'cancelled');
    -- Dead letters per space, for the queue metrics.
    CREATE INDEX jobs_dead ON jobs (space) WHERE status = 'dead';
"#,
    // 6: machines that do work: an instance's status, the jobs of its current state (action,
    // timers) and why it failed or was cancelled.
    r#"
    ALTER TABLE instances ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
    ALTER TABLE instances ADD COLUMN work TEXT;
    ALTER TABLE instances ADD COLUMN error TEXT;
"#,
    // 7: child machines: the parent whose state started the instance and waits for its end.
    r#"
    ALTER TABLE instances ADD COLUMN parent TEXT;
"#,
    // 8: a space's configuration: `env` values (JSON text) and secrets.
    r#"
    CREATE TABLE space_values (
        space      TEXT NOT NULL,
        kind       TEXT NOT NULL,
        name       TEXT NOT NULL,
        value      TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (space, kind, name)
    );
"#,
    // 9: triggers (the current version of each, its pause and its schedule's pending job); a
    // trigger's executions are its jobs, listed newest first through `jobs_by_trigger`.
    r#"
    CREATE TABLE triggers (
        space        TEXT COLLATE "C" NOT NULL,
        name         TEXT COLLATE "C" NOT NULL,
        version      BIGINT NOT NULL,
        definition   TEXT NOT NULL,
        paused       BOOLEAN NOT NULL DEFAULT FALSE,
        schedule_job TEXT,
        created_at   BIGINT NOT NULL,
        updated_at   BIGINT NOT NULL,
        PRIMARY KEY (space, name)
    );
    CREATE INDEX jobs_by_trigger ON jobs (space, target, id) WHERE kind = 'trigger';
"#,
    // 10: outbound webhook endpoints (the current version of each, why it is disabled, and the
    // job that reads the log for it); an endpoint's deliveries are its jobs, listed newest first
    // through `jobs_by_endpoint`.
    r#"
    CREATE TABLE endpoints (
        space        TEXT COLLATE "C" NOT NULL,
        name         TEXT COLLATE "C" NOT NULL,
        version      BIGINT NOT NULL,
        definition   TEXT NOT NULL,
        disabled     TEXT,
        consumer_job TEXT,
        created_at   BIGINT NOT NULL,
        updated_at   BIGINT NOT NULL,
        PRIMARY KEY (space, name)
    );
    CREATE INDEX jobs_by_endpoint ON jobs (space, target, id) WHERE kind = 'delivery';
"#,
    // 11: a space's instances by machine and status, roots apart (the console's overview counts
    // them from this index alone — `deleted_at`, always NULL here, is in it so that no count
    // reads a row; a flow's runs by status are its roots, newest first).
    r#"
    CREATE INDEX instances_by_status ON instances (space, machine, status, parent, deleted_at, id) WHERE deleted_at IS NULL;
"#,
    // 12: users and service accounts, their grants, custom roles; a token may belong to a
    // principal and expire (a sign-in session).
    r#"
    CREATE TABLE principals (
        id              TEXT PRIMARY KEY,
        kind            TEXT NOT NULL,
        name            TEXT NOT NULL,
        password_hash   TEXT,
        failed_sign_ins INTEGER NOT NULL DEFAULT 0,
        locked_until    BIGINT,
        created_at      BIGINT NOT NULL
    );
    CREATE UNIQUE INDEX users_by_name ON principals (name) WHERE kind = 'user';

    CREATE TABLE grants (
        id         TEXT PRIMARY KEY,
        principal  TEXT NOT NULL,
        role       TEXT NOT NULL,
        pattern    TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE UNIQUE INDEX grants_by_principal ON grants (principal, role, pattern);
    CREATE INDEX grants_by_role ON grants (role);

    CREATE TABLE roles (
        name        TEXT PRIMARY KEY,
        permissions TEXT NOT NULL,
        updated_at  BIGINT NOT NULL
    );

    ALTER TABLE tokens ADD COLUMN principal TEXT;
    ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
    ALTER TABLE tokens ADD COLUMN session BOOLEAN NOT NULL DEFAULT FALSE;
    CREATE INDEX tokens_by_principal ON tokens (principal) WHERE principal IS NOT NULL;
"#,
    // 13: spaces' quotas, and the meters of what spaces did (added to by every node).
    r#"
    CREATE TABLE quotas (
        space      TEXT PRIMARY KEY,
        quota      TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    );

    CREATE TABLE space_meters (
        space       TEXT PRIMARY KEY,
        requests    BIGINT NOT NULL DEFAULT 0,
        events      BIGINT NOT NULL DEFAULT 0,
        refused     BIGINT NOT NULL DEFAULT 0,
        invocations BIGINT NOT NULL DEFAULT 0,
        function_ms BIGINT NOT NULL DEFAULT 0
    );
"#,
    // 14: organisations; a principal may be a member of one.
    r#"
    CREATE TABLE orgs (
        name       TEXT COLLATE "C" PRIMARY KEY,
        created_at BIGINT NOT NULL
    );

    ALTER TABLE principals ADD COLUMN org TEXT;
    CREATE INDEX principals_by_org ON principals (org) WHERE org IS NOT NULL;
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Brings the schema up to [`SCHEMA_VERSION`] under the migration lock.
pub async fn migrate(client: &mut Object) -> Result<(), StoreError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let result = migrate_locked(client).await;
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    result?;
    unlocked?;
    Ok(())
}

async fn migrate_locked(client: &mut Object) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS switchyard_schema (id INT PRIMARY KEY CHECK (id = 1), version INT NOT NULL);
             INSERT INTO switchyard_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
        )
        .await?;
    let found: i32 = client.query_one("SELECT version FROM switchyard_schema WHERE id = 1", &[]).await?.get(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found: found as u32, supported: SCHEMA_VERSION as u32 });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute("UPDATE switchyard_schema SET version = $1 WHERE id = 1", &[&(from as i32 + 1)]).await?;
        tx.commit().await?;
        tracing::info!(version = from + 1, "store schema migrated");
    }
    Ok(())
}
