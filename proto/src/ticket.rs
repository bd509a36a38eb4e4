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
    /// `(session id, one-line summary)` of each session logged on it.
    pub sessions: Vec<(u64, String)>,
}

/// News of a ticket: what watching consoles and webhooks receive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketNews {
    /// `ticket.created`, `ticket.assigned`, `ticket.escalated`,
    /// `ticket.commented`, `ticket.status`, `ticket.session`.
    pub event: String,
    pub actor: String,
    /// What happened, in words (the timeline entry's text).
    pub text: String,
    pub at_unix: u64,
    /// The ticket after the change.
    pub ticket: TicketRow,
}

impl TicketNews {
    /// The event name of a timeline entry's kind.
    pub fn event_of(kind: &str) -> String {
        let verb = match kind {
            "created" => "created",
            "assigned" => "assigned",
            "escalated" => "escalated",
            "comment" => "commented",
            "status" => "status",
            "session" => "session",
            "attachment" => "attachment",
            other => other,
        };
        format!("ticket.{verb}")
    }
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

/// Characters of a help request's requester (a login name) the relay keeps.
pub const MAX_REQUESTER_CHARS: usize = 255;

impl HelpRequest {
    /// As the relay keeps it: the text printable
    /// ([`crate::printable::text`]), the requester on one printable line
    /// (the priority is one of [`PRIORITIES`] or taken as normal).
    #[must_use]
    pub fn cleaned(self) -> Self {
        Self {
            requester: crate::printable::line(self.requester, MAX_REQUESTER_CHARS),
            text: crate::printable::text(self.text),
            priority: self.priority,
            screenshot_png: self.screenshot_png,
        }
    }
}

/// A change a technician makes to a ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketChange {
    Assign { user: String },
    Escalate { reason: String },
    Comment { text: String },
    Status { status: String },
}

impl TicketChange {
    /// As the relay keeps it: a comment or escalation reason printable
    /// ([`crate::printable::text`]); the others are checked against the
    /// names they must be.
    #[must_use]
    pub fn cleaned(self) -> Self {
        match self {
            Self::Escalate { reason } => Self::Escalate {
                reason: crate::printable::text(reason),
            },
            Self::Comment { text } => Self::Comment {
                text: crate::printable::text(text),
            },
            other => other,
        }
    }
}
