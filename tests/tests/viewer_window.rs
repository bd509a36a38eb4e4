//! The viewer window end to end: an agent shares one Xvfb, the technician's
//! `lifeline connect` opens its window on a second Xvfb (Mesa software GL),
//! and the technician's screen shows the remote colour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};
use util::{Proc, World, Xvfb, bin, parse_ppm};

const PW: &str = "admin-password-1";
const REMOTE: [u8; 3] = [0x33, 0x66, 0x99];

/// The viewer's window on `x` as (x, y, width, height), from `xwininfo`.
fn viewer_geometry(x: &Xvfb) -> Option<(u32, u32, u32, u32)> {
    let out = x.run("xwininfo", &["-root", "-tree"]);
    out.stdout
        .lines()
        .filter(|l| l.contains("Lifeline"))
        .find_map(|l| {
            // `0x400003 "Lifeline — desk": ("…" "…")  1024x828+0+0  +0+0`
            let geom = l.split_whitespace().find(|w| {
                w.contains('x') && w.contains('+') && w.starts_with(|c: char| c.is_ascii_digit())
            })?;
            let (size, pos) = geom.split_once('+')?;
            let (w, h) = size.split_once('x')?;
            let (px, py) = pos.split_once('+')?;
            let g = (
                px.parse().ok()?,
                py.parse().ok()?,
                w.parse().ok()?,
                h.parse().ok()?,
            );
            (g.2 > 1 && g.3 > 1).then_some(g)
        })
}

/// The technician's screen as RGB. A GL window can make `xwdtopnm` write
/// 16-bit samples, so scale them to 8 bits before parsing.
fn screenshot(x: &Xvfb) -> (u32, u32, Vec<u8>) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "xwd -root -silent -display {} | xwdtopnm 2>/dev/null | pnmdepth 255",
            x.display
        ))
        .output()
        .expect("xwd");
    assert!(out.status.success(), "xwd failed");
    parse_ppm(&out.stdout)
}

/// Share of the pixels inside `rect` that have the remote colour.
fn remote_share(shot: &(u32, u32, Vec<u8>), rect: (u32, u32, u32, u32)) -> f64 {
    colour_share(shot, rect, REMOTE)
}

/// Share of the pixels inside `rect` that have `colour`.
fn colour_share(shot: &(u32, u32, Vec<u8>), rect: (u32, u32, u32, u32), colour: [u8; 3]) -> f64 {
    let (sw, sh, rgb) = shot;
    let (x0, y0, w, h) = rect;
    let (x1, y1) = ((x0 + w).min(*sw), (y0 + h).min(*sh));
    let mut hits = 0u64;
    let mut all = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = ((y * sw + x) * 3) as usize;
            all += 1;
            hits += u64::from(rgb[i..i + 3] == colour);
        }
    }
    hits as f64 / all.max(1) as f64
}

/// The first pure-white pixel inside `rect`, scanning rows from the top:
/// the top-left corner of the remote xterm as the viewer draws it.
fn white_box(shot: &(u32, u32, Vec<u8>), rect: (u32, u32, u32, u32)) -> Option<(u32, u32)> {
    let (sw, sh, rgb) = shot;
    let (x0, y0, w, h) = rect;
    for y in y0..(y0 + h).min(*sh) {
        for x in x0..(x0 + w).min(*sw) {
            let i = ((y * sw + x) * 3) as usize;
            // A run of white, not a lone highlight.
            if rgb[i..i + 3] == [255, 255, 255]
                && x + 8 < *sw
                && rgb[i + 24..i + 27] == [255, 255, 255]
            {
                return Some((x, y));
            }
        }
    }
    None
}

fn save_png(path: &str, (w, h, rgb): &(u32, u32, Vec<u8>)) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(file, *w, *h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(rgb).unwrap();
}

/// One software-GL window at a time: two of them redrawing 60 frames a
/// second (and their agents, relays and X servers) saturate two cores, and
/// the typing check then waits on the machine rather than on the viewer.
static ONE_WINDOW: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The user's screen (1024x768, the remote colour) and the technician's,
/// with the one-window lock held.
fn two_screens() -> (std::sync::MutexGuard<'static, ()>, Xvfb, Xvfb) {
    let one = ONE_WINDOW
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let remote = Xvfb::start(1024, 768);
    assert!(remote.run("xsetroot", &["-solid", "#336699"]).ok);
    (one, remote, Xvfb::start(1280, 1024))
}

/// A relay, admin alice, and machine "desk" sharing `remote` unattended.
fn desk_sharing(remote: &Xvfb) -> (World, Proc) {
    let mut w = World::new();
    w.admin_and_machine("alice", PW, "desk");
    let agent = w.share_display("alice", "desk", &remote.display, Duration::from_secs(10));
    (w, agent)
}

/// `lifeline connect desk` as alice, its window on `tech`, stderr to `log`.
fn spawn_viewer(w: &World, tech: &Xvfb, log: &std::path::Path) -> Proc {
    Proc {
        child: Command::new(bin("lifeline"))
            .args(["connect", "desk"])
            .env("LIFELINE_CONFIG_DIR", w.path("console-alice"))
            .env("DISPLAY", &tech.display)
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("spawn lifeline connect"),
        name: "viewer",
    }
}

#[test]
fn the_viewer_window_comes_back_by_itself_after_a_relay_restart() {
    let (_one, remote, tech) = two_screens();
    let (mut w, _agent) = desk_sharing(&remote);
    let log = w.path("viewer.log");
    let mut viewer = spawn_viewer(&w, &tech, &log);
    let viewer_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let mut wait_for = |colour: [u8; 3], within: Duration| {
        let start = Instant::now();
        loop {
            let shot = screenshot(&tech);
            let share = viewer_geometry(&tech).map_or(0.0, |r| colour_share(&shot, r, colour));
            if share > 0.6 {
                return;
            }
            if let Ok(Some(status)) = viewer.child.try_wait() {
                panic!("the viewer exited ({status}): {}", viewer_log());
            }
            assert!(
                start.elapsed() < within,
                "the window never showed {colour:?} (best share {share:.2}): {}",
                viewer_log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    wait_for(REMOTE, Duration::from_secs(30));
    // An orderly restart, as for an upgrade; meanwhile the user's screen
    // changes, and the window must show the new colour from a new session.
    w.relay.as_mut().unwrap().terminate();
    assert!(remote.run("xsetroot", &["-solid", "#993366"]).ok);
    w.start_relay();
    wait_for([0x99, 0x33, 0x66], Duration::from_secs(60));
    let text = viewer_log();
    assert!(text.contains("reconnecting"), "{text}");
    assert!(text.contains("reconnected: session"), "{text}");
}

#[test]
fn the_viewer_window_shows_the_remote_screen() {
    let (_one, remote, tech) = two_screens();
    // A white xterm on the user's screen, for the technician to type into.
    let out_dir = tempfile::tempdir().unwrap();
    let term = Command::new("xterm")
        .args([
            "-u8",
            "-bg",
            "white",
            "-fg",
            "black",
            "-geometry",
            "60x12+0+0",
            "-e",
            "sh",
        ])
        .env("DISPLAY", &remote.display)
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .current_dir(out_dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _term = Proc {
        child: term,
        name: "xterm",
    };

    let (w, _agent) = desk_sharing(&remote);

    let log = w.path("viewer.log");
    let mut viewer = spawn_viewer(&w, &tech, &log);

    // Software GL and the first frame take a moment; poll rather than guess.
    let start = Instant::now();
    let (rect, share, shot) = loop {
        let rect = viewer_geometry(&tech);
        let shot = screenshot(&tech);
        let share = rect.map_or(0.0, |r| remote_share(&shot, r));
        if share > 0.6 || start.elapsed() > Duration::from_secs(30) {
            break (rect, share, shot);
        }
        if let Ok(Some(status)) = viewer.child.try_wait() {
            panic!(
                "the viewer exited early ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    if let Ok(path) = std::env::var("LIFELINE_VIEWER_SCREENSHOT") {
        save_png(&path, &shot);
    }

    // Input from the window: click into the xterm as drawn in the viewer,
    // type; the keys land in the user's xterm.
    let win = rect.expect("viewer window");
    let white = white_box(&shot, win).expect("the remote xterm is not in the viewer");
    // Inside the xterm, near its top-left corner (the remote pointer, drawn
    // elsewhere, may be white too).
    let (cx, cy) = (white.0 + 30, white.1 + 30);
    let id = tech.run("xdotool", &["search", "--name", "Lifeline"]);
    let id = id
        .stdout
        .lines()
        .next()
        .expect("viewer window id")
        .to_string();
    assert!(tech.run("xdotool", &["windowfocus", &id]).ok);
    let (sx, sy) = (cx.to_string(), cy.to_string());
    assert!(tech.run("xdotool", &["mousemove", &sx, &sy]).ok);
    std::thread::sleep(Duration::from_millis(300));
    assert!(tech.run("xdotool", &["click", "1"]).ok);
    std::thread::sleep(Duration::from_millis(300));
    let target = out_dir.path().join("typed.txt");
    let line = format!("echo from-the-viewer > {}", target.display());
    assert!(tech.run("xdotool", &["type", "--delay", "20", &line]).ok);
    assert!(tech.run("xdotool", &["key", "Return"]).ok);
    let start = Instant::now();
    let typed = loop {
        if let Ok(t) = std::fs::read_to_string(&target)
            && t.ends_with('\n')
        {
            break t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the viewer's keystrokes did not reach the xterm; viewer log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(typed, "from-the-viewer\n");
    viewer.terminate();
    let rect = rect.unwrap_or_else(|| {
        panic!(
            "no Lifeline window on the technician's display; viewer log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    assert!(
        share > 0.6,
        "only {:.0}% of the window {rect:?} shows the remote colour; viewer log:\n{}",
        share * 100.0,
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // Fit mode: the 4:3 remote screen fills the window's width.
    assert!(rect.2 >= 600, "window {rect:?}");
}

#[test]
fn without_a_display_the_viewer_points_to_headless() {
    let w = World::new();
    let out = Command::new(bin("lifeline"))
        .args(["connect", "desk"])
        .env("LIFELINE_CONFIG_DIR", w.path("console-nobody"))
        .env_remove("DISPLAY")
        .output()
        .expect("run lifeline");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no X display"), "{stderr}");
    assert!(stderr.contains("--headless"), "{stderr}");
}
