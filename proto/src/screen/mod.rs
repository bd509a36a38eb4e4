//! The screen codec, lossless by default: 64x64 tiles, per-tile cheapest
//! record, pure Rust and free of I/O.
//!
//! The [`Encoder`] keeps the previous frame, per-row-segment hashes and a
//! tile cache; for every tile that changed it picks the cheapest of a solid
//! colour, a copy from elsewhere in the previous frame (scrolling, window
//! moves), a cached tile, the changed rectangle (palette, prediction
//! residuals, XOR or raw), the moved part plus the bands around it (PARTS),
//! or the whole tile's pixels (raw or XOR with a reference block, as byte
//! planes when few pixels repeat their neighbour); then zstd: level 1 per
//! tile for large photo-like changes, else the next chunk of the session's
//! stream (level 9), or, for a delta body over 256 KiB that would go there,
//! one level-1 frame of its own.
//! The [`Decoder`] validates a whole frame before applying it. Decoded
//! frames equal captured frames bit for bit: every hash match is confirmed
//! by comparing pixels before it is used. The one exception is opt-in
//! ([`EncoderConfig::coarse_motion`]): COARSE tiles of a large moving area,
//! made exact once they hold still ([`Encoder::exact`], [`Decoder::exact`]).
//!
//! # Wire format (version 9)
//!
//! All integers little-endian; `varint` is unsigned LEB128 of at most five
//! bytes; `zigzag` maps signed to unsigned (`0,-1,1,-2,…` → `0,1,2,3,…`).
//!
//! ```text
//! header (4 to 24 bytes; 4 or 5 for a typical delta)
//!   magic        u8       "L"   } key frames only: a delta follows a key
//!   version      u8       9     } frame of the same stream
//!   flags        u8       bit 0 KEY, bit 1 BODY_ZSTD, bit 2 BODY_STREAM,
//!                         others must be 0; bits 1 and 2 exclude each other
//!   seq          u8       frame number modulo 256; a delta must be last
//!                         seq + 1 (wrapping)
//!   width        varint   key frames only: 1..=limits (a delta has the
//!   height       varint   size of the frame it applies to)
//!   records      varint   number of tile records (key frame: every tile)
//!   body_raw_len varint   bytes of body after decompression
//! body            the rest of the input: plain; one zstd frame if
//!                 BODY_ZSTD; the next flushed chunk of the session's zstd
//!                 stream if BODY_STREAM (a key frame restarts the stream)
//!   records × { skip: varint, op: u8, operand }
//! ```
//!
//! Tiles are numbered row-major, `ceil(width/64)` per row; right and bottom
//! tiles may be partial. A record's tile is the previous record's tile + 1 +
//! `skip` (the first record: `skip`), so tiles strictly increase; tiles
//! without a record are unchanged. `area` is the tile's pixel count.
//!
//! | op | name            | operand                                              | key frame           |
//! |----|-----------------|------------------------------------------------------|---------------------|
//! | 0  | SOLID           | `u32` pixel                                          | yes                 |
//! | 1  | RAW             | `area * 4` bytes of pixels                           | yes                 |
//! | 2  | XOR             | `dx, dy`, then `area * 4` bytes XOR the source block | no                  |
//! | 3  | ZSTD            | `len: varint`, zstd frame of RAW bytes               | yes                 |
//! | 4  | XOR_ZSTD        | `dx, dy`, `len: varint`, zstd frame of XOR bytes     | no                  |
//! | 5  | COPY            | `dx, dy`: the tile is the source block               | no                  |
//! | 6  | CACHE           | `slot: varint`                                       | yes                 |
//! | 7  | RECT            | `x, y, w, h: u8` inside the tile, `coding: u8`, data | yes (not XOR, COPY) |
//! | 8  | PARTS           | `n: u8` (1..=16), then `n` RECT operands, in order   | as RECT             |
//! | 9  | COARSE          | `len: varint`, the tile at reduced resolution (lossy)| no                  |
//! | 10 | PLANES_ZSTD     | `green: u8`, `len: varint`, zstd frame of planes     | yes                 |
//! | 11 | XOR_PLANES_ZSTD | `dx, dy`, `green: u8`, `len`, zstd frame of planes   | no                  |
//!
//! `dx, dy` are zigzag varints; the source block is the tile's rectangle
//! moved by `(dx, dy)` in the *previous* frame (never pixels written earlier
//! in the same frame). A COPY source must lie wholly inside the frame; an
//! XOR source must overlap it, and its pixels outside the frame read as 0
//! (so a bottom tile that scrolled and gained a new line still XORs against
//! the scrolled text). XOR with `(0, 0)` is
//! the classic XOR-with-previous-tile; other offsets XOR against scrolled or
//! moved content. The tile cache ([`CACHE_SLOTS`] slots, full 64x64 tiles only) is
//! updated in record order: each full tile carried by RAW, XOR, ZSTD,
//! XOR_ZSTD, PLANES_ZSTD or XOR_PLANES_ZSTD is stored in the next slot (slots fill from 0; once full, the least
//! recently used is replaced) and each CACHE record marks its slot used. A
//! key frame empties the cache and the frame buffer first; it may still
//! reference tiles it stored itself (repeated tiles in one screen).
//!
//! PLANES_ZSTD and XOR_PLANES_ZSTD carry the same `area * 4` bytes as ZSTD
//! and XOR_ZSTD in another order: four planes of `area` bytes, every
//! pixel's first byte (row-major), then every second byte, third, fourth.
//! The encoder uses them for tiles sent alone where fewer than half the
//! values equal the one before them (photos, video, gradients): zstd codes
//! them several times faster than interleaved pixels, a gradient far
//! smaller, noise about 10 % larger. `green` says how the first and third
//! planes (blue and red) are coded against the second (green), byte by
//! byte: 0 as they are, 1 XOR the green byte, 2 minus the green byte
//! (wrapping); any other value is an error. For XOR_PLANES_ZSTD the
//! coding applies to the XOR bytes: the decoder undoes it first, then XORs
//! with the source block. Grain or shading that changes every channel
//! alike then stays in the green plane only. The encoder counts the bytes
//! blue and red would have (every 7th pixel, one histogram for both planes
//! per coding) and takes XOR or minus where its order-0 entropy is below
//! 990/1024 of the plain planes' (1.36 MB instead of 3.5 MB a frame of the
//! synthetic video, whose grain is grey). Where plain and XORed pixels both
//! change at most pixels, the encoder compresses the first eighth of the
//! rows of each and sends the smaller form.
//!
//! A RECT record replaces only its rectangle; the rest of the tile keeps its
//! pixels (0 in a key frame). Codings: 0 RAW, `w * h * 4` bytes; 1 XOR, as
//! many bytes XOR the pixels they replace; 3 DELTA, 4 MED and 6 PLANE, as
//! many bytes, each the pixel's byte minus a prediction from neighbours
//! inside the rect, wrapping (DELTA: the left one, 0 left of a row's
//! first; MED: the median edge detector of left, above and above-left;
//! PLANE: left + above - above-left; MED and PLANE predict the first row
//! from the left and the first column from above); 5 COPY, `dx, dy`: the
//! previous frame's rectangle moved by `(dx, dy)`, wholly inside the frame;
//! 2 PALETTE, `n: u8` (1..=16)
//! colours as `u32` (the encoder sends them in ascending order), then the
//! indices column by column, left to right: each column's `h` indices top
//! to bottom at 0 (n = 1), 1 (n = 2), 2 (n ≤ 4) or 4 bits, most
//! significant bits first, the column padded to a byte; an index must name
//! a colour. (Columns, not rows: a glyph of a text line is then the same
//! bytes wherever it is drawn, which the zstd stream matches.) A RECT on a full tile
//! stores the resulting tile in the cache like RAW does. A PARTS record is
//! the same as RECT records applied one after the other (the resulting tile
//! is cached once): the edge of a dragged window cuts a tile into the part
//! that moved (COPY) and bands around it, and the encoder cuts a palette
//! rect of text into its lines (a band starts at each row with ink under a
//! blank row), so a glyph is the same bytes on any line of a tile.
//!
//! A COARSE record carries the tile as video codecs do: brightness at half
//! resolution, colour at quarter resolution (4:2:0), six bits a value, in
//! YCoCg (`Y = (r + 2g + b) / 4`, `Co = (r - b) / 2`,
//! `Cg = (2g - r - b) / 4`). A *half pixel* is a 2x2 block of the tile (a
//! block clipped at the tile's edge repeats its edge pixels); the tile has
//! `cw = ceil(w/2)` by `ch = ceil(h/2)` of them. A *quarter block* is 2x2
//! half pixels (clipped: fewer), `qw = ceil(cw/2)` by `qh = ceil(ch/2)`.
//! The bytes are three row-major planes: Y, one byte per half pixel,
//! `round(Y * 63 / 255)` of the block's `Y = round((Σr + 2Σg + Σb) / 16)`;
//! then Co and Cg, one byte per quarter block, `min(63, floor((C + 130) /
//! 4))` of the block's mean (grey is 32). Each byte is then replaced by
//! its difference to the byte before it in its plane (0 before the first),
//! wrapping. They are stored as is when `len` equals their size
//! (`cw * ch + 2 * qw * qh`), else as a zstd frame of them. Decoded, with
//! `v` a byte's low six bits, `Y' = v << 2 | v >> 4`, `Co' = 4v - 128`,
//! `Cg' = 4v - 128`; a half pixel is `g = Y' + Cg'`, `r = Y' - Cg' + Co'`,
//! `b = Y' - Cg' - Co'`, each clamped to 0..=255, with a 0 fourth byte,
//! and covers its block. Only an encoder with `coarse_motion` on sends them (large moving areas such as
//! video) and it sends the exact tile once the tile has held still for
//! [`REFINE_AFTER`] frames. A tile is coarse from a COARSE record until a
//! record rewrites all of it (a RECT or PARTS leaving part of it unwritten
//! leaves it coarse).
//!
//! An idle frame is a bare header with zero records (4 bytes).

mod cache;
mod coarse;
mod decode;
mod encode;
mod error;
mod frame;
pub mod measure;
mod motion;
pub mod parallel;
mod pixels;
mod planes;
mod predict;
mod rect;
mod stream;
pub mod synth;
mod tile;
pub mod wire;

pub use decode::{DecodeError, Decoder, Limits};
pub use encode::{Batching, EncodeStats, Encoder, EncoderConfig, REFINE_AFTER};
pub use frame::{Frame, FrameError};
pub use tile::{Grid, Rect};
pub use wire::{MAGIC, MIN_HEADER_LEN, VERSION};

/// Tile side in pixels.
pub const TILE: u32 = 64;

/// Largest frame side the codec can carry.
pub const MAX_DIM: u32 = 16_384;

/// Tile cache slots on both sides (16 KiB each, so 8 MiB per side).
pub const CACHE_SLOTS: usize = 512;
