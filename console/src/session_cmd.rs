//! `lifeline session show ID` and `lifeline sessions`: session logs.

use crate::{client::Client, render::ago};
use anyhow::bail;
use lifeline_net::unix_secs;
use lifeline_proto::{ConsoleReply, ConsoleRequest, session_log::SessionLog};
use std::{fmt::Write as _, time::Duration};

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
        println!("{}", serde_json::to_string_pretty(&log)?);
    } else {
        print!("{}", log.render());
    }
    Ok(())
}

/// The `sessions` table.
pub fn table(logs: &[SessionLog]) -> String {
    let now = unix_secs();
    let mut s = format!(
        "{:>16} {:<12} {:<16} {:<7} {:>7} {:>6} {:<12} {}\n",
        "SESSION", "TECHNICIAN", "MACHINE", "KIND", "SECONDS", "TICKET", "ENDED", "HOW"
    );
    for l in logs {
        let _ = writeln!(
            s,
            "{:>16} {:<12} {:<16} {:<7} {:>7} {:>6} {:<12} {}",
            l.session,
            l.technician,
            l.hostname,
            l.purpose,
            l.duration_s,
            l.ticket.map_or_else(|| "-".into(), |t| format!("#{t}")),
            ago(now, l.ended_unix),
            l.ended
        );
    }
    if logs.is_empty() {
        s.push_str("(no sessions)\n");
    }
    s
}

/// Lists session logs.
///
/// # Errors
/// Relay refusals.
pub async fn list(
    c: &mut Client,
    machine: Option<String>,
    since: Duration,
    json: bool,
) -> anyhow::Result<()> {
    let reply = c
        .request(ConsoleRequest::Sessions {
            machine,
            since_unix: unix_secs().saturating_sub(since.as_secs()),
        })
        .await?;
    let ConsoleReply::Sessions(logs) = reply else {
        bail!("unexpected answer {reply:?}");
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&logs)?);
    } else {
        print!("{}", table(&logs));
    }
    Ok(())
}
