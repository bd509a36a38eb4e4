//! Every message that crosses a Lifeline connection, but for those on a
//! console's control stream ([`crate::console_msg`]).
//!
//! Control streams carry these, framed by [`crate::frame`]. Session streams
//! start with one [`crate::StreamHeader`] frame (see [`crate::streams`]) and then carry the session's own
//! bytes, which the relay splices without parsing.

use crate::{
    codes::ErrorCode,
    inventory::{InventoryData, InventoryHashes},
    secret::Secret,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A session's identifier, unique per relay.
pub type SessionId = u64;

/// What a person may do on the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Manages people, machines and enrollment; may also connect.
    Admin,
    /// Connects to machines and works tickets.
    Technician,
    /// Reads inventory, sessions and audit; never connects or changes anything.
    Auditor,
}

impl Role {
    /// Lower-case name used on the command line and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Technician => "technician",
            Role::Auditor => "auditor",
        }
    }

    /// Parses a role name as written by [`Role::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "technician" => Some(Role::Technician),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }

    /// May this role open sessions to machines?
    pub fn may_connect(self) -> bool {
        matches!(self, Role::Admin | Role::Technician)
    }

    /// May this role manage enrollment, people and machine policy?
    pub fn may_manage(self) -> bool {
        matches!(self, Role::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which program is on the other end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerKind {
    /// `lifeline-agent` on a user machine.
    Agent,
    /// `lifeline`, the technician/admin console.
    Console,
    /// A short-lived agent connection for one request (help requests from
    /// the tray or the command line), not counted for presence.
    AgentRequest,
}

/// How a peer proves who it is in its [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credential {
    /// A person logging in; the relay answers with a session token.
    /// `totp` is the six-digit code of an account with a second factor.
    /// `e2e_key` is the public half of the key this console will hold for
    /// end-to-end encrypted sessions; it stays bound to the session token.
    Password {
        user: String,
        password: Secret,
        totp: Option<Secret>,
        e2e_key: Vec<u8>,
    },
    /// A session token from an earlier login.
    SessionToken(Secret),
    /// An enrolled machine.
    Machine { machine_id: String, secret: Secret },
    /// A machine that wants to enroll.
    EnrollToken(Secret),
}

/// First frame on every connection's control stream, client to relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The version the client prefers.
    pub protocol_version: u16,
    /// Every version the client can speak.
    pub supported_versions: Vec<u16>,
    /// Agent or console.
    pub kind: PeerKind,
    /// Proof of identity.
    pub credential: Credential,
    /// Program name and version, for logs.
    pub software: String,
}

/// Who the relay decided the client is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Identity {
    /// A logged-in person. `token` is set when the client logged in with a
    /// password and should keep the token for later connections.
    Person {
        user: String,
        role: Role,
        token: Option<Secret>,
        token_expires_unix: u64,
    },
    /// An enrolled machine.
    Machine { machine_id: String },
    /// A machine with a valid enrollment token, expected to send
    /// [`AgentToRelay::Enroll`] next.
    Enrolling,
}

/// The relay's positive answer to a [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The version both sides will speak.
    pub protocol_version: u16,
    /// The relay's wall clock in microseconds since the Unix epoch, for
    /// clock-offset estimates.
    pub server_time_us: u64,
    /// Who the relay takes the client to be.
    pub identity: Identity,
}

/// The relay's negative answer to a [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// Human-readable reason.
    pub message: String,
    /// The versions the relay speaks, so a client can say what to upgrade.
    pub supported_versions: Vec<u16>,
}

/// Second frame on a control stream, relay to client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelloReply {
    /// Accepted.
    Welcome(Welcome),
    /// Refused; the relay closes the connection after sending this.
    Refused(Refused),
}

/// Facts an agent reports about its machine at enroll and on every connect.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineInfo {
    pub hostname: String,
    pub os: String,
    pub arch: String,
    pub agent_version: String,
}

/// Characters of each [`MachineInfo`] field the relay keeps (a hostname
/// has at most 253).
pub const MAX_INFO_CHARS: usize = 255;

impl MachineInfo {
    /// As the relay keeps it: a control character (with which an agent
    /// could write escape sequences to a technician's terminal, or end a
    /// name early for SQLite's case-folding) shown as U+FFFD, and each
    /// field cut to [`MAX_INFO_CHARS`] characters, the last one `…`.
    #[must_use]
    pub fn cleaned(self) -> Self {
        let clean = |s| crate::printable::line(s, MAX_INFO_CHARS);
        Self {
            hostname: clean(self.hostname),
            os: clean(self.os),
            arch: clean(self.arch),
            agent_version: clean(self.agent_version),
        }
    }
}

/// What a session is for. Ping sessions carry no user data and need no
/// consent; screen sessions do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionPurpose {
    /// Round-trip measurement through the relay.
    Ping,
    /// Screen sharing, optionally with control.
    Screen,
    /// Chat with the user, no screen. Needs no consent (the user sees every
    /// line and can stop it), but shows the indicator.
    Chat,
}

impl SessionPurpose {
    /// Whether a session for this purpose may carry a stream of `channel`.
    /// Only a screen session, which the user consents to (or which the
    /// machine's policy leaves unattended, under the indicator), carries
    /// pixels and input; it also carries chat and the viewer's clock probes.
    /// A chat, which needs no prompt, carries only chat; a ping, which shows
    /// nothing to the user, only probes.
    pub fn carries(self, channel: crate::streams::Channel) -> bool {
        use crate::streams::Channel;
        match self {
            Self::Screen => true,
            Self::Chat => channel == Channel::Chat,
            Self::Ping => channel == Channel::Ping,
        }
    }

    /// Whether the technician may control the machine in such a session:
    /// only in a screen session, where the user sees what is done.
    pub fn may_control(self) -> bool {
        self == Self::Screen
    }
}

/// What the technician may do in a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    /// Watch only; input is refused by the agent.
    View,
    /// Watch and send keyboard and mouse.
    Control,
}

/// The relay asks an agent to take part in a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOffer {
    pub session: SessionId,
    pub technician: String,
    pub role: Role,
    pub purpose: SessionPurpose,
    pub permission: Permission,
    pub ticket: Option<u64>,
    /// The machine's policy allows sessions without asking the user
    /// (servers, kiosks); the indicator still shows.
    pub unattended: bool,
    /// The relay's admin wants clipboard text in session logs, not just
    /// the number of characters.
    pub log_clipboard: bool,
    /// The technician's end-to-end public key (from their login): only a
    /// console holding its private half can complete a stream's handshake.
    pub technician_key: Vec<u8>,
    /// The organisation's approval of that key, if an admin gave one:
    /// machines enrolled with the organisation's key require it.
    pub technician_cert: Option<crate::orgcert::TechCert>,
}

/// An agent's answer to a [`SessionOffer`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Go ahead, with the permission asked for.
    Accept,
    /// Go ahead, but only to watch: the user granted less than asked.
    AcceptViewOnly,
    /// No, with a reason a technician can read.
    Decline { reason: String },
    /// Nobody answered the prompt on the machine in time.
    NoAnswer,
}

/// Characters of a reason from an agent (a decline) the relay keeps.
pub const MAX_REASON_CHARS: usize = 1_000;

impl Decision {
    /// As the relay keeps it: a decline's reason on one printable line
    /// ([`crate::printable::line`]).
    #[must_use]
    pub fn cleaned(self) -> Self {
        match self {
            Self::Decline { reason } => Self::Decline {
                reason: crate::printable::line(reason, MAX_REASON_CHARS),
            },
            other => other,
        }
    }
}

/// Why a session ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    /// The technician closed it.
    ConsoleClosed,
    /// The agent closed it.
    AgentClosed,
    /// The user on the machine pressed Stop.
    UserStopped,
    /// The user declined (empty reason), or the agent did on its own.
    Declined(String),
    /// Nobody answered the offer in time.
    Timeout,
    /// The agent's connection went away.
    AgentDisconnected,
    /// The console's connection went away.
    ConsoleDisconnected,
    /// The relay is shutting down.
    RelayShutdown,
    /// The relay stopped without ending its sessions (killed, crashed, lost
    /// power); written when it comes back.
    RelayCrashed,
}

impl EndReason {
    /// As the relay keeps it: a decline's reason on one printable line
    /// ([`crate::printable::line`]).
    #[must_use]
    pub fn cleaned(self) -> Self {
        match self {
            Self::Declined(why) => Self::Declined(crate::printable::line(why, MAX_REASON_CHARS)),
            other => other,
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::ConsoleClosed => f.write_str("technician closed the session"),
            EndReason::AgentClosed => f.write_str("agent closed the session"),
            EndReason::UserStopped => f.write_str("user stopped the session"),
            EndReason::Declined(why) if why.is_empty() => f.write_str("user declined"),
            // A reason comes from the agent (no one to ask, a key without
            // approval); the user's own "no" has none.
            EndReason::Declined(why) => write!(f, "the machine declined: {why}"),
            EndReason::Timeout => f.write_str("no answer within 30 s"),
            EndReason::AgentDisconnected => f.write_str("machine went offline"),
            EndReason::ConsoleDisconnected => f.write_str("technician disconnected"),
            EndReason::RelayShutdown => f.write_str("relay shut down"),
            EndReason::RelayCrashed => f.write_str("relay stopped unexpectedly"),
        }
    }
}

/// Agent to relay, on the agent's control stream after the handshake;
/// `InventoryData` on upload streams (unidirectional, one per batch, at
/// [`crate::BULK_PRIORITY`]) and `SessionReport` on report streams (bidirectional,
/// agent-opened, one per report at [`crate::REPORT_PRIORITY`]; the relay finishes
/// its half once the report is kept), where nothing else is allowed. The
/// relay still takes both on the control stream too (older agents; the
/// benchmarks' simulated agents).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentToRelay {
    /// Enrollment request (only on an [`Identity::Enrolling`] connection),
    /// with the public half of the machine's end-to-end session key.
    Enroll { info: MachineInfo, e2e_key: Vec<u8> },
    /// Fresh machine facts, sent once after each connect.
    Info(MachineInfo),
    /// Liveness, every few seconds.
    Heartbeat { seq: u64 },
    /// Answer to a [`RelayToAgent::SessionOffer`].
    SessionAnswer {
        session: SessionId,
        decision: Decision,
    },
    /// The agent ends a session (user pressed Stop, capture failed, ...).
    EndSession {
        session: SessionId,
        reason: EndReason,
    },
    /// Current inventory hashes, after each collection.
    InventoryHashes(InventoryHashes),
    /// A category the relay asked for.
    InventoryData(InventoryData),
    /// Input the agent refused in a session so far (view-only), for the
    /// session log.
    InputRefused { session: SessionId, total: u64 },
    /// The user changed what the technician may do (control → view).
    PermissionChanged {
        session: SessionId,
        permission: Permission,
    },
    /// The user asks for help: open a ticket.
    RequestHelp(crate::ticket::HelpRequest),
    /// The agent's account of a session that ended, for its log.
    SessionReport(crate::session_log::SessionReport),
}

/// Relay to agent, on the agent's control stream after the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelayToAgent {
    /// Enrollment succeeded: keep these.
    Enrolled {
        machine_id: String,
        credential: Secret,
    },
    /// Enrollment failed.
    EnrollFailed { code: ErrorCode, message: String },
    /// Answer to a heartbeat, with the relay's clock.
    HeartbeatAck { seq: u64, server_time_us: u64 },
    /// A technician wants a session.
    SessionOffer(SessionOffer),
    /// A session ended on the relay's side.
    SessionClosed {
        session: SessionId,
        reason: EndReason,
    },
    /// Send these categories in full (their hashes differ from the relay's).
    InventoryWanted { categories: Vec<String> },
    /// Collect inventory now (a technician asked).
    RefreshInventory,
    /// The help request became this ticket.
    TicketOpened { ticket: u64 },
    /// A ticket this machine asked for changed status (for the tray).
    TicketStatus { ticket: u64, status: String },
}

#[cfg(test)]
mod tests {
    use super::{Decision, EndReason, MAX_INFO_CHARS, MachineInfo, SessionPurpose};
    use crate::streams::Channel;

    #[test]
    fn only_a_screen_session_carries_pixels_and_input_or_gives_control() {
        let all = [
            Channel::Ping,
            Channel::Screen,
            Channel::Input,
            Channel::Chat,
        ];
        let carried = |p: SessionPurpose| -> Vec<Channel> {
            all.into_iter().filter(|&c| p.carries(c)).collect()
        };
        assert_eq!(carried(SessionPurpose::Screen), all);
        assert_eq!(carried(SessionPurpose::Chat), [Channel::Chat]);
        assert_eq!(carried(SessionPurpose::Ping), [Channel::Ping]);
        assert!(SessionPurpose::Screen.may_control());
        assert!(!SessionPurpose::Chat.may_control());
        assert!(!SessionPurpose::Ping.may_control());
    }

    #[test]
    fn a_decline_from_an_agent_is_kept_printable() {
        let d = Decision::Decline {
            reason: "no\u{1b}[2J".into(),
        }
        .cleaned();
        assert_eq!(
            d,
            Decision::Decline {
                reason: "no\u{FFFD}[2J".into()
            }
        );
        let e = EndReason::Declined("a\nb".into()).cleaned();
        assert_eq!(e.to_string(), "the machine declined: a\u{FFFD}b");
        assert_eq!(Decision::Accept.cleaned(), Decision::Accept);
    }

    #[test]
    fn machine_info_is_kept_printable_and_bounded() {
        let plain = MachineInfo {
            hostname: "Büro-PC-042".into(),
            os: "Debian GNU/Linux 12 (bookworm)".into(),
            arch: "x86_64".into(),
            agent_version: "1.0.0".into(),
        };
        assert_eq!(plain.clone().cleaned(), plain);
        let evil = MachineInfo {
            hostname: "pc\u{1b}]0;owned\u{7}\u{1b}[2J".into(),
            os: "Linux\0 6.1\n".into(),
            arch: "x".repeat(10_000),
            agent_version: "é".repeat(MAX_INFO_CHARS),
        }
        .cleaned();
        assert_eq!(evil.hostname, "pc\u{FFFD}]0;owned\u{FFFD}\u{FFFD}[2J");
        assert_eq!(evil.os, "Linux\u{FFFD} 6.1\u{FFFD}");
        assert_eq!(evil.arch.chars().count(), MAX_INFO_CHARS);
        assert!(evil.arch.ends_with("x…"));
        // Exactly the limit is kept whole.
        assert_eq!(evil.agent_version, "é".repeat(MAX_INFO_CHARS));
    }
}
