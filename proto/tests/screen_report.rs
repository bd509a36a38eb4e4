//! Hand-run reports of codec sizes and speed; never part of a normal run
//! (timings fail on slow machines, so no test asserts one).
//!
//! `cargo test --release -p lifeline-proto --test screen_report -- --ignored --nocapture`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use lifeline_proto::screen::measure::{percentile, run_workload, run_workload_with};
use lifeline_proto::screen::synth::{Synth, Workload};
use lifeline_proto::screen::{Batching, Decoder, Encoder, EncoderConfig, Frame};

#[test]
#[ignore = "report, not a check"]
fn report_sizes() {
    for wl in Workload::ALL {
        let reports = run_workload(wl, 60, 1);
        let bytes: Vec<usize> = reports.iter().map(|r| r.bytes).collect();
        let base: Vec<usize> = reports.iter().map(|r| r.baseline).collect();
        let copies: usize = reports.iter().map(|r| r.stats.copy).sum();
        let dirty: usize = reports.iter().map(|r| r.stats.dirty).sum();
        println!(
            "{wl:?}: bytes p50 {} p99 {} max {}; zstd-of-dirty p50 {}; copies {copies} of {dirty} dirty tiles",
            percentile(&bytes, 50),
            percentile(&bytes, 99),
            percentile(&bytes, 100),
            percentile(&base, 50),
        );
        for batching in [Batching::Always, Batching::Never] {
            let config = EncoderConfig {
                batching,
                ..EncoderConfig::default()
            };
            let sizes: Vec<usize> = run_workload_with(config, wl, 60, 1)
                .iter()
                .map(|r| r.bytes)
                .collect();
            println!(
                "    {batching:?}: bytes p50 {} p99 {}",
                percentile(&sizes, 50),
                percentile(&sizes, 99)
            );
        }
    }
}

/// Per-frame encode and decode times of one workload, each the minimum
/// over `passes` runs so that other processes on a shared machine inflate
/// the numbers as little as possible.
#[allow(clippy::disallowed_methods, reason = "a hand-run timing report")]
fn time_workload(wl: Workload, frames: usize, passes: usize, owned: bool) -> [Vec<Duration>; 2] {
    let mut synth = Synth::full_hd(wl, 1);
    let inputs: Vec<Frame> = std::iter::once(synth.frame().clone())
        .chain((0..frames).map(|_| synth.next_frame().clone()))
        .collect();
    let mut best = [vec![Duration::MAX; frames], vec![Duration::MAX; frames]];
    for _ in 0..passes {
        let mut enc = Encoder::new();
        let mut dec = Decoder::new();
        let mut spare: Option<Frame> = None;
        for (i, frame) in inputs.iter().enumerate() {
            // The owned path reuses the returned buffer, as a capture loop would.
            let input = match spare.take() {
                Some(mut buf) if owned => {
                    buf.clone_from(frame);
                    buf
                }
                _ => frame.clone(),
            };
            let t = Instant::now();
            let bytes = if owned {
                let (bytes, back) = enc.encode_owned(input);
                spare = back;
                bytes
            } else {
                enc.encode(&input)
            };
            let te = t.elapsed();
            let t = Instant::now();
            dec.decode(&bytes).unwrap();
            let td = t.elapsed();
            if i > 0 {
                best[0][i - 1] = best[0][i - 1].min(te);
                best[1][i - 1] = best[1][i - 1].min(td);
            }
        }
    }
    best
}

#[test]
#[ignore = "report, not a check"]
fn report_timings() {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for wl in Workload::ALL {
        for owned in [false, true] {
            let [enc, dec] = time_workload(wl, 40, 5, owned);
            println!(
                "{wl:?} ({}): encode p50 {:.2} ms p99 {:.2} ms; decode p50 {:.2} ms p99 {:.2} ms",
                if owned { "encode_owned" } else { "encode" },
                ms(percentile(&enc, 50)),
                ms(percentile(&enc, 99)),
                ms(percentile(&dec, 50)),
                ms(percentile(&dec, 99)),
            );
        }
    }
}
