//! Byte-level pieces of the encoded frame: header, record opcodes, varints
//! and a bounds-checked reader. The layout is described in the module docs
//! of [`crate::screen`].

use super::decode::DecodeError;

/// First byte of every key frame, before the wire version (a delta, which
/// can only follow a key frame, starts with its flags).
pub const MAGIC: [u8; 1] = *b"L";
/// Wire format version written and accepted.
pub const VERSION: u8 = 9;
/// Smallest possible header (a delta frame with small fields).
pub const MIN_HEADER_LEN: usize = 4;

/// Header flag: key frame (decoder starts from a blank buffer, an empty
/// cache and a new compression stream; only self-contained records are
/// allowed).
pub const FLAG_KEY: u8 = 0x01;
/// Header flag: the body is one self-contained zstd frame.
pub const FLAG_BODY_ZSTD: u8 = 0x02;
/// Header flag: the body is the next flushed chunk of the session's zstd
/// stream (restarted by every key frame), so it can refer to earlier frames.
pub const FLAG_BODY_STREAM: u8 = 0x04;
const KNOWN_FLAGS: u8 = FLAG_KEY | FLAG_BODY_ZSTD | FLAG_BODY_STREAM;
// The magic opens key frames where a delta has its flags: it must not be
// valid flags.
const _: () = assert!(MAGIC[0] & !KNOWN_FLAGS != 0);

/// Record: the tile is one colour (`u32` follows).
pub const OP_SOLID: u8 = 0;
/// Record: raw pixels follow inline (`area * 4` bytes).
pub const OP_RAW: u8 = 1;
/// Record: pixels XOR the previous frame's tile follow inline.
pub const OP_XOR: u8 = 2;
/// Record: varint length, then a zstd frame of the raw pixels.
pub const OP_ZSTD: u8 = 3;
/// Record: varint length, then a zstd frame of the XOR pixels.
pub const OP_XOR_ZSTD: u8 = 4;
/// Record: copy from the previous frame at (tile x + dx, tile y + dy);
/// dx and dy follow as zigzag varints.
pub const OP_COPY: u8 = 5;
/// Record: the tile in cache slot `varint`.
pub const OP_CACHE: u8 = 6;
/// Record: a rectangle inside the tile changed; the rest of the tile keeps
/// its pixels. `x, y, w, h: u8`, a coding byte ([`RECT_RAW`],
/// [`RECT_XOR`], [`RECT_PALETTE`], …) and its data.
pub const OP_RECT: u8 = 7;
/// Record: `n: u8` (1..=[`MAX_PARTS`]) rect operands (as after
/// [`OP_RECT`]) applied to the tile in order: a tile half covered by a
/// moved window is a [`RECT_COPY`] and the uncovered rest; a palette rect
/// of text is cut into its lines.
pub const OP_PARTS: u8 = 8;
/// Record: a tile of a large moving area at reduced resolution (lossy, only
/// when the encoder was configured for it): `len: varint` and `len` bytes,
/// the tile's coarse planes (see the module docs) as they are if `len` is
/// their size, a zstd frame of them if shorter. Not in key frames, never
/// cached.
pub const OP_COARSE: u8 = 9;
/// Record: varint length, then a zstd frame of the raw pixels as four
/// planes (every pixel's first byte, then every second byte, …): photos,
/// video and gradients, where few pixels repeat their neighbour, compress
/// several times faster than interleaved (noise about 10 % larger, a
/// gradient far smaller).
pub const OP_PLANES_ZSTD: u8 = 10;
/// Record: `dx, dy` as for [`OP_XOR_ZSTD`], varint length, then a zstd
/// frame of the XOR pixels as four planes.
pub const OP_XOR_PLANES_ZSTD: u8 = 11;
/// Most rects in one [`OP_PARTS`] record.
pub const MAX_PARTS: u8 = 16;

/// Rect coding: `w * h * 4` bytes of pixels.
pub const RECT_RAW: u8 = 0;
/// Rect coding: `w * h * 4` bytes XOR the same place's current pixels.
pub const RECT_XOR: u8 = 1;
/// Rect coding: `n: u8` (1..=16) colours as `u32`, then columns of
/// indices (left to right, each top to bottom) at 0 (one colour), 1, 2 or
/// 4 bits, most significant first, each column padded to a byte.
pub const RECT_PALETTE: u8 = 2;
/// Rect coding: `w * h * 4` bytes, each the pixel's byte minus the same
/// byte of the pixel to its left (0 left of a row's first), wrapping:
/// gradients and photos-of-UI turn into runs a compressor folds.
pub const RECT_DELTA: u8 = 3;
/// Rect coding: `w * h * 4` bytes, each the pixel's byte minus the median
/// edge prediction from its left, upper and upper-left neighbours inside
/// the rect (first row: left; first column: above).
pub const RECT_MED: u8 = 4;
/// Rect coding: `dx, dy` zigzag varints; the rect is the previous frame's
/// rectangle moved by `(dx, dy)`, which must lie inside the frame.
pub const RECT_COPY: u8 = 5;
/// Rect coding: `w * h * 4` bytes, each the pixel's byte minus `left + up -
/// up_left` (wrapping) of its neighbours inside the rect (first row: left;
/// first column: above): exact on linear gradients.
pub const RECT_PLANE: u8 = 6;

/// The header of an encoded frame. Deltas do not carry the magic, the
/// version or the size: they are those of the key frame they follow. The
/// body is the rest of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub flags: u8,
    /// Frame number, modulo 256.
    pub seq: u8,
    pub width: u32,
    pub height: u32,
    pub records: u32,
    pub body_raw_len: u32,
}

impl Header {
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let key = self.flags & FLAG_KEY != 0;
        if key {
            out.extend_from_slice(&MAGIC);
            out.push(VERSION);
        }
        out.push(self.flags);
        out.push(self.seq);
        if key {
            put_varint(out, self.width);
            put_varint(out, self.height);
        }
        put_varint(out, self.records);
        put_varint(out, self.body_raw_len);
    }

    /// Parses and checks the fields that need no context (magic, version,
    /// flags, non-zero size). A delta takes `size`, the size of the frame
    /// it applies to; without one it is refused.
    pub(crate) fn read(r: &mut Reader<'_>, size: Option<(u32, u32)>) -> Result<Self, DecodeError> {
        let first = r.u8("flags")?;
        let magic = first == MAGIC[0];
        let flags = if magic {
            let version = r.u8("version")?;
            if version != VERSION {
                return Err(DecodeError::UnsupportedVersion(version));
            }
            r.u8("flags")?
        } else {
            first
        };
        let key = flags & FLAG_KEY != 0;
        if magic && !key {
            return Err(DecodeError::MagicOnDelta);
        }
        // Unknown bits before a missing magic: garbage is more likely than
        // a key frame that lost its magic.
        if flags & !KNOWN_FLAGS != 0 {
            return Err(DecodeError::UnknownFlags(flags));
        }
        if key && !magic {
            return Err(DecodeError::BadMagic);
        }
        let both = FLAG_BODY_ZSTD | FLAG_BODY_STREAM;
        if flags & both == both {
            return Err(DecodeError::UnknownFlags(flags));
        }
        let seq = r.u8("seq")?;
        let (width, height) = if key {
            (r.varint("width")?, r.varint("height")?)
        } else {
            size.ok_or(DecodeError::NoKeyFrame)?
        };
        if width == 0 || height == 0 || width > super::MAX_DIM || height > super::MAX_DIM {
            return Err(DecodeError::BadSize { width, height });
        }
        Ok(Self {
            flags,
            seq,
            width,
            height,
            records: r.varint("record count")?,
            body_raw_len: r.varint("body raw length")?,
        })
    }
}

/// Appends `v` as LEB128.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Maps signed to unsigned so small magnitudes stay small.
pub(crate) fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

/// Inverse of [`zigzag`].
pub(crate) fn unzigzag(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

/// A cursor over untrusted bytes; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated { what });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// LEB128 `u32`; more than five bytes or bits past 32 are rejected.
    pub(crate) fn varint(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let mut v: u32 = 0;
        for i in 0..5 {
            let b = self.u8(what)?;
            let bits = u32::from(b & 0x7f);
            if i == 4 && bits > 0x0f {
                return Err(DecodeError::VarintOverflow { what });
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::VarintOverflow { what })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_roundtrip_and_overflow() {
        for v in [0, 1, 127, 128, 300, 16_384, u32::MAX - 1, u32::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut r = Reader::new(&out);
            assert_eq!(r.varint("v").unwrap(), v);
            assert_eq!(r.remaining(), 0);
        }
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]);
        assert!(matches!(
            r.varint("v"),
            Err(DecodeError::VarintOverflow { .. })
        ));
        let mut r = Reader::new(&[0x80, 0x80]);
        assert!(matches!(r.varint("v"), Err(DecodeError::Truncated { .. })));
    }

    #[test]
    fn zigzag_roundtrip() {
        for v in [0, 1, -1, 63, -64, i32::MAX, i32::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }
}
