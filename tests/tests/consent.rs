//! Consent under Xvfb with real processes: the prompt on the user's screen
//! (allow, view only, deny, no answer), the indicator while a session is
//! live, Stop from the indicator, chat with the user, and unattended
//! machines that connect without a prompt but still show the indicator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use lifeline_agent::ui::{indicator, prompt};
use std::time::{Duration, Instant};
use util::{World, Xvfb};

const PW: &str = "admin-password-1";

/// The X window id of the first window titled `title`, waiting up to
/// `limit` for it to appear.
fn wait_window(x: &Xvfb, title: &str, limit: Duration) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < limit {
        let out = x.run("xdotool", &["search", "--name", title]);
        if let Some(id) = out.stdout.lines().next() {
            // Mapped is not painted: wait for the red banner both windows
            // draw first (software GL on a busy machine can take a while).
            while start.elapsed() < limit && util::banner_pixels(&x.screenshot().2) < 3000 {
                std::thread::sleep(Duration::from_millis(200));
            }
            // One more frame for egui to lay out the buttons under the banner.
            std::thread::sleep(Duration::from_millis(300));
            return Some(id.to_string());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// Waits until no window is titled `title`.
fn wait_gone(x: &Xvfb, title: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if x.run("xdotool", &["search", "--name", title])
            .stdout
            .trim()
            .is_empty()
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

macro_rules! centre {
    ($r:expr) => {{
        let c = $r.center();
        (c.x, c.y)
    }};
}

#[test]
fn the_user_decides_sees_and_stops() {
    let x = Xvfb::start(1280, 800);
    let mut w = World::new();
    w.admin_and_machine("alice", PW, "laptop");
    let _agent = w.start_agent_with("laptop", &[("DISPLAY", x.display.as_str())], &[]);
    w.wait_online("alice", "laptop", true, Duration::from_secs(10));
    let rec = w.path("rec");

    eprintln!("step: Allow");
    // Allow: the session starts, the indicator is on the user's screen
    // (and so in the technician's picture of it), and goes when it ends.
    let job = w.console_bg(
        "alice",
        &[
            "connect",
            "laptop",
            "--headless",
            "--duration",
            "5s",
            "--record",
            rec.to_str().unwrap(),
        ],
    );
    let win = wait_window(&x, prompt::TITLE, Duration::from_secs(20)).expect("no consent prompt");
    let (_, _, shot) = x.screenshot();
    assert!(
        util::banner_pixels(&shot) > 5000,
        "the prompt's banner is not on screen"
    );
    x.click_in(&win, centre!(prompt::ALLOW));
    assert!(
        wait_window(&x, indicator::TITLE, Duration::from_secs(15)).is_some(),
        "no indicator while the session is live"
    );
    let out = job.join().unwrap();
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    let (_, _, last) = util::read_png(&rec.join("last.png"));
    assert!(
        util::banner_pixels(&last) > 5000,
        "the indicator is not in the technician's picture of the screen"
    );
    assert!(
        wait_gone(&x, indicator::TITLE, Duration::from_secs(10)),
        "the indicator stayed after the session ended"
    );

    eprintln!("step: Deny");
    // Deny.
    let job = w.console_bg(
        "alice",
        &["connect", "laptop", "--headless", "--duration", "2s"],
    );
    let win = wait_window(&x, prompt::TITLE, Duration::from_secs(20)).expect("no consent prompt");
    x.click_in(&win, centre!(prompt::DENY));
    let out = job.join().unwrap();
    assert!(!out.ok);
    assert!(out.stderr.contains("user declined"), "{}", out.stderr);
    assert!(wait_gone(&x, prompt::TITLE, Duration::from_secs(5)));

    eprintln!("step: View only");
    // View only: the technician asked for control and got a view; the
    // agent refuses the keystrokes.
    let job = w.console_bg("alice", &["type", "laptop", "nope"]);
    let win = wait_window(&x, prompt::TITLE, Duration::from_secs(20)).expect("no consent prompt");
    x.click_in(&win, centre!(prompt::ALLOW_VIEW));
    let out = job.join().unwrap();
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("view-only session: input refused by the agent"),
        "{}",
        out.stderr
    );

    eprintln!("step: Stop from");
    // Stop from the indicator: the technician's stream ends at once with
    // the user's reason.
    let job = w.console_bg(
        "alice",
        &["connect", "laptop", "--headless", "--duration", "60s"],
    );
    let win = wait_window(&x, prompt::TITLE, Duration::from_secs(20)).expect("no consent prompt");
    x.click_in(&win, centre!(prompt::ALLOW));
    let ind = wait_window(&x, indicator::TITLE, Duration::from_secs(15)).expect("no indicator");
    std::thread::sleep(Duration::from_millis(1500));
    // The user takes control away first (the relay audits it), then stops.
    x.click_in(&ind, centre!(indicator::VIEW_ONLY));
    std::thread::sleep(Duration::from_millis(800));
    x.click_in(&ind, centre!(indicator::STOP));
    let stopped = Instant::now();
    let out = job.join().unwrap();
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("session ended: user stopped the session"),
        "{}",
        out.stderr
    );
    // Generous, so a busy machine does not fail it; the figure is printed.
    eprintln!(
        "stop clicked → console ended: {} ms",
        stopped.elapsed().as_millis()
    );
    assert!(stopped.elapsed() < Duration::from_secs(20));
    assert!(wait_gone(&x, indicator::TITLE, Duration::from_secs(5)));

    eprintln!("step: Chat:");
    // Chat: no prompt, the indicator carries it; the user's answer comes
    // back to the technician.
    let job = w.console_bg(
        "alice",
        &[
            "chat",
            "laptop",
            "-m",
            "Hello, this is the help desk",
            "--wait-reply",
            "60s",
        ],
    );
    let ind = wait_window(&x, indicator::TITLE, Duration::from_secs(15)).expect("no indicator");
    std::thread::sleep(Duration::from_millis(1000));
    x.click_in(&ind, centre!(indicator::CHAT_INPUT));
    let out = x.run(
        "xdotool",
        &["type", "--delay", "30", "thanks, it works now"],
    );
    assert!(out.ok, "{}", out.stderr);
    x.click_in(&ind, centre!(indicator::SEND));
    let out = job.join().unwrap();
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains(": thanks, it works now"),
        "{}",
        out.stdout
    );

    eprintln!("step: Ask for control");
    // Ask for control: the user first grants a view, then control.
    assert!(wait_gone(&x, indicator::TITLE, Duration::from_secs(10)));
    let job = w.console_bg(
        "alice",
        &[
            "connect",
            "laptop",
            "--headless",
            "--duration",
            "1s",
            "--ask-control",
        ],
    );
    let win = wait_window(&x, prompt::TITLE, Duration::from_secs(20)).expect("no consent prompt");
    x.click_in(&win, centre!(prompt::ALLOW_VIEW));
    // The request for control follows at once, in a new prompt (the X
    // server may give it the old window's id).
    std::thread::sleep(Duration::from_millis(2000));
    let win =
        wait_window(&x, prompt::TITLE, Duration::from_secs(20)).expect("no prompt for control");
    x.click_in(&win, centre!(prompt::ALLOW));
    let out = job.join().unwrap();
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stderr.contains("the user allowed watching only"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("the user gave control"),
        "{}",
        out.stdout
    );
    assert!(wait_gone(&x, indicator::TITLE, Duration::from_secs(10)));

    eprintln!("step: Clipboard, user");
    // Clipboard, user to technician: only once the user shares it.
    let job = w.console_bg(
        "alice",
        &[
            "chat",
            "laptop",
            "-m",
            "Could you copy the error text?",
            "--wait-reply",
            "60s",
        ],
    );
    let ind = wait_window(&x, indicator::TITLE, Duration::from_secs(15)).expect("no indicator");
    std::thread::sleep(Duration::from_millis(800));
    x.click_in(&ind, centre!(indicator::CLIPBOARD));
    std::thread::sleep(Duration::from_millis(1200));
    let out = x.run(
        "sh",
        &[
            "-c",
            "printf 'E1234 disk full' | xclip -selection clipboard >/dev/null 2>&1",
        ],
    );
    assert!(out.ok, "{}", out.stderr);
    let out = job.join().unwrap();
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("clipboard: E1234 disk full"),
        "{}",
        out.stdout
    );
    assert!(wait_gone(&x, indicator::TITLE, Duration::from_secs(10)));

    eprintln!("step: Clipboard, technician");
    // Clipboard, technician to user: sent once the user shares.
    let job = w.console_bg(
        "alice",
        &["chat", "laptop", "--clipboard", "fix for ticket 12"],
    );
    let ind = wait_window(&x, indicator::TITLE, Duration::from_secs(15)).expect("no indicator");
    std::thread::sleep(Duration::from_millis(800));
    x.click_in(&ind, centre!(indicator::CLIPBOARD));
    let out = job.join().unwrap();
    assert!(out.ok, "{}", out.stderr);
    let start = Instant::now();
    loop {
        let got = x.run("xclip", &["-o", "-selection", "clipboard"]);
        if got.stdout == "fix for ticket 12" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the user's clipboard holds {:?}",
            got.stdout
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    eprintln!("step: No answer");
    // No answer: denied after 30 s with that message; the prompt goes.
    let job = w.console_bg(
        "alice",
        &["connect", "laptop", "--headless", "--duration", "2s"],
    );
    assert!(wait_window(&x, prompt::TITLE, Duration::from_secs(20)).is_some());
    let out = job.join().unwrap();
    assert!(!out.ok);
    assert!(
        out.stderr.contains("no answer within 30 s"),
        "{}",
        out.stderr
    );
    assert!(wait_gone(&x, prompt::TITLE, Duration::from_secs(5)));

    eprintln!("step: Unattended");
    // Unattended: no prompt, but the indicator is on screen.
    let out = w.console(
        "alice",
        &["machine", "set-policy", "laptop", "unattended"],
        None,
    );
    assert!(out.ok, "{}", out.stderr);
    let out = w.console(
        "alice",
        &[
            "connect",
            "laptop",
            "--headless",
            "--duration",
            "4s",
            "--record",
            rec.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.ok, "{}", out.stderr);
    let (_, _, last) = util::read_png(&rec.join("last.png"));
    assert!(
        util::banner_pixels(&last) > 5000,
        "no indicator on an unattended session"
    );

    eprintln!("step: The audit");
    // The audit log has what happened.
    let out = w.console("alice", &["audit"], None);
    assert!(out.stdout.contains("session-started"), "{}", out.stdout);
    assert!(out.stdout.contains("session-permission"), "{}", out.stdout);

    eprintln!("step: Session logs");
    // Every session has a log: who agreed, what changed, the chat, the
    // clipboard (length only: the relay does not keep the text by default).
    let out = w.console(
        "alice",
        &["sessions", "--machine", "laptop", "--json"],
        None,
    );
    assert!(out.ok, "{}", out.stderr);
    let logs: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let find = |f: &dyn Fn(&serde_json::Value) -> bool| {
        logs.iter()
            .find(|l| f(l))
            .unwrap_or_else(|| panic!("no such session log in {}", out.stdout))
            .clone()
    };
    let stopped = find(&|l| l["ended"] == "user stopped the session");
    assert!(
        stopped["consent"]
            .as_str()
            .unwrap()
            .starts_with("allowed control by "),
        "{stopped}"
    );
    assert!(
        stopped["consent"]
            .as_str()
            .unwrap()
            .ends_with(" at the prompt")
    );
    assert_eq!(stopped["decision"], "accepted");
    assert_eq!(
        stopped["permission_changes"][0]["permission"], "View",
        "{stopped}"
    );
    assert!(stopped["frames"].as_u64().unwrap() > 0, "{stopped}");
    assert!(stopped["mean_fps"].as_f64().unwrap() > 0.0, "{stopped}");
    let chat = find(&|l| {
        l["chat"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x["text"] == "thanks, it works now"))
    });
    assert_eq!(chat["chat"][0]["from"], "alice", "{chat}");
    assert_eq!(chat["chat"][0]["text"], "Hello, this is the help desk");
    let clip = find(&|l| {
        l["clipboard"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x["direction"] == "ToTechnician"))
    });
    assert_eq!(clip["clipboard"][0]["chars"], 15, "{clip}");
    assert!(clip["clipboard"][0]["text"].is_null(), "{clip}");
    assert!(!out.stdout.contains("E1234 disk full"));
    let declined = find(&|l| l["decision"].as_str().unwrap().starts_with("declined"));
    assert!(declined["started_unix"].is_null(), "{declined}");
    // The readable form, and the ticket each session without one got.
    let id = chat["session"].as_u64().unwrap().to_string();
    let out = w.console("alice", &["session", "show", &id], None);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("technician   alice"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("(opened for sessions without a ticket)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(": Hello, this is the help desk"),
        "{}",
        out.stdout
    );
    let ticket = chat["ticket"].as_u64().unwrap().to_string();
    let out = w.console("alice", &["ticket", "show", &ticket, "--json"], None);
    let t: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(t["status"], "resolved", "{t}");
    assert_eq!(t["assignee"], "alice", "{t}");
    // Alice's ticketless sessions on the laptop within the hour share it.
    let on_it: Vec<String> = t["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session"].as_u64().unwrap().to_string())
        .collect();
    assert!(on_it.contains(&id), "{t}");
    assert!(on_it.len() >= 3, "{t}");
    let out = w.console("alice", &["tickets", "--json"], None);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let shared = rows
        .iter()
        .filter(|r| {
            r["title"]
                .as_str()
                .unwrap()
                .starts_with("Remote session by alice")
        })
        .count();
    assert_eq!(shared, 1, "{}", out.stdout);
}
