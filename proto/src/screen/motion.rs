//! Motion search: finds offsets at which dirty tiles of the current frame
//! appear in the previous one (scrolling, window drags).
//!
//! Only candidate offsets come out of here; the encoder confirms every copy
//! by comparing pixels, so a false candidate costs a comparison, never a
//! wrong pixel.
//!
//! Two searches, cheapest first:
//! - **Vertical** (scrolling): every frame keeps a hash of each row segment
//!   of each tile column. A few non-uniform rows of dirty tiles are looked up
//!   in the previous frame's segment hashes of the same column; the row
//!   distances that recur are the scroll offsets.
//! - **Planar** (window moves): for tiles the vertical search left over, a
//!   few 32-pixel runs of the current frame are used as anchors; a rolling
//!   hash slides over the previous frame around those tiles, and every anchor
//!   hit votes for a 2D offset.

use std::collections::HashMap;

use super::frame::Frame;
use super::tile::{Grid, Rect, hash_words};

/// Most candidate offsets returned by each search.
const MAX_CANDIDATES: usize = 4;
/// Most anchors used by one search: enough for a robust vote, cheap to scan.
const MAX_ANCHORS: usize = 128;
/// A row segment matching more rows than this is too common to vote.
const MAX_MATCHES_PER_ANCHOR: usize = 4;
/// Length of a planar anchor run in pixels.
const RUN: usize = 32;
/// How far (pixels) a window may have moved between frames and still be found.
const PLANAR_RADIUS: u32 = 160;
/// Cap on rolling-hash positions scanned per frame, to bound the cost.
const PLANAR_MAX_POSITIONS: usize = 3_000_000;
const POLY: u64 = 0x0000_0100_0000_01B3;

/// Hashes of every row segment (one tile column wide) of a frame, stored
/// column-major: `column * height + y`.
pub(crate) struct SegHashes {
    pub(crate) hashes: Vec<u64>,
    height: usize,
}

impl SegHashes {
    pub(crate) fn new() -> Self {
        Self {
            hashes: Vec::new(),
            height: 0,
        }
    }

    /// Sizes the table for a grid; contents are undefined until filled.
    pub(crate) fn reset(&mut self, grid: &Grid) {
        self.height = grid.height as usize;
        self.hashes.clear();
        self.hashes.resize(grid.cols as usize * self.height, 0);
    }

    fn index(&self, r: Rect, y: u32) -> usize {
        (r.x / super::TILE) as usize * self.height + y as usize
    }

    /// Hashes the row segments of tile `r` of `f`.
    pub(crate) fn fill(&mut self, f: &Frame, r: Rect) {
        let base = self.index(r, r.y);
        for dy in 0..r.h {
            let row = &f.row(r.y + dy)[r.x as usize..(r.x + r.w) as usize];
            self.hashes[base + dy as usize] = hash_words(row);
        }
    }

    /// Copies the entries of tile `r` from `other` (same grid).
    pub(crate) fn copy_tile(&mut self, other: &SegHashes, r: Rect) {
        let i = self.index(r, r.y);
        let n = r.h as usize;
        self.hashes[i..i + n].copy_from_slice(&other.hashes[i..i + n]);
    }

    /// Sets the entries of tile `r` to those of `other` `dy` rows lower:
    /// the hashes of a block copied vertically (source in bounds).
    pub(crate) fn copy_shifted(&mut self, other: &SegHashes, r: Rect, dy: i32) {
        let i = self.index(r, r.y);
        let j = other.index(r, r.y.wrapping_add_signed(dy));
        let n = r.h as usize;
        self.hashes[i..i + n].copy_from_slice(&other.hashes[j..j + n]);
    }

    /// Hash of a whole tile, derived from its row segment hashes.
    pub(crate) fn tile_hash(&self, r: Rect) -> u64 {
        let i = self.index(r, r.y);
        let rows = &self.hashes[i..i + r.h as usize];
        rows.iter().fold(0xA076_1D64_78BD_642F_u64, |h, &v| {
            (h ^ v).wrapping_mul(0xE703_7ED1_A0B4_28DB).rotate_left(27)
        })
    }
}

fn row_is_uniform(row: &[u32]) -> bool {
    row.iter().all(|&p| p == row[0])
}

/// Keeps the offsets with the most votes, most popular first.
fn top_offsets<K: Copy + Ord + std::hash::Hash>(votes: HashMap<K, u32>, min: u32) -> Vec<K> {
    let mut v: Vec<(K, u32)> = votes.into_iter().filter(|&(_, n)| n >= min).collect();
    // Sort by key too so the order never depends on hash-map iteration.
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().take(MAX_CANDIDATES).map(|(k, _)| k).collect()
}

/// Evenly spaced sample of at most `n` items.
fn sample(tiles: &[usize], n: usize) -> impl Iterator<Item = usize> + '_ {
    let step = tiles.len().div_ceil(n).max(1);
    tiles.iter().step_by(step).copied()
}

/// Vertical source offsets (`dy`, source row minus destination row).
pub(crate) fn vertical_candidates(
    cur: &Frame,
    grid: &Grid,
    prev_seg: &SegHashes,
    tiles: &[usize],
) -> Vec<i32> {
    let mut votes: HashMap<i32, u32> = HashMap::new();
    let mut anchors = 0u32;
    for t in sample(tiles, MAX_ANCHORS) {
        let r = grid.rect(t);
        // First non-uniform row, probing every 5th row: uniform rows match
        // everywhere and say nothing about motion.
        let segment = |y: u32| &cur.row(y)[r.x as usize..(r.x + r.w) as usize];
        let Some(y) = (r.y..r.y + r.h)
            .step_by(5)
            .find(|&y| !row_is_uniform(segment(y)))
        else {
            continue;
        };
        anchors += 1;
        let want = hash_words(segment(y));
        let col = prev_seg.index(r, 0);
        let column = &prev_seg.hashes[col..col + prev_seg.height];
        let hits: Vec<usize> = column
            .iter()
            .enumerate()
            .filter(|&(_, &h)| h == want)
            .map(|(i, _)| i)
            .take(MAX_MATCHES_PER_ANCHOR + 1)
            .collect();
        if hits.len() > MAX_MATCHES_PER_ANCHOR {
            continue;
        }
        for sy in hits {
            let dy = sy as i32 - y as i32;
            if dy != 0 {
                *votes.entry(dy).or_default() += 1;
            }
        }
    }
    top_offsets(votes, if anchors < 4 { 1 } else { 2 })
}

/// Polynomial hash of a run, the same function the rolling scan computes.
fn poly_hash(run: &[u32]) -> u64 {
    run.iter().fold(0u64, |h, &p| {
        h.wrapping_mul(POLY).wrapping_add(u64::from(p))
    })
}

/// Picks up to two non-uniform 32-pixel runs per sampled tile.
fn planar_anchors(cur: &Frame, grid: &Grid, tiles: &[usize]) -> HashMap<u64, (u32, u32)> {
    let mut anchors: HashMap<u64, (u32, u32)> = HashMap::new();
    let mut ambiguous = Vec::new();
    for t in sample(tiles, MAX_ANCHORS / 2) {
        let r = grid.rect(t);
        if (r.w as usize) < RUN {
            continue;
        }
        let x = r.x + (r.w - RUN as u32) / 2;
        let rows = (r.y + 3..r.y + r.h).step_by(9);
        let mut taken = 0;
        for y in rows {
            let run = &cur.row(y)[x as usize..x as usize + RUN];
            if row_is_uniform(run) {
                continue;
            }
            let h = poly_hash(run);
            if anchors.insert(h, (x, y)).is_some() {
                ambiguous.push(h);
            }
            taken += 1;
            if taken == 2 {
                break;
            }
        }
    }
    for h in ambiguous {
        anchors.remove(&h);
    }
    anchors
}

/// 2D source offsets `(dx, dy)` for the given tiles.
pub(crate) fn planar_candidates(
    prev: &Frame,
    cur: &Frame,
    grid: &Grid,
    tiles: &[usize],
) -> Vec<(i32, i32)> {
    let anchors = planar_anchors(cur, grid, tiles);
    if anchors.is_empty() {
        return Vec::new();
    }
    // A 64 Ki-bit filter turns almost every miss into one bit test.
    let mut filter = vec![0u64; 1024];
    for &h in anchors.keys() {
        filter[(h >> 54) as usize] |= 1 << ((h >> 48) & 63);
    }
    let area = search_area(grid, tiles);
    let positions = area.area();
    if area.w < RUN as u32 || positions > PLANAR_MAX_POSITIONS {
        return Vec::new();
    }
    let top = POLY.wrapping_pow(RUN as u32 - 1);
    let mut votes: HashMap<(i32, i32), u32> = HashMap::new();
    for y in area.y..area.y + area.h {
        let row = &prev.row(y)[area.x as usize..(area.x + area.w) as usize];
        let mut h = poly_hash(&row[..RUN]);
        for i in 0..=row.len() - RUN {
            if i > 0 {
                h = h
                    .wrapping_sub(u64::from(row[i - 1]).wrapping_mul(top))
                    .wrapping_mul(POLY)
                    .wrapping_add(u64::from(row[i + RUN - 1]));
            }
            if filter[(h >> 54) as usize] & (1 << ((h >> 48) & 63)) == 0 {
                continue;
            }
            if let Some(&(ax, ay)) = anchors.get(&h) {
                let dx = (area.x as usize + i) as i32 - ax as i32;
                let dy = y as i32 - ay as i32;
                if (dx, dy) != (0, 0) {
                    *votes.entry((dx, dy)).or_default() += 1;
                }
            }
        }
    }
    top_offsets(votes, if anchors.len() < 4 { 1 } else { 2 })
}

/// Bounding box of `tiles` grown by the search radius, clipped to the frame.
fn search_area(grid: &Grid, tiles: &[usize]) -> Rect {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for &t in tiles {
        let r = grid.rect(t);
        x0 = x0.min(r.x);
        y0 = y0.min(r.y);
        x1 = x1.max(r.x + r.w);
        y1 = y1.max(r.y + r.h);
    }
    let x = x0.saturating_sub(PLANAR_RADIUS);
    let y = y0.saturating_sub(PLANAR_RADIUS);
    Rect {
        x,
        y,
        w: (x1 + PLANAR_RADIUS).min(grid.width).saturating_sub(x),
        h: (y1 + PLANAR_RADIUS).min(grid.height).saturating_sub(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_hash_matches_direct_hash() {
        let row: Vec<u32> = (0..100u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
        let top = POLY.wrapping_pow(RUN as u32 - 1);
        let mut h = poly_hash(&row[..RUN]);
        for i in 1..=row.len() - RUN {
            h = h
                .wrapping_sub(u64::from(row[i - 1]).wrapping_mul(top))
                .wrapping_mul(POLY)
                .wrapping_add(u64::from(row[i + RUN - 1]));
            assert_eq!(h, poly_hash(&row[i..i + RUN]));
        }
    }
}
