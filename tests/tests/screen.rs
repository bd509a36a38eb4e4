//! Screen sharing end to end under Xvfb: what the technician's headless
//! viewer records is exactly what the X server shows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::{process::Command, time::Duration};
use util::{World, Xvfb, read_png};

const PW: &str = "admin-password-1";

/// Pixels that differ between two 1024-wide RGB screens, outside the
/// session indicator's corner (top right, 380×330 at 16 px from the
/// edges): the indicator is on screen while the session lives (so in the
/// recording) and gone when the screenshot is taken after it.
fn differing_pixels(a: &[u8], b: &[u8]) -> usize {
    let in_indicator = |i: usize| {
        let (x, y) = (i % 1024, i / 1024);
        (1024 - 380 - 16..1024 - 16).contains(&x) && (16..346).contains(&y)
    };
    a.chunks(3)
        .zip(b.chunks(3))
        .enumerate()
        .filter(|(i, (x, y))| x != y && !in_indicator(*i))
        .count()
}

#[test]
fn the_viewer_records_exactly_what_the_display_shows_and_follows_changes() {
    let x = Xvfb::start(1024, 768);
    assert!(x.run("xsetroot", &["-solid", "#336699"]).ok);
    let _term = x.spawn(
        "xterm",
        &[
            "-geometry",
            "60x10+40+40",
            "-bg",
            "white",
            "-fg",
            "black",
            "-e",
            "sh",
            "-c",
            "echo LIFELINE-SCREEN-TEST; exec sleep 600",
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));

    let mut w = World::new();
    w.admin_and_machine("alice", PW, "desk");
    let _agent = w.share_display("alice", "desk", &x.display, Duration::from_secs(10));

    let rec = w.path("rec");
    let out = w.console(
        "alice",
        &[
            "connect",
            "desk",
            "--headless",
            "--duration",
            "2s",
            "--record",
            rec.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.ok,
        "connect failed: {}\n{}",
        out.stderr,
        std::fs::read_to_string(w.path("agent-desk.log")).unwrap_or_default()
    );
    assert!(out.stdout.contains("1024x768"), "{}", out.stdout);
    let (pw, ph, png_rgb) = read_png(&rec.join("last.png"));
    let (xw, xh, xwd_rgb) = x.screenshot();
    assert_eq!((pw, ph), (xw, xh));
    assert_eq!(
        differing_pixels(&png_rgb, &xwd_rgb),
        0,
        "last.png differs from the X server's screen"
    );
    assert!(
        util::banner_pixels(&png_rgb) > 5000,
        "the session indicator was not on screen"
    );
    // The root colour is really there (not, say, an all-black frame).
    let root_px = &png_rgb[(700 * 1024 + 900) * 3..][..3];
    assert_eq!(root_px, [0x33, 0x66, 0x99]);
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rec.join("stats.json")).unwrap()).unwrap();
    for key in [
        "frames",
        "bytes",
        "fps",
        "kbit_per_s",
        "latency_ms_p50",
        "latency_ms_p99",
    ] {
        assert!(stats[key].is_number(), "stats.json lacks {key}: {stats}");
    }
    assert!(stats["frames"].as_u64().unwrap() >= 1);

    // Change the screen during a session: the change arrives.
    let rec2 = w.path("rec2");
    let mut viewer = Command::new(util::bin("lifeline"))
        .args([
            "connect",
            "desk",
            "--headless",
            "--duration",
            "3s",
            "--record",
            rec2.to_str().unwrap(),
        ])
        .env("LIFELINE_CONFIG_DIR", w.path("console-alice"))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    assert!(x.run("xsetroot", &["-solid", "#aa2211"]).ok);
    assert!(viewer.wait().unwrap().success());
    let (_, _, png2) = read_png(&rec2.join("last.png"));
    let (_, _, xwd2) = x.screenshot();
    assert_eq!(&png2[(700 * 1024 + 900) * 3..][..3], [0xaa, 0x22, 0x11]);
    assert_eq!(differing_pixels(&png2, &xwd2), 0);
}

#[test]
fn no_display_is_a_clear_error_for_the_technician() {
    let mut w = World::new();
    w.admin_and_machine("alice", PW, "server");
    let _agent = w.start_agent_with("server", &[], &["--unattended"]);
    w.wait_online("alice", "server", true, Duration::from_secs(10));
    let out = w.console(
        "alice",
        &["connect", "server", "--headless", "--duration", "1s"],
        None,
    );
    assert!(!out.ok);
    assert!(
        out.stderr.contains("no display (DISPLAY unset)"),
        "{}",
        out.stderr
    );
}

#[test]
fn without_unattended_access_the_user_must_consent() {
    let mut w = World::new();
    w.admin_and_machine("alice", PW, "laptop");
    let _agent = w.start_agent_with("laptop", &[], &[]);
    w.wait_online("alice", "laptop", true, Duration::from_secs(10));
    let out = w.console(
        "alice",
        &["connect", "laptop", "--headless", "--duration", "1s"],
        None,
    );
    assert!(!out.ok);
    assert!(
        out.stderr.contains(
            "the machine declined: nobody can be asked: this machine has no display (DISPLAY unset) \
             and the machine's policy is attended"
        ),
        "{}",
        out.stderr
    );
    // Once: the relay's answer is not repeated as its own cause.
    assert_eq!(
        out.stderr.matches("the machine declined").count(),
        1,
        "{}",
        out.stderr
    );
}

#[test]
fn the_viewer_follows_a_resolution_change_mid_session() {
    let x = Xvfb::start_resizable(1024, 768);
    assert!(x.run("xsetroot", &["-solid", "#336699"]).ok);
    let mut w = World::new();
    w.admin_and_machine("alice", PW, "desk");
    let _agent = w.share_display("alice", "desk", &x.display, Duration::from_secs(10));
    let rec = w.path("rec");
    let viewer = w.headless_bg("alice", "desk", 6, &rec);
    std::thread::sleep(Duration::from_secs(2));
    let out = x.run("xrandr", &["-s", "800x600"]);
    assert!(out.ok, "xrandr: {}", out.stderr);
    let out = viewer.join().unwrap();
    assert!(out.ok, "connect: {}", out.stderr);
    assert!(out.stdout.contains("800x600"), "{}", out.stdout);
    let (pw, ph, rgb) = read_png(&rec.join("last.png"));
    assert_eq!((pw, ph), (800, 600), "the last frame keeps the old size");
    let (xw, xh, _) = x.screenshot();
    assert_eq!((xw, xh), (800, 600));
    // The root colour fills the new, smaller screen (bottom left corner,
    // away from the session indicator).
    let px = &rgb[(590 * 800 + 10) * 3..][..3];
    assert_eq!(px, [0x33, 0x66, 0x99]);
}

#[test]
fn smooth_motion_moves_video_at_half_resolution_and_ends_on_the_exact_screen() {
    use lifeline_proto::screen::synth::{Synth, Workload};
    use lifeline_tests::bench_screen::painter::Painter;

    let x = Xvfb::start(1024, 768);
    let mut w = World::new();
    w.admin_and_machine("alice", PW, "desk");
    let _agent = w.share_display("alice", "desk", &x.display, Duration::from_secs(10));
    let rec = w.path("rec");
    let args = [
        "connect",
        "desk",
        "--headless",
        "--duration",
        "8s",
        "--smooth-motion",
        "--record",
        rec.to_str().unwrap(),
    ];
    let viewer = w.console_bg("alice", &args);
    std::thread::sleep(Duration::from_secs(2));
    // Full-screen video-like motion for three seconds, then a still screen.
    let mut painter = Painter::connect(&x.display, 1024).unwrap();
    let mut synth = Synth::new(Workload::Video, 1024, 768, 5).unwrap();
    painter
        .play(&mut synth, 20, Duration::from_secs(3))
        .unwrap();
    let out = viewer.join().unwrap();
    assert!(out.ok, "connect: {}\n{}", out.stderr, out.stdout);
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rec.join("stats.json")).unwrap()).unwrap();
    assert!(
        stats["smooth_frames"].as_u64().unwrap() >= 5,
        "the video never went smooth: {stats}"
    );
    assert_eq!(stats["last_exact"], true, "{stats}");
    assert!(out.stdout.contains("smooth motion:"), "{}", out.stdout);
    // Once the screen holds still the viewer has it bit for bit.
    let (_, _, png) = read_png(&rec.join("last.png"));
    let (_, _, xwd) = x.screenshot();
    assert_eq!(
        differing_pixels(&png, &xwd),
        0,
        "last.png is not the screen"
    );
}

#[test]
fn the_benchmark_painter_puts_every_frame_on_the_screen_pixel_for_pixel() {
    use lifeline_proto::screen::synth::{Synth, Workload};
    use lifeline_tests::bench_screen::painter::Painter;

    // The painter writes through a shared segment (MIT-SHM) where the
    // server has one, as Xvfb does: a whole frame, then only what changed.
    let x = Xvfb::start(320, 200);
    let mut painter = Painter::connect(&x.display, 320).unwrap();
    let rgb = |f: &lifeline_proto::screen::Frame| -> Vec<u8> {
        f.pixels()
            .iter()
            .flat_map(|p| [(p >> 16) as u8, (p >> 8) as u8, *p as u8])
            .collect()
    };
    for workload in [Workload::Video, Workload::Typing, Workload::WindowDrag] {
        let mut synth = Synth::new(workload, 320, 200, 11).unwrap();
        painter.show(synth.frame()).unwrap();
        assert!(
            painter.uses_shm(),
            "Xvfb has MIT-SHM: the painter must use it"
        );
        let (w, h, shot) = x.screenshot();
        assert_eq!((w, h), (320, 200));
        assert!(shot == rgb(synth.frame()), "{workload:?}: first frame");
        painter
            .play(&mut synth, 30, Duration::from_millis(300))
            .unwrap();
        let (_, _, shot) = x.screenshot();
        let want = rgb(synth.frame());
        let wrong = shot
            .chunks(3)
            .zip(want.chunks(3))
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(wrong, 0, "{workload:?}: pixels differ after play");
    }
}
