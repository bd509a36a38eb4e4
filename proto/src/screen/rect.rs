//! Rect records: only the changed rectangle of a tile, as raw pixels, XOR
//! with the pixels it replaces, palette indices (text and flat UI have a
//! handful of colours, so a glyph costs one bit per pixel before zstd, and
//! as indices go column by column a glyph is the same run of bytes wherever
//! on its line it is drawn, which the session's zstd stream finds again),
//! residuals of a prediction (gradients), or a copy of a rectangle of the
//! previous frame (the part of a tile a dragged window covers).

use super::decode::DecodeError;
use super::decode::parse::parse_offset;
use super::frame::Frame;
use super::predict::{Predictor, apply_residuals, nonzero_bytes, put_residuals, residual_cost};
use super::tile::{Grid, Rect, write_block};
use super::wire::{
    OP_RECT, RECT_COPY, RECT_DELTA, RECT_MED, RECT_PALETTE, RECT_PLANE, RECT_RAW, RECT_XOR, Reader,
    put_varint, zigzag,
};

/// Most colours a palette rect may have.
pub(crate) const MAX_COLOURS: usize = 16;

/// The smallest rectangle of `r` where `cur` and `prev` differ (absolute
/// coordinates), `None` when the block is unchanged.
pub(crate) fn changed_bbox(cur: &Frame, prev: &Frame, r: Rect) -> Option<Rect> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for y in r.y..r.y + r.h {
        let a = &cur.row(y)[r.x as usize..(r.x + r.w) as usize];
        let b = &prev.row(y)[r.x as usize..(r.x + r.w) as usize];
        let Some(first) = a.iter().zip(b).position(|(p, q)| p != q) else {
            continue;
        };
        let last = a.iter().zip(b).rposition(|(p, q)| p != q).unwrap_or(first);
        x0 = x0.min(r.x + first as u32);
        x1 = x1.max(r.x + last as u32 + 1);
        y0 = y0.min(y);
        y1 = y1.max(y + 1);
    }
    (x1 > 0).then(|| Rect {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    })
}

/// The distinct colours of `r` in ascending order (so the same colours
/// always get the same indices), if there are at most [`MAX_COLOURS`].
pub(crate) fn palette(f: &Frame, r: Rect) -> Option<Vec<u32>> {
    let mut colours: Vec<u32> = Vec::with_capacity(MAX_COLOURS);
    let mut last = None;
    for y in r.y..r.y + r.h {
        for &p in &f.row(y)[r.x as usize..(r.x + r.w) as usize] {
            if last == Some(p) || colours.contains(&p) {
                last = Some(p);
                continue;
            }
            if colours.len() == MAX_COLOURS {
                return None;
            }
            colours.push(p);
            last = Some(p);
        }
    }
    colours.sort_unstable();
    Some(colours)
}

/// Index width for `n` colours.
fn bits_for(n: usize) -> u32 {
    match n {
        0 | 1 => 0,
        2 => 1,
        3 | 4 => 2,
        _ => 4,
    }
}

/// Bytes of `n` packed indices (one column of a palette rect).
fn packed_len(n: u32, bits: u32) -> usize {
    (n * bits).div_ceil(8) as usize
}

/// How a rect's pixels go on the wire.
pub(crate) enum Coding<'a> {
    Palette(Vec<u32>),
    /// XOR with the same place in this (previous) frame.
    Xor(&'a Frame),
    /// Residuals of a prediction from the rect's own pixels.
    Predicted(Predictor),
    /// The rect moved by `(dx, dy)` in the previous frame.
    Copy(i32, i32),
    Raw,
}

/// The cheapest coding of `sub`'s pixels: a palette when it has at most 16
/// colours, else whichever of prediction residuals, XOR with `xor_with` (if
/// given) or raw pixels has the fewest bytes that differ from the pixel
/// before (a cheap stand-in for running the compressor on each); a
/// prediction must win clearly.
pub(crate) fn pick_coding<'a>(cur: &Frame, xor_with: Option<&'a Frame>, sub: Rect) -> Coding<'a> {
    if let Some(colours) = palette(cur, sub) {
        return Coding::Palette(colours);
    }
    let cols = sub.x as usize..(sub.x + sub.w) as usize;
    let mut other = 0;
    let mut last = 0;
    for y in sub.y..sub.y + sub.h {
        let row = &cur.row(y)[cols.clone()];
        let old = xor_with.map(|p| &p.row(y)[cols.clone()]);
        for (i, &a) in row.iter().enumerate() {
            let v = old.map_or(a, |o| a ^ o[i]);
            other += nonzero_bytes(v ^ last);
            last = v;
        }
    }
    let (predictor, cost) = Predictor::ALL
        .into_iter()
        .map(|p| (p, residual_cost(cur, sub, p)))
        .min_by_key(|&(_, cost)| cost)
        .unwrap_or((Predictor::Left, u32::MAX));
    match xor_with {
        _ if cost * 4 < other * 3 => Coding::Predicted(predictor),
        Some(p) => Coding::Xor(p),
        None => Coding::Raw,
    }
}

/// Appends the rect record's operand (after the op byte): `sub` relative
/// to `tile`, the coding, and the data.
pub(crate) fn put_rect(out: &mut Vec<u8>, cur: &Frame, tile: Rect, sub: Rect, coding: &Coding<'_>) {
    out.extend_from_slice(&[
        (sub.x - tile.x) as u8,
        (sub.y - tile.y) as u8,
        sub.w as u8,
        sub.h as u8,
    ]);
    let rows = sub.y..sub.y + sub.h;
    let cols = sub.x as usize..(sub.x + sub.w) as usize;
    match coding {
        Coding::Palette(colours) => {
            out.push(RECT_PALETTE);
            out.push(colours.len() as u8);
            colours
                .iter()
                .for_each(|c| out.extend_from_slice(&c.to_le_bytes()));
            let bits = bits_for(colours.len());
            if bits == 0 {
                return;
            }
            // Column by column: a glyph's columns are contiguous bytes, the
            // same wherever on its line it is drawn, so the session's
            // compressor stream finds it again. (A rect under 8 / bits
            // pixels tall pads every column to a byte: an underline costs
            // a byte a pixel before zstd, which folds the padding.)
            let mut column = Vec::with_capacity(sub.h as usize);
            for x in cols {
                column.clear();
                column.extend(rows.clone().map(|y| cur.row(y)[x]));
                let (mut acc, mut used) = (0u8, 0u32);
                for p in &column {
                    let i = colours.iter().position(|c| c == p).unwrap_or(0) as u8;
                    acc = (acc << bits) | i;
                    used += bits;
                    if used == 8 {
                        out.push(acc);
                        (acc, used) = (0, 0);
                    }
                }
                if used > 0 {
                    out.push(acc << (8 - used));
                }
            }
        }
        Coding::Xor(prev) => {
            out.push(RECT_XOR);
            for y in rows {
                let old = &prev.row(y)[cols.clone()];
                for (a, b) in cur.row(y)[cols.clone()].iter().zip(old) {
                    out.extend_from_slice(&(a ^ b).to_le_bytes());
                }
            }
        }
        Coding::Predicted(p) => {
            out.push(match p {
                Predictor::Left => RECT_DELTA,
                Predictor::Med => RECT_MED,
                Predictor::Plane => RECT_PLANE,
            });
            put_residuals(out, cur, sub, *p);
        }
        Coding::Copy(dx, dy) => {
            out.push(RECT_COPY);
            put_varint(out, zigzag(*dx));
            put_varint(out, zigzag(*dy));
        }
        Coding::Raw => {
            out.push(RECT_RAW);
            for y in rows {
                cur.row(y)[cols.clone()]
                    .iter()
                    .for_each(|p| out.extend_from_slice(&p.to_le_bytes()));
            }
        }
    }
}

/// A validated rect record.
pub(crate) struct RectOp<'a> {
    /// The rectangle, absolute.
    pub sub: Rect,
    pub data: RectData<'a>,
}

/// A rect record's pixels, validated.
pub(crate) enum RectData<'a> {
    Raw(&'a [u8]),
    Xor(&'a [u8]),
    Predicted(Predictor, &'a [u8]),
    /// Source position in the previous frame (wholly inside it).
    Copy {
        sx: u32,
        sy: u32,
    },
    Palette {
        colours: Vec<u32>,
        bits: u32,
        indices: &'a [u8],
    },
}

/// Parses a rect record's operand for `tile`; `key` refuses XOR and COPY.
pub(crate) fn parse_rect<'a>(
    r: &mut Reader<'a>,
    tile_index: usize,
    tile: Rect,
    grid: &Grid,
    key: bool,
) -> Result<RectOp<'a>, DecodeError> {
    let b = r.take(4, "rect")?;
    let (x, y, w, h) = (
        u32::from(b[0]),
        u32::from(b[1]),
        u32::from(b[2]),
        u32::from(b[3]),
    );
    if w == 0 || h == 0 || x + w > tile.w || y + h > tile.h {
        return Err(DecodeError::BadRect {
            tile: tile_index,
            x,
            y,
            w,
            h,
        });
    }
    let sub = Rect {
        x: tile.x + x,
        y: tile.y + y,
        w,
        h,
    };
    let bytes = sub.area() * 4;
    let data = match r.u8("rect coding")? {
        RECT_RAW => RectData::Raw(r.take(bytes, "rect pixels")?),
        RECT_XOR | RECT_COPY if key => {
            return Err(DecodeError::NotInKeyFrame {
                op: OP_RECT,
                tile: tile_index,
            });
        }
        RECT_XOR => RectData::Xor(r.take(bytes, "rect pixels")?),
        RECT_DELTA => RectData::Predicted(Predictor::Left, r.take(bytes, "rect pixels")?),
        RECT_MED => RectData::Predicted(Predictor::Med, r.take(bytes, "rect pixels")?),
        RECT_PLANE => RectData::Predicted(Predictor::Plane, r.take(bytes, "rect pixels")?),
        RECT_COPY => {
            let (sx, sy) = parse_offset(r, tile_index, sub, grid)?;
            RectData::Copy { sx, sy }
        }
        RECT_PALETTE => {
            let n = usize::from(r.u8("palette size")?);
            if n == 0 || n > MAX_COLOURS {
                return Err(DecodeError::BadPalette {
                    tile: tile_index,
                    colours: n,
                });
            }
            let colours = (0..n)
                .map(|_| r.u32("palette colour"))
                .collect::<Result<Vec<_>, _>>()?;
            let bits = bits_for(n);
            let indices = r.take(packed_len(h, bits) * w as usize, "palette indices")?;
            if let Some(bad) = first_bad_index(indices, h, bits, n) {
                return Err(DecodeError::BadPaletteIndex {
                    tile: tile_index,
                    index: bad,
                    colours: n,
                });
            }
            RectData::Palette {
                colours,
                bits,
                indices,
            }
        }
        coding => {
            return Err(DecodeError::UnknownRectCoding {
                tile: tile_index,
                coding,
            });
        }
    };
    Ok(RectOp { sub, data })
}

/// The first `n` index values packed in `bytes` (one column).
fn packed_indices(bytes: &[u8], n: u32, bits: u32) -> impl Iterator<Item = usize> + '_ {
    let per_byte = 8 / bits.max(1);
    let mask = (1u8 << bits.max(1)) - 1;
    (0..n).map(move |i| {
        if bits == 0 {
            return 0;
        }
        let byte = bytes[(i / per_byte) as usize];
        let shift = 8 - bits * (i % per_byte + 1);
        usize::from((byte >> shift) & mask)
    })
}

/// The first index that names no colour (possible when `n` is not a power
/// of two).
fn first_bad_index(indices: &[u8], h: u32, bits: u32, n: usize) -> Option<usize> {
    if bits == 0 || n == 1 << bits {
        return None;
    }
    indices
        .chunks_exact(packed_len(h, bits))
        .flat_map(|column| packed_indices(column, h, bits))
        .find(|&i| i >= n)
}

/// Applies a validated rect to `f`; a copy takes its pixels from
/// `staged` (its source block, read before the frame changed).
pub(crate) fn apply_rect(f: &mut Frame, op: &RectOp<'_>, staged: &[u32]) {
    let sub = op.sub;
    match &op.data {
        RectData::Copy { .. } => return write_block(f, sub, staged),
        RectData::Predicted(p, d) => return apply_residuals(f, sub, d, *p),
        _ => {}
    }
    if let RectData::Palette {
        colours,
        bits,
        indices,
    } = &op.data
    {
        return apply_palette(f, sub, colours, *bits, indices);
    }
    let width = f.width() as usize;
    let px = f.pixels_mut();
    let (x, w) = (sub.x as usize, sub.w as usize);
    for (dy, y) in (sub.y as usize..(sub.y + sub.h) as usize).enumerate() {
        let row = &mut px[y * width + x..y * width + x + w];
        match &op.data {
            RectData::Raw(d) | RectData::Xor(d) => {
                let xor = matches!(op.data, RectData::Xor(_));
                let src = &d[dy * w * 4..(dy + 1) * w * 4];
                for (p, c) in row.iter_mut().zip(src.chunks_exact(4)) {
                    let v = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    *p = if xor { *p ^ v } else { v };
                }
            }
            RectData::Palette { .. } | RectData::Copy { .. } | RectData::Predicted(..) => {}
        }
    }
}

/// Writes palette indices, column by column, into `sub`.
fn apply_palette(f: &mut Frame, sub: Rect, colours: &[u32], bits: u32, indices: &[u8]) {
    let width = f.width() as usize;
    let px = f.pixels_mut();
    let (x0, y0) = (sub.x as usize, sub.y as usize);
    if bits == 0 {
        for y in y0..y0 + sub.h as usize {
            px[y * width + x0..y * width + x0 + sub.w as usize].fill(colours[0]);
        }
        return;
    }
    let column = packed_len(sub.h, bits);
    for (dx, src) in indices
        .chunks_exact(column)
        .take(sub.w as usize)
        .enumerate()
    {
        for (dy, i) in packed_indices(src, sub.h, bits).enumerate() {
            px[(y0 + dy) * width + x0 + dx] = colours[i];
        }
    }
}
