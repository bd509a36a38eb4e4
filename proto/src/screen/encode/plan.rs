//! The encoder's first half: every dirty tile's record is decided (solid,
//! copy from a scrolled or moved place, cache hit, coarse, or pixels with
//! their XOR reference), updating the tile cache as the decoder will.

use super::{Encoder, Plan};
use crate::screen::TILE;
use crate::screen::frame::Frame;
use crate::screen::motion::{planar_candidates, vertical_candidates};
use crate::screen::pixels::{Base, choose_base, in_bounds};
use crate::screen::tile::{Grid, Rect, block_eq, block_rows, solid_color};

/// With [`super::EncoderConfig::coarse_motion`], a frame whose changed
/// pixel tiles (after copies and solid fills) number more than this, and
/// more than a quarter of the screen, sends them coarse: video, not typing
/// or a dialog.
const COARSE_ABOVE: usize = 64;
/// An unsure tile (see [`Base::Unsure`]) that stays unsure keeps the choice
/// its last sample made for this many frames, then samples again (tiles
/// take turns, so each frame samples about one in this many).
const RESAMPLE_EVERY: usize = 8;
/// A 2D motion search over more than 1/this of the tiles that found no
/// copy this many times in a row is run only every
/// [`PLANAR_RETRY_EVERY`]th frame until it finds one again: on full-screen
/// video it scans the whole frame for nothing.
const PLANAR_SKIP_ABOVE: usize = 4;
const PLANAR_MISSES_BEFORE_SKIP: u8 = 2;
const PLANAR_RETRY_EVERY: usize = 4;

impl Encoder {
    /// Decides every dirty tile's record.
    pub(super) fn plan(
        &mut self,
        cur: &Frame,
        prev: Option<&Frame>,
        grid: &Grid,
        dirty: &[usize],
        moving: &[bool],
    ) -> Vec<(usize, Plan)> {
        let mut plans: Vec<Option<Plan>> = dirty
            .iter()
            .map(|&t| solid_color(cur, grid.rect(t)).map(Plan::Solid))
            .collect();
        // While the decoder holds coarse tiles, its previous frame is not
        // the encoder's: nothing may be copied or XORed from it.
        let offsets = match prev {
            Some(prev) if self.config.motion && self.coarse_tiles == 0 => {
                self.plan_motion(cur, prev, grid, dirty, &mut plans)
            }
            _ => Vec::new(),
        };
        let open_moving = plans
            .iter()
            .zip(moving)
            .filter(|(p, m)| p.is_none() && **m)
            .count();
        let coarse = self.config.coarse_motion
            && prev.is_some()
            && open_moving > COARSE_ABOVE.max(grid.tiles() / 4);
        self.reused = 0;
        // Cache lookups and inserts run in tile order, as the decoder's do.
        let planned = dirty
            .iter()
            .zip(plans)
            .zip(moving)
            .map(|((&t, p), &m)| {
                let plan = match p {
                    Some(p) => p,
                    None if coarse && m => Plan::Coarse,
                    None => {
                        // A coarse tile on the decoder is resent whole.
                        let exact = prev.filter(|_| !self.coarse.get(t).copied().unwrap_or(false));
                        let was_unsure = self.unsure_choice.get(t).is_some_and(Option::is_some);
                        let plan = self.plan_pixels(cur, exact, grid.rect(t), &offsets, was_unsure);
                        self.reuse_choice(t, plan)
                    }
                };
                (t, plan)
            })
            .collect();
        self.offsets = offsets;
        planned
    }

    /// Fills copy plans for tiles found at a scrolled or moved position and
    /// returns the offsets tried (good XOR references for the other tiles).
    fn plan_motion(
        &mut self,
        cur: &Frame,
        prev: &Frame,
        grid: &Grid,
        dirty: &[usize],
        plans: &mut [Option<Plan>],
    ) -> Vec<(i32, i32)> {
        let open = |plans: &[Option<Plan>]| -> Vec<usize> {
            dirty
                .iter()
                .zip(plans)
                .filter(|(_, p)| p.is_none())
                .map(|(&t, _)| t)
                .collect()
        };
        let todo = open(plans);
        if todo.is_empty() {
            return Vec::new();
        }
        let dys = vertical_candidates(cur, grid, &self.prev_seg, &todo);
        let mut offsets: Vec<(i32, i32)> = dys.into_iter().map(|dy| (0, dy)).collect();
        let found = try_copies(cur, prev, grid, dirty, plans, &offsets);
        let left = open(plans);
        // Skip the costlier 2D search when scrolling explained most tiles,
        // and on most frames of a large change where it keeps finding
        // nothing (video: a scan of the whole frame, every frame, for no
        // copy).
        let large = left.len() * PLANAR_SKIP_ABOVE > grid.tiles();
        let rest = large
            && self.planar_misses >= PLANAR_MISSES_BEFORE_SKIP
            && !(self.seq as usize).is_multiple_of(PLANAR_RETRY_EVERY);
        if left.len() >= 4 && found * 3 < todo.len() * 2 && !rest {
            let planar = planar_candidates(prev, cur, grid, &left);
            let moved = try_copies(cur, prev, grid, dirty, plans, &planar);
            // Only large searches count as misses: a small one that found
            // nothing (typing) must not make a pan that follows wait.
            if moved > 0 {
                self.planar_misses = 0;
            } else if large {
                self.planar_misses = self.planar_misses.saturating_add(1);
            }
            offsets.extend(planar);
        }
        // Only offsets that explained some tile are worth trying as XOR
        // references for the rest (a scrolled tile that gained a line); a
        // full-screen change (video) then skips the reference search.
        offsets.retain(|o| {
            plans
                .iter()
                .any(|p| matches!(p, Some(Plan::Copy(dx, dy)) if (*dx, *dy) == *o))
        });
        offsets
    }

    /// An unsure tile that was unsure before takes its last sample's choice,
    /// except on its turn to sample again.
    fn reuse_choice(&mut self, t: usize, plan: Plan) -> Plan {
        let Plan::Pixels {
            base: Base::Unsure(dx, dy),
        } = plan
        else {
            // No longer unsure: a later sample starts afresh.
            if let Some(c) = self.unsure_choice.get_mut(t) {
                *c = None;
            }
            return plan;
        };
        let turn = (self.seq as usize)
            .wrapping_add(t)
            .is_multiple_of(RESAMPLE_EVERY);
        match self.unsure_choice.get(t).copied().flatten() {
            Some(xor) if !turn => {
                self.reused += 1;
                let base = if xor { Base::Xor(dx, dy) } else { Base::Plain };
                Plan::Pixels { base }
            }
            _ => plan,
        }
    }

    /// Cache hit or pixel payload; updates the cache like the decoder will.
    /// `was_unsure`: see [`choose_base`].
    fn plan_pixels(
        &mut self,
        cur: &Frame,
        prev: Option<&Frame>,
        r: Rect,
        offsets: &[(i32, i32)],
        was_unsure: bool,
    ) -> Plan {
        let base = prev.map_or(Base::Plain, |p| {
            choose_base(cur, p, r, offsets, was_unsure, &mut self.scratch)
        });
        if !self.config.cache || !r.is_full_tile() {
            return Plan::Pixels { base };
        }
        self.cur_seg.fill(cur, r);
        let hash = self.cur_seg.tile_hash(r);
        if let Some(&slot) = self.cache_index.get(&hash)
            && self
                .cache
                .get(slot)
                .is_some_and(|px| px.chunks_exact(TILE as usize).eq(block_rows(cur, r)))
        {
            self.cache.touch(slot);
            return Plan::Cache(slot);
        }
        let slot = self.cache.insert_block(cur, r);
        if let Some(old) = self.slot_hash.get(slot).copied() {
            if self.cache_index.get(&old) == Some(&slot) {
                self.cache_index.remove(&old);
            }
            self.slot_hash[slot] = hash;
        } else {
            self.slot_hash.push(hash);
        }
        self.cache_index.insert(hash, slot);
        Plan::Pixels { base }
    }
}

/// Tries each offset on each open tile; returns how many became copies.
fn try_copies(
    cur: &Frame,
    prev: &Frame,
    grid: &Grid,
    dirty: &[usize],
    plans: &mut [Option<Plan>],
    offsets: &[(i32, i32)],
) -> usize {
    if offsets.is_empty() {
        return 0;
    }
    let mut found = 0;
    for (&t, plan) in dirty.iter().zip(plans.iter_mut()) {
        if plan.is_some() {
            continue;
        }
        let r = grid.rect(t);
        let hit = offsets.iter().find(|&&(dx, dy)| {
            in_bounds(grid, r, dx, dy).is_some_and(|(sx, sy)| block_eq(cur, r, prev, sx, sy))
        });
        if let Some(&(dx, dy)) = hit {
            *plan = Some(Plan::Copy(dx, dy));
            found += 1;
        }
    }
    found
}
