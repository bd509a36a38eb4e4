//! `lifeline connect MACHINE`: the viewer window (eframe with glow, X11).
//!
//! Two owners: a tokio task owns the client and the screen stream and
//! decodes; the main thread owns the window. They meet in a mailbox that
//! keeps only the newest frame (plus the figures of every frame), so a slow
//! window never queues up megabytes of stale screens.

pub mod keys;
pub mod meter;
pub mod view;

#[cfg(test)]
mod tests;

use super::stream::{ScreenStream, ViewEvent};
use crate::client::Client;
use anyhow::{Context as _, bail};
use eframe::egui;
use lifeline_net::e2e::{SecureRecv, SecureSend};
use lifeline_proto::{
    ConsoleRequest, Permission,
    chat::{ChatMsg, MAX_CHAT_LEN},
    input::InputEvent,
    view::MonitorInfo,
};
use meter::FrameSample;
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
) -> anyhow::Result<()> {
    let title = format!("Lifeline — {}", stream.hostname);
    let mut state = ViewerState::new(stream.hostname.clone(), stream.monitors.clone(), monitor);
    let (input_tx, input_rx) = mpsc::unbounded_channel::<InputEvent>();
    let control = stream.permission == Permission::Control;
    // Input and chat ride streams of their own; input is open even in a
    // view-only session, for when the user grants control later.
    let input =
        crate::input_cmd::InputStream::attach(&mut client, stream.session, stream.hostname.clone())
            .await
            .context("open the input stream")?;
    let (chat_send, chat_recv) = crate::chat_cmd::attach(&mut client, stream.session)
        .await
        .context("open the chat stream")?;
    let (chat_tx, chat_rx) = mpsc::unbounded_channel::<ChatOut>();
    state.set_control(control, Some("view only (granted by the user)".into()));
    let inner_size = initial_size(&stream, monitor);
    let ctx = egui::Context::default();
    let mailbox = Mailbox::default();
    let (tx, rx) = mpsc::unbounded_channel();
    let pump = tokio::spawn(pump(client, stream, mailbox.clone(), ctx.clone(), rx));
    tokio::spawn(send_input(input, input_rx, mailbox.clone(), ctx.clone()));
    tokio::spawn(chat_reader(chat_recv, mailbox.clone(), ctx.clone()));
    tokio::spawn(chat_writer(chat_send, chat_rx));

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

/// Sends the window's input to the agent in order, one acknowledged event
/// at a time; pointer moves queued behind a slow event collapse into the
/// newest. A refusal (the user took control away) switches the window to
/// view only.
async fn send_input(
    mut input: crate::input_cmd::InputStream,
    mut rx: mpsc::UnboundedReceiver<InputEvent>,
    mailbox: Mailbox,
    ctx: egui::Context,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(ev) = rx.try_recv() {
            if let (Some(InputEvent::Move { .. }), InputEvent::Move { .. }) = (batch.last(), &ev) {
                batch.pop();
            }
            batch.push(ev);
        }
        for ev in batch {
            if let Err(e) = input.send(ev).await {
                tracing::warn!(error = %e, "input stopped");
                mailbox
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .control_lost = Some(if e.to_string().contains("view-only") {
                    "view only (the user took control back)".to_string()
                } else {
                    format!("input stopped: {e}")
                });
                ctx.request_repaint();
                return;
            }
        }
    }
}

/// Reads the session's chat stream into the mailbox; clipboard text the
/// user shares goes onto the technician's clipboard.
async fn chat_reader(mut recv: SecureRecv, mailbox: Mailbox, ctx: egui::Context) {
    let mut clip: Option<lifeline_net::clipboard::Clip> = None;
    loop {
        let msg = match recv.read_msg::<ChatMsg>(MAX_CHAT_LEN).await {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "chat stream ended");
                return;
            }
        };
        if let ChatMsg::Clipboard { text } = &msg {
            if clip.is_none() {
                clip = lifeline_net::clipboard::Clip::open()
                    .map_err(|e| tracing::warn!("{e}"))
                    .ok();
            }
            if let Some(c) = &clip {
                c.set(text.clone());
            }
        }
        mailbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .chat
            .push(msg);
        ctx.request_repaint();
    }
}

/// Writes the window's chat requests to the chat stream.
async fn chat_writer(mut send: SecureSend, mut rx: mpsc::UnboundedReceiver<ChatOut>) {
    let mut clip: Option<lifeline_net::clipboard::Clip> = None;
    while let Some(out) = rx.recv().await {
        let msg = match out {
            ChatOut::Send(m) => m,
            ChatOut::SendClipboard => {
                if clip.is_none() {
                    clip = lifeline_net::clipboard::Clip::open()
                        .map_err(|e| tracing::warn!("{e}"))
                        .ok();
                }
                let Some(text) = (match &clip {
                    Some(c) => c.get().await,
                    None => None,
                }) else {
                    continue;
                };
                ChatMsg::Clipboard { text }
            }
        };
        if send.write_msg(&msg, MAX_CHAT_LEN).await.is_err() {
            return;
        }
    }
}

/// Waits for the window to close, queueing monitor choices meanwhile.
/// Returning only on close keeps [`ScreenStream::next`] (which is not
/// cancel-safe: a half-read frame would be lost) from being interrupted.
async fn wait_close(rx: &mut mpsc::UnboundedReceiver<Command>, pending: &mut Option<Option<u32>>) {
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Command::Select(m) => *pending = Some(m),
            Command::Close => return,
        }
    }
}

/// The network task: reads the stream into the mailbox until the window
/// closes, then ends the session.
async fn pump(
    mut client: Client,
    mut stream: ScreenStream,
    mailbox: Mailbox,
    ctx: egui::Context,
    mut rx: mpsc::UnboundedReceiver<Command>,
) {
    let mut pending = None;
    let mut ended = false;
    loop {
        if let Some(m) = pending.take().filter(|_| !ended)
            && let Err(e) = stream.select_monitor(m).await
        {
            tracing::warn!(error = %e, "cannot select a monitor");
        }
        let ev = tokio::select! {
            () = wait_close(&mut rx, &mut pending) => break,
            ev = stream.next(), if !ended => ev,
        };
        // Convert outside the lock: the window must never wait on a
        // full-screen pixel loop.
        let mut update = Update::default();
        match ev {
            Ok(ViewEvent::Frame {
                bytes, latency_us, ..
            }) => {
                update.samples.push(FrameSample {
                    at: Instant::now(),
                    bytes,
                    latency_us,
                });
                update.image = stream.frame().map(view::frame_to_image);
            }
            Ok(ViewEvent::Cursor(c)) => update.merge_cursor(c),
            Err(e) => {
                tracing::warn!(session = ?stream.session, error = %e, "screen stream ended");
                update.ended = Some(e.to_string());
                ended = true;
            }
        }
        mailbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .absorb(update);
        ctx.request_repaint();
    }
    let _ = client
        .request(ConsoleRequest::CloseSession {
            session: stream.session,
        })
        .await;
    client.close().await;
}
