//! `lifeline-bench capture`: what one pass of the agent's capture loop
//! costs on a 1920×1080 Xvfb, idle and with a character drawn before each
//! pass: asking for the pointer (and its shape when XFixes reported a new
//! one), asking whether anything was drawn (DAMAGE) and reading what was,
//! for the whole screen and for a selected monitor.

use crate::bench_screen::procs::Xvfb;
use lifeline_agent::capture::{Capture, x11::X11Capture};
use lifeline_proto::screen::measure::percentile;
use serde::Serialize;
use std::time::{Duration, Instant};
use x11rb::{
    connection::Connection,
    protocol::xproto::{ConnectionExt as _, CreateGCAux, Rectangle},
};

/// One area and screen state.
#[derive(Debug, Serialize)]
pub struct CaptureRow {
    /// "whole screen" or "monitor 0".
    pub area: String,
    /// Whether a character-sized block was drawn before each pass.
    pub drawn: bool,
    pub passes: usize,
    /// Passes that read something.
    pub reads: usize,
    pub us_p50: f64,
    pub us_p99: f64,
    pub us_mean: f64,
}

/// Runs `passes` passes per area and state.
///
/// # Errors
/// Xvfb missing or unreachable, or a capture failing.
pub fn run(passes: usize) -> anyhow::Result<Vec<CaptureRow>> {
    let x = Xvfb::start(1920, 1080)?;
    // Another client draws, as a terminal would.
    let (conn, n) = x11rb::connect(Some(&x.display))?;
    let root = conn.setup().roots[n].root;
    let gc = conn.generate_id()?;
    conn.create_gc(gc, root, &CreateGCAux::new().foreground(0x00C0_FFEE))?;
    let mut rows = Vec::new();
    for monitor in [None, Some(0)] {
        for drawn in [false, true] {
            let mut cap = X11Capture::open(Some(&x.display))?;
            cap.select(monitor)?;
            let mut screen = None;
            cap.capture_into(&mut screen, true)?;
            let mut times = Vec::with_capacity(passes);
            let mut reads = 0;
            for i in 0..passes {
                if drawn {
                    // One 8×16 cell after the other along a row, waited
                    // for (outside the timing).
                    let cell = Rectangle {
                        x: ((i % 200) * 8) as i16,
                        y: 500,
                        width: 8,
                        height: 16,
                    };
                    conn.poly_fill_rectangle(root, gc, &[cell])?;
                    conn.get_input_focus()?.reply()?;
                    std::thread::sleep(Duration::from_micros(200));
                }
                let t = Instant::now();
                let _ = cap.cursor();
                if cap.may_have_changed() {
                    cap.capture_into(&mut screen, false)?;
                    reads += 1;
                }
                times.push(t.elapsed());
            }
            let us = |d: Duration| d.as_secs_f64() * 1e6;
            let total: Duration = times.iter().sum();
            rows.push(CaptureRow {
                area: monitor.map_or("whole screen".into(), |m| format!("monitor {m}")),
                drawn,
                passes,
                reads,
                us_p50: us(percentile(&times, 50)),
                us_p99: us(percentile(&times, 99)),
                us_mean: us(total) / times.len().max(1) as f64,
            });
        }
    }
    Ok(rows)
}

/// The rows as a Markdown table.
#[must_use]
pub fn markdown(rows: &[CaptureRow]) -> String {
    let mut s = String::from(
        "| area | screen | passes | passes that read | µs per pass p50 | p99 | mean |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let state = if r.drawn {
            "a cell drawn before each pass"
        } else {
            "idle"
        };
        s.push_str(&format!(
            "| {} | {state} | {} | {} | {:.1} | {:.1} | {:.1} |\n",
            r.area, r.passes, r.reads, r.us_p50, r.us_p99, r.us_mean
        ));
    }
    s.push_str(
        "\nOne pass: the pointer (its image only after XFixes reported a new shape), whether \
         DAMAGE reported drawing, and the read of what it reported (MIT-SHM) into the screen \
         the agent keeps; the area read is asked of the server again only after RandR or the \
         root window reported a change.\n",
    );
    s
}
