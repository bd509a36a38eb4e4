//! Coarse tiles: a tile of a large moving area (a video, an animation)
//! sent at reduced resolution while it moves. The encoder only uses them
//! when [`super::EncoderConfig::coarse_motion`] is on, and sends the exact
//! tile once it has held still for [`super::REFINE_AFTER`] frames, so a
//! still screen is always bit for bit what was captured.
//!
//! The layout (brightness at half resolution, colour at quarter
//! resolution, YCoCg, six bits a value, left deltas per plane) is part of
//! the wire format, documented with it in the `screen` module.

use super::frame::Frame;
use super::tile::Rect;

/// Half-pixel and quarter-block grid sizes of tile `r`: `(cw, ch, qw, qh)`.
fn dims(r: Rect) -> (usize, usize, usize, usize) {
    let (cw, ch) = (r.w.div_ceil(2) as usize, r.h.div_ceil(2) as usize);
    (cw, ch, cw.div_ceil(2), ch.div_ceil(2))
}

/// A stored six-bit brightness back to the 0..=255 range.
fn widen(v: u8) -> i32 {
    let v = i32::from(v & 0x3F);
    (v << 2) | (v >> 4)
}

/// A stored six-bit chroma value back to -128..=124 (32 is grey's 0).
fn chroma(v: u8) -> i32 {
    4 * i32::from(v & 0x3F) - 128
}

/// Bytes of a coarse tile's planes for tile `r`.
pub(crate) fn coarse_len(r: Rect) -> usize {
    let (cw, ch, qw, qh) = dims(r);
    cw * ch + 2 * qw * qh
}

/// Appends the planes of tile `r` of `f` to `out`.
pub(crate) fn put_coarse(f: &Frame, r: Rect, out: &mut Vec<u8>) {
    let (cw, ch, qw, qh) = dims(r);
    let (x0, w) = (r.x as usize, r.w as usize);
    let (n, m) = (cw * ch, qw * qh);
    let start = out.len();
    out.resize(start + n + 2 * m, 0);
    let (luma, chroma_planes) = out[start..].split_at_mut(n);
    // Per quarter block: Σ(r - b), Σ(2g - r - b) and samples summed.
    let mut sums = vec![[0i32; 3]; m];
    for cy in 0..ch {
        let y0 = r.y + 2 * cy as u32;
        let y1 = (y0 + 1).min(r.y + r.h - 1);
        let rows = [&f.row(y0)[x0..x0 + w], &f.row(y1)[x0..x0 + w]];
        let luma_row = &mut luma[cy * cw..(cy + 1) * cw];
        let sums_row = &mut sums[(cy / 2) * qw..(cy / 2 + 1) * qw];
        let pairs = rows[0].chunks(2).zip(rows[1].chunks(2));
        for (cx, ((top, bottom), l)) in pairs.zip(luma_row.iter_mut()).enumerate() {
            // A one-pixel-wide chunk (the right edge) counts twice. Red and
            // blue are summed side by side in one word, green in another.
            let (mut rb, mut g) = (0u32, 0u32);
            for p in [
                top[0],
                top[top.len() - 1],
                bottom[0],
                bottom[bottom.len() - 1],
            ] {
                rb += p & 0x00FF_00FF;
                g += (p >> 8) & 0xFF;
            }
            let (sr, sg, sb) = ((rb >> 16) as i32, g as i32, (rb & 0xFFFF) as i32);
            let y = (sr + 2 * sg + sb + 8) / 16;
            *l = ((y * 63 + 127) / 255) as u8;
            let s = &mut sums_row[cx / 2];
            s[0] += sr - sb;
            s[1] += 2 * sg - sr - sb;
            s[2] += 4;
        }
    }
    let (co, cg) = chroma_planes.split_at_mut(m);
    for ((o, g), [so, sg, k]) in co.iter_mut().zip(cg.iter_mut()).zip(sums) {
        // Means: Co = so / 2k, Cg = sg / 4k; both numerators stay positive.
        // A whole quarter block (k = 16, every block of a full tile) divides
        // by a constant.
        let (no, ng) = ((so + 260 * k) as u32, (sg + 520 * k) as u32);
        let (qo, qg) = if k == 16 {
            (no / 128, ng / 256)
        } else {
            (no / (8 * k as u32), ng / (16 * k as u32))
        };
        *o = qo.min(63) as u8;
        *g = qg.min(63) as u8;
    }
    for plane in [luma, co, cg] {
        let mut last = 0u8;
        for b in plane.iter_mut() {
            let v = *b;
            *b = v.wrapping_sub(last);
            last = v;
        }
    }
}

/// Expands planes of exactly [`coarse_len`] bytes into tile `r`'s pixels
/// in `band`: rows of `stride` pixels, the first being row `r.y` of the
/// frame, holding at least the tile's rows.
pub(crate) fn expand_coarse(planes: &[u8], r: Rect, band: &mut [u32], stride: usize) {
    let (cw, ch, qw, qh) = dims(r);
    let (n, m) = (cw * ch, qw * qh);
    let mut values = planes[..n + 2 * m].to_vec();
    let (luma, chroma_planes) = values.split_at_mut(n);
    let (co, cg) = chroma_planes.split_at_mut(m);
    for plane in [&mut *luma, &mut *co, &mut *cg] {
        let mut last = 0u8;
        for b in plane.iter_mut() {
            last = last.wrapping_add(*b);
            *b = last;
        }
    }
    let (w, x0) = (r.w as usize, r.x as usize);
    let mut half = vec![0u32; cw];
    for cy in 0..ch {
        let luma_row = &luma[cy * cw..(cy + 1) * cw];
        let q = (cy / 2) * qw;
        let (co_row, cg_row) = (&co[q..q + qw], &cg[q..q + qw]);
        for (cx, (&l, p)) in luma_row.iter().zip(half.iter_mut()).enumerate() {
            let (o, g) = (chroma(co_row[cx / 2]), chroma(cg_row[cx / 2]));
            let y = widen(l);
            let base = y - g;
            let green = (y + g).clamp(0, 255) as u32;
            let red = (base + o).clamp(0, 255) as u32;
            let blue = (base - o).clamp(0, 255) as u32;
            *p = red << 16 | green << 8 | blue;
        }
        // Each half pixel covers two pixels of two rows (one at an odd
        // right or bottom edge).
        let at = 2 * cy * stride + x0;
        let mut pairs = band[at..at + w].chunks_exact_mut(2);
        for (pair, &p) in (&mut pairs).zip(&half) {
            pair[0] = p;
            pair[1] = p;
        }
        if let [last] = pairs.into_remainder() {
            *last = half[cw - 1];
        }
        if 2 * cy + 1 < r.h as usize {
            band.copy_within(at..at + w, at + stride);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(w: u32, h: u32, colour: impl Fn(u32, u32) -> u32) -> Frame {
        let mut f = Frame::filled(w, h, 0).unwrap();
        for y in 0..h {
            for x in 0..w {
                f.pixels_mut()[(y * w + x) as usize] = colour(x, y);
            }
        }
        f
    }

    fn rect(x: u32, y: u32, w: u32, h: u32) -> Rect {
        Rect { x, y, w, h }
    }

    fn round_trip(f: &Frame, r: Rect) -> (Vec<u8>, Vec<u32>) {
        let mut planes = vec![0xAA];
        put_coarse(f, r, &mut planes);
        assert_eq!(planes[0], 0xAA, "appends, keeps what was there");
        planes.remove(0);
        assert_eq!(planes.len(), coarse_len(r));
        // Expanded into a band of the frame's width, the tile's first row
        // first; what lies outside the tile stays untouched.
        let stride = f.width() as usize;
        let mut band = vec![7u32; stride * r.h as usize];
        expand_coarse(&planes, r, &mut band, stride);
        let mut px = Vec::new();
        for (y, row) in band.chunks_exact(stride).enumerate() {
            let inside = r.x as usize..(r.x + r.w) as usize;
            px.extend_from_slice(&row[inside.clone()]);
            let outside = row.iter().enumerate().filter(|(x, _)| !inside.contains(x));
            assert!(outside.map(|(_, &p)| p).all(|p| p == 7), "row {y}");
        }
        assert_eq!(px.len(), r.area());
        (planes, px)
    }

    fn channel_error(a: u32, b: u32) -> u32 {
        (0..3)
            .map(|k| ((a >> (8 * k)) & 0xFF).abs_diff((b >> (8 * k)) & 0xFF))
            .max()
            .unwrap()
    }

    #[test]
    fn brightness_keeps_each_2x2_block_and_colour_each_4x4_block() {
        // A 7x5 tile at (1, 1), so blocks are clipped at the right and
        // bottom edges: a grey ramp (brightness changes every pixel) on a
        // constant tint.
        let f = frame_of(9, 7, |x, y| {
            let v = 40 + x * 20 + y * 9;
            (v + 30) << 16 | v << 8 | (v - 20)
        });
        let r = rect(1, 1, 7, 5);
        let (planes, px) = round_trip(&f, r);
        // 4x3 half pixels of brightness, 2x2 quarter blocks of Co and Cg.
        assert_eq!(planes.len(), 12 + 4 + 4);
        for y in 0..5u32 {
            for x in 0..7u32 {
                // The mean of the 2x2 block the pixel belongs to.
                let (bx, by) = (1 + x / 2 * 2, 1 + y / 2 * 2);
                let xs = [bx, (bx + 1).min(7)];
                let ys = [by, (by + 1).min(5)];
                let mut sum = [0u32; 3];
                for yy in ys {
                    for xx in xs {
                        let p = f.pixels()[(yy * 9 + xx) as usize];
                        for (k, s) in sum.iter_mut().enumerate() {
                            *s += (p >> (8 * k)) & 0xFF;
                        }
                    }
                }
                let mean = (sum[2] / 4) << 16 | (sum[1] / 4) << 8 | (sum[0] / 4);
                let got = px[(y * 7 + x) as usize];
                assert!(
                    channel_error(got, mean) <= 6,
                    "pixel ({x}, {y}): {got:06x} against the block mean {mean:06x}"
                );
                assert_eq!(got >> 24, 0);
            }
        }
        // A block covers its pixels: (0,0), (1,0), (0,1), (1,1) agree.
        assert_eq!(px[0], px[1]);
        assert_eq!(px[0], px[7]);
        assert_eq!(px[0], px[8]);
        assert_ne!(px[0], px[2], "the next block is brighter");
    }

    #[test]
    fn saturated_colours_in_separate_blocks_survive() {
        // Pure red, green, blue and white in 4x4 blocks of an 8x8 tile.
        let colours = [0xFF_0000, 0x00_FF00, 0x00_00FF, 0xFF_FFFF];
        let f = frame_of(8, 8, |x, y| colours[(y / 4 * 2 + x / 4) as usize]);
        let r = rect(0, 0, 8, 8);
        let (_, px) = round_trip(&f, r);
        for (i, (&got, &want)) in px.iter().zip(f.pixels()).enumerate() {
            assert!(
                channel_error(got, want) <= 6,
                "pixel {i}: {got:06x} for {want:06x}"
            );
        }
    }

    #[test]
    fn a_grey_noisy_picture_puts_its_detail_in_brightness() {
        // Grey noise: colour planes are flat, so after the deltas they are
        // all zero but the first byte; brightness carries the detail.
        let f = frame_of(64, 64, |x, y| {
            let v = (x * 7 + y * 13) % 200;
            v * 0x01_0101
        });
        let r = rect(0, 0, 64, 64);
        let (planes, px) = round_trip(&f, r);
        let (luma, colour) = planes.split_at(32 * 32);
        assert_eq!(colour.len(), 2 * 16 * 16);
        assert!(colour[1..256].iter().all(|&d| d == 0));
        assert!(colour[257..].iter().all(|&d| d == 0));
        assert!(luma.iter().filter(|&&d| d != 0).count() > 500);
        for &p in &px {
            let [b, g, r, _] = p.to_le_bytes();
            assert!(b == g && g == r, "grey stays grey: {p:06x}");
        }
    }
}
