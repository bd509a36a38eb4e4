//! Size measurements for benchmarks and reports. No clocks here (proto is
//! sans-IO): callers that want timings wrap these calls in their own timer.

use super::encode::{EncodeStats, Encoder, EncoderConfig};
use super::frame::Frame;
use super::synth::{Synth, Workload};
use super::tile::{Grid, block_eq, read_block};

/// One encoded frame's size next to a naive baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameReport {
    /// Encoded size in bytes.
    pub bytes: usize,
    /// Size of the naive alternative: zstd level 1 over the raw pixels of
    /// every changed tile ([`dirty_tiles_zstd_size`]).
    pub baseline: usize,
    /// What the encoder chose.
    pub stats: EncodeStats,
}

/// The naive encoding's size: all tiles that differ between `prev` and
/// `cur`, raw pixels concatenated, one zstd level 1 stream. Frames of
/// different sizes count every tile as changed.
#[must_use]
pub fn dirty_tiles_zstd_size(prev: &Frame, cur: &Frame) -> usize {
    let grid = Grid::new(cur.width(), cur.height());
    let same_size = (prev.width(), prev.height()) == (cur.width(), cur.height());
    let mut px = Vec::new();
    for t in 0..grid.tiles() {
        let r = grid.rect(t);
        if !same_size || !block_eq(cur, r, prev, r.x, r.y) {
            read_block(cur, r, &mut px);
        }
    }
    if px.is_empty() {
        return 0;
    }
    let bytes: Vec<u8> = px.iter().flat_map(|p| p.to_le_bytes()).collect();
    zstd::bulk::compress(&bytes, 1).map_or(bytes.len(), |c| c.len())
}

/// Encodes the first frame plus `frames` more of a 1920x1080 workload and
/// reports each delta (the initial key frame is not included).
#[must_use]
pub fn run_workload(workload: Workload, frames: usize, seed: u64) -> Vec<FrameReport> {
    run_workload_with(EncoderConfig::default(), workload, frames, seed)
}

/// [`run_workload`] with explicit encoder knobs, to compare strategies.
#[must_use]
pub fn run_workload_with(
    config: EncoderConfig,
    workload: Workload,
    frames: usize,
    seed: u64,
) -> Vec<FrameReport> {
    let mut synth = Synth::full_hd(workload, seed);
    let mut enc = Encoder::with_config(config);
    let mut prev = synth.frame().clone();
    let _key = enc.encode(&prev);
    (0..frames)
        .map(|_| {
            let cur = synth.next_frame();
            let bytes = enc.encode(cur).len();
            let baseline = dirty_tiles_zstd_size(&prev, cur);
            prev.clone_from(cur);
            FrameReport {
                bytes,
                baseline,
                stats: enc.stats().clone(),
            }
        })
        .collect()
}

/// The `p`-th percentile (0..=100, nearest rank) of `values`; 0 if empty.
#[must_use]
pub fn percentile<T: Copy + Ord + Default>(values: &[T], p: u32) -> T {
    let mut v = values.to_vec();
    v.sort_unstable();
    if v.is_empty() {
        return T::default();
    }
    let rank = (v.len() * p.min(100) as usize).div_ceil(100).max(1);
    v[rank - 1]
}
