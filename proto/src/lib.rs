//! Lifeline's wire protocol, free of I/O.
//!
//! Everything here is pure: messages and their encoding, length-prefixed
//! framing, the connection handshake and the session-pairing state machine.
//! Time is always passed in (`now: Instant`), never read, so every state
//! machine can be driven by a virtual clock in tests. The binaries (agent,
//! relay, console) own sockets and timers and feed bytes and instants in.

pub mod audit;
pub mod chat;
pub mod codes;
pub mod console_msg;
pub mod frame;
pub mod handshake;
pub mod input;
pub mod inventory;
pub mod msg;
pub mod orgcert;
pub mod pairing;
pub mod printable;
pub mod screen;
pub mod secret;
pub mod session_log;
pub mod streams;
pub mod ticket;
pub mod view;

pub use codes::{CloseCode, ErrorCode};
pub use console_msg::*;
pub use frame::{
    FrameDecoder, FrameError, compact_header, decode_message, encode_compact_message, encode_frame,
    encode_message, encoded_len,
};
pub use msg::*;
pub use secret::Secret;
pub use streams::*;

/// The protocol version this build speaks natively. Version 2 added
/// session reports on report streams of their own and inventory export in
/// pages; with a version-1 peer, reports go on the control stream and an
/// export in one answer. Version 3 added the session and audit listings in
/// pages; with an older relay, each comes in one answer. Version 4 added
/// the ticket listing in pages, version 5 the machine listing.
pub const PROTOCOL_VERSION: u16 = 5;

/// Every protocol version this build can speak, oldest first.
pub const SUPPORTED_VERSIONS: &[u16] = &[1, 2, 3, 4, 5];

/// The first version with report streams and export pages.
pub const REPORT_STREAMS_VERSION: u16 = 2;

/// The first version with session and audit listings in pages.
pub const LISTING_PAGES_VERSION: u16 = 3;

/// The first version with the ticket listing in pages.
pub const TICKET_PAGES_VERSION: u16 = 4;

/// The first version with the machine listing in pages.
pub const MACHINE_PAGES_VERSION: u16 = 5;

/// The ALPN token negotiated by every Lifeline QUIC connection.
pub const ALPN: &[u8] = b"lifeline/1";

/// Largest control-stream (and upload-stream) frame, checked before any
/// allocation.
///
/// Big enough for a full inventory of a machine with tens of thousands of
/// packages; screen data never travels on control streams.
pub const MAX_FRAME_LEN: usize = 8 * 1024 * 1024;
