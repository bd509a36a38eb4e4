//! Inventory end to end: an agent collecting from a fixture tree, uploads
//! by category, history, fleet search, export and group permissions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::{path::Path, process::Command, time::Duration};
use util::World;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../inventory/tests/fixtures/root"
);
const PW: &str = "admin-password-1";

fn count(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

#[test]
fn inventory_uploads_by_category_and_answers_fleet_questions() {
    let mut w = World::new();
    w.add_user("alice", "admin", PW);
    w.start_relay();
    w.login("alice", PW);
    let status = Command::new("cp")
        .args(["-r", FIXTURE])
        .arg(w.path("root"))
        .status()
        .unwrap();
    assert!(status.success());
    let root = w.path("root");
    let token = w.token("alice", &["--group", "finance"]);
    assert!(w.enroll("pc-fin", &token).ok);
    let _agent = w.start_agent_env(
        "pc-fin",
        &[("LIFELINE_INVENTORY_ROOT", root.to_str().unwrap())],
    );

    let out = w.wait_inventory("alice", "pc-fin");
    let inv: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(inv["system"]["hostname"], "workstation-042");
    assert_eq!(
        inv["system"]["os"]["pretty_name"],
        "Debian GNU/Linux 12 (bookworm)"
    );
    let packages = inv["software"]["packages"].as_array().unwrap();
    assert!(
        packages.iter().any(|p| p["name"] == "openssl"),
        "{packages:?}"
    );
    let before = packages.len();

    let text = w.console("alice", &["inventory", "show", "pc-fin"], None);
    assert!(text.ok, "{}", text.stderr);
    assert!(
        text.stdout
            .contains("OS        Debian GNU/Linux 12 (bookworm)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains(&format!("Software   {before} packages")),
        "{}",
        text.stdout
    );

    // Install a package in the fixture, ask for a refresh: only software moves.
    let log = w.path("relay.log");
    let stored_sw = count(&log, "inventory stored category=software");
    let stored_hw = count(&log, "inventory stored category=hardware");
    let stored_sys = count(&log, "inventory stored category=system");
    assert_eq!((stored_sw, stored_hw, stored_sys), (1, 1, 1));
    let status_file = root.join("var/lib/dpkg/status");
    let mut text = std::fs::read_to_string(&status_file).unwrap();
    text.push_str("\nPackage: lifeline-test-pkg\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0~rc1\nDescription: test\n");
    std::fs::write(&status_file, text).unwrap();
    let out = w.console("alice", &["inventory", "refresh", "pc-fin"], None);
    assert!(out.ok, "{}", out.stderr);
    let hist = w.wait_console(
        "alice",
        &["inventory", "history", "pc-fin"],
        Duration::from_secs(15),
        |o| o.stdout.contains("lifeline-test-pkg"),
    );
    let line = hist
        .stdout
        .lines()
        .find(|l| l.contains("lifeline-test-pkg"))
        .unwrap();
    assert!(
        line.contains("software") && line.contains("added") && line.contains("1.0~rc1"),
        "{line}"
    );
    assert_eq!(count(&log, "inventory stored category=software"), 2);
    assert_eq!(count(&log, "inventory stored category=hardware"), 1);
    assert_eq!(count(&log, "inventory stored category=system"), 1);

    // Fleet search with Debian version ordering: 1.0~rc1 < 1.0.
    let found = |args: &[&str]| {
        let mut a = vec!["inventory", "find"];
        a.extend_from_slice(args);
        a.push("--json");
        let out = w.console("alice", &a, None);
        assert!(out.ok, "{}", out.stderr);
        serde_json::from_str::<Vec<serde_json::Value>>(&out.stdout).unwrap()
    };
    let rows = found(&["--software", "lifeline-test-pkg", "--version-lt", "1.0"]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["hostname"], "pc-fin");
    assert_eq!(rows[0]["value"], "1.0~rc1");
    assert!(found(&["--software", "lifeline-test-pkg", "--version-ge", "1.0"]).is_empty());
    assert!(found(&["--software", "no-such-package"]).is_empty());
    let cpu = inv["hardware"]["cpu"]["model"]
        .as_str()
        .unwrap()
        .to_string();
    let rows = found(&["--hardware", &format!("cpu.model={}", cpu.to_uppercase())]);
    assert_eq!(rows.len(), 1, "hardware search is case-insensitive");

    // Export round trip.
    let json_path = w.path("export.json");
    let out = w.console(
        "alice",
        &[
            "inventory",
            "export",
            "--format",
            "json",
            "--out",
            json_path.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.ok, "{}", out.stderr);
    let exported: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(exported.len(), 1);
    assert_eq!(
        exported[0]["inventory"]["software"]["packages"]
            .as_array()
            .unwrap()
            .len(),
        before + 1
    );
    let csv = w.console("alice", &["inventory", "export", "--format", "csv"], None);
    assert!(csv.stdout.starts_with(
        "machine_id,hostname,group,os,cpu,memory_bytes,package,version,arch,source\n"
    ));
    assert_eq!(csv.stdout.lines().count(), 1 + before + 1);
    assert!(
        csv.stdout.lines().any(|l| l.contains(",pc-fin,finance,")
            && l.contains(",lifeline-test-pkg,1.0~rc1,amd64,dpkg"))
    );
}

#[test]
fn technicians_see_only_their_groups() {
    let mut w = World::new();
    w.add_user("alice", "admin", PW);
    w.relay_cmd_env(
        &[
            "user",
            "add",
            "tom",
            "--role",
            "technician",
            "--groups",
            "helpdesk",
        ],
        &[("LIFELINE_PASSWORD", "tech-password")],
    );
    w.relay_cmd_env(
        &[
            "user",
            "add",
            "fay",
            "--role",
            "technician",
            "--groups",
            "finance,hr",
        ],
        &[("LIFELINE_PASSWORD", "tech-password")],
    );
    w.start_relay();
    w.login("alice", PW);
    w.login("tom", "tech-password");
    w.login("fay", "tech-password");
    let token = w.token("alice", &["--group", "finance"]);
    assert!(w.enroll("pc-fin", &token).ok);
    let _agent = w.start_agent_env("pc-fin", &[("LIFELINE_INVENTORY_ROOT", FIXTURE)]);
    w.wait_online("fay", "pc-fin", true, Duration::from_secs(10));

    assert!(w.machines("tom").is_empty(), "tom is not in finance");
    let out = w.console("tom", &["inventory", "show", "pc-fin"], None);
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("pc-fin is in group finance, outside your groups (helpdesk)"),
        "{}",
        out.stderr
    );
    let out = w.console("tom", &["ping", "pc-fin"], None);
    assert!(out.stderr.contains("outside your groups"), "{}", out.stderr);
    let out = w.console(
        "tom",
        &["inventory", "find", "--software", "openssl", "--json"],
        None,
    );
    assert_eq!(out.stdout.trim(), "[]");

    w.wait_inventory("fay", "pc-fin");
    let out = w.console(
        "fay",
        &["inventory", "find", "--software", "openssl", "--json"],
        None,
    );
    assert!(out.stdout.contains("pc-fin"), "{}", out.stdout);
}
