//! The connection handshake: `Hello` → `Welcome` or `Refused`.
//!
//! Both sides are byte-in/byte-out state machines. The relay's side checks the
//! version and hands the credential to its caller; anything the client sends
//! before the relay has answered is out of order and fails the handshake.

use crate::{
    ErrorCode, FrameDecoder, FrameError, Hello, HelloReply, MAX_FRAME_LEN, Refused,
    SUPPORTED_VERSIONS, Welcome, decode_message, encode_message,
};

/// Why a handshake failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandshakeError {
    /// Bad framing or a frame that is not the expected message.
    #[error("handshake frame: {0}")]
    Frame(#[from] FrameError),
    /// A frame arrived when none was allowed.
    #[error("frame out of order during handshake")]
    OutOfOrder,
    /// No protocol version in common.
    #[error("no common protocol version: we speak {ours:?}, the peer speaks {theirs:?}")]
    UnsupportedVersion { ours: Vec<u16>, theirs: Vec<u16> },
    /// The relay refused us.
    #[error("refused ({}): {}", .0.code, .0.message)]
    Refused(Refused),
}

/// Picks the highest version both sides speak.
pub fn negotiate(hello: &Hello, ours: &[u16]) -> Option<u16> {
    let mut theirs = hello.supported_versions.clone();
    theirs.push(hello.protocol_version);
    theirs.into_iter().filter(|v| ours.contains(v)).max()
}

#[derive(Debug, PartialEq, Eq)]
enum ServerState {
    AwaitHello,
    AwaitDecision { version: u16 },
    Done,
}

/// The relay's side of the handshake.
#[derive(Debug)]
pub struct ServerHandshake {
    state: ServerState,
    decoder: FrameDecoder,
}

impl Default for ServerHandshake {
    fn default() -> Self {
        Self::new()
    }
}

/// Largest `Hello` frame the relay reads: a name, a password or token, a
/// one-time code, a 32-byte key and a few versions fit many times over.
/// A larger one is refused as a protocol error before it is read whole.
pub const MAX_HELLO_LEN: usize = 16 * 1024;

/// Versions of the client's named in a refusal at most.
const VERSIONS_NAMED: usize = 16;

impl ServerHandshake {
    /// A handshake waiting for the client's `Hello`.
    pub fn new() -> Self {
        Self {
            state: ServerState::AwaitHello,
            decoder: FrameDecoder::new(MAX_HELLO_LEN),
        }
    }

    /// Feeds received bytes. Returns the client's `Hello` once it is complete
    /// and its version is acceptable.
    ///
    /// # Errors
    /// Framing errors, a second frame before the relay answered
    /// ([`HandshakeError::OutOfOrder`]) or no common version
    /// ([`HandshakeError::UnsupportedVersion`]; send [`Self::refusal_for`]).
    pub fn on_bytes(&mut self, bytes: &[u8]) -> Result<Option<Hello>, HandshakeError> {
        self.decoder.push(bytes);
        let Some(frame) = self.decoder.next_frame()? else {
            return Ok(None);
        };
        if self.state != ServerState::AwaitHello {
            return Err(HandshakeError::OutOfOrder);
        }
        let hello: Hello = decode_message(&frame)?;
        if self.decoder.buffered() > 0 {
            // A well-behaved client waits for the relay's answer.
            return Err(HandshakeError::OutOfOrder);
        }
        match negotiate(&hello, SUPPORTED_VERSIONS) {
            Some(version) => {
                self.state = ServerState::AwaitDecision { version };
                Ok(Some(hello))
            }
            None => {
                let mut theirs = vec![hello.protocol_version];
                theirs.extend(
                    hello
                        .supported_versions
                        .iter()
                        .filter(|&&v| v != hello.protocol_version)
                        .take(VERSIONS_NAMED - 1),
                );
                theirs.sort_unstable();
                theirs.dedup();
                Err(HandshakeError::UnsupportedVersion {
                    ours: SUPPORTED_VERSIONS.to_vec(),
                    theirs,
                })
            }
        }
    }

    /// The version agreed on, once a `Hello` was accepted.
    pub fn version(&self) -> Option<u16> {
        match self.state {
            ServerState::AwaitDecision { version } => Some(version),
            _ => None,
        }
    }

    /// Encodes the `Welcome` and finishes the handshake.
    ///
    /// # Errors
    /// [`HandshakeError::OutOfOrder`] if no `Hello` was accepted yet.
    pub fn welcome(&mut self, mut welcome: Welcome) -> Result<Vec<u8>, HandshakeError> {
        let Some(version) = self.version() else {
            return Err(HandshakeError::OutOfOrder);
        };
        welcome.protocol_version = version;
        self.state = ServerState::Done;
        Ok(encode_message(
            &HelloReply::Welcome(welcome),
            MAX_FRAME_LEN,
        )?)
    }

    /// Encodes a refusal and finishes the handshake.
    pub fn refuse(&mut self, code: ErrorCode, message: impl Into<String>) -> Vec<u8> {
        self.state = ServerState::Done;
        Self::refusal_for(code, message)
    }

    /// The bytes of a `Refused` answer.
    pub fn refusal_for(code: ErrorCode, message: impl Into<String>) -> Vec<u8> {
        let reply = HelloReply::Refused(Refused {
            code,
            message: message.into(),
            supported_versions: SUPPORTED_VERSIONS.to_vec(),
        });
        // A refusal is a few dozen bytes; encoding cannot exceed the maximum.
        encode_message(&reply, MAX_FRAME_LEN).unwrap_or_default()
    }
}

/// The client's side of the handshake.
#[derive(Debug)]
pub struct ClientHandshake {
    decoder: FrameDecoder,
    done: bool,
}

impl ClientHandshake {
    /// Starts a handshake; returns the machine and the `Hello` bytes to send.
    ///
    /// # Errors
    /// Only if the hello cannot be encoded within the frame limit.
    pub fn start(hello: &Hello) -> Result<(Self, Vec<u8>), HandshakeError> {
        let bytes = encode_message(hello, MAX_FRAME_LEN)?;
        Ok((
            Self {
                decoder: FrameDecoder::new(MAX_FRAME_LEN),
                done: false,
            },
            bytes,
        ))
    }

    /// Feeds received bytes; returns the `Welcome` once it arrived.
    ///
    /// # Errors
    /// [`HandshakeError::Refused`] with the relay's reason, framing errors, or
    /// [`HandshakeError::OutOfOrder`] for a frame after the answer.
    pub fn on_bytes(&mut self, bytes: &[u8]) -> Result<Option<Welcome>, HandshakeError> {
        self.decoder.push(bytes);
        let Some(frame) = self.decoder.next_frame()? else {
            return Ok(None);
        };
        if self.done {
            return Err(HandshakeError::OutOfOrder);
        }
        self.done = true;
        match decode_message::<HelloReply>(&frame)? {
            HelloReply::Welcome(w) => Ok(Some(w)),
            HelloReply::Refused(r) => Err(HandshakeError::Refused(r)),
        }
    }

    /// Bytes that arrived after the `Welcome` (the first post-handshake
    /// frames), to be handed to the next decoder.
    pub fn into_leftover(self) -> FrameDecoder {
        self.decoder
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Credential, Identity, PeerKind, Secret};

    fn hello(version: u16, supported: Vec<u16>) -> Hello {
        Hello {
            protocol_version: version,
            supported_versions: supported,
            kind: PeerKind::Console,
            credential: Credential::SessionToken(Secret::new("t")),
            software: "test".into(),
        }
    }

    fn welcome() -> Welcome {
        Welcome {
            protocol_version: 0,
            server_time_us: 42,
            identity: Identity::Machine {
                machine_id: "m1".into(),
            },
        }
    }

    #[test]
    fn hello_then_welcome() {
        let h = hello(1, vec![1]);
        let (mut client, bytes) = ClientHandshake::start(&h).unwrap();
        let mut server = ServerHandshake::new();
        let got = server.on_bytes(&bytes).unwrap().unwrap();
        assert_eq!(got, h);
        let reply = server.welcome(welcome()).unwrap();
        let w = client.on_bytes(&reply).unwrap().unwrap();
        assert_eq!(w.protocol_version, 1);
        assert_eq!(w.server_time_us, 42);
    }

    #[test]
    fn unknown_version_names_both_sides() {
        let (_, bytes) = ClientHandshake::start(&hello(7, vec![7, 9])).unwrap();
        let mut server = ServerHandshake::new();
        let err = server.on_bytes(&bytes).unwrap_err();
        assert_eq!(
            err,
            HandshakeError::UnsupportedVersion {
                ours: vec![1, 2, 3, 4, 5],
                theirs: vec![7, 9]
            }
        );
        assert!(err.to_string().contains("we speak [1, 2, 3, 4, 5]"));
        assert!(err.to_string().contains("[7, 9]"));
    }

    #[test]
    fn a_refusal_names_a_few_versions_and_a_huge_hello_is_not_read() {
        let many: Vec<u16> = (100..3100).rev().collect();
        let (_, bytes) = ClientHandshake::start(&hello(7, many)).unwrap();
        assert!(bytes.len() < MAX_HELLO_LEN);
        let err = ServerHandshake::new().on_bytes(&bytes).unwrap_err();
        let HandshakeError::UnsupportedVersion { theirs, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(theirs.len(), VERSIONS_NAMED);
        assert_eq!(theirs[..3], [7, 3085, 3086]);
        assert!(err.to_string().len() < 200, "{err}");

        let mut big = hello(1, vec![1]);
        big.software = "x".repeat(MAX_HELLO_LEN);
        let bytes = encode_message(&big, MAX_FRAME_LEN).unwrap();
        let err = ServerHandshake::new().on_bytes(&bytes).unwrap_err();
        assert!(matches!(err, HandshakeError::Frame(_)), "{err:?}");
    }

    #[test]
    fn client_may_prefer_a_newer_version_it_can_downgrade_from() {
        let (_, bytes) = ClientHandshake::start(&hello(6, vec![1, 2, 3, 4, 5, 6])).unwrap();
        let mut server = ServerHandshake::new();
        assert!(server.on_bytes(&bytes).unwrap().is_some());
        assert_eq!(server.version(), Some(5));
        // A client of version 1 is spoken to in version 1.
        let (_, bytes) = ClientHandshake::start(&hello(1, vec![1])).unwrap();
        let mut server = ServerHandshake::new();
        assert!(server.on_bytes(&bytes).unwrap().is_some());
        assert_eq!(server.version(), Some(1));
    }

    #[test]
    fn a_second_frame_before_the_answer_is_out_of_order() {
        let (_, bytes) = ClientHandshake::start(&hello(1, vec![1])).unwrap();
        let mut twice = bytes.clone();
        twice.extend_from_slice(&bytes);
        let mut server = ServerHandshake::new();
        assert_eq!(server.on_bytes(&twice), Err(HandshakeError::OutOfOrder));
    }

    #[test]
    fn welcome_before_hello_is_out_of_order() {
        let mut server = ServerHandshake::new();
        assert_eq!(server.welcome(welcome()), Err(HandshakeError::OutOfOrder));
    }

    #[test]
    fn refusal_reaches_the_client_with_its_reason() {
        let (mut client, bytes) = ClientHandshake::start(&hello(1, vec![1])).unwrap();
        let mut server = ServerHandshake::new();
        server.on_bytes(&bytes).unwrap();
        let reply = server.refuse(ErrorCode::BadCredentials, "invalid user or password");
        match client.on_bytes(&reply) {
            Err(HandshakeError::Refused(r)) => {
                assert_eq!(r.code, ErrorCode::BadCredentials);
                assert_eq!(r.message, "invalid user or password");
                assert_eq!(r.supported_versions, vec![1, 2, 3, 4, 5]);
            }
            other => panic!("expected refusal, got {other:?}"),
        }
    }

    #[test]
    fn garbage_is_a_frame_error_not_a_panic() {
        let mut server = ServerHandshake::new();
        let mut garbage = 5u32.to_be_bytes().to_vec();
        garbage.extend_from_slice(&[0xff; 5]);
        assert!(matches!(
            server.on_bytes(&garbage),
            Err(HandshakeError::Frame(_))
        ));
    }
}
