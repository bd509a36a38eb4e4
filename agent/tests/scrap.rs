//! The `scrap` backend (feature `scrap`) captures what an X server shows:
//! run with `cargo test -p lifeline-agent --features scrap --test scrap`.
//! The test starts an X server (TigerVNC's Xvnc: scrap's X11 code reads the
//! RandR monitor list, which Xvfb's one fixed output gets wrong, giving
//! black frames) and runs itself again with DISPLAY pointing there (scrap
//! reads DISPLAY; this process's environment stays untouched).
#![cfg(feature = "scrap")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_agent::capture::{Capture, scrap_backend::ScrapCapture};
use std::{path::Path, process::Command, time::Duration};

const CHILD: &str = "LIFELINE_SCRAP_TEST_CHILD";

#[test]
fn scrap_captures_what_the_x_server_shows() {
    if std::env::var_os(CHILD).is_some() {
        let mut c = ScrapCapture::open().expect("open the display");
        let monitors = c.monitors().unwrap();
        assert_eq!((monitors[0].width, monitors[0].height), (640, 480));
        assert!(c.select(Some(3)).is_err(), "only one monitor");
        let f = c.capture().expect("a frame");
        assert_eq!((f.width(), f.height()), (640, 480));
        let off = f
            .pixels()
            .iter()
            .filter(|p| *p & 0x00ff_ffff != 0x0033_6699)
            .count();
        assert_eq!(
            off,
            0,
            "pixels that are not the root colour; first {:#010x}",
            f.pixels()[0]
        );
        return;
    }
    let n = (200..300)
        .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())
        .expect("a free display number");
    // Port numbers for its VNC side (127.0.0.1 only, never used).
    fn free_tcp_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port")
    }
    let display = format!(":{n}");
    let mut server = Command::new("Xvnc")
        .args([
            &display,
            "-geometry",
            "640x480",
            "-depth",
            "24",
            "-SecurityTypes",
            "None",
            "-localhost",
            "-rfbport",
            &free_tcp_port().to_string(),
            "-nolisten",
            "tcp",
        ])
        .spawn()
        .expect("Xvnc (scripts/install-deps.sh installs it)");
    let mut ready = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        let ok = Command::new("xsetroot")
            .args(["-solid", "#336699"])
            .env("DISPLAY", &display)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            ready = true;
            break;
        }
    }
    let status = ready.then(|| {
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "scrap_captures_what_the_x_server_shows",
                "--nocapture",
            ])
            .env("DISPLAY", &display)
            .env(CHILD, "1")
            .status()
            .unwrap()
    });
    let _ = server.kill();
    let _ = server.wait();
    assert!(ready, "Xvnc {display} did not start");
    assert!(
        status.unwrap().success(),
        "the capture under {display} failed"
    );
}
