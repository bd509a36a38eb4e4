//! Help-desk tickets as they travel between relay, console and agent.

use serde::{Deserialize, Serialize};

/// Where a ticket is in its life.
pub const STATUSES: &[&str] = &["new", "open", "pending", "resolved", "closed"];
/// How urgent a ticket is.
pub const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];

/// A ticket's summary row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRow {
    pub id: u64,
    pub machine_id: String,
    pub hostname: String,
    pub requester: String,
    pub title: String,
    pub status: String,
    pub priority: String,
    pub tier: u8,
    pub assignee: Option<String>,
    pub created_unix: u64,
    pub updated_unix: u64,
}

/// One entry of a ticket's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub at_unix: u64,
    pub actor: String,
    /// created, comment, assigned, escalated, status, session, attachment.
    pub kind: String,
    pub text: String,
}

/// A ticket with its description, timeline and attachment names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketDetail {
    pub row: TicketRow,
    pub description: String,
    pub events: Vec<TicketEvent>,
    /// `(kind, name, bytes)` of each attachment.
    pub attachments: Vec<(String, String, u64)>,
}

/// What a user sends from the tray or `lifeline-agent request-help`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpRequest {
    pub requester: String,
    pub text: String,
    pub priority: String,
    /// PNG of the user's screen, if they chose to attach it.
    #[serde(with = "serde_bytes")]
    pub screenshot_png: Vec<u8>,
}

/// A change a technician makes to a ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketChange {
    Assign { user: String },
    Escalate { reason: String },
    Comment { text: String },
    Status { status: String },
}
