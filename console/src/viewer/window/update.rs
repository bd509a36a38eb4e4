//! What the network side hands the window between two repaints.

use super::meter::FrameSample;
use eframe::egui::ColorImage;
use lifeline_proto::{chat::ChatMsg, view::CursorState};

/// A screen session that replaced one the relay lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resumed {
    /// The new session.
    pub session: u64,
    /// Whether the user granted control in it.
    pub control: bool,
}

/// What the network side hands over between two repaints. Only the newest
/// image is kept: the UI draws at its own pace and stale frames are useless.
#[derive(Debug, Default)]
pub struct Update {
    /// The newest decoded screen, if one arrived.
    pub image: Option<ColorImage>,
    /// With `image`: `false` while part of it is a moving area at half
    /// resolution (smooth motion).
    pub exact: Option<bool>,
    /// Every frame that arrived, for the status bar.
    pub samples: Vec<FrameSample>,
    /// The newest pointer state, with the newest shape seen.
    pub cursor: Option<CursorState>,
    /// Why the stream stopped, once it has.
    pub ended: Option<String>,
    /// The stream is back in a new session (after the relay went away).
    pub resumed: Option<Resumed>,
    /// Input is no longer accepted, and why.
    pub control_lost: Option<String>,
    /// Chat messages from the agent, oldest first.
    pub chat: Vec<ChatMsg>,
}

impl Update {
    /// Adds a newer update to this one, which the window has not taken yet.
    pub fn absorb(&mut self, newer: Update) {
        if newer.image.is_some() {
            self.image = newer.image;
            self.exact = newer.exact;
        }
        self.samples.extend(newer.samples);
        if let Some(c) = newer.cursor {
            self.merge_cursor(c);
        }
        if newer.ended.is_some() {
            self.ended = newer.ended;
            self.resumed = None;
        }
        if newer.resumed.is_some() {
            self.resumed = newer.resumed;
            self.ended = None;
        }
        if newer.control_lost.is_some() {
            self.control_lost = newer.control_lost;
        }
        self.chat.extend(newer.chat);
    }

    /// Folds a pointer update in; a position-only update must not lose a
    /// shape that arrived just before it.
    pub fn merge_cursor(&mut self, c: CursorState) {
        let shape = c
            .shape
            .or_else(|| self.cursor.take().and_then(|old| old.shape));
        self.cursor = Some(CursorState { shape, ..c });
    }
}
