//! Part of `lifeline-bench fleet`: a technician of one group (two machines
//! in five) lists her tickets and session logs. The store narrows both by
//! her group within the query. Before, the relay read her group's machines
//! on every page and passed their ids to the query, which for session logs
//! made SQLite read and sort every log of those machines before the first
//! row of a page. Both session queries run in the same run on the relay's
//! database, and the whole path through the relay is timed as it is now.

use crate::stage::{Stage, chat_log};
use anyhow::ensure;
use lifeline_proto::{ConsoleReply, ConsoleRequest, Role, ticket::HelpRequest};
use lifeline_relay::{
    auth,
    store::{InventoryStore, MachineQuery, SqliteStore, Store, TicketStore},
};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Tickets opened over the fleet.
const TICKETS: usize = 2_000;
/// Session logs saved over the fleet (about 700 bytes of JSON each; a
/// page holds about 15,000).
const SESSIONS: usize = 60_000;
/// The technician, her password and her group (two machines in five).
const TECH: &str = "tara";
const TECH_PW: &str = "tara-password";
/// The group [`crate::bench_fleet`] enrolls two machines in five in.
pub const GROUP: &str = "east";
/// Pages timed per fleet and way.
const PAGES_TIMED: usize = 20;

/// A page of her session logs as the relay asked before: her machines' ids
/// as a JSON list.
const LOGS_BY_IDS: &str = "SELECT ended_unix, id, log FROM sessions WHERE ended_unix >= 0 \
     AND machine_id IN (SELECT value FROM json_each(?1)) ORDER BY ended_unix DESC, id DESC";
/// The same page as the store asks now: her machines from the group
/// index, the logs walked by end time.
const LOGS_BY_GROUP: &str = "SELECT ended_unix, id, log FROM sessions WHERE ended_unix >= 0 \
     AND +machine_id IN (SELECT id FROM machines WHERE grp IN (SELECT value FROM json_each(?1))) \
     ORDER BY ended_unix DESC, id DESC";

/// One fleet's figures for the technician.
#[derive(Debug, Serialize)]
pub struct GroupRow {
    /// Tickets of her machines (of [`TICKETS`]).
    pub tickets: usize,
    /// Session logs of her machines (of [`SESSIONS`]).
    pub sessions: usize,
    /// Her first page of tickets, console to relay and back (now).
    pub ticket_page_ms_p50: f64,
    /// Her first page of session logs, console to relay and back (now).
    pub session_page_ms_p50: f64,
    /// The store reading her group's machines, which the relay did before
    /// each page of either.
    pub group_read_ms_p50: f64,
    /// The first page's session query as it was (by ids), on the store.
    pub session_sql_before_ms_p50: f64,
    /// The same page's query now (by group), on the store.
    pub session_sql_now_ms_p50: f64,
}

/// The `q` quantile of `times`, in milliseconds.
fn quantile_ms(mut times: Vec<Duration>, q: f64) -> f64 {
    times.sort();
    crate::ms(lifeline::ping::quantile(&times, q))
}

/// Is the machine `{m:012x}` in [`GROUP`]?
fn in_group(id: &str) -> bool {
    usize::from_str_radix(id, 16).is_ok_and(|m| m % 5 < 2)
}

/// The technician of [`GROUP`], [`TICKETS`] tickets and [`SESSIONS`]
/// session logs spread over the fleet, machine `m` being `{m:012x}` named
/// `hostname(m)`. Answers how many of each are of her machines.
///
/// # Errors
/// Store failures.
pub fn populate(
    s: &mut SqliteStore,
    machines: usize,
    hostname: impl Fn(usize) -> String,
) -> anyhow::Result<(usize, usize)> {
    let id = s.add_user(TECH, Role::Technician, &auth::hash_password(TECH_PW)?, 0)?;
    s.set_user_groups(id, &[GROUP.into()])?;
    let machine = |i: usize| i * 7_919 % machines.max(1);
    let mut tickets = 0;
    for i in 0..TICKETS {
        let m = machine(i);
        let req = HelpRequest {
            requester: "user".into(),
            text: format!("printer {i} is jammed"),
            priority: "normal".into(),
            screenshot_png: Vec::new(),
        };
        s.create_ticket(&format!("{m:012x}"), &req, 1_000 + i as u64)?;
        tickets += usize::from(m % 5 < 2);
    }
    let mut sessions = 0;
    for i in 0..SESSIONS {
        let m = machine(i);
        let log = chat_log(
            i as u64 + 1,
            &format!("{m:012x}"),
            &hostname(m),
            10_000 + i as u64,
        );
        s.save_session(&log)?;
        sessions += usize::from(m % 5 < 2);
    }
    Ok((tickets, sessions))
}

/// Runs `sql` with `arg` and reads its first `take` rows, as the relay
/// does for a page of that many logs; answers their session ids.
fn first_page(
    db: &rusqlite::Connection,
    sql: &str,
    arg: &str,
    take: usize,
) -> anyhow::Result<Vec<i64>> {
    let mut stmt = db.prepare_cached(sql)?;
    let mut rows = stmt.query([arg])?;
    let mut ids = Vec::new();
    while let Some(r) = rows.next()? {
        let log: String = r.get(2)?;
        ensure!(log.len() > 100, "an empty log");
        ids.push(r.get(1)?);
        if ids.len() == take {
            break;
        }
    }
    Ok(ids)
}

/// Times the technician's first page of tickets and of session logs
/// through the relay; then, on connections of their own, the store
/// reading her group's machines as the relay did before each page, and the
/// first page's session query as it was and as it is.
///
/// # Errors
/// Setup failures, a refused request, a page with the wrong rows.
pub async fn run(stage: &Stage, (tickets, sessions): (usize, usize)) -> anyhow::Result<GroupRow> {
    let mut tech = stage.login(TECH, TECH_PW).await?;
    let (mut ticket_pages, mut session_pages) = (Vec::new(), Vec::new());
    let mut page_logs = 0;
    for k in 0..=PAGES_TIMED {
        let t = Instant::now();
        let reply = tech
            .request(ConsoleRequest::TicketsPage {
                mine: false,
                status: None,
                tier: None,
                created_since: 0,
                after: None,
            })
            .await?;
        let ticket_page = t.elapsed();
        ensure!(
            matches!(&reply, ConsoleReply::TicketsPage { rows, next: None } if rows.len() == tickets),
            "not her {tickets} tickets in one page"
        );
        let t = Instant::now();
        let reply = tech
            .request(ConsoleRequest::SessionsPage {
                machine: None,
                since_unix: 0,
                after: None,
            })
            .await?;
        let session_page = t.elapsed();
        let ConsoleReply::SessionsPage { logs, next } = reply else {
            anyhow::bail!("no page of session logs: {reply:?}");
        };
        ensure!(
            !logs.is_empty()
                && logs.iter().all(|l| in_group(&l.machine_id))
                && next.is_none() == (logs.len() == sessions),
            "{} session logs, not her newest",
            logs.len()
        );
        page_logs = logs.len();
        // The first of each is untimed.
        if k > 0 {
            ticket_pages.push(ticket_page);
            session_pages.push(session_page);
        }
    }

    let mut store = stage.data.open_store()?;
    let query = MachineQuery {
        groups: Some(vec![GROUP.into()]),
        ..MachineQuery::default()
    };
    let db = rusqlite::Connection::open(stage.data.db_path())?;
    let groups = serde_json::to_string(&[GROUP])?;
    let (mut reads, mut before, mut now) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..PAGES_TIMED {
        let t = Instant::now();
        let ids: Vec<String> = store.machines(&query)?.into_iter().map(|m| m.id).collect();
        reads.push(t.elapsed());
        ensure!(
            ids.iter().all(|id| in_group(id)),
            "a machine not in {GROUP}"
        );
        let ids = serde_json::to_string(&ids)?;
        let t = Instant::now();
        let old = first_page(&db, LOGS_BY_IDS, &ids, page_logs)?;
        before.push(t.elapsed());
        let t = Instant::now();
        let new = first_page(&db, LOGS_BY_GROUP, &groups, page_logs)?;
        now.push(t.elapsed());
        ensure!(
            old == new && old.len() == page_logs,
            "the two queries' first pages differ"
        );
    }
    Ok(GroupRow {
        tickets,
        sessions,
        ticket_page_ms_p50: quantile_ms(ticket_pages, 0.5),
        session_page_ms_p50: quantile_ms(session_pages, 0.5),
        group_read_ms_p50: quantile_ms(reads, 0.5),
        session_sql_before_ms_p50: quantile_ms(before, 0.5),
        session_sql_now_ms_p50: quantile_ms(now, 0.5),
    })
}

/// The technician's figures as a Markdown table, a row per fleet.
#[must_use]
pub fn markdown(rows: &[(usize, &GroupRow)]) -> String {
    let mut s = format!(
        "\nA technician of one group (2 machines in 5) lists her tickets ({TICKETS} over the \
         fleet) and session logs ({SESSIONS}): now the store narrows them by her group; \
         before, the relay first read her group's machines on every page, and her machines' \
         ids made SQLite sort all their logs before a page's first\n\n\
         | machines | her tickets / logs | tickets page p50 | logs page p50 | reading her \
         machines (before, each page) | logs page's query before | now | ratio |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for (machines, g) in rows {
        s.push_str(&format!(
            "| {machines} | {} / {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | \
             {:.1}× |\n",
            g.tickets,
            g.sessions,
            g.ticket_page_ms_p50,
            g.session_page_ms_p50,
            g.group_read_ms_p50,
            g.session_sql_before_ms_p50,
            g.session_sql_now_ms_p50,
            g.session_sql_before_ms_p50 / g.session_sql_now_ms_p50.max(1e-9),
        ));
    }
    s
}
