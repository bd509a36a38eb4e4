//! SQLite storage of session logs and of ticket news.

use super::{OpenSession, SqliteStore, StoreError, sqlite::Narrowing};
use lifeline_proto::{
    SessionCursor,
    session_log::SessionLog,
    ticket::{TicketEvent, TicketNews},
};
use rusqlite::{OptionalExtension, params, types::Value};

impl SqliteStore {
    pub(super) fn open_session_insert(&mut self, open: &OpenSession) -> Result<(), StoreError> {
        let json = serde_json::to_string(open).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn.execute(
            "INSERT OR REPLACE INTO open_sessions (id, machine_id, body) VALUES (?1, ?2, ?3)",
            params![open.session as i64, open.machine_id, json],
        )?;
        Ok(())
    }

    pub(super) fn open_session_rows(&mut self) -> Result<Vec<OpenSession>, StoreError> {
        let mut stmt = self
            .conn
            // A log saved just before its open row (a session that ended at
            // once) already says how it ended.
            .prepare_cached(
                "SELECT body FROM open_sessions WHERE id NOT IN (SELECT id FROM sessions) ORDER BY id",
            )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|j| serde_json::from_str(&j?).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }

    pub(super) fn save_session_log(&mut self, log: &SessionLog) -> Result<(), StoreError> {
        let json = serde_json::to_string(log).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tx = self.conn.savepoint()?;
        tx.execute(
            "DELETE FROM open_sessions WHERE id = ?1",
            [log.session as i64],
        )?;
        tx.execute(
            "INSERT INTO sessions (id, machine_id, technician, ticket_id, ended_unix, log)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET ticket_id = ?4, log = ?6",
            params![
                log.session as i64,
                log.machine_id,
                log.technician,
                log.ticket.map(|t| t as i64),
                log.ended_unix as i64,
                json
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub(super) fn session_log(&mut self, id: u64) -> Result<Option<SessionLog>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT log FROM sessions WHERE id = ?1", [id as i64], |r| {
                r.get(0)
            })
            .optional()?;
        json.map(|j| parse(&j)).transpose()
    }

    /// Logs of one machine or one ticket if given, of machines in `groups`
    /// if given, ended since a time, newest first (ties by session
    /// id), after `after` if given: each passed to `take` with its place in
    /// that order until it answers `false`.
    pub(super) fn session_logs(
        &mut self,
        machine_id: Option<&str>,
        ticket: Option<u64>,
        groups: Option<&[String]>,
        since: u64,
        after: Option<SessionCursor>,
        take: &mut dyn FnMut(SessionCursor, SessionLog) -> bool,
    ) -> Result<(), StoreError> {
        let groups = match groups {
            // One machine's or ticket's logs come by their own index.
            Some(g) if machine_id.is_none() && ticket.is_none() => Some((g, self.narrowing(g)?)),
            Some(g) => Some((g, Narrowing::Walk)),
            None => None,
        };
        let (sql, args) = session_sql(machine_id, ticket, groups, since, after)?;
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            let at = SessionCursor {
                ended_unix: r.get::<_, i64>(0)? as u64,
                session: r.get::<_, i64>(1)? as u64,
            };
            if !take(at, parse(&r.get::<_, String>(2)?)?) {
                break;
            }
        }
        Ok(())
    }

    pub(super) fn news(&mut self, id: u64) -> Result<Option<TicketNews>, StoreError> {
        use super::TicketStore as _;
        let Some(detail) = self.ticket(id)? else {
            return Ok(None);
        };
        let last = detail.events.last().cloned().unwrap_or(TicketEvent {
            at_unix: detail.row.updated_unix,
            actor: detail.row.requester.clone(),
            kind: "created".into(),
            text: String::new(),
        });
        Ok(Some(TicketNews {
            event: TicketNews::event_of(&last.kind),
            actor: last.actor,
            text: last.text,
            at_unix: last.at_unix,
            ticket: detail.row,
        }))
    }
}

fn parse(json: &str) -> Result<SessionLog, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("session log: {e}")))
}

/// The query of [`SqliteStore::session_logs`], and its arguments.
fn session_sql(
    machine_id: Option<&str>,
    ticket: Option<u64>,
    groups: Option<(&[String], Narrowing)>,
    since: u64,
    after: Option<SessionCursor>,
) -> Result<(String, Vec<Value>), StoreError> {
    // Only the conditions asked for, so that SQLite bounds its index
    // scans by them (`?1 IS NULL OR …` would make it read every row
    // before the cursor again on every page).
    let mut sql = String::from("SELECT ended_unix, id, log FROM sessions WHERE ended_unix >= ?");
    let mut args = vec![Value::Integer(since as i64)];
    if let Some(m) = machine_id {
        sql.push_str(" AND machine_id = ?");
        args.push(Value::Text(m.to_string()));
    }
    if let Some(t) = ticket {
        sql.push_str(" AND ticket_id = ?");
        args.push(Value::Integer(t as i64));
    }
    if let Some((groups, how)) = groups {
        super::sqlite::of_groups(&mut sql, &mut args, "machine_id", groups, how)?;
    }
    if let Some(a) = after {
        // Session ids stay below 2^48 (a 32-bit seed shifted by 16),
        // so their order as stored (i64) is their order as u64.
        sql.push_str(" AND ended_unix <= ? AND (ended_unix < ? OR id < ?)");
        args.push(Value::Integer(a.ended_unix as i64));
        args.push(Value::Integer(a.ended_unix as i64));
        args.push(Value::Integer(a.session as i64));
    }
    sql.push_str(" ORDER BY ended_unix DESC, id DESC");
    Ok((sql, args))
}

#[cfg(test)]
mod tests {
    use super::{Narrowing, SessionCursor, Value, session_sql};
    use crate::store::{
        NewEnrollToken, SqliteStore, Store, TicketQuery, TicketStore, sqlite_tickets::ticket_sql,
    };
    use lifeline_proto::{
        MachineInfo, Permission, Role, session_log::SessionLog, ticket::HelpRequest,
    };

    fn log(session: u64, machine: &str, ended_unix: u64) -> SessionLog {
        SessionLog {
            session,
            machine_id: machine.into(),
            hostname: format!("{machine}-pc"),
            technician: "alice".into(),
            ticket: None,
            ticket_created: false,
            purpose: "chat".into(),
            permission_asked: Permission::View,
            decision: "accepted".into(),
            consent: "allowed by the user at the prompt".into(),
            offered_unix: ended_unix - 60,
            started_unix: Some(ended_unix - 58),
            ended_unix,
            duration_s: 58,
            ended: "technician closed the session".into(),
            bytes_to_agent: 0,
            bytes_to_console: 0,
            streams: 1,
            frames: 0,
            mean_fps: 0.0,
            refused_input: 0,
            permission_changes: vec![],
            chat: vec![],
            chat_dropped: 0,
            clipboard: vec![],
        }
    }

    /// Machines of `finance` (two), `ops` and no group, each with a ticket
    /// and a session log; then `quiet` more of no group, without.
    fn store(quiet: usize) -> SqliteStore {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let admin = s.add_user("root", Role::Admin, "h", 0).unwrap();
        let machines = [
            ("f1", Some("finance")),
            ("o1", Some("ops")),
            ("n1", None),
            ("f2", Some("finance")),
        ];
        for (k, (id, group)) in machines.into_iter().enumerate() {
            let hash = [k as u8 + 1; 32];
            s.add_enroll_token(&NewEnrollToken {
                hash,
                group: group.map(Into::into),
                created_by: admin,
                created_unix: 0,
                expires_unix: u64::MAX / 2,
                max_uses: None,
            })
            .unwrap();
            let info = MachineInfo {
                hostname: format!("{id}-pc"),
                os: "Debian 12".into(),
                arch: "x86_64".into(),
                agent_version: "0.1.0".into(),
            };
            s.enroll(&hash, id, &[9; 32], &info, 0).unwrap();
            let req = HelpRequest {
                requester: "user".into(),
                text: format!("help on {id}"),
                priority: "normal".into(),
                screenshot_png: vec![],
            };
            s.create_ticket(id, &req, 100 + k as u64).unwrap();
            s.save_session(&log(10 + k as u64, id, 1_000 + k as u64))
                .unwrap();
        }
        for k in 0..quiet {
            let info = MachineInfo {
                hostname: format!("q{k}-pc"),
                os: "Debian 12".into(),
                arch: "x86_64".into(),
                agent_version: "0.1.0".into(),
            };
            // n1's token: of no group, without limit.
            s.enroll(&[3; 32], &format!("q{k}"), &[9; 32], &info, 0)
                .unwrap();
        }
        s
    }

    fn tickets(s: &mut SqliteStore, q: &TicketQuery, groups: Option<&[String]>) -> Vec<String> {
        let mut got = Vec::new();
        s.ticket_scan(q, groups, None, &mut |t| {
            got.push(t.machine_id);
            true
        })
        .unwrap();
        got
    }

    fn sessions(s: &mut SqliteStore, groups: Option<&[String]>) -> Vec<String> {
        let mut got = Vec::new();
        s.session_scan(None, 0, groups, None, &mut |_, l| {
            got.push(l.machine_id);
            true
        })
        .unwrap();
        got
    }

    /// The listings of `s` for the groups asked, and how its session logs
    /// are read for each.
    fn narrowed(s: &mut SqliteStore, how: [Narrowing; 3]) {
        let all = TicketQuery::default();
        // Newest first; the whole fleet when not narrowed.
        assert_eq!(tickets(s, &all, None), ["f2", "n1", "o1", "f1"]);
        assert_eq!(sessions(s, None), ["f2", "n1", "o1", "f1"]);
        // Her groups' machines only: never one of no group.
        let finance = ["finance".to_string()];
        assert_eq!(tickets(s, &all, Some(&finance)), ["f2", "f1"]);
        assert_eq!(sessions(s, Some(&finance)), ["f2", "f1"]);
        let both = ["ops".to_string(), "finance".to_string()];
        assert_eq!(tickets(s, &all, Some(&both)), ["f2", "o1", "f1"]);
        assert_eq!(sessions(s, Some(&both)), ["f2", "o1", "f1"]);
        let none = ["hr".to_string()];
        assert!(tickets(s, &all, Some(&none)).is_empty());
        assert!(sessions(s, Some(&none)).is_empty());
        let chosen = [&finance[..], &both[..], &none[..]].map(|g| s.narrowing(g).unwrap());
        assert_eq!(chosen, how);
        // One machine's tickets, within her groups or not at all.
        let one = TicketQuery {
            machine: Some("f1".into()),
            ..TicketQuery::default()
        };
        assert_eq!(tickets(s, &one, None), ["f1"]);
        assert_eq!(tickets(s, &one, Some(&finance)), ["f1"]);
        assert!(tickets(s, &one, Some(&["ops".to_string()])).is_empty());
    }

    #[test]
    fn a_technicians_groups_narrow_tickets_and_sessions_in_the_store() {
        use Narrowing::{Seek, Walk};
        // Her groups half the fleet or more: logs walked by end time.
        narrowed(&mut store(0), [Walk, Walk, Seek]);
        // A tenth: each of her machines' logs sought, then sorted.
        narrowed(&mut store(16), [Seek, Seek, Seek]);
        // The threshold: a fifth.
        assert_eq!(store(6).narrowing(&["finance".into()]).unwrap(), Walk);
        assert_eq!(store(7).narrowing(&["finance".into()]).unwrap(), Seek);
    }

    /// SQLite's plan for `query`.
    fn plan(s: &SqliteStore, (sql, args): (String, Vec<Value>)) -> String {
        s.query_plan(&sql, args)
    }

    #[test]
    fn a_technicians_pages_are_read_from_indexes_as_chosen() {
        let s = store(0);
        let finance = ["finance".to_string()];
        let at = SessionCursor {
            ended_unix: 1_002,
            session: 12,
        };
        // Her machines read once from the group's index. Walked: the logs
        // by end time from the cursor, never all of hers read and sorted.
        let walk = Some((&finance[..], Narrowing::Walk));
        let logs = plan(&s, session_sql(None, None, walk, 0, Some(at)).unwrap());
        assert!(logs.contains("INDEX sessions_ended"), "{logs}");
        assert!(logs.contains("INDEX machines_by_group"), "{logs}");
        assert!(!logs.contains("TEMP B-TREE"), "{logs}");
        // Sought: each machine's logs by its index, then sorted.
        let seek = Some((&finance[..], Narrowing::Seek));
        let logs = plan(&s, session_sql(None, None, seek, 0, Some(at)).unwrap());
        assert!(logs.contains("INDEX sessions_machine"), "{logs}");
        assert!(logs.contains("INDEX machines_by_group"), "{logs}");
        // Tickets by number from the cursor, by status or by assignee,
        // each one's machine looked up.
        let all = plan(
            &s,
            ticket_sql(&TicketQuery::default(), Some(&finance), Some(3)).unwrap(),
        );
        assert!(
            all.contains("SEARCH t USING INTEGER PRIMARY KEY (rowid<?)"),
            "{all}"
        );
        assert!(all.contains("SEARCH m USING INDEX"), "{all}");
        assert!(!all.contains("TEMP B-TREE"), "{all}");
        for (query, index) in [
            (
                TicketQuery {
                    status: Some("new".into()),
                    ..TicketQuery::default()
                },
                "INDEX tickets_by_status",
            ),
            (
                TicketQuery {
                    assignee: Some("tina".into()),
                    ..TicketQuery::default()
                },
                "INDEX tickets_by_assignee",
            ),
        ] {
            let p = plan(&s, ticket_sql(&query, Some(&finance), Some(3)).unwrap());
            assert!(p.contains(index), "{p}");
            assert!(!p.contains("TEMP B-TREE"), "{p}");
        }
    }
}
