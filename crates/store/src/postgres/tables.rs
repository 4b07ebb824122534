//! The table traits on a PostgreSQL group's transaction: SQL only.
//!
//! The rows a command writes are locked before it runs (its declared locks, taken by the
//! writer in one global order), so these statements never decide anything. Log records are
//! buffered and numbered in [`GroupTable::flush_log`], just before commit: that is what makes
//! seq order commit order across nodes (see `postgres::writer`). Statements are prepared once
//! per connection (`prepare_cached`).

use std::collections::HashSet;

use deadpool_postgres::Transaction;
use switchyard_model::{
    GrantRecord, InstanceKey, MachineVersion, NodeRecord, OrgRecord, PrincipalRecord, RoleRecord, Seq, Timestamp,
    TokenRecord,
};

use crate::decode::{machine_version, revision};
use crate::tables::*;

/// A number a command passes in as a `bigint` column. Every such number is within range by
/// the table traits' contracts, so one that is not is a bug: it fails the whole group rather
/// than refusing after the command's first write (a single op runs without a savepoint).
pub(crate) fn bigint(v: u64) -> TxResult<i64> {
    i64::try_from(v).map_err(|_| TxError::Storage {
        error: crate::error::StoreError::Internal(format!("{v} is beyond a bigint column")),
        retry: false,
    })
}

/// A group's transaction, as the commands see it.
pub(crate) struct PgTx<'a, 't> {
    pub tx: &'a Transaction<'t>,
    /// A job became pending (enqueued, retried, re-driven): the writer notifies the other
    /// nodes' schedulers when the group commits (see [`JOBS_CHANNEL`]).
    pub jobs_due: bool,
    /// The idempotency records of the group's keys, read by the writer with the keys' locks
    /// held (`None`: no record). Valid for the whole group: two requests with one key never
    /// share a group, and the group's own records are written only at its end.
    pub idempotency: std::collections::HashMap<(String, String), Option<(String, String)>>,
}

/// The channel a commit that made a job pending notifies, so that schedulers on other nodes
/// look at the work table at once instead of at their next poll. A hint only: a lost
/// notification costs at most one poll interval.
pub(crate) const JOBS_CHANNEL: &str = "switchyard_jobs";

impl GroupTable for PgTx<'_, '_> {
    async fn savepoint(&mut self) -> TxResult<()> {
        self.tx.batch_execute("SAVEPOINT request").await?;
        Ok(())
    }

    async fn release_savepoint(&mut self) -> TxResult<()> {
        self.tx.batch_execute("RELEASE SAVEPOINT request").await?;
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self, _: &GroupLog, _: LogMark) -> TxResult<()> {
        self.tx.batch_execute("ROLLBACK TO SAVEPOINT request").await?;
        Ok(())
    }

    async fn append_log(&mut self, log: &mut GroupLog, record: PendingRecord) -> TxResult<()> {
        log.records.push(record);
        Ok(())
    }

    async fn flush_log(&mut self, log: &mut GroupLog) -> TxResult<()> {
        if log.records.is_empty() {
            return Ok(());
        }
        let count = log.records.len() as i64;
        let bytes: i64 = log.records.iter().map(|r| (r.address.len() + r.payload.len()) as i64).sum();
        // Each record's end offset counted from the group's first byte; the head's offset is
        // added in the statement.
        let mut end = 0i64;
        let ends: Vec<i64> = log
            .records
            .iter()
            .map(|r| {
                end += (r.address.len() + r.payload.len()) as i64;
                end
            })
            .collect();
        let spaces: Vec<&str> = log.records.iter().map(|r| r.space.as_str()).collect();
        let kinds: Vec<&str> = log.records.iter().map(|r| r.kind).collect();
        let addresses: Vec<&str> = log.records.iter().map(|r| r.address.as_str()).collect();
        let payloads: Vec<&str> = log.records.iter().map(|r| r.payload.as_str()).collect();
        let keys: Vec<Option<&str>> = log.records.iter().map(|r| r.idempotency_key.as_deref()).collect();
        let times: Vec<i64> = log.records.iter().map(|r| r.created_at.0).collect();
        // Reserving the seqs and inserting the records in one statement: one round trip, and
        // the `log_head` row lock taken by it is held until COMMIT as before.
        let stmt = self
            .tx
            .prepare_cached(
                "WITH head AS (
                   UPDATE log_head SET last_seq = last_seq + $1, last_offset = last_offset + $2 WHERE id = 1
                   RETURNING last_seq, last_offset
                 ), inserted AS (
                   INSERT INTO events (seq, space, kind, address, payload, idempotency_key, created_at, end_offset)
                   SELECT head.last_seq - $1 + r.n, r.space, r.kind, r.address, r.payload, r.key, r.at,
                          head.last_offset - $2 + r.end_offset
                   FROM head, unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[])
                     WITH ORDINALITY AS r(space, kind, address, payload, key, at, end_offset, n)
                 )
                 SELECT last_seq FROM head",
            )
            .await?;
        let head = self
            .tx
            .query_one(&stmt, &[&count, &bytes, &spaces, &kinds, &addresses, &payloads, &keys, &times, &ends])
            .await?;
        let last: i64 = head.get(0);
        let first = last - count + 1;
        for (i, record) in log.records.iter_mut().enumerate() {
            record.seq = Some(Seq((first + i as i64) as u64));
        }
        Ok(())
    }

    async fn insert_idempotency(&mut self, rows: &[(&str, &str, &str, String, Timestamp)]) -> TxResult<()> {
        let spaces: Vec<&str> = rows.iter().map(|r| r.0).collect();
        let keys: Vec<&str> = rows.iter().map(|r| r.1).collect();
        let fingerprints: Vec<&str> = rows.iter().map(|r| r.2).collect();
        let responses: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
        let times: Vec<i64> = rows.iter().map(|r| r.4.0).collect();
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO idempotency (space, key, fingerprint, response, created_at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])",
            )
            .await?;
        self.tx.execute(&stmt, &[&spaces, &keys, &fingerprints, &responses, &times]).await?;
        Ok(())
    }

    /// Under the `log_head` row lock (taken here when the group appended no record), so no two
    /// groups insert one row at once and the insert never waits on another group.
    async fn insert_spaces(&mut self, rows: &[(&str, Timestamp)], log_flushed: bool) -> TxResult<HashSet<String>> {
        if !log_flushed {
            let stmt = self.tx.prepare_cached("SELECT 1 FROM log_head WHERE id = 1 FOR UPDATE").await?;
            self.tx.execute(&stmt, &[]).await?;
        }
        let names: Vec<&str> = rows.iter().map(|r| r.0).collect();
        let times: Vec<i64> = rows.iter().map(|r| r.1.0).collect();
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO spaces (name, created_at) SELECT * FROM unnest($1::text[], $2::bigint[])
                 ON CONFLICT (name) DO NOTHING RETURNING name",
            )
            .await?;
        Ok(self.tx.query(&stmt, &[&names, &times]).await?.iter().map(|row| row.get(0)).collect())
    }
}

impl IdempotencyTable for PgTx<'_, '_> {
    async fn idempotency_record(&mut self, space: &str, key: &str) -> TxResult<Option<(String, String)>> {
        if let Some(record) = self.idempotency.get(&(space.to_owned(), key.to_owned())) {
            return Ok(record.clone());
        }
        let stmt = self
            .tx
            .prepare_cached("SELECT fingerprint, response FROM idempotency WHERE space = $1 AND key = $2")
            .await?;
        Ok(self.tx.query_opt(&stmt, &[&space, &key]).await?.map(|row| (row.get(0), row.get(1))))
    }

    async fn purge_idempotency(&mut self, before: Timestamp, limit: u32) -> TxResult<u64> {
        let stmt = self
            .tx
            .prepare_cached(
                "DELETE FROM idempotency WHERE (space, key) IN
                   (SELECT space, key FROM idempotency WHERE created_at < $1 LIMIT $2)",
            )
            .await?;
        Ok(self.tx.execute(&stmt, &[&before.0, &i64::from(limit)]).await?)
    }
}

impl MachineTable for PgTx<'_, '_> {
    async fn latest_machine(&mut self, space: &str, name: &str) -> TxResult<Option<(MachineVersion, String)>> {
        let stmt = self
            .tx
            .prepare_cached(
                "SELECT version, definition FROM machines WHERE space = $1 AND name = $2 ORDER BY version DESC LIMIT 1",
            )
            .await?;
        match self.tx.query_opt(&stmt, &[&space, &name]).await? {
            Some(row) => Ok(Some((machine_version(row.get::<_, i32>(0))?, row.get(1)))),
            None => Ok(None),
        }
    }

    async fn latest_machine_version(&mut self, space: &str, name: &str) -> TxResult<Option<MachineVersion>> {
        let stmt = self.tx.prepare_cached("SELECT max(version) FROM machines WHERE space = $1 AND name = $2").await?;
        let version: Option<i32> = self.tx.query_one(&stmt, &[&space, &name]).await?.get(0);
        Ok(version.map(machine_version).transpose()?)
    }

    async fn machine_definition(
        &mut self,
        space: &str,
        name: &str,
        version: MachineVersion,
    ) -> TxResult<Option<String>> {
        let stmt = self
            .tx
            .prepare_cached("SELECT definition FROM machines WHERE space = $1 AND name = $2 AND version = $3")
            .await?;
        Ok(self.tx.query_opt(&stmt, &[&space, &name, &(version.get() as i32)]).await?.map(|row| row.get(0)))
    }

    async fn insert_machine(
        &mut self,
        space: &str,
        name: &str,
        version: MachineVersion,
        definition: &str,
        now: Timestamp,
    ) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO machines (space, name, version, definition, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .await?;
        self.tx.execute(&stmt, &[&space, &name, &(version.get() as i32), &definition, &now.0]).await?;
        Ok(())
    }
}

impl InstanceTable for PgTx<'_, '_> {
    async fn instance_for_update(&mut self, key: &InstanceKey) -> TxResult<Option<InstanceRow>> {
        let stmt = self
            .tx
            .prepare_cached(
                "SELECT machine_version, state, ctx, revision, deleted_at, status, work, parent FROM instances
                 WHERE space = $1 AND machine = $2 AND id = $3 FOR UPDATE",
            )
            .await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&key.space.as_str(), &key.machine.as_str(), &key.id.as_str()];
        let Some(row) = self.tx.query_opt(&stmt, &params).await? else { return Ok(None) };
        Ok(Some(InstanceRow {
            machine_version: machine_version(row.get::<_, i32>(0))?,
            state: row.get(1),
            ctx: row.get(2),
            revision: revision(row.get::<_, i64>(3))?,
            deleted_at: row.get::<_, Option<i64>>(4).map(Timestamp),
            status: row.get(5),
            work: row.get(6),
            parent: row.get(7),
        }))
    }

    async fn instance_deleted_at_for_update(&mut self, key: &InstanceKey) -> TxResult<Option<Option<Timestamp>>> {
        let stmt = self
            .tx
            .prepare_cached("SELECT deleted_at FROM instances WHERE space = $1 AND machine = $2 AND id = $3 FOR UPDATE")
            .await?;
        let row = self.tx.query_opt(&stmt, &[&key.space.as_str(), &key.machine.as_str(), &key.id.as_str()]).await?;
        Ok(row.map(|row| row.get::<_, Option<i64>>(0).map(Timestamp)))
    }

    async fn insert_instance(
        &mut self,
        key: &InstanceKey,
        version: MachineVersion,
        write: &InstanceWrite<'_>,
    ) -> TxResult<bool> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO instances (space, machine, id, machine_version, state, ctx, revision, created_at,
                    updated_at, status, work, error, parent)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12) ON CONFLICT (space, machine, id) DO NOTHING",
            )
            .await?;
        let inserted = self
            .tx
            .execute(
                &stmt,
                &[
                    &key.space.as_str(),
                    &key.machine.as_str(),
                    &key.id.as_str(),
                    &(version.get() as i32),
                    &write.state,
                    &write.ctx,
                    &(write.revision.get() as i64),
                    &write.now.0,
                    &write.status,
                    &write.work,
                    &write.error,
                    &write.parent,
                ],
            )
            .await?;
        Ok(inserted == 1)
    }

    async fn update_instance(&mut self, key: &InstanceKey, write: &InstanceWrite<'_>) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE instances SET state = $1, ctx = $2, revision = $3, updated_at = $4, status = $5, work = $6,
                    error = $7
                 WHERE space = $8 AND machine = $9 AND id = $10",
            )
            .await?;
        self.tx
            .execute(
                &stmt,
                &[
                    &write.state,
                    &write.ctx,
                    &(write.revision.get() as i64),
                    &write.now.0,
                    &write.status,
                    &write.work,
                    &write.error,
                    &key.space.as_str(),
                    &key.machine.as_str(),
                    &key.id.as_str(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn set_instance_version(
        &mut self,
        key: &InstanceKey,
        version: MachineVersion,
        status: &str,
        now: Timestamp,
    ) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE instances SET machine_version = $1, status = $2, updated_at = $3
                 WHERE space = $4 AND machine = $5 AND id = $6",
            )
            .await?;
        let version = version.get() as i32;
        self.tx
            .execute(&stmt, &[&version, &status, &now.0, &key.space.as_str(), &key.machine.as_str(), &key.id.as_str()])
            .await?;
        Ok(())
    }

    async fn set_instance_status(
        &mut self,
        key: &InstanceKey,
        status: &str,
        work: Option<&str>,
        error: Option<&str>,
        now: Timestamp,
    ) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE instances SET status = $1, work = $2, error = $3, updated_at = $4
                 WHERE space = $5 AND machine = $6 AND id = $7",
            )
            .await?;
        self.tx
            .execute(
                &stmt,
                &[&status, &work, &error, &now.0, &key.space.as_str(), &key.machine.as_str(), &key.id.as_str()],
            )
            .await?;
        Ok(())
    }

    async fn mark_instance_deleted(&mut self, key: &InstanceKey, now: Timestamp) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE instances SET deleted_at = $1, updated_at = $1 WHERE space = $2 AND machine = $3 AND id = $4",
            )
            .await?;
        self.tx.execute(&stmt, &[&now.0, &key.space.as_str(), &key.machine.as_str(), &key.id.as_str()]).await?;
        Ok(())
    }
}

impl TokenTable for PgTx<'_, '_> {
    async fn insert_token(&mut self, token: &TokenRecord) -> TxResult<()> {
        let spaces = serde_json::to_string(&token.spaces.to_names())?;
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO tokens (id, name, secret_hash, role, spaces, created_at, revoked_at, principal, expires_at, session)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .await?;
        self.tx
            .execute(
                &stmt,
                &[
                    &token.id,
                    &token.name,
                    &token.secret_hash,
                    &token.role.as_str(),
                    &spaces,
                    &token.created_at.0,
                    &token.revoked_at.map(|t| t.0),
                    &token.principal,
                    &token.expires_at.map(|t| t.0),
                    &token.session,
                ],
            )
            .await?;
        Ok(())
    }

    async fn claim_admin_bootstrap(&mut self, token_id: &str) -> TxResult<bool> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO switchyard_meta (key, value) VALUES ('admin_bootstrapped', $1) ON CONFLICT (key) DO NOTHING",
            )
            .await?;
        Ok(self.tx.execute(&stmt, &[&token_id]).await? == 1)
    }

    async fn token_revoked_at_for_update(&mut self, id: &str) -> TxResult<Option<Option<Timestamp>>> {
        let stmt = self.tx.prepare_cached("SELECT revoked_at FROM tokens WHERE id = $1 FOR UPDATE").await?;
        Ok(self.tx.query_opt(&stmt, &[&id]).await?.map(|row| row.get::<_, Option<i64>>(0).map(Timestamp)))
    }

    async fn revoke_token(&mut self, id: &str, now: Timestamp) -> TxResult<()> {
        let stmt = self.tx.prepare_cached("UPDATE tokens SET revoked_at = $1 WHERE id = $2").await?;
        self.tx.execute(&stmt, &[&now.0, &id]).await?;
        Ok(())
    }

    async fn revoke_tokens_of(
        &mut self,
        principal: &str,
        now: Timestamp,
        except: Option<&str>,
        sessions_only: bool,
    ) -> TxResult<Vec<String>> {
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE tokens SET revoked_at = $1
                 WHERE principal = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)
                   AND ($3::text IS NULL OR id <> $3) AND (session OR NOT $4)
                 RETURNING id",
            )
            .await?;
        let rows = self.tx.query(&stmt, &[&now.0, &principal, &except, &sessions_only]).await?;
        let mut ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        ids.sort();
        Ok(ids)
    }
}

impl AccessTable for PgTx<'_, '_> {
    async fn insert_principal(&mut self, p: &PrincipalRecord) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO principals (id, kind, name, password_hash, failed_sign_ins, locked_until, created_at, org)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .await?;
        let failed = i32::try_from(p.failed_sign_ins).unwrap_or(i32::MAX);
        self.tx
            .execute(
                &stmt,
                &[
                    &p.id,
                    &p.kind.as_str(),
                    &p.name,
                    &p.password_hash,
                    &failed,
                    &p.locked_until.map(|t| t.0),
                    &p.created_at.0,
                    &p.org,
                ],
            )
            .await?;
        Ok(())
    }

    async fn insert_org(&mut self, org: &OrgRecord) -> TxResult<bool> {
        let stmt = self
            .tx
            .prepare_cached("INSERT INTO orgs (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .await?;
        Ok(self.tx.execute(&stmt, &[&org.name, &org.created_at.0]).await? == 1)
    }

    async fn org_for_update(&mut self, name: &str) -> TxResult<Option<OrgRecord>> {
        // The row lock orders an org's deletion against a member's creation on another node.
        let stmt = self.tx.prepare_cached("SELECT name, created_at FROM orgs WHERE name = $1 FOR UPDATE").await?;
        let row = self.tx.query_opt(&stmt, &[&name]).await?;
        Ok(row.map(|r| OrgRecord { name: r.get(0), created_at: Timestamp(r.get(1)) }))
    }

    async fn org_holdings(&mut self, name: &str) -> TxResult<(u64, u64)> {
        let stmt = self.tx.prepare_cached("SELECT count(*) FROM principals WHERE org = $1").await?;
        let members: i64 = self.tx.query_one(&stmt, &[&name]).await?.get(0);
        // `org.` up to `org/`, the character after `.`: every space named `org.…` (the column
        // sorts by bytes, COLLATE "C"), of which those that are projects (`acme.x.y` is none).
        let stmt = self.tx.prepare_cached("SELECT name FROM spaces WHERE name > $1 AND name < $2").await?;
        let rows = self.tx.query(&stmt, &[&format!("{name}."), &format!("{name}/")]).await?;
        let projects = rows
            .iter()
            .filter(|r| switchyard_model::split_project(r.get::<_, &str>(0)).is_some_and(|(org, _)| org == name))
            .count();
        Ok((members as u64, projects as u64))
    }

    async fn delete_org(&mut self, name: &str) -> TxResult<Vec<String>> {
        // `org/` up to `org0`, the character after `/`: every pattern written `org/…` (compared
        // by bytes).
        let (from, to) = (format!("{name}/"), format!("{name}0"));
        let stmt = self
            .tx
            .prepare_cached(
                "DELETE FROM grants WHERE pattern COLLATE \"C\" >= $1 AND pattern COLLATE \"C\" < $2 RETURNING id",
            )
            .await?;
        let mut ids: Vec<String> = self.tx.query(&stmt, &[&from, &to]).await?.iter().map(|r| r.get(0)).collect();
        let stmt = self.tx.prepare_cached("DELETE FROM orgs WHERE name = $1").await?;
        self.tx.execute(&stmt, &[&name]).await?;
        ids.sort();
        Ok(ids)
    }

    async fn user_exists(&mut self, name: &str) -> TxResult<bool> {
        let stmt = self.tx.prepare_cached("SELECT 1 FROM principals WHERE kind = 'user' AND name = $1").await?;
        Ok(self.tx.query_opt(&stmt, &[&name]).await?.is_some())
    }

    async fn principal_for_update(&mut self, id: &str) -> TxResult<Option<PrincipalRecord>> {
        let sql = format!("SELECT {} FROM principals WHERE id = $1 FOR UPDATE", super::PRINCIPAL_COLUMNS);
        let stmt = self.tx.prepare_cached(&sql).await?;
        Ok(self.tx.query_opt(&stmt, &[&id]).await?.as_ref().map(super::principal).transpose()?)
    }

    async fn update_sign_in(&mut self, id: &str, failed: u32, locked_until: Option<Timestamp>) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached("UPDATE principals SET failed_sign_ins = $1, locked_until = $2 WHERE id = $3")
            .await?;
        let failed = i32::try_from(failed).unwrap_or(i32::MAX);
        self.tx.execute(&stmt, &[&failed, &locked_until.map(|t| t.0), &id]).await?;
        Ok(())
    }

    async fn set_password(&mut self, id: &str, hash: &str) -> TxResult<()> {
        let stmt = self.tx.prepare_cached("UPDATE principals SET password_hash = $1 WHERE id = $2").await?;
        self.tx.execute(&stmt, &[&hash, &id]).await?;
        Ok(())
    }

    async fn delete_principal(&mut self, id: &str) -> TxResult<()> {
        let stmt = self.tx.prepare_cached("DELETE FROM grants WHERE principal = $1").await?;
        self.tx.execute(&stmt, &[&id]).await?;
        let stmt = self.tx.prepare_cached("DELETE FROM principals WHERE id = $1").await?;
        self.tx.execute(&stmt, &[&id]).await?;
        Ok(())
    }

    async fn insert_grant(&mut self, g: &GrantRecord) -> TxResult<bool> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO grants (id, principal, role, pattern, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (principal, role, pattern) DO NOTHING",
            )
            .await?;
        Ok(self.tx.execute(&stmt, &[&g.id, &g.principal, &g.role, &g.pattern, &g.created_at.0]).await? == 1)
    }

    async fn grant_for_update(&mut self, id: &str) -> TxResult<Option<GrantRecord>> {
        let sql = format!("SELECT {} FROM grants WHERE id = $1 FOR UPDATE", super::GRANT_COLUMNS);
        let stmt = self.tx.prepare_cached(&sql).await?;
        Ok(self.tx.query_opt(&stmt, &[&id]).await?.as_ref().map(super::grant).transpose()?)
    }

    async fn delete_grant(&mut self, id: &str) -> TxResult<()> {
        let stmt = self.tx.prepare_cached("DELETE FROM grants WHERE id = $1").await?;
        self.tx.execute(&stmt, &[&id]).await?;
        Ok(())
    }

    async fn put_role(&mut self, role: &RoleRecord) -> TxResult<bool> {
        let existed = self.role_exists(&role.name).await?;
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO roles (name, permissions, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET permissions = excluded.permissions, updated_at = excluded.updated_at",
            )
            .await?;
        let permissions = serde_json::to_string(&role.permissions)?;
        self.tx.execute(&stmt, &[&role.name, &permissions, &role.updated_at.0]).await?;
        Ok(!existed)
    }

    async fn role_exists(&mut self, name: &str) -> TxResult<bool> {
        let stmt = self.tx.prepare_cached("SELECT 1 FROM roles WHERE name = $1").await?;
        Ok(self.tx.query_opt(&stmt, &[&name]).await?.is_some())
    }

    async fn grants_of_role(&mut self, name: &str) -> TxResult<u64> {
        let stmt = self.tx.prepare_cached("SELECT count(*) FROM grants WHERE role = $1").await?;
        let count: i64 = self.tx.query_one(&stmt, &[&name]).await?.get(0);
        Ok(count as u64)
    }

    async fn delete_role(&mut self, name: &str) -> TxResult<()> {
        let stmt = self.tx.prepare_cached("DELETE FROM roles WHERE name = $1").await?;
        self.tx.execute(&stmt, &[&name]).await?;
        Ok(())
    }
}

impl NodeTable for PgTx<'_, '_> {
    async fn upsert_node(&mut self, node: &NodeRecord) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO nodes (id, address, started_at, heartbeat_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET address = excluded.address, heartbeat_at = excluded.heartbeat_at",
            )
            .await?;
        self.tx.execute(&stmt, &[&node.id, &node.address, &node.started_at.0, &node.heartbeat_at.0]).await?;
        Ok(())
    }

    async fn renew_node(&mut self, id: &str, at: Timestamp) -> TxResult<()> {
        let stmt = self.tx.prepare_cached("UPDATE nodes SET heartbeat_at = $1 WHERE id = $2").await?;
        self.tx.execute(&stmt, &[&at.0, &id]).await?;
        Ok(())
    }

    async fn remove_node(&mut self, id: &str) -> TxResult<()> {
        let stmt = self.tx.prepare_cached("DELETE FROM nodes WHERE id = $1").await?;
        self.tx.execute(&stmt, &[&id]).await?;
        Ok(())
    }
}

impl SpaceTable for PgTx<'_, '_> {
    async fn space_exists(&mut self, space: &str) -> TxResult<bool> {
        let stmt = self.tx.prepare_cached(&crate::space_rules::exists_sql("$1")).await?;
        Ok(self.tx.query_one(&stmt, &[&space]).await?.get(0))
    }

    async fn count_names(&mut self, table: &str, space: &str) -> TxResult<u64> {
        let stmt = self.tx.prepare_cached(&crate::space_rules::count_names_sql(table, "$1")).await?;
        let n: i64 = self.tx.query_one(&stmt, &[&space]).await?.get(0);
        Ok(n as u64)
    }

    async fn delete_space_rows(&mut self, table: &str, space: &str) -> TxResult<u64> {
        let stmt = self.tx.prepare_cached(&crate::space_rules::delete_sql(table, "$1")).await?;
        Ok(self.tx.execute(&stmt, &[&space]).await?)
    }

    async fn delete_space_row(&mut self, space: &str) -> TxResult<()> {
        let stmt = self.tx.prepare_cached("DELETE FROM spaces WHERE name = $1").await?;
        self.tx.execute(&stmt, &[&space]).await?;
        Ok(())
    }

    async fn space_values(&mut self, space: &str, kind: &str) -> TxResult<Vec<(String, String)>> {
        let stmt = self
            .tx
            .prepare_cached("SELECT name, value FROM space_values WHERE space = $1 AND kind = $2 ORDER BY name")
            .await?;
        let rows = self.tx.query(&stmt, &[&space, &kind]).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn count_space_values(&mut self, space: &str, kind: &str, name: &str) -> TxResult<(u64, bool)> {
        let stmt = self
            .tx
            .prepare_cached(
                "SELECT count(*), coalesce(bool_or(name = $3), false) FROM space_values WHERE space = $1 AND kind = $2",
            )
            .await?;
        let row = self.tx.query_one(&stmt, &[&space, &kind, &name]).await?;
        Ok((row.get::<_, i64>(0) as u64, row.get(1)))
    }

    async fn upsert_space_value(
        &mut self,
        space: &str,
        kind: &str,
        name: &str,
        value: &str,
        now: Timestamp,
    ) -> TxResult<()> {
        let stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO space_values (space, kind, name, value, updated_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (space, kind, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .await?;
        self.tx.execute(&stmt, &[&space, &kind, &name, &value, &now.0]).await?;
        Ok(())
    }

    async fn delete_space_value(&mut self, space: &str, kind: &str, name: &str) -> TxResult<bool> {
        let stmt =
            self.tx.prepare_cached("DELETE FROM space_values WHERE space = $1 AND kind = $2 AND name = $3").await?;
        Ok(self.tx.execute(&stmt, &[&space, &kind, &name]).await? == 1)
    }
}

impl Tables for PgTx<'_, '_> {}
