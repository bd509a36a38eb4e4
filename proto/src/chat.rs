//! Messages of a chat stream ([`crate::Channel::Chat`]): text between the
//! technician and the user, clipboard text when the user allows it, and
//! the session's permission (asking for control, the user's answer).
//!
//! The same messages flow both ways. The agent stamps who wrote a line
//! (`from`) on what it sends; the console's name comes from its login, so a
//! technician cannot pose as someone else.

use serde::{Deserialize, Serialize};

/// Largest chat message: a long paragraph or a pasted log excerpt.
pub const MAX_CHAT_LEN: usize = 64 * 1024;

/// Longest line of chat text, in bytes.
pub const MAX_CHAT_TEXT: usize = 8 * 1024;

/// One message on a chat stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatMsg {
    /// A line of chat. `from` is ignored on the way in and filled by the
    /// side that knows who is typing.
    Text { from: String, text: String },
    /// Clipboard text. Sent only while the user has sharing switched on.
    Clipboard { text: String },
    /// Something happened that both should read: "user switched to view
    /// only", "clipboard sharing on".
    Notice { text: String },
    /// Console to agent: the technician of a view-only session asks the
    /// user for control (the user is prompted).
    AskControl,
    /// Agent to console: what the technician may do now (after the user
    /// answered, or took control away).
    Permission { control: bool },
    /// Agent to console: the user switched clipboard sharing on or off.
    ClipboardSharing { on: bool },
}

/// Largest clipboard text carried, in bytes.
pub const MAX_CLIPBOARD_TEXT: usize = 32 * 1024;

/// Checks a chat line before it is sent or shown: not empty, not too long,
/// no control characters other than newline and tab.
///
/// # Errors
/// What is wrong with it, in words for the person who typed it.
pub fn check_text(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("empty message".into());
    }
    if text.len() > MAX_CHAT_TEXT {
        return Err(format!(
            "message too long: {} bytes, at most {MAX_CHAT_TEXT}",
            text.len()
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        return Err(format!(
            "message contains control character U+{:04X}",
            c as u32
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_text_rules() {
        assert!(check_text("hello ä € 日本").is_ok());
        assert!(check_text("two\nlines\twith tab").is_ok());
        assert_eq!(check_text("  ").unwrap_err(), "empty message");
        assert!(
            check_text(&"x".repeat(MAX_CHAT_TEXT + 1))
                .unwrap_err()
                .starts_with("message too long")
        );
        assert_eq!(
            check_text("bell\u{7}").unwrap_err(),
            "message contains control character U+0007"
        );
    }

    #[test]
    fn chat_messages_round_trip() {
        for m in [
            ChatMsg::Text {
                from: "alice".into(),
                text: "hi ä".into(),
            },
            ChatMsg::Clipboard { text: "x".into() },
            ChatMsg::Notice { text: "n".into() },
            ChatMsg::AskControl,
            ChatMsg::Permission { control: true },
            ChatMsg::ClipboardSharing { on: false },
        ] {
            let bytes = crate::encode_message(&m, MAX_CHAT_LEN).unwrap();
            let back: ChatMsg = crate::decode_message(&bytes[4..]).unwrap();
            assert_eq!(back, m);
        }
    }
}
