//! The session's zstd stream: scrolled text and moved window edges find
//! their long matches in it, and a delta too large for its search goes
//! beside it without disturbing it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_proto::screen::measure::run_workload;
use lifeline_proto::screen::synth::{Synth, Workload, XorShift};
use lifeline_proto::screen::wire::{FLAG_BODY_STREAM, FLAG_BODY_ZSTD};
use lifeline_proto::screen::{Decoder, Encoder, Frame};

fn mean_bytes(workload: Workload, frames: usize) -> f64 {
    let reports = run_workload(workload, frames, 11);
    reports.iter().map(|r| r.bytes as f64).sum::<f64>() / frames as f64
}

/// Level 1 sent ~390 bytes a scroll frame and ~930 a drag frame here; the
/// stream's lazy search finds the scrolled lines' and the window edge's
/// longer matches.
#[test]
fn scroll_and_drag_frames_are_small_in_the_stream() {
    let scroll = mean_bytes(Workload::Scrolling, 150);
    assert!(scroll < 345.0, "scroll frames average {scroll:.0} bytes");
    let drag = mean_bytes(Workload::WindowDrag, 150);
    assert!(drag < 760.0, "drag frames average {drag:.0} bytes");
}

/// Rows of the 16th row of tiles, far below where the typing starts.
const BAND: std::ops::Range<usize> = 960 * 1920..1024 * 1920;

/// Fills `tiles` whole 64x64 tiles of the 16th tile row with noise.
fn noisy(base: &Frame, tiles: u32, seed: u64) -> Frame {
    let mut f = base.clone();
    let mut rng = XorShift::new(seed);
    let w = f.width();
    for y in 960..1024 {
        for x in 0..tiles * 64 {
            f.pixels_mut()[(y * w + x) as usize] = rng.next_u64() as u32 & 0x00FF_FFFF;
        }
    }
    f
}

#[test]
fn a_large_small_change_goes_beside_the_stream_which_keeps_working() {
    let mut synth = Synth::full_hd(Workload::Typing, 5);
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    let key = enc.encode(synth.frame());
    dec.decode(&key).unwrap();
    let typed = synth.next_frame().clone();
    let small = enc.encode(&typed);
    assert_ne!(small[0] & FLAG_BODY_STREAM, 0, "a typing frame is streamed");
    assert!(dec.decode(&small).unwrap() == &typed);

    // 30 tiles of noise: under the per-tile threshold, but 480 KiB of
    // pixels, too many for the stream's search.
    let noise = noisy(&typed, 30, 9);
    let big = enc.encode(&noise);
    assert_ne!(big[0] & FLAG_BODY_ZSTD, 0, "flags {:#04x}", big[0]);
    assert_eq!(big[0] & FLAG_BODY_STREAM, 0);
    assert!(dec.decode(&big).unwrap() == &noise);

    // Typing goes on in the stream, with its history intact.
    for _ in 0..20 {
        let mut next = synth.next_frame().clone();
        next.pixels_mut()[BAND].copy_from_slice(&noise.pixels()[BAND]);
        let bytes = enc.encode(&next);
        assert_ne!(bytes[0] & FLAG_BODY_STREAM, 0);
        assert!(bytes.len() < 200, "typing frame of {} bytes", bytes.len());
        assert!(dec.decode(&bytes).unwrap() == &next);
    }
}
