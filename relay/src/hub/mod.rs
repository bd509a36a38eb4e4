//! Who is online and which sessions exist: the relay's in-memory routing
//! table. One mutex guards it; no lock is held across an await.

use lifeline_proto::{
    ConsoleEvent, Decision, EndReason, Permission, RelayToAgent, RelayToConsole, SessionId,
    SessionOffer,
    pairing::{Pairing, PairingError, PairingEvent},
    session_log::{PermissionChange, SessionReport},
};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::store::OpenSession;

mod agents;
mod reports;

/// An agent silent for this long counts as offline even if its QUIC
/// connection has not timed out yet.
pub const PRESENCE_TIMEOUT: Duration = Duration::from_secs(30);

/// Byte counters of one session, shared with its splice tasks.
#[derive(Debug, Default)]
pub struct SessionStats {
    pub to_agent: AtomicU64,
    pub to_console: AtomicU64,
    pub streams: AtomicU64,
    /// Input events the agent refused (view-only), as it last reported.
    pub refused_input: AtomicU64,
    /// The agent's account of the session, sent when it ends.
    pub report: Mutex<Option<SessionReport>>,
    /// The log is written: a report arriving now is too late and is not
    /// kept (nothing would read it).
    pub logged: std::sync::atomic::AtomicBool,
}

struct AgentEntry {
    conn_id: u64,
    conn: quinn::Connection,
    tx: mpsc::UnboundedSender<RelayToAgent>,
    last_heartbeat: Instant,
    last_heartbeat_unix: u64,
    /// Messages of this agent the relay is working on (store calls queued
    /// behind the fleet's; the control stream and an upload stream may
    /// each have one): its silence meanwhile is the relay's.
    busy: u32,
}

struct SessionEntry {
    pairing: Pairing,
    offer: SessionOffer,
    offered_unix: u64,
    started_unix: Option<u64>,
    machine_id: String,
    agent_conn_id: u64,
    console_conn_id: u64,
    console_tx: mpsc::UnboundedSender<RelayToConsole>,
    answer: Option<oneshot::Sender<PairingEvent>>,
    stats: Arc<SessionStats>,
    ended: watch::Sender<bool>,
    /// What the technician asked for (the offer's permission changes with
    /// the user's answers).
    permission_asked: Permission,
    /// The agent's answer, in words.
    decision: Option<String>,
    permission_changes: Vec<PermissionChange>,
}

#[derive(Default)]
struct Inner {
    agents: HashMap<String, AgentEntry>,
    sessions: HashMap<SessionId, SessionEntry>,
    /// Sessions that ended lately: id, agent connection, machine, counters.
    recent: std::collections::VecDeque<(SessionId, u64, String, Arc<SessionStats>)>,
    /// Sessions a crash cut off, waiting for their machine's report: the
    /// machine and the counters their log will be written from.
    orphans: HashMap<SessionId, (String, Arc<SessionStats>)>,
    /// Report streams being read, per agent connection: a session's log
    /// waits for them (a large report on a thin uplink takes seconds).
    reporting: HashMap<u64, u32>,
}

/// A session could not be offered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OfferError {
    #[error("machine offline")]
    Offline,
}

/// Permission changes kept in one session's log at most.
///
/// Each one is a click of the user's, and after the user takes control
/// back the technician must wait a minute before asking again: a thousand
/// take far longer than any session. An agent sending more misbehaves.
pub const MAX_PERMISSION_CHANGES: usize = 1000;

/// What became of an agent's [`Hub::permission_changed`].
#[derive(Debug, PartialEq, Eq)]
pub enum PermissionOutcome {
    /// Changed: the console was told; audit it.
    Changed { machine: String, technician: String },
    /// Not this agent's session, no change, or control where none can be.
    Ignored,
    /// Past [`MAX_PERMISSION_CHANGES`].
    TooMany,
}

/// What the splicer needs to join a console stream to the agent.
pub struct StreamRoute {
    pub agent: quinn::Connection,
    /// What the session is for, which decides the streams it carries.
    pub purpose: lifeline_proto::SessionPurpose,
    pub stats: Arc<SessionStats>,
    pub ended: watch::Receiver<bool>,
}

/// Everything known about a session when it ends, for its log.
#[derive(Clone, Debug)]
pub struct EndedSession {
    pub session: SessionId,
    pub machine_id: String,
    pub offer: SessionOffer,
    pub offered_unix: u64,
    pub started_unix: Option<u64>,
    pub ended_unix: u64,
    pub reason: EndReason,
    pub bytes_to_agent: u64,
    pub bytes_to_console: u64,
    pub streams: u64,
    pub permission_asked: Permission,
    /// The agent's answer, in words (`None`: it never answered).
    pub decision: Option<String>,
    pub permission_changes: Vec<PermissionChange>,
    /// Live counters: the agent's refused-input report can arrive just after
    /// the end (it travels on another stream), so read it a moment later.
    pub stats: Arc<SessionStats>,
    /// When the relay saw the end.
    pub ended_at: Instant,
    /// The agent connection that served it (its report comes on it).
    pub agent_conn_id: u64,
}

/// An agent's answer in words, for the session log.
fn describe(d: &Decision) -> String {
    match d {
        Decision::Accept => "accepted".into(),
        Decision::AcceptViewOnly => "accepted view only".into(),
        Decision::Decline { reason } => format!("declined: {reason}"),
        Decision::NoAnswer => "no answer".into(),
    }
}

/// Recently ended sessions kept for late reports from their agents.
const RECENT_SESSIONS: usize = 1024;

/// The routing table.
pub struct Hub {
    inner: Mutex<Inner>,
    next_conn: AtomicU64,
    next_session: AtomicU64,
    ended_tx: mpsc::UnboundedSender<EndedSession>,
}

impl Hub {
    /// An empty table, and the receiver of ended sessions. Session ids start
    /// at a random point so that ids from before a restart are not reused.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<EndedSession>) {
        let mut seed = [0u8; 4];
        let _ = getrandom::fill(&mut seed);
        let (ended_tx, ended_rx) = mpsc::unbounded_channel();
        (
            Self {
                inner: Mutex::new(Inner::default()),
                next_conn: AtomicU64::new(1),
                next_session: AtomicU64::new(u64::from(u32::from_le_bytes(seed)) << 16 | 1),
                ended_tx,
            },
            ended_rx,
        )
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh connection id.
    pub fn conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Creates a session and sends the offer to the agent. The receiver
    /// yields the agent's answer (or the timeout, via [`Hub::expire`]).
    ///
    /// # Errors
    /// [`OfferError::Offline`] when the agent is not connected.
    pub fn offer(
        &self,
        mut offer: SessionOffer,
        machine_id: &str,
        console_conn_id: u64,
        console_tx: mpsc::UnboundedSender<RelayToConsole>,
        now: Instant,
        timeout: Duration,
    ) -> Result<(SessionId, Instant, oneshot::Receiver<PairingEvent>), OfferError> {
        let mut inner = self.lock();
        let agent = inner
            .agents
            .get(machine_id)
            .filter(|e| now.saturating_duration_since(e.last_heartbeat) < PRESENCE_TIMEOUT)
            .ok_or(OfferError::Offline)?;
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        offer.session = id;
        agent
            .tx
            .send(RelayToAgent::SessionOffer(offer.clone()))
            .map_err(|_| OfferError::Offline)?;
        let agent_conn_id = agent.conn_id;
        let (tx, rx) = oneshot::channel();
        let pairing = Pairing::offer(id, now, timeout);
        let deadline = pairing.next_deadline().unwrap_or(now + timeout);
        let permission_asked = offer.permission;
        inner.sessions.insert(
            id,
            SessionEntry {
                pairing,
                offer,
                offered_unix: lifeline_net::unix_secs(),
                started_unix: None,
                machine_id: machine_id.to_string(),
                agent_conn_id,
                console_conn_id,
                console_tx,
                answer: Some(tx),
                stats: Arc::default(),
                ended: watch::channel(false).0,
                permission_asked,
                decision: None,
                permission_changes: Vec::new(),
            },
        );
        Ok((id, deadline, rx))
    }

    /// Feeds an agent's answer.
    ///
    /// # Errors
    /// A second answer to the same offer (a protocol breach). Answers to
    /// unknown sessions (ended meanwhile) are ignored.
    pub fn answer(
        &self,
        agent_conn_id: u64,
        session: SessionId,
        decision: Decision,
        now: Instant,
    ) -> Result<Option<OpenSession>, PairingError> {
        let mut inner = self.lock();
        let Some(entry) = inner
            .sessions
            .get_mut(&session)
            .filter(|e| e.agent_conn_id == agent_conn_id)
        else {
            return Ok(None);
        };
        let view_only = decision == Decision::AcceptViewOnly;
        let accepted = view_only || decision == Decision::Accept;
        entry.decision = Some(describe(&decision));
        let event = entry.pairing.on_answer(decision, now)?;
        if view_only && event == PairingEvent::Started {
            entry.offer.permission = Permission::View;
        }
        let mut opened = None;
        if event == PairingEvent::Started {
            let now = lifeline_net::unix_secs();
            entry.started_unix = Some(now);
            opened = Some(OpenSession {
                session,
                machine_id: entry.machine_id.clone(),
                offer: entry.offer.clone(),
                offered_unix: entry.offered_unix,
                started_unix: now,
                permission_asked: entry.permission_asked,
                decision: entry.decision.clone(),
            });
        }
        if let Some(tx) = entry.answer.take() {
            let _ = tx.send(event.clone());
        }
        if let PairingEvent::Ended(reason) = &event {
            // Accepted after the deadline: the agent started the session
            // (its indicator shows), so it must hear that it is over.
            let (machine_id, agent_conn_id) = (entry.machine_id.clone(), entry.agent_conn_id);
            let agent = inner
                .agents
                .get(&machine_id)
                .filter(|a| a.conn_id == agent_conn_id);
            if accepted && let Some(agent) = agent {
                let _ = agent.tx.send(RelayToAgent::SessionClosed {
                    session,
                    reason: reason.clone(),
                });
            }
            self.remove_session(&mut inner, session);
        }
        Ok(opened)
    }

    /// Times out an unanswered offer whose deadline has passed.
    pub fn expire(&self, session: SessionId, now: Instant) -> Option<PairingEvent> {
        let mut inner = self.lock();
        let entry = inner.sessions.get_mut(&session)?;
        let event = entry.pairing.on_tick(now)?;
        let (machine_id, agent_conn_id) = (entry.machine_id.clone(), entry.agent_conn_id);
        let agent_tx = inner
            .agents
            .get(&machine_id)
            .filter(|a| a.conn_id == agent_conn_id)
            .map(|a| a.tx.clone());
        if let Some(tx) = agent_tx {
            let _ = tx.send(RelayToAgent::SessionClosed {
                session,
                reason: EndReason::Timeout,
            });
        }
        self.remove_session(&mut inner, session);
        Some(event)
    }

    /// Ends a session. The side that did not cause the end is told.
    pub fn end(&self, session: SessionId, reason: EndReason, now: Instant) {
        let mut inner = self.lock();
        let Some(entry) = inner.sessions.get_mut(&session) else {
            return;
        };
        if entry.pairing.end(reason.clone(), now).is_none() {
            return;
        }
        let tell_agent = !matches!(
            reason,
            EndReason::AgentClosed | EndReason::UserStopped | EndReason::AgentDisconnected
        );
        let tell_console = !matches!(
            reason,
            EndReason::ConsoleClosed | EndReason::ConsoleDisconnected
        );
        if tell_console {
            let _ = entry
                .console_tx
                .send(RelayToConsole::Event(ConsoleEvent::SessionEnded {
                    session,
                    reason: reason.clone(),
                }));
        }
        if let Some(tx) = entry.answer.take() {
            let _ = tx.send(PairingEvent::Ended(reason.clone()));
        }
        let machine_id = entry.machine_id.clone();
        let agent_conn_id = entry.agent_conn_id;
        if tell_agent
            && let Some(agent) = inner
                .agents
                .get(&machine_id)
                .filter(|a| a.conn_id == agent_conn_id)
        {
            let _ = agent
                .tx
                .send(RelayToAgent::SessionClosed { session, reason });
        }
        self.remove_session(&mut inner, session);
    }

    /// What the technician of a live session may do now.
    pub fn permission(&self, session: SessionId) -> Option<Permission> {
        self.lock()
            .sessions
            .get(&session)
            .map(|e| e.offer.permission)
    }

    /// The user changed what the technician may do; the console is told.
    /// Returns the machine and technician for the audit log; `Ignored` when
    /// the session is not this agent's, when nothing changed, or for control
    /// in a session that cannot carry it; `TooMany` past
    /// [`MAX_PERMISSION_CHANGES`] in one session (each asks the user, so an
    /// agent sending more misbehaves).
    pub fn permission_changed(
        &self,
        agent_conn_id: u64,
        session: SessionId,
        permission: Permission,
    ) -> PermissionOutcome {
        let mut inner = self.lock();
        let Some(entry) = inner
            .sessions
            .get_mut(&session)
            .filter(|e| e.agent_conn_id == agent_conn_id && e.pairing.is_active())
        else {
            return PermissionOutcome::Ignored;
        };
        if entry.offer.permission == permission
            || (permission == Permission::Control && !entry.offer.purpose.may_control())
        {
            return PermissionOutcome::Ignored;
        }
        if entry.permission_changes.len() >= MAX_PERMISSION_CHANGES {
            return PermissionOutcome::TooMany;
        }
        entry.offer.permission = permission;
        entry.permission_changes.push(PermissionChange {
            at_unix: lifeline_net::unix_secs(),
            permission,
        });
        let _ = entry
            .console_tx
            .send(RelayToConsole::Event(ConsoleEvent::PermissionChanged {
                session,
                permission,
            }));
        PermissionOutcome::Changed {
            machine: entry.machine_id.clone(),
            technician: entry.offer.technician.clone(),
        }
    }

    /// True if `session` exists and belongs to this agent connection.
    pub fn agent_owns(&self, agent_conn_id: u64, session: SessionId) -> bool {
        self.lock()
            .sessions
            .get(&session)
            .is_some_and(|e| e.agent_conn_id == agent_conn_id)
    }

    /// True if `session` exists and belongs to this console connection.
    pub fn console_owns(&self, console_conn_id: u64, session: SessionId) -> bool {
        self.lock()
            .sessions
            .get(&session)
            .is_some_and(|e| e.console_conn_id == console_conn_id)
    }

    /// Where a console's new stream for `session` should go, if the session
    /// is active and belongs to that console.
    pub fn route(&self, console_conn_id: u64, session: SessionId) -> Option<StreamRoute> {
        let inner = self.lock();
        let entry = inner.sessions.get(&session)?;
        if entry.console_conn_id != console_conn_id || !entry.pairing.is_active() {
            return None;
        }
        let agent = inner
            .agents
            .get(&entry.machine_id)
            .filter(|a| a.conn_id == entry.agent_conn_id)?;
        Some(StreamRoute {
            agent: agent.conn.clone(),
            purpose: entry.offer.purpose,
            stats: entry.stats.clone(),
            ended: entry.ended.subscribe(),
        })
    }

    /// Ends every session of a console connection that went away.
    pub fn console_gone(&self, console_conn_id: u64, now: Instant) {
        self.end_where(
            |e| e.console_conn_id == console_conn_id,
            &EndReason::ConsoleDisconnected,
            now,
        );
    }

    /// Ends every session (the relay is shutting down); returns how many.
    pub fn end_all(&self, reason: &EndReason, now: Instant) -> usize {
        self.end_where(|_| true, reason, now)
    }

    fn end_agent_sessions(&self, agent_conn_id: u64, now: Instant) {
        self.end_where(
            |e| e.agent_conn_id == agent_conn_id,
            &EndReason::AgentDisconnected,
            now,
        );
    }

    /// Ends the sessions `which` picks, outside the lock; returns how many.
    fn end_where(
        &self,
        which: impl Fn(&SessionEntry) -> bool,
        reason: &EndReason,
        now: Instant,
    ) -> usize {
        let ids: Vec<SessionId> = self
            .lock()
            .sessions
            .iter()
            .filter(|(_, e)| which(e))
            .map(|(id, _)| *id)
            .collect();
        for &id in &ids {
            self.end(id, reason.clone(), now);
        }
        ids.len()
    }

    fn remove_session(&self, inner: &mut Inner, session: SessionId) {
        if let Some(entry) = inner.sessions.remove(&session) {
            let _ = entry.ended.send(true);
            let reason = match entry.pairing.state() {
                lifeline_proto::pairing::PairingState::Ended { reason, .. } => reason.clone(),
                _ => EndReason::RelayShutdown,
            };
            let machine_id = entry.machine_id.clone();
            let _ = self.ended_tx.send(EndedSession {
                session,
                machine_id: entry.machine_id,
                offer: entry.offer,
                offered_unix: entry.offered_unix,
                started_unix: entry.started_unix,
                ended_unix: lifeline_net::unix_secs(),
                reason,
                bytes_to_agent: entry.stats.to_agent.load(Ordering::Relaxed),
                bytes_to_console: entry.stats.to_console.load(Ordering::Relaxed),
                streams: entry.stats.streams.load(Ordering::Relaxed),
                permission_asked: entry.permission_asked,
                decision: entry.decision,
                permission_changes: entry.permission_changes,
                stats: entry.stats.clone(),
                ended_at: Instant::now(),
                agent_conn_id: entry.agent_conn_id,
            });
            inner
                .recent
                .push_back((session, entry.agent_conn_id, machine_id, entry.stats));
            if inner.recent.len() > RECENT_SESSIONS {
                inner.recent.pop_front();
            }
        }
    }

    /// Number of live sessions (offered or active).
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }
}
