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
    // Tom watches the queue the whole time.
    let watch_out = w.path("watch.out");
    let mut watcher = std::process::Command::new(util::bin("lifeline"))
        .args(["tickets", "--watch"])
        .env("LIFELINE_CONFIG_DIR", w.path("console-tom"))
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&watch_out).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let token = w.token("alice", &[]);
    assert!(w.enroll("pc-7", &token).ok);
    let _agent = w.start_agent_with(
        "pc-7",
        &[("LIFELINE_INVENTORY_ROOT", FIXTURE)],
        &["--unattended", "--capture", "synthetic:typing"],
    );
    w.wait_inventory("alice", "pc-7");

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
    // The session's own log, listed on the ticket.
    let sid = t["sessions"][0]["session"].as_u64().unwrap().to_string();
    let out = w.console("tom", &["session", "show", &sid, "--json"], None);
    assert!(out.ok, "{}", out.stderr);
    let log: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(log["technician"], "tom");
    assert_eq!(log["hostname"], "pc-7");
    assert_eq!(log["ticket"], 1);
    assert_eq!(log["ticket_created"], false);
    assert_eq!(log["decision"], "accepted");
    assert!(
        log["consent"].as_str().unwrap().contains("unattended"),
        "{log}"
    );
    assert_eq!(log["ended"], "technician closed the session");
    assert!(log["bytes_to_console"].as_u64().unwrap() > 10_000, "{log}");
    assert!(log["frames"].as_u64().unwrap() >= 2, "{log}");
    assert!(log["mean_fps"].as_f64().unwrap() > 0.5, "{log}");
    let d = log["duration_s"].as_u64().unwrap();
    assert!((1..=10).contains(&d), "a 2 s session lasted {d} s");
    let out = w.console("tom", &["session", "show", &sid], None);
    assert!(out.stdout.contains("technician   tom"), "{}", out.stdout);
    assert!(out.stdout.contains("ticket       #1\n"), "{}", out.stdout);
    let out = w.console("tom", &["session", "show", "424242"], None);
    assert!(out.stderr.contains("no session 424242"), "{}", out.stderr);

    // A session opened without a ticket gets one of its own, resolved and
    // assigned to the technician.
    let out = w.console(
        "tom",
        &["connect", "pc-7", "--headless", "--duration", "1s"],
        None,
    );
    assert!(out.ok, "{}", out.stderr);
    let out = w.wait_console(
        "tom",
        &["tickets", "--json"],
        Duration::from_secs(10),
        |o| o.stdout.contains("opened without a ticket"),
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let auto = rows.iter().find(|r| r["id"] == 2).unwrap();
    assert_eq!(
        auto["title"],
        "Remote session by tom on pc-7 (opened without a ticket)"
    );
    assert_eq!(auto["status"], "resolved");
    assert_eq!(auto["assignee"], "tom");
    let out = w.console("tom", &["sessions", "--machine", "pc-7", "--json"], None);
    let logs: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(logs.len(), 2, "{}", out.stdout);
    assert_eq!(
        (
            logs[0]["ticket"].as_u64(),
            logs[0]["ticket_created"].as_bool()
        ),
        (Some(2), Some(true))
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
    assert_eq!(r["tickets"], 2, "{r}");
    assert_eq!(r["by_status"]["closed"], 1, "{r}");
    assert_eq!(r["by_status"]["resolved"], 1, "{r}");
    assert_eq!(r["escalation_rate"], 0.5, "{r}");
    assert!(r["first_response_mean_s"].is_number(), "{r}");
    assert!(r["resolve_mean_s"].is_number(), "{r}");
    assert_eq!(r["top_machines"][0][1], 2, "{r}");
    let md = w.console("ann", &["report", "tickets"], None);
    assert!(md.stdout.contains("| tickets | 2 |"), "{}", md.stdout);

    // Tom's watcher saw every change as it happened.
    std::thread::sleep(Duration::from_millis(500));
    let stop = std::process::Command::new("kill")
        .args(["-INT", &watcher.id().to_string()])
        .status()
        .unwrap();
    assert!(stop.success());
    let status = watcher.wait().unwrap();
    assert!(
        status.success(),
        "the watcher ends cleanly on Ctrl+C: {status}"
    );
    let stdout = std::fs::read_to_string(&watch_out).unwrap();
    let out = util::Out {
        ok: true,
        stdout,
        stderr: String::new(),
    };
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("#1 "))
        .collect();
    let events: Vec<&str> = lines.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(
        events,
        [
            "ticket.created",
            "ticket.assigned",
            "ticket.session",
            "ticket.escalated",
            "ticket.commented",
            "ticket.status",
            "ticket.status"
        ],
        "{}",
        out.stdout
    );
    assert!(
        lines[1].contains("by alice: assigned to tom [open, L1, high, tom] Printer does not print"),
        "{}",
        lines[1]
    );
    assert!(
        out.stdout.contains("#2 ticket.session by tom"),
        "{}",
        out.stdout
    );
}
