//! SQLite store: one file in the data dir, WAL journal, versioned migrations.

use super::{
    MachineQuery, MachineRecord, NewEnrollToken, Store, StoreError, UserRecord, migrations::migrate,
};
use lifeline_proto::{MachineInfo, Role};
use rusqlite::{Connection, OptionalExtension, Row, params, types::Value};
use std::{path::Path, time::Duration};

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    pub(super) conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    ///
    /// # Errors
    /// Engine errors, or a schema newer than this build knows.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        Self::setup(conn)
    }

    /// An in-memory store, for tests.
    ///
    /// # Errors
    /// Engine errors.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(5))?;
        // Small pages for a new database (an existing one keeps its own):
        // an upload of 2,000 packages touches one leaf of the name-ordered
        // package index per package, and a commit writes each dirty page
        // whole to the WAL, so 1 KB pages write a quarter of what 4 KB do.
        // Measured with `lifeline-bench inventory`: 1,000 agents × 2,000
        // packages ingest in 19.8 s instead of 38 s, and `find` got faster
        // too (19 ms p50 over 10,000 machines instead of 45 ms).
        conn.pragma_update(None, "page_size", 1024)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A fleet's package index is large (10,000 machines × 2,000
        // packages is 20 M rows): with SQLite's 2 MB default most index
        // pages miss the cache. 256 MB keeps the hot part in memory.
        conn.pragma_update(None, "cache_size", -262_144)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Checkpoint every ~40 MB of WAL rather than 4 MB: a burst of
        // uploads rewrites the same index pages, and each checkpoint copies
        // them to the database file again. The relay also checkpoints from
        // its second connection ([`Store::checkpoint`]), off the writer.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        migrate(&mut conn)?;
        Ok(Self { conn })
    }

    /// For loading a large store in one go (benchmarks, imports): commits
    /// without waiting for the disk. A crash meanwhile may lose the load.
    ///
    /// # Errors
    /// SQLite refusing the setting.
    pub fn bulk_load_mode(&self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "synchronous", "OFF")?;
        Ok(())
    }

    /// SQLite's plan for `sql`, its steps joined by `; `.
    #[cfg(test)]
    pub(super) fn query_plan(&self, sql: &str, args: Vec<Value>) -> String {
        let mut stmt = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let steps = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap();
        steps.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    /// How to read a listing narrowed to the machines of `groups`: walked
    /// when they are at least [`WALK_SHARE`] of the fleet, sought
    /// otherwise (both counted from indexes).
    pub(super) fn narrowing(&mut self, groups: &[String]) -> Result<Narrowing, StoreError> {
        let groups =
            serde_json::to_string(groups).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (hers, all): (i64, i64) = self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM machines WHERE grp IN (SELECT value FROM json_each(?1))), \
             (SELECT COUNT(*) FROM machines)",
            [groups],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(if hers * WALK_SHARE.1 >= all * WALK_SHARE.0 {
            Narrowing::Walk
        } else {
            Narrowing::Seek
        })
    }

    /// The schema version after migration.
    ///
    /// # Errors
    /// Engine errors.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}

/// Narrows a listing's SQL to rows whose `column` is one of `among` (a
/// technician's groups): no page of her listing is spent on (or names)
/// what she does not see.
pub(super) fn only_among(
    sql: &mut String,
    args: &mut Vec<Value>,
    column: &str,
    among: &[String],
) -> Result<(), StoreError> {
    sql.push_str(&format!(
        " AND {column} IN (SELECT value FROM json_each(?))"
    ));
    let ids = serde_json::to_string(among).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    args.push(Value::Text(ids));
    Ok(())
}

/// The share of the fleet (numerator, denominator) from which a
/// technician's session logs are walked rather than sought: measured at
/// 64,000 machines and 60,000 logs, seeking wins 0.2 against 64 ms at 0.1 %,
/// 20 against 93 ms at 5 %, 79 against 130 ms at 10 %, and loses 517
/// against 150 ms at 40 % (`lifeline-bench fleet` shows both ends).
pub(super) const WALK_SHARE: (i64, i64) = (1, 5);

/// How a listing narrowed to a technician's machines is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Narrowing {
    /// Walk the listing's own order from the cursor, skipping rows of
    /// other machines: for a large share of the fleet, where a page fills
    /// after a few rows skipped.
    Walk,
    /// Seek each of her machines' rows by the index of `column` and sort
    /// them: for a small share, where walking would read most of the
    /// fleet's rows to fill a page.
    Seek,
}

/// Narrows a listing's SQL to rows whose machine (by `column`, its id) is
/// in one of `groups` (a technician's), read once per query from their
/// group's index, the rows read as `how` says (the `+` of
/// [`Narrowing::Walk`] keeps SQLite off the index of `column`).
pub(super) fn of_groups(
    sql: &mut String,
    args: &mut Vec<Value>,
    column: &str,
    groups: &[String],
    how: Narrowing,
) -> Result<(), StoreError> {
    let plus = if how == Narrowing::Walk { "+" } else { "" };
    sql.push_str(&format!(
        " AND {plus}{column} IN (SELECT id FROM machines WHERE 1"
    ));
    only_among(sql, args, "grp", groups)?;
    sql.push(')');
    Ok(())
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    let role: String = row.get(2)?;
    Ok(UserRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        // The CHECK constraint keeps other values out.
        role: Role::parse(&role).unwrap_or(Role::Auditor),
        password_hash: row.get(3)?,
        disabled: row.get(4)?,
    })
}

pub(super) const MACHINE_COLUMNS: &str = "id, hostname, os, arch, agent_version, grp, credential_hash, \
                               enrolled_unix, last_seen_unix, revoked, unattended";

pub(super) fn machine_from_row(row: &Row<'_>) -> rusqlite::Result<MachineRecord> {
    let hash: Vec<u8> = row.get(6)?;
    let mut credential_hash = [0u8; 32];
    if hash.len() == 32 {
        credential_hash.copy_from_slice(&hash);
    }
    Ok(MachineRecord {
        id: row.get(0)?,
        info: MachineInfo {
            hostname: row.get(1)?,
            os: row.get(2)?,
            arch: row.get(3)?,
            agent_version: row.get(4)?,
        },
        group: row.get(5)?,
        credential_hash,
        enrolled_unix: row.get::<_, i64>(7)? as u64,
        last_seen_unix: row.get::<_, Option<i64>>(8)?.map(|v| v as u64),
        revoked: row.get(9)?,
        unattended: row.get(10)?,
    })
}

const TOKEN_USABLE: &str =
    "revoked = 0 AND expires_unix > ?2 AND (max_uses IS NULL OR uses < max_uses)";

impl Store for SqliteStore {
    fn begin_batch(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<(), StoreError> {
        // PASSIVE: copies what it can without waiting for the writer.
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn begin_whole(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("SAVEPOINT whole")?;
        Ok(())
    }

    fn end_whole(&mut self, keep: bool) -> Result<(), StoreError> {
        if keep {
            if let Err(e) = self.conn.execute_batch("RELEASE whole") {
                let _ = self.conn.execute_batch("ROLLBACK TO whole; RELEASE whole");
                return Err(e.into());
            }
        } else {
            self.conn
                .execute_batch("ROLLBACK TO whole; RELEASE whole")?;
        }
        Ok(())
    }

    fn end_batch(&mut self) -> Result<(), StoreError> {
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }

    fn add_user(
        &mut self,
        name: &str,
        role: Role,
        password_hash: &str,
        now_unix: u64,
    ) -> Result<i64, StoreError> {
        let res = self.conn.execute(
            "INSERT INTO users (name, role, password_hash, created_unix) VALUES (?1, ?2, ?3, ?4)",
            params![name, role.as_str(), password_hash, now_unix as i64],
        );
        match res {
            Ok(_) => Ok(self.conn.last_insert_rowid()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::Conflict(format!("user {name:?}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn user_by_name(&mut self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, role, password_hash, disabled FROM users WHERE name = ?1",
                [name],
                user_from_row,
            )
            .optional()?)
    }

    fn list_users(&mut self) -> Result<Vec<UserRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name, role, password_hash, disabled FROM users ORDER BY name")?;
        let rows = stmt.query_map([], user_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn insert_auth_token(
        &mut self,
        hash: &[u8; 32],
        user_id: i64,
        now_unix: u64,
        expires_unix: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO auth_tokens (hash, user_id, created_unix, expires_unix) VALUES (?1, ?2, ?3, ?4)",
            params![&hash[..], user_id, now_unix as i64, expires_unix as i64],
        )?;
        Ok(())
    }

    fn user_by_token(
        &mut self,
        hash: &[u8; 32],
        now_unix: u64,
    ) -> Result<Option<(UserRecord, u64)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT u.id, u.name, u.role, u.password_hash, u.disabled, t.expires_unix
                 FROM auth_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.hash = ?1 AND t.revoked = 0 AND t.expires_unix > ?2 AND u.disabled = 0",
                params![&hash[..], now_unix as i64],
                |row| Ok((user_from_row(row)?, row.get::<_, i64>(5)? as u64)),
            )
            .optional()?)
    }

    fn revoke_auth_token(&mut self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE auth_tokens SET revoked = 1 WHERE hash = ?1",
            [&hash[..]],
        )?;
        Ok(())
    }

    fn add_enroll_token(&mut self, t: &NewEnrollToken) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO enroll_tokens (hash, grp, created_by, created_unix, expires_unix, max_uses)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                &t.hash[..],
                t.group,
                t.created_by,
                t.created_unix as i64,
                t.expires_unix as i64,
                t.max_uses
            ],
        )?;
        Ok(())
    }

    fn enroll_token_valid(&mut self, hash: &[u8; 32], now_unix: u64) -> Result<bool, StoreError> {
        let sql = format!("SELECT 1 FROM enroll_tokens WHERE hash = ?1 AND {TOKEN_USABLE}");
        Ok(self
            .conn
            .query_row(&sql, params![&hash[..], now_unix as i64], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn enroll(
        &mut self,
        token_hash: &[u8; 32],
        machine_id: &str,
        credential_hash: &[u8; 32],
        info: &MachineInfo,
        now_unix: u64,
    ) -> Result<Option<MachineRecord>, StoreError> {
        let tx = self.conn.savepoint()?;
        let sql = format!(
            "UPDATE enroll_tokens SET uses = uses + 1 WHERE hash = ?1 AND {TOKEN_USABLE} RETURNING grp"
        );
        let group: Option<Option<String>> = tx
            .query_row(&sql, params![&token_hash[..], now_unix as i64], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(group) = group else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO machines (id, hostname, os, arch, agent_version, grp, credential_hash, enrolled_unix, last_seen_unix, num)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, (SELECT COALESCE(MAX(num), 0) + 1 FROM machines))",
            params![
                machine_id,
                info.hostname,
                info.os,
                info.arch,
                info.agent_version,
                group,
                &credential_hash[..],
                now_unix as i64
            ],
        )?;
        tx.commit()?;
        self.machine(machine_id)
    }

    fn machine(&mut self, id: &str) -> Result<Option<MachineRecord>, StoreError> {
        let sql = format!("SELECT {MACHINE_COLUMNS} FROM machines WHERE id = ?1");
        Ok(self
            .conn
            .query_row(&sql, [id], machine_from_row)
            .optional()?)
    }

    fn machine_scan(
        &mut self,
        query: &MachineQuery,
        after: Option<&lifeline_proto::MachineCursor>,
        take: &mut dyn FnMut(MachineRecord) -> bool,
    ) -> Result<(), StoreError> {
        let (sql, args) = super::sqlite_machines::by_name_sql(query, after)?;
        self.machine_rows(&sql, args, take)
    }

    fn machine_count(&mut self, query: &MachineQuery) -> Result<usize, StoreError> {
        self.count_machines(query)
    }

    fn machine_scan_by_id(
        &mut self,
        query: &MachineQuery,
        after: Option<&str>,
        take: &mut dyn FnMut(MachineRecord) -> bool,
    ) -> Result<(), StoreError> {
        let (sql, args) = super::sqlite_machines::by_id_sql(query, after)?;
        self.machine_rows(&sql, args, take)
    }

    fn update_machine_info(
        &mut self,
        id: &str,
        info: &MachineInfo,
        now_unix: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE machines SET hostname = ?2, os = ?3, arch = ?4, agent_version = ?5, last_seen_unix = ?6
             WHERE id = ?1",
            params![
                id,
                info.hostname,
                info.os,
                info.arch,
                info.agent_version,
                now_unix as i64
            ],
        )?;
        Ok(())
    }

    fn set_unattended(&mut self, id: &str, unattended: bool) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE machines SET unattended = ?2 WHERE id = ?1",
            params![id, unattended],
        )?;
        Ok(())
    }

    fn set_last_seen(&mut self, id: &str, unix: u64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE machines SET last_seen_unix = ?2 WHERE id = ?1",
            params![id, unix as i64],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::migrations::MIGRATIONS;

    fn info(host: &str) -> MachineInfo {
        MachineInfo {
            hostname: host.into(),
            os: "Debian 12".into(),
            arch: "x86_64".into(),
            agent_version: "0.1.0".into(),
        }
    }

    fn token(store: &mut SqliteStore, max_uses: Option<u32>, expires: u64) -> [u8; 32] {
        let uid = store.add_user("root", Role::Admin, "h", 0).unwrap_or(1);
        let hash = [7u8; 32];
        store
            .add_enroll_token(&NewEnrollToken {
                hash,
                group: Some("finance".into()),
                created_by: uid,
                created_unix: 0,
                expires_unix: expires,
                max_uses,
            })
            .unwrap();
        hash
    }

    #[test]
    fn migrations_run_once_and_record_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        drop(s);
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        assert!(matches!(
            SqliteStore::open(&path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn user_names_are_unique_regardless_of_case() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        s.add_user("Alice", Role::Technician, "h", 1).unwrap();
        assert!(matches!(
            s.add_user("alice", Role::Admin, "h", 1),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            s.user_by_name("ALICE").unwrap().unwrap().role,
            Role::Technician
        );
    }

    #[test]
    fn tokens_expire_and_revoke() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let uid = s.add_user("bob", Role::Auditor, "h", 1).unwrap();
        s.insert_auth_token(&[1; 32], uid, 10, 100).unwrap();
        assert!(s.user_by_token(&[1; 32], 50).unwrap().is_some());
        assert!(s.user_by_token(&[1; 32], 100).unwrap().is_none());
        s.revoke_auth_token(&[1; 32]).unwrap();
        assert!(s.user_by_token(&[1; 32], 50).unwrap().is_none());
    }

    #[test]
    fn enrollment_consumes_a_use_and_stores_the_group() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let t = token(&mut s, Some(1), 1000);
        let m = s
            .enroll(&t, "m1", &[9; 32], &info("pc-1"), 5)
            .unwrap()
            .unwrap();
        assert_eq!(m.group.as_deref(), Some("finance"));
        assert_eq!(m.credential_hash, [9; 32]);
        // Used up: the second enrollment stores nothing.
        assert!(
            s.enroll(&t, "m2", &[9; 32], &info("pc-2"), 6)
                .unwrap()
                .is_none()
        );
        assert!(s.machine("m2").unwrap().is_none());
        assert_eq!(s.machines(&MachineQuery::default()).unwrap().len(), 1);
    }

    #[test]
    fn expired_token_enrolls_nothing() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let t = token(&mut s, None, 100);
        assert!(!s.enroll_token_valid(&t, 100).unwrap());
        assert!(
            s.enroll(&t, "m1", &[9; 32], &info("pc-1"), 100)
                .unwrap()
                .is_none()
        );
        assert!(s.machines(&MachineQuery::default()).unwrap().is_empty());
    }
}
