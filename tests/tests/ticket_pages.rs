//! `lifeline tickets` and `lifeline report tickets` at help-desk scale:
//! years of tickets do not fit in the 8 MiB a message carries; the queue
//! leaves the relay whole, a page at a time, newest first, each person
//! seeing the tickets of the machines they see, and a report reads only
//! its period's tickets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline::{
    client::Client,
    ticket_cmd::{self, TicketFilter},
};
use lifeline_net::unix_secs;
use lifeline_proto::{
    ConsoleReply, ConsoleRequest, MAX_FRAME_LEN,
    ticket::{HelpRequest, TicketChange, TicketRow},
};
use lifeline_relay::store::{SqliteStore, TicketStore};
use lifeline_tests::stage::Stage;
use serde_json::Value;
use std::time::Duration;

/// Tickets stored before the relay starts, ten minutes apart (about nine
/// months), alternately on a finance and an ops machine: about 10 MB.
const TICKETS: u64 = 40_000;
const APART_S: u64 = 600;
const TECH: &str = "tina";
const TECH_PW: &str = "tina-password";

/// Ticket `id`'s title: 80 two-byte letters and its number (the store
/// keeps the first 80 characters of the first line).
fn text(id: u64) -> String {
    format!("{id:05} ") + &"é".repeat(90) + "\nthe rest of the request"
}

fn title(id: u64) -> String {
    let full = format!("{id:05} ") + &"é".repeat(90);
    full.chars().take(80).collect::<String>() + "…"
}

fn created(now: u64, id: u64) -> u64 {
    now - (TICKETS - id) * APART_S
}

/// Two machines, one in the technician's group, and the tickets: every
/// seventh resolved, every 200th (all on finance) assigned to her.
fn populate(s: &mut SqliteStore, now: u64) -> anyhow::Result<()> {
    s.bulk_load_mode()?;
    lifeline_tests::stage::two_groups(s, TECH, TECH_PW)?;
    for id in 1..=TICKETS {
        let machine = if id % 2 == 0 { "finance" } else { "ops" };
        let req = HelpRequest {
            requester: "user".into(),
            text: text(id),
            priority: "normal".into(),
            screenshot_png: vec![],
        };
        let at = created(now, id);
        assert_eq!(
            s.create_ticket(&format!("{machine}-machine"), &req, at)?,
            id
        );
        if id % 7 == 0 {
            let resolve = TicketChange::Status {
                status: "resolved".into(),
            };
            s.update_ticket(id, "admin", &resolve, at + 60).unwrap();
        }
        if id % 200 == 0 {
            let assign = TicketChange::Assign { user: TECH.into() };
            s.update_ticket(id, "admin", &assign, at + 60).unwrap();
        }
    }
    Ok(())
}

async fn listing(c: &mut Client, f: &TicketFilter, json: bool) -> String {
    let mut out = Vec::new();
    let n = ticket_cmd::list(c, f, json, &mut out).await.unwrap();
    lifeline_tests::listed(out, n, json)
}

fn ids(json: &str) -> Vec<u64> {
    let rows: Vec<Value> = serde_json::from_str(json).unwrap();
    rows.iter().map(|r| r["id"].as_u64().unwrap()).collect()
}

/// Walks the tickets a page at a time by hand; answers the pages.
async fn pages(c: &mut Client) -> Vec<(Vec<TicketRow>, Option<u64>)> {
    let (mut after, mut all) = (None, Vec::new());
    loop {
        let reply = c
            .request(ConsoleRequest::TicketsPage {
                mine: false,
                status: None,
                tier: None,
                created_since: 0,
                after,
            })
            .await
            .unwrap();
        let ConsoleReply::TicketsPage { rows, next } = reply else {
            panic!("not a page");
        };
        after = next;
        all.push((rows, next));
        if next.is_none() {
            return all;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_queue_larger_than_a_message_comes_in_pages() {
    let now = unix_secs();
    let mut stage = Stage::start_with(None, |s| populate(s, now)).await.unwrap();
    let admin = &mut stage.admin;

    // In one answer the queue does not fit, and the relay says so and how
    // to ask for less.
    let one = admin
        .request(ConsoleRequest::Tickets {
            mine: false,
            status: None,
            tier: None,
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(
        one.contains("more than the 8 MiB a message carries")
            && one.contains("--status")
            && one.contains("protocol version 4 or later, which lists in pages"),
        "{one}"
    );

    // In pages it comes whole, newest first, each ticket once, byte for
    // byte the pretty array of its rows.
    let json = listing(admin, &TicketFilter::default(), true).await;
    assert!(json.len() > MAX_FRAME_LEN, "{} bytes", json.len());
    assert_eq!(ids(&json), (1..=TICKETS).rev().collect::<Vec<_>>());
    let rows: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(json, serde_json::to_string_pretty(&rows).unwrap() + "\n");
    for r in [&rows[0], &rows[12_345], &rows[TICKETS as usize - 1]] {
        let id = r["id"].as_u64().unwrap();
        assert_eq!(r["title"], title(id), "ticket {id}");
        assert_eq!(r["created_unix"], created(now, id), "ticket {id}");
        let host = if id % 2 == 0 { "finance-pc" } else { "ops-pc" };
        assert_eq!(r["hostname"], host, "ticket {id}");
    }

    // Walked by hand: several pages, each within a message and starting
    // below the last one's end, which it names.
    let walked = pages(admin).await;
    assert!(walked.len() >= 3, "{} pages", walked.len());
    let mut expect = TICKETS;
    for (rows, next) in &walked {
        assert!(lifeline_proto::encoded_len(rows) < MAX_FRAME_LEN);
        for t in rows {
            assert_eq!(t.id, expect);
            expect -= 1;
        }
        assert_eq!(*next, next.and(rows.last().map(|t| t.id)));
    }
    assert_eq!(expect, 0);

    // The table: a header, then a line a ticket, newest first.
    let table = listing(admin, &TicketFilter::default(), false).await;
    let mut lines = table.lines();
    assert!(lines.next().unwrap().trim_start().starts_with("# STATUS"));
    let first = lines.next().unwrap();
    // The newest, assigned to her (every 200th is), is open.
    assert!(
        first.trim_start().starts_with(&format!("{TICKETS} open")),
        "{first}"
    );
    assert!(first.contains(" tina "), "{first}");
    assert!(first.ends_with(&title(TICKETS)), "{first}");

    // Filtered, fewer: the resolved ones, in pages and (for consoles
    // before pages) in one answer, the same rows.
    let resolved = TicketFilter {
        status: Some("resolved".into()),
        ..TicketFilter::default()
    };
    let got = ids(&listing(admin, &resolved, true).await);
    let want: Vec<u64> = (1..=TICKETS).rev().filter(|id| id % 7 == 0).collect();
    assert_eq!(got, want);
    let one = admin
        .request(ConsoleRequest::Tickets {
            mine: false,
            status: Some("resolved".into()),
            tier: None,
        })
        .await
        .unwrap();
    let ConsoleReply::Tickets(one) = one else {
        panic!("not a listing");
    };
    assert_eq!(one.iter().map(|t| t.id).collect::<Vec<_>>(), want);
    assert!(one.iter().all(|t| t.status == "resolved"));

    // Filters that name nothing are refused, saying what there is.
    let bad = TicketFilter {
        status: Some("solved".into()),
        ..TicketFilter::default()
    };
    let e = ticket_cmd::list(admin, &bad, false, &mut Vec::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no ticket status \"solved\"") && e.contains("resolved, closed"),
        "{e}"
    );
    let bad = TicketFilter {
        tier: Some(4),
        ..TicketFilter::default()
    };
    let e = ticket_cmd::list(admin, &bad, false, &mut Vec::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("tier 1, 2 or 3"), "{e}");

    // A period's tickets leave the relay alone: one page, the last day's.
    let since = now - 86_400;
    let reply = admin
        .request(ConsoleRequest::TicketsPage {
            mine: false,
            status: None,
            tier: None,
            created_since: since,
            after: None,
        })
        .await
        .unwrap();
    let ConsoleReply::TicketsPage { rows, next: None } = reply else {
        panic!("not one page: {reply:.200?}");
    };
    let first_of_day = TICKETS - 86_400 / APART_S;
    assert_eq!(
        rows.iter().map(|t| t.id).collect::<Vec<_>>(),
        (first_of_day..=TICKETS).rev().collect::<Vec<_>>()
    );
    // The report of the last day reads that day's tickets only.
    let report = lifeline::report::fetch(admin, Duration::from_secs(86_400))
        .await
        .unwrap();
    let day = (1..=TICKETS)
        .filter(|&id| created(now, id) >= report.since_unix)
        .count();
    assert!((140..=146).contains(&day), "{day}");
    assert_eq!(report.tickets, day);
    let resolved_today = (1..=TICKETS)
        .filter(|&id| created(now, id) >= report.since_unix && id % 7 == 0)
        .count();
    assert_eq!(report.by_status.get("resolved"), Some(&resolved_today));

    // Requests in flight at once (as the report's timelines are) come
    // back in the order asked, though the relay serves each on its own
    // and a slow one (a 2 MiB page, first) is answered after the quick
    // ones behind it.
    let show = |ticket| ConsoleRequest::TicketShow { ticket };
    let whole_page = ConsoleRequest::TicketsPage {
        mine: false,
        status: None,
        tier: None,
        created_since: 0,
        after: None,
    };
    let asked = [TICKETS, 7, TICKETS - 1, 12_345, 2];
    let mut batch = vec![whole_page];
    batch.extend(asked.iter().map(|&t| show(t)));
    let mut got = admin.requests(batch, 4).await.unwrap().into_iter();
    match got.next() {
        Some(ConsoleReply::TicketsPage {
            rows,
            next: Some(_),
        }) => {
            assert_eq!(rows[0].id, TICKETS);
        }
        other => panic!("not the first page: {other:.200?}"),
    }
    let got: Vec<u64> = got
        .map(|r| match r {
            ConsoleReply::Ticket(d) => d.row.id,
            other => panic!("{other:.200?}"),
        })
        .collect();
    assert_eq!(got, asked);
    // A refusal among them is the error, naming what was refused; the
    // connection goes on serving.
    let e = admin
        .requests(vec![show(1), show(999_999), show(2)], 3)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "no ticket 999999");
    let again = admin.requests(vec![show(3), show(4)], 2).await.unwrap();
    assert!(
        matches!(&again[..], [ConsoleReply::Ticket(a), ConsoleReply::Ticket(b)]
            if a.row.id == 3 && b.row.id == 4)
    );

    // A technician of one group: her machine's tickets only, in pages
    // that never hold (nor name) the other's, and hers alone with --mine.
    let mut tina = stage.login(TECH, TECH_PW).await.unwrap();
    let seen = ids(&listing(&mut tina, &TicketFilter::default(), true).await);
    let finance: Vec<u64> = (1..=TICKETS).rev().filter(|id| id % 2 == 0).collect();
    assert_eq!(seen, finance);
    for (rows, _) in pages(&mut tina).await {
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|t| t.hostname == "finance-pc"));
    }
    let mine = TicketFilter {
        mine: true,
        ..TicketFilter::default()
    };
    let got = ids(&listing(&mut tina, &mine, true).await);
    let want: Vec<u64> = (1..=TICKETS).rev().filter(|id| id % 200 == 0).collect();
    assert_eq!(got, want);
    // Admins assigned nothing to themselves.
    assert_eq!(
        listing(&mut stage.admin, &mine, false).await.lines().last(),
        Some("(no tickets)")
    );
}
