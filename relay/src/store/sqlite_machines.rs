//! SQLite queries of the machine table: the conditions a listing asks
//! for, and the rows in the order asked for.

use super::{
    MachineQuery, MachineRecord, SqliteStore, StoreError,
    sqlite::{MACHINE_COLUMNS, machine_from_row, only_among},
};
use rusqlite::types::Value;

/// The machines `query` asks for: the SQL up to its conditions, and their
/// arguments. Only the conditions asked for, so that SQLite can use the
/// index of the order asked for.
pub(super) fn machine_filter(query: &MachineQuery) -> Result<(String, Vec<Value>), StoreError> {
    // `+`: listings walk the index of their order (name or id) from the
    // cursor; the group index would have SQLite read all her machines and
    // sort them for every page.
    filtered(&format!("SELECT {MACHINE_COLUMNS}"), query, "+grp")
}

/// The machines `query` asks for by hostname (ASCII case folded) then id,
/// past `after` if given.
pub(super) fn by_name_sql(
    query: &MachineQuery,
    after: Option<&lifeline_proto::MachineCursor>,
) -> Result<(String, Vec<Value>), StoreError> {
    let (mut sql, mut args) = machine_filter(query)?;
    if let Some(a) = after {
        // The collation on the right lets SQLite seek the index on
        // (hostname NOCASE, id).
        sql.push_str(" AND (hostname, id) > (? COLLATE NOCASE, ?)");
        args.push(Value::Text(a.hostname.clone()));
        args.push(Value::Text(a.id.clone()));
    }
    sql.push_str(" ORDER BY hostname COLLATE NOCASE, id");
    Ok((sql, args))
}

/// The machines `query` asks for by id, past `after` if given.
pub(super) fn by_id_sql(
    query: &MachineQuery,
    after: Option<&str>,
) -> Result<(String, Vec<Value>), StoreError> {
    let (mut sql, mut args) = machine_filter(query)?;
    if let Some(a) = after {
        sql.push_str(" AND id > ?");
        args.push(Value::Text(a.to_string()));
    }
    sql.push_str(" ORDER BY id");
    Ok((sql, args))
}

/// `select` from the machines `query` asks for, and the arguments; their
/// group is compared as `group` (`grp`, or `+grp` to keep SQLite off its
/// index).
fn filtered(
    select: &str,
    query: &MachineQuery,
    group: &str,
) -> Result<(String, Vec<Value>), StoreError> {
    let mut sql = format!("{select} FROM machines WHERE 1");
    let mut args = Vec::new();
    if let Some(groups) = &query.groups {
        only_among(&mut sql, &mut args, group, groups)?;
    }
    if let Some(name) = &query.hostname {
        sql.push_str(" AND hostname = ? COLLATE NOCASE");
        args.push(Value::Text(name.clone()));
    }
    if let Some(before) = query.seen_before {
        sql.push_str(" AND (last_seen_unix IS NULL OR last_seen_unix < ?)");
        args.push(Value::Integer(before.min(i64::MAX as u64) as i64));
    }
    Ok((sql, args))
}

impl SqliteStore {
    /// How many machines `query` asks for.
    pub(super) fn count_machines(&mut self, query: &MachineQuery) -> Result<usize, StoreError> {
        // Counted from the group index when narrowed to groups.
        let (sql, args) = filtered("SELECT COUNT(*)", query, "grp")?;
        let n: i64 = self
            .conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(args), |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Runs a machine query, passing each row to `take` until it answers
    /// `false`.
    pub(super) fn machine_rows(
        &mut self,
        sql: &str,
        args: Vec<Value>,
        take: &mut dyn FnMut(MachineRecord) -> bool,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            if !take(machine_from_row(r)?) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewEnrollToken, Store};
    use lifeline_proto::{MachineInfo, Role};

    fn info(hostname: &str) -> MachineInfo {
        MachineInfo {
            hostname: hostname.into(),
            os: "Debian 12".into(),
            arch: "x86_64".into(),
            agent_version: "0.1.0".into(),
        }
    }

    fn token(s: &mut SqliteStore) -> [u8; 32] {
        let hash = [7u8; 32];
        let admin = s.add_user("root", Role::Admin, "h", 0).unwrap();
        s.add_enroll_token(&NewEnrollToken {
            hash,
            group: Some("finance".into()),
            created_by: admin,
            created_unix: 0,
            expires_unix: u64::MAX / 2,
            max_uses: None,
        })
        .unwrap();
        hash
    }

    #[test]
    fn machines_come_by_name_from_a_cursor_filtered_in_the_store() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let t = token(&mut s);
        // Names equal but for case, and names that sort otherwise when
        // folded to upper case or not at all (`_` lies between the upper-
        // and the lower-case letters).
        for (id, host, seen) in [
            ("m5", "PC-a", 50),
            ("m4", "pc-A", 10),
            ("m1", "pc_b", 30),
            ("m3", "PCa", 70),
            ("m2", "alpha", 20),
        ] {
            s.enroll(&t, id, &[9; 32], &info(host), seen).unwrap();
        }
        let ids = |s: &mut SqliteStore, q: &MachineQuery, after: Option<(&str, &str)>| {
            let cursor = after.map(|(h, i)| lifeline_proto::MachineCursor {
                hostname: h.into(),
                id: i.into(),
            });
            let mut got = Vec::new();
            s.machine_scan(q, cursor.as_ref(), &mut |m| {
                got.push(m.id);
                true
            })
            .unwrap();
            got
        };
        let all = MachineQuery::default();
        assert_eq!(ids(&mut s, &all, None), ["m2", "m4", "m5", "m1", "m3"]);
        // From the cursor on, whatever the case of its name.
        assert_eq!(ids(&mut s, &all, Some(("pc-a", "m4"))), ["m5", "m1", "m3"]);
        assert_eq!(ids(&mut s, &all, Some(("PC-A", "m5"))), ["m1", "m3"]);
        assert_eq!(ids(&mut s, &all, Some(("pca", "m3"))), Vec::<String>::new());
        // By name, ignoring case; by last heard of; by group.
        let named = MachineQuery {
            hostname: Some("Pc-A".into()),
            ..MachineQuery::default()
        };
        assert_eq!(ids(&mut s, &named, None), ["m4", "m5"]);
        let stale = MachineQuery {
            seen_before: Some(30),
            ..MachineQuery::default()
        };
        assert_eq!(ids(&mut s, &stale, None), ["m2", "m4"]);
        let finance = MachineQuery {
            groups: Some(vec!["finance".into()]),
            ..MachineQuery::default()
        };
        assert_eq!(ids(&mut s, &finance, None).len(), 5);
        let ops = MachineQuery {
            groups: Some(vec!["ops".into()]),
            ..MachineQuery::default()
        };
        assert!(ids(&mut s, &ops, None).is_empty());
        assert_eq!(s.machine_count(&all).unwrap(), 5);
        assert_eq!(s.machine_count(&named).unwrap(), 2);
        assert_eq!(s.machine_count(&ops).unwrap(), 0);
        // By id, from an id on.
        let mut by_id = Vec::new();
        s.machine_scan_by_id(&stale, Some("m2"), &mut |m| {
            by_id.push(m.id);
            true
        })
        .unwrap();
        assert_eq!(by_id, ["m4"]);
        let mut by_id = Vec::new();
        s.machine_scan_by_id(&all, None, &mut |m| {
            by_id.push(m.id);
            true
        })
        .unwrap();
        assert_eq!(by_id, ["m1", "m2", "m3", "m4", "m5"]);
        // The walk stops when told.
        let mut taken = 0;
        s.machine_scan(&all, None, &mut |_| {
            taken += 1;
            taken < 2
        })
        .unwrap();
        assert_eq!(taken, 2);
    }

    #[test]
    fn a_technicians_machine_pages_walk_the_index_of_their_order() {
        let s = SqliteStore::open_in_memory().unwrap();
        let finance = MachineQuery {
            groups: Some(vec!["finance".into()]),
            ..MachineQuery::default()
        };
        let cursor = lifeline_proto::MachineCursor {
            hostname: "pc-a".into(),
            id: "m4".into(),
        };
        // From the cursor in the order asked for, never all her machines
        // read from the group index and sorted for each page.
        let (sql, args) = by_name_sql(&finance, Some(&cursor)).unwrap();
        let by_name = s.query_plan(&sql, args);
        assert!(by_name.contains("INDEX machines_by_name"), "{by_name}");
        assert!(!by_name.contains("TEMP B-TREE"), "{by_name}");
        let (sql, args) = by_id_sql(&finance, Some("m4")).unwrap();
        let by_id = s.query_plan(&sql, args);
        assert!(!by_id.contains("machines_by_group"), "{by_id}");
        assert!(!by_id.contains("TEMP B-TREE"), "{by_id}");
    }
}
