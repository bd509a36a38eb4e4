//! Byte-level pieces of the encoded frame: header, record opcodes, varints
//! and a bounds-checked reader. The layout is described in the module docs
//! of [`crate::screen`].

use super::decode::DecodeError;

/// First bytes of every encoded frame.
pub const MAGIC: [u8; 4] = *b"LLSC";
/// Wire format version written and accepted.
pub const VERSION: u8 = 1;
/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 26;

/// Header flag: key frame (decoder starts from a blank buffer and an empty
/// cache; only self-contained records are allowed).
pub const FLAG_KEY: u8 = 0x01;
/// Header flag: the body is one zstd frame (payloads batched).
pub const FLAG_BODY_ZSTD: u8 = 0x02;
const KNOWN_FLAGS: u8 = FLAG_KEY | FLAG_BODY_ZSTD;

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

/// The fixed header of an encoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub flags: u8,
    pub seq: u32,
    pub width: u16,
    pub height: u16,
    pub records: u32,
    pub body_len: u32,
    pub body_raw_len: u32,
}

impl Header {
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.flags);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.width.to_le_bytes());
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.records.to_le_bytes());
        out.extend_from_slice(&self.body_len.to_le_bytes());
        out.extend_from_slice(&self.body_raw_len.to_le_bytes());
    }

    /// Parses and checks the fields that need no context (magic, version,
    /// flags, non-zero size).
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if r.take(4, "magic")? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let flags = r.u8("flags")?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(DecodeError::UnknownFlags(flags));
        }
        let h = Self {
            flags,
            seq: r.u32("seq")?,
            width: r.u16("width")?,
            height: r.u16("height")?,
            records: r.u32("record count")?,
            body_len: r.u32("body length")?,
            body_raw_len: r.u32("body raw length")?,
        };
        if h.width == 0 || h.height == 0 {
            return Err(DecodeError::BadSize {
                width: h.width.into(),
                height: h.height.into(),
            });
        }
        Ok(h)
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

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
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
