//! What the user sees of a session: the consent prompt and the indicator.
//!
//! Each is a small eframe window run by a child process of the agent
//! (`lifeline-agent ui-prompt …`, `lifeline-agent ui-indicator …`): a window
//! needs the main thread of its process, the agent's main thread runs the
//! network, and a crashed or killed window never takes the agent with it.
//! The agent and its windows talk in JSON lines over the child's stdin and
//! stdout ([`ToIndicator`], [`FromIndicator`], [`PromptAnswer`]).

pub mod child;
pub mod help_dialog;
pub mod indicator;
pub mod prompt;
pub mod tray;
pub mod tray_menu;

use lifeline_proto::Permission;
use serde::{Deserialize, Serialize};

/// What a window needs to say who is asking or watching.
#[derive(Clone, Debug, clap::Args)]
pub struct SessionFacts {
    /// The technician's login name.
    #[arg(long)]
    pub technician: String,
    /// The technician's role (technician, admin).
    #[arg(long)]
    pub role: String,
    /// `control` or `view`.
    #[arg(long, value_parser = parse_permission)]
    pub permission: Permission,
    /// The ticket the session serves, if any.
    #[arg(long)]
    pub ticket: Option<u64>,
    /// What the session is for: `screen` or `chat`.
    #[arg(long, default_value = "screen")]
    pub purpose: String,
}

impl SessionFacts {
    /// "alice (technician)".
    #[must_use]
    pub fn who(&self) -> String {
        format!("{} ({})", self.technician, self.role)
    }

    /// What the technician asks for or does, in the user's words.
    #[must_use]
    pub fn doing(&self, asking: bool) -> &'static str {
        match (self.purpose.as_str(), self.permission, asking) {
            ("chat", _, true) => "asks to chat with you",
            ("chat", _, false) => "is chatting with you",
            (_, Permission::Control, true) => "asks to see and control this screen",
            (_, Permission::View, true) => "asks to see this screen",
            (_, Permission::Control, false) => "can see and control this screen",
            (_, Permission::View, false) => "can see this screen",
        }
    }
}

/// Parses `control` or `view`.
///
/// # Errors
/// Any other word.
pub fn parse_permission(s: &str) -> Result<Permission, String> {
    match s {
        "control" => Ok(Permission::Control),
        "view" => Ok(Permission::View),
        _ => Err(format!("{s:?} is not a permission: use control or view")),
    }
}

/// The word [`parse_permission`] reads.
#[must_use]
pub fn permission_word(p: Permission) -> &'static str {
    match p {
        Permission::Control => "control",
        Permission::View => "view",
    }
}

/// The prompt's one line of output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptAnswer {
    /// Allowed as asked (control, or view when view was asked).
    Allow,
    /// Allowed to watch only.
    AllowView,
    /// Denied.
    Deny,
    /// Nobody answered in time.
    Timeout,
}

/// The agent to the indicator window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToIndicator {
    /// A chat line from the technician.
    Chat { from: String, text: String },
    /// Something the user should read.
    Notice { text: String },
    /// What the technician may do now.
    Permission { control: bool },
}

/// The indicator window to the agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromIndicator {
    /// The user pressed Stop.
    Stop,
    /// The user took control away: watching only from now on.
    ViewOnly,
    /// The user wrote a chat line.
    Chat { text: String },
    /// The user switched clipboard sharing on or off.
    ClipboardSharing { on: bool },
    /// The window is gone (closed by hand, or crashed): said by the agent
    /// itself when the window's output ends, never by the window.
    Closed,
}

/// The RGB of the indicator's banner: a red no desktop theme uses for a
/// whole strip, so a screenshot shows at a glance that someone is watching
/// (tests look for it too).
pub const BANNER_RGB: [u8; 3] = [196, 30, 58];

/// Options for one of the agent's fixed-size windows, placed at
/// `position` when the screen's size is known.
pub(crate) fn window_options(
    viewport: eframe::egui::ViewportBuilder,
    position: Option<eframe::egui::Pos2>,
) -> eframe::NativeOptions {
    let viewport = match position {
        Some(p) => viewport.with_position(p),
        None => viewport,
    };
    eframe::NativeOptions {
        viewport,
        ..Default::default()
    }
}
