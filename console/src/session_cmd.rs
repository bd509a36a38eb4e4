//! `lifeline session show ID` and `lifeline sessions`: session logs.

use crate::{
    client::Client,
    render::{Listing, ago},
};
use anyhow::bail;
use lifeline_net::unix_secs;
use lifeline_proto::{
    ConsoleReply, ConsoleRequest, LISTING_PAGES_VERSION, printable, session_log::SessionLog,
};
use std::{io::Write, time::Duration};

/// Prints one session's log.
///
/// # Errors
/// Relay refusals (unknown or invisible session).
pub async fn show(c: &mut Client, id: u64, json: bool) -> anyhow::Result<()> {
    let reply = c
        .request(ConsoleRequest::SessionShow { session: id })
        .await?;
    let ConsoleReply::Session(log) = reply else {
        bail!("unexpected answer {reply:?}");
    };
    if json {
        println!("{}", crate::render::json(&log)?);
    } else {
        print!("{}", log.render());
    }
    Ok(())
}

/// The `sessions` table's header line.
pub fn table_header() -> String {
    format!(
        "{:>16} {:<12} {:<16} {:<7} {:>7} {:>6} {:<12} {}\n",
        "SESSION", "TECHNICIAN", "MACHINE", "KIND", "SECONDS", "TICKET", "ENDED", "HOW"
    )
}

/// One log's line in the `sessions` table.
pub fn table_row(now_unix: u64, l: &SessionLog) -> String {
    let row = format!(
        "{:>16} {:<12} {:<16} {:<7} {:>7} {:>6} {:<12} {}",
        l.session,
        l.technician,
        l.hostname,
        l.purpose,
        l.duration_s,
        l.ticket.map_or_else(|| "-".into(), |t| format!("#{t}")),
        ago(now_unix, l.ended_unix),
        l.ended
    );
    printable::row(row) + "\n"
}

/// Lists session logs, newest first, to `out`: a table, or one JSON array.
/// A relay of version 3 or later sends them in pages, written as they come.
///
/// # Errors
/// Relay refusals, a page that does not move on, write failures.
pub async fn list(
    c: &mut Client,
    machine: Option<String>,
    since: Duration,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let paged = c.connected.welcome.protocol_version >= LISTING_PAGES_VERSION;
    let since_unix = unix_secs().saturating_sub(since.as_secs());
    let now = unix_secs();
    let mut listing = Listing::new(out, json, Some(table_header()));
    crate::pages::walk(
        c,
        "sessions",
        |after| {
            if paged {
                ConsoleRequest::SessionsPage {
                    machine: machine.clone(),
                    since_unix,
                    after,
                }
            } else {
                // An older relay answers in one message (up to 8 MiB).
                ConsoleRequest::Sessions {
                    machine: machine.clone(),
                    since_unix,
                }
            }
        },
        |reply| match reply {
            ConsoleReply::SessionsPage { logs, next } => Ok((logs, next)),
            ConsoleReply::Sessions(logs) => Ok((logs, None)),
            other => Err(other),
        },
        // Newest first: each page starts further back.
        |next, after| next < after,
        |logs| {
            for l in &logs {
                listing.push(l, |l| table_row(now, l))?;
            }
            Ok(())
        },
    )
    .await?;
    Ok(listing.finish("(no sessions)\n")?)
}
