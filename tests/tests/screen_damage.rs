//! The agent reads an X screen only when something was drawn on it
//! (DAMAGE), and never misses what was.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use lifeline_agent::capture::{Capture, x11::X11Capture};
use std::time::{Duration, Instant};
use util::Xvfb;

/// Waits up to 5 s for `cap` to hear that something was drawn.
fn wait_for_damage(cap: &mut X11Capture) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cap.may_have_changed() {
        assert!(Instant::now() < deadline, "no damage reported within 5 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_idle_screen_is_not_read_until_something_is_drawn() {
    let x = Xvfb::start(320, 200);
    assert!(x.run("xsetroot", &["-solid", "#102030"]).ok);
    let mut cap = X11Capture::open(Some(&x.display)).unwrap();
    assert!(cap.watches_damage(), "Xvfb has DAMAGE");
    assert!(cap.may_have_changed(), "nothing was read yet");
    let first = cap.capture().unwrap();
    assert_eq!(first.pixels()[0] & 0x00FF_FFFF, 0x0010_2030);

    // Nothing drawn: nothing to read, however often it is asked.
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(30));
        assert!(!cap.may_have_changed(), "nothing was drawn");
    }

    // Drawn: reported, read, and quiet again.
    assert!(x.run("xsetroot", &["-solid", "#405060"]).ok);
    wait_for_damage(&mut cap);
    let second = cap.capture().unwrap();
    assert_eq!(second.pixels()[0] & 0x00FF_FFFF, 0x0040_5060);
    std::thread::sleep(Duration::from_millis(100));
    assert!(!cap.may_have_changed(), "the change was read");

    // Drawing right after a read reports again: nothing is lost between
    // emptying the damage and reading the screen.
    assert!(x.run("xsetroot", &["-solid", "#708090"]).ok);
    let _ = cap.capture().unwrap();
    assert!(x.run("xsetroot", &["-solid", "#a0b0c0"]).ok);
    wait_for_damage(&mut cap);
    let third = cap.capture().unwrap();
    assert_eq!(third.pixels()[0] & 0x00FF_FFFF, 0x00A0_B0C0);
}
