//! SQLite storage of session logs and of ticket news.

use super::{OpenSession, SqliteStore, StoreError};
use lifeline_proto::{
    SessionCursor,
    session_log::SessionLog,
    ticket::{TicketEvent, TicketNews},
};
use rusqlite::{OptionalExtension, params};

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
        let tx = self.conn.transaction()?;
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

    /// Logs of one machine or one ticket if given, of the machines
    /// `among` if given, ended since a time, newest first (ties by session
    /// id), after `after` if given: each passed to `take` with its place in
    /// that order until it answers `false`.
    pub(super) fn session_logs(
        &mut self,
        machine_id: Option<&str>,
        ticket: Option<u64>,
        among: Option<&[String]>,
        since: u64,
        after: Option<SessionCursor>,
        take: &mut dyn FnMut(SessionCursor, SessionLog) -> bool,
    ) -> Result<(), StoreError> {
        use rusqlite::types::Value;
        // Only the conditions asked for, so that SQLite bounds its index
        // scans by them (`?1 IS NULL OR …` would make it read every row
        // before the cursor again on every page).
        let mut sql =
            String::from("SELECT ended_unix, id, log FROM sessions WHERE ended_unix >= ?");
        let mut args = vec![Value::Integer(since as i64)];
        if let Some(m) = machine_id {
            sql.push_str(" AND machine_id = ?");
            args.push(Value::Text(m.to_string()));
        }
        if let Some(t) = ticket {
            sql.push_str(" AND ticket_id = ?");
            args.push(Value::Integer(t as i64));
        }
        if let Some(among) = among {
            super::sqlite::only_among(&mut sql, &mut args, "machine_id", among)?;
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
