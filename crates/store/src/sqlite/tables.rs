//! The table traits on the SQLite writer's connection: SQL only.
//!
//! Runs on the writer thread inside its transaction. Every method completes without waiting
//! (rusqlite is synchronous), so the writer drives a command's future with a single poll.
//! Log records are inserted as they are appended, numbered from the writer's `next_seq`, so
//! later reads in the same group see them; a rolled-back savepoint rewinds the numbering.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, params};
use switchyard_model::{
    GrantRecord, InstanceKey, MachineVersion, NodeRecord, OrgRecord, PrincipalRecord, RoleRecord, Seq, Timestamp,
    TokenRecord,
};

use super::rows;

use crate::decode::{machine_version, revision};
use crate::tables::*;

/// The writer's transaction, as the commands see it.
pub(crate) struct SqliteTx<'a> {
    pub conn: &'a Connection,
    /// The next seq to assign.
    pub next_seq: &'a mut u64,
    /// The log's running byte total.
    pub next_offset: &'a mut u64,
    /// `next_seq` and `next_offset` when the current savepoint began.
    pub saved: (u64, u64),
}

impl GroupTable for SqliteTx<'_> {
    fn rows_changed(&self) -> Option<u64> {
        Some(self.conn.total_changes())
    }

    async fn savepoint(&mut self) -> TxResult<()> {
        self.conn.execute_batch("SAVEPOINT request")?;
        self.saved = (*self.next_seq, *self.next_offset);
        Ok(())
    }

    async fn release_savepoint(&mut self) -> TxResult<()> {
        self.conn.execute_batch("RELEASE request")?;
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self, _: &GroupLog, _: LogMark) -> TxResult<()> {
        self.conn.execute_batch("ROLLBACK TO request; RELEASE request")?;
        (*self.next_seq, *self.next_offset) = self.saved;
        Ok(())
    }

    async fn append_log(&mut self, log: &mut GroupLog, mut record: PendingRecord) -> TxResult<()> {
        let seq = *self.next_seq;
        let end_offset = *self.next_offset + (record.address.len() + record.payload.len()) as u64;
        self.conn
            .prepare_cached(
                "INSERT INTO events (seq, space, kind, address, payload, idempotency_key, created_at, end_offset)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                seq as i64,
                record.space,
                record.kind,
                record.address,
                record.payload,
                record.idempotency_key,
                record.created_at.0,
                end_offset as i64
            ])?;
        *self.next_seq += 1;
        *self.next_offset = end_offset;
        record.seq = Some(Seq(seq));
        log.records.push(record);
        Ok(())
    }

    async fn flush_log(&mut self, _: &mut GroupLog) -> TxResult<()> {
        // Written and numbered as they were appended; the writer records the last seq.
        Ok(())
    }

    async fn insert_idempotency(&mut self, rows: &[(&str, &str, &str, String, Timestamp)]) -> TxResult<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO idempotency (space, key, fingerprint, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (space, key, fingerprint, response, at) in rows {
            stmt.execute(params![space, key, fingerprint, response, at.0])?;
        }
        Ok(())
    }

    async fn insert_spaces(&mut self, rows: &[(&str, Timestamp)], _: bool) -> TxResult<HashSet<String>> {
        let mut stmt = self.conn.prepare_cached("INSERT OR IGNORE INTO spaces (name, created_at) VALUES (?1, ?2)")?;
        let mut created = HashSet::new();
        for (name, at) in rows {
            if stmt.execute(params![name, at.0])? == 1 {
                created.insert(name.to_string());
            }
        }
        Ok(created)
    }
}

impl IdempotencyTable for SqliteTx<'_> {
    async fn idempotency_record(&mut self, space: &str, key: &str) -> TxResult<Option<(String, String)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT fingerprint, response FROM idempotency WHERE space = ?1 AND key = ?2")?
            .query_row(params![space, key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    async fn purge_idempotency(&mut self, before: Timestamp, limit: u32) -> TxResult<u64> {
        let n = self
            .conn
            .prepare_cached(
                "DELETE FROM idempotency WHERE (space, key) IN
                   (SELECT space, key FROM idempotency WHERE created_at < ?1 LIMIT +?2)",
            )?
            .execute(params![before.0, limit])?;
        Ok(n as u64)
    }
}

impl MachineTable for SqliteTx<'_> {
    async fn latest_machine(&mut self, space: &str, name: &str) -> TxResult<Option<(MachineVersion, String)>> {
        let row: Option<(u32, String)> = self
            .conn
            .prepare_cached(
                "SELECT version, definition FROM machines WHERE space = ?1 AND name = ?2 ORDER BY version DESC LIMIT 1",
            )?
            .query_row(params![space, name], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.map(|(v, text)| machine_version(v).map(|v| (v, text))).transpose()?)
    }

    async fn latest_machine_version(&mut self, space: &str, name: &str) -> TxResult<Option<MachineVersion>> {
        let version: Option<u32> = self
            .conn
            .prepare_cached("SELECT max(version) FROM machines WHERE space = ?1 AND name = ?2")?
            .query_row(params![space, name], |r| r.get(0))?;
        Ok(version.map(machine_version).transpose()?)
    }

    async fn machine_definition(
        &mut self,
        space: &str,
        name: &str,
        version: MachineVersion,
    ) -> TxResult<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT definition FROM machines WHERE space = ?1 AND name = ?2 AND version = ?3")?
            .query_row(params![space, name, version.get()], |r| r.get(0))
            .optional()?)
    }

    async fn insert_machine(
        &mut self,
        space: &str,
        name: &str,
        version: MachineVersion,
        definition: &str,
        now: Timestamp,
    ) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO machines (space, name, version, definition, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![space, name, version.get(), definition, now.0])?;
        Ok(())
    }
}

impl InstanceTable for SqliteTx<'_> {
    async fn instance_for_update(&mut self, key: &InstanceKey) -> TxResult<Option<InstanceRow>> {
        type Columns = (u32, String, String, u64, Option<i64>, String, Option<String>, Option<String>);
        let row: Option<Columns> = self
            .conn
            .prepare_cached(
                "SELECT machine_version, state, ctx, revision, deleted_at, status, work, parent FROM instances
                 WHERE space = ?1 AND machine = ?2 AND id = ?3",
            )?
            .query_row(params![key.space.as_str(), key.machine.as_str(), key.id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })
            .optional()?;
        let Some((version, state, ctx, rev, deleted_at, status, work, parent)) = row else { return Ok(None) };
        Ok(Some(InstanceRow {
            machine_version: machine_version(version)?,
            state,
            ctx,
            revision: revision(rev)?,
            deleted_at: deleted_at.map(Timestamp),
            status,
            work,
            parent,
        }))
    }

    async fn instance_deleted_at_for_update(&mut self, key: &InstanceKey) -> TxResult<Option<Option<Timestamp>>> {
        let deleted_at: Option<Option<i64>> = self
            .conn
            .prepare_cached("SELECT deleted_at FROM instances WHERE space = ?1 AND machine = ?2 AND id = ?3")?
            .query_row(params![key.space.as_str(), key.machine.as_str(), key.id.as_str()], |r| r.get(0))
            .optional()?;
        Ok(deleted_at.map(|at| at.map(Timestamp)))
    }

    async fn insert_instance(
        &mut self,
        key: &InstanceKey,
        version: MachineVersion,
        write: &InstanceWrite<'_>,
    ) -> TxResult<bool> {
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO instances (space, machine, id, machine_version, state, ctx, revision, created_at,
                    updated_at, status, work, error, parent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (space, machine, id) DO NOTHING",
            )?
            .execute(params![
                key.space.as_str(),
                key.machine.as_str(),
                key.id.as_str(),
                version.get(),
                write.state,
                write.ctx,
                write.revision.get(),
                write.now.0,
                write.status,
                write.work,
                write.error,
                write.parent,
            ])?;
        Ok(inserted == 1)
    }

    async fn update_instance(&mut self, key: &InstanceKey, write: &InstanceWrite<'_>) -> TxResult<()> {
        // `status` is named only when it changes (see `InstanceWrite::status_changed`); both
        // statements number their parameters alike (`?5` is bound and unused in the second).
        let sql = if write.status_changed {
            "UPDATE instances SET state = ?1, ctx = ?2, revision = ?3, updated_at = ?4, status = ?5, work = ?6,
                error = ?7
             WHERE space = ?8 AND machine = ?9 AND id = ?10"
        } else {
            "UPDATE instances SET state = ?1, ctx = ?2, revision = ?3, updated_at = ?4, work = ?6, error = ?7
             WHERE space = ?8 AND machine = ?9 AND id = ?10"
        };
        self.conn.prepare_cached(sql)?.execute(params![
            write.state,
            write.ctx,
            write.revision.get(),
            write.now.0,
            write.status,
            write.work,
            write.error,
            key.space.as_str(),
            key.machine.as_str(),
            key.id.as_str()
        ])?;
        Ok(())
    }

    async fn set_instance_version(
        &mut self,
        key: &InstanceKey,
        version: MachineVersion,
        status: &str,
        now: Timestamp,
    ) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE instances SET machine_version = ?1, status = ?2, updated_at = ?3
                 WHERE space = ?4 AND machine = ?5 AND id = ?6",
            )?
            .execute(params![
                version.get(),
                status,
                now.0,
                key.space.as_str(),
                key.machine.as_str(),
                key.id.as_str()
            ])?;
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
        self.conn
            .prepare_cached(
                "UPDATE instances SET status = ?1, work = ?2, error = ?3, updated_at = ?4
                 WHERE space = ?5 AND machine = ?6 AND id = ?7",
            )?
            .execute(params![status, work, error, now.0, key.space.as_str(), key.machine.as_str(), key.id.as_str()])?;
        Ok(())
    }

    async fn mark_instance_deleted(&mut self, key: &InstanceKey, now: Timestamp) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE instances SET deleted_at = ?1, updated_at = ?1 WHERE space = ?2 AND machine = ?3 AND id = ?4",
            )?
            .execute(params![now.0, key.space.as_str(), key.machine.as_str(), key.id.as_str()])?;
        Ok(())
    }
}

impl TokenTable for SqliteTx<'_> {
    async fn insert_token(&mut self, token: &TokenRecord) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO tokens (id, name, secret_hash, role, spaces, created_at, revoked_at, principal, expires_at, session)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                token.id,
                token.name,
                token.secret_hash,
                token.role.as_str(),
                serde_json::to_string(&token.spaces.to_names())?,
                token.created_at.0,
                token.revoked_at.map(|t| t.0),
                token.principal,
                token.expires_at.map(|t| t.0),
                token.session,
            ])?;
        Ok(())
    }

    async fn claim_admin_bootstrap(&mut self, token_id: &str) -> TxResult<bool> {
        let claimed = self
            .conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES ('admin_bootstrapped', ?1) ON CONFLICT (key) DO NOTHING",
            )?
            .execute(params![token_id])?;
        Ok(claimed == 1)
    }

    async fn token_revoked_at_for_update(&mut self, id: &str) -> TxResult<Option<Option<Timestamp>>> {
        let revoked_at: Option<Option<i64>> = self
            .conn
            .prepare_cached("SELECT revoked_at FROM tokens WHERE id = ?1")?
            .query_row(params![id], |r| r.get(0))
            .optional()?;
        Ok(revoked_at.map(|at| at.map(Timestamp)))
    }

    async fn revoke_token(&mut self, id: &str, now: Timestamp) -> TxResult<()> {
        self.conn.prepare_cached("UPDATE tokens SET revoked_at = ?1 WHERE id = ?2")?.execute(params![now.0, id])?;
        Ok(())
    }

    async fn revoke_tokens_of(
        &mut self,
        principal: &str,
        now: Timestamp,
        except: Option<&str>,
        sessions_only: bool,
    ) -> TxResult<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE tokens SET revoked_at = ?1
             WHERE principal = ?2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)
               AND (?3 IS NULL OR id <> ?3) AND (session OR NOT ?4)
             RETURNING id",
        )?;
        let ids = stmt.query_map(params![now.0, principal, except, sessions_only], |r| r.get::<_, String>(0))?;
        let mut out = ids.collect::<Result<Vec<_>, _>>()?;
        out.sort();
        Ok(out)
    }
}

impl AccessTable for SqliteTx<'_> {
    async fn insert_principal(&mut self, p: &PrincipalRecord) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO principals (id, kind, name, password_hash, failed_sign_ins, locked_until, created_at, org)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                p.id,
                p.kind.as_str(),
                p.name,
                p.password_hash,
                p.failed_sign_ins,
                p.locked_until.map(|t| t.0),
                p.created_at.0,
                p.org
            ])?;
        Ok(())
    }

    async fn insert_org(&mut self, org: &OrgRecord) -> TxResult<bool> {
        let inserted = self
            .conn
            .prepare_cached("INSERT INTO orgs (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING")?
            .execute(params![org.name, org.created_at.0])?;
        Ok(inserted == 1)
    }

    async fn org_for_update(&mut self, name: &str) -> TxResult<Option<OrgRecord>> {
        let found = self
            .conn
            .prepare_cached("SELECT name, created_at FROM orgs WHERE name = ?1")?
            .query_row(params![name], |r| Ok(OrgRecord { name: r.get(0)?, created_at: Timestamp(r.get(1)?) }))
            .optional()?;
        Ok(found)
    }

    async fn org_holdings(&mut self, name: &str) -> TxResult<(u64, u64)> {
        let members: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM principals WHERE org = ?1")?
            .query_row(params![name], |r| r.get(0))?;
        // `org.` up to `org/`, the character after `.`: every space named `org.…`, of which
        // those that are projects (`acme.x.y` is none).
        let mut stmt = self.conn.prepare_cached("SELECT name FROM spaces WHERE name > ?1 AND name < ?2")?;
        let names = stmt.query_map(params![format!("{name}."), format!("{name}/")], |r| r.get::<_, String>(0))?;
        let mut projects = 0u64;
        for space in names {
            projects += u64::from(switchyard_model::split_project(&space?).is_some_and(|(org, _)| org == name));
        }
        Ok((members as u64, projects))
    }

    async fn delete_org(&mut self, name: &str) -> TxResult<Vec<String>> {
        // `org/` up to `org0`, the character after `/`: every pattern written `org/…`.
        let (from, to) = (format!("{name}/"), format!("{name}0"));
        let mut stmt = self.conn.prepare_cached("SELECT id FROM grants WHERE pattern >= ?1 AND pattern < ?2")?;
        let mut ids = stmt.query_map(params![from, to], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        self.conn
            .prepare_cached("DELETE FROM grants WHERE pattern >= ?1 AND pattern < ?2")?
            .execute(params![from, to])?;
        self.conn.prepare_cached("DELETE FROM orgs WHERE name = ?1")?.execute(params![name])?;
        ids.sort();
        Ok(ids)
    }

    async fn user_exists(&mut self, name: &str) -> TxResult<bool> {
        let found: Option<i64> = self
            .conn
            .prepare_cached("SELECT 1 FROM principals WHERE kind = 'user' AND name = ?1")?
            .query_row(params![name], |r| r.get(0))
            .optional()?;
        Ok(found.is_some())
    }

    async fn principal_for_update(&mut self, id: &str) -> TxResult<Option<PrincipalRecord>> {
        let sql = format!("SELECT {} FROM principals WHERE id = ?1", rows::PRINCIPAL_COLUMNS);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut found = stmt.query(params![id])?;
        match found.next()? {
            Some(row) => Ok(Some(rows::principal(row)?)),
            None => Ok(None),
        }
    }

    async fn update_sign_in(&mut self, id: &str, failed: u32, locked_until: Option<Timestamp>) -> TxResult<()> {
        self.conn
            .prepare_cached("UPDATE principals SET failed_sign_ins = ?1, locked_until = ?2 WHERE id = ?3")?
            .execute(params![failed, locked_until.map(|t| t.0), id])?;
        Ok(())
    }

    async fn set_password(&mut self, id: &str, hash: &str) -> TxResult<()> {
        self.conn
            .prepare_cached("UPDATE principals SET password_hash = ?1 WHERE id = ?2")?
            .execute(params![hash, id])?;
        Ok(())
    }

    async fn delete_principal(&mut self, id: &str) -> TxResult<()> {
        self.conn.prepare_cached("DELETE FROM grants WHERE principal = ?1")?.execute(params![id])?;
        self.conn.prepare_cached("DELETE FROM principals WHERE id = ?1")?.execute(params![id])?;
        Ok(())
    }

    async fn insert_grant(&mut self, g: &GrantRecord) -> TxResult<bool> {
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO grants (id, principal, role, pattern, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (principal, role, pattern) DO NOTHING",
            )?
            .execute(params![g.id, g.principal, g.role, g.pattern, g.created_at.0])?;
        Ok(inserted == 1)
    }

    async fn grant_for_update(&mut self, id: &str) -> TxResult<Option<GrantRecord>> {
        let sql = format!("SELECT {} FROM grants WHERE id = ?1", rows::GRANT_COLUMNS);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut found = stmt.query(params![id])?;
        match found.next()? {
            Some(row) => Ok(Some(rows::grant(row)?)),
            None => Ok(None),
        }
    }

    async fn delete_grant(&mut self, id: &str) -> TxResult<()> {
        self.conn.prepare_cached("DELETE FROM grants WHERE id = ?1")?.execute(params![id])?;
        Ok(())
    }

    async fn put_role(&mut self, role: &RoleRecord) -> TxResult<bool> {
        let existed = self.role_exists(&role.name).await?;
        self.conn
            .prepare_cached(
                "INSERT INTO roles (name, permissions, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET permissions = excluded.permissions, updated_at = excluded.updated_at",
            )?
            .execute(params![role.name, serde_json::to_string(&role.permissions)?, role.updated_at.0])?;
        Ok(!existed)
    }

    async fn role_exists(&mut self, name: &str) -> TxResult<bool> {
        let found: Option<i64> = self
            .conn
            .prepare_cached("SELECT 1 FROM roles WHERE name = ?1")?
            .query_row(params![name], |r| r.get(0))
            .optional()?;
        Ok(found.is_some())
    }

    async fn grants_of_role(&mut self, name: &str) -> TxResult<u64> {
        let count: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM grants WHERE role = ?1")?
            .query_row(params![name], |r| r.get(0))?;
        Ok(count as u64)
    }

    async fn delete_role(&mut self, name: &str) -> TxResult<()> {
        self.conn.prepare_cached("DELETE FROM roles WHERE name = ?1")?.execute(params![name])?;
        Ok(())
    }
}

impl NodeTable for SqliteTx<'_> {
    async fn upsert_node(&mut self, node: &NodeRecord) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO nodes (id, address, started_at, heartbeat_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET address = excluded.address, heartbeat_at = excluded.heartbeat_at",
            )?
            .execute(params![node.id, node.address, node.started_at.0, node.heartbeat_at.0])?;
        Ok(())
    }

    async fn renew_node(&mut self, id: &str, at: Timestamp) -> TxResult<()> {
        self.conn.prepare_cached("UPDATE nodes SET heartbeat_at = ?1 WHERE id = ?2")?.execute(params![at.0, id])?;
        Ok(())
    }

    async fn remove_node(&mut self, id: &str) -> TxResult<()> {
        self.conn.prepare_cached("DELETE FROM nodes WHERE id = ?1")?.execute(params![id])?;
        Ok(())
    }
}

impl SpaceTable for SqliteTx<'_> {
    async fn space_exists(&mut self, space: &str) -> TxResult<bool> {
        Ok(self.conn.prepare_cached(&crate::space_rules::exists_sql("?1"))?.query_row(params![space], |r| r.get(0))?)
    }

    async fn count_names(&mut self, table: &str, space: &str) -> TxResult<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(&crate::space_rules::count_names_sql(table, "?1"))?
            .query_row(params![space], |r| r.get(0))?;
        Ok(n as u64)
    }

    async fn delete_space_rows(&mut self, table: &str, space: &str) -> TxResult<u64> {
        let n = self.conn.prepare_cached(&crate::space_rules::delete_sql(table, "?1"))?.execute(params![space])?;
        Ok(n as u64)
    }

    async fn delete_space_row(&mut self, space: &str) -> TxResult<()> {
        self.conn.prepare_cached("DELETE FROM spaces WHERE name = ?1")?.execute(params![space])?;
        Ok(())
    }

    async fn space_values(&mut self, space: &str, kind: &str) -> TxResult<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, value FROM space_values WHERE space = ?1 AND kind = ?2 ORDER BY name")?;
        let rows = stmt.query_map(params![space, kind], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    async fn count_space_values(&mut self, space: &str, kind: &str, name: &str) -> TxResult<(u64, bool)> {
        let (count, found): (i64, bool) = self
            .conn
            .prepare_cached(
                "SELECT count(*), coalesce(max(name = ?3), 0) FROM space_values WHERE space = ?1 AND kind = ?2",
            )?
            .query_row(params![space, kind, name], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok((count as u64, found))
    }

    async fn upsert_space_value(
        &mut self,
        space: &str,
        kind: &str,
        name: &str,
        value: &str,
        now: Timestamp,
    ) -> TxResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO space_values (space, kind, name, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (space, kind, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )?
            .execute(params![space, kind, name, value, now.0])?;
        Ok(())
    }

    async fn delete_space_value(&mut self, space: &str, kind: &str, name: &str) -> TxResult<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM space_values WHERE space = ?1 AND kind = ?2 AND name = ?3")?
            .execute(params![space, kind, name])?;
        Ok(n == 1)
    }
}

impl Tables for SqliteTx<'_> {}
