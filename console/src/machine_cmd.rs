//! `lifeline machines`: the fleet, by hostname, a page at a time from a
//! relay of version 5 or later, so that a fleet of any size lists.

use crate::{
    client::Client,
    render::{Listing, NO_MACHINES, machine_line, machines_header},
};
use lifeline_net::unix_secs;
use lifeline_proto::{ConsoleReply, ConsoleRequest, MACHINE_PAGES_VERSION, MachineRow};
use std::{io::Write, time::Duration};

/// A machine as `machines --json` prints it.
pub fn json_row(m: &MachineRow) -> serde_json::Value {
    serde_json::json!({
        "id": m.id,
        "hostname": m.hostname,
        "os": m.os,
        "arch": m.arch,
        "group": m.group,
        "online": m.online,
        "policy": if m.unattended { "unattended" } else { "attended" },
        "revoked": m.revoked,
        "last_seen_unix": m.last_seen_unix,
        "enrolled_unix": m.enrolled_unix,
    })
}

/// Is `m` offline and unheard of since before `cutoff` (unix)?
fn stale_since(m: &MachineRow, cutoff: u64) -> bool {
    !m.online && m.last_seen_unix.is_none_or(|t| t < cutoff)
}

/// Hands `each` every machine the person sees, by hostname then id; with
/// `stale`, only those offline and not heard from for that long. A page at
/// a time from a relay of version 5 or later (which judges staleness by
/// its own clock), in one answer from an older one. A machine renamed
/// while the pages come is listed at its old place or its new one, once,
/// or not at all when its new name was already passed.
///
/// # Errors
/// Relay refusals, a page that does not move on, and `each`'s errors.
pub async fn each_machine(
    c: &mut Client,
    stale: Option<Duration>,
    mut each: impl FnMut(MachineRow) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let paged = c.connected.welcome.protocol_version >= MACHINE_PAGES_VERSION;
    let stale_secs = stale.map(|d| d.as_secs());
    // Only for an older relay, which lists every machine.
    let cutoff = stale_secs.map(|s| unix_secs().saturating_sub(s));
    // A machine renamed while the pages come may be met again at its new
    // place: listed once.
    let mut seen = std::collections::HashSet::new();
    crate::pages::walk(
        c,
        "machines",
        |after| {
            if paged {
                ConsoleRequest::MachinesPage { stale_secs, after }
            } else {
                ConsoleRequest::ListMachines
            }
        },
        |reply| match reply {
            ConsoleReply::MachinesPage { rows, next } => Ok((rows, next)),
            ConsoleReply::Machines(rows) => Ok((rows, None)),
            other => Err(other),
        },
        |next, after| next.follows(after),
        |rows| {
            rows.into_iter()
                .filter(|m| paged || cutoff.is_none_or(|c| stale_since(m, c)))
                .filter(|m| seen.insert(m.id.clone()))
                .try_for_each(&mut each)
        },
    )
    .await
}

/// Lists machines to `out`: a table, or one JSON array, written as the
/// pages come. Answers how many.
///
/// # Errors
/// Relay refusals, a page that does not move on, write failures.
pub async fn list(
    c: &mut Client,
    stale: Option<Duration>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let now = unix_secs();
    let mut listing = Listing::new(out, json, Some(machines_header()));
    each_machine(c, stale, |m| {
        if json {
            listing.push(&json_row(&m), |_| String::new())?;
        } else {
            listing.push(&m, |m| machine_line(m, now))?;
        }
        Ok(())
    })
    .await?;
    let empty = match stale {
        Some(d) => format!(
            "(no machine offline for {} or longer)\n",
            crate::cli::format_duration(d)
        ),
        None => NO_MACHINES.to_string(),
    };
    Ok(listing.finish(&empty)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(online: bool, seen: Option<u64>) -> MachineRow {
        MachineRow {
            id: "m-1".into(),
            hostname: "pc-1".into(),
            os: "Linux".into(),
            arch: "x86_64".into(),
            group: None,
            online,
            last_seen_unix: seen,
            enrolled_unix: 1,
            unattended: false,
            revoked: false,
        }
    }

    #[test]
    fn stale_means_offline_and_unheard_of() {
        assert!(stale_since(&machine(false, Some(99)), 100));
        assert!(stale_since(&machine(false, None), 100));
        assert!(!stale_since(&machine(false, Some(100)), 100));
        assert!(!stale_since(&machine(true, Some(1)), 100));
    }
}
