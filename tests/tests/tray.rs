//! The tray under Xvfb with a real tray host (trayer): the icon docks and
//! is visible, its menu opens the "Request help" dialog, the dialog opens a
//! ticket with a screenshot, and the icon's colour follows the ticket.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use lifeline_agent::ui::{
    help_dialog,
    tray::{self, TrayState},
};
use std::time::{Duration, Instant};
use util::{Proc, World, Xvfb};

const PW: &str = "admin-password-1";

/// A window's absolute position and size.
fn geometry(x: &Xvfb, title: &str) -> Option<(i32, i32, i32, i32)> {
    let out = x.run("xwininfo", &["-name", title]);
    if !out.ok {
        return None;
    }
    let field = |name: &str| -> Option<i32> {
        out.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|v| v.trim().parse().ok())
    };
    Some((
        field("Absolute upper-left X")?,
        field("Absolute upper-left Y")?,
        field("Width")?,
        field("Height")?,
    ))
}

fn wait_geometry(x: &Xvfb, title: &str, limit: Duration) -> (i32, i32, i32, i32) {
    let start = Instant::now();
    loop {
        if let Some(g) = geometry(x, title).filter(|g| g.2 > 1) {
            return g;
        }
        assert!(start.elapsed() < limit, "no window {title:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Pixels of colour `rgb` inside a rectangle of the screen.
fn count(x: &Xvfb, (left, top, width, height): (i32, i32, i32, i32), rgb: [u8; 3]) -> usize {
    let (w, _, px) = x.screenshot();
    let mut n = 0;
    for y in top.max(0)..top + height {
        for xx in left.max(0)..left + width {
            let i = ((y as u32 * w + xx as u32) * 3) as usize;
            if px.get(i..i + 3) == Some(&rgb[..]) {
                n += 1;
            }
        }
    }
    n
}

fn wait_colour(x: &Xvfb, rect: (i32, i32, i32, i32), rgb: [u8; 3], min: usize, what: &str) {
    let start = Instant::now();
    loop {
        let n = count(x, rect, rgb);
        if n >= min {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: {n} pixels of {rgb:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn click_at(x: &Xvfb, px: i32, py: i32) {
    let out = x.run("xdotool", &["mousemove", &px.to_string(), &py.to_string()]);
    assert!(out.ok, "{}", out.stderr);
    std::thread::sleep(Duration::from_millis(200));
    let out = x.run("xdotool", &["click", "1"]);
    assert!(out.ok, "{}", out.stderr);
}

/// Clicks a point of the egui window titled `title`.
fn click_window(x: &Xvfb, title: &str, at: (f32, f32)) {
    let id = x.run("xdotool", &["search", "--name", title]);
    let win = id.stdout.lines().next().expect("window").to_string();
    x.click_in(&win, at);
}

macro_rules! centre {
    ($r:expr) => {{
        let c = $r.center();
        (c.x, c.y)
    }};
}

#[test]
fn tray_menu_opens_the_help_dialog_and_the_icon_follows_the_ticket() {
    let x = Xvfb::start(1024, 768);
    let _host: Proc = x.spawn(
        "trayer",
        &[
            "--edge",
            "top",
            "--align",
            "right",
            "--widthtype",
            "request",
            "--height",
            "24",
            "--SetDockType",
            "true",
            "--transparent",
            "false",
            "--tint",
            "0x303030",
        ],
    );
    let mut w = World::new();
    w.admin_and_machine("alice", PW, "desk-1");
    let _agent = w.start_agent_with("desk-1", &[("DISPLAY", x.display.as_str())], &[]);
    w.wait_online("alice", "desk-1", true, Duration::from_secs(10));

    // The icon docks in the tray and shows the idle colour.
    let icon = wait_geometry(&x, tray::ICON_TITLE, Duration::from_secs(20));
    assert_eq!((icon.2, icon.3), (22, 22), "{icon:?}");
    assert!(icon.1 < 30, "the icon sits in the top panel: {icon:?}");
    wait_colour(&x, icon, TrayState::Idle.rgb(), 60, "idle icon");

    // Its menu opens the dialog.
    click_at(&x, icon.0 + 11, icon.1 + 11);
    let menu = wait_geometry(&x, tray::MENU_TITLE, Duration::from_secs(10));
    click_at(
        &x,
        menu.0 + 40,
        menu.1 + 4 + tray::LINE_HEIGHT as i32 + tray::LINE_HEIGHT as i32 / 2,
    );
    wait_geometry(&x, help_dialog::TITLE, Duration::from_secs(30));
    let dialog = geometry(&x, help_dialog::TITLE).unwrap();
    // Painted: the dialog's teal banner.
    wait_colour(&x, dialog, TrayState::Idle.rgb(), 3000, "dialog banner");
    std::thread::sleep(Duration::from_millis(500));

    // The user writes what is wrong, keeps the screenshot, sends.
    click_window(&x, help_dialog::TITLE, centre!(help_dialog::TEXT));
    let out = x.run(
        "xdotool",
        &["type", "--delay", "30", "Screen flickers after lunch"],
    );
    assert!(out.ok, "{}", out.stderr);
    std::thread::sleep(Duration::from_millis(300));
    click_window(&x, help_dialog::TITLE, centre!(help_dialog::SEND));

    let out = w.wait_console(
        "alice",
        &["tickets", "--json"],
        Duration::from_secs(20),
        |o| o.stdout.contains("Screen flickers after lunch"),
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let id = rows[0]["id"].as_u64().unwrap().to_string();
    let out = w.console("alice", &["ticket", "show", &id, "--json"], None);
    let t: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        t["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "screenshot" && a["bytes"].as_u64().unwrap() > 1000),
        "{t}"
    );

    // Help requested: the icon turns amber; resolved: idle again.
    let amber = TrayState::HelpRequested {
        ticket: 1,
        status: "new".into(),
    }
    .rgb();
    wait_colour(&x, icon, amber, 60, "help-requested icon");
    click_window(&x, help_dialog::TITLE, centre!(help_dialog::CANCEL));
    assert!(
        w.console("alice", &["ticket", "assign", &id, "alice"], None)
            .ok
    );
    assert!(w.console("alice", &["ticket", "resolve", &id], None).ok);
    wait_colour(
        &x,
        icon,
        TrayState::Idle.rgb(),
        60,
        "idle icon after resolve",
    );

    // "My machine ID" shows the ID; a click closes the note.
    let line = |menu: (i32, i32, i32, i32), n: i32| {
        (
            menu.0 + 40,
            menu.1 + 4 + n * tray::LINE_HEIGHT as i32 + tray::LINE_HEIGHT as i32 / 2,
        )
    };
    click_at(&x, icon.0 + 11, icon.1 + 11);
    let menu = wait_geometry(&x, tray::MENU_TITLE, Duration::from_secs(10));
    let (mx, my) = line(menu, 2);
    click_at(&x, mx, my);
    let note = wait_geometry(&x, tray::NOTE_TITLE, Duration::from_secs(10));
    click_at(&x, note.0 + 40, note.1 + 10);
    let start = Instant::now();
    while geometry(&x, tray::NOTE_TITLE).is_some() {
        assert!(start.elapsed() < Duration::from_secs(10), "the note stays");
        std::thread::sleep(Duration::from_millis(200));
    }

    // While a technician is connected the icon is red and the menu's
    // "Stop session" ends the session.
    let out = w.console(
        "alice",
        &["machine", "set-policy", "desk-1", "unattended"],
        None,
    );
    assert!(out.ok, "{}", out.stderr);
    let job = w.console_bg(
        "alice",
        &["connect", "desk-1", "--headless", "--duration", "60s"],
    );
    let live = TrayState::Live {
        technician: "alice".into(),
    };
    wait_colour(&x, icon, live.rgb(), 60, "live icon");
    click_at(&x, icon.0 + 11, icon.1 + 11);
    let menu = wait_geometry(&x, tray::MENU_TITLE, Duration::from_secs(10));
    assert_eq!(
        tray::menu_items(&live)[3],
        tray::Item::StopSession,
        "the fourth line"
    );
    let (mx, my) = line(menu, 3);
    click_at(&x, mx, my);
    let out = job.join().unwrap();
    assert!(
        out.stderr
            .contains("session ended: user stopped the session"),
        "{}",
        out.stderr
    );
    wait_colour(&x, icon, TrayState::Idle.rgb(), 60, "idle icon after stop");
}
