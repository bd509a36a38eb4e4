//! End-to-end encryption against a relay that attacks its own sessions
//! (`lifeline-relay-evil`, the real relay with test hooks switched on): a
//! flipped byte on a spliced stream fails the session on both ends with an
//! integrity error, and a key of the relay's own in place of the machine's
//! is caught, by the handshake on a console that never saw the machine and
//! by the pinned key on one that did; with an organisation's key, a relay
//! posing as a technician with a key of its own is refused by the machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::{Duration, Instant};
use util::World;

const PW: &str = "admin-password-1";
const TECH_PW: &str = "tech-password-1";

fn wait_log(w: &World, file: &str, needle: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(w.path(file)).unwrap_or_default();
        if log.contains(needle) || start.elapsed() > limit {
            return log;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_flipped_byte_on_a_spliced_stream_fails_the_session_on_both_ends() {
    let mut w = World::new();
    w.add_user("alice", "admin", PW);
    // Byte 300 of the agent's answer stream: past the handshake (50 bytes),
    // inside the fourth echoed probe record (82 bytes each, its length
    // field at 296 and 297).
    w.start_evil_relay(&["--flip-at", "300"]);
    w.login("alice", PW);
    let token = w.token("alice", &[]);
    assert!(w.enroll("pc-e2e", &token).ok);
    let _agent = w.start_agent("pc-e2e");
    w.wait_online("alice", "pc-e2e", true, Duration::from_secs(20));

    let out = w.console("alice", &["ping", "pc-e2e", "--count", "20"], None);
    assert!(!out.ok, "a tampered stream went unnoticed: {}", out.stdout);
    assert!(
        out.stderr.contains("end-to-end integrity check failed"),
        "{}",
        out.stderr
    );
    let relay = std::fs::read_to_string(w.path("relay.log")).unwrap();
    assert!(
        relay.contains("test hook: flipped one spliced byte"),
        "{relay}"
    );
    let agent = wait_log(
        &w,
        "agent-pc-e2e.log",
        "end-to-end integrity check failed",
        Duration::from_secs(10),
    );
    assert!(
        agent.contains("end-to-end integrity check failed"),
        "the agent did not learn of the tampering:\n{agent}"
    );
}

#[test]
fn a_relay_that_swaps_in_its_own_key_is_caught() {
    let mut w = World::new();
    w.add_user("alice", "admin", PW);
    w.add_user("bob", "technician", TECH_PW);
    let trigger = w.path("swap-now");
    let trigger_arg = trigger.to_string_lossy().into_owned();
    w.start_evil_relay(&["--swap-key-when", &trigger_arg]);
    w.login("alice", PW);
    w.login("bob", TECH_PW);
    let token = w.token("alice", &[]);
    assert!(w.enroll("pc-key", &token).ok);
    let _agent = w.start_agent("pc-key");
    w.wait_online("alice", "pc-key", true, Duration::from_secs(20));
    // Honest so far: alice's console pins the machine's key.
    let out = w.console("alice", &["ping", "pc-key", "--count", "3"], None);
    assert!(
        out.ok,
        "ping through the still honest relay: {}",
        out.stderr
    );
    let id = w.machines("alice")[0]["id"].as_str().unwrap().to_string();
    let pins =
        std::fs::read_to_string(w.path("console-alice").join("known_machines.json")).unwrap();
    assert!(pins.contains(&id), "{pins}");

    // Now the relay hands out a key of its own.
    std::fs::write(&trigger, b"").unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // bob never saw the machine: the handshake fails, on both ends.
    let out = w.console("bob", &["ping", "pc-key", "--count", "3"], None);
    assert!(!out.ok, "a swapped key went unnoticed: {}", out.stdout);
    assert!(
        out.stderr.contains("end-to-end handshake failed"),
        "{}",
        out.stderr
    );
    let agent = wait_log(
        &w,
        "agent-pc-key.log",
        "end-to-end handshake failed",
        Duration::from_secs(10),
    );
    assert!(agent.contains("end-to-end handshake failed"), "{agent}");

    // alice pinned the real key: refused before any stream, naming both.
    let out = w.console("alice", &["ping", "pc-key", "--count", "3"], None);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("end-to-end key of pc-key") && out.stderr.contains("changed"),
        "{}",
        out.stderr
    );
    let relay = std::fs::read_to_string(w.path("relay.log")).unwrap();
    assert!(
        relay.contains("test hook: handing the console a key"),
        "{relay}"
    );

    // The relay honest again: the pin fits, sessions work.
    std::fs::remove_file(&trigger).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = w.console("alice", &["ping", "pc-key", "--count", "3"], None);
    assert!(out.ok, "ping after the attack: {}", out.stderr);
}

#[test]
fn with_an_organisation_key_the_relay_cannot_pose_as_a_technician() {
    let mut w = World::new();
    w.add_user("alice", "admin", PW);
    w.add_user("bob", "technician", TECH_PW);
    let trigger = w.path("pose-now");
    let trigger_arg = trigger.to_string_lossy().into_owned();
    w.start_evil_relay(&["--pose-as-technician-when", &trigger_arg]);
    w.login("alice", PW);
    w.login("bob", TECH_PW);
    // The organisation's key is made on alice's machine; the machine gets
    // its public half at enrollment, not from the relay.
    let out = w.console("alice", &["org", "init"], None);
    assert!(out.ok, "{}", out.stderr);
    let org = out.stdout.trim().to_string();
    assert_eq!(org.len(), 64, "{org}");
    let mode = std::fs::metadata(w.path("console-alice").join("org-key.json"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let token = w.token("alice", &[]);
    let addr = w.addr();
    let fp = w.fingerprint.clone();
    let out = w.agent_cmd(
        "pc-org",
        &[
            "enroll",
            "--relay",
            &addr,
            "--fingerprint",
            &fp,
            "--token",
            &token,
            "--org-key",
            &org,
        ],
    );
    assert!(out.ok, "{}", out.stderr);
    let _agent = w.start_agent("pc-org");
    w.wait_online("alice", "pc-org", true, Duration::from_secs(20));

    // bob's key has no approval yet: the machine refuses him on its own.
    let out = w.console("bob", &["ping", "pc-org", "--count", "2"], None);
    assert!(!out.ok, "an unapproved technician got a session");
    assert!(
        out.stderr.contains("the machine declined")
            && out.stderr.contains("does not vouch for bob")
            && out.stderr.contains("no approval"),
        "{}",
        out.stderr
    );

    // bob reads his key to alice, who approves it.
    let out = w.console("bob", &["session-key"], None);
    assert!(out.ok, "{}", out.stderr);
    let key = out.stdout.trim().to_string();
    let out = w.console("alice", &["org", "approve", "bob", "--key", &key], None);
    assert!(out.ok, "{}", out.stderr);
    let out = w.console("bob", &["ping", "pc-org", "--count", "2"], None);
    assert!(out.ok, "the approved technician: {}", out.stderr);
    // The approval belongs to bob's device, not to one login.
    let out = w.console("bob", &["logout"], None);
    assert!(out.ok, "{}", out.stderr);
    w.login("bob", TECH_PW);
    let out = w.console("bob", &["ping", "pc-org", "--count", "2"], None);
    assert!(out.ok, "after logging in again: {}", out.stderr);
    // alice's own key was never approved: she is refused like anyone.
    let out = w.console("alice", &["ping", "pc-org", "--count", "2"], None);
    assert!(
        !out.ok && out.stderr.contains("does not vouch for alice"),
        "{}",
        out.stderr
    );

    // Now the relay offers the machine a key of its own as bob's, keeping
    // bob's approval: the machine sees the approval is for another key.
    std::fs::write(&trigger, b"").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = w.console("bob", &["ping", "pc-org", "--count", "2"], None);
    assert!(!out.ok, "the relay posed as bob unnoticed: {}", out.stdout);
    assert!(
        out.stderr.contains("approval is for another key"),
        "{}",
        out.stderr
    );
    let agent = wait_log(
        &w,
        "agent-pc-org.log",
        "another key",
        Duration::from_secs(5),
    );
    assert!(agent.contains("refused"), "{agent}");
    let relay = std::fs::read_to_string(w.path("relay.log")).unwrap();
    assert!(relay.contains("test hook: offering the machine"), "{relay}");

    // The approval is in the audit trail.
    let out = w.console("alice", &["audit", "--json"], None);
    assert!(out.stdout.contains("technician-approved"), "{}", out.stdout);
}
