//! Tile geometry and the pixel-block helpers shared by encoder and decoder.

use super::TILE;
use super::frame::Frame;

/// A pixel rectangle inside a frame. Always non-empty and in bounds when
/// produced by [`Grid::rect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
}

impl Rect {
    /// Number of pixels covered.
    #[must_use]
    pub fn area(&self) -> usize {
        self.w as usize * self.h as usize
    }

    /// Whether this is a full `TILE x TILE` tile (only those are cached).
    #[must_use]
    pub fn is_full_tile(&self) -> bool {
        self.w == TILE && self.h == TILE
    }

    /// Its top eighth of rows (at least one): the sample that stands for a
    /// noisy tile when deciding between plain and XOR.
    #[must_use]
    pub fn top_eighth(&self) -> Rect {
        Rect {
            h: (self.h / 8).max(1),
            ..*self
        }
    }
}

/// The tiling of a `width x height` frame into `TILE`-sized tiles, row-major.
/// Tiles on the right and bottom edges may be partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Tiles per row.
    pub cols: u32,
    /// Tile rows.
    pub rows: u32,
}

impl Grid {
    /// The grid for a frame size.
    #[must_use]
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            cols: width.div_ceil(TILE),
            rows: height.div_ceil(TILE),
        }
    }

    /// Total tile count.
    #[must_use]
    pub fn tiles(&self) -> usize {
        self.cols as usize * self.rows as usize
    }

    /// The rectangle of tile `index` (row-major). `index` must be `< tiles()`.
    #[must_use]
    pub fn rect(&self, index: usize) -> Rect {
        let cols = self.cols.max(1) as usize;
        let tx = (index % cols) as u32;
        let ty = (index / cols) as u32;
        let x = tx * TILE;
        let y = ty * TILE;
        Rect {
            x,
            y,
            w: TILE.min(self.width.saturating_sub(x)),
            h: TILE.min(self.height.saturating_sub(y)),
        }
    }
}

impl Grid {
    /// Which tiles touch any of `rects` (clipped to the frame), by index.
    #[must_use]
    pub fn touched(&self, rects: &[Rect]) -> Vec<bool> {
        let mut out = vec![false; self.tiles()];
        for r in rects {
            let (x1, y1) = (
                r.x.saturating_add(r.w).min(self.width),
                r.y.saturating_add(r.h).min(self.height),
            );
            if r.x >= x1 || r.y >= y1 {
                continue;
            }
            for ty in r.y / TILE..=(y1 - 1) / TILE {
                for tx in r.x / TILE..=(x1 - 1) / TILE {
                    out[(ty * self.cols + tx) as usize] = true;
                }
            }
        }
        out
    }
}

/// Whether `r` in `a` equals the same-sized block at `(bx, by)` in `b`.
/// The caller guarantees both blocks are in bounds.
pub(crate) fn block_eq(a: &Frame, r: Rect, b: &Frame, bx: u32, by: u32) -> bool {
    let (aw, bw) = (a.width() as usize, b.width() as usize);
    let (ap, bp) = (a.pixels(), b.pixels());
    let w = r.w as usize;
    (0..r.h as usize).all(|dy| {
        let ai = (r.y as usize + dy) * aw + r.x as usize;
        let bi = (by as usize + dy) * bw + bx as usize;
        ap[ai..ai + w] == bp[bi..bi + w]
    })
}

/// The single colour of `r` in `f`, if every pixel has it.
pub(crate) fn solid_color(f: &Frame, r: Rect) -> Option<u32> {
    let w = f.width() as usize;
    let p = f.pixels();
    let first = p[r.y as usize * w + r.x as usize];
    let uniform = (0..r.h as usize).all(|dy| {
        let i = (r.y as usize + dy) * w + r.x as usize;
        p[i..i + r.w as usize].iter().all(|&v| v == first)
    });
    uniform.then_some(first)
}

/// Appends the pixels of `r` to `out`, row by row.
pub(crate) fn read_block(f: &Frame, r: Rect, out: &mut Vec<u32>) {
    let w = f.width() as usize;
    for dy in 0..r.h as usize {
        let i = (r.y as usize + dy) * w + r.x as usize;
        out.extend_from_slice(&f.pixels()[i..i + r.w as usize]);
    }
}

/// The rows of block `r` of `f`, borrowed.
pub(crate) fn block_rows(f: &Frame, r: Rect) -> impl Iterator<Item = &[u32]> {
    let w = f.width() as usize;
    (0..r.h as usize).map(move |dy| {
        let i = (r.y as usize + dy) * w + r.x as usize;
        &f.pixels()[i..i + r.w as usize]
    })
}

/// Appends the block of `r`'s size whose top-left corner is `r` moved by
/// `(dx, dy)`, row by row; pixels outside `f` read as 0. Encoder and decoder
/// both use this, so XOR references agree even at the edges.
pub(crate) fn fetch_clipped(f: &Frame, r: Rect, dx: i32, dy: i32, out: &mut Vec<u32>) {
    let (fw, fh) = (i64::from(f.width()), i64::from(f.height()));
    let x0 = i64::from(r.x) + i64::from(dx);
    let y0 = i64::from(r.y) + i64::from(dy);
    // Columns of the block that fall inside the frame.
    let left = (-x0).clamp(0, i64::from(r.w)) as usize;
    let right = (fw - x0).clamp(0, i64::from(r.w)) as usize;
    let right = right.max(left);
    for row in 0..i64::from(r.h) {
        let y = y0 + row;
        if y < 0 || y >= fh {
            out.resize(out.len() + r.w as usize, 0);
            continue;
        }
        out.resize(out.len() + left, 0);
        // x0 + left >= 0, so this index is never negative.
        let start = (y * fw + x0 + left as i64) as usize;
        out.extend_from_slice(&f.pixels()[start..start + (right - left)]);
        out.resize(out.len() + r.w as usize - right, 0);
    }
}

/// Writes `src` (exactly `r.area()` pixels, row by row) into `r` of `f`.
pub(crate) fn write_block(f: &mut Frame, r: Rect, src: &[u32]) {
    let w = f.width() as usize;
    let rw = r.w as usize;
    let px = f.pixels_mut();
    for (dy, row) in src.chunks_exact(rw).enumerate() {
        let i = (r.y as usize + dy) * w + r.x as usize;
        px[i..i + rw].copy_from_slice(row);
    }
}

/// Copies the block `r` from `src` into the same place in `dst` (same size).
pub(crate) fn copy_same_place(dst: &mut Frame, src: &Frame, r: Rect) {
    let w = dst.width() as usize;
    let rw = r.w as usize;
    let s = src.pixels();
    let d = dst.pixels_mut();
    for dy in 0..r.h as usize {
        let i = (r.y as usize + dy) * w + r.x as usize;
        d[i..i + rw].copy_from_slice(&s[i..i + rw]);
    }
}

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// A fast non-cryptographic 64-bit hash of pixel words.
///
/// Used only to find candidates (dirty rows, cache hits, motion); every
/// candidate is confirmed by comparing pixels, so a collision costs time,
/// never correctness. Four independent lanes keep the multiplier pipeline
/// busy.
pub(crate) fn hash_words(words: &[u32]) -> u64 {
    let mut lanes = [K1, K2, K1 ^ K2, K2.rotate_left(17)];
    let mut chunks = words.chunks_exact(8);
    for c in &mut chunks {
        for (l, lane) in lanes.iter_mut().enumerate() {
            let v = u64::from(c[2 * l]) | (u64::from(c[2 * l + 1]) << 32);
            *lane = (*lane ^ v).wrapping_mul(K1).rotate_left(29);
        }
    }
    let mut h = (words.len() as u64).wrapping_mul(K2);
    for lane in lanes {
        h = (h ^ lane).wrapping_mul(K2).rotate_left(31);
    }
    for &v in chunks.remainder() {
        h = (h ^ u64::from(v)).wrapping_mul(K1).rotate_left(23);
    }
    h ^ (h >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_tiles_are_partial() {
        let g = Grid::new(130, 65);
        assert_eq!((g.cols, g.rows, g.tiles()), (3, 2, 6));
        assert_eq!(
            g.rect(2),
            Rect {
                x: 128,
                y: 0,
                w: 2,
                h: 64
            }
        );
        assert_eq!(
            g.rect(5),
            Rect {
                x: 128,
                y: 64,
                w: 2,
                h: 1
            }
        );
    }

    #[test]
    fn clipped_fetch_zero_fills_outside() {
        let f = Frame::from_pixels(3, 2, vec![1, 2, 3, 4, 5, 6]).unwrap();
        let r = Rect {
            x: 0,
            y: 0,
            w: 3,
            h: 2,
        };
        let mut out = Vec::new();
        fetch_clipped(&f, r, 1, 1, &mut out);
        assert_eq!(out, [5, 6, 0, 0, 0, 0]);
        out.clear();
        fetch_clipped(&f, r, -2, 0, &mut out);
        assert_eq!(out, [0, 0, 1, 0, 0, 4]);
        out.clear();
        fetch_clipped(&f, r, 5, -7, &mut out);
        assert_eq!(out, [0; 6]);
        out.clear();
        fetch_clipped(&f, r, 0, 0, &mut out);
        assert_eq!(out, f.pixels());
    }

    #[test]
    fn hash_depends_on_every_word_and_length() {
        let a: Vec<u32> = (0..64).collect();
        for i in 0..a.len() {
            let mut b = a.clone();
            b[i] ^= 1;
            assert_ne!(hash_words(&a), hash_words(&b), "word {i}");
        }
        assert_ne!(hash_words(&a[..63]), hash_words(&a));
    }
}
