//! Codec-only figures per synthetic workload at 1080p: mean bytes per
//! frame, what the encoder chose, and encode/decode time on one thread.
//! `cargo run --release -p lifeline-proto --example codec_probe [frames] [filter] [threads] [step]`
//! (`filter`: only the rows whose name contains it, e.g. `coarse`;
//! `threads`: encoder and decoder threads, 1 unless given; `step`: encode
//! every step-th synthetic frame, as an agent held back by a slow link
//! does, 1 unless given).

// A developer tool: it times the codec, which proto itself never does.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use lifeline_proto::screen::synth::{Synth, Workload};
use lifeline_proto::screen::{Decoder, Encoder, EncoderConfig, REFINE_AFTER};

fn main() {
    let frames: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(120);
    let filter = std::env::args().nth(2).unwrap_or_default().to_lowercase();
    let threads: usize = std::env::args()
        .nth(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let step: usize = std::env::args()
        .nth(4)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1)
        .max(1);
    println!(
        "| workload | key frame bytes | bytes/frame | kbit/s at 60 fps | encode ms | decode ms | choices (last frame) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    let runs = Workload::ALL
        .into_iter()
        .map(|wl| (wl, false))
        .chain([(Workload::Video, true)]);
    for (wl, coarse_motion) in runs {
        let name = format!(
            "{wl:?}{}",
            if coarse_motion {
                " (coarse motion)"
            } else {
                ""
            }
        );
        if !name.to_lowercase().contains(&filter) {
            continue;
        }
        let mut synth = Synth::full_hd(wl, 3);
        let config = EncoderConfig {
            threads,
            coarse_motion,
            ..EncoderConfig::default()
        };
        let mut enc = Encoder::with_config(config);
        let mut dec = Decoder::new();
        dec.set_threads(threads);
        let key = enc.encode(synth.frame());
        if let Err(e) = dec.decode(&key) {
            eprintln!("{wl:?}: key frame does not decode: {e}");
            std::process::exit(1);
        }
        let (mut bytes, mut enc_s, mut dec_s) = (0usize, 0f64, 0f64);
        for _ in 0..frames {
            for _ in 1..step {
                synth.next_frame();
            }
            let cur = synth.next_frame().clone();
            // The agent's path: the encoder keeps the frame, no copy.
            let owned = cur.clone();
            let t = Instant::now();
            let (out, _) = enc.encode_owned(owned);
            enc_s += t.elapsed().as_secs_f64();
            bytes += out.len();
            let t = Instant::now();
            match dec.decode(&out) {
                Ok(f) if f == &cur || coarse_motion => {}
                Ok(_) => {
                    eprintln!("{wl:?}: decoded frame differs");
                    std::process::exit(1);
                }
                Err(e) => {
                    eprintln!("{wl:?}: {e}");
                    std::process::exit(1);
                }
            }
            dec_s += t.elapsed().as_secs_f64();
        }
        let n = frames as f64;
        if coarse_motion {
            // The screen holds still: after REFINE_AFTER frames it is exact.
            let cur = synth.frame().clone();
            let mut still = Vec::new();
            let mut exact = false;
            for _ in 0..=REFINE_AFTER {
                let out = enc.encode(&cur);
                still.push(out.len());
                exact = dec.decode(&out).is_ok_and(|f| f == &cur);
                if exact {
                    break;
                }
            }
            println!("(coarse run: still frames of {still:?} bytes, exact: {exact})");
        }
        println!(
            "| {name} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:?} |",
            key.len(),
            bytes as f64 / n,
            bytes as f64 / n * 60.0 * 8.0 / 1000.0,
            enc_s / n * 1e3,
            dec_s / n * 1e3,
            enc.stats()
        );
    }
}
