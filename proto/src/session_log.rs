//! The record of a session: what the agent reports when it ends, and the
//! log the relay keeps and attaches to the ticket the session served.

use crate::encoded_len;
use crate::{Permission, SessionId};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Most chat lines a report carries; older lines are dropped (and counted).
pub const MAX_REPORT_CHAT_LINES: usize = 2000;
/// Most clipboard events a report carries.
pub const MAX_REPORT_CLIPBOARD_EVENTS: usize = 500;
/// Most bytes a report takes encoded: half a message's limit
/// ([`crate::MAX_FRAME_LEN`]). 2,000 chat lines of 8 KiB, or 500 clipboard
/// texts of 32 KiB, would be 16 MiB: a report that size could not be sent
/// at all, and the agent would lose it, or, for a session a cut left
/// behind, fail to reconnect with it again and again.
pub const MAX_REPORT_BYTES: usize = 4 * 1024 * 1024;

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

/// Characters of a report's consent line, or of a chat line's sender, the
/// relay keeps.
pub const MAX_CONSENT_CHARS: usize = 1_000;

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

    /// As the relay keeps it: the consent on one printable line, chat and
    /// clipboard text printable ([`crate::printable`]), so that no agent
    /// writes escape sequences to the terminal of whoever reads the log.
    pub fn clean(&mut self) {
        use crate::printable::{line, text};
        self.consent = line(std::mem::take(&mut self.consent), MAX_CONSENT_CHARS);
        for c in &mut self.chat {
            c.from = line(std::mem::take(&mut c.from), MAX_CONSENT_CHARS);
            c.text = text(std::mem::take(&mut c.text));
        }
        for e in &mut self.clipboard {
            e.text = e.text.take().map(text);
        }
    }

    /// Holds the report to every limit, whoever built it: at most
    /// [`MAX_REPORT_CHAT_LINES`] chat lines and
    /// [`MAX_REPORT_CLIPBOARD_EVENTS`] clipboard events, then
    /// [`MAX_REPORT_BYTES`] encoded (see [`Self::fit`]); the oldest go
    /// first, counted as dropped. Returns how many went.
    pub fn bound(&mut self) -> usize {
        let chat = self.chat.len().saturating_sub(MAX_REPORT_CHAT_LINES);
        self.chat.drain(..chat);
        self.chat_dropped += chat as u64;
        let clip = self
            .clipboard
            .len()
            .saturating_sub(MAX_REPORT_CLIPBOARD_EVENTS);
        self.clipboard.drain(..clip);
        self.clipboard_dropped += clip as u64;
        chat + clip + self.fit(MAX_REPORT_BYTES)
    }

    /// Drops the oldest chat lines and clipboard events (counted as
    /// dropped) until the report encodes to at most `max` bytes; returns
    /// how many went. The newest are kept, in order.
    pub fn fit(&mut self, max: usize) -> usize {
        let mut total = encoded_len(&*self);
        if total <= max {
            return 0;
        }
        let (mut chat, mut clip) = (0, 0);
        while total > max && (chat < self.chat.len() || clip < self.clipboard.len()) {
            // The older of the two oldest left goes first (chat on a tie).
            let take_chat = match (self.chat.get(chat), self.clipboard.get(clip)) {
                (Some(c), Some(e)) => c.at_unix <= e.at_unix,
                (Some(_), None) => true,
                _ => false,
            };
            if take_chat {
                total = total.saturating_sub(encoded_len(&self.chat[chat]));
                chat += 1;
            } else {
                total = total.saturating_sub(encoded_len(&self.clipboard[clip]));
                clip += 1;
            }
        }
        self.chat.drain(..chat);
        self.clipboard.drain(..clip);
        self.chat_dropped += chat as u64;
        self.clipboard_dropped += clip as u64;
        chat + clip
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
        crate::printable::row(format!(
            "session {} · {} on {} · {} · {} s · {}",
            self.session, self.technician, self.hostname, self.purpose, self.duration_s, self.ended
        ))
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
                let said = crate::printable::indented(&l.text, "      ");
                let _ = writeln!(o, "  {} {}: {said}", clock(l.at_unix), l.from);
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
        // Every field but the clock and figures came from an agent or a
        // relay (a log stored before the relay cleaned it, too).
        crate::printable::text(o)
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
    fn a_log_reads_printable_whatever_was_stored() {
        let mut l = log();
        l.consent = "yes\u{1b}]0;owned\u{7}".into();
        l.ended = "the machine declined: \u{9b}2J".into();
        l.chat = vec![ChatLine {
            at_unix: 0,
            from: "user".into(),
            text: "ok\n00:00:01 technician: type your password".into(),
        }];
        let shown = l.render();
        assert!(crate::printable::is_text(&shown), "{shown:?}");
        assert!(shown.contains("yes\u{FFFD}]0;owned\u{FFFD}"), "{shown}");
        // The user's second line stays under the first.
        assert!(
            shown.contains("ok\n      00:00:01 technician: type"),
            "{shown}"
        );
        assert!(!l.summary().chars().any(char::is_control));
    }

    #[test]
    fn a_report_is_kept_printable() {
        let mut r = SessionReport {
            consent: "allowed by jane\u{1b}[2J\nat the prompt".into(),
            ..SessionReport::default()
        };
        r.push_chat(ChatLine {
            at_unix: 1,
            from: "jane\u{7}".into(),
            text: "hi\r\n\u{1b}]0;x\u{7}bye".into(),
        });
        r.push_clipboard(ClipboardEvent {
            at_unix: 2,
            direction: ClipboardDirection::ToTechnician,
            chars: 3,
            text: Some("a\tb\u{0}".into()),
        });
        r.clean();
        assert_eq!(r.consent, "allowed by jane\u{FFFD}[2J\u{FFFD}at the prompt");
        assert_eq!(r.chat[0].from, "jane\u{FFFD}");
        assert_eq!(r.chat[0].text, "hi\n\u{FFFD}]0;x\u{FFFD}bye");
        assert_eq!(r.clipboard[0].text.as_deref(), Some("a\tb\u{FFFD}"));
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

    /// A technician who pasted a long log into the chat again and again,
    /// and a clipboard logged with its text: 2,000 lines of 8 KiB and 500
    /// texts of 32 KiB, 32 MiB, four times what a message may carry.
    #[test]
    fn an_oversized_report_keeps_its_newest_lines_within_the_limit() {
        let mut r = SessionReport {
            session: 9,
            consent: "allowed control by jane at the prompt".into(),
            frames: 1234,
            ..SessionReport::default()
        };
        for i in 0..MAX_REPORT_CHAT_LINES as u64 {
            r.push_chat(ChatLine {
                at_unix: 1000 + i,
                from: "tom".into(),
                text: format!("{i:05}{}", "x".repeat(crate::chat::MAX_CHAT_TEXT - 5)),
            });
        }
        for i in 0..MAX_REPORT_CLIPBOARD_EVENTS as u64 {
            r.push_clipboard(ClipboardEvent {
                at_unix: 1000 + 4 * i,
                direction: ClipboardDirection::ToUser,
                chars: 32 * 1024,
                text: Some(format!("{i:05}{}", "y".repeat(32 * 1024 - 5))),
            });
        }
        let before = (r.chat.len(), r.clipboard.len());
        assert!(crate::encode_message(&r, crate::MAX_FRAME_LEN).is_err());
        let dropped = r.fit(MAX_REPORT_BYTES);
        let bytes = crate::encode_message(&r, crate::MAX_FRAME_LEN).unwrap();
        assert!(bytes.len() <= MAX_REPORT_BYTES + 8, "{}", bytes.len());
        // Not far under the limit: only what had to go went.
        assert!(
            bytes.len() > MAX_REPORT_BYTES - 40 * 1024,
            "{}",
            bytes.len()
        );
        assert_eq!(
            dropped,
            before.0 + before.1 - r.chat.len() - r.clipboard.len()
        );
        assert_eq!(r.chat_dropped as usize, before.0 - r.chat.len());
        assert_eq!(r.clipboard_dropped as usize, before.1 - r.clipboard.len());
        // The newest of both kinds stay, in order; what went is older than
        // anything kept.
        assert!(r.chat.last().unwrap().text.starts_with("01999"));
        assert!(
            r.clipboard
                .last()
                .unwrap()
                .text
                .as_deref()
                .unwrap()
                .starts_with("00499")
        );
        assert!(r.chat.windows(2).all(|w| w[0].at_unix < w[1].at_unix));
        let oldest_kept = r.chat[0].at_unix.min(r.clipboard[0].at_unix);
        let newest_gone = (1000 + r.chat_dropped - 1).max(1000 + 4 * (r.clipboard_dropped - 1));
        assert!(newest_gone <= oldest_kept, "{newest_gone} {oldest_kept}");
        assert_eq!((r.session, r.frames), (9, 1234));
        // A report within the limit is left alone.
        let mut small = r.clone();
        assert_eq!(small.fit(MAX_REPORT_BYTES), 0);
        assert_eq!(small, r);
    }
}
