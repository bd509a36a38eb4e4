//! Property tests of the screen codec: random frames and random edit
//! sequences roundtrip bit for bit; random, truncated and bit-flipped input
//! never panics the decoder and never gets past its size limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_proto::screen::synth::{Synth, Workload};
use lifeline_proto::screen::{
    Batching, Decoder, Encoder, EncoderConfig, Frame, Limits, REFINE_AFTER,
};
use proptest::prelude::*;

/// One change to a frame, in the ways screens change.
#[derive(Debug, Clone)]
enum Edit {
    /// Fill a rectangle with one colour.
    Fill {
        x: u32,
        y: u32,
        w: u32,
        h: u32,
        color: u32,
    },
    /// Pseudo-random pixels from a small palette (so runs and repeats occur).
    Noise {
        x: u32,
        y: u32,
        w: u32,
        h: u32,
        seed: u64,
    },
    /// Lines of two-colour "glyphs" `ink` rows tall, `gap` blank rows
    /// apart (text: palette rects cut into lines, up to more lines than a
    /// parts record holds).
    Lines {
        x: u32,
        y: u32,
        w: u32,
        h: u32,
        ink: u32,
        gap: u32,
        seed: u64,
    },
    /// Move a block by (dx, dy), like a scroll or a window drag.
    Move {
        x: u32,
        y: u32,
        w: u32,
        h: u32,
        dx: i32,
        dy: i32,
    },
    /// Go back to an earlier frame (exercises the tile cache).
    Revert(usize),
    /// New resolution (forces a key frame).
    Resize { w: u32, h: u32 },
    /// The viewer asked for a key frame.
    Key,
}

fn edit() -> impl Strategy<Value = Edit> {
    let rect = (0u32..300, 0u32..200, 1u32..200, 1u32..150);
    prop_oneof![
        (rect.clone(), any::<u32>()).prop_map(|((x, y, w, h), color)| Edit::Fill {
            x,
            y,
            w,
            h,
            color
        }),
        (rect.clone(), any::<u64>()).prop_map(|((x, y, w, h), seed)| Edit::Noise {
            x,
            y,
            w,
            h,
            seed
        }),
        (rect.clone(), 1u32..10, 1u32..4, any::<u64>()).prop_map(
            |((x, y, w, h), ink, gap, seed)| Edit::Lines {
                x,
                y,
                w,
                h,
                ink,
                gap,
                seed
            }
        ),
        (rect, -80i32..80, -80i32..80).prop_map(|((x, y, w, h), dx, dy)| Edit::Move {
            x,
            y,
            w,
            h,
            dx,
            dy
        }),
        (0usize..8).prop_map(Edit::Revert),
        (1u32..260, 1u32..200).prop_map(|(w, h)| Edit::Resize { w, h }),
        Just(Edit::Key),
    ]
}

fn apply(f: &Frame, e: &Edit, history: &[Frame]) -> Frame {
    let (fw, fh) = (f.width(), f.height());
    let mut out = f.clone();
    let clip =
        |x: u32, y: u32, w: u32, h: u32| (x.min(fw), y.min(fh), (x + w).min(fw), (y + h).min(fh));
    match *e {
        Edit::Fill { x, y, w, h, color } => {
            let (x0, y0, x1, y1) = clip(x, y, w, h);
            for yy in y0..y1 {
                for xx in x0..x1 {
                    out.pixels_mut()[(yy * fw + xx) as usize] = color;
                }
            }
        }
        Edit::Noise { x, y, w, h, seed } => {
            let mut rng = lifeline_proto::screen::synth::XorShift::new(seed);
            let palette = [
                0,
                0x00FF_FFFF,
                0x0012_3456,
                0xFF00_0000,
                rng.next_u64() as u32,
            ];
            let (x0, y0, x1, y1) = clip(x, y, w, h);
            for yy in y0..y1 {
                for xx in x0..x1 {
                    out.pixels_mut()[(yy * fw + xx) as usize] = palette[rng.below(5) as usize];
                }
            }
        }
        Edit::Lines {
            x,
            y,
            w,
            h,
            ink,
            gap,
            seed,
        } => {
            let mut rng = lifeline_proto::screen::synth::XorShift::new(seed);
            let (x0, y0, x1, y1) = clip(x, y, w, h);
            for yy in y0..y1 {
                let inked = (yy - y0) % (ink + gap) < ink;
                for xx in x0..x1 {
                    let fg = inked && rng.below(3) == 0;
                    out.pixels_mut()[(yy * fw + xx) as usize] =
                        if fg { 0x00D0_D0D0 } else { 0x001E_1E1E };
                }
            }
        }
        Edit::Move { x, y, w, h, dx, dy } => {
            let (x0, y0, x1, y1) = clip(x, y, w, h);
            for yy in y0..y1 {
                for xx in x0..x1 {
                    let (tx, ty) = (xx as i64 + i64::from(dx), yy as i64 + i64::from(dy));
                    if tx >= 0 && ty >= 0 && tx < i64::from(fw) && ty < i64::from(fh) {
                        out.pixels_mut()[(ty as u32 * fw + tx as u32) as usize] =
                            f.get(xx, yy).unwrap();
                    }
                }
            }
        }
        Edit::Revert(i) => {
            if let Some(old) = history.iter().rev().nth(i) {
                out = old.clone();
            }
        }
        Edit::Resize { w, h } => {
            out = Frame::filled(w, h, 0x0010_2030).unwrap();
            out.pixels_mut()[0] = 7;
        }
        Edit::Key => {}
    }
    out
}

fn configs() -> impl Strategy<Value = EncoderConfig> {
    (
        prop_oneof![
            Just(Batching::Auto),
            Just(Batching::Always),
            Just(Batching::Never)
        ],
        any::<bool>(),
        any::<bool>(),
        1usize..4,
    )
        .prop_map(|(batching, motion, cache, threads)| EncoderConfig {
            batching,
            motion,
            cache,
            threads,
            coarse_motion: false,
        })
}

/// A valid stream: a key frame and a few deltas of a small synthetic screen.
fn valid_stream(workload: Workload, seed: u64) -> Vec<Vec<u8>> {
    let mut synth = Synth::new(workload, 150, 100, seed).unwrap();
    let mut enc = Encoder::new();
    let mut out = vec![enc.encode(synth.frame())];
    for _ in 0..3 {
        out.push(enc.encode(synth.next_frame()));
    }
    out
}

fn workload() -> impl Strategy<Value = Workload> {
    proptest::sample::select(Workload::ALL.to_vec())
}

/// Feeds `bytes` to a decoder primed with `primer`; must not panic, and any
/// frame it accepts must respect the limits.
fn check_no_panic(primer: &[Vec<u8>], bytes: &[u8], limits: Limits) {
    let mut dec = Decoder::with_limits(limits);
    for p in primer {
        let _ = dec.decode(p);
    }
    if let Ok(f) = dec.decode(bytes) {
        assert!(f.width() <= limits.max_width && f.height() <= limits.max_height);
        assert!(u64::from(f.width()) * u64::from(f.height()) <= limits.max_pixels);
    }
}

/// A screen-sized change for the coarse-motion property: `kind` 0 paints
/// the whole screen afresh (video), 1 moves a large block, 2 fills a
/// rectangle, 3 goes back to an earlier frame, 4 changes nothing.
fn big_edit(frame: &Frame, kind: u8, seed: u64, history: &[Frame]) -> Frame {
    let (w, h) = (frame.width(), frame.height());
    let mut rng = lifeline_proto::screen::synth::XorShift::new(seed);
    match kind {
        0 => {
            let px = (0..w * h)
                .map(|i| (rng.next_u64() as u32 & 0x0F0F_0F0F) ^ (i / 7 * 0x0001_0203))
                .collect();
            Frame::from_pixels(w, h, px).unwrap()
        }
        1 => apply(
            frame,
            &Edit::Move {
                x: rng.below(w / 2),
                y: rng.below(h / 2),
                w: w / 2,
                h: h / 2,
                dx: rng.below(41) as i32 - 20,
                dy: rng.below(41) as i32 - 20,
            },
            history,
        ),
        2 => apply(
            frame,
            &Edit::Fill {
                x: rng.below(w),
                y: rng.below(h),
                w: 1 + rng.below(300),
                h: 1 + rng.below(200),
                color: rng.next_u64() as u32,
            },
            history,
        ),
        3 => apply(frame, &Edit::Revert(rng.below(4) as usize), history),
        _ => frame.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// With coarse motion on, a frame may arrive approximate while the
    /// screen moves, but once the screen holds still for [`REFINE_AFTER`]
    /// frames the picture is bit for bit what was captured, whatever came
    /// before (copies, cache hits, fills, reverts between coarse frames);
    /// and encoder and decoder always agree on whether it is exact.
    #[test]
    fn coarse_motion_is_exact_once_the_screen_holds_still(
        w in 600u32..700,
        h in 500u32..560,
        edits in proptest::collection::vec((0u8..5, any::<u64>()), 1..8),
        cache in any::<bool>(),
        always_stream in any::<bool>(),
    ) {
        let batching = if always_stream { Batching::Always } else { Batching::Auto };
        let config = EncoderConfig { coarse_motion: true, cache, batching, ..EncoderConfig::default() };
        let mut frame = Frame::filled(w, h, 0x0020_2020).unwrap();
        let mut history = vec![frame.clone()];
        let mut enc = Encoder::with_config(config);
        let mut dec = Decoder::new();
        dec.decode(&enc.encode(&frame)).unwrap();
        for &(kind, seed) in &edits {
            frame = big_edit(&frame, kind, seed, &history);
            history.push(frame.clone());
            let got = dec.decode(&enc.encode(&frame)).unwrap().clone();
            prop_assert_eq!(dec.exact(), enc.exact());
            // A fresh full screen is a large moving area: it goes coarse.
            prop_assert!(kind != 0 || !enc.exact(), "full-screen change sent exact");
            if enc.exact() {
                prop_assert!(got == frame, "exact() but the picture differs after kind {}", kind);
                continue;
            }
            prop_assert!(enc.stats().coarse > 0);
            for still in 1..=REFINE_AFTER {
                let shown = dec.decode(&enc.encode(&frame)).unwrap().clone();
                prop_assert_eq!(dec.exact(), enc.exact());
                prop_assert_eq!(enc.exact(), still == REFINE_AFTER);
                if enc.exact() {
                    prop_assert!(shown == frame, "still frame not exact after kind {}", kind);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn edit_sequences_roundtrip(
        w in 1u32..260,
        h in 1u32..200,
        edits in proptest::collection::vec(edit(), 1..12),
        config in configs(),
    ) {
        let mut frame = Frame::filled(w, h, 0x0020_2020).unwrap();
        let mut history = vec![frame.clone()];
        let mut enc = Encoder::with_config(config);
        let mut dec = Decoder::new();
        dec.decode(&enc.encode(&frame)).unwrap();
        for e in &edits {
            if matches!(e, Edit::Key) {
                enc.request_keyframe();
            }
            frame = apply(&frame, e, &history);
            history.push(frame.clone());
            let bytes = enc.encode(&frame);
            let got = dec.decode(&bytes).unwrap();
            prop_assert!(got == &frame, "mismatch after {:?}", e);
        }
    }

    #[test]
    fn random_frames_roundtrip(
        w in 1u32..200,
        h in 1u32..200,
        seeds in proptest::collection::vec(any::<u64>(), 1..5),
    ) {
        let mut enc = Encoder::new();
        let mut dec = Decoder::new();
        for seed in seeds {
            let mut rng = lifeline_proto::screen::synth::XorShift::new(seed);
            let px = (0..w * h).map(|_| rng.next_u64() as u32).collect();
            let frame = Frame::from_pixels(w, h, px).unwrap();
            // The owned path must produce the same stream semantics.
            let (bytes, _) = enc.encode_owned(frame.clone());
            prop_assert!(dec.decode(&bytes).unwrap() == &frame);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check_no_panic(&[], &bytes, Limits::default());
        let primer = valid_stream(Workload::Typing, 1);
        check_no_panic(&primer[..1], &bytes, Limits::default());
    }

    #[test]
    fn random_bodies_behind_a_valid_header_never_panic(
        wl in workload(),
        keep in 0usize..30,
        tail in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let stream = valid_stream(wl, 5);
        let mut bytes = stream[1][..keep.min(stream[1].len())].to_vec();
        bytes.extend_from_slice(&tail);
        check_no_panic(&stream[..1], &bytes, Limits::default());
    }

    #[test]
    fn damaged_encodings_never_panic(
        wl in workload(),
        seed in any::<u64>(),
        which in 0usize..4,
        flips in proptest::collection::vec((any::<usize>(), 0u8..8), 1..4),
        cut in any::<usize>(),
    ) {
        let stream = valid_stream(wl, seed);
        let primer = &stream[..which];
        let good = &stream[which];
        // Truncated at every kind of position.
        let cut = cut % (good.len() + 1);
        check_no_panic(primer, &good[..cut], Limits::default());
        // Bit flips anywhere, header included.
        let mut bad = good.clone();
        for (pos, bit) in flips {
            let i = pos % bad.len();
            bad[i] ^= 1 << bit;
        }
        check_no_panic(primer, &bad, Limits::default());
        // Tight limits reject the frame instead of allocating for it.
        check_no_panic(primer, &bad, Limits { max_width: 64, max_height: 64, max_pixels: 4096 });
    }
}
