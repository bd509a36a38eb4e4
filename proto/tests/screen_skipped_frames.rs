//! An agent held back by a slow link encodes only every few screen states:
//! a window dragged across the screen then moves far between two encoded
//! frames. Those frames must stay small, or the link stays slow (bigger
//! frames, fewer of them, each moving farther).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_proto::screen::synth::{Synth, Workload};
use lifeline_proto::screen::{Decoder, Encoder};

/// Encodes every `step`-th frame of a 1080p window drag; returns the sizes
/// of the delta frames, each checked bit for bit after decoding.
fn drag_every(step: usize, frames: usize) -> Vec<(usize, usize)> {
    let mut synth = Synth::full_hd(Workload::WindowDrag, 7);
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    dec.decode(&enc.encode(synth.frame())).unwrap();
    (0..frames)
        .map(|i| {
            for _ in 1..step {
                synth.next_frame();
            }
            let cur = synth.next_frame().clone();
            let bytes = enc.encode(&cur);
            let out = dec
                .decode(&bytes)
                .unwrap_or_else(|e| panic!("step {step}, frame {i}: {e}"));
            assert!(out == &cur, "step {step}, frame {i} differs after decode");
            (bytes.len(), enc.stats().copy)
        })
        .collect()
}

#[test]
fn a_window_dragged_far_between_frames_goes_as_copies_and_edges() {
    // At 60 fps the drag costs about 1 KB a frame. Encoding every 8th or
    // 16th state (7.5 or 3.75 fps) moves the window 96 or 192 px a frame:
    // the edges grow with the distance, the window itself is still a copy.
    // Compressing each edge tile on its own instead cost 50-80 KB.
    for step in [8, 16] {
        for (i, (bytes, copies)) in drag_every(step, 24).into_iter().enumerate() {
            assert!(
                copies >= 60,
                "step {step}, frame {i}: {copies} copied tiles"
            );
            assert!(
                bytes <= 8 * 1024,
                "step {step}, frame {i}: {bytes} bytes for a moved window"
            );
        }
    }
}

#[test]
fn text_scrolled_several_lines_a_frame_costs_what_its_new_lines_do() {
    // Four new lines a frame (15 fps of a 60 line/s scroll): each new line
    // of glyphs seen before costs about what it costs one line a frame.
    // Packing each tile's lines as one block of columns cost 1.1 KB a line.
    let mut synth = Synth::full_hd(Workload::Scrolling, 5);
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    dec.decode(&enc.encode(synth.frame())).unwrap();
    let mut total = 0;
    let frames = 30;
    for i in 0..frames {
        for _ in 1..4 {
            synth.next_frame();
        }
        let cur = synth.next_frame().clone();
        let bytes = enc.encode(&cur);
        assert!(dec.decode(&bytes).unwrap() == &cur, "frame {i} differs");
        total += bytes.len();
    }
    let per_line = total / (frames * 4);
    assert!(per_line <= 600, "{per_line} bytes per new line");
}

#[test]
fn a_screenful_of_text_arrives_in_a_small_key_frame() {
    // What a technician waits for first, and again after every monitor
    // switch: an xterm full of text at 1080p. Each tile compressed on its
    // own cost 140 KB (typing) and 215 KB (scrolling).
    for (wl, most) in [(Workload::Typing, 20_000), (Workload::Scrolling, 60_000)] {
        let synth = Synth::full_hd(wl, 11);
        let key = Encoder::new().encode(synth.frame());
        let mut dec = Decoder::new();
        assert!(dec.decode(&key).unwrap() == synth.frame(), "{wl:?}");
        assert!(
            key.len() <= most,
            "{wl:?}: key frame of {} bytes",
            key.len()
        );
    }
}
