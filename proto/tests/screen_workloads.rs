//! Every synthetic workload roundtrips bit for bit, and the frames that
//! matter (idle, scroll, window drag, typing) encode as small as promised.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_proto::screen::measure::{dirty_tiles_zstd_size, percentile, run_workload};
use lifeline_proto::screen::synth::{Synth, Workload, XorShift};
use lifeline_proto::screen::{Decoder, Encoder, EncoderConfig, Frame, REFINE_AFTER};

/// Encodes `frames` frames of a workload, decodes each and checks equality.
fn roundtrip(workload: Workload, width: u32, height: u32, frames: usize) -> Vec<usize> {
    let mut synth = Synth::new(workload, width, height, 42).unwrap();
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    let mut sizes = Vec::new();
    let mut cur: Frame = synth.frame().clone();
    for i in 0..=frames {
        if i > 0 {
            cur = synth.next_frame().clone();
        }
        let bytes = enc.encode(&cur);
        sizes.push(bytes.len());
        let out = dec
            .decode(&bytes)
            .unwrap_or_else(|e| panic!("{workload:?} frame {i}: {e}"));
        assert!(out == &cur, "{workload:?} frame {i} differs after decode");
    }
    sizes
}

#[test]
fn every_workload_roundtrips_at_full_hd() {
    for wl in Workload::ALL {
        roundtrip(wl, 1920, 1080, 30);
    }
}

#[test]
fn every_workload_roundtrips_at_odd_sizes() {
    for wl in Workload::ALL {
        roundtrip(wl, 333, 257, 12);
        roundtrip(wl, 1, 1, 3);
        roundtrip(wl, 65, 3, 3);
    }
}

#[test]
fn idle_frames_are_tiny() {
    let sizes = roundtrip(Workload::Idle, 1920, 1080, 5);
    for &s in &sizes[1..] {
        assert!(s <= 12, "idle frame of {s} bytes");
    }
}

#[test]
fn scroll_frames_are_mostly_copies() {
    for r in run_workload(Workload::Scrolling, 10, 3) {
        let cheap = r.stats.copy + r.stats.solid + r.stats.cached;
        assert!(
            cheap * 10 >= r.stats.dirty * 8,
            "only {cheap} of {} dirty tiles copied, solid or cached",
            r.stats.dirty
        );
        assert!(
            r.bytes * 10 < r.baseline,
            "scroll frame {} bytes vs {} for zstd of dirty tiles",
            r.bytes,
            r.baseline
        );
    }
}

#[test]
fn window_drag_frames_are_mostly_copies() {
    for r in run_workload(Workload::WindowDrag, 10, 3) {
        // Tiles on the window's edge mix moved window and newly exposed
        // desktop: those need pixels. Everything inside moves as copies.
        assert!(
            r.stats.copy * 2 >= r.stats.dirty - r.stats.solid,
            "only {} of {} dirty tiles copied",
            r.stats.copy,
            r.stats.dirty
        );
        assert!(
            r.bytes * 10 < r.baseline * 4,
            "drag frame {} bytes vs {} for zstd of dirty tiles",
            r.bytes,
            r.baseline
        );
    }
}

#[test]
fn tiles_cut_by_a_moving_edge_send_only_what_did_not_move() {
    // A dragged window's edges and a scrolled view's bottom line cut
    // through tiles: the moved part is copied, the newly shown rest is
    // coded (gradient wallpaper by plane prediction, text by palette). A
    // whole-tile XOR against the moved content cost ~7.5 KB a drag frame
    // and ~4.5 KB a scroll frame.
    for (wl, max_p50) in [(Workload::WindowDrag, 2_500), (Workload::Scrolling, 2_500)] {
        let reports = run_workload(wl, 30, 9);
        let sizes: Vec<usize> = reports.iter().map(|r| r.bytes).collect();
        assert!(percentile(&sizes, 50) <= max_p50, "{wl:?} sizes {sizes:?}");
        assert!(
            reports.iter().all(|r| r.stats.parts > 0),
            "{wl:?}: {reports:?}"
        );
    }
}

#[test]
fn smooth_motion_sends_video_at_a_sixth_of_the_bytes_and_exact_once_still() {
    let mut synth = Synth::full_hd(Workload::Video, 4);
    let mut exact_enc = Encoder::new();
    let mut enc = Encoder::with_config(EncoderConfig {
        coarse_motion: true,
        ..EncoderConfig::default()
    });
    let mut dec = Decoder::new();
    let first = synth.frame().clone();
    exact_enc.encode(&first);
    dec.decode(&enc.encode(&first)).unwrap();
    let (mut coarse_bytes, mut exact_bytes) = (0, 0);
    for _ in 0..5 {
        let cur = synth.next_frame().clone();
        exact_bytes += exact_enc.encode(&cur).len();
        let bytes = enc.encode(&cur);
        coarse_bytes += bytes.len();
        assert_eq!(enc.stats().coarse, enc.stats().dirty, "every tile coarse");
        // Close to the picture: the mean error per colour byte is the
        // noise a 2x2 mean smooths away, not a wrong picture.
        let got = dec.decode(&bytes).unwrap();
        let err: u64 = got
            .pixels()
            .iter()
            .zip(cur.pixels())
            .map(|(a, b)| {
                (0..3)
                    .map(|k| u64::from(((a >> (8 * k)) & 0xFF).abs_diff((b >> (8 * k)) & 0xFF)))
                    .sum::<u64>()
            })
            .sum();
        let mean = err as f64 / (cur.pixels().len() * 3) as f64;
        assert!(mean < 8.0, "mean error {mean:.2} per colour byte");
    }
    // Brightness at half resolution, colour at a quarter (4:2:0).
    assert!(
        coarse_bytes * 6 < exact_bytes,
        "{coarse_bytes} vs {exact_bytes}"
    );
    // The video stops: while it held still for fewer than REFINE_AFTER
    // frames (a 24 fps video captured at 60 fps repeats frames) nothing is
    // resent; then the picture becomes exact.
    let still = synth.frame().clone();
    for n in 1..=REFINE_AFTER {
        assert!(!enc.exact());
        let bytes = enc.encode(&still);
        let got = dec.decode(&bytes).unwrap() == &still;
        if n < REFINE_AFTER {
            assert!(
                bytes.len() < 16 && !got,
                "frame {n} of stillness: {} bytes",
                bytes.len()
            );
        } else {
            assert!(got && enc.exact() && dec.exact());
            assert_eq!(enc.stats().coarse, 0);
        }
    }
}

#[test]
fn a_video_that_stops_on_flat_content_ends_exact_on_both_sides() {
    // Flat content with edges through tiles (two colours in those tiles:
    // the exact resend is a palette rect over the whole tile), then a
    // full-screen video frame, then other flat content (not in the tile
    // cache), held still.
    let flat_at = |x0: usize| {
        let mut f = Frame::filled(640, 512, 0x0020_2020).unwrap();
        for y in 100..300 {
            for x in x0..x0 + 580 {
                f.pixels_mut()[y * 640 + x] = 0x00C0_4010;
            }
        }
        f
    };
    let (before, flat) = (flat_at(30), flat_at(41));
    let mut synth = Synth::new(Workload::Video, 640, 512, 2).unwrap();
    let video = synth.next_frame().clone();
    let mut enc = Encoder::with_config(EncoderConfig {
        coarse_motion: true,
        ..EncoderConfig::default()
    });
    let mut dec = Decoder::new();
    dec.decode(&enc.encode(&before)).unwrap();
    let mut rects = 0;
    for frame in [&video, &flat, &flat, &flat, &flat] {
        dec.decode(&enc.encode(frame)).unwrap();
        rects += enc.stats().rect;
        assert_eq!(dec.exact(), enc.exact(), "{:?}", enc.stats());
    }
    assert!(rects > 0, "no tile was made exact by a rect");
    assert!(enc.exact() && dec.frame().unwrap() == &flat);
}

#[test]
fn an_unchanged_screen_sends_nothing_unless_something_is_due() {
    let mut synth = Synth::new(Workload::Typing, 320, 200, 5).unwrap();
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    let first = synth.frame().clone();
    let key = enc.encode_changed(first.clone()).expect("the first frame");
    assert!(enc.stats().key);
    dec.decode(&key).unwrap();
    assert_eq!(enc.encode_changed(first.clone()), None);
    let next = synth.next_frame().clone();
    let delta = enc.encode_changed(next.clone()).expect("a glyph was typed");
    // Skipped frames were never numbered: the delta follows the key.
    assert!(dec.decode(&delta).unwrap() == &next);
    assert_eq!(enc.encode_changed(next.clone()), None);
    // A viewer asking for a key frame gets one even if nothing changed.
    enc.request_keyframe();
    let again = enc.encode_changed(next.clone()).expect("a key frame");
    assert!(enc.stats().key && dec.decode(&again).unwrap() == &next);

    // Coarse tiles of a video that stopped: nothing until they held still
    // for REFINE_AFTER frames, then the exact picture.
    let mut synth = Synth::new(Workload::Video, 640, 512, 2).unwrap();
    let mut enc = Encoder::with_config(EncoderConfig {
        coarse_motion: true,
        ..EncoderConfig::default()
    });
    let mut dec = Decoder::new();
    dec.decode(&enc.encode_changed(synth.frame().clone()).unwrap())
        .unwrap();
    let video = synth.next_frame().clone();
    dec.decode(&enc.encode_changed(video.clone()).unwrap())
        .unwrap();
    assert!(enc.stats().coarse > 0 && !dec.exact());
    for _ in 1..REFINE_AFTER {
        assert_eq!(enc.encode_changed(video.clone()), None);
    }
    let exact = enc.encode_changed(video.clone()).expect("made exact");
    assert!(dec.decode(&exact).unwrap() == &video && dec.exact() && enc.exact());
    assert_eq!(enc.encode_changed(video), None);
}

#[test]
fn typing_frames_are_small() {
    let reports = run_workload(Workload::Typing, 30, 5);
    let sizes: Vec<usize> = reports.iter().map(|r| r.bytes).collect();
    // One to three glyphs and the cursor: palette rects of one bit per
    // pixel in the session's stream, tens of bytes rather than the 16 KB
    // of a tile.
    assert!(percentile(&sizes, 50) <= 80, "sizes {sizes:?}");
    assert!(percentile(&sizes, 100) <= 400, "sizes {sizes:?}");
    assert!(reports.iter().all(|r| r.stats.palette > 0), "{reports:?}");
}

/// Draws an 8x16 glyph (one bit per pixel of `bits`, row by row) at `x, y`.
fn draw_glyph(f: &mut Frame, bits: &[u8; 16], x: u32, y: u32) {
    let w = f.width() as usize;
    for (dy, row) in bits.iter().enumerate() {
        for dx in 0..8 {
            let on = row & (0x80 >> dx) != 0;
            f.pixels_mut()[(y as usize + dy) * w + x as usize + dx] =
                if on { 0x00d0_d0d0 } else { 0x001e_1e1e };
        }
    }
}

#[test]
fn words_of_glyphs_seen_before_cost_less_than_new_ones() {
    let mut rng = XorShift::new(9);
    let glyphs: Vec<[u8; 16]> = (0..6)
        .map(|_| {
            let mut g = [0u8; 16];
            g[3..13]
                .iter_mut()
                .for_each(|r| *r = rng.next_u64() as u8 & 0x7e);
            g
        })
        .collect();
    let mut f = Frame::filled(640, 64, 0x001e_1e1e).unwrap();
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    let mut type_word = |f: &mut Frame, word: [usize; 3], x: u32| {
        for (i, &g) in word.iter().enumerate() {
            draw_glyph(f, &glyphs[g], x + 8 * i as u32, 16);
        }
        let bytes = enc.encode(f);
        assert!(dec.decode(&bytes).unwrap() == f);
        bytes.len()
    };
    type_word(&mut f, [5, 5, 5], 0);
    let first = type_word(&mut f, [0, 1, 2], 40);
    // The same glyphs in another order, elsewhere on the line (not a
    // multiple of 8 pixels away, in another tile).
    let again = type_word(&mut f, [2, 0, 1], 203);
    let new = type_word(&mut f, [3, 4, 3], 299);
    // New glyphs cost their bits (about 10 random bytes each); seen ones
    // are references into the stream, whatever their order.
    assert!(
        again * 2 <= first && again * 3 <= new * 2,
        "first {first}, again {again}, new {new}"
    );
}

#[test]
fn baseline_counts_only_changed_tiles() {
    let a = Frame::filled(200, 100, 1).unwrap();
    assert_eq!(dirty_tiles_zstd_size(&a, &a), 0);
    let mut b = a.clone();
    b.pixels_mut()[0] = 2;
    assert!(dirty_tiles_zstd_size(&a, &b) > 0);
}

#[test]
fn photo_like_tiles_go_as_planes_and_text_stays_interleaved() {
    // The drag workload's desktop is a colour gradient: few pixels repeat
    // their neighbour, so its key frame goes as planes, which zstd folds
    // far better than interleaved pixels (1.28 MB that way).
    let synth = Synth::full_hd(Workload::WindowDrag, 3);
    let mut enc = Encoder::new();
    let key = enc.encode(synth.frame());
    let stats = enc.stats().clone();
    assert!(stats.planes >= 300, "{stats:?}");
    assert!(
        key.len() < 400_000,
        "gradient key frame of {} bytes",
        key.len()
    );
    assert_eq!(Decoder::new().decode(&key).unwrap(), synth.frame());
    // Text on flat colour repeats its neighbours: interleaved.
    let text = Synth::full_hd(Workload::Typing, 3);
    let mut enc = Encoder::new();
    enc.encode(text.frame());
    assert_eq!(enc.stats().planes, 0, "{:?}", enc.stats());
    // Video (noise in every pixel): every pixel tile goes as planes, nearly
    // all XORed with the same place a frame earlier (about 3.3 MB a frame
    // where plain planes take 4.3 MB), and decodes exactly.
    let mut video = Synth::full_hd(Workload::Video, 3);
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    dec.decode(&enc.encode(video.frame())).unwrap();
    for _ in 0..3 {
        let frame = video.next_frame().clone();
        let bytes = enc.encode(&frame);
        let s = enc.stats();
        assert_eq!(s.planes, s.zstd + s.xor_zstd, "{s:?}");
        assert!(s.xor_zstd >= 500, "{s:?}");
        assert!(
            bytes.len() < 3_800_000,
            "video frame of {} bytes",
            bytes.len()
        );
        assert_eq!(dec.decode(&bytes).unwrap(), &frame);
    }
}

/// A photo-like frame: a smooth gradient in a direction of its own, with
/// independent grain in each channel.
fn photo(width: u32, height: u32, seed: u64, (ax, ay): (u32, u32)) -> Frame {
    let mut rng = XorShift::new(seed);
    let pixels = (0..width * height)
        .map(|i| {
            let (x, y) = (i % width, i / width);
            let grain = rng.next_u64() as u32 & 0x0007_0707;
            let base = (x * ax + y * ay) / 4;
            (((base & 0xff) << 16) | (((base / 2) & 0xff) << 8) | (255 - (base & 0xff))) + grain
        })
        .collect();
    Frame::from_pixels(width, height, pixels).unwrap()
}

#[test]
fn a_photo_replacing_an_unrelated_one_goes_plain() {
    // Both change at most pixels raw and XORed: the encoder compresses a
    // sample of each. An unrelated photo is cheaper plain than XORed with
    // the one it replaces.
    let (a, b) = (photo(640, 384, 1, (3, 1)), photo(640, 384, 2, (1, 5)));
    let mut enc = Encoder::with_config(EncoderConfig {
        batching: lifeline_proto::screen::Batching::Never,
        ..EncoderConfig::default()
    });
    let mut dec = Decoder::new();
    dec.decode(&enc.encode(&a)).unwrap();
    let bytes = enc.encode(&b);
    let s = enc.stats().clone();
    assert!(s.unsure >= 50, "{s:?}");
    assert!(s.zstd > s.xor_zstd * 4, "{s:?}");
    assert_eq!(dec.decode(&bytes).unwrap(), &b);
    // Forcing XOR on every unsure tile costs more: the choice pays.
    let xored: usize = (0..a.pixels().len())
        .map(|i| a.pixels()[i] ^ b.pixels()[i])
        .collect::<Vec<u32>>()
        .chunks(4096)
        .map(|c| {
            let planes: Vec<u8> = (0..4)
                .flat_map(|k| c.iter().map(move |p| p.to_le_bytes()[k]))
                .collect();
            zstd::bulk::compress(&planes, 1).unwrap().len()
        })
        .sum();
    assert!(
        bytes.len() < xored,
        "{} bytes, XOR planes {xored}",
        bytes.len()
    );
}

#[test]
fn incompressible_tiles_go_inline_as_interleaved_pixels() {
    // Full 32-bit noise, every tile compressed alone, partial tiles at the
    // edges: planes zstd cannot shrink go inline as RAW or XOR, converted
    // back to interleaved pixels.
    let mut rng = XorShift::new(9);
    let mut noise = || {
        let px = (0..100 * 70).map(|_| rng.next_u64() as u32).collect();
        Frame::from_pixels(100, 70, px).unwrap()
    };
    let mut enc = Encoder::with_config(EncoderConfig {
        batching: lifeline_proto::screen::Batching::Never,
        threads: 1,
        ..EncoderConfig::default()
    });
    let mut dec = Decoder::new();
    for i in 0..3 {
        let frame = noise();
        let bytes = enc.encode(&frame);
        let s = enc.stats().clone();
        assert_eq!(s.raw + s.xor, 4, "frame {i}: {s:?}");
        assert_eq!(s.zstd + s.xor_zstd, 0, "frame {i}: {s:?}");
        assert_eq!(dec.decode(&bytes).unwrap(), &frame, "frame {i}");
    }
}

/// Bytes of `cur` as a delta after `prev` from a fresh encoder: every
/// unsure tile sampled.
fn all_sampled(prev: &Frame, cur: &Frame) -> usize {
    let mut enc = Encoder::new();
    enc.encode(prev);
    let bytes = enc.encode(cur).len();
    assert_eq!(enc.stats().unsure_reused, 0);
    bytes
}

#[test]
fn unsure_tiles_keep_their_sampled_choice_between_samples() {
    // Video: the first delta samples every tile; later ones sample each
    // tile only on its turn (about one in eight) and XOR the rest as the
    // last sample chose, within 1 % of the bytes of sampling them all.
    // Every frame decodes exactly.
    // 84 tiles: enough to be compressed tile by tile, not in the stream.
    let mut video = Synth::new(Workload::Video, 768, 448, 5).unwrap();
    let tiles = 12 * 7;
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    dec.decode(&enc.encode(video.frame())).unwrap();
    for i in 0..9 {
        let prev = video.frame().clone();
        let frame = video.next_frame().clone();
        let bytes = enc.encode(&frame);
        let s = enc.stats().clone();
        let len = bytes.len();
        assert_eq!(dec.decode(&bytes).unwrap(), &frame, "video frame {i}");
        assert_eq!(s.unsure + s.unsure_reused, tiles, "frame {i}: {s:?}");
        if i == 0 {
            assert_eq!(s.unsure_reused, 0, "{s:?}");
        } else {
            assert!(s.unsure <= tiles / 8 + 1, "frame {i} sampled: {s:?}");
        }
        assert!(s.xor_zstd * 10 >= tiles * 9, "frame {i}: {s:?}");
        let sampled = all_sampled(&prev, &frame);
        assert!(
            len * 100 <= sampled * 101,
            "frame {i}: {len} B, {sampled} B sampling all"
        );
    }
    // Unrelated photos one after another: tiles that reuse a choice cost
    // no more than sampling them (most sample plain). After
    // the video, whose tiles chose XOR, every tile has sampled again
    // within eight frames (XOR would cost about 9 % more).
    let mut prev: Option<Frame> = None;
    for i in 0..10u64 {
        let dir = if i % 2 == 0 { (3, 1) } else { (1, 3) };
        let frame = photo(768, 448, 100 + i, dir);
        let bytes = enc.encode(&frame);
        let s = enc.stats().clone();
        let len = bytes.len();
        assert_eq!(dec.decode(&bytes).unwrap(), &frame, "photo {i}");
        if i >= 8 {
            assert!(s.unsure_reused * 2 >= tiles, "photo {i}: {s:?}");
        }
        if let Some(p) = prev.as_ref().filter(|_| i >= 8) {
            let sampled = all_sampled(p, &frame);
            assert!(
                len * 100 <= sampled * 101,
                "photo {i}: {len} B, {sampled} B sampling all"
            );
        }
        prev = Some(frame);
    }
}

/// `wide` seen through a `width`-pixel window starting at column `x`.
fn window(wide: &Frame, x: u32, width: u32) -> Frame {
    let pixels = (0..wide.height())
        .flat_map(|y| wide.row(y)[x as usize..(x + width) as usize].to_vec())
        .collect();
    Frame::from_pixels(width, wide.height(), pixels).unwrap()
}

#[test]
fn a_pan_after_video_is_found_within_a_few_frames() {
    // After video, where the 2D motion search keeps finding nothing, the
    // encoder runs it only every few frames of a large change. A
    // full-screen pan that follows must still become copies within four
    // frames, and from then on every frame of it.
    let (w, h) = (640, 384);
    let mut video = Synth::new(Workload::Video, w, h, 9).unwrap();
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    dec.decode(&enc.encode(video.frame())).unwrap();
    for _ in 0..5 {
        let frame = video.next_frame().clone();
        dec.decode(&enc.encode(&frame)).unwrap();
    }
    let wide = photo(w + 8 * 10, h, 77, (2, 1));
    let mut found = None;
    for step in 0..8u32 {
        let frame = window(&wide, 8 * step, w);
        let bytes = enc.encode(&frame);
        let s = enc.stats().clone();
        assert_eq!(dec.decode(&bytes).unwrap(), &frame, "pan step {step}");
        let panned = s.copy * 2 >= s.dirty;
        match found {
            None if panned => found = Some(step),
            Some(_) => assert!(panned, "pan lost at step {step}: {s:?}"),
            None => {}
        }
    }
    // Step 0 replaces the video (nothing to find); the pan starts at 1.
    let found = found.expect("the pan was never found");
    assert!((1..=4).contains(&found), "pan found at step {found}");
}

#[test]
fn a_pan_after_small_changes_is_found_at_once() {
    // Small changes the 2D search finds nothing for (a little video in a
    // corner of a photo) must not make it skip: the first frame of a
    // full-screen pan that follows is already copies.
    let (w, h) = (640, 384);
    let wide = photo(w + 8 * 4, h, 31, (1, 2));
    let mut rng = XorShift::new(3);
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    for i in 0..8 {
        let mut frame = window(&wide, 0, w);
        // 256×128 of noise at (64, 64): eight tiles, changed every frame.
        for y in 64..192 {
            for x in 64..320 {
                frame.pixels_mut()[(y * w + x) as usize] = rng.next_u64() as u32 & 0x00ff_ffff;
            }
        }
        let bytes = enc.encode(&frame);
        assert_eq!(dec.decode(&bytes).unwrap(), &frame, "small change {i}");
    }
    let first = window(&wide, 0, w);
    dec.decode(&enc.encode(&first)).unwrap();
    let frame = window(&wide, 8, w);
    let bytes = enc.encode(&frame);
    let s = enc.stats().clone();
    assert_eq!(dec.decode(&bytes).unwrap(), &frame);
    assert!(
        s.copy * 2 >= s.dirty,
        "the pan was not found at once: {s:?}"
    );
}
