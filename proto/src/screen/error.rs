//! The decoder's error type: one named variant per kind of bad input.

/// Every way an encoded frame can be rejected.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before a field was complete.
    #[error("input truncated in {what}")]
    Truncated {
        /// The field being read.
        what: &'static str,
    },
    /// A frame flagged as a key frame without the codec's magic first.
    #[error("bad magic: a key frame must start with the codec's magic")]
    BadMagic,
    /// A frame that starts with the codec's magic but is not flagged as a
    /// key frame (deltas carry no magic).
    #[error("a frame with the codec's magic must be a key frame")]
    MagicOnDelta,
    /// A wire version this build does not speak.
    #[error("unsupported screen codec version {0}")]
    UnsupportedVersion(u8),
    /// Header flags with undefined bits set.
    #[error("unknown header flags {0:#04x}")]
    UnknownFlags(u8),
    /// A zero width or height.
    #[error("invalid frame size {width}x{height}")]
    BadSize {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
    /// A frame larger than this decoder's [`Limits`](super::Limits).
    #[error("frame size {width}x{height} exceeds the decoder limits")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
    /// A delta frame arrived before any key frame.
    #[error("delta frame before any key frame")]
    NoKeyFrame,
    /// A delta after a frame that failed once it had moved the session's
    /// body stream (a key frame restarts it, a streamed delta advances it):
    /// nothing decodes until the next key frame.
    #[error("the compression stream broke at an earlier frame: waiting for a key frame")]
    StreamBroken,
    /// A delta frame that does not follow the last applied frame.
    #[error("delta frame {got} does not follow frame {last}")]
    SequenceGap {
        /// Sequence number (modulo 256) of the last applied frame.
        last: u32,
        /// Sequence number received.
        got: u32,
    },
    /// More records than tiles, or records past the last tile.
    #[error("{records} records for {tiles} tiles")]
    TooManyRecords {
        /// Declared record count.
        records: u32,
        /// Tiles in the frame.
        tiles: usize,
    },
    /// A key frame that does not cover every tile.
    #[error("key frame has {records} records for {tiles} tiles")]
    IncompleteKeyFrame {
        /// Declared record count.
        records: u32,
        /// Tiles in the frame.
        tiles: usize,
    },
    /// The body, as declared (decompressed) or as sent, exceeds what the
    /// frame size allows.
    #[error("body of {declared} bytes exceeds {max}")]
    BodyTooLarge {
        /// Declared size.
        declared: usize,
        /// Largest size possible for this frame.
        max: usize,
    },
    /// The body's stored or decompressed length is not the declared one.
    #[error("body length {actual} differs from declared {declared}")]
    BodyLengthMismatch {
        /// Declared size.
        declared: usize,
        /// Actual size.
        actual: usize,
    },
    /// A zstd stream is corrupt or larger than the capacity allowed for it.
    #[error("corrupt or oversized zstd data in {what}")]
    BadZstd {
        /// The body or a tile.
        what: &'static str,
    },
    /// A tile's decompressed size is not the tile's size.
    #[error("tile {tile} decompressed to {got} bytes, {want} expected")]
    TileSizeMismatch {
        /// Tile index.
        tile: usize,
        /// Bytes produced.
        got: usize,
        /// Bytes the tile needs.
        want: usize,
    },
    /// A record names a tile past the end of the frame.
    #[error("record for tile {tile} of {tiles}")]
    TileOutOfRange {
        /// Tile index (saturated).
        tile: usize,
        /// Tiles in the frame.
        tiles: usize,
    },
    /// An undefined record opcode.
    #[error("unknown record op {op} at tile {tile}")]
    UnknownOp {
        /// Opcode.
        op: u8,
        /// Tile index.
        tile: usize,
    },
    /// A planar tile whose blue and red planes name an undefined coding.
    #[error("unknown plane coding {coding} at tile {tile}")]
    BadPlaneCoding {
        /// Tile index.
        tile: usize,
        /// The coding byte.
        coding: u8,
    },
    /// A record that needs the previous frame (XOR, copy) in a key frame.
    #[error("record op {op} not allowed in a key frame (tile {tile})")]
    NotInKeyFrame {
        /// Opcode.
        op: u8,
        /// Tile index.
        tile: usize,
    },
    /// A copy or XOR source block that leaves the frame.
    #[error("source offset ({dx},{dy}) out of bounds for tile {tile}")]
    SourceOutOfBounds {
        /// Tile index.
        tile: usize,
        /// Horizontal offset.
        dx: i32,
        /// Vertical offset.
        dy: i32,
    },
    /// A cache reference to a slot that is empty or out of range, or from a
    /// partial tile (only full tiles are cached).
    #[error("cache slot {slot} invalid for tile {tile} ({occupied} slots filled)")]
    BadCacheSlot {
        /// Tile index.
        tile: usize,
        /// Slot referenced.
        slot: u32,
        /// Slots filled at that point.
        occupied: usize,
    },
    /// A compressed tile larger than any honest encoder produces.
    #[error("compressed tile {tile} of {len} bytes exceeds {max}")]
    BlobTooLarge {
        /// Tile index.
        tile: usize,
        /// Declared length.
        len: u32,
        /// Maximum.
        max: usize,
    },
    /// A rect record whose rectangle is empty or leaves its tile.
    #[error("rect {w}x{h} at ({x},{y}) does not fit tile {tile}")]
    BadRect {
        /// Tile index.
        tile: usize,
        /// Left edge inside the tile.
        x: u32,
        /// Top edge inside the tile.
        y: u32,
        /// Width.
        w: u32,
        /// Height.
        h: u32,
    },
    /// A rect record with an undefined coding byte.
    #[error("unknown rect coding {coding} at tile {tile}")]
    UnknownRectCoding {
        /// Tile index.
        tile: usize,
        /// The coding byte.
        coding: u8,
    },
    /// A parts record with no rects or more than the wire allows.
    #[error("{parts} parts at tile {tile} (1 to {max} allowed)")]
    BadParts {
        /// Tile index.
        tile: usize,
        /// Declared part count.
        parts: u8,
        /// Most parts allowed.
        max: u8,
    },
    /// A palette with no colours or more than sixteen.
    #[error("palette of {colours} colours at tile {tile} (1 to 16 allowed)")]
    BadPalette {
        /// Tile index.
        tile: usize,
        /// Declared colour count.
        colours: usize,
    },
    /// A palette index naming no colour.
    #[error("palette index {index} at tile {tile} but only {colours} colours")]
    BadPaletteIndex {
        /// Tile index.
        tile: usize,
        /// The index found.
        index: usize,
        /// Colours in the palette.
        colours: usize,
    },
    /// A varint longer than five bytes or above `u32::MAX`.
    #[error("varint overflow in {what}")]
    VarintOverflow {
        /// The field being read.
        what: &'static str,
    },
    /// Bytes left in the body after the last record.
    #[error("{0} trailing bytes in body")]
    TrailingBodyBytes(usize),
}
