//! The encoder: finds dirty tiles and picks the cheapest record for each.

mod parts;
mod plan;
mod write;

use std::collections::HashMap;

use super::CACHE_SLOTS;
use super::cache::{TILE_PIXELS, TileCache};
use super::frame::Frame;
use super::motion::SegHashes;
use super::pixels::Base;
use super::stream::StreamCompressor;
use super::tile::{Grid, Rect, block_eq, copy_same_place};

/// In [`Batching::Auto`], frames with more pixel tiles than this may
/// compress each tile on its own (zstd level 1 picks parameters tuned for
/// 16 KiB inputs: ~17% smaller on large changed areas such as video, and
/// on several threads); smaller changes go into the session's stream, and
/// so do large ones of text or flat UI and moved windows or scrolls (see
/// `write::stream_suits`).
const AUTO_PER_TILE_ABOVE: usize = 64;

/// A coarse tile is sent exact once it has not changed for this many
/// frames (encoded, or found unchanged by [`Encoder::encode_changed`]): a
/// 24 fps video captured at 60 fps repeats frames, and must not flicker
/// between coarse and exact.
pub const REFINE_AFTER: u8 = 3;

/// How pixel payloads are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Batching {
    /// The stream, except for large photo-like changes: per tile (default).
    #[default]
    Auto,
    /// Every body as the next chunk of the session's zstd stream.
    Always,
    /// One zstd frame per pixel tile; records stay uncompressed.
    Never,
}

/// Encoder knobs; the defaults are what the agent uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderConfig {
    /// Payload compression layout.
    pub batching: Batching,
    /// Search for scrolled and moved content (copy records).
    pub motion: bool,
    /// Reference previously sent tiles by cache slot.
    pub cache: bool,
    /// Threads compressing tiles of large changes (1: the calling thread
    /// only, what "one core" figures use).
    pub threads: usize,
    /// Send large moving areas (a video) at reduced resolution while they
    /// move, and each tile exact once it has held still for
    /// [`REFINE_AFTER`] frames. Off by default: every frame is then
    /// lossless.
    pub coarse_motion: bool,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            batching: Batching::Auto,
            motion: true,
            cache: true,
            threads: super::parallel::default_threads(),
            coarse_motion: false,
        }
    }
}

/// What the last [`Encoder::encode`] produced, for stats and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodeStats {
    /// Whether it was a key frame.
    pub key: bool,
    /// Tiles with a record: those that differed from the previous frame
    /// (all tiles for a key) and coarse tiles made exact.
    pub dirty: usize,
    /// Solid-colour records.
    pub solid: usize,
    /// Copy records (scroll / move).
    pub copy: usize,
    /// Cache references.
    pub cached: usize,
    /// Raw pixel records (possibly compressed as part of the body).
    pub raw: usize,
    /// XOR-with-previous records (possibly compressed as part of the body).
    pub xor: usize,
    /// Per-tile zstd records.
    pub zstd: usize,
    /// Per-tile XOR + zstd records.
    pub xor_zstd: usize,
    /// Of the `zstd` and `xor_zstd` records, those whose pixels went as
    /// four planes (few repeated pixels: photos, video, gradients).
    pub planes: usize,
    /// Of the `planes` records, those whose blue and red planes went coded
    /// against green (XOR or difference: grain or shading common to every
    /// channel).
    pub green: usize,
    /// Pixel tiles where plain and XOR were both plausible (both change at
    /// most pixels), decided by compressing a sample of each when sent
    /// alone; XOR when inline in the stream.
    pub unsure: usize,
    /// Tiles that were unsure in the last frame too and took that frame's
    /// sampled choice without sampling again (not counted in `unsure`).
    pub unsure_reused: usize,
    /// Rect records (changed rectangle of a tile).
    pub rect: usize,
    /// Rect records coded as palette indices.
    pub palette: usize,
    /// Parts records: a tile's changed area as a copied rectangle (a moved
    /// window's part) and coded rects for the rest.
    pub parts: usize,
    /// Coarse (reduced-resolution) tiles of a large moving area.
    pub coarse: usize,
    /// Whether the body went into the session's zstd stream.
    pub batched: bool,
    /// Encoded size in bytes, header included.
    pub bytes: usize,
}

/// The decision for one dirty tile.
#[derive(Debug, Clone, Copy)]
enum Plan {
    Solid(u32),
    Copy(i32, i32),
    Cache(usize),
    /// Pixels, plain or XORed with the previous frame's block.
    Pixels {
        base: Base,
    },
    /// The tile at reduced resolution: part of a large moving area.
    Coarse,
}

/// Turns successive frames into the wire format of [`crate::screen`].
pub struct Encoder {
    config: EncoderConfig,
    prev: Option<Frame>,
    seq: u32,
    key_requested: bool,
    prev_seg: SegHashes,
    cur_seg: SegHashes,
    cache: TileCache,
    /// Tile hash to slot, for lookups; pixels are compared before use.
    cache_index: HashMap<u64, usize>,
    slot_hash: Vec<u64>,
    /// The session's stream; `None` if zstd could not make a context.
    stream: Option<StreamCompressor>,
    /// Per-tile compressors for large changes, one per thread, kept.
    compressors: Vec<zstd::bulk::Compressor<'static>>,
    stats: EncodeStats,
    /// Reusable buffer for XOR reference blocks clipped at the frame's
    /// edge (blocks inside it are read in place).
    scratch: Vec<u32>,
    /// This frame's motion offsets that explained some tile: candidates
    /// for the copied part of a tile that only partly moved.
    offsets: Vec<(i32, i32)>,
    /// Tiles the decoder holds coarse (sent by the last frame), and how
    /// many: such a tile is resent whole until it is exact again, and no
    /// copy or XOR reads the previous frame while any is left.
    coarse: Vec<bool>,
    coarse_tiles: usize,
    /// Frames each coarse tile has held still (see [`REFINE_AFTER`]).
    still: Vec<u8>,
    /// Per tile, what the last sample of an unsure tile chose (`true`:
    /// XOR); forgotten when the tile is next sent as pixels but not unsure,
    /// and at key frames (kept while it is unchanged, solid or copied).
    unsure_choice: Vec<Option<bool>>,
    /// Unsure tiles of the frame being encoded that reused a choice.
    reused: usize,
    /// 2D motion searches in a row that found no copy.
    planar_misses: u8,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder with the default configuration; its first frame is a key.
    #[must_use]
    pub fn new() -> Self {
        Self::with_config(EncoderConfig::default())
    }

    /// An encoder with explicit knobs.
    #[must_use]
    pub fn with_config(config: EncoderConfig) -> Self {
        Self {
            config,
            prev: None,
            seq: 0,
            key_requested: true,
            prev_seg: SegHashes::new(),
            cur_seg: SegHashes::new(),
            cache: TileCache::new(CACHE_SLOTS),
            cache_index: HashMap::new(),
            slot_hash: Vec::new(),
            // Without a context the encoder still works, sending raw pixels.
            stream: StreamCompressor::new(),
            compressors: Vec::new(),
            stats: EncodeStats::default(),
            scratch: Vec::with_capacity(TILE_PIXELS),
            offsets: Vec::new(),
            coarse: Vec::new(),
            coarse_tiles: 0,
            still: Vec::new(),
            unsure_choice: Vec::new(),
            reused: 0,
            planar_misses: 0,
        }
    }

    /// Makes the next frame a key frame (viewer joined or lost sync).
    pub fn request_keyframe(&mut self) {
        self.key_requested = true;
    }

    /// Turns [`EncoderConfig::coarse_motion`] on or off from the next
    /// frame (tiles already sent coarse are still made exact).
    pub fn set_coarse_motion(&mut self, on: bool) {
        self.config.coarse_motion = on;
    }

    /// Whether the decoder's picture is exactly the last encoded frame:
    /// `false` while coarse tiles wait to be made exact, so the caller must
    /// encode again even if the screen did not change.
    #[must_use]
    pub fn exact(&self) -> bool {
        self.coarse_tiles == 0
    }

    /// Statistics of the last encoded frame.
    #[must_use]
    pub fn stats(&self) -> &EncodeStats {
        &self.stats
    }

    /// Whether the next frame must be captured even if the screen is known
    /// not to have changed: a key frame is due (the first, or one asked
    /// for), or coarse tiles are counting the frames they hold still.
    #[must_use]
    pub fn wants_frame(&self) -> bool {
        self.key_requested || self.prev.is_none() || self.coarse_tiles > 0
    }

    /// Encodes `frame` as a delta to the previous one (or a key frame when
    /// requested, first, or after a resolution change). Copies the changed
    /// tiles into the encoder's reference frame.
    pub fn encode(&mut self, frame: &Frame) -> Vec<u8> {
        let pass = self.find_changes(frame);
        self.encode_copying(frame, pass)
    }

    /// Encodes what a pass found, then copies the tiles it sent into the
    /// reference frame (all of `frame` for a key frame).
    fn encode_copying(&mut self, frame: &Frame, pass: Changes) -> Vec<u8> {
        let (out, prev, grid, dirty) = self.encode_changes(frame, pass);
        let mut prev = match prev {
            Some(p) => p,
            None => frame.clone(),
        };
        for &t in &dirty {
            copy_same_place(&mut prev, frame, grid.rect(t));
        }
        self.prev = Some(prev);
        out
    }

    /// Like [`Encoder::encode`] but keeps `frame` as the reference instead
    /// of copying it, and hands back the previous reference frame (if any)
    /// so the caller can capture into it next time: no per-frame copy and no
    /// per-frame allocation.
    pub fn encode_owned(&mut self, frame: Frame) -> (Vec<u8>, Option<Frame>) {
        let pass = self.find_changes(&frame);
        let (out, prev, _, _) = self.encode_changes(&frame, pass);
        let spare = prev.or_else(|| self.prev.take());
        self.prev = Some(frame);
        (out, spare)
    }

    /// Like [`Encoder::encode_owned`] for a capture loop that sends nothing
    /// while the screen holds still: `None`, and no frame numbered, when
    /// `frame` would change nothing on the decoder (no key frame due, no
    /// changed tile, no coarse tile due to be made exact). The pass that
    /// finds the changed tiles decides it, so a changed frame is compared
    /// with the last one once. Coarse tiles count a `None` as a frame they
    /// held still.
    pub fn encode_changed(&mut self, frame: Frame) -> Option<Vec<u8>> {
        let pass = self.find_changes(&frame);
        if !pass.key && pass.dirty.is_empty() {
            self.prev = pass.prev;
            return None;
        }
        let (out, _, _, _) = self.encode_changes(&frame, pass);
        self.prev = Some(frame);
        Some(out)
    }

    /// Like [`Encoder::encode_changed`] for a capture loop that keeps the
    /// screen itself and knows where it may have changed (what the X
    /// server reported drawn): only tiles touching `hint` are compared
    /// (every tile when `None`), and the tiles sent are copied into the
    /// reference frame, so `frame` stays the caller's to update in place.
    /// A change outside `hint` is not seen until a later call covers it.
    pub fn encode_hinted(&mut self, frame: &Frame, hint: Option<&[Rect]>) -> Option<Vec<u8>> {
        let pass = self.find_changes_in(frame, hint);
        if !pass.key && pass.dirty.is_empty() {
            self.prev = pass.prev;
            return None;
        }
        Some(self.encode_copying(frame, pass))
    }

    /// Decides between a key frame and a delta and finds the tiles to send;
    /// takes the reference frame out (unless this is a key frame).
    fn find_changes(&mut self, frame: &Frame) -> Changes {
        self.find_changes_in(frame, None)
    }

    /// [`Encoder::find_changes`], comparing only the tiles that touch
    /// `hint` (all when `None`); coarse tiles elsewhere count as still.
    fn find_changes_in(&mut self, frame: &Frame, hint: Option<&[Rect]>) -> Changes {
        let grid = Grid::new(frame.width(), frame.height());
        let key = self.key_requested
            || self
                .prev
                .as_ref()
                .is_none_or(|p| (p.width(), p.height()) != (frame.width(), frame.height()));
        if key {
            self.cache.clear();
            self.cache_index.clear();
            self.slot_hash.clear();
            self.prev_seg.reset(&grid);
            self.cur_seg.reset(&grid);
            if let Some(s) = &mut self.stream {
                s.restart();
            }
            self.coarse.clear();
            self.coarse.resize(grid.tiles(), false);
            self.still.clear();
            self.still.resize(grid.tiles(), 0);
            self.coarse_tiles = 0;
            self.unsure_choice.clear();
            self.unsure_choice.resize(grid.tiles(), None);
            self.planar_misses = 0;
        }
        let prev = if key { None } else { self.prev.take() };
        let touched = hint.map(|h| grid.touched(h));
        // Dirty: tiles that changed, and coarse tiles that held still long
        // enough to be made exact.
        let (dirty, moving): (Vec<usize>, Vec<bool>) = match &prev {
            None => (0..grid.tiles()).map(|t| (t, true)).unzip(),
            Some(p) => (0..grid.tiles())
                .filter_map(|t| {
                    let r = grid.rect(t);
                    let changed =
                        touched.as_ref().is_none_or(|m| m[t]) && !block_eq(frame, r, p, r.x, r.y);
                    let refine = self.coarse[t] && {
                        let n = &mut self.still[t];
                        *n = if changed { 0 } else { n.saturating_add(1) };
                        *n >= REFINE_AFTER
                    };
                    (changed || refine).then_some((t, changed))
                })
                .unzip(),
        };
        Changes {
            key,
            prev,
            grid,
            dirty,
            moving,
        }
    }

    /// Encodes what [`Encoder::find_changes`] found and updates everything
    /// but the reference pixels; returns the bytes, the old reference, the
    /// grid and the dirty tiles.
    fn encode_changes(
        &mut self,
        frame: &Frame,
        pass: Changes,
    ) -> (Vec<u8>, Option<Frame>, Grid, Vec<usize>) {
        let Changes {
            key,
            prev,
            grid,
            dirty,
            moving,
        } = pass;
        let plans = self.plan(frame, prev.as_ref(), &grid, &dirty, &moving);
        let out = self.write(frame, prev.as_ref(), &grid, &plans, key);
        for &(t, plan) in &plans {
            self.coarse[t] = matches!(plan, Plan::Coarse);
            self.still[t] = 0;
        }
        self.coarse_tiles = self.coarse.iter().filter(|&&c| c).count();
        self.commit_hashes(frame, &grid, &plans);
        self.seq = self.seq.wrapping_add(1);
        self.key_requested = false;
        (out, prev, grid, dirty)
    }

    /// Brings the row-segment hashes up to date with `frame`. A vertical
    /// copy inherits its source's hashes, so scrolling hashes almost nothing.
    fn commit_hashes(&mut self, frame: &Frame, grid: &Grid, plans: &[(usize, Plan)]) {
        for &(t, plan) in plans {
            let r = grid.rect(t);
            let hashed_by_cache = self.config.cache && r.is_full_tile();
            match plan {
                Plan::Copy(0, dy) => self.cur_seg.copy_shifted(&self.prev_seg, r, dy),
                Plan::Pixels { .. } | Plan::Cache(_) if hashed_by_cache => {}
                // Not read while any tile is coarse (no motion search), and
                // every coarse tile is rewritten (and hashed) before then.
                Plan::Coarse => {}
                _ => self.cur_seg.fill(frame, r),
            }
        }
        for &(t, _) in plans {
            self.prev_seg.copy_tile(&self.cur_seg, grid.rect(t));
        }
    }
}

/// What one pass over a new frame found (see [`Encoder::find_changes`]).
struct Changes {
    key: bool,
    /// The reference frame, taken out of the encoder (`None` for a key).
    prev: Option<Frame>,
    grid: Grid,
    /// Tiles to send, in order, and whether each changed (rather than
    /// being a coarse tile due to be made exact).
    dirty: Vec<usize>,
    moving: Vec<bool>,
}
