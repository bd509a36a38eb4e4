//! What the tray shows and offers, apart from X: its states, the menu's
//! lines and where a click lands, and the JSON lines it trades with the
//! agent.

use serde::{Deserialize, Serialize};

/// Height of a menu line in pixels.
pub const LINE_HEIGHT: i16 = 22;
/// Width of the menu in pixels.
pub const MENU_WIDTH: u16 = 260;

/// What the icon shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrayState {
    /// Nothing going on.
    Idle,
    /// The user asked for help; the ticket's number and status.
    HelpRequested { ticket: u64, status: String },
    /// Someone is connected to this machine.
    Live { technician: String },
}

impl TrayState {
    /// The ring's colour, RGB.
    #[must_use]
    pub fn rgb(&self) -> [u8; 3] {
        match self {
            TrayState::Idle => [0, 137, 123],
            TrayState::HelpRequested { .. } => [245, 166, 35],
            TrayState::Live { .. } => super::BANNER_RGB,
        }
    }

    /// The menu's first, informative line.
    #[must_use]
    pub fn status_line(&self) -> String {
        match self {
            TrayState::Idle => "Lifeline: no session".into(),
            TrayState::HelpRequested { ticket, status } => {
                format!("Help requested: ticket #{ticket} ({status})")
            }
            TrayState::Live { technician } if technician.contains(", ") => {
                format!("LIVE: {technician} are connected")
            }
            TrayState::Live { technician } => format!("LIVE: {technician} is connected"),
        }
    }
}

/// The agent to the tray.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToTray {
    State(TrayState),
}

/// The tray to the agent: what the user chose in the menu.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromTray {
    /// "Request help…": open the help dialog.
    RequestHelp,
    /// "Stop session": end every live session.
    StopSessions,
    /// "Quit": the icon goes away (the agent keeps serving).
    Quit,
}

/// A menu entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    Status,
    RequestHelp,
    MachineId,
    StopSession,
    Quit,
}

impl Item {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Item::Status => "",
            Item::RequestHelp => "Request help...",
            Item::MachineId => "My machine ID",
            Item::StopSession => "Stop session",
            Item::Quit => "Quit",
        }
    }
}

/// The menu's lines for a state, top to bottom.
#[must_use]
pub fn menu_items(state: &TrayState) -> Vec<Item> {
    let mut items = vec![Item::Status, Item::RequestHelp, Item::MachineId];
    if matches!(state, TrayState::Live { .. }) {
        items.push(Item::StopSession);
    }
    items.push(Item::Quit);
    items
}

/// The menu line under a point `y` pixels from the menu's top.
#[must_use]
pub fn item_at(items: &[Item], y: i16) -> Option<Item> {
    if y < 4 {
        return None;
    }
    items.get(((y - 4) / LINE_HEIGHT) as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_menu_offers_stop_only_while_live() {
        assert_eq!(
            menu_items(&TrayState::Idle),
            [Item::Status, Item::RequestHelp, Item::MachineId, Item::Quit]
        );
        let live = TrayState::Live {
            technician: "alice".into(),
        };
        assert!(menu_items(&live).contains(&Item::StopSession));
        assert_eq!(live.status_line(), "LIVE: alice is connected");
        let two = TrayState::Live {
            technician: "alice, bob".into(),
        };
        assert_eq!(two.status_line(), "LIVE: alice, bob are connected");
    }

    #[test]
    fn clicks_map_to_lines() {
        let items = menu_items(&TrayState::Idle);
        assert_eq!(item_at(&items, 2), None);
        assert_eq!(item_at(&items, 4), Some(Item::Status));
        assert_eq!(
            item_at(&items, 4 + LINE_HEIGHT + 3),
            Some(Item::RequestHelp)
        );
        assert_eq!(item_at(&items, 4 + 3 * LINE_HEIGHT + 1), Some(Item::Quit));
        assert_eq!(item_at(&items, 4 + 4 * LINE_HEIGHT + 1), None);
    }

    #[test]
    fn states_have_distinct_colours_and_json() {
        let help = TrayState::HelpRequested {
            ticket: 3,
            status: "open".into(),
        };
        assert_ne!(TrayState::Idle.rgb(), help.rgb());
        assert_eq!(help.status_line(), "Help requested: ticket #3 (open)");
        assert_eq!(
            serde_json::to_string(&ToTray::State(help)).unwrap(),
            r#"{"state":{"help_requested":{"ticket":3,"status":"open"}}}"#
        );
        assert_eq!(
            serde_json::to_string(&FromTray::RequestHelp).unwrap(),
            r#""request_help""#
        );
    }
}
