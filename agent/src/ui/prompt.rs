//! `lifeline-agent ui-prompt`: asks the user whether a technician may come
//! in. Prints one [`PromptAnswer`] line and exits.
//!
//! The buttons sit at fixed places ([`ALLOW`], [`ALLOW_VIEW`], [`DENY`]) in a
//! window of fixed size, so scripts and tests can click them. Keys never
//! answer the prompt: a stray Enter must not let anyone in.

use super::{BANNER_RGB, PromptAnswer, SessionFacts};
use eframe::egui::{self, Color32, Pos2, Rect, RichText, Vec2};
use lifeline_proto::Permission;
use std::time::{Duration, Instant};

/// The window's inner size in points.
pub const SIZE: [f32; 2] = [480.0, 210.0];
/// Where "Allow" is (control when control was asked), window coordinates.
pub const ALLOW: Rect = Rect::from_min_max(Pos2::new(16.0, 150.0), Pos2::new(166.0, 194.0));
/// Where "View only" is (only when control was asked).
pub const ALLOW_VIEW: Rect = Rect::from_min_max(Pos2::new(176.0, 150.0), Pos2::new(316.0, 194.0));
/// Where "Deny" is.
pub const DENY: Rect = Rect::from_min_max(Pos2::new(326.0, 150.0), Pos2::new(464.0, 194.0));
/// The window title, which tests search for.
pub const TITLE: &str = "Lifeline: remote assistance request";

/// The prompt's state, apart from the window.
#[derive(Debug)]
pub struct Prompt {
    pub facts: SessionFacts,
    pub started: Instant,
    pub timeout: Duration,
    pub answer: Option<PromptAnswer>,
}

impl Prompt {
    #[must_use]
    pub fn new(facts: SessionFacts, timeout: Duration, now: Instant) -> Self {
        Self {
            facts,
            started: now,
            timeout,
            answer: None,
        }
    }

    /// Whole seconds left before the prompt answers "no" by itself.
    #[must_use]
    pub fn seconds_left(&self, now: Instant) -> u64 {
        self.timeout
            .saturating_sub(now.saturating_duration_since(self.started))
            .as_secs_f64()
            .ceil() as u64
    }

    /// The text lines the prompt shows, top to bottom.
    #[must_use]
    pub fn lines(&self, now: Instant) -> Vec<String> {
        let mut lines = vec![format!("{} {}.", self.facts.who(), self.facts.doing(true))];
        lines.push(match self.facts.ticket {
            Some(t) => format!("For ticket #{t}."),
            None => "No ticket is named.".to_string(),
        });
        lines.push(format!(
            "Denied automatically in {} s. You can stop the session at any time.",
            self.seconds_left(now)
        ));
        lines
    }

    /// Draws the prompt; records the answer when a button is pressed or the
    /// time is up.
    pub fn ui(&mut self, ui: &mut egui::Ui, now: Instant) {
        // Keys never answer: the prompt pops up over whatever the user is
        // typing into, and Tab then Enter (or Space) would press "Allow".
        // The buttons cannot take the focus either.
        ui.ctx()
            .input_mut(|i| i.events.retain(|e| !matches!(e, egui::Event::Key { .. })));
        if self.answer.is_none() && self.seconds_left(now) == 0 {
            self.answer = Some(PromptAnswer::Timeout);
        }
        let [r, g, b] = BANNER_RGB;
        let full = ui.max_rect();
        let banner = Rect::from_min_size(full.min, Vec2::new(full.width(), 34.0));
        ui.painter()
            .rect_filled(banner, 0.0, Color32::from_rgb(r, g, b));
        ui.put(
            banner.shrink2(Vec2::new(12.0, 0.0)),
            egui::Label::new(
                RichText::new("Remote assistance request")
                    .color(Color32::WHITE)
                    .size(17.0)
                    .strong(),
            ),
        );
        let lines = self.lines(now);
        for (i, line) in lines.iter().enumerate() {
            let top = full.min.y + 44.0 + 26.0 * i as f32;
            let rect = Rect::from_min_size(
                Pos2::new(full.min.x + 16.0, top),
                Vec2::new(full.width() - 32.0, 24.0),
            );
            let text = if i == 0 {
                RichText::new(line).size(15.0).strong()
            } else {
                RichText::new(line).size(13.0)
            };
            ui.put(rect, egui::Label::new(text).wrap());
        }
        let at = |r: Rect| r.translate(full.min.to_vec2());
        let control = self.facts.permission == Permission::Control;
        let allow_text = if control { "Allow control" } else { "Allow" };
        if ui
            .put(
                at(ALLOW),
                egui::Button::new(RichText::new(allow_text).size(15.0)).sense(egui::Sense::CLICK),
            )
            .clicked()
        {
            self.answer = Some(PromptAnswer::Allow);
        }
        if control
            && ui
                .put(
                    at(ALLOW_VIEW),
                    egui::Button::new(RichText::new("View only").size(15.0))
                        .sense(egui::Sense::CLICK),
                )
                .clicked()
        {
            self.answer = Some(PromptAnswer::AllowView);
        }
        if ui
            .put(
                at(DENY),
                egui::Button::new(RichText::new("Deny").size(15.0)).sense(egui::Sense::CLICK),
            )
            .clicked()
        {
            self.answer = Some(PromptAnswer::Deny);
        }
    }
}

struct PromptApp {
    prompt: Prompt,
    out: std::sync::Arc<std::sync::Mutex<Option<PromptAnswer>>>,
}

impl eframe::App for PromptApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.prompt.ui(ui, Instant::now());
        if let Some(a) = self.prompt.answer {
            *self
                .out
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(a);
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
        // The countdown moves once a second.
        ui.ctx().request_repaint_after(Duration::from_millis(250));
    }
}

/// Shows the prompt until answered, closed or timed out; prints the answer.
/// Runs on the main thread, outside any async runtime.
///
/// # Errors
/// The window cannot be opened (no display, no OpenGL).
pub fn run(facts: SessionFacts, timeout: Duration) -> anyhow::Result<PromptAnswer> {
    let out = std::sync::Arc::default();
    let app_out = std::sync::Arc::clone(&out);
    let position = super::indicator::centered(SIZE);
    let options = super::window_options(
        egui::ViewportBuilder::default()
            .with_title(TITLE)
            .with_app_id("lifeline-consent")
            .with_inner_size(SIZE)
            .with_resizable(false)
            .with_always_on_top(),
        position,
    );
    eframe::run_native(
        TITLE,
        options,
        Box::new(move |_cc| {
            Ok(Box::new(PromptApp {
                prompt: Prompt::new(facts, timeout, Instant::now()),
                out: app_out,
            }))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot show the consent prompt: {e}"))?;
    // Closing the window without a choice is a no.
    let answer = out
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .unwrap_or(PromptAnswer::Deny);
    Ok(answer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn facts(permission: Permission, ticket: Option<u64>) -> SessionFacts {
        SessionFacts {
            technician: "alice".into(),
            role: "technician".into(),
            permission,
            ticket,
            purpose: "screen".into(),
        }
    }

    #[test]
    fn the_prompt_names_who_what_and_the_ticket_and_counts_down() {
        let t0 = Instant::now();
        let p = Prompt::new(
            facts(Permission::Control, Some(12)),
            Duration::from_secs(30),
            t0,
        );
        assert_eq!(
            p.lines(t0),
            [
                "alice (technician) asks to see and control this screen.",
                "For ticket #12.",
                "Denied automatically in 30 s. You can stop the session at any time.",
            ]
        );
        assert_eq!(p.seconds_left(t0 + Duration::from_millis(2500)), 28);
        let p = Prompt::new(facts(Permission::View, None), Duration::from_secs(30), t0);
        assert_eq!(
            p.lines(t0)[0],
            "alice (technician) asks to see this screen."
        );
        assert_eq!(p.lines(t0)[1], "No ticket is named.");
    }

    fn harness(permission: Permission) -> egui_kittest::Harness<'static, Prompt> {
        let t0 = Instant::now();
        let prompt = Prompt::new(facts(permission, None), Duration::from_secs(30), t0);
        egui_kittest::Harness::builder()
            .with_size(Vec2::from(SIZE))
            .build_ui_state(move |ui, p: &mut Prompt| p.ui(ui, t0), prompt)
    }

    #[test]
    fn keys_never_answer_the_prompt() {
        use egui_kittest::kittest::Queryable;
        let mut h = harness(Permission::Control);
        h.run();
        // Typing on: Tab, Enter, Space, and again, as into a shell.
        for _ in 0..3 {
            for key in [egui::Key::Tab, egui::Key::Enter, egui::Key::Space] {
                h.key_press(key);
                h.run();
            }
        }
        assert_eq!(h.state().answer, None, "a key answered the prompt");
        // The mouse does.
        h.get_by_label("View only").click();
        h.run();
        assert_eq!(h.state().answer, Some(PromptAnswer::AllowView));
        let mut h = harness(Permission::View);
        h.run();
        h.get_by_label("Allow").click();
        h.run();
        assert_eq!(h.state().answer, Some(PromptAnswer::Allow));
    }

    #[test]
    fn buttons_do_not_overlap_and_fit_the_window() {
        let window = Rect::from_min_size(Pos2::ZERO, Vec2::from(SIZE));
        for r in [ALLOW, ALLOW_VIEW, DENY] {
            assert!(window.contains_rect(r), "{r:?}");
        }
        assert!(!ALLOW.intersects(ALLOW_VIEW));
        assert!(!ALLOW_VIEW.intersects(DENY));
    }
}
