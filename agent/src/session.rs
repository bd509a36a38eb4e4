//! Sessions the agent takes part in, and the streams they carry.

use crate::ui::{
    FromIndicator, ToIndicator,
    child::{self, IndicatorChild},
};
use lifeline_net::framed::read_frame;
use lifeline_proto::{
    AgentToRelay, Channel, Decision, EndReason, MAX_HEADER_FRAME_LEN, Permission, SessionId,
    SessionOffer, SessionPurpose, StreamHeader, chat::ChatMsg,
};
use std::{collections::HashMap, time::Duration};
use tokio::{
    sync::{broadcast, mpsc, watch},
    task::AbortHandle,
};
use tracing::{debug, info, warn};

/// What every stream of a session watches: what the technician may do, and
/// whether the session is over (its streams close at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionState {
    pub permission: Permission,
    pub ended: bool,
}

/// Waits until the session ends (or is forgotten).
pub async fn ended(state: &mut watch::Receiver<SessionState>) {
    let _ = state.wait_for(|s| s.ended).await;
}

struct Live {
    offer: SessionOffer,
    state: watch::Sender<SessionState>,
    indicator: Option<IndicatorChild>,
    /// The user's chat lines, to every chat stream of the session.
    from_user: broadcast::Sender<ChatMsg>,
}

/// Channels from the session machinery back to the run loop.
pub struct SessionEvents {
    /// The user answered a prompt (or it timed out).
    pub answers: mpsc::UnboundedReceiver<(SessionOffer, Decision)>,
    /// The user did something in an indicator window.
    pub ui: mpsc::UnboundedReceiver<(SessionId, FromIndicator)>,
    /// A stream has something for an indicator window (chat).
    pub to_ui: mpsc::UnboundedReceiver<(SessionId, ToIndicator)>,
}

/// Sessions offered, accepted and not yet closed.
pub struct Sessions {
    live: HashMap<SessionId, Live>,
    /// Offers waiting for the user's answer.
    asking: HashMap<SessionId, AbortHandle>,
    /// Screen sessions may start without asking (servers, kiosks, tests).
    pub unattended: bool,
    /// How long the user has to answer.
    pub consent_timeout: Duration,
    answers: mpsc::UnboundedSender<(SessionOffer, Decision)>,
    ui: mpsc::UnboundedSender<(SessionId, FromIndicator)>,
    to_ui: mpsc::UnboundedSender<(SessionId, ToIndicator)>,
}

impl Sessions {
    /// No sessions yet; `unattended` lets screen sessions start unasked.
    pub fn new(unattended: bool) -> (Self, SessionEvents) {
        let (answers, answers_rx) = mpsc::unbounded_channel();
        let (ui, ui_rx) = mpsc::unbounded_channel();
        let (to_ui, to_ui_rx) = mpsc::unbounded_channel();
        (
            Self {
                live: HashMap::new(),
                asking: HashMap::new(),
                unattended,
                consent_timeout: child::CONSENT_TIMEOUT,
                answers,
                ui,
                to_ui,
            },
            SessionEvents {
                answers: answers_rx,
                ui: ui_rx,
                to_ui: to_ui_rx,
            },
        )
    }

    /// Takes an offer. Ping sessions carry no user data and are always
    /// accepted; chat sessions show everything to the user and need no
    /// consent; screen sessions need the user's consent unless the machine
    /// allows unattended access. Returns the answer now, or `None` when the
    /// user is being asked (the answer comes on [`SessionEvents::answers`]).
    pub fn offer(&mut self, offer: SessionOffer) -> Option<Decision> {
        let ask = offer.purpose == SessionPurpose::Screen && !(self.unattended || offer.unattended);
        if !ask {
            return Some(self.start(offer, &Decision::Accept));
        }
        let answers = self.answers.clone();
        let timeout = self.consent_timeout;
        let session = offer.session;
        let task = tokio::spawn(async move {
            let decision = child::ask(&offer, timeout).await;
            let _ = answers.send((offer, decision));
        });
        self.asking.insert(session, task.abort_handle());
        None
    }

    /// The user answered: starts the session if allowed. Returns the answer
    /// to send, or `None` when the offer was withdrawn meanwhile.
    pub fn answered(&mut self, offer: SessionOffer, decision: &Decision) -> Option<Decision> {
        self.asking.remove(&offer.session)?;
        Some(self.start(offer, decision))
    }

    fn start(&mut self, mut offer: SessionOffer, decision: &Decision) -> Decision {
        match decision {
            Decision::Accept => {}
            Decision::AcceptViewOnly => offer.permission = Permission::View,
            other => return other.clone(),
        }
        let session = offer.session;
        let indicator = if offer.purpose == SessionPurpose::Ping {
            None
        } else {
            match IndicatorChild::spawn(
                &offer,
                offer.permission,
                lifeline_net::unix_secs(),
                self.ui.clone(),
            ) {
                Ok(i) => Some(i),
                Err(why) if offer.purpose == SessionPurpose::Chat => {
                    return Decision::Decline {
                        reason: format!("nowhere to show the chat: {why}"),
                    };
                }
                Err(why) => {
                    // Unattended on a machine without a display (a server):
                    // nobody there to see an indicator.
                    warn!(session, "no indicator: {why}");
                    None
                }
            }
        };
        info!(
            session,
            technician = %offer.technician,
            purpose = ?offer.purpose,
            permission = ?offer.permission,
            "session accepted"
        );
        let state = watch::channel(SessionState {
            permission: offer.permission,
            ended: false,
        })
        .0;
        self.live.insert(
            session,
            Live {
                offer,
                state,
                indicator,
                from_user: broadcast::channel(64).0,
            },
        );
        decision.clone()
    }

    /// Forgets a session the relay closed (or an offer it withdrew): its
    /// streams close and its windows go away.
    pub fn close(&mut self, session: SessionId) {
        if let Some(task) = self.asking.remove(&session) {
            task.abort();
            info!(session, "offer withdrawn before the user answered");
        }
        if let Some(live) = self.live.remove(&session) {
            live.state.send_modify(|s| s.ended = true);
            info!(session, "session closed");
        }
    }

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
            FromIndicator::ViewOnly => {
                let live = self.live.get_mut(&session)?;
                if live.state.borrow().permission == Permission::View {
                    return None;
                }
                live.state.send_modify(|s| s.permission = Permission::View);
                live.offer.permission = Permission::View;
                info!(session, "the user switched the session to view only");
                let notice = "The user switched the session to view only.".to_string();
                let _ = live.from_user.send(ChatMsg::Notice {
                    text: notice.clone(),
                });
                if let Some(ind) = live.indicator.as_mut() {
                    ind.send(&ToIndicator::Permission { control: false }).await;
                    ind.send(&ToIndicator::Notice { text: notice }).await;
                }
                Some(AgentToRelay::PermissionChanged {
                    session,
                    permission: Permission::View,
                })
            }
            FromIndicator::Chat { text } => {
                let live = self.live.get(&session)?;
                if lifeline_proto::chat::check_text(&text).is_ok() {
                    let _ = live.from_user.send(ChatMsg::Text {
                        from: user_name(),
                        text,
                    });
                }
                None
            }
        }
    }

    /// Passes a stream's message to the session's indicator window.
    pub async fn to_ui(&mut self, session: SessionId, msg: ToIndicator) {
        if let Some(ind) = self
            .live
            .get_mut(&session)
            .and_then(|l| l.indicator.as_mut())
        {
            ind.send(&msg).await;
        }
    }

    /// Is `session` live?
    pub fn is_live(&self, session: SessionId) -> bool {
        self.live.contains_key(&session)
    }

    /// What a new stream of `session` needs; `None` when it is not live.
    pub fn stream_ctx(
        &self,
        session: SessionId,
        capture: crate::screen::CaptureFactory,
        notes: mpsc::UnboundedSender<AgentToRelay>,
    ) -> Option<StreamCtx> {
        let live = self.live.get(&session)?;
        Some(StreamCtx {
            capture,
            state: live.state.subscribe(),
            notes,
            technician: live.offer.technician.clone(),
            from_user: live.from_user.clone(),
            to_ui: self.to_ui.clone(),
        })
    }
}

/// The name the technician sees for the user's chat lines.
fn user_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "user".into())
}

/// Reads a session stream's header.
///
/// # Errors
/// A malformed or missing header.
pub async fn read_header(recv: &mut quinn::RecvStream) -> Result<StreamHeader, String> {
    match tokio::time::timeout(
        Duration::from_secs(10),
        read_frame(recv, MAX_HEADER_FRAME_LEN),
    )
    .await
    {
        Ok(Ok(Some(payload))) => {
            lifeline_proto::decode_message(&payload).map_err(|e| e.to_string())
        }
        Ok(Ok(None)) => Err("stream ended before its header".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no stream header within 10 s".into()),
    }
}

/// What a stream needs from the session that carries it.
#[derive(Clone)]
pub struct StreamCtx {
    pub capture: crate::screen::CaptureFactory,
    pub state: watch::Receiver<SessionState>,
    pub notes: mpsc::UnboundedSender<AgentToRelay>,
    pub technician: String,
    pub from_user: broadcast::Sender<ChatMsg>,
    pub to_ui: mpsc::UnboundedSender<(SessionId, ToIndicator)>,
}

/// Serves one accepted stream.
pub async fn serve_stream(
    header: StreamHeader,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    ctx: StreamCtx,
) {
    match header.channel {
        Channel::Screen => crate::screen::serve(send, recv, ctx.capture, ctx.state).await,
        Channel::Input => {
            crate::input::serve(header.session, ctx.state, send, recv, ctx.notes).await;
        }
        Channel::Chat => crate::chat::serve(header.session, send, recv, ctx).await,
        Channel::Ping => {
            // Echo every byte back as it arrives.
            loop {
                match recv.read_chunk(64 * 1024, true).await {
                    Ok(Some(chunk)) => {
                        if send.write_chunk(chunk.bytes).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => {
                        let _ = send.finish();
                        return;
                    }
                    Err(e) => {
                        debug!("ping stream ended: {e}");
                        return;
                    }
                }
            }
        }
    }
}
