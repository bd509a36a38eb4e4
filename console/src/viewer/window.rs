//! `lifeline connect MACHINE`: the viewer window (eframe with glow, X11).
//!
//! Two owners: a tokio task owns the client and the screen stream and
//! decodes; the main thread owns the window. They meet in a mailbox that
//! keeps only the newest frame (plus the figures of every frame), so a slow
//! window never queues up megabytes of stale screens.

pub mod keys;
pub mod meter;
mod net;
pub mod update;
pub mod view;

#[cfg(test)]
mod tests;

use super::stream::ScreenStream;
use crate::{client::Client, remote_cmd::Reopen};
use anyhow::{Context as _, bail};
use eframe::egui;
use lifeline_proto::{Permission, input::InputEvent, view::MonitorInfo};
use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};
use tokio::sync::mpsc;
use view::{Action, ChatOut, Update, ViewerState};

/// The shared latest-frame slot between the network task and the window.
type Mailbox = Arc<Mutex<Update>>;

/// What the window tells the network task.
#[derive(Debug)]
enum Command {
    Select(Option<u32>),
    Close,
}

/// Fails early, before a session is opened, when there is no X display to
/// put a window on.
///
/// # Errors
/// `DISPLAY` unset or empty, with the hint to use `--headless`.
pub fn check_display() -> anyhow::Result<()> {
    match std::env::var_os("DISPLAY") {
        Some(d) if !d.is_empty() => Ok(()),
        _ => bail!(
            "cannot open the viewer window: no X display (DISPLAY is unset); \
             use --headless to watch without a window"
        ),
    }
}

/// Shows `stream` (opened on `monitor`, `None` for all) in a window until the technician closes it, then ends
/// the session.
///
/// Must be called on the main thread of a multi-threaded tokio runtime:
/// the window's event loop needs the main thread, the stream a runtime.
///
/// # Errors
/// The window cannot be opened (no display, no OpenGL).
pub async fn run(
    mut client: Client,
    stream: ScreenStream,
    monitor: Option<u32>,
    again: Reopen,
) -> anyhow::Result<()> {
    let title = format!("Lifeline — {}", stream.hostname);
    let mut state = ViewerState::new(stream.hostname.clone(), stream.monitors.clone(), monitor);
    let (input_tx, input_rx) = mpsc::unbounded_channel::<InputEvent>();
    let control = stream.permission == Permission::Control;
    // Input and chat ride streams of their own; input is open even in a
    // view-only session, for when the user grants control later.
    let attached = net::Attached::open(&mut client, &stream).await?;
    let (chat_tx, chat_rx) = mpsc::unbounded_channel::<ChatOut>();
    state.set_control(control, Some("view only (granted by the user)".into()));
    let inner_size = initial_size(&stream, monitor);
    let ctx = egui::Context::default();
    let mailbox = Mailbox::default();
    let (tx, rx) = mpsc::unbounded_channel();
    let links = net::Links::spawn(input_rx, chat_rx, mailbox.clone(), ctx.clone());
    links.hand_over(attached);
    let session = net::Session {
        client,
        stream,
        monitor,
        again,
    };
    let pump = tokio::spawn(net::pump(session, mailbox.clone(), ctx.clone(), rx, links));

    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(title.clone())
            .with_app_id("lifeline-viewer")
            .with_inner_size(inner_size)
            .with_min_inner_size([320.0, 240.0]),
        ..Default::default()
    };
    let app_tx = tx.clone();
    let shown = tokio::task::block_in_place(|| {
        eframe::run_native_ext(
            &title,
            options,
            Some(ctx),
            Box::new(move |_cc| {
                Ok(Box::new(ViewerApp {
                    state,
                    mailbox,
                    commands: app_tx,
                    input: input_tx,
                    chat: chat_tx,
                }))
            }),
        )
        // eframe's error is not Send; keep its text.
        .map_err(|e| e.to_string())
    });
    let _ = tx.send(Command::Close);
    // Give the network task a moment to tell the relay the session is over.
    let _ = tokio::time::timeout(Duration::from_secs(3), pump).await;
    if let Err(e) = shown {
        let display = std::env::var("DISPLAY").unwrap_or_default();
        return Err(anyhow::anyhow!(e)).with_context(|| {
            format!("cannot open the viewer window on DISPLAY={display}; use --headless to watch without a window")
        });
    }
    Ok(())
}

/// A first window size that shows the remote screen whole, capped so it
/// fits a laptop screen; the bars need about 60 points.
fn initial_size(stream: &ScreenStream, monitor: Option<u32>) -> [f32; 2] {
    let shown = stream
        .monitors
        .iter()
        .filter(|m| monitor.is_none_or(|i| i == m.index));
    // One monitor is shown from its own origin, all from the desktop's.
    let origin = |m: &MonitorInfo| {
        if monitor.is_some() {
            (0, 0)
        } else {
            (m.x, m.y)
        }
    };
    let (mut w, mut h) = shown.fold((0i64, 0i64), |(w, h), m| {
        (
            w.max(i64::from(origin(m).0) + i64::from(m.width)),
            h.max(i64::from(origin(m).1) + i64::from(m.height)),
        )
    });
    if w <= 0 || h <= 0 {
        (w, h) = (1024, 768);
    }
    let k = (1280.0 / w as f32).min(800.0 / h as f32).min(1.0);
    [w as f32 * k, h as f32 * k + 60.0]
}

/// The eframe side: drains the mailbox, draws, forwards the technician's
/// choices.
struct ViewerApp {
    state: ViewerState,
    mailbox: Mailbox,
    commands: mpsc::UnboundedSender<Command>,
    input: mpsc::UnboundedSender<InputEvent>,
    chat: mpsc::UnboundedSender<ChatOut>,
}

impl eframe::App for ViewerApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let update =
            std::mem::take(&mut *self.mailbox.lock().unwrap_or_else(PoisonError::into_inner));
        self.state.apply(ui.ctx(), update);
        if let Some(Action::SelectMonitor(m)) = self.state.ui(ui, Instant::now()) {
            let _ = self.commands.send(Command::Select(m));
        }
        for ev in self.state.take_input() {
            let _ = self.input.send(ev);
        }
        for c in self.state.take_chat() {
            let _ = self.chat.send(c);
        }
        // The figures are per second: keep them moving when frames stop.
        ui.ctx().request_repaint_after(Duration::from_millis(500));
    }
}
