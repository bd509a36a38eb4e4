//! End-to-end encryption of session streams between a console and an agent
//! (Noise KK: each side knows the other's static X25519 key beforehand, the
//! agent's from its enrollment, the technician's from their login).
//!
//! After the cleartext stream header the relay routes by, the console sends
//! the first handshake message and the agent answers; from then on every
//! byte is a record: a big-endian `u16` length (1 to 65,535) and a
//! ChaCha20-Poly1305 ciphertext under a per-direction counter nonce.
//! Inside, messages follow one another, each a varint length and its
//! postcard payload (one byte of length for a keystroke or a typing frame,
//! where the relay's own framing spends four). The relay can neither read
//! a record nor change, drop, reorder or inject one without the receiver's
//! check failing. The handshake's prologue binds
//! the session, the channel and the machine, so a stream cannot be replayed
//! into another session.
//!
//! A receiver whose check fails stops the stream with [`INTEGRITY_CODE`]
//! and its own sending half resets with it, so both ends report the same
//! integrity error.

use crate::framed::StreamError;
use lifeline_proto::{FrameError, frame};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

/// The Noise protocol name.
pub const NOISE_PARAMS: &str = "Noise_KK_25519_ChaChaPoly_BLAKE2s";
/// Bytes of a static key, public or private.
pub const KEY_LEN: usize = 32;
/// QUIC stop/reset code of a stream whose end-to-end check failed.
pub const INTEGRITY_CODE: u32 = 0x1e2e;
/// Largest Noise message.
const MAX_RECORD: usize = 65_535;
/// Bytes of a record's length field (a `u16`: every record fits).
const LEN_BYTES: usize = 2;
/// ChaCha20-Poly1305 tag.
const TAG_LEN: usize = 16;
/// Largest plaintext per record.
const MAX_PLAIN: usize = MAX_RECORD - TAG_LEN;

/// A key of exactly `len` bytes from hex (surrounding spaces ignored).
#[must_use]
pub fn key_from_hex(text: &str, len: usize) -> Option<Vec<u8>> {
    hex::decode(text.trim()).ok().filter(|k| k.len() == len)
}

/// A static key pair.
#[derive(Clone)]
pub struct KeyPair {
    pub private: Vec<u8>,
    pub public: Vec<u8>,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair {{ public: {} }}", fingerprint(&self.public))
    }
}

/// Makes a new static key pair.
///
/// # Errors
/// No randomness available.
pub fn generate_keypair() -> Result<KeyPair, StreamError> {
    let kp = snow::Builder::new(params())
        .generate_keypair()
        .map_err(|e| StreamError::Handshake(format!("cannot make a key: {e}")))?;
    Ok(KeyPair {
        private: kp.private.to_vec(),
        public: kp.public.to_vec(),
    })
}

/// `sha256:` and the first 16 bytes of the key's hash in hex, for people to
/// compare.
pub fn fingerprint(public: &[u8]) -> String {
    let digest = Sha256::digest(public);
    format!("sha256:{}", hex::encode(&digest[..16]))
}

fn params() -> snow::params::NoiseParams {
    // A constant that parses.
    #[allow(clippy::expect_used)]
    NOISE_PARAMS.parse().expect("Noise parameters")
}

/// What both ends of one stream agree on before the handshake: which
/// session, channel and machine it belongs to.
pub fn prologue(session: u64, channel: &str, machine_id: &str) -> Vec<u8> {
    // Version 3: records carry a u16 length, messages inside a varint
    // length. Ends of different versions fail the handshake rather than
    // misread each other's records.
    format!("lifeline-e2e/3 session={session} channel={channel} machine={machine_id}").into_bytes()
}

/// The console's side: sends the first handshake message.
///
/// # Errors
/// Bad keys, a stream failure, or a peer that is not the expected agent
/// ([`StreamError::Handshake`]).
pub async fn initiate(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    local_private: &[u8],
    remote_public: &[u8],
    prologue: &[u8],
) -> Result<(SecureSend, SecureRecv), StreamError> {
    let mut hs = builder(local_private, remote_public, prologue)?
        .build_initiator()
        .map_err(hs_err)?;
    let mut buf = vec![0u8; MAX_RECORD];
    let n = hs.write_message(&[], &mut buf).map_err(hs_err)?;
    write_record(&mut send, &buf[..n]).await?;
    let msg = match read_handshake(&mut recv).await {
        Err(StreamError::Integrity(_)) => {
            return Err(StreamError::Handshake(
                "the agent refused it: this console's message does not fit the machine's enrolled key \
                 (the relay gave a wrong key, or is in the middle)"
                    .into(),
            ));
        }
        other => other?,
    };
    if hs.read_message(&msg, &mut buf).is_err() {
        return Err(refuse(
            &mut send,
            &mut recv,
            "the agent's answer does not prove the machine's enrolled key (wrong key, or a relay in the middle)",
        ));
    }
    finish(hs, send, recv)
}

/// The agent's side: answers the console's handshake message.
///
/// # Errors
/// As [`initiate`]; a console that does not hold the technician's key.
pub async fn respond(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    local_private: &[u8],
    remote_public: &[u8],
    prologue: &[u8],
) -> Result<(SecureSend, SecureRecv), StreamError> {
    let mut hs = builder(local_private, remote_public, prologue)?
        .build_responder()
        .map_err(hs_err)?;
    let msg = read_handshake(&mut recv).await?;
    let mut buf = vec![0u8; MAX_RECORD];
    if hs.read_message(&msg, &mut buf).is_err() {
        return Err(refuse(
            &mut send,
            &mut recv,
            "the console's message does not fit this machine's key and the technician's \
             (a wrong key, or a relay in the middle)",
        ));
    }
    let n = hs.write_message(&[], &mut buf).map_err(hs_err)?;
    write_record(&mut send, &buf[..n]).await?;
    finish(hs, send, recv)
}

/// Ends a stream whose handshake failed, telling the other end why.
fn refuse(send: &mut quinn::SendStream, recv: &mut quinn::RecvStream, why: &str) -> StreamError {
    let _ = recv.stop(INTEGRITY_CODE.into());
    let _ = send.reset(INTEGRITY_CODE.into());
    StreamError::Handshake(why.into())
}

fn builder<'a>(
    local_private: &'a [u8],
    remote_public: &'a [u8],
    prologue: &'a [u8],
) -> Result<snow::Builder<'a>, StreamError> {
    if local_private.len() != KEY_LEN || remote_public.len() != KEY_LEN {
        return Err(StreamError::Handshake(format!(
            "end-to-end keys must be {KEY_LEN} bytes (have {} and {})",
            local_private.len(),
            remote_public.len()
        )));
    }
    snow::Builder::new(params())
        .local_private_key(local_private)
        .and_then(|b| b.remote_public_key(remote_public))
        .and_then(|b| b.prologue(prologue))
        .map_err(hs_err)
}

fn hs_err(e: snow::Error) -> StreamError {
    StreamError::Handshake(e.to_string())
}

fn finish(
    hs: snow::HandshakeState,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
) -> Result<(SecureSend, SecureRecv), StreamError> {
    let state = Arc::new(hs.into_stateless_transport_mode().map_err(hs_err)?);
    let broken = Arc::new(AtomicBool::new(false));
    Ok((
        SecureSend {
            inner: send,
            state: state.clone(),
            nonce: 0,
            broken: broken.clone(),
            buf: Vec::new(),
        },
        SecureRecv {
            inner: recv,
            state,
            nonce: 0,
            broken,
            plain: Vec::new(),
            start: 0,
            sealed: Vec::new(),
            wire_bytes: 0,
        },
    ))
}

async fn write_record(send: &mut quinn::SendStream, bytes: &[u8]) -> Result<(), StreamError> {
    let len = u16::try_from(bytes.len()).map_err(|_| FrameError::TooLarge {
        declared: bytes.len(),
        max: MAX_RECORD,
    })?;
    let mut out = Vec::with_capacity(LEN_BYTES + bytes.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    send.write_all(&out).await.map_err(map_write)
}

/// Reads one record's bytes; `Ok(None)` at a clean end between records.
async fn read_record(recv: &mut quinn::RecvStream) -> Result<Option<Vec<u8>>, StreamError> {
    let mut body = Vec::new();
    Ok(read_record_into(recv, &mut body).await?.then_some(body))
}

/// Reads one record's bytes into `body` (replacing what it held); `false`
/// at a clean end between records.
async fn read_record_into(
    recv: &mut quinn::RecvStream,
    body: &mut Vec<u8>,
) -> Result<bool, StreamError> {
    let mut header = [0u8; LEN_BYTES];
    match recv.read_exact(&mut header).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(false),
        Err(quinn::ReadExactError::FinishedEarly(have)) => {
            return Err(FrameError::Truncated {
                have,
                want: LEN_BYTES,
            }
            .into());
        }
        Err(quinn::ReadExactError::ReadError(e)) => return Err(map_read(e)),
    }
    let len = usize::from(u16::from_be_bytes(header));
    if len == 0 {
        return Err(FrameError::Empty.into());
    }
    body.clear();
    body.resize(len, 0);
    match recv.read_exact(body).await {
        Ok(()) => Ok(true),
        Err(quinn::ReadExactError::FinishedEarly(have)) => Err(FrameError::Truncated {
            have: LEN_BYTES + have,
            want: LEN_BYTES + len,
        }
        .into()),
        Err(quinn::ReadExactError::ReadError(e)) => Err(map_read(e)),
    }
}

async fn read_handshake(recv: &mut quinn::RecvStream) -> Result<Vec<u8>, StreamError> {
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), read_record(recv));
    match read.await {
        Ok(Ok(Some(m))) => Ok(m),
        Ok(Ok(None)) => Err(StreamError::Handshake(
            "the stream ended during the end-to-end handshake".into(),
        )),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(StreamError::Handshake(
            "no end-to-end handshake within 10 s".into(),
        )),
    }
}

fn map_read(e: quinn::ReadError) -> StreamError {
    match e {
        quinn::ReadError::Reset(code) => by_code(code.into_inner()).unwrap_or(StreamError::Read(e)),
        other => StreamError::Read(other),
    }
}

fn map_write(e: quinn::WriteError) -> StreamError {
    match e {
        quinn::WriteError::Stopped(code) => {
            by_code(code.into_inner()).unwrap_or(StreamError::Write(e))
        }
        other => StreamError::Write(other),
    }
}

/// The error a stop or reset code of ours stands for.
fn by_code(code: u64) -> Option<StreamError> {
    if code == u64::from(INTEGRITY_CODE) {
        return Some(StreamError::Integrity(
            "the other end found this stream tampered with".into(),
        ));
    }
    (code == u64::from(lifeline_proto::streams::REFUSED_CHANNEL_CODE)).then(|| {
        StreamError::Refused(
            "the session does not carry this kind of stream (a chat carries only chat, a \
             ping only probes; the screen and input need a screen session)"
                .into(),
        )
    })
}

/// The sending half of an end-to-end encrypted stream.
pub struct SecureSend {
    inner: quinn::SendStream,
    state: Arc<snow::StatelessTransportState>,
    nonce: u64,
    broken: Arc<AtomicBool>,
    buf: Vec<u8>,
}

impl SecureSend {
    /// Encrypts and sends `bytes` as one or more records.
    ///
    /// # Errors
    /// The stream failed, or the receiving half found tampering.
    pub async fn write_all(&mut self, bytes: &[u8]) -> Result<(), StreamError> {
        if self.broken.load(Ordering::Relaxed) {
            let _ = self.inner.reset(INTEGRITY_CODE.into());
            return Err(StreamError::Integrity(
                "this stream was tampered with".into(),
            ));
        }
        // Sealed in place in the reused buffer: a keystroke must not cost
        // a 64 KiB scratch record.
        self.buf.clear();
        for chunk in bytes.chunks(MAX_PLAIN) {
            let at = self.buf.len();
            self.buf.resize(at + LEN_BYTES + chunk.len() + TAG_LEN, 0);
            let n = self
                .state
                .write_message(self.nonce, chunk, &mut self.buf[at + LEN_BYTES..])
                .map_err(|e| StreamError::Handshake(format!("cannot encrypt: {e}")))?;
            self.nonce += 1;
            // A chunk of at most MAX_PLAIN seals to at most MAX_RECORD.
            let len = u16::try_from(n).unwrap_or(u16::MAX);
            self.buf[at..at + LEN_BYTES].copy_from_slice(&len.to_be_bytes());
            self.buf.truncate(at + LEN_BYTES + n);
        }
        self.inner.write_all(&self.buf).await.map_err(map_write)
    }

    /// Encodes, frames and sends one message.
    ///
    /// # Errors
    /// As [`Self::write_all`]; a message over `max`.
    pub async fn write_msg<T: Serialize>(
        &mut self,
        msg: &T,
        max: usize,
    ) -> Result<(), StreamError> {
        let bytes = lifeline_proto::encode_compact_message(msg, max)?;
        self.write_all(&bytes).await
    }

    /// Ends the stream cleanly.
    pub fn finish(&mut self) {
        let _ = self.inner.finish();
    }

    /// Abandons the stream with `code`.
    pub fn reset(&mut self, code: u32) {
        let _ = self.inner.reset(code.into());
    }
}

impl Drop for SecureSend {
    fn drop(&mut self) {
        if self.broken.load(Ordering::Relaxed) {
            let _ = self.inner.reset(INTEGRITY_CODE.into());
        }
    }
}

/// The receiving half of an end-to-end encrypted stream.
pub struct SecureRecv {
    inner: quinn::RecvStream,
    state: Arc<snow::StatelessTransportState>,
    nonce: u64,
    broken: Arc<AtomicBool>,
    plain: Vec<u8>,
    start: usize,
    /// The last record as it arrived (kept to save an allocation a record).
    sealed: Vec<u8>,
    /// Bytes taken off the stream: record lengths, ciphertext and tags.
    wire_bytes: u64,
}

impl SecureRecv {
    /// Bytes read off the stream so far, as they travelled: each record's
    /// length, ciphertext and authentication tag.
    #[must_use]
    pub fn wire_bytes(&self) -> u64 {
        self.wire_bytes
    }

    /// Reads and checks the next record; `Ok(None)` at a clean end.
    ///
    /// # Errors
    /// [`StreamError::Integrity`] when the record was changed, reordered or
    /// injected (the stream is then stopped and the other end told).
    pub async fn read_record(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        if !read_record_into(&mut self.inner, &mut self.sealed).await? {
            return Ok(None);
        }
        let mut out = Vec::new();
        self.open_sealed(&mut out)?;
        Ok(Some(out))
    }

    /// Checks the record just read into the kept `sealed` buffer and
    /// appends its plaintext to `out`. Never awaits, so a caller that is
    /// cancelled (a `select!`) between records loses nothing.
    fn open_sealed(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        self.wire_bytes += (LEN_BYTES + self.sealed.len()) as u64;
        let at = out.len();
        out.resize(at + self.sealed.len(), 0);
        match self
            .state
            .read_message(self.nonce, &self.sealed, &mut out[at..])
        {
            Ok(n) => {
                self.nonce += 1;
                out.truncate(at + n);
                Ok(())
            }
            Err(_) => {
                out.truncate(at);
                self.broken.store(true, Ordering::Relaxed);
                let _ = self.inner.stop(INTEGRITY_CODE.into());
                Err(StreamError::Integrity(
                    "a record failed its check: changed, reordered or injected on the way".into(),
                ))
            }
        }
    }

    /// Reads one frame (a varint length, then the payload), checking the
    /// length against `max` before buffering more; `Ok(None)` at a clean
    /// end between frames.
    ///
    /// # Errors
    /// As [`Self::read_record`]; bad length prefixes, oversized or
    /// truncated frames.
    pub async fn read_frame(&mut self, max: usize) -> Result<Option<Vec<u8>>, StreamError> {
        loop {
            let have = &self.plain[self.start..];
            if let Some((at, len)) = frame::compact_header(have, max)?
                && have.len() >= at + len
            {
                let from = self.start + at;
                let payload = self.plain[from..from + len].to_vec();
                self.start = from + len;
                if self.start == self.plain.len() {
                    self.plain.clear();
                    self.start = 0;
                }
                return Ok(Some(payload));
            }
            if self.start > 0 {
                self.plain.drain(..self.start);
                self.start = 0;
            }
            if read_record_into(&mut self.inner, &mut self.sealed).await? {
                // Opened straight into the buffer, with no await between
                // taking it out and putting it back.
                let mut plain = std::mem::take(&mut self.plain);
                let opened = self.open_sealed(&mut plain);
                self.plain = plain;
                opened?;
            } else if self.plain.is_empty() {
                return Ok(None);
            } else {
                let have = self.plain.len();
                let want = match frame::compact_header(&self.plain, usize::MAX) {
                    Ok(Some((at, len))) => at.saturating_add(len),
                    _ => have + 1,
                };
                return Err(FrameError::Truncated { have, want }.into());
            }
        }
    }

    /// Reads and decodes one message; `Ok(None)` at a clean end.
    ///
    /// # Errors
    /// As [`Self::read_frame`]; payloads that do not decode as `T`.
    pub async fn read_msg<T: DeserializeOwned>(
        &mut self,
        max: usize,
    ) -> Result<Option<T>, StreamError> {
        match self.read_frame(max).await? {
            Some(p) => Ok(Some(lifeline_proto::decode_message(&p)?)),
            None => Ok(None),
        }
    }

    /// Tells the sender to stop.
    pub fn stop(&mut self, code: u32) {
        let _ = self.inner.stop(code.into());
    }
}
