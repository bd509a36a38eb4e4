//! Tiles that only partly moved: the edge of a dragged window cuts through
//! a tile, so the tile is neither a copy nor unchanged. Its changed area is
//! split into the rectangle that moved (a copy from the previous frame) and
//! up to four bands around it, each coded like any changed rectangle.

use crate::screen::frame::Frame;
use crate::screen::pixels::in_bounds;
use crate::screen::rect::{Coding, changed_bbox, pick_coding};
use crate::screen::tile::{Grid, Rect, block_eq};

/// A moved part smaller than this is not worth its record.
const MIN_MOVED_AREA: usize = 16;

/// The rects that rebuild the changed area `changed` of a tile: a copy at
/// the offset that covers the most of it, then the changed bands around
/// that copy. `None` when no offset moves a solid rectangle of it.
pub(super) fn split_moved<'a>(
    cur: &Frame,
    prev: &'a Frame,
    changed: Rect,
    offsets: &[(i32, i32)],
) -> Option<Vec<(Rect, Coding<'a>)>> {
    let grid = Grid::new(cur.width(), cur.height());
    let (moved, (dx, dy)) = offsets
        .iter()
        .filter_map(|&(dx, dy)| {
            moved_part(cur, prev, &grid, changed, dx, dy).map(|m| (m, (dx, dy)))
        })
        .max_by_key(|(m, _)| m.area())?;
    if moved.area() < MIN_MOVED_AREA {
        return None;
    }
    let mut parts = vec![(moved, Coding::Copy(dx, dy))];
    for band in bands(changed, moved) {
        if let Some(sub) = changed_bbox(cur, prev, band) {
            parts.push((sub, pick_coding(cur, Some(prev), sub)));
        }
    }
    Some(parts)
}

/// The bounding box of the changed pixels of `area` that equal the previous
/// frame at `(dx, dy)`, if that whole box is such a copy.
fn moved_part(
    cur: &Frame,
    prev: &Frame,
    grid: &Grid,
    area: Rect,
    dx: i32,
    dy: i32,
) -> Option<Rect> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for y in area.y..area.y + area.h {
        let Some(sy) = y.checked_add_signed(dy).filter(|&sy| sy < grid.height) else {
            continue;
        };
        let (now, before, source) = (cur.row(y), prev.row(y), prev.row(sy));
        for x in area.x..area.x + area.w {
            let Some(sx) = x.checked_add_signed(dx).filter(|&sx| sx < grid.width) else {
                continue;
            };
            let p = now[x as usize];
            if p != before[x as usize] && p == source[sx as usize] {
                x0 = x0.min(x);
                x1 = x1.max(x + 1);
                y0 = y0.min(y);
                y1 = y1.max(y + 1);
            }
        }
    }
    if x1 == 0 {
        return None;
    }
    let moved = Rect {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    };
    let (sx, sy) = in_bounds(grid, moved, dx, dy)?;
    block_eq(cur, moved, prev, sx, sy).then_some(moved)
}

/// `outer` minus `inner` (inside it) as up to four rectangles: the full-width
/// bands above and below `inner`, and the pieces left and right of it.
fn bands(outer: Rect, inner: Rect) -> impl Iterator<Item = Rect> {
    let (ox1, oy1) = (outer.x + outer.w, outer.y + outer.h);
    let (ix1, iy1) = (inner.x + inner.w, inner.y + inner.h);
    [
        (outer.x, outer.y, outer.w, inner.y - outer.y),
        (outer.x, iy1, outer.w, oy1 - iy1),
        (outer.x, inner.y, inner.x - outer.x, inner.h),
        (ix1, inner.y, ox1 - ix1, inner.h),
    ]
    .into_iter()
    .filter(|&(_, _, w, h)| w > 0 && h > 0)
    .map(|(x, y, w, h)| Rect { x, y, w, h })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_the_rest_exactly() {
        let outer = Rect {
            x: 0,
            y: 0,
            w: 64,
            h: 64,
        };
        let inner = Rect {
            x: 10,
            y: 5,
            w: 20,
            h: 30,
        };
        let area: usize = bands(outer, inner).map(|b| b.area()).sum();
        assert_eq!(area + inner.area(), outer.area());
        assert_eq!(bands(outer, outer).count(), 0);
    }
}
