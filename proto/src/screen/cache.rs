//! The tile cache that encoder and decoder keep in lockstep.
//!
//! Both sides run the same operations in the same order (insert every full
//! tile sent with pixel data, touch every tile referenced), so slot numbers
//! agree without ever being negotiated. Slots fill in increasing order and
//! are only emptied by a key frame, which lets the decoder check a reference
//! with one comparison. Once full, the least recently used slot is reused.

use super::TILE;
use super::frame::Frame;
use super::tile::{Rect, read_block};

/// Pixels in one cached tile.
pub(crate) const TILE_PIXELS: usize = (TILE * TILE) as usize;

struct Slot {
    pixels: Vec<u32>,
    last_used: u64,
}

/// A bounded LRU of full tiles addressed by slot number.
pub(crate) struct TileCache {
    slots: Vec<Slot>,
    capacity: usize,
    clock: u64,
}

impl TileCache {
    /// An empty cache holding at most `capacity` tiles.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: Vec::new(),
            capacity,
            clock: 0,
        }
    }

    /// Forgets every tile (key frames start from nothing on both sides).
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.clock = 0;
    }

    /// Number of occupied slots; valid slot numbers are `0..len()`.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The slot the next insert will use. Pure, so the decoder's validation
    /// pass and the encoder's planning agree with the real insert.
    pub(crate) fn next_slot(&self) -> usize {
        if self.slots.len() < self.capacity {
            return self.slots.len();
        }
        // Clocks are unique, so the minimum is unique: no tie to break.
        self.slots
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| s.last_used)
            .map_or(0, |(i, _)| i)
    }

    /// Stores a tile (exactly [`TILE_PIXELS`] pixels) and returns its slot.
    pub(crate) fn insert(&mut self, pixels: &[u32]) -> usize {
        self.insert_with(|slot| slot.extend_from_slice(pixels))
    }

    /// Stores the full tile `r` of `f` and returns its slot.
    pub(crate) fn insert_block(&mut self, f: &Frame, r: Rect) -> usize {
        self.insert_with(|slot| read_block(f, r, slot))
    }

    /// Takes the next slot, emptied, and lets `fill` write the tile into it.
    fn insert_with(&mut self, fill: impl FnOnce(&mut Vec<u32>)) -> usize {
        self.clock += 1;
        let slot = self.next_slot();
        if let Some(s) = self.slots.get_mut(slot) {
            s.pixels.clear();
            fill(&mut s.pixels);
            s.last_used = self.clock;
        } else {
            let mut pixels = Vec::with_capacity(TILE_PIXELS);
            fill(&mut pixels);
            self.slots.push(Slot {
                pixels,
                last_used: self.clock,
            });
        }
        slot
    }

    /// Marks a slot as used now and returns its pixels.
    pub(crate) fn touch(&mut self, slot: usize) -> Option<&[u32]> {
        self.clock += 1;
        let s = self.slots.get_mut(slot)?;
        s.last_used = self.clock;
        Some(&s.pixels)
    }

    /// The pixels in a slot, without changing its age.
    pub(crate) fn get(&self, slot: usize) -> Option<&[u32]> {
        self.slots.get(slot).map(|s| s.pixels.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut c = TileCache::new(2);
        let a = vec![1; TILE_PIXELS];
        let b = vec![2; TILE_PIXELS];
        let d = vec![3; TILE_PIXELS];
        assert_eq!(c.insert(&a), 0);
        assert_eq!(c.insert(&b), 1);
        assert!(c.touch(0).is_some());
        // Slot 1 (b) is now the oldest.
        assert_eq!(c.next_slot(), 1);
        assert_eq!(c.insert(&d), 1);
        assert_eq!(c.get(0), Some(a.as_slice()));
        assert_eq!(c.get(1), Some(d.as_slice()));
        assert_eq!(c.len(), 2);
        c.clear();
        assert_eq!(c.len(), 0);
        assert!(c.touch(0).is_none());
    }
}
