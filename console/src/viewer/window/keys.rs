//! The technician's keyboard and mouse in the viewer window, turned into
//! input events for the agent.
//!
//! Printable text travels as text (so `ä € 日本` arrive whatever the
//! layouts on either side); keys without text (Enter, arrows, F-keys) by
//! name; Ctrl/Cmd shortcuts as combos. Pointer positions are mapped from the
//! window into the remote root window through the scale and the shown
//! monitor's offset.

use eframe::egui::{self, Event, Key, Pos2, Rect};
use lifeline_proto::input::{Action, InputEvent, MouseButton};

/// Where the remote screen is drawn and how to reach root coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mapping {
    /// The screen's rectangle in the window, in points.
    pub rect: Rect,
    /// Points per remote pixel.
    pub k: f32,
    /// Root-window position of the shown area's top-left pixel.
    pub origin: (i32, i32),
}

impl Mapping {
    /// The root-window pixel under `p`, or `None` outside the screen.
    #[must_use]
    pub fn to_remote(&self, p: Pos2) -> Option<(i32, i32)> {
        if !self.rect.contains(p) || self.k <= 0.0 {
            return None;
        }
        let x = ((p.x - self.rect.min.x) / self.k).floor() as i32;
        let y = ((p.y - self.rect.min.y) / self.k).floor() as i32;
        Some((x + self.origin.0, y + self.origin.1))
    }
}

/// The agent's name for a key that types no text.
#[must_use]
pub fn key_name(key: Key) -> Option<&'static str> {
    Some(match key {
        Key::Enter => "return",
        Key::Tab => "tab",
        Key::Escape => "esc",
        Key::Backspace => "backspace",
        Key::Delete => "delete",
        Key::Home => "home",
        Key::End => "end",
        Key::PageUp => "pageup",
        Key::PageDown => "pagedown",
        Key::ArrowUp => "up",
        Key::ArrowDown => "down",
        Key::ArrowLeft => "left",
        Key::ArrowRight => "right",
        Key::F1 => "f1",
        Key::F2 => "f2",
        Key::F3 => "f3",
        Key::F4 => "f4",
        Key::F5 => "f5",
        Key::F6 => "f6",
        Key::F7 => "f7",
        Key::F8 => "f8",
        Key::F9 => "f9",
        Key::F10 => "f10",
        Key::F11 => "f11",
        Key::F12 => "f12",
        _ => return None,
    })
}

/// Turns the window's events of one frame into input for the agent.
/// `last_move` remembers the last pointer position sent, so a still
/// pointer sends nothing.
pub fn translate(
    events: &[Event],
    map: &Mapping,
    last_move: &mut Option<(i32, i32)>,
) -> Vec<InputEvent> {
    let mut out = Vec::new();
    let move_to =
        |out: &mut Vec<InputEvent>, last_move: &mut Option<(i32, i32)>, at: (i32, i32)| {
            if *last_move != Some(at) {
                *last_move = Some(at);
                out.push(InputEvent::Move { x: at.0, y: at.1 });
            }
        };
    for ev in events {
        match ev {
            Event::PointerMoved(p) => {
                if let Some(at) = map.to_remote(*p) {
                    move_to(&mut out, last_move, at);
                }
            }
            Event::PointerButton {
                pos,
                button,
                pressed,
                ..
            } => {
                let Some(at) = map.to_remote(*pos) else {
                    continue;
                };
                let button = match button {
                    egui::PointerButton::Primary => MouseButton::Left,
                    egui::PointerButton::Secondary => MouseButton::Right,
                    egui::PointerButton::Middle => MouseButton::Middle,
                    _ => continue,
                };
                move_to(&mut out, last_move, at);
                out.push(InputEvent::Button {
                    button,
                    action: if *pressed {
                        Action::Press
                    } else {
                        Action::Release
                    },
                });
            }
            Event::MouseWheel { delta, .. } => {
                // egui: positive y scrolls up; the agent: positive dy down.
                let (dx, dy) = (delta.x.signum() as i32, -delta.y.signum() as i32);
                if (dx, dy) != (0, 0) && last_move.is_some() {
                    out.push(InputEvent::Scroll { dx, dy });
                }
            }
            Event::Text(t) if !t.is_empty() => out.push(InputEvent::Text(t.clone())),
            Event::Paste(t) if !t.is_empty() => out.push(InputEvent::Text(t.clone())),
            Event::Copy => out.push(combo(&["ctrl", "c"])),
            Event::Cut => out.push(combo(&["ctrl", "x"])),
            Event::Key {
                key,
                pressed,
                modifiers,
                ..
            } => {
                if let Some(name) = key_name(*key) {
                    out.push(InputEvent::Key {
                        key: name.into(),
                        action: if *pressed {
                            Action::Press
                        } else {
                            Action::Release
                        },
                    });
                } else if *pressed
                    && (modifiers.ctrl || modifiers.command)
                    && !matches!(key, Key::C | Key::X | Key::V)
                {
                    // Ctrl+letter types no text; send the shortcut.
                    let name = key.name().to_lowercase();
                    let mut keys = vec!["ctrl"];
                    if modifiers.alt {
                        keys.push("alt");
                    }
                    if modifiers.shift {
                        keys.push("shift");
                    }
                    keys.push(&name);
                    out.push(combo(&keys));
                }
            }
            _ => {}
        }
    }
    out
}

fn combo(keys: &[&str]) -> InputEvent {
    InputEvent::Combo(keys.iter().map(|k| (*k).to_string()).collect())
}

/// The "Send keys" menu: combinations a technician cannot type into a
/// window because the local desktop would take them.
pub const SPECIAL: &[(&str, &[&str])] = &[
    ("Ctrl+Alt+Del", &["ctrl", "alt", "delete"]),
    ("Alt+Tab", &["alt", "tab"]),
    ("Alt+F4", &["alt", "f4"]),
    ("Super", &["super"]),
    ("Ctrl+Esc", &["ctrl", "esc"]),
    ("Ctrl+Alt+T", &["ctrl", "alt", "t"]),
];

/// The event for a [`SPECIAL`] entry.
#[must_use]
pub fn special(keys: &[&str]) -> InputEvent {
    combo(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eframe::egui::{Modifiers, Vec2};

    fn map() -> Mapping {
        // A 1920×1080 monitor at x=1920 drawn at half size from (10, 40).
        Mapping {
            rect: Rect::from_min_size(Pos2::new(10.0, 40.0), Vec2::new(960.0, 540.0)),
            k: 0.5,
            origin: (1920, 0),
        }
    }

    #[test]
    fn pointer_positions_map_through_scale_and_monitor_offset() {
        let m = map();
        assert_eq!(m.to_remote(Pos2::new(10.0, 40.0)), Some((1920, 0)));
        assert_eq!(m.to_remote(Pos2::new(110.5, 90.0)), Some((2121, 100)));
        assert_eq!(m.to_remote(Pos2::new(5.0, 90.0)), None);
        let mut last = None;
        let evs = translate(
            &[
                Event::PointerMoved(Pos2::new(110.0, 90.0)),
                Event::PointerMoved(Pos2::new(110.2, 90.2)),
                Event::PointerButton {
                    pos: Pos2::new(110.0, 90.0),
                    button: egui::PointerButton::Secondary,
                    pressed: true,
                    modifiers: Modifiers::NONE,
                },
            ],
            &m,
            &mut last,
        );
        assert_eq!(
            evs,
            [
                InputEvent::Move { x: 2120, y: 100 },
                InputEvent::Button {
                    button: MouseButton::Right,
                    action: Action::Press
                }
            ]
        );
    }

    #[test]
    fn text_keys_and_shortcuts() {
        let key = |key, pressed, modifiers| Event::Key {
            key,
            physical_key: None,
            pressed,
            repeat: false,
            modifiers,
        };
        let mut last = None;
        let evs = translate(
            &[
                Event::Text("ä€日本".into()),
                key(Key::A, true, Modifiers::NONE),
                key(Key::Enter, true, Modifiers::NONE),
                key(Key::Enter, false, Modifiers::NONE),
                key(Key::L, true, Modifiers::CTRL),
                Event::Copy,
                key(Key::C, true, Modifiers::CTRL),
            ],
            &map(),
            &mut last,
        );
        assert_eq!(
            evs,
            [
                InputEvent::Text("ä€日本".into()),
                InputEvent::Key {
                    key: "return".into(),
                    action: Action::Press
                },
                InputEvent::Key {
                    key: "return".into(),
                    action: Action::Release
                },
                InputEvent::Combo(vec!["ctrl".into(), "l".into()]),
                InputEvent::Combo(vec!["ctrl".into(), "c".into()]),
            ]
        );
    }
}
