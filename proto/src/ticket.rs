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

/// Most characters of a help request's text: a description, with room for
/// a pasted error or a short log.
pub const MAX_HELP_TEXT_CHARS: usize = 64 * 1024;

/// Most bytes a help request's screenshot takes. The request is one
/// message of at most 8 MiB; a 4K screen showing a photo makes a PNG of 10
/// to 25 MB, and the whole request, text and all, would be refused.
pub const MAX_SCREENSHOT_PNG: usize = 6 * 1024 * 1024;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

impl HelpRequest {
    /// Why a help request cannot become a ticket, said so the user can fix
    /// it; `None` when it can. The agent checks before sending, the relay
    /// again when it arrives.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        if self.text.trim().is_empty() {
            return Some("say what is wrong first (the help request is empty)".into());
        }
        let chars = self.text.chars().count();
        if chars > MAX_HELP_TEXT_CHARS {
            return Some(format!(
                "the description has {chars} characters, more than the {MAX_HELP_TEXT_CHARS} a \
                 help request carries: shorten it (a technician can ask for the whole log)"
            ));
        }
        let shot = &self.screenshot_png;
        if shot.len() > MAX_SCREENSHOT_PNG {
            return Some(format!(
                "the screenshot takes {:.1} MiB, more than the {} MiB a help request carries",
                shot.len() as f64 / 1_048_576.0,
                MAX_SCREENSHOT_PNG / 1_048_576
            ));
        }
        if !shot.is_empty() && !shot.starts_with(PNG_SIGNATURE) {
            return Some("the screenshot is not a PNG image".into());
        }
        None
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str, png: &[u8]) -> HelpRequest {
        HelpRequest {
            requester: "ann".into(),
            text: text.into(),
            priority: "normal".into(),
            screenshot_png: png.to_vec(),
        }
    }

    #[test]
    fn a_help_request_too_large_or_odd_is_refused_with_the_reason() {
        let png = [PNG_SIGNATURE, b"rest"].concat();
        assert_eq!(req("printer jams", &png).problem(), None);
        assert_eq!(req("printer jams", &[]).problem(), None);
        let max = "é".repeat(MAX_HELP_TEXT_CHARS);
        assert_eq!(req(&max, &[]).problem(), None, "counted in characters");
        let e = req(&(max + "!"), &[]).problem().unwrap();
        assert!(e.contains("65537 characters, more than the 65536"), "{e}");
        assert!(req(" \n\t", &[]).problem().unwrap().contains("empty"));
        let e = req("x", b"GIF89a").problem().unwrap();
        assert_eq!(e, "the screenshot is not a PNG image");
        let big = [PNG_SIGNATURE, &vec![0; MAX_SCREENSHOT_PNG]].concat();
        let e = req("x", &big).problem().unwrap();
        assert!(e.contains("6.0 MiB, more than the 6 MiB"), "{e}");
    }
}
