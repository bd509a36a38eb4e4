//! Error codes carried in messages and QUIC close codes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a request or a handshake was refused. Travels inside [`crate::Refused`]
/// and [`crate::Failure`]; the message next to it is for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The peer speaks none of our protocol versions.
    UnsupportedVersion,
    /// Unknown user, wrong password, bad or expired session token.
    BadCredentials,
    /// Too many failed attempts; try later.
    RateLimited,
    /// Enrollment token unknown, expired, used up or revoked.
    EnrollTokenInvalid,
    /// The machine credential is unknown or revoked.
    MachineUnknown,
    /// The caller's role does not allow this request.
    Forbidden,
    /// The named machine, user or object does not exist.
    NotFound,
    /// More than one machine matches the given name.
    Ambiguous,
    /// The machine's agent is not connected.
    MachineOffline,
    /// The user on the machine declined the session.
    Declined,
    /// Nobody answered in time.
    Timeout,
    /// The request was well-formed but makes no sense (bad argument).
    BadRequest,
    /// The relay failed internally (store error and the like).
    Internal,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// QUIC application close codes. A connection closed with
/// [`CloseCode::Protocol`] was closed because its peer broke the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CloseCode {
    /// Orderly close.
    Normal = 0,
    /// The peer sent malformed, oversized or out-of-order data.
    Protocol = 1,
    /// The handshake was refused (credentials, version, role).
    Refused = 2,
    /// The relay is shutting down; reconnect later.
    Shutdown = 3,
    /// The same machine connected again; this older connection is dropped.
    Replaced = 4,
    /// The machine or token was revoked by an admin.
    Revoked = 5,
}

impl CloseCode {
    /// The numeric code as sent on the wire.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// Maps a wire code back to a close code.
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => Self::Normal,
            1 => Self::Protocol,
            2 => Self::Refused,
            3 => Self::Shutdown,
            4 => Self::Replaced,
            5 => Self::Revoked,
            _ => return None,
        })
    }
}
