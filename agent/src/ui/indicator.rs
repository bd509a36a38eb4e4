//! `lifeline-agent ui-indicator`: the always-visible window that says who
//! is on this screen, since when, and whether they can control it; with
//! Stop, View only, and the chat with the technician.
//!
//! It reads [`ToIndicator`] lines on stdin and writes [`FromIndicator`]
//! lines on stdout. When stdin closes (the agent ended the session or went
//! away), the window closes.

use super::{BANNER_RGB, FromIndicator, SessionFacts, ToIndicator};
use eframe::egui::{self, Color32, Pos2, Rect, RichText, Vec2};
use lifeline_proto::Permission;
use std::{
    io::{BufRead, Write},
    sync::mpsc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// The window's inner size in points.
pub const SIZE: [f32; 2] = [380.0, 330.0];
/// Where "Stop" is, window coordinates.
pub const STOP: Rect = Rect::from_min_max(Pos2::new(268.0, 84.0), Pos2::new(368.0, 120.0));
/// Where "View only" is (while the technician has control).
pub const VIEW_ONLY: Rect = Rect::from_min_max(Pos2::new(158.0, 84.0), Pos2::new(258.0, 120.0));
/// The chat input line.
pub const CHAT_INPUT: Rect = Rect::from_min_max(Pos2::new(12.0, 262.0), Pos2::new(300.0, 290.0));
/// The chat's Send button.
pub const SEND: Rect = Rect::from_min_max(Pos2::new(306.0, 262.0), Pos2::new(368.0, 290.0));
/// The "Share clipboard text" checkbox.
pub const CLIPBOARD: Rect = Rect::from_min_max(Pos2::new(12.0, 298.0), Pos2::new(368.0, 322.0));
/// The window title, which tests search for.
pub const TITLE: &str = "Lifeline: session in progress";

/// Chat lines the window keeps (the session's log has the whole chat, up
/// to its own limit): a technician pasting long logs again and again must
/// not leave the window laying out megabytes of text every frame, with the
/// Stop button under it.
pub const MAX_CHAT_SHOWN: usize = 300;

/// The indicator's state, apart from the window and the pipes.
#[derive(Debug)]
pub struct Indicator {
    pub facts: SessionFacts,
    /// When the session started, Unix seconds.
    pub since_unix: u64,
    pub control: bool,
    /// Chat lines and notices, oldest first: (who, text); who is empty for
    /// a notice.
    pub chat: Vec<(String, String)>,
    pub draft: String,
    pub stopping: bool,
    /// The user shares clipboard text (off until they switch it on).
    pub share_clipboard: bool,
}

impl Indicator {
    #[must_use]
    pub fn new(facts: SessionFacts, since_unix: u64) -> Self {
        let control = facts.permission == Permission::Control;
        Self {
            facts,
            since_unix,
            control,
            chat: Vec::new(),
            draft: String::new(),
            stopping: false,
            share_clipboard: false,
        }
    }

    /// Adds a chat line, forgetting the oldest beyond [`MAX_CHAT_SHOWN`].
    fn push_chat(&mut self, who: String, text: String) {
        if self.chat.len() >= MAX_CHAT_SHOWN {
            let extra = self.chat.len() + 1 - MAX_CHAT_SHOWN;
            self.chat.drain(..extra);
        }
        self.chat.push((who, text));
    }

    /// Applies a message from the agent.
    pub fn apply(&mut self, msg: ToIndicator) {
        match msg {
            ToIndicator::Chat { from, text } => self.push_chat(from, text),
            ToIndicator::Notice { text } => self.push_chat(String::new(), text),
            ToIndicator::Permission { control } => {
                self.control = control;
                self.facts.permission = if control {
                    Permission::Control
                } else {
                    Permission::View
                };
            }
        }
    }

    /// The status lines: who, what, since when.
    #[must_use]
    pub fn lines(&self, now_unix: u64) -> [String; 2] {
        let minutes = now_unix.saturating_sub(self.since_unix) / 60;
        let (h, m) = ((self.since_unix / 3600) % 24, (self.since_unix / 60) % 60);
        let ticket = self
            .facts
            .ticket
            .map(|t| format!(" · ticket #{t}"))
            .unwrap_or_default();
        [
            format!("{} {}", self.facts.who(), self.facts.doing(false)),
            format!("since {h:02}:{m:02} UTC ({minutes} min){ticket}"),
        ]
    }

    /// Draws the window; returns what the user did.
    pub fn ui(&mut self, ui: &mut egui::Ui, now_unix: u64) -> Vec<FromIndicator> {
        let mut out = Vec::new();
        let full = ui.max_rect();
        let at = |r: Rect| r.translate(full.min.to_vec2());
        let [r, g, b] = BANNER_RGB;
        let banner = Rect::from_min_size(full.min, Vec2::new(full.width(), 30.0));
        ui.painter()
            .rect_filled(banner, 0.0, Color32::from_rgb(r, g, b));
        let title = if self.stopping {
            "LIVE · stopping the session…"
        } else {
            "LIVE · someone is connected to this screen"
        };
        ui.put(
            banner.shrink2(Vec2::new(10.0, 0.0)),
            egui::Label::new(RichText::new(title).color(Color32::WHITE).strong()),
        );
        for (i, line) in self.lines(now_unix).iter().enumerate() {
            let rect = Rect::from_min_size(
                Pos2::new(full.min.x + 12.0, full.min.y + 36.0 + 22.0 * i as f32),
                Vec2::new(full.width() - 24.0, 20.0),
            );
            ui.put(rect, egui::Label::new(RichText::new(line)).truncate());
        }
        if self.control
            && !self.stopping
            && ui
                .put(at(VIEW_ONLY), egui::Button::new("View only"))
                .clicked()
        {
            out.push(FromIndicator::ViewOnly);
        }
        let stop = egui::Button::new(RichText::new("Stop").color(Color32::WHITE).strong())
            .fill(Color32::from_rgb(r, g, b));
        if ui.put(at(STOP), stop).clicked() && !self.stopping {
            self.stopping = true;
            out.push(FromIndicator::Stop);
        }
        // The chat: newest lines at the bottom, above the input line.
        let log = Rect::from_min_max(
            Pos2::new(full.min.x + 12.0, full.min.y + 128.0),
            Pos2::new(full.max.x - 12.0, full.min.y + 256.0),
        );
        let mut child = ui.new_child(egui::UiBuilder::new().max_rect(log));
        egui::Frame::group(child.style()).show(&mut child, |ui| {
            egui::ScrollArea::vertical()
                .stick_to_bottom(true)
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    if self.chat.is_empty() {
                        ui.weak("Chat with the technician here.");
                    }
                    for (who, text) in &self.chat {
                        if who.is_empty() {
                            ui.label(RichText::new(text).italics().weak());
                        } else {
                            ui.label(format!("{who}: {text}"));
                        }
                    }
                });
        });
        let edit = ui.put(
            at(CHAT_INPUT),
            egui::TextEdit::singleline(&mut self.draft).hint_text("Message"),
        );
        let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let send = ui.put(at(SEND), egui::Button::new("Send")).clicked();
        if (entered || send) && lifeline_proto::chat::check_text(&self.draft).is_ok() {
            let text = std::mem::take(&mut self.draft);
            self.push_chat("you".into(), text.clone());
            out.push(FromIndicator::Chat { text });
            if entered {
                edit.request_focus();
            }
        }
        let mut on = self.share_clipboard;
        let share = egui::Checkbox::new(&mut on, "Share clipboard text with the technician");
        if ui.put(at(CLIPBOARD), share).changed() {
            self.share_clipboard = on;
            out.push(FromIndicator::ClipboardSharing { on });
        }
        out
    }
}

/// The screen's size in pixels, asked of the X server.
fn screen_size() -> Option<(u16, u16)> {
    let (conn, screen) = x11rb::connect(None).ok()?;
    let s = x11rb::connection::Connection::setup(&conn)
        .roots
        .get(screen)?;
    Some((s.width_in_pixels, s.height_in_pixels))
}

/// Where a window of `size` sits centred on the screen.
#[must_use]
pub fn centered(size: [f32; 2]) -> Option<Pos2> {
    let (w, h) = screen_size()?;
    Some(Pos2::new(
        ((f32::from(w) - size[0]) / 2.0).max(0.0),
        ((f32::from(h) - size[1]) / 3.0).max(0.0),
    ))
}

/// Top-right corner, a little in from the edge; `slot` windows of the
/// same size further down (one per live session), wrapping to the top of
/// the next column to the left when the screen is full.
fn top_right(size: [f32; 2], slot: usize) -> Option<Pos2> {
    let (w, h) = screen_size()?;
    Some(stacked(size, slot, (f32::from(w), f32::from(h))))
}

fn stacked(size: [f32; 2], slot: usize, (w, h): (f32, f32)) -> Pos2 {
    const EDGE: f32 = 16.0;
    const GAP: f32 = 12.0;
    let per_column = (((h - EDGE) / (size[1] + GAP)).floor() as usize).max(1);
    let (column, row) = (slot / per_column, slot % per_column);
    Pos2::new(
        (w - EDGE - (size[0] + GAP) * column as f32 - size[0]).max(0.0),
        EDGE + (size[1] + GAP) * row as f32,
    )
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct IndicatorApp {
    indicator: Indicator,
    inbox: mpsc::Receiver<Option<ToIndicator>>,
}

impl eframe::App for IndicatorApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        while let Ok(msg) = self.inbox.try_recv() {
            match msg {
                Some(m) => self.indicator.apply(m),
                // The agent closed our stdin: the session is over.
                None => ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close),
            }
        }
        for ev in self.indicator.ui(ui, now_unix()) {
            let line = serde_json::to_string(&ev).unwrap_or_default();
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                // The agent is gone; nobody is connected through us.
                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
        ui.ctx().request_repaint_after(Duration::from_millis(500));
    }
}

/// Shows the indicator until the agent closes stdin. Runs on the main
/// thread, outside any async runtime.
///
/// # Errors
/// The window cannot be opened (no display, no OpenGL).
pub fn run(facts: SessionFacts, since_unix: u64, slot: usize) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel();
    let ctx = egui::Context::default();
    let wake = ctx.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<ToIndicator>(&line) {
                Ok(m) => {
                    if tx.send(Some(m)).is_err() {
                        return;
                    }
                }
                Err(e) => eprintln!("indicator: ignoring a bad line from the agent: {e}"),
            }
            wake.request_repaint();
        }
        let _ = tx.send(None);
        wake.request_repaint();
    });
    let options = super::window_options(
        egui::ViewportBuilder::default()
            .with_title(TITLE)
            .with_app_id("lifeline-indicator")
            // Never take the keyboard focus from what the user (or the
            // technician) is typing into.
            .with_active(false)
            .with_inner_size(SIZE)
            .with_resizable(false)
            .with_always_on_top(),
        top_right(SIZE, slot),
    );
    let started = Instant::now();
    eframe::run_native_ext(
        TITLE,
        options,
        Some(ctx),
        Box::new(move |_cc| {
            Ok(Box::new(IndicatorApp {
                indicator: Indicator::new(facts, since_unix),
                inbox: rx,
            }))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot show the session indicator: {e}"))?;
    tracing::debug!(secs = started.elapsed().as_secs(), "indicator closed");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn indicators_of_several_sessions_stack_without_covering_each_other() {
        let screen = (1920.0, 1080.0);
        let at: Vec<Pos2> = (0..5).map(|n| stacked(SIZE, n, screen)).collect();
        assert_eq!(at[0], Pos2::new(1920.0 - 16.0 - 380.0, 16.0));
        assert_eq!(at[1], Pos2::new(at[0].x, 16.0 + 330.0 + 12.0));
        for (i, a) in at.iter().enumerate() {
            assert!(a.x >= 0.0 && a.x + SIZE[0] <= screen.0, "{i}: {a:?}");
            assert!(a.y + SIZE[1] <= screen.1, "{i}: {a:?}");
            for b in &at[..i] {
                let apart = (a.x - b.x).abs() >= SIZE[0] || (a.y - b.y).abs() >= SIZE[1];
                assert!(apart, "{a:?} covers {b:?}");
            }
        }
        // Three fit in a column of 1080 pixels; the fourth starts another.
        assert!(at[3].x < at[0].x && at[3].y == 16.0, "{:?}", at[3]);
    }

    fn facts() -> SessionFacts {
        SessionFacts {
            technician: "bob".into(),
            role: "admin".into(),
            permission: Permission::Control,
            ticket: Some(7),
            purpose: "screen".into(),
        }
    }

    #[test]
    fn the_indicator_says_who_what_and_since_when() {
        // 2026-11-23 14:05:00 UTC.
        let since = 1_795_442_700;
        let mut ind = Indicator::new(facts(), since);
        assert_eq!(
            ind.lines(since + 185),
            [
                "bob (admin) can see and control this screen".to_string(),
                "since 14:05 UTC (3 min) · ticket #7".to_string(),
            ]
        );
        ind.apply(ToIndicator::Permission { control: false });
        assert_eq!(ind.lines(since)[0], "bob (admin) can see this screen");
        ind.apply(ToIndicator::Chat {
            from: "bob".into(),
            text: "hi".into(),
        });
        ind.apply(ToIndicator::Notice {
            text: "view only".into(),
        });
        assert_eq!(
            ind.chat,
            [
                ("bob".to_string(), "hi".to_string()),
                (String::new(), "view only".to_string())
            ]
        );
    }

    #[test]
    fn the_window_keeps_the_newest_chat_lines() {
        let mut ind = Indicator::new(facts(), 0);
        for i in 0..MAX_CHAT_SHOWN + 40 {
            ind.apply(ToIndicator::Chat {
                from: "bob".into(),
                text: format!("line {i}"),
            });
        }
        ind.apply(ToIndicator::Notice {
            text: "view only".into(),
        });
        assert_eq!(ind.chat.len(), MAX_CHAT_SHOWN);
        assert_eq!(ind.chat[0].1, "line 41");
        assert_eq!(
            ind.chat[MAX_CHAT_SHOWN - 2].1,
            format!("line {}", MAX_CHAT_SHOWN + 39)
        );
        assert_eq!(
            ind.chat[MAX_CHAT_SHOWN - 1],
            (String::new(), "view only".into())
        );
    }

    #[test]
    fn layout_fits_the_window() {
        let window = Rect::from_min_size(Pos2::ZERO, Vec2::from(SIZE));
        for r in [STOP, VIEW_ONLY, CHAT_INPUT, SEND, CLIPBOARD] {
            assert!(window.contains_rect(r), "{r:?}");
        }
        assert!(!STOP.intersects(VIEW_ONLY));
        assert!(!CHAT_INPUT.intersects(SEND));
        assert!(!CHAT_INPUT.intersects(CLIPBOARD));
    }

    #[test]
    fn wire_lines_are_stable_json() {
        assert_eq!(
            serde_json::to_string(&FromIndicator::Stop).unwrap(),
            "\"stop\""
        );
        assert_eq!(
            serde_json::to_string(&FromIndicator::Chat { text: "ok".into() }).unwrap(),
            r#"{"chat":{"text":"ok"}}"#
        );
        let m: ToIndicator = serde_json::from_str(r#"{"permission":{"control":false}}"#).unwrap();
        assert_eq!(m, ToIndicator::Permission { control: false });
    }
}
