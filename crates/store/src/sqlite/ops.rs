//! Executes each [`WriteOp`] on the writer's connection, inside the group's transaction.
//!
//! Runs on the single writer thread, so every read-check-write here is serialised with every
//! other write: that is what makes idempotency checks, `expected_*` checks and revision
//! increments race-free. Nothing here commits; the caller owns the transaction.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::StoreError;
use crate::machines::MachineCache;
use crate::records::{CreatedRecord, MessageRecord, PublishedResponse, TransitionedRecord};
use crate::space_rules;
use crate::sqlite::rows;
use crate::types::*;

/// What an op needs besides its connection.
pub(crate) struct OpContext<'a> {
    /// The next seq to assign; advanced as records are appended.
    pub next_seq: &'a mut u64,
    /// The log's running byte total; advanced as records are appended.
    pub next_offset: &'a mut u64,
    pub machines: &'a mut MachineCache,
}

pub(crate) fn execute(conn: &Connection, cx: &mut OpContext<'_>, op: &WriteOp) -> Result<WriteOutcome, StoreError> {
    let now = Timestamp::now();
    match op {
        WriteOp::PutMachine { space, name, definition } => {
            put_machine(conn, cx, now, space.as_ref(), name.as_ref(), definition)
        }
        WriteOp::CreateInstance { key, ctx, idempotency } => {
            create_instance(conn, cx, now, key, ctx, idempotency.as_ref())
        }
        WriteOp::ApplyEvent {
            key,
            event,
            payload,
            expected_state,
            expected_revision,
            idempotency,
            max_context_bytes,
        } => apply_event(
            conn,
            cx,
            now,
            key,
            event,
            payload,
            (expected_state.as_deref(), *expected_revision),
            idempotency.as_ref(),
            *max_context_bytes,
        ),
        WriteOp::DeleteInstance { key } => delete_instance(conn, cx, now, key),
        WriteOp::CreateToken(token) => {
            insert_token(conn, token)?;
            Ok(WriteOutcome::TokenCreated(true))
        }
        WriteOp::BootstrapAdminToken(token) => {
            let done: Option<String> = conn
                .prepare_cached("SELECT value FROM meta WHERE key = 'admin_bootstrapped'")?
                .query_row([], |r| r.get(0))
                .optional()?;
            if done.is_some() {
                return Ok(WriteOutcome::TokenCreated(false));
            }
            insert_token(conn, token)?;
            conn.execute("INSERT INTO meta (key, value) VALUES ('admin_bootstrapped', ?1)", params![token.id])?;
            Ok(WriteOutcome::TokenCreated(true))
        }
        WriteOp::RevokeToken { id } => {
            let revoked_at: Option<Option<i64>> = conn
                .prepare_cached("SELECT revoked_at FROM tokens WHERE id = ?1")?
                .query_row(params![id], |r| r.get(0))
                .optional()?;
            match revoked_at {
                None => Err(StoreError::TokenNotFound { id: id.clone() }),
                Some(Some(_)) => Ok(WriteOutcome::TokenRevoked),
                Some(None) => {
                    conn.execute("UPDATE tokens SET revoked_at = ?1 WHERE id = ?2", params![now.0, id])?;
                    Ok(WriteOutcome::TokenRevoked)
                }
            }
        }
        WriteOp::Publish { space, topic, payload, key, headers, idempotency } => {
            let space: &str = space.as_ref();
            if let Some(idem) = idempotency
                && let Some(response) = check_idempotency(conn, space, idem)?
            {
                let r: PublishedResponse = serde_json::from_str(&response)?;
                return Ok(WriteOutcome::Published { seq: Seq(r.seq), replayed: true, space_created: false });
            }
            let space_created = ensure_space(conn, now, space)?;
            let record = MessageRecord { payload, key: key.as_deref(), headers };
            let idem_key = idempotency.as_ref().map(|i| i.key.as_str());
            let seq =
                append_log(conn, cx, now, space, kinds::TOPIC_MESSAGE, &format!("{space}:{topic}"), &record, idem_key)?;
            if let Some(idem) = idempotency {
                record_idempotency(conn, now, space, idem, &serde_json::to_string(&PublishedResponse { seq: seq.0 })?)?;
            }
            Ok(WriteOutcome::Published { seq, replayed: false, space_created })
        }
        WriteOp::HeartbeatNode(node) => {
            conn.prepare_cached(
                "INSERT INTO nodes (id, address, started_at, heartbeat_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET address = excluded.address, heartbeat_at = excluded.heartbeat_at",
            )?
            .execute(params![node.id, node.address, node.started_at.0, node.heartbeat_at.0])?;
            Ok(WriteOutcome::NodeRecorded)
        }
        WriteOp::RenewNode { id, at } => {
            conn.prepare_cached("UPDATE nodes SET heartbeat_at = ?1 WHERE id = ?2")?.execute(params![at.0, id])?;
            Ok(WriteOutcome::NodeRecorded)
        }
        WriteOp::RemoveNode { id } => {
            conn.prepare_cached("DELETE FROM nodes WHERE id = ?1")?.execute(params![id])?;
            Ok(WriteOutcome::NodeRecorded)
        }
        WriteOp::PutBucket { .. } | WriteOp::KvPut { .. } | WriteOp::KvDelete { .. } | WriteOp::ExpireKv { .. } => {
            crate::sqlite::kv::execute(conn, cx, now, op)
        }
        WriteOp::PutSubscription(_)
        | WriteOp::DeleteSubscription { .. }
        | WriteOp::Pull(_)
        | WriteOp::Ack { .. }
        | WriteOp::Nack { .. }
        | WriteOp::RedriveDeadLetters { .. }
        | WriteOp::DiscardDeadLetters { .. }
        | WriteOp::TrimLog(_) => crate::sqlite::subscriptions::execute(conn, cx, now, op),
        WriteOp::PutFunction(_)
        | WriteOp::RecordInvocations(_)
        | WriteOp::EnqueueInvocation(_)
        | WriteOp::ClaimInvocations(_)
        | WriteOp::FinishInvocation(_)
        | WriteOp::PurgeInvocations { .. } => crate::sqlite::functions::execute(conn, cx, now, op),
        WriteOp::DeleteSpace { space } => delete_space(conn, cx, now, space.as_ref()),
        WriteOp::PurgeIdempotency { before, limit } => {
            // Bounded: this runs inside a group commit, so one huge DELETE would stall writes.
            let n = conn
                .prepare_cached(
                    "DELETE FROM idempotency WHERE (space, key) IN
                       (SELECT space, key FROM idempotency WHERE created_at < ?1 LIMIT ?2)",
                )?
                .execute(params![before.0, limit])?;
            Ok(WriteOutcome::IdempotencyPurged(n as u64))
        }
    }
}

fn put_machine(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    space: &str,
    name: &str,
    definition: &Value,
) -> Result<WriteOutcome, StoreError> {
    let text = serde_json::to_string(definition)?;
    let latest: Option<(u32, String)> = conn
        .prepare_cached(
            "SELECT version, definition FROM machines WHERE space = ?1 AND name = ?2 ORDER BY version DESC LIMIT 1",
        )?
        .query_row(params![space, name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let version = match &latest {
        Some((v, stored)) => {
            let v = rows::machine_version(*v)?;
            if *stored == text {
                return Ok(WriteOutcome::MachinePut { version: v, created: false, space_created: false });
            }
            v.next()
        }
        None => MachineVersion::FIRST,
    };
    conn.prepare_cached(
        "INSERT INTO machines (space, name, version, definition, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![space, name, version.get(), text, now.0])?;
    let space_created = ensure_space(conn, now, space)?;
    append_log(
        conn,
        cx,
        now,
        space,
        kinds::MACHINE_PUT,
        &format!("{space}:{name}"),
        &json!({ "name": name, "version": version.get() }),
        None,
    )?;
    Ok(WriteOutcome::MachinePut { version, created: true, space_created })
}

/// Gives `space` its row in `spaces` unless it has one; whether this created it.
pub(crate) fn ensure_space(conn: &Connection, now: Timestamp, space: &str) -> Result<bool, StoreError> {
    let inserted = conn
        .prepare_cached("INSERT OR IGNORE INTO spaces (name, created_at) VALUES (?1, ?2)")?
        .execute(params![space, now.0])?;
    Ok(inserted == 1)
}

/// Deletes a space and everything in it (see `space_rules`), then appends its `space.deleted`
/// record. Runs on the writer thread like every write, so nothing of the space is written
/// meanwhile; the writer's compiled machines of the space go too, since a re-created space may
/// put other definitions under the same names and versions.
fn delete_space(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    space: &str,
) -> Result<WriteOutcome, StoreError> {
    let exists: bool = conn.prepare_cached(&space_rules::exists_sql("?1"))?.query_row(params![space], |r| r.get(0))?;
    if !exists {
        return Err(StoreError::SpaceNotFound { space: space.to_string() });
    }
    let mut deleted = SpaceDeletion::default();
    for (table, count) in space_rules::NAMED {
        let n: i64 =
            conn.prepare_cached(&space_rules::count_names_sql(table, "?1"))?.query_row(params![space], |r| r.get(0))?;
        *count(&mut deleted) = n as u64;
    }
    for t in space_rules::TABLES {
        let n = conn.prepare_cached(&space_rules::delete_sql(t.table, "?1"))?.execute(params![space])?;
        if let Some(count) = t.counts {
            *count(&mut deleted) = n as u64;
        }
    }
    conn.prepare_cached("DELETE FROM spaces WHERE name = ?1")?.execute(params![space])?;
    cx.machines.forget_space(space);
    let seq = append_log(conn, cx, now, space, kinds::SPACE_DELETED, space, &deleted, None)?;
    Ok(WriteOutcome::SpaceDeleted { deleted, seq })
}

fn create_instance(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    key: &InstanceKey,
    ctx: &JsonObject,
    idempotency: Option<&Idempotency>,
) -> Result<WriteOutcome, StoreError> {
    let (space, machine, id) = (key.space.as_ref(), key.machine.as_ref(), key.id.as_ref());
    if let Some(idem) = idempotency
        && let Some(response) = check_idempotency(conn, space, idem)?
    {
        let instance: InstanceRecord = serde_json::from_str(&response)?;
        return Ok(WriteOutcome::InstanceCreated { instance, replayed: true });
    }
    let exists: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM instances WHERE space = ?1 AND machine = ?2 AND id = ?3")?
        .query_row(params![space, machine, id], |r| r.get(0))
        .optional()?;
    if exists.is_some() {
        return Err(StoreError::InstanceExists { address: key.address() });
    }
    let version: Option<u32> = conn
        .prepare_cached("SELECT max(version) FROM machines WHERE space = ?1 AND name = ?2")?
        .query_row(params![space, machine], |r| r.get(0))?;
    let Some(version) = version else {
        return Err(StoreError::MachineNotFound { space: space.to_string(), name: machine.to_string(), version: None });
    };
    let version = rows::machine_version(version)?;
    let compiled =
        cx.machines.get_or_compile(space, machine, version, || load_definition(conn, space, machine, version))?;
    compiled.validate_context(ctx).map_err(StoreError::InvalidContext)?;
    let instance = InstanceRecord::created(key, version, compiled.initial_state(), ctx, now);
    let ctx_text = serde_json::to_string(ctx)?;
    conn.prepare_cached(
        "INSERT INTO instances (space, machine, id, machine_version, state, ctx, revision, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7)",
    )?
    .execute(params![space, machine, id, version.get(), instance.state, ctx_text, now.0])?;
    append_log(
        conn,
        cx,
        now,
        space,
        kinds::INSTANCE_CREATED,
        &key.address(),
        &CreatedRecord { machine_version: version.get(), state: &instance.state, ctx: &instance.ctx },
        idempotency.map(|i| i.key.as_str()),
    )?;
    if let Some(idem) = idempotency {
        record_idempotency(conn, now, space, idem, &serde_json::to_string(&instance)?)?;
    }
    Ok(WriteOutcome::InstanceCreated { instance, replayed: false })
}

#[allow(clippy::too_many_arguments)]
fn apply_event(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    key: &InstanceKey,
    event: &str,
    payload: &JsonObject,
    (expected_state, expected_revision): (Option<&str>, Option<Revision>),
    idempotency: Option<&Idempotency>,
    max_context_bytes: usize,
) -> Result<WriteOutcome, StoreError> {
    let (space, machine, id) = (key.space.as_ref(), key.machine.as_ref(), key.id.as_ref());
    if let Some(idem) = idempotency
        && let Some(response) = check_idempotency(conn, space, idem)?
    {
        let applied: TransitionApplied = serde_json::from_str(&response)?;
        return Ok(WriteOutcome::EventApplied { applied, replayed: true });
    }
    let row: Option<(u32, String, String, u64, Option<i64>)> = conn
        .prepare_cached(
            "SELECT machine_version, state, ctx, revision, deleted_at FROM instances WHERE space = ?1 AND machine = ?2 AND id = ?3",
        )?
        .query_row(params![space, machine, id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()?;
    let Some((version, state, ctx_text, revision, deleted_at)) = row else {
        return Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: None });
    };
    if let Some(at) = deleted_at {
        return Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: Some(Timestamp(at)) });
    }
    let revision = rows::revision(revision)?;
    let state_ok = expected_state.is_none_or(|s| s == state);
    let revision_ok = expected_revision.is_none_or(|r| r == revision);
    if !state_ok || !revision_ok {
        return Err(StoreError::Conflict { address: key.address(), actual_state: state, actual_revision: revision });
    }
    let version = rows::machine_version(version)?;
    let compiled =
        cx.machines.get_or_compile(space, machine, version, || load_definition(conn, space, machine, version))?;
    let ctx: JsonObject = serde_json::from_str(&ctx_text)?;
    let outcome = compiled.apply(&state, &ctx, event, payload, now.as_millis())?;
    let revision = revision.next();
    let new_ctx_text = serde_json::to_string(&outcome.ctx)?;
    crate::machines::check_context_size(&new_ctx_text, max_context_bytes)?;
    conn.prepare_cached(
        "UPDATE instances SET state = ?1, ctx = ?2, revision = ?3, updated_at = ?4 WHERE space = ?5 AND machine = ?6 AND id = ?7",
    )?
    .execute(params![outcome.to, new_ctx_text, revision.get(), now.0, space, machine, id])?;
    let seq = append_log(
        conn,
        cx,
        now,
        space,
        kinds::INSTANCE_TRANSITIONED,
        &key.address(),
        &TransitionedRecord { event, payload, from: &state, to: &outcome.to, revision: revision.get() },
        idempotency.map(|i| i.key.as_str()),
    )?;
    let applied = TransitionApplied { from: state, to: outcome.to, revision, seq, ctx: outcome.ctx };
    if let Some(idem) = idempotency {
        record_idempotency(conn, now, space, idem, &serde_json::to_string(&applied)?)?;
    }
    Ok(WriteOutcome::EventApplied { applied, replayed: false })
}

fn delete_instance(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    key: &InstanceKey,
) -> Result<WriteOutcome, StoreError> {
    let (space, machine, id) = (key.space.as_ref(), key.machine.as_ref(), key.id.as_ref());
    let deleted_at: Option<Option<i64>> = conn
        .prepare_cached("SELECT deleted_at FROM instances WHERE space = ?1 AND machine = ?2 AND id = ?3")?
        .query_row(params![space, machine, id], |r| r.get(0))
        .optional()?;
    match deleted_at {
        None => Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: None }),
        Some(Some(at)) => Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: Some(Timestamp(at)) }),
        Some(None) => {
            conn.prepare_cached(
                "UPDATE instances SET deleted_at = ?1, updated_at = ?1 WHERE space = ?2 AND machine = ?3 AND id = ?4",
            )?
            .execute(params![now.0, space, machine, id])?;
            append_log(conn, cx, now, space, kinds::INSTANCE_DELETED, &key.address(), &json!({}), None)?;
            Ok(WriteOutcome::InstanceDeleted)
        }
    }
}

fn load_definition(conn: &Connection, space: &str, name: &str, version: MachineVersion) -> Result<Value, StoreError> {
    let text: Option<String> = conn
        .prepare_cached("SELECT definition FROM machines WHERE space = ?1 AND name = ?2 AND version = ?3")?
        .query_row(params![space, name, version.get()], |r| r.get(0))
        .optional()?;
    match text {
        Some(t) => Ok(serde_json::from_str(&t)?),
        None => Err(StoreError::MachineNotFound {
            space: space.to_string(),
            name: name.to_string(),
            version: Some(version),
        }),
    }
}

/// The stored response for `idem`, or `None` when the key is new; a reuse with another
/// request is an error.
pub(crate) fn check_idempotency(
    conn: &Connection,
    space: &str,
    idem: &Idempotency,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT fingerprint, response FROM idempotency WHERE space = ?1 AND key = ?2")?
        .query_row(params![space, idem.key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        None => Ok(None),
        Some((fingerprint, response)) if fingerprint == idem.fingerprint => Ok(Some(response)),
        Some(_) => Err(StoreError::IdempotencyKeyReused { key: idem.key.clone() }),
    }
}

pub(crate) fn record_idempotency(
    conn: &Connection,
    now: Timestamp,
    space: &str,
    idem: &Idempotency,
    response: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO idempotency (space, key, fingerprint, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![space, idem.key, idem.fingerprint, response, now.0])?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn append_log(
    conn: &Connection,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    space: &str,
    kind: &str,
    address: &str,
    payload: &impl Serialize,
    idempotency_key: Option<&str>,
) -> Result<Seq, StoreError> {
    let seq = *cx.next_seq;
    let payload = serde_json::to_string(payload)?;
    let end_offset = *cx.next_offset + (address.len() + payload.len()) as u64;
    conn.prepare_cached(
        "INSERT INTO events (seq, space, kind, address, payload, idempotency_key, created_at, end_offset)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![seq as i64, space, kind, address, payload, idempotency_key, now.0, end_offset as i64])?;
    *cx.next_seq += 1;
    *cx.next_offset = end_offset;
    Ok(Seq(seq))
}

fn insert_token(conn: &Connection, token: &TokenRecord) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO tokens (id, name, secret_hash, role, spaces, created_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            token.id,
            token.name,
            token.secret_hash,
            token.role.as_str(),
            serde_json::to_string(&token.spaces.to_names())?,
            token.created_at.0,
            token.revoked_at.map(|t| t.0),
        ],
    )?;
    Ok(())
}
