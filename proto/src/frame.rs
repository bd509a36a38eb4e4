//! Length-prefixed framing: a big-endian `u32` length, then a postcard payload.
//! Inside end-to-end streams, where every byte costs a session on a thin
//! uplink, the length is a varint instead ([`encode_compact_message`],
//! [`compact_header`]): one byte for a keystroke or a typing frame.
//!
//! The declared length is checked against a maximum before anything is
//! allocated, and a payload must decode to exactly one message with no bytes
//! left over.

use serde::{Serialize, de::DeserializeOwned};

/// Size of the length prefix in bytes.
pub const HEADER_LEN: usize = 4;

/// Why a frame could not be encoded or decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The declared length exceeds the maximum this stream accepts.
    #[error("frame of {declared} bytes exceeds the maximum of {max}")]
    TooLarge { declared: usize, max: usize },
    /// A frame of length zero: never valid, every message has a tag.
    #[error("empty frame")]
    Empty,
    /// The payload is not a valid encoding of the expected message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The payload decoded but bytes were left over.
    #[error("{0} trailing bytes after message")]
    TrailingBytes(usize),
    /// A compact length prefix runs past its five bytes or past `u32`.
    #[error("length prefix is not a varint of at most 5 bytes")]
    BadPrefix,
    /// The stream ended in the middle of a frame.
    #[error("stream ended inside a frame ({have} of {want} bytes)")]
    Truncated { have: usize, want: usize },
}

/// Prefixes `payload` with its length.
///
/// # Errors
/// [`FrameError::TooLarge`] when the payload exceeds `max`.
pub fn encode_frame(payload: &[u8], max: usize) -> Result<Vec<u8>, FrameError> {
    check_len(payload.len(), max)?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Bytes `msg` takes serialized, without its length prefix: what
/// [`encode_message`] checks against its limit (0 if serde refuses it).
#[must_use]
pub fn encoded_len<T: Serialize>(msg: &T) -> usize {
    postcard::experimental::serialized_size(msg).unwrap_or(0)
}

/// Serializes `msg` and frames it.
///
/// # Errors
/// [`FrameError::TooLarge`] when the encoding exceeds `max`;
/// [`FrameError::Malformed`] if serde refuses the value.
pub fn encode_message<T: Serialize>(msg: &T, max: usize) -> Result<Vec<u8>, FrameError> {
    let payload = postcard::to_stdvec(msg).map_err(|e| FrameError::Malformed(e.to_string()))?;
    encode_frame(&payload, max)
}

/// Decodes one message from a frame payload (without the length prefix),
/// rejecting trailing bytes.
///
/// # Errors
/// [`FrameError::Malformed`], [`FrameError::TrailingBytes`] or [`FrameError::Empty`].
pub fn decode_message<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    if payload.is_empty() {
        return Err(FrameError::Empty);
    }
    let (msg, rest) =
        postcard::take_from_bytes(payload).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(FrameError::TrailingBytes(rest.len()));
    }
    Ok(msg)
}

/// Checks a length prefix against `max` and returns the payload length.
///
/// # Errors
/// [`FrameError::TooLarge`] or [`FrameError::Empty`].
pub fn check_header(header: [u8; HEADER_LEN], max: usize) -> Result<usize, FrameError> {
    let declared = u32::from_be_bytes(header) as usize;
    if declared == 0 {
        return Err(FrameError::Empty);
    }
    if declared > max {
        return Err(FrameError::TooLarge { declared, max });
    }
    Ok(declared)
}

/// Most bytes of a compact length prefix (a `u32` as LEB128).
pub const MAX_COMPACT_HEADER: usize = 5;

/// Serializes `msg` and frames it with a varint length (unsigned LEB128:
/// seven bits a byte, least significant first, high bit set on every byte
/// but the last).
///
/// # Errors
/// As [`encode_message`].
pub fn encode_compact_message<T: Serialize>(msg: &T, max: usize) -> Result<Vec<u8>, FrameError> {
    let payload = postcard::to_stdvec(msg).map_err(|e| FrameError::Malformed(e.to_string()))?;
    check_len(payload.len(), max)?;
    let mut out = Vec::with_capacity(MAX_COMPACT_HEADER + payload.len());
    // The screen codec's LEB128; the length fits a u32 (checked).
    crate::screen::wire::put_varint(&mut out, payload.len() as u32);
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Refuses a payload over `max` or over what a length prefix holds.
fn check_len(len: usize, max: usize) -> Result<(), FrameError> {
    if len > max || len > u32::MAX as usize {
        return Err(FrameError::TooLarge { declared: len, max });
    }
    Ok(())
}

/// Reads a compact length prefix from the start of `bytes`: `Ok(None)`
/// while it is incomplete, else the prefix's size and the payload length,
/// checked against `max` before anything is buffered for it.
///
/// # Errors
/// [`FrameError::BadPrefix`], [`FrameError::Empty`] or
/// [`FrameError::TooLarge`].
pub fn compact_header(bytes: &[u8], max: usize) -> Result<Option<(usize, usize)>, FrameError> {
    let mut declared = 0u64;
    for (i, &b) in bytes.iter().take(MAX_COMPACT_HEADER).enumerate() {
        declared |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 != 0 {
            continue;
        }
        let declared = usize::try_from(declared)
            .ok()
            .filter(|&d| d <= u32::MAX as usize)
            .ok_or(FrameError::BadPrefix)?;
        if declared == 0 {
            return Err(FrameError::Empty);
        }
        if declared > max {
            return Err(FrameError::TooLarge { declared, max });
        }
        return Ok(Some((i + 1, declared)));
    }
    if bytes.len() >= MAX_COMPACT_HEADER {
        return Err(FrameError::BadPrefix);
    }
    Ok(None)
}

/// Incremental frame splitter: push bytes as they arrive, pull whole payloads.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    max: usize,
}

impl FrameDecoder {
    /// A decoder that refuses frames longer than `max`.
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            max,
        }
    }

    /// Appends received bytes. Only what a single frame may need is ever kept
    /// past the header check, because [`FrameDecoder::next_frame`] fails
    /// before the buffer outgrows `max + HEADER_LEN`.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete payload, `Ok(None)` when more bytes are needed.
    ///
    /// # Errors
    /// A bad header; the decoder should then be dropped with its stream.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let header = [self.buf[0], self.buf[1], self.buf[2], self.buf[3]];
        let len = check_header(header, self.max)?;
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload = self.buf[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.buf.drain(..HEADER_LEN + len);
        Ok(Some(payload))
    }

    /// Call at end of stream: an error if a partial frame is still buffered.
    ///
    /// # Errors
    /// [`FrameError::Truncated`] when the stream stopped inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let want = if self.buf.len() >= HEADER_LEN {
            HEADER_LEN
                + u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize
        } else {
            HEADER_LEN
        };
        Err(FrameError::Truncated {
            have: self.buf.len(),
            want,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_header_is_refused_before_payload_arrives() {
        let mut d = FrameDecoder::new(16);
        d.push(&1000u32.to_be_bytes());
        assert_eq!(
            d.next_frame(),
            Err(FrameError::TooLarge {
                declared: 1000,
                max: 16
            })
        );
    }

    #[test]
    fn frames_split_across_pushes_come_out_whole() {
        let a = encode_frame(b"hello", 64).unwrap();
        let b = encode_frame(b"world!", 64).unwrap();
        let all: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        let mut d = FrameDecoder::new(64);
        let mut out = Vec::new();
        for byte in all {
            d.push(&[byte]);
            while let Some(f) = d.next_frame().unwrap() {
                out.push(f);
            }
        }
        assert_eq!(out, vec![b"hello".to_vec(), b"world!".to_vec()]);
        assert!(d.finish().is_ok());
    }

    #[test]
    fn truncated_stream_is_reported() {
        let mut d = FrameDecoder::new(64);
        d.push(&encode_frame(b"hello", 64).unwrap()[..6]);
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(d.finish(), Err(FrameError::Truncated { have: 6, want: 9 }));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut payload = postcard::to_stdvec(&7u8).unwrap();
        payload.push(0);
        assert_eq!(
            decode_message::<u8>(&payload),
            Err(FrameError::TrailingBytes(1))
        );
    }

    #[test]
    fn encode_refuses_payload_over_max() {
        assert!(matches!(
            encode_frame(&[0u8; 10], 9),
            Err(FrameError::TooLarge {
                declared: 10,
                max: 9
            })
        ));
    }

    #[test]
    fn compact_lengths_take_one_byte_below_128_and_round_trip() {
        for (len, prefix) in [
            (1usize, 1usize),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
        ] {
            let msg = vec![7u8; len - 1 - usize::from(len > 128)];
            let framed = encode_compact_message(&msg, 1 << 20).unwrap();
            let (at, declared) = compact_header(&framed, 1 << 20).unwrap().unwrap();
            assert_eq!((at, at + declared), (prefix, framed.len()), "{len}");
            assert_eq!(declared, len);
            assert_eq!(decode_message::<Vec<u8>>(&framed[at..]).unwrap(), msg);
            // Every shorter cut of the prefix asks for more.
            for cut in 0..at {
                assert_eq!(compact_header(&framed[..cut], 1 << 20), Ok(None));
            }
        }
    }

    #[test]
    fn bad_compact_prefixes_are_named_before_any_payload() {
        // 300 = 0b10_0101100: 0xac 0x02.
        assert_eq!(
            compact_header(&[0xac, 0x02], 299),
            Err(FrameError::TooLarge {
                declared: 300,
                max: 299
            })
        );
        assert_eq!(compact_header(&[0], 10), Err(FrameError::Empty));
        assert_eq!(
            compact_header(&[0x80; 5], usize::MAX),
            Err(FrameError::BadPrefix)
        );
        // Five bytes but over u32::MAX.
        assert_eq!(
            compact_header(&[0xff, 0xff, 0xff, 0xff, 0x7f], usize::MAX),
            Err(FrameError::BadPrefix)
        );
        assert_eq!(
            compact_header(&[0xff, 0xff, 0xff, 0xff, 0x0f], usize::MAX),
            Ok(Some((5, u32::MAX as usize)))
        );
        assert!(matches!(
            encode_compact_message(&vec![0u8; 10], 10),
            Err(FrameError::TooLarge { declared: 11, .. })
        ));
    }
}
