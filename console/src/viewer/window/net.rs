//! The window's network side: the screen stream into the mailbox, the
//! window's input and chat out, and a new session by itself when the relay
//! goes away (restarted, crashed, unreachable for a while).
//!
//! Input and chat are written by long-lived tasks that are handed each
//! session's streams in turn. Input typed while no session is open is
//! dropped, never replayed late on the user's machine.

use super::{
    Command, Mailbox,
    meter::FrameSample,
    update::Resumed,
    view::{self, ChatOut, Update},
};
use crate::{
    client::Client,
    input_cmd::InputStream,
    remote_cmd::{Reopen, relay_gone},
    viewer::stream::{ScreenStream, ViewEvent},
};
use anyhow::Context as _;
use eframe::egui;
use lifeline_net::e2e::{SecureRecv, SecureSend};
use lifeline_proto::{
    ConsoleRequest, Permission,
    chat::{ChatMsg, MAX_CHAT_LEN},
    input::InputEvent,
};
use std::{
    sync::PoisonError,
    time::{Duration, Instant},
};
use tokio::sync::mpsc;

/// How long the window keeps trying to get a session back.
const RECONNECT_FOR: Duration = Duration::from_secs(120);

/// The input and chat streams of one session.
pub(super) struct Attached {
    input: InputStream,
    chat_send: SecureSend,
    chat_recv: SecureRecv,
}

impl Attached {
    /// Opens the session's input and chat streams.
    pub(super) async fn open(client: &mut Client, stream: &ScreenStream) -> anyhow::Result<Self> {
        let input = InputStream::attach(client, stream.session, stream.hostname.clone())
            .await
            .context("open the input stream")?;
        let (chat_send, chat_recv) = crate::chat_cmd::attach(client, stream.session)
            .await
            .context("open the chat stream")?;
        Ok(Self {
            input,
            chat_send,
            chat_recv,
        })
    }
}

/// Hands each session's streams to the input and chat tasks.
pub(super) struct Links {
    input: mpsc::UnboundedSender<InputStream>,
    chat: mpsc::UnboundedSender<SecureSend>,
    mailbox: Mailbox,
    ctx: egui::Context,
}

impl Links {
    /// Starts the input and chat writers, which wait for streams.
    pub(super) fn spawn(
        input_rx: mpsc::UnboundedReceiver<InputEvent>,
        chat_rx: mpsc::UnboundedReceiver<ChatOut>,
        mailbox: Mailbox,
        ctx: egui::Context,
    ) -> Self {
        let (input, inputs) = mpsc::unbounded_channel();
        let (chat, chats) = mpsc::unbounded_channel();
        tokio::spawn(send_input(inputs, input_rx, mailbox.clone(), ctx.clone()));
        tokio::spawn(chat_writer(chats, chat_rx));
        Self {
            input,
            chat,
            mailbox,
            ctx,
        }
    }

    /// From now on, input and chat go to this session.
    pub(super) fn hand_over(&self, a: Attached) {
        let _ = self.input.send(a.input);
        let _ = self.chat.send(a.chat_send);
        tokio::spawn(chat_reader(
            a.chat_recv,
            self.mailbox.clone(),
            self.ctx.clone(),
        ));
    }
}

/// The session the window shows, and how to open it again.
pub(super) struct Session {
    pub client: Client,
    pub stream: ScreenStream,
    /// The monitor shown now (the technician may change it).
    pub monitor: Option<u32>,
    pub again: Reopen,
}

fn post(mailbox: &Mailbox, ctx: &egui::Context, update: Update) {
    mailbox
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .absorb(update);
    ctx.request_repaint();
}

/// Reads the stream into the mailbox until the window closes, then ends
/// the session. When the relay goes away, says so in the window and opens
/// a new session as soon as the relay and the machine are back.
pub(super) async fn pump(
    mut s: Session,
    mailbox: Mailbox,
    ctx: egui::Context,
    mut rx: mpsc::UnboundedReceiver<Command>,
    links: Links,
) {
    let mut pending = None;
    let mut ended = false;
    loop {
        if let Some(m) = pending.take() {
            s.monitor = m;
            if !ended && let Err(e) = s.stream.select_monitor(m).await {
                tracing::warn!(error = %e, "cannot select a monitor");
            }
        }
        let ev = tokio::select! {
            () = wait_close(&mut rx, &mut pending) => break,
            ev = s.stream.next(), if !ended => ev,
        };
        // Convert outside the lock: the window must never wait on a
        // full-screen pixel loop.
        let mut update = Update::default();
        match ev {
            Ok(ViewEvent::Frame {
                bytes,
                latency_us,
                exact,
                ..
            }) => {
                update.samples.push(FrameSample {
                    at: Instant::now(),
                    bytes,
                    latency_us,
                });
                update.image = s.stream.frame().map(view::frame_to_image);
                update.exact = Some(exact);
            }
            Ok(ViewEvent::Cursor(c)) => update.merge_cursor(c),
            Err(e) => {
                tracing::warn!(session = ?s.stream.session, error = %e, "screen stream ended");
                let (gone, why) = relay_gone(&mut s.client, s.stream.session, &e).await;
                if !gone {
                    update.ended = Some(why);
                    ended = true;
                    post(&mailbox, &ctx, update);
                    continue;
                }
                eprintln!("the relay went away ({why}); reconnecting…");
                update.ended = Some(format!("the relay went away ({why}); reconnecting…"));
                post(&mailbox, &ctx, std::mem::take(&mut update));
                let deadline = Instant::now() + RECONNECT_FOR;
                let back = tokio::select! {
                    () = wait_close(&mut rx, &mut pending) => break,
                    r = s.again.open(s.monitor, deadline) => r,
                };
                match back {
                    Ok((mut client, stream)) => match Attached::open(&mut client, &stream).await {
                        Ok(a) => {
                            eprintln!("reconnected: session {}", stream.session);
                            links.hand_over(a);
                            update.resumed = Some(Resumed {
                                session: stream.session,
                                control: stream.permission == Permission::Control,
                            });
                            s.client = client;
                            s.stream = stream;
                        }
                        Err(err) => {
                            update.ended = Some(format!(
                                "reconnected, but {}",
                                lifeline_net::describe(&*err)
                            ));
                            ended = true;
                        }
                    },
                    Err(err) => {
                        update.ended = Some(format!(
                            "the relay stayed unreachable: {}",
                            lifeline_net::describe(&*err)
                        ));
                        ended = true;
                    }
                }
            }
        }
        post(&mailbox, &ctx, update);
    }
    let _ = s
        .client
        .request(ConsoleRequest::CloseSession {
            session: s.stream.session,
        })
        .await;
    s.client.close().await;
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

/// The next item from `rx`, taking each new session's stream from
/// `streams` into `current` meanwhile; `None` once either channel closes.
async fn next_with<S, T>(
    streams: &mut mpsc::UnboundedReceiver<S>,
    current: &mut Option<S>,
    rx: &mut mpsc::UnboundedReceiver<T>,
) -> Option<T> {
    loop {
        tokio::select! {
            s = streams.recv() => *current = Some(s?),
            item = rx.recv() => return item,
        }
    }
}

/// Sends the window's input to the agent in order, one acknowledged event
/// at a time; pointer moves queued behind a slow event collapse into the
/// newest. A refusal (the user took control away) switches the window to
/// view only. Each new session's input stream replaces the last.
async fn send_input(
    mut streams: mpsc::UnboundedReceiver<InputStream>,
    mut rx: mpsc::UnboundedReceiver<InputEvent>,
    mailbox: Mailbox,
    ctx: egui::Context,
) {
    let mut input: Option<InputStream> = None;
    while let Some(first) = next_with(&mut streams, &mut input, &mut rx).await {
        let mut batch = vec![first];
        while let Ok(ev) = rx.try_recv() {
            if let (Some(InputEvent::Move { .. }), InputEvent::Move { .. }) = (batch.last(), &ev) {
                batch.pop();
            }
            batch.push(ev);
        }
        // No session: the technician's input is dropped, not kept for later.
        let Some(stream) = input.as_mut() else {
            continue;
        };
        for ev in batch {
            if let Err(e) = stream.send(ev).await {
                tracing::warn!(error = %e, "input stopped");
                let why = if e.to_string().contains("view-only") {
                    "view only (the user took control back)".to_string()
                } else {
                    format!("input stopped: {e}")
                };
                post(
                    &mailbox,
                    &ctx,
                    Update {
                        control_lost: Some(why),
                        ..Update::default()
                    },
                );
                input = None;
                break;
            }
        }
    }
}

/// Reads a session's chat stream into the mailbox; clipboard text the
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
        post(
            &mailbox,
            &ctx,
            Update {
                chat: vec![msg],
                ..Update::default()
            },
        );
    }
}

/// Writes the window's chat requests to the current session's chat stream.
async fn chat_writer(
    mut streams: mpsc::UnboundedReceiver<SecureSend>,
    mut rx: mpsc::UnboundedReceiver<ChatOut>,
) {
    let mut clip: Option<lifeline_net::clipboard::Clip> = None;
    let mut send: Option<SecureSend> = None;
    while let Some(out) = next_with(&mut streams, &mut send, &mut rx).await {
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
        if let Some(s) = send.as_mut()
            && s.write_msg(&msg, MAX_CHAT_LEN).await.is_err()
        {
            send = None;
        }
    }
}
