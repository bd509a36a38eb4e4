//! What the user and the technician do while a session is live: Stop,
//! "View only", chat and clipboard from the indicator window; chat,
//! clipboard and requests for control from the technician's streams.

use super::{CONTROL_ASK_PAUSE, Sessions, StreamRequest, record, user_name};
use crate::journal::clipboard_event;
use crate::ui::{FromIndicator, ToIndicator, child};
use lifeline_proto::{
    AgentToRelay, Decision, EndReason, Permission, SessionId,
    chat::ChatMsg,
    session_log::{ChatLine, ClipboardDirection},
};
use std::time::Duration;
use tracing::{info, warn};

impl Sessions {
    /// Handles what the user did in an indicator window; returns what the
    /// relay must hear.
    pub async fn on_ui(&mut self, session: SessionId, ev: FromIndicator) -> Option<AgentToRelay> {
        match ev {
            FromIndicator::Stop => {
                if !self.live.contains_key(&session) {
                    return None;
                }
                info!(session, "the user stopped the session");
                self.close(session);
                Some(AgentToRelay::EndSession {
                    session,
                    reason: EndReason::UserStopped,
                })
            }
            FromIndicator::Closed => {
                if !self.live.contains_key(&session) {
                    return None;
                }
                // Closed by hand or crashed: the user can no longer see who
                // is connected nor press Stop, so the session ends.
                warn!(session, "the indicator window is gone: ending the session");
                if let Some(live) = self.live.get_mut(&session) {
                    live.notice(
                        "The user's session indicator closed, so the session ends: \
                         nobody may watch a screen without it showing.",
                    )
                    .await;
                }
                self.close(session);
                Some(AgentToRelay::EndSession {
                    session,
                    reason: EndReason::AgentClosed,
                })
            }
            FromIndicator::ViewOnly => {
                let live = self.live.get_mut(&session)?;
                if live.state.borrow().permission == Permission::View {
                    return None;
                }
                live.set_permission(Permission::View).await;
                // Taken back is a no as well: the technician waits before
                // asking again.
                live.control_refused = Some(std::time::Instant::now());
                info!(session, "the user switched the session to view only");
                live.notice("The user switched the session to view only.")
                    .await;
                Some(AgentToRelay::PermissionChanged {
                    session,
                    permission: Permission::View,
                })
            }
            FromIndicator::Chat { text } => {
                let live = self.live.get(&session)?;
                if lifeline_proto::chat::check_text(&text).is_ok() {
                    record(&live.journal, |r| {
                        r.push_chat(ChatLine {
                            at_unix: lifeline_net::unix_secs(),
                            from: user_name(),
                            text: text.clone(),
                        });
                    });
                    let _ = live.from_user.send(ChatMsg::Text {
                        from: user_name(),
                        text,
                    });
                }
                None
            }
            FromIndicator::ClipboardSharing { on } => {
                self.share_clipboard(session, on).await;
                None
            }
        }
    }

    async fn share_clipboard(&mut self, session: SessionId, on: bool) {
        if on && self.clip.is_none() {
            match lifeline_net::clipboard::Clip::open() {
                Ok(c) => self.clip = Some(c),
                Err(e) => {
                    if let Some(live) = self.live.get_mut(&session) {
                        live.notice(&format!("Clipboard sharing is not possible: {e}"))
                            .await;
                    }
                    return;
                }
            }
        }
        let clip = self.clip.clone();
        let Some(live) = self.live.get_mut(&session) else {
            return;
        };
        if let Some(old) = live.clipboard.take() {
            old.abort();
        }
        let _ = live.from_user.send(ChatMsg::ClipboardSharing { on });
        info!(session, on, "clipboard sharing");
        if let (true, Some(clip)) = (on, clip) {
            let tx = live.from_user.clone();
            let journal = live.journal.clone();
            let keep_text = live.offer.log_clipboard;
            let task = tokio::spawn(async move {
                // Whatever is on the clipboard when sharing starts stays
                // private; only what the user copies from now on is sent.
                let mut last = clip.get().await;
                let mut tick = tokio::time::interval(Duration::from_millis(400));
                loop {
                    tick.tick().await;
                    let now = clip.get().await;
                    if now != last {
                        if let Some(text) = now.as_ref().filter(|t| {
                            !t.is_empty()
                                && t.len() <= lifeline_proto::chat::MAX_CLIPBOARD_TEXT
                                && !clip.is_ours(t)
                        }) {
                            record(&journal, |r| {
                                r.push_clipboard(clipboard_event(
                                    ClipboardDirection::ToTechnician,
                                    text,
                                    keep_text,
                                ));
                            });
                            let _ = tx.send(ChatMsg::Clipboard { text: text.clone() });
                        }
                        last = now;
                    }
                }
            });
            live.clipboard = Some(task.abort_handle());
        }
    }

    /// Handles a stream's request; returns what the relay must hear.
    pub async fn on_request(
        &mut self,
        session: SessionId,
        req: StreamRequest,
    ) -> Option<AgentToRelay> {
        let live = self.live.get_mut(&session)?;
        match req {
            StreamRequest::Chat { from, text } => {
                record(&live.journal, |r| {
                    r.push_chat(ChatLine {
                        at_unix: lifeline_net::unix_secs(),
                        from: from.clone(),
                        text: text.clone(),
                    });
                });
                if let Some(ind) = live.indicator.as_mut() {
                    ind.send(&ToIndicator::Chat { from, text }).await;
                }
            }
            StreamRequest::Clipboard(text) => {
                // Only while the user shares: otherwise the technician
                // cannot touch the user's clipboard.
                if live.clipboard.is_some()
                    && let Some(clip) = &self.clip
                {
                    record(&live.journal, |r| {
                        r.push_clipboard(clipboard_event(
                            ClipboardDirection::ToUser,
                            &text,
                            live.offer.log_clipboard,
                        ));
                    });
                    clip.set(text);
                    live.notice("The technician put text on your clipboard.")
                        .await;
                }
            }
            StreamRequest::AskControl => {
                if !live.offer.purpose.may_control() {
                    let _ = live.from_user.send(ChatMsg::Permission { control: false });
                    live.notice("Control needs a screen session; this one stays chat only.")
                        .await;
                    return None;
                }
                if live.control_prompt.is_some()
                    || live.state.borrow().permission == Permission::Control
                {
                    return None;
                }
                if let Some(wait) = live
                    .control_refused
                    .and_then(|at| CONTROL_ASK_PAUSE.checked_sub(at.elapsed()))
                {
                    // To the technician only: the user is not asked.
                    let _ = live.from_user.send(ChatMsg::Permission { control: false });
                    let _ = live.from_user.send(ChatMsg::Notice {
                        text: format!(
                            "The user kept the session view only; ask again in {} s.",
                            wait.as_secs().max(1)
                        ),
                    });
                    return None;
                }
                let mut offer = live.offer.clone();
                offer.permission = Permission::Control;
                let answers = self.control_answers.clone();
                let timeout = self.consent_timeout;
                let task = tokio::spawn(async move {
                    let decision = child::ask(&offer, timeout).await;
                    let _ = answers.send((offer.session, decision));
                });
                live.control_prompt = Some(task.abort_handle());
            }
        }
        None
    }

    /// The user answered a request for control.
    pub async fn control_answered(
        &mut self,
        session: SessionId,
        decision: &Decision,
    ) -> Option<AgentToRelay> {
        let live = self.live.get_mut(&session)?;
        live.control_prompt = None;
        if *decision == Decision::Accept {
            live.set_permission(Permission::Control).await;
            live.notice("The user gave control to the technician.")
                .await;
            info!(session, "the user gave control");
            return Some(AgentToRelay::PermissionChanged {
                session,
                permission: Permission::Control,
            });
        }
        live.control_refused = Some(std::time::Instant::now());
        let why = match decision {
            Decision::NoAnswer => "The user did not answer the request for control.",
            _ => "The user kept the session view only.",
        };
        let _ = live.from_user.send(ChatMsg::Permission { control: false });
        live.notice(why).await;
        None
    }
}
