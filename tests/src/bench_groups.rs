//! Part of `lifeline-bench fleet`: technicians of one group list their
//! tickets and session logs, one group holding two machines in five, the
//! other one in a thousand. The store narrows both listings by her group
//! within the query (her session logs walked by end time for a large
//! group, sought machine by machine for a small one). Before, the relay
//! read her group's machines on every page and passed their ids to the
//! query, which made SQLite read and sort every log of those machines
//! before a page's first row. Both session queries run in the same run on
//! the relay's database, and the whole path through the relay is timed as
//! it is now.

use crate::{
    quantile_ms,
    stage::{Stage, chat_log},
};
use anyhow::ensure;
use lifeline_proto::{
    ConsoleReply, ConsoleRequest, Role, session_log::SessionLog, ticket::HelpRequest,
};
use lifeline_relay::{
    auth,
    store::{InventoryStore, MachineQuery, SqliteStore, Store, TicketStore},
};
use serde::Serialize;
use std::time::Instant;

/// Tickets opened over the fleet.
const TICKETS: usize = 2_000;
/// Session logs saved over the fleet (about 700 bytes of JSON each; a
/// page holds about 15,000).
const SESSIONS: usize = 60_000;
/// The technicians: name, group, and the share of the fleet in it.
const TECHS: [(&str, &str, &str); 2] =
    [("tara", "east", "2 in 5"), ("nils", "north", "1 in 1,000")];
/// Pages timed per fleet, technician and way.
const PAGES_TIMED: usize = 20;

/// The group of machine `m`: two in five in the large group, one in a
/// thousand in the small one, the rest in none.
#[must_use]
pub fn group_of(m: usize) -> Option<&'static str> {
    if m % 5 < 2 {
        Some(TECHS[0].1)
    } else if m % 1_000 == 2 {
        Some(TECHS[1].1)
    } else {
        None
    }
}

/// The password of technician `name`.
fn password(name: &str) -> String {
    format!("{name}-password")
}

/// A page of her session logs as the relay asked before: her machines' ids
/// as a JSON list.
const LOGS_BY_IDS: &str = "SELECT ended_unix, id, log FROM sessions WHERE ended_unix >= ?1 \
     AND machine_id IN (SELECT value FROM json_each(?2)) ORDER BY ended_unix DESC, id DESC";

/// One technician's figures in one fleet.
#[derive(Debug, Serialize)]
pub struct GroupRow {
    pub technician: String,
    pub group: String,
    /// Her machines.
    pub machines: usize,
    /// Tickets of her machines (of [`TICKETS`]).
    pub tickets: usize,
    /// Session logs of her machines (of [`SESSIONS`]), and on her first
    /// page.
    pub sessions: usize,
    pub page_logs: usize,
    /// Her first page of tickets, console to relay and back (now).
    pub ticket_page_ms_p50: f64,
    /// Her first page of session logs, console to relay and back (now).
    pub session_page_ms_p50: f64,
    /// The store reading her group's machines, which the relay did before
    /// each page of either.
    pub group_read_ms_p50: f64,
    /// The first page's session query as it was (by ids), on the store.
    pub session_sql_before_ms_p50: f64,
    /// The same page read through the store as it is now.
    pub session_sql_now_ms_p50: f64,
}

/// The group of machine `{m:012x}`.
fn group_of_id(id: &str) -> Option<&'static str> {
    usize::from_str_radix(id, 16).ok().and_then(group_of)
}

/// The technicians, [`TICKETS`] tickets and [`SESSIONS`] session logs
/// spread over the fleet, machine `m` being `{m:012x}` named `hostname(m)`
/// and in [`group_of`]`(m)`.
///
/// # Errors
/// Store failures.
pub fn populate(
    s: &mut SqliteStore,
    machines: usize,
    hostname: impl Fn(usize) -> String,
) -> anyhow::Result<()> {
    for (name, group, _) in TECHS {
        let id = s.add_user(
            name,
            Role::Technician,
            &auth::hash_password(&password(name))?,
            0,
        )?;
        s.set_user_groups(id, &[group.into()])?;
    }
    let machine = |i: usize| i * 7_919 % machines.max(1);
    for i in 0..TICKETS {
        let req = HelpRequest {
            requester: "user".into(),
            text: format!("printer {i} is jammed"),
            priority: "normal".into(),
            screenshot_png: Vec::new(),
        };
        s.create_ticket(&format!("{:012x}", machine(i)), &req, 1_000 + i as u64)?;
    }
    for i in 0..SESSIONS {
        let m = machine(i);
        let log = chat_log(
            i as u64 + 1,
            &format!("{m:012x}"),
            &hostname(m),
            10_000 + i as u64,
        );
        s.save_session(&log)?;
    }
    Ok(())
}

/// How many of the tickets and session logs [`populate`] made are of
/// `group`'s machines.
fn of_group(machines: usize, group: &str) -> (usize, usize) {
    let hers = |n: usize| {
        (0..n)
            .filter(|&i| group_of(i * 7_919 % machines.max(1)) == Some(group))
            .count()
    };
    (hers(TICKETS), hers(SESSIONS))
}

/// Runs [`LOGS_BY_IDS`] with `ids` and reads its first `take` rows, each
/// log parsed, as the store did for a page of that many logs; answers
/// their session ids.
fn first_page_before(
    db: &rusqlite::Connection,
    ids: &str,
    take: usize,
) -> anyhow::Result<Vec<u64>> {
    let mut stmt = db.prepare_cached(LOGS_BY_IDS)?;
    let mut rows = stmt.query(rusqlite::params![0, ids])?;
    let mut got = Vec::new();
    while got.len() < take
        && let Some(r) = rows.next()?
    {
        let log: SessionLog = serde_json::from_str(&r.get::<_, String>(2)?)?;
        ensure!(
            log.session == r.get::<_, i64>(1)? as u64,
            "another session's log"
        );
        got.push(log.session);
    }
    Ok(got)
}

/// The first `take` of `groups`' session logs read through the store as
/// the relay reads a page now; their session ids.
fn first_page_now(s: &mut SqliteStore, group: &str, take: usize) -> anyhow::Result<Vec<u64>> {
    let mut got = Vec::new();
    s.session_scan(None, 0, Some(&[group.to_string()]), None, &mut |at, _| {
        got.push(at.session);
        got.len() < take
    })?;
    Ok(got)
}

/// Times one technician's first page of tickets and of session logs
/// through the relay; then, on connections of their own, the store
/// reading her group's machines as the relay did before each page, and the
/// first page's session query as it was and as it is.
async fn one(stage: &Stage, machines: usize, tech: (&str, &str, &str)) -> anyhow::Result<GroupRow> {
    let (name, group, _) = tech;
    let (tickets, sessions) = of_group(machines, group);
    let mut c = stage.login(name, &password(name)).await?;
    let (mut ticket_pages, mut session_pages) = (Vec::new(), Vec::new());
    let mut page_logs = 0;
    for k in 0..=PAGES_TIMED {
        let t = Instant::now();
        let reply = c
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
            "not {name}'s {tickets} tickets in one page"
        );
        let t = Instant::now();
        let reply = c
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
                && logs
                    .iter()
                    .all(|l| group_of_id(&l.machine_id) == Some(group))
                && next.is_none() == (logs.len() == sessions),
            "{} session logs, not {name}'s newest",
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
        groups: Some(vec![group.into()]),
        ..MachineQuery::default()
    };
    // The store's settings that matter to a sort.
    let db = rusqlite::Connection::open(stage.data.db_path())?;
    db.pragma_update(None, "cache_size", -262_144)?;
    db.pragma_update(None, "temp_store", "MEMORY")?;
    let (mut reads, mut before, mut now) = (Vec::new(), Vec::new(), Vec::new());
    let mut hers = 0;
    for k in 0..=PAGES_TIMED {
        let t = Instant::now();
        let ids: Vec<String> = store.machines(&query)?.into_iter().map(|m| m.id).collect();
        let read = t.elapsed();
        ensure!(
            ids.iter().all(|id| group_of_id(id) == Some(group)),
            "a machine not in {group}"
        );
        hers = ids.len();
        let ids = serde_json::to_string(&ids)?;
        let t = Instant::now();
        let old = first_page_before(&db, &ids, page_logs)?;
        let old_t = t.elapsed();
        let t = Instant::now();
        let new = first_page_now(&mut store, group, page_logs)?;
        let new_t = t.elapsed();
        ensure!(
            old == new && old.len() == page_logs,
            "the two queries' first pages differ"
        );
        if k > 0 {
            reads.push(read);
            before.push(old_t);
            now.push(new_t);
        }
    }
    Ok(GroupRow {
        technician: name.into(),
        group: group.into(),
        machines: hers,
        tickets,
        sessions,
        page_logs,
        ticket_page_ms_p50: quantile_ms(ticket_pages, 0.5),
        session_page_ms_p50: quantile_ms(session_pages, 0.5),
        group_read_ms_p50: quantile_ms(reads, 0.5),
        session_sql_before_ms_p50: quantile_ms(before, 0.5),
        session_sql_now_ms_p50: quantile_ms(now, 0.5),
    })
}

/// Every technician's figures for a fleet of `machines`.
///
/// # Errors
/// Setup failures, a refused request, a page with the wrong rows.
pub async fn run(stage: &Stage, machines: usize) -> anyhow::Result<Vec<GroupRow>> {
    let mut rows = Vec::new();
    for tech in TECHS {
        rows.push(one(stage, machines, tech).await?);
    }
    Ok(rows)
}

/// The technicians' figures as a Markdown table, a row per fleet and
/// technician.
#[must_use]
pub fn markdown(rows: &[(usize, &GroupRow)]) -> String {
    let mut s = format!(
        "\nTechnicians of one group list their tickets ({TICKETS} over the fleet) and session \
         logs ({SESSIONS}): now the store narrows them by her group; before, the relay first \
         read her group's machines on every page, and her machines' ids made SQLite sort all \
         their logs before a page's first\n\n\
         | machines | her group | her machines | her tickets / logs (first page) | tickets \
         page p50 | logs page p50 | store, for a page: before (reading her machines + \
         logs by their ids) | now | ratio |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for (machines, g) in rows {
        let share = TECHS.iter().find(|t| t.1 == g.group).map_or("", |t| t.2);
        s.push_str(&format!(
            "| {machines} | {share} | {} | {} / {} ({}) | {:.2} ms | {:.2} ms | {:.2} + {:.2} ms \
             | {:.2} ms | {:.1}× |\n",
            g.machines,
            g.tickets,
            g.sessions,
            g.page_logs,
            g.ticket_page_ms_p50,
            g.session_page_ms_p50,
            g.group_read_ms_p50,
            g.session_sql_before_ms_p50,
            g.session_sql_now_ms_p50,
            (g.group_read_ms_p50 + g.session_sql_before_ms_p50)
                / g.session_sql_now_ms_p50.max(1e-9),
        ));
    }
    s
}
