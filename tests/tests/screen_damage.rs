//! The agent reads an X screen only when something was drawn on it
//! (DAMAGE), and never misses what was.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use lifeline_agent::capture::{Capture, x11::X11Capture};
use lifeline_proto::screen::Rect;
use lifeline_proto::view::CursorShape;
use std::time::{Duration, Instant};
use util::Xvfb;
use x11rb::{
    connection::Connection,
    protocol::xproto::{ChangeWindowAttributesAux, ConnectionExt as _, CreateGCAux, Rectangle},
};

/// Waits up to 5 s for `cap` to hear that something was drawn.
fn wait_for_damage(cap: &mut X11Capture) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cap.may_have_changed() {
        assert!(Instant::now() < deadline, "no damage reported within 5 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Another client fills a 10x6 block at `(x, y)` with 0xC0FFEE.
fn fill_block(display: &Xvfb, x: i16, y: i16) {
    let (conn, n) = x11rb::connect(Some(&display.display)).unwrap();
    let root = conn.setup().roots[n].root;
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, root, &CreateGCAux::new().foreground(0x00C0_FFEE))
        .unwrap();
    let block = Rectangle {
        x,
        y,
        width: 10,
        height: 6,
    };
    conn.poly_fill_rectangle(root, gc, &[block]).unwrap();
    conn.get_input_focus().unwrap().reply().unwrap();
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

#[test]
fn only_what_was_drawn_is_read_into_the_screen() {
    let x = Xvfb::start(320, 200);
    assert!(x.run("xsetroot", &["-solid", "#102030"]).ok);
    let mut cap = X11Capture::open(Some(&x.display)).unwrap();
    let mut screen = None;
    let all = cap.capture_into(&mut screen, false).unwrap();
    assert_eq!(all, None, "no screen yet: all of it is read");

    // Another client fills a 10x6 block at (100, 50).
    fill_block(&x, 100, 50);

    wait_for_damage(&mut cap);
    let parts = cap
        .capture_into(&mut screen, false)
        .unwrap()
        .expect("only the drawn part is read");
    let want = Rect {
        x: 100,
        y: 50,
        w: 10,
        h: 6,
    };
    assert_eq!(parts, vec![want]);
    let screen = screen.unwrap();
    assert_eq!(
        screen.get(105, 52).map(|p| p & 0x00FF_FFFF),
        Some(0x00C0_FFEE)
    );
    // What was read in place equals a whole read of the screen.
    let whole = cap.capture().unwrap();
    assert!(screen == whole, "the screen read in parts differs");
    // Asked for the whole screen, it reads it all.
    let mut again = Some(screen);
    assert_eq!(cap.capture_into(&mut again, true).unwrap(), None);
    assert!(again.unwrap() == whole);
}

/// Asks for the cursor every 20 ms for up to 5 s until it comes with a
/// shape.
fn wait_for_shape(cap: &mut X11Capture) -> CursorShape {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(shape) = cap.cursor().expect("the pointer is on this screen").shape {
            return shape;
        }
        assert!(Instant::now() < deadline, "no new cursor shape within 5 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_cursor_shape_is_sent_once_and_again_when_it_changes() {
    let x = Xvfb::start(320, 200);
    let mut cap = X11Capture::open(Some(&x.display)).unwrap();
    assert!(cap.watches_cursor(), "Xvfb reports cursor changes");
    let first = wait_for_shape(&mut cap);
    assert!(first.width > 0 && first.height > 0);
    assert_eq!(
        first.argb.len(),
        first.width as usize * first.height as usize
    );

    // Unchanged: positions only, however often it is asked.
    let (conn, n) = x11rb::connect(Some(&x.display)).unwrap();
    let root = conn.setup().roots[n].root;
    conn.warp_pointer(x11rb::NONE, root, 0, 0, 0, 0, 123, 45)
        .unwrap();
    conn.get_input_focus().unwrap().reply().unwrap();
    for _ in 0..5 {
        let c = cap.cursor().unwrap();
        assert_eq!((c.x, c.y), (123, 45));
        assert!(c.shape.is_none(), "the shape did not change");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The root window gets a cursor of its own: a black 8x8 square.
    let square = conn.generate_id().unwrap();
    conn.create_pixmap(1, square, root, 8, 8).unwrap();
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, square, &CreateGCAux::new().foreground(1))
        .unwrap();
    let all = Rectangle {
        x: 0,
        y: 0,
        width: 8,
        height: 8,
    };
    conn.poly_fill_rectangle(square, gc, &[all]).unwrap();
    let cursor = conn.generate_id().unwrap();
    conn.create_cursor(
        cursor, square, square, 0, 0, 0, 0xFFFF, 0xFFFF, 0xFFFF, 4, 4,
    )
    .unwrap();
    conn.change_window_attributes(root, &ChangeWindowAttributesAux::new().cursor(cursor))
        .unwrap();
    conn.get_input_focus().unwrap().reply().unwrap();
    let watch = wait_for_shape(&mut cap);
    assert_eq!(
        (watch.width, watch.height, watch.hot_x, watch.hot_y),
        (8, 8, 4, 4)
    );
    assert!(
        watch.argb.iter().all(|&p| p == 0xFF00_0000),
        "the square is opaque black"
    );
    std::thread::sleep(Duration::from_millis(50));
    assert!(cap.cursor().unwrap().shape.is_none(), "sent once");
}

#[test]
fn a_screen_that_grows_is_read_at_its_new_size_at_once() {
    let x = Xvfb::start_resizable(800, 600);
    assert!(x.run("xsetroot", &["-solid", "#102030"]).ok);
    let mut cap = X11Capture::open(Some(&x.display)).unwrap();
    let mut screen = None;
    assert_eq!(cap.capture_into(&mut screen, false).unwrap(), None);
    // Nothing drawn since: the size is known, no whole read is due.
    assert!(cap.capture_into(&mut screen, false).unwrap().is_some());

    let out = x.run("xrandr", &["-s", "1024x768"]);
    assert!(out.ok, "xrandr: {}", out.stderr);
    // Drawn where the old screen ended.
    fill_block(&x, 900, 700);
    wait_for_damage(&mut cap);

    // Read as what was drawn, not as the whole screen: the new size is
    // known from the server's report.
    let _ = cap.capture_into(&mut screen, false).unwrap();
    let screen = screen.unwrap();
    assert_eq!((screen.width(), screen.height()), (1024, 768));
    assert_eq!(
        screen.get(905, 702).map(|p| p & 0x00FF_FFFF),
        Some(0x00C0_FFEE)
    );
}
