//! SQLite implementation of [`TicketStore`].

use super::{SqliteStore, StoreError, TicketError, TicketQuery, TicketStore};
use lifeline_proto::ticket::{
    HelpRequest, PRIORITIES, STATUSES, TicketChange, TicketDetail, TicketEvent, TicketRow,
};
use rusqlite::{OptionalExtension, Row, params, types::Value};

const ROW_COLUMNS: &str = "t.id, t.machine_id, COALESCE(m.hostname, ''), t.requester, t.title, \
     t.status, t.priority, t.tier, t.assignee, t.created_unix, t.updated_unix";

/// The query of [`TicketStore::ticket_scan`], and its arguments.
pub(super) fn ticket_sql(
    query: &TicketQuery,
    groups: Option<&[String]>,
    after: Option<u64>,
) -> Result<(String, Vec<Value>), StoreError> {
    // Only the conditions asked for, so that SQLite can walk the index
    // of the status or assignee asked for (each ordered by number
    // within) from the cursor down, not every ticket for each page.
    let mut sql = format!(
        "SELECT {ROW_COLUMNS} FROM tickets t LEFT JOIN machines m ON m.id = t.machine_id \
         WHERE t.created_unix >= ?"
    );
    let mut args = vec![Value::Integer(
        query.created_since.min(i64::MAX as u64) as i64
    )];
    if let Some(a) = &query.assignee {
        sql.push_str(" AND t.assignee = ?");
        args.push(Value::Text(a.clone()));
    }
    if let Some(st) = &query.status {
        sql.push_str(" AND t.status = ?");
        args.push(Value::Text(st.clone()));
    }
    if let Some(tier) = query.tier {
        sql.push_str(" AND t.tier = ?");
        args.push(Value::Integer(i64::from(tier)));
    }
    if let Some(m) = &query.machine {
        sql.push_str(" AND t.machine_id = ?");
        args.push(Value::Text(m.clone()));
    }
    if let Some(groups) = groups {
        // By the machine joined for its hostname, looked up for each
        // ticket walked (reading her machines first, as the session logs
        // do, costs more than the lookups of a page of tickets). A ticket
        // of a machine since removed is seen by the whole fleet's readers
        // only.
        super::sqlite::only_among(&mut sql, &mut args, "m.grp", groups)?;
    }
    if let Some(a) = after {
        sql.push_str(" AND t.id < ?");
        args.push(Value::Integer(a.min(i64::MAX as u64) as i64));
    }
    sql.push_str(" ORDER BY t.id DESC");
    Ok((sql, args))
}

fn row(r: &Row<'_>) -> rusqlite::Result<TicketRow> {
    Ok(TicketRow {
        id: r.get::<_, i64>(0)? as u64,
        machine_id: r.get(1)?,
        hostname: r.get(2)?,
        requester: r.get(3)?,
        title: r.get(4)?,
        status: r.get(5)?,
        priority: r.get(6)?,
        tier: r.get::<_, i64>(7)? as u8,
        assignee: r.get(8)?,
        created_unix: r.get::<_, i64>(9)? as u64,
        updated_unix: r.get::<_, i64>(10)? as u64,
    })
}

/// The first line of a help request, shortened, as the ticket title.
fn title_of(text: &str) -> String {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("Help requested");
    let mut t: String = first.trim().chars().take(80).collect();
    if first.trim().chars().count() > 80 {
        t.push('…');
    }
    t
}

impl TicketStore for SqliteStore {
    fn create_ticket(
        &mut self,
        machine_id: &str,
        req: &HelpRequest,
        now: u64,
    ) -> Result<u64, StoreError> {
        let priority = if PRIORITIES.contains(&req.priority.as_str()) {
            req.priority.as_str()
        } else {
            "normal"
        };
        let tx = self.conn.savepoint()?;
        tx.execute(
            "INSERT INTO tickets (machine_id, requester, title, description, status, priority, tier, created_unix, updated_unix)
             VALUES (?1, ?2, ?3, ?4, 'new', ?5, 1, ?6, ?6)",
            params![machine_id, req.requester, title_of(&req.text), req.text, priority, now as i64],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO ticket_events (ticket_id, at_unix, actor, kind, text) VALUES (?1, ?2, ?3, 'created', ?4)",
            params![id, now as i64, req.requester, format!("priority {priority}")],
        )?;
        tx.commit()?;
        Ok(id as u64)
    }

    fn attach(
        &mut self,
        ticket: u64,
        kind: &str,
        name: &str,
        data: &[u8],
        now: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO attachments (ticket_id, kind, name, data, created_unix) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![ticket as i64, kind, name, data, now as i64],
        )?;
        Ok(())
    }

    fn ticket_event(
        &mut self,
        ticket: u64,
        actor: &str,
        kind: &str,
        text: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO ticket_events (ticket_id, at_unix, actor, kind, text) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![ticket as i64, now as i64, actor, kind, text],
        )?;
        self.conn.execute(
            "UPDATE tickets SET updated_unix = ?2 WHERE id = ?1",
            params![ticket as i64, now as i64],
        )?;
        Ok(())
    }

    fn ticket_scan(
        &mut self,
        query: &TicketQuery,
        groups: Option<&[String]>,
        after: Option<u64>,
        take: &mut dyn FnMut(TicketRow) -> bool,
    ) -> Result<(), StoreError> {
        let (sql, args) = ticket_sql(query, groups, after)?;
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            if !take(row(r)?) {
                break;
            }
        }
        Ok(())
    }

    fn ticket(&mut self, id: u64) -> Result<Option<TicketDetail>, StoreError> {
        let sql = format!(
            "SELECT {ROW_COLUMNS}, t.description FROM tickets t LEFT JOIN machines m ON m.id = t.machine_id WHERE t.id = ?1"
        );
        let Some((row, description)) = self
            .conn
            .query_row(&sql, [id as i64], |r| {
                Ok((row(r)?, r.get::<_, String>(11)?))
            })
            .optional()?
        else {
            return Ok(None);
        };
        // Oldest first: the scan is newest first.
        let mut sessions: Vec<(u64, String)> = Vec::new();
        self.session_logs(None, Some(id), None, 0, None, &mut |_, l| {
            sessions.push((l.session, l.summary()));
            true
        })?;
        sessions.reverse();
        let mut stmt = self.conn.prepare_cached(
            "SELECT at_unix, actor, kind, text FROM ticket_events WHERE ticket_id = ?1 ORDER BY id",
        )?;
        let events = stmt
            .query_map([id as i64], |r| {
                Ok(TicketEvent {
                    at_unix: r.get::<_, i64>(0)? as u64,
                    actor: r.get(1)?,
                    kind: r.get(2)?,
                    text: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT kind, name, length(data) FROM attachments WHERE ticket_id = ?1 ORDER BY id",
        )?;
        let attachments = stmt
            .query_map([id as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(TicketDetail {
            row,
            description,
            events,
            attachments,
            sessions,
        }))
    }

    fn update_ticket(
        &mut self,
        id: u64,
        actor: &str,
        change: &TicketChange,
        now: u64,
    ) -> Result<(), TicketError> {
        let Some(detail) = self.ticket(id)? else {
            return Err(TicketError::NotFound(id));
        };
        let t = detail.row;
        let tx = self.conn.savepoint().map_err(StoreError::from)?;
        let (kind, text) = match change {
            TicketChange::Assign { user } => {
                let known: Option<String> = tx
                    .query_row("SELECT role FROM users WHERE name = ?1", [user], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(StoreError::from)?;
                match known.as_deref() {
                    Some("technician" | "admin") => {}
                    Some(_) => {
                        return Err(TicketError::Invalid(format!("{user} is not a technician")));
                    }
                    None => return Err(TicketError::Invalid(format!("no user {user:?}"))),
                }
                let status = if t.status == "new" {
                    "open"
                } else {
                    t.status.as_str()
                };
                tx.execute(
                    "UPDATE tickets SET assignee = ?2, status = ?3 WHERE id = ?1",
                    params![id as i64, user, status],
                )
                .map_err(StoreError::from)?;
                ("assigned", format!("assigned to {user}"))
            }
            TicketChange::Escalate { reason } => {
                if t.tier >= 3 {
                    return Err(TicketError::Invalid(format!(
                        "ticket {id} is already at L3"
                    )));
                }
                tx.execute(
                    "UPDATE tickets SET tier = tier + 1, assignee = NULL WHERE id = ?1",
                    [id as i64],
                )
                .map_err(StoreError::from)?;
                let why = if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                };
                ("escalated", format!("L{} → L{}{why}", t.tier, t.tier + 1))
            }
            TicketChange::Comment { text } => ("comment", text.clone()),
            TicketChange::Status { status } => {
                if !STATUSES.contains(&status.as_str()) {
                    return Err(TicketError::Invalid(format!(
                        "unknown status {status:?}: use {}",
                        STATUSES.join(", ")
                    )));
                }
                if t.status == "closed" {
                    return Err(TicketError::Invalid(format!("ticket {id} is closed")));
                }
                tx.execute(
                    "UPDATE tickets SET status = ?2,
                       resolved_unix = CASE WHEN ?2 IN ('resolved','closed') THEN COALESCE(resolved_unix, ?3) ELSE resolved_unix END
                     WHERE id = ?1",
                    params![id as i64, status, now as i64],
                )
                .map_err(StoreError::from)?;
                ("status", format!("{} → {status}", t.status))
            }
        };
        // The first thing a technician does on a ticket is its first response.
        if actor != t.requester {
            tx.execute(
                "UPDATE tickets SET first_response_unix = COALESCE(first_response_unix, ?2) WHERE id = ?1",
                params![id as i64, now as i64],
            )
            .map_err(StoreError::from)?;
        }
        tx.execute(
            "INSERT INTO ticket_events (ticket_id, at_unix, actor, kind, text) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id as i64, now as i64, actor, kind, text],
        )
        .map_err(StoreError::from)?;
        tx.execute(
            "UPDATE tickets SET updated_unix = ?2 WHERE id = ?1",
            params![id as i64, now as i64],
        )
        .map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(())
    }

    fn ticket_news(
        &mut self,
        id: u64,
    ) -> Result<Option<lifeline_proto::ticket::TicketNews>, StoreError> {
        self.news(id)
    }

    fn save_session(
        &mut self,
        log: &lifeline_proto::session_log::SessionLog,
    ) -> Result<(), StoreError> {
        self.save_session_log(log)
    }

    fn session_opened(&mut self, open: &super::OpenSession) -> Result<(), StoreError> {
        self.open_session_insert(open)
    }

    fn open_sessions(&mut self) -> Result<Vec<super::OpenSession>, StoreError> {
        self.open_session_rows()
    }

    fn session(
        &mut self,
        id: u64,
    ) -> Result<Option<lifeline_proto::session_log::SessionLog>, StoreError> {
        self.session_log(id)
    }

    fn sessions(
        &mut self,
        machine_id: Option<&str>,
        ticket: Option<u64>,
        since_unix: u64,
    ) -> Result<Vec<lifeline_proto::session_log::SessionLog>, StoreError> {
        let mut all = Vec::new();
        self.session_logs(machine_id, ticket, None, since_unix, None, &mut |_, l| {
            all.push(l);
            true
        })?;
        Ok(all)
    }

    fn session_scan(
        &mut self,
        machine_id: Option<&str>,
        since_unix: u64,
        groups: Option<&[String]>,
        after: Option<lifeline_proto::SessionCursor>,
        take: &mut dyn FnMut(
            lifeline_proto::SessionCursor,
            lifeline_proto::session_log::SessionLog,
        ) -> bool,
    ) -> Result<(), StoreError> {
        self.session_logs(machine_id, None, groups, since_unix, after, take)
    }
}
