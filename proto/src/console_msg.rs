//! What consoles and the relay say to each other on a console's control
//! stream: requests, answers, and news the relay sends unasked.

use crate::{
    Permission, Role, SessionId, SessionPurpose,
    audit::{AuditEntry, AuditVerdict},
    codes::ErrorCode,
    inventory::{FoundRow, HistoryRow, InventoryQuery},
    msg::EndReason,
    secret::Secret,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A console request, tagged so that answers can be matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: u32,
    pub body: ConsoleRequest,
}

/// What a console can ask of the relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleRequest {
    /// Who am I logged in as?
    Whoami,
    /// Make an enrollment token (admins).
    CreateEnrollToken {
        group: Option<String>,
        ttl_secs: u64,
        max_uses: Option<u32>,
    },
    /// List enrolled machines.
    ListMachines,
    /// Open a session with a machine, named by id or unique hostname.
    OpenSession {
        machine: String,
        purpose: SessionPurpose,
        permission: Permission,
        ticket: Option<u64>,
    },
    /// End a session this console opened.
    CloseSession { session: SessionId },
    /// Revoke this connection's session token.
    Logout,
    /// A machine's current inventory.
    Inventory { machine: String },
    /// A machine's inventory changes since a time.
    InventoryHistory { machine: String, since_unix: u64 },
    /// Fleet search.
    InventoryFind(InventoryQuery),
    /// Every visible machine's inventory, optionally one group's.
    InventoryExport { group: Option<String> },
    /// Ask a machine's agent to collect and upload now.
    RefreshInventory { machine: String },
    /// Audit entries since a time, optionally of one actor (admins, auditors).
    Audit {
        since_unix: u64,
        actor: Option<String>,
    },
    /// Recompute the audit chain.
    AuditVerify,
    /// Set whether a machine's user must consent to sessions (admins).
    SetPolicy { machine: String, unattended: bool },
    /// Revoke a machine's credential; its agent is disconnected at once
    /// (admins).
    RevokeMachine { machine: String },
    /// Revoke an enrollment token before it expires (admins).
    RevokeEnrollToken { token: Secret },
    /// Keep an organisation's approval of a technician's key, signed on the
    /// admin's machine; the relay hands it to machines with that
    /// technician's session offers (admins).
    ApproveTechnician { cert: crate::orgcert::TechCert },
    /// Tickets, filtered.
    Tickets {
        mine: bool,
        status: Option<String>,
        tier: Option<u8>,
    },
    /// One ticket in full.
    TicketShow { ticket: u64 },
    /// Change a ticket.
    TicketUpdate {
        ticket: u64,
        change: crate::ticket::TicketChange,
    },
    /// One session's log.
    SessionShow { session: SessionId },
    /// Session logs, newest first, optionally of one machine.
    Sessions {
        machine: Option<String>,
        since_unix: u64,
    },
    /// From now on, tell this console about every new or changed ticket
    /// ([`ConsoleEvent::TicketChanged`]).
    WatchTickets,
    /// A page of [`ConsoleRequest::InventoryExport`]: the machines after
    /// `after` (by id; from the first when `None`), about 2 MiB of JSON.
    InventoryExportPage {
        group: Option<String>,
        after: Option<String>,
    },
    /// A page of [`ConsoleRequest::Sessions`]: the logs after `after` in
    /// the listing's order (newest first; from the newest when `None`),
    /// about 2 MiB of them (version 3).
    SessionsPage {
        machine: Option<String>,
        since_unix: u64,
        after: Option<SessionCursor>,
    },
    /// A page of [`ConsoleRequest::Audit`]: the entries after sequence
    /// number `after` (from the first when `None`), oldest first, about
    /// 2 MiB of them (version 3).
    AuditPage {
        since_unix: u64,
        actor: Option<String>,
        after: Option<u64>,
    },
    /// A page of [`ConsoleRequest::Tickets`], of the tickets opened at or
    /// after `created_since` (0: all): the tickets numbered below `after`
    /// (from the newest when `None`), newest first, about 2 MiB of them
    /// (version 4).
    TicketsPage {
        mine: bool,
        status: Option<String>,
        tier: Option<u8>,
        created_since: u64,
        after: Option<u64>,
    },
    /// A page of the machines the person sees, by hostname (ignoring ASCII
    /// case) then id, from just past `after` (the first when `None`),
    /// about 2 MiB of them; `stale_secs`: only those offline and not heard
    /// from for that long, by the relay's clock (version 5).
    MachinesPage {
        stale_secs: Option<u64>,
        after: Option<MachineCursor>,
    },
}

/// Where a page of machines ends: the last machine it covered, by the
/// listing's order (hostname ignoring ASCII case, then id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineCursor {
    pub hostname: String,
    pub id: String,
}

impl MachineCursor {
    /// Does `self` come after `other` in the listing's order? The relay's
    /// store orders the same way (SQLite's NOCASE folds ASCII only).
    #[must_use]
    pub fn follows(&self, other: &Self) -> bool {
        let key = |c: &Self| (c.hostname.to_ascii_lowercase(), c.id.clone());
        key(self) > key(other)
    }
}

/// Where a page of session logs ends: the last log it covered, by the
/// listing's order (time ended, then session id; newest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SessionCursor {
    pub ended_unix: u64,
    pub session: SessionId,
}

/// A failed request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub code: ErrorCode,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// One enrolled machine as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineRow {
    pub id: String,
    pub hostname: String,
    pub os: String,
    pub arch: String,
    pub group: Option<String>,
    pub online: bool,
    pub last_seen_unix: Option<u64>,
    pub enrolled_unix: u64,
    /// Sessions start without asking the user.
    pub unattended: bool,
    /// An admin revoked its credential; it cannot connect.
    pub revoked: bool,
}

/// A successful answer to a [`ConsoleRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ConsoleReply {
    Whoami {
        user: String,
        role: Role,
    },
    EnrollToken {
        token: Secret,
        expires_unix: u64,
        group: Option<String>,
    },
    Machines(Vec<MachineRow>),
    SessionOpened {
        session: SessionId,
        machine_id: String,
        hostname: String,
        /// What the user granted (may be less than asked).
        permission: Permission,
        /// The machine's end-to-end public key (from its enrollment).
        machine_key: Vec<u8>,
    },
    Done,
    /// Inventory of one machine: JSON object keyed by category.
    Inventory {
        machine_id: String,
        hostname: String,
        updated_unix: u64,
        #[serde(with = "serde_bytes")]
        json: Vec<u8>,
    },
    History(Vec<HistoryRow>),
    Found(Vec<FoundRow>),
    /// JSON array of `{machine, inventory}` objects.
    Export(#[serde(with = "serde_bytes")] Vec<u8>),
    Audit(Vec<AuditEntry>),
    AuditVerified(AuditVerdict),
    Tickets(Vec<crate::ticket::TicketRow>),
    Ticket(Box<crate::ticket::TicketDetail>),
    Session(Box<crate::session_log::SessionLog>),
    Sessions(Vec<crate::session_log::SessionLog>),
    /// A JSON array of export rows, and the `after` of the next page
    /// (`None`: this was the last).
    ExportPage {
        #[serde(with = "serde_bytes")]
        rows: Vec<u8>,
        next: Option<String>,
    },
    /// A page of session logs, and where the next starts (`None`: this
    /// was the last).
    SessionsPage {
        logs: Vec<crate::session_log::SessionLog>,
        next: Option<SessionCursor>,
    },
    /// A page of audit entries, and the sequence number the next starts
    /// after (`None`: this was the last).
    AuditPage {
        rows: Vec<AuditEntry>,
        next: Option<u64>,
    },
    /// A page of tickets, and the number the next page starts below
    /// (`None`: this was the last).
    TicketsPage {
        rows: Vec<crate::ticket::TicketRow>,
        next: Option<u64>,
    },
    /// A page of machines, and the last it covered when more follow
    /// (`None`: this was the last).
    MachinesPage {
        rows: Vec<MachineRow>,
        next: Option<MachineCursor>,
    },
}

/// The answer to the [`Request`] with the same id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: u32,
    pub body: Result<ConsoleReply, Failure>,
}

/// Something the relay tells a console without being asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleEvent {
    /// A session of this console ended.
    SessionEnded {
        session: SessionId,
        reason: EndReason,
    },
    /// The user changed what the technician may do in a live session.
    PermissionChanged {
        session: SessionId,
        permission: Permission,
    },
    /// A ticket was opened or changed (after [`ConsoleRequest::WatchTickets`]).
    TicketChanged(Box<crate::ticket::TicketNews>),
}

/// Relay to console, on the console's control stream after the handshake.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RelayToConsole {
    Response(Response),
    Event(ConsoleEvent),
}

#[cfg(test)]
mod tests {
    use super::MachineCursor;

    fn at(hostname: &str, id: &str) -> MachineCursor {
        MachineCursor {
            hostname: hostname.into(),
            id: id.into(),
        }
    }

    #[test]
    fn machine_cursors_follow_by_name_ignoring_ascii_case_then_id() {
        assert!(at("pc-b", "m1").follows(&at("PC-A", "m9")));
        assert!(at("PC-A", "m2").follows(&at("pc-a", "m1")));
        assert!(!at("pc-a", "m1").follows(&at("PC-A", "m1")));
        // `_` lies between the upper- and the lower-case letters: folded
        // to lower case, as SQLite's NOCASE does, it comes before them.
        assert!(at("pca", "m1").follows(&at("PC_Z", "m1")));
        assert!(!at("PC_Z", "m1").follows(&at("pca", "m1")));
        assert!(!at("alpha", "m9").follows(&at("Beta", "m1")));
    }
}
