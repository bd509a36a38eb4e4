//! The help-desk flow: a user's help request becomes a ticket with the
//! machine's inventory; a technician works it, connects by ticket, and the
//! session's log lands on the ticket.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::Duration;
use util::World;

const PW: &str = "admin-password-1";
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../inventory/tests/fixtures/root"
);

fn show(w: &World, who: &str, id: &str) -> serde_json::Value {
    let out = w.console(who, &["ticket", "show", id, "--json"], None);
    assert!(out.ok, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn help_request_to_resolved_ticket_with_session_log() {
    let mut w = World::new();
    w.add_user("alice", "admin", PW);
    w.relay_cmd_env(
        &["user", "add", "tom", "--role", "technician"],
        &[("LIFELINE_PASSWORD", "tech-password")],
    );
    w.relay_cmd_env(
        &["user", "add", "ann", "--role", "auditor"],
        &[("LIFELINE_PASSWORD", "audit-password")],
    );
    w.start_relay();
    for (u, p) in [
        ("alice", PW),
        ("tom", "tech-password"),
        ("ann", "audit-password"),
    ] {
        w.login(u, p);
    }
    let token = w.token("alice", &[]);
    assert!(w.enroll("pc-7", &token).ok);
    let _agent = w.start_agent_with(
        "pc-7",
        &[("LIFELINE_INVENTORY_ROOT", FIXTURE)],
        &["--unattended", "--capture", "synthetic:typing"],
    );
    w.wait_console(
        "alice",
        &["inventory", "show", "pc-7"],
        Duration::from_secs(15),
        |o| o.ok,
    );

    let out = w.agent_cmd(
        "pc-7",
        &[
            "request-help",
            "--text",
            "Printer does not print\nSince this morning, all documents.",
            "--urgency",
            "high",
        ],
    );
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        "ticket 1 opened; the help desk has been told"
    );

    let out = w.console("tom", &["tickets", "--json"], None);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["title"], "Printer does not print");
    assert_eq!(rows[0]["status"], "new");
    assert_eq!(rows[0]["priority"], "high");
    assert_eq!(rows[0]["tier"], 1);
    assert_eq!(rows[0]["hostname"], "pc-7");
    let t = show(&w, "tom", "1");
    assert!(
        t["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "inventory" && a["bytes"].as_u64().unwrap() > 1000),
        "{t}"
    );

    assert!(
        w.console("alice", &["ticket", "assign", "1", "tom"], None)
            .ok
    );
    let t = show(&w, "tom", "1");
    assert_eq!(
        (t["status"].as_str(), t["assignee"].as_str()),
        (Some("open"), Some("tom"))
    );
    let mine = w.console("tom", &["tickets", "--mine", "--json"], None);
    assert!(mine.stdout.contains("\"id\": 1"), "{}", mine.stdout);

    let out = w.console(
        "tom",
        &["connect", "--ticket", "1", "--headless", "--duration", "2s"],
        None,
    );
    assert!(out.ok, "{}", out.stderr);
    let t = w.wait_console(
        "tom",
        &["ticket", "show", "1", "--json"],
        Duration::from_secs(10),
        |o| o.stdout.contains("\"session\""),
    );
    let t: serde_json::Value = serde_json::from_str(&t.stdout).unwrap();
    let session = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "session")
        .unwrap();
    let text = session["text"].as_str().unwrap();
    assert!(
        text.contains("by tom") && text.contains("ended: technician closed the session"),
        "{text}"
    );
    let to_tech: u64 = text
        .split(" bytes to the technician")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        to_tech > 10_000,
        "a 2 s typing session moves frames: {text}"
    );
    assert!(
        t["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "session-log")
    );

    let out = w.console(
        "tom",
        &[
            "ticket",
            "escalate",
            "1",
            "--reason",
            "driver issue, needs L2",
        ],
        None,
    );
    assert!(out.ok, "{}", out.stderr);
    let t = show(&w, "tom", "1");
    assert_eq!(t["tier"], 2);
    assert!(t["assignee"].is_null());
    assert!(
        t["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "escalated"
                && e["actor"] == "tom"
                && e["text"] == "L1 → L2: driver issue, needs L2")
    );

    assert!(
        w.console(
            "tom",
            &["ticket", "comment", "1", "new driver installed"],
            None
        )
        .ok
    );
    assert!(w.console("tom", &["ticket", "resolve", "1"], None).ok);
    assert!(w.console("alice", &["ticket", "close", "1"], None).ok);
    let out = w.console("tom", &["ticket", "resolve", "1"], None);
    assert!(out.stderr.contains("ticket 1 is closed"), "{}", out.stderr);
    let out = w.console("ann", &["ticket", "comment", "1", "looks fine"], None);
    assert!(
        out.stderr.contains("auditors cannot change tickets"),
        "{}",
        out.stderr
    );
    let out = w.console("tom", &["ticket", "show", "99"], None);
    assert!(out.stderr.contains("no ticket 99"), "{}", out.stderr);
    let t = show(&w, "ann", "1");
    assert_eq!(t["status"], "closed");
    let kinds: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "assigned",
            "session",
            "escalated",
            "comment",
            "status",
            "status"
        ]
    );

    // The report counts it: one closed, escalated ticket, answered and
    // resolved, on the laptop.
    let out = w.console(
        "ann",
        &["report", "tickets", "--since", "1d", "--format", "json"],
        None,
    );
    assert!(out.ok, "{}", out.stderr);
    let r: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["tickets"], 1, "{r}");
    assert_eq!(r["by_status"]["closed"], 1, "{r}");
    assert_eq!(r["escalation_rate"], 1.0, "{r}");
    assert!(r["first_response_mean_s"].is_number(), "{r}");
    assert!(r["resolve_mean_s"].is_number(), "{r}");
    assert_eq!(r["top_machines"][0][1], 1, "{r}");
    let md = w.console("ann", &["report", "tickets"], None);
    assert!(md.stdout.contains("| tickets | 1 |"), "{}", md.stdout);
}
