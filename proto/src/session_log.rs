//! The record of a session: what the agent reports when it ends, and the
//! log the relay keeps and attaches to the ticket the session served.

use crate::{Permission, SessionId};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Most chat lines a report carries; older lines are dropped (and counted).
pub const MAX_REPORT_CHAT_LINES: usize = 2000;
/// Most clipboard events a report carries.
pub const MAX_REPORT_CLIPBOARD_EVENTS: usize = 500;

/// One chat line as the agent saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    pub at_unix: u64,
    pub from: String,
    pub text: String,
}

/// Which way clipboard text went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClipboardDirection {
    /// The user copied, the technician received.
    ToTechnician,
    /// The technician put text on the user's clipboard.
    ToUser,
}

/// A clipboard transfer; the text only when the relay's admin asked for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipboardEvent {
    pub at_unix: u64,
    pub direction: ClipboardDirection,
    pub chars: u64,
    pub text: Option<String>,
}

/// The agent's account of a session, sent once when it ends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionReport {
    pub session: SessionId,
    /// Who agreed, and how ("allowed control by jane at the prompt",
    /// "unattended policy: nobody asked").
    pub consent: String,
    /// Screen frames sent to the technician.
    pub frames: u64,
    /// Milliseconds during which a screen stream was open.
    pub screen_ms: u64,
    pub chat: Vec<ChatLine>,
    /// Lines left out of `chat` to keep the report bounded.
    pub chat_dropped: u64,
    pub clipboard: Vec<ClipboardEvent>,
    pub clipboard_dropped: u64,
    /// When the agent lost its relay connection with the session live: the
    /// report then travels on the next connection, to a relay that may
    /// have restarted (`None` for a session that ended normally).
    pub cut_unix: Option<u64>,
}

impl SessionReport {
    /// Adds a chat line, dropping the oldest beyond the limit.
    pub fn push_chat(&mut self, line: ChatLine) {
        if self.chat.len() >= MAX_REPORT_CHAT_LINES {
            self.chat.remove(0);
            self.chat_dropped += 1;
        }
        self.chat.push(line);
    }

    /// Adds a clipboard event, dropping the oldest beyond the limit.
    pub fn push_clipboard(&mut self, ev: ClipboardEvent) {
        if self.clipboard.len() >= MAX_REPORT_CLIPBOARD_EVENTS {
            self.clipboard.remove(0);
            self.clipboard_dropped += 1;
        }
        self.clipboard.push(ev);
    }
}

/// The user (or the policy) changed what the technician may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionChange {
    pub at_unix: u64,
    pub permission: Permission,
}

/// The relay's log of one session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionLog {
    pub session: SessionId,
    pub machine_id: String,
    pub hostname: String,
    pub technician: String,
    pub ticket: Option<u64>,
    /// `ticket` is the one the relay keeps for the technician's sessions
    /// on this machine that named no ticket.
    pub ticket_created: bool,
    /// screen, chat or ping.
    pub purpose: String,
    /// What the technician asked for.
    pub permission_asked: Permission,
    /// The answer: accepted, accepted view only, declined (why), no answer.
    pub decision: String,
    /// Who gave consent and how, as the agent reported it.
    pub consent: String,
    pub offered_unix: u64,
    pub started_unix: Option<u64>,
    pub ended_unix: u64,
    pub duration_s: u64,
    /// How it ended, in words.
    pub ended: String,
    pub bytes_to_agent: u64,
    pub bytes_to_console: u64,
    pub streams: u64,
    pub frames: u64,
    pub mean_fps: f64,
    pub refused_input: u64,
    pub permission_changes: Vec<PermissionChange>,
    pub chat: Vec<ChatLine>,
    pub chat_dropped: u64,
    pub clipboard: Vec<ClipboardEvent>,
}

fn perm(p: Permission) -> &'static str {
    match p {
        Permission::View => "view only",
        Permission::Control => "control",
    }
}

/// `14:37:05` (UTC) of a Unix time.
fn clock(unix: u64) -> String {
    let s = unix % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

impl SessionLog {
    /// One line for lists: `#12 alice → ws-042 screen 95 s, user stopped`.
    pub fn summary(&self) -> String {
        format!(
            "session {} · {} on {} · {} · {} s · {}",
            self.session, self.technician, self.hostname, self.purpose, self.duration_s, self.ended
        )
    }

    /// The log as a person reads it.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "Session {}", self.session);
        let _ = writeln!(o, "  technician   {}", self.technician);
        let _ = writeln!(o, "  machine      {} ({})", self.hostname, self.machine_id);
        match self.ticket {
            Some(t) if self.ticket_created => {
                let _ = writeln!(
                    o,
                    "  ticket       #{t} (opened for sessions without a ticket)"
                );
            }
            Some(t) => {
                let _ = writeln!(o, "  ticket       #{t}");
            }
            None => {
                let _ = writeln!(o, "  ticket       none");
            }
        }
        let _ = writeln!(
            o,
            "  asked        {} ({})",
            self.purpose,
            perm(self.permission_asked)
        );
        let _ = writeln!(o, "  decision     {}", self.decision);
        if !self.consent.is_empty() {
            let _ = writeln!(o, "  consent      {}", self.consent);
        }
        let _ = writeln!(o, "  offered      {} UTC", clock(self.offered_unix));
        if let Some(s) = self.started_unix {
            let _ = writeln!(o, "  started      {} UTC", clock(s));
        }
        let _ = writeln!(
            o,
            "  ended        {} UTC after {} s: {}",
            clock(self.ended_unix),
            self.duration_s,
            self.ended
        );
        let _ = writeln!(
            o,
            "  traffic      {} bytes to the agent, {} bytes to the technician, {} streams",
            self.bytes_to_agent, self.bytes_to_console, self.streams
        );
        let _ = writeln!(
            o,
            "  screen       {} frames, {:.1} fps on average",
            self.frames, self.mean_fps
        );
        let _ = writeln!(o, "  input        {} events refused", self.refused_input);
        for c in &self.permission_changes {
            let _ = writeln!(
                o,
                "  permission   {} at {} UTC",
                perm(c.permission),
                clock(c.at_unix)
            );
        }
        if !self.chat.is_empty() || self.chat_dropped > 0 {
            let _ = writeln!(o, "Chat");
            if self.chat_dropped > 0 {
                let _ = writeln!(o, "  ({} earlier lines not kept)", self.chat_dropped);
            }
            for l in &self.chat {
                let _ = writeln!(o, "  {} {}: {}", clock(l.at_unix), l.from, l.text);
            }
        }
        if !self.clipboard.is_empty() {
            let _ = writeln!(o, "Clipboard");
            for c in &self.clipboard {
                let way = match c.direction {
                    ClipboardDirection::ToTechnician => "user → technician",
                    ClipboardDirection::ToUser => "technician → user",
                };
                match &c.text {
                    Some(t) => {
                        let _ = writeln!(o, "  {} {way}: {t:?}", clock(c.at_unix));
                    }
                    None => {
                        let _ = writeln!(o, "  {} {way}: {} characters", clock(c.at_unix), c.chars);
                    }
                }
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> SessionLog {
        SessionLog {
            session: 7,
            machine_id: "m-1".into(),
            hostname: "ws-042".into(),
            technician: "alice".into(),
            ticket: Some(12),
            ticket_created: false,
            purpose: "screen".into(),
            permission_asked: Permission::Control,
            decision: "accepted".into(),
            consent: "allowed control by jane at the prompt".into(),
            offered_unix: 3600 * 14 + 37 * 60,
            started_unix: Some(3600 * 14 + 37 * 60 + 4),
            ended_unix: 3600 * 14 + 39 * 60,
            duration_s: 116,
            ended: "user stopped the session".into(),
            bytes_to_agent: 1200,
            bytes_to_console: 880_000,
            streams: 3,
            frames: 290,
            mean_fps: 2.5,
            refused_input: 4,
            permission_changes: vec![PermissionChange {
                at_unix: 3600 * 14 + 38 * 60,
                permission: Permission::View,
            }],
            chat: vec![ChatLine {
                at_unix: 3600 * 14 + 38 * 60 + 5,
                from: "jane".into(),
                text: "the printer is offline".into(),
            }],
            chat_dropped: 0,
            clipboard: vec![ClipboardEvent {
                at_unix: 3600 * 14 + 38 * 60 + 9,
                direction: ClipboardDirection::ToUser,
                chars: 11,
                text: None,
            }],
        }
    }

    #[test]
    fn the_rendered_log_names_people_times_traffic_and_chat() {
        let text = log().render();
        for want in [
            "technician   alice",
            "machine      ws-042 (m-1)",
            "ticket       #12",
            "consent      allowed control by jane at the prompt",
            "started      14:37:04 UTC",
            "ended        14:39:00 UTC after 116 s: user stopped the session",
            "880000 bytes to the technician",
            "290 frames, 2.5 fps",
            "4 events refused",
            "permission   view only at 14:38:00 UTC",
            "14:38:05 jane: the printer is offline",
            "technician → user: 11 characters",
        ] {
            assert!(text.contains(want), "{want:?} missing from\n{text}");
        }
    }

    #[test]
    fn reports_stay_bounded() {
        let mut r = SessionReport::default();
        for i in 0..MAX_REPORT_CHAT_LINES + 5 {
            r.push_chat(ChatLine {
                at_unix: i as u64,
                from: "u".into(),
                text: format!("line {i}"),
            });
        }
        assert_eq!(r.chat.len(), MAX_REPORT_CHAT_LINES);
        assert_eq!(r.chat_dropped, 5);
        assert_eq!(r.chat[0].text, "line 5");
    }
}
