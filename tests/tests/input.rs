//! Remote control under Xvfb: keystrokes and clicks from the console land
//! in an xterm on the agent's display; a view-only session refuses them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::Duration;
use util::{World, Xvfb};

const PW: &str = "admin-password-1";

#[test]
fn typing_and_clicking_through_the_relay_reach_an_xterm() {
    let x = Xvfb::start(1024, 768);
    let mut w = World::new();
    let out_dir = w.path("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let _term = x.xterm_in(&out_dir);
    std::thread::sleep(Duration::from_millis(1500));

    w.admin_and_machine("alice", PW, "desk");
    let _agent = w.share_display("alice", "desk", &x.display, Duration::from_secs(10));

    // Click inside the xterm: the pointer lands exactly there (and, with no
    // window manager, keyboard focus follows the pointer).
    let out = w.console("alice", &["click", "desk", "213", "117"], None);
    assert!(out.ok, "{}", out.stderr);
    let loc = x.run("xdotool", &["getmouselocation", "--shell"]);
    assert!(loc.stdout.contains("X=213\nY=117\n"), "{}", loc.stdout);

    let target = out_dir.join("out.txt");
    let cmd = format!("echo hello-ä-€ > {}", target.display());
    let out = w.console("alice", &["type", "desk", &cmd, "--enter"], None);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with(&format!("typed {} characters on desk", cmd.chars().count())),
        "{}",
        out.stdout
    );
    let text = util::wait_for_line(&target, Duration::from_secs(10))
        .expect("the typed command did not run");
    assert_eq!(text, "hello-ä-€\n");

    // View-only: the agent refuses, nothing happens, and it is counted.
    let nope = out_dir.join("nope.txt");
    let cmd = format!("echo nope > {}", nope.display());
    let out = w.console(
        "alice",
        &["type", "desk", &cmd, "--enter", "--view-only"],
        None,
    );
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("view-only session: input refused by the agent"),
        "{}",
        out.stderr
    );
    let out = w.console("alice", &["key", "desk", "return", "--view-only"], None);
    assert!(!out.ok);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(!nope.exists(), "view-only input was injected");

    let out = w.wait_console(
        "alice",
        &["audit", "--json"],
        Duration::from_secs(10),
        |o| o.stdout.matches("session-ended").count() >= 4,
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let refused: Vec<u64> = rows
        .iter()
        .filter(|r| r["action"] == "session-ended")
        .map(|r| serde_json::from_str::<serde_json::Value>(r["details"].as_str().unwrap()).unwrap()["refused_input"].as_u64().unwrap())
        .collect();
    assert_eq!(refused, [0, 0, 1, 1], "refused input per session");
}
