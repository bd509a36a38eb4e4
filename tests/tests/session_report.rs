//! A session's report (its chat and clipboard) reaches the relay however
//! much was said: more chat than one message may carry is cut to its
//! newest lines, both when the session ends and when a relay crash left it
//! for the next connection, and the agent serves on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use util::{World, Xvfb};

const PW: &str = "admin-password-1";
/// Lines of nearly the longest a chat line may be: 8.8 MB, more than a
/// message's 8 MiB.
const LINES: usize = 1100;
const LINE_LEN: usize = 8000;

fn line(i: usize) -> String {
    format!("{i:05} {}", "x".repeat(LINE_LEN - 6))
}

/// `lifeline chat MACHINE` as `who`, its lines fed on stdin, which is kept
/// open until the child is dropped or `close` is called.
struct Chat {
    child: std::process::Child,
}

impl Chat {
    fn start(w: &World, who: &str, machine: &str) -> Self {
        let child = Command::new(util::bin("lifeline"))
            .args(["chat", machine])
            .env("LIFELINE_CONFIG_DIR", w.path(&format!("console-{who}")))
            .env_remove("LIFELINE_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Self { child }
    }

    fn say_all(&mut self) {
        let stdin = self.child.stdin.as_mut().unwrap();
        let sent = (0..LINES)
            .try_for_each(|i| writeln!(stdin, "{}", line(i)))
            .and_then(|()| stdin.flush());
        if let Err(e) = sent {
            use std::io::Read;
            let mut err = String::new();
            if let Some(mut e) = self.child.stderr.take() {
                e.read_to_string(&mut err).unwrap();
            }
            panic!("the chat stopped taking lines ({e}): {err}");
        }
        // The agent takes them off the stream while the session is open.
        std::thread::sleep(Duration::from_secs(3));
    }

    /// Ends the chat (stdin closed) and returns its stderr.
    fn close(mut self) -> String {
        use std::io::Read;
        drop(self.child.stdin.take());
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut err).unwrap();
        }
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{err}");
        err
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first log of `machine`'s sessions that `pick` accepts, waiting up
/// to `limit` for it.
fn wait_log(
    w: &World,
    machine: &str,
    limit: Duration,
    pick: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let out = w.console("alice", &["sessions", "--machine", machine, "--json"], None);
        if out.ok {
            let logs: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
            if let Some(l) = logs.into_iter().find(|l| pick(l)) {
                return l;
            }
        }
        assert!(
            start.elapsed() < limit,
            "no such session log of {machine} within {limit:?}; agent log:\n{}",
            tail(&w.path(&format!("agent-{machine}.log")))
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The log's chat is the newest lines said, in order, the rest counted as
/// dropped, and it fits in the report's limit.
fn assert_newest_chat(log: &serde_json::Value) {
    let chat = log["chat"].as_array().unwrap();
    let dropped = log["chat_dropped"].as_u64().unwrap() as usize;
    assert!(!chat.is_empty(), "the report's chat is missing: {log:.300}");
    assert!(dropped > 0, "nothing was dropped: {} lines", chat.len());
    assert_eq!(chat.len() + dropped, LINES);
    for (k, c) in chat.iter().enumerate() {
        assert_eq!(c["text"].as_str().unwrap(), line(dropped + k), "line {k}");
        assert_eq!(c["from"], "alice");
    }
    let kept = chat.len() * LINE_LEN;
    assert!(
        kept <= lifeline_proto::session_log::MAX_REPORT_BYTES,
        "{kept}"
    );
    eprintln!(
        "{} lines kept ({kept} bytes), {dropped} dropped",
        chat.len()
    );
}

/// Agent `name` is online with a fresh chat session answering.
fn chat_still_works(w: &World, name: &str) {
    let out = w.console("alice", &["chat", name, "-m", "still there?"], None);
    assert!(out.ok, "{}", out.stderr);
    let log = wait_log(w, name, Duration::from_secs(20), |l| {
        l["chat"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x["text"] == "still there?"))
    });
    assert_eq!(log["chat_dropped"], 0, "{log}");
}

/// A relay with admin alice, and machine `name` online, serving a display
/// of its own unattended (the chat shows in the indicator window there).
fn unattended_with_display(name: &str) -> (World, Xvfb, util::Proc) {
    let mut w = World::new();
    w.admin_and_machine("alice", PW, name);
    let x = Xvfb::start(1024, 768);
    let agent = w.share_display("alice", name, &x.display, Duration::from_secs(20));
    (w, x, agent)
}

#[test]
fn chat_too_large_for_one_message_lands_on_the_log_newest_lines_first() {
    let (w, _x, _agent) = unattended_with_display("pc-chat");

    let mut chat = Chat::start(&w, "alice", "pc-chat");
    chat.say_all();
    chat.close();
    let log = wait_log(&w, "pc-chat", Duration::from_secs(30), |l| {
        l["chat_dropped"].as_u64().is_some_and(|d| d > 0)
    });
    assert_newest_chat(&log);
    // The agent kept its connection: it never had to send what it could not.
    let agent_log = std::fs::read_to_string(w.path("agent-pc-chat.log")).unwrap();
    assert!(
        agent_log.contains("session report too large"),
        "{}",
        tail(&w.path("agent-pc-chat.log"))
    );
    assert!(
        !agent_log.contains("disconnected from relay"),
        "{}",
        tail(&w.path("agent-pc-chat.log"))
    );
    chat_still_works(&w, "pc-chat");
}

#[test]
fn a_relay_crash_with_too_much_chat_in_the_session_is_reported_on_reconnect() {
    let (mut w, _x, _agent) = unattended_with_display("pc-cut");

    let mut chat = Chat::start(&w, "alice", "pc-cut");
    chat.say_all();
    // No orderly end: the report waits for the agent's next connection.
    w.relay.as_mut().unwrap().kill9();
    w.start_relay();
    drop(chat);
    let log = wait_log(&w, "pc-cut", Duration::from_secs(90), |l| {
        l["ended"] == "relay stopped unexpectedly"
    });
    assert_newest_chat(&log);
    chat_still_works(&w, "pc-cut");
}

#[test]
fn a_listing_larger_than_a_message_comes_in_pages() {
    let (w, _x, _agent) = unattended_with_display("pc-big");
    // Three sessions with 4 MiB of chat each: together more than one
    // answer may carry (in one answer, the listing was refused).
    for _ in 0..3 {
        let mut chat = Chat::start(&w, "alice", "pc-big");
        chat.say_all();
        chat.close();
    }
    let start = Instant::now();
    let logs = loop {
        let out = w.console(
            "alice",
            &["sessions", "--machine", "pc-big", "--json"],
            None,
        );
        assert!(out.ok, "{}", out.stderr);
        let logs: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
        let full = |l: &serde_json::Value| l["chat_dropped"].as_u64().is_some_and(|d| d > 0);
        if logs.len() == 3 && logs.iter().all(full) {
            eprintln!("{} bytes of JSON", out.stdout.len());
            assert!(out.stdout.len() > lifeline_proto::MAX_FRAME_LEN);
            break logs;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} logs so far",
            logs.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    for log in &logs {
        assert_newest_chat(log);
    }
    // The table: a header and the three, newest first.
    let out = w.console("alice", &["sessions", "--machine", "pc-big"], None);
    assert!(out.ok, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    for (line, log) in lines[1..].iter().zip(&logs) {
        let id = log["session"].as_u64().unwrap().to_string();
        assert!(line.trim_start().starts_with(&id), "{line}");
    }
}
