//! Pixel payloads: choosing the XOR reference of a tile and serialising it.

use super::frame::Frame;
use super::planes::{Green, write_planes};
use super::tile::{Grid, Rect, block_rows, fetch_clipped};

/// Source position of tile `r` moved by `(dx, dy)`, if the whole block
/// stays inside the frame (required for copies).
pub(crate) fn in_bounds(grid: &Grid, r: Rect, dx: i32, dy: i32) -> Option<(u32, u32)> {
    let sx = i64::from(r.x) + i64::from(dx);
    let sy = i64::from(r.y) + i64::from(dy);
    let inside = sx >= 0
        && sy >= 0
        && sx + i64::from(r.w) <= i64::from(grid.width)
        && sy + i64::from(r.h) <= i64::from(grid.height);
    match (u32::try_from(sx), u32::try_from(sy)) {
        (Ok(sx), Ok(sy)) if inside => Some((sx, sy)),
        _ => None,
    }
}

/// Whether an XOR reference offset is allowed on the wire: the source block
/// must overlap the frame (pixels outside it read as 0).
pub(crate) fn overlaps(grid: &Grid, r: Rect, dx: i32, dy: i32) -> bool {
    let sx = i64::from(r.x) + i64::from(dx);
    let sy = i64::from(r.y) + i64::from(dy);
    sx + i64::from(r.w) > 0
        && sy + i64::from(r.h) > 0
        && sx < i64::from(grid.width)
        && sy < i64::from(grid.height)
}

/// The rows of tile `r`'s reference block, the previous frame's moved by
/// `(dx, dy)`: borrowed from the frame where the block lies inside it, else
/// from a clipped copy in `scratch` (pixels outside the frame read as 0).
pub(crate) fn reference_rows<'a>(
    prev: &'a Frame,
    r: Rect,
    (dx, dy): (i32, i32),
    scratch: &'a mut Vec<u32>,
) -> Vec<&'a [u32]> {
    let n = r.w as usize;
    let grid = Grid::new(prev.width(), prev.height());
    if let Some((x, y)) = in_bounds(&grid, r, dx, dy) {
        return block_rows(prev, Rect { x, y, ..r }).collect();
    }
    scratch.clear();
    fetch_clipped(prev, r, dx, dy, scratch);
    scratch.chunks_exact(n.max(1)).collect()
}

/// The tile's pixels as little-endian bytes, XORed with `reference` (the
/// rows of the reference block) if given. With `allow_planes`, a tile where
/// fewer than half the values equal the one before them (photos, video,
/// gradients: little for a compressor to match) is written as four planes
/// instead (see [`write_planes`]), which zstd codes several times faster
/// (and a gradient far smaller). Returns how, if it was.
pub(crate) fn tile_bytes(
    cur: &Frame,
    reference: Option<&[&[u32]]>,
    r: Rect,
    allow_planes: bool,
    out: &mut Vec<u8>,
) -> Option<Green> {
    // The values first (simple loops the compiler vectorises), then their
    // bytes in the chosen layout.
    let mut values = Vec::with_capacity(r.area());
    match reference {
        Some(rows) => block_rows(cur, r)
            .zip(rows)
            .for_each(|(row, old)| values.extend(row.iter().zip(old.iter()).map(|(a, b)| a ^ b))),
        None => block_rows(cur, r).for_each(|row| values.extend_from_slice(row)),
    }
    let planar = allow_planes && {
        let repeats = values.windows(2).filter(|w| w[0] == w[1]).count();
        repeats * 2 < values.len()
    };
    if planar {
        return Some(write_planes(&values, out));
    }
    out.clear();
    out.reserve(values.len() * 4);
    values
        .iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    None
}

/// The XOR reference for a tile sent as pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// Plain pixels.
    Plain,
    /// XOR with the previous frame's block moved by this offset.
    Xor(i32, i32),
    /// Either: both forms change at most pixels (video, photos), so no
    /// cheap count tells them apart; the encoder compresses a sample of
    /// both.
    Unsure(i32, i32),
}

impl Base {
    /// The XOR offset, taking an unsure choice as XOR.
    pub(crate) fn offset(self) -> Option<(i32, i32)> {
        match self {
            Base::Plain => None,
            Base::Xor(dx, dy) | Base::Unsure(dx, dy) => Some((dx, dy)),
        }
    }
}

/// Picks the XOR reference for a tile that must be sent as pixels: the
/// same place in the previous frame or one of the motion offsets, whichever
/// has the most identical rows (a scrolled tile that also gained a new line
/// then costs only the new line), if XOR with it looks cheaper than plain
/// pixels.
///
/// With `was_unsure` (the tile was unsure in the last frame), the counts
/// are taken on its top rows only: a tile of video stays noisy in every
/// row, and any other tile is told apart as well by its top eighth.
pub(crate) fn choose_base(
    cur: &Frame,
    prev: &Frame,
    r: Rect,
    offsets: &[(i32, i32)],
    was_unsure: bool,
    scratch: &mut Vec<u32>,
) -> Base {
    let grid = Grid::new(cur.width(), cur.height());
    let mut best: Option<((i32, i32), u32)> = None;
    for &offset in std::iter::once(&(0, 0)).chain(offsets) {
        if !overlaps(&grid, r, offset.0, offset.1) {
            continue;
        }
        let n = equal_rows(cur, r, &reference_rows(prev, r, offset, scratch));
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((offset, n));
        }
    }
    let Some(((dx, dy), _)) = best else {
        return Base::Plain;
    };
    let counted = if was_unsure { r.top_eighth() } else { r };
    let rows = reference_rows(prev, counted, (dx, dy), scratch);
    let (raw_changes, xor_changes) = changes(cur, counted, &rows);
    let noisy = |changes: u32| changes as usize * 2 > counted.area();
    if noisy(raw_changes) && noisy(xor_changes) {
        Base::Unsure(dx, dy)
    } else if xor_changes < raw_changes {
        Base::Xor(dx, dy)
    } else {
        Base::Plain
    }
}

/// How many rows of tile `r` equal the reference rows.
fn equal_rows(cur: &Frame, r: Rect, rows: &[&[u32]]) -> u32 {
    block_rows(cur, r)
        .zip(rows)
        .filter(|(row, old)| row == *old)
        .count() as u32
}

/// How often consecutive values change in the tile and in the tile XOR
/// the reference rows: a cheap stand-in for running the compressor on both.
fn changes(cur: &Frame, r: Rect, rows: &[&[u32]]) -> (u32, u32) {
    let (mut raw_changes, mut xor_changes) = (0u32, 0u32);
    let (mut last_raw, mut last_xor) = (None, None);
    for (row, old) in block_rows(cur, r).zip(rows) {
        for (&a, &b) in row.iter().zip(old.iter()) {
            let x = a ^ b;
            raw_changes += u32::from(last_raw != Some(a));
            xor_changes += u32::from(last_xor != Some(x));
            last_raw = Some(a);
            last_xor = Some(x);
        }
    }
    (raw_changes, xor_changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::planes::read_planes;
    use crate::screen::synth::XorShift;

    /// Four-byte values as four planes: every first byte, then every second, ….
    fn to_planes(bytes: &[u8]) -> Vec<u8> {
        let n = bytes.len() / 4;
        let mut planes = vec![0u8; n * 4];
        let (p0, rest) = planes.split_at_mut(n);
        let (p1, rest) = rest.split_at_mut(n);
        let (p2, p3) = rest.split_at_mut(n);
        for (i, c) in bytes.chunks_exact(4).enumerate() {
            p0[i] = c[0];
            p1[i] = c[1];
            p2[i] = c[2];
            p3[i] = c[3];
        }
        planes
    }

    fn tile_of(pixels: Vec<u32>) -> (Frame, Rect) {
        let f = Frame::from_pixels(64, 64, pixels).unwrap_or_else(|e| panic!("{e}"));
        let r = Grid::new(64, 64).rect(0);
        (f, r)
    }

    #[test]
    fn planes_hold_each_byte_of_a_value_in_turn_and_come_back() {
        let bytes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        let planes = to_planes(&bytes);
        assert_eq!(planes, [1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12]);
        let mut values = Vec::new();
        read_planes(&planes, Green::Plain, &mut values);
        let back: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(back, bytes);
    }

    #[test]
    fn noisy_tiles_go_as_planes_and_flat_ones_do_not() {
        let mut rng = XorShift::new(7);
        let noise: Vec<u32> = (0..64 * 64)
            .map(|_| rng.next_u64() as u32 & 0x00ff_ffff)
            .collect();
        let (f, r) = tile_of(noise.clone());
        let mut out = Vec::new();
        // Independent channels: nothing to gain against green.
        assert_eq!(tile_bytes(&f, None, r, true, &mut out), Some(Green::Plain));
        let interleaved: Vec<u8> = noise.iter().flat_map(|p| p.to_le_bytes()).collect();
        assert_eq!(out, to_planes(&interleaved));
        // Not allowed (inline pixels): interleaved whatever the content.
        assert_eq!(tile_bytes(&f, None, r, false, &mut out), None);
        assert_eq!(out, interleaved);
        // XORed with itself: all zeros, which repeat.
        let rows: Vec<&[u32]> = noise.chunks_exact(64).collect();
        assert_eq!(tile_bytes(&f, Some(&rows), r, true, &mut out), None);
        assert!(out.iter().all(|&b| b == 0));
        // Text-like: runs of one colour with a few others.
        let text: Vec<u32> = (0..64 * 64u32)
            .map(|i| if i % 9 == 0 { 0x00ff_ffff } else { 0x0010_2030 })
            .collect();
        let (f, r) = tile_of(text);
        assert_eq!(tile_bytes(&f, None, r, true, &mut out), None);
    }

    #[test]
    fn reference_rows_read_what_a_clipped_copy_reads() {
        let mut rng = XorShift::new(3);
        let px: Vec<u32> = (0..150 * 100).map(|_| rng.next_u64() as u32).collect();
        let f = Frame::from_pixels(150, 100, px).unwrap_or_else(|e| panic!("{e}"));
        let grid = Grid::new(150, 100);
        let mut scratch = Vec::new();
        for t in 0..grid.tiles() {
            let r = grid.rect(t);
            let offsets = [
                (0, 0),
                (5, -3),
                (-70, 0),
                (0, 90),
                (100, 0),
                (-3, 40),
                (30, 30),
            ];
            // XOR sources must overlap the frame (the decoder checks it).
            for offset in offsets.into_iter().filter(|o| overlaps(&grid, r, o.0, o.1)) {
                let mut want = Vec::new();
                fetch_clipped(&f, r, offset.0, offset.1, &mut want);
                let got = reference_rows(&f, r, offset, &mut scratch).concat();
                assert_eq!(got, want, "tile {t} offset {offset:?}");
            }
        }
    }
}
