//! Pixel payloads: choosing the XOR reference of a tile and serialising it.

use super::frame::Frame;
use super::tile::{Grid, Rect, fetch_clipped};

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

/// The tile's pixels as little-endian bytes, XORed with `reference` (the
/// tile-sized reference block) if given.
pub(crate) fn tile_bytes(cur: &Frame, reference: Option<&[u32]>, r: Rect, out: &mut Vec<u8>) {
    out.clear();
    let w = cur.width() as usize;
    let n = r.w as usize;
    for dy in 0..r.h as usize {
        let i = (r.y as usize + dy) * w + r.x as usize;
        let row = &cur.pixels()[i..i + n];
        match reference {
            Some(block) => {
                let old = &block[dy * n..dy * n + n];
                for (a, b) in row.iter().zip(old) {
                    out.extend_from_slice(&(a ^ b).to_le_bytes());
                }
            }
            None => row
                .iter()
                .for_each(|p| out.extend_from_slice(&p.to_le_bytes())),
        }
    }
}

/// Picks the XOR reference for a tile that must be sent as pixels: the
/// same place in the previous frame or one of the motion offsets, whichever
/// has the most identical rows (a scrolled tile that also gained a new line
/// then costs only the new line). `None` when plain pixels look cheaper.
/// `scratch` is left holding the chosen reference block.
pub(crate) fn choose_base(
    cur: &Frame,
    prev: &Frame,
    r: Rect,
    offsets: &[(i32, i32)],
    scratch: &mut Vec<u32>,
) -> Option<(i32, i32)> {
    let grid = Grid::new(cur.width(), cur.height());
    let mut best = ((0, 0), 0);
    let mut first = true;
    for &(dx, dy) in std::iter::once(&(0, 0)).chain(offsets) {
        if !overlaps(&grid, r, dx, dy) {
            continue;
        }
        scratch.clear();
        fetch_clipped(prev, r, dx, dy, scratch);
        let n = equal_rows(cur, r, scratch);
        if first || n > best.1 {
            best = ((dx, dy), n);
            first = false;
        }
    }
    let (dx, dy) = best.0;
    scratch.clear();
    fetch_clipped(prev, r, dx, dy, scratch);
    xor_is_cheaper(cur, r, scratch).then_some((dx, dy))
}

/// How many rows of tile `r` equal the rows of `block`.
fn equal_rows(cur: &Frame, r: Rect, block: &[u32]) -> u32 {
    let w = cur.width() as usize;
    let n = r.w as usize;
    (0..r.h as usize)
        .filter(|&dy| {
            let i = (r.y as usize + dy) * w + r.x as usize;
            cur.pixels()[i..i + n] == block[dy * n..dy * n + n]
        })
        .count() as u32
}

/// Whether XOR with `block` is likely to compress better than the tile
/// itself: compares how often consecutive values change in each, a cheap
/// stand-in for running the compressor twice.
fn xor_is_cheaper(cur: &Frame, r: Rect, block: &[u32]) -> bool {
    let w = cur.width() as usize;
    let n = r.w as usize;
    let (mut raw_changes, mut xor_changes) = (0u32, 0u32);
    let (mut last_raw, mut last_xor) = (None, None);
    for dy in 0..r.h as usize {
        let i = (r.y as usize + dy) * w + r.x as usize;
        let old = &block[dy * n..dy * n + n];
        for (&a, &b) in cur.pixels()[i..i + n].iter().zip(old) {
            let x = a ^ b;
            raw_changes += u32::from(last_raw != Some(a));
            xor_changes += u32::from(last_xor != Some(x));
            last_raw = Some(a);
            last_xor = Some(x);
        }
    }
    xor_changes < raw_changes
}
