//! The lossless screen codec: 64x64 tiles, per-tile cheapest record, pure
//! Rust and free of I/O.
//!
//! The [`Encoder`] keeps the previous frame, per-row-segment hashes and a
//! tile cache; for every tile that changed it picks the cheapest of a solid
//! colour, a copy from elsewhere in the previous frame (scrolling, window
//! moves), a cached tile, or pixels (raw or XOR with the previous tile, zstd
//! level 1 either per tile or batched into one stream for the frame). The
//! [`Decoder`] validates a whole frame before applying it. Decoded frames
//! equal captured frames bit for bit: every hash match is confirmed by
//! comparing pixels before it is used.
//!
//! # Wire format (version 1)
//!
//! All integers little-endian; `varint` is unsigned LEB128 of at most five
//! bytes; `zigzag` maps signed to unsigned (`0,-1,1,-2,…` → `0,1,2,3,…`).
//!
//! ```text
//! header (26 bytes)
//!   magic        [u8; 4]  "LLSC"
//!   version      u8       1
//!   flags        u8       bit 0 KEY, bit 1 BODY_ZSTD, others must be 0
//!   seq          u32      frame number; a delta must be last seq + 1
//!   width        u16      1..=limits
//!   height       u16      1..=limits
//!   records      u32      number of tile records (key frame: every tile)
//!   body_len     u32      bytes of body on the wire (the rest of the input)
//!   body_raw_len u32      bytes of body after decompression
//! body            body_len bytes; one zstd frame if BODY_ZSTD, else plain
//!   records × { skip: varint, op: u8, operand }
//! ```
//!
//! Tiles are numbered row-major, `ceil(width/64)` per row; right and bottom
//! tiles may be partial. A record's tile is the previous record's tile + 1 +
//! `skip` (the first record: `skip`), so tiles strictly increase; tiles
//! without a record are unchanged. `area` is the tile's pixel count.
//!
//! | op | name      | operand                                   | key frame |
//! |----|-----------|-------------------------------------------|-----------|
//! | 0  | SOLID     | `u32` pixel                               | yes       |
//! | 1  | RAW       | `area * 4` bytes of pixels                 | yes       |
//! | 2  | XOR       | `dx, dy`, then `area * 4` bytes XOR the source block | no |
//! | 3  | ZSTD      | `len: varint`, zstd frame of RAW bytes     | yes       |
//! | 4  | XOR_ZSTD  | `dx, dy`, `len: varint`, zstd frame of XOR bytes | no  |
//! | 5  | COPY      | `dx, dy`: the tile is the source block     | no        |
//! | 6  | CACHE     | `slot: varint`                             | yes       |
//!
//! `dx, dy` are zigzag varints; the source block is the tile's rectangle
//! moved by `(dx, dy)` in the *previous* frame (never pixels written earlier
//! in the same frame). A COPY source must lie wholly inside the frame; an
//! XOR source must overlap it, and its pixels outside the frame read as 0
//! (so a bottom tile that scrolled and gained a new line still XORs against
//! the scrolled text). XOR with `(0, 0)` is
//! the classic XOR-with-previous-tile; other offsets XOR against scrolled or
//! moved content. The tile cache ([`CACHE_SLOTS`] slots, full 64x64 tiles only) is
//! updated in record order: each full tile carried by RAW/XOR/ZSTD/XOR_ZSTD
//! is stored in the next slot (slots fill from 0; once full, the least
//! recently used is replaced) and each CACHE record marks its slot used. A
//! key frame empties the cache and the frame buffer first; it may still
//! reference tiles it stored itself (repeated tiles in one screen).
//!
//! An idle frame is the bare 26-byte header with zero records.

mod cache;
mod decode;
mod encode;
mod error;
mod frame;
pub mod measure;
mod motion;
mod pixels;
pub mod synth;
mod tile;
pub mod wire;

pub use decode::{DecodeError, Decoder, Limits};
pub use encode::{Batching, EncodeStats, Encoder, EncoderConfig};
pub use frame::{Frame, FrameError};
pub use tile::{Grid, Rect};
pub use wire::{HEADER_LEN, MAGIC, VERSION};

/// Tile side in pixels.
pub const TILE: u32 = 64;

/// Largest frame side the codec can carry (the wire holds sizes in `u16`).
pub const MAX_DIM: u32 = 16_384;

/// Tile cache slots on both sides (16 KiB each, so 8 MiB per side).
pub const CACHE_SLOTS: usize = 512;
