//! Coarse tiles: a tile of a large moving area (a video, an animation)
//! sent at half resolution while it moves. The encoder only uses them when
//! [`super::EncoderConfig::coarse_motion`] is on, and sends the exact tile
//! once it has held still for [`super::REFINE_AFTER`] frames, so a still
//! screen is always bit for bit what was captured.
//!
//! Layout (before zstd): the tile's `ceil(w/2) x ceil(h/2)` half-resolution
//! pixels as three planes — blue, green, red bytes — each row-major, each
//! byte minus the byte before it in its plane (0 before the first),
//! wrapping. A half-resolution pixel is the rounded mean of its 2x2 block
//! (the block clipped at the tile's edge) in six bits per colour (the mean
//! shifted right by two); decoded, a six-bit value `v` (the byte's low six
//! bits) becomes `v << 2 | v >> 4` and covers the block; the fourth byte
//! decodes as 0.

use super::frame::Frame;
use super::tile::Rect;

/// Low bits dropped from each colour byte of a coarse pixel.
const DROP: u32 = 2;

/// A stored coarse byte (its low six bits) back to the 0..=255 range.
fn widen(v: u8) -> u8 {
    let v = v & (0xFF >> DROP);
    (v << DROP) | (v >> (8 - 2 * DROP))
}

/// Bytes of a coarse tile's planes for tile `r`.
pub(crate) fn coarse_len(r: Rect) -> usize {
    r.w.div_ceil(2) as usize * r.h.div_ceil(2) as usize * 3
}

/// Appends the planes of tile `r` of `f` to `out`.
pub(crate) fn put_coarse(f: &Frame, r: Rect, out: &mut Vec<u8>) {
    let (cw, ch) = (r.w.div_ceil(2) as usize, r.h.div_ceil(2) as usize);
    let n = cw * ch;
    let start = out.len();
    out.resize(start + 3 * n, 0);
    let planes = &mut out[start..];
    let mut i = 0;
    for cy in 0..ch as u32 {
        let y0 = r.y + 2 * cy;
        let rows = [f.row(y0), f.row((y0 + 1).min(r.y + r.h - 1))];
        let x_end = (r.x + r.w) as usize;
        for cx in 0..cw {
            let x0 = r.x as usize + 2 * cx;
            let xs = [x0, (x0 + 1).min(x_end - 1)];
            let mut sum = [0u32; 3];
            for row in rows {
                for x in xs {
                    let p = row[x];
                    sum[0] += p & 0xFF;
                    sum[1] += (p >> 8) & 0xFF;
                    sum[2] += (p >> 16) & 0xFF;
                }
            }
            for (lane, s) in sum.iter().enumerate() {
                planes[lane * n + i] = (((s + 2) / 4) >> DROP) as u8;
            }
            i += 1;
        }
    }
    for plane in planes.chunks_exact_mut(n.max(1)) {
        let mut last = 0u8;
        for b in plane.iter_mut() {
            let v = *b;
            *b = v.wrapping_sub(last);
            last = v;
        }
    }
}

/// Expands planes of exactly [`coarse_len`] bytes into tile `r`'s pixels,
/// row by row, appended to `out`.
pub(crate) fn expand_coarse(planes: &[u8], r: Rect, out: &mut Vec<u32>) {
    let (cw, ch) = (r.w.div_ceil(2) as usize, r.h.div_ceil(2) as usize);
    let n = cw * ch;
    let mut half = vec![0u32; n];
    for (lane, plane) in planes.chunks_exact(n.max(1)).take(3).enumerate() {
        let mut last = 0u8;
        for (p, &d) in half.iter_mut().zip(plane) {
            last = last.wrapping_add(d);
            *p |= u32::from(widen(last)) << (8 * lane);
        }
    }
    for y in 0..r.h as usize {
        let src = &half[(y / 2) * cw..(y / 2) * cw + cw];
        out.extend((0..r.w as usize).map(|x| src[x / 2]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coarse_tile_keeps_each_blocks_mean_colour() {
        // A 5x3 tile at (1, 1): blocks of 2x2, clipped at the right and
        // bottom edges.
        let mut f = Frame::filled(8, 6, 0).unwrap();
        for y in 0..6 {
            for x in 0..8 {
                f.pixels_mut()[(y * 8 + x) as usize] = (x * 10) << 16 | (y * 20) << 8 | 7;
            }
        }
        let r = Rect {
            x: 1,
            y: 1,
            w: 5,
            h: 3,
        };
        let mut planes = Vec::new();
        put_coarse(&f, r, &mut planes);
        assert_eq!(planes.len(), coarse_len(r));
        let mut px = Vec::new();
        expand_coarse(&planes, r, &mut px);
        assert_eq!(px.len(), r.area());
        // Six bits per colour, widened back to eight.
        let q = |v: u32| (v >> 2) << 2 | v >> 6;
        // Top-left block: x 1..=2, y 1..=2: red 15, green 30, blue 7.
        assert_eq!(px[0], q(15) << 16 | q(30) << 8 | q(7));
        assert_eq!(px[1], px[0]);
        assert_eq!(px[5], px[0]);
        // Right edge block is x 5 only; bottom block is y 3 only.
        assert_eq!(px[4], q(50) << 16 | q(30) << 8 | q(7));
        assert_eq!(px[14], q(50) << 16 | q(60) << 8 | q(7));
    }
}
