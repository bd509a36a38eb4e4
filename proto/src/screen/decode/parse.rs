//! The decoder's parse pass: every record of a frame's body is read and
//! checked against the frame size, the cache and the limits, and zstd tiles
//! are decompressed with a size cap, before anything is applied.

use std::borrow::Cow;

use super::DecodeError;
use super::zstd_bound;
use crate::screen::CACHE_SLOTS;
use crate::screen::coarse::coarse_len;
use crate::screen::pixels::{in_bounds, overlaps};
use crate::screen::planes::Green;
use crate::screen::rect::{RectOp, parse_rect};
use crate::screen::tile::{Grid, Rect};
use crate::screen::wire::{
    MAX_PARTS, OP_CACHE, OP_COARSE, OP_COPY, OP_PARTS, OP_PLANES_ZSTD, OP_RAW, OP_RECT, OP_SOLID,
    OP_XOR, OP_XOR_PLANES_ZSTD, OP_XOR_ZSTD, OP_ZSTD, Reader, unzigzag,
};

/// How a pixel record's bytes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// Four bytes a pixel, little-endian.
    Interleaved,
    /// Four planes: every pixel's first byte, then every second byte, …,
    /// the first and third coded against the second as given.
    Planes(Green),
    /// A coarse tile's planes (see [`crate::screen::coarse`]), not pixels;
    /// never cached.
    Coarse,
}

/// What one record does, after validation.
pub(super) enum Op<'a> {
    Solid(u32),
    /// Pixels, XORed with the previous frame's block at offset `base`
    /// (clipped, zero outside the frame) if set.
    Pixels {
        data: Cow<'a, [u8]>,
        base: Option<(i32, i32)>,
        /// `data` is still a zstd blob (decompressed after parsing, on
        /// several threads when there are many).
        packed: bool,
        layout: Layout,
    },
    Copy {
        sx: u32,
        sy: u32,
    },
    Cache(usize),
    /// Changed rectangles inside the tile, applied in order.
    Rects(Vec<RectOp<'a>>),
}

pub(super) struct Record<'a> {
    pub(super) tile: usize,
    pub(super) op: Op<'a>,
}

/// Context the parse pass needs from the decoder.
pub(super) struct ParseCtx {
    pub(super) grid: Grid,
    pub(super) key: bool,
    /// Cache slots filled so far, simulated through the frame.
    pub(super) occupied: usize,
}

/// First pass: parses and validates every record of the body.
pub(super) fn parse_records<'a>(
    body: &'a [u8],
    count: u32,
    ctx: &mut ParseCtx,
) -> Result<Vec<Record<'a>>, DecodeError> {
    let tiles = ctx.grid.tiles();
    let mut r = Reader::new(body);
    // `count <= tiles` was checked, so this allocation is bounded.
    let mut out = Vec::with_capacity(count as usize);
    let mut next = 0usize;
    for _ in 0..count {
        let skip = r.varint("tile skip")? as usize;
        if ctx.key && skip != 0 {
            return Err(DecodeError::IncompleteKeyFrame {
                records: count,
                tiles,
            });
        }
        let tile = next.saturating_add(skip);
        if tile >= tiles {
            return Err(DecodeError::TileOutOfRange { tile, tiles });
        }
        let op = parse_op(&mut r, tile, ctx)?;
        out.push(Record { tile, op });
        next = tile + 1;
    }
    if r.remaining() != 0 {
        return Err(DecodeError::TrailingBodyBytes(r.remaining()));
    }
    Ok(out)
}

fn parse_op<'a>(
    r: &mut Reader<'a>,
    tile: usize,
    ctx: &mut ParseCtx,
) -> Result<Op<'a>, DecodeError> {
    let rect = ctx.grid.rect(tile);
    let bytes = rect.area() * 4;
    let op = r.u8("record op")?;
    let needs_previous = [OP_XOR, OP_XOR_ZSTD, OP_XOR_PLANES_ZSTD, OP_COPY, OP_COARSE];
    if ctx.key && needs_previous.contains(&op) {
        return Err(DecodeError::NotInKeyFrame { op, tile });
    }
    let pixels = |data, base, packed, layout| Op::Pixels {
        data: Cow::Borrowed(data),
        base,
        packed,
        layout,
    };
    let parsed = match op {
        OP_SOLID => Op::Solid(r.u32("solid colour")?),
        OP_RAW => pixels(
            r.take(bytes, "tile pixels")?,
            None,
            false,
            Layout::Interleaved,
        ),
        OP_XOR => {
            let base = Some(parse_base(r, tile, rect, &ctx.grid)?);
            pixels(
                r.take(bytes, "tile pixels")?,
                base,
                false,
                Layout::Interleaved,
            )
        }
        OP_ZSTD | OP_PLANES_ZSTD => {
            let layout = if op == OP_ZSTD {
                Layout::Interleaved
            } else {
                Layout::Planes(parse_green(r, tile)?)
            };
            pixels(read_blob(r, tile, bytes)?, None, true, layout)
        }
        OP_XOR_ZSTD | OP_XOR_PLANES_ZSTD => {
            let base = Some(parse_base(r, tile, rect, &ctx.grid)?);
            let layout = if op == OP_XOR_ZSTD {
                Layout::Interleaved
            } else {
                Layout::Planes(parse_green(r, tile)?)
            };
            pixels(read_blob(r, tile, bytes)?, base, true, layout)
        }
        OP_COPY => {
            let (sx, sy) = parse_offset(r, tile, rect, &ctx.grid)?;
            Op::Copy { sx, sy }
        }
        OP_CACHE => {
            let slot = r.varint("cache slot")?;
            if !rect.is_full_tile() || slot as usize >= ctx.occupied {
                return Err(DecodeError::BadCacheSlot {
                    tile,
                    slot,
                    occupied: ctx.occupied,
                });
            }
            Op::Cache(slot as usize)
        }
        OP_COARSE => {
            let want = coarse_len(rect);
            let len = r.varint("coarse length")?;
            if len as usize > want {
                return Err(DecodeError::BlobTooLarge {
                    tile,
                    len,
                    max: want,
                });
            }
            let data = r.take(len as usize, "coarse planes")?;
            pixels(data, None, (len as usize) < want, Layout::Coarse)
        }
        OP_RECT => Op::Rects(vec![parse_rect(r, tile, rect, &ctx.grid, ctx.key)?]),
        OP_PARTS => {
            let parts = r.u8("part count")?;
            if parts == 0 || parts > MAX_PARTS {
                return Err(DecodeError::BadParts {
                    tile,
                    parts,
                    max: MAX_PARTS,
                });
            }
            let rects = (0..parts)
                .map(|_| parse_rect(r, tile, rect, &ctx.grid, ctx.key))
                .collect::<Result<Vec<_>, _>>()?;
            Op::Rects(rects)
        }
        _ => return Err(DecodeError::UnknownOp { op, tile }),
    };
    let cached = match &parsed {
        Op::Pixels { layout, .. } => *layout != Layout::Coarse,
        op => matches!(op, Op::Rects(_)),
    };
    if cached && rect.is_full_tile() {
        ctx.occupied = (ctx.occupied + 1).min(CACHE_SLOTS);
    }
    Ok(parsed)
}

/// Reads an XOR reference offset; the block must overlap the frame.
fn parse_base(
    r: &mut Reader<'_>,
    tile: usize,
    rect: Rect,
    grid: &Grid,
) -> Result<(i32, i32), DecodeError> {
    let dx = unzigzag(r.varint("xor dx")?);
    let dy = unzigzag(r.varint("xor dy")?);
    if overlaps(grid, rect, dx, dy) {
        Ok((dx, dy))
    } else {
        Err(DecodeError::SourceOutOfBounds { tile, dx, dy })
    }
}

/// Reads a copy offset and returns the source block's position, which
/// must lie wholly inside the frame: `rect` (a tile or a rect in it) moved.
pub(crate) fn parse_offset(
    r: &mut Reader<'_>,
    tile: usize,
    rect: Rect,
    grid: &Grid,
) -> Result<(u32, u32), DecodeError> {
    let dx = unzigzag(r.varint("copy dx")?);
    let dy = unzigzag(r.varint("copy dy")?);
    in_bounds(grid, rect, dx, dy).ok_or(DecodeError::SourceOutOfBounds { tile, dx, dy })
}

/// Reads a length-prefixed zstd tile of at most the bound for `bytes`.
fn read_blob<'a>(r: &mut Reader<'a>, tile: usize, bytes: usize) -> Result<&'a [u8], DecodeError> {
    let len = r.varint("tile blob length")?;
    let max = zstd_bound(bytes);
    if len as usize > max {
        return Err(DecodeError::BlobTooLarge { tile, len, max });
    }
    r.take(len as usize, "tile blob")
}

/// Decompresses every zstd tile to exactly its tile's size; the first bad
/// one (in tile order) is the error.
pub(super) fn unpack(
    records: &mut [Record<'_>],
    grid: &Grid,
    threads: usize,
) -> Result<(), DecodeError> {
    let items: Vec<(&[u8], usize)> = records
        .iter()
        .filter_map(|rec| match &rec.op {
            Op::Pixels {
                data,
                packed: true,
                layout,
                ..
            } => Some((data.as_ref(), unpacked_len(grid.rect(rec.tile), *layout))),
            _ => None,
        })
        .collect();
    if items.is_empty() {
        return Ok(());
    }
    let mut out = crate::screen::parallel::decompress_all(&items, threads).into_iter();
    drop(items);
    for rec in records.iter_mut() {
        let tile = rec.tile;
        if let Op::Pixels {
            data,
            packed,
            layout,
            ..
        } = &mut rec.op
            && *packed
        {
            let want = unpacked_len(grid.rect(tile), *layout);
            let got = out
                .next()
                .unwrap_or(Err(()))
                .map_err(|()| DecodeError::BadZstd { what: "tile blob" })?;
            if got.len() != want {
                return Err(DecodeError::TileSizeMismatch {
                    tile,
                    got: got.len(),
                    want,
                });
            }
            *data = Cow::Owned(got);
            *packed = false;
        }
    }
    Ok(())
}

/// The coding of a planar tile's blue and red planes.
fn parse_green(r: &mut Reader<'_>, tile: usize) -> Result<Green, DecodeError> {
    let coding = r.u8("plane coding")?;
    Green::from_wire(coding).ok_or(DecodeError::BadPlaneCoding { tile, coding })
}

/// Bytes a packed tile blob must decompress to.
fn unpacked_len(r: Rect, layout: Layout) -> usize {
    match layout {
        Layout::Coarse => coarse_len(r),
        Layout::Interleaved | Layout::Planes(_) => r.area() * 4,
    }
}
