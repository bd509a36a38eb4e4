//! `lifeline tickets` and `lifeline ticket …`: the help-desk queue.

use crate::{
    client::Client,
    render::{Listing, ago},
};
use anyhow::bail;
use clap::Subcommand;
use lifeline_net::unix_secs;
use lifeline_proto::{
    ConsoleReply, ConsoleRequest, TICKET_PAGES_VERSION, printable,
    ticket::{TicketChange, TicketDetail, TicketRow},
};
use std::{fmt::Write as _, io::Write};

#[derive(Debug, Subcommand)]
pub enum TicketCommand {
    /// One ticket: description, timeline, attachments, sessions.
    Show {
        id: u64,
        #[arg(long)]
        json: bool,
    },
    /// Give a ticket to a technician.
    Assign { id: u64, user: String },
    /// Move a ticket to the next tier (L1 → L2 → L3); the assignee is cleared.
    Escalate {
        id: u64,
        /// Why, for the next tier.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Add a comment to the timeline.
    Comment { id: u64, text: String },
    /// Mark as waiting for the user.
    Pending { id: u64 },
    /// Mark as resolved.
    Resolve { id: u64 },
    /// Close.
    Close { id: u64 },
}

/// The `tickets` table's header line.
pub fn table_header() -> String {
    format!(
        "{:>5} {:<9} {:<3} {:<7} {:<16} {:<12} {:<12} {}\n",
        "#", "STATUS", "L", "PRIO", "MACHINE", "ASSIGNEE", "UPDATED", "TITLE"
    )
}

/// One ticket's line in the `tickets` table.
pub fn table_row(now_unix: u64, t: &TicketRow) -> String {
    let row = format!(
        "{:>5} {:<9} L{:<2} {:<7} {:<16} {:<12} {:<12} {}",
        t.id,
        t.status,
        t.tier,
        t.priority,
        t.hostname,
        t.assignee.as_deref().unwrap_or("-"),
        ago(now_unix, t.updated_unix),
        t.title
    );
    printable::row(row) + "\n"
}

/// A ticket as `tickets --json` prints it.
fn json_row(t: &TicketRow) -> serde_json::Value {
    serde_json::json!({"id": t.id, "machine_id": t.machine_id, "hostname": t.hostname,
        "requester": t.requester, "title": t.title, "status": t.status, "priority": t.priority,
        "tier": t.tier, "assignee": t.assignee, "created_unix": t.created_unix,
        "updated_unix": t.updated_unix})
}

/// Which tickets to list; `None` and 0 ask for any.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Only those assigned to me.
    pub mine: bool,
    pub status: Option<String>,
    pub tier: Option<u8>,
    /// Only those opened at or after this time.
    pub created_since: u64,
}

/// Hands `each` every ticket matching `f`, newest first: a page at a time
/// from a relay of version 4 or later, in one answer from an older one.
///
/// # Errors
/// Relay refusals, a page that does not move on, and `each`'s errors.
pub async fn each_ticket(
    c: &mut Client,
    f: &TicketFilter,
    mut each: impl FnMut(TicketRow) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let paged = c.connected.welcome.protocol_version >= TICKET_PAGES_VERSION;
    crate::pages::walk(
        c,
        "tickets",
        |after| {
            if paged {
                ConsoleRequest::TicketsPage {
                    mine: f.mine,
                    status: f.status.clone(),
                    tier: f.tier,
                    created_since: f.created_since,
                    after,
                }
            } else {
                // An older relay answers in one message (up to 8 MiB).
                ConsoleRequest::Tickets {
                    mine: f.mine,
                    status: f.status.clone(),
                    tier: f.tier,
                }
            }
        },
        |reply| match reply {
            ConsoleReply::TicketsPage { rows, next } => Ok((rows, next)),
            ConsoleReply::Tickets(rows) => Ok((rows, None)),
            other => Err(other),
        },
        // Newest first: each page starts further down.
        |next, after| next < after,
        |rows| {
            // An older relay does not know `created_since`.
            rows.into_iter()
                .filter(|t| t.created_unix >= f.created_since)
                .try_for_each(&mut each)
        },
    )
    .await
}

/// Lists tickets, newest first, to `out`: a table, or one JSON array,
/// written as the pages come. Answers how many.
///
/// # Errors
/// Relay refusals, a page that does not move on, write failures.
pub async fn list(
    c: &mut Client,
    f: &TicketFilter,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let now = unix_secs();
    let mut listing = Listing::new(out, json, Some(table_header()));
    each_ticket(c, f, |t| {
        if json {
            listing.push(&json_row(&t), |_| String::new())?;
        } else {
            listing.push(&t, |t| table_row(now, t))?;
        }
        Ok(())
    })
    .await?;
    Ok(listing.finish("(no tickets)\n")?)
}

/// The readable `ticket show`.
pub fn show(d: &TicketDetail) -> String {
    let t = &d.row;
    let now = unix_secs();
    let mut s = format!(
        "ticket {}: {}\n  machine   {} ({})\n  from      {}\n  status    {}, L{}, {} priority, assigned to {}\n  opened    {}\n\n{}\n\nTimeline\n",
        t.id,
        t.title,
        t.hostname,
        t.machine_id,
        t.requester,
        t.status,
        t.tier,
        t.priority,
        t.assignee.as_deref().unwrap_or("nobody"),
        ago(now, t.created_unix),
        d.description
    );
    for e in &d.events {
        // A comment of several lines stays under its own.
        let _ = writeln!(
            s,
            "  {:<12} {:<12} {:<10} {}",
            ago(now, e.at_unix),
            e.actor,
            e.kind,
            printable::indented(&e.text, &" ".repeat(39))
        );
    }
    if !d.attachments.is_empty() {
        s.push_str("\nAttachments\n");
        for (kind, name, bytes) in &d.attachments {
            let _ = writeln!(s, "  {kind:<12} {name} ({bytes} bytes)");
        }
    }
    if !d.sessions.is_empty() {
        s.push_str("\nSessions (lifeline session show ID)\n");
        for (_, summary) in &d.sessions {
            let _ = writeln!(s, "  {summary}");
        }
    }
    // Stored text (a ticket opened before the relay cleaned it, too).
    printable::text(s)
}

/// One line of `tickets --watch`.
pub fn news_line(n: &lifeline_proto::ticket::TicketNews) -> String {
    let t = &n.ticket;
    printable::row(format!(
        "#{} {} by {}: {} [{}, L{}, {}, {}] {}",
        t.id,
        n.event,
        n.actor,
        n.text,
        t.status,
        t.tier,
        t.priority,
        t.assignee.as_deref().unwrap_or("unassigned"),
        t.title
    ))
}

/// Prints ticket news as it happens, for `watch_for` or until interrupted.
///
/// # Errors
/// A lost connection.
pub async fn watch(c: &mut Client, watch_for: Option<std::time::Duration>) -> anyhow::Result<()> {
    c.request(ConsoleRequest::WatchTickets).await?;
    println!("watching tickets (Ctrl+C to stop)");
    let deadline = watch_for.map(|d| tokio::time::Instant::now() + d);
    loop {
        let ev = match deadline {
            Some(d) => match tokio::time::timeout_at(d, c.next_event()).await {
                Ok(e) => e?,
                Err(_) => return Ok(()),
            },
            None => tokio::select! {
                e = c.next_event() => e?,
                _ = tokio::signal::ctrl_c() => return Ok(()),
            },
        };
        if let lifeline_proto::ConsoleEvent::TicketChanged(n) = ev {
            println!("{}", news_line(&n));
            let _ = std::io::stdout().flush();
        }
    }
}

/// Runs a `ticket` subcommand.
///
/// # Errors
/// Relay refusals (unknown ticket, workflow rule, role).
pub async fn run(c: &mut Client, cmd: TicketCommand) -> anyhow::Result<()> {
    let (id, change) = match cmd {
        TicketCommand::Show { id, json } => {
            let reply = c.request(ConsoleRequest::TicketShow { ticket: id }).await?;
            let ConsoleReply::Ticket(d) = reply else {
                bail!("unexpected answer {reply:?}");
            };
            if json {
                let events: Vec<_> = d.events.iter().map(|e| serde_json::json!({"at_unix": e.at_unix, "actor": e.actor, "kind": e.kind, "text": e.text})).collect();
                let attachments: Vec<_> = d
                    .attachments
                    .iter()
                    .map(|(k, n, b)| serde_json::json!({"kind": k, "name": n, "bytes": b}))
                    .collect();
                let t = &d.row;
                println!(
                    "{}",
                    crate::render::json(&serde_json::json!({
                        "id": t.id, "machine_id": t.machine_id, "hostname": t.hostname, "requester": t.requester,
                        "title": t.title, "description": d.description, "status": t.status, "priority": t.priority,
                        "tier": t.tier, "assignee": t.assignee, "events": events, "attachments": attachments,
                        "sessions": d.sessions.iter().map(|(id, summary)| serde_json::json!({"session": id, "summary": summary})).collect::<Vec<_>>(),
                    }))?
                );
            } else {
                print!("{}", show(&d));
            }
            return Ok(());
        }
        TicketCommand::Assign { id, user } => (id, TicketChange::Assign { user }),
        TicketCommand::Escalate { id, reason } => (id, TicketChange::Escalate { reason }),
        TicketCommand::Comment { id, text } => (id, TicketChange::Comment { text }),
        TicketCommand::Pending { id } => (
            id,
            TicketChange::Status {
                status: "pending".into(),
            },
        ),
        TicketCommand::Resolve { id } => (
            id,
            TicketChange::Status {
                status: "resolved".into(),
            },
        ),
        TicketCommand::Close { id } => (
            id,
            TicketChange::Status {
                status: "closed".into(),
            },
        ),
    };
    let what = format!("{change:?}");
    c.request(ConsoleRequest::TicketUpdate { ticket: id, change })
        .await?;
    println!("ticket {id}: {}", what.to_lowercase());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeline_proto::{
        chat::ChatMsg,
        ticket::{TicketEvent, TicketNews},
    };

    /// A ticket as a relay stored it before it cleaned text, or as an older
    /// or hostile relay sends it.
    fn raw() -> TicketDetail {
        TicketDetail {
            row: TicketRow {
                id: 7,
                machine_id: "m-1".into(),
                hostname: "pc\u{1b}[2J".into(),
                requester: "jane\u{7}".into(),
                title: "printer\u{1b}]0;owned\u{7}".into(),
                status: "new".into(),
                priority: "high".into(),
                tier: 1,
                assignee: Some("tom\u{9b}1m".into()),
                created_unix: 0,
                updated_unix: 0,
            },
            description: "line one\r\nline\u{1b}[1A two".into(),
            events: vec![TicketEvent {
                at_unix: 0,
                actor: "tom".into(),
                kind: "comment".into(),
                text: "fine\n  0 s ago      admin        status     closed\u{1b}[K".into(),
            }],
            attachments: vec![],
            sessions: vec![(1, "session 1 \u{1b}[31m".into())],
        }
    }

    #[test]
    fn stored_text_is_printed_printable_and_in_its_place() {
        let d = raw();
        let news = TicketNews {
            event: "ticket.commented".into(),
            actor: "tom\u{1b}".into(),
            text: "x\ny".into(),
            at_unix: 0,
            ticket: d.row.clone(),
        };
        for printed in [table_row(0, &d.row), show(&d), news_line(&news)] {
            assert!(printable::is_text(&printed), "{printed:?}");
        }
        let row = table_row(0, &d.row);
        assert!(row.contains("printer\u{FFFD}]0;owned\u{FFFD}\n"), "{row:?}");
        assert_eq!(row.matches('\n').count(), 1, "{row:?}");
        assert_eq!(news_line(&news).matches('\n').count(), 0);
        // A comment cannot pose as a line of the timeline.
        let shown = show(&d);
        assert!(
            shown.contains(&format!("fine\n{}  0 s ago", " ".repeat(39))),
            "{shown}"
        );
        // Chat from the machine, shown by `lifeline chat`.
        let chat = crate::chat_cmd::shown(&ChatMsg::Text {
            from: "jane\u{1b}".into(),
            text: "ok\ntom: type your password\u{7}".into(),
        })
        .unwrap();
        assert_eq!(chat, "jane\u{FFFD}: ok\n  tom: type your password\u{FFFD}");
    }
}
