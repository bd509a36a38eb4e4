//! `lifeline-agent ui-help`: the "Request help" dialog the tray opens.
//!
//! The user says what is wrong, picks the urgency, and keeps or removes a
//! screenshot taken when the dialog opened (shown as a preview, so they
//! know exactly what the help desk will see). Sending opens a ticket; the
//! dialog then shows its number and prints `{"ticket":N}` for the agent.
//! Widgets sit at fixed places so scripts and tests can click them.

use eframe::egui::{self, Color32, Pos2, Rect, RichText, Vec2};
use std::{path::PathBuf, sync::mpsc};

/// The window's inner size in points.
pub const SIZE: [f32; 2] = [460.0, 440.0];
/// The problem description.
pub const TEXT: Rect = Rect::from_min_max(Pos2::new(16.0, 48.0), Pos2::new(444.0, 160.0));
/// The urgency picker.
pub const URGENCY: Rect = Rect::from_min_max(Pos2::new(16.0, 170.0), Pos2::new(260.0, 194.0));
/// "Attach a screenshot".
pub const ATTACH: Rect = Rect::from_min_max(Pos2::new(16.0, 202.0), Pos2::new(444.0, 224.0));
/// The screenshot preview.
pub const PREVIEW: Rect = Rect::from_min_max(Pos2::new(16.0, 230.0), Pos2::new(256.0, 365.0));
/// "Remove screenshot".
pub const REMOVE: Rect = Rect::from_min_max(Pos2::new(270.0, 230.0), Pos2::new(444.0, 262.0));
/// "Send".
pub const SEND: Rect = Rect::from_min_max(Pos2::new(16.0, 396.0), Pos2::new(166.0, 428.0));
/// "Cancel" (then "Close").
pub const CANCEL: Rect = Rect::from_min_max(Pos2::new(176.0, 396.0), Pos2::new(316.0, 428.0));
/// The window title, which tests search for.
pub const TITLE: &str = "Lifeline: request help";
/// Urgencies the user can pick, as the relay names priorities.
pub const URGENCIES: &[&str] = &["low", "normal", "high", "urgent"];

/// A screenshot taken when the dialog opened.
pub struct Shot {
    pub png: Vec<u8>,
    pub image: egui::ColorImage,
}

/// Where a sent request stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Sending {
    NotYet,
    InFlight,
    Opened(u64),
    Failed(String),
}

/// The dialog's state, apart from the window.
pub struct HelpDialog {
    pub text: String,
    pub urgency: String,
    pub attach: bool,
    pub shot: Option<Shot>,
    texture: Option<egui::TextureHandle>,
    pub sending: Sending,
    /// A problem with the input, shown above the buttons.
    pub hint: Option<String>,
    /// Set when the user pressed Send with valid input: what to send.
    pub send: Option<(String, String, Vec<u8>)>,
    pub closed: bool,
}

impl HelpDialog {
    #[must_use]
    pub fn new(shot: Option<Shot>) -> Self {
        Self {
            text: String::new(),
            urgency: "normal".into(),
            attach: shot.is_some(),
            shot,
            texture: None,
            sending: Sending::NotYet,
            hint: None,
            send: None,
            closed: false,
        }
    }

    /// Draws the dialog.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let full = ui.max_rect();
        let at = |r: Rect| r.translate(full.min.to_vec2());
        let banner = Rect::from_min_size(full.min, Vec2::new(full.width(), 34.0));
        ui.painter()
            .rect_filled(banner, 0.0, Color32::from_rgb(0, 137, 123));
        ui.put(
            banner.shrink2(Vec2::new(12.0, 0.0)),
            egui::Label::new(
                RichText::new("Ask the help desk")
                    .color(Color32::WHITE)
                    .size(17.0)
                    .strong(),
            ),
        );
        let editable = matches!(self.sending, Sending::NotYet | Sending::Failed(_));
        ui.add_enabled_ui(editable, |ui| {
            ui.put(
                at(TEXT),
                egui::TextEdit::multiline(&mut self.text)
                    .hint_text("What is wrong? What were you doing when it happened?"),
            );
            ui.put(at(URGENCY), |ui: &mut egui::Ui| {
                egui::ComboBox::new("urgency", "Urgency")
                    .selected_text(self.urgency.clone())
                    .show_ui(ui, |ui| {
                        for u in URGENCIES {
                            ui.selectable_value(&mut self.urgency, (*u).to_string(), *u);
                        }
                    })
                    .response
            });
            if self.shot.is_some() {
                ui.put(
                    at(ATTACH),
                    egui::Checkbox::new(&mut self.attach, "Attach this screenshot of my screen"),
                );
            } else {
                ui.put(
                    at(ATTACH),
                    egui::Label::new("No screenshot (it could not be taken or was removed)."),
                );
            }
            if self.attach
                && let Some(shot) = &self.shot
            {
                let tex = self.texture.get_or_insert_with(|| {
                    ui.ctx().load_texture(
                        "screenshot",
                        shot.image.clone(),
                        egui::TextureOptions::LINEAR,
                    )
                });
                ui.put(
                    at(PREVIEW),
                    egui::Image::new(&*tex).fit_to_exact_size(PREVIEW.size()),
                );
                if ui
                    .put(at(REMOVE), egui::Button::new("Remove screenshot"))
                    .clicked()
                {
                    self.shot = None;
                    self.texture = None;
                    self.attach = false;
                }
            }
        });
        let (message, colour) = match (&self.sending, &self.hint) {
            (Sending::Opened(t), _) => (
                format!("Ticket #{t} opened: the help desk has been told."),
                Color32::from_rgb(0, 110, 60),
            ),
            (Sending::InFlight, _) => ("Sending…".to_string(), Color32::GRAY),
            (Sending::Failed(why), _) => (format!("Not sent: {why}"), Color32::from_rgb(180, 0, 0)),
            (Sending::NotYet, Some(h)) => (h.clone(), Color32::from_rgb(180, 0, 0)),
            (Sending::NotYet, None) => (String::new(), Color32::GRAY),
        };
        ui.put(
            Rect::from_min_max(Pos2::new(16.0, 370.0), Pos2::new(444.0, 392.0))
                .translate(full.min.to_vec2()),
            egui::Label::new(RichText::new(message).color(colour)),
        );
        if editable
            && ui
                .put(
                    at(SEND),
                    egui::Button::new(RichText::new("Send").size(15.0)),
                )
                .clicked()
        {
            if self.text.trim().is_empty() {
                self.hint = Some("Say what is wrong first.".into());
            } else {
                self.hint = None;
                let png = if self.attach {
                    self.shot
                        .as_ref()
                        .map(|s| s.png.clone())
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                self.send = Some((self.text.trim().to_string(), self.urgency.clone(), png));
                self.sending = Sending::InFlight;
            }
        }
        let close = if matches!(self.sending, Sending::Opened(_)) {
            "Close"
        } else {
            "Cancel"
        };
        if ui
            .put(
                at(CANCEL),
                egui::Button::new(RichText::new(close).size(15.0)),
            )
            .clicked()
        {
            self.closed = true;
        }
    }
}

/// Takes the screenshot the dialog offers to attach.
fn take_shot() -> Option<Shot> {
    let mut cap = crate::capture::open_default().ok()?;
    let frame = cap.capture().ok()?;
    let png = crate::help::screenshot_png(&frame).ok()?;
    let rgba: Vec<u8> = frame
        .pixels()
        .iter()
        .flat_map(|p| {
            let [b, g, r, _] = p.to_le_bytes();
            [r, g, b, 255]
        })
        .collect();
    let image = egui::ColorImage::from_rgba_unmultiplied(
        [frame.width() as usize, frame.height() as usize],
        &rgba,
    );
    Some(Shot { png, image })
}

struct DialogApp {
    dialog: HelpDialog,
    agent_dir: PathBuf,
    result: Option<mpsc::Receiver<Result<u64, String>>>,
}

impl eframe::App for DialogApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        if let Some(rx) = &self.result
            && let Ok(r) = rx.try_recv()
        {
            self.result = None;
            self.dialog.sending = match r {
                Ok(t) => {
                    println!("{}", serde_json::json!({ "ticket": t }));
                    Sending::Opened(t)
                }
                Err(e) => Sending::Failed(e),
            };
        }
        self.dialog.ui(ui);
        if let Some((text, urgency, png)) = self.dialog.send.take() {
            let (tx, rx) = mpsc::channel();
            let dir = self.agent_dir.clone();
            let ctx = ui.ctx().clone();
            std::thread::spawn(move || {
                let r = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())
                    .and_then(|rt| {
                        rt.block_on(async {
                            let cfg = crate::config::AgentConfig::load(&dir)
                                .map_err(|e| e.to_string())?;
                            crate::help::send_help(&cfg, &text, &urgency, png)
                                .await
                                .map_err(|e| lifeline_net::describe(&*e))
                        })
                    });
                let _ = tx.send(r);
                ctx.request_repaint();
            });
            self.result = Some(rx);
        }
        if self.dialog.closed {
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(200));
    }
}

/// Shows the dialog until the user closes it.
///
/// # Errors
/// The window cannot be opened (no display, no OpenGL).
pub fn run(agent_dir: PathBuf) -> anyhow::Result<()> {
    // Before the window exists, so the dialog is not in its own picture.
    let shot = take_shot();
    let options = super::window_options(
        egui::ViewportBuilder::default()
            .with_title(TITLE)
            .with_app_id("lifeline-help")
            .with_inner_size(SIZE)
            .with_resizable(false),
        super::indicator::centered(SIZE),
    );
    eframe::run_native(
        TITLE,
        options,
        Box::new(move |_cc| {
            Ok(Box::new(DialogApp {
                dialog: HelpDialog::new(shot),
                agent_dir,
                result: None,
            }))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot show the help dialog: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use egui_kittest::{Harness, kittest::Queryable};

    fn shot() -> Shot {
        let image = egui::ColorImage::new([64, 36], vec![Color32::from_rgb(10, 20, 30); 64 * 36]);
        Shot {
            png: vec![0x89, b'P', b'N', b'G'],
            image,
        }
    }

    #[test]
    fn empty_text_is_refused_with_a_hint() {
        let mut h = Harness::builder()
            .with_size(Vec2::from(SIZE))
            .build_ui_state(|ui, d: &mut HelpDialog| d.ui(ui), HelpDialog::new(None));
        h.get_by_label("Send").click();
        h.run();
        assert!(h.state().send.is_none());
        h.get_by_label("Say what is wrong first.");
    }

    #[test]
    fn the_screenshot_can_be_removed_before_sending() {
        let mut h = Harness::builder()
            .with_size(Vec2::from(SIZE))
            .build_ui_state(
                |ui, d: &mut HelpDialog| d.ui(ui),
                HelpDialog::new(Some(shot())),
            );
        h.run();
        h.get_by_label("Remove screenshot").click();
        h.run();
        assert!(h.state().shot.is_none());
        h.get_by_role(egui::accesskit::Role::MultilineTextInput)
            .click();
        h.run();
        h.get_by_role(egui::accesskit::Role::MultilineTextInput)
            .type_text("printer jams");
        h.run();
        h.get_by_label("Send").click();
        h.run();
        let (text, urgency, png) = h.state().send.clone().unwrap();
        assert_eq!(
            (text.as_str(), urgency.as_str()),
            ("printer jams", "normal")
        );
        assert!(png.is_empty(), "the removed screenshot is not sent");
        assert_eq!(h.state().sending, Sending::InFlight);
    }

    #[test]
    fn a_kept_screenshot_is_sent() {
        let mut h = Harness::builder()
            .with_size(Vec2::from(SIZE))
            .build_ui_state(
                |ui, d: &mut HelpDialog| d.ui(ui),
                HelpDialog::new(Some(shot())),
            );
        h.get_by_role(egui::accesskit::Role::MultilineTextInput)
            .click();
        h.run();
        h.get_by_role(egui::accesskit::Role::MultilineTextInput)
            .type_text("no sound");
        h.run();
        h.get_by_label("Send").click();
        h.run();
        assert_eq!(h.state().send.as_ref().unwrap().2, shot().png);
    }

    #[test]
    fn widgets_fit_the_window() {
        let window = Rect::from_min_size(Pos2::ZERO, Vec2::from(SIZE));
        for r in [TEXT, URGENCY, ATTACH, PREVIEW, REMOVE, SEND, CANCEL] {
            assert!(window.contains_rect(r), "{r:?}");
        }
        assert!(!SEND.intersects(CANCEL));
        assert!(!PREVIEW.intersects(REMOVE));
    }
}
