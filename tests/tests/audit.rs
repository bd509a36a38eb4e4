//! The audit log records privileged actions and detects tampering.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::Duration;
use util::World;

const PW: &str = "admin-password-1";

#[test]
fn privileged_actions_are_chained_and_tampering_is_named() {
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
    w.login("alice", PW);
    w.login("tom", "tech-password");
    w.login("ann", "audit-password");
    let bad = w.try_login("x", "tom", "wrong-password");
    assert!(!bad.ok);
    let token = w.token("alice", &["--group", "lab"]);
    assert!(w.enroll("pc-lab", &token).ok);
    let _agent = w.start_agent("pc-lab");
    w.wait_online("alice", "pc-lab", true, Duration::from_secs(10));
    assert!(
        w.console("tom", &["ping", "pc-lab", "--count", "2"], None)
            .ok
    );

    // The session-ended entry is written when the relay sees the end.
    let out = w.wait_console("ann", &["audit", "--json"], Duration::from_secs(10), |o| {
        o.stdout.contains("session-ended")
    });
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["actor"].as_str().unwrap(), r["action"].as_str().unwrap()))
        .collect();
    for want in [
        ("local:root", "user-added"),
        ("alice", "login"),
        ("tom", "login-failed"),
        ("alice", "enroll-token-created"),
        ("enrollment", "machine-enrolled"),
        ("tom", "session-started"),
        ("tom", "session-ended"),
    ] {
        assert!(
            actions
                .iter()
                .any(|a| a.1 == want.1 && (a.0 == want.0 || want.0 == "local:root")),
            "missing {want:?} in {actions:?}"
        );
    }
    let ended = rows
        .iter()
        .find(|r| r["action"] == "session-ended")
        .unwrap();
    let details: serde_json::Value =
        serde_json::from_str(ended["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["reason"], "technician closed the session");
    assert!(
        details["bytes_to_agent"].as_u64().unwrap() >= 128,
        "{details}"
    );
    let seqs: Vec<u64> = rows.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());

    let by_tom = w.console("ann", &["audit", "--actor", "tom", "--json"], None);
    let rows_tom: Vec<serde_json::Value> = serde_json::from_str(&by_tom.stdout).unwrap();
    assert!(rows_tom.iter().all(|r| r["actor"] == "tom"));

    let out = w.console("ann", &["audit", "verify"], None);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("audit log intact: "),
        "{}",
        out.stdout
    );

    let out = w.console("tom", &["audit"], None);
    assert!(
        out.stderr
            .contains("only admins and auditors read the audit log"),
        "{}",
        out.stderr
    );

    // Edit one row by hand, as an intruder with file access would.
    let db = rusqlite::Connection::open(w.path("relay/lifeline.db")).unwrap();
    let target = rows
        .iter()
        .find(|r| r["action"] == "enroll-token-created")
        .unwrap()["seq"]
        .as_i64()
        .unwrap();
    db.execute(
        "UPDATE audit SET actor = 'mallory' WHERE seq = ?1",
        [target],
    )
    .unwrap();
    drop(db);
    let out = w.console("ann", &["audit", "verify"], None);
    assert!(!out.ok);
    assert!(
        out.stderr.contains(&format!(
            "audit log broken at entry {target}: its contents do not match its hash"
        )),
        "{}",
        out.stderr
    );
}
