//! The decoder: validates an encoded frame completely, then applies it.
//!
//! Decoding runs in two passes. The parse pass checks every length, rect,
//! offset and cache slot against the frame size and the [`Limits`] and
//! decompresses with a capacity cap; only if the whole frame is valid does
//! the apply pass touch the frame buffer and the cache. A rejected frame
//! therefore leaves the picture and the cache as they were. The session's
//! body stream is the exception: a key frame restarts it and a streamed
//! delta advances it as soon as its body is read, so when such a frame is
//! rejected after that, every delta is refused until the next key frame.

pub(crate) mod parse;

use std::borrow::Cow;

use super::cache::{TILE_PIXELS, TileCache};
use super::coarse::expand_coarse;
pub use super::error::DecodeError;
use super::frame::Frame;
use super::parallel::for_each_mut;
use super::planes::read_planes;
use super::rect::{RectData, apply_rect};
use super::stream::StreamDecompressor;
use super::tile::{Grid, Rect, block_rows, fetch_clipped, read_block, write_block};
use super::wire::{FLAG_BODY_STREAM, FLAG_BODY_ZSTD, FLAG_KEY, Header, Reader};
use super::{CACHE_SLOTS, TILE};
use parse::{Layout, Op, ParseCtx, Record, parse_records, unpack};

/// A band of the frame (whole tile rows) and the coarse tiles in it, each
/// with its planes.
type Band<'f, 'd> = (&'f mut [u32], Vec<(&'d [u8], Rect)>);

/// Largest frame a [`Decoder`] accepts; checked before any allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest width in pixels.
    pub max_width: u32,
    /// Largest height in pixels.
    pub max_height: u32,
    /// Largest `width * height`.
    pub max_pixels: u64,
}

impl Default for Limits {
    /// Up to 8192 per side and 8K UHD (7680x4320) worth of pixels.
    fn default() -> Self {
        Self {
            max_width: 8192,
            max_height: 8192,
            max_pixels: 7680 * 4320,
        }
    }
}

/// Upper bound of a zstd frame holding `n` bytes (zstd's own bound, rounded
/// up) — what an honest encoder can produce for incompressible data.
pub(crate) fn zstd_bound(n: usize) -> usize {
    n + n / 128 + 128
}

/// Largest body any valid frame on this grid can have.
fn max_body(grid: &Grid) -> usize {
    let per_tile = 16 + zstd_bound(TILE_PIXELS * 4);
    grid.tiles().saturating_mul(per_tile)
}

/// Rebuilds screen frames from the encoder's output.
pub struct Decoder {
    limits: Limits,
    frame: Option<Frame>,
    last_seq: u8,
    /// A frame failed after moving the body stream: deltas wait for a key.
    stream_broken: bool,
    cache: TileCache,
    scratch: Vec<u32>,
    /// The session's body stream, made at the first streamed frame.
    stream: Option<StreamDecompressor>,
    /// Threads decompressing the tiles of large changes.
    threads: usize,
    /// Tiles last written by a coarse record, and how many.
    coarse: Vec<bool>,
    coarse_tiles: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with default [`Limits`], waiting for a key frame.
    #[must_use]
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A decoder with explicit limits.
    #[must_use]
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            frame: None,
            last_seq: 0,
            stream_broken: false,
            cache: TileCache::new(CACHE_SLOTS),
            scratch: Vec::new(),
            stream: None,
            threads: super::parallel::default_threads(),
            coarse: Vec::new(),
            coarse_tiles: 0,
        }
    }

    /// Whether the picture is exact: `false` while tiles of a large moving
    /// area are shown at reduced resolution (an encoder with coarse motion
    /// sends them exact once they hold still).
    #[must_use]
    pub fn exact(&self) -> bool {
        self.coarse_tiles == 0
    }

    /// Sets the threads that decompress the tiles of large changes (1: the
    /// calling thread only).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// The last successfully decoded frame.
    #[must_use]
    pub fn frame(&self) -> Option<&Frame> {
        self.frame.as_ref()
    }

    /// Decodes one encoded frame and applies it to the frame buffer.
    ///
    /// On error nothing changes; the caller should ask the encoder for a key
    /// frame, since the following deltas will not line up.
    ///
    /// # Errors
    /// A [`DecodeError`] naming what is wrong with the input.
    pub fn decode(&mut self, data: &[u8]) -> Result<&Frame, DecodeError> {
        let mut r = Reader::new(data);
        let size = self.frame.as_ref().map(|f| (f.width(), f.height()));
        let h = Header::read(&mut r, size)?;
        let grid = self.check_header(&h)?;
        let key = h.flags & FLAG_KEY != 0;
        // From the body on, a streamed frame has moved the body stream and
        // a key frame has restarted it (if there is one): failing after
        // that breaks it.
        let moves_stream = h.flags & FLAG_BODY_STREAM != 0 || key && self.stream.is_some();
        let body = match self.read_body(&mut r, &h, &grid) {
            Ok(body) => body,
            Err(e) => return Err(self.failed(e, moves_stream)),
        };
        let mut ctx = ParseCtx {
            grid,
            key,
            occupied: if key { 0 } else { self.cache.len() },
        };
        let records = parse_records(&body, h.records, &mut ctx).and_then(|mut records| {
            unpack(&mut records, &grid, self.threads)?;
            Ok(records)
        });
        let records = match records {
            Ok(records) => records,
            Err(e) => return Err(self.failed(e, moves_stream)),
        };
        if key {
            self.stream_broken = false;
        }
        self.apply(&h, &grid, records)
    }

    /// Notes a frame that failed after its body was read.
    fn failed(&mut self, e: DecodeError, moved_stream: bool) -> DecodeError {
        self.stream_broken |= moved_stream;
        e
    }

    /// Checks size, key-frame and sequence rules; returns the tile grid.
    fn check_header(&self, h: &Header) -> Result<Grid, DecodeError> {
        let (width, height) = (h.width, h.height);
        let l = &self.limits;
        if width > l.max_width
            || height > l.max_height
            || u64::from(width) * u64::from(height) > l.max_pixels
        {
            return Err(DecodeError::TooLarge { width, height });
        }
        let grid = Grid::new(width, height);
        if h.flags & FLAG_KEY != 0 {
            if h.records as usize != grid.tiles() {
                return Err(DecodeError::IncompleteKeyFrame {
                    records: h.records,
                    tiles: grid.tiles(),
                });
            }
        } else {
            // A delta has the current frame's size (Header::read took it).
            if self.frame.is_none() {
                return Err(DecodeError::NoKeyFrame);
            }
            if self.stream_broken {
                return Err(DecodeError::StreamBroken);
            }
            if h.seq != self.last_seq.wrapping_add(1) {
                return Err(DecodeError::SequenceGap {
                    last: self.last_seq.into(),
                    got: h.seq.into(),
                });
            }
        }
        if h.records as usize > grid.tiles() {
            return Err(DecodeError::TooManyRecords {
                records: h.records,
                tiles: grid.tiles(),
            });
        }
        Ok(grid)
    }

    /// Second pass: writes the validated records into the buffer and cache.
    fn apply(
        &mut self,
        h: &Header,
        grid: &Grid,
        records: Vec<Record<'_>>,
    ) -> Result<&Frame, DecodeError> {
        let key = h.flags & FLAG_KEY != 0;
        let mut frame = match self.frame.take() {
            Some(f) if !key => f,
            // The key frame covers every tile, so the fill is overwritten.
            _ => Frame::filled(grid.width, grid.height, 0).map_err(|_| DecodeError::BadSize {
                width: grid.width,
                height: grid.height,
            })?,
        };
        if key {
            self.cache.clear();
            self.coarse.clear();
            self.coarse.resize(grid.tiles(), false);
        }
        // Copies and XORs read the previous frame: stage every source block
        // before any record overwrites it.
        self.scratch.clear();
        for rec in &records {
            let r = grid.rect(rec.tile);
            match &rec.op {
                Op::Copy { sx, sy } => {
                    read_block(
                        &frame,
                        Rect {
                            x: *sx,
                            y: *sy,
                            ..r
                        },
                        &mut self.scratch,
                    );
                }
                // The same place is read in place when the record is
                // applied: only this tile's record writes this tile.
                Op::Pixels {
                    base: Some((dx, dy)),
                    ..
                } if (*dx, *dy) != (0, 0) => fetch_clipped(&frame, r, *dx, *dy, &mut self.scratch),
                Op::Rects(parts) => {
                    for part in parts {
                        if let RectData::Copy { sx, sy } = part.data {
                            let src = Rect {
                                x: sx,
                                y: sy,
                                ..part.sub
                            };
                            read_block(&frame, src, &mut self.scratch);
                        }
                    }
                }
                _ => {}
            }
        }
        // Coarse tiles (a whole moving area) are expanded straight into the
        // frame on the threads, a band of tile rows at a time.
        let stride = grid.width as usize;
        let mut bands: Vec<Band<'_, '_>> = frame
            .pixels_mut()
            .chunks_mut(TILE as usize * stride)
            .map(|band| (band, Vec::new()))
            .collect();
        for rec in &records {
            if let Op::Pixels {
                data,
                layout: Layout::Coarse,
                ..
            } = &rec.op
            {
                let r = grid.rect(rec.tile);
                if let Some((_, tiles)) = bands.get_mut((r.y / TILE) as usize) {
                    tiles.push((data.as_ref(), r));
                }
            }
        }
        bands.retain(|(_, tiles)| !tiles.is_empty());
        let expand = |(band, tiles): &mut Band<'_, '_>| {
            for &(data, r) in tiles.iter() {
                expand_coarse(data, r, band, stride);
            }
        };
        if !for_each_mut(&mut bands, self.threads, expand) {
            bands.iter_mut().for_each(expand);
        }
        drop(bands);
        let mut staged = 0;
        let mut tile_buf = Vec::with_capacity(TILE_PIXELS);
        for rec in records {
            let r = grid.rect(rec.tile);
            tile_buf.clear();
            // A coarse tile stays coarse until a record rewrites all of it.
            self.coarse[rec.tile] = match &rec.op {
                Op::Rects(parts) => self.coarse[rec.tile] && parts.iter().all(|p| p.sub != r),
                op => matches!(
                    op,
                    Op::Pixels {
                        layout: Layout::Coarse,
                        ..
                    }
                ),
            };
            match rec.op {
                Op::Solid(c) => tile_buf.resize(r.area(), c),
                Op::Copy { .. } => {
                    tile_buf.extend_from_slice(&self.scratch[staged..staged + r.area()]);
                    staged += r.area();
                }
                Op::Cache(slot) => {
                    // Validated by the parse pass; an empty slot cannot occur.
                    let px = self.cache.touch(slot).unwrap_or(&[]);
                    tile_buf.extend_from_slice(px);
                }
                // Already expanded into the frame.
                Op::Pixels {
                    layout: Layout::Coarse,
                    ..
                } => {}
                Op::Pixels {
                    data, base, layout, ..
                } => {
                    if let Layout::Planes(green) = layout {
                        read_planes(&data, green, &mut tile_buf);
                    } else {
                        pixels_from_bytes(&data, &mut tile_buf);
                    }
                    match base {
                        None => {}
                        Some((0, 0)) => tile_buf
                            .chunks_exact_mut(r.w as usize)
                            .zip(block_rows(&frame, r))
                            .for_each(|(d, s)| d.iter_mut().zip(s).for_each(|(d, s)| *d ^= s)),
                        Some(_) => {
                            let reference = &self.scratch[staged..staged + r.area()];
                            staged += r.area();
                            tile_buf
                                .iter_mut()
                                .zip(reference)
                                .for_each(|(d, s)| *d ^= s);
                        }
                    }
                    if r.is_full_tile() {
                        self.cache.insert(&tile_buf);
                    }
                }
                Op::Rects(parts) => {
                    for part in &parts {
                        let n = match part.data {
                            RectData::Copy { .. } => part.sub.area(),
                            _ => 0,
                        };
                        apply_rect(&mut frame, part, &self.scratch[staged..staged + n]);
                        staged += n;
                    }
                    if r.is_full_tile() {
                        read_block(&frame, r, &mut tile_buf);
                        self.cache.insert(&tile_buf);
                        tile_buf.clear();
                    }
                }
            }
            if tile_buf.len() == r.area() {
                write_block(&mut frame, r, &tile_buf);
            }
        }
        self.coarse_tiles = self.coarse.iter().filter(|&&c| c).count();
        self.last_seq = h.seq;
        Ok(self.frame.insert(frame))
    }
}

impl Decoder {
    /// Reads the body, decompressing it with a capacity cap when flagged.
    /// A streamed body advances the session's stream even if the frame is
    /// rejected later; every delta is then refused until the key frame that
    /// restarts the stream.
    fn read_body<'a>(
        &mut self,
        r: &mut Reader<'a>,
        h: &Header,
        grid: &Grid,
    ) -> Result<Cow<'a, [u8]>, DecodeError> {
        if h.flags & FLAG_KEY != 0 {
            // Every key frame restarts the stream, streamed itself or not.
            if let Some(s) = &mut self.stream {
                s.restart();
            }
        }
        let max = max_body(grid);
        let raw_len = h.body_raw_len as usize;
        if raw_len > max {
            return Err(DecodeError::BodyTooLarge {
                declared: raw_len,
                max,
            });
        }
        // The body is the rest of the input.
        let stored = r.take(r.remaining(), "body")?;
        if stored.len() > zstd_bound(max) {
            return Err(DecodeError::BodyTooLarge {
                declared: stored.len(),
                max: zstd_bound(max),
            });
        }
        let body = if h.flags & FLAG_BODY_STREAM != 0 {
            let stream = match &mut self.stream {
                Some(s) => s,
                None => self.stream.insert(StreamDecompressor::new()?),
            };
            stream.chunk(stored, raw_len)?
        } else if h.flags & FLAG_BODY_ZSTD != 0 {
            zstd::bulk::decompress(stored, raw_len)
                .map_err(|_| DecodeError::BadZstd { what: "body" })?
        } else {
            if stored.len() != raw_len {
                return Err(DecodeError::BodyLengthMismatch {
                    declared: raw_len,
                    actual: stored.len(),
                });
            }
            return Ok(Cow::Borrowed(stored));
        };
        if body.len() != raw_len {
            return Err(DecodeError::BodyLengthMismatch {
                declared: raw_len,
                actual: body.len(),
            });
        }
        Ok(Cow::Owned(body))
    }
}

fn pixels_from_bytes(data: &[u8], out: &mut Vec<u32>) {
    out.extend(
        data.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
    );
}
