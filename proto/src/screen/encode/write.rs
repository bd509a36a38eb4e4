//! The encoder's second half: plans become the wire's records, pixel
//! payloads are compressed (the session's stream for small changes, per
//! tile on a few threads for large ones) and the header goes in front.

use super::parts::split_moved;
use super::{AUTO_PER_TILE_ABOVE, Batching, EncodeStats, Encoder, Plan};
use crate::screen::cache::TILE_PIXELS;
use crate::screen::coarse::{coarse_len, put_coarse};
use crate::screen::frame::Frame;
use crate::screen::parallel::Payload;
use crate::screen::pixels::{from_planes, reference_rows, tile_bytes};
use crate::screen::rect::{Coding, changed_bbox, pick_coding, put_rect};
use crate::screen::tile::{Grid, Rect};
use crate::screen::wire::{
    FLAG_BODY_STREAM, FLAG_KEY, Header, OP_CACHE, OP_COARSE, OP_COPY, OP_PARTS, OP_PLANES_ZSTD,
    OP_RAW, OP_RECT, OP_SOLID, OP_XOR, OP_XOR_PLANES_ZSTD, OP_XOR_ZSTD, OP_ZSTD, put_varint,
    zigzag,
};

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
            Batching::Auto => pixel_tiles > AUTO_PER_TILE_ABOVE,
        } || self.stream.is_none()
            || has_coarse;
        let (mut body, mut stats) = self.body(cur, prev, grid, plans, per_tile);
        let raw_len = body.len();
        let mut streamed = false;
        if !per_tile && !body.is_empty() {
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
            flags: if key { FLAG_KEY } else { 0 } | if streamed { FLAG_BODY_STREAM } else { 0 },
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
        let mut bytes = Vec::with_capacity(TILE_PIXELS * 4);
        // Per tile: every pixel payload first, compressed on the
        // configured threads, then the records in order.
        let mut payloads = if per_tile {
            let work: Vec<(Rect, Plan)> = plans
                .iter()
                .filter(|(_, plan)| matches!(plan, Plan::Pixels { .. } | Plan::Coarse))
                .map(|&(t, plan)| (grid.rect(t), plan))
                .collect();
            // Returns whether the bytes are planes.
            let build = |&(r, plan): &(Rect, Plan), b: &mut Vec<u8>| match plan {
                Plan::Coarse => {
                    b.reserve_exact(coarse_len(r));
                    put_coarse(cur, r, b);
                    false
                }
                Plan::Pixels { base } => {
                    b.reserve_exact(TILE_PIXELS * 4);
                    pixel_bytes(cur, prev, r, base, true, b)
                }
                _ => false,
            };
            crate::screen::parallel::build_and_compress(
                &work,
                build,
                &mut self.compressors,
                self.config.threads,
            )
            .into_iter()
        } else {
            Vec::new().into_iter()
        };
        for &(t, plan) in plans {
            put_varint(&mut out, (t - next) as u32);
            next = t + 1;
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
                        .map_or_else(Vec::new, |p| p.packed.unwrap_or(p.raw));
                    put_varint(&mut out, blob.len() as u32);
                    out.extend_from_slice(&blob);
                }
                Plan::Pixels { base }
                    if !per_tile && {
                        // A tile the decoder holds coarse is written whole.
                        let exact = prev.filter(|_| !self.coarse[t]);
                        self.put_rect(&mut out, cur, exact, grid.rect(t), base, &mut stats)
                    } => {}
                Plan::Pixels { base } => match payloads.next() {
                    Some(p) => put_pixels(&mut out, p, base, &mut stats),
                    None => {
                        pixel_bytes(cur, prev, grid.rect(t), base, false, &mut bytes);
                        let p = Payload {
                            meta: false,
                            raw: std::mem::take(&mut bytes),
                            packed: None,
                        };
                        put_pixels(&mut out, p, base, &mut stats);
                    }
                },
            }
        }
        (out, stats)
    }

    /// Writes a rect or parts record for a tile sent as pixels in the
    /// stream, when one fits: the moved part of the changed area as a copy
    /// and the rest coded (a tile a dragged window's edge cuts through);
    /// else the changed rectangle (the whole tile in a key frame) in its
    /// cheapest coding. A tile better XORed against moved content as a
    /// whole, or a whole tile of plain pixels, is left to the tile records.
    fn put_rect(
        &mut self,
        out: &mut Vec<u8>,
        cur: &Frame,
        prev: Option<&Frame>,
        r: Rect,
        base: Option<(i32, i32)>,
        stats: &mut EncodeStats,
    ) -> bool {
        let changed = prev.and_then(|p| changed_bbox(cur, p, r));
        let parts = match (prev, changed) {
            (Some(p), Some(c)) => split_moved(cur, p, c, &self.offsets),
            _ => None,
        };
        let parts = match parts {
            Some(parts) => parts,
            None if base.is_some_and(|b| b != (0, 0)) => return false,
            None => {
                let sub = changed.unwrap_or(r);
                let coding = pick_coding(cur, prev.filter(|_| base.is_some()), sub);
                if sub == r && matches!(coding, Coding::Xor(_) | Coding::Raw) {
                    return false;
                }
                vec![(sub, coding)]
            }
        };
        if let [(sub, coding)] = parts.as_slice() {
            out.push(OP_RECT);
            put_rect(out, cur, r, *sub, coding);
        } else {
            out.push(OP_PARTS);
            out.push(parts.len() as u8);
            for (sub, coding) in &parts {
                put_rect(out, cur, r, *sub, coding);
            }
            stats.parts += 1;
        }
        stats.rect += parts.len();
        stats.palette += parts
            .iter()
            .filter(|(_, c)| matches!(c, Coding::Palette(_)))
            .count();
        true
    }
}

/// The pixels of tile `r` as bytes, XORed with its reference block (the
/// previous frame's moved by `base`, clipped) if `base`; returns whether
/// they are planes (see [`tile_bytes`]).
fn pixel_bytes(
    cur: &Frame,
    prev: Option<&Frame>,
    r: Rect,
    base: Option<(i32, i32)>,
    allow_planes: bool,
    out: &mut Vec<u8>,
) -> bool {
    let mut scratch = Vec::new();
    let rows = match (base, prev) {
        (Some(offset), Some(p)) => Some(reference_rows(p, r, offset, &mut scratch)),
        _ => None,
    };
    tile_bytes(cur, rows.as_deref(), r, allow_planes, out)
}

/// Writes a pixel record: compressed if the payload holds the smaller
/// form; inline pixels are always interleaved.
fn put_pixels(
    out: &mut Vec<u8>,
    payload: Payload<bool>,
    base: Option<(i32, i32)>,
    stats: &mut EncodeStats,
) {
    let xor = base.is_some();
    let planes = payload.meta;
    match payload.packed {
        Some(c) => {
            out.push(match (xor, planes) {
                (false, false) => OP_ZSTD,
                (false, true) => OP_PLANES_ZSTD,
                (true, false) => OP_XOR_ZSTD,
                (true, true) => OP_XOR_PLANES_ZSTD,
            });
            put_base(out, base);
            if xor {
                stats.xor_zstd += 1;
            } else {
                stats.zstd += 1;
            }
            stats.planes += usize::from(planes);
            put_varint(out, c.len() as u32);
            out.extend_from_slice(&c);
        }
        None => {
            if xor {
                stats.xor += 1;
                out.push(OP_XOR);
            } else {
                stats.raw += 1;
                out.push(OP_RAW);
            }
            put_base(out, base);
            if planes {
                out.extend_from_slice(&from_planes(&payload.raw));
            } else {
                out.extend_from_slice(&payload.raw);
            }
        }
    }
}

fn put_base(out: &mut Vec<u8>, base: Option<(i32, i32)>) {
    if let Some((dx, dy)) = base {
        put_varint(out, zigzag(dx));
        put_varint(out, zigzag(dy));
    }
}
