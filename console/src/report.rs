//! `lifeline report tickets`: how the help desk is doing, from the tickets
//! and their timelines.

use lifeline_proto::{ConsoleReply, ConsoleRequest, printable, ticket::TicketDetail};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The figures of a ticket report.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct TicketReport {
    pub since_unix: u64,
    pub tickets: usize,
    pub by_status: BTreeMap<String, usize>,
    pub by_tier: BTreeMap<String, usize>,
    pub by_priority: BTreeMap<String, usize>,
    /// Seconds from creation to the first action by someone other than the
    /// requester; `None` when no ticket had one.
    pub first_response_mean_s: Option<f64>,
    pub first_response_p90_s: Option<f64>,
    /// Seconds from creation to "resolved" (or "closed" if never resolved).
    pub resolve_mean_s: Option<f64>,
    pub resolve_p90_s: Option<f64>,
    /// Share of tickets escalated at least once.
    pub escalation_rate: f64,
    /// (hostname, tickets), most first, at most 5.
    pub top_machines: Vec<(String, usize)>,
    /// (word, tickets using it), most first, at most 10.
    pub top_words: Vec<(String, usize)>,
}

/// Words too common to say anything about a problem.
const STOP_WORDS: &[&str] = &[
    "about", "after", "again", "cannot", "could", "does", "doesn't", "from", "have", "help",
    "into", "just", "more", "please", "since", "some", "that", "the", "them", "then", "there",
    "this", "when", "with", "work", "would", "your",
];

fn mean(v: &[u64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<u64>() as f64 / v.len() as f64)
}

fn p90(v: &[u64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let rank = ((0.9 * s.len() as f64).ceil() as usize).clamp(1, s.len());
    Some(s[rank - 1] as f64)
}

fn top(counts: BTreeMap<String, usize>, n: usize) -> Vec<(String, usize)> {
    let mut v: Vec<_> = counts.into_iter().collect();
    // Most first; ties alphabetically, so the report is stable.
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// Builds the report over `tickets` created at or after `since_unix`.
#[must_use]
pub fn build(tickets: &[TicketDetail], since_unix: u64) -> TicketReport {
    let mut r = TicketReport {
        since_unix,
        ..TicketReport::default()
    };
    let mut first_response = Vec::new();
    let mut resolve = Vec::new();
    let mut escalated = 0usize;
    let mut machines = BTreeMap::new();
    let mut words = BTreeMap::new();
    for t in tickets.iter().filter(|t| t.row.created_unix >= since_unix) {
        let row = &t.row;
        r.tickets += 1;
        *r.by_status.entry(row.status.clone()).or_default() += 1;
        *r.by_tier.entry(format!("L{}", row.tier)).or_default() += 1;
        *r.by_priority.entry(row.priority.clone()).or_default() += 1;
        *machines.entry(row.hostname.clone()).or_default() += 1;
        let since = |at: u64| at.saturating_sub(row.created_unix);
        if let Some(e) = t.events.iter().find(|e| {
            e.actor != row.requester && !matches!(e.kind.as_str(), "created" | "attachment")
        }) {
            first_response.push(since(e.at_unix));
        }
        let done = |to: &str| {
            t.events
                .iter()
                .find(|e| e.kind == "status" && e.text.ends_with(&format!("→ {to}")))
        };
        if let Some(e) = done("resolved").or_else(|| done("closed")) {
            resolve.push(since(e.at_unix));
        }
        if t.events.iter().any(|e| e.kind == "escalated") {
            escalated += 1;
        }
        let mut seen = std::collections::BTreeSet::new();
        for w in format!("{} {}", row.title, t.description)
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .map(str::to_lowercase)
            .filter(|w| w.chars().count() >= 4 && !STOP_WORDS.contains(&w.as_str()))
        {
            seen.insert(w);
        }
        for w in seen {
            *words.entry(w).or_default() += 1;
        }
    }
    r.first_response_mean_s = mean(&first_response);
    r.first_response_p90_s = p90(&first_response);
    r.resolve_mean_s = mean(&resolve);
    r.resolve_p90_s = p90(&resolve);
    r.escalation_rate = if r.tickets == 0 {
        0.0
    } else {
        escalated as f64 / r.tickets as f64
    };
    r.top_machines = top(machines, 5);
    r.top_words = top(words, 10);
    r
}

fn duration(s: Option<f64>) -> String {
    match s {
        None => "–".into(),
        Some(s) if s < 120.0 => format!("{s:.0} s"),
        Some(s) if s < 7200.0 => format!("{:.0} min", s / 60.0),
        Some(s) if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        Some(s) => format!("{:.1} d", s / 86400.0),
    }
}

/// A name from a ticket on one printable line: tickets stored before the
/// relay cleaned their text may hold control characters.
fn shown(k: &str) -> String {
    printable::row(k.to_string())
}

fn join(m: &BTreeMap<String, usize>) -> String {
    m.iter()
        .map(|(k, v)| format!("{} {v}", shown(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The report as Markdown.
#[must_use]
pub fn markdown(r: &TicketReport) -> String {
    let pairs = |v: &[(String, usize)]| {
        v.iter()
            .map(|(k, n)| format!("{} ({n})", shown(k)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "| measure | value |\n|---|---|\n\
         | tickets | {} |\n\
         | by status | {} |\n\
         | by tier | {} |\n\
         | by priority | {} |\n\
         | first response, mean / p90 | {} / {} |\n\
         | time to resolve, mean / p90 | {} / {} |\n\
         | escalation rate | {:.0}% |\n\
         | top machines | {} |\n\
         | common words | {} |\n",
        r.tickets,
        join(&r.by_status),
        join(&r.by_tier),
        join(&r.by_priority),
        duration(r.first_response_mean_s),
        duration(r.first_response_p90_s),
        duration(r.resolve_mean_s),
        duration(r.resolve_p90_s),
        r.escalation_rate * 100.0,
        pairs(&r.top_machines),
        pairs(&r.top_words),
    )
}

/// The report as CSV: `section,key,value` rows.
#[must_use]
pub fn csv(r: &TicketReport) -> String {
    let quote = |s: &str| {
        let s = shown(s);
        if s.contains([',', '"']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::from("section,key,value\n");
    out.push_str(&format!("total,tickets,{}\n", r.tickets));
    for (section, m) in [
        ("status", &r.by_status),
        ("tier", &r.by_tier),
        ("priority", &r.by_priority),
    ] {
        for (k, v) in m {
            out.push_str(&format!("{section},{},{v}\n", quote(k)));
        }
    }
    let secs = |v: Option<f64>| v.map_or(String::new(), |s| format!("{s:.0}"));
    out.push_str(&format!(
        "first_response_s,mean,{}\n",
        secs(r.first_response_mean_s)
    ));
    out.push_str(&format!(
        "first_response_s,p90,{}\n",
        secs(r.first_response_p90_s)
    ));
    out.push_str(&format!("resolve_s,mean,{}\n", secs(r.resolve_mean_s)));
    out.push_str(&format!("resolve_s,p90,{}\n", secs(r.resolve_p90_s)));
    out.push_str(&format!("escalation,rate,{:.3}\n", r.escalation_rate));
    for (k, v) in &r.top_machines {
        out.push_str(&format!("machine,{},{v}\n", quote(k)));
    }
    for (k, v) in &r.top_words {
        out.push_str(&format!("word,{},{v}\n", quote(k)));
    }
    out
}

/// Ticket timelines asked for at once by [`fetch`].
pub const DETAILS_IN_FLIGHT: usize = 32;

/// Fetches the tickets created within `since` with their timelines and
/// builds the report.
///
/// # Errors
/// A lost connection or a refusal (auditors and admins see every ticket).
pub async fn fetch(
    c: &mut crate::client::Client,
    since: Duration,
) -> anyhow::Result<crate::report::TicketReport> {
    let since_unix = lifeline_net::unix_secs().saturating_sub(since.as_secs());
    // Only the period's tickets leave the relay, a page at a time.
    let filter = crate::ticket_cmd::TicketFilter {
        created_since: since_unix,
        ..Default::default()
    };
    let mut rows = Vec::new();
    crate::ticket_cmd::each_ticket(c, &filter, |t| {
        rows.push(t);
        Ok(())
    })
    .await?;
    // Many at once: over a long path a request each would wait a round
    // trip each.
    let asks = rows
        .iter()
        .map(|r| ConsoleRequest::TicketShow { ticket: r.id })
        .collect();
    let mut details = Vec::new();
    for reply in c.requests(asks, DETAILS_IN_FLIGHT).await? {
        match reply {
            ConsoleReply::Ticket(d) => details.push(*d),
            other => anyhow::bail!("unexpected answer: {other:?}"),
        }
    }
    Ok(crate::report::build(&details, since_unix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeline_proto::ticket::{TicketEvent, TicketRow};

    fn ticket(
        id: u64,
        host: &str,
        title: &str,
        events: &[(u64, &str, &str, &str)],
    ) -> TicketDetail {
        TicketDetail {
            row: TicketRow {
                id,
                machine_id: format!("m{id}"),
                hostname: host.into(),
                requester: "user".into(),
                title: title.into(),
                status: "resolved".into(),
                priority: "normal".into(),
                tier: 1,
                assignee: None,
                created_unix: 1000,
                updated_unix: 1000,
            },
            description: String::new(),
            events: events
                .iter()
                .map(|(at, actor, kind, text)| TicketEvent {
                    at_unix: *at,
                    actor: (*actor).into(),
                    kind: (*kind).into(),
                    text: (*text).into(),
                })
                .collect(),
            attachments: Vec::new(),
            sessions: Vec::new(),
        }
    }

    #[test]
    fn response_resolve_escalation_machines_and_words() {
        let tickets = [
            ticket(
                1,
                "pc-1",
                "Printer does not print",
                &[
                    (1000, "user", "created", ""),
                    (1000, "user", "attachment", "inventory"),
                    (1060, "tom", "assigned", "assigned to tom"),
                    (1600, "tom", "status", "open → resolved"),
                ],
            ),
            ticket(
                2,
                "pc-1",
                "printer jammed",
                &[
                    (1000, "user", "created", ""),
                    (1300, "tom", "escalated", "L1 → L2"),
                    (4600, "ann", "status", "pending → closed"),
                ],
            ),
            ticket(3, "pc-2", "VPN down", &[(1000, "user", "created", "")]),
        ];
        let r = build(&tickets, 0);
        assert_eq!(r.tickets, 3);
        assert_eq!(r.first_response_mean_s, Some(180.0)); // 60 and 300
        assert_eq!(r.first_response_p90_s, Some(300.0));
        assert_eq!(r.resolve_mean_s, Some(2100.0)); // 600 and 3600
        assert!((r.escalation_rate - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(r.top_machines[0], ("pc-1".to_string(), 2));
        assert_eq!(r.top_words[0], ("printer".to_string(), 2));
        let md = markdown(&r);
        assert!(
            md.contains("| first response, mean / p90 | 3 min / 5 min |"),
            "{md}"
        );
        assert!(md.contains("| escalation rate | 33% |"), "{md}");
        let csv = csv(&r);
        assert!(csv.contains("\nmachine,pc-1,2\n"), "{csv}");
        // A hostname stored before the relay cleaned it cannot write to
        // the terminal, nor start a row of its own.
        let old = vec![ticket(
            4,
            "pc\u{1b}[2J\nx",
            "printer jam",
            &[(1000, "user", "created", "")],
        )];
        let r = build(&old, 0);
        let (md, csv) = (markdown(&r), super::csv(&r));
        assert!(
            md.contains("| top machines | pc\u{fffd}[2J\u{fffd}x (1) |"),
            "{md}"
        );
        assert!(
            csv.contains("\nmachine,pc\u{fffd}[2J\u{fffd}x,1\n"),
            "{csv}"
        );
        // Tickets before the window are left out.
        assert_eq!(build(&tickets, 1001).tickets, 0);
    }
}
