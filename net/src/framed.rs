//! Framed messages on QUIC streams: a `u32` length then a postcard payload.

use lifeline_proto::{FrameError, frame};
use serde::{Serialize, de::DeserializeOwned};

/// Reading or writing a framed message failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The peer sent bytes that are not a valid frame or message.
    #[error("protocol error: {0}")]
    Frame(#[from] FrameError),
    /// The stream or connection failed underneath.
    #[error("stream read failed: {0}")]
    Read(#[from] quinn::ReadError),
    /// Writing failed (connection lost, stream stopped).
    #[error("stream write failed: {0}")]
    Write(#[from] quinn::WriteError),
    /// The end-to-end handshake failed: the other end does not hold the key
    /// it should, or the stream ended during it.
    #[error("end-to-end handshake failed: {0}")]
    Handshake(String),
    /// End-to-end integrity check failed: someone on the way (the relay, the
    /// network) changed the stream.
    #[error("end-to-end integrity check failed: {0}")]
    Integrity(String),
    /// The relay or the agent refused the stream: its session does not
    /// carry that kind of stream.
    #[error("stream refused: {0}")]
    Refused(String),
}

impl StreamError {
    /// True when the peer broke the protocol (as opposed to the network
    /// failing): such a peer gets its connection closed with a protocol code.
    pub fn is_protocol(&self) -> bool {
        matches!(self, StreamError::Frame(_))
    }

    /// True when end-to-end protection caught tampering or a wrong key.
    pub fn is_e2e(&self) -> bool {
        matches!(self, StreamError::Handshake(_) | StreamError::Integrity(_))
    }
}

/// Encodes and writes one message.
///
/// # Errors
/// [`StreamError::Frame`] if the message exceeds `max`; write failures.
pub async fn write_msg<T: Serialize>(
    send: &mut quinn::SendStream,
    msg: &T,
    max: usize,
) -> Result<(), StreamError> {
    let bytes = lifeline_proto::encode_message(msg, max)?;
    send.write_all(&bytes).await?;
    Ok(())
}

/// Reads the bytes of one frame: the length is checked against `max` before
/// the payload buffer is allocated. `Ok(None)` when the stream ended cleanly
/// between frames.
///
/// # Errors
/// Oversized, empty or truncated frames; read failures.
pub async fn read_frame(
    recv: &mut quinn::RecvStream,
    max: usize,
) -> Result<Option<Vec<u8>>, StreamError> {
    let mut header = [0u8; frame::HEADER_LEN];
    match recv.read_exact(&mut header).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(quinn::ReadExactError::FinishedEarly(have)) => {
            return Err(FrameError::Truncated {
                have,
                want: frame::HEADER_LEN,
            }
            .into());
        }
        Err(quinn::ReadExactError::ReadError(e)) => return Err(e.into()),
    }
    let len = frame::check_header(header, max)?;
    let mut payload = vec![0u8; len];
    match recv.read_exact(&mut payload).await {
        Ok(()) => Ok(Some(payload)),
        Err(quinn::ReadExactError::FinishedEarly(have)) => Err(FrameError::Truncated {
            have: frame::HEADER_LEN + have,
            want: frame::HEADER_LEN + len,
        }
        .into()),
        Err(quinn::ReadExactError::ReadError(e)) => Err(e.into()),
    }
}

/// Reads and decodes one message; `Ok(None)` at a clean end of stream.
///
/// # Errors
/// As [`read_frame`], plus payloads that do not decode as `T`.
pub async fn read_msg<T: DeserializeOwned>(
    recv: &mut quinn::RecvStream,
    max: usize,
) -> Result<Option<T>, StreamError> {
    match read_frame(recv, max).await? {
        Some(payload) => Ok(Some(lifeline_proto::decode_message(&payload)?)),
        None => Ok(None),
    }
}
