//! Hardening with real processes: logout revokes the token on the relay,
//! an admin revokes a machine (its agent is dropped at once and cannot come
//! back) and an enrollment token, and a person with a TOTP second factor
//! cannot log in without a fresh code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use lifeline_relay::totp;
use std::time::{Duration, Instant};
use util::World;

const PW: &str = "admin-password-1";
const TECH_PW: &str = "tech-password-1";

fn audit_actions(w: &World) -> String {
    let out = w.console("alice", &["audit", "--json"], None);
    assert!(out.ok, "audit: {}", out.stderr);
    out.stdout
}

#[test]
fn revoking_a_machine_drops_its_agent_now_and_for_good() {
    let mut w = World::new();
    w.admin_and_machine("alice", PW, "pc-rev");
    w.add_user("tom", "technician", TECH_PW);
    w.login("tom", TECH_PW);
    let mut agent = w.start_agent("pc-rev");
    w.wait_online("alice", "pc-rev", true, Duration::from_secs(20));

    // Only admins revoke.
    let out = w.console("tom", &["machine", "revoke", "pc-rev"], None);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("only admins revoke machines"),
        "{}",
        out.stderr
    );
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "agent still runs"
    );

    let out = w.console("alice", &["machine", "revoke", "pc-rev"], None);
    assert!(out.ok, "revoke: {}", out.stderr);
    assert!(out.stdout.contains("pc-rev: revoked"), "{}", out.stdout);

    // The agent is dropped, tries again, is refused and stops by itself.
    let start = Instant::now();
    let status = loop {
        if let Some(status) = agent.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the revoked agent still runs; its log:\n{}",
            std::fs::read_to_string(w.path("agent-pc-rev.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(!status.success(), "a revoked agent exits with an error");
    let log = std::fs::read_to_string(w.path("agent-pc-rev.log")).unwrap();
    assert!(log.contains("machine revoked"), "{log}");
    assert!(
        log.contains("machine credential invalid or revoked"),
        "{log}"
    );

    let rows = w.machines("alice");
    let row = rows.iter().find(|m| m["hostname"] == "pc-rev").unwrap();
    assert_eq!(row["revoked"], true, "{row}");
    assert_eq!(row["online"], false, "{row}");
    let table = w.console("alice", &["machines"], None).stdout;
    assert!(
        table
            .lines()
            .any(|l| l.contains("pc-rev") && l.contains("revoked")),
        "{table}"
    );
    let out = w.console("tom", &["ping", "pc-rev", "--count", "1"], None);
    assert!(!out.ok, "a revoked machine answers no ping");

    // Starting it again changes nothing.
    let out = w.agent_cmd("pc-rev", &["run", "--no-tray"]);
    assert!(!out.ok);
    assert!(out.stderr.contains("revoked"), "{}", out.stderr);

    let audit = audit_actions(&w);
    assert!(audit.contains("machine-revoked"), "{audit}");

    // Enrolled anew (over its old, revoked identity) it works, and its
    // hostname means the new machine.
    let token = w.token("alice", &[]);
    let addr = w.addr();
    let args = [
        "enroll",
        "--relay",
        &addr,
        "--fingerprint",
        &w.fingerprint,
        "--token",
        &token,
    ];
    let out = w.agent_cmd("pc-rev", &args);
    assert!(!out.ok);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    let out = w.agent_cmd("pc-rev", &[&args[..], &["--force"]].concat());
    assert!(out.ok, "enroll again: {}", out.stderr);
    let _agent = w.start_agent("pc-rev");
    let start = Instant::now();
    while !w
        .machines("alice")
        .iter()
        .any(|m| m["hostname"] == "pc-rev" && m["revoked"] == false && m["online"] == true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not online again"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = w.console("tom", &["ping", "pc-rev", "--count", "1"], None);
    assert!(out.ok, "ping the re-enrolled machine: {}", out.stderr);
}

#[test]
fn a_revoked_enrollment_token_enrolls_nothing() {
    let mut w = World::new();
    w.admin_and_machine("alice", PW, "pc-first");
    let token = w.token("alice", &["--uses", "10"]);
    let out = w.console("alice", &["enroll-token", "revoke", &token], None);
    assert!(out.ok, "revoke: {}", out.stderr);
    let out = w.enroll("pc-late", &token);
    assert!(!out.ok, "enrolled with a revoked token");
    assert!(
        out.stderr.contains("enrollment token invalid"),
        "{}",
        out.stderr
    );
    let out = w.console(
        "alice",
        &["enroll-token", "revoke", "lle_not-a-token"],
        None,
    );
    assert!(!out.ok);
    assert!(
        out.stderr.contains("no such enrollment token"),
        "{}",
        out.stderr
    );
    assert!(audit_actions(&w).contains("enroll-token-revoked"));
}

#[test]
fn logout_revokes_the_saved_token_on_the_relay() {
    let mut w = World::new();
    w.add_user("alice", "admin", PW);
    w.start_relay();
    w.login("alice", PW);
    let saved = w.path("console-alice").join("console.json");
    let copy = std::fs::read(&saved).unwrap();

    let out = w.console("alice", &["logout"], None);
    assert!(out.ok, "logout: {}", out.stderr);
    assert!(out.stdout.contains("relay revoked"), "{}", out.stdout);
    assert!(!saved.exists(), "the saved login is deleted");

    // A copy of the token (a backup, a thief) no longer works.
    std::fs::write(&saved, copy).unwrap();
    let out = w.console("alice", &["whoami"], None);
    assert!(!out.ok, "a logged-out token still works");
    assert!(
        out.stderr.contains("session expired or revoked"),
        "{}",
        out.stderr
    );
    w.login("alice", PW);
    assert!(audit_actions(&w).contains("\"logout\""));

    // A lost laptop: the admin disables the person; the saved token stops
    // working at once, and so does the password, until enabled again.
    w.add_user("tom", "technician", TECH_PW);
    w.login("tom", TECH_PW);
    let out = w.relay_cmd(&["user", "disable", "tom"]);
    assert!(out.ok, "{}", out.stderr);
    let out = w.console("tom", &["whoami"], None);
    assert!(!out.ok, "a disabled person's token still works");
    assert!(!w.try_login("tom", "tom", TECH_PW).ok);
    assert!(w.relay_cmd(&["user", "list"]).stdout.contains("(disabled)"));
    assert!(w.relay_cmd(&["user", "enable", "tom"]).ok);
    w.login("tom", TECH_PW);
    assert!(audit_actions(&w).contains("user-disabled"));
}

fn login_with(w: &World, user: &str, password: &str, code: Option<&str>) -> util::Out {
    let addr = w.addr();
    let mut args = vec![
        "login",
        "--relay",
        &addr,
        "--fingerprint",
        &w.fingerprint,
        "--user",
        user,
    ];
    if let Some(code) = code {
        args.extend(["--totp", code]);
    }
    w.console(user, &args, Some(password))
}

#[test]
fn totp_second_factor_needs_a_fresh_code() {
    let mut w = World::new();
    w.add_user("alice", "admin", PW);
    w.add_user("bob", "technician", TECH_PW);
    w.start_relay();
    w.login("alice", PW);

    let out = w.relay_cmd(&["user", "totp", "enable", "bob"]);
    assert!(out.ok, "totp enable: {}", out.stderr);
    let secret_line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .expect("the secret is printed");
    let secret = totp::from_base32(secret_line).expect("base32");
    assert_eq!(secret.len(), totp::SECRET_LEN);
    assert!(out.stdout.contains("otpauth://totp/Lifeline:bob?secret="));
    let list = w.relay_cmd(&["user", "list"]).stdout;
    assert!(
        list.lines()
            .any(|l| l.starts_with("bob") && l.contains("totp")),
        "{list}"
    );

    // The password alone is not enough.
    let out = login_with(&w, "bob", TECH_PW, None);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("needs a one-time code"),
        "{}",
        out.stderr
    );

    // A wrong code is refused.
    let now = lifeline_net::unix_secs();
    let right = totp::code(&secret, now);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let out = login_with(&w, "bob", TECH_PW, Some(&wrong));
    assert!(!out.ok);
    assert!(
        out.stderr.contains("invalid one-time code"),
        "{}",
        out.stderr
    );

    // The right code with the wrong password says nothing about the code.
    let out = login_with(&w, "bob", "not-his-password", Some(&right));
    assert!(!out.ok);
    assert!(
        out.stderr.contains("invalid user or password"),
        "{}",
        out.stderr
    );

    let out = login_with(&w, "bob", TECH_PW, Some(&right));
    assert!(out.ok, "login with the code: {}", out.stderr);
    assert!(w.console("bob", &["whoami"], None).stdout.contains("bob"));

    // The same code never works twice.
    let out = login_with(&w, "bob", TECH_PW, Some(&right));
    assert!(!out.ok, "a replayed code was accepted");
    assert!(
        out.stderr.contains("invalid one-time code"),
        "{}",
        out.stderr
    );

    let audit = audit_actions(&w);
    assert!(audit.contains("totp-enabled"), "{audit}");
    assert!(audit.contains("no code"), "{audit}");
    assert!(audit.contains("wrong code"), "{audit}");

    // Disabled, the password is enough again.
    assert!(w.relay_cmd(&["user", "totp", "disable", "bob"]).ok);
    let out = login_with(&w, "bob", TECH_PW, None);
    assert!(out.ok, "login without the factor: {}", out.stderr);
    assert!(!w.relay_cmd(&["user", "totp", "enable", "nobody"]).ok);
}
