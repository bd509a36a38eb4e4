//! The session's zstd stream: each frame's body is compressed as the next
//! flushed chunk of one stream, so a glyph typed a second ago is a short
//! back-reference instead of new bytes. Both ends restart the stream at
//! every key frame.

use zstd::zstd_safe::{
    CCtx, CParameter, DCtx, DParameter, InBuffer, OutBuffer, ResetDirective, zstd_sys,
};

use super::decode::DecodeError;

/// zstd level 9 (lazy matching over hash chains): a typing frame is tens
/// of bytes and a scroll or drag frame a few to some tens of kilobytes,
/// so the search costs ~0.1 ms a frame and finds the longer matches that
/// scrolled text and moved window edges repeat: a fifth fewer bytes a
/// scroll frame and a third fewer a drag frame than level 1 (`codec_probe`).
/// Bodies too large for that to stay quick go outside the stream (see
/// `encode::write::STREAM_BODY_MAX`).
const LEVEL: i32 = 9;
/// History both sides keep: 1 MiB.
const WINDOW_LOG: u32 = 20;
/// Match tables of 2^17 entries each (512 KiB apiece), instead of level
/// 9's own for large inputs (several MiB per session), with no loss in
/// bytes on the workloads.
const TABLE_LOG: u32 = 17;

/// The encoder's half.
pub(crate) struct StreamCompressor {
    cctx: CCtx<'static>,
}

impl StreamCompressor {
    /// A new stream, or `None` if zstd cannot make a context.
    pub(crate) fn new() -> Option<Self> {
        let mut cctx = CCtx::try_create()?;
        cctx.set_parameter(CParameter::CompressionLevel(LEVEL))
            .ok()?;
        cctx.set_parameter(CParameter::WindowLog(WINDOW_LOG)).ok()?;
        cctx.set_parameter(CParameter::HashLog(TABLE_LOG)).ok()?;
        cctx.set_parameter(CParameter::ChainLog(TABLE_LOG)).ok()?;
        Some(Self { cctx })
    }

    /// Starts over (a key frame).
    pub(crate) fn restart(&mut self) {
        let _ = self.cctx.reset(ResetDirective::SessionOnly);
    }

    /// Compresses `data` as the next chunk and flushes it, so the decoder
    /// can reproduce `data` from this chunk alone (plus the history).
    /// On error the stream is unusable until [`Self::restart`].
    pub(crate) fn chunk(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let mut out: Vec<u8> = Vec::with_capacity(data.len() / 2 + 64);
        let mut input = InBuffer::around(data);
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            let pos = out.len();
            let mut output = OutBuffer::around_pos(&mut out, pos);
            let left = self
                .cctx
                .compress_stream2(
                    &mut output,
                    &mut input,
                    zstd_sys::ZSTD_EndDirective::ZSTD_e_flush,
                )
                .ok()?;
            if left == 0 && input.pos() == data.len() {
                return Some(out);
            }
        }
    }
}

/// The decoder's half.
pub(crate) struct StreamDecompressor {
    dctx: DCtx<'static>,
}

impl StreamDecompressor {
    /// A new stream; the history it accepts is capped at 4 MiB.
    pub(crate) fn new() -> Result<Self, DecodeError> {
        let bad = DecodeError::BadZstd {
            what: "body stream",
        };
        let mut dctx = DCtx::try_create().ok_or(bad.clone())?;
        dctx.set_parameter(DParameter::WindowLogMax(WINDOW_LOG + 2))
            .map_err(|_| bad)?;
        Ok(Self { dctx })
    }

    /// Starts over (a key frame).
    pub(crate) fn restart(&mut self) {
        let _ = self.dctx.reset(ResetDirective::SessionOnly);
    }

    /// Decompresses one chunk that must yield exactly `raw_len` bytes.
    pub(crate) fn chunk(&mut self, data: &[u8], raw_len: usize) -> Result<Vec<u8>, DecodeError> {
        let bad = DecodeError::BadZstd {
            what: "body stream",
        };
        let mut out: Vec<u8> = Vec::with_capacity(raw_len);
        let mut input = InBuffer::around(data);
        while out.len() < raw_len {
            let pos = out.len();
            let mut output = OutBuffer::around_pos(&mut out, pos);
            let before = input.pos();
            self.dctx
                .decompress_stream(&mut output, &mut input)
                .map_err(|_| bad.clone())?;
            if (input.pos(), output.pos()) == (before, pos) {
                break;
            }
        }
        if input.pos() < data.len() {
            // Input left over once the declared bytes were produced.
            return Err(DecodeError::BodyLengthMismatch {
                declared: raw_len,
                actual: raw_len + 1,
            });
        }
        // Anything still buffered in the context would belong to this chunk.
        let mut probe = [0u8; 1];
        let mut output = OutBuffer::around(&mut probe[..]);
        let mut empty = InBuffer::around(&[]);
        self.dctx
            .decompress_stream(&mut output, &mut empty)
            .map_err(|_| bad)?;
        let actual = out.len() + output.pos();
        if actual != raw_len {
            return Err(DecodeError::BodyLengthMismatch {
                declared: raw_len,
                actual,
            });
        }
        Ok(out)
    }
}
