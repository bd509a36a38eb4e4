//! What the viewer window shows, independent of eframe so tests can drive
//! it in a headless egui context: the remote screen, the remote pointer, a
//! top bar (scaling, monitor) and a status bar.

pub use super::update::{Resumed, Update};
use super::{
    keys::{self, Mapping},
    meter::{Meter, Summary},
};
use eframe::egui::{
    self, Color32, ColorImage, Pos2, Rect, RichText, Sense, TextureHandle, TextureOptions, Vec2,
};
use lifeline_proto::{
    chat::ChatMsg,
    input::InputEvent,
    screen::Frame,
    view::{CursorShape, MonitorInfo},
};
use std::time::Instant;

/// How the remote screen is scaled into the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scale {
    /// The whole screen, as large as the window allows, aspect kept.
    #[default]
    Fit,
    /// One remote pixel per physical pixel, scrolled when larger.
    Actual,
}

/// Something the technician asked for that the network side must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Show this monitor (`None`: all monitors).
    SelectMonitor(Option<u32>),
}

/// What the window asks of the chat stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatOut {
    /// Send this message (a line, a request for control).
    Send(ChatMsg),
    /// Send the technician's clipboard text to the user.
    SendClipboard,
}

/// Converts a decoded frame (0xXXRRGGBB pixels) into an egui image.
#[must_use]
pub fn frame_to_image(frame: &Frame) -> ColorImage {
    let pixels = frame
        .pixels()
        .iter()
        .map(|p| {
            let [b, g, r, _] = p.to_le_bytes();
            Color32::from_rgb(r, g, b)
        })
        .collect();
    ColorImage::new([frame.width() as usize, frame.height() as usize], pixels)
}

fn cursor_to_image(shape: &CursorShape) -> Option<ColorImage> {
    let (w, h) = (usize::from(shape.width), usize::from(shape.height));
    if w == 0 || h == 0 || shape.argb.len() != w * h {
        return None;
    }
    let pixels = shape
        .argb
        .iter()
        .map(|p| {
            let [b, g, r, a] = p.to_le_bytes();
            Color32::from_rgba_unmultiplied(r, g, b, a)
        })
        .collect();
    Some(ColorImage::new([w, h], pixels))
}

/// The remote pointer: position in remote pixels and its image.
#[derive(Default)]
struct Pointer {
    pos: Option<(i32, i32)>,
    texture: Option<TextureHandle>,
    hot: Vec2,
}

/// The viewer's state and drawing.
pub struct ViewerState {
    hostname: String,
    monitors: Vec<MonitorInfo>,
    selected: Option<u32>,
    scale: Scale,
    /// One texture for the whole session, updated in place per frame.
    screen: Option<TextureHandle>,
    screen_size: [usize; 2],
    /// Part of the shown screen is a moving area at half resolution.
    smooth: bool,
    pointer: Pointer,
    meter: Meter,
    ended: Option<String>,
    /// The technician may send keyboard and mouse.
    control: bool,
    /// Where the screen was drawn in the last frame.
    mapping: Option<Mapping>,
    last_move: Option<(i32, i32)>,
    input: Vec<InputEvent>,
    /// Why input stopped, when the user took control away.
    control_note: Option<String>,
    chat_open: bool,
    /// (who, text); who is empty for notices.
    chat_lines: Vec<(String, String)>,
    chat_draft: String,
    chat_out: Vec<ChatOut>,
    user_shares_clipboard: bool,
    asked_control: bool,
}

impl ViewerState {
    /// A viewer for `hostname` whose agent offers `monitors`.
    #[must_use]
    pub fn new(hostname: String, monitors: Vec<MonitorInfo>, selected: Option<u32>) -> Self {
        Self {
            hostname,
            monitors,
            selected,
            scale: Scale::Fit,
            screen: None,
            screen_size: [0, 0],
            smooth: false,
            pointer: Pointer::default(),
            meter: Meter::default(),
            ended: None,
            control: false,
            mapping: None,
            last_move: None,
            input: Vec::new(),
            control_note: None,
            chat_open: false,
            chat_lines: Vec::new(),
            chat_draft: String::new(),
            chat_out: Vec::new(),
            user_shares_clipboard: false,
            asked_control: false,
        }
    }

    /// Chat requests gathered since the last call.
    pub fn take_chat(&mut self) -> Vec<ChatOut> {
        std::mem::take(&mut self.chat_out)
    }

    /// The chat as shown: (who, text), notices with an empty who.
    #[must_use]
    pub fn chat_lines(&self) -> &[(String, String)] {
        &self.chat_lines
    }

    fn on_chat(&mut self, msg: ChatMsg) {
        match msg {
            ChatMsg::Text { from, text } => {
                self.chat_lines.push((from, text));
                self.chat_open = true;
            }
            ChatMsg::Notice { text } => self.chat_lines.push((String::new(), text)),
            ChatMsg::Clipboard { text } => self.chat_lines.push((
                String::new(),
                format!(
                    "The user's clipboard is now on yours ({} characters).",
                    text.chars().count()
                ),
            )),
            ChatMsg::Permission { control } => {
                self.asked_control = false;
                self.set_control(
                    control,
                    (!control).then(|| "view only (the user decides)".to_string()),
                );
            }
            ChatMsg::ClipboardSharing { on } => self.user_shares_clipboard = on,
            ChatMsg::AskControl => {}
        }
    }

    /// Lets the technician's keyboard and mouse through (a control session).
    pub fn set_control(&mut self, control: bool, note: Option<String>) {
        self.control = control;
        self.control_note = note;
    }

    /// Input gathered since the last call, for the agent.
    pub fn take_input(&mut self) -> Vec<InputEvent> {
        std::mem::take(&mut self.input)
    }

    /// Root-window position of the shown area's top-left pixel.
    fn origin(&self) -> (i32, i32) {
        match self.selected {
            Some(i) => self
                .monitors
                .iter()
                .find(|m| m.index == i)
                .map_or((0, 0), |m| (m.x, m.y)),
            None => self
                .monitors
                .iter()
                .map(|m| (m.x, m.y))
                .reduce(|a, b| (a.0.min(b.0), a.1.min(b.1)))
                .unwrap_or((0, 0)),
        }
    }

    /// The screen texture, once a frame arrived.
    #[must_use]
    pub fn screen_texture(&self) -> Option<&TextureHandle> {
        self.screen.as_ref()
    }

    /// Remote screen size in pixels (0×0 before the first frame).
    #[must_use]
    pub fn screen_size(&self) -> [usize; 2] {
        self.screen_size
    }

    /// The current scaling mode.
    #[must_use]
    pub fn scale(&self) -> Scale {
        self.scale
    }

    /// Takes in what the network side delivered: uploads the newest frame
    /// into the screen texture and records the figures.
    pub fn apply(&mut self, ctx: &egui::Context, update: Update) {
        for s in update.samples {
            self.meter.record(s);
        }
        if let Some(image) = update.image {
            self.screen_size = image.size;
            self.smooth = update.exact == Some(false);
            match &mut self.screen {
                Some(tex) => tex.set(image, TextureOptions::LINEAR),
                None => {
                    self.screen =
                        Some(ctx.load_texture("remote-screen", image, TextureOptions::LINEAR));
                }
            }
        }
        if let Some(c) = update.cursor {
            self.pointer.pos = Some((c.x, c.y));
            if let Some(shape) = &c.shape
                && let Some(image) = cursor_to_image(shape)
            {
                self.pointer.hot = Vec2::new(f32::from(shape.hot_x), f32::from(shape.hot_y));
                match &mut self.pointer.texture {
                    Some(tex) => tex.set(image, TextureOptions::NEAREST),
                    None => {
                        self.pointer.texture =
                            Some(ctx.load_texture("remote-cursor", image, TextureOptions::NEAREST));
                    }
                }
            }
        }
        if let Some(r) = update.resumed {
            // A new session after the relay came back: live again, with
            // what the user granted this time.
            self.ended = None;
            let note = (!r.control).then(|| "view only (granted by the user)".to_string());
            self.set_control(r.control, note);
            self.on_chat(ChatMsg::Notice {
                text: format!("The relay came back: reconnected in session {}.", r.session),
            });
        }
        if update.ended.is_some() {
            self.ended = update.ended;
        }
        if let Some(why) = update.control_lost {
            self.set_control(false, Some(why));
        }
        for msg in update.chat {
            self.on_chat(msg);
        }
    }

    /// Draws the whole window; returns what the technician asked for.
    pub fn ui(&mut self, ui: &mut egui::Ui, now: Instant) -> Option<Action> {
        let action = egui::Panel::top("viewer-top")
            .show(ui, |ui| self.top_bar(ui))
            .inner;
        let summary = self.meter.summary(now);
        egui::Panel::bottom("viewer-status").show(ui, |ui| self.status_bar(ui, summary));
        if self.chat_open {
            egui::Panel::right("viewer-chat")
                .default_size(260.0)
                .show(ui, |ui| self.chat_panel(ui));
        }
        egui::CentralPanel::default()
            .frame(egui::Frame::NONE.fill(Color32::from_gray(24)))
            .show(ui, |ui| self.screen_area(ui));
        if self.control
            && self.ended.is_none()
            && let Some(map) = self.mapping
        {
            let mut events = ui.input(|i| i.events.clone());
            // Keys typed into the chat box are the technician's, not the
            // user's.
            if ui.ctx().memory(|m| m.focused().is_some()) {
                events.retain(|e| {
                    !matches!(
                        e,
                        egui::Event::Text(_)
                            | egui::Event::Key { .. }
                            | egui::Event::Paste(_)
                            | egui::Event::Copy
                            | egui::Event::Cut
                    )
                });
            }
            let evs = keys::translate(&events, &map, &mut self.last_move);
            self.input.extend(evs);
        }
        action
    }

    fn monitor_label(&self, selected: Option<u32>) -> String {
        let Some(i) = selected else {
            return "All monitors".to_string();
        };
        self.monitors.iter().find(|m| m.index == i).map_or_else(
            || format!("Monitor {i}"),
            |m| {
                let primary = if m.primary { ", primary" } else { "" };
                format!("{} ({}×{}{primary})", m.name, m.width, m.height)
            },
        )
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) -> Option<Action> {
        let mut action = None;
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.scale, Scale::Fit, "Fit");
            ui.selectable_value(&mut self.scale, Scale::Actual, "1:1");
            ui.separator();
            let mut choice = self.selected;
            egui::ComboBox::new("viewer-monitor", "Monitor")
                .selected_text(self.monitor_label(choice))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut choice, None, "All monitors");
                    for m in &self.monitors {
                        ui.selectable_value(
                            &mut choice,
                            Some(m.index),
                            self.monitor_label(Some(m.index)),
                        );
                    }
                });
            if choice != self.selected {
                self.selected = choice;
                action = Some(Action::SelectMonitor(choice));
            }
            ui.separator();
            if self.control {
                ui.menu_button("Send keys", |ui| {
                    for (label, combo) in keys::SPECIAL {
                        if ui.button(*label).clicked() {
                            self.input.push(keys::special(combo));
                            ui.close();
                        }
                    }
                });
                ui.label("control");
            } else {
                ui.label(self.control_note.as_deref().unwrap_or("view only"));
                if self.ended.is_none()
                    && ui
                        .add_enabled(!self.asked_control, egui::Button::new("Ask for control"))
                        .clicked()
                {
                    self.asked_control = true;
                    self.chat_out.push(ChatOut::Send(ChatMsg::AskControl));
                }
            }
            ui.separator();
            ui.toggle_value(&mut self.chat_open, "Chat");
        });
        action
    }

    fn chat_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Chat with the user");
        let input_h = 64.0;
        egui::ScrollArea::vertical()
            .stick_to_bottom(true)
            .auto_shrink([false, false])
            .max_height((ui.available_height() - input_h).max(40.0))
            .show(ui, |ui| {
                for (who, text) in &self.chat_lines {
                    if who.is_empty() {
                        ui.label(RichText::new(text).italics().weak());
                    } else {
                        ui.label(format!("{who}: {text}"));
                    }
                }
            });
        let edit = ui.add(
            egui::TextEdit::singleline(&mut self.chat_draft)
                .hint_text("Message")
                .desired_width(f32::INFINITY),
        );
        let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        ui.horizontal(|ui| {
            let send = ui.button("Send").clicked();
            if (entered || send) && lifeline_proto::chat::check_text(&self.chat_draft).is_ok() {
                let text = std::mem::take(&mut self.chat_draft);
                self.chat_lines.push(("you".into(), text.clone()));
                self.chat_out.push(ChatOut::Send(ChatMsg::Text {
                    from: String::new(),
                    text,
                }));
            }
            let clip = ui
                .add_enabled(
                    self.user_shares_clipboard,
                    egui::Button::new("Send my clipboard"),
                )
                .on_disabled_hover_text("The user has not switched clipboard sharing on");
            if clip.clicked() {
                self.chat_out.push(ChatOut::SendClipboard);
                self.chat_lines
                    .push((String::new(), "Your clipboard text was sent.".into()));
            }
        });
    }

    /// The status bar's text, also what tests read.
    #[must_use]
    pub fn status_text(&self, s: Summary) -> Vec<String> {
        let latency = s.latency_ms_p50.map_or_else(
            || "latency –".to_string(),
            |ms| format!("latency {ms:.0} ms"),
        );
        [
            format!("{:.0} fps", s.fps),
            // An idle screen costs a few hundred bytes a second; "0 kbit/s"
            // would read as "nothing arrives".
            if s.kbit_per_s < 10.0 {
                format!("{:.1} kbit/s", s.kbit_per_s)
            } else {
                format!("{:.0} kbit/s", s.kbit_per_s)
            },
            latency,
            format!("{}×{}", self.screen_size[0], self.screen_size[1]),
            self.hostname.clone(),
        ]
        .into_iter()
        .chain(
            self.smooth
                .then(|| "smooth motion: moving area at half resolution".into()),
        )
        .collect()
    }

    fn status_bar(&self, ui: &mut egui::Ui, summary: Summary) {
        ui.horizontal(|ui| {
            for (i, part) in self.status_text(summary).into_iter().enumerate() {
                if i > 0 {
                    ui.separator();
                }
                ui.label(part);
            }
            if let Some(why) = &self.ended {
                ui.separator();
                ui.label(RichText::new(format!("ended: {why}")).color(Color32::LIGHT_RED));
            }
        });
    }

    fn screen_area(&mut self, ui: &mut egui::Ui) {
        let Some(tex) = self.screen.clone() else {
            let text = self
                .ended
                .as_deref()
                .unwrap_or("waiting for the first frame…");
            ui.centered_and_justified(|ui| ui.label(text));
            return;
        };
        let size = Vec2::new(self.screen_size[0] as f32, self.screen_size[1] as f32);
        match self.scale {
            Scale::Fit => {
                let avail = ui.available_rect_before_wrap();
                ui.allocate_rect(avail, Sense::hover());
                let k = (avail.width() / size.x)
                    .min(avail.height() / size.y)
                    .max(0.0);
                let rect = Rect::from_center_size(avail.center(), size * k);
                self.paint(ui, &tex, rect, k);
                self.mapping = Some(Mapping {
                    rect,
                    k,
                    origin: self.origin(),
                });
            }
            Scale::Actual => {
                // One texel per physical pixel, whatever the desktop's scale.
                let k = 1.0 / ui.ctx().pixels_per_point();
                let shown = egui::ScrollArea::both().show(ui, |ui| {
                    let (rect, _) = ui.allocate_exact_size(size * k, Sense::hover());
                    self.paint(ui, &tex, rect, k);
                    rect
                });
                // Only the visible part takes the pointer.
                let rect = shown.inner;
                let visible = rect.intersect(shown.inner_rect);
                self.mapping = Some(Mapping {
                    rect: visible,
                    k,
                    origin: {
                        let (ox, oy) = self.origin();
                        (
                            ox + ((visible.min.x - rect.min.x) / k) as i32,
                            oy + ((visible.min.y - rect.min.y) / k) as i32,
                        )
                    },
                });
            }
        }
    }

    /// Paints the screen into `rect` and the pointer over it; `k` is points
    /// per remote pixel.
    fn paint(&self, ui: &egui::Ui, tex: &TextureHandle, rect: Rect, k: f32) {
        let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
        let painter = ui.painter_at(rect);
        painter.image(tex.id(), rect, uv, Color32::WHITE);
        let Some((x, y)) = self.pointer.pos else {
            return;
        };
        let at = rect.min + Vec2::new(x as f32, y as f32) * k;
        match &self.pointer.texture {
            Some(cursor) => {
                let min = at - self.pointer.hot * k;
                painter.image(
                    cursor.id(),
                    Rect::from_min_size(min, cursor.size_vec2() * k),
                    uv,
                    Color32::WHITE,
                );
            }
            // No shape yet: a dot still tells the technician where the user is.
            None => {
                painter.circle(
                    at,
                    4.0,
                    Color32::WHITE,
                    egui::Stroke::new(1.0, Color32::BLACK),
                );
            }
        }
    }
}
