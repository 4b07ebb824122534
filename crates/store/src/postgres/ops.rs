//! Executes each [`WriteOp`] inside a group's transaction on PostgreSQL.
//!
//! The rows an op touches are already locked when it runs (the group takes advisory locks on
//! idempotency keys and machine names, and row locks on the instances, in one sorted order
//! before the first op), so every read-check-write here is serialised against every other
//! node. Log records, idempotency records and the `spaces` rows of spaces an op writes into are
//! not inserted here: they are buffered in [`GroupLog`] and written when the group's seqs are
//! assigned, just before commit (see `writer`). An op's outcome that carries a seq, or says
//! whether it created its space, is patched then.

use deadpool_postgres::Transaction;
use serde_json::{Value, json};

pub(crate) use crate::decode::{machine_version, revision};
use crate::error::StoreError;
use crate::machines::MachineCache;
use crate::records::{CreatedRecord, MessageRecord, PublishedResponse, TransitionedRecord};
use crate::types::*;

/// Why an op did not happen: a refusal leaves the transaction usable (its savepoint is rolled
/// back); a database error aborts the whole group.
pub(crate) enum OpFailure {
    Refused(StoreError),
    Sql(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for OpFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        OpFailure::Sql(e)
    }
}

impl From<StoreError> for OpFailure {
    fn from(e: StoreError) -> Self {
        OpFailure::Refused(e)
    }
}

impl From<serde_json::Error> for OpFailure {
    fn from(e: serde_json::Error) -> Self {
        OpFailure::Refused(StoreError::from(e))
    }
}

type OpResult = Result<WriteOutcome, OpFailure>;

/// A log record waiting for its seq.
pub(crate) struct PendingRecord {
    pub space: String,
    pub kind: &'static str,
    pub address: String,
    pub payload: String,
    pub idempotency_key: Option<String>,
    pub created_at: Timestamp,
    /// The (request, op) whose outcome reports this record's seq.
    pub reports_seq: Option<(usize, usize)>,
}

/// An idempotency record waiting for its response (which may contain a seq).
pub(crate) struct PendingIdempotency {
    pub space: String,
    pub key: String,
    pub fingerprint: String,
    pub created_at: Timestamp,
    /// The (request, op) whose outcome is the stored response.
    pub response_of: (usize, usize),
}

/// A space an op wrote into in a way that makes a space exist (a new machine version, bucket,
/// function version or subscription, a message): its `spaces` row is inserted unless it has one.
pub(crate) struct PendingSpace {
    pub space: String,
    pub created_at: Timestamp,
    /// The (request, op) whose outcome reports whether this created the space.
    pub reports_to: (usize, usize),
}

/// What a group writes once its seqs are known.
#[derive(Default)]
pub(crate) struct GroupLog {
    pub records: Vec<PendingRecord>,
    pub idempotency: Vec<PendingIdempotency>,
    pub spaces: Vec<PendingSpace>,
}

impl GroupLog {
    /// A mark to roll back to when a request's savepoint is rolled back.
    pub fn mark(&self) -> (usize, usize, usize) {
        (self.records.len(), self.idempotency.len(), self.spaces.len())
    }

    /// Forgets everything after `mark`.
    pub fn truncate(&mut self, mark: (usize, usize, usize)) {
        self.records.truncate(mark.0);
        self.idempotency.truncate(mark.1);
        self.spaces.truncate(mark.2);
    }
}

/// What an op needs besides its transaction.
pub(crate) struct OpContext<'a> {
    pub machines: &'a mut MachineCache,
    pub log: &'a mut GroupLog,
    /// The (request, op) being executed.
    pub position: (usize, usize),
}

impl OpContext<'_> {
    /// Buffers a log record; `reports_seq` patches its seq into this op's outcome
    /// (`EventApplied`, `Published`, `KvWritten` or `InvocationFinished`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append(
        &mut self,
        now: Timestamp,
        space: &str,
        kind: &'static str,
        address: String,
        payload: String,
        idempotency_key: Option<&str>,
        reports_seq: bool,
    ) {
        self.log.records.push(PendingRecord {
            space: space.to_string(),
            kind,
            address,
            payload,
            idempotency_key: idempotency_key.map(str::to_string),
            created_at: now,
            reports_seq: reports_seq.then_some(self.position),
        });
    }

    /// Makes sure `space` has its `spaces` row at commit; this op's outcome then says whether
    /// it created the space.
    pub(crate) fn touch_space(&mut self, now: Timestamp, space: &str) {
        self.log.spaces.push(PendingSpace { space: space.to_string(), created_at: now, reports_to: self.position });
    }

    pub(crate) fn remember(&mut self, now: Timestamp, space: &str, idem: &Idempotency) {
        self.log.idempotency.push(PendingIdempotency {
            space: space.to_string(),
            key: idem.key.clone(),
            fingerprint: idem.fingerprint.clone(),
            created_at: now,
            response_of: self.position,
        });
    }
}

pub(crate) async fn execute(tx: &Transaction<'_>, cx: &mut OpContext<'_>, op: &WriteOp) -> OpResult {
    let now = Timestamp::now();
    match op {
        WriteOp::PutMachine { space, name, definition } => {
            put_machine(tx, cx, now, space.as_ref(), name.as_ref(), definition).await
        }
        WriteOp::CreateInstance { key, ctx, idempotency } => {
            create_instance(tx, cx, now, key, ctx, idempotency.as_ref()).await
        }
        WriteOp::ApplyEvent {
            key,
            event,
            payload,
            expected_state,
            expected_revision,
            idempotency,
            max_context_bytes,
        } => {
            let expected = (expected_state.as_deref(), *expected_revision);
            apply_event(tx, cx, now, key, event, payload, expected, idempotency.as_ref(), *max_context_bytes).await
        }
        WriteOp::DeleteInstance { key } => delete_instance(tx, cx, now, key).await,
        WriteOp::CreateToken(token) => {
            let spaces = serde_json::to_string(&token.spaces.to_names())?;
            insert_token(tx, token, &spaces).await?;
            Ok(WriteOutcome::TokenCreated(true))
        }
        WriteOp::BootstrapAdminToken(token) => {
            // Serialised before the first write: an op refuses only before it writes.
            let spaces = serde_json::to_string(&token.spaces.to_names())?;
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO switchyard_meta (key, value) VALUES ('admin_bootstrapped', $1) ON CONFLICT (key) DO NOTHING",
                )
                .await?;
            let claimed = tx.execute(&stmt, &[&token.id]).await?;
            if claimed == 0 {
                return Ok(WriteOutcome::TokenCreated(false));
            }
            insert_token(tx, token, &spaces).await?;
            Ok(WriteOutcome::TokenCreated(true))
        }
        WriteOp::RevokeToken { id } => {
            let stmt = tx.prepare_cached("SELECT revoked_at FROM tokens WHERE id = $1 FOR UPDATE").await?;
            match tx.query_opt(&stmt, &[id]).await? {
                None => Err(OpFailure::Refused(StoreError::TokenNotFound { id: id.clone() })),
                Some(row) if row.get::<_, Option<i64>>(0).is_some() => Ok(WriteOutcome::TokenRevoked),
                Some(_) => {
                    tx.execute("UPDATE tokens SET revoked_at = $1 WHERE id = $2", &[&now.0, id]).await?;
                    Ok(WriteOutcome::TokenRevoked)
                }
            }
        }
        WriteOp::Publish { space, topic, payload, key, headers, idempotency } => {
            let space: &str = space.as_ref();
            if let Some(idem) = idempotency
                && let Some(response) = check_idempotency(tx, cx, space, idem).await?
            {
                let r: PublishedResponse = serde_json::from_str(&response)?;
                return Ok(WriteOutcome::Published { seq: Seq(r.seq), replayed: true, space_created: false });
            }
            cx.touch_space(now, space);
            let record = serde_json::to_string(&MessageRecord { payload, key: key.as_deref(), headers })?;
            let idem_key = idempotency.as_ref().map(|i| i.key.as_str());
            cx.append(now, space, kinds::TOPIC_MESSAGE, format!("{space}:{topic}"), record, idem_key, true);
            if let Some(idem) = idempotency {
                cx.remember(now, space, idem);
            }
            // The seq and `space_created` are patched in when the group's seqs are assigned.
            Ok(WriteOutcome::Published { seq: Seq(0), replayed: false, space_created: false })
        }
        WriteOp::HeartbeatNode(node) => {
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO nodes (id, address, started_at, heartbeat_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO UPDATE SET address = excluded.address, heartbeat_at = excluded.heartbeat_at",
                )
                .await?;
            tx.execute(&stmt, &[&node.id, &node.address, &node.started_at.0, &node.heartbeat_at.0]).await?;
            Ok(WriteOutcome::NodeRecorded)
        }
        WriteOp::RenewNode { id, at } => {
            let stmt = tx.prepare_cached("UPDATE nodes SET heartbeat_at = $1 WHERE id = $2").await?;
            tx.execute(&stmt, &[&at.0, id]).await?;
            Ok(WriteOutcome::NodeRecorded)
        }
        WriteOp::RemoveNode { id } => {
            let stmt = tx.prepare_cached("DELETE FROM nodes WHERE id = $1").await?;
            tx.execute(&stmt, &[id]).await?;
            Ok(WriteOutcome::NodeRecorded)
        }
        WriteOp::PutBucket { .. } | WriteOp::KvPut { .. } | WriteOp::KvDelete { .. } | WriteOp::ExpireKv { .. } => {
            crate::postgres::kv::execute(tx, cx, now, op).await
        }
        WriteOp::PutSubscription(_)
        | WriteOp::DeleteSubscription { .. }
        | WriteOp::Pull(_)
        | WriteOp::Ack { .. }
        | WriteOp::Nack { .. }
        | WriteOp::RedriveDeadLetters { .. }
        | WriteOp::DiscardDeadLetters { .. }
        | WriteOp::TrimLog(_) => crate::postgres::subscriptions::execute(tx, cx, now, op).await,
        WriteOp::PutFunction(_)
        | WriteOp::RecordInvocations(_)
        | WriteOp::EnqueueInvocation(_)
        | WriteOp::ClaimInvocations(_)
        | WriteOp::FinishInvocation(_)
        | WriteOp::PurgeInvocations { .. } => crate::postgres::functions::execute(tx, cx, now, op).await,
        WriteOp::DeleteSpace { space } => delete_space(tx, cx, now, space.as_ref()).await,
        WriteOp::PurgeIdempotency { before, limit } => {
            // Bounded: this runs inside a group, so one huge DELETE would stall writes.
            let n = tx
                .execute(
                    "DELETE FROM idempotency WHERE (space, key) IN
                       (SELECT space, key FROM idempotency WHERE created_at < $1 LIMIT $2)",
                    &[&before.0, &i64::from(*limit)],
                )
                .await?;
            Ok(WriteOutcome::IdempotencyPurged(n))
        }
    }
}

async fn put_machine(
    tx: &Transaction<'_>,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    space: &str,
    name: &str,
    definition: &Value,
) -> OpResult {
    let text = serde_json::to_string(definition)?;
    let stmt = tx
        .prepare_cached(
            "SELECT version, definition FROM machines WHERE space = $1 AND name = $2 ORDER BY version DESC LIMIT 1",
        )
        .await?;
    let version = match tx.query_opt(&stmt, &[&space, &name]).await? {
        Some(row) => {
            let v = machine_version(row.get::<_, i32>(0))?;
            if row.get::<_, &str>(1) == text {
                return Ok(WriteOutcome::MachinePut { version: v, created: false, space_created: false });
            }
            v.next()
        }
        None => MachineVersion::FIRST,
    };
    let stmt = tx
        .prepare_cached(
            "INSERT INTO machines (space, name, version, definition, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    let payload = serde_json::to_string(&json!({ "name": name, "version": version.get() }))?;
    tx.execute(&stmt, &[&space, &name, &(version.get() as i32), &text, &now.0]).await?;
    cx.touch_space(now, space);
    cx.append(now, space, kinds::MACHINE_PUT, format!("{space}:{name}"), payload, None, false);
    Ok(WriteOutcome::MachinePut { version, created: true, space_created: false })
}

async fn create_instance(
    tx: &Transaction<'_>,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    key: &InstanceKey,
    ctx: &JsonObject,
    idempotency: Option<&Idempotency>,
) -> OpResult {
    let (space, machine, id) = (key.space.as_ref(), key.machine.as_ref(), key.id.as_ref());
    if let Some(idem) = idempotency
        && let Some(response) = check_idempotency(tx, cx, space, idem).await?
    {
        let instance: InstanceRecord = serde_json::from_str(&response)?;
        return Ok(WriteOutcome::InstanceCreated { instance, replayed: true });
    }
    let stmt = tx.prepare_cached("SELECT max(version) FROM machines WHERE space = $1 AND name = $2").await?;
    let Some(version) = tx.query_one(&stmt, &[&space, &machine]).await?.get::<_, Option<i32>>(0) else {
        let e = StoreError::MachineNotFound { space: space.to_string(), name: machine.to_string(), version: None };
        return Err(e.into());
    };
    let version = machine_version(version)?;
    let compiled = compiled_machine(tx, cx.machines, space, machine, version).await?;
    compiled.validate_context(ctx).map_err(StoreError::InvalidContext)?;
    let instance = InstanceRecord::created(key, version, compiled.initial_state(), ctx, now);
    let ctx_text = serde_json::to_string(ctx)?;
    let record = CreatedRecord { machine_version: version.get(), state: &instance.state, ctx: &instance.ctx };
    let record = serde_json::to_string(&record)?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO instances (space, machine, id, machine_version, state, ctx, revision, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) ON CONFLICT (space, machine, id) DO NOTHING",
        )
        .await?;
    let inserted = tx
        .execute(&stmt, &[&space, &machine, &id, &(version.get() as i32), &instance.state, &ctx_text, &now.0])
        .await?;
    if inserted == 0 {
        return Err(StoreError::InstanceExists { address: key.address() }.into());
    }
    let idem_key = idempotency.map(|i| i.key.as_str());
    cx.append(now, space, kinds::INSTANCE_CREATED, key.address(), record, idem_key, false);
    if let Some(idem) = idempotency {
        cx.remember(now, space, idem);
    }
    Ok(WriteOutcome::InstanceCreated { instance, replayed: false })
}

#[allow(clippy::too_many_arguments)]
async fn apply_event(
    tx: &Transaction<'_>,
    cx: &mut OpContext<'_>,
    now: Timestamp,
    key: &InstanceKey,
    event: &str,
    payload: &JsonObject,
    (expected_state, expected_revision): (Option<&str>, Option<Revision>),
    idempotency: Option<&Idempotency>,
    max_context_bytes: usize,
) -> OpResult {
    let (space, machine, id) = (key.space.as_ref(), key.machine.as_ref(), key.id.as_ref());
    if let Some(idem) = idempotency
        && let Some(response) = check_idempotency(tx, cx, space, idem).await?
    {
        let applied: TransitionApplied = serde_json::from_str(&response)?;
        return Ok(WriteOutcome::EventApplied { applied, replayed: true });
    }
    let stmt = tx
        .prepare_cached(
            "SELECT machine_version, state, ctx, revision, deleted_at FROM instances
             WHERE space = $1 AND machine = $2 AND id = $3 FOR UPDATE",
        )
        .await?;
    let Some(row) = tx.query_opt(&stmt, &[&space, &machine, &id]).await? else {
        return Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: None }.into());
    };
    if let Some(at) = row.get::<_, Option<i64>>(4) {
        return Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: Some(Timestamp(at)) }.into());
    }
    let state: String = row.get(1);
    let revision = revision(row.get::<_, i64>(3))?;
    let state_ok = expected_state.is_none_or(|s| s == state);
    let revision_ok = expected_revision.is_none_or(|r| r == revision);
    if !state_ok || !revision_ok {
        return Err(
            StoreError::Conflict { address: key.address(), actual_state: state, actual_revision: revision }.into()
        );
    }
    let version = machine_version(row.get::<_, i32>(0))?;
    let compiled = compiled_machine(tx, cx.machines, space, machine, version).await?;
    let ctx: JsonObject = serde_json::from_str(row.get::<_, &str>(2))?;
    let outcome = compiled.apply(&state, &ctx, event, payload, now.as_millis()).map_err(StoreError::from)?;
    let revision = revision.next();
    let new_ctx_text = serde_json::to_string(&outcome.ctx)?;
    crate::machines::check_context_size(&new_ctx_text, max_context_bytes)?;
    let record = TransitionedRecord { event, payload, from: &state, to: &outcome.to, revision: revision.get() };
    let record = serde_json::to_string(&record)?;
    let stmt = tx
        .prepare_cached(
            "UPDATE instances SET state = $1, ctx = $2, revision = $3, updated_at = $4
             WHERE space = $5 AND machine = $6 AND id = $7",
        )
        .await?;
    tx.execute(&stmt, &[&outcome.to, &new_ctx_text, &(revision.get() as i64), &now.0, &space, &machine, &id]).await?;
    let idem_key = idempotency.map(|i| i.key.as_str());
    cx.append(now, space, kinds::INSTANCE_TRANSITIONED, key.address(), record, idem_key, true);
    if let Some(idem) = idempotency {
        cx.remember(now, space, idem);
    }
    // The seq is patched in when the group's seqs are assigned.
    let applied = TransitionApplied { from: state, to: outcome.to, revision, seq: Seq(0), ctx: outcome.ctx };
    Ok(WriteOutcome::EventApplied { applied, replayed: false })
}

async fn delete_instance(tx: &Transaction<'_>, cx: &mut OpContext<'_>, now: Timestamp, key: &InstanceKey) -> OpResult {
    let (space, machine, id) = (key.space.as_ref(), key.machine.as_ref(), key.id.as_ref());
    let stmt = tx
        .prepare_cached("SELECT deleted_at FROM instances WHERE space = $1 AND machine = $2 AND id = $3 FOR UPDATE")
        .await?;
    match tx.query_opt(&stmt, &[&space, &machine, &id]).await? {
        None => Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: None }.into()),
        Some(row) => match row.get::<_, Option<i64>>(0) {
            Some(at) => {
                Err(StoreError::InstanceNotFound { address: key.address(), deleted_at: Some(Timestamp(at)) }.into())
            }
            None => {
                let stmt = tx
                    .prepare_cached(
                        "UPDATE instances SET deleted_at = $1, updated_at = $1 WHERE space = $2 AND machine = $3 AND id = $4",
                    )
                    .await?;
                tx.execute(&stmt, &[&now.0, &space, &machine, &id]).await?;
                cx.append(now, space, kinds::INSTANCE_DELETED, key.address(), "{}".to_string(), None, false);
                Ok(WriteOutcome::InstanceDeleted)
            }
        },
    }
}

/// Deletes a space and everything in it (see `space_rules`), then buffers its `space.deleted`
/// record. The writer runs this op in a group of its own, holding the space's lock exclusively
/// (every other write into the space holds it shared), so no write into the space is in flight
/// on any node meanwhile, and nothing this group buffered for the space can outlive it.
async fn delete_space(tx: &Transaction<'_>, cx: &mut OpContext<'_>, now: Timestamp, space: &str) -> OpResult {
    let stmt = tx.prepare_cached(&crate::space_rules::exists_sql("$1")).await?;
    let exists: bool = tx.query_one(&stmt, &[&space]).await?.get(0);
    if !exists {
        return Err(StoreError::SpaceNotFound { space: space.to_string() }.into());
    }
    let mut deleted = SpaceDeletion::default();
    for (table, count) in crate::space_rules::NAMED {
        let stmt = tx.prepare_cached(&crate::space_rules::count_names_sql(table, "$1")).await?;
        let n: i64 = tx.query_one(&stmt, &[&space]).await?.get(0);
        *count(&mut deleted) = n as u64;
    }
    for t in crate::space_rules::TABLES {
        let stmt = tx.prepare_cached(&crate::space_rules::delete_sql(t.table, "$1")).await?;
        let n = tx.execute(&stmt, &[&space]).await?;
        if let Some(count) = t.counts {
            *count(&mut deleted) = n;
        }
    }
    let stmt = tx.prepare_cached("DELETE FROM spaces WHERE name = $1").await?;
    tx.execute(&stmt, &[&space]).await?;
    cx.machines.forget_space(space);
    let payload = serde_json::to_string(&deleted)?;
    cx.append(now, space, kinds::SPACE_DELETED, space.to_string(), payload, None, true);
    // The seq is patched in when the group's seqs are assigned.
    Ok(WriteOutcome::SpaceDeleted { deleted, seq: Seq(0) })
}

async fn compiled_machine(
    tx: &Transaction<'_>,
    machines: &mut MachineCache,
    space: &str,
    name: &str,
    version: MachineVersion,
) -> Result<std::sync::Arc<switchyard_model::CompiledMachine>, OpFailure> {
    if let Some(cached) = machines.get(space, name, version) {
        return Ok(cached?);
    }
    let stmt =
        tx.prepare_cached("SELECT definition FROM machines WHERE space = $1 AND name = $2 AND version = $3").await?;
    let row = tx.query_opt(&stmt, &[&space, &name, &(version.get() as i32)]).await?;
    let Some(row) = row else {
        let e =
            StoreError::MachineNotFound { space: space.to_string(), name: name.to_string(), version: Some(version) };
        return Err(e.into());
    };
    let definition: Value = serde_json::from_str(row.get::<_, &str>(0))?;
    Ok(machines.get_or_compile(space, name, version, || Ok(definition))?)
}

/// The stored response for `idem`, or `None` when the key is new; a reuse with another
/// request is a refusal. A key already used earlier in this group (an atomic batch naming it
/// twice) is refused too: its row is not written until the group's end.
pub(crate) async fn check_idempotency(
    tx: &Transaction<'_>,
    cx: &OpContext<'_>,
    space: &str,
    idem: &Idempotency,
) -> Result<Option<String>, OpFailure> {
    if cx.log.idempotency.iter().any(|p| p.space == space && p.key == idem.key) {
        return Err(StoreError::IdempotencyKeyReused { key: idem.key.clone() }.into());
    }
    let stmt = tx.prepare_cached("SELECT fingerprint, response FROM idempotency WHERE space = $1 AND key = $2").await?;
    match tx.query_opt(&stmt, &[&space, &idem.key]).await? {
        None => Ok(None),
        Some(row) if row.get::<_, &str>(0) == idem.fingerprint => Ok(Some(row.get(1))),
        Some(_) => Err(StoreError::IdempotencyKeyReused { key: idem.key.clone() }.into()),
    }
}

async fn insert_token(tx: &Transaction<'_>, token: &TokenRecord, spaces: &str) -> Result<(), OpFailure> {
    tx.execute(
        "INSERT INTO tokens (id, name, secret_hash, role, spaces, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &token.id,
            &token.name,
            &token.secret_hash,
            &token.role.as_str(),
            &spaces,
            &token.created_at.0,
            &token.revoked_at.map(|t| t.0),
        ],
    )
    .await?;
    Ok(())
}
