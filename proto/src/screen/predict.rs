//! Prediction codings for rect pixels: each byte goes on the wire as its
//! difference (wrapping) from a prediction made of pixels the decoder
//! already has, so smooth areas (gradients, wallpapers, anti-aliased UI)
//! turn into runs of zeros the compressor folds.
//!
//! Predictions only use pixels of the rect itself, so a rect decodes the
//! same wherever it lands and whatever was applied before it:
//! - [`Predictor::Left`]: the pixel to the left (0 left of a row's first).
//! - [`Predictor::Med`]: the median edge detector of LOCO-I / JPEG-LS, per
//!   byte lane, from left `a`, above `b` and above-left `c`: `min(a, b)` if
//!   `c >= max(a, b)`, `max(a, b)` if `c <= min(a, b)`, else `a + b - c`.
//!   Good on edges and photos.
//! - [`Predictor::Plane`]: `a + b - c` per byte lane, wrapping: the plane
//!   through the three neighbours, exact on any linear gradient (MED is off
//!   by the smaller slope where both axes rise).
//!
//! MED and Plane predict the first row from the left, the first column
//! from above and the first pixel from 0.

use super::frame::Frame;
use super::tile::Rect;

/// Which prediction a rect's bytes are relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Predictor {
    Left,
    Med,
    Plane,
}

impl Predictor {
    /// Every predictor, in the order the encoder prefers on equal cost.
    pub(crate) const ALL: [Predictor; 3] = [Predictor::Med, Predictor::Plane, Predictor::Left];
}

/// Byte-wise `a - b`, wrapping in each byte.
pub(crate) fn byte_sub(a: u32, b: u32) -> u32 {
    let (a, b) = (a.to_le_bytes(), b.to_le_bytes());
    u32::from_le_bytes([
        a[0].wrapping_sub(b[0]),
        a[1].wrapping_sub(b[1]),
        a[2].wrapping_sub(b[2]),
        a[3].wrapping_sub(b[3]),
    ])
}

/// Byte-wise `a + b`, wrapping in each byte.
pub(crate) fn byte_add(a: u32, b: u32) -> u32 {
    let (a, b) = (a.to_le_bytes(), b.to_le_bytes());
    u32::from_le_bytes([
        a[0].wrapping_add(b[0]),
        a[1].wrapping_add(b[1]),
        a[2].wrapping_add(b[2]),
        a[3].wrapping_add(b[3]),
    ])
}

/// The median edge detector on each byte lane.
fn med(a: u32, b: u32, c: u32) -> u32 {
    let (a, b, c) = (a.to_le_bytes(), b.to_le_bytes(), c.to_le_bytes());
    let lane = |i: usize| {
        let (a, b, c) = (a[i], b[i], c[i]);
        let (lo, hi) = (a.min(b), a.max(b));
        if c >= hi {
            lo
        } else if c <= lo {
            hi
        } else {
            // lo < c < hi, so a + b - c lies in lo..=hi: no overflow.
            a.wrapping_add(b).wrapping_sub(c)
        }
    };
    u32::from_le_bytes([lane(0), lane(1), lane(2), lane(3)])
}

/// The prediction for column `i` of a row, given the row so far (`row[..i]`
/// already known) and the row above inside the rect (`None` on the first).
fn predict(p: Predictor, row: &[u32], above: Option<&[u32]>, i: usize) -> u32 {
    let left = if i > 0 { row[i - 1] } else { 0 };
    match (p, above) {
        (Predictor::Left, _) | (_, None) => left,
        (_, Some(up)) if i == 0 => up[0],
        (Predictor::Med, Some(up)) => med(left, up[i], up[i - 1]),
        (Predictor::Plane, Some(up)) => byte_sub(byte_add(left, up[i]), up[i - 1]),
    }
}

/// Calls `f` with each pixel of `r` in `cur` and its residual.
fn for_residuals(cur: &Frame, r: Rect, p: Predictor, mut f: impl FnMut(u32)) {
    let cols = r.x as usize..(r.x + r.w) as usize;
    let mut above: Option<&[u32]> = None;
    for y in r.y..r.y + r.h {
        let row = &cur.row(y)[cols.clone()];
        for (i, &px) in row.iter().enumerate() {
            f(byte_sub(px, predict(p, row, above, i)));
        }
        above = Some(row);
    }
}

/// Appends the residuals of `r` as little-endian bytes.
pub(crate) fn put_residuals(out: &mut Vec<u8>, cur: &Frame, r: Rect, p: Predictor) {
    for_residuals(cur, r, p, |v| out.extend_from_slice(&v.to_le_bytes()));
}

/// How many residual bytes of `r` differ from the same byte of the residual
/// before them: what a compressor cannot fold into runs, the cost estimate
/// the encoder compares codings by.
pub(crate) fn residual_cost(cur: &Frame, r: Rect, p: Predictor) -> u32 {
    let mut n = 0;
    let mut last = 0;
    for_residuals(cur, r, p, |v| {
        n += nonzero_bytes(v ^ last);
        last = v;
    });
    n
}

/// Non-zero bytes of a pixel value (of an XOR of two: bytes that differ).
pub(crate) fn nonzero_bytes(v: u32) -> u32 {
    v.to_le_bytes().iter().map(|&b| u32::from(b != 0)).sum()
}

/// Rebuilds the rect `sub` of `f` from `data` (`sub.area() * 4` bytes,
/// checked by the caller).
pub(crate) fn apply_residuals(f: &mut Frame, sub: Rect, data: &[u8], p: Predictor) {
    let width = f.width() as usize;
    let (x, w) = (sub.x as usize, sub.w as usize);
    let px = f.pixels_mut();
    for dy in 0..sub.h as usize {
        let start = (sub.y as usize + dy) * width + x;
        // The row above inside the rect is already rebuilt.
        let (before, rest) = px.split_at_mut(start);
        let above = (dy > 0).then(|| &before[start - width..start - width + w]);
        let row = &mut rest[..w];
        let src = &data[dy * w * 4..(dy + 1) * w * 4];
        for (i, c) in src.chunks_exact(4).enumerate() {
            let v = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            row[i] = byte_add(v, predict(p, row, above, i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> Frame {
        let mut f = Frame::filled(w, h, 0).unwrap();
        for y in 0..h {
            for x in 0..w {
                f.pixels_mut()[(y * w + x) as usize] = (x * 3) << 16 | (y * 2) << 8 | (x + y);
            }
        }
        f
    }

    #[test]
    fn residuals_rebuild_the_rect_and_the_plane_predicts_a_gradient_exactly() {
        let f = gradient(40, 30);
        let r = Rect {
            x: 5,
            y: 4,
            w: 20,
            h: 17,
        };
        for p in Predictor::ALL {
            let mut data = Vec::new();
            put_residuals(&mut data, &f, r, p);
            let mut g = Frame::filled(40, 30, 0x00AB_CDEF).unwrap();
            apply_residuals(&mut g, r, &data, p);
            for y in r.y..r.y + r.h {
                let cols = r.x as usize..(r.x + r.w) as usize;
                assert_eq!(g.row(y)[cols.clone()], f.row(y)[cols], "{p:?} row {y}");
            }
        }
        // On a plane only the first row and column carry information.
        let mut data = Vec::new();
        put_residuals(&mut data, &f, r, Predictor::Plane);
        let inner = data
            .chunks_exact(4 * r.w as usize)
            .skip(1)
            .flat_map(|row| &row[4..])
            .filter(|&&b| b != 0)
            .count();
        assert_eq!(inner, 0);
        let cost = residual_cost(&f, r, Predictor::Plane);
        assert!(cost <= 3 * (r.w + r.h), "{cost}");
    }

    #[test]
    fn med_picks_the_edge_side() {
        // A vertical edge: above-left equals left, so the above pixel wins.
        assert_eq!(med(10, 200, 10), 200);
        // c above both: the smaller neighbour.
        assert_eq!(med(10, 20, 30), 10);
        // In between: the plane through the three.
        assert_eq!(med(10, 20, 15), 15);
    }
}
