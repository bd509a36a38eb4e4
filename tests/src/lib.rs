//! Benchmarks and load generators for Lifeline, run by `lifeline-bench`.
//!
//! Everything here drives the real components in-process on 127.0.0.1: a
//! real relay (QUIC, store on disk), real agents and real console clients.

pub mod bench_capture;
pub mod bench_fleet;
pub mod bench_groups;
pub mod bench_input;
pub mod bench_inventory;
pub mod bench_load;
pub mod bench_ping;
pub mod bench_replay;
pub mod bench_report;
pub mod bench_screen;
pub mod lossy;
pub mod stage;

/// A duration in milliseconds, as the benchmarks print them.
#[must_use]
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `q` quantile of `times` (the console's rule), in milliseconds.
#[must_use]
pub fn quantile_ms(mut times: Vec<std::time::Duration>, q: f64) -> f64 {
    times.sort();
    ms(lifeline::ping::quantile(&times, q))
}

/// What a console listing wrote, as text. A table (not `json`) is checked
/// to hold a header and a line for each of its `n` rows, or the one line
/// saying there are none.
///
/// # Panics
/// Output that is not UTF-8, or a table of another shape.
#[must_use]
pub fn listed(out: Vec<u8>, n: usize, json: bool) -> String {
    let out = String::from_utf8(out).expect("UTF-8");
    if !json {
        assert_eq!(
            out.lines().count(),
            n.max(1) + 1,
            "a header and a line each"
        );
    }
    out
}
