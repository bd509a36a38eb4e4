//! What the agent records of a session for the relay's log, filled in by
//! the session and its streams and sent when the session ends.

use lifeline_proto::session_log::{ClipboardDirection, ClipboardEvent, SessionReport};
use std::sync::{Arc, Mutex};

/// What the agent records of a session for its log: consent, frames,
/// chat and clipboard. Shared with the session's streams.
pub type Journal = Arc<Mutex<SessionReport>>;

/// Adds to a journal (a poisoned lock only loses the entry).
pub fn record(journal: &Journal, f: impl FnOnce(&mut SessionReport)) {
    if let Ok(mut r) = journal.lock() {
        f(&mut r);
    }
}

pub(crate) fn clipboard_event(
    direction: ClipboardDirection,
    text: &str,
    keep_text: bool,
) -> ClipboardEvent {
    ClipboardEvent {
        at_unix: lifeline_net::unix_secs(),
        direction,
        chars: text.chars().count() as u64,
        text: keep_text.then(|| text.to_string()),
    }
}
