//! Session streams and QUIC send priorities: the kinds of stream a
//! session carries, the header that opens each, the order in which every
//! end sends its streams, and the one-byte answers on a report stream.

use crate::SessionId;
use serde::{Deserialize, Serialize};

/// The kinds of stream a session can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Channel {
    /// Echo of fixed-size probes, for round-trip measurements.
    Ping,
    /// Screen frames, agent to console, and credits back.
    Screen,
    /// Keyboard and mouse, console to agent.
    Input,
    /// Chat and clipboard.
    Chat,
}

/// QUIC send priority of an agent's control stream, both ways: above every
/// session stream, so that heartbeats, consent answers and the user's Stop
/// pass a link full of screen frames (behind them, an agent streaming exact
/// video on a 2 Mbit/s uplink was dropped as silent after 30 s). Its
/// messages are small: a session's report (its chat, up to
/// [`crate::session_log::MAX_REPORT_BYTES`]) goes at [`REPORT_PRIORITY`],
/// inventory at [`BULK_PRIORITY`].
pub const CONTROL_PRIORITY: i32 = 3;

/// QUIC send priority of a session's report, on a stream of its own:
/// with the screen and chat of other sessions, below the control stream
/// (megabytes of chat on a thin uplink must not hold up heartbeats and
/// consent answers behind them) and above inventory (the relay writes the
/// session's log once the report is in, or two seconds after the end
/// when none is being read).
pub const REPORT_PRIORITY: i32 = 1;

/// The relay's one-byte answer on a report stream: the report is kept for
/// the session's log.
pub const REPORT_KEPT: u8 = 1;
/// The relay's one-byte answer on a report stream: the report arrived but
/// there is no use for it (the session's log was already written, or the
/// session is unknown); the agent does not send it again.
pub const REPORT_UNWANTED: u8 = 0;
/// The code a relay resets a report stream with when it cannot read the
/// report: the agent drops it rather than sending it again and again.
pub const REPORT_REFUSED: u8 = 2;

/// QUIC send priority of bulk transfers (inventory uploads, each on a
/// unidirectional stream of its own): after everything else, so that a
/// full upload on a thin uplink waits for the screen instead of sharing
/// the link with it.
pub const BULK_PRIORITY: i32 = 0;

impl Channel {
    /// QUIC send priority of the channel's streams, set by every end that
    /// sends on them: keystrokes and probes first, then screen frames and
    /// chat; all below [`CONTROL_PRIORITY`] and above [`BULK_PRIORITY`].
    #[must_use]
    pub fn send_priority(self) -> i32 {
        match self {
            Self::Input | Self::Ping => 2,
            Self::Screen | Self::Chat => 1,
        }
    }
}

/// First frame of every session stream; the relay reads it, then splices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamHeader {
    pub session: SessionId,
    pub channel: Channel,
}

/// QUIC stop/reset code of a stream its session does not carry (see
/// [`crate::SessionPurpose::carries`]): the relay and the agent both refuse
/// such a stream with it, and the console names it.
pub const REFUSED_CHANNEL_CODE: u32 = 0x5e55;

/// Largest frame allowed on a session stream header.
pub const MAX_HEADER_FRAME_LEN: usize = 64;
