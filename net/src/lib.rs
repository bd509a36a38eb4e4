//! QUIC plumbing shared by the relay, the agent and the console.
//!
//! TLS 1.3 via rustls with the `ring` provider only, ALPN `lifeline/1`, a
//! self-signed relay certificate that clients pin by SHA-256 fingerprint, and
//! length-prefixed framed messages on QUIC streams.

pub mod client;
pub mod clipboard;
pub mod e2e;
pub mod files;
pub mod framed;
pub mod memory;
pub mod org;
pub mod tls;
pub mod udp;

pub use client::{ConnectError, Connected, connect, open_control};
pub use framed::{StreamError, read_msg, write_msg};
pub use tls::{Fingerprint, FingerprintError};

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch on this machine's wall clock.
pub fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch on this machine's wall clock.
pub fn unix_secs() -> u64 {
    unix_micros() / 1_000_000
}
