//! The spine end to end, with real processes on 127.0.0.1: relay, agents,
//! console. Run after `cargo build --workspace --bins`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::Duration;
use util::World;

const ADMIN_PW: &str = "admin-password-1";

fn world_with_admin() -> World {
    let mut w = World::new();
    w.add_user("alice", "admin", ADMIN_PW);
    w.start_relay();
    w.login("alice", ADMIN_PW);
    w
}

#[test]
fn enroll_presence_ping_and_survive_restarts() {
    let mut w = world_with_admin();
    let token = w.token("alice", &["--group", "finance", "--ttl", "1h"]);
    assert!(token.starts_with("lle_"), "{token}");

    let out = w.enroll("pc-01", &token);
    assert!(out.ok, "enroll failed: {}", out.stderr);
    assert!(
        out.stdout.starts_with("enrolled as machine "),
        "{}",
        out.stdout
    );
    let mut agent = w.start_agent("pc-01");
    w.wait_online("alice", "pc-01", true, Duration::from_secs(10));

    let rows = w.machines("alice");
    assert_eq!(rows.len(), 1);
    let m = &rows[0];
    assert_eq!(m["hostname"], "pc-01");
    assert_eq!(m["group"], "finance");
    assert_eq!(m["arch"], std::env::consts::ARCH);
    assert_eq!(m["id"].as_str().unwrap().len(), 12);

    // Ping by hostname through the relay.
    let out = w.console("alice", &["ping", "pc-01", "--count", "20"], None);
    assert!(out.ok, "ping failed: {}", out.stderr);
    assert!(
        out.stdout
            .starts_with("20 round trips of 64 bytes to pc-01 through the relay: p50 "),
        "{}",
        out.stdout
    );

    // A crashed agent shows offline within 30 s.
    agent.kill9();
    let took = w.wait_online("alice", "pc-01", false, Duration::from_secs(30));
    eprintln!("offline detected after {took:?}");
    let rows = w.machines("alice");
    assert!(rows[0]["last_seen_unix"].as_u64().is_some());

    // Back online, then the relay restarts under it.
    let _agent = w.start_agent("pc-01");
    w.wait_online("alice", "pc-01", true, Duration::from_secs(10));
    w.relay.as_mut().unwrap().terminate();
    w.start_relay();
    // The agent reconnects by itself; the saved login (token) still works.
    w.wait_online("alice", "pc-01", true, Duration::from_secs(15));
    let out = w.console("alice", &["ping", "pc-01", "--count", "3"], None);
    assert!(out.ok, "ping after restart failed: {}", out.stderr);

    // Users survived: a fresh password login works.
    w.login("alice", ADMIN_PW);
    // Tokens survived: the same token enrolls a second machine.
    let out = w.enroll("pc-02", &token);
    assert!(out.ok, "enroll after restart failed: {}", out.stderr);
    let rows = w.machines("alice");
    let names: Vec<&str> = rows
        .iter()
        .map(|m| m["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pc-01", "pc-02"]);
}

#[test]
fn relay_crash_is_survived_too() {
    let mut w = world_with_admin();
    let token = w.token("alice", &[]);
    assert!(w.enroll("kiosk", &token).ok);
    let _agent = w.start_agent("kiosk");
    w.wait_online("alice", "kiosk", true, Duration::from_secs(10));
    // kill -9: no goodbye to anyone. The reset key in the data dir lets the
    // agent's stale connection be reset by the new relay at once.
    w.relay.as_mut().unwrap().kill9();
    w.start_relay();
    let took = w.wait_online("alice", "kiosk", true, Duration::from_secs(25));
    eprintln!("agent back after relay crash in {took:?}");
    let out = w.console("alice", &["ping", "kiosk", "--count", "3"], None);
    assert!(out.ok, "{}", out.stderr);
}

#[test]
fn wrong_fingerprint_is_refused_with_both_values() {
    let w = world_with_admin();
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let out = w.console(
        "bob",
        &[
            "login",
            "--relay",
            &w.addr(),
            "--fingerprint",
            &wrong,
            "--user",
            "alice",
        ],
        Some(ADMIN_PW),
    );
    assert!(!out.ok);
    assert!(
        out.stderr.contains(&format!("expected {wrong}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("received {}", w.fingerprint)),
        "{}",
        out.stderr
    );
    assert!(!w.path("console-bob/console.json").exists());

    let token = w.token("alice", &[]);
    let out = w.agent_cmd(
        "pc",
        &[
            "enroll",
            "--relay",
            &w.addr(),
            "--fingerprint",
            &wrong,
            "--token",
            &token,
        ],
    );
    assert!(!out.ok);
    assert!(
        out.stderr.contains(&format!("received {}", w.fingerprint)),
        "{}",
        out.stderr
    );
    assert!(!w.path("agent-pc/agent.json").exists());

    let out = w.console(
        "bob",
        &[
            "login",
            "--relay",
            &w.addr(),
            "--fingerprint",
            "sha256:xyz",
            "--user",
            "a",
        ],
        Some("x"),
    );
    assert!(!out.ok);
    assert!(
        out.stderr.contains("sha256:<64 hex digits>"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_or_expired_enrollment_tokens_store_nothing() {
    let w = world_with_admin();
    let out = w.enroll("pc", "lle_0000");
    assert!(!out.ok);
    assert!(
        out.stderr.contains("enrollment token invalid or expired"),
        "{}",
        out.stderr
    );
    assert!(!w.path("agent-pc/agent.json").exists());

    let short = w.token("alice", &["--ttl", "1s"]);
    std::thread::sleep(Duration::from_millis(2100));
    let out = w.enroll("pc", &short);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("enrollment token invalid or expired"),
        "{}",
        out.stderr
    );

    let once = w.token("alice", &["--uses", "1"]);
    assert!(w.enroll("first", &once).ok);
    let out = w.enroll("second", &once);
    assert!(
        out.stderr.contains("enrollment token invalid or expired"),
        "{}",
        out.stderr
    );
    assert!(!w.path("agent-second/agent.json").exists());

    let rows = w.machines("alice");
    let names: Vec<&str> = rows
        .iter()
        .map(|m| m["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["first"], "only the good enrollment is stored");
}

#[test]
fn wrong_passwords_get_one_message_and_are_rate_limited() {
    let w = world_with_admin();
    let login = |user: &str, pw: &str| w.try_login("x", user, pw);
    let wrong = login("alice", "nope-nope");
    let unknown = login("mallory", "nope-nope");
    for out in [&wrong, &unknown] {
        assert!(!out.ok);
        assert_eq!(out.stderr.trim(), "error: invalid user or password");
    }
    for _ in 0..4 {
        login("alice", "still-wrong");
    }
    let locked = login("alice", ADMIN_PW);
    assert!(
        !locked.ok,
        "a locked account must not log in even with the right password"
    );
    assert!(
        locked
            .stderr
            .contains("too many failed logins; try again in"),
        "{}",
        locked.stderr
    );
}

#[test]
fn roles_are_enforced() {
    let w = world_with_admin();
    w.add_user("tom", "technician", "tech-password");
    w.add_user("ann", "auditor", "audit-password");
    w.login("tom", "tech-password");
    w.login("ann", "audit-password");
    let token = w.token("alice", &[]);
    assert!(w.enroll("pc", &token).ok);
    let _agent = w.start_agent("pc");
    w.wait_online("ann", "pc", true, Duration::from_secs(10));

    let out = w.console("tom", &["enroll-token", "create"], None);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("only admins create enrollment tokens"),
        "{}",
        out.stderr
    );

    let out = w.console("ann", &["ping", "pc", "--count", "1"], None);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("auditors cannot open sessions"),
        "{}",
        out.stderr
    );

    let out = w.console("tom", &["ping", "pc", "--count", "2"], None);
    assert!(out.ok, "technicians may connect: {}", out.stderr);

    let out = w.console("tom", &["ping", "no-such-pc"], None);
    assert!(
        out.stderr.contains("no machine named \"no-such-pc\""),
        "{}",
        out.stderr
    );
}

#[test]
fn ping_to_an_offline_machine_says_so() {
    let w = world_with_admin();
    let token = w.token("alice", &[]);
    assert!(w.enroll("laptop", &token).ok);
    let out = w.console("alice", &["ping", "laptop"], None);
    assert!(!out.ok);
    assert!(out.stderr.contains("machine offline"), "{}", out.stderr);
}
