//! `lifeline sessions` and `lifeline audit` over more than one message
//! (8 MiB) carries: both leave the relay whole, a page at a time, in order,
//! each person seeing what they may.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline::client::Client;
use lifeline_net::unix_secs;
use lifeline_proto::{
    ConsoleReply, ConsoleRequest, MAX_FRAME_LEN, SessionCursor,
    audit::AuditEntry,
    session_log::{ChatLine, SessionLog},
};
use lifeline_relay::{
    audit::NewEntry,
    store::{AuditStore, SqliteStore, TicketStore},
};
use lifeline_tests::stage::{Stage, chat_log};
use std::time::Duration;

/// Session logs of the last hour: 12 on each of two machines, each with
/// 1 MB of chat, 24 MB in all; three at a time end in the same second.
const LOGS: usize = 24;
/// Small logs of two days ago on the machine the technician does not see,
/// between her newest logs and her oldest.
const UNSEEN: usize = 5_100;
/// Audit entries stored before the relay starts, about 11 MB.
const ENTRIES: usize = 40_000;
const TECH: &str = "tina";
const TECH_PW: &str = "tina-password";
const DAY: Duration = Duration::from_secs(86_400);

fn log(i: usize, machine: &str, hostname: &str, ended_unix: u64) -> SessionLog {
    SessionLog {
        chat: (0..4)
            .map(|k| ChatLine {
                at_unix: ended_unix - 30 + k,
                from: "user".into(),
                text: format!("{i}/{k} ") + &"z".repeat(250_000),
            })
            .collect(),
        // Ids not in the order of time, so ties are broken by id alone.
        ..chat_log(
            (1 << 20) + ((i * 7) % LOGS) as u64,
            machine,
            hostname,
            ended_unix,
        )
    }
}

/// Two machines, one in the technician's group; their logs; the audit.
fn populate(s: &mut SqliteStore, now: u64) -> anyhow::Result<Vec<SessionLog>> {
    s.bulk_load_mode()?;
    let machines = lifeline_tests::stage::two_groups(s, TECH, TECH_PW)?;
    let mut logs = Vec::new();
    for i in 0..LOGS {
        let (id, host) = &machines[i % 2];
        let l = log(i, id, host, now - 3_000 + (i / 3) as u64 * 60);
        s.save_session(&l)?;
        logs.push(l);
    }
    for k in 0..UNSEEN {
        let mut l = log(
            k,
            &machines[1].0,
            &machines[1].1,
            now - 2 * 86_400 + k as u64,
        );
        l.session = 2_000_000 + k as u64;
        l.chat.clear();
        s.save_session(&l)?;
    }
    // Three days old: outside a one-day listing.
    let mut old = log(LOGS, &machines[0].0, &machines[0].1, now - 3 * 86_400);
    old.session = 99;
    old.chat.truncate(1);
    s.save_session(&old)?;
    for i in 0..ENTRIES {
        let actor = if i % 4 == 0 { "bob" } else { "alice" };
        let details = format!("entry {i} ") + &"d".repeat(120);
        s.append_audit(
            &NewEntry::new(actor, "ticket-updated", "pc-1", details),
            now,
        )?;
    }
    Ok(logs)
}

fn refused_as_too_large(reply: Result<ConsoleReply, lifeline::client::ClientError>) {
    let why = match reply {
        Ok(r) => panic!("answered in one message: {:.200}", format!("{r:?}")),
        Err(e) => e.to_string(),
    };
    // Refused as the relay reads it (once past a message), not after
    // reading all of it: that refusal would not name the pages.
    assert!(
        why.contains("more than the 8 MiB a message carries")
            && why.contains("protocol version 3 or later, which lists in pages"),
        "{why}"
    );
}

async fn sessions(c: &mut Client, machine: Option<&str>, since: Duration, json: bool) -> String {
    let mut out = Vec::new();
    lifeline::session_cmd::list(c, machine.map(Into::into), since, json, &mut out)
        .await
        .unwrap();
    String::from_utf8(out).unwrap()
}

async fn audit(c: &mut Client, actor: Option<&str>, json: bool) -> String {
    let mut out = Vec::new();
    lifeline::audit_cmd::list(c, DAY, actor.map(Into::into), json, &mut out)
        .await
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_and_audit_listings_larger_than_a_message_come_in_pages() {
    let now = unix_secs();
    let mut logs = Vec::new();
    let mut stage = Stage::start_with(None, |s| {
        logs = populate(s, now)?;
        Ok(())
    })
    .await
    .unwrap();
    // Newest first, ties by session id.
    logs.sort_by_key(|l| std::cmp::Reverse((l.ended_unix, l.session)));
    let admin = &mut stage.admin;

    // In one answer the listing does not fit, and the relay says so.
    let one = admin
        .request(ConsoleRequest::Sessions {
            machine: None,
            since_unix: now - 86_400,
        })
        .await;
    refused_as_too_large(one);
    // Less, and it comes in one answer (for consoles before pages).
    let last_six = admin
        .request(ConsoleRequest::Sessions {
            machine: None,
            since_unix: now - 3_000 + 6 * 60,
        })
        .await
        .unwrap();
    let ConsoleReply::Sessions(last_six) = last_six else {
        panic!("not a listing");
    };
    assert!(last_six == logs[..6], "{} logs", last_six.len());

    // In pages it comes whole: each log once, in order, chat and all;
    // byte for byte the pretty array of the logs.
    let json = sessions(admin, None, DAY, true).await;
    assert!(json.len() > MAX_FRAME_LEN, "{} bytes", json.len());
    let got: Vec<SessionLog> = serde_json::from_str(&json).unwrap();
    assert_eq!(got.len(), LOGS);
    assert!(got == logs, "the listing differs from the logs stored");
    assert_eq!(json, serde_json::to_string_pretty(&logs).unwrap() + "\n");

    // Walked by hand: several pages (each read within a message), each
    // starting where the last ended.
    let (mut after, mut pages, mut seen) = (None::<SessionCursor>, 0, 0);
    loop {
        let page = admin
            .request(ConsoleRequest::SessionsPage {
                machine: None,
                since_unix: now - 86_400,
                after,
            })
            .await
            .unwrap();
        let ConsoleReply::SessionsPage { logs: page, next } = page else {
            panic!("not a page");
        };
        assert!(page == logs[seen..seen + page.len()], "page {pages}");
        seen += page.len();
        pages += 1;
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, LOGS);
    assert!(pages >= 3, "{pages} pages");

    // The table: one header, a line per log, newest first.
    let table = sessions(admin, None, DAY, false).await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 1 + LOGS, "{table}");
    assert!(lines[0].trim_start().starts_with("SESSION"), "{}", lines[0]);
    assert!(
        lines[1]
            .trim_start()
            .starts_with(&logs[0].session.to_string())
    );
    assert!(
        lines[LOGS]
            .trim_start()
            .starts_with(&logs[LOGS - 1].session.to_string())
    );

    // One machine; and a week, which takes in the old log too.
    let one_machine = sessions(admin, Some("ops-pc"), DAY, true).await;
    let got: Vec<SessionLog> = serde_json::from_str(&one_machine).unwrap();
    assert_eq!(got.len(), LOGS / 2);
    assert!(got.iter().all(|l| l.hostname == "ops-pc"));
    let week = sessions(admin, None, 7 * DAY, true).await;
    let got: Vec<SessionLog> = serde_json::from_str(&week).unwrap();
    assert_eq!(got.len(), LOGS + UNSEEN + 1);
    assert_eq!(got[LOGS].session, 2_000_000 + UNSEEN as u64 - 1);
    assert_eq!(got[LOGS + UNSEEN].session, 99);

    // The audit: every entry once, in order, each chained to the last.
    refused_as_too_large(
        admin
            .request(ConsoleRequest::Audit {
                since_unix: 0,
                actor: None,
            })
            .await,
    );
    let json = audit(admin, None, true).await;
    assert!(json.len() > MAX_FRAME_LEN, "{} bytes", json.len());
    let entries: Vec<AuditEntry> = serde_json::from_str(&json).unwrap();
    // Ours, then the relay's own (the logins).
    assert!(entries.len() >= ENTRIES, "{}", entries.len());
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
        if i > 0 {
            assert_eq!(e.prev_hash, entries[i - 1].hash, "entry {}", e.seq);
        }
        if i < ENTRIES {
            assert!(e.details.starts_with(&format!("entry {i} ")), "{}", e.seq);
        }
    }
    assert_eq!(json, serde_json::to_string_pretty(&entries).unwrap() + "\n");
    let bob: Vec<AuditEntry> =
        serde_json::from_str(&audit(admin, Some("bob"), true).await).unwrap();
    let one = admin
        .request(ConsoleRequest::Audit {
            since_unix: 0,
            actor: Some("bob".into()),
        })
        .await
        .unwrap();
    assert!(
        one == ConsoleReply::Audit(bob.clone()),
        "bob's entries in one answer"
    );
    assert_eq!(bob.len(), ENTRIES / 4);
    assert!(bob.iter().all(|e| e.actor == "bob"));
    assert!(bob.windows(2).all(|w| w[0].seq + 4 == w[1].seq));
    let text = audit(admin, None, false).await;
    assert!(text.lines().count() >= entries.len(), "{}", text.len());
    assert!(text.lines().next().unwrap().contains("entry 0 "));
    match admin.request(ConsoleRequest::AuditVerify).await.unwrap() {
        ConsoleReply::AuditVerified(v) => {
            assert_eq!(v.first_broken, None);
            assert!(v.entries as usize >= entries.len());
        }
        other => panic!("{other:?}"),
    }
    // An entry edited deep in the log, past the check's first turns on
    // the store, is named, and every entry is counted.
    let db = rusqlite::Connection::open(stage.dir.path().join("relay/lifeline.db")).unwrap();
    db.execute("UPDATE audit SET details = 'edited' WHERE seq = 25001", [])
        .unwrap();
    match admin.request(ConsoleRequest::AuditVerify).await.unwrap() {
        ConsoleReply::AuditVerified(v) => {
            let (seq, why) = v.first_broken.unwrap();
            assert_eq!(seq, 25_001);
            assert!(why.contains("do not match its hash"), "{why}");
            assert!(v.entries as usize >= entries.len());
        }
        other => panic!("{other:?}"),
    }

    // A technician of one group sees its machine's logs only, across
    // pages that skip the rest, and no audit.
    let mut tina = stage.login(TECH, TECH_PW).await.unwrap();
    let mine: Vec<SessionLog> =
        serde_json::from_str(&sessions(&mut tina, None, DAY, true).await).unwrap();
    let finance: Vec<&SessionLog> = logs.iter().filter(|l| l.hostname == "finance-pc").collect();
    assert_eq!(mine.len(), LOGS / 2);
    assert!(mine.iter().zip(&finance).all(|(a, b)| a == *b));
    // Over a week her listing passes the other machine's 5,100 logs,
    // which are never read for her: every page holds logs of hers,
    // and her old log after them is there.
    let week: Vec<SessionLog> =
        serde_json::from_str(&sessions(&mut tina, None, 7 * DAY, true).await).unwrap();
    assert_eq!(week.len(), LOGS / 2 + 1);
    assert_eq!(week[LOGS / 2].session, 99);
    let mut after = None;
    loop {
        let ConsoleReply::SessionsPage { logs: page, next } = tina
            .request(ConsoleRequest::SessionsPage {
                machine: None,
                since_unix: now - 7 * 86_400,
                after,
            })
            .await
            .unwrap()
        else {
            panic!("not a page");
        };
        assert!(!page.is_empty());
        assert!(page.iter().all(|l| l.hostname == "finance-pc"));
        match next {
            Some(n) => {
                // Where the next page starts is a log of hers.
                assert_eq!(Some(n.session), page.last().map(|l| l.session));
                after = Some(n);
            }
            None => break,
        }
    }
    let other =
        lifeline::session_cmd::list(&mut tina, Some("ops-pc".into()), DAY, true, &mut Vec::new())
            .await
            .unwrap_err();
    assert!(other.to_string().contains("outside your groups"), "{other}");
    let no = lifeline::audit_cmd::list(&mut tina, DAY, None, false, &mut Vec::new())
        .await
        .unwrap_err();
    assert!(no.to_string().contains("only admins and auditors"), "{no}");
}
