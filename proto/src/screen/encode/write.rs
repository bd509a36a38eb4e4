//! The encoder's second half: plans become the wire's records, pixel
//! payloads are compressed (the session's stream, except for large
//! photo-like changes: per tile on a few threads) and the header goes in
//! front.

use super::parts::split_moved;
use super::{AUTO_PER_TILE_ABOVE, Batching, EncodeStats, Encoder, Plan};
use crate::screen::coarse::{coarse_len, put_coarse};
use crate::screen::frame::Frame;
use crate::screen::parallel::{compress_smaller, with_compressors};
use crate::screen::pixels::{Base, reference_rows, tile_bytes};
use crate::screen::planes::{Green, read_planes};
use crate::screen::rect::{Coding, changed_bbox, palette, pick_coding, put_rect};
use crate::screen::tile::{Grid, Rect};
use crate::screen::wire::{
    FLAG_BODY_STREAM, FLAG_BODY_ZSTD, FLAG_KEY, Header, MAX_PARTS, OP_CACHE, OP_COARSE, OP_COPY,
    OP_PARTS, OP_PLANES_ZSTD, OP_RAW, OP_RECT, OP_SOLID, OP_XOR, OP_XOR_PLANES_ZSTD, OP_XOR_ZSTD,
    OP_ZSTD, put_varint, zigzag,
};
use zstd::bulk::Compressor;

/// Largest body of a delta frame that goes into the session's stream
/// (level 9, ~80 MB/s on text, so at most ~3 ms); a larger one (a moved
/// window playing a video, say) is one zstd frame of its own at level 1.
/// Key frames (a screenful of text is ~270 KiB) always restart the stream
/// with their body, so that what follows finds its glyphs there.
pub(crate) const STREAM_BODY_MAX: usize = 256 * 1024;

/// Pixel tiles of a large change sampled to tell text from photo.
const FEW_COLOUR_SAMPLES: usize = 32;

impl Encoder {
    /// Serialises the plans, choosing the smaller payload layout.
    pub(super) fn write(
        &mut self,
        cur: &Frame,
        prev: Option<&Frame>,
        grid: &Grid,
        plans: &[(usize, Plan)],
        key: bool,
    ) -> Vec<u8> {
        let pixel_tiles = plans
            .iter()
            .filter(|(_, p)| matches!(p, Plan::Pixels { .. } | Plan::Coarse))
            .count();
        let has_coarse = plans.iter().any(|(_, p)| matches!(p, Plan::Coarse));
        let per_tile = match self.config.batching {
            Batching::Never => true,
            Batching::Always => false,
            Batching::Auto => {
                pixel_tiles > AUTO_PER_TILE_ABOVE && !stream_suits(cur, grid, plans, pixel_tiles)
            }
        } || self.stream.is_none()
            || has_coarse;
        let (mut body, mut stats) = self.body(cur, prev, grid, plans, per_tile);
        let raw_len = body.len();
        let mut streamed = false;
        let mut packed = false;
        if !per_tile && !key && body.len() > STREAM_BODY_MAX {
            // One zstd frame of its own at level 1: the stream's search
            // would take tens of milliseconds on megabytes of pixels.
            if self.compressors.is_empty() {
                self.compressors.extend(Compressor::new(1).ok());
            }
            let z = self.compressors.first_mut();
            if let Some(p) = compress_smaller(z, &body) {
                body = p;
                packed = true;
            }
        } else if !per_tile && !body.is_empty() {
            match self.stream.as_mut().and_then(|s| s.chunk(&body)) {
                Some(chunk) => {
                    body = chunk;
                    streamed = true;
                }
                // The stream is broken: this body goes plain and the next
                // frame is a key, which restarts the stream on both sides.
                None => self.key_requested = true,
            }
        }
        let header = Header {
            flags: if key { FLAG_KEY } else { 0 }
                | if streamed { FLAG_BODY_STREAM } else { 0 }
                | if packed { FLAG_BODY_ZSTD } else { 0 },
            seq: self.seq as u8,
            width: grid.width,
            height: grid.height,
            records: plans.len() as u32,
            body_raw_len: raw_len as u32,
        };
        let mut out = Vec::with_capacity(16 + body.len());
        header.write(&mut out);
        out.extend_from_slice(&body);
        stats.key = key;
        stats.unsure_reused = self.reused;
        stats.batched = streamed;
        stats.dirty = plans.len();
        stats.bytes = out.len();
        self.stats = stats;
        out
    }

    /// Builds the record body; `per_tile` compresses each pixel tile alone.
    fn body(
        &mut self,
        cur: &Frame,
        prev: Option<&Frame>,
        grid: &Grid,
        plans: &[(usize, Plan)],
        per_tile: bool,
    ) -> (Vec<u8>, EncodeStats) {
        let mut out = Vec::new();
        let mut stats = EncodeStats::default();
        let mut next = 0usize;
        let mut scratch = Vec::new();
        // Per tile: every pixel payload first, compressed on the
        // configured threads, then the records in order.
        let mut payloads = if per_tile {
            let work: Vec<(Rect, Plan)> = plans
                .iter()
                .filter(|(_, plan)| matches!(plan, Plan::Pixels { .. } | Plan::Coarse))
                .map(|&(t, plan)| (grid.rect(t), plan))
                .collect();
            let build =
                |&(r, plan): &(Rect, Plan), mut z: Option<&mut Compressor<'static>>| match plan {
                    Plan::Coarse => {
                        let mut raw = Vec::with_capacity(coarse_len(r));
                        put_coarse(cur, r, &mut raw);
                        let packed = compress_smaller(z, &raw);
                        Payload::plain(raw, packed)
                    }
                    Plan::Pixels { base } => pixel_payload(cur, prev, r, base, z.as_deref_mut()),
                    _ => Payload::plain(Vec::new(), None),
                };
            with_compressors(&work, &mut self.compressors, self.config.threads, build).into_iter()
        } else {
            Vec::new().into_iter()
        };
        for &(t, plan) in plans {
            put_varint(&mut out, (t - next) as u32);
            next = t + 1;
            if let Plan::Pixels {
                base: Base::Unsure(..),
            } = plan
            {
                stats.unsure += 1;
            }
            match plan {
                Plan::Solid(c) => {
                    stats.solid += 1;
                    out.push(OP_SOLID);
                    out.extend_from_slice(&c.to_le_bytes());
                }
                Plan::Copy(dx, dy) => {
                    stats.copy += 1;
                    out.push(OP_COPY);
                    put_varint(&mut out, zigzag(dx));
                    put_varint(&mut out, zigzag(dy));
                }
                Plan::Cache(slot) => {
                    stats.cached += 1;
                    out.push(OP_CACHE);
                    put_varint(&mut out, slot as u32);
                }
                Plan::Coarse => {
                    stats.coarse += 1;
                    out.push(OP_COARSE);
                    let blob = payloads
                        .next()
                        .map_or_else(Vec::new, |p| p.packed.unwrap_or(p.bytes));
                    put_varint(&mut out, blob.len() as u32);
                    out.extend_from_slice(&blob);
                }
                Plan::Pixels { base }
                    if !per_tile && {
                        let coarse = self.coarse[t];
                        let r = grid.rect(t);
                        let exact = prev.filter(|_| !coarse);
                        match self.rect_parts(cur, exact, r, base.offset()) {
                            Some(parts) => {
                                // A tile the decoder holds coarse is written
                                // whole, in one rect: the decoder's sign that
                                // it is exact again.
                                let parts = if coarse {
                                    parts
                                } else {
                                    split_lines(cur, parts)
                                };
                                put_parts(&mut out, cur, r, &parts, &mut stats);
                                true
                            }
                            None => false,
                        }
                    } => {}
                Plan::Pixels { base } => match payloads.next() {
                    Some(p) => {
                        if let (Base::Unsure(..), Some(c)) = (base, self.unsure_choice.get_mut(t)) {
                            *c = Some(p.offset.is_some());
                        }
                        put_pixels(&mut out, p, &mut stats);
                    }
                    None => {
                        // Inline in the stream: interleaved, XOR whenever
                        // in doubt.
                        let r = grid.rect(t);
                        let p = build_pixels(cur, prev, r, base.offset(), false, &mut scratch);
                        put_pixels(&mut out, p, &mut stats);
                    }
                },
            }
        }
        (out, stats)
    }

    /// The rect or parts record for a tile sent as pixels in the stream,
    /// when one fits: the moved part of the changed area as a copy and the
    /// rest coded (a tile a dragged window's edge cuts through); else the
    /// changed rectangle (the whole tile in a key frame) in its cheapest
    /// coding. A tile better XORed against moved content as a whole, or a
    /// whole tile of plain pixels, is left to the tile records (`None`).
    fn rect_parts<'a>(
        &self,
        cur: &Frame,
        prev: Option<&'a Frame>,
        r: Rect,
        base: Option<(i32, i32)>,
    ) -> Option<Vec<(Rect, Coding<'a>)>> {
        let changed = prev.and_then(|p| changed_bbox(cur, p, r));
        let parts = match (prev, changed) {
            (Some(p), Some(c)) => split_moved(cur, p, c, &self.offsets),
            _ => None,
        };
        match parts {
            Some(parts) => Some(parts),
            None if base.is_some_and(|b| b != (0, 0)) => None,
            None => {
                let sub = changed.unwrap_or(r);
                let coding = pick_coding(cur, prev.filter(|_| base.is_some()), sub);
                if sub == r && matches!(coding, Coding::Xor(_) | Coding::Raw) {
                    return None;
                }
                Some(vec![(sub, coding)])
            }
        }
    }
}

/// Writes `parts` of tile `r` (at most [`MAX_PARTS`]) as one rect record
/// or a parts record.
fn put_parts(
    out: &mut Vec<u8>,
    cur: &Frame,
    r: Rect,
    parts: &[(Rect, Coding<'_>)],
    stats: &mut EncodeStats,
) {
    debug_assert!((1..=usize::from(MAX_PARTS)).contains(&parts.len()));
    if let [(sub, coding)] = parts {
        out.push(OP_RECT);
        put_rect(out, cur, r, *sub, coding);
    } else {
        out.push(OP_PARTS);
        out.push(parts.len() as u8);
        for (sub, coding) in parts {
            put_rect(out, cur, r, *sub, coding);
        }
        stats.parts += 1;
    }
    stats.rect += parts.len();
    stats.palette += parts
        .iter()
        .filter(|(_, c)| matches!(c, Coding::Palette(_)))
        .count();
}

/// Splits palette rects into text lines: a band starts at every row with
/// ink (not one colour) under a row without. A glyph's columns are then the
/// same bytes wherever it is drawn, whatever line of the tile it is on, so
/// the stream finds glyphs seen before. All parts are kept as they were if
/// the bands would not fit in one parts record.
fn split_lines<'a>(cur: &Frame, parts: Vec<(Rect, Coding<'a>)>) -> Vec<(Rect, Coding<'a>)> {
    let starts: Vec<Vec<u32>> = parts
        .iter()
        .map(|(sub, coding)| match coding {
            Coding::Palette(_) => line_starts(cur, *sub),
            _ => Vec::new(),
        })
        .collect();
    let total: usize = starts.iter().map(|s| s.len().max(1)).sum();
    if total == parts.len() || total > usize::from(MAX_PARTS) {
        return parts;
    }
    let mut out = Vec::with_capacity(total);
    for ((sub, coding), starts) in parts.into_iter().zip(starts) {
        match coding {
            Coding::Palette(colours) if starts.len() > 1 => {
                let ends = starts[1..].iter().copied().chain([sub.y + sub.h]);
                for (y, end) in starts.iter().copied().zip(ends) {
                    let band = Rect {
                        y,
                        h: end - y,
                        ..sub
                    };
                    out.push((band, Coding::Palette(colours.clone())));
                }
            }
            coding => out.push((sub, coding)),
        }
    }
    out
}

/// The rows of `sub` where a text line starts: its top, and every row with
/// ink (not one colour) under a row without.
fn line_starts(cur: &Frame, sub: Rect) -> Vec<u32> {
    let cols = sub.x as usize..(sub.x + sub.w) as usize;
    let blank = |y: u32| {
        let row = &cur.row(y)[cols.clone()];
        row.iter().all(|&p| p == row[0])
    };
    let mut starts = vec![sub.y];
    let mut above_blank = blank(sub.y);
    for y in sub.y + 1..sub.y + sub.h {
        let b = blank(y);
        if above_blank && !b {
            starts.push(y);
        }
        above_blank = b;
    }
    starts
}

/// Whether a large change still codes smaller in the session's stream
/// than tile by tile:
/// - a moved window or a scroll, however far it went (copies at least half
///   as many as pixel tiles): its pixel tiles are mostly edges cut by the
///   move, which only the stream's rect and parts records code small;
/// - a screenful of text or flat UI (more than half of the sampled pixel
///   tiles have at most 16 colours): palette rects in the stream, cut into
///   lines where glyphs seen before repeat, are a fifth (scrolling text) to
///   a twelfth (an xterm) of the bytes of each tile compressed alone.
///
/// Other large changes (a video, a photo) go tile by tile, on several
/// threads. A moved window playing a video still goes in the stream: its
/// inner tiles are interleaved pixels on one thread, slower than planes.
fn stream_suits(cur: &Frame, grid: &Grid, plans: &[(usize, Plan)], pixel_tiles: usize) -> bool {
    let copies = plans
        .iter()
        .filter(|(_, p)| matches!(p, Plan::Copy(..)))
        .count();
    if copies * 2 >= pixel_tiles {
        return true;
    }
    let every = pixel_tiles.div_ceil(FEW_COLOUR_SAMPLES);
    let (mut sampled, mut few) = (0usize, 0usize);
    for (t, _) in plans
        .iter()
        .filter(|(_, p)| matches!(p, Plan::Pixels { .. }))
        .step_by(every)
    {
        sampled += 1;
        few += usize::from(palette(cur, grid.rect(*t)).is_some());
    }
    few * 2 > sampled
}

/// A tile's payload: its bytes and their zstd frame if smaller.
struct Payload {
    bytes: Vec<u8>,
    packed: Option<Vec<u8>>,
    /// The bytes are planes, coded so (see [`tile_bytes`]).
    planes: Option<Green>,
    /// The XOR reference the bytes are relative to.
    offset: Option<(i32, i32)>,
}

impl Payload {
    fn plain(bytes: Vec<u8>, packed: Option<Vec<u8>>) -> Self {
        Self {
            bytes,
            packed,
            planes: None,
            offset: None,
        }
    }
}

/// The pixels of tile `r`, XORed with the reference block `base` names,
/// compressed if that is smaller. When `base` is unsure, the first eighth
/// of the tile's rows is built and compressed both ways and the smaller
/// way is taken for the whole tile.
fn pixel_payload(
    cur: &Frame,
    prev: Option<&Frame>,
    r: Rect,
    base: Base,
    mut z: Option<&mut Compressor<'_>>,
) -> Payload {
    let mut scratch = Vec::new();
    let mut offset = base.offset();
    if let (Base::Unsure(..), Some(z)) = (base, z.as_deref_mut()) {
        let top = r.top_eighth();
        let mut cost = |o| {
            let sample = build_pixels(cur, prev, top, o, true, &mut scratch);
            z.compress(&sample.bytes).map_or(usize::MAX, |c| c.len())
        };
        if cost(None) < cost(offset) {
            offset = None;
        }
    }
    let mut chosen = build_pixels(cur, prev, r, offset, true, &mut scratch);
    chosen.packed = compress_smaller(z, &chosen.bytes);
    chosen
}

/// The pixels of `r` (with `allow_planes`, planes where few repeat), XORed
/// with the previous frame's block moved by `offset` if set; not
/// compressed.
fn build_pixels(
    cur: &Frame,
    prev: Option<&Frame>,
    r: Rect,
    offset: Option<(i32, i32)>,
    allow_planes: bool,
    scratch: &mut Vec<u32>,
) -> Payload {
    let rows = match (offset, prev) {
        (Some(o), Some(p)) => Some(reference_rows(p, r, o, scratch)),
        _ => None,
    };
    let mut bytes = Vec::new();
    let planes = tile_bytes(cur, rows.as_deref(), r, allow_planes, &mut bytes);
    Payload {
        bytes,
        packed: None,
        planes,
        offset: rows.and(offset),
    }
}

/// Writes a pixel record: compressed if the payload holds the smaller
/// form; inline pixels are always interleaved.
fn put_pixels(out: &mut Vec<u8>, payload: Payload, stats: &mut EncodeStats) {
    let Some(c) = payload.packed else {
        let bytes = if let Some(green) = payload.planes {
            let mut values = Vec::new();
            read_planes(&payload.bytes, green, &mut values);
            values.iter().flat_map(|v| v.to_le_bytes()).collect()
        } else {
            payload.bytes
        };
        return put_inline(out, &bytes, payload.offset, stats);
    };
    let xor = payload.offset.is_some();
    out.push(match (xor, payload.planes.is_some()) {
        (false, false) => OP_ZSTD,
        (false, true) => OP_PLANES_ZSTD,
        (true, false) => OP_XOR_ZSTD,
        (true, true) => OP_XOR_PLANES_ZSTD,
    });
    put_base(out, payload.offset);
    if let Some(green) = payload.planes {
        out.push(green as u8);
        stats.green += usize::from(green != Green::Plain);
    }
    if xor {
        stats.xor_zstd += 1;
    } else {
        stats.zstd += 1;
    }
    stats.planes += usize::from(payload.planes.is_some());
    put_varint(out, c.len() as u32);
    out.extend_from_slice(&c);
}

/// Writes an uncompressed pixel record of interleaved `bytes`.
fn put_inline(
    out: &mut Vec<u8>,
    bytes: &[u8],
    offset: Option<(i32, i32)>,
    stats: &mut EncodeStats,
) {
    if offset.is_some() {
        stats.xor += 1;
        out.push(OP_XOR);
    } else {
        stats.raw += 1;
        out.push(OP_RAW);
    }
    put_base(out, offset);
    out.extend_from_slice(bytes);
}

fn put_base(out: &mut Vec<u8>, base: Option<(i32, i32)>) {
    if let Some((dx, dy)) = base {
        put_varint(out, zigzag(dx));
        put_varint(out, zigzag(dy));
    }
}
