//! SQLite implementation of [`InventoryStore`].

use super::{CategoryUpdate, InventoryStore, SqliteStore, StoreError, StoredCategory};
use lifeline_proto::inventory::HistoryRow;
use rusqlite::params;

impl InventoryStore for SqliteStore {
    fn inventory_hashes(&mut self, machine_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT category, hash FROM inventory WHERE machine_id = ?1")?;
        let rows = stmt.query_map([machine_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn store_category(&mut self, u: &CategoryUpdate<'_>) -> Result<(), StoreError> {
        // A savepoint: its own transaction, or part of a batch.
        let tx = self.conn.savepoint()?;
        tx.execute(
            "INSERT INTO inventory (machine_id, category, hash, json, updated_unix)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (machine_id, category)
             DO UPDATE SET hash = ?3, json = ?4, updated_unix = ?5",
            params![u.machine_id, u.category, u.hash, u.json, u.now_unix as i64],
        )?;
        {
            let mut hist = tx.prepare_cached(
                "INSERT INTO inventory_history (machine_id, at_unix, category, kind, key, old, new)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for c in u.changes {
                hist.execute(params![
                    u.machine_id,
                    c.at_unix as i64,
                    c.category,
                    c.kind,
                    c.key,
                    c.old,
                    c.new
                ])?;
            }
        }
        if let Some(packages) = u.packages {
            tx.execute("DELETE FROM packages WHERE machine_id = ?1", [u.machine_id])?;
            let mut ins = tx.prepare_cached(
                "INSERT INTO packages (machine_id, name, version, arch, source) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for p in packages {
                ins.execute(params![u.machine_id, p.name, p.version, p.arch, p.source])?;
            }
        }
        if let Some(facts) = u.facts {
            tx.execute(
                "DELETE FROM hardware_facts WHERE machine_id = ?1",
                [u.machine_id],
            )?;
            let mut ins = tx.prepare_cached(
                "INSERT INTO hardware_facts (machine_id, key, value) VALUES (?1, ?2, ?3)",
            )?;
            for (k, v) in facts {
                ins.execute(params![u.machine_id, k, v])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn inventory(&mut self, machine_id: &str) -> Result<Vec<StoredCategory>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT category, hash, json, updated_unix FROM inventory WHERE machine_id = ?1 ORDER BY category",
        )?;
        let rows = stmt.query_map([machine_id], |r| {
            Ok(StoredCategory {
                category: r.get(0)?,
                hash: r.get(1)?,
                json: r.get(2)?,
                updated_unix: r.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn inventory_history(
        &mut self,
        machine_id: &str,
        since_unix: u64,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at_unix, category, kind, key, old, new FROM inventory_history
             WHERE machine_id = ?1 AND at_unix >= ?2 ORDER BY at_unix, id",
        )?;
        let rows = stmt.query_map(params![machine_id, since_unix as i64], |r| {
            Ok(HistoryRow {
                at_unix: r.get::<_, i64>(0)? as u64,
                category: r.get(1)?,
                kind: r.get(2)?,
                key: r.get(3)?,
                old: r.get(4)?,
                new: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn find_package(&mut self, name: &str) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT machine_id, version, source FROM packages WHERE name = ?1")?;
        let rows = stmt.query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn find_hardware(
        &mut self,
        key: &str,
        value: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT machine_id, value FROM hardware_facts WHERE key = ?1 AND value = ?2",
        )?;
        let rows = stmt.query_map(params![key, value], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn user_groups(&mut self, user_id: i64) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT grp FROM user_groups WHERE user_id = ?1 ORDER BY grp")?;
        let rows = stmt.query_map([user_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn set_user_groups(&mut self, user_id: i64, groups: &[String]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM user_groups WHERE user_id = ?1", [user_id])?;
        for g in groups {
            tx.execute(
                "INSERT OR IGNORE INTO user_groups (user_id, grp) VALUES (?1, ?2)",
                params![user_id, g],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
