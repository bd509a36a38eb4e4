//! `lifeline audit`: the audit log, and checking its chain.

use crate::{
    client::Client,
    render::{Listing, ago},
};
use anyhow::bail;
use lifeline_net::unix_secs;
use lifeline_proto::{
    ConsoleReply, ConsoleRequest, LISTING_PAGES_VERSION, audit::AuditEntry, printable,
};
use std::{io::Write, time::Duration};

/// One entry's line.
pub fn line(now_unix: u64, e: &AuditEntry) -> String {
    let row = format!(
        "{:>6} {:<12} {:<16} {:<22} {:<14} {}",
        e.seq,
        ago(now_unix, e.at_unix),
        e.actor,
        e.action,
        e.target,
        e.details
    );
    printable::row(row) + "\n"
}

/// Lists the entries since a time, optionally of one actor, oldest first,
/// to `out`: a line each, or one JSON array. A relay of version 3 or later
/// sends them in pages, written as they come.
///
/// # Errors
/// Relay refusals, a page that does not move on, write failures.
pub async fn list(
    c: &mut Client,
    since: Duration,
    actor: Option<String>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let paged = c.connected.welcome.protocol_version >= LISTING_PAGES_VERSION;
    let since_unix = unix_secs().saturating_sub(since.as_secs());
    let now = unix_secs();
    let mut listing = Listing::new(out, json, None);
    crate::pages::walk(
        c,
        "the audit log",
        |after| {
            if paged {
                ConsoleRequest::AuditPage {
                    since_unix,
                    actor: actor.clone(),
                    after,
                }
            } else {
                // An older relay answers in one message (up to 8 MiB).
                ConsoleRequest::Audit {
                    since_unix,
                    actor: actor.clone(),
                }
            }
        },
        |reply| match reply {
            ConsoleReply::AuditPage { rows, next } => Ok((rows, next)),
            ConsoleReply::Audit(rows) => Ok((rows, None)),
            other => Err(other),
        },
        // Oldest first.
        |next, after| next > after,
        |rows| {
            for e in &rows {
                listing.push(e, |e| line(now, e))?;
            }
            Ok(())
        },
    )
    .await?;
    Ok(listing.finish("")?)
}

/// Recomputes the audit chain on the relay and says whether it holds.
///
/// # Errors
/// Relay refusals, or a broken chain (named by its first bad entry).
pub async fn verify(c: &mut Client) -> anyhow::Result<()> {
    let reply = c.request(ConsoleRequest::AuditVerify).await?;
    let ConsoleReply::AuditVerified(v) = reply else {
        bail!("unexpected answer: {reply:?}");
    };
    match v.first_broken {
        None => {
            println!("audit log intact: {} entries verified", v.entries);
            Ok(())
        }
        Some((seq, why)) => bail!("audit log broken at entry {seq}: {why}"),
    }
}
