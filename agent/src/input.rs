//! Injecting the technician's keyboard and mouse, and refusing it when the
//! session is view-only. The agent decides, not the console: a console that
//! sends input in a view-only session gets every event refused and counted.

use crate::session::SessionState;
use enigo::{Axis, Button, Coordinate, Direction, Enigo, Key, Keyboard, Mouse, Settings};
use lifeline_net::e2e::{SecureRecv, SecureSend};
use lifeline_proto::{
    AgentToRelay, Permission, SessionId,
    input::{Action, InputEvent, InputMsg, InputReply, MAX_INPUT_LEN, MouseButton},
};
use std::sync::mpsc as std_mpsc;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

/// Something that turns events into real input.
pub trait Injector {
    /// Injects one event.
    ///
    /// # Errors
    /// A message for the technician (unknown key, X error).
    fn inject(&mut self, event: &InputEvent) -> Result<(), String>;
}

/// enigo on the X display in `DISPLAY`.
pub struct EnigoInjector {
    enigo: Enigo,
}

impl EnigoInjector {
    /// Connects to the display.
    ///
    /// # Errors
    /// "no display" with the reason.
    pub fn open() -> Result<Self, String> {
        if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
            return Err("no display (DISPLAY unset)".into());
        }
        let enigo = Enigo::new(&Settings::default())
            .map_err(|e| format!("no display (X server unreachable: {e})"))?;
        Ok(Self { enigo })
    }
}

/// Maps a key name to an enigo key.
pub fn key_for(name: &str) -> Option<Key> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(Key::Unicode(c));
    }
    Some(match name {
        "ctrl" | "control" => Key::Control,
        "alt" => Key::Alt,
        "shift" => Key::Shift,
        "super" | "meta" | "win" | "cmd" => Key::Meta,
        "return" | "enter" => Key::Return,
        "tab" => Key::Tab,
        "esc" | "escape" => Key::Escape,
        "backspace" => Key::Backspace,
        "delete" | "del" => Key::Delete,
        "space" => Key::Space,
        "plus" => Key::Unicode('+'),
        "home" => Key::Home,
        "end" => Key::End,
        "pageup" => Key::PageUp,
        "pagedown" => Key::PageDown,
        "up" => Key::UpArrow,
        "down" => Key::DownArrow,
        "left" => Key::LeftArrow,
        "right" => Key::RightArrow,
        "f1" => Key::F1,
        "f2" => Key::F2,
        "f3" => Key::F3,
        "f4" => Key::F4,
        "f5" => Key::F5,
        "f6" => Key::F6,
        "f7" => Key::F7,
        "f8" => Key::F8,
        "f9" => Key::F9,
        "f10" => Key::F10,
        "f11" => Key::F11,
        "f12" => Key::F12,
        _ => return None,
    })
}

fn direction(a: Action) -> Direction {
    match a {
        Action::Press => Direction::Press,
        Action::Release => Direction::Release,
        Action::Click => Direction::Click,
    }
}

impl Injector for EnigoInjector {
    fn inject(&mut self, event: &InputEvent) -> Result<(), String> {
        let e = &mut self.enigo;
        let unknown = |k: &str| format!("unknown key {k:?}");
        let r = match event {
            InputEvent::Text(t) => e.text(t),
            InputEvent::Key { key, action } => {
                let k = key_for(key).ok_or_else(|| unknown(key))?;
                e.key(k, direction(*action))
            }
            InputEvent::Combo(keys) => {
                let parsed: Vec<Key> = keys
                    .iter()
                    .map(|k| key_for(k).ok_or_else(|| unknown(k)))
                    .collect::<Result<_, _>>()?;
                let mut r = Ok(());
                for k in &parsed {
                    r = r.and(e.key(*k, Direction::Press));
                }
                for k in parsed.iter().rev() {
                    r = r.and(e.key(*k, Direction::Release));
                }
                r
            }
            InputEvent::Move { x, y } => e.move_mouse(*x, *y, Coordinate::Abs),
            InputEvent::Button { button, action } => {
                let b = match button {
                    MouseButton::Left => Button::Left,
                    MouseButton::Middle => Button::Middle,
                    MouseButton::Right => Button::Right,
                };
                e.button(b, direction(*action))
            }
            InputEvent::Scroll { dx, dy } => {
                let mut r = Ok(());
                if *dy != 0 {
                    r = r.and(e.scroll(*dy, Axis::Vertical));
                }
                if *dx != 0 {
                    r = r.and(e.scroll(*dx, Axis::Horizontal));
                }
                r
            }
        };
        r.map_err(|e| e.to_string())
    }
}

/// Serves one input stream of `session`. What the technician may do is
/// read from `state` at every event: the user can take control away in the
/// middle of a session, and the session's end closes the stream.
pub async fn serve(
    session: SessionId,
    state: watch::Receiver<SessionState>,
    mut send: SecureSend,
    mut recv: SecureRecv,
    notes: mpsc::UnboundedSender<AgentToRelay>,
) {
    // enigo is blocking and tied to one X connection: a thread owns it,
    // started at the first event it has to inject.
    let mut injector: Option<std_mpsc::Sender<InputMsg>> = None;
    let (reply_tx, mut reply_rx) = mpsc::unbounded_channel::<InputReply>();
    let mut refused = 0u64;
    let mut end = state.clone();
    loop {
        tokio::select! {
            msg = recv.read_msg::<InputMsg>(MAX_INPUT_LEN) => {
                let msg = match msg {
                    Ok(Some(m)) => m,
                    Ok(None) => break,
                    Err(e) => {
                        warn!(session, "input stream: {e}");
                        break;
                    }
                };
                let permission = state.borrow().permission;
                if permission == Permission::View {
                    refused += 1;
                    let _ = notes.send(AgentToRelay::InputRefused { session, total: refused });
                    let reply = InputReply::Refused {
                        seq: msg.seq,
                        reason: "view-only session: input refused by the agent".into(),
                    };
                    if send.write_msg(&reply, 1024).await.is_err() {
                        break;
                    }
                    continue;
                }
                let tx = injector.get_or_insert_with(|| {
                    let (ev_tx, ev_rx) = std_mpsc::channel::<InputMsg>();
                    let reply_tx = reply_tx.clone();
                    let _ = std::thread::Builder::new()
                        .name("input".into())
                        .spawn(move || inject_loop(&ev_rx, &reply_tx));
                    ev_tx
                });
                if tx.send(msg).is_err() {
                    break;
                }
            }
            Some(reply) = reply_rx.recv() => {
                if send.write_msg(&reply, 1024).await.is_err() {
                    break;
                }
            }
            () = crate::session::ended(&mut end) => {
                send.reset(0);
                break;
            }
        }
    }
    if refused > 0 {
        info!(session, refused, "view-only session: input refused");
    }
}

fn inject_loop(events: &std_mpsc::Receiver<InputMsg>, replies: &mpsc::UnboundedSender<InputReply>) {
    let mut injector = EnigoInjector::open();
    while let Ok(msg) = events.recv() {
        let result = match &mut injector {
            Ok(inj) => inj.inject(&msg.event),
            Err(e) => Err(e.clone()),
        };
        let reply = match result {
            Ok(()) => InputReply::Done { seq: msg.seq },
            Err(reason) => InputReply::Refused {
                seq: msg.seq,
                reason,
            },
        };
        if replies.send(reply).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_map_to_keys() {
        assert_eq!(key_for("ctrl"), Some(Key::Control));
        assert_eq!(key_for("T"), Some(Key::Unicode('T')));
        assert_eq!(key_for("ä"), Some(Key::Unicode('ä')));
        assert_eq!(key_for("f12"), Some(Key::F12));
        assert_eq!(key_for("hyperdrive"), None);
    }
}
