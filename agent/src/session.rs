//! Sessions the agent takes part in; their streams are served in
//! [`crate::streams`].

pub use crate::journal::{Journal, record};
use crate::streams::{E2eIdentity, StreamCtx};
use crate::ui::{
    FromIndicator, ToIndicator,
    child::{self, IndicatorChild},
};
use lifeline_proto::{
    AgentToRelay, Decision, Permission, SessionId, SessionOffer, SessionPurpose, chat::ChatMsg,
    session_log::SessionReport,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    sync::{broadcast, mpsc, watch},
    task::AbortHandle,
};
use tracing::{info, warn};

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
    /// To every chat stream of the session: the user's lines, notices,
    /// permission and clipboard.
    from_user: broadcast::Sender<ChatMsg>,
    /// The clipboard watcher while the user shares the clipboard.
    clipboard: Option<AbortHandle>,
    /// The prompt asking the user for control, while it shows.
    control_prompt: Option<AbortHandle>,
    /// When the user last kept the session view only (declined or did not
    /// answer): the technician may ask again [`CONTROL_ASK_PAUSE`] later.
    control_refused: Option<std::time::Instant>,
    journal: Journal,
}

/// How long after the user kept a session view only the technician may not
/// ask for control again: a prompt that comes back at once invites a click
/// on "Allow" just to make it go away.
pub const CONTROL_ASK_PAUSE: std::time::Duration = std::time::Duration::from_secs(60);

impl Live {
    /// Stops what the session still shows the user (a control prompt) and
    /// the clipboard watcher.
    fn stop_tasks(&self) {
        if let Some(p) = &self.control_prompt {
            p.abort();
        }
        if let Some(c) = &self.clipboard {
            c.abort();
        }
    }

    /// Tells the technician (chat streams) and the user (indicator).
    async fn notice(&mut self, text: &str) {
        let _ = self.from_user.send(ChatMsg::Notice { text: text.into() });
        if let Some(ind) = self.indicator.as_mut() {
            ind.send(&ToIndicator::Notice { text: text.into() }).await;
        }
    }

    async fn set_permission(&mut self, permission: Permission) {
        self.state.send_modify(|s| s.permission = permission);
        self.offer.permission = permission;
        let control = permission == Permission::Control;
        let _ = self.from_user.send(ChatMsg::Permission { control });
        if let Some(ind) = self.indicator.as_mut() {
            ind.send(&ToIndicator::Permission { control }).await;
        }
    }
}

/// What a session's streams ask of the run loop.
#[derive(Debug)]
pub enum StreamRequest {
    /// A chat line from the technician for the user.
    Chat { from: String, text: String },
    /// Clipboard text from the technician.
    Clipboard(String),
    /// The technician asks for control.
    AskControl,
}

/// Channels from the session machinery back to the run loop.
pub struct SessionEvents {
    /// The user answered a prompt (or it timed out).
    pub answers: mpsc::UnboundedReceiver<(SessionOffer, Decision)>,
    /// The user answered a request for control.
    pub control_answers: mpsc::UnboundedReceiver<(SessionId, Decision)>,
    /// The user did something in an indicator window.
    pub ui: mpsc::UnboundedReceiver<(SessionId, FromIndicator)>,
    /// A stream asks for something.
    pub requests: mpsc::UnboundedReceiver<(SessionId, StreamRequest)>,
    /// Journals of ended sessions, whose reports go to the relay.
    pub reports: mpsc::UnboundedReceiver<Journal>,
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
    control_answers: mpsc::UnboundedSender<(SessionId, Decision)>,
    ui: mpsc::UnboundedSender<(SessionId, FromIndicator)>,
    requests: mpsc::UnboundedSender<(SessionId, StreamRequest)>,
    reports: mpsc::UnboundedSender<Journal>,
    clip: Option<lifeline_net::clipboard::Clip>,
    /// The machine's end-to-end key; without it no stream is served.
    pub e2e: Option<Arc<E2eIdentity>>,
}

impl Sessions {
    /// No sessions yet; `unattended` lets screen sessions start unasked.
    pub fn new(unattended: bool) -> (Self, SessionEvents) {
        let (answers, answers_rx) = mpsc::unbounded_channel();
        let (control_answers, control_answers_rx) = mpsc::unbounded_channel();
        let (ui, ui_rx) = mpsc::unbounded_channel();
        let (requests, requests_rx) = mpsc::unbounded_channel();
        let (reports, reports_rx) = mpsc::unbounded_channel();
        (
            Self {
                live: HashMap::new(),
                asking: HashMap::new(),
                unattended,
                consent_timeout: child::CONSENT_TIMEOUT,
                answers,
                control_answers,
                ui,
                requests,
                reports,
                clip: None,
                e2e: None,
            },
            SessionEvents {
                answers: answers_rx,
                control_answers: control_answers_rx,
                ui: ui_rx,
                requests: requests_rx,
                reports: reports_rx,
            },
        )
    }

    /// Takes an offer. Ping sessions carry no user data and are always
    /// accepted; chat sessions show everything to the user and need no
    /// consent; screen sessions need the user's consent unless the machine
    /// allows unattended access. Returns the answer now, or `None` when the
    /// user is being asked (the answer comes on [`SessionEvents::answers`]).
    pub fn offer(&mut self, offer: SessionOffer) -> Option<Decision> {
        if let Some(org) = self.e2e.as_ref().and_then(|i| i.org_key.as_deref())
            && let Err(e) = lifeline_net::org::check(
                offer.technician_cert.as_ref(),
                org,
                &offer.technician,
                &offer.technician_key,
                lifeline_net::unix_secs(),
            )
        {
            warn!(
                session = offer.session,
                technician = %offer.technician,
                "refused: {e}"
            );
            return Some(Decision::Decline {
                reason: format!(
                    "this machine's organisation does not vouch for {}: {e}",
                    offer.technician
                ),
            });
        }
        let ask = offer.purpose == SessionPurpose::Screen && !(self.unattended || offer.unattended);
        if !ask {
            return Some(self.start(offer, &Decision::Accept, false));
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
        Some(self.start(offer, decision, true))
    }

    /// Who agreed to a session, and how, for its log.
    fn consent(&self, offer: &SessionOffer, decision: &Decision, asked: bool) -> String {
        let what = match decision {
            Decision::AcceptViewOnly => "view only",
            _ if offer.permission == Permission::Control => "control",
            _ => "view only",
        };
        if asked {
            return format!("allowed {what} by {} at the prompt", user_name());
        }
        match offer.purpose {
            SessionPurpose::Screen => {
                "no prompt: the machine's policy is unattended (the indicator showed)".into()
            }
            SessionPurpose::Chat => "no prompt: a chat shows the user every line".into(),
            SessionPurpose::Ping => "no prompt: a ping carries no user data".into(),
        }
    }

    fn start(&mut self, mut offer: SessionOffer, decision: &Decision, asked: bool) -> Decision {
        let mut consent = self.consent(&offer, decision, asked);
        match decision {
            Decision::Accept => {}
            Decision::AcceptViewOnly => offer.permission = Permission::View,
            other => return other.clone(),
        }
        if !offer.purpose.may_control() {
            // A chat or a ping is never asked about: it carries no input,
            // and its indicator must not say otherwise.
            offer.permission = Permission::View;
        }
        let session = offer.session;
        let indicator = if offer.purpose == SessionPurpose::Ping {
            None
        } else {
            // Below the windows of the other live sessions, not over them.
            let taken: Vec<usize> = self
                .live
                .values()
                .filter_map(|l| l.indicator.as_ref().map(IndicatorChild::slot))
                .collect();
            let slot = (0..).find(|n| !taken.contains(n)).unwrap_or(0);
            match IndicatorChild::spawn(
                &offer,
                offer.permission,
                lifeline_net::unix_secs(),
                slot,
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
                    if !asked {
                        consent = format!(
                            "no prompt: the machine's policy is unattended (no indicator \
                             shown: {why})"
                        );
                    }
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
                clipboard: None,
                control_prompt: None,
                control_refused: None,
                journal: Arc::new(Mutex::new(SessionReport {
                    session,
                    consent,
                    ..SessionReport::default()
                })),
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
            live.stop_tasks();
            info!(session, "session closed");
            // Its report is read from the journal once the streams have
            // added their last figures (see `crate::reports`).
            let _ = self.reports.send(live.journal);
        }
    }

    /// The relay connection is gone with sessions live: they end here (their
    /// streams went with the connection) and their journals are handed back,
    /// marked with the time of the cut, for the next connection to report:
    /// the relay may have restarted and be waiting for them.
    pub fn cut(&mut self) -> Vec<Journal> {
        let now = lifeline_net::unix_secs();
        self.live
            .drain()
            .map(|(session, live)| {
                live.state.send_modify(|s| s.ended = true);
                live.stop_tasks();
                record(&live.journal, |r| r.cut_unix = Some(now));
                info!(session, "session cut off with the relay connection");
                live.journal
            })
            .collect()
    }

    /// The live sessions.
    pub fn live_ids(&self) -> Vec<SessionId> {
        self.live.keys().copied().collect()
    }

    /// Who is connected in live screen or chat sessions, if anyone, by name
    /// ("alice", "alice, bob"), for the tray.
    pub fn live_technician(&self) -> Option<String> {
        let mut names: Vec<&str> = self
            .live
            .values()
            .filter(|l| l.offer.purpose != SessionPurpose::Ping)
            .map(|l| l.offer.technician.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        (!names.is_empty()).then(|| names.join(", "))
    }

    /// What a live session is for.
    pub fn purpose(&self, session: SessionId) -> Option<SessionPurpose> {
        self.live.get(&session).map(|l| l.offer.purpose)
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
            e2e: self.e2e.clone(),
            technician_key: live.offer.technician_key.clone(),
            capture,
            state: live.state.subscribe(),
            notes,
            technician: live.offer.technician.clone(),
            from_user: live.from_user.clone(),
            requests: self.requests.clone(),
            journal: live.journal.clone(),
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

mod during;

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
