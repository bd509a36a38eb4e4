//! SQLite implementation of [`InventoryStore`].

use super::{CategoryUpdate, InventoryStore, SqliteStore, StoreError, StoredCategory};
use lifeline_proto::inventory::HistoryRow;
use rusqlite::params;

/// zstd's frame magic, which no JSON text starts with.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Category JSON at least this long is stored compressed (a software list
/// of 2,000 packages is ~200 KB of JSON and ~20 KB compressed).
const COMPRESS_FROM: usize = 4096;

/// The stored form of category JSON: compressed from [`COMPRESS_FROM`]
/// bytes on (already compressed input is kept as it is).
///
/// # Errors
/// The compressor fails.
pub fn pack_json(json: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    if json.len() < COMPRESS_FROM || json.starts_with(&ZSTD_MAGIC) {
        return Ok(json);
    }
    zstd::bulk::compress(&json, 1)
        .map_err(|e| StoreError::Corrupt(format!("cannot compress inventory: {e}")))
}

fn unpack_json(stored: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    if !stored.starts_with(&ZSTD_MAGIC) {
        return Ok(stored);
    }
    zstd::decode_all(&stored[..]).map_err(|e| StoreError::Corrupt(format!("inventory blob: {e}")))
}

/// Inventory changes kept per machine, newest first: years of a machine's
/// real changes (a few hundred a month), not an endless stream.
pub const MAX_HISTORY_ROWS: usize = 50_000;

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
        let json = pack_json(u.json.to_vec())?;
        tx.execute(
            "INSERT INTO inventory (machine_id, category, hash, json, updated_unix)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (machine_id, category)
             DO UPDATE SET hash = ?3, json = ?4, updated_unix = ?5",
            params![u.machine_id, u.category, u.hash, json, u.now_unix as i64],
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
        if !u.changes.is_empty() {
            // Only the newest rows are kept: an agent (or a stolen machine
            // credential) sending a different list every time cannot grow
            // the relay's disk without end.
            tx.prepare_cached(
                "DELETE FROM inventory_history WHERE machine_id = ?1 AND (at_unix, id) < (
                     SELECT at_unix, id FROM inventory_history WHERE machine_id = ?1
                     ORDER BY at_unix DESC, id DESC LIMIT 1 OFFSET ?2)",
            )?
            .execute(params![u.machine_id, (MAX_HISTORY_ROWS - 1) as i64])?;
        }
        if let Some(delta) = u.packages {
            let num: i64 = tx.query_row(
                "SELECT num FROM machines WHERE id = ?1",
                [u.machine_id],
                |r| r.get(0),
            )?;
            // Removals first: an upgraded package leaves, then comes back.
            for (sql, rows) in [
                (
                    "DELETE FROM packages WHERE name = ?1 AND machine = ?2 AND version = ?3 AND arch = ?4 AND source = ?5",
                    delta.removed,
                ),
                (
                    "INSERT OR IGNORE INTO packages (name, machine, version, arch, source) VALUES (?1, ?2, ?3, ?4, ?5)",
                    delta.added,
                ),
            ] {
                let mut stmt = tx.prepare_cached(sql)?;
                for p in rows {
                    stmt.execute(params![
                        p.name,
                        num,
                        p.version,
                        p.arch.as_deref().unwrap_or(""),
                        p.source
                    ])?;
                }
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
        let mut cats: Vec<StoredCategory> = rows.collect::<Result<_, _>>()?;
        for c in &mut cats {
            c.json = unpack_json(std::mem::take(&mut c.json))?;
        }
        Ok(cats)
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
            .prepare_cached(
                "SELECT m.id, p.version, p.source FROM packages p JOIN machines m ON m.num = p.machine WHERE p.name = ?1",
            )?;
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
        let tx = self.conn.savepoint()?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn changes(at_unix: u64, n: usize) -> Vec<HistoryRow> {
        (0..n)
            .map(|i| HistoryRow {
                at_unix,
                category: "software".into(),
                kind: "added".into(),
                key: format!("p{at_unix}-{i:05}"),
                old: None,
                new: Some("1.0".into()),
            })
            .collect()
    }

    fn upload(s: &mut SqliteStore, machine_id: &str, at: u64, rows: &[HistoryRow]) {
        s.store_category(&CategoryUpdate {
            machine_id,
            category: "software",
            hash: &format!("h{at}"),
            json: b"{}",
            now_unix: at,
            changes: rows,
            packages: None,
            facts: None,
        })
        .unwrap();
    }

    #[test]
    fn only_the_newest_history_is_kept_per_machine() {
        let store = SqliteStore::open_in_memory().unwrap();
        let mut s = crate::store::store_with_machines(store, &["m1", "m2"]);
        upload(&mut s, "m2", 1, &changes(1, 10));
        upload(&mut s, "m1", 1, &changes(1, 30_000));
        upload(&mut s, "m1", 2, &changes(2, 30_000));
        let kept = s.inventory_history("m1", 0).unwrap();
        assert_eq!(kept.len(), MAX_HISTORY_ROWS);
        // The oldest 10,000 went; the rest is there, in order.
        assert_eq!(kept[0].key, "p1-10000");
        assert_eq!(kept[19_999].key, "p1-29999");
        assert_eq!(kept[20_000].key, "p2-00000");
        assert_eq!(kept.last().unwrap().key, "p2-29999");
        // Another machine's history is its own.
        assert_eq!(s.inventory_history("m2", 0).unwrap().len(), 10);
    }
}
