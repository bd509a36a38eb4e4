//! Palette rects of text are cut into their lines inside a parts record;
//! a tile with more lines than one record holds keeps them whole.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_proto::screen::synth::XorShift;
use lifeline_proto::screen::{Decoder, Encoder, Frame};

/// A 128x128 frame of unique-looking pixels (every copy is unambiguous).
fn noise(seed: u64) -> Frame {
    let mut f = Frame::filled(128, 128, 0).unwrap();
    let mut rng = XorShift::new(seed);
    for p in f.pixels_mut() {
        *p = rng.next_u64() as u32 & 0x00FF_FFFF;
    }
    f
}

#[test]
fn a_moved_window_beside_many_text_lines_decodes() {
    // The content moves 8 px right and 8 px down (a window drag): each
    // tile at the top left is the moved part (a copy), a band of new
    // pixels above it and one to its left. The left band is text: lines
    // `ink` rows tall, `gap` rows apart, in two colours. With lines every
    // 3 or 4 rows the copy, the lines and the top band are more rects than
    // a parts record holds, and must not be written as one.
    for (ink, gap) in [(1, 1), (1, 2), (2, 2), (3, 1), (5, 3)] {
        let prev = noise(9);
        let mut cur = Frame::filled(128, 128, 0).unwrap();
        for y in 0..128u32 {
            for x in 0..128u32 {
                let v = if x >= 8 && y >= 8 {
                    prev.get(x - 8, y - 8).unwrap()
                } else if y < 8 {
                    // Top band: many colours, not a palette.
                    (x.wrapping_mul(2_654_435_761) ^ (y * 40_503)) & 0x00FF_FFFF
                } else if (y - 8) % (ink + gap) < ink && (x + y) % 3 != 0 {
                    0x00D0_D0D0
                } else {
                    0x001E_1E1E
                };
                cur.pixels_mut()[(y * 128 + x) as usize] = v;
            }
        }
        let mut enc = Encoder::new();
        let mut dec = Decoder::new();
        dec.decode(&enc.encode(&prev)).unwrap();
        let bytes = enc.encode(&cur);
        let out = dec
            .decode(&bytes)
            .unwrap_or_else(|e| panic!("lines {ink}+{gap}: {e}"));
        assert!(out == &cur, "lines {ink}+{gap}: decoded frame differs");
        assert!(
            enc.stats().copy + enc.stats().parts > 0,
            "{:?}",
            enc.stats()
        );
    }
}
