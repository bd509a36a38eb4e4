//! Messages of an input stream ([`crate::Channel::Input`]): keyboard and
//! mouse from the technician, one acknowledgement per event from the agent.
//!
//! Input has a stream of its own so that a large screen frame never delays
//! a keystroke. Coordinates are in the agent's root-window pixels.

use serde::{Deserialize, Serialize};

/// Largest input message (a pasted paragraph of text fits).
pub const MAX_INPUT_LEN: usize = 64 * 1024;

/// Press, release, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Press,
    Release,
    Click,
}

/// A mouse button.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MouseButton {
    Left,
    Middle,
    Right,
}

/// One input event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputEvent {
    /// Type this text (any Unicode), whatever the keyboard layout.
    Text(String),
    /// A key by name (`ctrl`, `alt`, `shift`, `super`, `return`, `tab`,
    /// `esc`, `backspace`, `delete`, arrows, `f1`…`f12`, `space`, …) or a
    /// single character.
    Key { key: String, action: Action },
    /// Press these keys in order, then release them in reverse
    /// (`ctrl+alt+t`).
    Combo(Vec<String>),
    /// Move the pointer to these root-window coordinates.
    Move { x: i32, y: i32 },
    /// A mouse button.
    Button { button: MouseButton, action: Action },
    /// Scroll: positive `dy` scrolls down, positive `dx` right.
    Scroll { dx: i32, dy: i32 },
}

/// Console to agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputMsg {
    pub seq: u64,
    pub event: InputEvent,
}

/// Agent to console, one per [`InputMsg`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputReply {
    /// Injected.
    Done { seq: u64 },
    /// Not injected, and why (view-only session, unknown key, no display).
    Refused { seq: u64, reason: String },
}

/// Splits `ctrl+alt+t` into key names, lower-cased; `+` itself is written
/// `plus`.
pub fn parse_combo(combo: &str) -> Vec<String> {
    combo
        .split('+')
        .map(|k| k.trim())
        .filter(|k| !k.is_empty())
        .map(|k| {
            if k.chars().count() == 1 {
                k.to_string()
            } else {
                k.to_lowercase()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combos_split_and_normalise() {
        assert_eq!(parse_combo("Ctrl+Alt+T"), ["ctrl", "alt", "T"]);
        assert_eq!(parse_combo("ctrl + plus"), ["ctrl", "plus"]);
        assert!(parse_combo("").is_empty());
    }
}
