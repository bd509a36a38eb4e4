//! `lifeline machines` for a large fleet: past about 55,000 machines the
//! list does not fit in the 8 MiB a message carries; it leaves the relay
//! whole, a page at a time, by hostname, each person seeing the machines
//! of their groups, and `--stale` judged on the relay, where it knows
//! which agents are connected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline::{client::Client, machine_cmd};
use lifeline_net::unix_secs;
use lifeline_proto::{
    ConsoleReply, ConsoleRequest, MAX_FRAME_LEN, MachineCursor, MachineInfo, MachineRow,
};
use lifeline_relay::store::{NewEnrollToken, SqliteStore, Store};
use lifeline_tests::stage::Stage;
use serde_json::Value;
use std::time::Duration;

/// Machines stored before the relay starts, besides the two of
/// `two_groups` (finance-pc and ops-pc).
const MACHINES: u32 = 64_000;
const TECH: &str = "tina";
const TECH_PW: &str = "tina-password";
const DAY: u64 = 86_400;
/// A Windows build string as an agent reports it: about 100 bytes.
const OS: &str = "Microsoft Windows 11 Enterprise 23H2 (OS build 22631.4460), \
                  Intel(R) Core(TM) i7-1365U vPro, 32 GiB";

fn id(i: u32) -> String {
    format!("m-{i:05}")
}

/// Two machines share each name but for its case: `WS-00001` (m-00002)
/// and `ws-00001` (m-00003).
fn hostname(i: u32) -> String {
    let prefix = if i.is_multiple_of(2) { "WS" } else { "ws" };
    format!("{prefix}-{:05}", i / 2)
}

/// One in five has no group, two finance, two ops.
fn group(i: u32) -> Option<&'static str> {
    match i % 5 {
        0 => None,
        1 | 2 => Some("finance"),
        _ => Some("ops"),
    }
}

/// One in four was last heard from 40 days ago, the rest an hour ago.
fn last_seen(now: u64, i: u32) -> u64 {
    if i.is_multiple_of(4) {
        now - 40 * DAY
    } else {
        now - 3_600
    }
}

fn populate(s: &mut SqliteStore, now: u64) -> anyhow::Result<()> {
    s.bulk_load_mode()?;
    let two = lifeline_tests::stage::two_groups(s, TECH, TECH_PW)?;
    assert_eq!(two[0].1, "finance-pc");
    for (id, _) in &two {
        s.set_last_seen(id, now - 3_600)?;
    }
    for (n, g) in [(10u8, None), (11, Some("finance")), (12, Some("ops"))] {
        s.add_enroll_token(&NewEnrollToken {
            hash: [n; 32],
            group: g.map(Into::into),
            created_by: 1,
            created_unix: 0,
            expires_unix: u64::MAX / 2,
            max_uses: None,
        })?;
    }
    for i in 0..MACHINES {
        let token = match group(i) {
            None => [10; 32],
            Some("finance") => [11; 32],
            _ => [12; 32],
        };
        let info = MachineInfo {
            hostname: hostname(i),
            os: OS.into(),
            arch: "x86_64".into(),
            agent_version: "test".into(),
        };
        s.enroll(&token, &id(i), &[0; 32], &info, now - 90 * DAY)?
            .expect("enrolled");
        s.set_last_seen(&id(i), last_seen(now, i))?;
    }
    Ok(())
}

/// The listing's order: hostname folded to lower case (ASCII), then id.
fn in_order(mut ids: Vec<(String, String)>) -> Vec<String> {
    ids.sort_by_key(|(h, id)| (h.to_ascii_lowercase(), id.clone()));
    ids.into_iter().map(|(_, id)| id).collect()
}

async fn listing(c: &mut Client, stale: Option<Duration>, json: bool) -> String {
    let mut out = Vec::new();
    let n = machine_cmd::list(c, stale, json, &mut out).await.unwrap();
    lifeline_tests::listed(out, n, json)
}

/// `got` is `want`; else the first difference, not 60,000 ids.
#[track_caller]
fn same(got: &[String], want: &[String]) {
    if let Some(at) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
        panic!(
            "{} ids, {} wanted; at {at}: {:?} for {:?}",
            got.len(),
            want.len(),
            got.get(at),
            want.get(at)
        );
    }
}

fn rows(json: &str) -> Vec<Value> {
    serde_json::from_str(json).unwrap()
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// Walks the machines a page at a time by hand; answers the pages.
async fn pages(c: &mut Client) -> Vec<(Vec<MachineRow>, Option<MachineCursor>)> {
    let (mut after, mut all) = (None, Vec::new());
    loop {
        let reply = c
            .request(ConsoleRequest::MachinesPage {
                stale_secs: None,
                after: after.clone(),
            })
            .await
            .unwrap();
        let ConsoleReply::MachinesPage { rows, next } = reply else {
            panic!("not a page");
        };
        after.clone_from(&next);
        all.push((rows, next));
        if after.is_none() {
            return all;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_larger_than_a_message_lists_in_pages() {
    let now = unix_secs();
    let mut stage = Stage::start_with(None, |s| populate(s, now)).await.unwrap();
    // A real agent, online.
    let desk = stage.spawn_agent("desk").await.unwrap().machine_id;

    let mut everyone: Vec<(String, String)> = (0..MACHINES).map(|i| (hostname(i), id(i))).collect();
    everyone.push(("finance-pc".into(), "finance-machine".into()));
    everyone.push(("ops-pc".into(), "ops-machine".into()));

    // Stale for 30 days: the ones last heard from 40 days ago, and not the
    // agent online now, though its stored time is set as far back, as for
    // an agent connected that long (the relay keeps heartbeats in memory,
    // writing them to its store once a minute). Its first report, or that
    // minute, may overwrite the time meanwhile: then again (bounded).
    let want = in_order(
        (0..MACHINES)
            .filter(|i| i % 4 == 0)
            .map(|i| (hostname(i), id(i)))
            .collect(),
    );
    for attempt in 1.. {
        let mut store = stage.data.open_store().unwrap();
        store.set_last_seen(&desk, now - 40 * DAY).unwrap();
        let stale =
            rows(&listing(&mut stage.admin, Some(Duration::from_secs(30 * DAY)), true).await);
        let kept = store.machine(&desk).unwrap().unwrap().last_seen_unix;
        if kept != Some(now - 40 * DAY) && attempt < 5 {
            continue;
        }
        assert_eq!(kept, Some(now - 40 * DAY), "the store kept the old time");
        same(&ids(&stale), &want);
        assert!(stale.iter().all(|r| r["online"] == false));
        break;
    }

    // In one answer (consoles before pages) the fleet does not fit, and
    // the relay says so.
    let admin = &mut stage.admin;
    let one = admin
        .request(ConsoleRequest::ListMachines)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        one.contains("more than the 8 MiB a message carries")
            && one.contains("protocol version 5 or later, which lists in pages"),
        "{one}"
    );

    // In pages it comes whole, by hostname then id, byte for byte the
    // pretty array of its rows.
    let json = listing(admin, None, true).await;
    let all = rows(&json);
    assert_eq!(json, serde_json::to_string_pretty(&all).unwrap() + "\n");
    let desk_host = all
        .iter()
        .find(|r| r["id"] == desk.as_str())
        .map(|r| r["hostname"].as_str().unwrap().to_string())
        .expect("the agent is listed");
    let mut with_desk = everyone.clone();
    with_desk.push((desk_host, desk.clone()));
    same(&ids(&all), &in_order(with_desk));
    // Names equal but for case: both, by id.
    let at = ids(&all).iter().position(|i| *i == id(2)).unwrap();
    assert_eq!(all[at + 1]["id"], id(3));
    assert_eq!(
        (&all[at]["hostname"], &all[at + 1]["hostname"]),
        (&Value::from("WS-00001"), &Value::from("ws-00001"))
    );
    let m7 = &all[ids(&all).iter().position(|i| *i == id(7)).unwrap()];
    assert_eq!(m7["os"], OS);
    assert_eq!(m7["group"], "finance");
    assert_eq!(m7["online"], false);
    assert_eq!(m7["last_seen_unix"], last_seen(now, 7));
    let d = &all[ids(&all).iter().position(|i| *i == desk).unwrap()];
    assert_eq!(d["online"], true);
    assert!(d["last_seen_unix"].as_u64().unwrap() >= now, "{d}");

    // Walked by hand: several pages, each within a message and starting
    // past the last one's end, which it names.
    let walked = pages(admin).await;
    assert!(walked.len() >= 3, "{} pages", walked.len());
    let mut expect = ids(&all).into_iter();
    for (page, next) in &walked {
        assert!(lifeline_proto::encoded_len(page) < MAX_FRAME_LEN);
        for m in page {
            assert_eq!(Some(&m.id), expect.next().as_ref());
        }
        let last = page.last().map(|m| MachineCursor {
            hostname: m.hostname.clone(),
            id: m.id.clone(),
        });
        assert_eq!(*next, next.as_ref().and(last));
    }
    assert_eq!(expect.next(), None);

    // The table: a header, then a line a machine.
    let table = listing(admin, None, false).await;
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ID "));
    let m7 = lines
        .find(|l| l.starts_with("m-00007 "))
        .expect("a line for m-00007");
    assert!(m7.contains(" ws-00003 "), "{m7}");
    assert!(m7.contains(" finance "), "{m7}");
    assert!(m7.ends_with(" offline  1 h ago"), "{m7}");

    let none = listing(admin, Some(Duration::from_secs(400 * DAY)), false).await;
    assert_eq!(
        none.lines().last(),
        Some("(no machine offline for 400d or longer)")
    );

    // Machines are found by name, ignoring case, among the whole fleet.
    let named = |machine: &str| ConsoleRequest::Inventory {
        machine: machine.into(),
    };
    let e = admin.request(named("FINANCE-PC")).await.unwrap_err();
    assert_eq!(e.to_string(), "no inventory from finance-pc yet");
    let e = admin.request(named("ws-00001")).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "2 machines are named \"ws-00001\"; use an id: m-00002, m-00003"
    );
    let e = admin.request(named("ws-99999")).await.unwrap_err();
    assert_eq!(e.to_string(), "no machine named \"ws-99999\"");

    // A technician of one group: the finance machines only, in pages that
    // never hold (nor name) another's, and the others refused by name.
    let mut tina = stage.login(TECH, TECH_PW).await.unwrap();
    let seen = rows(&listing(&mut tina, None, true).await);
    let finance = in_order(
        (0..MACHINES)
            .filter(|&i| group(i) == Some("finance"))
            .map(|i| (hostname(i), id(i)))
            .chain([("finance-pc".to_string(), "finance-machine".to_string())])
            .collect(),
    );
    same(&ids(&seen), &finance);
    for (page, _) in pages(&mut tina).await {
        assert!(!page.is_empty());
        assert!(page.iter().all(|m| m.group.as_deref() == Some("finance")));
    }
    let e = tina.request(named("ops-pc")).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "ops-pc is in group ops, outside your groups (finance)"
    );
    let e = tina.request(named("finance-pc")).await.unwrap_err();
    assert_eq!(e.to_string(), "no inventory from finance-pc yet");
}

/// An agent reporting a hostname with terminal escape sequences, or an
/// endless one, is listed with them shown as U+FFFD and cut: `lifeline
/// machines` cannot be made to write to a technician's terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_escape_sequences_never_reach_a_terminal() {
    use lifeline_net::write_msg;
    use lifeline_proto::{AgentToRelay, MAX_INFO_CHARS};
    let mut stage = Stage::start().await.unwrap();
    let cfg = stage.enroll("raw", stage.addr).await.unwrap();
    let (mut c, _) = lifeline_tests::stage::agent_hello(
        &stage.addr.to_string(),
        &stage.fingerprint,
        cfg.machine_id.clone(),
        cfg.credential.clone(),
        "test",
    )
    .await
    .unwrap();
    let info = MachineInfo {
        hostname: "pc\u{1b}]0;owned\u{7}\u{1b}[2J".into(),
        os: "Linux\0".into(),
        arch: "x".repeat(100_000),
        agent_version: "1.0".into(),
    };
    write_msg(&mut c.send, &AgentToRelay::Info(info), MAX_FRAME_LEN)
        .await
        .unwrap();
    let start = std::time::Instant::now();
    let row = loop {
        let mut found = None;
        machine_cmd::each_machine(&mut stage.admin, None, |m| {
            if m.id == cfg.machine_id {
                found = Some(m);
            }
            Ok(())
        })
        .await
        .unwrap();
        let m = found.expect("listed");
        if m.hostname.contains("owned") || start.elapsed() > Duration::from_secs(10) {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(row.hostname, "pc\u{FFFD}]0;owned\u{FFFD}\u{FFFD}[2J");
    assert_eq!(row.os, "Linux\u{FFFD}");
    assert_eq!(row.arch.chars().count(), MAX_INFO_CHARS);
    assert!(row.online, "the agent stays connected");
    let table = listing(&mut stage.admin, None, false).await;
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{7}'),
        "{table:?}"
    );
    assert!(table.contains("pc\u{FFFD}]0;owned"), "{table}");
}
