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
    let mut injector: Option<mpsc::Sender<Job>> = None;
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
                    // Whatever the technician still holds is let go.
                    if let Some(tx) = &injector {
                        let _ = tx.try_send(Job::ReleaseHeld);
                    }
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
                    let (ev_tx, mut ev_rx) = mpsc::channel::<Job>(INPUT_QUEUE);
                    let reply_tx = reply_tx.clone();
                    let state = state.clone();
                    let _ = std::thread::Builder::new().name("input".into()).spawn(move || {
                        inject_loop(EnigoInjector::open(), &mut ev_rx, &state, &reply_tx);
                    });
                    ev_tx
                });
                // Waits for room: a console sending faster than input can
                // be typed is read no faster than that.
                if tx.send(Job::Event(msg)).await.is_err() {
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

/// Events waiting for the injecting thread at most. A console that sends
/// faster than input can be typed waits for room; what is queued when the
/// user takes control back is refused, not typed.
pub const INPUT_QUEUE: usize = 32;

/// Characters of a text typed between two looks at the permission: a long
/// paste stops within this many once the user takes control back.
pub const TEXT_CHUNK: usize = 16;

/// What the injecting thread is asked to do.
enum Job {
    /// Inject this event, if the technician still has control.
    Event(InputMsg),
    /// Control was taken back: let go of every key and button still held.
    ReleaseHeld,
}

/// The release of what `event` holds down (a key or button pressed), or
/// `None`.
fn release_of(event: &InputEvent) -> Option<InputEvent> {
    match event {
        InputEvent::Key {
            key,
            action: Action::Press,
        } => Some(InputEvent::Key {
            key: key.clone(),
            action: Action::Release,
        }),
        InputEvent::Button {
            button,
            action: Action::Press,
        } => Some(InputEvent::Button {
            button: *button,
            action: Action::Release,
        }),
        _ => None,
    }
}

/// Injects queued events until the stream's end, each only while the
/// technician still has control of a live session (the user may have taken
/// it back since the event was read from the stream). Keys and buttons the
/// technician holds down are let go when control goes and at the end, so
/// that a held Ctrl does not turn the user's next "c" into Ctrl+C.
fn inject_loop(
    injector: Result<impl Injector, String>,
    jobs: &mut mpsc::Receiver<Job>,
    state: &watch::Receiver<SessionState>,
    replies: &mpsc::UnboundedSender<InputReply>,
) {
    let mut injector = injector;
    let mut held: Vec<InputEvent> = Vec::new();
    let release_all = |injector: &mut Result<_, String>, held: &mut Vec<InputEvent>| {
        for ev in held.drain(..).rev() {
            if let Ok(inj) = injector.as_mut() {
                let _ = Injector::inject(inj, &ev);
            }
        }
    };
    let refusal = || {
        let s = *state.borrow();
        if s.ended {
            Some("the session ended: not injected")
        } else if s.permission != Permission::Control {
            Some("control was taken back by the user: not injected")
        } else {
            None
        }
    };
    while let Some(job) = jobs.blocking_recv() {
        let msg = match job {
            Job::ReleaseHeld => {
                release_all(&mut injector, &mut held);
                continue;
            }
            Job::Event(msg) => msg,
        };
        if let Some(why) = refusal() {
            release_all(&mut injector, &mut held);
            let reply = InputReply::Refused {
                seq: msg.seq,
                reason: why.into(),
            };
            if replies.send(reply).is_err() {
                break;
            }
            continue;
        }
        let result = match (&mut injector, &msg.event) {
            (Err(e), _) => Err(e.clone()),
            (Ok(inj), InputEvent::Text(text)) => {
                let chars: Vec<char> = text.chars().collect();
                let mut typed = 0;
                let mut r = Ok(());
                for chunk in chars.chunks(TEXT_CHUNK) {
                    if typed > 0 && refusal().is_some() {
                        r = Err(format!(
                            "control was taken back by the user after {typed} of {} characters",
                            chars.len()
                        ));
                        break;
                    }
                    r = inj.inject(&InputEvent::Text(chunk.iter().collect()));
                    if r.is_err() {
                        break;
                    }
                    typed += chunk.len();
                }
                r
            }
            (Ok(inj), event) => inj.inject(event),
        };
        if result.is_ok() {
            if let Some(release) = release_of(&msg.event) {
                if !held.contains(&release) {
                    held.push(release);
                }
            } else {
                held.retain(|h| h != &msg.event);
            }
        }
        let reply = match result {
            Ok(()) => InputReply::Done { seq: msg.seq },
            Err(reason) => InputReply::Refused {
                seq: msg.seq,
                reason,
            },
        };
        if replies.send(reply).is_err() {
            break;
        }
    }
    release_all(&mut injector, &mut held);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what it injects; takes control away after `flip_after`
    /// injections, as a user clicking "View only" meanwhile.
    struct Recorder {
        seen: std::sync::Arc<std::sync::Mutex<Vec<InputEvent>>>,
        flip_after: usize,
        state: watch::Sender<SessionState>,
    }

    impl Injector for Recorder {
        fn inject(&mut self, event: &InputEvent) -> Result<(), String> {
            let mut seen = self.seen.lock().unwrap();
            seen.push(event.clone());
            if seen.len() == self.flip_after {
                self.state.send_modify(|s| s.permission = Permission::View);
            }
            Ok(())
        }
    }

    /// Queues `events`, runs the loop with control taken back after
    /// `flip_after` injections; answers what was injected and the replies.
    fn run(events: Vec<InputEvent>, flip_after: usize) -> (Vec<InputEvent>, Vec<InputReply>) {
        let (state_tx, state) = watch::channel(SessionState {
            permission: Permission::Control,
            ended: false,
        });
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let rec = Recorder {
            seen: seen.clone(),
            flip_after,
            state: state_tx,
        };
        let (tx, mut rx) = mpsc::channel(INPUT_QUEUE);
        for (seq, event) in events.into_iter().enumerate() {
            tx.try_send(Job::Event(InputMsg {
                seq: seq as u64,
                event,
            }))
            .unwrap();
        }
        drop(tx);
        let (reply_tx, mut reply_rx) = mpsc::unbounded_channel();
        inject_loop(Ok(rec), &mut rx, &state, &reply_tx);
        drop(reply_tx);
        let mut replies = Vec::new();
        while let Ok(r) = reply_rx.try_recv() {
            replies.push(r);
        }
        let seen = seen.lock().unwrap().clone();
        (seen, replies)
    }

    #[test]
    fn queued_input_is_not_typed_once_the_user_takes_control_back() {
        let click = |n: i32| InputEvent::Move { x: n, y: n };
        let (seen, replies) = run((0..5).map(click).collect(), 2);
        assert_eq!(seen, [click(0), click(1)]);
        assert_eq!(replies.len(), 5);
        assert!(matches!(replies[1], InputReply::Done { seq: 1 }));
        for (seq, r) in replies.iter().enumerate().skip(2) {
            let InputReply::Refused { seq: s, reason } = r else {
                panic!("typed after View only: {r:?}");
            };
            assert_eq!(*s as usize, seq);
            assert!(reason.contains("taken back by the user"), "{reason}");
        }
    }

    /// The text of injected `Text` events, in order.
    fn text_of(seen: &[InputEvent]) -> String {
        seen.iter()
            .map(|e| match e {
                InputEvent::Text(t) => t.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn keys_and_buttons_held_are_let_go_when_control_goes() {
        let key = |key: &str, action| InputEvent::Key {
            key: key.into(),
            action,
        };
        let left = |action| InputEvent::Button {
            button: MouseButton::Left,
            action,
        };
        let events = vec![
            key("ctrl", Action::Press),
            key("shift", Action::Press),
            key("shift", Action::Release),
            left(Action::Press),
            InputEvent::Move { x: 5, y: 5 },
            key("c", Action::Click),
        ];
        // Control goes after the fourth injection (the button press).
        let (seen, replies) = run(events.clone(), 4);
        assert_eq!(
            seen,
            [
                events[0].clone(),
                events[1].clone(),
                events[2].clone(),
                events[3].clone(),
                // Let go, last pressed first; shift was released already.
                left(Action::Release),
                key("ctrl", Action::Release),
            ]
        );
        assert!(matches!(replies[4], InputReply::Refused { .. }));
        assert!(matches!(replies[5], InputReply::Refused { .. }));
        // The stream's end lets go too, with control kept.
        let (seen, _) = run(vec![key("alt", Action::Press)], usize::MAX);
        assert_eq!(
            seen,
            [key("alt", Action::Press), key("alt", Action::Release)]
        );
    }

    #[test]
    fn a_long_paste_stops_within_a_chunk_of_view_only() {
        let text: String = "password123-".repeat(20);
        let (seen, replies) = run(vec![InputEvent::Text(text.clone())], 2);
        let typed = text_of(&seen);
        assert_eq!(typed, text.chars().take(2 * TEXT_CHUNK).collect::<String>());
        let [InputReply::Refused { reason, .. }] = &replies[..] else {
            panic!("{replies:?}");
        };
        assert!(
            reason.contains(&format!("after {} of 240 characters", 2 * TEXT_CHUNK)),
            "{reason}"
        );
        // With control kept, the whole text is typed, in order.
        let (seen, replies) = run(vec![InputEvent::Text(text.clone())], usize::MAX);
        let typed = text_of(&seen);
        assert_eq!(typed, text);
        assert!(matches!(replies[..], [InputReply::Done { seq: 0 }]));
    }

    #[test]
    fn key_names_map_to_keys() {
        assert_eq!(key_for("ctrl"), Some(Key::Control));
        assert_eq!(key_for("T"), Some(Key::Unicode('T')));
        assert_eq!(key_for("ä"), Some(Key::Unicode('ä')));
        assert_eq!(key_for("f12"), Some(Key::F12));
        assert_eq!(key_for("hyperdrive"), None);
    }
}
